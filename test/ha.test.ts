// HA control plane (issue 4 part 5): three control planes behind controlPlaneEndpoint, a kube-vip VIP or an
// external load balancer. The example cluster test/fixtures/ha/cluster.yaml goes through the real pipeline
// (load -> lint -> plan with the TEST-ONLY fixture secrets); user-data is checked with the real cloud-init.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadSecrets, type ClusterSecrets } from '../src/cluster/secrets.js';
import { KUBEADM_CONFIG_PATH, PKI_DIR } from '../src/cluster/bootstrap-files.js';
import { KUBE_VIP_HOSTS_PATH, KUBE_VIP_MANIFEST_PATH } from '../src/cluster/kube-vip.js';
import { renderSeed, type CloudInitMode } from '../src/emit/cloud-init.js';
import { loadAndLint, nodePlans, profileFor, rolePlan, type Loaded } from '../src/pipeline.js';
import { KUBE_VIP_IMAGE } from '../src/plan/images.js';
import type { NodePlan, PlanFile } from '../src/plan/types.js';
import type { Diagnostic } from '../src/diagnostics.js';
import { get, kubeadmDocs } from './helpers/kubeadm-fields.js';
import { run, tool } from './helpers/tools.js';
import { FIXTURE_SECRETS, privateSecretsCopy } from './helpers/secrets.js';

const HA_CLUSTER = fileURLToPath(new URL('./fixtures/ha/cluster.yaml', import.meta.url));
const VIP = '192.168.66.10';
const ENDPOINT = `${VIP}:6443`;
const CP_IPS: Record<string, string> = { cp1: '192.168.66.11', cp2: '192.168.66.12', cp3: '192.168.66.13' };
const SHARED_PKI = ['ca.crt', 'ca.key', 'front-proxy-ca.crt', 'front-proxy-ca.key', 'etcd/ca.crt', 'etcd/ca.key', 'sa.key', 'sa.pub'];

let tmp: string;
let secrets: ClusterSecrets;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'mkimage-ha-'));
  // git keeps the TEST-ONLY fixture keys 0644; loadSecrets insists on 0600, so load a private copy
  const dir = await privateSecretsCopy(FIXTURE_SECRETS, join(tmp, 'secrets'));
  secrets = await loadSecrets(dir);
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The HA fixture with some text replaced, written to the temp dir. */
function variant(name: string, replace: Array<[string, string]>): string {
  let text = readFileSync(HA_CLUSTER, 'utf8');
  for (const [from, to] of replace) {
    expect(text).toContain(from);
    text = text.replace(from, to);
  }
  const file = join(tmp, `${name}.yaml`);
  writeFileSync(file, text);
  return file;
}

function load(clusterFile = HA_CLUSTER): Loaded & { inputs: NonNullable<Loaded['inputs']> } {
  const loaded = loadAndLint({ clusterFile, cwd: tmp });
  expect(loaded.inputs, JSON.stringify(loaded.diagnostics)).toBeDefined();
  return loaded as Loaded & { inputs: NonNullable<Loaded['inputs']> };
}

interface Built {
  diagnostics: Diagnostic[];
  roles: Record<'control-plane' | 'worker', NodePlan>;
  nodes: Map<string, NodePlan>;
}

function build(clusterFile = HA_CLUSTER): Built {
  const loaded = load(clusterFile);
  const diags: Diagnostic[] = [];
  const roles = {} as Built['roles'];
  const nodes = new Map<string, NodePlan>();
  for (const role of ['control-plane', 'worker'] as const) {
    const profile = profileFor(loaded.inputs, role, diags);
    if (!profile) throw new Error(`no ${role} profile`);
    roles[role] = rolePlan(loaded.inputs, profile, diags);
    for (const p of nodePlans(loaded.inputs, profile, secrets, diags)) nodes.set(p.node!.name, p);
  }
  expect(diags).toEqual([]);
  return { diagnostics: loaded.diagnostics, roles, nodes };
}

const fileOf = (plan: NodePlan, path: string): PlanFile | undefined => plan.files.find((f) => f.path === path);
function mustFile(plan: NodePlan, path: string): PlanFile {
  const f = fileOf(plan, path);
  if (!f) throw new Error(`${plan.node?.name ?? plan.profile}: no ${path}`);
  return f;
}

interface Pod {
  metadata: { name: string; namespace: string };
  spec: {
    hostNetwork: boolean;
    containers: Array<{
      image: string;
      args: string[];
      env: Array<{ name: string; value?: string }>;
      securityContext: { capabilities: { add: string[] } };
      volumeMounts: Array<{ name: string; mountPath: string }>;
    }>;
    volumes: Array<{ name: string; hostPath: { path: string; type: string } }>;
  };
}

function kubeVipPod(plan: NodePlan): Pod {
  return parse(mustFile(plan, KUBE_VIP_MANIFEST_PATH).content, { version: '1.1' }) as Pod;
}

function envOf(pod: Pod): Record<string, string | undefined> {
  return Object.fromEntries(pod.spec.containers[0]!.env.map((e) => [e.name, e.value]));
}

/** The host file behind the container's /etc/kubernetes/admin.conf (where kube-vip reads its kubeconfig). */
function kubeconfigHostPath(pod: Pod): string | undefined {
  const mount = pod.spec.containers[0]!.volumeMounts.find((m) => m.mountPath === '/etc/kubernetes/admin.conf');
  return pod.spec.volumes.find((v) => v.name === mount?.name)?.hostPath.path;
}

/** The interface name the node's network-config gives its NIC (set-name). */
function nicName(plan: NodePlan): string {
  const net = parse(renderSeed(plan, 'baked').networkConfig) as { ethernets: Record<string, { 'set-name': string }> };
  const [eth] = Object.values(net.ethernets);
  return eth!['set-name'];
}

describe('HA example cluster with kube-vip (test/fixtures/ha/cluster.yaml)', () => {
  let b: Built;
  beforeAll(() => {
    b = build();
  });

  it('loads and lints clean, with three control planes and two workers', () => {
    expect(b.diagnostics).toEqual([]);
    expect([...b.nodes.keys()]).toEqual(['cp1', 'cp2', 'cp3', 'worker1', 'worker2']);
    expect([...b.nodes.values()].map((p) => p.node!.bootstrap)).toEqual(['init', 'join-control-plane', 'join-control-plane', 'join', 'join']);
    for (const p of b.nodes.values()) expect(p.cluster).toMatchObject({ controlPlaneEndpoint: ENDPOINT, controlPlaneHA: 'kube-vip' });
  });

  it('cp1 runs kubeadm init behind the VIP, with a kube-vip pod on super-admin.conf', () => {
    const cp1 = b.nodes.get('cp1')!;
    const [init, cluster] = kubeadmDocs(mustFile(cp1, KUBEADM_CONFIG_PATH).content);
    expect(init?.kind).toBe('InitConfiguration');
    expect(get(init, 'localAPIEndpoint')).toEqual({ advertiseAddress: CP_IPS.cp1, bindPort: 6443 });
    expect(get(cluster, 'controlPlaneEndpoint')).toBe(ENDPOINT);
    // kubeadm puts the controlPlaneEndpoint host and the advertise address into the serving cert itself
    expect(get(cluster, 'apiServer')).toBeUndefined();

    expect(mustFile(cp1, KUBE_VIP_MANIFEST_PATH)).toMatchObject({ mode: '0600', owner: 'root:root', phase: 'boot' });
    expect(mustFile(cp1, KUBE_VIP_MANIFEST_PATH).secret).toBeUndefined();
    const pod = kubeVipPod(cp1);
    expect(kubeconfigHostPath(pod)).toBe('/etc/kubernetes/super-admin.conf');
    expect(pod.metadata).toEqual({ name: 'kube-vip', namespace: 'kube-system' });
    expect(pod.spec.hostNetwork).toBe(true);
    const c = pod.spec.containers[0]!;
    expect(c.image).toBe(KUBE_VIP_IMAGE);
    expect(c.args).toEqual(['manager']);
    expect(c.securityContext.capabilities.add).toEqual(['NET_ADMIN', 'NET_RAW']);
    expect(envOf(pod)).toMatchObject({
      vip_arp: 'true',
      port: '6443',
      vip_interface: nicName(cp1),
      vip_cidr: '32',
      cp_enable: 'true',
      cp_namespace: 'kube-system',
      vip_leaderelection: 'true',
      vip_leaseduration: '15',
      vip_renewdeadline: '10',
      vip_retryperiod: '2',
      address: VIP,
    });
    // kube-vip reaches its local API server as https://kubernetes:6443: its own hosts file says where that is
    expect(pod.spec.volumes.find((v) => v.name === 'etchosts')?.hostPath).toEqual({ path: KUBE_VIP_HOSTS_PATH, type: 'File' });
    expect(mustFile(cp1, KUBE_VIP_HOSTS_PATH)).toMatchObject({ mode: '0644', phase: 'boot', content: '127.0.0.1 localhost kubernetes\n' });
  });

  it.each(['cp2', 'cp3'])('%s joins as a control plane through the VIP, kube-vip on admin.conf', (name) => {
    const plan = b.nodes.get(name)!;
    const [join, ...rest] = kubeadmDocs(mustFile(plan, KUBEADM_CONFIG_PATH).content);
    expect(rest).toEqual([]);
    expect(join?.kind).toBe('JoinConfiguration');
    expect(get(join, 'controlPlane.localAPIEndpoint')).toEqual({ advertiseAddress: CP_IPS[name], bindPort: 6443 });
    expect(get(join, 'controlPlane.certificateKey')).toBeUndefined(); // shared CAs in the seed, no --upload-certs
    expect(get(join, 'discovery.bootstrapToken.apiServerEndpoint')).toBe(ENDPOINT);
    expect(get(join, 'nodeRegistration.kubeletExtraArgs')).toEqual({ 'node-ip': CP_IPS[name] });
    // the seeded kube-vip manifest makes /etc/kubernetes/manifests non-empty: only that preflight check is skipped
    expect(get(join, 'nodeRegistration.ignorePreflightErrors')).toEqual(['DirAvailable--etc-kubernetes-manifests']);

    const pod = kubeVipPod(plan);
    expect(kubeconfigHostPath(pod)).toBe('/etc/kubernetes/admin.conf');
    expect(envOf(pod)).toMatchObject({ address: VIP, vip_interface: nicName(plan) });
    // the same pod as cp1's but for the kubeconfig: the first-boot script makes cp1's identical after init
    expect(mustFile(plan, KUBE_VIP_MANIFEST_PATH).content).toBe(
      mustFile(b.nodes.get('cp1')!, KUBE_VIP_MANIFEST_PATH).content.replace('super-admin.conf', 'admin.conf'),
    );
  });

  it('gives the three control planes byte-identical CA and service-account files, at boot only', () => {
    const cps = ['cp1', 'cp2', 'cp3'].map((n) => b.nodes.get(n)!);
    for (const name of SHARED_PKI) {
      const files = cps.map((p) => mustFile(p, `${PKI_DIR}/${name}`));
      expect(new Set(files.map((f) => f.content)).size, name).toBe(1);
      expect(files.every((f) => f.phase === 'boot')).toBe(true);
    }
    expect(mustFile(cps[0]!, `${PKI_DIR}/ca.key`).content).toBe(secrets.ca.key);
  });

  it.each(['worker1', 'worker2'])('%s joins the VIP and gets no kube-vip and no keys', (name) => {
    const plan = b.nodes.get(name)!;
    const [join] = kubeadmDocs(mustFile(plan, KUBEADM_CONFIG_PATH).content);
    expect(get(join, 'discovery.bootstrapToken.apiServerEndpoint')).toBe(ENDPOINT);
    expect(get(join, 'controlPlane')).toBeUndefined();
    expect(get(join, 'nodeRegistration.ignorePreflightErrors')).toBeUndefined();
    expect(fileOf(plan, KUBE_VIP_MANIFEST_PATH)).toBeUndefined();
    expect(fileOf(plan, KUBE_VIP_HOSTS_PATH)).toBeUndefined();
    expect(plan.files.filter((f) => f.path.startsWith(`${PKI_DIR}/`))).toEqual([]);
    for (const f of plan.files) expect(f.content, f.path).not.toContain('PRIVATE KEY');
    expect(plan.images).not.toContain(KUBE_VIP_IMAGE);
  });

  it('pre-pulls the kube-vip image into the control-plane image only, and bakes no kube-vip file', () => {
    expect(b.roles['control-plane'].images).toContain(KUBE_VIP_IMAGE);
    expect(b.roles.worker.images).not.toContain(KUBE_VIP_IMAGE);
    for (const role of Object.values(b.roles)) {
      expect(role.files.filter((f) => f.path.includes('kube-vip'))).toEqual([]);
    }
    expect(b.nodes.get('cp2')!.files.filter((f) => f.path.includes('kube-vip')).every((f) => f.phase === 'boot')).toBe(true);
  });

  it.each<CloudInitMode>(['baked', 'full'])('every control-plane user-data (%s) passes the real cloud-init schema check', (mode) => {
    tool('cloud-init');
    for (const name of ['cp1', 'cp2', 'cp3']) {
      const plan = structuredClone(b.nodes.get(name)!);
      // full mode downloads artifacts at first boot and needs every sha256: what `mkimage fetch` records in
      // mkimage.lock (renderRole pins from it); a stand-in hash here
      for (const a of plan.artifacts) a.sha256 ??= '0'.repeat(64);
      const userData = renderSeed(plan, mode).userData;
      const file = join(tmp, `${name}-${mode}.user-data`);
      writeFileSync(file, userData);
      const r = run('cloud-init', ['schema', '-c', file]);
      expect(r.status, `${name}: ${r.stdout}${r.stderr}`).toBe(0);
      const doc = parse(userData, { version: '1.1' }) as { write_files: Array<{ path: string; permissions: string }> };
      expect(doc.write_files.find((w) => w.path === KUBE_VIP_MANIFEST_PATH)?.permissions).toBe('0600');
    }
  });

  it('is deterministic', () => {
    const again = build();
    for (const [name, plan] of b.nodes) expect(again.nodes.get(name)).toEqual(plan);
  });
});

describe('HA with an external load balancer', () => {
  it('puts nothing HA-specific on the nodes: the endpoint is the load balancer', () => {
    const b = build(variant('external', [['controlPlaneHA: kube-vip', 'controlPlaneHA: external']]));
    expect(b.diagnostics).toEqual([]);
    for (const plan of [...b.nodes.values(), ...Object.values(b.roles)]) {
      expect(plan.files.filter((f) => f.path.includes('kube-vip'))).toEqual([]);
      expect(plan.images).not.toContain(KUBE_VIP_IMAGE);
    }
    const [join] = kubeadmDocs(mustFile(b.nodes.get('cp2')!, KUBEADM_CONFIG_PATH).content);
    expect(get(join, 'discovery.bootstrapToken.apiServerEndpoint')).toBe(ENDPOINT);
    expect(get(join, 'controlPlane.localAPIEndpoint.advertiseAddress')).toBe(CP_IPS.cp2);
    expect(get(join, 'nodeRegistration.ignorePreflightErrors')).toBeUndefined();
    const [, cluster] = kubeadmDocs(mustFile(b.nodes.get('cp1')!, KUBEADM_CONFIG_PATH).content);
    expect(get(cluster, 'controlPlaneEndpoint')).toBe(ENDPOINT);
  });
});

describe('kube-vip endpoint checks (W105)', () => {
  it('warns when the VIP endpoint is not on port 6443, where kube-apiserver listens', () => {
    const loaded = loadAndLint({ clusterFile: variant('port', [[`"${ENDPOINT}"`, `"${VIP}:8443"`]]), cwd: tmp });
    expect(loaded.diagnostics.map((d) => [d.code, d.line])).toEqual([['W105', 8]]);
    expect(loaded.diagnostics[0]?.message).toContain(`set controlPlaneEndpoint to ${VIP}:6443`);
  });

  it('warns when the VIP is a control plane\'s own address', () => {
    const loaded = loadAndLint({ clusterFile: variant('owned', [[`"${ENDPOINT}"`, `"${CP_IPS.cp2}:6443"`]]), cwd: tmp });
    expect(loaded.diagnostics.map((d) => d.code)).toEqual(['W105']);
    expect(loaded.diagnostics[0]?.message).toContain("node cp2's own address");
  });

  it('a single control plane behind a kube-vip VIP is fine', () => {
    const one = variant('single', [
      ['  - name: cp2\n    role: control-plane\n    mac: "52:54:00:66:00:12"\n    ip: 192.168.66.12/24\n    gateway: 192.168.66.1\n    dns: [192.168.66.1, 223.5.5.5]\n', ''],
      ['  - name: cp3\n    role: control-plane\n    mac: "52:54:00:66:00:13"\n    ip: 192.168.66.13/24\n    gateway: 192.168.66.1\n    dns: [192.168.66.1, 223.5.5.5]\n', ''],
    ]);
    const b = build(one);
    expect(b.diagnostics).toEqual([]);
    expect(kubeconfigHostPath(kubeVipPod(b.nodes.get('cp1')!))).toBe('/etc/kubernetes/super-admin.conf');
  });
});
