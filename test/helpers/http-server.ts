// A tiny configurable HTTP server on 127.0.0.1 (ephemeral port) for fetch tests and benchmarks. Each route is a
// handler, or a list of handlers used one per request (the last one repeats). Every request is logged.
// With tls, it serves https with a self-signed certificate for 127.0.0.1 made by openssl (its PEM is `ca`).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface LoggedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
}

export interface TestServer {
  /** "http://127.0.0.1:PORT" (https with tls) */
  origin: string;
  /** with tls: the server's self-signed certificate, to trust */
  ca?: string;
  url(path: string): string;
  requests: LoggedRequest[];
  /** requests for one path */
  hits(path: string): LoggedRequest[];
  route(path: string, handler: Handler | Handler[]): void;
  close(): Promise<void>;
}

/** A key and self-signed certificate for 127.0.0.1 (openssl, one day). */
function selfSigned(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mkimage-tls-'));
  try {
    const r = spawnSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl req failed (apt-get install openssl): ${r.error?.message ?? r.stderr}`);
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function startServer(routes: Record<string, Handler | Handler[]> = {}, opts: { tls?: boolean } = {}): Promise<TestServer> {
  const table = new Map<string, Handler[]>();
  const counts = new Map<string, number>();
  const requests: LoggedRequest[] = [];
  const route = (path: string, h: Handler | Handler[]) => {
    table.set(path, Array.isArray(h) ? h : [h]);
    counts.set(path, 0);
  };
  for (const [p, h] of Object.entries(routes)) route(p, h);
  const identity = opts.tls ? selfSigned() : undefined;
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    requests.push({ method: req.method ?? 'GET', path, headers: req.headers });
    const list = table.get(path);
    if (!list || list.length === 0) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const n = counts.get(path) ?? 0;
    counts.set(path, n + 1);
    list[Math.min(n, list.length - 1)]!(req, res);
  };
  const server = identity ? createTlsServer(identity, handle) : createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const origin = `${identity ? 'https' : 'http'}://127.0.0.1:${port}`;
  return {
    origin,
    ...(identity && { ca: identity.cert }),
    url: (p) => `${origin}${p}`,
    requests,
    hits: (p) => requests.filter((r) => r.path === p),
    route,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Serve `body` with Content-Length; honour `Range: bytes=N-` with 206 unless ranges:false. */
export function serveBytes(body: Buffer, opts: { ranges?: boolean; etag?: string; chunk?: number } = {}): Handler {
  return (req, res) => {
    const ranges = opts.ranges ?? true;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (ranges) headers['accept-ranges'] = 'bytes';
    if (opts.etag !== undefined) headers['etag'] = opts.etag;
    if (ranges && m) {
      const start = Number(m[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
      headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
      headers['content-length'] = String(body.length - start);
      res.writeHead(206, headers);
      writeChunked(res, body.subarray(start), opts.chunk);
      return;
    }
    headers['content-length'] = String(body.length);
    res.writeHead(200, headers);
    writeChunked(res, body, opts.chunk);
  };
}

function writeChunked(res: ServerResponse, body: Buffer, chunk = 1 << 16): void {
  let off = 0;
  const pump = () => {
    while (off < body.length) {
      const part = body.subarray(off, off + chunk);
      off += part.length;
      if (!res.write(part)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

/** Announce the full length (or the ranged rest), send only `sendBytes` of it, then close the connection. */
export function truncated(body: Buffer, sendBytes: number, opts: { ranges?: boolean } = {}): Handler {
  return (req, res) => {
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = (opts.ranges ?? true) && m ? Number(m[1]) : 0;
    const headers: Record<string, string> = { 'content-length': String(body.length - start) };
    if (opts.ranges ?? true) headers['accept-ranges'] = 'bytes';
    if (start > 0) headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
    res.writeHead(start > 0 ? 206 : 200, headers);
    // end (FIN), not destroy (RST): the client must receive exactly sendBytes before the early close
    res.write(body.subarray(start, start + sendBytes), () => res.socket?.end());
  };
}

export const status = (code: number, text = ''): Handler => (_req, res) => {
  res.writeHead(code, { 'content-type': 'text/plain' }).end(text);
};

export const redirect = (location: string, code = 302): Handler => (_req, res) => {
  res.writeHead(code, { location }).end();
};

/** Accept the connection and destroy it without answering (a connection reset). */
export const reset: Handler = (req) => {
  req.socket.destroy();
};
