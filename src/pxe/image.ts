// The golden image as the installer streams it: raw (`qemu-img convert -O raw` of a qcow2), gzip-compressed with no
// name or time in the header (what `gzip -n` writes, so the same image gives the same bytes), and the sha256 of the
// compressed bytes. Streamed from disk to disk: images are gigabytes and never held in memory.

import { createReadStream, createWriteStream, existsSync, readdirSync, statSync } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { EnvironmentError } from '../cli/run.js';
import { hashingTap } from '../fetch/bundle.js';
import { lastLines, runTool } from './tool.js';

export interface GzImage {
  /** sha256 of the .gz bytes (what the installer checks) */
  sha256: string;
  /** bytes of the .gz */
  size: number;
  /** bytes of the raw disk image (what lands on the disk) */
  rawSize: number;
}

/** Image files `mkimage <role> --build` leaves in images/<cluster>/<role>/ (Packer's qcow2), or a raw one. */
const IMAGE_FILE = /\.(qcow2|raw|img)$/;

/** The newest image file in `dir` (by modification time, then name), or undefined. */
export function newestImage(dir: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  const files = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && IMAGE_FILE.test(e.name))
    .map((e) => ({ path: join(dir, e.name), mtime: statSync(join(dir, e.name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime || (a.path < b.path ? -1 : 1));
  return files[0]?.path;
}

/** The image's format as qemu-img sees it (qcow2, raw, ...). */
export async function imageFormat(path: string): Promise<string> {
  const r = await runTool('qemu-img', ['info', '--output=json', path]);
  if (r.code !== 0) throw new EnvironmentError(`qemu-img info ${path} failed: ${lastLines(r.stderr)}`, 'E022');
  const format = (JSON.parse(r.stdout) as { format?: string }).format;
  if (!format) throw new EnvironmentError(`qemu-img info ${path} names no format`, 'E022');
  return format;
}

/** gzip `raw` into `dest` (level 6, no name or mtime in the header), hashing the compressed bytes on the way. */
async function gzipFile(raw: string, dest: string): Promise<Omit<GzImage, 'rawSize'>> {
  const { tap, result } = hashingTap();
  await pipeline(createReadStream(raw, { highWaterMark: 1 << 20 }), createGzip({ level: 6 }), tap, createWriteStream(dest, { mode: 0o644 }));
  return result();
}

/**
 * Write `src` (qcow2 or raw) to `dest` as raw.gz. A qcow2 is converted to a sparse raw file in `workDir` first (the
 * same filesystem as the output, removed afterwards).
 */
export async function writeGzImage(src: string, dest: string, workDir: string): Promise<GzImage> {
  const format = await imageFormat(src);
  let raw = src;
  if (format !== 'raw') {
    raw = join(workDir, '.image.raw');
    const r = await runTool('qemu-img', ['convert', '-O', 'raw', src, raw]);
    if (r.code !== 0) throw new EnvironmentError(`qemu-img convert -O raw ${src} failed: ${lastLines(r.stderr)}`, 'E022');
  }
  try {
    const rawSize = (await stat(raw)).size;
    return { ...(await gzipFile(raw, dest)), rawSize };
  } finally {
    if (raw !== src) await rm(raw, { force: true });
  }
}
