// Lints on the inventory as a cluster: W113 (no control plane), W114 (several control planes with
// controlPlaneHA: none), W115 (a node that is its own gateway), and W116 on a profile (swap: on).

import { warning, type Diagnostic } from '../../diagnostics.js';
import { addressOf } from '../../net/cidr.js';
import type { Cluster, Located, Profile } from '../types.js';
import { positionOf } from './position.js';

/** W113: without a control-plane node nothing runs `kubeadm init`; the workers wait for an API that never comes. */
export function lintNoControlPlane(cluster: Located<Cluster>): Diagnostic[] {
  const c = cluster.value;
  if (c.nodes.length === 0 || c.nodes.some((n) => n.role === 'control-plane')) return [];
  return [
    warning(
      'W113',
      `the inventory has no control-plane node, so nothing runs kubeadm init and the workers wait for ${c.controlPlaneEndpoint} ` +
        'forever: add a node with role: control-plane (or point controlPlaneEndpoint at a cluster that already runs)',
      positionOf(cluster, 'nodes'),
    ),
  ];
}

/** W114: a second control plane without HA joins through the first one's address, so losing the first loses the API. */
export function lintControlPlanesWithoutHA(cluster: Located<Cluster>): Diagnostic[] {
  const c = cluster.value;
  const cps = c.nodes.filter((n) => n.role === 'control-plane');
  if (cps.length < 2 || c.controlPlaneHA !== 'none') return [];
  return [
    warning(
      'W114',
      `${cps.length} control planes (${cps.map((n) => n.name).join(', ')}) with controlPlaneHA: none all depend on ` +
        `${c.controlPlaneEndpoint}: set controlPlaneHA: kube-vip with a free VIP as controlPlaneEndpoint (or external with a ` +
        'load balancer), and keep an odd number of control planes for etcd',
      positionOf(cluster, 'controlPlaneHA'),
    ),
  ];
}

/** W115: a node whose gateway is its own address has no route off its subnet (the gateway is the router). */
export function lintNodeIsOwnGateway(cluster: Located<Cluster>): Diagnostic[] {
  return cluster.value.nodes
    .filter((n) => n.gateway === addressOf(n.ip))
    .map((n) =>
      warning(
        'W115',
        `node ${n.name} has its own address ${n.gateway} as gateway, so it cannot reach anything off its subnet ` +
          `(image pulls, packages): set nodes[${n.index}].gateway to the router's address`,
        positionOf(cluster, `nodes.${n.index}.gateway`),
      ),
    );
}

/** W116: kubelet refuses to start with swap on (failSwapOn), so kubeadm init/join fail their preflight. */
export function lintSwapOn(profile: Located<Profile>): Diagnostic[] {
  const p = profile.value;
  if (p.role === 'gateway' || p.swap !== 'on') return [];
  return [
    warning(
      'W116',
      'swap: on makes kubelet refuse to start (failSwapOn) and kubeadm preflight fail on every node of this role: ' +
        'set swap: off (it also removes swap from /etc/fstab)',
      positionOf(profile, 'swap'),
    ),
  ];
}
