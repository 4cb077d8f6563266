// What a Flatcar node needs downloaded that a package manager installs elsewhere: kubeadm, kubelet and kubectl
// (dl.k8s.io release binaries) and crictl (kubeadm 1.29's preflight requires it; Flatcar's own may sit in the
// containerd-flatcar extension, which is masked), packed into the kubernetes sysext
// mkimage builds; and Docker Engine as the Flatcar sysext-bakery's Docker sysext (static binaries with containerd).
// sha256 pins for the binaries: kubespray roles/kubespray-defaults/defaults/main/checksums.yml (kubeadm_checksums,
// kubelet_checksums, kubectl_checksums, crictl_checksums). Versions without a pin are recorded in mkimage.lock on
// the first fetch over https, like every other artifact.

import type { Arch } from '../profile/types.js';
import { withMirrors } from './artifacts.js';
import type { PlanArtifact } from './types.js';

export const KUBE_BINARIES = ['kubeadm', 'kubelet', 'kubectl'] as const;
export type KubeBinary = (typeof KUBE_BINARIES)[number];

const KUBE_SHA256: Record<string, Partial<Record<Arch, Record<KubeBinary, string>>>> = {
  '1.29.2': {
    amd64: {
      kubeadm: '2d4e4fa8685bcbfb661cb41050cd4756f50a7aa147f68492d51a99f9cdfd69ac',
      kubelet: 'f71a85039b71fe08f1c063a93d61a1c952dc8f9a8c6be9b13fbdac8f0d9ff960',
      kubectl: '7816d067740f47f949be826ac76943167b7b3a38c4f0c18b902fffa8779a5afa',
    },
    arm64: {
      kubeadm: 'e05720feb9d2d67eff25b0156a5c22e2de37be2ffab4e1f4d31e8c526fafd0e1',
      kubelet: '9b4aa572d4cd51a41b1067161d961423d0d12b120fb636ea887a12a975d4b19a',
      kubectl: '3507ecb4224cf05ae2151a98d4932253624e7762159936d5347b19fe037655ca',
    },
  },
};

/**
 * cri-tools release tarballs (member "crictl"), pinned with the Kubernetes release they are pinned for: the crictl
 * that kubespray pairs with it. Other Kubernetes patches record crictl's sum in mkimage.lock like their binaries.
 */
const CRICTL_SHA256: Record<string, { crictl: string } & Partial<Record<Arch, string>>> = {
  '1.29.2': {
    crictl: '1.29.0',
    amd64: 'd16a1ffb3938f5a19d5c8f45d363bd091ef89c0bc4d44ad16b933eede32fdcbb',
    arm64: '0b615cfa00c331fb9c4524f3d4058a61cc487b33a3436d1269e7832cf283f925',
  },
};

export function kubeBinaryArtifact(name: KubeBinary, version: string, arch: Arch, mirrors: readonly string[] = []): PlanArtifact {
  const sha256 = KUBE_SHA256[version]?.[arch]?.[name];
  return {
    name,
    version,
    arch,
    urls: withMirrors(`https://dl.k8s.io/release/v${version}/bin/linux/${arch}/${name}`, mirrors),
    ...(sha256 !== undefined && { sha256 }),
    dest: `/usr/bin/${name}`,
    mode: '0755',
  };
}

/** `version`: the cri-tools release; `kubernetesVersion`: the release whose pin applies. */
export function crictlArtifact(version: string, kubernetesVersion: string, arch: Arch, mirrors: readonly string[] = []): PlanArtifact {
  const pinned = CRICTL_SHA256[kubernetesVersion];
  const sha256 = pinned?.crictl === version ? pinned[arch] : undefined;
  return {
    name: 'crictl',
    version,
    arch,
    urls: withMirrors(`https://github.com/kubernetes-sigs/cri-tools/releases/download/v${version}/crictl-v${version}-linux-${arch}.tar.gz`, mirrors),
    ...(sha256 !== undefined && { sha256 }),
    member: 'crictl',
    dest: '/usr/bin/crictl',
    mode: '0755',
  };
}

/** systemd's architecture names, as sysext images and the bakery's file names spell them. */
export const sysextArchitecture = (arch: Arch) => (arch === 'amd64' ? 'x86-64' : 'arm64');

/**
 * The bakery's Docker sysext (docker, dockerd, containerd, runc and their units). 24.0.9 is the Docker 24 image the
 * bakery's README names; the bakery now serves every build under extensions.flatcar.org. No sum is published with the
 * name, so it is recorded in mkimage.lock on the first fetch (https only).
 */
export function dockerSysextArtifact(version: string, arch: Arch, mirrors: readonly string[] = []): PlanArtifact {
  const file = `docker-${version}-${sysextArchitecture(arch)}.raw`;
  return {
    name: 'docker-sysext',
    version,
    arch,
    urls: withMirrors(`https://extensions.flatcar.org/extensions/${file}`, mirrors),
    dest: `/opt/extensions/docker/${file}`,
    mode: '0644',
  };
}
