// The iKuai 4.x REST API: /api/v4.0 with `Authorization: Bearer <token>` (a personal API token made in the web UI).
// Facts (DOMAIN.md, "PXE and the iKuai gateway"; list envelope from one client tried on 4.0 firmware):
//   GET <path>?page=N&limit=M -> {"code":0,"message":..,"results":{"<total>":n,"<data>":[...]}} (some builds: "data");
//   POST <path> adds, PUT <path>/<id> replaces the whole record; success is code 0; 409 on a duplicate;
//   an expired or refused token: HTTP 401 or code 1003 (single source). Static leases need a tagname (1-15 chars).

import type { Dispatcher } from 'undici';
import type { RouterCall, RouterClient } from './api.js';
import { RouterError } from './errors.js';
import { exchange, jsonOf, type Exchange } from './http.js';
import { readAllPages } from './pages.js';
import type { Kind, RouterRow, Wanted } from './records.js';

export const API_BASE = '/api/v4.0';

const TABLE: Record<Kind, { path: string; total: string; data: string }> = {
  lease: { path: '/network/dhcp/static', total: 'static_total', data: 'static_data' },
  pxe: { path: '/network/dhcp/services', total: 'total', data: 'data' },
  dns: { path: '/network/dns/proxy/rules', total: 'total', data: 'data' },
  dnat: { path: '/network/dnat/rules', total: 'total', data: 'data' },
};

const TOKEN_EXPIRED = 1003;
const PAGE = 100;

export interface V4Options {
  origin: string;
  /** the API token (IKUAI_TOKEN); asked again once when the router says it expired */
  token: () => Promise<string>;
  agent: Dispatcher;
}

/** A 4.x tagname: 1-15 letters, digits, "_" or "-", not starting with "_" or "-". */
export function tagnameOf(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 15).replace(/^[-_]+/, '');
  return s === '' ? 'mkimage' : s;
}

type Envelope = { code?: unknown; message?: unknown; results?: unknown; data?: unknown };

const messageOf = (e: Envelope, status: number) =>
  `${typeof e.message === 'string' && e.message !== '' ? e.message : 'no message'}; HTTP ${status}, code ${String(e.code)}`;

export class IkuaiV4Client implements RouterClient {
  readonly api = '4.x' as const;
  private token: string | undefined;

  constructor(private readonly o: V4Options) {}

  async login(): Promise<void> {
    this.token = await this.o.token();
  }

  private async once(x: Omit<Exchange, 'url'> & { path: string }): Promise<{ status: number; e: Envelope }> {
    const a = await exchange(this.o.agent, { ...x, url: `${this.o.origin}${x.path}`, headers: { authorization: `Bearer ${this.token ?? ''}` } });
    return { status: a.status, e: jsonOf(a, x.what) as Envelope };
  }

  /** One request; an expired token (401, code 1003) is taken again once and the request repeated. */
  private async request(x: Omit<Exchange, 'url'> & { path: string }): Promise<Envelope> {
    const expired = (r: { status: number; e: Envelope }) => r.status === 401 || r.e.code === TOKEN_EXPIRED;
    let r = await this.once(x);
    if (expired(r)) {
      await this.login();
      r = await this.once(x);
      if (expired(r)) {
        throw new RouterError('E021',
          `${x.what}: the router refused the API token (${messageOf(r.e, r.status)}): make a new token in the iKuai web UI ` +
            '(personal API tokens under the login settings) and put it in IKUAI_TOKEN');
      }
    }
    if (r.status === 409) throw new RouterError('E020', `${x.what}: the router already has this entry (${messageOf(r.e, r.status)}): run the dry run (without --apply) to see what differs`);
    if (r.status === 403 && this.o.origin.startsWith('http:')) {
      throw new RouterError('E020', `${x.what}: the router refused the REST API over plain http (${messageOf(r.e, r.status)}): 4.x answers /api/v4.0 on https only, use --router https://...`);
    }
    if (r.status >= 400 || r.e.code !== 0) throw new RouterError('E020', `${x.what}: the router refused the call (${messageOf(r.e, r.status)})`);
    return r.e;
  }

  async list(kind: Kind): Promise<RouterRow[]> {
    const t = TABLE[kind];
    const what = `GET ${API_BASE}${t.path}`;
    return readAllPages(what, PAGE, async (index) => {
      const e = await this.request({ method: 'GET', path: `${API_BASE}${t.path}?page=${index + 1}&limit=${PAGE}`, what });
      const body = (e.results ?? e.data ?? {}) as Record<string, unknown>;
      return { rows: body[t.data], total: body[t.total] };
    });
  }

  addCall(w: Wanted): RouterCall {
    const path = `${API_BASE}${TABLE[w.kind].path}`;
    const named = w.kind === 'lease' ? { tagname: tagnameOf(w.fields.hostname ?? '') } : w.kind === 'dnat' ? { tagname: tagnameOf(w.fields.comment ?? '') } : {};
    return { method: 'POST', path, body: { ...named, ...w.fields }, what: `POST ${path} (${w.label})` };
  }

  editCall(w: Wanted, row: RouterRow): RouterCall {
    const path = `${API_BASE}${TABLE[w.kind].path}/${encodeURIComponent(row.id)}`;
    return { method: 'PUT', path, body: { ...row.record, ...w.fields }, what: `PUT ${path} (${w.label})` };
  }

  async send(c: RouterCall): Promise<void> {
    await this.request({ method: c.method, path: c.path, body: c.body, what: c.what });
  }
}
