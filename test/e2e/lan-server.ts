// The real `mkimage pxe serve` for the LAN-boot e2e, run through the CLI in the bed's workspace on 127.0.0.1 (QEMU's
// user networking makes the guest's 10.0.2.2:PORT reach it, every connection from 127.0.0.1: --nat-source). Its
// stdout is its structured log (one JSON object per line); the test reads the requests from it.

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Bed } from './bed.js';
import { REPO_ROOT } from './bed.js';

const CLI = join(REPO_ROOT, 'dist/src/cli.js');

export interface LogLine {
  ts: string;
  event: string;
  [field: string]: unknown;
}

export interface Serve {
  origin: string;
  /** every log line so far */
  log(): LogLine[];
  /** the request lines: method, path, status, mac, state, ... */
  requests(): LogLine[];
  stderr(): string;
  /** resolves with the first log line `match` accepts; rejects on timeout or when the server exits */
  waitFor(match: (l: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function startServe(bed: Bed, o: { dir: string; port: number; state: string }): Promise<Serve> {
  const args = [
    CLI, 'pxe', 'serve', '--dir', o.dir, '--listen', `127.0.0.1:${o.port}`, '--nat-source', '127.0.0.1', '--state', o.state,
    '--profiles', bed.profiles, '--cluster', bed.cluster,
  ];
  const child: ChildProcess = spawn(process.execPath, args, { cwd: bed.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let exited: number | null | undefined;
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  child.on('exit', (code) => (exited = code));
  const log = (): LogLine[] =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LogLine);
  const serve: Serve = {
    origin: `http://127.0.0.1:${o.port}`,
    log,
    requests: () => log().filter((l) => l.event === 'request'),
    stderr: () => err,
    async waitFor(match, timeoutMs, what) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = log().find(match);
        if (hit) return hit;
        if (exited !== undefined) throw new Error(`mkimage pxe serve exited (${exited}) before ${what}:\n${err}\n${out.slice(-4000)}`);
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; server log tail:\n${out.slice(-4000)}`);
        await sleep(500);
      }
    },
    async stop() {
      if (exited !== undefined) return;
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      await Promise.race([gone, sleep(10_000).then(() => void child.kill('SIGKILL'))]);
    },
  };
  await serve.waitFor((l) => l.event === 'listening', 30_000, 'the server to listen');
  return serve;
}
