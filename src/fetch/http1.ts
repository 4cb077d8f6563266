// A minimal HTTP/1.1 GET client for artifact downloads, over node:net / node:tls with `onread`: the socket reads
// into one buffer per connection, reused for every read, and the body is handed to the caller in slices of it.
// node:http (and undici) allocate a buffer for every socket read and copy each body piece into another one: on a
// 100 MB download that is 200 MB of short-lived buffers, whose page faults and wait for V8's collector were most
// of the fetch's time and RSS in the profile. Every connection is closed after its response (`Connection: close`);
// redirects, retries and ranges are the caller's (download.ts).
//
// What it understands of a response (RFC 9112): a status line, header fields (no obsolete line folding), 1xx
// interim responses (skipped), and a body framed by chunked transfer coding, Content-Length, or the end of the
// connection; 204 and 304 have none.

import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';

export type Headers = Record<string, string>;

export interface Response {
  status: number;
  /** lowercase names; a repeated field's values joined with ", " */
  headers: Headers;
  /**
   * Deliver the body: `data` gets each piece, valid only during the call (the buffer is read into again); return
   * false to stop reading until `resume()`. Resolves once the whole body arrived; rejects if the connection ends
   * early or breaks (after the pieces that did arrive), or the framing is broken.
   */
  body(data: (chunk: Buffer) => boolean): Promise<void>;
  resume(): void;
  /** Drop the body and the connection (also after an error). */
  destroy(err?: Error): void;
}

export interface RequestOptions {
  /** certificates trusted instead of Node's default store (https) */
  ca?: string[];
  /** no byte for this long, connecting, waiting or mid-body: the request fails with ETIMEDOUT */
  idleTimeoutMs: number;
}

/** The one read buffer of a connection: no read is larger. */
export const READ_SIZE = 64 * 1024;
const MAX_HEAD = 64 * 1024;
const MAX_CHUNK_LINE = 4096;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** An error from the peer's bytes (not the network): what the message says is wrong with the response. */
export class ProtocolError extends Error {
  readonly code = 'EPROTO';
}

type Framing = { kind: 'none' } | { kind: 'length'; left: number } | { kind: 'chunked' } | { kind: 'close' };

/** One GET; resolves with the status and headers once they arrived (the body is read on demand). */
export function get(url: URL, headers: Headers, opts: RequestOptions): Promise<Response> {
  return new Promise((resolve, reject) => {
    const https = url.protocol === 'https:';
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const port = url.port !== '' ? Number(url.port) : https ? 443 : 80;
    const readBuf = Buffer.allocUnsafeSlow(READ_SIZE);
    const onread = { buffer: readBuf, callback: (n: number, buf: Buffer) => received(buf.subarray(0, n)) };
    const socket: Socket = https
      ? // onread is in tls.connect's documented options (Node >= 12.3), not in @types/node's
        tlsConnect({ host, port, ...(isIP(host) === 0 && { servername: host }), ...(opts.ca && { ca: opts.ca }), ALPNProtocols: ['http/1.1'], onread } as ConnectionOptions)
      : netConnect({ host, port, onread });
    socket.setTimeout(opts.idleTimeoutMs, () => fail(Object.assign(new Error(`no data for ${opts.idleTimeoutMs / 1000} s`), { code: 'ETIMEDOUT' })));

    // the head, then the body
    let head: Buffer[] = [];
    let headBytes = 0;
    let response: Response | undefined;
    let framing: Framing = { kind: 'close' };
    let sink: ((chunk: Buffer) => boolean) | undefined;
    let early: Buffer | undefined; // body bytes read before body() was called
    let ended = false; // the server's FIN arrived
    let done = false;
    let error: Error | undefined;
    let settle: { resolve: () => void; reject: (e: Error) => void } | undefined;

    // chunked decoding state
    let chunkLeft = 0;
    let state: 'size' | 'data' | 'data-crlf' | 'trailer' = 'size';
    let line = '';

    const fail = (e: Error) => {
      if (done || error) return;
      error = e;
      socket.destroy();
      if (response === undefined) reject(e);
      else settle?.reject(e);
    };
    const finish = () => {
      if (done || error) return;
      done = true;
      socket.destroy();
      settle?.resolve();
    };
    const premature = () => Object.assign(new Error('the server closed the connection before the end of the body'), { code: 'ECONNRESET' });
    /** The FIN, once the body's sink is there: the end of a body framed by the connection, else too early. */
    const endOfBody = () => (framing.kind === 'close' ? finish() : fail(premature()));

    socket.on('error', (e) => fail(e));
    socket.on('end', () => {
      ended = true;
      if (response === undefined) fail(new ProtocolError('the server closed the connection before it answered'));
      else if (sink !== undefined) endOfBody(); // else body() sees `ended`
    });
    socket.on('close', () => {
      if (ended && response !== undefined && sink === undefined) return; // body() settles it
      fail(Object.assign(new Error('the connection closed'), { code: 'ECONNRESET' }));
    });

    const path = `${url.pathname || '/'}${url.search}`;
    const lines = [`GET ${path} HTTP/1.1`, `Host: ${url.host}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), 'Connection: close'];
    if (url.username !== '' || url.password !== '') {
      const cred = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
      lines.push(`Authorization: Basic ${Buffer.from(cred).toString('base64')}`);
    }
    for (const l of lines) if (/[\r\n]/.test(l)) return fail(new ProtocolError(`a request header holds a line break: ${JSON.stringify(l)}`));
    socket.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');

    /** onread: false pauses the socket. */
    function received(chunk: Buffer): boolean {
      if (done || error) return false;
      if (response === undefined) return headPart(chunk);
      return bodyPart(chunk);
    }

    function headPart(chunk: Buffer): boolean {
      head.push(Buffer.from(chunk)); // the read buffer is reused: keep a copy of the (small) head
      headBytes += chunk.length;
      let all = head.length === 1 ? head[0]! : Buffer.concat(head);
      for (;;) {
        const end = all.indexOf('\r\n\r\n');
        if (end < 0) {
          head = [all];
          if (headBytes > MAX_HEAD) fail(new ProtocolError(`the response head is larger than ${MAX_HEAD / 1024} KiB`));
          return true;
        }
        let parsed: { status: number; headers: Headers };
        try {
          parsed = parseHead(all.subarray(0, end).toString('latin1'));
          framing = framingOf(parsed.status, parsed.headers);
        } catch (e) {
          fail(e as Error);
          return false;
        }
        const rest = all.subarray(end + 4);
        if (parsed.status >= 100 && parsed.status < 200) {
          if (parsed.status === 101) {
            fail(new ProtocolError('the server switched protocols (101) on a plain GET'));
            return false;
          }
          all = rest; // an interim response (100 Continue, 103 Early Hints): the real one follows
          headBytes = rest.length;
          continue;
        }
        head = [];
        if (rest.length > 0) early = rest;
        if (framing.kind === 'none' || (framing.kind === 'length' && framing.left === 0)) {
          early = undefined;
          done = true;
          socket.destroy();
        }
        response = { ...parsed, body, resume: () => socket.resume(), destroy: (err) => fail(err ?? new Error('the body was not read')) };
        resolve(response);
        return false; // until body()
      }
    }

    function body(data: (chunk: Buffer) => boolean): Promise<void> {
      sink = data;
      const settled = new Promise<void>((res, rej) => (settle = { resolve: res, reject: rej }));
      const first = early;
      early = undefined;
      const more = first === undefined || done || error !== undefined || bodyPart(first);
      if (error) settle!.reject(error);
      else if (done) settle!.resolve();
      else if (ended) endOfBody();
      else if (more) socket.resume();
      return settled;
    }

    /** Body bytes of one read (or the early ones): to the sink, through the chunked decoder when chunked. */
    function bodyPart(chunk: Buffer): boolean {
      if (sink === undefined) {
        early = early === undefined ? Buffer.from(chunk) : Buffer.concat([early, chunk]); // read after the pause
        return false;
      }
      switch (framing.kind) {
        case 'none':
          return false;
        case 'close':
          return sink(chunk);
        case 'length': {
          const take = Math.min(chunk.length, framing.left);
          framing.left -= take;
          const more = take > 0 ? sink(chunk.subarray(0, take)) : true;
          if (framing.left === 0) finish();
          return more;
        }
        case 'chunked':
          return chunked(chunk);
      }
    }

    function chunked(buf: Buffer): boolean {
      let more = true;
      let i = 0;
      while (i < buf.length && !done && !error) {
        if (state === 'data') {
          const take = Math.min(buf.length - i, chunkLeft);
          if (!sink!(buf.subarray(i, i + take))) more = false;
          i += take;
          chunkLeft -= take;
          if (chunkLeft === 0) state = 'data-crlf';
          continue;
        }
        const nl = buf.indexOf(0x0a, i);
        const end = nl < 0 ? buf.length : nl;
        line += buf.toString('latin1', i, end);
        i = nl < 0 ? buf.length : nl + 1;
        if (line.length > MAX_CHUNK_LINE) {
          fail(new ProtocolError('a chunk-size line of the response is too long'));
          return false;
        }
        if (nl < 0) break;
        const text = line.endsWith('\r') ? line.slice(0, -1) : line;
        line = '';
        if (state === 'data-crlf') {
          if (text !== '') {
            fail(new ProtocolError('a chunk of the response is longer than its size says'));
            return false;
          }
          state = 'size';
        } else if (state === 'size') {
          const m = /^([0-9A-Fa-f]{1,12})[ \t]*(;.*)?$/.exec(text);
          if (!m) {
            fail(new ProtocolError(`the response has a bad chunk size ${JSON.stringify(text.slice(0, 40))}`));
            return false;
          }
          chunkLeft = parseInt(m[1]!, 16);
          state = chunkLeft === 0 ? 'trailer' : 'data';
        } else if (text === '') {
          finish(); // the last chunk and its (ignored) trailer fields
        }
      }
      return more;
    }
  });
}

function parseHead(text: string): { status: number; headers: Headers } {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
  if (!m) throw new ProtocolError(`the server did not answer in HTTP/1.x (${JSON.stringify((lines[0] ?? '').slice(0, 40))})`);
  const headers: Headers = {};
  for (const l of lines.slice(1)) {
    const colon = l.indexOf(':');
    const name = colon > 0 ? l.slice(0, colon) : '';
    if (!TOKEN.test(name)) throw new ProtocolError(`the response has a malformed header line ${JSON.stringify(l.slice(0, 40))}`);
    const key = name.toLowerCase();
    const value = l.slice(colon + 1).trim();
    headers[key] = key in headers ? `${headers[key]}, ${value}` : value;
  }
  return { status: Number(m[1]), headers };
}

function framingOf(status: number, h: Headers): Framing {
  if (status === 204 || status === 304) return { kind: 'none' };
  const te = h['transfer-encoding'];
  if (te !== undefined) {
    const codings = te.toLowerCase().split(',').map((s) => s.trim());
    return codings[codings.length - 1] === 'chunked' ? { kind: 'chunked' } : { kind: 'close' };
  }
  const cl = h['content-length'];
  if (cl !== undefined) {
    const values = [...new Set(cl.split(',').map((s) => s.trim()))];
    if (values.length !== 1 || !/^\d{1,15}$/.test(values[0]!)) throw new ProtocolError(`the response has an invalid Content-Length (${JSON.stringify(cl.slice(0, 40))})`);
    return { kind: 'length', left: Number(values[0]) };
  }
  return { kind: 'close' };
}
