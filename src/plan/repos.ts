// Package repositories per OS family and mirror (DOMAIN.md "Repos"). For rpm the baseurl is what Docker's
// docker-ce.repo file expands to; the aliyun mirror rewrites download.docker.com to mirrors.aliyun.com/docker-ce.

import type { Mirror, OsFamily, Repositories, RuntimeSource } from '../profile/types.js';
import type { PlanRepo } from './types.js';
import { isRpmFamily } from './os.js';

/** The files a repository's bake step writes: the .repo file (dnf), or the .list and its keyring (apt). */
export function repoFilePaths(id: string, packageManager: 'dnf' | 'apt'): string[] {
  return packageManager === 'dnf' ? [`/etc/yum.repos.d/${id}.repo`] : [`/etc/apt/sources.list.d/${id}.list`, debKeyring(id)];
}

export const debKeyring = (id: string) => `/etc/apt/keyrings/${id}.gpg`;

const DOCKER_BASE: Record<Mirror, string> = {
  upstream: 'https://download.docker.com/linux',
  aliyun: 'https://mirrors.aliyun.com/docker-ce/linux',
};

/** Docker's apt distribution directory for a family ("ubuntu" | "debian"). */
const DOCKER_DEB_DISTRO: Record<Exclude<OsFamily, 'el9' | 'flatcar'>, string> = {
  'ubuntu-22.04': 'ubuntu',
  'ubuntu-24.04': 'ubuntu',
  'debian-12': 'debian',
};

/** `own`: cluster repositories.docker, a mirror of download.docker.com/linux/<distro> with its key. */
export function dockerRepo(family: OsFamily, codename: string | undefined, mirror: Mirror, own?: Repositories['docker']): PlanRepo {
  const base = DOCKER_BASE[mirror];
  if (family === 'flatcar') throw new Error('internal: Flatcar has no package repositories (src/plan/flatcar.ts)');
  if (family === 'el9') {
    const dir = own !== undefined ? own.url.replace(/\/+$/, '') : `${base}/centos`;
    return {
      id: 'docker-ce-stable',
      name: 'Docker CE Stable',
      kind: 'rpm',
      baseurl: `${dir}/$releasever/$basearch/stable`,
      gpgkey: own?.gpgkey ?? `${dir}/gpg`,
      exclude: [],
    };
  }
  const distro = own !== undefined ? own.url.replace(/\/+$/, '') : `${base}/${DOCKER_DEB_DISTRO[family]}`;
  return {
    id: 'docker-ce',
    name: 'Docker CE Stable',
    kind: 'deb',
    baseurl: distro,
    gpgkey: own?.gpgkey ?? `${distro}/gpg`,
    suite: codename ?? '',
    components: ['stable'],
    exclude: [],
  };
}

export function kubernetesRepoBase(mirror: Mirror, minor: string, kind: 'rpm' | 'deb'): string {
  return mirror === 'aliyun'
    ? `https://mirrors.aliyun.com/kubernetes-new/core/stable/v${minor}/${kind}/`
    : `https://pkgs.k8s.io/core:/stable:/v${minor}/${kind}/`;
}

/** `own`: cluster repositories.kubernetes, a mirror of pkgs.k8s.io's repo for the minor (deb: flat) with its key. */
export function kubernetesRepo(family: OsFamily, mirror: Mirror, minor: string, exclude: string[], own?: Repositories['kubernetes']): PlanRepo {
  const kind = isRpmFamily(family) ? 'rpm' : 'deb';
  const baseurl = own?.url ?? kubernetesRepoBase(mirror, minor, kind);
  if (kind === 'rpm') {
    return {
      id: 'kubernetes',
      name: 'Kubernetes',
      kind,
      baseurl,
      gpgkey: own?.gpgkey ?? `${baseurl}repodata/repomd.xml.key`,
      exclude: [...exclude],
    };
  }
  // A flat repository: `deb [signed-by=...] <baseurl> /`.
  return { id: 'kubernetes', name: 'Kubernetes', kind, baseurl, gpgkey: own?.gpgkey ?? `${baseurl}Release.key`, suite: '/', exclude: [] };
}

export function planRepos(
  family: OsFamily,
  codename: string | undefined,
  mirror: Mirror,
  runtime: RuntimeSource,
  minor: string,
  exclude: string[],
  own: Repositories = {},
): PlanRepo[] {
  const repos: PlanRepo[] = [];
  if (family === 'flatcar') return repos; // nothing is installed: the sysext and Ignition deliver it
  if (runtime === 'docker-ce') repos.push(dockerRepo(family, codename, mirror, own.docker));
  repos.push(kubernetesRepo(family, mirror, minor, exclude, own.kubernetes));
  return repos;
}
