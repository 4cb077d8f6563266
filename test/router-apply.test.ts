// `mkimage ikuai-gateway --router URL [--apply]` end to end through main(), against the FAKE iKuai router
// (test/fakes/ikuai-router.ts) over real HTTP(S) on 127.0.0.1, once per API: 3.x (/Action, plain http) and 4.x
// (REST with a token; https only, trusted with --fingerprint). What the router must hold is read from the
// workspace's YAML (test/router-bed.ts), not from mkimage's emitter.

import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeIkuaiRouter, type FakeRouter, type FakeRouterOptions, type Row } from './fakes/ikuai-router.js';
import { expectedDns, expectedLeases, PASSWORD, pick, selfSignedCert, TOKEN, withPxeAndPorts, workspace, type Workspace } from './router-bed.js';

const LEASE_FIELDS = ['hostname', 'mac', 'ip_addr', 'gateway', 'interface', 'dns1', 'dns2', 'comment', 'enabled'];
const DNS_FIELDS = ['domain', 'dns_addr', 'parse_type', 'src_addr', 'comment', 'enabled'];

interface Api {
  name: '3.x' | '4.x';
  env: Record<string, string>;
  start(o?: FakeRouterOptions): Promise<FakeRouter>;
  /** flags that reach this fake (trust for https) */
  flags(): string[];
  /** the write requests in the fake's log */
  writes(f: FakeRouter): Array<{ path: string; body: Record<string, unknown> }>;
}

let cert: Awaited<ReturnType<typeof selfSignedCert>>;
beforeAll(async () => {
  cert = await selfSignedCert();
});

const APIS: Api[] = [
  {
    name: '3.x',
    env: { IKUAI_PASSWORD: PASSWORD },
    start: (o = {}) => startFakeIkuaiRouter({ password: PASSWORD, ...o }),
    flags: () => [],
    writes: (f) =>
      f.log
        .filter((c) => c.path === '/Action/call' && ['add', 'edit', 'del'].includes(String((c.body as { action?: unknown }).action)))
        .map((c) => ({ path: c.path, body: c.body as Record<string, unknown> })),
  },
  {
    name: '4.x',
    env: { IKUAI_TOKEN: TOKEN },
    start: (o = {}) => startFakeIkuaiRouter({ token: TOKEN, tls: { cert: cert.cert, key: cert.key }, ...o }),
    flags: () => ['--fingerprint', `sha256:${cert.fingerprint}`],
    writes: (f) => f.log.filter((c) => c.method !== 'GET').map((c) => ({ path: c.path, body: c.body as Record<string, unknown> })),
  },
];

describe.each(APIS)('iKuai $name API', (api) => {
  let fake: FakeRouter;
  let ws: Workspace;
  afterEach(() => fake?.close());

  const apply = (more: string[] = [], env = api.env) => ws.run(['--router', fake.origin, ...api.flags(), '--apply', ...more], env);
  const dryRun = (env = api.env) => ws.run(['--router', fake.origin, ...api.flags()], env);

  it('the first apply adds every lease and DNS record of the plan; the second changes nothing and says so', async () => {
    ws = workspace();
    fake = await api.start();
    const first = await apply();
    expect(first.err).not.toContain('error[');
    expect(first.code, first.err).toBe(0);
    expect(pick(fake.tables.dhcp_static, LEASE_FIELDS)).toEqual(expectedLeases(ws));
    expect(pick(fake.tables.dns, DNS_FIELDS)).toEqual(expectedDns(ws));
    expect(first.out).toMatch(/applied: static leases: 3 added, 0 edited, 0 unchanged; DNS records: 1 added/);

    const writesBefore = fake.writes();
    const tablesBefore = structuredClone(fake.tables);
    const second = await apply();
    expect(second.code, second.err).toBe(0);
    expect(fake.writes()).toBe(writesBefore);
    expect(fake.tables).toEqual(tablesBefore);
    expect(second.out).toContain('nothing to change: the router already matches the plan');
    expect(second.out).toMatch(/unchanged +cp1 52:54:00:66:00:11 -> 192\.168\.66\.11 \(id \d+\)/);
  });

  it('with PXE on and port mappings: DNAT rules added, the LAN pool edited as a whole record, the other pool untouched', async () => {
    ws = workspace();
    withPxeAndPorts(ws);
    fake = await api.start();
    const lan2Before = structuredClone(fake.tables.dhcp_server.find((r) => r.interface === 'lan2'));
    const lan1Before = structuredClone(fake.tables.dhcp_server.find((r) => r.interface === 'lan1')) as Row;
    const r = await apply();
    expect(r.code, r.err).toBe(0);
    expect(pick(fake.tables.dnat, ['comment', 'protocol', 'wan_port', 'lan_addr', 'lan_port', 'interface', 'enabled'])).toEqual([
      { comment: 'kube-apiserver', protocol: 'tcp', wan_port: '16443', lan_addr: '192.168.66.11', lan_port: '6443', interface: 'all', enabled: 'yes' },
      { comment: 'nodeports', protocol: 'tcp+udp', wan_port: '30000-30100', lan_addr: '192.168.66.21', lan_port: '30000-30100', interface: 'all', enabled: 'yes' },
    ]);
    const lan1 = fake.tables.dhcp_server.find((x) => x.interface === 'lan1');
    expect(lan1).toEqual({ ...lan1Before, next_server: '192.168.66.5', opt66: '192.168.66.5', opt67: 'undionly.kpxe' });
    expect(fake.tables.dhcp_server.find((x) => x.interface === 'lan2')).toEqual(lan2Before);
    const poolEdit = api.writes(fake).find((w) => JSON.stringify(w.body).includes('next_server'));
    const sent = (api.name === '3.x' ? (poolEdit?.body.param as Record<string, unknown>) : poolEdit?.body) ?? {};
    expect(Object.keys(sent).sort()).toEqual(Object.keys(lan1Before).sort());
    expect(String(sent.id ?? poolEdit?.path.split('/').pop())).toBe(String(lan1Before.id));
    expect(r.out).toMatch(/DHCP server \(PXE\): 0 added, 1 edited, 0 unchanged; DNS records: 1 added, 0 edited, 0 unchanged; port mappings: 2 added/);

    const again = await apply();
    expect(again.code, again.err).toBe(0);
    expect(again.out).toContain('nothing to change');
  });

  it('a changed node address becomes an edit of that lease: the whole record, the same id, no duplicate', async () => {
    ws = workspace();
    fake = await api.start();
    expect((await apply()).code).toBe(0);
    const before = fake.tables.dhcp_static.find((r) => r.hostname === 'worker1') as Row;
    ws.edit('cluster.yaml', (t) => t.replace('ip: 192.168.66.21/24', 'ip: 192.168.66.31/24'));
    const writesBefore = api.writes(fake).length;

    const dry = await dryRun();
    expect(dry.code, dry.err).toBe(0);
    expect(dry.out).toMatch(/edit +worker1 52:54:00:66:00:21 -> 192\.168\.66\.31 \(id \d+\): ip_addr: "192\.168\.66\.21" -> "192\.168\.66\.31"/);
    expect(api.writes(fake)).toHaveLength(writesBefore);

    const r = await apply();
    expect(r.code, r.err).toBe(0);
    const edits = api.writes(fake).slice(writesBefore);
    expect(edits).toHaveLength(1);
    const body = (api.name === '3.x' ? edits[0]!.body.param : edits[0]!.body) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(Object.keys(before).sort());
    expect(body).toMatchObject({ ip_addr: '192.168.66.31', mac: '52:54:00:66:00:21', hostname: 'worker1' });
    expect(fake.tables.dhcp_static).toHaveLength(3);
    const after = fake.tables.dhcp_static.find((x) => x.hostname === 'worker1');
    expect(after).toEqual({ ...before, ip_addr: '192.168.66.31' });
    expect(r.out).toMatch(/static leases: 0 added, 1 edited, 2 unchanged/);
  });

  it.each([
    ['the same MAC', { mac: '52:54:00:66:00:21', ip_addr: '192.168.66.240' }, 'E012', 'already has a static lease for 52:54:00:66:00:21'],
    ['the same address', { mac: '52:54:00:aa:bb:cc', ip_addr: '192.168.66.21' }, 'E013', 'already holds 192.168.66.21, planned for worker1'],
  ])('a foreign lease with %s is refused with the fix; nothing is written', async (_what, clash, code, says) => {
    ws = workspace();
    fake = await api.start();
    fake.insert('dhcp_static', {
      hostname: 'printer', gateway: '192.168.66.1', interface: 'lan1', dns1: '', dns2: '', comment: 'office printer', enabled: 'yes', ...clash,
    });
    const foreign = structuredClone(fake.tables.dhcp_static);
    for (const r of [await dryRun(), await apply()]) {
      expect(r.code).toBe(2);
      expect(r.err).toContain(`error[${code}]`);
      expect(r.err).toContain(says);
      expect(r.err).toContain('delete');
      expect(r.out).toContain('nothing was changed');
    }
    expect(fake.writes()).toBe(0);
    expect(fake.tables.dhcp_static).toEqual(foreign);
    expect(fake.tables.dns).toEqual([]);
  });

  it('a table longer than a page is read to its end: a clash among the last rows is still found', async () => {
    ws = workspace();
    fake = await api.start();
    for (let i = 0; i < 150; i++) {
      const hex = (i + 0x100).toString(16).slice(-2);
      fake.insert('dhcp_static', {
        hostname: `pc${i}`, mac: `02:00:00:00:01:${hex}`, ip_addr: `10.9.${Math.floor(i / 200)}.${(i % 200) + 1}`, gateway: '10.9.0.254',
        interface: 'lan2', dns1: '', dns2: '', comment: 'office', enabled: 'yes',
      });
    }
    fake.insert('dhcp_static', {
      hostname: 'camera', mac: '02:00:00:00:02:01', ip_addr: '192.168.66.22', gateway: '192.168.66.1', interface: 'lan1', dns1: '', dns2: '', comment: 'camera', enabled: 'yes',
    });
    const r = await apply();
    expect(r.code).toBe(2);
    expect(r.err).toContain('error[E013]: the router\'s static lease for 02:00:00:00:02:01 (comment "camera") already holds 192.168.66.22');
    expect(r.out).toContain('static leases: the router has 151 (0 with the comment');
    expect(fake.writes()).toBe(0);
  });

  it('an entry with the owner comment made earlier, no longer in the plan, is left alone and named', async () => {
    ws = workspace();
    fake = await api.start();
    fake.insert('dhcp_static', {
      hostname: 'old3', mac: '52:54:00:66:00:99', ip_addr: '192.168.66.99', gateway: '192.168.66.1', interface: 'lan1',
      dns1: '', dns2: '', comment: 'mkimage homelab/ikuai-gateway', enabled: 'yes',
    });
    const r = await apply();
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('left alone old3 52:54:00:66:00:99 -> 192.168.66.99: mkimage\'s, no longer in the plan');
    expect(fake.tables.dhcp_static.find((x) => x.hostname === 'old3')).toBeDefined();
    expect(fake.tables.dhcp_static).toHaveLength(4);
  });

  it('a session that expires mid-apply: mkimage logs in again once and repeats the call', async () => {
    ws = workspace();
    withPxeAndPorts(ws);
    fake = await api.start();
    fake.expireSessions(6);
    const r = await apply();
    expect(r.code, r.err).toBe(0);
    expect(pick(fake.tables.dhcp_static, LEASE_FIELDS)).toEqual(expectedLeases(ws));
    expect(fake.tables.dnat).toHaveLength(2);
    if (api.name === '3.x') {
      expect(fake.logins()).toBe(2);
      const expired = fake.log.findIndex((c, i) => i > 0 && c.path === '/Action/login');
      // the call refused for the expired session is the one repeated right after the new login
      expect(fake.log[expired + 1]?.body).toEqual(fake.log[expired - 1]?.body);
    } else {
      // the request answered "expired" (code 1003) is the one sent again, once
      const same = (a: (typeof fake.log)[number], b: (typeof fake.log)[number]) => JSON.stringify([a.method, a.path, a.body]) === JSON.stringify([b.method, b.path, b.body]);
      expect(fake.log.filter((c, i) => i > 0 && same(c, fake.log[i - 1]!))).toHaveLength(1);
    }
  });

  it('a refused login is E021, exit 3, and nothing is read or written', async () => {
    ws = workspace();
    fake = await api.start();
    const wrong: Record<string, string> = api.name === '3.x' ? { IKUAI_PASSWORD: 'not-the-password' } : { IKUAI_TOKEN: 'not-the-token' };
    const r = await apply([], wrong);
    expect(r.code).toBe(3);
    expect(r.err).toContain('error[E021]');
    expect(r.err).toContain(api.name === '3.x' ? 'refused the login as "admin" (wrong username or password)' : 'refused the API token');
    expect(r.err).not.toMatch(/\n\s+at /);
    expect(fake.writes()).toBe(0);
  });

  it('a dry run reads, prints the exact calls, and writes nothing; the password never shows', async () => {
    ws = workspace();
    withPxeAndPorts(ws);
    fake = await api.start();
    const r = await dryRun();
    expect(r.code, r.err).toBe(0);
    expect(fake.writes()).toBe(0);
    expect(fake.tables.dhcp_static).toEqual([]);
    const calls = r.out.split('\n').filter((l) => /^ {2}(POST|PUT) /.test(l));
    expect(calls).toHaveLength(3 + 1 + 1 + 2);
    const [method, path, ...json] = calls[0]!.trim().split(' ');
    expect(method).toBe('POST');
    const body = JSON.parse(json.join(' ')) as Record<string, unknown>;
    if (api.name === '3.x') {
      expect(path).toBe('/Action/call');
      expect(body).toMatchObject({ func_name: 'dhcp_static', action: 'add', param: { newRow: true, ...expectedLeases(ws)[0] } });
      expect(calls[3]).toMatch(/^ {2}POST \/Action\/call \{"func_name":"dhcp_server","action":"edit","param":\{"id":"1",/);
    } else {
      expect(path).toBe('/api/v4.0/network/dhcp/static');
      expect(body).toEqual({ tagname: 'cp1', ...expectedLeases(ws)[0] });
      expect(calls[3]).toMatch(/^ {2}PUT \/api\/v4\.0\/network\/dhcp\/services\/1 \{/);
    }
    expect(r.out).toContain('dry run, nothing was changed: add --apply to make them');
    expect(r.out).toMatch(/dry run: static leases: 3 to add/);
    expect(r.out + r.err).not.toContain(PASSWORD);
    expect(r.out + r.err).not.toContain(TOKEN);
  });
});

describe('3.x quirks', () => {
  let fake: FakeRouter;
  afterEach(() => fake?.close());

  it('firmware that prints lines before the JSON and shows ids as strings', async () => {
    const ws = workspace();
    fake = await startFakeIkuaiRouter({ password: PASSWORD, preamble: 'Warning: session_start(): cannot send session cache limiter\n\n', stringIds: true });
    expect(fake.tables.dhcp_server[0]).toBeDefined();
    const first = await ws.run(['--router', fake.origin, '--apply']);
    expect(first.code, first.err).toBe(0);
    expect(pick(fake.tables.dhcp_static, LEASE_FIELDS)).toEqual(expectedLeases(ws));
    ws.edit('cluster.yaml', (t) => t.replace('ip: 192.168.66.22/24', 'ip: 192.168.66.32/24'));
    const second = await ws.run(['--router', fake.origin, '--apply']);
    expect(second.code, second.err).toBe(0);
    const edit = fake.log.find((c) => (c.body as { action?: string }).action === 'edit');
    expect((edit?.body as { param: { id: unknown } }).param.id).toBe(String(fake.tables.dhcp_static.find((r) => r.hostname === 'worker2')?.id));
    expect(fake.tables.dhcp_static.map((r) => r.ip_addr)).toEqual(['192.168.66.11', '192.168.66.21', '192.168.66.32']);
  });

  it('a session that expires again right after the new login is E021, not a loop', async () => {
    const ws = workspace();
    fake = await startFakeIkuaiRouter({ password: PASSWORD });
    fake.expireSessions(1, 2);
    const r = await ws.run(['--router', fake.origin, '--apply']);
    expect(r.code).toBe(3);
    expect(r.err).toContain('error[E021]');
    expect(r.err).toContain('ended the session again right after a new login');
    expect(fake.logins()).toBe(2);
    expect(fake.writes()).toBe(0);
  });
});
