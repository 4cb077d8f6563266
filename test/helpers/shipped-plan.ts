// The shipped profiles (profiles/, clusters/), planned for one OS family and role by the real planner.

import { expect } from 'vitest';
import type { Diagnostic } from '../../src/diagnostics.js';
import { planRole } from '../../src/plan/build.js';
import type { NodePlan } from '../../src/plan/types.js';
import { loadInputs } from '../../src/profile/load.js';
import type { OsFamily } from '../../src/profile/types.js';

export const FAMILIES: OsFamily[] = ['el9', 'ubuntu-22.04', 'ubuntu-24.04', 'debian-12'];

/** The shipped `role` profile planned for `family` (Docker 24 has no noble packages: 24.04 takes 26 + cri-dockerd 0.3.10). */
export function shippedPlan(family: OsFamily, role: 'control-plane' | 'worker'): NodePlan {
  const loaded = loadInputs();
  if (!loaded.inputs) throw new Error(`shipped profiles do not load: ${JSON.stringify(loaded.diagnostics)}`);
  const { profiles, cluster } = loaded.inputs;
  const profile = [...profiles.values()].find((p) => p.value.role === role);
  if (!profile) throw new Error(`no shipped ${role} profile`);
  const p = structuredClone(profile);
  if (family === 'ubuntu-24.04') {
    p.value.docker.version = '26.1.4';
    p.value.criDockerd.version = '0.3.10';
  }
  const c = structuredClone(cluster);
  c.value.osFamily = family;
  const diags: Diagnostic[] = [];
  const plan = planRole(p, c, diags);
  expect(diags.filter((d) => d.severity === 'error')).toEqual([]);
  return plan;
}
