// `mkimage ikuai-gateway --router URL [--apply]`: push the gateway plan to an iKuai router through its API.
// Owned by the router work (issue 8).

import type { Io, Outcome } from './run.js';
import type { RenderFlags } from './commands.js';

export interface RouterFlags extends RenderFlags {
  router?: string;
  apply?: boolean;
  api?: 'auto' | '3' | '4';
  user?: string;
  insecure?: boolean;
  fingerprint?: string;
}

export async function ikuaiApply(_io: Io, _o: RouterFlags): Promise<Outcome> {
  return { diagnostics: [{ severity: 'error', code: 'E020', message: 'mkimage ikuai-gateway --router is not implemented yet' }] };
}
