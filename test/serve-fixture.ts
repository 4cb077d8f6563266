// A directory shaped like `mkimage pxe build`'s out/pxe/ (pxe.json, installer, image, seeds, tftp/boot.ipxe; for
// Flatcar nodes their Ignition configs and STAND-IN Flatcar PXE kernel, initrd, OS image and signature),
// with small stand-in kernel, initramfs and image bytes, for the LAN-boot server's tests and benchmark. Plus
// a plain HTTP client that can pick its source address (Linux routes all of 127/8 to lo).

import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FixtureNode {
  name: string;
  mac: string;
  ip: string;
  disk?: string;
  /** write no network-config */
  noNetworkConfig?: boolean;
  /** a Flatcar node: ignition/<name>/{install,node}.ign instead of a seed */
  flatcar?: boolean;
}

export interface PxeFixture {
  /** the workspace (cwd for the CLI) */
  cwd: string;
  /** <cwd>/out/pxe */
  dir: string;
  cluster: string;
  kernel: Buffer;
  initrd: Buffer;
  image?: Buffer;
  imageSha256?: string;
  /** STAND-IN Flatcar PXE kernel and initrd (random bytes), when a node is Flatcar */
  flatcarKernel?: Buffer;
  flatcarInitrd?: Buffer;
  /** STAND-IN Flatcar OS image and signature (random bytes) at flatcar/amd64-usr/<version>/, where flatcar-install -b looks */
  flatcarImage?: Buffer;
  flatcarSignature?: Buffer;
  manifest: Record<string, unknown>;
}

export const CHAIN_SCRIPT = '#!ipxe\n:retry\nisset ${ip} || dhcp || goto retry\nchain http://${next-server}:8080/boot.ipxe?mac=${net0/mac:hexhyp}&uuid=${uuid}&platform=${platform}\n';

/** A stand-in Ignition config (valid JSON, spec 3.3.0, nothing in it): `file` of `node`. */
export function ignitionText(node: string, file: string): string {
  return `${JSON.stringify({ ignition: { version: '3.3.0' }, storage: { files: [{ path: `/etc/mkimage-stand-in/${node}/${file}`, contents: { source: 'data:,stand-in' } }] } }, null, 2)}\n`;
}

export function seedText(node: string, file: string): string {
  return `# ${file} of ${node} (stand-in)\n${file === 'user-data' ? '#cloud-config\n' : ''}instance: ${node}\n`;
}

const made: string[] = [];

/**
 * Remove every fixture made so far: a test file that makes fixtures runs `afterAll(removePxeFixtures)`. (Not
 * scratchDirs: the benchmark, outside vitest, makes fixtures too.)
 */
export function removePxeFixtures(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

export function makePxeFixture(opts: { nodes: FixtureNode[]; image?: boolean; cluster?: string; sizes?: { kernel?: number; initrd?: number; image?: number; flatcarImage?: number } }): PxeFixture {
  const cwd = mkdtempSync(join(tmpdir(), 'mkimage-serve-'));
  made.push(cwd);
  const dir = join(cwd, 'out/pxe');
  const cluster = opts.cluster ?? 'homelab';
  const kernel = randomBytes(opts.sizes?.kernel ?? 96 * 1024 + 17);
  const initrd = randomBytes(opts.sizes?.initrd ?? 160 * 1024 + 3);
  mkdirSync(join(dir, 'installer'), { recursive: true });
  mkdirSync(join(dir, 'tftp'), { recursive: true });
  writeFileSync(join(dir, 'installer/vmlinuz'), kernel);
  writeFileSync(join(dir, 'installer/initramfs.cpio.gz'), initrd);
  writeFileSync(join(dir, 'tftp/boot.ipxe'), CHAIN_SCRIPT);
  const images: Record<string, unknown> = {};
  let image: Buffer | undefined;
  let imageSha256: string | undefined;
  if (opts.image !== false) {
    mkdirSync(join(dir, 'images'), { recursive: true });
    image = randomBytes(opts.sizes?.image ?? 512 * 1024 + 5);
    imageSha256 = createHash('sha256').update(image).digest('hex');
    writeFileSync(join(dir, 'images/worker.raw.gz'), image);
    writeFileSync(join(dir, 'images/worker.raw.gz.sha256'), `${imageSha256}  worker.raw.gz\n`);
    images.worker = { path: 'images/worker.raw.gz', sha256: imageSha256, size: image.length, rawSize: image.length * 4 };
  }
  let flatcar: Record<string, string> | undefined;
  let flatcarKernel: Buffer | undefined;
  let flatcarInitrd: Buffer | undefined;
  let flatcarImage: Buffer | undefined;
  let flatcarSignature: Buffer | undefined;
  if (opts.nodes.some((n) => n.flatcar)) {
    mkdirSync(join(dir, 'flatcar'), { recursive: true });
    flatcarKernel = Buffer.concat([Buffer.from('STAND-IN flatcar_production_pxe.vmlinuz\n'), randomBytes(64 * 1024)]);
    flatcarInitrd = Buffer.concat([Buffer.from('STAND-IN flatcar_production_pxe_image.cpio.gz\n'), randomBytes(128 * 1024)]);
    writeFileSync(join(dir, 'flatcar/flatcar_production_pxe.vmlinuz'), flatcarKernel);
    writeFileSync(join(dir, 'flatcar/flatcar_production_pxe_image.cpio.gz'), flatcarInitrd);
    const imageDir = 'flatcar/amd64-usr/4152.2.0';
    mkdirSync(join(dir, imageDir), { recursive: true });
    flatcarImage = Buffer.concat([Buffer.from('STAND-IN flatcar_production_image.bin.bz2 (not an image)\n'), randomBytes(opts.sizes?.flatcarImage ?? 384 * 1024 + 11)]);
    flatcarSignature = Buffer.concat([Buffer.from('STAND-IN flatcar_production_image.bin.bz2.sig (not a signature)\n'), randomBytes(566)]);
    writeFileSync(join(dir, imageDir, 'flatcar_production_image.bin.bz2'), flatcarImage);
    writeFileSync(join(dir, imageDir, 'flatcar_production_image.bin.bz2.sig'), flatcarSignature);
    flatcar = {
      channel: 'stable',
      version: '4152.2.0',
      kernel: 'flatcar/flatcar_production_pxe.vmlinuz',
      initrd: 'flatcar/flatcar_production_pxe_image.cpio.gz',
      base: 'flatcar/amd64-usr',
      image: `${imageDir}/flatcar_production_image.bin.bz2`,
      signature: `${imageDir}/flatcar_production_image.bin.bz2.sig`,
    };
  }
  for (const n of opts.nodes) {
    if (n.flatcar) {
      const at = join(dir, 'ignition', n.name);
      mkdirSync(at, { recursive: true, mode: 0o700 });
      for (const f of ['install.ign', 'node.ign']) writeFileSync(join(at, f), ignitionText(n.name, f), { mode: 0o600 });
      continue;
    }
    const seed = join(dir, 'seeds', n.name);
    mkdirSync(seed, { recursive: true, mode: 0o700 });
    for (const f of ['meta-data', 'user-data', ...(n.noNetworkConfig ? [] : ['network-config'])]) {
      writeFileSync(join(seed, f), seedText(n.name, f), { mode: 0o600 });
    }
  }
  const manifest = {
    version: 1,
    cluster,
    server: 'http://${next-server}:8080',
    installer: { kernel: 'installer/vmlinuz', initrd: 'installer/initramfs.cpio.gz', kernelVersion: '6.1.0-99-amd64' },
    ...(flatcar !== undefined && { flatcar }),
    images,
    nodes: opts.nodes.map((n) => ({
      name: n.name,
      role: 'worker',
      mac: n.mac,
      ip: n.ip,
      ...(n.flatcar ? { ignition: `ignition/${n.name}` } : { seed: `seeds/${n.name}` }),
      ...(n.disk ? { disk: n.disk } : {}),
    })),
  };
  writeFileSync(join(dir, 'pxe.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return { cwd, dir, cluster, kernel, initrd, image, imageSha256, flatcarKernel, flatcarInitrd, flatcarImage, flatcarSignature, manifest };
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
}

/** One request on a fresh connection, from `localAddress` when given. */
export function fetchRaw(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer; localAddress?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers, localAddress: opts.localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Poll `f` until it gives a value (or `ms` pass). */
export async function until<T>(f: () => T | undefined, what: string, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The install token on an installer script's kernel line. */
export const tokenIn = (script: string) => /mkimage\.token=([A-Za-z0-9_-]+)/.exec(script)?.[1];
