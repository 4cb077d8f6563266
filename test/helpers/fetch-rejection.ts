// The FetchError a fetch/bundle call rejects with (the test fails if it resolves or throws anything else).

import { expect } from 'vitest';
import { FetchError } from '../../src/fetch/index.js';

export async function rejection(p: Promise<unknown>): Promise<FetchError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(FetchError);
  return e as FetchError;
}
