// A FAKE iKuai 3.x router web API (no real router can run in a test): node:http on 127.0.0.1, ephemeral port.
// It speaks the protocol in DOMAIN.md ("PXE and the iKuai gateway"):
//   POST /Action/login {"username","passwd": md5hex(password),"pass","remember_password"}
//     -> {"Result":10000,"ErrMsg":"Success"} and a sess_key cookie.
//   POST /Action/call {"func_name","action","param"} with that cookie
//     -> {"Result":30000,"ErrMsg":"Success",...}; without a valid session -> {"Result":10014,...}.
// Tables: dhcp_static, dns, dnat (add, show) and dhcp_server (show, edit of the whole record by id). `add` checks the
// body has exactly the fields the real API takes, so a test that replays generated calls proves their shape.
// Error results other than 10014 and the exact ErrMsg texts are the fake's own (not confirmed against firmware).

import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Row = Record<string, string | number | boolean>;

export interface FakeIkuai {
  /** "http://127.0.0.1:PORT" */
  origin: string;
  /** every /Action/call body received, in order (also the rejected ones) */
  calls: Array<{ func_name: unknown; action: unknown; param: unknown }>;
  /** the router's tables by func_name */
  tables: Map<string, Row[]>;
  close(): Promise<void>;
}

export const RESULT = { loginOk: 10000, loginFailed: 10001, noSession: 10014, ok: 30000, rejected: 30001 } as const;

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const PORTS = /^\d{1,5}(-\d{1,5})?$/;

type Check = (v: unknown) => boolean;
const str: Check = (v) => typeof v === 'string';
const nonEmpty: Check = (v) => typeof v === 'string' && v !== '';
const ipv4: Check = (v) => typeof v === 'string' && IPV4.test(v) && v.split('.').every((o) => Number(o) <= 255);
const ipv4OrEmpty: Check = (v) => v === '' || ipv4(v);
const oneOf = (...values: string[]): Check => (v) => typeof v === 'string' && values.includes(v);
const ports: Check = (v) => typeof v === 'string' && PORTS.test(v);

/** The fields `add` takes per func_name, and what each must look like. */
const ADD_FIELDS: Record<string, Record<string, Check>> = {
  dhcp_static: {
    newRow: (v) => v === true,
    hostname: nonEmpty,
    ip_addr: ipv4,
    mac: (v) => typeof v === 'string' && MAC.test(v),
    gateway: (v) => v === 'auto' || ipv4(v),
    interface: nonEmpty,
    dns1: ipv4OrEmpty,
    dns2: ipv4OrEmpty,
    comment: str,
    enabled: oneOf('yes', 'no'),
  },
  dns: {
    domain: nonEmpty,
    dns_addr: ipv4,
    parse_type: oneOf('ipv4'),
    src_addr: str,
    comment: str,
    enabled: oneOf('yes', 'no'),
  },
  dnat: {
    enabled: oneOf('yes', 'no'),
    comment: str,
    interface: nonEmpty,
    lan_addr: ipv4,
    lan_port: ports,
    wan_port: ports,
    protocol: oneOf('tcp', 'udp', 'tcp+udp'),
    src_addr: str,
  },
};

/** Fields that must be unique within a table. */
const UNIQUE: Record<string, string[]> = { dhcp_static: ['mac', 'ip_addr'], dns: ['domain'], dnat: ['wan_port'] };

/** show's TYPE -> Data keys: "<prefix>total,<prefix>data". */
const SHOW_PREFIX: Record<string, string> = { dhcp_static: 'static_', dns: '', dnat: '', dhcp_server: '' };

export const md5hex = (s: string) => createHash('md5').update(s, 'utf8').digest('hex');

function initialDhcpServer(lanInterface: string): Row {
  return {
    id: 1, enabled: 'yes', interface: lanInterface, addr_pool: '192.168.66.100-192.168.66.200', netmask: '255.255.255.0',
    gateway: '192.168.66.1', dns1: '192.168.66.1', dns2: '', lease: 120, next_server: '', opt66: '', opt67: '',
  };
}

async function body(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
}

function reply(res: ServerResponse, payload: object, headers: Record<string, string> = {}): void {
  res.writeHead(200, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(payload));
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export async function startFakeIkuai(opts: { username?: string; password?: string; lanInterface?: string } = {}): Promise<FakeIkuai> {
  const username = opts.username ?? 'admin';
  const password = opts.password ?? 'admin';
  const sessions = new Set<string>();
  const tables = new Map<string, Row[]>([
    ['dhcp_static', []],
    ['dns', []],
    ['dnat', []],
    ['dhcp_server', [initialDhcpServer(opts.lanInterface ?? 'lan1')]],
  ]);
  const nextId = new Map<string, number>();
  const calls: FakeIkuai['calls'] = [];

  const rejected = (res: ServerResponse, why: string) => reply(res, { Result: RESULT.rejected, ErrMsg: why });

  function add(res: ServerResponse, func: string, param: Record<string, unknown>): void {
    const fields = ADD_FIELDS[func];
    if (!fields) return rejected(res, `${func} does not take add`);
    const unknown = Object.keys(param).filter((k) => !(k in fields));
    if (unknown.length > 0) return rejected(res, `unknown field(s) ${unknown.join(', ')}`);
    for (const [k, ok] of Object.entries(fields)) {
      if (!(k in param)) return rejected(res, `missing field ${k}`);
      if (!ok(param[k])) return rejected(res, `bad value for ${k}: ${JSON.stringify(param[k])}`);
    }
    const table = tables.get(func)!;
    for (const k of UNIQUE[func] ?? []) {
      if (table.some((r) => r[k] === param[k])) return rejected(res, `${k} ${String(param[k])} already exists`);
    }
    const id = (nextId.get(func) ?? 0) + 1;
    nextId.set(func, id);
    const { newRow: _newRow, ...stored } = param as Row;
    table.push({ id, ...stored });
    reply(res, { Result: RESULT.ok, ErrMsg: 'Success', RowId: id });
  }

  function show(res: ServerResponse, func: string, param: Record<string, unknown>): void {
    const table = tables.get(func)!;
    const prefix = SHOW_PREFIX[func] ?? '';
    const types = typeof param.TYPE === 'string' ? param.TYPE.split(',') : [];
    const data: Record<string, unknown> = {};
    for (const t of types) {
      if (t === `${prefix}total`) data[t] = table.length;
      else if (t === `${prefix}data`) data[t] = table.map((r) => ({ ...r }));
      else return rejected(res, `unknown TYPE ${t} for ${func}`);
    }
    reply(res, { Result: RESULT.ok, ErrMsg: 'Success', Data: data });
  }

  /** edit replaces a whole record: it needs the id and every field the record has. */
  function edit(res: ServerResponse, func: string, param: Record<string, unknown>): void {
    if (func !== 'dhcp_server') return rejected(res, `the fake does not edit ${func}`);
    const table = tables.get(func)!;
    const at = table.findIndex((r) => r.id === param.id);
    if (at < 0) return rejected(res, 'edit needs the id of an existing record (show it first)');
    const current = table[at]!;
    const missing = Object.keys(current).filter((k) => !(k in param));
    if (missing.length > 0) return rejected(res, `edit needs the full record; missing ${missing.join(', ')}`);
    table[at] = { ...current, ...(param as Row) };
    reply(res, { Result: RESULT.ok, ErrMsg: 'Success' });
  }

  const server = createServer((req, res) => {
    void (async () => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'POST' || (path !== '/Action/login' && path !== '/Action/call')) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      const b = await body(req);
      if (path === '/Action/login') {
        if (isObject(b) && b.username === username && b.passwd === md5hex(password)) {
          const key = randomBytes(16).toString('hex');
          sessions.add(key);
          reply(res, { Result: RESULT.loginOk, ErrMsg: 'Success' }, { 'set-cookie': `sess_key=${key}; path=/` });
        } else {
          reply(res, { Result: RESULT.loginFailed, ErrMsg: 'wrong username or password' });
        }
        return;
      }
      const cookie = /(?:^|;\s*)sess_key=([0-9a-f]+)/.exec(req.headers.cookie ?? '')?.[1];
      if (cookie === undefined || !sessions.has(cookie)) {
        reply(res, { Result: RESULT.noSession, ErrMsg: 'no login authentication' });
        return;
      }
      if (!isObject(b)) return rejected(res, 'body is not a JSON object');
      calls.push({ func_name: b.func_name, action: b.action, param: b.param });
      const func = typeof b.func_name === 'string' ? b.func_name : '';
      const param = isObject(b.param) ? b.param : undefined;
      if (!tables.has(func)) return rejected(res, `unknown func_name ${String(b.func_name)}`);
      if (param === undefined) return rejected(res, 'param must be an object');
      if (b.action === 'add') return add(res, func, param);
      if (b.action === 'show') return show(res, func, param);
      if (b.action === 'edit') return edit(res, func, param);
      return rejected(res, `unsupported action ${String(b.action)}`);
    })().catch((e: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`fake-ikuai: ${String(e)}\n`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    calls,
    tables,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
