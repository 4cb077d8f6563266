// out/pxe/dnsmasq.conf: a proxyDHCP + TFTP server beside a router that cannot tell a NIC's PXE ROM from iPXE, nor
// BIOS from UEFI (iKuai). The router keeps handing out the addresses (its static leases make them the planned
// ones); dnsmasq only adds boot information:
//   a PXE ROM (no user class "iPXE")  -> iPXE for its architecture, by TFTP from this machine
//   iPXE                              -> the server's boot.ipxe (by HTTP when the server URL is an address, else
//                                        tftp/boot.ipxe, whose ${next-server} iPXE expands itself)
// Checked with the real `dnsmasq --test`. Run as root by `mkimage pxe serve --dhcp-proxy`, or by hand.

import { header } from '../template.js';

export interface DnsmasqOptions {
  /** network addresses of the LANs the nodes are on, e.g. ["192.168.66.0"] (one proxy range each) */
  networks: string[];
  /** the URL nodes reach `mkimage pxe serve` at */
  server: string;
  /** absolute path of out/pxe/tftp */
  tftpRoot: string;
}

/** Whether iPXE can use `server` as it stands (no ${...} settings, which only an iPXE script expands). */
const isLiteralUrl = (server: string) => !server.includes('${');

export function renderDnsmasqConf(o: DnsmasqOptions): string {
  const ipxeBoot = isLiteralUrl(o.server)
    ? // proxy mode wants a non-zero server address on the line even when the file comes by HTTP
      `dhcp-boot=tag:ipxe,${o.server}/boot.ipxe,,0.0.0.1`
    : 'dhcp-boot=tag:ipxe,boot.ipxe';
  return [
    header('#').trimEnd(),
    '# mkimage LAN boot: proxyDHCP + TFTP beside the router. The router keeps handing out addresses;',
    '# this answers PXE clients with a boot file only. Run as root: `mkimage pxe serve --dhcp-proxy`,',
    '# or `dnsmasq --no-daemon --conf-file=<this file>`.',
    '# no DNS server',
    'port=0',
    'log-dhcp',
    ...o.networks.map((n) => `dhcp-range=${n},proxy`),
    '# iPXE sends the user class "iPXE"; a NIC\'s own PXE ROM does not',
    'dhcp-userclass=set:ipxe,iPXE',
    '# PXE ROMs: load iPXE by TFTP (BIOS: undionly.kpxe on the ROM\'s UNDI driver; UEFI: snponly.efi on the',
    '# firmware\'s network driver; tftp/ipxe.efi carries its own drivers where SNP is broken)',
    'pxe-service=tag:!ipxe,x86PC,"mkimage: iPXE (BIOS)",undionly.kpxe',
    'pxe-service=tag:!ipxe,X86-64_EFI,"mkimage: iPXE (UEFI)",snponly.efi',
    'pxe-service=tag:!ipxe,BC_EFI,"mkimage: iPXE (UEFI)",snponly.efi',
    '# iPXE: ask the server what this machine boots',
    ipxeBoot,
    'enable-tftp',
    `tftp-root=${o.tftpRoot}`,
    '',
  ].join('\n');
}
