// Flatcar's side of out/pxe/: the PXE kernel and initrd Flatcar publishes for each release, and the OS image
// flatcar-install writes to the disk with its signature (all fetched through mkimage's artifact system: the
// cluster's artifactMirrors first, then the release server; sha256 recorded in mkimage.lock on the first https
// fetch, verified on every later one), and per node its two Ignition configs.
//
//   flatcar/flatcar_production_pxe.vmlinuz  flatcar/flatcar_production_pxe_image.cpio.gz
//   flatcar/amd64-usr/<version>/flatcar_production_image.bin.bz2{,.sig}   what `flatcar-install -b` fetches
//   ignition/<node>/node.ign     the node's own config: the bytes of out/<role>/ignition/<node>.ign
//   ignition/<node>/install.ign  what the PXE live system runs: flatcar-install with node.ign (src/flatcar/install-config.ts)
//
// The OS image's layout follows flatcar-install's prep_url (flatcar/init, bin/flatcar-install at commit
// 0765e955aca24034d66b9389e0d538e4c3ee543c): `-b BASEURL` sets BASE_URL="${OPTARG%/}" in place of
// https://<channel>.release.flatcar-linux.net/<board>, and with `-V VERSION` (no "current": no version.txt) it
// checks with `wget --spider` (HEAD) and then GETs ${BASE_URL}/${VERSION}/${IMAGE_NAME}.sig and
// ${BASE_URL}/${VERSION}/${IMAGE_NAME}, IMAGE_NAME flatcar_production_image.bin.bz2 (flatcar_production_<OEM>_image
// with an OEM id, which `-o ''` forces off); the image goes through `gpg --verify` against the .sig with the
// Flatcar signing key built into the script (-k would replace it; -f would skip it: neither is used). So the base
// is http://<server>/flatcar/amd64-usr, the release server's own layout under flatcar/.
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

export const FLATCAR_IMAGE_FILE = 'flatcar_production_image.bin.bz2';
export const FLATCAR_SIGNATURE_FILE = `${FLATCAR_IMAGE_FILE}.sig`;

export const ignitionDir = (node: string) => `ignition/${node}`;

/** flatcar-install's board for an arch: amd64-usr, arm64-usr. */
export const flatcarBoard = (arch: Arch) => `${arch}-usr`;

/** The OS image's base URL path under out/pxe/ (flatcar-install -b http://<server>/<this>). */
export const flatcarImageBase = (arch: Arch = 'amd64') => `${FLATCAR_DIR}/${flatcarBoard(arch)}`;

export const flatcarReleaseUrl = (channel: string, version: string, arch: Arch, file: string) =>
  `https://${channel}.release.flatcar-linux.net/${flatcarBoard(arch)}/${version}/${file}`;

export interface FlatcarArtifacts {
  kernel: PlanArtifact;
  initrd: PlanArtifact;
  /** the OS image flatcar-install writes, and its GPG signature (dest: where `-b` finds them) */
  image: PlanArtifact;
  signature: PlanArtifact;
}

/** What a Flatcar LAN boot needs, as artifacts (dest: their path in out/pxe/), in a fixed order. */
export function flatcarPxeArtifacts(mirrors: readonly string[], arch: Arch = 'amd64', version = FLATCAR_VERSION, channel = FLATCAR_CHANNEL): FlatcarArtifacts {
  const artifact = (name: string, file: string, dest: string): PlanArtifact => ({
    name,
    version,
    arch,
    urls: withMirrors(flatcarReleaseUrl(channel, version, arch, file), mirrors),
    dest: `${dest}/${file}`,
    mode: '0644',
  });
  const imageDir = `${flatcarImageBase(arch)}/${version}`;
  return {
    kernel: artifact('flatcar-pxe-kernel', FLATCAR_KERNEL_FILE, FLATCAR_DIR),
    initrd: artifact('flatcar-pxe-initrd', FLATCAR_INITRD_FILE, FLATCAR_DIR),
    image: artifact('flatcar-image', FLATCAR_IMAGE_FILE, imageDir),
    signature: artifact('flatcar-image-sig', FLATCAR_SIGNATURE_FILE, imageDir),
  };
}
