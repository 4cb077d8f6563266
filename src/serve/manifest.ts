// out/pxe/pxe.json, written by `mkimage pxe build`: the only file the server parses to learn the layout (the
// installer, the images, the nodes and their seeds or Ignition configs, Flatcar's PXE kernel and OS image). Read once at start and
// checked: a path that leaves the directory, a malformed MAC or a missing field is E023 with the fix (build the
// directory again).

import { readFile } from 'node:fs/promises';
import { isAbsolute, join, normalize, relative, resolve } from 'node:path';
import { error, type Diagnostic } from '../diagnostics.js';
import { normaliseMac } from './mac.js';
import type { ManifestFlatcar } from '../pxe/manifest.js';

export interface PxeImage {
  /** relative to the directory, e.g. images/worker.raw.gz */
  path: string;
  /** hex SHA-256 of the .gz bytes */
  sha256: string;
  size: number;
  rawSize: number;
}

export interface PxeNode {
  name: string;
  role: string;
  /** lower-case colon form */
  mac: string;
  /** planned address, without a prefix */
  ip: string;
  /** relative directory holding user-data, meta-data and network-config (a cloud-init node) */
  seed?: string;
  /** relative directory holding node.ign and install.ign (a Flatcar node); exactly one of seed and ignition */
  ignition?: string;
  /** optional target disk for the installer: /dev/... or id:<by-id name> */
  disk?: string;
}

export interface PxeManifest {
  version: 1;
  cluster: string;
  server: string;
  installer: { kernel: string; initrd: string; kernelVersion: string };
  /** Flatcar's PXE kernel and initrd, its OS image and signature, when a node installs Flatcar */
  flatcar?: PxeFlatcar;
  images: Record<string, PxeImage>;
  nodes: PxeNode[];
}

/** The flatcar section as `pxe build` writes it (src/pxe/manifest.ts), read back here. */
export type PxeFlatcar = ManifestFlatcar;

export const MANIFEST_FILE = 'pxe.json';

/** Words that may appear in an iPXE script and on a kernel command line as they are. */
const PLAIN = /^[A-Za-z0-9._:/@+=-]+$/;

class ManifestChecker {
  readonly diagnostics: Diagnostic[] = [];
  constructor(readonly file: string) {}

  fail(what: string, fix = 'run `mkimage pxe build` again'): undefined {
    this.diagnostics.push(error('E023', `${this.file}: ${what}: ${fix}`, { file: this.file }));
    return undefined;
  }

  text(v: unknown, at: string, pattern = PLAIN): string | undefined {
    if (typeof v !== 'string' || v === '') return this.fail(`${at} must be a non-empty string`);
    if (!pattern.test(v)) return this.fail(`${at} "${v}" holds characters an iPXE script or a kernel command line cannot carry`);
    return v;
  }

  count(v: unknown, at: string): number | undefined {
    return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : this.fail(`${at} must be a whole number of bytes`);
  }

  /** a relative path that stays inside the directory */
  inside(v: unknown, at: string): string | undefined {
    const p = this.text(v, at);
    if (p === undefined) return undefined;
    const n = normalize(p);
    if (isAbsolute(n) || n === '..' || n.startsWith('../')) return this.fail(`${at} "${p}" leaves the LAN-boot directory`);
    return n;
  }

  object(v: unknown, at: string): Record<string, unknown> | undefined {
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : this.fail(`${at} must be an object`);
  }
}

function checkImage(c: ManifestChecker, role: string, v: unknown): PxeImage | undefined {
  const o = c.object(v, `images.${role}`);
  if (!o) return undefined;
  const path = c.inside(o.path, `images.${role}.path`);
  const sha256 = typeof o.sha256 === 'string' && /^[0-9a-f]{64}$/.test(o.sha256) ? o.sha256 : c.fail(`images.${role}.sha256 must be 64 lower-case hex digits`);
  const size = c.count(o.size, `images.${role}.size`);
  const rawSize = c.count(o.rawSize, `images.${role}.rawSize`);
  if (path === undefined || sha256 === undefined || size === undefined || rawSize === undefined) return undefined;
  return { path, sha256, size, rawSize };
}

function checkNode(c: ManifestChecker, v: unknown, i: number): PxeNode | undefined {
  const at = `nodes[${i}]`;
  const o = c.object(v, at);
  if (!o) return undefined;
  const name = c.text(o.name, `${at}.name`, /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/);
  const role = c.text(o.role, `${at}.role`);
  const mac = typeof o.mac === 'string' ? normaliseMac(o.mac) : undefined;
  if (mac === undefined) c.fail(`${at}.mac ${JSON.stringify(o.mac)} is not a MAC address`);
  const ip = typeof o.ip === 'string' ? o.ip.split('/')[0] : undefined;
  if (ip === undefined || !/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) c.fail(`${at}.ip ${JSON.stringify(o.ip)} is not an IPv4 address`);
  if ((o.seed === undefined) === (o.ignition === undefined)) return c.fail(`${at} must have a seed directory or an ignition directory (not both)`);
  const where = o.seed !== undefined ? { seed: c.inside(o.seed, `${at}.seed`) } : { ignition: c.inside(o.ignition, `${at}.ignition`) };
  const disk = o.disk === undefined ? undefined : c.text(o.disk, `${at}.disk`);
  if (name === undefined || role === undefined || mac === undefined || ip === undefined || (where.seed ?? where.ignition) === undefined) return undefined;
  if (o.disk !== undefined && disk === undefined) return undefined;
  return { name, role, mac, ip, ...where, ...(disk !== undefined ? { disk } : {}) };
}

function checkFlatcar(c: ManifestChecker, v: unknown): PxeFlatcar | undefined {
  const o = c.object(v, 'flatcar');
  if (!o) return undefined;
  const channel = c.text(o.channel, 'flatcar.channel', /^[a-z]+$/);
  const version = c.text(o.version, 'flatcar.version', /^\d+\.\d+\.\d+$/);
  const kernel = c.inside(o.kernel, 'flatcar.kernel');
  const initrd = c.inside(o.initrd, 'flatcar.initrd');
  const base = c.inside(o.base, 'flatcar.base');
  const image = c.inside(o.image, 'flatcar.image');
  const signature = c.inside(o.signature, 'flatcar.signature');
  if (channel === undefined || version === undefined || kernel === undefined || initrd === undefined) return undefined;
  if (base === undefined || image === undefined || signature === undefined) return undefined;
  // flatcar-install -b <server>/<base> -V <version> asks for <base>/<version>/<image name> and <that>.sig
  const dir = `${base}/${version}/`;
  if (!image.startsWith(dir) || image.slice(dir.length).includes('/')) return c.fail(`flatcar.image "${image}" is not in ${dir}, where flatcar-install -b looks for it`);
  if (signature !== `${image}.sig`) return c.fail(`flatcar.signature "${signature}" is not ${image}.sig, where flatcar-install -b looks for it`);
  return { channel, version, kernel, initrd, base, image, signature };
}

/** Check a parsed pxe.json; `file` names it in the diagnostics. */
export function checkManifest(json: unknown, file: string): { manifest?: PxeManifest; diagnostics: Diagnostic[] } {
  const c = new ManifestChecker(file);
  const o = c.object(json, 'the top level');
  if (!o) return { diagnostics: c.diagnostics };
  if (o.version !== 1) {
    c.fail(`version ${JSON.stringify(o.version)} is not one this mkimage reads (1)`, 'build it with this mkimage (`mkimage pxe build`)');
    return { diagnostics: c.diagnostics };
  }
  const cluster = c.text(o.cluster, 'cluster', /^[A-Za-z0-9][A-Za-z0-9._-]*$/);
  const server = c.text(o.server, 'server', /^[A-Za-z0-9._:/@+=${}-]+$/);
  const inst = c.object(o.installer, 'installer');
  const kernel = inst && c.inside(inst.kernel, 'installer.kernel');
  const initrd = inst && c.inside(inst.initrd, 'installer.initrd');
  const kernelVersion = inst && c.text(inst.kernelVersion, 'installer.kernelVersion');
  const flatcar = o.flatcar === undefined ? undefined : checkFlatcar(c, o.flatcar);
  const imagesIn = c.object(o.images, 'images') ?? {};
  const images: Record<string, PxeImage> = {};
  for (const [role, v] of Object.entries(imagesIn)) {
    const img = checkImage(c, role, v);
    if (img) images[role] = img;
  }
  const nodes: PxeNode[] = [];
  if (!Array.isArray(o.nodes)) c.fail('nodes must be a list');
  else o.nodes.forEach((v, i) => {
    const n = checkNode(c, v, i);
    if (n) nodes.push(n);
  });
  const seen = new Map<string, string>();
  for (const n of nodes) {
    const other = seen.get(n.mac) ?? seen.get(`name:${n.name}`);
    if (other !== undefined) c.fail(`nodes ${other} and ${n.name} share a MAC address or a name`, 'fix the cluster file, then run `mkimage pxe build` again');
    seen.set(n.mac, n.name).set(`name:${n.name}`, n.name);
  }
  const flatcarNode = nodes.find((n) => n.ignition !== undefined);
  if (flatcarNode !== undefined && o.flatcar === undefined) c.fail(`node ${flatcarNode.name} installs Flatcar, but there is no flatcar section naming its PXE kernel and initrd`);
  if (c.diagnostics.length > 0 || cluster === undefined || server === undefined || !kernel || !initrd || !kernelVersion) {
    return { diagnostics: c.diagnostics };
  }
  return {
    manifest: { version: 1, cluster, server, installer: { kernel, initrd, kernelVersion }, ...(flatcar !== undefined && { flatcar }), images, nodes },
    diagnostics: [],
  };
}

/** Read and check `<dir>/pxe.json`; diagnostics name it relative to `cwd`. */
export async function readManifest(dir: string, cwd: string): Promise<{ manifest?: PxeManifest; diagnostics: Diagnostic[] }> {
  const full = resolve(cwd, dir);
  const file = relative(cwd, join(full, MANIFEST_FILE)) || MANIFEST_FILE;
  let text: string;
  try {
    text = await readFile(join(full, MANIFEST_FILE), 'utf8');
  } catch {
    return {
      diagnostics: [error('E023', `${file} is missing: run \`mkimage pxe build\` first, or name the directory it wrote with --dir`)],
    };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { diagnostics: [error('E023', `${file} is not valid JSON (${(e as Error).message}): run \`mkimage pxe build\` again`, { file })] };
  }
  return checkManifest(json, file);
}
