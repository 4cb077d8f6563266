// A worker's view of the machines' state (cluster mode): a replica kept current by the server process, which
// sends every change once it is on disk. Reads are answered from it; the moves a request makes are asked of
// the server process, whose answer comes after the change it made has reached this replica.

import type { MachineStore } from './machine-store.js';
import type { ToPrimary, ToWorker } from './ipc.js';
import { RecordTable } from './record-table.js';
import type { MachineRecord } from './state-file.js';

type Ask = ToPrimary extends infer T ? (T extends { id: number } ? Omit<T, 'id'> : never) : never;

export class ReplicaStore implements MachineStore {
  private readonly table: RecordTable;
  private readonly waiting = new Map<number, { resolve(r: MachineRecord | undefined): void; reject(e: Error): void }>();
  private readonly starting = new Map<string, Promise<MachineRecord>>();
  private nextId = 1;

  constructor(
    records: MachineRecord[],
    private readonly send: (m: ToPrimary) => void,
  ) {
    this.table = new RecordTable(records);
  }

  /** A message from the server process. */
  receive(m: ToWorker): void {
    if (m.op === 'records') for (const r of m.records) this.table.put(r);
    else if (m.op === 'reply') {
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      // the record as the server process has it now; later changes follow on the same channel
      if (m.record !== undefined) this.table.put(m.record);
      if (m.error !== undefined) w?.reject(new Error(m.error));
      else w?.resolve(m.record);
    }
  }

  private ask(m: Ask): Promise<MachineRecord | undefined> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.send({ ...m, id } as ToPrimary);
    });
  }

  get(mac: string): MachineRecord | undefined {
    return this.table.get(mac);
  }

  byToken(token: string): MachineRecord | undefined {
    return this.table.byToken(token);
  }

  async lookupToken(token: string): Promise<MachineRecord | undefined> {
    return this.ask({ op: 'token', token });
  }

  beginInstall(mac: string): Promise<MachineRecord> {
    const r = this.table.get(mac)!;
    if (r.state !== 'pending') return Promise.resolve(r);
    let p = this.starting.get(mac);
    if (!p) {
      p = this.ask({ op: 'begin', mac })
        .then((next) => next ?? this.table.get(mac)!)
        .finally(() => this.starting.delete(mac));
      this.starting.set(mac, p);
    }
    return p;
  }

  finish(r: MachineRecord, outcome: 'installed' | 'failed', tail = ''): Promise<MachineRecord | undefined> {
    return this.ask({ op: 'finish', mac: r.mac, token: r.token ?? '', outcome, tail });
  }
}
