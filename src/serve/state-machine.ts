// The per-MAC install states and the moves between them, as pure functions over immutable records:
//   pending --boot.ipxe served the installer--> installing --POST /done--> installed
//                                               installing --POST /failed--> failed
//   failed|installing --`pxe retry`--> pending;  installed|failed|installing --`pxe reinstall`--> pending
// Every move returns a new record; the server's caches key on the record object.

import { error, type Diagnostic } from '../diagnostics.js';
import type { MachineRecord } from './state-file.js';

/** The installer's log tail is kept at most this long (its last bytes). */
export const FAILURE_TAIL_MAX = 8 * 1024;

export function pendingRecord(mac: string, node: string, now: Date): MachineRecord {
  return { mac, node, state: 'pending', since: now.toISOString(), attempts: 0 };
}

/** pending -> installing under a new token. */
export function beginInstall(r: MachineRecord, token: string, now: Date): MachineRecord {
  const { failure, ...rest } = r;
  return { ...rest, state: 'installing', since: now.toISOString(), attempts: r.attempts + 1, token, ...(failure ? { failure } : {}) };
}

/** installing -> installed: the token stops working. */
export function finishInstall(r: MachineRecord, now: Date): MachineRecord {
  const { token: _token, failure: _failure, ...rest } = r;
  return { ...rest, state: 'installed', since: now.toISOString() };
}

/** installing -> failed, keeping the installer's log tail. */
export function failInstall(r: MachineRecord, tail: string, now: Date): MachineRecord {
  const { token: _token, ...rest } = r;
  const at = now.toISOString();
  return { ...rest, state: 'failed', since: at, failure: { at, tail: tail.slice(-FAILURE_TAIL_MAX) } };
}

export type ResetKind = 'retry' | 'reinstall';

export type ResetOutcome =
  | { kind: 'moved'; record: MachineRecord; from: MachineRecord['state'] }
  | { kind: 'unchanged'; record: MachineRecord }
  | { kind: 'refused'; diagnostic: Diagnostic };

/**
 * `pxe retry` moves a failed machine (or one stuck installing) back to pending; `pxe reinstall` moves an
 * installed one too (its disk is written again on its next network boot). A retry of an installed machine is
 * refused: wiping a good disk must be asked for by name.
 */
export function resetMachine(r: MachineRecord, to: ResetKind, now: Date): ResetOutcome {
  if (r.state === 'pending') return { kind: 'unchanged', record: r };
  if (to === 'retry' && r.state === 'installed') {
    return {
      kind: 'refused',
      diagnostic: error('E006', `${r.node} is installed, so there is nothing to retry: \`mkimage pxe reinstall ${r.node}\` writes its disk again on its next network boot`),
    };
  }
  const { token: _token, ...rest } = r;
  return { kind: 'moved', from: r.state, record: { ...rest, state: 'pending', since: now.toISOString() } };
}
