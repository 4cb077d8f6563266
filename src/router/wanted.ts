// What the plan wants on the router, taken from the same calls ikuai-api.json holds (src/emit/ikuai.ts), so
// the file and the apply can never disagree: one wanted entry per lease, DNS record, port mapping, and the PXE
// fields of the LAN's DHCP server.

import { ikuaiApiCalls, type IkuaiCall } from '../emit/ikuai.js';
import type { NodePlan } from '../plan/types.js';
import type { Kind, Wanted } from './records.js';

export interface RouterPlan {
  /** the comment mkimage puts on the leases and DNS records it owns: "mkimage <cluster>/<profile>" */
  owner: string;
  lanInterface: string;
  wanted: Wanted[];
}

const KIND_OF: Record<IkuaiCall['func_name'], Kind> = { dhcp_static: 'lease', dhcp_server: 'pxe', dns: 'dns', dnat: 'dnat' };

/** The call's fields as strings, without the add-only flag `newRow`. */
function fieldsOf(call: IkuaiCall): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(call.param)) if (k !== 'newRow') out[k] = String(v);
  return out;
}

/** The key each kind is matched by (diff.ts says why). */
export function keyOf(kind: Kind, f: Record<string, string>): string {
  switch (kind) {
    case 'lease':
      return (f.mac ?? '').toLowerCase();
    case 'dns':
      return (f.domain ?? '').toLowerCase();
    case 'dnat':
      return `${f.comment ?? ''} ${f.protocol ?? ''}/${f.wan_port ?? ''}`;
    case 'pxe':
      return f.interface ?? '';
  }
}

function labelOf(kind: Kind, f: Record<string, string>): string {
  switch (kind) {
    case 'lease':
      return `${f.hostname} ${f.mac} -> ${f.ip_addr}`;
    case 'dns':
      return `${f.domain} -> ${f.dns_addr}`;
    case 'dnat':
      return `${f.comment} ${f.protocol} wan ${f.wan_port} -> ${f.lan_addr}:${f.lan_port}`;
    case 'pxe':
      return `${f.interface}: next-server ${f.next_server}, boot file ${f.opt67}`;
  }
}

export function routerPlan(plan: NodePlan): RouterPlan {
  if (plan.gateway === undefined) throw new Error(`internal: plan ${plan.profile} has no gateway section`);
  const wanted = ikuaiApiCalls(plan).map((call): Wanted => {
    const kind = KIND_OF[call.func_name];
    const fields = fieldsOf(call);
    return { kind, key: keyOf(kind, fields), label: labelOf(kind, fields), fields, param: call.param };
  });
  return { owner: `mkimage ${plan.cluster.name}/${plan.profile}`, lanInterface: plan.gateway.lanInterface, wanted };
}
