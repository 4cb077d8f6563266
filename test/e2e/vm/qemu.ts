// QEMU harness for the e2e tests: boots a qcow2 cloud image under TCG (no KVM here) with user-mode
// networking, the guest at 10.0.2.15/24 behind gateway 10.0.2.2 and DNS 10.0.2.3, SSH forwarded from a free
// port on 127.0.0.1. The base image is never written: every boot gets its own qcow2 overlay in a temp dir.
// LAN boot: a blank disk instead of the overlay, network first (QEMU's own iPXE ROM, TFTP and the DHCP boot file
// from QEMU's user networking), then the disk; SeaBIOS or OVMF (UEFI).
// Everything is real: qemu-system-x86_64, qemu-img and the system `ssh`.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface BootOptions {
  /** the cached base image (qcow2); only read, through an overlay. Without it: blankDisk */
  baseImage?: string;
  /** a blank qcow2 disk of this size (e.g. "4G") instead of an overlay of baseImage: what a LAN boot installs to */
  blankDisk?: string;
  /** serial= of the first disk (Linux shows it as /sys/block/vda/serial, udev as by-id/virtio-<serial>) */
  diskSerial?: string;
  /** more blank disks after the first, e.g. a smaller one the installer must not pick */
  extraDisks?: Array<{ size: string; serial?: string }>;
  /** boot from the network first (TFTP root and DHCP boot file of QEMU's user networking), then from the disk */
  netBoot?: { tftpDir: string; bootfile: string };
  /** uefi: OVMF (OVMF_CODE_4M.fd and a copy of OVMF_VARS_4M.fd from the ovmf package) instead of SeaBIOS */
  firmware?: 'bios' | 'uefi';
  /** NoCloud seed image (ISO 9660, label cidata) attached read-only */
  seedIso?: string;
  /** how the seed is attached: a virtio disk (default) or an IDE CD-ROM */
  seedInterface?: 'virtio' | 'cdrom';
  /** MAC of the one NIC (virtio-net-pci); default 52:54:00:12:34:56 */
  mac?: string;
  /** virtual size of the overlay, e.g. "10G" (cloud-init's growpart grows the root to it); default: the base's */
  diskSize?: string;
  memoryMiB?: number;
  cpus?: number;
  /** more host -> guest forwards besides SSH; each gets a free host port, see Vm.ports */
  forwardPorts?: number[];
  /** extra qemu-system-x86_64 arguments, appended last */
  extraArgs?: string[];
  /** exit QEMU when the guest reboots (-no-reboot) */
  noReboot?: boolean;
  /** default SSH login for ssh(); waitForSsh() sets it too */
  sshUser?: string;
  sshKey?: string;
}

export interface SshResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Vm {
  /** host port on 127.0.0.1 forwarded to the guest's 22 */
  sshPort: number;
  /** guest port -> host port on 127.0.0.1 (22 and every forwardPorts entry) */
  ports: Record<number, number>;
  /** the guest's serial console (ttyS0), written by QEMU */
  serialLog: string;
  /** the temp dir holding overlay, serial log and QEMU's stderr; removed by stop() */
  dir: string;
  /** the disk files (qcow2), in the guest's order (vda, vdb, ...) */
  disks: string[];
  mac: string;
  /** the whole serial log so far (CRs removed) */
  serial(): string;
  /** the last `n` lines of the serial log */
  serialTail(n?: number): string;
  /** resolves with the first match of `re` in the serial log; rejects on timeout or when QEMU exits */
  waitForSerial(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** retries `ssh user@guest true` until it works; remembers user and key for ssh() */
  waitForSsh(user: string, key: string, timeoutMs: number): Promise<void>;
  /** runs `cmd` in the guest through the system ssh (never throws on a non-zero exit) */
  ssh(cmd: string, opts?: { user?: string; key?: string; timeoutMs?: number; input?: string }): Promise<SshResult>;
  /** resolves with QEMU's exit code once it is gone (e.g. after the guest powers off) */
  waitForExit(timeoutMs: number): Promise<number | null>;
  /** whether QEMU is still running */
  running(): boolean;
  /** ends QEMU (SIGTERM: it flushes its disks and exits; SIGKILL after 5 s) but keeps the temp dir, so the disks can be read */
  halt(): Promise<void>;
  /** halt() and removes the temp dir; safe to call twice */
  stop(): Promise<void>;
}

export const GUEST_ADDRESS = '10.0.2.15';
export const GUEST_GATEWAY = '10.0.2.2';
export const GUEST_DNS = '10.0.2.3';
const DEFAULT_MAC = '52:54:00:12:34:56';
/** The ovmf package's firmware (4 MiB flash layout): code read-only, variables copied per VM. */
export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';
const TAIL_LINES = 60;

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/** A TCP port free on 127.0.0.1 right now (the kernel picks it). */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function sshArgs(port: number, user: string, key: string, cmd: string): string[] {
  return [
    '-o', 'StrictHostKeyChecking=no',
    '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'BatchMode=yes',
    '-o', 'ConnectTimeout=5',
    '-o', 'LogLevel=ERROR',
    '-i', key,
    '-p', String(port),
    `${user}@127.0.0.1`,
    cmd,
  ];
}

/** Boot `opts.baseImage` under TCG. Always call stop() (afterAll/finally), even when a wait failed. */
export async function bootVm(opts: BootOptions): Promise<Vm> {
  const dir = mkdtempSync(join(tmpdir(), 'mkimage-vm-'));
  const overlay = join(dir, 'overlay.qcow2');
  const serialLog = join(dir, 'serial.log');
  const stderrLog: string[] = [];
  const mac = (opts.mac ?? DEFAULT_MAC).toLowerCase();

  const qemuImg = (args: string[], what: string) => {
    const img = spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', ...args], { encoding: 'utf8' });
    if (img.status !== 0) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`qemu-img create ${what} failed: ${img.error?.message ?? img.stderr}`);
    }
  };
  if (opts.baseImage) {
    qemuImg(['-b', opts.baseImage, '-F', 'qcow2', overlay, ...(opts.diskSize ? [opts.diskSize] : [])], `overlay of ${opts.baseImage}`);
  } else if (opts.blankDisk) {
    qemuImg([overlay, opts.blankDisk], `blank disk of ${opts.blankDisk}`);
  } else {
    rmSync(dir, { recursive: true, force: true });
    throw new Error('bootVm: give baseImage (an overlay of it) or blankDisk (a new empty disk)');
  }
  const disks = [overlay];
  for (const [i, d] of (opts.extraDisks ?? []).entries()) {
    const p = join(dir, `disk${i + 1}.qcow2`);
    qemuImg([p, d.size], `extra disk of ${d.size}`);
    disks.push(p);
  }

  const ports: Record<number, number> = {};
  for (const guestPort of [22, ...(opts.forwardPorts ?? [])]) ports[guestPort] = await freePort();
  const hostfwd = Object.entries(ports)
    .map(([g, h]) => `hostfwd=tcp:127.0.0.1:${h}-${GUEST_ADDRESS}:${g}`)
    .join(',');

  const args = [
    '-accel', 'tcg',
    '-cpu', 'max',
    '-m', String(opts.memoryMiB ?? 2048),
    '-smp', String(opts.cpus ?? 2),
    '-display', 'none',
    '-serial', `file:${serialLog}`,
    '-monitor', 'none',
  ];
  const lanBoot = opts.netBoot !== undefined || opts.firmware === 'uefi' || opts.diskSerial !== undefined || disks.length > 1;
  if (!lanBoot) {
    args.push(
      '-drive', `file=${overlay},if=virtio,format=qcow2,cache=unsafe,discard=unmap`,
      '-nic', `user,model=virtio-net-pci,mac=${mac},${hostfwd}`,
    );
  } else {
    // devices spelled out, for bootindex (network first, then the first disk; SeaBIOS and OVMF both follow it) and serial
    const serials = [opts.diskSerial, ...(opts.extraDisks ?? []).map((d) => d.serial)];
    for (const [i, d] of disks.entries()) {
      args.push('-drive', `file=${d},if=none,id=disk${i},format=qcow2,cache=unsafe,discard=unmap`);
      const serial = serials[i] ? `,serial=${serials[i]}` : '';
      args.push('-device', `virtio-blk-pci,drive=disk${i}${serial}${i === 0 ? ',bootindex=2' : ''}`);
    }
    const tftp = opts.netBoot ? `,tftp=${opts.netBoot.tftpDir},bootfile=${opts.netBoot.bootfile}` : '';
    args.push('-netdev', `user,id=net0,${hostfwd}${tftp}`);
    args.push('-device', `virtio-net-pci,netdev=net0,mac=${mac}${opts.netBoot ? ',bootindex=1' : ''}`);
    if (opts.netBoot && opts.firmware !== 'uefi') {
      // SeaBIOS mirrors the screen (its own messages, iPXE's, pxelinux's) to the serial port at 0x3f8: a 16-bit value
      const sercon = join(dir, 'sercon-port');
      writeFileSync(sercon, Buffer.from([0xf8, 0x03]));
      args.push('-fw_cfg', `name=etc/sercon-port,file=${sercon}`);
    }
    if (opts.firmware === 'uefi') {
      const vars = join(dir, 'OVMF_VARS.fd');
      copyFileSync(OVMF_VARS, vars);
      args.push('-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`, '-drive', `if=pflash,format=raw,unit=1,file=${vars}`);
    }
  }
  if (opts.seedIso) {
    args.push(
      '-drive',
      opts.seedInterface === 'cdrom'
        ? `file=${opts.seedIso},media=cdrom,readonly=on`
        : `file=${opts.seedIso},if=virtio,format=raw,readonly=on`,
    );
  }
  if (opts.noReboot) args.push('-no-reboot');
  args.push(...(opts.extraArgs ?? []));

  const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code, signal) => {
      live.delete(child);
      exitCode = code ?? (signal ? null : -1);
      resolve(exitCode);
    });
    child.on('error', (e) => {
      stderrLog.push(String(e));
      live.delete(child);
      exitCode = -1;
      resolve(-1);
    });
  });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => stderrLog.push(s));

  let sshUser = opts.sshUser;
  let sshKey = opts.sshKey;
  let stopped = false;

  const serial = () => (existsSync(serialLog) ? readFileSync(serialLog, 'utf8').replace(/\r/g, '') : '');
  const serialTail = (n = TAIL_LINES) => serial().split('\n').slice(-n).join('\n');
  const failure = (what: string) => {
    const qemu = stderrLog.join('').trim();
    return new Error(
      `${what}\n${exitCode !== undefined ? `QEMU exited (${exitCode})${qemu ? `: ${qemu}` : ''}\n` : ''}` +
        `--- last ${TAIL_LINES} lines of the serial log (${serialLog}) ---\n${serialTail()}`,
    );
  };

  const ssh: Vm['ssh'] = (cmd, o = {}) => {
    const user = o.user ?? sshUser;
    const key = o.key ?? sshKey;
    if (!user || !key) return Promise.reject(new Error('ssh(): no user/key; call waitForSsh(user, key) first or pass them'));
    return new Promise((resolve) => {
      const p = spawn('ssh', sshArgs(ports[22]!, user, key, cmd), { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
      p.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
      const timer = setTimeout(() => {
        stderr += `\n[harness] ssh timed out after ${o.timeoutMs ?? 120_000} ms`;
        p.kill('SIGKILL');
      }, o.timeoutMs ?? 120_000);
      p.on('error', (e) => (stderr += String(e)));
      p.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, stdout, stderr });
      });
      p.stdin.end(o.input ?? '');
    });
  };

  const vm: Vm = {
    sshPort: ports[22]!,
    ports,
    serialLog,
    dir,
    disks,
    mac,
    serial,
    serialTail,
    async waitForSerial(re, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = serial().match(re);
        if (m) return m;
        if (exitCode !== undefined) throw failure(`QEMU exited before the serial log matched ${re}`);
        if (Date.now() > deadline) throw failure(`timed out after ${timeoutMs} ms waiting for ${re} on the serial console`);
        await sleep(500);
      }
    },
    async waitForSsh(user, key, timeoutMs) {
      sshUser = user;
      sshKey = key;
      const deadline = Date.now() + timeoutMs;
      let last: SshResult | undefined;
      for (;;) {
        if (exitCode !== undefined) throw failure(`QEMU exited before SSH as ${user} worked`);
        last = await ssh('true', { user, key, timeoutMs: 20_000 });
        if (last.code === 0) return;
        if (Date.now() > deadline) {
          throw failure(`timed out after ${timeoutMs} ms waiting for SSH as ${user} on 127.0.0.1:${ports[22]} ` +
            `(last: exit ${last.code}: ${last.stderr.trim()})`);
        }
        await sleep(3000);
      }
    },
    ssh,
    async waitForExit(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
      const r = await Promise.race([exited, timeout]);
      clearTimeout(timer);
      if (r === 'timeout') throw failure(`timed out after ${timeoutMs} ms waiting for QEMU to exit`);
      return r;
    },
    running: () => exitCode === undefined,
    async halt() {
      if (exitCode === undefined) {
        child.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const grace = new Promise<'grace'>((r) => (timer = setTimeout(() => r('grace'), 5000)));
        if ((await Promise.race([exited, grace])) === 'grace') {
          child.kill('SIGKILL');
          await exited;
        }
        clearTimeout(timer);
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await vm.halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return vm;
}
