// out/pxe/pxe.json: the one file `mkimage pxe serve` reads to learn the layout of out/pxe/ (paths relative to it),
// the image sums and the machines. Keys in a fixed order, 2-space JSON, a trailing newline. A node installs either
// the golden image with a cloud-init seed (`seed`: its seed directory) or Flatcar with Ignition (`ignition`: the
// directory of its node.ign and install.ign); `flatcar` names the PXE kernel and initrd and the OS image with its
// signature (under the base flatcar-install -b is given), when a node needs them.

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
  /** the node's seed directory, relative to out/pxe/ (cloud-init nodes) */
  seed?: string;
  /** the directory of the node's Ignition configs, relative to out/pxe/ (Flatcar nodes) */
  ignition?: string;
}

export interface ManifestFlatcar {
  channel: string;
  version: string;
  kernel: string;
  initrd: string;
  /** flatcar-install's -b (relative to the server): the OS image is at <base>/<version>/<file>, as on the release server */
  base: string;
  /** the OS image and its GPG signature */
  image: string;
  signature: string;
}

export interface Manifest {
  version: number;
  cluster: string;
  server: string;
  installer: { kernel: string; initrd: string; kernelVersion: string };
  flatcar?: ManifestFlatcar;
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
  flatcar?: ManifestFlatcar;
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
    ...(m.flatcar !== undefined && {
      flatcar: {
        channel: m.flatcar.channel,
        version: m.flatcar.version,
        kernel: m.flatcar.kernel,
        initrd: m.flatcar.initrd,
        base: m.flatcar.base,
        image: m.flatcar.image,
        signature: m.flatcar.signature,
      },
    }),
    images,
    nodes: m.nodes.map((n) => ({
      name: n.name,
      role: n.role,
      mac: n.mac,
      ip: n.ip,
      ...(n.ignition !== undefined ? { ignition: n.ignition } : { seed: n.seed }),
    })),
  };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}
