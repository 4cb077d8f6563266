// What the server serves, loaded once at start from the directory `mkimage pxe build` wrote: the URL of every
// file it streams (installer, Flatcar's PXE kernel, initrd, OS image and signature, images), every node's seed or
// Ignition configs in memory (they are small), the chain script, and which roles have a golden image. Missing
// installer or Flatcar parts are E023; a missing image is not an error (the server starts without one and tells the machines so).

import { readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { error, type Diagnostic } from '../diagnostics.js';
import type { PxeManifest, PxeNode } from './manifest.js';

export const SEED_FILES = ['meta-data', 'user-data', 'network-config'] as const;
export type SeedFile = (typeof SEED_FILES)[number];
const REQUIRED_SEED_FILES: readonly SeedFile[] = ['meta-data', 'user-data'];
export const CHAIN_SCRIPT = 'tftp/boot.ipxe';
const OCTETS = 'application/octet-stream';
/** A Flatcar node's two configs: its own (flatcar-install puts it on the disk) and the live system's install config. */
export const IGNITION_FILES = ['install.ign', 'node.ign'] as const;
export type IgnitionFile = (typeof IGNITION_FILES)[number];

export interface ServedFile {
  file: string;
  type: string;
}

export interface ServeLayout {
  dir: string;
  manifest: PxeManifest;
  nodesByMac: Map<string, PxeNode>;
  /** URL path (/installer/vmlinuz, /images/worker.raw.gz) -> file on disk */
  files: Map<string, ServedFile>;
  /** MAC -> seed file name -> bytes (cloud-init nodes) */
  seeds: Map<string, Map<SeedFile, Buffer>>;
  /** MAC -> install.ign / node.ign -> bytes (Flatcar nodes) */
  ignition: Map<string, Map<IgnitionFile, Buffer>>;
  /** tftp/boot.ipxe, the answer to /boot.ipxe without a mac */
  chainScript: Buffer;
  /** roles whose golden image is on disk with the manifest's size */
  imageRoles: Set<string>;
  /** why a role's image is not served, for the start-up log */
  imageProblems: Array<{ role: string; problem: string }>;
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : undefined;
  } catch {
    return undefined;
  }
}

export async function loadLayout(dir: string, manifest: PxeManifest, cwd: string): Promise<{ layout?: ServeLayout; diagnostics: Diagnostic[] }> {
  const diagnostics: Diagnostic[] = [];
  const shown = (rel: string) => relative(cwd, join(dir, rel)) || rel;
  const missing = (rel: string) => diagnostics.push(error('E023', `${shown(rel)} is missing: run \`mkimage pxe build\` again`));
  const files = new Map<string, ServedFile>();

  const fc = manifest.flatcar;
  // Flatcar's OS image and signature are public release files like its kernel: served to anyone, outside the gate
  const flatcar: Array<[string, string]> = fc === undefined ? [] : [
    [fc.kernel, OCTETS], [fc.initrd, OCTETS], [fc.image, 'application/x-bzip2'], [fc.signature, 'application/pgp-signature'],
  ];
  for (const [rel, type] of [[manifest.installer.kernel, OCTETS], [manifest.installer.initrd, OCTETS], ...flatcar] as Array<[string, string]>) {
    if ((await sizeOf(join(dir, rel))) === undefined) missing(rel);
    files.set(`/${rel}`, { file: join(dir, rel), type });
  }

  const imageRoles = new Set<string>();
  const imageProblems: ServeLayout['imageProblems'] = [];
  for (const [role, img] of Object.entries(manifest.images)) {
    const size = await sizeOf(join(dir, img.path));
    if (size === undefined) imageProblems.push({ role, problem: `${shown(img.path)} is missing` });
    else if (size !== img.size) imageProblems.push({ role, problem: `${shown(img.path)} is ${size} bytes, pxe.json says ${img.size}` });
    else {
      imageRoles.add(role);
      files.set(`/${img.path}`, { file: join(dir, img.path), type: 'application/gzip' });
    }
  }
  for (const role of new Set(manifest.nodes.filter((n) => n.seed !== undefined).map((n) => n.role))) {
    if (manifest.images[role] === undefined) imageProblems.push({ role, problem: 'pxe.json lists no image for it (built with --no-image?)' });
  }

  /** the files of a node's directory that are there, the required ones reported when not */
  async function readAll<T extends string>(at: string, names: readonly T[], required: readonly T[]): Promise<Map<T, Buffer>> {
    const found = new Map<T, Buffer>();
    for (const name of names) {
      const rel = `${at}/${name}`;
      try {
        found.set(name, await readFile(join(dir, rel)));
      } catch {
        if (required.includes(name)) missing(rel);
      }
    }
    return found;
  }
  const seeds = new Map<string, Map<SeedFile, Buffer>>();
  const ignition = new Map<string, Map<IgnitionFile, Buffer>>();
  for (const node of manifest.nodes) {
    if (node.seed !== undefined) seeds.set(node.mac, await readAll(node.seed, SEED_FILES, REQUIRED_SEED_FILES));
    if (node.ignition !== undefined) ignition.set(node.mac, await readAll(node.ignition, IGNITION_FILES, IGNITION_FILES));
  }

  let chainScript: Buffer | undefined;
  try {
    chainScript = await readFile(join(dir, CHAIN_SCRIPT));
  } catch {
    missing(CHAIN_SCRIPT);
  }
  if (diagnostics.length > 0 || chainScript === undefined) return { diagnostics };
  return {
    layout: {
      dir,
      manifest,
      nodesByMac: new Map(manifest.nodes.map((n) => [n.mac, n])),
      files,
      seeds,
      ignition,
      chainScript,
      imageRoles,
      imageProblems,
    },
    diagnostics,
  };
}
