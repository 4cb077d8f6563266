// `--build` stages the artifacts into out/<role>/packer and Packer reads that directory for the whole build, so
// the build holds the render's lock on out/<role>: a render or a second `--build` of the role meanwhile waits,
// then stops with the lock's E017 (exit 2) instead of swapping out/<role> away under the running build.
// Packer is a FAKE on PATH (no build VM can run here) that stays in its build until the test lets it end.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildGoldenImage, BUILD_FAILED } from '../src/cli/build.js';
import type { Io } from '../src/cli/run.js';
import { mkimage } from './helpers/cli.js';
import { fixturePlan } from './fixtures/plan.js';
import { scratchDirs } from './helpers/tmp.js';
import { filesUnder } from './helpers/tree.js';

const scratch = scratchDirs('mkimage-buildlock-');
const saved = { PATH: process.env.PATH, wait: process.env.MKIMAGE_TEST_LOCK_WAIT_MS, cache: process.env.XDG_CACHE_HOME };
afterEach(() => {
  process.env.PATH = saved.PATH;
  for (const [k, v] of [['MKIMAGE_TEST_LOCK_WAIT_MS', saved.wait], ['XDG_CACHE_HOME', saved.cache]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

/** A FAKE packer whose build runs until `release` exists, then fails as a self-check does (exit 1). */
function slowPacker(dir: string): { started: string; release: string } {
  const bin = join(dir, 'bin');
  const started = join(dir, 'started');
  const release = join(dir, 'release');
  const put = (name: string, body: string) => writeFileSync(join(bin, name), `#!/bin/sh\n# FAKE ${name}\n${body}`, { mode: 0o755 });
  mkdirSync(bin);
  put('packer', [
    'case "$1" in version|-version|--version) echo 1.6.6; exit 0 ;; esac',
    `echo "$*" >>${started}`,
    'echo "==> qemu.golden: Provisioning with shell script: ./scripts/selfcheck.sh"',
    `while [ ! -e ${release} ]; do sleep 0.05; done`,
    'exit 1',
    '',
  ].join('\n'));
  for (const t of ['qemu-system-x86_64', 'xorriso']) put(t, 'exit 0\n');
  process.env.PATH = `${bin}:${saved.PATH ?? '/usr/bin:/bin'}`;
  return { started, release };
}

/** Every file of the tree with its bytes. */
const snapshot = (dir: string) => filesUnder(dir).sort().map((f) => [f, readFileSync(join(dir, f), 'latin1')]);

async function until(f: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('--build holds the output lock of out/<role>', () => {
  it('a render and a second --build during a build stop with E017 (exit 2) and leave out/<role> as the build staged it', async () => {
    const cwd = scratch();
    expect((await mkimage(cwd, 'worker', '--packer-version', '1.6.6')).code).toBe(0);
    const out = join(cwd, 'out/worker');
    const fake = slowPacker(scratch());
    process.env.MKIMAGE_TEST_LOCK_WAIT_MS = '300';
    process.env.XDG_CACHE_HOME = join(cwd, 'cache');

    let err = '';
    const io: Io = { out: () => {}, err: (s) => void (err += s), color: false, tty: false, cwd, exitCode: 0 };
    const plan = fixturePlan(false);
    plan.artifacts = [];
    const first = buildGoldenImage(io, plan, join(out, 'packer'), join(cwd, 'images/homelab/worker'), { offline: true, lockFile: join(cwd, 'mkimage.lock') });
    await until(() => existsSync(fake.started));
    const during = snapshot(out);

    const render = await mkimage(cwd, 'worker', '--packer-version', '1.6.6');
    expect(render.code).toBe(2);
    expect(render.err).toContain(`error[E017]: ${out} is being written by another mkimage (pid ${process.pid})`);
    expect(render.err).toContain(`delete ${join(cwd, 'out/.worker.lock')}`);
    const second = await mkimage(cwd, 'worker', '--build', '--offline', '--packer-version', '1.6.6');
    expect(second.code).toBe(2);
    expect(second.err).toContain('error[E017]');
    expect(second.err).not.toContain('==> packer build');
    expect(snapshot(out)).toEqual(during);
    expect(readFileSync(fake.started, 'utf8').split('\n').filter((l) => l !== '')).toHaveLength(1);

    writeFileSync(fake.release, '');
    expect(await first).toBe(BUILD_FAILED);
    expect(err).toContain('==> the build failed (packer exit 1)');
    // released: the next render goes through
    expect(existsSync(join(cwd, 'out/.worker.lock'))).toBe(false);
    expect((await mkimage(cwd, 'worker', '--packer-version', '1.6.6')).code).toBe(0);
  });
});
