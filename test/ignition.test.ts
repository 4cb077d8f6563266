// Flatcar (issue 10): `mkimage <role>` with osFamily flatcar writes out/<role>/ignition/<node>.ign and the files
// those configs download, and no seeds or Packer directory. Checked on what the real pipeline writes, for every
// role and node of the shipped cluster and of the HA example, against independent consumers and tools: the real
// ignition-validate (Debian's ignition 2.14), sha512sum, base64, gzip, tar, python3's URL unquoting and unsquashfs.
// Everything the nodes download is a STAND-IN from test/helpers/flatcar-bed.ts (no network).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderRole, type RenderResult } from '../src/pipeline.js';
import type { NodePlan } from '../src/plan/types.js';
import type { IgnitionConfig } from '../src/emit/ignition.js';
import { FIXTURE_SECRETS } from './helpers/secrets.js';
import { HA_CLUSTER, K8S, makeFlatcarBed, MIRROR, type FlatcarBed } from './helpers/flatcar-bed.js';
import { run, tool } from './helpers/tools.js';

const ROLES = ['control-plane', 'worker'] as const;

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'mkimage-ignition-'));
  for (const t of ['ignition-validate', 'unsquashfs', 'mksquashfs', 'sha512sum', 'base64', 'gzip', 'tar', 'python3']) tool(t);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Rendered {
  bed: FlatcarBed;
  results: Record<string, RenderResult>;
  outDir: (role: string) => string;
}

/** The project per name is made once; later renders of it (determinism) reuse it. */
const beds = new Map<string, FlatcarBed>();

async function renderAll(name: string, cluster?: string, out = 'out'): Promise<Rendered> {
  const cwd = join(tmp, name);
  let bed = beds.get(name);
  if (bed === undefined) {
    mkdirSync(cwd, { recursive: true });
    bed = await makeFlatcarBed(cwd, { ...(cluster !== undefined && { cluster }) });
    beds.set(name, bed);
  }
  const results: Record<string, RenderResult> = {};
  for (const role of ROLES) {
    const r = await renderRole({ role, cwd, out: join(out, role), profilesDir: bed.profilesDir, clusterFile: bed.clusterFile, secretsDir: bed.secretsDir, cacheDir: bed.cacheDir });
    expect(r.diagnostics.filter((d) => d.severity === 'error'), JSON.stringify(r.diagnostics)).toEqual([]);
    results[role] = r;
  }
  return { bed, results, outDir: (role) => join(cwd, out, role) };
}

const readConfig = (file: string): IgnitionConfig => JSON.parse(readFileSync(file, 'utf8')) as IgnitionConfig;

/**
 * The bytes each data: URL of a config holds, decoded by the system's tools: `base64 -d` (then `gzip -dc` for
 * compression gzip), and python3's RFC 2396 unquoting for URL-escaped ones. One shell per config (and one python3),
 * each payload in its own file; memoised per config file.
 */
const decodedCache = new Map<string, Map<string, Buffer>>();
function decodedFiles(configFile: string): Map<string, Buffer> {
  const hit = decodedCache.get(configFile);
  if (hit) return hit;
  const cfg = readConfig(configFile);
  const dir = mkdtempSync(join(tmp, 'decode-'));
  const lines: string[] = ['set -euo pipefail'];
  const escaped: string[] = [];
  const inline = cfg.storage.files.filter((f) => f.contents.source.startsWith('data:'));
  inline.forEach((f, i) => {
    const source = f.contents.source;
    const comma = source.indexOf(',');
    writeFileSync(join(dir, `in${i}`), source.slice(comma + 1));
    if (source.slice(0, comma).endsWith(';base64')) {
      lines.push(`base64 -d < in${i} ${f.contents.compression === 'gzip' ? '| gzip -dc ' : ''}> out${i}`);
    } else {
      if (f.contents.compression === 'gzip') throw new Error('an escaped data URL is never gzip-compressed');
      escaped.push(String(i));
    }
  });
  const sh = run('bash', ['-c', lines.join('\n')], { cwd: dir });
  expect(sh.status, sh.stderr).toBe(0);
  const py = run('python3', ['-c', 'import sys,urllib.parse\nfor i in sys.argv[1:]:\n  open("out"+i,"wb").write(urllib.parse.unquote_to_bytes(open("in"+i).read()))', ...escaped], { cwd: dir });
  expect(py.status, py.stderr).toBe(0);
  const out = new Map(inline.map((f, i) => [f.path, readFileSync(join(dir, `out${i}`))]));
  decodedCache.set(configFile, out);
  return out;
}

const sha512sum = (file: string) => run('sha512sum', [file]).stdout.split(/\s+/)[0]!;

describe.each([
  ['the shipped cluster', undefined],
  ['the HA example (kube-vip, three control planes)', HA_CLUSTER],
])('osFamily flatcar: %s', (_label, cluster) => {
  let r: Rendered;
  const name = cluster === undefined ? 'shipped' : 'ha';
  beforeAll(async () => {
    r = await renderAll(name, cluster);
  }, 120_000);

  const plansOf = (role: string): NodePlan[] => r.results[role]!.nodePlans!;
  const configFile = (role: string, node: string) => join(r.outDir(role), 'ignition', `${node}.ign`);
  const configOf = (role: string, node: string) => readConfig(configFile(role, node));
  const decoded = (role: string, node: string, path: string) => {
    const b = decodedFiles(configFile(role, node)).get(path);
    if (b === undefined) throw new Error(`${node}: no data URL for ${path}`);
    return b;
  };

  it('writes one Ignition config per node (0600) and the files they download, and no seeds or Packer directory', () => {
    for (const role of ROLES) {
      const dir = r.outDir(role);
      expect(existsSync(join(dir, 'seeds')), role).toBe(false);
      expect(existsSync(join(dir, 'packer')), role).toBe(false);
      const nodes = plansOf(role).map((p) => p.node!.name);
      expect(nodes.length, role).toBeGreaterThan(0);
      expect(r.results[role]!.ignitionNodes).toEqual(nodes);
      expect(readdirSync(join(dir, 'ignition')).filter((f) => f.endsWith('.ign')).sort()).toEqual(nodes.map((n) => `${n}.ign`).sort());
      for (const n of nodes) expect(statSync(join(dir, 'ignition', `${n}.ign`)).mode & 0o777, n).toBe(0o600);
      expect(readdirSync(join(dir, 'ignition', 'files')).sort()).toEqual(
        ['cri-dockerd-0.3.9.amd64', 'docker-24.0.9-x86-64.raw', `kubernetes-v${K8S}-x86-64-${role}.raw`].sort(),
      );
    }
  });

  it('every config passes the real ignition-validate', () => {
    let checked = 0;
    for (const role of ROLES) {
      for (const p of plansOf(role)) {
        const file = join(r.outDir(role), 'ignition', `${p.node!.name}.ign`);
        const v = run('ignition-validate', [file]);
        expect({ node: p.node!.name, status: v.status, out: v.stdout + v.stderr }).toEqual({ node: p.node!.name, status: 0, out: '' });
        checked++;
      }
    }
    expect(checked).toBe(cluster === undefined ? 3 : 5);
  });

  it('writes every plan file Ignition can write, with its decimal mode, owner by name and content (decoded with base64, gzip, python3)', () => {
    for (const role of ROLES) {
      for (const p of plansOf(role)) {
        const cfg = configOf(role, p.node!.name);
        const byPath = new Map(cfg.storage.files.map((f) => [f.path, f]));
        for (const f of p.files) {
          const entry = byPath.get(f.path);
          if (f.path.startsWith('/usr/')) {
            expect(entry, `${f.path} is in the sysext, not written by Ignition`).toBeUndefined();
            continue;
          }
          expect(entry, `${p.node!.name}: ${f.path}`).toBeDefined();
          expect(entry!.mode, f.path).toBe(parseInt(f.mode, 8));
          const [user, group] = f.owner.split(':');
          expect(entry!.user, f.path).toEqual({ name: user });
          expect(entry!.group, f.path).toEqual({ name: group });
          expect(decoded(role, p.node!.name, f.path).equals(Buffer.from(f.content)), f.path).toBe(true);
        }
      }
    }
  });

  it('secrets are 0600 (384), and no worker config carries a private key', () => {
    for (const role of ROLES) {
      for (const p of plansOf(role)) {
        const cfg = configOf(role, p.node!.name);
        for (const f of p.files.filter((x) => x.secret)) expect(cfg.storage.files.find((e) => e.path === f.path)?.mode, f.path).toBe(384);
        const keys = cfg.storage.files.filter((e) => e.path.startsWith('/etc/kubernetes/pki/') && e.path.endsWith('.key'));
        const texts = [...decodedFiles(configFile(role, p.node!.name)).entries()];
        if (role === 'worker') {
          expect(keys).toEqual([]);
          expect(texts.filter(([, b]) => b.toString('utf8').includes('PRIVATE KEY')).map(([path]) => path)).toEqual([]);
        } else {
          expect(keys.map((k) => [k.path, k.mode]).sort()).toEqual(
            ['ca.key', 'etcd/ca.key', 'front-proxy-ca.key', 'sa.key'].map((k) => [`/etc/kubernetes/pki/${k}`, 384]).sort(),
          );
          expect(decoded(role, p.node!.name, '/etc/kubernetes/pki/ca.key').equals(readFileSync(join(FIXTURE_SECRETS, 'ca.key')))).toBe(true);
        }
      }
    }
  });

  it('downloads come from the artifact mirror, verified by the sha512 of the served bytes (sha512sum; cri-dockerd as tar extracts it)', () => {
    for (const role of ROLES) {
      const served = join(r.outDir(role), 'ignition', 'files');
      for (const p of plansOf(role)) {
        const http = configOf(role, p.node!.name).storage.files.filter((f) => !f.contents.source.startsWith('data:'));
        expect(http.map((f) => f.path).sort()).toEqual(
          ['/opt/bin/cri-dockerd', '/opt/extensions/docker/docker-24.0.9-x86-64.raw', `/opt/extensions/kubernetes/kubernetes-v${K8S}-x86-64-${role}.raw`].sort(),
        );
        for (const f of http) {
          expect(f.contents.source.startsWith(MIRROR), f.path).toBe(true);
          const file = join(served, f.contents.source.slice(MIRROR.length));
          expect(f.contents.verification?.hash, f.path).toBe(`sha512-${sha512sum(file)}`);
        }
        const cri = http.find((f) => f.path === '/opt/bin/cri-dockerd')!;
        expect(cri.mode).toBe(0o755);
        const tgz = join(tmp, `${name}-cri.tgz`);
        writeFileSync(tgz, r.bed.criDockerdTgz);
        const extracted = run('bash', ['-c', 'tar -xzOf "$1" cri-dockerd/cri-dockerd | sha512sum', 'bash', tgz]).stdout.split(/\s+/)[0];
        expect(cri.contents.verification?.hash).toBe(`sha512-${extracted}`);
      }
    }
  });

  it('the kubernetes sysext has the layout and extension-release Flatcar needs (unsquashfs)', () => {
    for (const role of ROLES) {
      const image = join(r.outDir(role), 'ignition', 'files', `kubernetes-v${K8S}-x86-64-${role}.raw`);
      const listing = run('unsquashfs', ['-lls', '-d', '', image]);
      expect(listing.status, listing.stderr).toBe(0);
      const entries = listing.stdout.split('\n').filter((l) => /^[-dl]/.test(l));
      const paths = entries.map((l) => l.split(/\s+/).slice(5).join(' '));
      expect(paths.filter((x) => x !== '' && x !== '/' && !x.startsWith('/usr')), 'only usr/ in a sysext').toEqual([]);
      for (const l of entries) expect(l.split(/\s+/)[1], l).toBe('root/root');
      const files = entries.filter((l) => l.startsWith('-')).map((l) => [l.split(/\s+/)[0], l.split(/\s+/).slice(5).join(' ')]);
      expect(files).toEqual(
        [
          ['-rwxr-xr-x', '/usr/bin/crictl'],
          ['-rwxr-xr-x', '/usr/bin/kubeadm'],
          ['-rwxr-xr-x', '/usr/bin/kubectl'],
          ['-rwxr-xr-x', '/usr/bin/kubelet'],
          ['-rw-r--r--', '/usr/lib/extension-release.d/extension-release.kubernetes'],
          ['-rwxr-xr-x', '/usr/local/libexec/mkimage/firstboot.sh'],
          ...(role === 'control-plane' ? [['-rw-r--r--', '/usr/share/mkimage/calico.yaml']] : []),
        ],
      );
      const cat = (path: string) => run('bash', ['-c', 'unsquashfs -cat "$1" "$2"', 'bash', image, path]).stdout;
      expect(cat('usr/lib/extension-release.d/extension-release.kubernetes')).toBe('ID=flatcar\nSYSEXT_LEVEL=1.0\nARCHITECTURE=x86-64\n');
      for (const bin of ['kubeadm', 'kubelet', 'kubectl', 'crictl']) expect(cat(`usr/bin/${bin}`), bin).toBe(r.bed.standIns[bin]!.toString());
      if (role === 'control-plane') {
        // Calico's flexvol directory moved off the read-only /usr
        expect(cat('usr/share/mkimage/calico.yaml')).toContain('path: /opt/libexec/kubernetes/kubelet-plugins/volume/exec/nodeagent~uds');
        expect(cat('usr/share/mkimage/calico.yaml')).not.toContain('/usr/libexec/');
      }
    }
  });

  it('units (written to /etc, cri-dockerd from /opt/bin, kubelet with kubeadm\'s drop-in), links, the admin and the network', () => {
    for (const role of ROLES) {
      for (const p of plansOf(role)) {
        const node = p.node!;
        const cfg = configOf(role, node.name);
        const units = new Map(cfg.systemd.units.map((u) => [u.name, u]));
        expect([...units.keys()].sort()).toEqual(['cri-docker.service', 'cri-docker.socket', 'docker.service', 'kubelet.service', 'mkimage-firstboot.service']);
        for (const u of units.values()) expect(u.enabled, u.name).toBe(true);
        expect(units.get('cri-docker.service')!.contents).toMatch(/^ExecStart=\/opt\/bin\/cri-dockerd .*--pod-infra-container-image=\S+\/pause:3\.9$/m);
        expect(units.get('kubelet.service')!.dropins?.map((d) => d.name)).toEqual(['10-kubeadm.conf']);
        expect(units.get('docker.service')!.contents).toBeUndefined(); // from the Docker sysext
        expect(cfg.storage.links.map((l) => [l.path, l.target])).toEqual([
          ['/etc/extensions/containerd-flatcar.raw', '/dev/null'],
          ['/etc/extensions/docker-flatcar.raw', '/dev/null'],
          ['/etc/extensions/docker.raw', '/opt/extensions/docker/docker-24.0.9-x86-64.raw'],
          ['/etc/extensions/kubernetes.raw', `/opt/extensions/kubernetes/kubernetes-v${K8S}-x86-64-${role}.raw`],
        ]);
        expect(cfg.passwd.users).toEqual([
          { name: 'kube', groups: ['sudo', 'docker'], ...(p.admin.sshAuthorizedKeys.length > 0 && { sshAuthorizedKeys: p.admin.sshAuthorizedKeys }) },
        ]);
        if (cluster !== undefined) expect(cfg.passwd.users[0]!.sshAuthorizedKeys).toHaveLength(1);
        const text = (path: string) => decoded(role, node.name, path).toString('utf8');
        expect(text('/etc/hostname')).toBe(`${node.name}\n`);
        const network = text('/etc/systemd/network/10-lan0.network');
        expect(network).toContain(`MACAddress=${node.mac}\n`);
        expect(network).toContain(`Address=${node.address}\nGateway=${node.gateway}\n`);
        expect(network).toContain(node.dns.map((d) => `DNS=${d}\n`).join(''));
        expect(text('/etc/systemd/network/10-lan0.link')).toMatch(new RegExp(`MACAddress=${node.mac}\\n\\n\\[Link\\]\\nName=lan0\\n`));
      }
    }
  });

  it('is deterministic: a second render gives byte-identical configs and sysexts', async () => {
    const again = await renderAll(name, cluster, 'out2');
    for (const role of ROLES) {
      for (const dir of ['ignition', 'ignition/files']) {
        for (const f of readdirSync(join(r.outDir(role), dir)).filter((x) => x.includes('.'))) {
          expect(readFileSync(join(again.outDir(role), dir, f)).equals(readFileSync(join(r.outDir(role), dir, f))), `${role}/${dir}/${f}`).toBe(true);
        }
      }
    }
  }, 120_000);
});

describe('osFamily flatcar: SOURCE_DATE_EPOCH and a broken config', () => {
  it('stamps every time in the sysext with SOURCE_DATE_EPOCH (unsquashfs -s, -lls)', async () => {
    const before = process.env['SOURCE_DATE_EPOCH'];
    process.env['SOURCE_DATE_EPOCH'] = '1700000000';
    try {
      const r = await renderAll('epoch');
      const image = join(r.outDir('worker'), 'ignition', 'files', `kubernetes-v${K8S}-x86-64-worker.raw`);
      const stat = run('unsquashfs', ['-s', image], { env: { ...process.env, TZ: 'UTC' } }).stdout;
      expect(stat).toMatch(/Creation or last append time Tue Nov 14 22:13:20 2023/);
      expect(run('unsquashfs', ['-lls', '-d', '', image], { env: { ...process.env, TZ: 'UTC' } }).stdout).toMatch(/ 2023-11-14 22:13 \/usr\/bin\/kubeadm\n/);
    } finally {
      if (before === undefined) delete process.env['SOURCE_DATE_EPOCH'];
      else process.env['SOURCE_DATE_EPOCH'] = before;
    }
  }, 120_000);

  it('ignition-validate rejects a deliberately broken config (so the check above can fail)', async () => {
    const dir = join(tmp, 'shipped', 'out', 'worker', 'ignition');
    const good = readConfig(join(dir, 'worker1.ign'));
    const broken = (mutate: (c: IgnitionConfig) => void) => {
      const c = structuredClone(good) as unknown as IgnitionConfig;
      mutate(c);
      const file = join(tmp, 'broken.ign');
      writeFileSync(file, JSON.stringify(c));
      return run('ignition-validate', [file]);
    };
    expect(broken(() => undefined).status).toBe(0);
    const octal = broken((c) => ((c.storage.files[0] as unknown as { mode: string }).mode = '0644'));
    expect(octal.status).not.toBe(0);
    const relative = broken((c) => (c.storage.files[0]!.path = 'etc/motd'));
    expect(relative.status).not.toBe(0);
    expect(relative.stdout + relative.stderr).toContain('$.storage.files.0.path');
    const hash = broken((c) => (c.storage.files.find((f) => f.contents.verification)!.contents.verification!.hash = 'sha512-xyz'));
    expect(hash.status).not.toBe(0);
  });
});
