// W112: with `mirror: aliyun` (the choice for mainland China) every download a build or a boot makes must come from
// somewhere reachable there. The aliyun mirrors cover the Docker and Kubernetes package repositories and the kubeadm
// images (registry.aliyuncs.com/google_containers); they do not cover Docker Hub (the Calico images), ghcr.io
// (kube-vip) or GitHub (the cri-dockerd release and the Calico manifest), which are blocked or throttled there
// (DOMAIN.md). Each lint names one uncovered download and the setting that covers it.

import { warning, type Diagnostic } from '../../diagnostics.js';
import type { Cluster, Located, Profile } from '../types.js';
import { positionOf } from './position.js';

/** Registries kubeadm's images can come from that mainland China cannot reach. */
const BLOCKED_IMAGE_REPOSITORIES = ['registry.k8s.io', 'k8s.gcr.io', 'gcr.io'];

const china = (c: Cluster) => c.mirror === 'aliyun';
const lead = 'mirror: aliyun (for mainland China), but';

/** The cluster's uncovered downloads, each at the line whose setting covers it (mirror: when that key is absent). */
export function lintMirrorReach(cluster: Located<Cluster>): Diagnostic[] {
  const c = cluster.value;
  if (!china(c)) return [];
  const at = positionOf(cluster, 'mirror');
  const out: Diagnostic[] = [];
  const repo = c.imageRepository;
  if (BLOCKED_IMAGE_REPOSITORIES.some((r) => repo === r || repo.startsWith(`${r}/`))) {
    out.push(warning('W112',
      `${lead} imageRepository ${repo} is blocked there, so kubeadm's images cannot be pulled: ` +
        'set imageRepository: registry.aliyuncs.com/google_containers (or a registry you run)', positionOf(cluster, 'imageRepository')));
  }
  if (c.images?.calico === undefined) {
    out.push(warning('W112',
      `${lead} the Calico images come from docker.io/calico (Docker Hub is blocked or throttled there): set images.calico ` +
        `to a registry you run that holds calico/{cni,node,kube-controllers}:${c.calicoVersion} (Harbor, a pull-through cache)`, at));
  }
  if (c.controlPlaneHA === 'kube-vip' && c.images?.kubeVip === undefined) {
    out.push(warning('W112',
      `${lead} kube-vip comes from ghcr.io/kube-vip/kube-vip (blocked or throttled there): set images.kubeVip to a ` +
        'registry you run that holds kube-vip/kube-vip', at));
  }
  if (c.artifactMirrors.length === 0 && c.nodes.some((n) => n.role === 'control-plane')) {
    out.push(warning('W112',
      `${lead} the Calico manifest comes from raw.githubusercontent.com (GitHub is blocked or throttled there): set ` +
        'artifactMirrors to a "{url}" proxy or a directory holding calico.yaml (or build from `mkimage bundle`)', at));
  }
  return out;
}

/** cri-dockerd's release tarball comes from github.com unless the profile or the cluster's artifactMirrors say otherwise. */
export function lintMirrorReachCriDockerd(profile: Located<Profile>, cluster: Located<Cluster>): Diagnostic[] {
  const p = profile.value;
  if (p.role === 'gateway' || !china(cluster.value) || p.criDockerd.url !== undefined || cluster.value.artifactMirrors.length > 0) return [];
  return [
    warning('W112',
      `${lead} cri-dockerd ${p.criDockerd.version} comes from github.com (blocked or throttled there): set criDockerd.url ` +
        "(with criDockerd.sha256), or the cluster's artifactMirrors (or build from `mkimage bundle`)",
      positionOf(profile, 'criDockerd.version')),
  ];
}
