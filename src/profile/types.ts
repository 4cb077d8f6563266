// Typed view of the user's input after load + extends-merge + defaults. Positions are kept beside the
// values (see `Located`), so a lint or a later stage can point back at the line that produced a value.

import type { Position } from '../diagnostics.js';

/** flatcar: Flatcar Container Linux, configured by Ignition (no golden image: src/plan/flatcar.ts) */
export type OsFamily = 'el9' | 'ubuntu-22.04' | 'ubuntu-24.04' | 'debian-12' | 'flatcar';
export const OS_FAMILIES: readonly OsFamily[] = ['el9', 'ubuntu-22.04', 'ubuntu-24.04', 'debian-12', 'flatcar'];

export type Mirror = 'upstream' | 'aliyun';
export type RuntimeSource = 'docker-ce' | 'docker.io';
export type Role = 'control-plane' | 'worker' | 'gateway';
export type NodeRole = 'control-plane' | 'worker';
export type Arch = 'amd64' | 'arm64';

/** Where each dotted path of a loaded document came from, e.g. "nodes.1.mac" -> worker.yaml:12:7. */
export type PositionMap = Map<string, Position>;

export interface Located<T> {
  value: T;
  /** dotted paths (relative to the document root) -> source position */
  positions: PositionMap;
  /** source texts by file, for caret lines in diagnostics */
  sources: Map<string, string>;
}

/** A role profile (profiles/<name>.yaml) after `extends:` is resolved. */
export interface Profile {
  name: string;
  role: Role;
  description?: string;
  /** kubelet/kubeadm/kubectl (+ cri-tools, kubernetes-cni on EL) */
  kubernetes: {
    /** package version; defaults to the cluster's kubernetesVersion */
    packageVersion?: string;
    packages: string[];
    /** yum repo `exclude=` list; install then needs --disableexcludes=kubernetes */
    repoExclude: string[];
    disableExcludes: boolean;
    ignorePreflightErrors: string[];
  };
  docker: {
    /** docker-ce version pin, e.g. "24.0.7" */
    version: string;
    registryMirrors: string[];
    logMaxSize: string;
    logMaxFile: number;
    insecureRegistries: string[];
  };
  criDockerd: {
    version: string;
    /** image name under imageRepository, e.g. "pause:3.9" */
    pauseImage: string;
    /** the release tarball from elsewhere (an internal mirror); needs sha256 */
    url?: string;
    /** sha256 of the tarball */
    sha256?: string;
  };
  kernel: {
    modules: string[];
    sysctls: Record<string, string>;
  };
  swap: 'off' | 'on';
  selinux: 'permissive' | 'enforcing' | 'disabled';
  firewall: {
    enabled: boolean;
    ports: string[]; // "6443/tcp", "2379-2380/tcp"
  };
  image: {
    /** pre-pull kubeadm images (+ CNI images on control planes) into the golden image */
    prepull: boolean;
    diskSize: string; // "20G"
    memory: number; // MiB for the build VM
    cpus: number;
    /** extra Packer sources besides qemu */
    sources: Array<'qemu' | 'proxmox' | 'vsphere'>;
  };
  /** extra packages installed at bake time */
  extraPackages: string[];
  /** extra files; phase defaults to bake */
  files: Array<{ path: string; mode: string; owner: string; content: string; phase: 'bake' | 'boot' }>;
  /** extra commands run at the end of a phase */
  commands: Array<{ phase: 'bake' | 'boot'; run: string }>;
  /** gateway profiles only */
  gateway?: GatewaySettings;
}

export interface GatewaySettings {
  vendor: 'ikuai';
  lanInterface: string;
  dhcp: { enabled: boolean; rangeStart?: string; rangeEnd?: string; leaseMinutes: number };
  pxe: { enabled: boolean; nextServer?: string; bootFile: string };
  dns: { records: Array<{ domain: string; ip: string }> };
  portMappings: Array<{ name: string; wanPort: string; lanAddr: string; lanPort: string; protocol: 'tcp' | 'udp' | 'tcp+udp' }>;
}

export interface NodeSpec {
  name: string;
  role: NodeRole;
  /** lower-case colon form, e.g. "52:54:00:66:00:11" */
  mac: string;
  /** address with prefix, e.g. "192.168.66.11/24" */
  ip: string;
  gateway: string;
  dns: string[];
  arch: Arch;
  /** overrides the cluster's osFamily */
  osFamily?: OsFamily;
  /** index in the cluster file's nodes list (for positions: `nodes.<index>.mac`) */
  index: number;
}

/** The cluster inventory (cluster.yaml). */
export interface Cluster {
  name: string;
  kubernetesVersion: string; // "1.29.2"
  /** host:port the API is reached at; a VIP or LB for HA */
  controlPlaneEndpoint: string;
  podSubnet: string;
  serviceSubnet: string;
  dnsDomain: string;
  imageRepository: string;
  mirror: Mirror;
  osFamily: OsFamily;
  containerRuntime: RuntimeSource;
  cni: 'calico';
  calicoVersion: string;
  /** replaces the known sha256 of calicoVersion's calico.yaml (another version, or an own copy behind a mirror) */
  calicoManifestSha256?: string;
  /** HA: "kube-vip" (static pod holding the endpoint VIP) or "external" (a load balancer you run) */
  controlPlaneHA: 'none' | 'kube-vip' | 'external';
  bootstrapTokenTTL: string; // "24h0m0s"
  /** each joining node's own token, registered by `kubeadm init`: "4h0m0s", at most bootstrapTokenTTL */
  nodeTokenTTL: string;
  /** internal package mirrors, each replacing what `mirror` picks (the loader leaves absent ones out) */
  repositories?: Repositories;
  /** registries.insecure: daemon.json insecure-registries on every node (the loader fills []) */
  registries?: { insecure: string[] };
  /** repositories replacing docker.io/calico and ghcr.io/kube-vip/kube-vip */
  images?: { calico?: string; kubeVip?: string };
  /** artifact mirrors tried before the upstream URL: "{url}" prefix proxies or directories of files by name */
  artifactMirrors: string[];
  /** login for operators: cloud-init creates this user with these keys (and no password) */
  admin: { user: string; sshAuthorizedKeys: string[] };
  nodes: NodeSpec[];
}

export interface Repositories {
  docker?: { url: string; gpgkey: string };
  kubernetes?: { url: string; gpgkey: string };
  /** the distribution archive; security defaults per family */
  os?: { url: string; security?: string };
}

export interface Inputs {
  profiles: Map<string, Located<Profile>>;
  cluster: Located<Cluster>;
}
