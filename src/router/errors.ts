// A router that cannot be reached, refuses a call or answers nonsense is the environment, not the input: E020
// (a call failed) or E021 (the login or the token was refused), exit 3. The message names the call, carries the
// router's own ErrMsg and is worded as the fix. It never holds the password or the token.

export type RouterCode = 'E020' | 'E021';

export class RouterError extends Error {
  constructor(
    readonly code: RouterCode,
    message: string,
  ) {
    super(message);
    this.name = 'RouterError';
  }
}

/** The RouterError in `e` or in its cause chain (undici wraps a connector's error in fetch, not in request). */
export function routerErrorIn(e: unknown): RouterError | undefined {
  for (let cur: unknown = e, depth = 0; cur instanceof Error && depth < 5; cur = cur.cause, depth++) {
    if (cur instanceof RouterError) return cur;
  }
  return undefined;
}
