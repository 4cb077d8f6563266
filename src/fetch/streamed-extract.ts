// Extraction in the download's own pass: the download's tap feeds each chunk (as it is written to the cache) to
// a gunzip + tar extraction into a temp file, so the archive is read once, not downloaded, hashed and read again.
// The member is published only after the download's sha256 verified. Anything unusual (a restart, a resume at
// another offset, a cache hit, an extraction error) abandons the stream; the caller then extracts from the
// verified cache file as before, so the result and every error message are the same.

import { rm } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { extractMemberToTemp, isGzipHead, type ExtractMemberOptions } from './extract.js';

export class StreamedExtraction {
  private pass?: PassThrough;
  private result?: Promise<string | undefined>;
  private next = 0;
  private broken = false;

  constructor(
    private readonly member: string,
    private readonly destFile: string,
    private readonly opts: ExtractMemberOptions,
  ) {}

  /** The download's tap: never throws; waits while the extraction is behind (bounded buffers). */
  readonly tap = async (chunk: Buffer, offset: number): Promise<void> => {
    if (this.broken) return;
    if (offset !== this.next || (this.pass === undefined && chunk.length < 2)) return this.abandon();
    if (this.pass === undefined) {
      this.pass = new PassThrough({ highWaterMark: 1 << 20 });
      this.pass.on('error', () => undefined); // the extraction reports its own failure; this one is then abandoned
      this.result = extractMemberToTemp(this.pass, isGzipHead(chunk), this.member, this.destFile, this.opts).catch(() => undefined);
    }
    this.next = offset + chunk.length;
    const pass = this.pass;
    if (pass.destroyed) return this.abandon();
    if (pass.write(chunk)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        pass.off('drain', done);
        pass.off('close', done);
        resolve();
      };
      pass.on('drain', done);
      pass.on('close', done);
    });
  };

  private abandon(): void {
    this.broken = true;
    this.pass?.destroy();
  }

  /** After a verified download of `size` bytes: the temp file holding the member, or undefined (extract it from the file). */
  async finish(size: number): Promise<string | undefined> {
    if (this.broken || this.pass === undefined || this.next !== size) {
      await this.discard();
      return undefined;
    }
    this.pass.end();
    return this.result;
  }

  /** The download failed: stop and remove whatever was extracted. */
  async discard(): Promise<void> {
    this.abandon();
    const tmp = await this.result;
    if (tmp !== undefined) await rm(tmp, { force: true });
  }
}
