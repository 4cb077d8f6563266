// Version facts: which Kubernetes minors the planner knows, and how each package manager spells a pin.
// Sources: DOMAIN.md "Pins" (kubeadm 1.29 images, pkgs.k8s.io package revisions, Docker repo version strings).

import type { OsFamily } from '../profile/types.js';

export interface SemVer {
  major: number;
  minor: number;
  patch: number;
}

/** "1.29.2" or "v1.29.2" -> {1,29,2}; anything else -> undefined. */
export function parseVersion(text: string): SemVer | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(text.trim());
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
}

export function compareVersions(a: SemVer, b: SemVer): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

export const formatVersion = (v: SemVer) => `${v.major}.${v.minor}.${v.patch}`;

/** What kubeadm of one minor pulls and which companion packages pkgs.k8s.io ships for it. */
export interface KubernetesRelease {
  minor: string; // "1.29"
  coredns: string; // "v1.11.1"
  pause: string; // "3.9"
  /** etcd tag by patch: the first entry whose fromPatch <= patch, scanning from the end */
  etcd: Array<{ fromPatch: number; tag: string }>;
  /** rpm release suffix of kubelet/kubeadm/kubectl on pkgs.k8s.io */
  rpmRelease: string; // "150500.1.1"
  /** deb revision of kubelet/kubeadm/kubectl on pkgs.k8s.io */
  debRevision: string; // "1.1"
  /** companion packages (versions without the release suffix) */
  criTools: string; // "1.29.0"
  kubernetesCni: string; // "1.3.0"
}

export const KUBERNETES_RELEASES: readonly KubernetesRelease[] = [
  {
    minor: '1.29',
    coredns: 'v1.11.1',
    pause: '3.9',
    // DOMAIN.md: 3.5.10-0 through 1.29.2, 3.5.12-0 from about 1.29.3. release-1.29 later moved to 3.5.15-0
    // (kubernetes/kubernetes#126397, mid 2024; first patch unverified), so late patches may pull etcd at init.
    etcd: [
      { fromPatch: 0, tag: '3.5.10-0' },
      { fromPatch: 3, tag: '3.5.12-0' },
    ],
    rpmRelease: '150500.1.1',
    debRevision: '1.1',
    criTools: '1.29.0',
    kubernetesCni: '1.3.0',
  },
];

export const SUPPORTED_MINORS = KUBERNETES_RELEASES.map((r) => r.minor);

export function kubernetesRelease(v: SemVer): KubernetesRelease | undefined {
  return KUBERNETES_RELEASES.find((r) => r.minor === `${v.major}.${v.minor}`);
}

export function etcdTag(release: KubernetesRelease, patch: number): string {
  let tag = release.etcd[0]?.tag ?? '';
  for (const e of release.etcd) if (patch >= e.fromPatch) tag = e.tag;
  return tag;
}

/** kubelet/kubeadm/kubectl (and companions) as the package manager pins them. */
export function kubernetesPackageVersion(version: string, release: KubernetesRelease, kind: 'rpm' | 'deb'): string {
  return kind === 'rpm' ? `${version}-${release.rpmRelease}` : `${version}-${release.debRevision}`;
}

/** docker-ce/docker-ce-cli version strings in Docker's repos, e.g. el9 "24.0.7-1.el9". */
export function dockerPackageVersion(family: OsFamily, version: string): string {
  switch (family) {
    case 'el9':
      return `${version}-1.el9`;
    case 'ubuntu-22.04':
      return `5:${version}-1~ubuntu.22.04~jammy`;
    case 'ubuntu-24.04':
      return `5:${version}-1~ubuntu.24.04~noble`;
    case 'debian-12':
      return `5:${version}-1~debian.12~bookworm`;
    case 'flatcar':
      // no package: Docker comes as a sysext named by its plain version (src/plan/flatcar.ts)
      return version;
  }
}

/**
 * Docker's noble repo starts at 26.0.0 (no 24.0.x or 25.0.x builds were published for Ubuntu 24.04), see
 * docker/docker-ce-packaging#994 and `apt-cache madison docker-ce` on noble.
 */
export const FIRST_DOCKER_ON: Partial<Record<OsFamily, SemVer>> = {
  'ubuntu-24.04': { major: 26, minor: 0, patch: 0 },
};

/** cri-dockerd 0.3.10 is the first release that works with Docker 25+ (Mirantis/cri-dockerd#300). */
export const CRI_DOCKERD_FOR_DOCKER_25: SemVer = { major: 0, minor: 3, patch: 10 };
