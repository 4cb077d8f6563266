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

export function criDockerdArtifact(version: string, arch: Arch): PlanArtifact {
  const sha256 = CRI_DOCKERD_SHA256[version]?.[arch];
  return {
    name: 'cri-dockerd',
    version,
    arch,
    urls: [`https://github.com/Mirantis/cri-dockerd/releases/download/v${version}/cri-dockerd-${version}.${arch}.tgz`],
    ...(sha256 !== undefined && { sha256 }),
    member: 'cri-dockerd/cri-dockerd',
    dest: '/usr/bin/cri-dockerd',
    mode: '0755',
  };
}

export const CALICO_MANIFEST_DEST = '/usr/share/mkimage/calico.yaml';

export function calicoManifestArtifact(calicoVersion: string, arch: Arch): PlanArtifact {
  return {
    name: 'calico-manifest',
    version: calicoVersion,
    arch,
    urls: [`https://raw.githubusercontent.com/projectcalico/calico/${calicoVersion}/manifests/calico.yaml`],
    dest: CALICO_MANIFEST_DEST,
    mode: '0644',
  };
}

export function planArtifacts(criDockerdVersion: string, calicoVersion: string, arch: Arch, role: NodeRole): PlanArtifact[] {
  const list = [criDockerdArtifact(criDockerdVersion, arch)];
  if (role === 'control-plane') list.push(calicoManifestArtifact(calicoVersion, arch));
  return list;
}
