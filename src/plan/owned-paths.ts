// The paths on a node that mkimage writes itself, so a profile's own file may not take them: it would replace
// kubeadm's config, the cluster's PKI, the first-boot script or unit, a repository, a unit or a binary the image
// needs, or be replaced by them at first boot. Each says what writes it, and which setting changes it if any.

import { BOOTSTRAP_ENV_PATH, PKI_DIR } from '../cluster/bootstrap-files.js';
import { KUBE_VIP_HOSTS_PATH, KUBE_VIP_MANIFEST_PATH } from '../cluster/kube-vip.js';
import { FIRSTBOOT_DONE, FIRSTBOOT_SCRIPT, FIRSTBOOT_UNIT_PATH } from '../firstboot/files.js';
import { DAEMON_JSON, MODULES_CONF, NODE_ENV, SYSCTL_CONF } from './files.js';
import { repoFilePaths } from './repos.js';
import type { PlanArtifact, PlanRepo, PlanUnit } from './types.js';

export interface OwnedPath {
  path: string;
  /** a directory mkimage fills: nothing of the profile's may go below it */
  dir: boolean;
  /** what it holds */
  what: string;
  /** the setting that changes it, if any */
  via?: string;
}

const dirOf = (p: string) => p.slice(0, p.lastIndexOf('/'));

const ARTIFACT_SETTING: Record<string, string> = {
  'cri-dockerd': 'criDockerd.version (or criDockerd.url)',
  'calico-manifest': 'calicoVersion in the cluster file',
};

/** Everything a node plan with these repos, units and artifacts (and the per-node first-boot files) writes. */
export function ownedPaths(parts: { repos: PlanRepo[]; units: PlanUnit[]; artifacts: PlanArtifact[]; packageManager: 'dnf' | 'apt' | 'none' }): OwnedPath[] {
  const file = (path: string, what: string, via?: string): OwnedPath => ({ path, dir: false, what, ...(via !== undefined && { via }) });
  const dir = (path: string, what: string): OwnedPath => ({ path, dir: true, what });
  return [
    file(DAEMON_JSON, "Docker's daemon.json", 'docker.registryMirrors, docker.logMaxSize and friends'),
    file(MODULES_CONF, 'the kernel modules kubeadm needs', 'kernel.modules'),
    file(SYSCTL_CONF, 'the sysctls kubeadm needs', 'kernel.sysctls'),
    file(NODE_ENV, "the node's identity", 'the cluster inventory'),
    file(FIRSTBOOT_UNIT_PATH, 'the first-boot unit'),
    file(KUBE_VIP_MANIFEST_PATH, 'the kube-vip static pod', 'controlPlaneHA and images.kubeVip in the cluster file'),
    file(KUBE_VIP_HOSTS_PATH, "kube-vip's hosts file", 'controlPlaneHA in the cluster file'),
    dir(PKI_DIR, "the cluster's PKI (the CAs from the secrets directory; kubeadm writes the rest)"),
    dir(dirOf(BOOTSTRAP_ENV_PATH), 'the first-boot settings (bootstrap.env, kubeadm.yaml)'),
    dir(dirOf(FIRSTBOOT_SCRIPT), 'the first-boot script'),
    dir(dirOf(FIRSTBOOT_DONE), "first boot's state and the install script"),
    ...parts.units.flatMap((u) => (u.path !== undefined ? [file(u.path, `the ${u.name} unit`, 'criDockerd')] : [])),
    ...parts.artifacts.map((a) => file(a.dest, `the downloaded ${a.name}`, ARTIFACT_SETTING[a.name])),
    ...parts.repos.flatMap((r) => (parts.packageManager === 'none' ? [] : repoFilePaths(r.id, parts.packageManager)).map((p) => file(p, `the ${r.id} repository`, "the cluster's repositories (or mirror)"))),
  ];
}

/** The owned path a profile file at `path` would take, replace, or need as its directory; undefined if none. */
export function ownerOf(path: string, owned: readonly OwnedPath[]): { owner: OwnedPath; how: 'is' | 'under' | 'holds' } | undefined {
  for (const o of owned) {
    if (o.path === path) return { owner: o, how: 'is' };
    if (o.dir && path.startsWith(`${o.path}/`)) return { owner: o, how: 'under' };
    if (o.path.startsWith(`${path}/`)) return { owner: o, how: 'holds' };
  }
  return undefined;
}
