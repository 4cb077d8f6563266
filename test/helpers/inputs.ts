// Hand-built planner/lint inputs, so tests of later stages do not depend on the loader. Every builder
// returns fresh objects (tests mutate them) whose defaults equal what loadInputs gives for the shipped
// profiles/ (profile-load.test.ts checks the cluster settings against them); tests override what they are about.

import type { Cluster, GatewaySettings, Located, NodeRole, NodeSpec, PositionMap, Profile, Role } from '../../src/profile/types.js';

/** An operator's public key (test-only, no private half anywhere). */
export const TEST_SSH_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvYvTqY1sXjJgQ1Uo8hYvKk1dQm5J3e8uTqkW3m0aBc ops@example';

/**
 * `value` as if loaded from `file`: every dotted path gets its own line, in traversal order, indented by depth
 * like a YAML document (NodeSpec.index is bookkeeping, not a key in the file, so it gets none).
 */
export function located<T>(value: T, file: string): Located<T> {
  const positions: PositionMap = new Map();
  let line = 0;
  const walk = (v: unknown, path: string, depth: number) => {
    if (path !== '') positions.set(path, { file, line: ++line, col: 1 + 2 * depth });
    if (v === null || typeof v !== 'object') return;
    for (const [k, child] of Object.entries(v)) {
      if (k === 'index' && !Array.isArray(v)) continue;
      walk(child, path === '' ? k : `${path}.${k}`, depth + 1);
    }
  };
  walk(value, '', -1);
  return { value, positions, sources: new Map([[file, '']]) };
}

/** A node on the shipped cluster's LAN 192.168.66.0/24: MAC and address end in `octet`, the router is .1. */
export function testNode(name: string, role: NodeRole, index: number, octet: number, extra: Partial<NodeSpec> = {}): NodeSpec {
  return {
    name, role, index,
    mac: `52:54:00:66:00:${octet}`,
    ip: `192.168.66.${octet}/24`,
    gateway: '192.168.66.1',
    dns: ['192.168.66.1', '223.5.5.5'],
    arch: 'amd64',
    ...extra,
  };
}

/** profiles/cluster.yaml without its nodes. */
export function testClusterSettings(): Omit<Cluster, 'nodes'> {
  return {
    name: 'homelab',
    kubernetesVersion: '1.29.2',
    controlPlaneEndpoint: '192.168.66.11:6443',
    podSubnet: '10.244.0.0/16',
    serviceSubnet: '10.96.0.0/12',
    dnsDomain: 'cluster.local',
    imageRepository: 'registry.aliyuncs.com/google_containers',
    mirror: 'aliyun',
    osFamily: 'el9',
    containerRuntime: 'docker-ce',
    cni: 'calico',
    calicoVersion: 'v3.27.3',
    controlPlaneHA: 'none',
    bootstrapTokenTTL: '24h0m0s',
    nodeTokenTTL: '4h0m0s',
    registries: { insecure: [] },
    images: {},
    artifactMirrors: [],
    admin: { user: 'kube', sshAuthorizedKeys: [] },
  };
}

/** profiles/cluster.yaml (cp1, worker1, worker2), with `over` replacing whole keys. */
export function testCluster(over: Partial<Cluster> = {}): Cluster {
  return {
    ...testClusterSettings(),
    nodes: [
      testNode('cp1', 'control-plane', 0, 11),
      testNode('worker1', 'worker', 1, 21),
      testNode('worker2', 'worker', 2, 22),
    ],
    ...over,
  };
}

/** A role's own firewall ports in the shipped profiles (a gateway gets a worker's); Calico's come on top. */
export function rolePorts(role: Role): string[] {
  return role === 'control-plane'
    ? ['6443/tcp', '2379-2380/tcp', '10250/tcp', '10256/tcp', '10257/tcp', '10259/tcp']
    : ['10250/tcp', '10256/tcp', '30000-32767/tcp', '30000-32767/udp'];
}
export const CALICO_PORTS: readonly string[] = ['179/tcp'];

type Section = 'kubernetes' | 'docker' | 'criDockerd' | 'kernel' | 'firewall' | 'image';
/** Top-level keys replace; the keys of a section merge into the default section (new keys go last). */
export type ProfileOverrides = Partial<Omit<Profile, Section>> & { [S in Section]?: Partial<Profile[S]> };

/** The shipped profile of `role` (base.yaml + <role>.yaml, named after the role, no description), plus `over`. */
export function testProfile(role: Role, over: ProfileOverrides = {}): Profile {
  const base: Profile = {
    name: role,
    role,
    kubernetes: {
      packages: ['kubelet', 'kubeadm', 'kubectl'],
      repoExclude: ['kubelet', 'kubeadm', 'kubectl', 'cri-tools', 'kubernetes-cni'],
      disableExcludes: true,
      ignorePreflightErrors: [],
    },
    docker: { version: '24.0.7', registryMirrors: [], logMaxSize: '100m', logMaxFile: 3, insecureRegistries: [] },
    criDockerd: { version: '0.3.9', pauseImage: 'pause:3.9' },
    kernel: {
      modules: ['overlay', 'br_netfilter'],
      sysctls: { 'net.bridge.bridge-nf-call-iptables': '1', 'net.bridge.bridge-nf-call-ip6tables': '1', 'net.ipv4.ip_forward': '1' },
    },
    swap: 'off',
    selinux: 'permissive',
    firewall: { enabled: true, ports: [...rolePorts(role), ...CALICO_PORTS] },
    image: { prepull: true, diskSize: '20G', memory: 4096, cpus: 2, sources: ['qemu'] },
    extraPackages: [],
    files: [],
    commands: [],
  };
  return {
    ...base,
    ...over,
    kubernetes: { ...base.kubernetes, ...over.kubernetes },
    docker: { ...base.docker, ...over.docker },
    criDockerd: { ...base.criDockerd, ...over.criDockerd },
    kernel: { ...base.kernel, ...over.kernel },
    firewall: { ...base.firewall, ...over.firewall },
    image: { ...base.image, ...over.image },
  };
}

/** The router settings of profiles/ikuai-gateway.yaml. */
export function testGatewaySettings(): GatewaySettings {
  return {
    vendor: 'ikuai',
    lanInterface: 'lan1',
    dhcp: { enabled: true, rangeStart: '192.168.66.100', rangeEnd: '192.168.66.200', leaseMinutes: 120 },
    pxe: { enabled: false, bootFile: 'undionly.kpxe' },
    dns: { records: [{ domain: 'k8s-api.homelab.lan', ip: '192.168.66.11' }] },
    portMappings: [],
  };
}
