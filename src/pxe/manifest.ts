// out/pxe/pxe.json: the one file `mkimage pxe serve` reads to learn the layout of out/pxe/ (paths relative to it),
// the image sums and the machines. Keys in a fixed order, 2-space JSON, a trailing newline.

import type { GzImage } from './image.js';

export const MANIFEST_FILE = 'pxe.json';
export const MANIFEST_VERSION = 1;

export interface ManifestNode {
  name: string;
  role: string;
  /** lower-case, colon-separated */
  mac: string;
  /** the planned address, without the prefix */
  ip: string;
  /** the node's seed directory, relative to out/pxe/ */
  seed: string;
}

export interface Manifest {
  version: number;
  cluster: string;
  server: string;
  installer: { kernel: string; initrd: string; kernelVersion: string };
  images: Record<string, { path: string; sha256: string; size: number; rawSize: number }>;
  nodes: ManifestNode[];
}

export const imagePath = (role: string) => `images/${role}.raw.gz`;
export const seedDir = (node: string) => `seeds/${node}`;

/** The "<sha256>  <file>\n" line `sha256sum -c` reads, beside the image. */
export const sha256Line = (image: GzImage, role: string) => `${image.sha256}  ${role}.raw.gz\n`;

export function manifestJson(m: {
  cluster: string;
  server: string;
  kernel: string;
  initrd: string;
  kernelVersion: string;
  role: string;
  image?: GzImage;
  nodes: ManifestNode[];
}): string {
  const images: Manifest['images'] = {};
  if (m.image) images[m.role] = { path: imagePath(m.role), sha256: m.image.sha256, size: m.image.size, rawSize: m.image.rawSize };
  const manifest: Manifest = {
    version: MANIFEST_VERSION,
    cluster: m.cluster,
    server: m.server,
    installer: { kernel: m.kernel, initrd: m.initrd, kernelVersion: m.kernelVersion },
    images,
    nodes: m.nodes.map((n) => ({ name: n.name, role: n.role, mac: n.mac, ip: n.ip, seed: n.seed })),
  };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}
