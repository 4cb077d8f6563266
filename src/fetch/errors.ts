// Typed fetch errors. Every failure a user can meet while fetching an artifact is a FetchError: a stable
// diagnostic code, a kind (for callers and tests) and a message worded as the fix. Never a stack trace.

import { error, type Code, type Diagnostic } from '../diagnostics.js';

export type FetchErrorKind =
  | 'http' // a non-retryable HTTP status (404, 403, ...) or retries exhausted on 5xx
  | 'network' // connection refused/reset, truncated body, retries exhausted
  | 'mismatch' // sha256 of the download differs from the pin or the lock
  | 'insecure' // no sum known and the source is plain http: nothing to record it from
  | 'lock' // mkimage.lock unreadable, or disagrees with a pinned sha256
  | 'offline' // offline and not in the cache or the bundle
  | 'archive' // the tar is unsafe or lacks the wanted member
  | 'bundle' // the bundle is unreadable or holds a corrupt artifact
  | 'io'; // cache or output directory not usable

export class FetchError extends Error {
  readonly code: Code;
  readonly kind: FetchErrorKind;

  constructor(kind: FetchErrorKind, message: string, code: Code = kind === 'io' ? 'E017' : 'E015') {
    super(message);
    this.name = 'FetchError';
    this.kind = kind;
    this.code = code;
  }

  /** The diagnostic the CLI prints (no stack, no file position: the artifact is named in the message). */
  toDiagnostic(): Diagnostic {
    return error(this.code, this.message);
  }
}

export const isFetchError = (e: unknown): e is FetchError => e instanceof FetchError;

/** A short reason from any thrown value, for messages (no stack). */
export function reasonOf(e: unknown): string {
  if (e instanceof FetchError) return e.message;
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return typeof code === 'string' && !e.message.includes(code) ? `${e.message} (${code})` : e.message;
  }
  return String(e);
}
