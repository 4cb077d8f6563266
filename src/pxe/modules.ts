// The installer's kernel modules: the drivers a LAN-booted machine needs to reach the server and its disk, with
// everything they need loaded first, in load order. Hard dependencies come from modules.dep (built by depmod from
// the Debian kernel package); soft dependencies from each module's .modinfo ("softdep=pre: crypto-crc32c" in ext4 and
// jbd2: modules.dep does not list them, and without crc32c an ext4 mount fails), names resolved through
// modules.alias. Built-in modules (modules.builtin) need nothing.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readModInfo, softdepPre } from './modinfo.js';

/** What the installer loads: NICs, disk controllers and filesystems of common machines and of QEMU. */
export const INSTALLER_MODULES: readonly string[] = [
  // buses and virtual machines
  'virtio_pci', 'virtio_net', 'virtio_blk', 'virtio_scsi',
  // NICs: Intel (e1000 on older boards and QEMU, e1000e on desktops, igb/ixgbe on servers), Realtek
  'e1000', 'e1000e', 'igb', 'ixgbe', 'r8169',
  // disks: SATA/AHCI, legacy IDE-mode SATA, NVMe, SCSI disks
  'ahci', 'ata_piix', 'nvme', 'sd_mod',
  // filesystems of golden images (ext4, xfs) and EFI system partitions (vfat and its code pages)
  'ext4', 'xfs', 'vfat', 'nls_cp437', 'nls_ascii', 'nls_utf8',
];

export interface KernelModule {
  name: string;
  /** relative to lib/modules/<version>/, e.g. kernel/fs/ext4/ext4.ko */
  path: string;
}

/** Module names compare with '-' and '_' the same (kmod's rule). */
export const moduleName = (s: string): string => s.replace(/-/g, '_');
const nameOfPath = (p: string) => moduleName(p.slice(p.lastIndexOf('/') + 1).replace(/\.ko(\.[a-z]+)?$/, ''));

interface ModuleTree {
  dir: string;
  /** name -> path and modules.dep's list (paths) */
  deps: Map<string, { path: string; deps: string[] }>;
  /** alias -> module names */
  aliases: Map<string, string[]>;
  builtin: Set<string>;
}

function readTree(dir: string): ModuleTree {
  const deps = new Map<string, { path: string; deps: string[] }>();
  for (const line of readFileSync(join(dir, 'modules.dep'), 'utf8').split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const path = line.slice(0, colon).trim();
    deps.set(nameOfPath(path), { path, deps: line.slice(colon + 1).trim().split(/\s+/).filter((s) => s !== '') });
  }
  const aliases = new Map<string, string[]>();
  for (const line of readFileSync(join(dir, 'modules.alias'), 'utf8').split('\n')) {
    const m = /^alias\s+(\S+)\s+(\S+)/.exec(line);
    if (!m) continue;
    const key = moduleName(m[1]!);
    aliases.set(key, [...new Set([...(aliases.get(key) ?? []), moduleName(m[2]!)])].sort());
  }
  const builtin = new Set(
    readFileSync(join(dir, 'modules.builtin'), 'utf8').split('\n').filter((l) => l.trim() !== '').map(nameOfPath),
  );
  return { dir, deps, aliases, builtin };
}

export interface Closure {
  /** in load order: every module after all it needs */
  modules: KernelModule[];
  /** requested names that are neither a module, a built-in nor an alias of one */
  missing: string[];
}

/**
 * The closure of `wanted` in the module tree at `dir` (lib/modules/<version> holding modules.dep, modules.alias and
 * modules.builtin, as depmod writes them), in load order.
 */
export function moduleClosure(dir: string, wanted: readonly string[] = INSTALLER_MODULES): Closure {
  const tree = readTree(dir);
  const order: KernelModule[] = [];
  const done = new Set<string>();
  const missing: string[] = [];

  /** module names for a name or an alias; [] for a built-in; undefined when unknown */
  const resolve = (raw: string): string[] | undefined => {
    const n = moduleName(raw);
    if (tree.deps.has(n)) return [n];
    if (tree.builtin.has(n)) return [];
    const viaAlias = tree.aliases.get(n)?.filter((m) => tree.deps.has(m) || tree.builtin.has(m));
    return viaAlias && viaAlias.length > 0 ? viaAlias.filter((m) => tree.deps.has(m)) : undefined;
  };
  const softdeps = (path: string) => softdepPre(readModInfo(readFileSync(join(dir, path)), path).get('softdep') ?? []);

  const visit = (name: string, stack: string[]) => {
    if (done.has(name) || stack.includes(name)) return;
    const entry = tree.deps.get(name)!;
    const next = [...stack, name];
    // soft pre-dependencies first (an unknown one, e.g. a PHY driver the kernel lacks, is not an error: modprobe skips it too)
    for (const s of softdeps(entry.path)) for (const m of resolve(s) ?? []) visit(m, next);
    // modules.dep lists the whole closure, the most basic last: load from the end, as modprobe does
    for (const p of [...entry.deps].reverse()) visit(nameOfPath(p), next);
    done.add(name);
    order.push({ name, path: entry.path });
  };
  for (const w of wanted) {
    const names = resolve(w);
    if (names === undefined) missing.push(w);
    else for (const n of names) visit(n, []);
  }
  return { modules: order, missing };
}
