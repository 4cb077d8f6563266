// Debian packages for the LAN-boot files (the installer's kernel and busybox, iPXE, pxelinux): the candidate
// version from the host's apt lists, fetched with `apt-get download` and unpacked with `dpkg -x` into the cache —
// never installed on the build host, so it needs no root and changes nothing there. Cached by name and version:
//   <cache>/pxe/debs/<name>_<version>_<arch>.deb   <cache>/pxe/root/<name>_<version>_<arch>/
// Entries appear by rename, so an interrupted fetch leaves nothing a later run trusts.

import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readlink, rename, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { EnvironmentError } from '../cli/run.js';
import { lastLines, runTool } from './tool.js';

export interface PackageVersion {
  name: string;
  version: string;
  arch: string;
}

export interface UnpackedPackage extends PackageVersion {
  /** the package's files, as `dpkg -x` unpacks them */
  root: string;
}

const aptFix = 'run `apt-get update` (pxe build fetches Debian packages through the host\'s apt sources: a Debian 12 host)';

/** The candidate stanza of each package, as `apt-cache show --no-all-versions` prints them (one call for all). */
export async function candidates(names: string[]): Promise<Map<string, Record<string, string>>> {
  const r = await runTool('apt-cache', ['show', '--no-all-versions', ...names]);
  const found = new Map<string, Record<string, string>>();
  for (const stanza of r.stdout.split(/\n\n+/)) {
    const fields: Record<string, string> = {};
    let key = '';
    for (const line of stanza.split('\n')) {
      if (/^\s/.test(line) && key) fields[key] += `\n${line.trim()}`;
      else {
        const colon = line.indexOf(':');
        if (colon > 0) {
          key = line.slice(0, colon);
          fields[key] = line.slice(colon + 1).trim();
        }
      }
    }
    const name = fields['Package'];
    if (name && names.includes(name) && !found.has(name)) found.set(name, fields);
  }
  const missing = names.filter((n) => !found.get(n)?.['Version'] || !found.get(n)?.['Architecture']);
  if (missing.length > 0) {
    throw new EnvironmentError(`apt knows no package ${missing.join(', ')} (${lastLines(r.stderr, 1) || 'no candidate'}): ${aptFix}`, 'E015');
  }
  return found;
}

const versionOf = (name: string, f: Record<string, string>): PackageVersion => ({ name, version: f['Version']!, arch: f['Architecture']! });

/** The candidate version of each package, in the order given. */
export async function candidateVersions(names: string[]): Promise<PackageVersion[]> {
  const found = await candidates(names);
  return names.map((n) => versionOf(n, found.get(n)!));
}

/**
 * The kernel package linux-image-amd64 points at today (linux-image-6.1.0-NN-amd64) and its version string
 * (6.1.0-NN-amd64, the directory under lib/modules/), with the candidates of `more` looked up on the way.
 */
export async function kernelPackage(more: string[] = [], meta = 'linux-image-amd64'): Promise<{ kernel: PackageVersion & { kernelVersion: string }; more: PackageVersion[] }> {
  const found = await candidates([meta, ...more]);
  const depends = found.get(meta)!['Depends'] ?? '';
  const name = depends.split(',').map((d) => d.trim()).find((d) => /^linux-image-\d/.test(d))?.split(/[\s(]/)[0];
  if (!name) throw new EnvironmentError(`${meta} depends on no linux-image-<version> package (Depends: ${depends}): ${aptFix}`, 'E015');
  const [kernel] = await candidateVersions([name]);
  return { kernel: { ...kernel!, kernelVersion: name.slice('linux-image-'.length) }, more: more.map((n) => versionOf(n, found.get(n)!)) };
}

const entryName = (p: PackageVersion) => `${p.name}_${p.version.replace(/:/g, '%3a')}_${p.arch}`;

async function renameInto(tmp: string, dest: string): Promise<void> {
  try {
    await rename(tmp, dest);
  } catch (e) {
    // another build put it there first: theirs is as good as ours
    if (!existsSync(dest)) throw e;
    await rm(tmp, { recursive: true, force: true });
  }
}

/** The .deb of `p` in the cache, downloaded with apt-get download when missing. */
async function debFile(cache: string, p: PackageVersion): Promise<string> {
  const dir = join(cache, 'debs');
  const dest = join(dir, `${entryName(p)}.deb`);
  if (existsSync(dest)) return dest;
  await mkdir(dir, { recursive: true });
  const tmp = await mkdtemp(join(dir, '.download-'));
  try {
    const r = await runTool('apt-get', ['download', '-q', `${p.name}=${p.version}`], { cwd: tmp });
    const files = (await readdir(tmp)).filter((f) => f.endsWith('.deb'));
    if (r.code !== 0 || files.length !== 1) {
      throw new EnvironmentError(`apt-get download ${p.name}=${p.version} failed: ${lastLines(r.stderr) || `exit ${r.code}`}; ${aptFix}`, 'E015');
    }
    await renameInto(join(tmp, files[0]!), dest);
    return dest;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * The real file behind `rel` in an unpacked package: its symlinks followed inside the package, not on this host (the
 * ipxe package's usr/lib/ipxe/ipxe.efi is a link to /boot/ipxe.efi, a file of the same package; following it here
 * read the host's own /boot, or failed on a host without ipxe installed).
 */
export async function packageFile(root: string, rel: string): Promise<string> {
  let at = posix.normalize(`/${rel}`);
  for (let hops = 0; hops < 16; hops++) {
    const full = join(root, at);
    const st = await lstat(full).catch(() => undefined);
    if (st === undefined || !st.isSymbolicLink()) return full;
    const to = await readlink(full);
    at = posix.normalize(to.startsWith('/') ? to : posix.join(posix.dirname(at), to)); // ".." stops at the package's root
  }
  throw new EnvironmentError(`${join(root, rel)}: too many symbolic links in the package; delete it from the cache and run again`, 'E015');
}

/**
 * `p` unpacked in the cache. `prepare` runs once on a fresh unpack, before it becomes visible (the kernel's
 * modules.dep is built there).
 */
export async function unpacked(cache: string, p: PackageVersion, prepare?: (root: string) => Promise<void>): Promise<UnpackedPackage> {
  const dir = join(cache, 'root');
  const dest = join(dir, entryName(p));
  if (existsSync(dest)) return { ...p, root: dest };
  const deb = await debFile(cache, p);
  await mkdir(dir, { recursive: true });
  const tmp = await mkdtemp(join(dir, '.unpack-'));
  try {
    const r = await runTool('dpkg', ['-x', deb, tmp]);
    if (r.code !== 0) throw new EnvironmentError(`dpkg -x ${deb} failed: ${lastLines(r.stderr)}; delete it from the cache and run again`, 'E015');
    await prepare?.(tmp);
    await renameInto(tmp, dest);
    return { ...p, root: dest };
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}
