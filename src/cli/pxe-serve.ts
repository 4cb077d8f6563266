// `mkimage pxe serve|status|retry|reinstall`: the LAN-boot server and its per-MAC state (src/serve/).

import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { error, type Diagnostic } from '../diagnostics.js';
import type { Io, Outcome } from './run.js';
import type { CommonFlags } from './commands.js';
import { requestReset } from '../serve/admin.js';
import { DNSMASQ_PACKAGE, findDnsmasq, startDhcpProxy, type DhcpProxy } from '../serve/dhcp-proxy.js';
import { readManifest, type PxeManifest } from '../serve/manifest.js';
import { defaultStatePath, nodeLookup, startPxeServe } from '../serve/run.js';
import { corruptStateDiagnostic, readStateDoc, serialiseStateDoc, writeDurably, type StateDoc } from '../serve/state-file.js';
import { lockPathFor, takeLock } from '../serve/state-lock.js';
import { workersAvailable } from '../serve/workers.js';
import { resetMachine, type ResetKind, type ResetOutcome } from '../serve/state-machine.js';
import { clusterMismatch, mergeWithManifest } from '../serve/state-store.js';
import { statusRows, statusText } from '../serve/status.js';

export interface PxeServeFlags extends CommonFlags {
  dir?: string;
  listen?: string;
  state?: string;
  dhcpProxy?: boolean;
  natSource?: string[];
  workers?: string;
}

const DEFAULT_DIR = join('out', 'pxe');
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** --listen HOST:PORT ([v6]:PORT too); port 0 lets the kernel pick one. */
export function parseListen(s: string): { host: string; port: number } | Diagnostic {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) return error('E007', `--listen "${s}" is not HOST:PORT: write e.g. 0.0.0.0:8080, 127.0.0.1:0 (any free port) or [::]:8080`);
  return { host: m[1] ?? m[2]!, port };
}

function natSources(list: string[] | undefined): string[] | Diagnostic {
  for (const a of list ?? []) {
    if (!IPV4.test(a)) return error('E007', `--nat-source "${a}" is not an IPv4 address: name the address the machines' connections arrive from, e.g. 127.0.0.1 behind QEMU user networking`);
  }
  return list ?? [];
}

/**
 * --workers: HTTP worker processes; default one per core (at most 8). 1 serves in the server process itself,
 * as it does when the compiled worker module is absent (mkimage run from its TypeScript sources).
 */
function workerCount(flag: string | undefined): number | Diagnostic {
  if (flag === undefined) return workersAvailable() ? Math.min(availableParallelism(), 8) : 1;
  const n = Number(flag);
  if (!Number.isInteger(n) || n < 1 || n > 64) return error('E007', `--workers "${flag}" is not a count from 1 to 64: write e.g. --workers 2 (default: one per core)`);
  return n > 1 && !workersAvailable() ? 1 : n;
}

type StopReason = { kind: 'signal' } | { kind: 'dnsmasq'; code: number | null; signal: string | null; stderrTail: string };

function waitForStop(stop: AbortSignal | undefined, proxy: DhcpProxy | undefined): Promise<StopReason> {
  return new Promise((resolve) => {
    const onSignal = () => done({ kind: 'signal' });
    const done = (why: StopReason) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      stop?.removeEventListener('abort', onSignal);
      resolve(why);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    if (stop?.aborted) return onSignal();
    stop?.addEventListener('abort', onSignal);
    void proxy?.exited.then((e) => done({ kind: 'dnsmasq', ...e }));
  });
}

/** `stop` ends the server as SIGINT/SIGTERM do (tests run it in-process). */
export async function pxeServe(io: Io, o: PxeServeFlags, stop?: AbortSignal): Promise<Outcome> {
  const listen = parseListen(o.listen ?? '0.0.0.0:8080');
  if ('code' in listen) return { diagnostics: [listen] };
  const nat = natSources(o.natSource);
  if ('code' in nat) return { diagnostics: [nat] };
  const workers = workerCount(o.workers);
  if (typeof workers !== 'number') return { diagnostics: [workers] };
  const dir = o.dir ?? DEFAULT_DIR;

  let dnsmasq: { bin: string; conf: string } | undefined;
  if (o.dhcpProxy) {
    const bin = findDnsmasq();
    if (bin === undefined) {
      return { diagnostics: [error('E016', `--dhcp-proxy runs dnsmasq, which is not on PATH: apt-get install ${DNSMASQ_PACKAGE} (it installs /usr/sbin/dnsmasq; run as root, whose PATH has /usr/sbin)`)] };
    }
    const conf = resolve(io.cwd, dir, 'dnsmasq.conf');
    if (!existsSync(conf)) return { diagnostics: [error('E023', `${relative(io.cwd, conf)} is missing: run \`mkimage pxe build\` again`)] };
    dnsmasq = { bin, conf };
  }

  const started = await startPxeServe({ dir, cwd: io.cwd, state: o.state, host: listen.host, port: listen.port, natSources: nat, workers, logSink: (s) => io.out(s) });
  if (!started.running) return { diagnostics: started.diagnostics };
  const running = started.running;
  const proxy = dnsmasq && startDhcpProxy(dnsmasq.bin, dnsmasq.conf, (s) => io.err(s));
  if (proxy) running.log.log('dhcp-proxy', { pid: proxy.child.pid, conf: relative(io.cwd, dnsmasq!.conf) });

  const why = await waitForStop(stop, proxy);
  await proxy?.stop();
  await running.stop();
  if (why.kind === 'dnsmasq') {
    const how = why.signal ? `was killed by ${why.signal}` : `exited with code ${why.code}`;
    return {
      diagnostics: [error('E016', `dnsmasq ${how}, so the server stopped too: ${why.stderrTail.trim().split('\n').pop() ?? ''} — --dhcp-proxy needs root (ports 67 and 69) and no other DHCP proxy or TFTP server on this host`)],
    };
  }
  return { exitCode: 0 };
}

async function manifestAndState(io: Io, o: PxeServeFlags): Promise<{ manifest?: PxeManifest; statePath?: string; diagnostics: Diagnostic[] }> {
  const m = await readManifest(resolve(io.cwd, o.dir ?? DEFAULT_DIR), io.cwd);
  if (!m.manifest) return { diagnostics: m.diagnostics };
  return { manifest: m.manifest, statePath: defaultStatePath(io.cwd, m.manifest.cluster, o.state), diagnostics: [] };
}

/** The state file's document: undefined when there is none yet, a diagnostic when it cannot be used. */
async function stateDoc(io: Io, statePath: string, manifest: PxeManifest): Promise<StateDoc | undefined | Diagnostic> {
  const shown = relative(io.cwd, statePath) || statePath;
  const doc = await readStateDoc(statePath);
  if (typeof doc === 'string') return corruptStateDiagnostic(shown, doc);
  return (doc && clusterMismatch(shown, doc, manifest)) ?? doc;
}

export async function pxeStatus(io: Io, o: PxeServeFlags): Promise<Outcome> {
  const { manifest, statePath, diagnostics } = await manifestAndState(io, o);
  if (!manifest || !statePath) return { diagnostics };
  const doc = await stateDoc(io, statePath, manifest);
  if (doc && 'code' in doc) return { diagnostics: [doc] };
  const rows = statusRows(manifest, doc);
  if (o.json) return { result: { cluster: manifest.cluster, nodes: rows } };
  io.out(statusText(rows));
  return {};
}

/** Reset `mac` in the state file itself: no server runs, and this process holds the lock. */
async function resetInFile(io: Io, statePath: string, manifest: PxeManifest, mac: string, to: ResetKind): Promise<ResetOutcome | Diagnostic> {
  const doc = await stateDoc(io, statePath, manifest);
  if (doc && 'code' in doc) return doc;
  const now = new Date();
  const machines = mergeWithManifest(doc, manifest, now);
  const outcome = resetMachine(machines.find((r) => r.mac === mac)!, to, now);
  if (outcome.kind === 'moved') {
    const next = machines.map((r) => (r.mac === mac ? outcome.record : r));
    await writeDurably(statePath, serialiseStateDoc({ version: 1, cluster: manifest.cluster, machines: next }));
  }
  return outcome;
}

export async function pxeReset(io: Io, node: string, to: ResetKind, o: PxeServeFlags): Promise<Outcome> {
  const { manifest, statePath, diagnostics } = await manifestAndState(io, o);
  if (!manifest || !statePath) return { diagnostics };
  const mac = nodeLookup(manifest)(node);
  if (typeof mac !== 'string') return { diagnostics: [mac] };

  const lockPath = lockPathFor(statePath);
  const lock = await takeLock(lockPath, { pid: process.pid });
  let outcome: ResetOutcome | Diagnostic;
  let via: 'server' | 'file';
  if (lock.held) {
    via = 'file';
    try {
      outcome = await resetInFile(io, statePath, manifest, mac, to);
    } finally {
      await lock.release();
    }
  } else if (lock.holder.admin !== undefined && lock.holder.secret !== undefined) {
    via = 'server';
    try {
      const a = await requestReset(lock.holder.admin, lock.holder.secret, node, to);
      outcome = a.ok ? a.outcome : a.diagnostic;
    } catch (e) {
      outcome = error('E017', `the running mkimage pxe serve (pid ${lock.holder.pid}) did not take the change: ${(e as Error).message}; try again, or stop it and run this again`);
    }
  } else {
    return { diagnostics: [error('E017', `another mkimage process (pid ${lock.holder.pid}) holds ${relative(io.cwd, lockPath)}: try again when it is done`)] };
  }
  if ('code' in outcome) return { diagnostics: [outcome] };
  if (outcome.kind === 'refused') return { diagnostics: [outcome.diagnostic] };
  const from = outcome.kind === 'moved' ? outcome.from : undefined;
  if (o.json) return { result: { node, mac, state: outcome.record.state, ...(from ? { from } : {}), changed: from !== undefined, via } };
  io.out(
    from
      ? `${node}: ${from} -> pending: it installs ${to === 'reinstall' ? 'again (its disk is overwritten) ' : ''}on its next network boot${via === 'server' ? ' (the running server has it)' : ''}\n`
      : `${node} is already pending: nothing to do\n`,
  );
  return {};
}
