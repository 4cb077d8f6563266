// mkimage.lock: the sha256 (and size) of every artifact fetched without a pin, recorded on first fetch and
// enforced after that. JSON with a fixed key order and entries sorted by name then url, so the file diffs cleanly.
//
//   { "lockVersion": 1, "artifacts": [ { "name": "calico", "url": "https://…/calico.yaml", "size": 1, "sha256": "…" } ] }

import { readFile } from 'node:fs/promises';
import type { PlanArtifact } from '../plan/types.js';
import { writeFileAtomic } from '../output.js';
import { isSha256 } from './cache.js';
import { FetchError, reasonOf } from './errors.js';

export const LOCK_FILE_NAME = 'mkimage.lock';

export interface LockEntry {
  name: string;
  url: string;
  size: number;
  sha256: string;
}

export interface Lock {
  lockVersion: 1;
  artifacts: LockEntry[];
}

export const emptyLock = (): Lock => ({ lockVersion: 1, artifacts: [] });

/** Parse lock text; `source` names the file in messages. */
export function parseLock(text: string, source: string): Lock {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new FetchError('lock', `${source} is not valid JSON (${reasonOf(e)}); restore it from version control or delete it to re-record every sum`, 'E007');
  }
  // the user's file is bad (exit 2), not the machine
  const bad = (what: string) =>
    new FetchError('lock', `${source}: ${what}; restore it from version control or delete it to re-record every sum`, 'E007');
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('expected an object with "lockVersion" and "artifacts"');
  const obj = raw as Record<string, unknown>;
  if (obj['lockVersion'] !== 1) throw bad(`unsupported lockVersion ${JSON.stringify(obj['lockVersion'])} (this mkimage writes 1)`);
  const list = obj['artifacts'];
  if (!Array.isArray(list)) throw bad('"artifacts" must be a list');
  const artifacts = list.map((item: unknown, i): LockEntry => {
    const e = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
    const { name, url, size, sha256 } = e;
    if (typeof name !== 'string' || typeof url !== 'string' || typeof size !== 'number' || !Number.isInteger(size) || size < 0 || typeof sha256 !== 'string' || !isSha256(sha256)) {
      throw bad(`artifacts[${i}] must be {name, url, size, sha256} with a 64-hex-digit lowercase sha256`);
    }
    return { name, url, size, sha256 };
  });
  return { lockVersion: 1, artifacts };
}

/** Stable text: fixed key order, entries sorted by name then url, 2-space indent, trailing newline. */
export function serializeLock(lock: Lock): string {
  const artifacts = [...lock.artifacts]
    .sort((a, b) => cmp(a.name, b.name) || cmp(a.url, b.url))
    .map((e) => ({ name: e.name, url: e.url, size: e.size, sha256: e.sha256 }));
  return `${JSON.stringify({ lockVersion: 1, artifacts }, null, 2)}\n`;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export async function readLock(path: string): Promise<Lock> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return emptyLock();
    throw new FetchError('lock', `cannot read ${path}: ${reasonOf(e)}`);
  }
  return parseLock(text, path);
}

export async function writeLock(path: string, lock: Lock): Promise<void> {
  try {
    await writeFileAtomic(path, serializeLock(lock), 0o644);
  } catch (e) {
    throw new FetchError('io', `cannot write ${path}: ${reasonOf(e)}; run mkimage where the lock file is writable`);
  }
}

/** The entry recorded for this artifact: same name and one of its mirror urls. */
export function findEntry(lock: Lock, a: Pick<PlanArtifact, 'name' | 'urls'>): LockEntry | undefined {
  return lock.artifacts.find((e) => e.name === a.name && a.urls.includes(e.url));
}

// Read-modify-write of the lock is serialised per path within this process, so artifacts fetched
// concurrently never lose each other's entries.
const queues = new Map<string, Promise<unknown>>();

export function withLockFile<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const prev = queues.get(path) ?? Promise.resolve();
  const next = prev.then(fn, fn);
  const settled = next.then(
    () => undefined,
    () => undefined,
  );
  queues.set(path, settled);
  void settled.then(() => {
    if (queues.get(path) === settled) queues.delete(path);
  });
  return next;
}

/** Add (or replace, by name + url) one entry and write the lock. */
export function recordEntry(path: string, entry: LockEntry): Promise<void> {
  return withLockFile(path, async () => {
    const lock = await readLock(path);
    const rest = lock.artifacts.filter((e) => !(e.name === entry.name && e.url === entry.url));
    await writeLock(path, { lockVersion: 1, artifacts: [...rest, entry] });
  });
}
