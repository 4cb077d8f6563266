// Writes out/pxe/ (the layout `mkimage pxe serve` reads through pxe.json), atomically: everything is built in a temp
// tree beside the destination and swapped in at the end (src/output.ts); the image and the installer are streamed
// or copied from disk into it, never held in memory.
//
//   pxe.json  dnsmasq.conf  installer/{vmlinuz,initramfs.cpio.gz}  images/<role>.raw.gz{,.sha256}
//   tftp/{boot.ipxe,undionly.kpxe,snponly.efi,ipxe.efi,ipxe.lkrn,pxelinux.0,ldlinux.c32,pxelinux.cfg/default}
//   seeds/<node>/{user-data,meta-data,network-config}   (directory 0700, files 0600: user-data holds the token)
//   flatcar/{flatcar_production_pxe.vmlinuz,flatcar_production_pxe_image.cpio.gz},
//   flatcar/amd64-usr/<version>/flatcar_production_image.bin.bz2{,.sig}, ignition/<node>/{node,install}.ign
//                                                       (Flatcar nodes: src/pxe/flatcar.ts; 0700/0600 like the seeds)

import { constants } from 'node:fs';
import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { SeedFiles } from '../emit/cloud-init.js';
import { writeTreeAtomic, type OutFile } from '../output.js';
import { OUTPUT_MARKER } from '../pipeline.js';
import { GENERATED } from '../template.js';
import { chainScript, pxelinuxConfig, TFTP_PACKAGE_FILES } from './boot-files.js';
import { candidateVersions, packageFile, unpacked, type PackageVersion, type UnpackedPackage } from './debs.js';
import { renderDnsmasqConf } from './dnsmasq.js';
import { writeGzImage, type GzImage } from './image.js';
import { ignitionDir, INSTALL_CONFIG, NODE_CONFIG, type FlatcarArtifacts } from './flatcar.js';
import { ensureInstaller, INITRD_FILE, KERNEL_FILE } from './installer.js';
import { imagePath, MANIFEST_FILE, manifestJson, seedDir, sha256Line, type ManifestNode } from './manifest.js';

export interface PxeNode extends ManifestNode {
  /** the node's LAN (network address), for the proxyDHCP ranges */
  network: string;
  /** a cloud-init node's seed */
  files?: SeedFiles;
  /** a Flatcar node's Ignition configs: its own (out/<role>/ignition/<node>.ign) and the install config */
  ignitionConfigs?: { node: string; install: string };
}

/**
 * The Flatcar release the Flatcar nodes boot and install: its PXE kernel and initrd, the OS image and its signature,
 * each by its path in out/pxe/ (the artifact's dest) and the verified file in the cache it is copied from.
 */
export interface PxeFlatcar {
  channel: string;
  version: string;
  /** flatcar-install's -b, relative to the server: flatcar/amd64-usr */
  base: string;
  files: Record<keyof FlatcarArtifacts, { dest: string; from: string }>;
}

export interface PxeTreeInput {
  outDir: string;
  cluster: string;
  server: string;
  role: string;
  nodes: PxeNode[];
  /** the golden image (qcow2 or raw); none with --no-image */
  image?: string;
  /** when a node installs Flatcar */
  flatcar?: PxeFlatcar;
  /** <cache root>/pxe */
  cache: string;
  /** cpio mtime (SOURCE_DATE_EPOCH or 0) */
  epoch: number;
  log: (line: string) => void;
}

export interface PxeTree {
  kernelVersion: string;
  image?: GzImage;
  packages: PackageVersion[];
}

const SEED_NAMES = ['user-data', 'meta-data', 'network-config'] as const;

function nodeFiles(n: PxeNode): OutFile[] {
  if (n.ignitionConfigs !== undefined) {
    return [
      { path: `${ignitionDir(n.name)}/${NODE_CONFIG}`, content: n.ignitionConfigs.node, mode: 0o600 },
      { path: `${ignitionDir(n.name)}/${INSTALL_CONFIG}`, content: n.ignitionConfigs.install, mode: 0o600 },
    ];
  }
  if (n.files === undefined) throw new Error(`internal: node ${n.name} has neither a seed nor Ignition configs`);
  const content: Record<(typeof SEED_NAMES)[number], string> = {
    'user-data': n.files.userData,
    'meta-data': n.files.metaData,
    'network-config': n.files.networkConfig,
  };
  const scripts = n.files.scripts;
  return SEED_NAMES.map((name) => ({ path: `${seedDir(n.name)}/${name}`, content: content[name], mode: 0o600, ...(name === 'user-data' && { scripts }) }));
}

/** Owner-only directories: the seeds and Ignition configs are the nodes' credentials, as under out/<role>/. */
async function lockDown(tmp: string, nodes: PxeNode[]): Promise<void> {
  for (const top of ['seeds', 'ignition']) {
    if (nodes.some((n) => (top === 'seeds' ? n.seed : n.ignition) !== undefined)) await chmod(join(tmp, top), 0o700);
  }
  for (const n of nodes) await chmod(join(tmp, n.ignition ?? n.seed ?? seedDir(n.name)), 0o700);
}

const mib = (n: number) => `${Math.round(n / (1 << 20))} MiB`;

export async function buildPxeTree(i: PxeTreeInput): Promise<PxeTree> {
  const [installer, bootPackages] = await Promise.all([
    ensureInstaller(i.cache, i.epoch, i.log),
    candidateVersions(Object.keys(TFTP_PACKAGE_FILES)),
  ]);
  const bootRoots: UnpackedPackage[] = [];
  for (const p of bootPackages) bootRoots.push(await unpacked(i.cache, p));

  const networks = [...new Set(i.nodes.map((n) => n.network))];
  const files: OutFile[] = [
    { path: OUTPUT_MARKER, content: `${GENERATED}\nrole: pxe\n` },
    { path: 'tftp/boot.ipxe', content: chainScript(i.server) },
    { path: 'tftp/pxelinux.cfg/default', content: pxelinuxConfig() },
    { path: 'dnsmasq.conf', content: renderDnsmasqConf({ networks, server: i.server, tftpRoot: join(i.outDir, 'tftp') }) },
    ...i.nodes.flatMap(nodeFiles),
  ];
  let image: GzImage | undefined;
  await writeTreeAtomic(i.outDir, files, {
    fill: async (tmp) => {
      await mkdir(join(tmp, 'installer'), { mode: 0o755 });
      await copyFile(join(installer.dir, KERNEL_FILE), join(tmp, 'installer', KERNEL_FILE));
      await copyFile(join(installer.dir, INITRD_FILE), join(tmp, 'installer', INITRD_FILE));
      for (const root of bootRoots) {
        for (const [from, to] of TFTP_PACKAGE_FILES[root.name] ?? []) await copyFile(await packageFile(root.root, from), join(tmp, 'tftp', to));
      }
      await chmod(join(tmp, 'installer'), 0o755);
      if (i.flatcar !== undefined) {
        for (const { dest, from } of Object.values(i.flatcar.files)) {
          const to = join(tmp, dest);
          await mkdir(dirname(to), { recursive: true, mode: 0o755 });
          for (let d = dirname(dest); d !== '.'; d = dirname(d)) await chmod(join(tmp, d), 0o755); // whatever the umask
          // the OS image is ~450 MB: a reflink where the filesystem has them, else a copy
          await copyFile(from, to, constants.COPYFILE_FICLONE);
          await chmod(to, 0o644);
        }
      }
      if (i.image !== undefined) {
        const started = Date.now();
        i.log(`==> image: ${i.image} -> ${imagePath(i.role)} (raw, gzip)`);
        await mkdir(join(tmp, 'images'), { mode: 0o755 });
        await chmod(join(tmp, 'images'), 0o755);
        image = await writeGzImage(i.image, join(tmp, imagePath(i.role)), tmp);
        await writeFile(join(tmp, `${imagePath(i.role)}.sha256`), sha256Line(image, i.role), { mode: 0o644 });
        i.log(`    ${mib(image.rawSize)} raw, ${mib(image.size)} gzip, sha256 ${image.sha256} (${Math.round((Date.now() - started) / 1000)} s)`);
      }
      await writeFile(
        join(tmp, MANIFEST_FILE),
        manifestJson({
          cluster: i.cluster,
          server: i.server,
          kernel: `installer/${KERNEL_FILE}`,
          initrd: `installer/${INITRD_FILE}`,
          kernelVersion: installer.kernelVersion,
          ...(i.flatcar !== undefined && {
            flatcar: {
              channel: i.flatcar.channel,
              version: i.flatcar.version,
              kernel: i.flatcar.files.kernel.dest,
              initrd: i.flatcar.files.initrd.dest,
              base: i.flatcar.base,
              image: i.flatcar.files.image.dest,
              signature: i.flatcar.files.signature.dest,
            },
          }),
          role: i.role,
          image,
          nodes: i.nodes,
        }),
        { mode: 0o644 },
      );
      await lockDown(tmp, i.nodes);
    },
  });
  return { kernelVersion: installer.kernelVersion, image, packages: [...installer.packages, ...bootPackages] };
}
