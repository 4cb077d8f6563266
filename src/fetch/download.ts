// Streaming download into a file with the sha256 computed in the same pass. Bounded retries with exponential
// backoff on connection errors, truncated bodies and 5xx; resume with a Range request when the server answers 206,
// else restart from zero; redirects followed by hand (so Range survives them); mirrors tried in order.

import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import { FetchError, reasonOf } from './errors.js';
import { createProgress, type ProgressOptions } from './progress.js';

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
   * Sees every chunk as it is written, with its offset in the file (a restart begins again at 0), so the body can
   * be processed in the same pass; the download waits for the promise (backpressure). Never fails the download.
   */
  tap?: (chunk: Buffer, offset: number) => Promise<void> | void;
}

export interface Downloaded {
  url: string;
  sha256: string;
  size: number;
}

/** What is on disk so far: bytes are hashed only once written, so after an error the hash matches the file. */
interface OnDisk {
  received: number;
  hash: Hash;
}

class HashingFileSink extends Writable {
  private pending: Promise<void> = Promise.resolve();

  constructor(
    private readonly fh: FileHandle,
    private readonly state: OnDisk,
    private readonly onBytes: (received: number) => void,
    private readonly tap?: (chunk: Buffer, offset: number) => Promise<void> | void,
  ) {
    super({ highWaterMark: 1 << 20 });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.writeBuf(chunk, cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (e?: Error | null) => void): void {
    this.writeBuf(Buffer.concat(chunks.map((c) => c.chunk)), cb);
  }

  private writeBuf(buf: Buffer, cb: (e?: Error | null) => void): void {
    const st = this.state;
    this.pending = (async () => {
      const tapped = this.tap?.(buf, st.received);
      let off = 0;
      while (off < buf.length) {
        const { bytesWritten } = await this.fh.write(buf, off, buf.length - off, st.received + off);
        off += bytesWritten;
      }
      st.hash.update(buf);
      await tapped;
      st.received += buf.length;
      this.onBytes(st.received);
    })().then(
      () => cb(),
      (e: unknown) => cb(new FetchError('io', `cannot write the download to disk: ${reasonOf(e)}; free some space or set XDG_CACHE_HOME`)),
    );
  }

  /** Wait for a write still in flight after the stream errored. */
  async settled(): Promise<void> {
    await this.pending.catch(() => undefined);
  }
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
  const agents: Agents = {
    http: new HttpAgent(),
    https: new HttpsAgent(opts.trustedCa !== undefined ? { ca: [...rootCertificates, opts.trustedCa] } : {}),
  };
  const fh = await open(dest, 'w', 0o644).catch((e: unknown) => {
    throw new FetchError('io', `cannot create ${dest}: ${reasonOf(e)}; check the cache directory is writable`);
  });
  const failures: Array<{ url: string; error: FetchError }> = [];
  try {
    for (const url of urls) {
      try {
        return await fromMirror(url, fh, agents, opts);
      } catch (e) {
        const err = e instanceof FetchError ? e : new FetchError('network', `${url}: ${reasonOf(e)}`);
        if (err.kind === 'io') throw err; // a local problem: another mirror will not help
        failures.push({ url, error: err });
        if (urls.length > 1) opts.log?.(`${opts.label}: ${url} failed, trying the next mirror`);
      }
    }
  } finally {
    await fh.close().catch(() => undefined);
    agents.http.destroy();
    agents.https.destroy();
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

async function fromMirror(url: string, fh: FileHandle, agents: Agents, opts: DownloadOptions): Promise<Downloaded> {
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
      const headers: Record<string, string> = { 'user-agent': 'mkimage' };
      if (st.received > 0) {
        headers['range'] = `bytes=${st.received}-`;
        if (validator !== undefined) headers['if-range'] = validator;
      }
      const res = await get(url, headers, agents, opts.maxRedirects ?? 10, opts.httpsOnly && { label: opts.label, ...opts.httpsOnly });
      const status = res.statusCode ?? 0;
      let total: number | undefined;
      if (status === 206 && st.received > 0) {
        const cr = header(res.headers, 'content-range');
        const range = parseContentRange(cr);
        if (range === undefined || range.start !== st.received) {
          discard(res);
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
        discard(res);
        await restart(fh, st);
        throw new Retryable('the server refused the resume range (416)');
      } else {
        discard(res);
        const what = `GET ${url} returned ${status}`;
        if (status >= 500 || status === 408 || status === 429) throw new Retryable(what);
        throw new FetchError('http', `${what}; check the version and URL of ${opts.label} in the profile, or list a mirror that has it`);
      }
      bar.stop();
      bar = createProgress(opts.label, total, progress);
      const sink = new HashingFileSink(fh, st, (n) => bar.update(n), opts.tap);
      try {
        await pipeline(res, sink);
      } catch (e) {
        await sink.settled();
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
  return code !== 'ENOTFOUND' && code !== 'ERR_INVALID_URL' && code !== 'ERR_INVALID_ARG_VALUE' && code !== 'ERR_INVALID_HTTP_TOKEN';
}

interface Agents {
  http: HttpAgent;
  https: HttpsAgent;
}

/** No byte for this long (connecting, waiting for the headers, or mid-body) is a broken connection (undici's default). */
const IDLE_TIMEOUT_MS = 300_000;

/** One GET (node:http/https: built in, and cheaper to load than undici for the one request mkimage makes here). */
function send(url: URL, headers: Record<string, string>, agents: Agents): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const https = url.protocol === 'https:';
    const req = (https ? httpsRequest : httpRequest)(url, { method: 'GET', headers, agent: https ? agents.https : agents.http, timeout: IDLE_TIMEOUT_MS }, resolve);
    req.on('error', reject);
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no data for ${IDLE_TIMEOUT_MS / 1000} s`), { code: 'ETIMEDOUT' })));
    req.end();
  });
}

/** A response not read: drop its body (and its connection: nothing is reused). */
function discard(res: IncomingMessage): void {
  res.on('error', () => undefined);
  res.destroy();
}

async function get(
  url: string,
  headers: Record<string, string>,
  agents: Agents,
  maxRedirects: number,
  httpsOnly?: { label: string; fix: string },
): Promise<IncomingMessage> {
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
    const res = await send(parsed, headers, agents);
    if (!REDIRECTS.has(res.statusCode ?? 0)) return res;
    discard(res);
    const location = header(res.headers, 'location');
    if (location === undefined) throw new FetchError('http', `GET ${current} returned ${res.statusCode} without a Location header; list a direct URL in the profile`);
    if (hops >= maxRedirects) throw new FetchError('http', `${url} redirected more than ${maxRedirects} times; list a direct URL in the profile`);
    current = new URL(location, current).toString();
  }
}

function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A strong ETag, else Last-Modified: what If-Range needs so a changed file restarts instead of splicing. */
function pickValidator(h: IncomingHttpHeaders): string | undefined {
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
