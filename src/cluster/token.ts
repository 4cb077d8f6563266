// kubeadm bootstrap tokens: "[a-z0-9]{6}.[a-z0-9]{16}" (id.secret), with a TTL in Go duration syntax.

import { createHmac, randomInt } from 'node:crypto';

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

const UNIT_SECONDS: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/** A Go duration in seconds ("4h0m0s" -> 14400; "0" -> 0), or undefined when it is not one. */
export function goDurationSeconds(ttl: string): number | undefined {
  if (!isGoDuration(ttl)) return undefined;
  let total = 0;
  for (const m of ttl.matchAll(/([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(m[1]) * (UNIT_SECONDS[m[2]!] ?? 0);
  return total;
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

/**
 * Per-node join tokens. Each node that joins gets its own token, derived from the cluster token's secret and its
 * name: HMAC-SHA256(key = cluster secret, NODE_TOKEN_LABEL \0 node \0 attempt \0 block) as a byte stream, each
 * byte mapped onto [a-z0-9] by rejection sampling (bytes 252-255 are skipped: 252 = 7 x 36, so every character is
 * equally likely). Deterministic, no secret file of its own; rotating the cluster token rotates them all.
 */
export const NODE_TOKEN_LABEL = 'mkimage node bootstrap token v1';
const ACCEPT_BELOW = ALPHABET.length * Math.floor(256 / ALPHABET.length);

/** The token character a byte of the stream stands for, or undefined for a byte rejection sampling skips. */
export function tokenCharOf(byte: number): string | undefined {
  return byte < ACCEPT_BELOW ? ALPHABET[byte % ALPHABET.length] : undefined;
}

/** `count` characters of [a-z0-9] from the HMAC counter stream of `message` under `key`. */
export function hmacTokenChars(key: string, message: string, count: number): string {
  let out = '';
  for (let block = 0; out.length < count; block++) {
    for (const b of createHmac('sha256', key).update(`${message}\0${block}`).digest()) {
      const c = tokenCharOf(b);
      if (c === undefined) continue;
      out += c;
      if (out.length === count) break;
    }
  }
  return out;
}

/** Node `node`'s token on its `attempt`-th try (a try after 0 only when an earlier id was already taken). */
export function deriveNodeToken(cluster: Pick<BootstrapToken, 'secret'>, node: string, ttl: string, attempt = 0): BootstrapToken {
  const chars = hmacTokenChars(cluster.secret, `${NODE_TOKEN_LABEL}\0${node}\0${attempt}`, 22);
  return { id: chars.slice(0, 6), secret: chars.slice(6), ttl };
}

/**
 * The tokens of every joining node, keyed by node name in the order given. Token ids are unique among all the
 * cluster's tokens: nodes are settled in name order, and a node whose id the cluster token or a node before it
 * already holds derives again with the next attempt (an id is 6 of 36 characters, so this is rare but possible).
 */
export function nodeTokens(cluster: BootstrapToken, nodes: readonly string[], ttl: string): Map<string, BootstrapToken> {
  const taken = new Set([cluster.id]);
  const byName = new Map<string, BootstrapToken>();
  for (const node of [...new Set(nodes)].sort()) {
    let t = deriveNodeToken(cluster, node, ttl);
    for (let attempt = 1; taken.has(t.id); attempt++) t = deriveNodeToken(cluster, node, ttl, attempt);
    taken.add(t.id);
    byName.set(node, t);
  }
  return new Map(nodes.map((n) => [n, byName.get(n)!]));
}
