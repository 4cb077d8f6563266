// How a command's outcome reaches the user: diagnostics (text with carets, or --json), and the exit code.
// A user's mistake never prints a stack trace; only a bug in mkimage does.

import { DiagnosticError, formatDiagnostics, type Diagnostic } from '../diagnostics.js';

export const EXIT = { ok: 0, bug: 1, input: 2, environment: 3 } as const;

export interface Io {
  out(s: string): void;
  err(s: string): void;
  color: boolean;
  /** stderr is a terminal (progress bars) */
  tty: boolean;
  cwd: string;
  exitCode: number;
}

/** Errors about the machine rather than the input: a missing tool, a failed download. */
export class EnvironmentError extends Error {
  constructor(
    message: string,
    readonly code = 'E016',
  ) {
    super(message);
    this.name = 'EnvironmentError';
  }
}

export interface Outcome {
  diagnostics?: Diagnostic[];
  sources?: Map<string, string>;
  /** extra fields for --json */
  result?: Record<string, unknown>;
  /** override the exit code (e.g. packer's own) */
  exitCode?: number;
}

/** Codes about the machine (a missing tool, a failed download), not the input: exit 3 when they are all there is. */
const ENVIRONMENT_CODES: ReadonlySet<string> = new Set(['E015', 'E016', 'E020', 'E021', 'E022']);

function exitFor(diags: Diagnostic[]): number {
  const errors = diags.filter((d) => d.severity === 'error');
  if (errors.length === 0) return EXIT.ok;
  return errors.every((d) => ENVIRONMENT_CODES.has(d.code)) ? EXIT.environment : EXIT.input;
}

export function report(io: Io, json: boolean, o: Outcome): number {
  const diags = o.diagnostics ?? [];
  const code = o.exitCode ?? exitFor(diags);
  if (json) {
    io.out(`${JSON.stringify({ ok: code === EXIT.ok, diagnostics: diags, ...(o.result ?? {}) }, null, 2)}\n`);
  } else if (diags.length > 0) {
    io.err(formatDiagnostics(diags, { color: io.color, sources: o.sources }));
  }
  return code;
}

export async function runCommand(io: Io, opts: { json?: boolean }, fn: () => Promise<Outcome>): Promise<void> {
  const json = opts.json === true;
  try {
    io.exitCode = report(io, json, await fn());
  } catch (e) {
    if (e instanceof DiagnosticError) {
      io.exitCode = report(io, json, { diagnostics: e.diagnostics });
    } else if (e instanceof EnvironmentError || (e instanceof Error && /^E0\d\d$/.test((e as { code?: string }).code ?? ''))) {
      // EnvironmentError, FetchError: typed errors with a code and a message worded as the fix
      const code = (e as { code?: string }).code ?? 'E016';
      io.exitCode = report(io, json, { diagnostics: [{ severity: 'error', code, message: e.message }] });
    } else {
      throw e;
    }
  }
}
