// Start and stop a whole `pxe serve`: the manifest and the files, the state lock, the store, the admin route
// and the LAN listener, and the start-up log (the URL, what is missing, the plain-HTTP warning).

import { join, relative, resolve } from 'node:path';
import { error, type Diagnostic } from '../diagnostics.js';
import { writeFileAtomic } from '../output.js';
import { startAdmin, type AdminServer } from './admin.js';
import type { ServeApp } from './app.js';
import { loadLayout, type ServeLayout } from './layout.js';
import { jsonLineLogger, type Logger } from './log.js';
import { readManifest, type PxeManifest } from './manifest.js';
import { listen, listenDiagnostic } from './server.js';
import { startWorkers } from './workers.js';
import { lockPathFor, takeLock } from './state-lock.js';
import { StateStore } from './state-store.js';

export interface PxeServeOptions {
  /** the directory `pxe build` wrote */
  dir: string;
  cwd: string;
  /** default clusters/<cluster>/pxe-state.json under cwd */
  state?: string;
  host: string;
  port: number;
  natSources: string[];
  /** HTTP worker processes (cluster mode) when more than 1; 1 serves in this process */
  workers?: number;
  /** where the JSON log lines go */
  logSink: (chunk: string) => void;
}

export interface RunningServe {
  url: string;
  log: Logger;
  statePath: string;
  stop(): Promise<void>;
}

export const SECURITY_WARNING =
  'plain HTTP: anyone who can sniff this LAN sees the seeds, and with them the cluster join token. ' +
  'Seeds are served only to a machine that is installing, under its current random token, from its planned address (or a --nat-source): ' +
  'keep the boot network to machines you trust.';

export function defaultStatePath(cwd: string, cluster: string, state?: string): string {
  return resolve(cwd, state ?? join('clusters', cluster, 'pxe-state.json'));
}

/** node name -> MAC, or E010 naming the nodes there are */
export function nodeLookup(manifest: PxeManifest): (node: string) => string | Diagnostic {
  return (name) =>
    manifest.nodes.find((n) => n.name === name)?.mac ??
    error('E010', `there is no LAN-boot node "${name}" in pxe.json: use one of ${manifest.nodes.map((n) => n.name).join(', ') || '(none)'}`);
}

function startLog(log: Logger, layout: ServeLayout, store: StateStore, url: string, statePath: string, cwd: string, workers: number): void {
  log.log('listening', { url, dir: relative(cwd, layout.dir) || '.', state: relative(cwd, statePath), nodes: layout.manifest.nodes.length, workers });
  log.log('warning', { message: SECURITY_WARNING });
  for (const p of layout.imageProblems) {
    log.log('image-missing', { role: p.role, reason: `${p.problem}: its nodes are told so and poll; run \`mkimage pxe build\` with the image, then restart mkimage pxe serve` });
  }
  for (const r of store.all()) log.log('machine', { mac: r.mac, node: r.node, state: r.state, since: r.since, attempts: r.attempts });
}

export async function startPxeServe(o: PxeServeOptions): Promise<{ running?: RunningServe; diagnostics: Diagnostic[] }> {
  const dir = resolve(o.cwd, o.dir);
  const m = await readManifest(dir, o.cwd);
  if (!m.manifest) return { diagnostics: m.diagnostics };
  const l = await loadLayout(dir, m.manifest, o.cwd);
  if (!l.layout) return { diagnostics: l.diagnostics };

  const statePath = defaultStatePath(o.cwd, m.manifest.cluster, o.state);
  const shownState = relative(o.cwd, statePath) || statePath;
  const lockPath = lockPathFor(statePath);
  const lock = await takeLock(lockPath, { pid: process.pid });
  if (!lock.held) {
    return { diagnostics: [error('E017', `another mkimage process (pid ${lock.holder.pid}) holds ${relative(o.cwd, lockPath)}: stop that mkimage pxe serve, or give this one its own --state`)] };
  }
  const log = jsonLineLogger(o.logSink);
  let admin: AdminServer | undefined;
  const fail = async (diagnostics: Diagnostic[]) => {
    await admin?.close();
    await lock.release();
    return { diagnostics };
  };
  try {
    const store = await StateStore.open(statePath, shownState, m.manifest);
    if (!(store instanceof StateStore)) return await fail([store]);
    admin = await startAdmin(store, nodeLookup(m.manifest), log);
    await writeFileAtomic(lockPath, `${JSON.stringify({ pid: process.pid, admin: admin.url, secret: admin.secret })}\n`, 0o600);

    let http: { url: string; close(): Promise<void> };
    let app: ServeApp | undefined;
    if ((o.workers ?? 1) > 1) {
      const w = await startWorkers(o.workers!, { dir, cwd: o.cwd, host: o.host, port: o.port, natSources: o.natSources }, store, log);
      if ('diagnostics' in w) return await fail(w.diagnostics);
      http = { url: w.url, close: w.stop };
    } else {
      app = { layout: l.layout, store, log, natSources: new Set(o.natSources), closing: false };
      try {
        const listener = await listen(app, o.host, o.port);
        http = { url: listener.url, close: () => listener.close() };
      } catch (e) {
        return await fail([listenDiagnostic(o.host, o.port, e)]);
      }
    }
    startLog(log, l.layout, store, http.url, statePath, o.cwd, o.workers ?? 1);
    const adminServer = admin;
    return {
      running: {
        url: http.url,
        log,
        statePath,
        async stop() {
          if (app) app.closing = true;
          await http.close();
          await adminServer.close();
          await store.commit();
          await lock.release();
          log.log('stopped', { state: shownState });
          log.flush();
        },
      },
      diagnostics: [],
    };
  } catch (e) {
    await fail([]);
    throw e;
  }
}
