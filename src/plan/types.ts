// The NodePlan: what a node needs and when. Every emitter reads only this. It is plain JSON data
// (serialisable, deterministic key order), printed by `mkimage plan`.

import type { Position } from '../diagnostics.js';
import type { Arch, Mirror, NodeRole, OsFamily, Role } from '../profile/types.js';

/**
 * An entry's `source`: the profile or cluster line it came from (a profile file at its files.N.path, a profile
 * command at its run, an artifact at the setting that chose it), or none for mkimage's own. The in-memory plan
 * keeps it so an emitter's refusal points at that line (src/emit/refuse.ts) and so does Ignition's translation set
 * (src/emit/ignition-positions.ts); `mkimage plan` and plans/*.json leave it out (planJson).
 */
export interface Sourced {
  source?: Position;
}

export type Phase = 'bake' | 'boot';

export interface PlanFile extends Sourced {
  path: string;
  /** quoted octal, always 4 digits: "0644" */
  mode: string;
  /** "root:root" */
  owner: string;
  content: string;
  phase: Phase;
  /** holds cluster secrets (keys, tokens): never baked, seed written 0600 */
  secret?: boolean;
}

export interface PlanUnit extends Sourced {
  /** "cri-docker.service" */
  name: string;
  /** full path the unit file is written to; absent for units shipped by a package (enable only) */
  path?: string;
  content?: string;
  enable: boolean;
  /** start now (at boot phase) — bake never starts anything that must not run in the image */
  start: boolean;
  /**
   * A socket that exists once the unit is up. A started unit with one is started first (blocking) and waited for;
   * started units without one are then started without blocking (they are ordered After= the ready ones).
   */
  ready?: string;
  phase: Phase;
  /** drop-ins written beside it (flatcar's kubelet.service: kubeadm's 10-kubeadm.conf) */
  dropins?: Array<{ name: string; content: string }>;
}

export interface PlanRepo {
  id: string; // "kubernetes", "docker-ce-stable"
  name: string;
  kind: 'rpm' | 'deb';
  /** rpm: baseurl; deb: URI */
  baseurl: string;
  gpgkey: string;
  /** deb only: "jammy stable" or "/" for flat repos */
  suite?: string;
  components?: string[];
  /** rpm only: exclude= list */
  exclude: string[];
}

export interface PlanPackage {
  name: string;
  /** exact pin as the package manager wants it, e.g. "1.29.2-150500.1.1" (rpm) or "1.29.2-1.1" (deb); undefined = latest */
  version?: string;
  /** held/locked after install */
  hold: boolean;
  /** rpm: the repo id whose excludes must be lifted for this install (--disableexcludes=<id>) */
  disableExcludes?: string;
}

export interface PlanCommand extends Sourced {
  phase: Phase;
  /** stable identifier, used in logs and tests */
  name: string;
  /** shell text run by bash with `set -euo pipefail` */
  run: string;
}

export interface PlanArtifact extends Sourced {
  /** "cri-dockerd" */
  name: string;
  version: string;
  arch: Arch;
  /** mirror list, tried in order */
  urls: string[];
  /** pinned sha256 of the download, when known up front; else recorded in mkimage.lock on first fetch */
  sha256?: string;
  /** tar member to extract ("cri-dockerd/cri-dockerd"); absent = the download itself */
  member?: string;
  /** where it lands in the image */
  dest: string;
  mode: string;
  /** literal replacements made in the installed file, in order (the Calico manifest's image repository) */
  edits?: Array<{ from: string; to: string }>;
}

/** `source`: the node's entry in the cluster inventory (nodes.N). */
export interface PlanNode extends Sourced {
  name: string;
  role: NodeRole;
  mac: string;
  /** "192.168.66.11/24" */
  address: string;
  ip: string;
  prefix: number;
  gateway: string;
  dns: string[];
  arch: Arch;
  /** first control plane: runs kubeadm init; others join */
  bootstrap: 'init' | 'join' | 'join-control-plane';
  /** the cluster's only node: its control plane also runs workloads (the control-plane taint is removed) */
  onlyNode: boolean;
}

/**
 * osFamily flatcar (src/plan/flatcar.ts): how the plan reaches an immutable node. What a golden image would bake
 * under /usr (the Kubernetes binaries, plan files under /usr, the Calico manifest) goes into one systemd-sysext image
 * that mkimage builds; Ignition writes every other file and unit and downloads the rest by URL.
 */
export interface FlatcarPlan {
  /** the kubernetes sysext mkimage builds for this role (src/flatcar/sysext.ts) */
  sysext: PlanSysext;
  /** what Ignition downloads (one URL each, no fallback), verified by the sha512 of the exact bytes served */
  downloads: PlanDownload[];
  /** /etc/extensions links: the sysexts to merge, and Flatcar's built-in Docker and containerd masked (/dev/null) */
  links: Array<{ path: string; target: string } & Sourced>;
}

export interface PlanSysext {
  /** the extension name: /etc/extensions/<name>.raw and usr/lib/extension-release.d/extension-release.<name> */
  name: string;
  /** Kubernetes version of its binaries, "v1.29.2" */
  version: string;
  /** systemd's architecture name: x86-64, arm64 */
  architecture: string;
  /** the image on the node, under /opt/extensions/<name>/ */
  path: string;
  /** usr/lib/extension-release.d/extension-release.<name> */
  extensionRelease: string;
  /** artifacts packed at their dest (under /usr); every plan file under /usr is packed too */
  artifacts: string[];
}

export interface PlanDownload extends Sourced {
  /** what is served: an artifact's name ("cri-dockerd", extracted; "docker-sysext"), or "sysext:<name>" */
  from: string;
  /** where Ignition writes it on the node */
  path: string;
  mode: string;
  /** its name in the served directory (out/<role>/ignition/files/) */
  file: string;
  /** the URL nodes fetch it from: the cluster's first artifactMirrors directory + file */
  url: string;
  /** sha512 of the served bytes; filled by the render from the artifact cache (src/flatcar/deliver.ts) */
  sha512?: string;
}

/** A static DHCP lease on the router: one per cluster node, MAC -> address (no prefix). */
export interface GatewayLease {
  /** the node name */
  hostname: string;
  /** lower-case colon form */
  mac: string;
  ip: string;
  gateway: string;
  /** the node's first and second name server; "" when it has none */
  dns1: string;
  dns2: string;
  /** "mkimage <cluster>/<profile>" */
  comment: string;
}

/** What a role: gateway profile configures on the LAN router (role plans of gateway profiles only). */
export interface GatewayPlan {
  vendor: 'ikuai';
  lanInterface: string;
  dhcp: {
    enabled: boolean;
    /** the dynamic pool, when the profile sets one */
    range?: { start: string; end: string };
    leaseMinutes: number;
  };
  /** in inventory order; empty when dhcp is not enabled */
  staticLeases: GatewayLease[];
  pxe: { enabled: boolean; nextServer?: string; bootFile: string };
  dnsRecords: Array<{ domain: string; ip: string; comment: string }>;
  portMappings: Array<{ name: string; wanPort: string; lanAddr: string; lanPort: string; protocol: 'tcp' | 'udp' | 'tcp+udp' }>;
}

export interface NodePlan {
  planVersion: 1;
  role: Role;
  /** profile name the plan came from */
  profile: string;
  cluster: {
    name: string;
    kubernetesVersion: string;
    controlPlaneEndpoint: string;
    podSubnet: string;
    serviceSubnet: string;
    dnsDomain: string;
    imageRepository: string;
    criSocket: string;
    mirror: Mirror;
    cni: 'calico';
    calicoVersion: string;
    controlPlaneHA: 'none' | 'kube-vip' | 'external';
    /** controlPlaneHA kube-vip only: the kube-vip image its static pod runs (cluster images.kubeVip) */
    kubeVipImage?: string;
  };
  os: {
    family: OsFamily;
    /** none: Flatcar, which installs nothing (the sysext and Ignition deliver everything) */
    packageManager: 'dnf' | 'apt' | 'none';
    /** apt codename, e.g. "jammy" */
    codename?: string;
    /** the cloud image Packer starts from (flatcar: the stock image nodes run; nothing is baked) */
    cloudImage: { url: string; checksum: string };
    /**
     * cluster repositories.os: the distribution archive the bake installs from. Before anything is installed,
     * each existing file matching `files` (shell globs) gets every rewrite, in order (`sed -E s|from|to|g`).
     */
    archive?: { url: string; files: string[]; rewrites: Array<{ from: string; to: string }> };
  };
  /** kubeadm settings that come from the profile */
  kubeadm: {
    /** preflight checks kubeadm skips, by name (never "all"; W106 warns) */
    ignorePreflightErrors: string[];
  };
  /** `source`: the cluster file's admin setting */
  admin: { user: string; sshAuthorizedKeys: string[] } & Sourced;
  /** absent on a role plan; present on a per-node plan */
  node?: PlanNode;
  repos: PlanRepo[];
  packages: PlanPackage[];
  files: PlanFile[];
  units: PlanUnit[];
  /** ordered key/value pairs written to /etc/sysctl.d/ */
  sysctls: Array<{ key: string; value: string }>;
  modules: string[];
  swapOff: boolean;
  selinux?: 'permissive' | 'enforcing' | 'disabled';
  firewall: {
    enabled: boolean;
    ports: string[];
    /** IP protocols allowed by number: "4" is IP-in-IP, Calico's default dataplane between nodes */
    protocols: string[];
    /** interfaces trusted whole (firewalld's trusted zone): Calico's pod veths "cali+" and its tunnel "tunl0" */
    trustedInterfaces: string[];
  };
  commands: PlanCommand[];
  /** fully qualified images pre-pulled into the golden image */
  images: string[];
  artifacts: PlanArtifact[];
  /** build settings for the golden image */
  image: { diskSize: string; memory: number; cpus: number; sources: Array<'qemu' | 'proxmox' | 'vsphere'> };
  /** role: gateway only — the router settings; such a plan has no repos, packages, units, images or artifacts */
  gateway?: GatewayPlan;
  /** os.family flatcar only: the sysext, downloads and links Ignition delivers (src/plan/flatcar.ts) */
  flatcar?: FlatcarPlan;
}
