// The Flatcar LAN-boot chain under QEMU TCG, as far as it can go here: QEMU's own iPXE ROM (SeaBIOS, user networking
// with tftp= and bootfile=) runs the real chain script, the real `mkimage pxe serve` on 127.0.0.1 answers boot.ipxe for
// a pending Flatcar node with Flatcar's kernel line, and iPXE fetches the kernel and the initrd. Those are STAND-INs
// (Flatcar's images cannot be fetched here), so the boot stops there: iPXE cannot execute them. The directory is laid
// out with mkimage's own writers (pxe.json from src/pxe/manifest.ts, the chain script from src/pxe/boot-files.ts, the
// real install config), with STAND-IN bytes for the kernels and the node's own config.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { renderInstallConfig } from '../../src/flatcar/install-config.js';
import { chainScript } from '../../src/pxe/boot-files.js';
import { FLATCAR_CHANNEL, FLATCAR_IMAGE_FILE, FLATCAR_SIGNATURE_FILE, FLATCAR_VERSION, flatcarImageBase } from '../../src/pxe/flatcar.js';
import { manifestJson } from '../../src/pxe/manifest.js';
import { makeBed, type Bed } from './bed.js';
import { startServe, type Serve } from './lan-server.js';
import { bootVm, freePort, GUEST_ADDRESS, type Vm } from './vm/qemu.js';

const MINUTE = 60_000;
const MAC = '52:54:00:66:10:31';
const NODE = 'flatcar1';

let bed: Bed;
let port: number;
let dir: string;
let vm: Vm | undefined;
let serve: Serve | undefined;

beforeAll(async () => {
  bed = makeBed({ mac: MAC });
  port = await freePort();
  dir = join(bed.dir, 'out/pxe-flatcar');
  const put = (rel: string, content: string | Buffer, mode = 0o644) => {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), content, { mode });
  };
  put('installer/vmlinuz', 'STAND-IN installer kernel (not used by a Flatcar node)\n');
  put('installer/initramfs.cpio.gz', 'STAND-IN installer initramfs (not used by a Flatcar node)\n');
  put('flatcar/flatcar_production_pxe.vmlinuz', `STAND-IN flatcar_production_pxe.vmlinuz for mkimage tests (not a kernel)\n${'k'.repeat(64 * 1024)}\n`);
  put('flatcar/flatcar_production_pxe_image.cpio.gz', `STAND-IN flatcar_production_pxe_image.cpio.gz for mkimage tests\n${'i'.repeat(128 * 1024)}\n`);
  const imageDir = `${flatcarImageBase()}/${FLATCAR_VERSION}`;
  put(`${imageDir}/${FLATCAR_IMAGE_FILE}`, 'STAND-IN flatcar_production_image.bin.bz2 for mkimage tests (not an image)\n');
  put(`${imageDir}/${FLATCAR_SIGNATURE_FILE}`, 'STAND-IN flatcar_production_image.bin.bz2.sig for mkimage tests (not a signature)\n');
  put(`ignition/${NODE}/install.ign`, renderInstallConfig({ node: NODE, channel: FLATCAR_CHANNEL, version: FLATCAR_VERSION, base: flatcarImageBase(), sshAuthorizedKeys: [] }).text, 0o600);
  put(`ignition/${NODE}/node.ign`, '{"ignition":{"version":"3.3.0"}}\n', 0o600);
  put('tftp/boot.ipxe', chainScript(`http://\${next-server}:${port}`));
  put('pxe.json', manifestJson({
    cluster: 'e2e',
    server: `http://\${next-server}:${port}`,
    kernel: 'installer/vmlinuz',
    initrd: 'installer/initramfs.cpio.gz',
    kernelVersion: '0.0.0-stand-in',
    flatcar: {
      channel: FLATCAR_CHANNEL, version: FLATCAR_VERSION, kernel: 'flatcar/flatcar_production_pxe.vmlinuz', initrd: 'flatcar/flatcar_production_pxe_image.cpio.gz',
      base: flatcarImageBase(), image: `${imageDir}/${FLATCAR_IMAGE_FILE}`, signature: `${imageDir}/${FLATCAR_SIGNATURE_FILE}`,
    },
    role: 'worker',
    nodes: [{ name: NODE, role: 'worker', mac: MAC, ip: GUEST_ADDRESS, ignition: `ignition/${NODE}` }],
  }));
}, 5 * MINUTE);

afterEach(async () => {
  await vm?.stop();
  vm = undefined;
  await serve?.stop();
  serve = undefined;
});

afterAll(() => {
  bed?.remove();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('Flatcar LAN boot in QEMU (TCG), up to the stand-in kernel', () => {
  it('BIOS: iPXE chains boot.ipxe, the pending node gets Flatcar\'s kernel line and becomes installing, and iPXE fetches the kernel and initrd', async () => {
    serve = await startServe(bed, { dir: 'out/pxe-flatcar', port, state: join(bed.dir, 'state-flatcar.json') });
    const t0 = Date.now();
    vm = await bootVm({ blankDisk: '1G', netBoot: { tftpDir: join(dir, 'tftp'), bootfile: 'boot.ipxe' }, mac: MAC, memoryMiB: 512 });
    const initrd = await serve.waitFor(
      (l) => l.event === 'request' && l.path === '/flatcar/flatcar_production_pxe_image.cpio.gz',
      8 * MINUTE,
      'iPXE fetching the Flatcar initrd',
    );
    console.log(`Flatcar chain (power on -> initrd fetched): ${Math.round((Date.now() - t0) / 1000)} s`);
    expect(initrd).toMatchObject({ status: 200, method: 'GET' });
    const lines = serve.requests().map((l) => `${l.method} ${l.path} ${l.status}${l.state ? ` ${l.state}` : ''}`);
    expect(lines).toEqual(expect.arrayContaining(['GET /boot.ipxe 200 installing', 'GET /flatcar/flatcar_production_pxe.vmlinuz 200', 'GET /flatcar/flatcar_production_pxe_image.cpio.gz 200']));
    const order = ['/boot.ipxe', '/flatcar/flatcar_production_pxe.vmlinuz', '/flatcar/flatcar_production_pxe_image.cpio.gz'];
    const at = order.map((p) => serve!.requests().findIndex((l) => l.path === p));
    expect(at).toEqual([...at].sort((a, b) => a - b));
    // the request came from the machine with its MAC (QEMU's user networking: from 127.0.0.1)
    expect(serve.requests().find((l) => l.path === '/boot.ipxe')).toMatchObject({ mac: MAC, node: NODE });
    const state = JSON.parse(readFileSync(join(bed.dir, 'state-flatcar.json'), 'utf8')).machines[0];
    expect(state).toMatchObject({ node: NODE, state: 'installing', attempts: 1 });
    // iPXE's own console says what it fetched; it cannot run the stand-in, so nothing fetches the configs
    await vm.waitForSerial(/flatcar_production_pxe_image\.cpio\.gz\.\.\. ok/, 2 * MINUTE);
    expect(vm.serial()).toContain(`http://10.0.2.2:${port}/flatcar/flatcar_production_pxe.vmlinuz... ok`);
    expect(serve.requests().filter((l) => String(l.path).startsWith('/ignition/'))).toEqual([]);
  }, 10 * MINUTE);
});
