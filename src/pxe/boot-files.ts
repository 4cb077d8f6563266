// The TFTP side of LAN boot (out/pxe/tftp/): what a machine's PXE ROM loads before `mkimage pxe serve` takes over.
//   boot.ipxe        the chain script: DHCP (retried), then <server>/boot.ipxe?mac=..&uuid=..&platform=..
//   undionly.kpxe    iPXE for BIOS PXE ROMs; snponly.efi, ipxe.efi for UEFI (Debian's ipxe package)
//   pxelinux.0, ldlinux.c32, pxelinux.cfg/default, ipxe.lkrn
//                    for routers that can only name one boot file (iKuai: next-server + option 67, no matching on
//                    the client): pxelinux.0 is not iPXE, so the router's answer to iPXE's own DHCP cannot loop
//                    back into it; pxelinux starts ipxe.lkrn with boot.ipxe as its script. BIOS only.

import { header } from '../template.js';

/** The iPXE settings the server matches a machine by: hyphenated MAC, SMBIOS UUID, pcbios|efi. */
export const CHAIN_QUERY = 'mac=${net0/mac:hexhyp}&uuid=${uuid}&platform=${platform}';

/**
 * tftp/boot.ipxe: get an address (a PXE ROM handing over to undionly.kpxe already has one; a bare iPXE does not),
 * then chain the server's per-machine script. A server that is not up yet is retried, never skipped: the machine
 * would otherwise fall through to a disk that may hold nothing.
 */
export function chainScript(server: string): string {
  return [
    '#!ipxe',
    header('#').trimEnd(),
    '# mkimage LAN boot: ask `mkimage pxe serve` what this machine boots (install, local disk, or nothing).',
    ':retry',
    'isset ${ip} || dhcp || goto retry',
    `chain ${server}/boot.ipxe?${CHAIN_QUERY} || goto wait`,
    'exit',
    ':wait',
    `echo mkimage: ${server}/boot.ipxe did not answer, trying again in 10 s`,
    'sleep 10 || goto retry',
    'goto retry',
    '',
  ].join('\n');
}

/** tftp/pxelinux.cfg/default: pxelinux (BIOS) -> ipxe.lkrn running boot.ipxe. */
export function pxelinuxConfig(): string {
  return [
    header('#').trimEnd(),
    '# mkimage LAN boot for routers that name one boot file (pxelinux.0): start iPXE with the chain script.',
    'DEFAULT mkimage',
    'PROMPT 0',
    'TIMEOUT 0',
    'LABEL mkimage',
    '  KERNEL ipxe.lkrn',
    '  INITRD boot.ipxe',
    '',
  ].join('\n');
}

/** Files copied from Debian packages into tftp/: package -> [path in the package, name in tftp/]. */
export const TFTP_PACKAGE_FILES: Record<string, Array<[string, string]>> = {
  ipxe: [
    ['usr/lib/ipxe/undionly.kpxe', 'undionly.kpxe'],
    ['usr/lib/ipxe/snponly.efi', 'snponly.efi'],
    ['usr/lib/ipxe/ipxe.efi', 'ipxe.efi'],
    ['usr/lib/ipxe/ipxe.lkrn', 'ipxe.lkrn'],
  ],
  pxelinux: [['usr/lib/PXELINUX/pxelinux.0', 'pxelinux.0']],
  'syslinux-common': [['usr/lib/syslinux/modules/bios/ldlinux.c32', 'ldlinux.c32']],
};
