// kubeadm configuration documents for Kubernetes 1.29 (kubeadm.k8s.io/v1beta3 + kubelet.config.k8s.io/v1beta1),
// built as objects and serialised as `yaml` would (src/emit/yaml.ts) in YAML 1.1 quoting (kubeadm decodes with a YAML 1.1 parser, so
// "yes" or "012345" must stay strings).
//
// `kubeadm join --config` reads only the JoinConfiguration document (documentMapToJoinConfiguration skips every
// other kind), and joining kubelets take their KubeletConfiguration from the kubelet-config ConfigMap that
// `kubeadm init` uploads; so the KubeletConfiguration goes into the init documents only.

import { YamlWriter } from '../emit/yaml.js';
import type { NodePlan, PlanNode } from '../plan/types.js';
import { header } from '../template.js';
import { discoveryHash } from './pki.js';
import { tokenString, type BootstrapToken } from './token.js';
import type { ClusterSecrets } from './secrets.js';

export const KUBEADM_API_VERSION = 'kubeadm.k8s.io/v1beta3';
export const KUBELET_API_VERSION = 'kubelet.config.k8s.io/v1beta1';
/** The port each control plane's kube-apiserver binds to (the endpoint in front of them may differ). */
export const API_BIND_PORT = 6443;
export const BOOTSTRAP_TOKEN_GROUPS = ['system:bootstrappers:kubeadm:default-node-token'];
export const BOOTSTRAP_TOKEN_USAGES = ['signing', 'authentication'];

type Doc = Record<string, unknown>;

/** Writes as `yaml` does with these options, fast (src/emit/yaml.ts): a config per joining node. */
const kubeadmYaml = new YamlWriter({ version: '1.1', lineWidth: 0 });

function serialise(docs: Doc[]): string {
  const body = docs.map((d) => kubeadmYaml.write(d)).join('---\n');
  return header('#') + body;
}

/** "1.29.2" -> "v1.29.2" (kubeadm accepts both; its own output uses the v form). */
export function kubernetesVersionTag(version: string): string {
  return version.startsWith('v') ? version : `v${version}`;
}

function requireNode(plan: NodePlan, what: string): PlanNode {
  if (!plan.node) throw new Error(`${what} needs a per-node plan (plan.node is absent on a role plan)`);
  return plan.node;
}

/** The profile's preflight ignores, then any the caller adds, each once. */
function nodeRegistration(plan: NodePlan, node: PlanNode, extraIgnores: readonly string[] = []): Doc {
  const ignored = [...new Set([...plan.kubeadm.ignorePreflightErrors, ...extraIgnores])];
  return {
    name: node.name,
    criSocket: plan.cluster.criSocket,
    // the address kubelet reports; on multi-NIC machines the default route's NIC may be the wrong one
    kubeletExtraArgs: { 'node-ip': node.ip },
    ...(ignored.length > 0 && { ignorePreflightErrors: ignored }),
  };
}

function clusterConfiguration(plan: NodePlan): Doc {
  const c = plan.cluster;
  return {
    apiVersion: KUBEADM_API_VERSION,
    kind: 'ClusterConfiguration',
    clusterName: c.name,
    kubernetesVersion: kubernetesVersionTag(c.kubernetesVersion),
    controlPlaneEndpoint: c.controlPlaneEndpoint,
    imageRepository: c.imageRepository,
    networking: { dnsDomain: c.dnsDomain, podSubnet: c.podSubnet, serviceSubnet: c.serviceSubnet },
  };
}

function kubeletConfiguration(): Doc {
  return { apiVersion: KUBELET_API_VERSION, kind: 'KubeletConfiguration', cgroupDriver: 'systemd' };
}

/** The description kubeadm keeps with a node's own join token (`kubeadm token list` shows it). */
export function nodeTokenDescription(node: string): string {
  return `mkimage join token for node ${node}`;
}

// fresh arrays per entry: `yaml` writes an object used twice as an anchor and aliases (&a1, *a1)
function bootstrapTokenEntry(token: BootstrapToken, description: string): Doc {
  return { token: tokenString(token), description, ttl: token.ttl, groups: [...BOOTSTRAP_TOKEN_GROUPS], usages: [...BOOTSTRAP_TOKEN_USAGES] };
}

/**
 * `kubeadm init --config` for the first control plane: InitConfiguration + ClusterConfiguration + KubeletConfiguration.
 * bootstrapTokens registers the cluster token (for joins later on) and every joining node's own token (`nodeTokens`,
 * node name -> token, in inventory order), so each seed carries only its node's token.
 */
export function initConfig(
  plan: NodePlan,
  secrets: Pick<ClusterSecrets, 'token'>,
  nodeTokens: ReadonlyMap<string, BootstrapToken> = new Map(),
): string {
  const node = requireNode(plan, 'initConfig');
  if (node.role !== 'control-plane') throw new Error(`initConfig: node ${node.name} is a ${node.role}, not a control plane`);
  const init: Doc = {
    apiVersion: KUBEADM_API_VERSION,
    kind: 'InitConfiguration',
    bootstrapTokens: [
      bootstrapTokenEntry(secrets.token, `mkimage bootstrap token for cluster ${plan.cluster.name}`),
      ...[...nodeTokens].map(([name, t]) => bootstrapTokenEntry(t, nodeTokenDescription(name))),
    ],
    localAPIEndpoint: { advertiseAddress: node.ip, bindPort: API_BIND_PORT },
    nodeRegistration: nodeRegistration(plan, node),
  };
  return serialise([init, clusterConfiguration(plan), kubeletConfiguration()]);
}

/**
 * `kubeadm join --config` for a worker, or (controlPlane) for an extra control plane holding the shared CAs.
 * `secrets.token` is the token this node joins with: its own node token (src/cluster/token.ts nodeTokens).
 * ignorePreflightErrors names single checks only (never "all"), e.g. the manifests-directory check a pre-placed
 * static pod trips.
 */
export function joinConfig(
  plan: NodePlan,
  secrets: Pick<ClusterSecrets, 'token' | 'ca'>,
  opts: { controlPlane: boolean; ignorePreflightErrors?: readonly string[] },
): string {
  const node = requireNode(plan, 'joinConfig');
  if (opts.controlPlane && node.role !== 'control-plane') {
    throw new Error(`joinConfig: node ${node.name} is a ${node.role}; only control planes join with controlPlane`);
  }
  const join: Doc = {
    apiVersion: KUBEADM_API_VERSION,
    kind: 'JoinConfiguration',
    discovery: {
      bootstrapToken: {
        token: tokenString(secrets.token),
        apiServerEndpoint: plan.cluster.controlPlaneEndpoint,
        caCertHashes: [discoveryHash(secrets.ca.cert)],
      },
    },
    nodeRegistration: nodeRegistration(plan, node, opts.ignorePreflightErrors),
  };
  if (opts.controlPlane) {
    join.controlPlane = { localAPIEndpoint: { advertiseAddress: node.ip, bindPort: API_BIND_PORT } };
  }
  return serialise([join]);
}

/**
 * For `kubeadm config images pull --config` while baking: only what picks the images (version, repository) and
 * the CRI socket to pull through. No token, no node: it is baked into every image of the role.
 */
export function imagesConfig(plan: NodePlan): string {
  const c = plan.cluster;
  return serialise([
    { apiVersion: KUBEADM_API_VERSION, kind: 'InitConfiguration', nodeRegistration: { criSocket: c.criSocket } },
    {
      apiVersion: KUBEADM_API_VERSION,
      kind: 'ClusterConfiguration',
      kubernetesVersion: kubernetesVersionTag(c.kubernetesVersion),
      imageRepository: c.imageRepository,
    },
  ]);
}

/** The classic one-line join, as `kubeadm token create --print-join-command` prints it (plus the CRI socket). */
export function joinCommand(
  endpoint: string,
  token: string | Pick<BootstrapToken, 'id' | 'secret'>,
  hash: string,
  criSocket: string,
): string {
  const t = typeof token === 'string' ? token : tokenString(token);
  return `kubeadm join ${endpoint} --token ${t} --discovery-token-ca-cert-hash ${hash} --cri-socket ${criSocket}`;
}

/**
 * What registers node `node`'s own token on a control plane (`mkimage cluster token --node`): the same token,
 * TTL and description `kubeadm init` registers from the InitConfiguration; groups and usages are kubeadm's defaults
 * (BOOTSTRAP_TOKEN_GROUPS, BOOTSTRAP_TOKEN_USAGES).
 */
export function tokenCreateCommand(node: string, token: BootstrapToken): string {
  return `kubeadm token create ${tokenString(token)} --ttl ${token.ttl} --description "${nodeTokenDescription(node)}"`;
}
