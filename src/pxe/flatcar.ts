// Flatcar's side of out/pxe/: the PXE kernel and initrd Flatcar publishes for each release (fetched through mkimage's
// artifact system: the cluster's artifactMirrors first, then the release server; sha256 recorded in mkimage.lock on
// the first https fetch, verified on every later one), and per node its two Ignition configs.
//
//   flatcar/flatcar_production_pxe.vmlinuz  flatcar/flatcar_production_pxe_image.cpio.gz
//   ignition/<node>/node.ign     the node's own config: the bytes of out/<role>/ignition/<node>.ign
//   ignition/<node>/install.ign  what the PXE live system runs: flatcar-install with node.ign (src/flatcar/install-config.ts)
//
// The release: Flatcar stable 4152.2.0 (2025). The node configs need Ignition spec 3.3.0 (Flatcar 3185+), systemd-sysext
// with the built-in docker-flatcar and containerd-flatcar extensions they mask (3794+, README "Limits"), and a Docker
// of 26 or newer in Flatcar itself, which is why the Docker 24 sysext replaces it (src/plan/flatcar.ts).

import type { Arch } from '../profile/types.js';
import { withMirrors } from '../plan/artifacts.js';
import type { PlanArtifact } from '../plan/types.js';

export const FLATCAR_CHANNEL = 'stable';
export const FLATCAR_VERSION = '4152.2.0';
export const FLATCAR_DIR = 'flatcar';
export const FLATCAR_KERNEL_FILE = 'flatcar_production_pxe.vmlinuz';
export const FLATCAR_INITRD_FILE = 'flatcar_production_pxe_image.cpio.gz';
export const NODE_CONFIG = 'node.ign';
export const INSTALL_CONFIG = 'install.ign';

export const ignitionDir = (node: string) => `ignition/${node}`;

export const flatcarReleaseUrl = (channel: string, version: string, arch: Arch, file: string) =>
  `https://${channel}.release.flatcar-linux.net/${arch}-usr/${version}/${file}`;

/** The kernel and the initrd, as artifacts (dest: their path in out/pxe/). */
export function flatcarPxeArtifacts(mirrors: readonly string[], arch: Arch = 'amd64', version = FLATCAR_VERSION, channel = FLATCAR_CHANNEL): { kernel: PlanArtifact; initrd: PlanArtifact } {
  const artifact = (name: string, file: string): PlanArtifact => ({
    name,
    version,
    arch,
    urls: withMirrors(flatcarReleaseUrl(channel, version, arch, file), mirrors),
    dest: `${FLATCAR_DIR}/${file}`,
    mode: '0644',
  });
  return { kernel: artifact('flatcar-pxe-kernel', FLATCAR_KERNEL_FILE), initrd: artifact('flatcar-pxe-initrd', FLATCAR_INITRD_FILE) };
}
