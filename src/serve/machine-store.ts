// What the routes need from the machines' state: reads answered from memory, and the two moves a request
// makes (boot.ipxe: pending -> installing; /done, /failed: installing -> installed | failed), each durable
// before it resolves. The server's own StateStore is one; a worker's replica of it (cluster mode) is the other.

import type { MachineRecord } from './state-file.js';

export interface MachineStore {
  get(mac: string): MachineRecord | undefined;
  /** the installing machine whose current token is `token`, from memory */
  byToken(token: string): MachineRecord | undefined;
  /** ask the authority when memory has no such token (a worker's replica may be a moment behind) */
  lookupToken?(token: string): Promise<MachineRecord | undefined>;
  beginInstall(mac: string): Promise<MachineRecord>;
  /** undefined when `r` is no longer the machine's record (it reported already) */
  finish(r: MachineRecord, outcome: 'installed' | 'failed', tail?: string): Promise<MachineRecord | undefined>;
}
