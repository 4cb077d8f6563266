// The LAN-boot installer: Debian's kernel (linux-image-amd64's current linux-image-<version>) and an initramfs
// of busybox-static, the module closure (src/pxe/modules.ts) and the installer's /init (templates/pxe/init.sh).
// Built once per input set and cached under <cache>/pxe/installer-<key>/, the key being a hash of everything
// that goes in (package versions, scripts, module list, the cpio mtime): the same inputs give the same bytes.

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { EnvironmentError } from '../cli/run.js';
import { templateText } from '../template.js';
import { checkScripts } from '../output.js';
import { writeCpio, type CpioEntry } from './cpio.js';
import { kernelPackage, unpacked, type PackageVersion, type UnpackedPackage } from './debs.js';
import { INSTALLER_MODULES, moduleClosure } from './modules.js';
import { lastLines, runTool } from './tool.js';

/** Bumped when the initramfs layout changes, so an old cache entry is not reused. */
const LAYOUT = 1;
export const KERNEL_FILE = 'vmlinuz';
export const INITRD_FILE = 'initramfs.cpio.gz';

export interface Installer {
  /** the cache directory holding vmlinuz and initramfs.cpio.gz */
  dir: string;
  kernelVersion: string;
  packages: PackageVersion[];
}

/** The scripts that go into the initramfs (lib: what it shares with the Flatcar install unit). */
export function installerScripts(): { init: string; udhcpc: string; lib: string } {
  return { init: templateText('pxe/init.sh'), udhcpc: templateText('pxe/udhcpc.script'), lib: templateText('pxe/installer-lib.sh') };
}

/** modules.dep, modules.alias and modules.builtin of a freshly unpacked kernel, from busybox's depmod. */
async function depmod(busybox: string, root: string, kernelVersion: string): Promise<void> {
  const r = await runTool(busybox, ['depmod', '-b', root, kernelVersion]);
  if (r.code !== 0) throw new EnvironmentError(`depmod for ${kernelVersion} failed: ${lastLines(r.stderr)}`, 'E015');
}

/** The initramfs (gzip, level 9, no name or time in the header) for the unpacked kernel and busybox. */
export async function buildInitramfs(pkgs: InstallerPackages, epoch: number): Promise<Uint8Array> {
  const { kernelVersion } = pkgs.kernel;
  const moduleDir = join(pkgs.kernel.root, 'lib/modules', kernelVersion);
  const closure = moduleClosure(moduleDir);
  if (closure.missing.length > 0) {
    throw new EnvironmentError(`the Debian kernel ${kernelVersion} has no module ${closure.missing.join(', ')}: the installer needs them`, 'E015');
  }
  const scripts = installerScripts();
  checkScripts([{ path: 'init', content: scripts.init }, { path: 'etc/mkimage/udhcpc.script', content: scripts.udhcpc }, { path: 'etc/mkimage/installer-lib.sh', content: scripts.lib }]);
  const entries: CpioEntry[] = [
    { path: 'init', type: 'file', mode: 0o755, content: Buffer.from(scripts.init) },
    { path: 'bin/busybox', type: 'file', mode: 0o755, content: await readFile(busyboxBinary(pkgs.busybox)) },
    { path: 'bin/sh', type: 'symlink', target: 'busybox' },
    { path: 'dev/console', type: 'chardev', mode: 0o600, major: 5, minor: 1 },
    { path: 'etc/mkimage/udhcpc.script', type: 'file', mode: 0o755, content: Buffer.from(scripts.udhcpc) },
    { path: 'etc/mkimage/installer-lib.sh', type: 'file', mode: 0o644, content: Buffer.from(scripts.lib) },
    { path: 'etc/mkimage/modules', type: 'file', mode: 0o644, content: Buffer.from(closure.modules.map((m) => `${m.path}\n`).join('')) },
  ];
  for (const m of closure.modules) {
    entries.push({ path: `lib/modules/${kernelVersion}/${m.path}`, type: 'file', mode: 0o644, content: await readFile(join(moduleDir, m.path)) });
  }
  return gzipSync(writeCpio(entries, epoch), { level: 9 });
}

export interface InstallerVersions {
  kernel: PackageVersion & { kernelVersion: string };
  busybox: PackageVersion;
}

export interface InstallerPackages {
  kernel: UnpackedPackage & { kernelVersion: string };
  busybox: UnpackedPackage;
}

/** The candidate versions of the kernel and busybox-static (apt-cache only, nothing is downloaded). */
export async function installerVersions(): Promise<InstallerVersions> {
  const { kernel, more } = await kernelPackage(['busybox-static']);
  return { kernel, busybox: more[0]! };
}

const busyboxBinary = (busybox: UnpackedPackage) => join(busybox.root, 'bin/busybox');

/** The kernel and busybox unpacked in the cache; the kernel's modules.dep is built on the first unpack. */
export async function unpackInstallerPackages(cache: string, v: InstallerVersions): Promise<InstallerPackages> {
  const busybox = await unpacked(cache, v.busybox);
  const kernel = await unpacked(cache, v.kernel, (root) => depmod(busyboxBinary(busybox), root, v.kernel.kernelVersion));
  return { busybox, kernel: { ...kernel, kernelVersion: v.kernel.kernelVersion } };
}

/**
 * The installer for today's Debian kernel, from the cache or built now (about 75 MB of packages the first time).
 * `cache` is <cache root>/pxe.
 */
export async function ensureInstaller(cache: string, epoch: number, log: (line: string) => void = () => {}): Promise<Installer> {
  const v = await installerVersions();
  const scripts = installerScripts();
  const key = createHash('sha256')
    .update(JSON.stringify({ LAYOUT, kernel: v.kernel, busybox: v.busybox, scripts, modules: INSTALLER_MODULES, epoch }))
    .digest('hex')
    .slice(0, 16);
  const dir = join(cache, `installer-${key}`);
  const packages: PackageVersion[] = [{ name: v.kernel.name, version: v.kernel.version, arch: v.kernel.arch }, v.busybox];
  const result = { dir, kernelVersion: v.kernel.kernelVersion, packages };
  if (existsSync(join(dir, INITRD_FILE))) return result;

  log(`==> installer: ${v.kernel.name} ${v.kernel.version}, busybox-static ${v.busybox.version} (apt-get download, cached)`);
  const pkgs = await unpackInstallerPackages(cache, v);
  await mkdir(cache, { recursive: true });
  const tmp = await mkdtemp(join(cache, '.installer-'));
  try {
    await copyFile(join(pkgs.kernel.root, 'boot', `vmlinuz-${v.kernel.kernelVersion}`), join(tmp, KERNEL_FILE));
    await writeFile(join(tmp, INITRD_FILE), await buildInitramfs(pkgs, epoch));
    try {
      await rename(tmp, dir);
    } catch (e) {
      if (!existsSync(join(dir, INITRD_FILE))) throw e;
      await rm(tmp, { recursive: true, force: true });
    }
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return result;
}
