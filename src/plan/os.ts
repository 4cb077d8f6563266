// Per-OS-family facts: package manager, apt codename, and the cloud image Packer starts from
// (DOMAIN.md "Cloud images"; Packer wants the checksum as "file:<url of the checksum list>").

import type { Arch, OsFamily } from '../profile/types.js';
import type { NodePlan } from './types.js';

export type PlanOs = NodePlan['os'];

const CODENAME: Record<OsFamily, string | undefined> = {
  el9: undefined,
  'ubuntu-22.04': 'jammy',
  'ubuntu-24.04': 'noble',
  'debian-12': 'bookworm',
  flatcar: undefined,
};

export const isRpmFamily = (family: OsFamily) => family === 'el9';
/** Flatcar Container Linux: immutable, no package manager, configured by Ignition (src/plan/flatcar.ts). */
export const isFlatcar = (family: OsFamily) => family === 'flatcar';

function cloudImage(family: OsFamily, arch: Arch): { url: string; checksum: string } {
  switch (family) {
    case 'el9': {
      const a = arch === 'amd64' ? 'x86_64' : 'aarch64';
      const dir = `https://dl.rockylinux.org/pub/rocky/9/images/${a}`;
      return { url: `${dir}/Rocky-9-GenericCloud-Base.latest.${a}.qcow2`, checksum: `file:${dir}/CHECKSUM` };
    }
    case 'ubuntu-22.04':
    case 'ubuntu-24.04': {
      const c = CODENAME[family] as string;
      const dir = `https://cloud-images.ubuntu.com/${c}/current`;
      return { url: `${dir}/${c}-server-cloudimg-${arch}.img`, checksum: `file:${dir}/SHA256SUMS` };
    }
    case 'debian-12': {
      const dir = 'https://cloud.debian.org/images/cloud/bookworm/latest';
      return { url: `${dir}/debian-12-genericcloud-${arch}.qcow2`, checksum: `file:${dir}/SHA512SUMS` };
    }
    case 'flatcar': {
      // The stable QEMU image and its DIGESTS file (sha256sum -c reads it). Nothing bakes it: a Flatcar node is the
      // stock image plus the Ignition config (src/emit/ignition.ts); this names what it is installed from.
      const dir = `https://stable.release.flatcar-linux.net/${arch}-usr/current`;
      return { url: `${dir}/flatcar_production_qemu_image.img`, checksum: `file:${dir}/flatcar_production_qemu_image.img.DIGESTS` };
    }
  }
}

export function planOs(family: OsFamily, arch: Arch): PlanOs {
  return {
    family,
    packageManager: isFlatcar(family) ? 'none' : isRpmFamily(family) ? 'dnf' : 'apt',
    codename: CODENAME[family],
    cloudImage: cloudImage(family, arch),
  };
}

const trimSlash = (u: string) => u.replace(/\/+$/, '');

/**
 * How repositories.os replaces each family's archive: the hosts its cloud images (and cloud-init's mirror settings
 * in cloud.cfg, which re-render sources.list on a node's first boot) name, in an order where no rewrite feeds the
 * next. el9 means the Rocky Linux cloud image: its repo files carry a mirrorlist and a commented baseurl under
 * http://dl.rockylinux.org/$contentdir (= /pub/rocky), the layout every Rocky mirror copies.
 */
export function archiveMirror(family: OsFamily, url: string, security?: string): NonNullable<PlanOs['archive']> {
  const base = trimSlash(url);
  const apt = ['/etc/apt/sources.list', '/etc/apt/sources.list.d/*.list', '/etc/apt/sources.list.d/*.sources', '/etc/cloud/cloud.cfg', '/etc/cloud/cloud.cfg.d/*.cfg'];
  switch (family) {
    case 'debian-12':
      return {
        url: base,
        files: apt,
        rewrites: [
          { from: 'https?://(deb|security)\\.debian\\.org/debian-security', to: trimSlash(security ?? `${base}-security`) },
          { from: 'https?://deb\\.debian\\.org/debian', to: base },
        ],
      };
    case 'ubuntu-22.04':
    case 'ubuntu-24.04':
      return {
        url: base,
        files: apt,
        rewrites: [
          { from: 'https?://security\\.ubuntu\\.com/ubuntu', to: trimSlash(security ?? base) },
          { from: 'https?://([a-z]+\\.)?archive\\.ubuntu\\.com/ubuntu', to: base },
          { from: 'https?://ports\\.ubuntu\\.com/ubuntu-ports', to: base },
        ],
      };
    case 'el9':
      return {
        url: base,
        files: ['/etc/yum.repos.d/rocky*.repo'],
        rewrites: [
          { from: '^mirrorlist=', to: '#mirrorlist=' },
          { from: '^#?baseurl=https?://dl\\.rockylinux\\.org/\\$contentdir', to: `baseurl=${base}` },
        ],
      };
    case 'flatcar':
      // No distribution archive: Flatcar updates as a whole image (update_engine), and nothing is installed.
      return { url: base, files: [], rewrites: [] };
  }
}
