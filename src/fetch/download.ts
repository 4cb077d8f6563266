// Streaming download into a file with the sha256 computed in the same pass. Bounded retries with exponential
// backoff on connection errors, truncated bodies and 5xx; resume with a Range request when the server answers 206,
// else restart from zero; redirects followed by hand (so Range survives them); mirrors tried in order. The GET is
// http1.ts's (one reused read buffer per connection); the body goes to disk in 1 MiB blocks (write.ts).

import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { rootCertificates } from 'node:tls';
import { FetchError, reasonOf } from './errors.js';
import { get as send, READ_SIZE, type Headers, type Response } from './http1.js';
import { createProgress, type ProgressOptions } from './progress.js';
import { BLOCK, writeFully } from './write.js';

export interface DownloadOptions {
  /** extra attempts per mirror after the first (default 3) */
  retries?: number;
  /** first backoff delay; doubles each retry (default 500 ms) */
  backoffMs?: number;
  /** cap on one backoff delay (default 8 s) */
  maxBackoffMs?: number;
  maxRedirects?: number;
  /** shown in progress and messages: "cri-dockerd-0.3.9.amd64.tgz" */
  label: string;
  progress?: ProgressOptions;
  log?: (line: string) => void;
  /**
   * Called with the sha256 of a complete download; return an error (e.g. a mismatch) to discard it and try the
   * next mirror.
   */
  verify?: (sha256: string, size: number, url: string) => FetchError | undefined;
  /**
   * Refuse plain http, redirects included (the file's sum is not known yet, so what is read is what gets recorded):
   * the text says why and how to use such a mirror anyway; the next mirror is tried.
   */
  httpsOnly?: { fix: string };
  /** a CA certificate (PEM) trusted besides Node's roots: an internal mirror's, a test server's */
  trustedCa?: string;
  /**
   * Sees every block as it is written, with its offset in the file (a restart begins again at 0), so the body can
   * be processed in the same pass; the download waits for the promise (backpressure). The block's memory is
   * reused once the promise settles: copy what must outlive it. Never fails the download.
   */
  tap?: (chunk: Buffer, offset: number) => Promise<void> | void;
}

export interface Downloaded {
  url: string;
  sha256: string;
  size: number;
}

/**
 * What is on disk so far. A block is hashed as its write starts; a write that fails ends the download (an io
 * error is never retried), so whenever a download resumes, the hash is that of the file's bytes.
 */
interface OnDisk {
  received: number;
  hash: Hash;
}

type Tap = NonNullable<DownloadOptions['tap']>;

/** Write one block at the end of the file, hash it, show it to the tap; the tap and the write run together. */
async function store(fh: FileHandle, st: OnDisk, block: Buffer, onBytes: (received: number) => void, tap?: Tap): Promise<void> {
  st.hash.update(block);
  const tapped = tap?.(block, st.received);
  try {
    await writeFully(fh, [block], st.received);
  } catch (e) {
    throw new FetchError('io', `cannot write the download to disk: ${reasonOf(e)}; free some space or set XDG_CACHE_HOME`);
  }
  await tapped;
  st.received += block.length;
  onBytes(st.received);
}

/**
 * Read the body into the file. Each piece is copied into one of two reused blocks while the other is stored, so
 * the file gets one write per BLOCK, the hash and the tap one call, and no buffer is allocated per piece. The
 * socket pauses while both blocks are busy. What arrived before a broken connection is stored too, so a resume
 * asks only for the rest. Throws a FetchError (io) or the connection's error.
 */
async function receive(res: Response, fh: FileHandle, st: OnDisk, onBytes: (received: number) => void, tap?: Tap): Promise<void> {
  const blocks = [Buffer.allocUnsafeSlow(BLOCK), Buffer.allocUnsafeSlow(BLOCK)];
  let which = 0;
  let filled = 0;
  let storing: Promise<void> | undefined;
  let failed: FetchError | undefined;
  let paused = false;
  /** Bytes that came while both blocks were full (a read already under way when the socket paused). */
  const spill: Buffer[] = [];

  const flush = () => {
    const block = blocks[which]!.subarray(0, filled);
    which ^= 1;
    filled = 0;
    storing = store(fh, st, block, onBytes, tap).then(
      () => {
        storing = undefined;
        if (filled === BLOCK) flush();
        while (spill.length > 0 && filled < BLOCK) take(spill.shift()!);
        if (paused && !busy()) {
          paused = false;
          res.resume();
        }
      },
      (e: unknown) => {
        storing = undefined;
        failed = e as FetchError;
        res.destroy(failed);
      },
    );
  };
  /** Copy as much of `chunk` as fits; the rest waits in `spill` (copied: the read buffer is reused). */
  const take = (chunk: Buffer) => {
    let off = 0;
    while (off < chunk.length) {
      if (filled === BLOCK) {
        if (storing !== undefined) {
          spill.unshift(Buffer.from(chunk.subarray(off)));
          return;
        }
        flush();
      }
      const n = chunk.copy(blocks[which]!, filled, off);
      filled += n;
      off += n;
    }
    if (filled === BLOCK && storing === undefined) flush();
  };
  /** Too full to take another read: the other block is being stored and this one may not hold a whole read. */
  const busy = () => storing !== undefined && (BLOCK - filled < READ_SIZE || spill.length > 0);

  let broken: unknown;
  try {
    await res.body((chunk) => {
      if (spill.length > 0) spill.push(Buffer.from(chunk));
      else take(chunk);
      paused = busy();
      return !paused;
    });
  } catch (e) {
    broken = e;
  }
  while (storing !== undefined) await storing;
  if (failed) throw failed;
  while (spill.length > 0) {
    take(spill.shift()!);
    while (storing !== undefined) await storing;
  }
  if (filled > 0) flush();
  while (storing !== undefined) await storing;
  if (failed) throw failed;
  if (broken !== undefined) throw broken;
}

async function restart(fh: FileHandle, st: OnDisk): Promise<void> {
  await fh.truncate(0);
  st.received = 0;
  st.hash = createHash('sha256');
}

/** An error worth retrying on the same mirror. */
class Retryable extends Error {}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Download the first mirror that works into `dest` (created or truncated). Throws a FetchError naming every
 * mirror's failure. The caller owns `dest` (it deletes it on failure).
 */
export async function download(urls: readonly string[], dest: string, opts: DownloadOptions): Promise<Downloaded> {
  if (urls.length === 0) throw new FetchError('http', `${opts.label}: the plan lists no URL to fetch it from; add one to the profile`);
  const ca = opts.trustedCa !== undefined ? [...rootCertificates, opts.trustedCa] : undefined;
  const fh = await open(dest, 'w', 0o644).catch((e: unknown) => {
    throw new FetchError('io', `cannot create ${dest}: ${reasonOf(e)}; check the cache directory is writable`);
  });
  const failures: Array<{ url: string; error: FetchError }> = [];
  try {
    for (const url of urls) {
      try {
        return await fromMirror(url, fh, ca, opts);
      } catch (e) {
        const err = e instanceof FetchError ? e : new FetchError('network', `${url}: ${reasonOf(e)}`);
        if (err.kind === 'io') throw err; // a local problem: another mirror will not help
        failures.push({ url, error: err });
        if (urls.length > 1) opts.log?.(`${opts.label}: ${url} failed, trying the next mirror`);
      }
    }
  } finally {
    await fh.close().catch(() => undefined);
  }
  if (failures.length === 1) throw failures[0]!.error;
  const kind = (['mismatch', 'insecure'] as const).find((k) => failures.some((f) => f.error.kind === k)) ?? failures[failures.length - 1]!.error.kind;
  throw new FetchError(
    kind,
    `could not fetch ${opts.label} from any of its ${failures.length} mirrors:\n${failures.map((f) => `  - ${f.error.message.replaceAll('\n', '\n    ')}`).join('\n')}`,
    // a refused plain-http mirror: the fix is a pin (the user's input), whatever the other mirrors did
    kind === 'insecure' ? 'E019' : undefined,
  );
}

async function fromMirror(url: string, fh: FileHandle, ca: string[] | undefined, opts: DownloadOptions): Promise<Downloaded> {
  const retries = opts.retries ?? 3;
  const backoff = opts.backoffMs ?? 500;
  const maxBackoff = opts.maxBackoffMs ?? 8000;
  const progress = opts.progress ?? {};
  let bar = createProgress(opts.label, undefined, progress);
  const st: OnDisk = { received: 0, hash: createHash('sha256') };
  await restart(fh, st);
  let validator: string | undefined;

  for (let attempt = 0; ; attempt++) {
    try {
      const headers: Headers = { 'user-agent': 'mkimage' };
      if (st.received > 0) {
        headers['range'] = `bytes=${st.received}-`;
        if (validator !== undefined) headers['if-range'] = validator;
      }
      const res = await get(url, headers, ca, opts.maxRedirects ?? 10, opts.httpsOnly && { label: opts.label, ...opts.httpsOnly });
      const status = res.status;
      let total: number | undefined;
      if (status === 206 && st.received > 0) {
        const cr = header(res.headers, 'content-range');
        const range = parseContentRange(cr);
        if (range === undefined || range.start !== st.received) {
          res.destroy();
          await restart(fh, st);
          throw new Retryable(`the server answered a resume with an unexpected range (${cr ?? 'none'})`);
        }
        total = range.total ?? range.end + 1;
      } else if (status === 200) {
        if (st.received > 0) {
          opts.log?.(`${opts.label}: ${url} does not support resuming; restarting the download`);
          await restart(fh, st);
        }
        const len = header(res.headers, 'content-length');
        total = len !== undefined && /^\d+$/.test(len) ? Number(len) : undefined;
        validator = pickValidator(res.headers);
      } else if (status === 416 && st.received > 0) {
        res.destroy();
        await restart(fh, st);
        throw new Retryable('the server refused the resume range (416)');
      } else {
        res.destroy();
        const what = `GET ${url} returned ${status}`;
        if (status >= 500 || status === 408 || status === 429) throw new Retryable(what);
        throw new FetchError('http', `${what}; check the version and URL of ${opts.label} in the profile, or list a mirror that has it`);
      }
      bar.stop();
      bar = createProgress(opts.label, total, progress);
      try {
        await receive(res, fh, st, (n) => bar.update(n), opts.tap);
      } catch (e) {
        if (e instanceof FetchError) throw e;
        throw new Retryable(`the connection broke after ${st.received} bytes: ${reasonOf(e)}`);
      }
      if (total !== undefined && st.received !== total) {
        throw new Retryable(`the body ended after ${st.received} of ${total} bytes`);
      }
      const sha256 = st.hash.digest('hex');
      const received = st.received;
      const rejected = opts.verify?.(sha256, received, url);
      if (rejected) {
        bar.stop();
        throw rejected;
      }
      bar.done(received);
      return { url, sha256, size: received };
    } catch (e) {
      bar.stop();
      if (e instanceof FetchError) throw e;
      const reason = e instanceof Retryable ? e.message : reasonOf(e);
      if (!isRetryable(e) || attempt >= retries) {
        const tries = attempt + 1;
        throw new FetchError(
          e instanceof Retryable && /returned \d+/.test(reason) ? 'http' : 'network',
          `${url}: ${reason}${tries > 1 ? ` (gave up after ${tries} attempts)` : ''}; check the network or the mirror, then run again (a partial download is resumed when the server allows it)`,
        );
      }
      const delay = Math.min(maxBackoff, backoff * 2 ** attempt);
      opts.log?.(`${opts.label}: ${reason}; retrying in ${delay} ms (${attempt + 1}/${retries})`);
      await sleep(delay);
    }
  }
}

function isRetryable(e: unknown): boolean {
  if (e instanceof Retryable) return true;
  const code = (e as { code?: unknown } | null)?.code;
  return code !== 'ENOTFOUND' && code !== 'ERR_INVALID_URL';
}

/** No byte for this long (connecting, waiting for the headers, or mid-body) is a broken connection (undici's default). */
const IDLE_TIMEOUT_MS = 300_000;

async function get(
  url: string,
  headers: Headers,
  ca: string[] | undefined,
  maxRedirects: number,
  httpsOnly?: { label: string; fix: string },
): Promise<Response> {
  let current = url;
  for (let hops = 0; ; hops++) {
    const parsed = new URL(current);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      const what = hops === 0 ? `${url} is not an http(s) URL` : `${url} redirects to ${current}, which is not http(s)`;
      throw new FetchError('http', `${what}; list a direct http(s) URL in the profile`);
    }
    if (httpsOnly && parsed.protocol === 'http:') {
      const what = hops === 0 ? `${url} is plain http` : `${url} redirects to ${current}, which is plain http`;
      throw new FetchError(
        'insecure',
        `${what}, and the sha256 of ${httpsOnly.label} is not known yet: mkimage records a sum only from https (anyone on the way can change plain http). ${httpsOnly.fix}`,
        'E019',
      );
    }
    const res = await send(parsed, headers, { idleTimeoutMs: IDLE_TIMEOUT_MS, ...(ca && { ca }) });
    if (!REDIRECTS.has(res.status)) return res;
    res.destroy();
    const location = header(res.headers, 'location');
    if (location === undefined) throw new FetchError('http', `GET ${current} returned ${res.status} without a Location header; list a direct URL in the profile`);
    if (hops >= maxRedirects) throw new FetchError('http', `${url} redirected more than ${maxRedirects} times; list a direct URL in the profile`);
    current = new URL(location, current).toString();
  }
}

function header(h: Headers, name: string): string | undefined {
  return h[name];
}

/** A strong ETag, else Last-Modified: what If-Range needs so a changed file restarts instead of splicing. */
function pickValidator(h: Headers): string | undefined {
  const etag = header(h, 'etag');
  if (etag !== undefined && !etag.startsWith('W/')) return etag;
  return header(h, 'last-modified');
}

export function parseContentRange(v: string | undefined): { start: number; end: number; total: number | undefined } | undefined {
  const m = v === undefined ? null : /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(v.trim());
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = Number(m[2]);
  return { start, end, total: m[3] === '*' ? undefined : Number(m[3]) };
}
