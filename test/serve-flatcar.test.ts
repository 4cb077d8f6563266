// `mkimage pxe serve` for Flatcar nodes over real HTTP on 127.0.0.1: /boot.ipxe per state and platform (Flatcar's PXE
// kernel with flatcar.first_boot=1 and ignition.config.url, initrd=<name> always; local boot once installed), the two
// Ignition configs through the seeds' gate (token, planned address, installing only), the STAND-IN kernel, initrd, OS
// image and signature served as files (HEAD, ranges), and pxe.json checks. Clients bind 127.0.0.x (Linux routes all of 127/8 to lo).

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { checkManifest } from '../src/serve/manifest.js';
import { startPxeServe, type RunningServe } from '../src/serve/run.js';
import { fetchRaw, ignitionText, makePxeFixture, removePxeFixtures, tokenIn, type PxeFixture } from './serve-fixture.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const F1 = { name: 'flatcar1', mac: '52:54:00:66:00:31', ip: '127.0.0.2', flatcar: true };
const F2 = { name: 'flatcar2', mac: '52:54:00:66:00:32', ip: '127.0.0.3', flatcar: true, disk: 'id:virtio-disk0' };
const W1 = { name: 'worker1', mac: '52:54:00:66:00:21', ip: '127.0.0.4' };

const running: RunningServe[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
});
afterAll(removePxeFixtures);

async function serve(fx: PxeFixture) {
  const lines: string[] = [];
  const r = await startPxeServe({ dir: 'out/pxe', cwd: fx.cwd, host: '127.0.0.1', port: 0, natSources: [], logSink: (s) => lines.push(s) });
  expect(r.diagnostics).toEqual([]);
  running.push(r.running!);
  const url = r.running!.url;
  const base = `http://${new URL(url).host}`;
  return {
    fx,
    url,
    base,
    async boot(mac: string, platform = 'pcbios') {
      const a = await fetchRaw(`${url}/boot.ipxe?mac=${mac}&uuid=1234&platform=${platform}`);
      expect(a.status).toBe(200);
      return a.text;
    },
    get: (path: string, from?: string) => fetchRaw(`${url}${path}`, { localAddress: from }),
    machine: (mac: string) =>
      (JSON.parse(readFileSync(join(fx.cwd, 'clusters', fx.cluster, 'pxe-state.json'), 'utf8')) as { machines: Array<Record<string, unknown>> }).machines.find((m) => m.mac === mac)!,
    async logs() {
      await new Promise((res) => setImmediate(res));
      return lines.join('').trimEnd().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    },
  };
}

const flatcarScript = (base: string, token: string, node: string, extra = '') =>
  '#!ipxe\n' +
  `kernel ${base}/flatcar/flatcar_production_pxe.vmlinuz initrd=flatcar_production_pxe_image.cpio.gz flatcar.first_boot=1 ` +
  `ignition.config.url=${base}/ignition/${token}/install.ign console=tty0 console=ttyS0,115200n8 mkimage.server=${base} ` +
  `mkimage.node=${node} mkimage.token=${token}${extra}\n` +
  `initrd ${base}/flatcar/flatcar_production_pxe_image.cpio.gz\nboot\n`;

describe('/boot.ipxe for a Flatcar node', () => {
  it.each(['pcbios', 'efi'])('%s: pending -> Flatcar\'s PXE kernel with Ignition and the install config under a new token; installing -> the same; installed -> local boot', async (platform) => {
    const s = await serve(makePxeFixture({ nodes: [F1, W1], image: false }));
    expect(s.machine(F1.mac)).toMatchObject({ state: 'pending', attempts: 0 });
    const first = await s.boot('52-54-00-66-00-31', platform);
    const token = tokenIn(first)!;
    expect(token).toMatch(/^[A-Za-z0-9_-]{24}$/);
    // the same script on BIOS and UEFI: initrd=<name> is always on the kernel line
    expect(first).toBe(flatcarScript(s.base, token, 'flatcar1'));
    expect(s.machine(F1.mac)).toMatchObject({ state: 'installing', attempts: 1, token });
    // rebooted during its install: the same script, the same token
    expect(await s.boot('52-54-00-66-00-31', platform)).toBe(first);
    expect(s.machine(F1.mac)).toMatchObject({ state: 'installing', attempts: 1 });
    const done = await fetchRaw(`${s.url}/done?token=${token}`, { method: 'POST', localAddress: F1.ip });
    expect(done.status).toBe(200);
    expect(s.machine(F1.mac)).toMatchObject({ state: 'installed' });
    expect(await s.boot('52-54-00-66-00-31', platform)).toBe(platform === 'efi' ? '#!ipxe\nexit\n' : '#!ipxe\nsanboot --no-describe --drive 0x80 || exit\n');
    // no golden image was needed for it; the cloud-init worker beside it still waits for one
    expect(await s.boot('52-54-00-66-00-21', platform)).toContain('no golden image for role worker');
    expect(s.machine(W1.mac)).toMatchObject({ state: 'pending' });
  });

  it('the node\'s planned disk goes on the kernel line for the install unit', async () => {
    const s = await serve(makePxeFixture({ nodes: [F2] }));
    const script = await s.boot('52-54-00-66-00-32');
    expect(script).toBe(flatcarScript(s.base, tokenIn(script)!, 'flatcar2', ' mkimage.disk=id:virtio-disk0'));
  });

  it('failed -> a message naming pxe retry, and it polls', async () => {
    const s = await serve(makePxeFixture({ nodes: [F1] }));
    const token = tokenIn(await s.boot('52-54-00-66-00-31'))!;
    const r = await fetchRaw(`${s.url}/failed?token=${token}`, { method: 'POST', body: 'mkimage-flatcar-install: FAILED: flatcar-install exited 1\n', localAddress: F1.ip });
    expect(r.status).toBe(200);
    expect(s.machine(F1.mac)).toMatchObject({ state: 'failed', failure: { tail: expect.stringContaining('flatcar-install exited 1') } });
    const script = await s.boot('52-54-00-66-00-31', 'efi');
    expect(script).toContain('flatcar1 failed to install');
    expect(script).toContain('mkimage pxe retry flatcar1');
    expect(script).not.toContain('kernel ');
  });

  it('serves the STAND-IN kernel and initrd byte for byte, with ranges', async () => {
    const s = await serve(makePxeFixture({ nodes: [F1] }));
    const k = await s.get('/flatcar/flatcar_production_pxe.vmlinuz');
    expect(k.status).toBe(200);
    expect(k.body.equals(s.fx.flatcarKernel!)).toBe(true);
    const i = await fetchRaw(`${s.url}/flatcar/flatcar_production_pxe_image.cpio.gz`, { headers: { range: 'bytes=0-8' } });
    expect(i.status).toBe(206);
    expect(i.text).toBe('STAND-IN ');
  });

  it('serves the STAND-IN OS image and signature where flatcar-install -b looks: HEAD (its wget --spider), GET, a range; to any address, outside the gate', async () => {
    const s = await serve(makePxeFixture({ nodes: [F1] }));
    const image = '/flatcar/amd64-usr/4152.2.0/flatcar_production_image.bin.bz2';
    const head = await fetchRaw(`${s.url}${image}`, { method: 'HEAD', localAddress: '127.0.0.9' }); // no node's address
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String(s.fx.flatcarImage!.length));
    expect(head.headers['content-type']).toBe('application/x-bzip2');
    expect(head.headers['accept-ranges']).toBe('bytes');
    expect(head.body.length).toBe(0);
    const whole = await s.get(image);
    expect(whole.status).toBe(200);
    expect(sha256(whole.body)).toBe(sha256(s.fx.flatcarImage!));
    const sig = await s.get(`${image}.sig`, '127.0.0.9');
    expect(sig.status).toBe(200);
    expect(sig.headers['content-type']).toBe('application/pgp-signature');
    expect(sig.body.equals(s.fx.flatcarSignature!)).toBe(true);
    // a resumed download: the tail from an offset, and one range in the middle
    const size = s.fx.flatcarImage!.length;
    const tail = await fetchRaw(`${s.url}${image}`, { headers: { range: `bytes=${size - 1000}-` } });
    expect(tail.status).toBe(206);
    expect(tail.headers['content-range']).toBe(`bytes ${size - 1000}-${size - 1}/${size}`);
    expect(tail.body.equals(s.fx.flatcarImage!.subarray(size - 1000))).toBe(true);
    const mid = await fetchRaw(`${s.url}${image}`, { headers: { range: 'bytes=100000-200000' } });
    expect(mid.status).toBe(206);
    expect(mid.body.equals(s.fx.flatcarImage!.subarray(100000, 200001))).toBe(true);
    expect((await fetchRaw(`${s.url}${image}`, { headers: { range: `bytes=${size}-` } })).status).toBe(416);
    // only the files pxe.json names: nothing else under flatcar/
    expect((await s.get('/flatcar/amd64-usr/4152.2.0/flatcar_production_pxe_image.bin.bz2')).status).toBe(404);
    expect((await s.get('/flatcar/amd64-usr/current/version.txt')).status).toBe(404);
  });
});

describe('the Flatcar configs through the gate', () => {
  it('installing + token + planned address: install.ign and node.ign byte for byte; anything else under the prefix 404', async () => {
    const s = await serve(makePxeFixture({ nodes: [F1, F2] }));
    const t1 = tokenIn(await s.boot('52-54-00-66-00-31'))!;
    for (const f of ['install.ign', 'node.ign']) {
      const r = await s.get(`/ignition/${t1}/${f}`, F1.ip);
      expect(r.status, f).toBe(200);
      expect(r.text).toBe(ignitionText('flatcar1', f));
      expect(r.text).toBe(readFileSync(join(s.fx.dir, 'ignition/flatcar1', f), 'utf8'));
    }
    expect((await s.get(`/ignition/${t1}/user-data`, F1.ip)).status).toBe(404);
    expect((await s.get(`/ignition/${t1}/../pxe.json`, F1.ip)).status).toBe(404);
    // a Flatcar node has no seed
    expect((await s.get(`/seed/${t1}/user-data`, F1.ip)).status).toBe(404);
  });

  it('wrong address 403, wrong token 404, pending (no token yet) 404, after install 404; each with a log line, no token in the log', async () => {
    const s = await serve(makePxeFixture({ nodes: [F1, F2] }));
    expect((await s.get('/ignition/AAAAAAAAAAAAAAAAAAAAAAAA/node.ign', F1.ip)).status).toBe(404);
    const t1 = tokenIn(await s.boot('52-54-00-66-00-31'))!;
    const t2 = tokenIn(await s.boot('52-54-00-66-00-32'))!;
    const wrongAddress = await s.get(`/ignition/${t1}/node.ign`, F2.ip);
    expect(wrongAddress.status).toBe(403);
    expect(wrongAddress.text).not.toContain('ignition');
    expect((await s.get(`/ignition/${t1}/install.ign`)).status).toBe(403); // 127.0.0.1 is no node's address
    const flipped = `${t1.slice(0, -1)}${t1.endsWith('A') ? 'B' : 'A'}`;
    expect((await s.get(`/ignition/${flipped}/node.ign`, F1.ip)).status).toBe(404);
    expect((await s.get('/ignition/node.ign', F1.ip)).status).toBe(404);
    // the other node's token from its own address works: tokens are per machine
    expect((await s.get(`/ignition/${t2}/node.ign`, F2.ip)).text).toBe(ignitionText('flatcar2', 'node.ign'));
    expect((await fetchRaw(`${s.url}/done?token=${t1}`, { method: 'POST', localAddress: F1.ip })).status).toBe(200);
    expect((await s.get(`/ignition/${t1}/node.ign`, F1.ip)).status).toBe(404);
    expect((await s.get(`/ignition/${t1}/install.ign`, F1.ip)).status).toBe(404);
    const logs = await s.logs();
    const refused = logs.filter((l) => l.event === 'ignition-refused');
    expect(refused).toContainEqual(expect.objectContaining({ status: 403, remote: F2.ip, node: 'flatcar1', path: '/ignition/<token>/node.ign' }));
    expect(refused).toContainEqual(expect.objectContaining({ status: 404, remote: F1.ip, reason: expect.stringContaining('token') }));
    const text = JSON.stringify(logs);
    expect(text).not.toContain(t1);
    expect(text).not.toContain(t2);
  });
});

describe('pxe.json with Flatcar nodes', () => {
  const base = () => ({
    version: 1,
    cluster: 'homelab',
    server: 'http://${next-server}:8080',
    installer: { kernel: 'installer/vmlinuz', initrd: 'installer/initramfs.cpio.gz', kernelVersion: '6.1.0-99-amd64' },
    flatcar: {
      channel: 'stable', version: '4152.2.0', kernel: 'flatcar/flatcar_production_pxe.vmlinuz', initrd: 'flatcar/flatcar_production_pxe_image.cpio.gz',
      base: 'flatcar/amd64-usr', image: 'flatcar/amd64-usr/4152.2.0/flatcar_production_image.bin.bz2', signature: 'flatcar/amd64-usr/4152.2.0/flatcar_production_image.bin.bz2.sig',
    } as Record<string, unknown> | undefined,
    images: {},
    nodes: [{ name: 'flatcar1', role: 'worker', mac: '52:54:00:66:00:31', ip: '192.168.66.31', ignition: 'ignition/flatcar1' } as Record<string, unknown>],
  });

  it('a good one is read with its flatcar section', () => {
    const r = checkManifest(base(), 'out/pxe/pxe.json');
    expect(r.diagnostics).toEqual([]);
    expect(r.manifest!.flatcar).toEqual(base().flatcar);
    expect(r.manifest!.nodes[0]).toEqual({ name: 'flatcar1', role: 'worker', mac: '52:54:00:66:00:31', ip: '192.168.66.31', ignition: 'ignition/flatcar1' });
  });

  it.each([
    ['no flatcar section', (m: ReturnType<typeof base>) => void (m.flatcar = undefined), 'installs Flatcar, but there is no flatcar section'],
    ['both a seed and an ignition directory', (m: ReturnType<typeof base>) => void (m.nodes[0]!.seed = 'seeds/flatcar1'), 'must have a seed directory or an ignition directory'],
    ['neither', (m: ReturnType<typeof base>) => void delete m.nodes[0]!.ignition, 'must have a seed directory or an ignition directory'],
    ['an ignition directory outside', (m: ReturnType<typeof base>) => void (m.nodes[0]!.ignition = '../etc'), 'leaves the LAN-boot directory'],
    ['a kernel path outside', (m: ReturnType<typeof base>) => void (m.flatcar!.kernel = '/boot/vmlinuz'), 'leaves the LAN-boot directory'],
    ['a version that is not one', (m: ReturnType<typeof base>) => void (m.flatcar!.version = 'current'), 'flatcar.version "current"'],
    ['no OS image (a pxe.json from before the offline install)', (m: ReturnType<typeof base>) => void delete m.flatcar!.image, 'flatcar.image must be a non-empty string'],
    ['an OS image outside <base>/<version>/', (m: ReturnType<typeof base>) => void (m.flatcar!.image = 'flatcar/flatcar_production_image.bin.bz2'), 'is not in flatcar/amd64-usr/4152.2.0/, where flatcar-install -b looks for it'],
    ['a signature not beside the image', (m: ReturnType<typeof base>) => void (m.flatcar!.signature = 'flatcar/image.sig'), 'is not flatcar/amd64-usr/4152.2.0/flatcar_production_image.bin.bz2.sig'],
  ])('%s: E023 with the fix', (_what, edit, text) => {
    const m = base();
    edit(m);
    const r = checkManifest(m, 'out/pxe/pxe.json');
    expect(r.manifest).toBeUndefined();
    expect(r.diagnostics.map((d) => d.code)).toContain('E023');
    expect(r.diagnostics.map((d) => d.message).join('\n')).toContain(text);
  });

  it('a missing node.ign or kernel stops the start with E023', async () => {
    const fx = makePxeFixture({ nodes: [F1] });
    const { rmSync } = await import('node:fs');
    rmSync(join(fx.dir, 'ignition/flatcar1/node.ign'));
    rmSync(join(fx.dir, 'flatcar/flatcar_production_pxe.vmlinuz'));
    rmSync(join(fx.dir, 'flatcar/amd64-usr/4152.2.0/flatcar_production_image.bin.bz2.sig'));
    const r = await startPxeServe({ dir: 'out/pxe', cwd: fx.cwd, host: '127.0.0.1', port: 0, natSources: [], logSink: () => {} });
    expect(r.running).toBeUndefined();
    const messages = r.diagnostics.map((d) => `${d.code} ${d.message}`).join('\n');
    expect(messages).toContain('E023 out/pxe/ignition/flatcar1/node.ign is missing: run `mkimage pxe build` again');
    expect(messages).toContain('E023 out/pxe/flatcar/flatcar_production_pxe.vmlinuz is missing');
    expect(messages).toContain('E023 out/pxe/flatcar/amd64-usr/4152.2.0/flatcar_production_image.bin.bz2.sig is missing');
  });
});
