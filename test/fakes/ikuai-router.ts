// A FAKE iKuai router (no real one can run in a test): one HTTP or HTTPS server on 127.0.0.1 that answers both
// APIs from the same tables, as DOMAIN.md ("PXE and the iKuai gateway") documents them:
//   3.x  POST /Action/login {"username","passwd": md5hex(password),...} -> {"Result":10000,"ErrMsg":"Success"} + sess_key
//        POST /Action/call {"func_name","action","param"} -> {"Result":30000,"ErrMsg":"Success","Data":{...}};
//        no or expired session -> {"Result":10014}; show TYPE "<total>,<data>" + limit "offset,count";
//        add (exact fields, newRow:true for dhcp_static), edit (the WHOLE record with its id, a string or a number;
//        a comma-joined id list names several rows and is refused for edit).
//   4.x  /api/v4.0/<path> with "Authorization: Bearer <token>"; GET ?page&limit -> {"code":0,"results":{...}};
//        POST adds (409 on a duplicate), PUT <path>/<id> replaces the whole record; a refused token -> HTTP 401;
//        over plain http the REST API answers 403 (https only).
// Quirks on request: lines printed before the JSON (3.x), ids shown as strings, a session/token that expires.
// The exact ErrMsg texts, the rejection Result 30001 and the default page size of 20 are the fake's own.

import { createHash, randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

export type Value = string | number | boolean;
export type Row = Record<string, Value> & { id: number };
/** The tables, by 3.x func_name. */
export type Table = 'dhcp_static' | 'dhcp_server' | 'dns' | 'dnat';

export const V3 = { loginOk: 10000, loginFailed: 10001, noSession: 10014, ok: 30000, rejected: 30001 } as const;
export const V4_TOKEN_EXPIRED = 1003;

export const md5hex = (s: string) => createHash('md5').update(s, 'utf8').digest('hex');

export interface FakeRouterOptions {
  user?: string;
  password?: string;
  /** the 4.x API token */
  token?: string;
  lanInterface?: string;
  /** serve HTTPS with this certificate */
  tls?: { cert: string; key: string };
  /** 3.x quirk: text printed before every JSON answer */
  preamble?: string;
  /** 3.x quirk: show ids as strings */
  stringIds?: boolean;
}

export interface LoggedCall {
  api: '3.x' | '4.x';
  method: string;
  path: string;
  body: unknown;
  headers: IncomingMessage['headers'];
}

export interface FakeRouter {
  /** "http://127.0.0.1:PORT" or "https://..." */
  origin: string;
  tables: Record<Table, Row[]>;
  /** every request, in order */
  log: LoggedCall[];
  /** requests that ask for a change (3.x add/edit/del, 4.x POST/PUT/PATCH/DELETE), accepted or not */
  writes(): number;
  logins(): number;
  /** put a row in a table as if made in the web UI; returns its id */
  insert(table: Table, row: Record<string, Value>): number;
  /**
   * After `afterCalls` more authenticated calls, the next `times` calls find the session expired: 3.x sessions end
   * (Result 10014), the 4.x token answers code 1003.
   */
  expireSessions(afterCalls?: number, times?: number): void;
  close(): Promise<void>;
}

// ---- what each table takes -----------------------------------------------------------------------------------

type Check = (v: unknown) => boolean;
const str: Check = (v) => typeof v === 'string';
const filled: Check = (v) => typeof v === 'string' && v !== '';
const ipv4: Check = (v) => typeof v === 'string' && /^(\d{1,3}\.){3}\d{1,3}$/.test(v) && v.split('.').every((o) => Number(o) <= 255);
const ipv4OrEmpty: Check = (v) => v === '' || ipv4(v);
const choice = (...values: string[]): Check => (v) => typeof v === 'string' && values.includes(v);
const ports: Check = (v) => typeof v === 'string' && /^\d{1,5}(-\d{1,5})?$/.test(v);
const mac: Check = (v) => typeof v === 'string' && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(v);
const tagname: Check = (v) => typeof v === 'string' && /^[A-Za-z0-9\u4e00-\u9fa5][A-Za-z0-9\u4e00-\u9fa5_-]{0,14}$/.test(v);

/** The fields `add` takes (both APIs), what each must look like; extras per API below. */
const FIELDS: Record<Exclude<Table, 'dhcp_server'>, Record<string, Check>> = {
  dhcp_static: {
    hostname: filled, ip_addr: ipv4, mac, gateway: (v) => v === 'auto' || ipv4(v), interface: filled,
    dns1: ipv4OrEmpty, dns2: ipv4OrEmpty, comment: str, enabled: choice('yes', 'no'),
  },
  dns: { domain: filled, dns_addr: ipv4, parse_type: choice('ipv4', 'ipv6'), src_addr: str, comment: str, enabled: choice('yes', 'no') },
  dnat: {
    enabled: choice('yes', 'no'), comment: str, interface: filled, lan_addr: ipv4, lan_port: ports, wan_port: ports,
    protocol: choice('tcp', 'udp', 'tcp+udp'), src_addr: str,
  },
};
const V3_ADD_EXTRA: Partial<Record<Table, Record<string, Check>>> = { dhcp_static: { newRow: (v) => v === true } };
const V4_ADD_EXTRA: Partial<Record<Table, Record<string, Check>>> = { dhcp_static: { tagname }, dnat: { tagname } };

/** Fields whose value may be in one row only. */
const UNIQUE: Record<Table, string[][]> = {
  dhcp_static: [['mac'], ['ip_addr']],
  dns: [['domain', 'src_addr']],
  dnat: [['wan_port', 'protocol']],
  dhcp_server: [['interface']],
};

/** 3.x show: TYPE word -> Data key (the total or the rows). */
const SHOW_TYPES: Record<Table, Record<string, 'total' | 'data'>> = {
  dhcp_static: { static_total: 'total', static_data: 'data' },
  dns: { dns_proxy_total: 'total', dns_proxy: 'data' },
  dnat: { total: 'total', data: 'data' },
  dhcp_server: { total: 'total', data: 'data' },
};
const SHOW_KEYS: Record<Table, { total: string; data: string }> = {
  dhcp_static: { total: 'static_total', data: 'static_data' },
  dns: { total: 'total', data: 'data' },
  dnat: { total: 'total', data: 'data' },
  dhcp_server: { total: 'total', data: 'data' },
};

/** 4.x REST paths. */
const REST: Record<string, Table> = {
  '/network/dhcp/static': 'dhcp_static',
  '/network/dhcp/services': 'dhcp_server',
  '/network/dns/proxy/rules': 'dns',
  '/network/dnat/rules': 'dnat',
};

const DEFAULT_PAGE = 20;

function lanPool(id: number, lanInterface: string): Row {
  return {
    id, enabled: 'yes', tagname: lanInterface, interface: lanInterface, addr_pool: '192.168.66.100-192.168.66.200',
    exclude_pool: '', netmask: '255.255.255.0', gateway: '192.168.66.1', dns1: '192.168.66.1', dns2: '', lease: 120,
    next_server: '', opt_type66: 0, opt66: '', opt_type67: 0, opt67: '', domain: '',
  };
}

// ---- the server --------------------------------------------------------------------------------------------

type Verdict = { ok: true; row?: Row } | { ok: false; why: string; duplicate?: boolean };

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export async function startFakeIkuaiRouter(opts: FakeRouterOptions = {}): Promise<FakeRouter> {
  const user = opts.user ?? 'admin';
  const password = opts.password ?? 'admin';
  const token = opts.token ?? 'fake-ikuai-token';
  const tables: Record<Table, Row[]> = { dhcp_static: [], dns: [], dnat: [], dhcp_server: [] };
  const lastId: Record<Table, number> = { dhcp_static: 0, dns: 0, dnat: 0, dhcp_server: 0 };
  const sessions = new Set<string>();
  const log: LoggedCall[] = [];
  let writes = 0;
  let logins = 0;
  let expiry: { after: number; times: number } | undefined;

  const insert = (table: Table, row: Record<string, Value>): number => {
    const id = ++lastId[table];
    tables[table].push({ ...row, id });
    return id;
  };
  insert('dhcp_server', lanPool(1, opts.lanInterface ?? 'lan1'));
  // a second LAN's pool, so "the LAN interface's row" has to be picked
  insert('dhcp_server', { ...lanPool(2, 'lan2'), addr_pool: '10.0.2.100-10.0.2.200', gateway: '10.0.2.1', dns1: '10.0.2.1' });

  /** Counts a call towards a pending expiry; true when this call finds the session (or token) expired. */
  const expiresNow = (): boolean => {
    if (expiry === undefined) return false;
    if (expiry.after > 0) {
      expiry.after--;
      return false;
    }
    if (--expiry.times <= 0) expiry = undefined;
    sessions.clear();
    return true;
  };

  function checkFields(table: Table, param: Record<string, unknown>, extra: Record<string, Check>): string | undefined {
    if (table === 'dhcp_server') return 'a DHCP server is not added through this call';
    const fields = { ...FIELDS[table], ...extra };
    const unknown = Object.keys(param).filter((k) => !(k in fields));
    if (unknown.length > 0) return `unknown field(s) ${unknown.join(', ')}`;
    for (const [k, ok] of Object.entries(fields)) {
      if (!(k in param)) return `missing field ${k}`;
      if (!ok(param[k])) return `bad value for ${k}: ${JSON.stringify(param[k])}`;
    }
    return undefined;
  }

  function duplicateOf(table: Table, row: Record<string, unknown>, except?: number): string | undefined {
    for (const keys of UNIQUE[table]) {
      const other = tables[table].find((r) => r.id !== except && keys.every((k) => String(r[k]) === String(row[k])));
      if (other) return `${keys.map((k) => `${k} ${String(row[k])}`).join(', ')} already exists (id ${other.id})`;
    }
    return undefined;
  }

  function add(table: Table, param: Record<string, unknown>, extra: Record<string, Check>): Verdict {
    const bad = checkFields(table, param, extra);
    if (bad) return { ok: false, why: bad };
    const dup = duplicateOf(table, param);
    if (dup) return { ok: false, why: dup, duplicate: true };
    const { newRow: _n, ...stored } = param as Record<string, Value>;
    const id = insert(table, stored);
    return { ok: true, row: tables[table].find((r) => r.id === id) };
  }

  /** edit replaces a whole record: every field the record has must come, with the record's id. */
  function edit(table: Table, id: unknown, param: Record<string, unknown>): Verdict {
    const ids = typeof id === 'number' ? [id] : typeof id === 'string' ? id.split(',').map(Number) : [];
    if (ids.length !== 1 || !Number.isInteger(ids[0])) return { ok: false, why: `edit takes one id, got ${JSON.stringify(id)}` };
    const at = tables[table].findIndex((r) => r.id === ids[0]);
    if (at < 0) return { ok: false, why: `no record with id ${String(ids[0])} (show it first)` };
    const current = tables[table][at]!;
    const missing = Object.keys(current).filter((k) => k !== 'id' && !(k in param));
    if (missing.length > 0) return { ok: false, why: `edit needs the full record; missing ${missing.join(', ')}` };
    const unknown = Object.keys(param).filter((k) => k !== 'id' && !(k in current));
    if (unknown.length > 0) return { ok: false, why: `unknown field(s) ${unknown.join(', ')}` };
    const fields = table === 'dhcp_server' ? {} : FIELDS[table];
    for (const [k, ok] of Object.entries(fields)) if (!ok(param[k])) return { ok: false, why: `bad value for ${k}: ${JSON.stringify(param[k])}` };
    const dup = duplicateOf(table, param, current.id);
    if (dup) return { ok: false, why: dup, duplicate: true };
    const { id: _id, ...rest } = param as Record<string, Value>;
    tables[table][at] = { ...rest, id: current.id };
    return { ok: true };
  }

  const page = (table: Table, offset: number, count: number) => tables[table].slice(offset, offset + count).map((r) => ({ ...r }));

  // -- 3.x ---------------------------------------------------------------------------------------------------

  function reply3(res: ServerResponse, payload: object, headers: Record<string, string> = {}): void {
    res.writeHead(200, { 'content-type': 'application/json', ...headers }).end(`${opts.preamble ?? ''}${JSON.stringify(payload)}`);
  }

  function call3(b: Record<string, unknown>): object {
    const func = b.func_name as Table;
    const param = isObject(b.param) ? b.param : undefined;
    if (!(typeof func === 'string' && func in tables)) return { Result: V3.rejected, ErrMsg: `unknown func_name ${String(b.func_name)}` };
    if (param === undefined) return { Result: V3.rejected, ErrMsg: 'param must be an object' };
    if (b.action === 'show') {
      const words = typeof param.TYPE === 'string' ? param.TYPE.split(',') : [];
      const [offset = 0, count = DEFAULT_PAGE] = typeof param.limit === 'string' ? param.limit.split(',').map(Number) : [];
      const data: Record<string, unknown> = {};
      for (const w of words) {
        const what = SHOW_TYPES[func][w];
        if (what === undefined) return { Result: V3.rejected, ErrMsg: `unknown TYPE ${w} for ${func}` };
        data[SHOW_KEYS[func][what]] = what === 'total'
          ? tables[func].length
          : page(func, offset, count).map((r) => (opts.stringIds ? { ...r, id: String(r.id) } : r));
      }
      return { Result: V3.ok, ErrMsg: 'Success', Data: data };
    }
    if (b.action !== 'add' && b.action !== 'edit' && b.action !== 'del') return { Result: V3.rejected, ErrMsg: `unsupported action ${String(b.action)}` };
    writes++;
    if (b.action === 'del') return { Result: V3.rejected, ErrMsg: 'the fake does not delete' };
    const v = b.action === 'add' ? add(func, param, V3_ADD_EXTRA[func] ?? {}) : edit(func, param.id, param);
    return v.ok ? { Result: V3.ok, ErrMsg: 'Success', ...(v.row && { RowId: v.row.id }) } : { Result: V3.rejected, ErrMsg: v.why };
  }

  async function serve3(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const b = await readJson(req);
    log.push({ api: '3.x', method: req.method ?? '', path, body: b, headers: req.headers });
    if (path === '/Action/login') {
      logins++;
      if (isObject(b) && b.username === user && b.passwd === md5hex(password)) {
        const key = randomBytes(16).toString('hex');
        sessions.add(key);
        return reply3(res, { Result: V3.loginOk, ErrMsg: 'Success' }, { 'set-cookie': `sess_key=${key}; path=/; HttpOnly` });
      }
      return reply3(res, { Result: V3.loginFailed, ErrMsg: 'wrong username or password' });
    }
    const key = /(?:^|;\s*)sess_key=([0-9a-f]+)/.exec(req.headers.cookie ?? '')?.[1];
    if (key === undefined || !sessions.has(key) || expiresNow()) return reply3(res, { Result: V3.noSession, ErrMsg: 'no login authentication' });
    if (!isObject(b)) return reply3(res, { Result: V3.rejected, ErrMsg: 'body is not a JSON object' });
    reply3(res, call3(b));
  }

  // -- 4.x ---------------------------------------------------------------------------------------------------

  function reply4(res: ServerResponse, status: number, payload: object): void {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
  }

  async function serve4(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const b = await readJson(req);
    const method = req.method ?? '';
    log.push({ api: '4.x', method, path: url.pathname + url.search, body: b, headers: req.headers });
    if (opts.tls === undefined) return reply4(res, 403, { code: 403, message: 'forbidden: use https' });
    if (req.headers.authorization !== `Bearer ${token}`) return reply4(res, 401, { code: 401, message: 'unauthorized' });
    if (method !== 'GET') writes++;
    if (expiresNow()) {
      return reply4(res, 200, { code: V4_TOKEN_EXPIRED, message: 'login expired' });
    }
    const rest = url.pathname.slice('/api/v4.0'.length);
    const m = /^(.*?)(?:\/(\d+))?$/.exec(rest);
    const table = REST[m?.[1] ?? ''];
    const id = m?.[2];
    if (table === undefined) return reply4(res, 404, { code: 404, message: `no such path ${url.pathname}` });
    if (method === 'GET' && id === undefined) {
      const pageNo = Number(url.searchParams.get('page') ?? '1');
      const limit = Number(url.searchParams.get('limit') ?? String(DEFAULT_PAGE));
      const keys = SHOW_KEYS[table];
      return reply4(res, 200, { code: 0, message: 'success', results: { [keys.total]: tables[table].length, [keys.data]: page(table, (pageNo - 1) * limit, limit) } });
    }
    if (!isObject(b)) return reply4(res, 400, { code: 3001, message: 'body is not a JSON object' });
    const v = method === 'POST' && id === undefined
      ? add(table, b, V4_ADD_EXTRA[table] ?? {})
      : method === 'PUT' && id !== undefined
        ? edit(table, Number(id), b)
        : ({ ok: false, why: `the fake does not take ${method} here` } as Verdict);
    if (v.ok) return reply4(res, 200, { code: 0, message: 'success', ...(v.row && { rowid: v.row.id }) });
    return reply4(res, v.duplicate ? 409 : 400, { code: v.duplicate ? 409 : 3001, message: v.why });
  }

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const work = url.pathname.startsWith('/api/v4.0/')
      ? serve4(req, res, url)
      : req.method === 'POST' && (url.pathname === '/Action/login' || url.pathname === '/Action/call')
        ? serve3(req, res, url.pathname)
        : Promise.resolve(void res.writeHead(404, { 'content-type': 'text/html' }).end('<html>not found</html>'));
    work.catch((e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`fake-ikuai-router: ${String(e)}\n`));
  };
  const server: Server = opts.tls ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, handler) : createHttpServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    tables,
    log,
    writes: () => writes,
    logins: () => logins,
    insert,
    expireSessions: (afterCalls = 0, times = 1) => {
      expiry = { after: afterCalls, times };
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
