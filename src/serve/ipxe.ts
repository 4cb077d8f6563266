// The iPXE scripts /boot.ipxe answers with, one per machine state (pure: text from values). The installer's
// kernel line is the contract with its /init (mkimage.server, .node, .mac, .token, .image, .sha256, .disk), and
// Flatcar's with Ignition (flatcar.first_boot=1, ignition.config.url: the install config under the token) and the
// install unit's script (mkimage.server, .node, .token, .disk); `initrd=<name>` is always on it, because a UEFI
// kernel finds its initrd by that name.
// Every value put into a script is a checked word (manifest fields, normalised MACs, tokens): no `$`, no
// spaces, nothing iPXE would expand or split.

import { basename } from 'node:path';
import { hexhyp } from './mac.js';
import type { PxeFlatcar, PxeImage, PxeManifest, PxeNode } from './manifest.js';

export type Platform = 'pcbios' | 'efi';

/** How often a machine that cannot install yet asks again. */
export const FAILED_POLL_SECONDS = 10;
export const IMAGE_MISSING_POLL_SECONDS = 30;

const script = (...lines: string[]) => `#!ipxe\n${lines.join('\n')}\n`;

/** pending (or installing again): boot the installer with the node's install parameters. */
export function installerScript(base: string, m: PxeManifest, node: PxeNode, image: PxeImage, token: string): string {
  const args = [
    `initrd=${basename(m.installer.initrd)}`,
    'console=tty0',
    'console=ttyS0,115200n8',
    `mkimage.server=${base}`,
    `mkimage.node=${node.name}`,
    `mkimage.mac=${node.mac}`,
    `mkimage.token=${token}`,
    `mkimage.image=${image.path}`,
    `mkimage.sha256=${image.sha256}`,
    ...(node.disk !== undefined ? [`mkimage.disk=${node.disk}`] : []),
  ];
  return script(`kernel ${base}/${m.installer.kernel} ${args.join(' ')}`, `initrd ${base}/${m.installer.initrd}`, 'boot');
}

/** The URL path of a Flatcar node's configs under its install token (src/serve/routes/seed.ts). */
export const IGNITION_PREFIX = '/ignition/';

/** pending (or installing again), a Flatcar node: Flatcar's PXE kernel, its Ignition fetching the install config. */
export function flatcarScript(base: string, flatcar: PxeFlatcar, node: PxeNode, token: string): string {
  const args = [
    `initrd=${basename(flatcar.initrd)}`,
    'flatcar.first_boot=1',
    `ignition.config.url=${base}${IGNITION_PREFIX}${token}/install.ign`,
    'console=tty0',
    'console=ttyS0,115200n8',
    `mkimage.server=${base}`,
    `mkimage.node=${node.name}`,
    `mkimage.token=${token}`,
    ...(node.disk !== undefined ? [`mkimage.disk=${node.disk}`] : []),
  ];
  return script(`kernel ${base}/${flatcar.kernel} ${args.join(' ')}`, `initrd ${base}/${flatcar.initrd}`, 'boot');
}

/** installed: boot the local disk. BIOS: the first hard disk, else hand back to the firmware; UEFI: hand back. */
export function localBootScript(platform: Platform): string {
  return platform === 'efi' ? script('exit') : script('sanboot --no-describe --drive 0x80 || exit');
}

/** Ask /boot.ipxe again after a pause, replacing this script (no scripts pile up while a machine waits). */
function pollAgain(base: string, mac: string, platform: Platform, seconds: number): string[] {
  return [
    `echo checking again in ${seconds} seconds`,
    `sleep ${seconds}`,
    `chain --replace ${base}/boot.ipxe?mac=${hexhyp(mac)}&uuid=\${uuid}&platform=${platform} || exit`,
  ];
}

/** failed: say so and poll, so `mkimage pxe retry` makes it install without a power cycle. */
export function failedScript(base: string, node: PxeNode, platform: Platform): string {
  return script(
    `echo mkimage: ${node.name} failed to install. On the server, mkimage pxe status shows the installer log,`,
    `echo and mkimage pxe retry ${node.name} lets it install again.`,
    ...pollAgain(base, node.mac, platform, FAILED_POLL_SECONDS),
  );
}

/** pending, but the server has no golden image for the node's role. */
export function imageMissingScript(base: string, node: PxeNode, platform: Platform): string {
  return script(
    `echo mkimage: the server has no golden image for role ${node.role} yet.`,
    'echo On the server, run mkimage pxe build with the image, then restart mkimage pxe serve.',
    ...pollAgain(base, node.mac, platform, IMAGE_MISSING_POLL_SECONDS),
  );
}

/** A MAC no node has (or no MAC at all): hand the machine back to its firmware's next boot device. */
export function unknownMacScript(mac: string | undefined): string {
  return script(
    mac === undefined
      ? 'echo mkimage: the mac parameter is not a MAC address, booting the next device'
      : `echo mkimage: no node has MAC ${mac}. Add it to the cluster file and run mkimage pxe build. Booting the next device.`,
    'exit',
  );
}
