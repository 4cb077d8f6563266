// `mkimage <role> --build`: runs Packer on a rendered directory (src/emit/packer.ts), which is complete as
// rendered (the build seed and the cluster's build key come from the render: src/packer/build-key.ts). It checks
// the host tools first, runs `packer init .` when the HCL declares required_plugins (Packer >= 1.7 stops with
// "Missing plugins" otherwise), streams `packer build` output line by line prefixed by the build phase, and
// builds into a fresh directory beside the image directory that replaces it only on success: a failed build
// keeps the previous image. Resolves to Packer's exit code.

import { spawn } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, delimiter, dirname, join, resolve } from 'node:path';
import { DiagnosticError, error } from '../diagnostics.js';
import { exists } from '../output.js';

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

/** Packer runs that need its plugins installed first: the HCL declares required_plugins (Packer >= 1.7). */
export function needsPackerInit(dir: string): boolean {
  return /^\s*required_plugins\s*\{/m.test(readFileSync(join(dir, 'mkimage.pkr.hcl'), 'utf8'));
}

export interface PackerBuildOptions {
  onLine(line: string): void;
  /** the image directory (the HCL's output_directory): replaced by the new build only when it succeeds */
  outputDir: string;
}

/** Run one packer command in `dir`, streaming its lines as "[phase] text"; resolves to its exit code. */
function runPacker(packer: string, args: string[], dir: string, onLine: (line: string) => void, start: string): Promise<number> {
  let phase = start;
  return new Promise<number>((resolvePromise, reject) => {
    const child = spawn(packer, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CHECKPOINT_DISABLE: '1' } });
    const pending = { stdout: '', stderr: '' };
    const feed = (which: 'stdout' | 'stderr', chunk: Buffer | undefined) => {
      const text = pending[which] + (chunk?.toString('utf8') ?? '');
      const parts = text.split(/\r?\n/);
      pending[which] = chunk === undefined ? '' : (parts.pop() ?? '');
      for (const line of parts) {
        if (chunk === undefined && line === '') continue;
        phase = phaseOf(line, phase);
        onLine(`[${phase}] ${line}`);
      }
    };
    child.stdout.on('data', (d: Buffer) => feed('stdout', d));
    child.stderr.on('data', (d: Buffer) => feed('stderr', d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      feed('stdout', undefined);
      feed('stderr', undefined);
      resolvePromise(code ?? (signal ? 128 : 1));
    });
  });
}

/**
 * Run `packer build` in `dir` (a rendered packer directory), after `packer init .` when it needs plugins.
 * Packer writes into `<outputDir>.building` (it refuses an existing output directory); on success that
 * replaces `outputDir`, on failure it is removed and `outputDir` stays as it was. Resolves to Packer's exit code.
 */
export async function runPackerBuild(dir: string, opts: PackerBuildOptions): Promise<number> {
  const tools = checkBuildTools();
  if (needsPackerInit(dir)) {
    const init = await runPacker(tools.packer, ['init', '.'], dir, opts.onLine, 'init');
    if (init !== 0) return init;
  }
  const outputDir = resolve(dir, opts.outputDir);
  const fresh = `${outputDir}.building`;
  await rm(fresh, { recursive: true, force: true });
  const args = ['build', '-color=false', `-var=qemu_binary=${tools.qemu}`, `-var=output_directory=${fresh}`];
  if (!kvmUsable()) {
    opts.onLine('[build] /dev/kvm is not usable here: building with accelerator=tcg (much slower)');
    args.push('-var=accelerator=tcg');
  }
  args.push('.');
  const code = await runPacker(tools.packer, args, dir, opts.onLine, 'build');
  if (code !== 0 || !(await exists(fresh))) {
    await rm(fresh, { recursive: true, force: true });
    return code === 0 ? 1 : code;
  }
  // swap in: the old image moves aside first, so there is never a moment with neither
  const old = join(dirname(outputDir), `.${basename(outputDir)}.old`);
  await rm(old, { recursive: true, force: true });
  if (await exists(outputDir)) await rename(outputDir, old);
  await rename(fresh, outputDir);
  await rm(old, { recursive: true, force: true });
  return 0;
}
