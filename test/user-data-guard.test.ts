// The pipeline's guard against user-data keys no cloud-init module reads (src/pipeline.ts nodeSeed): cloud-init
// ignores such a key without a word, so a seed renderer that misspells one (write_file for write_files) would
// ship nodes that boot without their files. No input can make the real renderer do that (its keys are fixed),
// so the renderer's bug is a FAKE: renderSeed, wrapped to add a stray top-level key while `misspell` is set.
// The guard must stop the render with mkimage's internal error before anything is written, secrets included.

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { nodeSeed, renderRole } from '../src/pipeline.js';
import { fixturePlan } from './fixtures/plan.js';
import { scratchDirs } from './helpers/tmp.js';

const fault = vi.hoisted(() => ({ misspell: undefined as string | undefined }));

vi.mock('../src/emit/cloud-init.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/emit/cloud-init.js')>();
  return {
    ...real,
    // FAKE: the real renderer, plus one stray top-level key while a test asks for it
    renderSeed: (...args: Parameters<typeof real.renderSeed>) => {
      const seed = real.renderSeed(...args);
      return fault.misspell === undefined ? seed : { ...seed, userData: seed.userData.replace(/^write_files:/m, `${fault.misspell}:`) };
    },
  };
});

const scratch = scratchDirs('mkimage-udguard-');
afterEach(() => {
  fault.misspell = undefined;
});

describe('the unknown user-data key guard', () => {
  it('passes the real renderer\'s seed through unchanged', () => {
    const seed = nodeSeed(fixturePlan(), 'baked');
    expect(seed.userData).toMatch(/^write_files:/m);
  });

  it('refuses a seed with a key cloud-init does not read, naming the node and the key', () => {
    fault.misspell = 'write_file';
    const plan = fixturePlan();
    expect(() => nodeSeed(plan, 'baked')).toThrow(`internal: user-data for ${plan.node!.name} has unknown keys write_file`);
  });

  it('stops `render` before anything is written: no out/, no secrets', async () => {
    fault.misspell = 'write_file';
    const cwd = scratch();
    await expect(renderRole({ role: 'worker', cwd, packerVersion: '1.6.6' })).rejects.toThrow(/^internal: user-data for \S+ has unknown keys write_file$/);
    expect(readdirSync(cwd)).toEqual([]);
    expect(existsSync(join(cwd, 'out'))).toBe(false);
  });

  it('the same render without the fault writes the role (the control)', async () => {
    const cwd = scratch();
    const r = await renderRole({ role: 'worker', cwd, packerVersion: '1.6.6' });
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(readdirSync(join(cwd, 'out/worker/seeds')).length).toBeGreaterThan(0);
  });
});
