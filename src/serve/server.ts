// The LAN-boot HTTP server: Node's own http server with keep-alive, one handler per route, one log line per
// request (after its answer: status, bytes, whether it was cut short). A bug in a handler is a 500 and an
// "error" log line, never a 404.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { error, type Diagnostic } from '../diagnostics.js';
import type { ServeApp } from './app.js';
import { requestInfo, type RequestInfo } from './request.js';
import { bootScript } from './routes/boot-script.js';
import { servedFile } from './routes/file.js';
import { health } from './routes/health.js';
import { installReport } from './routes/report.js';
import { notFound, send } from './routes/respond.js';
import { gatedFile, IGNITION, SEEDS } from './routes/seed.js';

function route(app: ServeApp, req: IncomingMessage, res: ServerResponse, info: RequestInfo): void | Promise<void> {
  switch (info.path) {
    case '/boot.ipxe':
      return bootScript(app, req, res, info);
    case '/healthz':
      return health(app, res);
    case '/done':
      return installReport(app, req, res, info, 'installed');
    case '/failed':
      return installReport(app, req, res, info, 'failed');
  }
  if (info.path.startsWith(SEEDS.prefix)) return gatedFile(app, res, info, SEEDS);
  if (info.path.startsWith(IGNITION.prefix)) return gatedFile(app, res, info, IGNITION);
  const f = app.layout.files.get(info.path);
  if (f !== undefined) return servedFile(app, req, res, info, f);
  info.log.path = info.path.slice(0, 200);
  app.log.log('not-found', { path: info.log.path, remote: info.remote });
  notFound(res);
}

function failed(app: ServeApp, res: ServerResponse, info: RequestInfo, e: unknown): void {
  app.log.log('error', { path: String(info.log.path ?? info.path).slice(0, 200), remote: info.remote, mac: info.log.mac, node: info.log.node, message: (e as Error)?.stack ?? String(e) });
  if (!res.headersSent) send(res, 500, 'internal error (a bug in mkimage pxe serve; see its log)\n');
  else res.destroy();
}

function logRequest(app: ServeApp, res: ServerResponse, info: RequestInfo, aborted: boolean): void {
  app.log.log('request', {
    method: info.method,
    path: String(info.log.path ?? info.path).slice(0, 200),
    status: res.statusCode,
    remote: info.remote,
    mac: info.log.mac,
    node: info.log.node,
    state: info.log.state,
    bytes: info.log.bytes,
    ...(aborted ? { aborted } : {}),
  });
}

/** The log line goes out once the answer is complete: at once for one answered on the spot, else when it closes. */
function handle(app: ServeApp, req: IncomingMessage, res: ServerResponse): void {
  const info = requestInfo(req);
  let p: void | Promise<void> = undefined;
  try {
    p = route(app, req, res, info);
  } catch (e) {
    failed(app, res, info, e);
  }
  if (p === undefined && res.writableEnded) return logRequest(app, res, info, false);
  res.once('close', () => logRequest(app, res, info, !res.writableFinished));
  if (p) p.catch((e: unknown) => failed(app, res, info, e));
}

export interface ListeningServer {
  server: Server;
  /** http://host:port, the port the kernel picked when asked for 0 */
  url: string;
  /** stop accepting, let running answers finish (at most `graceMs`), then close every connection */
  close(graceMs?: number): Promise<void>;
}

/** E006 for a --listen address that cannot be bound (in use, not on this host, a privileged port). */
export function listenDiagnostic(host: string, port: number, e: unknown): Diagnostic {
  const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  return error('E006', `--listen ${host}:${port} cannot be used (${code}): stop what listens there, or pick another address or port`);
}

export async function listen(app: ServeApp, host: string, port: number): Promise<ListeningServer> {
  const server = createServer({ keepAlive: true, noDelay: true }, (req, res) => handle(app, req, res));
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  const shownHost = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return {
    server,
    url: `http://${shownHost}:${a.port}`,
    close: (graceMs = 5000) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
