// A real network boot under QEMU TCG: `mkimage pxe build`, the real `mkimage pxe serve` on 127.0.0.1 (spawned through
// the CLI), QEMU's own iPXE ROM on a virtio NIC with user networking (tftp= out/pxe/tftp, bootfile=), blank disks.
//   1. BIOS (SeaBIOS): the installer streams the golden image (the e2e base image, root shrunk: ./lan-images.ts) onto
//      the larger of two blank disks, writes the seed, reports done and reboots; the next network boot gets
//      `sanboot` from the server, the disk boots and cloud-init finds the seed on it (checked over SSH).
//   2. UEFI (OVMF): the same install path with a small GPT image (ESP + ext4), done reported, the next boot.ipxe
//      answers `exit` for efi; the disk is checked offline with debugfs (the image is BIOS-only, so it is not booted).
//   3. A corrupt image (bytes changed after pxe build recorded the sum) ends in `failed` with the log tail in
//      `pxe status`; the VM does not reboot and the disk it picked (by mkimage.disk=id:, the smaller one) is wiped.
//   4. An unknown MAC through the pxelinux chain (pxelinux.0 -> ipxe.lkrn + boot.ipxe), powered on before the server
//      is up: the chain script retries, then the server answers `exit`.
// Wall times of each boot are printed.

import { closeSync, cpSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { request } from 'node:http';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeBed, tail, type Bed } from './bed.js';
import { debugfs, lanBaseImage, partitions, rawCopy, smallGptImage } from './lan-images.js';
import { startServe, type LogLine, type Serve } from './lan-server.js';
import { ensureBaseImage } from './vm/base-image.js';
import { bootVm, freePort, GUEST_ADDRESS, GUEST_DNS, GUEST_GATEWAY, type Vm } from './vm/qemu.js';

const MINUTE = 60_000;
const MAC = '52:54:00:66:10:21';
const UNKNOWN_MAC = '52:54:00:de:ad:01';
const NODE = 'worker1';

let bed: Bed;
let port: number;
let golden: string;
let smallOut: string;
let vm: Vm | undefined;
let serve: Serve | undefined;
const scratch: string[] = [];
const timings: string[] = [];

function time(what: string, since: number): void {
  timings.push(`${what}: ${Math.round((Date.now() - since) / 1000)} s`);
}

/** The bed's one node as a worker (the VM: its MAC, 10.0.2.15), and a control plane elsewhere. */
function lanCluster(b: Bed): void {
  const doc = parseDocument(readFileSync(b.cluster, 'utf8'));
  doc.setIn(['controlPlaneEndpoint'], '10.0.2.10:6443');
  doc.setIn(['nodes', 0, 'mac'], '52:54:00:66:10:11');
  doc.setIn(['nodes', 0, 'ip'], '10.0.2.10/24');
  const worker = doc.createNode({ name: NODE, role: 'worker', mac: MAC, ip: `${GUEST_ADDRESS}/24`, gateway: GUEST_GATEWAY, dns: [GUEST_DNS] });
  (doc.get('nodes') as { add(n: unknown): void }).add(worker);
  writeFileSync(b.cluster, doc.toString());
}

/** pxe build into out/<name> with the image, the chain script pointing at ${next-server}:port. */
async function pxeBuild(name: string, image: string): Promise<string> {
  const log = join(bed.dir, `${name}.log`);
  const started = Date.now();
  // the Debian packages are cached where the unit tests keep them, not in the bed's throw-away cache
  const env = { XDG_CACHE_HOME: process.env.XDG_CACHE_HOME || join(homedir(), '.cache') };
  const code = await bed.mkimageAsync(['pxe', 'build', '--image', image, '--server', `http://\${next-server}:${port}`, '--out', `out/${name}`], log, { env });
  expect(code, tail(log)).toBe(0);
  time(`pxe build ${name}`, started);
  return join(bed.dir, 'out', name);
}

async function serveDir(dir: string, state: string): Promise<Serve> {
  serve = await startServe(bed, { dir, port, state: join(bed.dir, state) });
  return serve;
}

/** GET boot.ipxe as the machine would, with the Host the guest uses (the server builds its URLs from it). */
function bootScript(mac: string, platform: 'pcbios' | 'efi'): Promise<string> {
  return new Promise((resolve, reject) => {
    const path = `/boot.ipxe?mac=${mac.replace(/:/g, '-')}&uuid=00000000-0000-0000-0000-000000000000&platform=${platform}`;
    const req = request({ host: '127.0.0.1', port, path, headers: { host: `10.0.2.2:${port}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (s: string) => (body += s));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

const isRequest = (path: RegExp, extra: (l: LogLine) => boolean = () => true) => (l: LogLine) =>
  l.event === 'request' && typeof l.path === 'string' && path.test(l.path) && extra(l);

/** The request log as "METHOD path[ state]" lines. */
const requestLines = (s: Serve) => s.requests().map((l) => `${l.method} ${l.path}${l.state ? ` ${l.state}` : ''}`);

/** Whether `lines` holds `wanted` in this order (other lines may come between). */
function inOrder(lines: string[], wanted: RegExp[]): boolean {
  let i = 0;
  for (const l of lines) if (i < wanted.length && wanted[i]!.test(l)) i++;
  return i === wanted.length;
}

const seedOf = (dir: string, f: string) => readFileSync(join(dir, 'seeds', NODE, f), 'utf8');

beforeAll(async () => {
  const started = Date.now();
  const base = await ensureBaseImage();
  golden = lanBaseImage(base);
  const small = smallGptImage();
  time('golden images (cached after the first run)', started);
  bed = makeBed({ mac: MAC });
  lanCluster(bed);
  port = await freePort();
  smallOut = await pxeBuild('pxe-small', small);
}, 30 * MINUTE);

afterEach(async () => {
  await vm?.stop();
  vm = undefined;
  await serve?.stop();
  serve = undefined;
});

afterAll(() => {
  bed?.remove();
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
  console.log(`LAN boot wall times (TCG):\n  ${timings.join('\n  ')}`);
});

describe('LAN boot in QEMU (TCG)', () => {
  it('BIOS: installs the golden image on the larger blank disk, reboots into it, and cloud-init finds the seed', async () => {
    const out = await pxeBuild('pxe', golden);
    const s = await serveDir('out/pxe', 'state-bios.json');
    const t0 = Date.now();
    vm = await bootVm({
      blankDisk: '4G',
      extraDisks: [{ size: '1G' }],
      netBoot: { tftpDir: join(out, 'tftp'), bootfile: 'boot.ipxe' },
      mac: MAC,
    });
    await vm.waitForSerial(/mkimage-installer: done: rebooting/, 12 * MINUTE);
    time('BIOS install (power on -> done)', t0);
    expect(vm.serial()).toMatch(/mkimage-installer: target disk: \/dev\/vda \(4096 MiB\)/);
    expect(vm.serial()).toMatch(/mkimage-installer: image written and verified/);
    const t1 = Date.now();
    await s.waitFor(isRequest(/^\/boot\.ipxe$/, (l) => l.state === 'installed'), 5 * MINUTE, 'the network boot after the install');
    await vm.waitForSsh(bed.admin, bed.key, 10 * MINUTE);
    time('BIOS reboot -> sanboot -> SSH up', t1);

    // cloud-init restarts sshd right after the first login can succeed (new host keys): an ssh-level failure
    // (exit 255) is retried a few times, a failing command is not
    const sh = async (cmd: string) => {
      let r = await vm!.ssh(cmd);
      for (let i = 0; i < 10 && r.code === 255; i++) {
        await new Promise((done) => setTimeout(done, 3000));
        r = await vm!.ssh(cmd);
      }
      expect(r.code, `${cmd}: ${r.stderr}`).toBe(0);
      return r.stdout.trim();
    };
    expect(await sh('hostname')).toBe(NODE);
    // cloud-init is done when result.json appears (its status may be an error: this image has no first-boot unit)
    await sh('sudo cloud-init status --wait >/dev/null || true');
    expect(await sh('sudo cat /run/cloud-init/result.json')).toContain('DataSourceNoCloud [seed=/var/lib/cloud/seed/nocloud]');
    // the glob is expanded by root: the directory is not readable by the admin
    expect(await sh(`sudo sh -c 'stat -c "%a %U %G %n" /var/lib/cloud/seed/nocloud /var/lib/cloud/seed/nocloud/*'`)).toBe(
      ['700 root root /var/lib/cloud/seed/nocloud', ...['meta-data', 'network-config', 'user-data'].map((f) => `600 root root /var/lib/cloud/seed/nocloud/${f}`)].join('\n'),
    );
    for (const f of ['meta-data', 'user-data', 'network-config']) {
      expect(await sh(`sudo cat /var/lib/cloud/seed/nocloud/${f}`), f).toBe(seedOf(out, f).trim());
    }
    const instanceId = /^instance-id: *(\S+)/m.exec(seedOf(out, 'meta-data'))![1]!;
    expect(await sh('sudo cat /var/lib/cloud/data/instance-id')).toBe(instanceId);
    expect(await sh('ip -4 -o addr show lan0')).toContain(`${GUEST_ADDRESS}/24`);
    // the root is on the disk the installer chose; the smaller disk was left alone
    expect(await sh('findmnt -n -o SOURCE /')).toMatch(/^\/dev\/vda\d+$/);
    expect(await sh('sudo wipefs -n /dev/vdb | wc -l')).toBe('0');

    expect(s.stderr()).toBe('');
    const lines = requestLines(s);
    expect(
      inOrder(lines, [
        /^GET \/boot\.ipxe installing$/,
        /^GET \/installer\/vmlinuz/,
        /^GET \/installer\/initramfs\.cpio\.gz/,
        /^GET \/images\/worker\.raw\.gz/,
        /^GET \/seed\/[^/]+\/meta-data/,
        /^GET \/seed\/[^/]+\/user-data/,
        /^GET \/seed\/[^/]+\/network-config/,
        /^POST \/done/,
        /^GET \/boot\.ipxe installed$/,
      ]),
      lines.join('\n'),
    ).toBe(true);
    // the installed machine boots from its disk: BIOS gets sanboot, never the installer again
    expect(await bootScript(MAC, 'pcbios')).toContain('sanboot --no-describe --drive 0x80 || exit');
    expect(lines.filter((l) => l.startsWith('GET /images/'))).toHaveLength(1);
  }, 30 * MINUTE);

  it('UEFI (OVMF): the same install path (initrd= on the kernel line), done, then boot.ipxe answers exit for efi', async () => {
    const out = smallOut;
    const s = await serveDir('out/pxe-small', 'state-uefi.json');
    const t0 = Date.now();
    vm = await bootVm({ blankDisk: '1G', firmware: 'uefi', netBoot: { tftpDir: join(out, 'tftp'), bootfile: 'boot.ipxe' }, mac: MAC, memoryMiB: 1024 });
    await vm.waitForSerial(/mkimage-installer: done: rebooting/, 10 * MINUTE);
    time('UEFI install (power on -> done)', t0);
    // the EFI stub finds the initrd only through initrd= (the image's name comes first under EFI)
    expect(vm.serial()).toMatch(/EFI stub: Loaded initrd from command line option/);
    expect(vm.serial()).toMatch(/Command line: (vmlinuz )?initrd=initramfs\.cpio\.gz /);
    expect(vm.serial()).toMatch(/mkimage-installer: root filesystem: \/dev\/vda2 \(ext4/); // the ext4, not the ESP
    await s.waitFor(isRequest(/^\/boot\.ipxe$/, (l) => l.state === 'installed'), 5 * MINUTE, 'the network boot after the install');
    const efi = await bootScript(MAC, 'efi');
    expect(efi).toMatch(/^exit$/m);
    expect(efi).not.toContain('sanboot');
    expect(efi).not.toContain('kernel');
    await vm.halt();

    const dir = mkdtempSync(join(tmpdir(), 'mkimage-lan-uefi-'));
    scratch.push(dir);
    const raw = rawCopy(vm.disks[0]!, dir);
    expect(partitions(raw).map((p) => p.start)).toEqual([2048, 34816]);
    expect(debugfs(raw, 1, 'cat /etc/hostname')).toBe('golden\n'); // the image's own root filesystem
    expect(debugfs(raw, 1, 'stat /var/lib/cloud/seed/nocloud')).toMatch(/Mode: +0700/);
    for (const f of ['meta-data', 'user-data', 'network-config']) {
      const st = debugfs(raw, 1, `stat /var/lib/cloud/seed/nocloud/${f}`);
      expect(st, f).toMatch(/Mode: +0600/);
      expect(st, f).toMatch(/User: +0 +Group: +0/);
      expect(debugfs(raw, 1, `cat /var/lib/cloud/seed/nocloud/${f}`), f).toBe(seedOf(out, f));
    }
    expect(inOrder(requestLines(s), [/^GET \/boot\.ipxe installing$/, /^GET \/images\/worker\.raw\.gz/, /^POST \/done/, /^GET \/boot\.ipxe installed$/])).toBe(true);
  }, 20 * MINUTE);

  it('a corrupt image ends in failed, with the log tail in pxe status; no reboot, and the chosen disk is wiped', async () => {
    const out = join(bed.dir, 'out/pxe-corrupt');
    cpSync(smallOut, out, { recursive: true });
    // change bytes in the middle of the image after its sum was recorded (same size: the server still serves it)
    const gz = join(out, 'images/worker.raw.gz');
    const size = statSync(gz).size;
    const fd = openSync(gz, 'r+');
    const mid = Buffer.alloc(512);
    readSync(fd, mid, 0, 512, Math.floor(size / 2));
    writeSync(fd, Buffer.from(mid.map((b) => b ^ 0x5a)), 0, 512, Math.floor(size / 2));
    closeSync(fd);
    const s = await serveDir('out/pxe-corrupt', 'state-corrupt.json');
    // The installer is booted straight from QEMU here (-kernel/-initrd) with the server's own kernel line (the server
    // hands it out as it would to iPXE: state installing, a fresh token), plus the test hook mkimage.disk=id:...
    // naming the smaller of two disks by its by-id name.
    const script = await bootScript(MAC, 'pcbios');
    const kernelLine = /^kernel \S+ (.*)$/m.exec(script)![1]!;
    const t0 = Date.now();
    vm = await bootVm({
      blankDisk: '2G',
      extraDisks: [{ size: '1G', serial: 'lanboot-target' }],
      mac: MAC,
      memoryMiB: 1024,
      noReboot: true,
      extraArgs: ['-kernel', join(out, 'installer/vmlinuz'), '-initrd', join(out, 'installer/initramfs.cpio.gz'), '-append', `${kernelLine} mkimage.disk=id:virtio-lanboot-target`],
    });
    await vm.waitForSerial(/mkimage-installer: stopped\./, 8 * MINUTE);
    time('corrupt image (power on -> stopped)', t0);
    const serial = vm.serial();
    expect(serial).toMatch(/mkimage-installer: target disk: \/dev\/vdb \(1024 MiB, mkimage.disk=id:virtio-lanboot-target\)/);
    expect(serial).toMatch(/mkimage-installer: FAILED: (streaming the image failed|the image's sha256 is)/);
    expect(serial).toMatch(/mkimage-installer: reported the failure/);
    expect(serial).not.toMatch(/image written and verified/);
    await s.waitFor(isRequest(/^\/failed$/), MINUTE, 'the failure report');
    // it stays stopped: no reboot (QEMU would exit on one, -no-reboot), no seed fetched
    await new Promise((r) => setTimeout(r, 10_000));
    expect(vm.running()).toBe(true);
    expect(requestLines(s).filter((l) => l.includes('/seed/') || l.startsWith('POST /done'))).toEqual([]);

    const status = bed.mkimage(['pxe', 'status', '--dir', 'out/pxe-corrupt', '--state', join(bed.dir, 'state-corrupt.json')]);
    expect(status.status, status.stderr).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`${NODE} +${MAC} +${GUEST_ADDRESS} +failed`));
    expect(status.stdout).toContain('mkimage-installer: FAILED:');
    expect(status.stdout).toContain('mkimage-installer: streaming http://10.0.2.2');

    await vm.halt();
    const dir = mkdtempSync(join(tmpdir(), 'mkimage-lan-corrupt-'));
    scratch.push(dir);
    const target = readFileSync(rawCopy(vm.disks[1]!, dir));
    expect(target.subarray(0, 1 << 20).every((b) => b === 0), 'first MiB of vdb zero').toBe(true);
    expect(target.subarray(target.length - (1 << 20)).every((b) => b === 0), 'last MiB of vdb zero').toBe(true);
    // and it had been written: the image's ESP starts at 1 MiB (its boot sector ends in 55 aa)
    expect(target.readUInt16BE((1 << 20) + 510)).toBe(0x55aa);
  }, 15 * MINUTE);

  it('an unknown MAC, booted through the pxelinux chain before the server is up, retries, then gets exit, and the server log names it', async () => {
    const out = smallOut;
    const t0 = Date.now();
    vm = await bootVm({ blankDisk: '1G', netBoot: { tftpDir: join(out, 'tftp'), bootfile: 'pxelinux.0' }, mac: UNKNOWN_MAC, memoryMiB: 512 });
    // no server yet: the chain script waits and asks again instead of falling through to the disk
    await vm.waitForSerial(/boot\.ipxe did not answer, trying again in 10 s/, 3 * MINUTE);
    expect(vm.serial()).not.toMatch(/Booting from Hard Disk/);
    const s = await serveDir('out/pxe-small', 'state-unknown.json');
    await s.waitFor((l) => l.event === 'unknown-mac' && l.mac === UNKNOWN_MAC, 5 * MINUTE, 'the unknown MAC in the server log');
    await vm.waitForSerial(/Booting from Hard Disk/, 2 * MINUTE);
    time('unknown MAC via pxelinux (power on -> exit)', t0);
    // without the terminal escapes pxelinux writes between characters of its banner
    const serial = vm.serial().replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
    expect(serial).toContain('PXELINUX 6.04');
    expect(serial).toMatch(/Loading ipxe\.lkrn\.\.\. ?ok/);
    expect(serial.replace(/\r?\n/g, '')).toContain(`mkimage: no node has MAC ${UNKNOWN_MAC}`);
    expect(s.requests().filter((l) => l.path === '/installer/vmlinuz')).toEqual([]);
  }, 10 * MINUTE);
});
