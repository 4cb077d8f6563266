// `mkimage build --build`: runs Packer on an emitted directory (src/emit/packer.ts). It checks the host
// tools first, generates the per-build SSH key (ed25519, OpenSSH format) into <dir>/.build/ and the seed
// user-data that authorises it, streams `packer build` output line by line prefixed by the build phase,
// deletes the private key afterwards and returns Packer's exit code.

import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { accessSync, constants, statSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { DiagnosticError, error } from '../diagnostics.js';
import { BUILD_USER, renderBuildUserData } from '../emit/packer.js';
import { writeFileAtomic } from '../output.js';

/** First executable called `name` on PATH (no shell involved). */
export function findOnPath(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const full = join(dir, name);
    try {
      if (statSync(full).isFile()) {
        accessSync(full, constants.X_OK);
        return full;
      }
    } catch {
      // not here
    }
  }
  return undefined;
}

function capture(cmd: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.on('error', () => resolve(undefined));
    child.on('close', (code) => resolve(code === 0 ? out : undefined));
  });
}

/** "1.6.6" from `packer version` ("Packer v1.6.6"), or undefined when packer is absent or says something else. */
export async function packerVersion(): Promise<string | undefined> {
  const bin = findOnPath('packer');
  if (bin === undefined) return undefined;
  const out = await capture(bin, ['version']);
  return out === undefined ? undefined : /Packer v?(\d+\.\d+\.\d+)/.exec(out)?.[1];
}

// ---- OpenSSH ed25519 key (PROTOCOL.key), unencrypted ----

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const sshString = (b: Buffer | string) => {
  const buf = typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
  return Buffer.concat([u32(buf.length), buf]);
};

export interface SshKeyPair {
  /** "-----BEGIN OPENSSH PRIVATE KEY-----..." */
  privateKey: string;
  /** "ssh-ed25519 AAAA... comment" */
  publicKey: string;
}

/** A fresh ed25519 key pair in OpenSSH formats, made with node:crypto. */
export function generateSshKeyPair(comment: string): SshKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d ?? '', 'base64url');
  const pubBlob = Buffer.concat([sshString('ssh-ed25519'), sshString(pub)]);
  const check = randomBytes(4);
  let priv = Buffer.concat([
    check,
    check,
    sshString('ssh-ed25519'),
    sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString(comment),
  ]);
  const pad = (8 - (priv.length % 8)) % 8;
  priv = Buffer.concat([priv, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0', 'latin1'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    u32(1),
    sshString(pubBlob),
    sshString(priv),
  ]).toString('base64');
  const lines = body.match(/.{1,70}/g) ?? [];
  return {
    privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`,
    publicKey: `ssh-ed25519 ${pubBlob.toString('base64')} ${comment}`,
  };
}

export const BUILD_KEY = '.build/id_ed25519';

/** Write the per-build key (0600) into <dir>/.build/ and seed/user-data authorising it. */
export async function prepareBuild(dir: string): Promise<SshKeyPair> {
  const keys = generateSshKeyPair(`${BUILD_USER}@mkimage`);
  await mkdir(join(dir, '.build'), { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(dir, BUILD_KEY), keys.privateKey, 0o600);
  await writeFileAtomic(join(dir, `${BUILD_KEY}.pub`), `${keys.publicKey}\n`, 0o644);
  await writeFileAtomic(join(dir, 'seed/user-data'), renderBuildUserData(keys.publicKey), 0o644);
  return keys;
}

const INSTALL_HINT =
  'install them with `apt-get install packer qemu-system-x86 qemu-utils xorriso` (Debian/Ubuntu), or ' +
  '`dnf install qemu-kvm qemu-img xorriso` plus packer from the HashiCorp repository (EL)';

/** The qemu binary Packer should run: qemu-system-x86_64 on PATH, else EL's /usr/libexec/qemu-kvm. */
function qemuBinary(): string | undefined {
  const onPath = findOnPath('qemu-system-x86_64');
  if (onPath !== undefined) return onPath;
  try {
    accessSync('/usr/libexec/qemu-kvm', constants.X_OK);
    return '/usr/libexec/qemu-kvm';
  } catch {
    return undefined;
  }
}

/** Throw E016 naming every missing host tool and how to install it. */
export function checkBuildTools(): { packer: string; qemu: string } {
  const packer = findOnPath('packer');
  const qemu = qemuBinary();
  const iso = ['xorriso', 'mkisofs', 'genisoimage'].find((t) => findOnPath(t) !== undefined);
  const missing = [
    ...(packer === undefined ? ['packer'] : []),
    ...(qemu === undefined ? ['qemu-system-x86_64'] : []),
    ...(iso === undefined ? ['xorriso (or mkisofs), which Packer needs for the seed CD'] : []),
  ];
  if (packer === undefined || qemu === undefined || missing.length > 0) {
    throw new DiagnosticError([error('E016', `--build needs ${missing.join(', ')} on PATH: ${INSTALL_HINT}`)]);
  }
  return { packer, qemu };
}

/** Which part of the build a Packer output line belongs to. */
export function phaseOf(line: string, current: string): string {
  const script = /Provisioning with shell script: \S*?([A-Za-z0-9_-]+)\.sh/.exec(line);
  if (script?.[1] !== undefined) return script[1];
  if (/Uploading \S+ =>/.test(line)) return 'upload';
  if (/Gracefully halting virtual machine|Stopping the VM|Converting hard drive|Compressing/i.test(line)) return 'export';
  return current;
}

function kvmUsable(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Run `packer build` in `dir` (an emitted packer directory). Lines from Packer's stdout and stderr reach
 * `onLine` as "[phase] text". Resolves to Packer's exit code.
 */
export async function runPackerBuild(dir: string, opts: { onLine(line: string): void }): Promise<number> {
  const tools = checkBuildTools();
  await prepareBuild(dir);
  const args = ['build', '-color=false', `-var=qemu_binary=${tools.qemu}`];
  if (!kvmUsable()) {
    opts.onLine('[build] /dev/kvm is not usable here: building with accelerator=tcg (much slower)');
    args.push('-var=accelerator=tcg');
  }
  args.push('.');
  let phase = 'build';
  try {
    return await new Promise<number>((resolve, reject) => {
      const child = spawn(tools.packer, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CHECKPOINT_DISABLE: '1' } });
      const pending = { stdout: '', stderr: '' };
      const feed = (which: 'stdout' | 'stderr', chunk: Buffer | undefined) => {
        const text = pending[which] + (chunk?.toString('utf8') ?? '');
        const parts = text.split(/\r?\n/);
        pending[which] = chunk === undefined ? '' : (parts.pop() ?? '');
        for (const line of parts) {
          if (chunk === undefined && line === '') continue;
          phase = phaseOf(line, phase);
          opts.onLine(`[${phase}] ${line}`);
        }
      };
      child.stdout.on('data', (d: Buffer) => feed('stdout', d));
      child.stderr.on('data', (d: Buffer) => feed('stderr', d));
      child.on('error', reject);
      child.on('close', (code, signal) => {
        feed('stdout', undefined);
        feed('stderr', undefined);
        resolve(code ?? (signal ? 128 : 1));
      });
    });
  } finally {
    // The key only ever authorised a user that no longer exists in the image; do not keep it around.
    await rm(join(dir, BUILD_KEY), { force: true });
  }
}
