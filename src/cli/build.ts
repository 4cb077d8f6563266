// `mkimage <role> --build`: fetch and verify the artifacts into the Packer directory, then run packer build,
// streaming its output by phase, into the role's image directory (replaced only when the build succeeds).
// A build that ran and failed exits BUILD_FAILED (4), never 1 (a bug in mkimage) or Packer's own code.
// It stages into out/<role>/packer and Packer reads from there, so it holds the render's lock on out/<role>
// (src/output-lock.ts) throughout: a render or another --build of the role waits, then stops with E017 (exit 2).

import { dirname, join, relative } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { defaultLockWaitMs, lockOutput } from '../output-lock.js';
import type { NodePlan } from '../plan/types.js';
import { materialise, type FetchOptions } from '../fetch/index.js';
import { runPackerBuild } from '../packer/run.js';
import type { Io } from './run.js';

/** Exit code of `--build` when Packer ran and failed (init, build, provisioners, self-check, export). */
export const BUILD_FAILED = 4;

export async function buildGoldenImage(
  io: Io,
  plan: NodePlan,
  packerDir: string,
  imageDir: string,
  fetchOpts: FetchOptions,
): Promise<number> {
  const lock = await lockOutput(dirname(packerDir), defaultLockWaitMs());
  try {
    return await stageAndBuild(io, plan, packerDir, imageDir, fetchOpts);
  } finally {
    lock.release();
  }
}

async function stageAndBuild(io: Io, plan: NodePlan, packerDir: string, imageDir: string, fetchOpts: FetchOptions): Promise<number> {
  const say = (line: string) => io.err(`${line}\n`);
  say(`==> artifacts: ${plan.artifacts.map((a) => `${a.name} ${a.version}`).join(', ')}`);
  const dest = join(packerDir, 'artifacts');
  await mkdir(dest, { recursive: true });
  for (const a of plan.artifacts) {
    await materialise(a, fetchOpts, dest);
  }
  const shown = relative(io.cwd, imageDir) || imageDir;
  say(`==> packer build (${relative(io.cwd, packerDir) || packerDir}) into ${shown}/`);
  const code = await runPackerBuild(packerDir, { onLine: say, outputDir: imageDir });
  if (code === 0) {
    say(`==> built ${shown}/`);
    return 0;
  }
  say(`==> the build failed (packer exit ${code}): ${shown}/ was left as it was; see the [phase] lines above`);
  return BUILD_FAILED;
}
