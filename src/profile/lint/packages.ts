// Lints on a profile's Kubernetes packages and kubeadm flags: W101 (package version), W106 (preflight "all"),
// W107 (repo excludes without disableExcludes), W108 (package name typos). Gateway profiles install no
// Kubernetes packages and are skipped.

import { warning, type Diagnostic } from '../../diagnostics.js';
import type { Cluster, Located, Profile } from '../types.js';
import { firstPositionOf, positionOf } from './position.js';
import { compareVersions, parseVersion } from './version.js';

const installsKubernetes = (p: Profile) => p.role !== 'gateway';

/** W101: kubelet/kubeadm/kubectl are pinned to a version other than the cluster's kubernetesVersion. */
export function lintPackageVersion(profile: Located<Profile>, cluster: Located<Cluster>): Diagnostic[] {
  const pinned = profile.value.kubernetes.packageVersion;
  const wanted = cluster.value.kubernetesVersion;
  if (!installsKubernetes(profile.value) || pinned === undefined) return [];
  const a = parseVersion(pinned);
  const b = parseVersion(wanted);
  if (a === undefined || b === undefined || compareVersions(a.slice(0, 3), b.slice(0, 3)) === 0) return [];
  const target = b.slice(0, 3).join('.');
  return [
    warning(
      'W101',
      `kubernetes.packageVersion ${pinned} installs kubeadm and kubelet ${a.slice(0, 3).join('.')}, ` +
        `but kubernetesVersion is ${wanted}: set kubernetes.packageVersion to ${target} ` +
        `(or remove it to follow kubernetesVersion)`,
      positionOf(profile, 'kubernetes.packageVersion'),
    ),
  ];
}

/** W106: `ignorePreflightErrors: [all]` hides every real preflight failure. */
export function lintIgnorePreflightAll(profile: Located<Profile>): Diagnostic[] {
  if (!installsKubernetes(profile.value)) return [];
  return profile.value.kubernetes.ignorePreflightErrors.flatMap((name, i) =>
    name.trim().toLowerCase() === 'all'
      ? [
          warning(
            'W106',
            `remove "${name}" from kubernetes.ignorePreflightErrors: it hides every real preflight failure ` +
              `(swap on, missing br_netfilter, ports in use); list only the checks to skip by name, e.g. NumCPU`,
            positionOf(profile, `kubernetes.ignorePreflightErrors.${i}`),
          ),
        ]
      : [],
  );
}

/** yum `exclude=` entries are shell globs. */
function globMatches(glob: string, name: string): boolean {
  const re = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`).test(name);
}

/** W107: the repo excludes packages but the install does not pass --disableexcludes=kubernetes. */
export function lintRepoExcludes(profile: Located<Profile>): Diagnostic[] {
  const k = profile.value.kubernetes;
  if (!installsKubernetes(profile.value) || k.repoExclude.length === 0 || k.disableExcludes) return [];
  const blocked = k.packages.filter((name) => k.repoExclude.some((glob) => globMatches(glob, name)));
  const what = blocked.length > 0 ? blocked.join(', ') : k.repoExclude.join(', ');
  return [
    warning(
      'W107',
      `kubernetes.repoExclude hides ${what} from the repo, so yum refuses to install them: ` +
        `set kubernetes.disableExcludes: true (installs with --disableexcludes=kubernetes)`,
      firstPositionOf(profile, 'kubernetes.disableExcludes', 'kubernetes.repoExclude'),
    ),
  ];
}

/** Package names a Kubernetes node needs; a near miss of one of them is almost always a typo. */
export const KNOWN_PACKAGES = [
  'kubelet',
  'kubeadm',
  'kubectl',
  'cri-tools',
  'kubernetes-cni',
  'docker-ce',
  'docker-ce-cli',
  'containerd.io',
] as const;

/** Real packages within a typo's distance of a known name: never flagged. */
const REAL_NEIGHBOURS = new Set(['kubectx', 'kubens', 'docker-ee', 'containerd', 'docker.io']);

/** Optimal string alignment distance (Levenshtein plus transposition of two neighbours). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number) => d[i]?.[j] ?? Infinity;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = v;
    }
  }
  return at(a.length, b.length);
}

/** "kubect1-1.29.0" / "kubectl=1.29.2-1.1" -> the bare name. */
const bareName = (entry: string) => entry.trim().replace(/=.*$/, '').replace(/-\d[\w.~+:-]*$/, '');

/** The known package `entry` is a typo of, if any: distance 1 (2 for names of 9+ characters), not equal. */
export function typoOf(entry: string): string | undefined {
  const name = bareName(entry);
  if (/[*?]/.test(name) || REAL_NEIGHBOURS.has(name) || (KNOWN_PACKAGES as readonly string[]).includes(name)) {
    return undefined;
  }
  let best: { known: string; dist: number } | undefined;
  for (const known of KNOWN_PACKAGES) {
    const dist = editDistance(name, known);
    const limit = known.length >= 9 ? 2 : 1;
    if (dist > 0 && dist <= limit && (best === undefined || dist < best.dist)) best = { known, dist };
  }
  return best?.known;
}

/** W108: a name in kubernetes.packages, kubernetes.repoExclude or extraPackages is a near miss of a known package. */
export function lintPackageNameTypos(profile: Located<Profile>): Diagnostic[] {
  const p = profile.value;
  const lists: Array<[string, string[]]> = [['extraPackages', p.extraPackages]];
  if (installsKubernetes(p)) {
    lists.unshift(['kubernetes.packages', p.kubernetes.packages], ['kubernetes.repoExclude', p.kubernetes.repoExclude]);
  }
  const out: Diagnostic[] = [];
  for (const [key, names] of lists) {
    names.forEach((entry, i) => {
      const known = typoOf(entry);
      if (known === undefined) return;
      const fixed = entry.replace(bareName(entry), known);
      const write = fixed === known ? '' : ` Write "${fixed}"`;
      out.push(
        warning(
          'W108',
          `unknown package "${entry}" in ${key}: did you mean ${known}?${write}`,
          positionOf(profile, `${key}.${i}`),
        ),
      );
    });
  }
  return out;
}
