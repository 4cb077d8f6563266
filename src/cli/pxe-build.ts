// `mkimage pxe build`: the LAN-boot directory (out/pxe/). Owned by the pxe-build work (issue 8).

import type { Io, Outcome } from './run.js';
import type { CommonFlags } from './commands.js';

export interface PxeBuildFlags extends CommonFlags {
  out?: string;
  /** a path, or false for --no-image (commander's negated option) */
  image?: string | false;
  server?: string;
  role?: string;
}

export async function pxeBuild(_io: Io, _o: PxeBuildFlags): Promise<Outcome> {
  return { diagnostics: [{ severity: 'error', code: 'E023', message: 'mkimage pxe build is not implemented yet' }] };
}
