// Diagnostics are collected, never thrown for a user's mistake. Each has a stable code, a position and a
// message worded as the fix. The catalogue below is the single list of codes; tests cover each one.

export type Severity = 'error' | 'warning';

export interface Position {
  file: string;
  line: number; // 1-based
  col: number; // 1-based
}

export interface Diagnostic {
  severity: Severity;
  code: string;
  message: string;
  file?: string;
  line?: number;
  col?: number;
}

/** Stable codes. E* are errors, W* are lints (warnings; `--strict` makes them errors). */
export const CODES = {
  // loading
  E001: 'file not found',
  E002: 'YAML syntax error',
  E003: 'unknown key',
  E004: 'wrong type',
  E005: 'missing required key',
  E006: 'value not allowed',
  E007: 'bad format',
  E008: 'extends cycle or missing base profile',
  E009: 'duplicate key',
  E010: 'no such role or node',
  E011: 'duplicate node name',
  E012: 'duplicate MAC address',
  E013: 'duplicate IP address',
  E014: 'secrets missing or invalid',
  E015: 'artifact fetch failed',
  E016: 'external tool missing',
  E017: 'output path not usable',
  E018: 'unsupported combination',
  E019: 'artifact checksum unknown',
  // LAN boot and the router (issue 8)
  E020: 'router API call failed',
  E021: 'router login failed',
  E022: 'golden image missing',
  E023: 'LAN boot directory missing or invalid',
  // a bug in mkimage, never the user's: thrown (exit 1), not collected
  E024: 'generated script does not parse',
  // lints
  W101: 'package version differs from kubernetesVersion',
  W102: 'Docker Engine 25+ with cri-dockerd 0.3.9',
  W103: 'CIDR not aligned to its prefix',
  W104: 'subnets overlap',
  W105: 'API endpoint differs from the control plane address',
  W106: 'ignorePreflightErrors: all',
  W107: 'repo excludes packages but install does not disable excludes',
  W108: 'package name typo',
  W109: 'pause image differs from the one kubeadm expects',
  W110: 'node IP outside its subnet',
  W111: 'gateway outside the node subnet',
  W112: 'mirror: aliyun with a download it does not reach (Docker Hub, ghcr.io, GitHub)',
  W113: 'no control-plane node in the inventory',
  W114: 'several control planes without HA',
  W115: 'node is its own gateway',
  W116: 'swap on',
  W117: 'secrets directory readable by others',
} as const;

export type Code = keyof typeof CODES;

export function diag(
  severity: Severity,
  code: Code,
  message: string,
  at?: Partial<Position>,
): Diagnostic {
  const d: Diagnostic = { severity, code, message };
  if (at?.file !== undefined) d.file = at.file;
  if (at?.line !== undefined) d.line = at.line;
  if (at?.col !== undefined) d.col = at.col;
  return d;
}

export const error = (code: Code, message: string, at?: Partial<Position>) =>
  diag('error', code, message, at);
export const warning = (code: Code, message: string, at?: Partial<Position>) =>
  diag('warning', code, message, at);

/** Apply `--strict`: every warning becomes an error. */
export function applyStrict(diags: Diagnostic[], strict: boolean): Diagnostic[] {
  return strict ? diags.map((d) => ({ ...d, severity: 'error' as const })) : diags;
}

export const hasErrors = (diags: Diagnostic[]) => diags.some((d) => d.severity === 'error');

/** Thrown only to unwind a stage whose diagnostics are already collected; the CLI prints them. */
export class DiagnosticError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(diagnostics.map((d) => `${d.code}: ${d.message}`).join('\n'));
    this.name = 'DiagnosticError';
  }
}

export interface FormatOptions {
  color?: boolean;
  /** source text by file name, for the caret line */
  sources?: Map<string, string>;
}

/**
 * rustc/butane-style text:
 *   error[E003]: unknown key "pakages"; did you mean "packages"?
 *     --> profiles/worker.yaml:12:7
 *      |
 *   12 |       pakages:
 *      |       ^
 */
export function formatDiagnostic(d: Diagnostic, opts: FormatOptions = {}): string {
  const paint = (code: string, s: string) => (opts.color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const head = paint(d.severity === 'error' ? '1;31' : '1;33', `${d.severity}[${d.code}]`);
  const lines = [`${head}: ${d.message}`];
  if (d.file !== undefined) {
    const where = d.line !== undefined ? `${d.file}:${d.line}:${d.col ?? 1}` : d.file;
    lines.push(`  --> ${where}`);
    const src = opts.sources?.get(d.file);
    if (src !== undefined && d.line !== undefined) {
      const text = src.split(/\r?\n/)[d.line - 1];
      if (text !== undefined) {
        const num = String(d.line);
        const pad = ' '.repeat(num.length);
        lines.push(`${pad} |`);
        lines.push(`${num} | ${text}`);
        lines.push(`${pad} | ${' '.repeat(Math.max(0, (d.col ?? 1) - 1))}${paint('1;31', '^')}`);
      }
    }
  }
  return lines.join('\n');
}

export function formatDiagnostics(diags: Diagnostic[], opts: FormatOptions = {}): string {
  const body = diags.map((d) => formatDiagnostic(d, opts)).join('\n\n');
  const errors = diags.filter((d) => d.severity === 'error').length;
  const warnings = diags.length - errors;
  if (diags.length === 0) return '';
  return `${body}\n\n${errors} error(s), ${warnings} warning(s)\n`;
}

/** Order: by file, then line, then column, then code — so output is stable. */
export function sortDiagnostics(diags: Diagnostic[]): Diagnostic[] {
  return [...diags].sort(
    (a, b) =>
      (a.file ?? '').localeCompare(b.file ?? '') ||
      (a.line ?? 0) - (b.line ?? 0) ||
      (a.col ?? 0) - (b.col ?? 0) ||
      a.code.localeCompare(b.code),
  );
}

/**
 * Each diagnostic once, sorted (sortDiagnostics): one with the severity, code, position and message of an earlier
 * one is dropped (profiles that inherit a value from one base file, or a check that several stages run, say it
 * once). The loader, the lints and `validate` all use it.
 */
export function uniqueDiagnostics(diags: Diagnostic[]): Diagnostic[] {
  const seen = new Map<string, Diagnostic>();
  for (const d of diags) {
    const key = JSON.stringify([d.severity, d.code, d.file, d.line, d.col, d.message]);
    if (!seen.has(key)) seen.set(key, d);
  }
  return sortDiagnostics([...seen.values()]);
}
