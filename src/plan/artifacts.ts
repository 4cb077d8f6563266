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
 * The upstream URL first, then each mirror: an entry with "{url}" is a prefix proxy that takes the whole upstream
 * URL; any other entry is a directory that holds the file under its upstream name.
 */
export function withMirrors(upstream: string, mirrors: readonly string[]): string[] {
  const file = upstream.slice(upstream.lastIndexOf('/') + 1);
  return [upstream, ...mirrors.map((m) => (m.includes('{url}') ? m.replace('{url}', upstream) : `${m.replace(/\/*$/, '')}/${file}`))];
}

export function criDockerdArtifact(version: string, arch: Arch, mirrors: readonly string[] = []): PlanArtifact {
  const sha256 = CRI_DOCKERD_SHA256[version]?.[arch];
  return {
    name: 'cri-dockerd',
    version,
    arch,
    urls: withMirrors(`https://github.com/Mirantis/cri-dockerd/releases/download/v${version}/cri-dockerd-${version}.${arch}.tgz`, mirrors),
    ...(sha256 !== undefined && { sha256 }),
    member: 'cri-dockerd/cri-dockerd',
    dest: '/usr/bin/cri-dockerd',
    mode: '0755',
  };
}

export const CALICO_MANIFEST_DEST = '/usr/share/mkimage/calico.yaml';

export function calicoManifestArtifact(calicoVersion: string, arch: Arch, mirrors: readonly string[] = []): PlanArtifact {
  return {
    name: 'calico-manifest',
    version: calicoVersion,
    arch,
    urls: withMirrors(`https://raw.githubusercontent.com/projectcalico/calico/${calicoVersion}/manifests/calico.yaml`, mirrors),
    dest: CALICO_MANIFEST_DEST,
    mode: '0644',
  };
}

export function planArtifacts(
  criDockerdVersion: string,
  calicoVersion: string,
  arch: Arch,
  role: NodeRole,
  mirrors: readonly string[] = [],
): PlanArtifact[] {
  const list = [criDockerdArtifact(criDockerdVersion, arch, mirrors)];
  if (role === 'control-plane') list.push(calicoManifestArtifact(calicoVersion, arch, mirrors));
  return list;
}
