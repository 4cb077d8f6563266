// The artifact fetcher: cache first, then a bundle, then the network (unless offline); every byte that lands in
// the cache is verified against the plan's pin or mkimage.lock, and an unpinned artifact's sum is recorded in the
// lock on first fetch. `materialise` puts the artifact (or one member of it) where the image wants it.

import { copyFile, chmod, mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { PlanArtifact } from '../plan/types.js';
import { fileNameOf, packBundle, readBundleLock, copyFromBundle, type BundleItem } from './bundle.js';
import { ArtifactCache, cacheRoot, isSha256 } from './cache.js';
import { download, type DownloadOptions } from './download.js';
import { FetchError, reasonOf } from './errors.js';
import { extractMember, publish } from './extract.js';
import { StreamedExtraction } from './streamed-extract.js';
import { findEntry, LOCK_FILE_NAME, readLock, recordEntry, type Lock, type LockEntry } from './lock.js';
import type { ProgressStream } from './progress.js';

export { FetchError, isFetchError, type FetchErrorKind } from './errors.js';
export { cacheRoot } from './cache.js';
export { LOCK_FILE_NAME, serializeLock, type Lock, type LockEntry } from './lock.js';
export { extractMember } from './extract.js';
export { fileNameOf, friendlyName } from './bundle.js';

export interface FetchOptions {
  /** default $XDG_CACHE_HOME/mkimage, else ~/.cache/mkimage */
  cacheDir?: string;
  /** default ./mkimage.lock */
  lockFile?: string;
  /** use only the cache or the bundle */
  offline?: boolean;
  /** a tar written by `mkimage bundle`; consulted after the cache, before the network */
  bundle?: string;
  progress?: 'auto' | 'never';
  json?: boolean;
  /** extra attempts per mirror (default 3) */
  retries?: number;
  /** first retry delay, doubling (default 500 ms) */
  backoffMs?: number;
  /** user-facing lines (recorded sums, retries); default stderr, silent with json */
  log?: (line: string) => void;
  /** where the progress bar goes (default process.stderr; drawn only if isTTY) */
  progressStream?: ProgressStream;
  /** a CA certificate (PEM) trusted besides Node's roots (NODE_EXTRA_CA_CERTS does the same for the CLI) */
  trustedCa?: string;
}

export interface Fetched {
  /** the verified file in the cache (cas/<sha256>) */
  path: string;
  sha256: string;
  size: number;
  /** the sum was recorded in the lock by this fetch */
  recorded: boolean;
  source: 'cache' | 'bundle' | 'network';
}

type DownloadTap = NonNullable<DownloadOptions['tap']>;

const describe = (a: PlanArtifact) => `${fileNameOf(a)} (${a.name} ${a.version} ${a.arch})`;

/** Where a user pins each artifact's sha256. */
const PIN_SETTING: Record<string, string> = {
  'cri-dockerd': 'criDockerd.sha256 in the profile',
  'calico-manifest': 'calicoManifestSha256 in the cluster file',
};

/** An artifact with no known sum is read only over https; the fix for a plain-http mirror. */
const httpsOnlyFix = (a: PlanArtifact, lockName: string) => ({
  fix: `To use this mirror, pin the sum (${PIN_SETTING[a.name] ?? `an entry in ${lockName}`}) from a source you trust, or list an https mirror.`,
});

function logger(opts: FetchOptions): (line: string) => void {
  if (opts.log) return opts.log;
  if (opts.json) return () => undefined;
  return (line) => process.stderr.write(`${line}\n`);
}

function pinOf(a: PlanArtifact): string | undefined {
  if (a.sha256 === undefined || a.sha256 === '') return undefined;
  const pin = a.sha256.toLowerCase().replace(/^sha256:/, '');
  if (!isSha256(pin)) throw new FetchError('lock', `the sha256 pinned for ${describe(a)} is "${a.sha256}", not 64 hex digits; copy the full sum from the release page`);
  return pin;
}

function mismatch(a: PlanArtifact, url: string, expected: string, got: string, from: 'pin' | 'lock', lockFile: string): FetchError {
  const fix =
    from === 'pin'
      ? 'if upstream re-published it on purpose, update the sha256 pinned in the profile'
      : `if upstream re-published it on purpose, delete its entry from ${lockFile} so mkimage records the new sum (and review the change)`;
  return new FetchError(
    'mismatch',
    `sha256 mismatch for ${describe(a)} from ${url}:\n  expected ${expected} (${from === 'pin' ? 'pinned in the plan' : `recorded in ${lockFile}`})\n  got      ${got}\nNothing was cached. Check the URL and version in the profile; ${fix}.`,
  );
}

/** Fetch one artifact into the cache (verified), recording its sum in the lock on first fetch when unpinned. */
export async function fetchArtifact(a: PlanArtifact, opts: FetchOptions = {}, tap?: DownloadTap): Promise<Fetched> {
  const log = logger(opts);
  const lockFile = resolve(opts.lockFile ?? LOCK_FILE_NAME);
  const lockName = opts.lockFile ?? LOCK_FILE_NAME;
  const label = fileNameOf(a);
  const pin = pinOf(a);
  const entry = findEntry(await readLock(lockFile), a);
  if (pin !== undefined && entry !== undefined && entry.sha256 !== pin) {
    throw new FetchError(
      'lock',
      `${lockName} records sha256 ${entry.sha256} for ${describe(a)} (${entry.url}) but the plan pins ${pin}; fix the pin, or delete the entry from ${lockName} if the pin is right`,
    );
  }
  const expected = pin ?? entry?.sha256;
  const from: 'pin' | 'lock' = pin !== undefined ? 'pin' : 'lock';
  const cache = new ArtifactCache(cacheRoot(opts.cacheDir));

  let corrupt = '';
  if (expected !== undefined) {
    const hit = await cache.lookup(expected, (path, got) => {
      corrupt = `the cached copy ${path} hashes to ${got}, not the sum it is named by (changed since it was verified), and was removed`;
      log(`${label}: ${corrupt}; fetching it again`);
    });
    if (hit) return { path: hit.path, sha256: expected, size: hit.size, recorded: false, source: 'cache' };
  }

  const record = async (sha256: string, size: number): Promise<boolean> => {
    if (expected !== undefined) return false;
    const e: LockEntry = { name: a.name, url: a.urls[0] ?? label, size, sha256 };
    await recordEntry(lockFile, e);
    log(`recorded sha256 ${sha256} for ${label} in ${lockName}; commit it`);
    return true;
  };

  if (opts.bundle !== undefined) {
    const fromBundle = await fetchFromBundle(a, opts.bundle, expected, cache);
    if (fromBundle) return { ...fromBundle, recorded: await record(fromBundle.sha256, fromBundle.size), source: 'bundle' };
  }

  if (opts.offline) {
    const where = opts.bundle !== undefined ? `the cache (${cache.root}) nor the bundle ${opts.bundle}` : `the cache (${cache.root})`;
    const unknown = expected === undefined ? `; its sha256 is neither pinned nor in ${lockName}` : '';
    const removed = corrupt === '' ? '' : ` (${corrupt})`;
    throw new FetchError(
      'offline',
      `offline: ${describe(a)} is in neither ${where}${unknown}${removed}. On a machine with network access run \`mkimage bundle\` and pass the bundle here, or fetch once without offline mode`,
    );
  }

  const tmp = await cache.tempPath();
  try {
    const got = await download(a.urls, tmp, {
      label,
      log,
      ...(opts.retries !== undefined ? { retries: opts.retries } : {}),
      ...(opts.backoffMs !== undefined ? { backoffMs: opts.backoffMs, maxBackoffMs: Math.max(opts.backoffMs * 16, opts.backoffMs) } : {}),
      progress: { progress: opts.progress ?? 'auto', json: opts.json ?? false, ...(opts.progressStream ? { stream: opts.progressStream } : {}) },
      verify: (sha, _size, url) => (expected !== undefined && sha !== expected ? mismatch(a, url, expected, sha, from, lockName) : undefined),
      ...(expected === undefined && { httpsOnly: httpsOnlyFix(a, lockName) }),
      ...(opts.trustedCa !== undefined && { trustedCa: opts.trustedCa }),
      ...(tap !== undefined && { tap }),
    });
    const path = await cache.commit(tmp, got.sha256);
    return { path, sha256: got.sha256, size: got.size, recorded: await record(got.sha256, got.size), source: 'network' };
  } finally {
    await cache.discard(tmp);
  }
}

async function fetchFromBundle(
  a: PlanArtifact,
  bundle: string,
  expected: string | undefined,
  cache: ArtifactCache,
): Promise<{ path: string; sha256: string; size: number } | undefined> {
  const sha = expected ?? findEntry(await readBundleLock(bundle), a)?.sha256;
  if (sha === undefined) return undefined;
  const tmp = await cache.tempPath();
  try {
    const got = await copyFromBundle(bundle, sha, tmp);
    if (got === undefined) return undefined;
    if (got.sha256 !== sha) {
      throw new FetchError('bundle', `the bundle ${bundle} is corrupt: sha256/${sha} (${describe(a)}) hashes to ${got.sha256}; nothing was cached — write the bundle again with \`mkimage bundle\``, 'E007');
    }
    return { path: await cache.commit(tmp, sha), sha256: sha, size: got.size };
  } finally {
    await cache.discard(tmp);
  }
}

/** "0755" -> 0o755; throws on anything but 3-4 octal digits. */
function parseMode(a: PlanArtifact): number {
  if (!/^[0-7]{3,4}$/.test(a.mode)) throw new FetchError('io', `${describe(a)}: mode "${a.mode}" is not octal like "0755"; quote it as a 4-digit octal string`);
  return parseInt(a.mode, 8);
}

/**
 * Fetch `a` and write it (or its tar member) to destDir/<a.name> with a.mode: the flat staging layout the bake
 * script installs from (it copies each to a.dest inside the image). Returns the written path.
 */
export async function materialise(a: PlanArtifact, opts: FetchOptions, destDir: string): Promise<string> {
  const mode = parseMode(a);
  const target = join(resolve(destDir), a.name);
  const member = a.member !== undefined && a.member !== '' ? a.member : undefined;
  const extractOpts = { label: fileNameOf(a), requireExecutable: (mode & 0o111) !== 0, mode };
  // a member is extracted while it downloads (one pass), into a temp file beside the target: its directory first
  const dirReady = member !== undefined && (await mkdir(dirname(target), { recursive: true, mode: 0o755 }).then(() => true, () => false));
  const streamed = member !== undefined && dirReady ? new StreamedExtraction(member, target, extractOpts) : undefined;
  let fetched: Fetched;
  try {
    fetched = await fetchArtifact(a, opts, streamed?.tap);
  } catch (e) {
    await streamed?.discard();
    throw e;
  }
  try {
    await mkdir(dirname(target), { recursive: true, mode: 0o755 });
  } catch (e) {
    await streamed?.discard();
    throw new FetchError('io', `cannot create ${dirname(target)}: ${reasonOf(e)}; choose a writable output directory`);
  }
  if (member !== undefined) {
    const tmp = await streamed?.finish(fetched.size);
    if (tmp !== undefined) await publish(tmp, target);
    else await extractMember(fetched.path, member, target, extractOpts);
    return target;
  }
  const tmp = join(dirname(target), `.${a.name}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    await copyFile(fetched.path, tmp);
    await chmod(tmp, mode);
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new FetchError('io', `cannot write ${target}: ${reasonOf(e)}; choose a writable output directory`);
  }
  return target;
}

export interface BundleSummary {
  path: string;
  lock: Lock;
}

/** `mkimage bundle`: fetch every artifact (cache, network) and write one tar with them and their lock. */
export async function writeBundle(artifacts: PlanArtifact[], out: string, opts: FetchOptions = {}): Promise<BundleSummary> {
  const items: BundleItem[] = [];
  for (const a of artifacts) {
    const f = await fetchArtifact(a, opts);
    items.push({ artifact: a, sha256: f.sha256, size: f.size, path: f.path });
  }
  const entries = new Map<string, LockEntry>();
  for (const it of items) {
    const url = it.artifact.urls[0] ?? fileNameOf(it.artifact);
    entries.set(`${it.artifact.name}\0${url}`, { name: it.artifact.name, url, size: it.size, sha256: it.sha256 });
  }
  const lock: Lock = { lockVersion: 1, artifacts: [...entries.values()] };
  const path = resolve(out);
  await packBundle(items, lock, path);
  return { path, lock };
}
