// The per-node first-boot files that carry the cluster's secrets: the shared CAs and service-account keys for
// control planes (so every control plane holds the same PKI and extra ones join without --upload-certs), the
// kubeadm config (init or join), bootstrap.env for the first-boot script, and with controlPlaneHA kube-vip the
// kube-vip static pod on control planes (src/cluster/kube-vip.ts). All phase 'boot': nothing here
// may ever be baked into an image. Workers get no private key at all (kubeadm's worker preflight even refuses
// an existing /etc/kubernetes/pki/ca.crt).

import type { NodePlan, PlanFile, PlanNode } from '../plan/types.js';
import { header } from '../template.js';
import { initConfig, joinConfig } from './kubeadm.js';
import { KUBE_VIP_JOIN_PREFLIGHT_IGNORES, kubeVipBootFiles } from './kube-vip.js';
import type { ClusterSecrets } from './secrets.js';
import type { BootstrapToken } from './token.js';

export const PKI_DIR = '/etc/kubernetes/pki';
export const KUBEADM_CONFIG_PATH = '/etc/kubernetes/mkimage/kubeadm.yaml';
export const BOOTSTRAP_ENV_PATH = '/etc/kubernetes/mkimage/bootstrap.env';
/** The variables bootstrap.env defines, in order (the first-boot script reads exactly these). */
export const BOOTSTRAP_ENV_VARS = ['BOOTSTRAP', 'API_ENDPOINT', 'NODE_NAME', 'POD_SUBNET', 'SINGLE_NODE'] as const;

const CERT_MODE = '0640';
const KEY_MODE = '0600';
const OWNER = 'root:root';

function file(path: string, mode: string, content: string, secret: boolean): PlanFile {
  const f: PlanFile = { path, mode, owner: OWNER, content, phase: 'boot' };
  if (secret) f.secret = true;
  return f;
}

/** A value safe for both `. file` in sh and systemd EnvironmentFile=: bare when plain, else single-quoted. */
function envValue(v: string): string {
  if (/^[A-Za-z0-9._:/@%+=,-]+$/.test(v)) return v;
  if (/[\n\r]/.test(v)) throw new Error(`bootstrap.env value ${JSON.stringify(v)} spans lines`);
  return `'${v.replace(/'/g, `'\\''`)}'`;
}

export function bootstrapEnv(plan: NodePlan, node: PlanNode): string {
  const values: Record<(typeof BOOTSTRAP_ENV_VARS)[number], string> = {
    BOOTSTRAP: node.bootstrap,
    API_ENDPOINT: plan.cluster.controlPlaneEndpoint,
    NODE_NAME: node.name,
    POD_SUBNET: plan.cluster.podSubnet,
    SINGLE_NODE: node.onlyNode ? '1' : '0',
  };
  return header('#') + BOOTSTRAP_ENV_VARS.map((k) => `${k}=${envValue(values[k])}\n`).join('');
}

function controlPlanePki(secrets: ClusterSecrets): PlanFile[] {
  return [
    file(`${PKI_DIR}/ca.crt`, CERT_MODE, secrets.ca.cert, false),
    file(`${PKI_DIR}/ca.key`, KEY_MODE, secrets.ca.key, true),
    file(`${PKI_DIR}/front-proxy-ca.crt`, CERT_MODE, secrets.frontProxyCa.cert, false),
    file(`${PKI_DIR}/front-proxy-ca.key`, KEY_MODE, secrets.frontProxyCa.key, true),
    file(`${PKI_DIR}/etcd/ca.crt`, CERT_MODE, secrets.etcdCa.cert, false),
    file(`${PKI_DIR}/etcd/ca.key`, KEY_MODE, secrets.etcdCa.key, true),
    file(`${PKI_DIR}/sa.key`, KEY_MODE, secrets.sa.key, true),
    // kubeadm writes sa.pub 0600 too (keyutil.WriteKey); it is public, so not flagged secret
    file(`${PKI_DIR}/sa.pub`, KEY_MODE, secrets.sa.pub, false),
  ];
}

/**
 * The boot-phase files one node needs to bootstrap: `plan` must be a per-node plan (plan.node set). `nodeTokens`
 * holds every joining node's own token (node name -> token, inventory order): the init node registers them all, a
 * joiner joins with its own and never sees the cluster token.
 */
export function bootstrapBootFiles(plan: NodePlan, secrets: ClusterSecrets, nodeTokens: ReadonlyMap<string, BootstrapToken> = new Map()): PlanFile[] {
  const node = plan.node;
  if (!node) throw new Error('bootstrapBootFiles needs a per-node plan (plan.node is absent on a role plan)');
  const expected = node.role === 'worker' ? ['join'] : ['init', 'join-control-plane'];
  if (!expected.includes(node.bootstrap)) {
    throw new Error(`node ${node.name}: a ${node.role} cannot bootstrap with "${node.bootstrap}"`);
  }
  const files: PlanFile[] = [];
  // controlPlaneHA kube-vip: the static pod that holds the VIP (control planes only; none otherwise)
  const kubeVip = kubeVipBootFiles(plan);
  let config: string;
  if (node.bootstrap === 'init') config = initConfig(plan, secrets, nodeTokens);
  else {
    const own = nodeTokens.get(node.name);
    if (own === undefined) throw new Error(`bootstrapBootFiles: node ${node.name} joins, but no node token was derived for it`);
    config = joinConfig(plan, { ca: secrets.ca, token: own }, {
      controlPlane: node.bootstrap === 'join-control-plane',
      ...(kubeVip.length > 0 && { ignorePreflightErrors: KUBE_VIP_JOIN_PREFLIGHT_IGNORES }),
    });
  }
  if (node.role === 'control-plane') files.push(...controlPlanePki(secrets));
  files.push(file(KUBEADM_CONFIG_PATH, KEY_MODE, config, true));
  files.push(file(BOOTSTRAP_ENV_PATH, KEY_MODE, bootstrapEnv(plan, node), false));
  files.push(...kubeVip);
  return files;
}
