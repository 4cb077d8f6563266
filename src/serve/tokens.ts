// Per-install tokens: the secret part of a seed URL and of the /done and /failed reports. Crypto-random,
// URL-safe and kernel-command-line-safe (base64url), 144 bits. Compared in constant time.

import * as crypto from 'node:crypto';

const TOKEN_BYTES = 18;
const TOKEN_FORM = /^[A-Za-z0-9_-]{24}$/;

export function newToken(): string {
  return crypto.randomBytes(TOKEN_BYTES).toString('base64url');
}

/** Whether `s` has a token's shape (24 base64url characters). */
export function looksLikeToken(s: string): boolean {
  return TOKEN_FORM.test(s);
}

/** crypto.hash (Node 20.12+), several times cheaper per call than createHash; absent on older Node 20 */
const oneShot = (crypto as { hash?: (alg: string, data: string, enc: 'base64') => string }).hash;

/**
 * A lookup key for a token: the SHA-256 of it. Looking a presented token up by its digest, then comparing the
 * token itself with timingSafeEqual, leaks nothing about the stored tokens through timing.
 */
export function tokenDigest(token: string): string {
  return oneShot ? oneShot('sha256', token, 'base64') : crypto.createHash('sha256').update(token).digest('base64');
}

export function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}
