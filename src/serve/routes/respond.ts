// Small, fixed answers: a body with its length, never chunked, never cached.

import type { ServerResponse } from 'node:http';

const TEXT = 'text/plain; charset=utf-8';

export function send(res: ServerResponse, status: number, body: string | Buffer, type = TEXT, extra: Record<string, string> = {}): void {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, { 'content-type': type, 'content-length': bytes.length, 'cache-control': 'no-store', ...extra });
  res.end(res.req.method === 'HEAD' ? undefined : bytes);
}

export function notFound(res: ServerResponse): void {
  send(res, 404, 'not found\n');
}

export function methodNotAllowed(res: ServerResponse, allow: string): void {
  send(res, 405, `use ${allow}\n`, TEXT, { allow });
}
