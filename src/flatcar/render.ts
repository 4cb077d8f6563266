// The Flatcar part of `mkimage <role>`: for the role's Flatcar nodes, out/<role>/ignition/<node>.ign (0600: it
// carries the bootstrap token, and on control planes the CA keys) and out/<role>/ignition/files/, the files those
// configs download (to be served from the cluster's first artifactMirrors directory). Stages as everywhere: the
// configs are emitted and checked against Ignition's rules first (a problem is reported at its profile line), then
// the downloads are made from the cache and their sha512 filled in, then the configs are emitted for real.

import { hasErrors, type Diagnostic } from '../diagnostics.js';
import { FetchError, type FetchOptions } from '../fetch/index.js';
import type { OutFile } from '../output.js';
import type { NodePlan } from '../plan/types.js';
import { renderIgnition } from '../emit/ignition.js';
import { checkIgnitionConfig, ignitionDiagnostics } from '../emit/ignition-check.js';
import { deliverFlatcar } from './deliver.js';

export const IGNITION_DIR = 'ignition';
export const SERVED_DIR = `${IGNITION_DIR}/files`;

/** What the render needs beside the plans (whose entries carry their own source positions). */
export interface FlatcarRenderContext {
  fetch: FetchOptions;
  epochSeconds: number;
}

/** A copy whose downloads carry a stand-in sum: enough to emit and check the config's shape before anything is made. */
function withStandInSums(plan: NodePlan): NodePlan {
  const copy = structuredClone(plan);
  for (const d of copy.flatcar?.downloads ?? []) d.sha512 ??= '0'.repeat(128);
  return copy;
}

/** The output files for these (Flatcar, per-node) plans; undefined after pushing the diagnostics that stop it. */
export async function renderFlatcarNodes(plans: NodePlan[], ctx: FlatcarRenderContext, diags: Diagnostic[]): Promise<OutFile[] | undefined> {
  for (const p of plans) {
    const shape = renderIgnition(withStandInSums(p));
    diags.push(...ignitionDiagnostics(checkIgnitionConfig(shape.config), shape.translations, p));
  }
  if (hasErrors(diags)) return undefined;
  let served;
  try {
    served = await deliverFlatcar(plans, ctx.fetch, ctx.epochSeconds);
  } catch (e) {
    if (e instanceof FetchError) {
      diags.push(e.toDiagnostic());
      return undefined;
    }
    throw e;
  }
  const files: OutFile[] = [];
  for (const p of plans) {
    files.push({ path: `${IGNITION_DIR}/${p.node!.name}.ign`, content: renderIgnition(p).text, mode: 0o600 });
  }
  for (const s of served) files.push({ path: `${SERVED_DIR}/${s.file}`, content: s.content, mode: 0o644 });
  return files;
}
