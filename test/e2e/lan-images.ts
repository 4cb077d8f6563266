// Golden images for the LAN-boot e2e (test/e2e/lan-boot.test.ts), built from what this machine has, cached in the
// e2e cache by what went into them. No root: partitions are built as files and placed with dd, filesystems are
// resized and copied with e2fsprogs.
//
// - lanBaseImage(): the e2e base image (Debian 12, cloud-init, GRUB BIOS on GPT) with its root filesystem shrunk
//   from 3 GiB to 900 MiB and copied block by block (e2image -ra: only used blocks, free space becomes zeros). The
//   same partitions, UUIDs and boot code; about 570 MiB of data instead of 850 MiB in a 3 GiB disk. Under TCG the
//   installer's gunzip and the disk writes are the cost: the 3 GiB image took 7 minutes to stream, this one one.
// - smallGptImage(): a 64 MiB GPT disk with an EFI system partition (vfat) and a larger ext4 root holding
//   /etc/hostname: the installer must pick the ext4 one. Not bootable; for the install path (UEFI twin, negative).

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { e2eCacheDir } from './vm/base-image.js';

const RECIPE = fileURLToPath(import.meta.url);
const MiB = 1 << 20;

function sh(cmd: string, args: string[], opts: { input?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input: opts.input, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.error?.message ?? ''}${r.stderr}`);
  return r.stdout;
}

/** Build `name` in a temp dir beside the cache entry and rename it in; the key covers this file and `inputs`. */
function cached(name: string, inputs: string[], build: (work: string) => string): string {
  const key = createHash('sha256').update(readFileSync(RECIPE)).update(inputs.join('\n')).digest('hex').slice(0, 16);
  const dest = join(e2eCacheDir(), `${name}-${key}.qcow2`);
  if (existsSync(dest)) return dest;
  mkdirSync(dirname(dest), { recursive: true });
  const work = mkdtempSync(join(dirname(dest), `.${name}-`));
  try {
    renameSync(build(work), dest);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return dest;
}

interface Partition {
  node: string;
  start: number;
  size: number;
}

function partitions(raw: string): Partition[] {
  const table = JSON.parse(sh('sfdisk', ['--json', raw])) as { partitiontable: { partitions: Partition[] } };
  return table.partitiontable.partitions;
}

/** The base image with a 900 MiB root (see the top of this file). */
export function lanBaseImage(base: string): string {
  return cached('lan-golden', [base], (work) => {
    const full = join(work, 'full.raw');
    sh('qemu-img', ['convert', '-O', 'raw', base, full]);
    const root = partitions(full).reduce((a, b) => (b.size > a.size ? b : a));
    const startBytes = root.start * 512;
    const fs = join(work, 'root.img');
    sh('dd', [`if=${full}`, `of=${fs}`, 'bs=1M', `skip=${startBytes / MiB}`, `count=${(root.size * 512) / MiB}`, 'conv=sparse', 'status=none']);
    spawnSync('e2fsck', ['-fy', fs]); // exit 1: "errors corrected" is fine, resize2fs wants a checked filesystem
    const rootMiB = 900;
    sh('resize2fs', [fs, `${rootMiB}M`]);
    // only the used blocks, at the partition's offset; then room for the backup GPT
    const small = join(work, 'small.raw');
    sh('e2image', ['-ra', '-O', String(startBytes), fs, small]);
    sh('truncate', ['-s', String(startBytes + rootMiB * MiB + 2 * MiB), small]);
    // everything before the root: protective MBR with GRUB's boot code, GPT, the BIOS boot partition (GRUB's core)
    sh('dd', [`if=${full}`, `of=${small}`, 'bs=1M', `count=${startBytes / MiB}`, 'conv=notrunc', 'status=none']);
    const dump = sh('sfdisk', ['--dump', full])
      .split('\n')
      .filter((l) => !l.startsWith('last-lba:'))
      .map((l) => (l.startsWith(`${root.node} :`) ? l.replace(/size=\s*\d+/, `size=${(rootMiB * MiB) / 512}`) : l))
      .join('\n');
    sh('sfdisk', ['--quiet', '--no-reread', small], { input: dump });
    const out = join(work, 'lan-golden.qcow2');
    sh('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', small, out]);
    return out;
  });
}

/** 64 MiB GPT: p1 EFI system partition (vfat, 16 MiB), p2 ext4 "root" (46 MiB) with /etc/hostname. */
export function smallGptImage(): string {
  return cached('lan-small', [], (work) => {
    const disk = join(work, 'small.raw');
    sh('truncate', ['-s', String(64 * MiB), disk]);
    sh('sfdisk', ['--quiet', disk], {
      input: 'label: gpt\nstart=2048, size=32768, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="esp"\n' +
        'start=34816, size=94208, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="root"\n',
    });
    const esp = join(work, 'esp.img');
    sh('truncate', ['-s', String(16 * MiB), esp]);
    sh('mkfs.vfat', ['-n', 'ESP', esp]);
    const tree = join(work, 'tree');
    mkdirSync(join(tree, 'etc'), { recursive: true });
    writeFileSync(join(tree, 'etc/hostname'), 'golden\n');
    const root = join(work, 'root.img');
    sh('mkfs.ext4', ['-q', '-F', '-L', 'root', '-d', tree, root, '46M']);
    sh('dd', [`if=${esp}`, `of=${disk}`, 'bs=512', 'seek=2048', 'conv=notrunc', 'status=none']);
    sh('dd', [`if=${root}`, `of=${disk}`, 'bs=512', 'seek=34816', 'conv=notrunc', 'status=none']);
    const out = join(work, 'lan-small.qcow2');
    sh('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', disk, out]);
    return out;
  });
}

/** A qcow2 disk as raw bytes in `dir` (for offline checks of what an install wrote). */
export function rawCopy(qcow2: string, dir: string): string {
  const out = join(dir, 'disk.raw');
  sh('qemu-img', ['convert', '-O', 'raw', qcow2, out]);
  return out;
}

/** `debugfs -R cmd` on the ext4 partition `index` (0-based) of a raw disk, read in place (io option offset=). */
export function debugfs(raw: string, index: number, cmd: string): string {
  const p = partitions(raw)[index];
  if (!p) throw new Error(`${raw} has no partition ${index + 1}`);
  return sh('debugfs', ['-R', cmd, `${raw}?offset=${p.start * 512}`]);
}

export { partitions };
