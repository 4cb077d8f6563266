// Writes an in-memory file tree atomically: everything goes into a temp dir beside the destination,
// which then replaces the destination with renames. A failure leaves the old tree (or nothing) behind,
// never a half-written one.

import { mkdir, rename, rm, writeFile, chmod, mkdtemp, stat } from 'node:fs/promises';
import { dirname, join, resolve, basename, isAbsolute, normalize } from 'node:path';

export interface OutFile {
  /** path relative to the tree root, with forward slashes */
  path: string;
  content: string | Uint8Array;
  /** numeric mode, default 0o644 */
  mode?: number;
}

export type FileTree = OutFile[];

export interface TreeOptions {
  /** mode of the tree's root and every directory in it, default 0o755 (0o700 for a secrets directory) */
  dirMode?: number;
}

function checkRelative(p: string): string {
  const n = normalize(p);
  if (isAbsolute(n) || n === '..' || n.startsWith('../') || n.includes('/../')) {
    throw new Error(`refusing to write outside the output tree: ${p}`);
  }
  return n;
}

/**
 * The normalised relative path of every file, checked before anything is written: inside the tree, one file per
 * path, and no file where another needs a directory (`etc/foo` and `etc/foo/bar`): the second write would
 * silently replace the first, or fail half-way.
 */
function checkTree(files: FileTree): string[] {
  const paths = files.map((f) => checkRelative(f.path));
  const seen = new Set<string>();
  for (const p of paths) {
    if (seen.has(p)) throw new Error(`refusing to write two files at one path: ${p}`);
    seen.add(p);
  }
  for (const p of paths) {
    for (let d = dirname(p); d !== '.' && d !== '/'; d = dirname(d)) {
      if (seen.has(d)) throw new Error(`refusing to write ${p}: ${d} is a file in the same tree`);
    }
  }
  return paths;
}

/** Write `files` as the complete content of directory `dest`, replacing whatever was there. */
export async function writeTreeAtomic(dest: string, files: FileTree, opts: TreeOptions = {}): Promise<void> {
  const dirMode = opts.dirMode ?? 0o755;
  const target = resolve(dest);
  const paths = checkTree(files);
  const parent = dirname(target);
  await mkdir(parent, { recursive: true });
  const tmp = await mkdtemp(join(parent, `.${basename(target)}.tmp-`));
  try {
    const entries = files.map((f, i) => ({ ...f, full: join(tmp, paths[i]!) }));
    // Directories first (sorted, once each), then the files with bounded parallelism.
    for (const dir of [...new Set(entries.map((e) => dirname(e.full)))].sort()) {
      await mkdir(dir, { recursive: true, mode: dirMode });
    }
    const PARALLEL = 32;
    for (let i = 0; i < entries.length; i += PARALLEL) {
      await Promise.all(
        entries.slice(i, i + PARALLEL).map(async (e) => {
          const mode = e.mode ?? 0o644;
          await writeFile(e.full, e.content, { mode });
          await chmod(e.full, mode); // umask must not widen or narrow what the plan says
        }),
      );
    }
    await chmod(tmp, dirMode);
    let old: string | undefined;
    if (await exists(target)) {
      old = `${tmp}.old`;
      await rename(target, old);
    }
    await rename(tmp, target);
    if (old) await rm(old, { recursive: true, force: true });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Write one file atomically (temp file in the same directory, then rename). */
export async function writeFileAtomic(path: string, content: string | Uint8Array, mode = 0o644): Promise<void> {
  const target = resolve(path);
  await mkdir(dirname(target), { recursive: true });
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    await writeFile(tmp, content, { mode });
    await chmod(tmp, mode);
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Whether anything (file, directory, link target) exists at `p`. */
export async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
