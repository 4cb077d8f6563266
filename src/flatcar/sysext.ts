// The kubernetes systemd-sysext image for Flatcar, built with Debian's mksquashfs (squashfs-tools). The Flatcar
// sysext-bakery publishes no Kubernetes 1.29 image, so mkimage builds one from the pinned, sha256-checked binaries
// plus what a golden image would bake under /usr. Layout systemd-sysext requires: everything under usr/, and
// usr/lib/extension-release.d/extension-release.<name> with ID=flatcar, SYSEXT_LEVEL=1.0, ARCHITECTURE=<arch>.
// Deterministic: entries staged in sorted order, owners root (-all-root), every inode time and the superblock time
// SOURCE_DATE_EPOCH (-all-time, -mkfs-time), no xattrs, a fresh image (-noappend); mksquashfs sorts directories
// itself and writes the same image for the same tree whatever its thread count.

import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { promisify } from 'node:util';
import { EnvironmentError } from '../cli/run.js';

const run = promisify(execFile);

export interface SysextEntry {
  /** absolute path on the node, under /usr/ */
  path: string;
  /** the bytes, or a file on this machine holding them */
  content: string | Uint8Array | { file: string };
  /** numeric mode, e.g. 0o755 */
  mode: number;
}

export interface SysextOptions {
  /** every timestamp in the image (SOURCE_DATE_EPOCH, else 0) */
  epochSeconds: number;
  /** mksquashfs to run; default from PATH */
  mksquashfs?: string;
}

export const extensionReleasePath = (name: string) => `/usr/lib/extension-release.d/extension-release.${name}`;

async function stage(root: string, entries: SysextEntry[], epoch: number): Promise<void> {
  const dirs = new Set<string>();
  for (const e of [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    if (!e.path.startsWith('/usr/') || posix.normalize(e.path) !== e.path) {
      throw new Error(`internal: sysext entry ${e.path} is not a simplified path under /usr/`);
    }
    const target = join(root, e.path);
    await mkdir(dirname(target), { recursive: true, mode: 0o755 });
    for (let d = posix.dirname(e.path); d !== '/'; d = posix.dirname(d)) dirs.add(d);
    if (typeof e.content === 'object' && 'file' in e.content) await copyFile(e.content.file, target);
    else await writeFile(target, e.content);
    await chmod(target, e.mode);
    await utimes(target, epoch, epoch);
  }
  for (const d of dirs) {
    await chmod(join(root, d), 0o755);
    await utimes(join(root, d), epoch, epoch);
  }
}

/** The squashfs image of `entries` plus the extension-release file; throws E016 when mksquashfs is missing. */
export async function buildSysext(name: string, extensionRelease: string, entries: SysextEntry[], opts: SysextOptions): Promise<Buffer> {
  const work = await mkdtemp(join(tmpdir(), 'mkimage-sysext-'));
  try {
    const root = join(work, 'root');
    await mkdir(root, { mode: 0o755 });
    await chmod(root, 0o755);
    await stage(root, [...entries, { path: extensionReleasePath(name), content: extensionRelease, mode: 0o644 }], opts.epochSeconds);
    const image = join(work, `${name}.raw`);
    const t = String(opts.epochSeconds);
    const args = [root, image, '-noappend', '-all-root', '-no-xattrs', '-all-time', t, '-mkfs-time', t, '-no-progress', '-quiet'];
    try {
      // Only PATH: mksquashfs refuses SOURCE_DATE_EPOCH beside -all-time/-mkfs-time, and nothing else may leak in.
      await run(opts.mksquashfs ?? 'mksquashfs', args, { maxBuffer: 16 << 20, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' } });
    } catch (e) {
      const err = e as NodeJS.ErrnoException & { stderr?: string };
      if (err.code === 'ENOENT') {
        throw new EnvironmentError('osFamily flatcar: building the kubernetes sysext needs mksquashfs, which is not installed: apt-get install squashfs-tools', 'E016');
      }
      throw new Error(`mksquashfs failed building the ${name} sysext: ${(err.stderr ?? err.message).trim()}`);
    }
    return await readFile(image);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
