// A real golden-image build and its first boot: `mkimage control-plane --build` runs Debian's packer 1.6.6 on the
// rendered out/control-plane/packer directory, unedited (only the cloud image is given, through Packer's own
// PKR_VAR_ variables, since the real one is on the internet), from the e2e base image under QEMU TCG. The bake,
// pre-pull, self-check (with the stand-in cri-dockerd, a real Go binary) and clean-up all run in the build VM. Then
// the golden image boots with cp1's baked-mode seed and first boot must reach firstboot.done.

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRig, tail, until, type Rig } from './bed.js';
import { bootVm } from './vm/qemu.js';

const MINUTES = 60_000;

function findFiles(dir: string, re: RegExp): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (re.test(e.name)) found.push(p);
    }
  };
  walk(dir);
  return found;
}

describe('the control-plane golden image, built for real and booted', () => {
  let rig: Rig;
  const mac = '52:54:00:e2:e0:21';
  beforeAll(async () => {
    rig = await startRig({ mac });
  });
  afterAll(async () => rig?.stop());

  it('packer builds the rendered directory into a qcow2 whose first boot reaches firstboot.done', async () => {
    const { bed, base, mirror } = rig;
    const log = join(bed.dir, 'build.log');
    const started = Date.now();
    const code = await bed.mkimageAsync(['control-plane', '--build'], log, {
      env: { PKR_VAR_cloud_image_url: `file://${base}`, PKR_VAR_cloud_image_checksum: 'none' },
    });
    const seconds = Math.round((Date.now() - started) / 1000);
    expect(code, tail(log, 120)).toBe(0);
    const buildLog = tail(log, 100000);
    for (const phase of ['bake', 'prepull', 'selfcheck', 'cleanup']) expect(buildLog).toContain(`[${phase}]`);
    expect(buildLog).toContain('mkimage[selfcheck]: the image matches its plan');
    expect(buildLog).not.toMatch(/mkimage\[selfcheck\]: FAIL/);

    const images = findFiles(bed.dir, /\.qcow2$/).filter((p) => !p.includes('/out/'));
    expect(images, `no qcow2 outside out/ in ${bed.dir}`).toHaveLength(1);
    const image = images[0]!;
    const mb = Math.round(statSync(image).size / 2 ** 20);
    console.log(`e2e: golden image build took ${seconds} s under TCG; ${image} is ${mb} MiB`);

    // First boot of the golden image with cp1's seed (baked mode: only the boot phase is in the seed).
    const seed = join(bed.dir, 'out/control-plane/seeds/cp1/seed.iso');
    const vm = await bootVm({ baseImage: image, seedIso: seed, seedInterface: 'cdrom', mac, memoryMiB: 3072, cpus: 2 });
    rig.vm = vm;
    await vm.waitForSsh(bed.admin, bed.key, 15 * MINUTES);
    const marker = await until(
      async () => {
        const r = await vm.ssh('sudo test -e /var/lib/mkimage/firstboot.done && echo done || { sudo test -e /var/lib/mkimage/firstboot.failed && sudo cat /var/lib/mkimage/firstboot.failed; } || true');
        return r.stdout.trim() === '' ? undefined : r.stdout.trim();
      },
      20 * MINUTES,
      'a first-boot marker',
    );
    expect(marker).toBe('done');
    // What the image brought: the build user is gone, the pre-pulled stand-in images are there, kubeadm ran init once.
    expect((await vm.ssh('getent passwd mkimage-build')).code).not.toBe(0);
    expect((await vm.ssh('hostname')).stdout.trim()).toBe('cp1');
    const imagesOnNode = (await vm.ssh('sudo docker images --format "{{.Repository}}:{{.Tag}}"')).stdout;
    expect(imagesOnNode).toContain(`${mirror.registry('10.0.2.2')}/google_containers/kube-apiserver:v1.29.2`);
    expect(imagesOnNode).toContain(`${mirror.registry('10.0.2.2')}/calico/node:v3.27.3`);
    const calls = (await vm.ssh('sudo cat /var/log/fake-kubeadm.calls')).stdout;
    expect(calls).toContain('init --config /etc/kubernetes/mkimage/kubeadm.yaml');
  });
});
