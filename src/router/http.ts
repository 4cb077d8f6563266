// One HTTP exchange with the router: method, URL, JSON body -> status, headers and the body text. Anything that
// keeps an answer from arriving (refused, timed out, untrusted certificate) is E020 naming the call.

import { request, type Dispatcher } from 'undici';
import { reasonOf } from '../fetch/errors.js';
import { RouterError, routerErrorIn } from './errors.js';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export interface Exchange {
  method: 'GET' | 'POST' | 'PUT';
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  /** the call, for messages: "dhcp_static show" (never the body: a login body holds the password) */
  what: string;
}

export async function exchange(agent: Dispatcher, x: Exchange): Promise<Answer> {
  try {
    const res = await request(x.url, {
      method: x.method,
      dispatcher: agent,
      headers: { accept: 'application/json', ...(x.body !== undefined && { 'content-type': 'application/json' }), ...x.headers },
      ...(x.body !== undefined && { body: JSON.stringify(x.body) }),
    });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  } catch (e) {
    const known = routerErrorIn(e);
    if (known) throw known;
    const origin = new URL(x.url).origin;
    throw new RouterError('E020',
      `${x.what}: cannot reach the router at ${origin} (${reasonOf(e)}): check --router (scheme, address and port), ` +
        'that the iKuai web UI answers there, and that this machine is on its LAN');
  }
}

/** The JSON object in an answer. Some iKuai firmware prints lines before the JSON: they are skipped. */
export function jsonOf(a: Answer, what: string): Record<string, unknown> {
  const start = a.text.search(/^\s*[{[]/m);
  try {
    if (start < 0) throw new Error('no JSON');
    const v: unknown = JSON.parse(a.text.slice(start));
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  const shown = a.text.trim().slice(0, 120).replace(/\s+/g, ' ');
  throw new RouterError('E020',
    `${what}: the router answered HTTP ${a.status} with no JSON object (${shown === '' ? 'an empty body' : `"${shown}"`}): ` +
      'check that --router is the iKuai web UI and --api the API it speaks');
}
