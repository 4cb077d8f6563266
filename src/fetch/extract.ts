// Extract one regular file from a (gzipped) tar as a stream: tar-stream over node:zlib, never the whole archive
// in memory. The archive is refused if any member escapes it (absolute path or ".."), any link points outside it,
// or the wanted member is a link, not a regular file, duplicated, or not executable when it must be.

import { createReadStream } from 'node:fs';
import { chmod, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { FetchError, reasonOf } from './errors.js';
import { BLOCK, writeToFile } from './write.js';

export interface ExtractMemberOptions {
  /** the archive's name in messages: "cri-dockerd-0.3.9.amd64.tgz" */
  label: string;
  /** fail unless the member has an execute bit */
  requireExecutable: boolean;
  /** mode the extracted file gets */
  mode: number;
}

/** Strip leading "./" and trailing "/"; throw if the name is absolute or climbs out with "..". */
export function safeMemberName(name: string, label: string): string {
  let n = name;
  while (n.startsWith('./')) n = n.slice(2);
  n = n.replace(/\/+$/, '');
  if (n.startsWith('/') || /^[A-Za-z]:[\\/]/.test(n) || n.split(/[\\/]/).includes('..')) {
    throw new FetchError('archive', `${label}: member "${name}" escapes the archive (absolute path or ".."); refusing to extract from it — the download is not a genuine release archive`);
  }
  return n;
}

/** A link target must stay inside the archive: symlinks resolve from their own directory, hard links from the root. */
function checkLinkTarget(name: string, type: string, linkname: string, label: string): void {
  const from = type === 'symlink' ? posix.dirname(name) : '.';
  const resolved = posix.normalize(posix.join(from, linkname));
  if (linkname.startsWith('/') || resolved === '..' || resolved.startsWith('../')) {
    throw new FetchError('archive', `${label}: ${type} "${name}" points outside the archive ("${linkname}"); refusing to extract from it — the download is not a genuine release archive`);
  }
}

async function isGzip(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(2), 0, 2, 0);
    return isGzipHead(buffer.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

/** Extract `member` of the tar (or .tgz) at `archive` to `destFile` (atomically, with opts.mode). */
export async function extractMember(archive: string, member: string, destFile: string, opts: ExtractMemberOptions): Promise<void> {
  const gzip = await isGzip(archive);
  const tmp = await extractMemberToTemp(createReadStream(archive, { highWaterMark: 1 << 20 }), gzip, member, destFile, opts);
  await publish(tmp, destFile);
}

/** Move an extracted temp file into place (removing it if that fails). */
export async function publish(tmp: string, destFile: string): Promise<void> {
  try {
    await rename(tmp, destFile);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** The gunzip both extraction paths use: output in blocks as large as the download's. */
export const gunzip = () => createGunzip({ chunkSize: BLOCK });

/** gzip's magic bytes. */
export const isGzipHead = (head: Buffer) => head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;

/**
 * Extract `member` of the tar read from `source` (gunzipped first when `gzip`) to a temp file beside `destFile`,
 * with opts.mode; returns the temp file's path, for the caller to publish() once the archive is verified.
 */
export async function extractMemberToTemp(source: Readable, gzip: boolean, member: string, destFile: string, opts: ExtractMemberOptions): Promise<string> {
  const wanted = safeMemberName(member, `the plan's member name for ${opts.label}`);
  const tmp = join(dirname(destFile), `.${basename(destFile)}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const extract = tar.extract();
  const stages: Array<NodeJS.ReadableStream | NodeJS.WritableStream> = [source];
  if (gzip) stages.push(gunzip());
  stages.push(extract);
  const feeding = pipeline(stages as unknown as [Readable, ...NodeJS.WritableStream[]]);
  feeding.catch(() => undefined); // surfaced through the iterator below
  let found = false;
  const seen: string[] = [];
  try {
    try {
      for await (const entry of extract) {
        const h = entry.header;
        const type = h.type ?? 'file';
        const name = safeMemberName(h.name, opts.label);
        if (seen.length < 8) seen.push(name);
        if ((type === 'symlink' || type === 'link') && h.linkname) checkLinkTarget(name, type, h.linkname, opts.label);
        if (name !== wanted) {
          entry.resume();
          continue;
        }
        if (type === 'symlink' || type === 'link') {
          throw new FetchError('archive', `${opts.label}: "${wanted}" is a ${type === 'link' ? 'hard link' : 'symlink'} to "${h.linkname ?? ''}", not a regular file; refusing to extract it — the download is not a genuine release archive`);
        }
        if (type !== 'file' && type !== 'contiguous-file') {
          throw new FetchError('archive', `${opts.label}: "${wanted}" is a ${type}, not a regular file; check the artifact's member name in the plan`);
        }
        if (found) throw new FetchError('archive', `${opts.label}: "${wanted}" appears twice in the archive; refusing an ambiguous archive`);
        if (opts.requireExecutable && ((h.mode ?? 0) & 0o111) === 0) {
          throw new FetchError('archive', `${opts.label}: "${wanted}" is not executable in the archive (mode ${((h.mode ?? 0) & 0o7777).toString(8).padStart(4, '0')}); the download is not the expected release binary`);
        }
        found = true;
        await writeToFile(entry as unknown as AsyncIterable<Buffer>, tmp, opts.mode);
      }
      await feeding;
    } catch (e) {
      source.destroy();
      if (e instanceof FetchError) throw e;
      throw new FetchError('archive', `${opts.label} is not a readable tar archive (${reasonOf(e)}); delete it from the cache and fetch again`);
    }
    if (!found) {
      throw new FetchError('archive', `${opts.label} has no member "${wanted}" (it holds ${seen.length ? seen.map((s) => `"${s}"`).join(', ') : 'nothing'}${seen.length === 8 ? ', …' : ''}); check the artifact's member name and version`);
    }
    await chmod(tmp, opts.mode);
    return tmp;
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
