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
};

export const isRpmFamily = (family: OsFamily) => family === 'el9';

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
  }
}

export function planOs(family: OsFamily, arch: Arch): PlanOs {
  return {
    family,
    packageManager: isRpmFamily(family) ? 'dnf' : 'apt',
    codename: CODENAME[family],
    cloudImage: cloudImage(family, arch),
  };
}
