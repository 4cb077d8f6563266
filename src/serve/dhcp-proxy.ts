// `pxe serve --dhcp-proxy`: Debian's dnsmasq with the proxyDHCP + TFTP config `pxe build` wrote, in the
// foreground as a child of the server (its log on our stderr), stopped when the server stops.

import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export const DNSMASQ_PACKAGE = 'dnsmasq-base';

/** The dnsmasq on PATH, or undefined. */
export function findDnsmasq(path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'dnsmasq');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface DhcpProxy {
  child: ChildProcess;
  /** resolves with dnsmasq's exit code (or signal name) when it ends */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderrTail: string }>;
  stop(): Promise<void>;
}

export function startDhcpProxy(dnsmasq: string, confFile: string, stderr: (s: string) => void): DhcpProxy {
  const child = spawn(dnsmasq, ['--keep-in-foreground', '--pid-file', `--conf-file=${confFile}`, '--log-facility=-'], { stdio: ['ignore', 'inherit', 'pipe'] });
  let tail = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    stderr(s);
    tail = (tail + s).slice(-2000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderrTail: string }>((resolve) => {
    child.once('error', (e) => {
      tail += e.message;
      resolve({ code: -1, signal: null, stderrTail: tail });
    });
    child.once('close', (code, signal) => resolve({ code, signal, stderrTail: tail }));
  });
  return {
    child,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(kill);
      }
    },
  };
}
