// Images pre-pulled into the golden image: what `kubeadm config images list` prints for the cluster's
// imageRepository (control planes), kube-proxy + pause (workers), the pod infra image cri-dockerd runs,
// and the Calico images every node runs.

import type { NodeRole } from '../profile/types.js';
import { etcdTag, type KubernetesRelease, type SemVer } from './versions.js';

/** kubeadm's default registry; only there does coredns keep its nested "coredns/coredns" path. */
export const DEFAULT_IMAGE_REPOSITORY = 'registry.k8s.io';

export function corednsImage(repo: string, tag: string): string {
  return repo === DEFAULT_IMAGE_REPOSITORY ? `${repo}/coredns/coredns:${tag}` : `${repo}/coredns:${tag}`;
}

/** In kubeadm's own order. */
export function kubeadmImages(repo: string, version: SemVer, release: KubernetesRelease, role: NodeRole): string[] {
  const tag = `v${version.major}.${version.minor}.${version.patch}`;
  const pause = `${repo}/pause:${release.pause}`;
  if (role === 'worker') return [`${repo}/kube-proxy:${tag}`, pause];
  return [
    `${repo}/kube-apiserver:${tag}`,
    `${repo}/kube-controller-manager:${tag}`,
    `${repo}/kube-scheduler:${tag}`,
    `${repo}/kube-proxy:${tag}`,
    corednsImage(repo, release.coredns),
    pause,
    `${repo}/etcd:${etcdTag(release, version.patch)}`,
  ];
}

/** `repository`: cluster images.calico, default docker.io/calico. */
export function calicoImages(calicoVersion: string, repository = 'docker.io/calico'): string[] {
  return ['cni', 'node', 'kube-controllers'].map((c) => `${repository}/${c}:${calicoVersion}`);
}

/**
 * kube-vip, the static pod that holds a control-plane VIP (cluster controlPlaneHA: kube-vip). v0.8.x runs with
 * Kubernetes 1.29 (Cluster API providers and kubespray shipped v0.8.x with 1.29/1.30) and still reads `vip_cidr`
 * (v0.9.0 renamed it to `vip_subnet`).
 */
export const KUBE_VIP_VERSION = 'v0.8.2';
export const KUBE_VIP_REPOSITORY = 'ghcr.io/kube-vip/kube-vip';
export const KUBE_VIP_IMAGE = `${KUBE_VIP_REPOSITORY}:${KUBE_VIP_VERSION}`;
/** `repository`: cluster images.kubeVip, default ghcr.io/kube-vip/kube-vip. */
export const kubeVipImage = (repository = KUBE_VIP_REPOSITORY) => `${repository}:${KUBE_VIP_VERSION}`;

/** Pod infra image cri-dockerd is told to use (--pod-infra-container-image). */
export const podInfraImage = (repo: string, pauseImage: string) => `${repo}/${pauseImage}`;

export function planImages(
  repo: string,
  version: SemVer,
  release: KubernetesRelease | undefined,
  role: NodeRole,
  pauseImage: string,
  calicoVersion: string,
  controlPlaneHA: 'none' | 'kube-vip' | 'external' = 'none',
  repositories: { calico?: string; kubeVip?: string } = {},
): string[] {
  const all = [
    ...(release ? kubeadmImages(repo, version, release, role) : []),
    podInfraImage(repo, pauseImage),
    ...calicoImages(calicoVersion, repositories.calico),
    // the static pod starts before the API (and the VIP) exist: its image must already be on the node
    ...(role === 'control-plane' && controlPlaneHA === 'kube-vip' ? [kubeVipImage(repositories.kubeVip)] : []),
  ];
  return all.filter((x, i) => all.indexOf(x) === i);
}
