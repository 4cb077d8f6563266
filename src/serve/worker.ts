// A cluster-mode HTTP worker of `mkimage pxe serve` (started by workers.ts, never by hand): the same routes as
// the single-process server, over a replica of the state. It stops when the server process says so or goes
// away; SIGINT/SIGTERM (a Ctrl-C reaches the whole process group) are the server process's to handle.

import cluster from 'node:cluster';
import { closedPipeTolerant } from '../cli/stdio.js';
import type { ServeApp } from './app.js';
import { WORKER_ENV, type ToPrimary, type ToWorker, type WorkerConfig } from './ipc.js';
import { loadLayout } from './layout.js';
import { jsonLineLogger } from './log.js';
import { readManifest } from './manifest.js';
import { ReplicaStore } from './replica-store.js';
import { listen, listenDiagnostic, type ListeningServer } from './server.js';

async function runWorker(config: WorkerConfig): Promise<void> {
  const send = (m: ToPrimary) => process.connected && process.send!(m);
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  // the workers share the server's standard output: a reader that went away is no reason to stop serving
  const log = jsonLineLogger(closedPipeTolerant(process.stdout));
  const first = new Promise<ToWorker & { op: 'records' }>((resolve) => {
    const once = (m: ToWorker) => {
      if (m.op !== 'records') return;
      process.off('message', once);
      resolve(m);
    };
    process.on('message', once);
  });
  send({ op: 'hello' });
  const m = await readManifest(config.dir, config.cwd);
  const l = m.manifest && (await loadLayout(config.dir, m.manifest, config.cwd));
  if (!l?.layout) return void send({ op: 'startup-failed', diagnostics: l?.diagnostics ?? m.diagnostics });
  const store = new ReplicaStore((await first).records, send);
  const app: ServeApp = { layout: l.layout, store, log, natSources: new Set(config.natSources), closing: false };

  let listener: ListeningServer | undefined;
  const close = async () => {
    app.closing = true;
    await listener?.close();
    log.flush();
    send({ op: 'closed' });
    process.exit(0);
  };
  process.on('message', (msg: ToWorker) => {
    if (msg.op === 'close') void close();
    else store.receive(msg);
  });
  process.on('disconnect', () => void close());
  try {
    listener = await listen(app, config.host, config.port);
  } catch (e) {
    return void send({ op: 'startup-failed', diagnostics: [listenDiagnostic(config.host, config.port, e)] });
  }
  send({ op: 'ready' });
}

const config = process.env[WORKER_ENV];
if (cluster.isWorker && config !== undefined) void runWorker(JSON.parse(config) as WorkerConfig);
