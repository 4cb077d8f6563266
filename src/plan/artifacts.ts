// Downloads baked into the image: the cri-dockerd binary (sha256-pinned where DOMAIN.md knows it) and, on
// control planes, the Calico manifest (no published sha256: recorded in mkimage.lock on first fetch).

import type { Arch, NodeRole } from '../profile/types.js';
import type { PlanArtifact } from './types.js';

/** kubespray checksums.yml, cri_dockerd_archive_checksums. */
const CRI_DOCKERD_SHA256: Record<string, Partial<Record<Arch, string>>> = {
  '0.3.9': {
    amd64: 'a6d9b4b796e9eff830311a2349d259507302cb3955dd07b78296b91e40e8b433',
    arm64: 'f5051002b4f95b0e8fe7fbd5f8de4493350e010834d2a8b647f2b26c45c6c203',
  },
};

/**
 * Each mirror first, in order, then the upstream URL last (an air-gapped site must not wait for the internet to time
 * out first): an entry with "{url}" is a prefix proxy that takes the whole upstream URL; any other entry is a
 * directory that holds the file under its upstream name.
 */
export function withMirrors(upstream: string, mirrors: readonly string[]): string[] {
  const file = upstream.slice(upstream.lastIndexOf('/') + 1);
  return [...mirrors.map((m) => (m.includes('{url}') ? m.replace('{url}', upstream) : `${m.replace(/\/*$/, '')}/${file}`)), upstream];
}

export const criDockerdUpstream = (version: string, arch: Arch) =>
  `https://github.com/Mirantis/cri-dockerd/releases/download/v${version}/cri-dockerd-${version}.${arch}.tgz`;

/** The profile's criDockerd.url / sha256 replace the release tarball and its known digest. */
export function criDockerdArtifact(
  version: string,
  arch: Arch,
  mirrors: readonly string[] = [],
  own: { url?: string; sha256?: string } = {},
): PlanArtifact {
  const sha256 = own.sha256 ?? CRI_DOCKERD_SHA256[version]?.[arch];
  return {
    name: 'cri-dockerd',
    version,
    arch,
    urls: withMirrors(own.url ?? criDockerdUpstream(version, arch), mirrors),
    ...(sha256 !== undefined && { sha256 }),
    member: 'cri-dockerd/cri-dockerd',
    dest: '/usr/bin/cri-dockerd',
    mode: '0755',
  };
}

export const CALICO_MANIFEST_DEST = '/usr/share/mkimage/calico.yaml';

/** The image repository Calico's manifest names (docker.io/calico/cni:..., node, kube-controllers). */
export const CALICO_UPSTREAM_REPOSITORY = 'docker.io/calico';

/** `imageRepository`: cluster images.calico; the installed manifest then names it instead of docker.io/calico. */
export function calicoManifestArtifact(calicoVersion: string, arch: Arch, mirrors: readonly string[] = [], imageRepository?: string): PlanArtifact {
  const a: PlanArtifact = {
    name: 'calico-manifest',
    version: calicoVersion,
    arch,
    urls: withMirrors(`https://raw.githubusercontent.com/projectcalico/calico/${calicoVersion}/manifests/calico.yaml`, mirrors),
    dest: CALICO_MANIFEST_DEST,
    mode: '0644',
  };
  if (imageRepository !== undefined && imageRepository !== CALICO_UPSTREAM_REPOSITORY) {
    a.edits = [{ from: `${CALICO_UPSTREAM_REPOSITORY}/`, to: `${imageRepository}/` }];
  }
  return a;
}

export interface ArtifactSources {
  mirrors?: readonly string[];
  criDockerd?: { url?: string; sha256?: string };
  calicoImages?: string;
}

export function planArtifacts(
  criDockerdVersion: string,
  calicoVersion: string,
  arch: Arch,
  role: NodeRole,
  sources: ArtifactSources = {},
): PlanArtifact[] {
  const mirrors = sources.mirrors ?? [];
  const list = [criDockerdArtifact(criDockerdVersion, arch, mirrors, sources.criDockerd)];
  if (role === 'control-plane') list.push(calicoManifestArtifact(calicoVersion, arch, mirrors, sources.calicoImages));
  return list;
}
