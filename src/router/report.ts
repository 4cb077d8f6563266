// The text a person reads: per kind what the router has, each planned entry's fate, the calls, a summary.

import { formatCall } from './api.js';
import type { Proposal } from './apply.js';
import type { Op } from './diff.js';
import { fieldOf, KIND_NAME, KINDS, type Kind } from './records.js';
import type { RouterPlan } from './wanted.js';

const OP_WORD: Record<Op, { dry: string; done: string }> = {
  add: { dry: 'to add', done: 'added' },
  edit: { dry: 'to edit', done: 'edited' },
  unchanged: { dry: 'unchanged', done: 'unchanged' },
};

function kindLines(kind: Kind, p: Proposal, rp: RouterPlan): string[] {
  const rows = p.rows.get(kind) ?? [];
  const ours = rows.filter((r) => fieldOf(r, 'comment') === rp.owner).length;
  const head = kind === 'lease' || kind === 'dns'
    ? `${KIND_NAME[kind]}: the router has ${rows.length} (${ours} with the comment "${rp.owner}")`
    : `${KIND_NAME[kind]}: the router has ${rows.length}`;
  const lines = [head];
  for (const c of p.changes.filter((ch) => ch.wanted.kind === kind)) {
    const detail = c.changed.map((f) => `${f}: ${JSON.stringify(c.row ? fieldOf(c.row, f) : '')} -> ${JSON.stringify(c.wanted.fields[f])}`);
    lines.push(`  ${c.op.padEnd(10)} ${c.wanted.label}${c.row ? ` (id ${c.row.id})` : ''}${detail.length ? `: ${detail.join(', ')}` : ''}`);
  }
  for (const s of p.strays.filter((st) => st.kind === kind)) {
    lines.push(`  left alone ${s.label}: mkimage's, no longer in the plan (mkimage never deletes; remove it in the UI if unused)`);
  }
  return lines;
}

/** The diff against the router, kind by kind. */
export function diffReport(p: Proposal, rp: RouterPlan): string {
  return KINDS.filter((k) => p.rows.has(k)).flatMap((k) => kindLines(k, p, rp)).map((l) => `${l}\n`).join('');
}

/** The calls a dry run would make, or that --apply is about to make. */
export function callsReport(p: Proposal, applying: boolean): string {
  if (p.calls.length === 0) return '';
  const head = applying ? `calls (${p.calls.length}):` : `calls it would make (${p.calls.length}; dry run, nothing was changed: add --apply to make them):`;
  return [head, ...p.calls.map(({ call }) => `  ${formatCall(call)}`)].map((l) => `${l}\n`).join('');
}

/** "static leases: 1 added, 0 edited, 2 unchanged; DNS records: ..." */
export function summary(p: Proposal, applied: boolean): string {
  if (p.calls.length === 0) return 'nothing to change: the router already matches the plan\n';
  const parts = KINDS.filter((k) => p.rows.has(k)).map((k) => {
    const of = (op: Op) => p.changes.filter((c) => c.wanted.kind === k && c.op === op).length;
    const word = (op: Op) => (applied ? OP_WORD[op].done : OP_WORD[op].dry);
    return `${KIND_NAME[k]}: ${of('add')} ${word('add')}, ${of('edit')} ${word('edit')}, ${of('unchanged')} ${word('unchanged')}`;
  });
  return `${applied ? 'applied' : 'dry run'}: ${parts.join('; ')}\n`;
}
