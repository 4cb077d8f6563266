// The content-addressed artifact cache: $XDG_CACHE_HOME/mkimage/cas/<sha256> (default ~/.cache/mkimage).
// A file enters the cache only once verified: it is written to a temp file inside cas/ and renamed into place,
// so a reader never sees a partial or unverified file under a sha256 name.

import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
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

export class ArtifactCache {
  readonly casDir: string;

  constructor(readonly root: string) {
    this.casDir = join(root, 'cas');
  }

  pathOf(sha256: string): string {
    if (!isSha256(sha256)) throw new FetchError('lock', `"${sha256}" is not a sha256 (64 lowercase hex digits)`);
    return join(this.casDir, sha256);
  }

  /** Size of the cached file for `sha256`, or undefined on a miss. */
  async lookup(sha256: string): Promise<{ path: string; size: number } | undefined> {
    const path = this.pathOf(sha256);
    try {
      const st = await stat(path);
      return st.isFile() ? { path, size: st.size } : undefined;
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
