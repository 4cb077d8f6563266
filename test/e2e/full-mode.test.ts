// Real boots of `--mode full` seeds: a stock Debian 12 cloud image (test/e2e/vm) with a node's seed ISO, its
// packages from Debian's mirror and the local mirror (test/e2e/mirror), real cloud-init, real systemd, Debian's
// real docker.io, the stand-in cri-dockerd (a Go program) and the fake kubeadm. What is asserted is what the
// guest saw, read over SSH.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startRig, tail, until, type Rig } from './bed.js';
import type { MirrorOptions } from './mirror/index.js';
import { bootVm, GUEST_DNS, GUEST_GATEWAY, type Vm } from './vm/qemu.js';

const MINUTES = 60_000;

interface WriteFile {
  path: string;
  permissions: string;
  encoding?: string;
  content: string;
}

/** A file of the node's user-data, decoded: the independent record of what the seed was meant to write. */
function seededFile(userData: string, path: string): string {
  const doc = parse(userData, { version: '1.1' }) as { write_files: WriteFile[] };
  const f = doc.write_files.find((w) => w.path === path);
  if (!f) throw new Error(`user-data writes no ${path}`);
  return f.encoding === 'b64' ? Buffer.from(f.content, 'base64').toString('utf8') : f.content;
}

/** Wait until first boot leaves a marker; returns which one. */
async function firstbootMarker(vm: Vm, timeoutMs: number): Promise<'done' | 'failed'> {
  return until(
    async () => {
      const r = await vm.ssh('sudo test -e /var/lib/mkimage/firstboot.done && echo done || { sudo test -e /var/lib/mkimage/firstboot.failed && echo failed; } || true');
      const s = r.stdout.trim();
      return s === 'done' || s === 'failed' ? s : undefined;
    },
    timeoutMs,
    'a first-boot marker (/var/lib/mkimage/firstboot.done or .failed)',
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n--- serial console ---\n${vm.serialTail(80)}`);
  });
}

/** A rig whose workspace has recorded the artifacts' sums (`mkimage fetch`) and rendered cp1's --mode full seed. */
async function fullModeRig(mac: string, mirror?: MirrorOptions): Promise<Rig> {
  const rig = await startRig({ mac, mirror });
  const fetched = rig.bed.mkimage(['fetch']);
  expect(fetched.status, fetched.stderr).toBe(0);
  const r = rig.bed.mkimage(['control-plane', '--mode', 'full', '--out', 'out/control-plane']);
  expect(r.status, r.stderr).toBe(0);
  return rig;
}

/** Boot cp1 from the base image with its seed and wait for SSH as the cluster admin. */
async function bootNode(rig: Rig, mac: string, memoryMiB: number): Promise<Vm> {
  const seed = join(rig.bed.dir, 'out/control-plane/seeds/cp1/seed.iso');
  const vm = await bootVm({ baseImage: rig.base, seedIso: seed, seedInterface: 'cdrom', mac, diskSize: '8G', memoryMiB, cpus: 2 });
  rig.vm = vm;
  await vm.waitForSsh(rig.bed.admin, rig.bed.key, 15 * MINUTES);
  return vm;
}

async function sh(vm: Vm, cmd: string): Promise<string> {
  const r = await vm.ssh(cmd);
  if (r.code !== 0) throw new Error(`guest: \`${cmd}\` exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

describe('a stock Debian 12 cloud image with a --mode full control-plane seed', () => {
  let rig: Rig;
  const mac = '52:54:00:e2:e0:11';
  beforeAll(async () => {
    rig = await fullModeRig(mac);
  });
  afterAll(async () => rig?.stop());

  it('comes up as the planned node and first boot runs kubeadm init with the rendered config', async () => {
    const userData = readFileSync(join(rig.bed.dir, 'out/control-plane/seeds/cp1/user-data'), 'utf8');
    const vm = await bootNode(rig, mac, 3072);
    const marker = await firstbootMarker(vm, 30 * MINUTES);
    const failed = marker === 'failed' ? await sh(vm, 'sudo cat /var/lib/mkimage/firstboot.failed') : '';
    expect(marker, failed).toBe('done');

    // The node the plan describes: name, address on the NIC with the planned MAC, route, DNS.
    expect((await sh(vm, 'hostname')).trim()).toBe('cp1');
    const link = await sh(vm, `ip -o link | grep -i '${mac}'`);
    const nic = /^\d+: ([^:@]+)/.exec(link)?.[1];
    expect(nic, link).toBeTruthy();
    expect(await sh(vm, `ip -o -4 addr show dev ${nic}`)).toContain('10.0.2.15/24');
    expect(await sh(vm, 'ip route show default')).toContain(`default via ${GUEST_GATEWAY}`);
    expect(await sh(vm, 'resolvectl dns || cat /etc/resolv.conf')).toContain(GUEST_DNS);

    // Secret-bearing seed files are owner-only; the CA key the seed carries is there.
    const modes = await sh(vm, 'sudo stat -c "%a %n" /etc/kubernetes/mkimage/bootstrap.env /etc/kubernetes/mkimage/kubeadm.yaml /etc/kubernetes/pki/ca.key /usr/local/libexec/mkimage/firstboot.sh');
    expect(modes).toMatch(/^600 \/etc\/kubernetes\/mkimage\/bootstrap.env$/m);
    expect(modes).toMatch(/^600 \/etc\/kubernetes\/mkimage\/kubeadm.yaml$/m);
    expect(modes).toMatch(/^600 \/etc\/kubernetes\/pki\/ca.key$/m);
    expect(modes).toMatch(/^755 \/usr\/local\/libexec\/mkimage\/firstboot.sh$/m);

    // The container runtime runs: Debian's real Docker and the stand-in cri-dockerd behind its socket.
    expect((await sh(vm, 'systemctl is-active docker.service cri-docker.socket')).trim().split('\n')).toEqual(['active', 'active']);
    expect(await sh(vm, 'sudo docker version --format "{{.Server.Version}}"')).toMatch(/^20\.10\./);
    expect(await sh(vm, 'sudo test -S /run/cri-dockerd.sock && echo socket')).toContain('socket');
    // Held at the pinned versions from the local mirror.
    expect(await sh(vm, "dpkg-query -W -f '${Package}=${Version}\\n' kubeadm kubelet kubectl")).toBe('kubeadm=1.29.2-1.1\nkubectl=1.29.2-1.1\nkubelet=1.29.2-1.1\n');
    expect((await sh(vm, 'apt-mark showhold')).split('\n')).toEqual(expect.arrayContaining(['kubeadm', 'kubelet', 'kubectl', 'docker.io']));

    // First boot ran `kubeadm init` once, with the config the seed carried, and applied Calico with the pod subnet.
    const calls = await sh(vm, 'sudo cat /var/log/fake-kubeadm.calls');
    expect(calls.split('\n').filter((l) => /\binit\b/.test(l))).toHaveLength(1);
    expect(calls).toContain('init --config /etc/kubernetes/mkimage/kubeadm.yaml');
    const usedConfig = await sh(vm, 'sudo sh -c "cat /var/log/fake-kubeadm.*.config" | head -c 1000000');
    expect(usedConfig).toContain(seededFile(userData, '/etc/kubernetes/mkimage/kubeadm.yaml').trim());
    const applied = await sh(vm, 'sudo sh -c "cat /var/log/fake-kubectl.applied.*.yaml"');
    expect(applied).toMatch(/- name: CALICO_IPV4POOL_CIDR\n\s+value: "10\.244\.0\.0\/16"/);
    expect(await sh(vm, 'sudo cat /var/lib/mkimage/firstboot.done')).toContain('node: cp1');
    expect(await sh(vm, 'cloud-init status --long || true')).toMatch(/status: done/);
  });
});

describe('a --mode full seed whose install phase fails (kubeadm missing from the mirror)', () => {
  let rig: Rig;
  const mac = '52:54:00:e2:e0:12';
  beforeAll(async () => {
    rig = await fullModeRig(mac, { omitPackages: ['kubeadm'] });
  });
  afterAll(async () => rig?.stop());

  it('leaves firstboot.failed naming the step and its output, and `mkimage cluster status` reports it over SSH', async () => {
    const vm = await bootNode(rig, mac, 2048);
    expect(await firstbootMarker(vm, 20 * MINUTES)).toBe('failed');
    const failed = await sh(vm, 'sudo cat /var/lib/mkimage/firstboot.failed');
    expect(failed).toMatch(/^reason: packages failed \(exit \d+\)$/m);
    expect(failed).toMatch(/^phase: install$/m);
    expect(failed).toMatch(/kubeadm/);
    expect(await sh(vm, 'sudo stat -c %a /var/lib/mkimage/firstboot.failed')).toBe('600\n');
    // No kubeadm ever ran.
    expect((await vm.ssh('test -e /var/log/fake-kubeadm.calls')).code).not.toBe(0);

    const status = rig.bed.mkimage(['cluster', 'status', 'cp1', '--host', '127.0.0.1', '--port', String(vm.sshPort), '-i', rig.bed.key, '--known-hosts', join(rig.bed.dir, 'known_hosts'), '--json']);
    expect(status.status, `${status.stderr}\n${tail(vm.serialLog)}`).toBe(3);
    const report = JSON.parse(status.stdout) as { state: string; phase: string; reason: string };
    expect(report.state).toBe('failed');
    expect(report.phase).toBe('install');
    expect(report.reason).toMatch(/packages failed/);
  });
});
