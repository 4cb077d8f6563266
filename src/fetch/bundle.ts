// `mkimage bundle`: one uncompressed tar (the artifacts are already compressed) that carries every artifact for an
// air-gapped build, and reading artifacts back out of it. Layout, in this order:
//   mkimage.lock                                  the lock for every artifact in the bundle
//   sha256/<sha256>                               each distinct artifact once, named by its sum
//   by-name/<name>/<version>/<arch>/<file name>   a hard link to the sha256/ member, for people
// Entries are deterministic: sorted, owner root:root 0644, mtime SOURCE_DATE_EPOCH (or 0).

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar, { type Extract } from 'tar-stream';
import type { PlanArtifact } from '../plan/types.js';
import { FetchError, reasonOf } from './errors.js';
import { LOCK_FILE_NAME, parseLock, serializeLock, type Lock } from './lock.js';

type Entry = Extract extends AsyncIterable<infer S> ? S : never;

export interface BundleItem {
  artifact: PlanArtifact;
  sha256: string;
  size: number;
  /** the verified file in the cache */
  path: string;
}

/** The file name an artifact is known by: the last path segment of its first URL ("calico.yaml"). */
export function fileNameOf(a: Pick<PlanArtifact, 'name' | 'urls'>): string {
  const first = a.urls[0];
  if (first === undefined) return a.name;
  try {
    const seg = new URL(first).pathname.split('/').filter(Boolean).pop();
    return seg !== undefined && seg !== '' ? decodeURIComponent(seg) : a.name;
  } catch {
    return basename(first) || a.name;
  }
}

const segment = (s: string) => (s === '' || s === '.' || s === '..' ? '_' : s.replaceAll('/', '_'));

export const friendlyName = (a: PlanArtifact): string =>
  `by-name/${[a.name, a.version, a.arch, fileNameOf(a)].map(segment).join('/')}`;

/** A pass-through stream that hashes (sha256) and counts what goes through it. */
export function hashingTap(): { tap: Transform; result(): { sha256: string; size: number } } {
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  return { tap, result: () => ({ sha256: hash.digest('hex'), size }) };
}

function sourceDateEpoch(env: NodeJS.ProcessEnv = process.env): Date {
  const v = env['SOURCE_DATE_EPOCH'];
  return new Date(v !== undefined && /^\d+$/.test(v) ? Number(v) * 1000 : 0);
}

/** Write the bundle tar to `out` atomically (temp file beside it, then rename). */
export async function packBundle(items: BundleItem[], lock: Lock, out: string): Promise<void> {
  const mtime = sourceDateEpoch();
  const base = { mode: 0o644, uid: 0, gid: 0, uname: 'root', gname: 'root', mtime };
  const tmp = join(dirname(out), `.${basename(out)}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const pack = tar.pack();
  const writing = pipeline(pack, createWriteStream(tmp, { mode: 0o644 }));
  writing.catch(() => undefined);
  try {
    const lockText = Buffer.from(serializeLock(lock));
    await new Promise<void>((res, rej) => pack.entry({ ...base, name: LOCK_FILE_NAME, size: lockText.length }, lockText, (e) => (e ? rej(e) : res())));
    const bySha = new Map<string, BundleItem>();
    for (const it of items) if (!bySha.has(it.sha256)) bySha.set(it.sha256, it);
    for (const sha of [...bySha.keys()].sort()) {
      const it = bySha.get(sha)!;
      const entry = pack.entry({ ...base, name: `sha256/${sha}`, size: it.size });
      // hashed again as it goes in: what the bundle carries under a sum is that sum, whatever the cache holds now
      const { tap, result } = hashingTap();
      await pipeline(createReadStream(it.path, { highWaterMark: 1 << 20 }), tap, entry);
      const got = result().sha256;
      if (got !== sha) {
        throw new FetchError('bundle', `${it.path} (${it.artifact.name} ${it.artifact.version}) changed while it was bundled: it hashes to ${got}, not ${sha}; nothing was written — run \`mkimage bundle\` again`);
      }
    }
    const links = [...new Map(items.map((it) => [friendlyName(it.artifact), it.sha256])).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [name, sha] of links) {
      await new Promise<void>((res, rej) => pack.entry({ ...base, name, type: 'link', linkname: `sha256/${sha}`, size: 0 }, (e) => (e ? rej(e) : res())));
    }
    pack.finalize();
    await writing;
    await rename(tmp, out);
  } catch (e) {
    pack.destroy();
    await rm(tmp, { force: true });
    throw e instanceof FetchError ? e : new FetchError('io', `cannot write the bundle ${out}: ${reasonOf(e)}; choose a writable output path`);
  }
}

/** Walk the bundle's entries; `visit` returns true to stop early. */
async function scan(bundle: string, visit: (entry: Entry) => Promise<boolean>): Promise<void> {
  const source = createReadStream(bundle, { highWaterMark: 1 << 20 });
  const extract = tar.extract();
  const feeding = pipeline(source, extract);
  feeding.catch(() => undefined);
  try {
    for await (const entry of extract) {
      if (await visit(entry)) {
        source.destroy();
        extract.destroy();
        return;
      }
      entry.resume();
    }
    await feeding;
  } catch (e) {
    source.destroy();
    if (e instanceof FetchError) throw e;
    const code = (e as { code?: string }).code;
    // the user's file is bad (exit 2): missing, a directory, not a tar or cut short; a read error of the machine is exit 3
    if (code === 'ENOENT') throw new FetchError('bundle', `the bundle ${bundle} does not exist: pass the path of the tar \`mkimage bundle\` wrote`, 'E001');
    if (code === 'EISDIR') throw new FetchError('bundle', `the bundle ${bundle} is a directory: pass the path of the tar \`mkimage bundle\` wrote`, 'E007');
    if (code === undefined) {
      throw new FetchError('bundle', `the bundle ${bundle} is not a tar written by \`mkimage bundle\` (${reasonOf(e)}): pass the right file, or write it again with \`mkimage bundle\``, 'E007');
    }
    throw new FetchError('bundle', `cannot read the bundle ${bundle}: ${reasonOf(e)}; check it is readable, or write it again with \`mkimage bundle\``);
  }
}

/** A bundle entry that is not what `mkimage bundle` writes there: the user's file is bad (E007, exit 2). */
const badBundle = (bundle: string, what: string) =>
  new FetchError('bundle', `the bundle ${bundle}: ${what}; it was not written by \`mkimage bundle\` (or was changed since) — write it again with \`mkimage bundle\``, 'E007');

const isRegular = (entry: Entry) => (entry.header.type ?? 'file') === 'file';

/** The lock stored in the bundle (its first member). */
export async function readBundleLock(bundle: string): Promise<Lock> {
  let lock: Lock | undefined;
  await scan(bundle, async (entry) => {
    if (entry.header.name !== LOCK_FILE_NAME) return false;
    if (!isRegular(entry)) throw badBundle(bundle, `${LOCK_FILE_NAME} is a ${entry.header.type}, not a file`);
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    lock = parseLock(Buffer.concat(chunks).toString('utf8'), `${LOCK_FILE_NAME} in the bundle ${bundle}`);
    return true;
  });
  if (lock === undefined) throw badBundle(bundle, `there is no ${LOCK_FILE_NAME} in it`);
  return lock;
}

/**
 * Copy the member sha256/<sha256> out of the bundle to `dest`, hashing it on the way. Returns what was actually
 * read (the caller verifies it), or undefined if the bundle does not hold it.
 */
export async function copyFromBundle(bundle: string, sha256: string, dest: string): Promise<{ sha256: string; size: number } | undefined> {
  let got: { sha256: string; size: number } | undefined;
  const want = `sha256/${sha256}`;
  await scan(bundle, async (entry) => {
    if (entry.header.name !== want) return false;
    if (!isRegular(entry)) throw badBundle(bundle, `${want} is a ${entry.header.type}${entry.header.linkname ? ` to ${entry.header.linkname}` : ''}, not a file`);
    const { tap, result } = hashingTap();
    await pipeline(entry, tap, createWriteStream(dest, { mode: 0o644 }));
    got = result();
    return true;
  });
  return got;
}
