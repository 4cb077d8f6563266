// Lints on a profile's container runtime: W102 (Docker Engine 25+ with cri-dockerd < 0.3.10) and W109 (pause
// image other than the one kubeadm expects). Gateway profiles run no container runtime and are skipped.

import { warning, type Diagnostic } from '../../diagnostics.js';
import type { Cluster, Located, Profile } from '../types.js';
import { positionOf } from './position.js';
import { compareVersions, minorOf, parseVersion } from './version.js';

/** Docker Engine pin known to work with cri-dockerd 0.3.9 (DOMAIN.md "Pins"). */
export const DOCKER_FOR_CRI_DOCKERD_039 = '24.0.7';
/** First cri-dockerd release that copes with Docker API 1.44 (Mirantis/cri-dockerd#300). */
const CRI_DOCKERD_FIXED = [0, 3, 10];

/** W102: Docker 25+ (API 1.44) dropped the image VirtualSize field that cri-dockerd < 0.3.10 reads. */
export function lintDockerCriDockerd(profile: Located<Profile>): Diagnostic[] {
  const p = profile.value;
  if (p.role === 'gateway') return [];
  const cri = parseVersion(p.criDockerd.version);
  if (cri === undefined || compareVersions(cri, CRI_DOCKERD_FIXED) >= 0) return [];
  const pin = p.docker.version.trim();
  const unpinned = pin === '' || pin === 'latest' || pin === '*';
  const docker = parseVersion(pin);
  if (!unpinned && (docker === undefined || (docker[0] ?? 0) < 25)) return [];
  const what = unpinned ? 'docker.version is not pinned, so the newest Docker Engine (25+) is installed' : `Docker Engine ${pin}`;
  return [
    warning(
      'W102',
      `${what} with cri-dockerd ${p.criDockerd.version}: Docker 25+ dropped the image VirtualSize field that ` +
        `cri-dockerd before 0.3.10 reads, so kubelet fails with ImageInspectError (Mirantis/cri-dockerd#299): ` +
        `pin docker.version to ${DOCKER_FOR_CRI_DOCKERD_039}, or set criDockerd.version to 0.3.10 or later`,
      positionOf(profile, 'docker.version'),
    ),
  ];
}

/** The pause image tag kubeadm pre-pulls and checks the sandbox image against, by Kubernetes minor. */
export const KUBEADM_PAUSE_TAG: Readonly<Record<string, string>> = {
  '1.23': '3.6',
  '1.24': '3.7',
  '1.25': '3.8',
  '1.26': '3.9',
  '1.27': '3.9',
  '1.28': '3.9',
  '1.29': '3.9',
  '1.30': '3.9',
  '1.31': '3.10',
  '1.32': '3.10',
};

/** W109: cri-dockerd's --pod-infra-container-image is not the pause image kubeadm expects. */
export function lintPauseImage(profile: Located<Profile>, cluster: Located<Cluster>): Diagnostic[] {
  if (profile.value.role === 'gateway') return [];
  const minor = minorOf(cluster.value.kubernetesVersion);
  const expected = minor === undefined ? undefined : KUBEADM_PAUSE_TAG[minor];
  const image = profile.value.criDockerd.pauseImage.trim();
  const slash = image.lastIndexOf('/');
  const colon = image.indexOf(':', slash + 1);
  const name = colon < 0 ? image.slice(slash + 1) : image.slice(slash + 1, colon);
  const tag = colon < 0 ? 'latest' : image.slice(colon + 1);
  // A custom sandbox image (not named "pause") or a digest pin is the user's deliberate choice.
  if (expected === undefined || name !== 'pause' || image.includes('@') || tag === expected) return [];
  const fixed = `${image.slice(0, slash + 1)}pause:${expected}`;
  return [
    warning(
      'W109',
      `criDockerd.pauseImage ${image} is not the pause:${expected} that kubeadm ${minor} pre-pulls and expects ` +
        `(kubeadm warns and the node keeps two sandbox images): set criDockerd.pauseImage to ${fixed}`,
      positionOf(profile, 'criDockerd.pauseImage'),
    ),
  ];
}
