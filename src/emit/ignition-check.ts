// The Ignition rules a profile can break, checked on the emitted config before anything is written, so the error
// points at the profile line (src/emit/ignition-positions.ts) instead of surfacing on a booting node. The rules are
// Ignition's own (config/v3_3 validation, as `ignition-validate` reports them): absolute, fully simplified paths
// (no "//", "/./", trailing "/") and no two entries for one path or unit. `ignitionProblemsFrom` reads the real
// ignition-validate's report the same way, so both land on the same line.

import { posix } from 'node:path';
import { error, type Diagnostic } from '../diagnostics.js';
import type { NodePlan } from '../plan/types.js';
import type { IgnitionConfig, PlanRef } from './ignition.js';
import { ignitionPosition } from './ignition-positions.js';

export interface IgnitionProblem {
  /** "$.storage.files.3.path" */
  jsonPath: string;
  /** Ignition's wording */
  message: string;
}

const simplified = (p: string) => p.startsWith('/') && (p === '/' || (posix.normalize(p) === p && !p.endsWith('/')));

export function checkIgnitionConfig(config: IgnitionConfig): IgnitionProblem[] {
  const problems: IgnitionProblem[] = [];
  const seen = new Set<string>();
  const entry = (kind: 'files' | 'links', i: number, path: string) => {
    const at = `$.storage.${kind}.${i}`;
    if (!path.startsWith('/')) problems.push({ jsonPath: `${at}.path`, message: 'path not absolute' });
    else if (!simplified(path)) problems.push({ jsonPath: `${at}.path`, message: 'path is not fully simplified' });
    if (seen.has(path)) problems.push({ jsonPath: at, message: 'duplicate entry defined' });
    seen.add(path);
  };
  config.storage.files.forEach((f, i) => entry('files', i, f.path));
  config.storage.links.forEach((l, i) => entry('links', i, l.path));
  const units = new Set<string>();
  config.systemd.units.forEach((u, i) => {
    if (units.has(u.name)) problems.push({ jsonPath: `$.systemd.units.${i}`, message: 'duplicate entry defined' });
    units.add(u.name);
  });
  return problems;
}

/** ignition-validate's report: "error at $.storage.files.0.path, line 1 col 61: path is not fully simplified". */
export function ignitionProblemsFrom(report: string): IgnitionProblem[] {
  const out: IgnitionProblem[] = [];
  for (const line of report.split('\n')) {
    const m = /^(?:error|warning) at (\$[^,]*), line \d+ col \d+: (.*)$/.exec(line.trim());
    if (m) out.push({ jsonPath: m[1]!, message: m[2]! });
  }
  return out;
}

function fix(problem: IgnitionProblem, ref: PlanRef | undefined): string {
  const path = ref?.kind === 'file' || ref?.kind === 'link' ? ref.path : undefined;
  if (problem.message === 'path is not fully simplified' && path !== undefined) {
    return `write it as ${posix.normalize(path).replace(/(.)\/$/, '$1')}`;
  }
  if (problem.message === 'duplicate entry defined') return 'give each path one entry';
  return 'change the setting this line gives';
}

/** Positioned diagnostics (E007) for problems in one node's config, at the sources of the plan entries behind them. */
export function ignitionDiagnostics(problems: readonly IgnitionProblem[], translations: ReadonlyMap<string, PlanRef>, plan: NodePlan): Diagnostic[] {
  return problems.map((p) => {
    const where = ignitionPosition(p.jsonPath, translations, plan);
    const what = where?.ref.kind === 'file' || where?.ref.kind === 'link' ? ` (${where.ref.path})` : '';
    return error(
      'E007',
      `node ${plan.node?.name ?? plan.profile}: Ignition refuses its config at ${p.jsonPath}${what}: ${p.message}: ${fix(p, where?.ref)}`,
      where?.at,
    );
  });
}
