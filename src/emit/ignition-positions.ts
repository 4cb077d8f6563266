// Where a part of an Ignition config came from: the translation set of src/emit/ignition.ts maps a JSON path to a
// plan entry, and the planner set each entry's source (the profile or inventory line that produced it:
// src/plan/types.ts Sourced). So a problem found in the emitted config (by the check in ignition-check.ts, or by
// the real ignition-validate) is reported at that line. An entry of mkimage's own with no setting behind it (the
// node's PKI, kubeadm config, first-boot files, host name and network) is the node's: its inventory entry.

import type { Position } from '../diagnostics.js';
import type { NodePlan } from '../plan/types.js';
import { planRefAt, type PlanRef } from './ignition.js';

/** The source position behind a JSON path of a node's config (undefined when the path is not translated). */
export function ignitionPosition(
  jsonPath: string,
  translations: ReadonlyMap<string, PlanRef>,
  plan: NodePlan,
): { ref: PlanRef; at: Position | undefined } | undefined {
  const ref = planRefAt(translations, jsonPath);
  if (ref === undefined) return undefined;
  return { ref, at: ref.source ?? plan.node?.source };
}
