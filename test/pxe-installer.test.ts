// The LAN-boot installer, built from the real Debian packages (apt-get download, cached): the module closure against
// the kernel's own modules.dep and .modinfo (read here by busybox `strings`, not by mkimage's ELF reader), the
// initramfs as GNU cpio lists it, its determinism, and its scripts through shellcheck.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { softdepPre } from '../src/pxe/modinfo.js';
import { INSTALLER_MODULES, moduleClosure, moduleName, type Closure } from '../src/pxe/modules.js';
import { buildInitramfs, installerScripts, type InstallerPackages } from '../src/pxe/installer.js';
import { templateText } from '../src/template.js';
import { installerPackages } from './helpers/pxe-packages.js';
import { run } from './helpers/tools.js';

let pkgs: InstallerPackages;
let moduleDir: string;
let closure: Closure;
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'mkimage-installer-'));
  dirs.push(d);
  return d;
};

beforeAll(async () => {
  pkgs = await installerPackages();
  moduleDir = join(pkgs.kernel.root, 'lib/modules', pkgs.kernel.kernelVersion);
  closure = moduleClosure(moduleDir);
}, 600_000);
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** modules.dep as depmod wrote it: module name -> its dependencies' names. */
function modulesDep(): Map<string, string[]> {
  const name = (p: string) => moduleName(p.slice(p.lastIndexOf('/') + 1).replace(/\.ko$/, ''));
  const m = new Map<string, string[]>();
  for (const line of readFileSync(join(moduleDir, 'modules.dep'), 'utf8').split('\n')) {
    const [mod, deps] = line.split(':');
    if (mod && deps !== undefined) m.set(name(mod), deps.trim().split(/\s+/).filter(Boolean).map(name));
  }
  return m;
}

const position = (name: string) => closure.modules.findIndex((m) => m.name === name);

describe('the module closure (Debian kernel package, modules.dep from depmod)', () => {
  it('has every driver the installer asks for, and nothing is missing', () => {
    expect(closure.missing).toEqual([]);
    for (const w of INSTALLER_MODULES) expect(position(moduleName(w)), w).toBeGreaterThanOrEqual(0);
  });

  it('loads every module after all modules.dep says it needs', () => {
    const dep = modulesDep();
    for (const [i, m] of closure.modules.entries()) {
      for (const d of dep.get(m.name) ?? []) {
        const at = position(d);
        expect(at, `${d} (needed by ${m.name}) is in the closure`).toBeGreaterThanOrEqual(0);
        expect(at, `${d} loads before ${m.name}`).toBeLessThan(i);
      }
    }
  });

  it('adds the soft dependencies modules.dep leaves out: crc32c before jbd2 and ext4, the Realtek PHY before r8169', () => {
    // the independent reading: the softdep= strings in the module files themselves
    const softdeps = (rel: string) => {
      const r = run('busybox', ['strings', '-a', join(moduleDir, rel)]);
      return softdepPre(r.stdout.split('\n').filter((l) => l.startsWith('softdep=')).map((l) => l.slice('softdep='.length)));
    };
    expect(softdeps('kernel/fs/ext4/ext4.ko')).toEqual(['crypto-crc32c']);
    expect(softdeps('kernel/drivers/net/ethernet/realtek/r8169.ko')).toEqual(['realtek']);
    expect(modulesDep().get('ext4')).not.toContain('crc32c_generic');
    const crc32c = position('crc32c_generic');
    expect(crc32c).toBeGreaterThanOrEqual(0);
    expect(crc32c).toBeLessThan(position('jbd2'));
    expect(crc32c).toBeLessThan(position('ext4'));
    expect(position('realtek')).toBeLessThan(position('r8169'));
    expect(position('libcrc32c')).toBeLessThan(position('xfs'));
  });

  it('names what a kernel lacks instead of leaving it out silently', () => {
    expect(moduleClosure(moduleDir, ['ext4', 'no_such_driver']).missing).toEqual(['no_such_driver']);
  });

  it('parses softdep values: only the pre: part, several modules', () => {
    expect(softdepPre(['pre: a b post: c', 'post: d pre: e'])).toEqual(['a', 'b', 'e']);
  });
});

describe('the initramfs', () => {
  let gz: Uint8Array;
  let listing: string[];
  beforeAll(async () => {
    gz = await buildInitramfs(pkgs, 0);
    const r = run('cpio', ['-it', '--quiet'], { input: gunzipSync(gz).toString('latin1') });
    expect(r.status, r.stderr).toBe(0);
    listing = r.stdout.trim().split('\n');
  }, 120_000);

  it('holds /init, busybox, /bin/sh, /dev/console, the module list and every module of the closure', () => {
    for (const f of ['init', 'bin/busybox', 'bin/sh', 'dev/console', 'etc/mkimage/modules', 'etc/mkimage/udhcpc.script', 'etc/mkimage/installer-lib.sh']) {
      expect(listing, f).toContain(f);
    }
    const kver = pkgs.kernel.kernelVersion;
    for (const m of closure.modules) expect(listing, m.path).toContain(`lib/modules/${kver}/${m.path}`);
    expect(listing).toContain(`lib/modules/${kver}/kernel/fs/ext4/ext4.ko`);
    expect(listing).toContain(`lib/modules/${kver}/kernel/crypto/crc32c_generic.ko`);
    expect(listing.filter((l) => l.endsWith('.ko')).length).toBe(closure.modules.length);
  });

  it('carries /init, what it sources and the module load order as built', () => {
    const d = tmp();
    const r = run('sh', ['-c', `cd "$1" && gzip -dc "$2" | cpio -idm --quiet init etc/mkimage/installer-lib.sh etc/mkimage/modules`, 'sh', d, writeGz(d)]);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(d, 'init'), 'utf8')).toBe(templateText('pxe/init.sh'));
    expect(readFileSync(join(d, 'init'), 'utf8')).toContain('\n. /etc/mkimage/installer-lib.sh\n');
    expect(readFileSync(join(d, 'etc/mkimage/installer-lib.sh'), 'utf8')).toBe(templateText('pxe/installer-lib.sh'));
    expect(readFileSync(join(d, 'etc/mkimage/modules'), 'utf8')).toBe(closure.modules.map((m) => `${m.path}\n`).join(''));
  });

  function writeGz(d: string): string {
    const p = join(d, 'initramfs.cpio.gz');
    writeFileSync(p, gz);
    return p;
  }

  it('is byte-identical when built again, and differs only by the SOURCE_DATE_EPOCH it is given', async () => {
    expect(Buffer.from(await buildInitramfs(pkgs, 0)).equals(Buffer.from(gz))).toBe(true);
    expect(Buffer.from(await buildInitramfs(pkgs, 1_700_000_000)).equals(Buffer.from(gz))).toBe(false);
  }, 120_000);
});

describe('the installer scripts', () => {
  const scripts = installerScripts();

  it.each([
    ['init', scripts.init],
    ['udhcpc.script', scripts.udhcpc],
    ['installer-lib.sh', scripts.lib],
  ])('%s passes shellcheck -s sh (busybox sh is POSIX sh), following what it sources', (name, text) => {
    const d = tmp();
    const p = join(d, name);
    writeFileSync(p, text);
    writeFileSync(join(d, 'installer-lib.sh'), scripts.lib);
    const r = run('shellcheck', ['-s', 'sh', '-x', '-f', 'gcc', p], { cwd: d });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('reads the kernel arguments the server puts on the kernel line, and makes the requests it expects', () => {
    for (const arg of ['server', 'node', 'mac', 'token', 'image', 'sha256', 'disk']) expect(scripts.lib).toContain(`mkimage.${arg}=*)`);
    expect(scripts.init).toContain('read_cmdline server node token image sha256\n');
    expect(scripts.init).toContain('"$server/seed/$token/$1"');
    expect(scripts.init).toContain('"$server/$1?token=$token"'); // POST /done, /failed
    expect(scripts.init).toContain("SEED_FILES='meta-data user-data network-config'");
  });
});
