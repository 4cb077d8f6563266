// e2e smoke test of the VM test bed: the Debian 12 base image (built from Debian's packages by
// test/e2e/vm/base-image.sh, cached) boots under QEMU TCG with a NoCloud seed written by mkimage's own ISO
// writer, and the guest shows over SSH what the seed asked for. Nothing is mocked: real debootstrap, real
// QEMU, real cloud-init in the guest. Slow (minutes under TCG): the whole file may take 25 minutes.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSeedIso } from '../../src/iso/iso9660.js';
import { tool } from '../helpers/tools.js';
import { ensureBaseImage } from './vm/base-image.js';
import { bootVm, GUEST_DNS, GUEST_GATEWAY, type Vm } from './vm/qemu.js';

const MINUTE = 60_000;
const MAC = '52:54:00:e2:e0:01';
const BOOT_TIMEOUT = 12 * MINUTE;
// cloud-final prints this on the console when the whole of cloud-init is done
const CLOUD_INIT_DONE = /Cloud-init v\. \S+ finished at/;

let dir: string;
let key: string;
let base: string;
let vm: Vm | undefined;
const timings: Record<string, number> = {};

function seedFiles(pubKey: string) {
  const userData = [
    '#cloud-config',
    'hostname: smoke1',
    'users:',
    '  - name: e2e',
    '    shell: /bin/bash',
    "    sudo: 'ALL=(ALL) NOPASSWD:ALL'",
    '    lock_passwd: true',
    '    ssh_authorized_keys:',
    `      - ${pubKey}`,
    'write_files:',
    '  - path: /etc/e2e/secret',
    '    content: "smoke secret\\n"',
    "    permissions: '0600'",
    '',
  ].join('\n');
  const metaData = 'instance-id: smoke1-0001\nlocal-hostname: smoke1\n';
  // the same shape src/emit/netplan.ts emits: matched by MAC, renamed, static, routes (not gateway4)
  const networkConfig = [
    'version: 2',
    'ethernets:',
    '  lan0:',
    '    match:',
    `      macaddress: "${MAC}"`,
    '    set-name: lan0',
    '    dhcp4: false',
    '    addresses: [10.0.2.15/24]',
    '    routes:',
    `      - { to: 0.0.0.0/0, via: ${GUEST_GATEWAY} }`,
    '    nameservers:',
    `      addresses: [${GUEST_DNS}]`,
    '',
  ].join('\n');
  return [
    { name: 'user-data', content: userData },
    { name: 'meta-data', content: metaData },
    { name: 'network-config', content: networkConfig },
  ];
}

describe('e2e VM test bed: Debian 12 base image under QEMU TCG', { timeout: 25 * MINUTE }, () => {
  beforeAll(async () => {
    // A missing tool fails here (never a skip), under CI=true or not.
    for (const t of ['qemu-system-x86_64', 'qemu-img', 'debootstrap', 'ssh', 'ssh-keygen']) tool(t);
    dir = mkdtempSync(join(tmpdir(), 'mkimage-e2e-vm-'));
    key = join(dir, 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'e2e@mkimage-test', '-f', key]);

    let t = Date.now();
    base = await ensureBaseImage();
    timings.baseImageMs = Date.now() - t;

    const seed = join(dir, 'seed.iso');
    writeFileSync(seed, writeSeedIso(seedFiles(readFileSync(`${key}.pub`, 'utf8').trim())));
    t = Date.now();
    vm = await bootVm({ baseImage: base, seedIso: seed, mac: MAC });
    await vm.waitForSerial(CLOUD_INIT_DONE, BOOT_TIMEOUT);
    timings.bootToCloudInitDoneMs = Date.now() - t;
    await vm.waitForSsh('e2e', key, 3 * MINUTE);
    timings.bootToSshMs = Date.now() - t;
    process.stderr.write(`[vm.test] timings: ${JSON.stringify(timings)}\n`);
  }, 25 * MINUTE);

  afterAll(async () => {
    await vm?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const sh = async (cmd: string) => {
    const r = await vm!.ssh(cmd);
    expect(r.code, `${cmd}\n${r.stderr}`).toBe(0);
    return r.stdout;
  };

  it('takes the hostname from the seed', async () => {
    expect((await sh('hostname')).trim()).toBe('smoke1');
  });

  it('puts the static address on the NIC matched by MAC, renamed lan0, not from DHCP', async () => {
    const links = JSON.parse(await sh('ip -j addr show')) as Array<{
      ifname: string;
      address?: string;
      addr_info: Array<{ family: string; local: string; prefixlen: number; dynamic?: boolean }>;
    }>;
    const nic = links.find((l) => l.address === MAC);
    expect(nic, JSON.stringify(links)).toBeDefined();
    expect(nic!.ifname).toBe('lan0');
    const v4 = nic!.addr_info.filter((a) => a.family === 'inet');
    expect(v4.map((a) => `${a.local}/${a.prefixlen}`)).toEqual(['10.0.2.15/24']);
    expect(v4[0]!.dynamic).toBeUndefined(); // a DHCP lease would be "dynamic"
  });

  it('routes by default through 10.0.2.2 on lan0', async () => {
    const routes = JSON.parse(await sh('ip -j route show default')) as Array<{ gateway?: string; dev: string }>;
    expect(routes).toEqual([expect.objectContaining({ dst: 'default', gateway: GUEST_GATEWAY, dev: 'lan0' })]);
  });

  it('resolves through systemd-resolved with 10.0.2.3 as the link DNS server', async () => {
    expect((await sh('readlink /etc/resolv.conf')).trim()).toMatch(/stub-resolv\.conf$/);
    expect(await sh('cat /etc/resolv.conf')).toMatch(/^nameserver 127\.0\.0\.53$/m);
    expect(await sh('resolvectl dns lan0')).toContain(GUEST_DNS);
  });

  it('rendered the network with netplan (systemd-networkd), not ifupdown', async () => {
    expect(await sh('sudo cat /etc/netplan/50-cloud-init.yaml')).toContain('10.0.2.15/24');
    expect((await sh('networkctl list lan0 --no-legend')).trim()).toMatch(/lan0\s+ether\s+routable\s+configured/);
    const ifupdown = await vm!.ssh("dpkg-query -W -f='${db:Status-Abbrev}' ifupdown");
    expect(ifupdown.stdout.trim(), 'ifupdown is installed').not.toMatch(/^ii/);
  });

  it('wrote the file with mode 600', async () => {
    expect((await sh('sudo stat -c "%a %U %s" /etc/e2e/secret')).trim()).toBe('600 root 13');
  });

  it('finished cloud-init from the NoCloud seed without errors', async () => {
    const r = await vm!.ssh('cloud-init status --long');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^status: done$/m);
    expect(r.stdout).toMatch(/^detail:\s*\n?\s*DataSourceNoCloud/m);
    expect(r.stdout).not.toMatch(/^errors: \[.+\]/m);
    expect(await sh('sudo grep -c -E "(WARNING|ERROR)" /var/log/cloud-init.log || true')).toBe('0\n');
  });

  it('regenerated the SSH host keys and a machine-id on first boot', async () => {
    expect((await sh('ls /etc/ssh/ | grep -c "^ssh_host_.*_key$"')).trim()).not.toBe('0');
    expect((await sh('cat /etc/machine-id')).trim()).toMatch(/^[0-9a-f]{32}$/);
  });

  it('grew the root partition to the disk (growpart)', async () => {
    const df = (await sh('df -B1 --output=size / | tail -1')).trim();
    expect(Number(df)).toBeGreaterThan(2.5 * 1024 ** 3);
  });
});
