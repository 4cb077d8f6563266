// Large positional writes: the download and the extracted member are written in blocks of about 1 MiB (one
// pwrite/pwritev each), not one write per 64 KiB socket or gunzip chunk. Each write is a round trip to libuv's
// thread pool; on a 100 MB archive that was ~1600 writes for the member alone, and their cost on the main thread
// (the call, the wake-up, the callback) showed in the profile as much as the sha256 did.

import { open, type FileHandle } from 'node:fs/promises';

/** How many bytes one write carries (and the size of the download's reused blocks). */
export const BLOCK = 1 << 20;

/** Write all of `bufs` at `position`, however short the kernel's writes are. */
export async function writeFully(fh: FileHandle, bufs: readonly Buffer[], position: number): Promise<void> {
  let rest = bufs;
  let at = position;
  while (rest.length > 0) {
    const { bytesWritten } = rest.length === 1 ? await fh.write(rest[0]!, 0, rest[0]!.length, at) : await fh.writev(rest as Buffer[], at);
    at += bytesWritten;
    rest = skip(rest, bytesWritten);
  }
}

/** `bufs` without their first `n` bytes. */
function skip(bufs: readonly Buffer[], n: number): readonly Buffer[] {
  let i = 0;
  let left = n;
  while (i < bufs.length && left >= bufs[i]!.length) left -= bufs[i++]!.length;
  if (i === bufs.length) return [];
  return left === 0 ? bufs.slice(i) : [bufs[i]!.subarray(left), ...bufs.slice(i + 1)];
}

/**
 * Write what `source` yields to a new file at `path` (created with `mode`), coalesced into writes of about BLOCK
 * bytes; the next block is gathered while the previous one is written, and the source waits when both are full.
 */
export async function writeToFile(source: AsyncIterable<Buffer>, path: string, mode: number): Promise<void> {
  const fh = await open(path, 'w', mode);
  let writing: Promise<void> | undefined;
  try {
    let pending: Buffer[] = [];
    let bytes = 0;
    let position = 0;
    for await (const chunk of source) {
      pending.push(chunk);
      bytes += chunk.length;
      if (bytes < BLOCK) continue;
      await writing;
      writing = writeFully(fh, pending, position);
      writing.catch(() => undefined); // awaited before the next block and at the end
      position += bytes;
      pending = [];
      bytes = 0;
    }
    await writing;
    if (bytes > 0) await writeFully(fh, pending, position);
  } finally {
    await writing?.catch(() => undefined); // a source that failed mid-write: let the write end before the close
    await fh.close();
  }
}
