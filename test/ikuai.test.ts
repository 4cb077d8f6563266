// iKuai router settings: the gateway plan of the shipped example cluster (loaded for real), its three files, the
// end-to-end render, and a replay of ikuai-api.json against a FAKE iKuai 3.x web API (test/fakes/ikuai-router.ts).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { PACKAGE_ROOT } from '../src/template.js';
import type { Diagnostic } from '../src/diagnostics.js';
import { ikuaiApiCalls, renderIkuaiSettings, type IkuaiCall } from '../src/emit/ikuai.js';
import { planRole } from '../src/plan/build.js';
import type { NodePlan } from '../src/plan/types.js';
import { loadInputs } from '../src/profile/load.js';
import type { GatewaySettings, Inputs, Located, NodeSpec, Profile } from '../src/profile/types.js';
import { renderRole } from '../src/pipeline.js';
import { main } from '../src/cli.js';
import type { Io } from '../src/cli/run.js';
import { md5hex, startFakeIkuaiRouter, V3, type FakeRouter, type Row } from './fakes/ikuai-router.js';
import { scratchDirs } from './helpers/tmp.js';

function example(): Inputs {
  const r = loadInputs();
  if (!r.inputs) throw new Error(`the shipped example does not load: ${JSON.stringify(r.diagnostics)}`);
  return r.inputs;
}

const inputs = example();
const nodes: NodeSpec[] = inputs.cluster.value.nodes;
const shipped = inputs.profiles.get('ikuai-gateway') as Located<Profile>;

/** The shipped gateway profile with its gateway: section changed. */
function variant(patch: (g: GatewaySettings) => void): Located<Profile> {
  const g = structuredClone(shipped.value.gateway) as GatewaySettings;
  patch(g);
  return { ...shipped, value: { ...shipped.value, gateway: g } };
}

function planOf(profile: Located<Profile> = shipped): NodePlan {
  const diags: Diagnostic[] = [];
  const plan = planRole(profile, inputs.cluster, diags);
  expect(diags).toEqual([]);
  return plan;
}

const WITH_PXE_AND_DNAT = variant((g) => {
  g.pxe = { enabled: true, nextServer: '192.168.66.5', bootFile: 'mkimage.kpxe' };
  g.portMappings = [
    { name: 'kube-apiserver', wanPort: '16443', lanAddr: '192.168.66.11', lanPort: '6443', protocol: 'tcp' },
    { name: 'nodeports', wanPort: '30000-30100', lanAddr: '192.168.66.21', lanPort: '30000-30100', protocol: 'tcp+udp' },
  ];
});

const files = (plan: NodePlan) => new Map(renderIkuaiSettings(plan).map((f) => [f.path, String(f.content)]));
const calls = (plan: NodePlan, func: IkuaiCall['func_name']) => ikuaiApiCalls(plan).filter((c) => c.func_name === func);
const ip = (n: NodeSpec) => n.ip.split('/')[0];

describe('static leases of the example cluster', () => {
  const plan = planOf();
  const leases = calls(plan, 'dhcp_static');
  const csv = (files(plan).get('leases.csv') ?? '').trimEnd().split('\n');

  it('are one per node, in inventory order', () => {
    expect(leases.map((c) => c.param.hostname)).toEqual(nodes.map((n) => n.name));
    expect(csv[0]).toBe('hostname,mac,ip');
    expect(csv).toHaveLength(nodes.length + 1);
  });

  it.each(nodes.map((n, i) => [n.name, n, i] as const))('%s: MAC -> address, as the inventory says', (_name, node, i) => {
    const lease = plan.gateway?.staticLeases[i];
    expect(lease).toEqual({
      hostname: node.name,
      mac: node.mac,
      ip: ip(node),
      gateway: node.gateway,
      dns1: node.dns[0] ?? '',
      dns2: node.dns[1] ?? '',
      comment: 'mkimage homelab/ikuai-gateway',
    });
    expect(lease?.mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    const call = leases[i];
    expect(call?.action).toBe('add');
    expect(Object.keys(call?.param ?? {})).toEqual(
      ['newRow', 'hostname', 'ip_addr', 'mac', 'gateway', 'interface', 'dns1', 'dns2', 'comment', 'enabled'],
    );
    expect(call?.param).toMatchObject({ newRow: true, hostname: node.name, ip_addr: ip(node), mac: node.mac, interface: 'lan1', enabled: 'yes' });
    expect(csv[i + 1]).toBe(`${node.name},${node.mac},${ip(node)}`);
  });

  it('an inventory MAC in upper case with dashes still becomes lower-case colon form', () => {
    const cluster = structuredClone(inputs.cluster.value);
    cluster.nodes[0]!.mac = '52-54-00-AB-CD-EF';
    const plan2 = planRole(shipped, { ...inputs.cluster, value: cluster }, []);
    expect(plan2.gateway?.staticLeases[0]?.mac).toBe('52:54:00:ab:cd:ef');
  });

  it('are left out when the profile does not manage DHCP', () => {
    const plan2 = planOf(variant((g) => (g.dhcp.enabled = false)));
    expect(calls(plan2, 'dhcp_static')).toEqual([]);
    expect(files(plan2).get('leases.csv')).toBe('hostname,mac,ip\n');
    expect(files(plan2).get('ikuai-settings.md')).toContain('Not managed by mkimage');
  });
});

describe('DNS records and port mappings', () => {
  it('a DNS record is a static ipv4 record for any source', () => {
    expect(calls(planOf(), 'dns')).toEqual([{
      func_name: 'dns',
      action: 'add',
      param: { domain: 'k8s-api.homelab.lan', dns_addr: '192.168.66.11', parse_type: 'ipv4', src_addr: '', comment: 'mkimage homelab/ikuai-gateway', enabled: 'yes' },
    }]);
  });

  it('the example maps no ports', () => {
    expect(calls(planOf(), 'dnat')).toEqual([]);
    expect(files(planOf()).get('ikuai-settings.md')).toContain('None: nothing in the LAN is reachable from the WAN side.');
  });

  it.each([
    ['kube-apiserver', 'tcp', '16443', '192.168.66.11', '6443'],
    ['nodeports', 'tcp+udp', '30000-30100', '192.168.66.21', '30000-30100'],
  ])('port mapping %s becomes a DNAT rule on every WAN line', (name, protocol, wan, addr, lan) => {
    const rule = calls(planOf(WITH_PXE_AND_DNAT), 'dnat').find((c) => c.param.comment === name);
    expect(Object.keys(rule?.param ?? {})).toEqual(['enabled', 'comment', 'interface', 'lan_addr', 'lan_port', 'wan_port', 'protocol', 'src_addr']);
    expect(rule?.param).toEqual({ enabled: 'yes', comment: name, interface: 'all', lan_addr: addr, lan_port: lan, wan_port: wan, protocol, src_addr: '' });
  });
});

describe('PXE', () => {
  it('is absent while disabled, with the loop caveat in the checklist', () => {
    const plan = planOf();
    expect(calls(plan, 'dhcp_server')).toEqual([]);
    const md = files(plan).get('ikuai-settings.md') ?? '';
    expect(md).toContain('leave next-server (next_server) and options 66/67 empty');
    expect(md).toContain('chains into iPXE forever');
  });

  it('sets next-server and options 66/67 on the LAN pool when enabled', () => {
    const plan = planOf(WITH_PXE_AND_DNAT);
    expect(calls(plan, 'dhcp_server')).toEqual([{
      func_name: 'dhcp_server',
      action: 'edit',
      param: { interface: 'lan1', next_server: '192.168.66.5', opt66: '192.168.66.5', opt67: 'mkimage.kpxe' },
    }]);
    const md = files(plan).get('ikuai-settings.md') ?? '';
    expect(md).toContain('Option 67, boot file (选项67): `mkimage.kpxe`');
    expect(md).toContain('chains into iPXE forever');
  });

  it('calls come in a fixed order: leases, PXE, DNS, port mappings', () => {
    expect(ikuaiApiCalls(planOf(WITH_PXE_AND_DNAT)).map((c) => c.func_name)).toEqual(
      ['dhcp_static', 'dhcp_static', 'dhcp_static', 'dhcp_server', 'dns', 'dnat', 'dnat'],
    );
  });
});

describe('output files', () => {
  it('are byte-identical on every render, also from a fresh load', () => {
    const a = renderIkuaiSettings(planOf());
    const fresh = example();
    const b = renderIkuaiSettings(planRole(fresh.profiles.get('ikuai-gateway')!, fresh.cluster, []));
    expect(b).toEqual(a);
    expect(a.map((f) => f.path)).toEqual(['ikuai-api.json', 'ikuai-settings.md', 'leases.csv']);
    for (const f of a) expect(String(f.content).endsWith('\n'), f.path).toBe(true);
  });

  it('ikuai-api.json is 2-space JSON whose leases say what the cluster file says (read with the yaml package alone)', () => {
    const text = files(planOf()).get('ikuai-api.json') ?? '';
    const calls = JSON.parse(text) as Array<{ func_name: string; param: Record<string, unknown> }>;
    expect(text).toBe(`${JSON.stringify(calls, null, 2)}\n`);
    const raw = parseYaml(readFileSync(join(PACKAGE_ROOT, 'profiles/cluster.yaml'), 'utf8')) as { nodes: Array<{ name: string; mac: string; ip: string; gateway: string; dns: string[] }> };
    expect(calls.filter((c) => c.func_name === 'dhcp_static').map((c) => c.param)).toEqual(
      raw.nodes.map((n) => expect.objectContaining({
        hostname: n.name, mac: n.mac.toLowerCase().replace(/-/g, ':'), ip_addr: n.ip.split('/')[0], gateway: n.gateway, dns1: n.dns[0], dns2: n.dns[1],
      })),
    );
  });

  it.each([
    ['example', shipped],
    ['pxe-dnat', WITH_PXE_AND_DNAT],
  ] as const)('match the goldens (%s)', async (name, profile) => {
    const f = files(planOf(profile));
    await expect(f.get('ikuai-api.json')).toMatchFileSnapshot(`./golden/ikuai/${name}.ikuai-api.json`);
    await expect(f.get('ikuai-settings.md')).toMatchFileSnapshot(`./golden/ikuai/${name}.ikuai-settings.md`);
  });
});

describe('mkimage ikuai-gateway end to end', () => {
  const scratch = scratchDirs('mkimage-ikuai-');
  it('renderRole writes plan.json and the router settings, and no secrets', async () => {
    const cwd = scratch();
    const r = await renderRole({ role: 'ikuai-gateway', cwd });
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const out = join(cwd, 'out/ikuai-gateway');
    expect(r.outDir).toBe(out);
    expect(readdirSync(out).sort()).toEqual(['.mkimage-output', 'ikuai-api.json', 'ikuai-settings.md', 'leases.csv', 'plan.json']);
    expect(existsSync(join(cwd, 'clusters'))).toBe(false);
    const plan = JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')) as NodePlan;
    expect(plan.gateway?.staticLeases.map((l) => l.hostname)).toEqual(['cp1', 'worker1', 'worker2']);
    for (const f of renderIkuaiSettings(plan)) expect(readFileSync(join(out, f.path), 'utf8'), f.path).toBe(f.content);
  });

  it('the CLI says what it wrote', async () => {
    const cwd = scratch('cli');
    let err = '';
    const io: Io = { out: () => {}, err: (s) => void (err += s), color: false, tty: false, cwd, exitCode: 0 };
    expect(await main(['ikuai-gateway'], io), err).toBe(0);
    expect(err).toContain('wrote out/ikuai-gateway/: iKuai router settings (3 static lease(s), 1 DNS record(s), 0 port mapping(s))');
    expect(err).not.toContain('node seed');
    expect(existsSync(join(cwd, 'clusters'))).toBe(false);
  });
});

// ---- replay against the fake router ------------------------------------------------------------------------

interface Answer {
  Result: number;
  ErrMsg: string;
  Data?: Record<string, unknown>;
}

async function post(fake: FakeRouter, path: string, body: unknown, cookie?: string): Promise<{ answer: Answer; setCookie: string | null }> {
  const res = await fetch(`${fake.origin}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(cookie && { cookie }) },
    body: JSON.stringify(body),
  });
  return { answer: (await res.json()) as Answer, setCookie: res.headers.get('set-cookie') };
}

async function login(fake: FakeRouter, password: string): Promise<{ answer: Answer; cookie?: string }> {
  const { answer, setCookie } = await post(fake, '/Action/login', {
    username: 'admin',
    passwd: md5hex(password),
    pass: Buffer.from(`salt_11${password}`).toString('base64'),
    remember_password: '',
  });
  return { answer, cookie: setCookie?.split(';')[0] };
}

describe('ikuai-api.json replayed against a FAKE iKuai 3.x API', () => {
  let fake: FakeRouter;
  let cookie: string;
  beforeAll(async () => {
    fake = await startFakeIkuaiRouter({ password: 'secret-pw' });
    const l = await login(fake, 'secret-pw');
    expect(l.answer).toEqual({ Result: V3.loginOk, ErrMsg: 'Success' });
    cookie = l.cookie!;
  });
  afterAll(() => fake.close());

  const show = async (func: string, type: string) =>
    (await post(fake, '/Action/call', { func_name: func, action: 'show', param: { TYPE: type } }, cookie)).answer;

  it('refuses a wrong password and calls without a session', async () => {
    expect((await login(fake, 'wrong')).answer.Result).not.toBe(V3.loginOk);
    const call = ikuaiApiCalls(planOf())[0];
    expect((await post(fake, '/Action/call', call)).answer.Result).toBe(V3.noSession);
    expect((await post(fake, '/Action/call', call, 'sess_key=00ff')).answer.Result).toBe(V3.noSession);
  });

  it('takes every call of the example and shows the leases back', async () => {
    const text = files(planOf()).get('ikuai-api.json') ?? '';
    for (const body of JSON.parse(text) as IkuaiCall[]) {
      const { answer } = await post(fake, '/Action/call', body, cookie);
      expect(answer, JSON.stringify(body)).toMatchObject({ Result: V3.ok, ErrMsg: 'Success' });
    }
    const leases = await show('dhcp_static', 'static_total,static_data');
    expect(leases.Result).toBe(V3.ok);
    expect(leases.Data?.static_total).toBe(nodes.length);
    const rows = leases.Data?.static_data as Row[];
    expect(rows.map((r) => [r.hostname, r.mac, r.ip_addr, r.interface, r.enabled])).toEqual(
      nodes.map((n) => [n.name, n.mac, ip(n), 'lan1', 'yes']),
    );
    const dns = await show('dns', 'dns_proxy_total,dns_proxy');
    expect(dns.Data?.total).toBe(1);
    expect((dns.Data?.data as Row[]).map((r) => [r.domain, r.dns_addr])).toEqual([['k8s-api.homelab.lan', '192.168.66.11']]);
  });

  it('refuses the same leases twice (the fake keeps MACs unique), so a replay is not silently doubled', async () => {
    const first = calls(planOf(), 'dhcp_static')[0];
    expect((await post(fake, '/Action/call', first, cookie)).answer.Result).toBe(V3.rejected);
  });

  it('takes the port mappings; the PXE edit needs the pool record merged in, as ikuai-settings.md says', async () => {
    const other = await startFakeIkuaiRouter();
    try {
      const c = (await login(other, 'admin')).cookie!;
      for (const body of ikuaiApiCalls(planOf(WITH_PXE_AND_DNAT))) {
        if (body.func_name === 'dhcp_server') {
          expect((await post(other, '/Action/call', body, c)).answer.Result).toBe(V3.rejected);
          const pools = (await post(other, '/Action/call', { func_name: 'dhcp_server', action: 'show', param: { TYPE: 'total,data' } }, c)).answer;
          const pool = (pools.Data?.data as Row[]).find((r) => r.interface === body.param.interface);
          const merged = { ...body, param: { ...pool, ...body.param } };
          expect((await post(other, '/Action/call', merged, c)).answer.Result).toBe(V3.ok);
        } else {
          expect((await post(other, '/Action/call', body, c)).answer, JSON.stringify(body)).toMatchObject({ Result: V3.ok });
        }
      }
      expect(other.tables.dnat.map((r) => [r.comment, r.wan_port, r.lan_addr, r.lan_port, r.protocol])).toEqual([
        ['kube-apiserver', '16443', '192.168.66.11', '6443', 'tcp'],
        ['nodeports', '30000-30100', '192.168.66.21', '30000-30100', 'tcp+udp'],
      ]);
      expect(other.tables.dhcp_server[0]).toMatchObject({ next_server: '192.168.66.5', opt66: '192.168.66.5', opt67: 'mkimage.kpxe' });
    } finally {
      await other.close();
    }
  });
});
