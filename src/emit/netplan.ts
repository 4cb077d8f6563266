// network-config for the NoCloud seed: netplan v2 (the subset cloud-init understands), one static
// interface matched by MAC.
//
// Form: the file starts at `version: 2` with NO top-level `network:` key. That is the form every
// cloud-init reads (22.2+ also strips a `network:` wrapper, older releases fail on it); netplan itself
// wants the wrapper, so a netplan file is `{ network: networkConfigObject(plan) }`.
//
// The interface is renamed to `lan0` (set-name), so every OS family and NIC model gets the same name
// (ens3 / enp1s0 / eth0 otherwise); later configuration can name it (e.g. Calico's
// IP_AUTODETECTION_METHOD=interface=lan0). `lan0` stays out of the kernel's eth* namespace, so the
// rename never races a kernel-assigned name.
//
// The default route is `to: 0.0.0.0/0`, not `to: default`: cloud-init 22.4 converts v2 to its internal
// state for the sysconfig / ENI / networkd renderers (EL9, Debian 12) and rejects "default" there
// ("Address default is not a valid ip address").
//
// Except on debian-12, which gets `gateway4`: a Debian image may have ifupdown instead of netplan, and cloud-init's
// ENI renderer writes a route as `post-up route add default gw ... || true`, which needs net-tools and otherwise
// leaves the node without a default route, silently (canonical/cloud-init#6250; seen on a real boot). `gateway4`
// becomes an ifupdown `gateway` line, which ifupdown applies itself (checked with cloud-init 22.4's renderer). On
// netplan (Debian 12 genericcloud) it still works; netplan only warns that gateway4 is deprecated. Ubuntu always has
// netplan and EL9 uses sysconfig, so they keep the route.

import { YamlWriter } from './yaml.js';
import type { NodePlan, PlanNode } from '../plan/types.js';
import { LAN_INTERFACE } from '../plan/network.js';
import { header } from '../template.js';

/** The stable name the node's LAN interface gets on every OS family (defined in the plan layer). */
export { LAN_INTERFACE };

export interface NetplanEthernet {
  match: { macaddress: string };
  'set-name': string;
  dhcp4: false;
  dhcp6: false;
  addresses: string[];
  /** debian-12 only (see the top of this file) */
  gateway4?: string;
  routes?: Array<{ to: string; via: string }>;
  nameservers?: { addresses: string[] };
}

export interface NetworkConfigV2 {
  version: 2;
  ethernets: Record<string, NetplanEthernet>;
}

/** Families whose images may render network config with ifupdown (cloud-init's ENI renderer). */
const GATEWAY4_FAMILIES: ReadonlySet<NodePlan['os']['family']> = new Set(['debian-12']);

/** Options for every YAML file cloud-init (PyYAML, YAML 1.1) reads: 1.1 quoting, no folding. */
export const CLOUD_YAML_OPTIONS = { version: '1.1', lineWidth: 0, minContentWidth: 0, singleQuote: true } as const;
/** Writes YAML as `yaml` does with CLOUD_YAML_OPTIONS, fast (src/emit/yaml.ts). */
export const cloudYaml = new YamlWriter(CLOUD_YAML_OPTIONS);

export function requireNode(plan: NodePlan): PlanNode {
  if (plan.node === undefined) {
    throw new Error(`mkimage: cloud-init needs a per-node plan, got the role plan "${plan.profile}" (plan.node is unset)`);
  }
  return plan.node;
}

/** The network-config document as an object (keys in a fixed order). */
export function networkConfigObject(plan: NodePlan): NetworkConfigV2 {
  const node = requireNode(plan);
  const eth: NetplanEthernet = {
    match: { macaddress: node.mac.toLowerCase() },
    'set-name': LAN_INTERFACE,
    dhcp4: false,
    dhcp6: false,
    addresses: [node.address],
    ...(GATEWAY4_FAMILIES.has(plan.os.family) ? { gateway4: node.gateway } : { routes: [{ to: '0.0.0.0/0', via: node.gateway }] }),
  };
  if (node.dns.length > 0) eth.nameservers = { addresses: [...node.dns] };
  return { version: 2, ethernets: { [LAN_INTERFACE]: eth } };
}

/** The NoCloud `network-config` file (netplan v2, no `network:` wrapper). */
export function renderNetworkConfig(plan: NodePlan): string {
  return header('#') + cloudYaml.write(networkConfigObject(plan));
}
