// Lints on the cluster's addressing: W103 (CIDR not aligned), W104 (pod/service/node ranges overlap), W105 (API
// endpoint vs control-plane address), W110 (node outside the control plane's subnet), W111 (gateway outside the
// node's subnet). Values that do not parse as IPv4 are left to the loader's format checks (E007) and skipped here.
//
// W110, precisely: a node's "subnet" is the network of its ip/prefix. A worker must have its address inside the
// subnet of at least one control-plane node, so it reaches the API server and kubelet ports on-link, without a
// router (the seed's flat LAN behind an iKuai gateway). When there are two or more control-plane nodes, each must
// likewise lie inside another control-plane node's subnet (stacked etcd peers and a kube-vip VIP need one L2).
// With no control-plane node in the inventory there is nothing to compare against and W110 is silent.

import { warning, type Diagnostic } from '../../diagnostics.js';
import {
  contains,
  formatCidr,
  formatIPv4,
  ipv4HostOf,
  isAligned,
  networkOf,
  overlaps,
  parseCidr,
  parseIPv4,
  type Cidr,
} from '../../net/cidr.js';
import type { Cluster, Located, NodeSpec } from '../types.js';
import { positionOf } from './position.js';

const RANGES = ['podSubnet', 'serviceSubnet'] as const;

/** W103: podSubnet/serviceSubnet with host bits set ("10.10.0.0/12" is really 10.0.0.0/12). */
export function lintSubnetAlignment(cluster: Located<Cluster>): Diagnostic[] {
  return RANGES.flatMap((key) => {
    const text = cluster.value[key];
    const c = parseCidr(text);
    if (c === undefined || isAligned(c)) return [];
    const net = formatCidr(networkOf(c));
    return [
      warning(
        'W103',
        `${key} ${text} is not a network address: the /${c.prefix} that contains ${formatIPv4(c.addr)} is ${net}; ` +
          `set ${key} to ${net}`,
        positionOf(cluster, key),
      ),
    ];
  });
}

interface PlacedNode {
  node: NodeSpec;
  cidr: Cidr;
}

function placedNodes(cluster: Cluster): PlacedNode[] {
  return cluster.nodes.flatMap((node) => {
    const cidr = parseCidr(node.ip);
    return cidr === undefined ? [] : [{ node, cidr }];
  });
}

const ipPath = (n: NodeSpec) => `nodes.${n.index}.ip`;

/** W104: pod, service and node ranges must be disjoint, or routes for one capture traffic for another. */
export function lintSubnetOverlap(cluster: Located<Cluster>): Diagnostic[] {
  const out: Diagnostic[] = [];
  const pod = parseCidr(cluster.value.podSubnet);
  const svc = parseCidr(cluster.value.serviceSubnet);
  if (pod !== undefined && svc !== undefined && overlaps(pod, svc)) {
    out.push(
      warning(
        'W104',
        `serviceSubnet ${formatCidr(networkOf(svc))} overlaps podSubnet ${formatCidr(networkOf(pod))}: ` +
          `choose a serviceSubnet that shares no address with podSubnet (kubeadm's default is 10.96.0.0/12)`,
        positionOf(cluster, 'serviceSubnet'),
      ),
    );
  }
  // Node subnets, each once, in inventory order.
  const nodeNets = new Map<string, { net: Cidr; names: string[] }>();
  for (const { node, cidr } of placedNodes(cluster.value)) {
    const net = networkOf(cidr);
    const key = formatCidr(net);
    const entry = nodeNets.get(key) ?? { net, names: [] };
    entry.names.push(node.name);
    nodeNets.set(key, entry);
  }
  for (const key of RANGES) {
    const range = parseCidr(cluster.value[key]);
    if (range === undefined) continue;
    for (const [netText, { net, names }] of nodeNets) {
      if (!overlaps(range, net)) continue;
      out.push(
        warning(
          'W104',
          `${key} ${formatCidr(networkOf(range))} overlaps the node subnet ${netText} (${names.join(', ')}): ` +
            `choose a ${key} outside ${netText}, or pod and service routes capture node traffic`,
          positionOf(cluster, key),
        ),
      );
    }
  }
  return out;
}

/** W105: the API endpoint must reach the control plane: its node address without HA, a free VIP with HA. */
export function lintControlPlaneEndpoint(cluster: Located<Cluster>): Diagnostic[] {
  const c = cluster.value;
  const host = ipv4HostOf(c.controlPlaneEndpoint);
  if (host === undefined) return []; // a DNS name (or IPv6): nothing to compare offline
  const at = positionOf(cluster, 'controlPlaneEndpoint');
  const port = /:(\d+)$/.exec(c.controlPlaneEndpoint)?.[1];
  const withPort = (addr: number) => (port === undefined ? formatIPv4(addr) : `${formatIPv4(addr)}:${port}`);
  const nodes = placedNodes(c);
  const cps = nodes.filter((n) => n.node.role === 'control-plane');
  const ep = c.controlPlaneEndpoint;

  if (c.controlPlaneHA === 'none') {
    if (cps.length === 0 || cps.some((n) => n.cidr.addr === host)) return [];
    const [only] = cps;
    const message =
      cps.length === 1 && only !== undefined
        ? `controlPlaneEndpoint ${ep} is not the address of the control-plane node ${only.node.name} ` +
          `(${formatIPv4(only.cidr.addr)}): set controlPlaneEndpoint to ${withPort(only.cidr.addr)}, or set ` +
          `controlPlaneHA to kube-vip or external if ${formatIPv4(host)} is a virtual IP or load balancer`
        : `controlPlaneEndpoint ${ep} is not the address of any control-plane node ` +
          `(${cps.map((n) => `${n.node.name} ${formatIPv4(n.cidr.addr)}`).join(', ')}): with several control planes ` +
          `set controlPlaneHA to kube-vip or external and the endpoint to its virtual IP`;
    return [warning('W105', message, at)];
  }

  const owner = nodes.find((n) => n.cidr.addr === host);
  const home = cps[0] === undefined ? undefined : formatCidr(networkOf(cps[0].cidr));
  const free = home === undefined ? 'an unused address' : `an unused address in ${home}`;
  if (owner !== undefined) {
    const what = c.controlPlaneHA === 'kube-vip' ? 'a virtual IP that kube-vip moves' : "the load balancer's address";
    return [
      warning(
        'W105',
        `controlPlaneEndpoint ${ep} is node ${owner.node.name}'s own address, but controlPlaneHA ` +
          `${c.controlPlaneHA} needs ${what}: set controlPlaneEndpoint to ${free}`,
        at,
      ),
    ];
  }
  // kube-vip announces the VIP by ARP from a control-plane node, so it must be on their subnet. An external
  // load balancer may live on any routed network and is not checked.
  if (c.controlPlaneHA === 'kube-vip' && cps.length > 0 && !cps.some((n) => contains(n.cidr, host))) {
    return [
      warning(
        'W105',
        `controlPlaneEndpoint ${ep} is outside the control-plane subnet ${home ?? ''}, where kube-vip announces ` +
          `its virtual IP: set controlPlaneEndpoint to ${free}`,
        at,
      ),
    ];
  }
  // kube-vip (control-plane mode, no load balancer) only moves the address: clients reach the leader's own
  // kube-apiserver, which listens on 6443.
  if (c.controlPlaneHA === 'kube-vip' && port !== undefined && port !== '6443') {
    return [
      warning(
        'W105',
        `controlPlaneEndpoint ${ep} uses port ${port}, but kube-vip only moves the address and kube-apiserver ` +
          `listens on 6443: set controlPlaneEndpoint to ${formatIPv4(host)}:6443, or use controlPlaneHA external ` +
          `with a load balancer that forwards port ${port} to 6443`,
        at,
      ),
    ];
  }
  return [];
}

/** W110: a node that shares no subnet with the control plane (see the header for the precise rule). */
export function lintNodeSubnets(cluster: Located<Cluster>): Diagnostic[] {
  const nodes = placedNodes(cluster.value);
  const cps = nodes.filter((n) => n.node.role === 'control-plane');
  if (cps.length === 0) return [];
  return nodes.flatMap(({ node, cidr }) => {
    const peers = cps.filter((cp) => cp.node !== node);
    if (peers.length === 0 || peers.some((cp) => contains(cp.cidr, cidr.addr))) return [];
    const nets = [...new Set(peers.map((cp) => formatCidr(networkOf(cp.cidr))))];
    const netList = nets.join(' or ');
    return [
      warning(
        'W110',
        `node ${node.name} address ${formatIPv4(cidr.addr)} is outside the control-plane subnet ${netList}: ` +
          `give it an address in ${netList} (or correct the control plane's address)`,
        positionOf(cluster, ipPath(node)),
      ),
    ];
  });
}

/** W111: a node's default gateway must be on-link, i.e. inside the node's own ip/prefix. */
export function lintNodeGateways(cluster: Located<Cluster>): Diagnostic[] {
  return placedNodes(cluster.value).flatMap(({ node, cidr }) => {
    const gw = parseIPv4(node.gateway);
    if (gw === undefined || contains(cidr, gw)) return [];
    const net = formatCidr(networkOf(cidr));
    return [
      warning(
        'W111',
        `node ${node.name} gateway ${node.gateway} is outside its subnet ${net} (from ip ${node.ip}): set ` +
          `nodes[${node.index}].gateway to the router's address in ${net}, or correct the ip's prefix`,
        positionOf(cluster, `nodes.${node.index}.gateway`),
      ),
    ];
  });
}
