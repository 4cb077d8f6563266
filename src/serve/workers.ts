// Cluster mode: the server process forks HTTP workers (Node's cluster: they share one listening socket) and
// stays the only owner of the state. Workers ask it for the moves requests make; it makes them in its store,
// sends the changed record to every worker once it is on disk, then answers. A worker that dies is replaced.
// Why: one Node process answers at most one core's worth of requests, and on a small box it competes for
// that core with everything else; several processes use the machine like nginx's workers do.

import cluster, { type Worker } from 'node:cluster';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Diagnostic } from '../diagnostics.js';
import type { Logger } from './log.js';
import { WORKER_ENV, type ToPrimary, type ToWorker, type WorkerConfig } from './ipc.js';
import type { StateStore } from './state-store.js';
import { sameToken } from './tokens.js';

const WORKER_MODULE = fileURLToPath(new URL('./worker.js', import.meta.url));
const STOP_GRACE_MS = 10_000;

/** Whether cluster mode can run: the compiled worker module is there (not when running from TypeScript sources). */
export function workersAvailable(): boolean {
  return existsSync(WORKER_MODULE);
}

export interface Workers {
  url: string;
  stop(): Promise<void>;
}

async function answer(store: StateStore, m: ToPrimary): Promise<ToWorker | undefined> {
  switch (m.op) {
    case 'begin':
      return { op: 'reply', id: m.id, record: await store.beginInstall(m.mac) };
    case 'finish': {
      const r = store.get(m.mac);
      if (r?.token === undefined || !sameToken(r.token, m.token)) return { op: 'reply', id: m.id };
      const next = await store.finish(r, m.outcome, m.tail);
      return { op: 'reply', id: m.id, ...(next ? { record: next } : {}) };
    }
    case 'token': {
      const r = store.byToken(m.token);
      return { op: 'reply', id: m.id, ...(r ? { record: r } : {}) };
    }
    default:
      return undefined;
  }
}

export function startWorkers(count: number, config: WorkerConfig, store: StateStore, log: Logger): Promise<Workers | { diagnostics: Diagnostic[] }> {
  cluster.setupPrimary({ exec: WORKER_MODULE, args: [], silent: false });
  const workers = new Set<Worker>();
  let stopping = false;
  const send = (w: Worker, m: ToWorker) => {
    if (w.isConnected()) w.send(m);
  };
  store.onChange((r) => {
    for (const w of workers) send(w, { op: 'records', records: [r] });
  });

  return new Promise((resolve) => {
    let ready = 0;
    let url: string | undefined;
    let settled = false;
    const fork = () => {
      const w = cluster.fork({ [WORKER_ENV]: JSON.stringify(config) });
      workers.add(w);
      w.on('listening', (a: { address: string; port: number; addressType: number | string }) => {
        url ??= `http://${a.addressType === 6 || a.addressType === 'udp6' ? `[${a.address}]` : a.address}:${a.port}`;
      });
      w.on('message', (m: ToPrimary) => {
        if (m.op === 'hello') send(w, { op: 'records', records: store.all() });
        else if (m.op === 'ready' && !settled && ++ready === count) {
          settled = true;
          resolve({ url: url!, stop });
        } else if (m.op === 'startup-failed' && !settled) {
          settled = true;
          void stop().then(() => resolve({ diagnostics: m.diagnostics }));
        } else {
          answer(store, m).then(
            (reply) => reply && send(w, reply),
            (e: unknown) => {
              log.log('error', { message: (e as Error)?.stack ?? String(e) });
              if ('id' in m) send(w, { op: 'reply', id: m.id, error: (e as Error)?.message ?? String(e) });
            },
          );
        }
      });
      w.on('exit', (code, signal) => {
        workers.delete(w);
        if (stopping) return;
        log.log('error', { message: `HTTP worker ${w.process.pid} exited (${signal ?? `code ${code}`}): starting another` });
        setTimeout(() => !stopping && fork(), 1000).unref();
      });
    };
    const stop = async () => {
      stopping = true;
      const exits = [...workers].map((w) => new Promise<void>((r) => (w.isDead() ? r() : w.once('exit', () => r()))));
      for (const w of workers) send(w, { op: 'close' });
      const timer = setTimeout(() => {
        for (const w of workers) w.process.kill('SIGKILL');
      }, STOP_GRACE_MS);
      await Promise.all(exits);
      clearTimeout(timer);
    };
    for (let i = 0; i < count; i++) fork();
  });
}
