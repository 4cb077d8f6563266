// kubeadm bootstrap tokens: "[a-z0-9]{6}.[a-z0-9]{16}" (id.secret), with a TTL in Go duration syntax.

import { randomInt } from 'node:crypto';

export interface BootstrapToken {
  /** public part, 6 chars */
  id: string;
  /** private part, 16 chars */
  secret: string;
  /** Go duration, e.g. "24h0m0s"; "0" never expires */
  ttl: string;
  /** ISO time the token was made; its expiry is createdAt + ttl (kubeadm counts from `kubeadm init`) */
  createdAt?: string;
}

export const TOKEN_PATTERN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
const TOKEN_ID = /^[a-z0-9]{6}$/;
const TOKEN_SECRET = /^[a-z0-9]{16}$/;
/** Go's time.ParseDuration syntax (one or more number+unit pairs), or a bare "0". */
const GO_DURATION = /^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$/;

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

function randomString(length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += ALPHABET[randomInt(ALPHABET.length)];
  return s;
}

export function isGoDuration(ttl: string): boolean {
  return GO_DURATION.test(ttl);
}

/** A fresh token from the CSPRNG. Throws on a malformed TTL (callers validate user input first). */
export function generateToken(ttl: string, now?: Date): BootstrapToken {
  if (!isGoDuration(ttl)) throw new Error(`bootstrap token TTL "${ttl}" is not a Go duration such as "24h0m0s"`);
  const token: BootstrapToken = { id: randomString(6), secret: randomString(16), ttl };
  if (now) token.createdAt = now.toISOString();
  return token;
}

/** "id.secret", the form kubeadm's --token and config files take. */
export function tokenString(t: Pick<BootstrapToken, 'id' | 'secret'>): string {
  return `${t.id}.${t.secret}`;
}

/** Why a token record is invalid, or undefined when it is fine. */
export function checkToken(t: unknown): string | undefined {
  if (t === null || typeof t !== 'object') return 'token.json must hold an object {id, secret, ttl}';
  const r = t as Record<string, unknown>;
  if (typeof r.id !== 'string' || !TOKEN_ID.test(r.id)) return 'token id must be 6 characters of [a-z0-9]';
  if (typeof r.secret !== 'string' || !TOKEN_SECRET.test(r.secret)) return 'token secret must be 16 characters of [a-z0-9]';
  if (typeof r.ttl !== 'string' || !isGoDuration(r.ttl)) return 'token ttl must be a Go duration such as "24h0m0s"';
  if (r.createdAt !== undefined && (typeof r.createdAt !== 'string' || Number.isNaN(Date.parse(r.createdAt)))) {
    return 'token createdAt must be an ISO date';
  }
  return undefined;
}
