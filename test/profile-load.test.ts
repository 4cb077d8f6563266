// Loading the profile language: shipped defaults, one position test per diagnostic code, extends/merge
// positions, and the generated JSON Schemas (committed files equal the generator; they accept the shipped files).

import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../src/diagnostics.js';
import { jsonSchemaText } from '../src/profile/jsonschema.js';
import { clusterJsonSchema, loadInputs, loadProfile, profileJsonSchema } from '../src/profile/load.js';
import type { Cluster, Profile } from '../src/profile/types.js';
import { PACKAGE_ROOT } from '../src/template.js';
import { testClusterSettings, testGatewaySettings } from './helpers/inputs.js';
import { scratchDirs } from './helpers/tmp.js';

const tmp = scratchDirs('mkimage-');
const cwd = PACKAGE_ROOT;
const F = 'test/fixtures/profiles';

/** "CODE file:line:col" of each diagnostic, for exact position assertions. */
/** 1-based line of the first line of the shipped cluster file that contains `needle`. */
const shippedLine = (needle: string) =>
  readFileSync(join(PACKAGE_ROOT, 'profiles/cluster.yaml'), 'utf8').split('\n').findIndex((l) => l.includes(needle)) + 1;
const where = (diags: Diagnostic[]) => diags.map((d) => `${d.code} ${d.file}:${d.line}:${d.col}`);

describe('shipped profiles and example cluster', () => {
  const r = loadInputs({ cwd });

  it('load with no diagnostics', () => {
    expect(r.diagnostics).toEqual([]);
    expect(r.inputs).toBeDefined();
    expect([...(r.inputs?.profiles.keys() ?? [])]).toEqual(['control-plane', 'ikuai-gateway', 'worker']);
  });

  it('give the control plane the seed guide values, corrected', () => {
    const cp = r.inputs?.profiles.get('control-plane')?.value as Profile;
    expect(cp.role).toBe('control-plane');
    expect(cp.kubernetes).toEqual({
      packages: ['kubelet', 'kubeadm', 'kubectl'],
      repoExclude: ['kubelet', 'kubeadm', 'kubectl', 'cri-tools', 'kubernetes-cni'],
      disableExcludes: true,
      ignorePreflightErrors: [],
    });
    expect(cp.docker.version).toBe('24.0.7');
    expect(cp.criDockerd).toEqual({ version: '0.3.9', pauseImage: 'pause:3.9' });
    expect(cp.kernel).toEqual({
      modules: ['overlay', 'br_netfilter'],
      sysctls: { 'net.bridge.bridge-nf-call-iptables': '1', 'net.bridge.bridge-nf-call-ip6tables': '1', 'net.ipv4.ip_forward': '1' },
    });
    expect([cp.swap, cp.selinux]).toEqual(['off', 'permissive']);
    // Calico's default dataplane is BGP + IP-in-IP (protocol 4, opened by the plan): no VXLAN 4789/udp.
    expect(cp.firewall.ports).toEqual(['6443/tcp', '2379-2380/tcp', '10250/tcp', '10256/tcp', '10257/tcp', '10259/tcp', '179/tcp']);
    expect(cp.image).toEqual({ prepull: true, diskSize: '20G', memory: 4096, cpus: 2, sources: ['qemu'] });
    expect(cp.gateway).toBeUndefined();
    expect(r.inputs?.profiles.get('worker')?.value.firewall.ports).toEqual(['10250/tcp', '10256/tcp', '30000-32767/tcp', '30000-32767/udp', '179/tcp']);
  });

  it('fill the iKuai gateway settings', () => {
    const gw = r.inputs?.profiles.get('ikuai-gateway')?.value as Profile;
    expect(gw.role).toBe('gateway');
    expect(gw.gateway).toEqual(testGatewaySettings());
  });

  it('describe the homelab cluster', () => {
    const c = r.inputs?.cluster.value as Cluster;
    const { nodes, ...settings } = c;
    expect(settings).toEqual(testClusterSettings());
    expect(nodes.map((n) => [n.name, n.role, n.mac, n.ip, n.index])).toEqual([
      ['cp1', 'control-plane', '52:54:00:66:00:11', '192.168.66.11/24', 0],
      ['worker1', 'worker', '52:54:00:66:00:21', '192.168.66.21/24', 1],
      ['worker2', 'worker', '52:54:00:66:00:22', '192.168.66.22/24', 2],
    ]);
    for (const n of nodes) expect([n.gateway, n.dns, n.arch]).toEqual(['192.168.66.1', ['192.168.66.1', '223.5.5.5'], 'amd64']);
    expect(r.inputs?.cluster.positions.get('nodes.1.mac')).toEqual({ file: 'profiles/cluster.yaml', line: shippedLine('"52:54:00:66:00:21"'), col: 10 });
  });

  it('state every default: a bare worker profile equals the shipped one', () => {
    const bare = loadProfile(`${F}/minimal-worker.yaml`, { cwd });
    expect(bare.diagnostics).toEqual([]);
    const shipped = r.inputs?.profiles.get('worker')?.value as Profile;
    expect({ ...bare.profile?.value, name: 'worker', description: shipped.description }).toEqual(shipped);
  });

  it('default a cluster from its nodes and normalise MACs', () => {
    const c = loadInputs({ cwd, clusterFile: `${F}/clusters/minimal.yaml` });
    expect(c.diagnostics).toEqual([]);
    const v = c.inputs?.cluster.value as Cluster;
    expect(v.controlPlaneEndpoint).toBe('10.0.0.5:6443');
    expect([v.serviceSubnet, v.mirror, v.bootstrapTokenTTL, v.admin]).toEqual(['10.96.0.0/12', 'aliyun', '24h0m0s', { user: 'kube', sshAuthorizedKeys: [] }]);
    expect(v.nodes).toEqual([
      { name: 'cp1', role: 'control-plane', mac: '52:54:00:ab:cd:ef', ip: '10.0.0.5/24', gateway: '10.0.0.1', dns: ['10.0.0.1'], arch: 'amd64', index: 0 },
    ]);
  });
});

describe('extends and merge', () => {
  const r = loadProfile(`${F}/override.yaml`, { cwd });
  const p = r.profile;

  it('deep-merges maps and replaces scalars and lists', () => {
    expect(r.diagnostics).toEqual([]);
    expect(p?.value.docker.version).toBe('24.0.9');
    expect(p?.value.docker.logMaxSize).toBe('100m');
    expect(p?.value.kernel.modules).toEqual(['br_netfilter']);
    expect(p?.value.kernel.sysctls['vm.max_map_count']).toBe('262144');
    expect(p?.value.kernel.sysctls['net.ipv4.ip_forward']).toBe('1');
    expect(p?.value.firewall.ports).toContain('30000-32767/tcp');
  });

  it('positions point at the child file for overridden keys, at the base for inherited ones', () => {
    const at = (path: string) => p?.positions.get(path);
    expect(at('docker.version')).toEqual({ file: `${F}/override.yaml`, line: 6, col: 12 });
    expect(at('docker')).toEqual({ file: `${F}/override.yaml`, line: 5, col: 1 });
    expect(at('kernel.modules.0')).toEqual({ file: `${F}/override.yaml`, line: 8, col: 13 });
    expect(at('kernel.sysctls.vm.max_map_count')).toEqual({ file: `${F}/override.yaml`, line: 10, col: 23 });
    expect(at('kernel.sysctls.net.ipv4.ip_forward')?.file).toBe('profiles/base.yaml');
    expect(at('docker.logMaxSize')?.file).toBe('profiles/base.yaml');
    expect(at('firewall.ports')?.file).toBe('profiles/worker.yaml');
    expect(at('role')).toEqual({ file: 'profiles/worker.yaml', line: 9, col: 7 });
    expect(at('')?.file).toBe(`${F}/override.yaml`);
    expect([...(p?.sources.keys() ?? [])].sort()).toEqual(['profiles/base.yaml', 'profiles/worker.yaml', `${F}/override.yaml`]);
  });

  it('an abstract base is not a role', () => {
    const base = loadProfile('base', { cwd });
    expect(base.profile).toBeUndefined();
    expect(base.diagnostics.map((d) => d.code)).toEqual(['E010']);
  });
});

describe('one position per diagnostic code', () => {
  const profile = (f: string) => loadProfile(`${F}/${f}.yaml`, { cwd });
  const cluster = (f: string) => loadInputs({ cwd, clusterFile: `${F}/clusters/${f}.yaml` });

  it.each([
    ['broken-yaml', 'E002', '3:7', /Nested mappings/],
    ['unknown-key', 'E003', '5:3', /unknown key "pakages" in kubernetes; did you mean "packages"\?/],
    ['missing-role', 'E005', '2:1', /needs "role": add "role: control-plane" \(one of control-plane, worker, gateway\)/],
    ['bad-enum', 'E006', '4:10', /use one of permissive, enforcing, disabled \(did you mean "permissive"\?\)/],
    ['missing-base', 'E008', '2:10', /extends: "bsae" names no profile.*\bbase\b/],
    ['duplicate-key', 'E009', '7:3', /key "version" is already set on line 5/],
    ['gateway-on-worker', 'E018', '3:1', /remove "gateway:"/],
  ])('%s -> %s at %s', (f, code, pos, message) => {
    const r = profile(f);
    expect(r.profile).toBeUndefined();
    expect(where(r.diagnostics)).toEqual([`${code} ${F}/${f}.yaml:${pos}`]);
    expect(r.diagnostics[0]?.message).toMatch(message);
  });

  it('E004 wrong type: a word for a number, an unquoted mode', () => {
    const r = profile('wrong-type');
    expect(where(r.diagnostics)).toEqual([`E004 ${F}/wrong-type.yaml:5:11`, `E004 ${F}/wrong-type.yaml:8:11`]);
    expect(r.diagnostics[0]?.message).toBe('image.memory must be a whole number, not the text "lots"; e.g. memory: 4096');
    expect(r.diagnostics[1]?.message).toBe("files[0].mode must be text, not number 0644; quote it: mode: '0644'");
  });

  it.each(['644', '0o644', '0644'])('an unquoted mode %s is told the quoted form the loader then accepts', (written) => {
    const dir = tmp('mode');
    const file = (mode: string) => `version: 1\nrole: worker\nfiles:\n  - path: /etc/motd\n    content: hi\n    mode: ${mode}\n`;
    writeFileSync(join(dir, 'control-plane.yaml'), 'version: 1\nrole: control-plane\n');
    writeFileSync(join(dir, 'worker.yaml'), file(written));
    const bad = loadInputs({ profilesDir: dir, clusterFile: join(PACKAGE_ROOT, 'profiles/cluster.yaml'), cwd: dir });
    const msg = bad.diagnostics.find((d) => d.code === 'E004')?.message ?? '';
    const fix = /quote it: mode: (\S+)$/.exec(msg)?.[1];
    expect(fix, msg).toBe("'0644'");
    writeFileSync(join(dir, 'worker.yaml'), file(fix!));
    const good = loadInputs({ profilesDir: dir, clusterFile: join(PACKAGE_ROOT, 'profiles/cluster.yaml'), cwd: dir });
    expect(good.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(good.inputs?.profiles.get('worker')?.value.files[0]?.mode).toBe('0644');
  });

  it('E007 bad port, E004 port without protocol', () => {
    const r = profile('bad-port');
    expect(where(r.diagnostics)).toEqual([`E007 ${F}/bad-port.yaml:4:22`, `E004 ${F}/bad-port.yaml:4:33`]);
    expect(r.diagnostics[0]?.message).toMatch(/"70000\/tcp", not PORT\/PROTOCOL .* write it like "6443\/tcp"/);
  });

  it('E008 extends cycle, at the extends that closes it', () => {
    const r = profile('cycle-a');
    expect(where(r.diagnostics)).toEqual([`E008 ${F}/cycle-b.yaml:2:10`]);
    expect(r.diagnostics[0]?.message).toContain('cycle-a -> cycle-b -> cycle-a');
  });

  it('E001 missing cluster file and missing profile', () => {
    const missing = cluster('none');
    expect(missing.diagnostics.map((d) => [d.code, d.file, d.line])).toEqual([['E001', `${F}/clusters/none.yaml`, undefined]]);
    expect(missing.inputs).toBeUndefined();
    const r = loadProfile('no-such-role', { cwd });
    expect(r.diagnostics.map((d) => [d.code, d.file])).toEqual([['E001', 'profiles/no-such-role.yaml']]);
    expect(r.diagnostics[0]?.message).toContain('control-plane, ikuai-gateway, worker');
  });

  it('internal mirrors, insecure registries and image repositories load as written', () => {
    const r = cluster('mirrors');
    expect(r.diagnostics).toEqual([]);
    const v = r.inputs?.cluster.value as Cluster;
    expect(v.repositories).toEqual({
      docker: { url: 'http://nexus.lan/docker-ce/linux/debian', gpgkey: 'http://nexus.lan/docker-ce/linux/debian/gpg' },
      kubernetes: { url: 'http://10.0.2.2:8480/kubernetes/core/stable/v1.29/deb/', gpgkey: 'http://10.0.2.2:8480/kubernetes/core/stable/v1.29/deb/Release.key' },
      os: { url: 'http://mirrors.aliyun.com/debian' },
    });
    expect(v.registries).toEqual({ insecure: ['10.0.2.2:5000'] });
    expect(v.images).toEqual({ calico: '10.0.2.2:5000/calico', kubeVip: '10.0.2.2:5000/kube-vip/kube-vip' });
    expect(v.artifactMirrors).toEqual(['http://10.0.2.2:8480/artifacts/']);
  });

  it('E007 a mirror URL without its scheme, E005 a repository without its key, both positioned', () => {
    const r = cluster('bad-mirror-url');
    expect(where(r.diagnostics)).toEqual([`E007 ${F}/clusters/bad-mirror-url.yaml:4:18`, `E005 ${F}/clusters/bad-mirror-url.yaml:5:3`]);
    expect(r.diagnostics[0]?.message).toMatch(/repositories\.docker\.url is "nexus\.lan\/docker-ce", not an http:\/\/ or https:\/\/ URL: write it like/);
    expect(r.diagnostics[1]?.message).toMatch(/repositories\.kubernetes needs "gpgkey"/);
  });

  it('E007 bad CIDR', () => {
    const r = cluster('bad-cidr');
    expect(r.inputs).toBeUndefined();
    expect(where(r.diagnostics)).toEqual([`E007 ${F}/clusters/bad-cidr.yaml:3:12`]);
    expect(r.diagnostics[0]?.message).toMatch(/podSubnet is "10.244.0.0\/33", not a subnet ADDRESS\/PREFIX/);
  });

  it('E007 bad MAC', () => {
    const r = cluster('bad-mac');
    expect(where(r.diagnostics)).toEqual([`E007 ${F}/clusters/bad-mac.yaml:6:10`]);
    expect(r.diagnostics[0]?.message).toContain('write it like "52:54:00:66:00:11"');
  });

  it('E005 missing node key, at the node', () => {
    const r = cluster('missing-mac');
    expect(where(r.diagnostics)).toEqual([`E005 ${F}/clusters/missing-mac.yaml:4:5`]);
    expect(r.diagnostics[0]?.message).toMatch(/^nodes\[0\] needs "mac": add "mac: 52:54:00:66:00:11"/);
  });

  it('E011 E012 E013 duplicate name, MAC (after normalising) and IP, at the second use', () => {
    const r = cluster('duplicates');
    expect(where(r.diagnostics)).toEqual([
      `E011 ${F}/clusters/duplicates.yaml:14:11`,
      `E012 ${F}/clusters/duplicates.yaml:16:10`,
      `E013 ${F}/clusters/duplicates.yaml:17:9`,
    ]);
    expect(r.diagnostics.map((d) => d.message)).toEqual([
      expect.stringMatching(/^node name "worker1" is already used by nodes\[1\] \(line 9\)/),
      expect.stringMatching(/^MAC 52:54:00:66:00:11 is already used by node "cp1" \(line 6\)/),
      expect.stringMatching(/^IP address 192.168.66.21 is already used by node "worker1" \(line 12\)/),
    ]);
  });

  it('E010 a node whose role has no profile', () => {
    const r = loadInputs({ cwd, profilesDir: `${F}/only-worker`, clusterFile: 'profiles/cluster.yaml' });
    expect(where(r.diagnostics)).toEqual([`E010 profiles/cluster.yaml:${shippedLine('role: control-plane')}:11`]);
    expect(r.diagnostics[0]?.message).toMatch(/node "cp1" has role control-plane, but no profile/);
  });

  it('a profile that fails to load is not also reported as a missing role', () => {
    const r = loadInputs({ cwd, profilesDir: F, clusterFile: 'profiles/cluster.yaml' });
    const codes = new Set(r.diagnostics.map((d) => d.code));
    expect(codes).toContain('E002');
    expect(codes).not.toContain('E010');
    expect(r.inputs).toBeUndefined();
  });

  it('absolute paths outside cwd stay absolute; every file read is in sources', () => {
    const dir = tmp('profile');
    const file = join(dir, 'cluster.yaml');
    writeFileSync(file, 'version: 1\nname: lab\nnodes: []\npodSubnet: 10.0.0.0/8\nmirrors: aliyun\n');
    const r = loadInputs({ cwd, clusterFile: file });
    expect(where(r.diagnostics)).toEqual([`E003 ${file}:5:1`]);
    expect(r.diagnostics[0]?.message).toContain('did you mean "mirror"?');
    expect(r.sources.get(file)).toContain('mirrors: aliyun');
  });
});

// ---- JSON Schema ------------------------------------------------------------------------------------------

/** The draft-07 subset the generator emits, enough to check documents against the committed schemas. */
function schemaErrors(schema: Record<string, unknown>, value: unknown, path = '$'): string[] {
  const errs: string[] = [];
  const types = ([] as string[]).concat((schema.type as string | string[] | undefined) ?? []);
  const typeOf = (v: unknown) => (Array.isArray(v) ? 'array' : v === null ? 'null' : Number.isInteger(v) ? 'integer' : typeof v);
  const t = typeOf(value);
  if (types.length > 0 && !types.some((ty) => ty === t || (ty === 'number' && t === 'integer'))) return [`${path}: ${t} is not ${types.join('|')}`];
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) errs.push(`${path}: not in enum`);
  if (typeof schema.pattern === 'string' && typeof value === 'string' && !new RegExp(schema.pattern).test(value)) errs.push(`${path}: ${value} !~ ${schema.pattern}`);
  if (typeof schema.minimum === 'number' && typeof value === 'number' && value < schema.minimum) errs.push(`${path}: below minimum`);
  if (t === 'array' && schema.items) (value as unknown[]).forEach((v, i) => errs.push(...schemaErrors(schema.items as Record<string, unknown>, v, `${path}[${i}]`)));
  if (t === 'object') {
    const obj = value as Record<string, unknown>;
    const props = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
    for (const k of (schema.required ?? []) as string[]) if (!(k in obj)) errs.push(`${path}: missing ${k}`);
    for (const [k, v] of Object.entries(obj)) {
      const names = schema.propertyNames as { pattern: string } | undefined;
      if (names && !new RegExp(names.pattern).test(k)) errs.push(`${path}: bad key ${k}`);
      if (props[k]) errs.push(...schemaErrors(props[k], v, `${path}.${k}`));
      else if (schema.additionalProperties === false) errs.push(`${path}: unknown ${k}`);
      else if (typeof schema.additionalProperties === 'object') errs.push(...schemaErrors(schema.additionalProperties as Record<string, unknown>, v, `${path}.${k}`));
    }
  }
  return errs;
}

describe('JSON Schemas', () => {
  const profileSchema = profileJsonSchema() as Record<string, unknown>;
  const clusterSchema = clusterJsonSchema() as Record<string, unknown>;
  const read = (rel: string) => readFileSync(join(PACKAGE_ROOT, rel), 'utf8');

  it('committed schema files equal the generated output', () => {
    expect(read('schema/profile.schema.json')).toBe(jsonSchemaText(profileSchema));
    expect(read('schema/cluster.schema.json')).toBe(jsonSchemaText(clusterSchema));
  });

  it.each(['base', 'control-plane', 'worker', 'ikuai-gateway'])('accepts profiles/%s.yaml', (name) => {
    const src = read(`profiles/${name}.yaml`);
    expect(src.split('\n')[0]).toBe('# yaml-language-server: $schema=../schema/profile.schema.json');
    expect(schemaErrors(profileSchema, parse(src))).toEqual([]);
  });

  it('accepts profiles/cluster.yaml', () => {
    expect(schemaErrors(clusterSchema, parse(read('profiles/cluster.yaml')))).toEqual([]);
  });

  it('rejects what the loader rejects', () => {
    expect(schemaErrors(profileSchema, { version: 1, kubernetes: { pakages: [] } })).toEqual(['$.kubernetes: unknown pakages']);
    expect(schemaErrors(profileSchema, { version: 1, files: [{ path: '/x', content: '', mode: 644 }] })).toEqual(['$.files[0].mode: integer is not string']);
    expect(schemaErrors(clusterSchema, { version: 1, name: 'lab', nodes: [], serviceSubnet: '10.96.0.0/33' })).toHaveLength(1);
    expect(schemaErrors(clusterSchema, { version: 2, name: 'lab' })).toEqual(['$: missing nodes', '$.version: not in enum']);
  });
});

describe('a YAML alias bomb ("billion laughs")', () => {
  it('is E002 at the alias, at once, instead of expanding 10^9 values', () => {
    const dir = tmp('bomb');
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    const text = `version: 1\nname: bomb\nx:\n${levels.map((l) => `  ${l}`).join('\n')}\n`;
    expect(Buffer.byteLength(text)).toBeLessThan(700);
    writeFileSync(join(dir, 'cluster.yaml'), text);
    const r = loadInputs({ profilesDir: join(PACKAGE_ROOT, 'profiles'), clusterFile: join(dir, 'cluster.yaml'), cwd: dir });
    expect(r.inputs).toBeUndefined();
    const bomb = r.diagnostics.find((d) => d.code === 'E002');
    expect(bomb?.message).toMatch(/aliases here expand to more than 200000 values .*write the values out/);
    expect(bomb?.file).toBe('cluster.yaml');
    expect(bomb?.line).toBeGreaterThanOrEqual(5);
  });
});

describe('a profile file path with ".." (it would climb out of packer/rootfs/ and the seed)', () => {
  it.each(['/../scripts/bake.sh', '/../../seeds/worker1/user-data', '/etc/../../x'])('%s is E007 at the path, with the fix', (path) => {
    const dir = tmp('dotdot');
    writeFileSync(join(dir, 'control-plane.yaml'), 'version: 1\nrole: control-plane\n');
    writeFileSync(join(dir, 'worker.yaml'), `version: 1\nrole: worker\nfiles:\n  - path: "${path}"\n    content: hi\n`);
    const r = loadInputs({ profilesDir: dir, clusterFile: join(PACKAGE_ROOT, 'profiles/cluster.yaml'), cwd: dir });
    expect(r.inputs).toBeUndefined();
    expect(r.diagnostics.map((d) => `${d.code} ${d.file}:${d.line}`)).toEqual(['E007 worker.yaml:4']);
    expect(r.diagnostics[0]?.message).toContain('without ".." parts');
  });
});

describe('profile and cluster files that cannot load as written are named, never skipped', () => {
  const shippedCluster = join(PACKAGE_ROOT, 'profiles/cluster.yaml');
  const withWorker = (extra: (dir: string) => void) => {
    const dir = tmp('unreadable');
    writeFileSync(join(dir, 'control-plane.yaml'), 'version: 1\nrole: control-plane\n');
    writeFileSync(join(dir, 'worker.yaml'), 'version: 1\nrole: worker\n');
    extra(dir);
    return dir;
  };

  it('a non-UTF-8 byte is E007 at its line and column (it would reach the node as U+FFFD)', () => {
    const dir = withWorker((d) =>
      writeFileSync(join(d, 'worker.yaml'), Buffer.concat([Buffer.from('version: 1\nrole: worker\ndescription: "caf'), Buffer.from([0xe9]), Buffer.from('"\n')])),
    );
    const r = loadInputs({ profilesDir: dir, clusterFile: shippedCluster, cwd: dir });
    expect(r.inputs).toBeUndefined();
    expect(where(r.diagnostics)).toEqual(['E007 worker.yaml:3:18']);
    expect(r.diagnostics[0]?.message).toBe('byte 0xe9 is not UTF-8 (the file was saved in another encoding, e.g. GBK or Latin-1): save it as UTF-8');
  });

  it('valid multi-byte UTF-8 (Chinese comments) still loads', () => {
    const dir = withWorker((d) => writeFileSync(join(d, 'worker.yaml'), 'version: 1\nrole: worker\n# 工作节点\ndescription: "节点 ok"\n'));
    const r = loadInputs({ profilesDir: dir, clusterFile: shippedCluster, cwd: dir });
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(r.inputs?.profiles.get('worker')?.value.description).toBe('节点 ok');
  });

  it('a symlink loop named *.yaml is E001 "symbolic link loop", not silently skipped', () => {
    const dir = withWorker((d) => symlinkSync(join(d, 'gpu.yaml'), join(d, 'gpu.yaml')));
    const r = loadInputs({ profilesDir: dir, clusterFile: shippedCluster, cwd: dir });
    expect(r.inputs).toBeUndefined();
    expect(r.diagnostics.map((d) => `${d.code} ${d.file}`)).toEqual(['E001 gpu.yaml']);
    expect(r.diagnostics[0]?.message).toMatch(/symbolic link loop: point the link at a real file/);
  });

  it('a directory named *.yaml in the profiles directory, a profile path or a cluster path that is a directory: E001 "is a directory"', () => {
    const dir = withWorker((d) => mkdirSync(join(d, 'old.yaml')));
    const r = loadInputs({ profilesDir: dir, clusterFile: shippedCluster, cwd: dir });
    expect(r.diagnostics.map((d) => `${d.code} ${d.file}`)).toEqual(['E001 old.yaml']);
    expect(r.diagnostics[0]?.message).toMatch(/is a directory, not a YAML file/);

    const byPath = loadProfile('./old.yaml', { profilesDir: dir, cwd: dir });
    expect(byPath.diagnostics.map((d) => `${d.code} ${d.file}`)).toEqual(['E001 old.yaml']);
    expect(byPath.diagnostics[0]?.message).toMatch(/is a directory/);

    const clusterDir = join(dir, 'clusters');
    mkdirSync(clusterDir);
    rmSync(join(dir, 'old.yaml'), { recursive: true });
    const c = loadInputs({ profilesDir: dir, clusterFile: clusterDir, cwd: dir });
    expect(c.diagnostics.map((d) => `${d.code} ${d.file}`)).toEqual(['E001 clusters']);
    expect(c.diagnostics[0]?.message).toMatch(/is a directory, not a YAML file/);
  });
});

describe('values that look right but no machine can use are E007/E006 at the value, with the fix', () => {
  const shippedText = readFileSync(join(PACKAGE_ROOT, 'profiles/cluster.yaml'), 'utf8');
  const loadCluster = (edit: (t: string) => string) => {
    const dir = tmp('values');
    const text = edit(shippedText);
    expect(text).not.toBe(shippedText);
    writeFileSync(join(dir, 'cluster.yaml'), text);
    return loadInputs({ clusterFile: join(dir, 'cluster.yaml'), cwd: dir });
  };
  const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

  it.each([
    ['01:00:5e:00:00:21', /multicast MAC \(its first byte is odd\)/],
    ['ff:ff:ff:ff:ff:ff', /broadcast MAC/],
    ['00-00-00-00-00-00', /all-zero MAC/],
  ])('MAC %s', (mac, message) => {
    const r = loadCluster((t) => t.replace('mac: "52:54:00:66:00:21"', `mac: "${mac}"`));
    expect(r.diagnostics.map((d) => `${d.code} ${d.line}`)).toEqual([`E007 ${lineOf(shippedText, 'mac: "52:54:00:66:00:21"')}`]);
    expect(r.diagnostics[0]?.message).toMatch(message);
    expect(r.diagnostics[0]?.message).toMatch(/copy the MAC from the machine's NIC/);
  });

  it.each([
    ['192.168.66.0/24', /address of the subnet 192\.168\.66\.0\/24 itself.*such as 192\.168\.66\.1\/24/],
    ['192.168.66.255/24', /broadcast address of 192\.168\.66\.0\/24.*such as 192\.168\.66\.254\/24/],
    ['fd00::21/64', /IPv4 only, and this is an IPv6 address/],
  ])('node address %s', (ip, message) => {
    const r = loadCluster((t) => t.replace('ip: 192.168.66.21/24', `ip: "${ip}"`));
    expect(r.diagnostics.map((d) => `${d.code} ${d.line}`)).toEqual([`E007 ${lineOf(shippedText, 'ip: 192.168.66.21/24')}`]);
    expect(r.diagnostics[0]?.message).toMatch(message);
  });

  it('a /31 or /32 node address is a host (point-to-point links)', () => {
    const r = loadCluster((t) => t.replace('ip: 192.168.66.21/24', 'ip: 192.168.66.20/31'));
    expect(r.diagnostics.filter((d) => d.code === 'E007')).toEqual([]);
  });

  it('an IPv6 gateway or DNS server is "IPv4 only"', () => {
    const r = loadCluster((t) => t.replace('dns: [192.168.66.1, 223.5.5.5]', 'dns: ["2400:3200::1"]'));
    expect(r.diagnostics[0]?.code).toBe('E007');
    expect(r.diagnostics[0]?.message).toMatch(/IPv4 only/);
  });

  it.each([
    ['10.96.0.0/29', /too few addresses \(kubeadm gives CoreDNS the 10th\): use \/28 or larger/],
    ['10.0.0.0/8', /refuses a Service network larger than \/12/],
  ])('serviceSubnet %s', (cidr, message) => {
    const r = loadCluster((t) => t.replace('serviceSubnet: 10.96.0.0/12', `serviceSubnet: ${cidr}`));
    expect(r.diagnostics.map((d) => `${d.code} ${d.line}`)).toEqual([`E007 ${lineOf(shippedText, 'serviceSubnet:')}`]);
    expect(r.diagnostics[0]?.message).toMatch(message);
  });

  it.each(['10.112.0.0/12', '10.96.0.0/28'])('serviceSubnet %s (the bounds) loads', (cidr) => {
    const r = loadCluster((t) => t.replace('serviceSubnet: 10.96.0.0/12 ', `serviceSubnet: ${cidr} `));
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  });

  it.each([
    ['memory: 99999999999999999999', /image\.memory is 100000000000000000000: use at most 1048576/],
    ['cpus: 100000', /image\.cpus is 100000: use at most 512/],
    ['diskSize: 99999999G', /more than 16 TiB/],
  ])('profile %s never reaches the Packer file', (line, message) => {
    const dir = tmp('numbers');
    writeFileSync(join(dir, 'control-plane.yaml'), 'version: 1\nrole: control-plane\n');
    writeFileSync(join(dir, 'worker.yaml'), `version: 1\nrole: worker\nimage:\n  ${line}\n`);
    const r = loadInputs({ profilesDir: dir, clusterFile: join(PACKAGE_ROOT, 'profiles/cluster.yaml'), cwd: dir });
    expect(r.inputs).toBeUndefined();
    expect(r.diagnostics.map((d) => `${d.file}:${d.line}:${d.col}`)).toEqual([`worker.yaml:4:${line.indexOf(':') + 5}`]);
    expect(r.diagnostics[0]?.message).toMatch(message);
  });
});

describe("a file mode with setuid or setgid ('4755')", () => {
  it('is E007 at the mode, saying cloud-init would drop the bit, instead of a stack trace from the emitter', () => {
    const dir = tmp('mode');
    writeFileSync(join(dir, 'control-plane.yaml'), 'version: 1\nrole: control-plane\n');
    writeFileSync(join(dir, 'worker.yaml'), "version: 1\nrole: worker\nfiles:\n  - path: /usr/local/bin/x\n    mode: '4755'\n    phase: boot\n    content: hi\n");
    const r = loadInputs({ profilesDir: dir, clusterFile: join(PACKAGE_ROOT, 'profiles/cluster.yaml'), cwd: dir });
    expect(where(r.diagnostics)).toEqual(['E007 worker.yaml:5:11']);
    expect(r.diagnostics[0]?.message).toContain("drops setuid and setgid bits: set them with a command");
  });
});

describe('a profile command that would break the bake script (checked with the real bash -n, as the script wraps it)', () => {
  const load = (run: string) => {
    const dir = tmp('shell');
    writeFileSync(join(dir, 'control-plane.yaml'), 'version: 1\nrole: control-plane\n');
    writeFileSync(join(dir, 'worker.yaml'), `version: 1\nrole: worker\ncommands:\n  - phase: bake\n    run: ${JSON.stringify(run)}\n`);
    return loadInputs({ profilesDir: dir, clusterFile: join(PACKAGE_ROOT, 'profiles/cluster.yaml'), cwd: dir });
  };

  it.each([
    ['an unclosed quote', 'echo "hello', /unexpected EOF|unexpected end of file/],
    ['a stray ")" that would close the subshell early', 'echo done )\nrm -rf /tmp/x', /syntax error near unexpected token/],
    ['a here-document without its end line (it would swallow the rest of the script)', 'cat > /etc/motd <<EOF\nhello', /here-document at line 1 delimited by end-of-file/],
  ])('%s is E007 at the run: line', (_, run, message) => {
    const r = load(run);
    expect(r.inputs).toBeUndefined();
    expect(where(r.diagnostics)).toEqual(['E007 worker.yaml:5:10']);
    expect(r.diagnostics[0]?.message).toMatch(message);
    expect(r.diagnostics[0]?.message).toContain('close every quote, bracket and here-document');
  });

  it('complete commands, here-documents included, load', () => {
    const r = load("cat > /etc/motd <<'EOF'\nhello )\nEOF\nsystemctl enable --now chronyd || true");
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  });
});
