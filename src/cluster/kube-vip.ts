// kube-vip as a static pod: with cluster `controlPlaneHA: kube-vip` every control plane runs it, and the leader
// of the kube-system lease `plndr-cp-lock` holds the controlPlaneEndpoint address (the VIP) on its LAN interface
// and announces it by ARP. Per-node first-boot files (phase boot), like the kubeadm config; built as an object
// and serialised with `yaml`.
//
// Kubernetes 1.29 facts this module works around:
// - kube-vip/kube-vip#684: since 1.29 kubeadm's admin.conf gets its rights from a ClusterRoleBinding that
//   `kubeadm init` creates only at its end, so during init kube-vip (which needs the API to win the lease and
//   raise the VIP that init itself waits for) must use super-admin.conf, which exists on the init node only.
//   The init node's manifest therefore mounts /etc/kubernetes/super-admin.conf; the first-boot script switches
//   it to admin.conf once init has succeeded. Joining control planes mount admin.conf, which `kubeadm join`
//   writes before it starts the kubelet.
// - kube-vip/kube-vip#692: in control-plane mode kube-vip talks to the API as https://kubernetes:<port>, meant
//   to resolve to 127.0.0.1 through hostAliases, which 1.29 kubelets do not apply to this static pod. Like
//   Cluster API's vSphere provider, the pod mounts a hosts file of its own at /etc/hosts instead
//   ("kubernetes" is in every kube-apiserver certificate kubeadm makes).
// - `kubeadm join` refuses a non-empty /etc/kubernetes/manifests (preflight DirAvailable--etc-kubernetes-manifests;
//   `kubeadm init` checks only its own manifest files): joining control planes ignore exactly that check.
//
// kube-vip reads its kubeconfig from /etc/kubernetes/admin.conf inside the container, so that mount path is
// fixed; only the host file behind it changes.

import { stringify } from 'yaml';
import { KUBE_VIP_IMAGE } from '../plan/images.js';
import { LAN_INTERFACE } from '../plan/network.js';
import type { NodePlan, PlanFile, PlanNode } from '../plan/types.js';
import { header } from '../template.js';
import { API_BIND_PORT } from './kubeadm.js';

export const KUBE_VIP_MANIFEST_PATH = '/etc/kubernetes/manifests/kube-vip.yaml';
export const KUBE_VIP_HOSTS_PATH = '/etc/kube-vip.hosts';
export const ADMIN_CONF = '/etc/kubernetes/admin.conf';
export const SUPER_ADMIN_CONF = '/etc/kubernetes/super-admin.conf';
/** The kube-system Lease whose holder owns the VIP. */
export const KUBE_VIP_LEASE = 'plndr-cp-lock';
/** The preflight check a control plane joining with a pre-placed kube-vip manifest must skip. */
export const KUBE_VIP_JOIN_PREFLIGHT_IGNORES: readonly string[] = ['DirAvailable--etc-kubernetes-manifests'];

// Leader election in seconds (Cluster API vSphere's values: tolerant of a busy API server while etcd members
// join, still a failover in about 15 s).
const LEASE_DURATION = 15;
const RENEW_DEADLINE = 10;
const RETRY_PERIOD = 2;

const KUBE_VIP_HOSTS = '127.0.0.1 localhost kubernetes\n';

/** The host of "HOST:PORT", "[v6]:PORT" or a bare host. */
export function endpointHost(endpoint: string): string {
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(endpoint);
  if (v6?.[1] !== undefined) return v6[1];
  const m = /^(.*):(\d+)$/.exec(endpoint);
  return m?.[1] ?? endpoint;
}

/** Which host kubeconfig the node's kube-vip uses: super-admin.conf while this node runs `kubeadm init`. */
export function kubeVipKubeconfig(node: Pick<PlanNode, 'bootstrap'>): string {
  return node.bootstrap === 'init' ? SUPER_ADMIN_CONF : ADMIN_CONF;
}

const env = (name: string, value: string) => ({ name, value });

/** The static pod manifest for one control-plane node. */
export function kubeVipManifest(plan: NodePlan, node: PlanNode): string {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'kube-vip', namespace: 'kube-system' },
    spec: {
      containers: [
        {
          name: 'kube-vip',
          // cluster images.kubeVip (an internal registry) when set; ghcr.io otherwise
          image: plan.cluster.kubeVipImage ?? KUBE_VIP_IMAGE,
          // pre-pulled into the control-plane image: the registry may be unreachable before the VIP is up
          imagePullPolicy: 'IfNotPresent',
          args: ['manager'],
          env: [
            env('vip_arp', 'true'),
            env('port', String(API_BIND_PORT)),
            { name: 'vip_nodename', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
            env('vip_interface', LAN_INTERFACE),
            env('vip_cidr', '32'),
            env('cp_enable', 'true'),
            env('cp_namespace', 'kube-system'),
            env('vip_leaderelection', 'true'),
            env('vip_leasename', KUBE_VIP_LEASE),
            env('vip_leaseduration', String(LEASE_DURATION)),
            env('vip_renewdeadline', String(RENEW_DEADLINE)),
            env('vip_retryperiod', String(RETRY_PERIOD)),
            env('address', endpointHost(plan.cluster.controlPlaneEndpoint)),
          ],
          securityContext: { capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } },
          volumeMounts: [
            { name: 'kubeconfig', mountPath: ADMIN_CONF },
            { name: 'etchosts', mountPath: '/etc/hosts' },
          ],
        },
      ],
      hostNetwork: true,
      volumes: [
        // type File: never let the runtime create a directory (or an empty file) where kubeadm writes the kubeconfig
        { name: 'kubeconfig', hostPath: { path: kubeVipKubeconfig(node), type: 'File' } },
        { name: 'etchosts', hostPath: { path: KUBE_VIP_HOSTS_PATH, type: 'File' } },
      ],
    },
  };
  return header('#') + stringify(pod, { version: '1.1', lineWidth: 0 });
}

/** The node's kube-vip files: the manifest and its hosts file on control planes of a kube-vip cluster, else none. */
export function kubeVipBootFiles(plan: NodePlan): PlanFile[] {
  const node = plan.node;
  if (!node) throw new Error('kubeVipBootFiles needs a per-node plan (plan.node is absent on a role plan)');
  if (plan.cluster.controlPlaneHA !== 'kube-vip' || node.role !== 'control-plane') return [];
  return [
    { path: KUBE_VIP_MANIFEST_PATH, mode: '0600', owner: 'root:root', content: kubeVipManifest(plan, node), phase: 'boot' },
    { path: KUBE_VIP_HOSTS_PATH, mode: '0644', owner: 'root:root', content: KUBE_VIP_HOSTS, phase: 'boot' },
  ];
}
