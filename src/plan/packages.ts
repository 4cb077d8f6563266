// Pinned packages: the container runtime, the Kubernetes tools from the kubernetes repo, the profile's extras.

import type { OsFamily, Profile, RuntimeSource } from '../profile/types.js';
import type { PlanPackage } from './types.js';
import { isRpmFamily } from './os.js';
import { dockerPackageVersion, kubernetesPackageVersion, type KubernetesRelease } from './versions.js';

/**
 * Companions kubeadm's packages depend on: pinned and held with them on every family (EL also excludes them in
 * the repo file), so neither a routine upgrade nor the repo's newest build moves them.
 */
const COMPANIONS = ['cri-tools', 'kubernetes-cni'] as const;

/**
 * containerd.io under docker-ce 24.0.x: Docker released and tested 24.0.7 with containerd 1.6 (1.6.24/1.6.25), and
 * the 1.6 series is in Docker's el9, jammy and bookworm repos. A series glob (apt `=1.6.*`, dnf `-1.6.*`) keeps
 * taking 1.6 security rebuilds while a hold keeps 1.7/2.x out. Newer Docker: held at what it installs.
 */
export const CONTAINERD_FOR_DOCKER_24 = '1.6.*';

/**
 * docker.io from the distribution, pinned to its release's series where that series works with cri-dockerd 0.3.9:
 * bookworm ships 20.10.24 (API 1.41) and its security rebuilds keep the series (20.10.24+dfsg1-1+deb12uN), which a
 * glob matches. Ubuntu's docker.io moves to whatever Docker is current (the planner refuses it with cri-dockerd
 * < 0.3.10) and is only held.
 */
export const DISTRO_DOCKER_SERIES: Partial<Record<OsFamily, string>> = { 'debian-12': '20.10.*' };

function runtimePackages(family: OsFamily, runtime: RuntimeSource, dockerVersion: string): PlanPackage[] {
  if (runtime === 'docker.io') {
    const series = DISTRO_DOCKER_SERIES[family];
    return [{ name: 'docker.io', ...(series !== undefined && { version: series }), hold: true }];
  }
  const version = dockerPackageVersion(family, dockerVersion);
  const containerd: PlanPackage = dockerVersion.startsWith('24.')
    ? { name: 'containerd.io', version: CONTAINERD_FOR_DOCKER_24, hold: true }
    : { name: 'containerd.io', hold: true };
  return [
    { name: 'docker-ce', version, hold: true },
    { name: 'docker-ce-cli', version, hold: true },
    containerd,
  ];
}

function kubernetesPackages(
  family: OsFamily,
  profile: Profile,
  packageVersion: string,
  release: KubernetesRelease | undefined,
): PlanPackage[] {
  const kind = isRpmFamily(family) ? 'rpm' : 'deb';
  const names = [...profile.kubernetes.packages];
  for (const c of COMPANIONS) if (!names.includes(c)) names.push(c);
  const upstream: Record<string, string | undefined> = {
    kubelet: packageVersion,
    kubeadm: packageVersion,
    kubectl: packageVersion,
    'cri-tools': release?.criTools,
    'kubernetes-cni': release?.kubernetesCni,
  };
  const disable = kind === 'rpm' && profile.kubernetes.disableExcludes ? 'kubernetes' : undefined;
  return unique(names).map((name) => {
    const v = upstream[name];
    const version = v !== undefined && release !== undefined ? kubernetesPackageVersion(v, release, kind) : undefined;
    // Fixed key order: name, version, hold, disableExcludes.
    const pkg: PlanPackage = { name, ...(version !== undefined && { version }), hold: true };
    if (disable !== undefined) pkg.disableExcludes = disable;
    return pkg;
  });
}

const unique = (xs: string[]) => xs.filter((x, i) => xs.indexOf(x) === i);

export function planPackages(
  family: OsFamily,
  runtime: RuntimeSource,
  profile: Profile,
  packageVersion: string,
  release: KubernetesRelease | undefined,
): PlanPackage[] {
  const pkgs = [
    ...runtimePackages(family, runtime, profile.docker.version),
    ...kubernetesPackages(family, profile, packageVersion, release),
  ];
  for (const name of unique(profile.extraPackages)) {
    if (!pkgs.some((p) => p.name === name)) pkgs.push({ name, hold: false });
  }
  return pkgs;
}
