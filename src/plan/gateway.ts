// The router side of a cluster: what a role: gateway profile configures on the LAN router. Static DHCP leases
// come from the cluster inventory (one per node, in inventory order), the rest from the profile's gateway:
// section. Vendor details (iKuai API field names, UI menus) belong to the emitter, not here.

import { error, type Diagnostic } from '../diagnostics.js';
import type { Cluster, Located, NodeSpec, Profile } from '../profile/types.js';
import { addressOf } from '../net/cidr.js';
import { positionOf } from './positions.js';
import type { GatewayLease, GatewayPlan } from './types.js';

/** "52-54-00-66-00-11" or upper case -> "52:54:00:66:00:11" (the loader already normalises; this keeps it so). */
function macOf(mac: string): string {
  return mac.toLowerCase().replace(/-/g, ':');
}

function leaseOf(node: NodeSpec, comment: string): GatewayLease {
  return {
    hostname: node.name,
    mac: macOf(node.mac),
    ip: addressOf(node.ip),
    gateway: node.gateway,
    dns1: node.dns[0] ?? '',
    dns2: node.dns[1] ?? '',
    comment,
  };
}

/** The gateway section of a gateway profile's plan. Mistakes are pushed to `diags` (the plan is still returned). */
export function planGateway(profile: Located<Profile>, cluster: Located<Cluster>, diags: Diagnostic[]): GatewayPlan | undefined {
  const p = profile.value;
  const g = p.gateway;
  if (g === undefined) {
    diags.push(error('E005',
      `profile ${p.name} has role gateway but no "gateway:" section: add one with vendor: ikuai and lanInterface (see profiles/ikuai-gateway.yaml)`,
      positionOf(profile, 'role')));
    return undefined;
  }
  const comment = `mkimage ${cluster.value.name}/${p.name}`;

  const { rangeStart, rangeEnd } = g.dhcp;
  if ((rangeStart === undefined) !== (rangeEnd === undefined)) {
    const [given, missing] = rangeStart !== undefined ? ['rangeStart', 'rangeEnd'] : ['rangeEnd', 'rangeStart'];
    diags.push(error('E005',
      `gateway.dhcp.${given} needs gateway.dhcp.${missing}: set both ends of the dynamic pool, or remove ${given}`,
      positionOf(profile, `gateway.dhcp.${given}`)));
  }
  if (g.pxe.enabled && g.pxe.nextServer === undefined) {
    diags.push(error('E005',
      'gateway.pxe is enabled but has no nextServer: add nextServer: <address of the host running `mkimage serve`>, ' +
        'e.g. nextServer: 192.168.66.5, or set enabled: false',
      positionOf(profile, 'gateway.pxe')));
  }

  return {
    vendor: g.vendor,
    lanInterface: g.lanInterface,
    dhcp: {
      enabled: g.dhcp.enabled,
      ...(rangeStart !== undefined && rangeEnd !== undefined && { range: { start: rangeStart, end: rangeEnd } }),
      leaseMinutes: g.dhcp.leaseMinutes,
    },
    staticLeases: g.dhcp.enabled ? cluster.value.nodes.map((n) => leaseOf(n, comment)) : [],
    pxe: {
      enabled: g.pxe.enabled,
      ...(g.pxe.nextServer !== undefined && { nextServer: g.pxe.nextServer }),
      bootFile: g.pxe.bootFile,
    },
    dnsRecords: g.dns.records.map((r) => ({ domain: r.domain, ip: r.ip, comment })),
    portMappings: g.portMappings.map((m) => ({
      name: m.name, wanPort: m.wanPort, lanAddr: m.lanAddr, lanPort: m.lanPort, protocol: m.protocol,
    })),
  };
}
