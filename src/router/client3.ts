// The iKuai 3.x web API (also answered by 4.x firmware): POST /Action/login, then POST /Action/call with the
// session cookie. Facts (DOMAIN.md, "PXE and the iKuai gateway"):
//   login {"username","passwd": md5hex(password),"pass": base64("salt_11"+password),"remember_password":""}
//     -> {"Result":10000,"ErrMsg":"Success"} and a sess_key cookie;
//   call {"func_name","action","param"} -> {"Result":30000,"ErrMsg":"Success","Data":{...}}; 10014: session expired;
//   show takes TYPE "<total key>,<data key>" and limit "offset,count"; edit takes the whole record with its id
//   (a string: ids are comma-joined strings where several are meant); some firmware prints lines before the JSON.

import { createHash } from 'node:crypto';
import type { Dispatcher } from 'undici';
import type { RouterCall, RouterClient } from './api.js';
import { RouterError } from './errors.js';
import { exchange, jsonOf } from './http.js';
import { readAllPages } from './pages.js';
import type { Kind, RouterRow, Wanted } from './records.js';

const RESULT = { loginOk: 10000, ok: 30000, sessionExpired: 10014 } as const;

/** func_name and the show TYPE per kind: the TYPE names two Data keys, the count and the rows. */
const TABLE: Record<Kind, { func: string; total: string; data: string; type: string }> = {
  lease: { func: 'dhcp_static', type: 'static_total,static_data', total: 'static_total', data: 'static_data' },
  pxe: { func: 'dhcp_server', type: 'total,data', total: 'total', data: 'data' },
  // dns answers the TYPE dns_proxy_total,dns_proxy with Data {total, data}
  dns: { func: 'dns', type: 'dns_proxy_total,dns_proxy', total: 'total', data: 'data' },
  dnat: { func: 'dnat', type: 'total,data', total: 'total', data: 'data' },
};

const PAGE = 100;

export interface V3Options {
  /** "https://192.168.66.1" */
  origin: string;
  user: string;
  /** asked once, at the first login */
  password: () => Promise<string>;
  agent: Dispatcher;
}

const md5hex = (s: string) => createHash('md5').update(s, 'utf8').digest('hex');

type Envelope = { Result?: unknown; ErrMsg?: unknown; Data?: unknown };

const errMsg = (e: Envelope) => (typeof e.ErrMsg === 'string' && e.ErrMsg !== '' ? e.ErrMsg : `Result ${String(e.Result)}`);

export class IkuaiV3Client implements RouterClient {
  readonly api = '3.x' as const;
  private cookie: string | undefined;
  private password: string | undefined;

  constructor(private readonly o: V3Options) {}

  async login(): Promise<void> {
    this.password ??= await this.o.password();
    const what = `login as ${this.o.user} (POST /Action/login)`;
    const a = await exchange(this.o.agent, {
      method: 'POST',
      url: `${this.o.origin}/Action/login`,
      what,
      body: {
        username: this.o.user,
        passwd: md5hex(this.password),
        pass: Buffer.from(`salt_11${this.password}`, 'utf8').toString('base64'),
        remember_password: '',
      },
    });
    const e = jsonOf(a, what) as Envelope;
    if (e.Result !== RESULT.loginOk) {
      throw new RouterError('E021',
        `the router refused the login as "${this.o.user}" (${errMsg(e)}): check the user (--user) and the password in IKUAI_PASSWORD`);
    }
    const cookies = ([] as string[]).concat(a.headers['set-cookie'] ?? []);
    const key = cookies.map((c) => /(?:^|;\s*)sess_key=([^;]+)/.exec(c)?.[1]).find((k) => k !== undefined);
    if (key === undefined) throw new RouterError('E021', `${what}: the router said Success but set no sess_key cookie: check that --router is the iKuai web UI`);
    this.cookie = `username=${encodeURIComponent(this.o.user)}; login=1; sess_key=${key}`;
  }

  private async callOnce(body: Record<string, unknown>, what: string): Promise<Envelope> {
    const a = await exchange(this.o.agent, {
      method: 'POST',
      url: `${this.o.origin}/Action/call`,
      headers: this.cookie === undefined ? {} : { cookie: this.cookie },
      body,
      what,
    });
    return jsonOf(a, what) as Envelope;
  }

  /** One /Action/call; an expired session (10014) logs in again once and repeats it. */
  private async call(body: Record<string, unknown>, what: string): Promise<Envelope> {
    let e = await this.callOnce(body, what);
    if (e.Result === RESULT.sessionExpired) {
      await this.login();
      e = await this.callOnce(body, what);
      if (e.Result === RESULT.sessionExpired) {
        throw new RouterError('E021', `${what}: the router ended the session again right after a new login (${errMsg(e)}): check that no one else logs in as "${this.o.user}" meanwhile, then run again`);
      }
    }
    if (e.Result !== RESULT.ok) throw new RouterError('E020', `${what}: the router refused the call (${errMsg(e)})`);
    return e;
  }

  async list(kind: Kind): Promise<RouterRow[]> {
    const t = TABLE[kind];
    const what = `${t.func} show`;
    return readAllPages(what, PAGE, async (index) => {
      const e = await this.call({ func_name: t.func, action: 'show', param: { TYPE: t.type, limit: `${index * PAGE},${PAGE}` } }, what);
      const data = (e.Data ?? {}) as Record<string, unknown>;
      return { rows: data[t.data], total: data[t.total] };
    });
  }

  addCall(w: Wanted): RouterCall {
    const func = TABLE[w.kind].func;
    return { method: 'POST', path: '/Action/call', body: { func_name: func, action: 'add', param: w.param }, what: `${func} add (${w.label})` };
  }

  editCall(w: Wanted, row: RouterRow): RouterCall {
    const func = TABLE[w.kind].func;
    const { id: _id, ...rest } = row.record;
    return {
      method: 'POST',
      path: '/Action/call',
      body: { func_name: func, action: 'edit', param: { id: row.id, ...rest, ...w.fields } },
      what: `${func} edit id ${row.id} (${w.label})`,
    };
  }

  async send(c: RouterCall): Promise<void> {
    await this.call(c.body, c.what);
  }
}
