// Extraction in the download's own pass: the download's tap feeds each block (as it is written to the cache) to
// a gunzip + tar extraction into a temp file, so the archive is read once, not downloaded, hashed and read again.
// The member is published only after the download's sha256 verified. Anything unusual (a restart, a resume at
// another offset, a cache hit, an extraction error) abandons the stream; the caller then extracts from the
// verified cache file as before, so the result and every error message are the same.

import { rm } from 'node:fs/promises';
import { PassThrough, type Transform } from 'node:stream';
import { extractMemberToTemp, gunzip, isGzipHead, type ExtractMemberOptions } from './extract.js';

export class StreamedExtraction {
  private input?: Transform;
  /** gzip: the gunzip is written directly, and is done with a block when its write calls back */
  private zipped = false;
  private result?: Promise<string | undefined>;
  private next = 0;
  private broken = false;

  constructor(
    private readonly member: string,
    private readonly destFile: string,
    private readonly opts: ExtractMemberOptions,
  ) {}

  /**
   * The download's tap: never throws. It resolves once the extraction no longer needs `chunk` (the download
   * reuses the block), and later when the extraction is behind (its buffers are bounded).
   */
  readonly tap = async (chunk: Buffer, offset: number): Promise<void> => {
    if (this.broken) return;
    if (offset !== this.next || (this.input === undefined && chunk.length < 2)) return this.abandon();
    if (this.input === undefined) {
      this.zipped = isGzipHead(chunk);
      this.input = this.zipped ? gunzip() : new PassThrough({ highWaterMark: 1 << 20 });
      this.input.on('error', () => undefined); // the extraction reports its own failure; this one is then abandoned
      this.result = extractMemberToTemp(this.input, false, this.member, this.destFile, this.opts).catch(() => undefined);
    }
    this.next = offset + chunk.length;
    const input = this.input;
    if (input.destroyed) return this.abandon();
    // zlib reads its input in place until the write calls back; tar-stream keeps slices of it, so it gets a copy
    const data = this.zipped ? chunk : Buffer.from(chunk);
    await new Promise<void>((resolve) => {
      const done = () => {
        input.off('close', done);
        resolve();
      };
      input.on('close', done);
      input.write(data, done);
    });
  };

  private abandon(): void {
    this.broken = true;
    this.input?.destroy();
  }

  /** After a verified download of `size` bytes: the temp file holding the member, or undefined (extract it from the file). */
  async finish(size: number): Promise<string | undefined> {
    if (this.broken || this.input === undefined || this.next !== size) {
      await this.discard();
      return undefined;
    }
    this.input.end();
    return this.result;
  }

  /** The download failed: stop and remove whatever was extracted. */
  async discard(): Promise<void> {
    this.abandon();
    const tmp = await this.result;
    if (tmp !== undefined) await rm(tmp, { force: true });
  }
}
