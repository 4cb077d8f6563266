// The server's in-memory state: one immutable record per MAC, an index from token digest to MAC, and group
// commits to the state file. While `pxe serve` runs it is the only writer of that file (the CLI's retry and
// reinstall reach it through the admin route), so no update is ever lost; every change is on disk before the
// request that made it is answered.

import { error, type Diagnostic } from '../diagnostics.js';
import type { PxeManifest } from './manifest.js';
import { corruptStateDiagnostic, readStateDoc, serialiseStateDoc, writeDurably, type MachineRecord, type StateDoc } from './state-file.js';
import type { MachineStore } from './machine-store.js';
import { RecordTable } from './record-table.js';
import { beginInstall, failInstall, finishInstall, pendingRecord, resetMachine, type ResetKind, type ResetOutcome } from './state-machine.js';
import { newToken } from './tokens.js';

/** Records for every manifest node (in manifest order; new ones pending), then records the manifest no longer names. */
export function mergeWithManifest(doc: StateDoc | undefined, manifest: PxeManifest, now: Date): MachineRecord[] {
  const old = new Map((doc?.machines ?? []).map((r) => [r.mac, r]));
  const records = manifest.nodes.map((n) => {
    const r = old.get(n.mac);
    old.delete(n.mac);
    return r ? { ...r, node: n.name } : pendingRecord(n.mac, n.name, now);
  });
  return [...records, ...[...old.values()].sort((a, b) => a.mac.localeCompare(b.mac))];
}

/** E006 when a state file belongs to another cluster than pxe.json. */
export function clusterMismatch(shown: string, doc: StateDoc, manifest: PxeManifest): Diagnostic | undefined {
  if (doc.cluster === manifest.cluster) return undefined;
  return error('E006', `${shown} holds the state of cluster "${doc.cluster}", but pxe.json is for "${manifest.cluster}": name this cluster's state file with --state`, { file: shown });
}

interface Waiter {
  resolve(): void;
  reject(e: unknown): void;
}

export class StateStore implements MachineStore {
  private readonly table: RecordTable;
  private readonly listeners: Array<(r: MachineRecord) => void> = [];
  private unannounced = new Set<string>();
  private readonly starting = new Map<string, Promise<MachineRecord>>();
  private waiters: Waiter[] = [];
  private writing = false;

  private constructor(
    readonly path: string,
    readonly cluster: string,
    records: MachineRecord[],
    private readonly now: () => Date,
  ) {
    this.table = new RecordTable(records);
  }

  /** Load `path` (absent: every machine pending), merge in the manifest's nodes and write the result. */
  static async open(path: string, shown: string, manifest: PxeManifest, now: () => Date = () => new Date()): Promise<StateStore | Diagnostic> {
    const doc = await readStateDoc(path);
    if (typeof doc === 'string') return corruptStateDiagnostic(shown, doc);
    const mismatch = doc && clusterMismatch(shown, doc, manifest);
    if (mismatch) return mismatch;
    const store = new StateStore(path, manifest.cluster, mergeWithManifest(doc, manifest, now()), now);
    await store.commit();
    return store;
  }

  private put(r: MachineRecord): void {
    this.table.put(r);
    this.unannounced.add(r.mac);
  }

  /** Called with every changed record once it is on disk (cluster mode passes them on to the workers). */
  onChange(listener: (r: MachineRecord) => void): void {
    this.listeners.push(listener);
  }

  get(mac: string): MachineRecord | undefined {
    return this.table.get(mac);
  }

  all(): MachineRecord[] {
    return this.table.all();
  }

  byToken(token: string): MachineRecord | undefined {
    return this.table.byToken(token);
  }

  /**
   * pending -> installing (a new token); an installing machine keeps its token. Durable when it resolves, also
   * for a second request that arrives while the first one's write is still running.
   */
  beginInstall(mac: string): Promise<MachineRecord> {
    const inFlight = this.starting.get(mac);
    if (inFlight) return inFlight;
    const r = this.table.get(mac)!;
    if (r.state !== 'pending') return Promise.resolve(r);
    const next = beginInstall(r, newToken(), this.now());
    this.put(next);
    const done = this.commit()
      .then(() => next)
      .finally(() => this.starting.delete(mac));
    this.starting.set(mac, done);
    return done;
  }

  /** installing -> installed or failed; undefined when `r` is no longer the machine's record (a second report). */
  async finish(r: MachineRecord, outcome: 'installed' | 'failed', tail = ''): Promise<MachineRecord | undefined> {
    if (this.table.get(r.mac) !== r) return undefined;
    const next = outcome === 'installed' ? finishInstall(r, this.now()) : failInstall(r, tail, this.now());
    this.put(next);
    await this.commit();
    return next;
  }

  async reset(mac: string, to: ResetKind): Promise<ResetOutcome> {
    const out = resetMachine(this.table.get(mac)!, to, this.now());
    if (out.kind === 'moved') {
      this.put(out.record);
      await this.commit();
    }
    return out;
  }

  doc(): StateDoc {
    return { version: 1, cluster: this.cluster, machines: this.all() };
  }

  /**
   * Resolves once a write that includes every change made so far is on disk. Changes made while a write is
   * running go into the next one, so a burst of transitions costs a few writes, not one each.
   */
  commit(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      if (!this.writing) void this.writeLoop();
    });
  }

  private async writeLoop(): Promise<void> {
    this.writing = true;
    while (this.waiters.length > 0) {
      const batch = this.waiters;
      const changed = this.unannounced;
      this.waiters = [];
      this.unannounced = new Set();
      try {
        await writeDurably(this.path, serialiseStateDoc(this.doc()));
        for (const mac of changed) for (const l of this.listeners) l(this.table.get(mac)!);
        for (const w of batch) w.resolve();
      } catch (e) {
        for (const mac of changed) this.unannounced.add(mac);
        for (const w of batch) w.reject(e);
      }
    }
    this.writing = false;
  }
}
