// Golden files are never written by a test run. The repo's own vitest configs are copied byte for byte into a
// temp project beside a test with one toMatchFileSnapshot whose golden file does not exist: the run must fail and
// write nothing, outside CI (where vitest's default, "new", would write it) as in CI, with either config. Then
// `npm run test:update-golden`'s command writes it, and a later plain run passes against it.

import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../src/template.js';
import { scratchDirs } from './helpers/tmp.js';

const SCRIPT: string = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')).scripts['test:update-golden'];

const scratch = scratchDirs('mkimage-golden-');

function project(): string {
  const dir = scratch();
  for (const f of ['vitest.config.ts', 'vitest.e2e.config.ts', 'package.json']) copyFileSync(join(PACKAGE_ROOT, f), join(dir, f));
  symlinkSync(join(PACKAGE_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const test = "import { expect, it } from 'vitest';\nit('golden', async () => { await expect('the output\\n').toMatchFileSnapshot('./golden/out.txt'); });\n";
  for (const d of ['test', 'test/e2e']) {
    mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(join(dir, d, 'golden.test.ts'), test);
  }
  return dir;
}

/** The environment without CI and any snapshot override, plus `ci` if given. */
function env(ci: boolean): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, PATH: `${join(PACKAGE_ROOT, 'node_modules/.bin')}:${process.env.PATH ?? ''}` };
  for (const k of ['CI', 'UPDATE_SNAPSHOT', 'GITHUB_ACTIONS', 'VITEST', 'VITEST_MODE', 'VITEST_POOL_ID', 'VITEST_WORKER_ID', 'NODE_ENV', 'TEST']) delete e[k];
  if (ci) e.CI = 'true';
  return e;
}

function sh(dir: string, cmd: string, ci = false) {
  const r = spawnSync('sh', ['-c', cmd], { cwd: dir, env: env(ci), encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('golden files are never written by a test run', () => {
  it.each([
    { config: 'vitest.config.ts', file: 'test/golden.test.ts', golden: 'test/golden/out.txt', ci: false },
    { config: 'vitest.config.ts', file: 'test/golden.test.ts', golden: 'test/golden/out.txt', ci: true },
    { config: 'vitest.e2e.config.ts', file: 'test/e2e/golden.test.ts', golden: 'test/e2e/golden/out.txt', ci: false },
  ])('$config, $file missing its golden file, CI=$ci: fails, writes nothing', ({ config, file, golden, ci }) => {
    const dir = project();
    const r = sh(dir, `vitest run -c ${config} ${file}`, ci);
    expect(r.out).toMatch(/1 failed/);
    expect(r.status).not.toBe(0);
    expect(existsSync(join(dir, golden))).toBe(false);
  });

  it('npm run test:update-golden writes them; then a plain run passes, and a changed golden fails', () => {
    expect(SCRIPT).toMatch(/\bvitest run (-u|--update)\b/);
    const dir = project();
    const u = sh(dir, `${SCRIPT} test/golden.test.ts`);
    expect(u.out).toMatch(/1 passed/);
    expect(u.status).toBe(0);
    expect(readFileSync(join(dir, 'test/golden/out.txt'), 'utf8')).toBe('the output\n');
    const again = sh(dir, 'vitest run test/golden.test.ts', true);
    expect(again.status).toBe(0);
    writeFileSync(join(dir, 'test/golden/out.txt'), 'an old output\n');
    const changed = sh(dir, 'vitest run test/golden.test.ts');
    expect(changed.status).not.toBe(0);
    expect(readFileSync(join(dir, 'test/golden/out.txt'), 'utf8')).toBe('an old output\n');
  });
});
