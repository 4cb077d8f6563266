// `mkimage <role> --build`: fetch and verify the artifacts into the Packer directory, then run packer build,
// streaming its output by phase. Packer's exit code passes through.

import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import type { NodePlan } from '../plan/types.js';
import { materialise, type FetchOptions } from '../fetch/index.js';
import { runPackerBuild } from '../packer/run.js';
import type { Io } from './run.js';

export async function buildGoldenImage(io: Io, plan: NodePlan, packerDir: string, fetchOpts: FetchOptions): Promise<number> {
  const say = (line: string) => io.err(`${line}\n`);
  say(`==> artifacts: ${plan.artifacts.map((a) => `${a.name} ${a.version}`).join(', ')}`);
  const dest = join(packerDir, 'artifacts');
  await mkdir(dest, { recursive: true });
  for (const a of plan.artifacts) {
    await materialise(a, fetchOpts, dest);
  }
  say(`==> packer build (${packerDir})`);
  return runPackerBuild(packerDir, { onLine: say });
}
