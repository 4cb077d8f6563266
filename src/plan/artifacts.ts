// Downloads baked into the image: the cri-dockerd binary and, on control planes, the Calico manifest, each
// sha256-pinned for the versions mkimage knows (others: a pin in the profile or cluster file, or the sum recorded in
// mkimage.lock on a first fetch over https).

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

/**
 * sha256 of manifests/calico.yaml at each release tag, as raw.githubusercontent.com serves it (the git blob).
 * Calico publishes no sum for it; these were taken from projectcalico/calico at the tags, whose trees were checked
 * against kubespray's pins of the same releases (roles/kubespray-defaults checksums.yml, calico_crds_archive_checksums:
 * `git archive --prefix=calico-<version>/ <tag> | gzip -n` gives exactly kubespray's sum for each).
 */
const CALICO_MANIFEST_SHA256: Record<string, string> = {
  'v3.27.0': 'dbc4d6fdb5ca87978f6d67a43b09094852cd375398cad5c1650c1c462dd58d8b',
  'v3.27.1': '336c4898235f9a5e3d1ebbdf7b1daa4fd6c06ee373fbf77a18fe3e49df79c0b3',
  'v3.27.2': '8d8bf4efcb1bd14a1f907200cf96b101c0ca1a58925aaedafd0231cd49aac144',
  'v3.27.3': '001eacbb07c01f154f21d49c7f1e027dea8d4202d47347a324b678a7f69efdbe',
  'v3.27.4': '53250439641223c04f25035d9855f980b640baa73cde99bcfac5457b242fc51f',
  'v3.27.5': 'a8b89fd22e304cea657d5a4ee06a350bb2287dc6d39ff83e06e8a7e5cf9f172b',
};

/** The image repository Calico's manifest names (docker.io/calico/cni:..., node, kube-controllers). */
export const CALICO_UPSTREAM_REPOSITORY = 'docker.io/calico';

/**
 * `imageRepository`: cluster images.calico; the installed manifest then names it instead of docker.io/calico.
 * `sha256`: cluster calicoManifestSha256, replacing the known sum.
 */
export function calicoManifestArtifact(
  calicoVersion: string,
  arch: Arch,
  mirrors: readonly string[] = [],
  imageRepository?: string,
  own?: string,
): PlanArtifact {
  const sha256 = own ?? CALICO_MANIFEST_SHA256[calicoVersion];
  const a: PlanArtifact = {
    name: 'calico-manifest',
    version: calicoVersion,
    arch,
    urls: withMirrors(`https://raw.githubusercontent.com/projectcalico/calico/${calicoVersion}/manifests/calico.yaml`, mirrors),
    ...(sha256 !== undefined && { sha256 }),
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
  calicoManifestSha256?: string;
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
  if (role === 'control-plane') list.push(calicoManifestArtifact(calicoVersion, arch, mirrors, sources.calicoImages, sources.calicoManifestSha256));
  return list;
}
