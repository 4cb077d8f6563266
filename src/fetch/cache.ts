// The content-addressed artifact cache: $XDG_CACHE_HOME/mkimage/cas/<sha256> (default ~/.cache/mkimage).
// A file enters the cache only once verified: it is written to a temp file inside cas/ and renamed into place,
// so a reader never sees a partial or unverified file under a sha256 name. A name is not trusted on its own
// either: every hit is hashed again (a cached file may have been changed since, by a person or the disk), and a
// file whose content does not match its name is removed and reported as a miss.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { FetchError, reasonOf } from './errors.js';

const SHA256_HEX = /^[0-9a-f]{64}$/;

export const isSha256 = (s: string): boolean => SHA256_HEX.test(s);

/** The cache root: explicit option, else $XDG_CACHE_HOME/mkimage, else ~/.cache/mkimage. */
export function cacheRoot(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit !== undefined && explicit !== '') return explicit;
  const xdg = env['XDG_CACHE_HOME'];
  const base = xdg !== undefined && xdg !== '' ? xdg : join(env['HOME'] ?? homedir(), '.cache');
  return join(base, 'mkimage');
}

/** The sha256 of a file's content, read in one pass. */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), hash);
  return hash.digest('hex');
}

export class ArtifactCache {
  readonly casDir: string;

  constructor(readonly root: string) {
    this.casDir = join(root, 'cas');
  }

  pathOf(sha256: string): string {
    if (!isSha256(sha256)) throw new FetchError('lock', `"${sha256}" is not a sha256 (64 lowercase hex digits)`);
    return join(this.casDir, sha256);
  }

  /**
   * The cached file for `sha256` and its size, once its content is hashed and matches; undefined on a miss. A file
   * that does not match is removed and reported through `corrupt` (then it is a miss too).
   */
  async lookup(sha256: string, corrupt?: (path: string, got: string) => void): Promise<{ path: string; size: number } | undefined> {
    const path = this.pathOf(sha256);
    try {
      const st = await stat(path);
      if (!st.isFile()) return undefined;
      const got = await sha256OfFile(path);
      if (got === sha256) return { path, size: st.size };
      corrupt?.(path, got);
      await rm(path, { force: true }).catch(() => undefined); // a fetch renames the good copy over it anyway
      return undefined;
    } catch {
      return undefined;
    }
  }

  /** A fresh temp path inside cas/ (same filesystem as the final name, so the rename is atomic). */
  async tempPath(): Promise<string> {
    try {
      await mkdir(this.casDir, { recursive: true, mode: 0o755 });
    } catch (e) {
      throw new FetchError('io', `cannot create the cache directory ${this.casDir}: ${reasonOf(e)}; set XDG_CACHE_HOME or pass a writable cache directory`);
    }
    return join(this.casDir, `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  }

  /** Move a verified temp file to cas/<sha256>. */
  async commit(tmp: string, sha256: string): Promise<string> {
    const path = this.pathOf(sha256);
    await rename(tmp, path);
    return path;
  }

  async discard(tmp: string): Promise<void> {
    await rm(tmp, { force: true });
  }
}
