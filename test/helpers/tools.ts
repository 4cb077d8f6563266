// Real validators used by the tests. A missing tool fails the test with the install hint; it is never
// skipped (under CI=true or not: .ci/run installs every one of them).

import { execFileSync, spawnSync } from 'node:child_process';

const DEBIAN_PACKAGE: Record<string, string> = {
  'cloud-init': 'cloud-init',
  netplan: 'netplan.io',
  packer: 'packer',
  shellcheck: 'shellcheck',
  'systemd-analyze': 'systemd',
  isoinfo: 'genisoimage',
  blkid: 'util-linux',
  unshare: 'util-linux',
  'cloud-localds': 'cloud-image-utils',
  openssl: 'openssl',
  'ignition-validate': 'ignition',
  bash: 'bash',
  curl: 'curl',
  'qemu-img': 'qemu-utils',
  'qemu-system-x86_64': 'qemu-system-x86',
  debootstrap: 'debootstrap',
  skopeo: 'skopeo',
  'docker-registry': 'docker-registry',
  go: 'golang-go',
  xorriso: 'xorriso',
  mksquashfs: 'squashfs-tools',
  unsquashfs: 'squashfs-tools',
  sha512sum: 'coreutils',
  base64: 'coreutils',
  gzip: 'gzip',
  tar: 'tar',
  python3: 'python3',
  wget: 'wget',
  sha256sum: 'coreutils',
  sh: 'dash',
  dnsmasq: 'dnsmasq-base',
};

/** Absolute path of `name`, or throw naming the Debian package that provides it. */
export function tool(name: string): string {
  const r = spawnSync('sh', ['-c', `command -v "$1"`, 'sh', name], { encoding: 'utf8' });
  const path = r.stdout.trim();
  if (r.status !== 0 || path === '') {
    const pkg = DEBIAN_PACKAGE[name] ?? name;
    throw new Error(`validator "${name}" is not installed: apt-get install ${pkg} (.ci/run installs it)`);
  }
  return path;
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Run a validator; never throws on a non-zero exit (the test asserts on status). */
export function run(name: string, args: string[], opts: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): RunResult {
  const r = spawnSync(tool(name), args, { encoding: 'utf8', cwd: opts.cwd, input: opts.input, env: opts.env ?? process.env, maxBuffer: 64 << 20 });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export { execFileSync };
