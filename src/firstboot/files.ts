// The first-boot unit and script: baked into every golden image (phase bake, no secrets), driven at boot by the
// per-node seed files that src/cluster/ writes (bootstrap.env + kubeadm.yaml).

import { templateText } from '../template.js';
import type { PlanFile, PlanUnit } from '../plan/types.js';

export const FIRSTBOOT_SCRIPT = '/usr/local/libexec/mkimage/firstboot.sh';
export const FIRSTBOOT_UNIT = 'mkimage-firstboot.service';
export const FIRSTBOOT_UNIT_PATH = `/etc/systemd/system/${FIRSTBOOT_UNIT}`;
export const FIRSTBOOT_DONE = '/var/lib/mkimage/firstboot.done';
export const FIRSTBOOT_FAILED = '/var/lib/mkimage/firstboot.failed';
export const FIRSTBOOT_LOG = '/var/log/mkimage-firstboot.log';

const read = (name: string) => templateText(`firstboot/${name}`);

export function firstbootScript(): string {
  return read('firstboot.sh');
}

export function firstbootBakeItems(): { files: PlanFile[]; units: PlanUnit[] } {
  return {
    files: [{ path: FIRSTBOOT_SCRIPT, mode: '0755', owner: 'root:root', content: firstbootScript(), phase: 'bake' }],
    units: [
      {
        name: FIRSTBOOT_UNIT,
        path: FIRSTBOOT_UNIT_PATH,
        content: read(FIRSTBOOT_UNIT),
        enable: true,
        start: true,
        phase: 'bake',
      },
    ],
  };
}
