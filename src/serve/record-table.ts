// The machines' records in memory, by MAC and by current install token (looked up by the token's digest, then
// compared in constant time). Shared by the server's store and the workers' replicas of it.

import type { MachineRecord } from './state-file.js';
import { sameToken, tokenDigest } from './tokens.js';

export class RecordTable {
  private readonly byMac = new Map<string, MachineRecord>();
  private readonly order: string[] = [];
  private readonly tokens = new Map<string, string>();

  constructor(records: MachineRecord[]) {
    for (const r of records) this.put(r);
  }

  /** Add or replace the record of `r.mac`. */
  put(r: MachineRecord): void {
    const old = this.byMac.get(r.mac);
    if (old === undefined) this.order.push(r.mac);
    else if (old.token !== undefined) this.tokens.delete(tokenDigest(old.token));
    this.byMac.set(r.mac, r);
    if (r.token !== undefined) this.tokens.set(tokenDigest(r.token), r.mac);
  }

  get(mac: string): MachineRecord | undefined {
    return this.byMac.get(mac);
  }

  all(): MachineRecord[] {
    return this.order.map((m) => this.byMac.get(m)!);
  }

  /** The installing machine whose current token is `token`. */
  byToken(token: string): MachineRecord | undefined {
    const mac = this.tokens.get(tokenDigest(token));
    const r = mac === undefined ? undefined : this.byMac.get(mac);
    return r?.token !== undefined && sameToken(r.token, token) ? r : undefined;
  }
}
