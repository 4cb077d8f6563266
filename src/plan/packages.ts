// Pinned packages: the container runtime, the Kubernetes tools from the kubernetes repo, the profile's extras.

import type { OsFamily, Profile, RuntimeSource } from '../profile/types.js';
import type { PlanPackage } from './types.js';
import { isRpmFamily } from './os.js';
import { dockerPackageVersion, kubernetesPackageVersion, type KubernetesRelease } from './versions.js';

/** Companions kubeadm's packages depend on; EL excludes them in the repo file, so they are pinned explicitly there. */
const RPM_COMPANIONS = ['cri-tools', 'kubernetes-cni'] as const;

function runtimePackages(family: OsFamily, runtime: RuntimeSource, dockerVersion: string): PlanPackage[] {
  if (runtime === 'docker.io') return [{ name: 'docker.io', hold: true }];
  const version = dockerPackageVersion(family, dockerVersion);
  return [
    { name: 'docker-ce', version, hold: true },
    { name: 'docker-ce-cli', version, hold: true },
    { name: 'containerd.io', hold: false },
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
  if (kind === 'rpm') for (const c of RPM_COMPANIONS) if (!names.includes(c)) names.push(c);
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
