// `pxe status`: every node of pxe.json with its machine's state, from the state file (a node the server has
// not seen yet is pending): rows from documents, text from rows.

import type { PxeManifest } from './manifest.js';
import { readStateDoc, type MachineRecord, type StateDoc } from './state-file.js';

export interface StatusRow {
  node: string;
  mac: string;
  ip: string;
  state: MachineRecord['state'];
  /** ISO time, or undefined when the server never saw the node */
  since?: string;
  attempts: number;
  lastFailure?: { at: string; tail: string };
}

export function statusRows(manifest: PxeManifest, doc: StateDoc | undefined): StatusRow[] {
  const byMac = new Map((doc?.machines ?? []).map((r) => [r.mac, r]));
  return manifest.nodes.map((n) => {
    const r = byMac.get(n.mac);
    return {
      node: n.name,
      mac: n.mac,
      ip: n.ip,
      state: r?.state ?? 'pending',
      ...(r ? { since: r.since } : {}),
      attempts: r?.attempts ?? 0,
      ...(r?.failure ? { lastFailure: r.failure } : {}),
    };
  });
}

const TAIL_LINES = 20;

export function statusText(rows: StatusRow[]): string {
  const head = ['NODE', 'MAC', 'IP', 'STATE', 'SINCE', 'ATTEMPTS'];
  const cells = rows.map((r) => [r.node, r.mac, r.ip, r.state, r.since ?? '-', String(r.attempts)]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]!))).join('  ');
  let out = `${[head, ...cells].map(line).join('\n')}\n`;
  for (const r of rows) {
    if (!r.lastFailure) continue;
    const lines = r.lastFailure.tail.trimEnd().split('\n');
    const shown = lines.slice(-TAIL_LINES);
    out += `\n${r.node}: last failure at ${r.lastFailure.at}${r.state === 'failed' ? '' : ` (now ${r.state})`}, installer log${lines.length > shown.length ? ` (last ${TAIL_LINES} lines; --json has ${lines.length})` : ''}:\n`;
    out += shown.map((l) => `  | ${l}`).join('\n') + '\n';
  }
  return out;
}

/** The "LAN boot: <state>" line of `mkimage cluster status`, when the state file has the node. */
export async function lanBootOf(statePath: string, node: string): Promise<{ state: MachineRecord['state']; since: string; line: string } | undefined> {
  const doc = await readStateDoc(statePath);
  const r = typeof doc === 'object' ? doc.machines.find((m) => m.node === node) : undefined;
  if (!r) return undefined;
  return { state: r.state, since: r.since, line: `LAN boot: ${r.state} since ${r.since} (mkimage pxe status has more)` };
}
