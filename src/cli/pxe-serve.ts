// `mkimage pxe serve|status|retry|reinstall`: the LAN-boot server and its per-MAC state. Owned by the serve
// work (issue 8).

import type { Io, Outcome } from './run.js';
import type { CommonFlags } from './commands.js';

export interface PxeServeFlags extends CommonFlags {
  dir?: string;
  listen?: string;
  state?: string;
  dhcpProxy?: boolean;
  natSource?: string[];
}

export async function pxeServe(_io: Io, _o: PxeServeFlags): Promise<Outcome> {
  return { diagnostics: [{ severity: 'error', code: 'E023', message: 'mkimage pxe serve is not implemented yet' }] };
}

export async function pxeStatus(_io: Io, _o: PxeServeFlags): Promise<Outcome> {
  return { diagnostics: [{ severity: 'error', code: 'E023', message: 'mkimage pxe status is not implemented yet' }] };
}

export async function pxeReset(_io: Io, _node: string, _to: 'retry' | 'reinstall', _o: PxeServeFlags): Promise<Outcome> {
  return { diagnostics: [{ severity: 'error', code: 'E023', message: 'mkimage pxe retry/reinstall is not implemented yet' }] };
}
