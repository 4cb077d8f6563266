// show -> diff: what the router has against what the plan wants, per entry: add it, edit it (only an entry
// mkimage owns) or leave it. Pure. A foreign entry in the way is a conflict diagnostic, never overwritten:
// nothing is written while there is one.
//
// Keys and ownership:
//   lease  matched by MAC (one lease per NIC on iKuai); mkimage's when its comment is "mkimage <cluster>/<profile>".
//          Another lease holding the planned address is a conflict too (iKuai keeps addresses unique).
//   dns    matched by domain (case-insensitive); mkimage's when its comment is the owner comment.
//   dnat   matched by comment + protocol + WAN port: the emitter labels a rule with the mapping's name (the only
//          free-text field a DNAT rule has, and what the UI lists), so a rule is mkimage's when all three are the
//          planned ones. Any other rule taking an overlapping WAN port on an overlapping protocol is a conflict.
//   pxe    the DHCP server row of the LAN interface; only next_server, opt66 and opt67 are ever changed.

import { error, type Diagnostic } from '../diagnostics.js';
import { fieldOf, type Kind, type RouterRow, type Wanted } from './records.js';

export type Op = 'add' | 'edit' | 'unchanged';

export interface Change {
  op: Op;
  wanted: Wanted;
  /** the router's row, for edit and unchanged */
  row?: RouterRow;
  /** the fields whose value differs (edit only) */
  changed: string[];
}

export interface Diff {
  changes: Change[];
  conflicts: Diagnostic[];
  /** mkimage's entries on the router that the plan no longer has: left alone (mkimage never deletes) */
  strays: Array<{ kind: Kind; label: string }>;
}

export const UI_PATH: Record<Kind, string> = {
  lease: '网络设置 > DHCP设置 > DHCP静态分配 (Network > DHCP settings > Static allocation)',
  pxe: '网络设置 > DHCP设置 > DHCP服务端 (Network > DHCP settings > DHCP server)',
  dns: '网络设置 > DNS设置 > DNS代理 (Network > DNS settings > static records)',
  dnat: '网络设置 > 端口映射 (Network > Port mapping)',
};

const macOf = (s: string) => s.toLowerCase().replace(/-/g, ':');

function sameValue(field: string, a: string, b: string): boolean {
  return field === 'mac' ? macOf(a) === macOf(b) : a === b;
}

function changedFields(w: Wanted, row: RouterRow): string[] {
  return Object.entries(w.fields)
    .filter(([k, v]) => !sameValue(k, fieldOf(row, k), v))
    .map(([k]) => k);
}

function matched(w: Wanted, row: RouterRow): Change {
  const changed = changedFields(w, row);
  return { op: changed.length > 0 ? 'edit' : 'unchanged', wanted: w, row, changed };
}

const described = (row: RouterRow) => `comment "${fieldOf(row, 'comment')}"`;

function diffLease(w: Wanted, rows: RouterRow[], owner: string, out: Diff): void {
  const { mac = '', ip_addr: ip = '', hostname = '' } = w.fields;
  const same = rows.find((r) => macOf(fieldOf(r, 'mac')) === macOf(mac));
  const clash = rows.find((r) => fieldOf(r, 'ip_addr') === ip && macOf(fieldOf(r, 'mac')) !== macOf(mac));
  let refused = false;
  if (same !== undefined && fieldOf(same, 'comment') !== owner) {
    refused = true;
    out.conflicts.push(error('E012',
      `the router already has a static lease for ${mac} (${fieldOf(same, 'ip_addr')}, ${described(same)}) that mkimage did not make, ` +
        `so it is left alone: delete it in the iKuai UI (${UI_PATH.lease}), or set its comment to "${owner}" to let mkimage manage it, then apply again`));
  }
  if (clash !== undefined) {
    refused = true;
    const whose = fieldOf(clash, 'comment') === owner ? 'an earlier mkimage lease, no longer in the plan' : described(clash);
    out.conflicts.push(error('E013',
      `the router's static lease for ${fieldOf(clash, 'mac')} (${whose}) already holds ${ip}, planned for ${hostname} (${mac}): ` +
        `delete that lease or change its address in the iKuai UI (${UI_PATH.lease}), or give ${hostname} another address in the cluster file`));
  }
  if (refused) return;
  out.changes.push(same === undefined ? { op: 'add', wanted: w, changed: [] } : matched(w, same));
}

function diffDns(w: Wanted, rows: RouterRow[], owner: string, out: Diff): void {
  const domain = (w.fields.domain ?? '').toLowerCase();
  const same = rows.filter((r) => fieldOf(r, 'domain').toLowerCase() === domain);
  const foreign = same.filter((r) => fieldOf(r, 'comment') !== owner);
  for (const r of foreign) {
    out.conflicts.push(error('E006',
      `the router already has a DNS record for ${w.fields.domain} (-> ${fieldOf(r, 'dns_addr')}, ${described(r)}) that mkimage did not make: ` +
        `delete it in the iKuai UI (${UI_PATH.dns}), or set its comment to "${owner}" to let mkimage manage it, then apply again`));
  }
  if (foreign.length > 0) return;
  const ours = same[0];
  out.changes.push(ours === undefined ? { op: 'add', wanted: w, changed: [] } : matched(w, ours));
}

/** "80" or "30000-30100" -> [first, last]. */
function portRange(s: string): [number, number] {
  const [a = '', b = a] = s.split('-');
  return [Number(a), Number(b)];
}

function overlaps(a: string, b: string): boolean {
  const [a1, a2] = portRange(a);
  const [b1, b2] = portRange(b);
  return a1 <= b2 && b1 <= a2;
}

const protocolsOverlap = (a: string, b: string) => a === b || a === 'tcp+udp' || b === 'tcp+udp';

function diffDnat(w: Wanted, rows: RouterRow[], out: Diff): void {
  const { comment = '', protocol = '', wan_port: wan = '' } = w.fields;
  const inTheWay = rows.filter((r) => protocolsOverlap(fieldOf(r, 'protocol'), protocol) && overlaps(fieldOf(r, 'wan_port'), wan));
  const ours = inTheWay.find((r) => fieldOf(r, 'comment') === comment && fieldOf(r, 'protocol') === protocol && fieldOf(r, 'wan_port') === wan);
  const others = inTheWay.filter((r) => r !== ours);
  for (const r of others) {
    out.conflicts.push(error('E006',
      `the router's port mapping "${fieldOf(r, 'comment')}" (${fieldOf(r, 'protocol')} WAN ${fieldOf(r, 'wan_port')} -> ` +
        `${fieldOf(r, 'lan_addr')}:${fieldOf(r, 'lan_port')}) already takes WAN port ${wan}/${protocol}, planned for "${comment}": ` +
        `delete it or change its WAN port in the iKuai UI (${UI_PATH.dnat}), or give "${comment}" another wanPort in the profile`));
  }
  if (others.length > 0) return;
  out.changes.push(ours === undefined ? { op: 'add', wanted: w, changed: [] } : matched(w, ours));
}

function diffPxe(w: Wanted, rows: RouterRow[], out: Diff): void {
  const iface = w.fields.interface ?? '';
  const pool = rows.find((r) => fieldOf(r, 'interface') === iface);
  if (pool === undefined) {
    const have = rows.map((r) => fieldOf(r, 'interface')).filter((s) => s !== '');
    out.conflicts.push(error('E006',
      `the router has no DHCP server on ${iface} to set next-server and options 66/67 on` +
        `${have.length > 0 ? ` (it has one on ${have.join(', ')})` : ''}: set gateway.lanInterface to the interface the nodes are on, ` +
        `or create the DHCP server in the iKuai UI (${UI_PATH.pxe})`));
    return;
  }
  out.changes.push(matched(w, pool));
}

function strays(kind: Kind, wanted: Wanted[], rows: RouterRow[], owner: string): Diff['strays'] {
  if (kind !== 'lease' && kind !== 'dns') return [];
  const field = kind === 'lease' ? 'mac' : 'domain';
  const planned = new Set(wanted.map((w) => (w.fields[field] ?? '').toLowerCase()));
  return rows
    .filter((r) => fieldOf(r, 'comment') === owner && !planned.has(fieldOf(r, field).toLowerCase()))
    .map((r) => ({ kind, label: kind === 'lease' ? `${fieldOf(r, 'hostname')} ${fieldOf(r, 'mac')} -> ${fieldOf(r, 'ip_addr')}` : `${fieldOf(r, 'domain')} -> ${fieldOf(r, 'dns_addr')}` }));
}

/** The diff of one kind: `wanted` entries of that kind against the router's rows of that kind. */
export function diffKind(kind: Kind, wanted: Wanted[], rows: RouterRow[], owner: string): Diff {
  const out: Diff = { changes: [], conflicts: [], strays: strays(kind, wanted, rows, owner) };
  for (const w of wanted) {
    if (kind === 'lease') diffLease(w, rows, owner, out);
    else if (kind === 'dns') diffDns(w, rows, owner, out);
    else if (kind === 'dnat') diffDnat(w, rows, out);
    else diffPxe(w, rows, out);
  }
  return out;
}
