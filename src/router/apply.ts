// show -> diff -> calls: read each kind the plan touches, diff it, and turn every add and edit into the exact call
// that makes it. The calls are made only with --apply, in order, stopping at the first refusal; a dry run makes
// none (reading is harmless). Nothing is called while the diff has a conflict.

import type { RouterCall, RouterClient } from './api.js';
import { diffKind, type Change, type Diff } from './diff.js';
import { RouterError } from './errors.js';
import { KINDS, type Kind, type RouterRow } from './records.js';
import type { RouterPlan } from './wanted.js';

export interface Proposal extends Diff {
  /** the rows each kind had on the router, for the report */
  rows: Map<Kind, RouterRow[]>;
  /** one call per add or edit, in order */
  calls: Array<{ change: Change; call: RouterCall }>;
}

export async function propose(client: RouterClient, rp: RouterPlan): Promise<Proposal> {
  const out: Proposal = { changes: [], conflicts: [], strays: [], rows: new Map(), calls: [] };
  for (const kind of KINDS) {
    const wanted = rp.wanted.filter((w) => w.kind === kind);
    if (wanted.length === 0) continue;
    const rows = await client.list(kind);
    out.rows.set(kind, rows);
    const d = diffKind(kind, wanted, rows, rp.owner);
    out.changes.push(...d.changes);
    out.conflicts.push(...d.conflicts);
    out.strays.push(...d.strays);
  }
  for (const change of out.changes) {
    if (change.op === 'add') out.calls.push({ change, call: client.addCall(change.wanted) });
    else if (change.op === 'edit' && change.row !== undefined) out.calls.push({ change, call: client.editCall(change.wanted, change.row) });
  }
  return out;
}

/** Make the proposal's calls; returns how many were made. A refusal says how many went through before it. */
export async function makeCalls(client: RouterClient, p: Proposal, onMade: (call: RouterCall) => void = () => {}): Promise<number> {
  if (p.conflicts.length > 0) throw new Error('internal: makeCalls with conflicts');
  let made = 0;
  for (const { call } of p.calls) {
    try {
      await client.send(call);
    } catch (e) {
      if (e instanceof RouterError && made > 0) {
        throw new RouterError(e.code, `${e.message} (after ${made} of ${p.calls.length} call(s) went through; run the dry run to see what is left)`);
      }
      throw e;
    }
    made++;
    onMade(call);
  }
  return made;
}
