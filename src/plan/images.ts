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

export function calicoImages(calicoVersion: string): string[] {
  return ['cni', 'node', 'kube-controllers'].map((c) => `docker.io/calico/${c}:${calicoVersion}`);
}

/** Pod infra image cri-dockerd is told to use (--pod-infra-container-image). */
export const podInfraImage = (repo: string, pauseImage: string) => `${repo}/${pauseImage}`;

export function planImages(
  repo: string,
  version: SemVer,
  release: KubernetesRelease | undefined,
  role: NodeRole,
  pauseImage: string,
  calicoVersion: string,
): string[] {
  const all = [
    ...(release ? kubeadmImages(repo, version, release, role) : []),
    podInfraImage(repo, pauseImage),
    ...calicoImages(calicoVersion),
  ];
  return all.filter((x, i) => all.indexOf(x) === i);
}
