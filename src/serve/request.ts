// What the routes need to know about a request, computed once: its path and query, the client's address,
// and the fields its log line carries (routes add the machine they identified and why they refused).

import type { IncomingMessage } from 'node:http';
import type { LogFields } from './log.js';

export interface RequestInfo {
  method: string;
  /** the path without the query */
  path: string;
  query: URLSearchParams;
  /** the client's IPv4 address (IPv4-mapped IPv6 unwrapped) */
  remote: string;
  /** extra fields for this request's log line */
  log: LogFields;
}

export function remoteAddress(req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

export function requestInfo(req: IncomingMessage): RequestInfo {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return {
    method: req.method ?? 'GET',
    path: q === -1 ? url : url.slice(0, q),
    query: new URLSearchParams(q === -1 ? '' : url.slice(q + 1)),
    remote: remoteAddress(req),
    log: {},
  };
}

/** A Host header fit to put into an iPXE script: a name or IPv4/IPv6 address, and a port. */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

export function scriptHost(req: IncomingMessage): string | undefined {
  const h = req.headers.host;
  return h !== undefined && HOST.test(h) ? h : undefined;
}
