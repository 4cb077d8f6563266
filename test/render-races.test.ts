// Real renders (the built CLI, `node dist/src/cli.js worker --out ...`) racing each other and killed mid-swap.
// Whatever happens, out/worker is the old or the new complete tree, and once the next render has run nothing but
// out/worker is left beside it: no temp tree, no moved-aside copy (they hold seeds with the token), no lock.
// The kills stop a render at a named step of the swap with the MKIMAGE_TEST_PAUSE_AT test hook (src/output.ts).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../src/template.js';
import { discoveryHash } from '../src/cluster/pki.js';
import { filesUnder } from './helpers/tree.js';
import { scratchDirs } from './helpers/tmp.js';

const CLI = join(PACKAGE_ROOT, 'dist/src/cli.js');

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

const scratch = scratchDirs('mkimage-races-');

/** A workspace with two versions of the profiles (p-old, p-new: the worker's packages differ). */
function workspace(): string {
  const cwd = scratch();
  for (const [dir, pkg] of [['p-old', 'htop'], ['p-new', 'tmux']] as const) {
    cpSync(join(PACKAGE_ROOT, 'profiles'), join(cwd, dir), { recursive: true });
    const wp = join(cwd, dir, 'worker.yaml');
    writeFileSync(wp, readFileSync(wp, 'utf8').replace(/^extends: base$/m, `extends: base\nextraPackages: [${pkg}]`));
  }
  return cwd;
}

function start(cwd: string, version: 'old' | 'new', env: NodeJS.ProcessEnv = {}): { child: ChildProcess; exit: Promise<Exit> } {
  const child = spawn(process.execPath, [CLI, 'worker', '--out', 'out/worker', '--profiles', `p-${version}`], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => void (stderr += b.toString()));
  const exit = new Promise<Exit>((res) => child.on('close', (code, signal) => res({ code, signal, stderr })));
  return { child, exit };
}

function render(cwd: string, version: 'old' | 'new'): void {
  const r = spawnSync(process.execPath, [CLI, 'worker', '--out', 'out/worker', '--profiles', `p-${version}`], { cwd, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
}

/** Every file of a tree by relative path: its mode and the sha256 of its content. */
function snapshot(dir: string): Map<string, string> {
  const sum = (f: string) => createHash('sha256').update(readFileSync(join(dir, f))).digest('hex');
  return new Map(filesUnder(dir).map((f) => [f, `${(statSync(join(dir, f)).mode & 0o777).toString(8)} ${sum(f)}`]));
}

/** Which complete tree `dir` is: 'old', 'new', 'missing', or 'broken' (anything else). */
function whichTree(dir: string, trees: { old: Map<string, string>; new: Map<string, string> }): string {
  if (!existsSync(dir)) return 'missing';
  const now = snapshot(dir);
  for (const [name, t] of Object.entries(trees)) {
    if (now.size === t.size && [...t].every(([k, v]) => now.get(k) === v)) return name;
  }
  return 'broken';
}

/** The process has stopped itself (state T in /proc) at the hook's step. */
function isStopped(child: ChildProcess): boolean {
  try {
    const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('T');
  } catch {
    return false; // gone
  }
}

async function stopped(child: ChildProcess, exit: Promise<Exit>): Promise<void> {
  let ended: Exit | undefined;
  void exit.then((e) => (ended = e));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (ended) throw new Error(`the render ended before it reached the step: ${JSON.stringify(ended)}`);
    if (isStopped(child)) return;
    if (Date.now() > deadline) throw new Error('the render never reached the step');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const NO_STACK = /\n\s+at /;

describe('renders racing into one --out', () => {
  // Each render stops at every tree it writes (the secrets, the build key, out/worker) once its temp tree is
  // complete; when all have stopped they go on together, so they meet at each swap, not one after another.
  it('several first renders at once: each exits 0 (or E017 busy, exit 2), out/ never goes missing, every seed trusts the CA on disk', async () => {
    const cwd = workspace();
    const out = join(cwd, 'out/worker');
    const runs = Array.from({ length: 5 }, () => start(cwd, 'new', { MKIMAGE_TEST_PAUSE_AT: 'written' }));
    const done = new Map<ChildProcess, Exit>();
    for (const r of runs) void r.exit.then((e) => done.set(r.child, e));
    let seen = false;
    let missing = 0;
    const poll = setInterval(() => {
      const there = existsSync(join(out, '.mkimage-output'));
      if (there) seen = true;
      else if (seen) missing++;
    }, 1);
    for (;;) {
      const live = runs.filter((r) => !done.has(r.child));
      if (live.length === 0) break;
      if (live.every((r) => done.has(r.child) || isStopped(r.child))) {
        for (const r of live) r.child.kill('SIGCONT');
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    clearInterval(poll);
    const exits = runs.map((r) => done.get(r.child)!);
    for (const e of exits) {
      expect(NO_STACK.test(e.stderr), e.stderr).toBe(false);
      if (e.code !== 0) {
        expect(e.code, e.stderr).toBe(2);
        expect(e.stderr).toContain('error[E017]');
        expect(e.stderr).toContain('is being written by another mkimage');
      }
    }
    expect(exits.filter((e) => e.code === 0).length).toBeGreaterThan(0);
    expect(missing, 'out/worker was missing while renders swapped').toBe(0);
    expect(readdirSync(join(cwd, 'out'))).toEqual(['worker']);
    // the tree left is one whole render, made from the secrets and build key on disk: a render now is the same
    const raced = snapshot(out);
    render(cwd, 'new');
    expect(snapshot(out)).toEqual(raced);
    const hash = discoveryHash(readFileSync(join(cwd, 'clusters/homelab/secrets/ca.crt'), 'utf8'));
    for (const n of ['worker1', 'worker2']) expect(readFileSync(join(out, `seeds/${n}/user-data`), 'utf8')).toContain(hash);
  });

  it('a render that cannot get the lock says who holds it and how to go on (exit 2, no stack trace)', async () => {
    const cwd = workspace();
    render(cwd, 'old');
    const holder = start(cwd, 'new', { MKIMAGE_TEST_PAUSE_AT: 'locked' });
    try {
      await stopped(holder.child, holder.exit);
      const r = spawnSync(process.execPath, [CLI, 'worker', '--out', 'out/worker', '--profiles', 'p-new'], {
        cwd,
        encoding: 'utf8',
        env: { ...process.env, MKIMAGE_TEST_LOCK_WAIT_MS: '500' },
      });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toContain(`error[E017]: ${join(cwd, 'out/worker')} is being written by another mkimage (pid ${holder.child.pid})`);
      expect(r.stderr).toContain(`delete ${join(cwd, 'out/.worker.lock')}`);
      expect(r.stderr).not.toMatch(NO_STACK);
    } finally {
      holder.child.kill('SIGKILL');
      await holder.exit;
    }
  });
});

describe('a render killed at each step of the swap', () => {
  let cwd: string;
  let out: string;
  const trees = { old: new Map<string, string>(), new: new Map<string, string>() };
  beforeAll(() => {
    cwd = workspace();
    out = join(cwd, 'out/worker');
    render(cwd, 'new');
    trees.new = snapshot(out);
    render(cwd, 'old');
    trees.old = snapshot(out);
    expect(trees.old).not.toEqual(trees.new);
  }, 120_000);

  // renameat2 exchange (perl here), and the two-rename fallback; `during` is what a reader sees while stopped there
  it.each([
    { swap: 'exchange', step: 'written', during: 'old', after: 'old' },
    { swap: 'exchange', step: 'locked', during: 'old', after: 'old' },
    { swap: 'exchange', step: 'swapped', during: 'new', after: 'new' },
    { swap: 'rename', step: 'moved-aside', during: 'missing', after: 'missing' },
    { swap: 'rename', step: 'swapped', during: 'new', after: 'new' },
  ])('$swap, SIGKILL at "$step": out/ is $after; the next render cleans up and leaves no copy', async ({ swap, step, during, after }) => {
    const env = { MKIMAGE_TEST_PAUSE_AT: step, ...(swap === 'rename' && { MKIMAGE_TEST_EXCHANGE: 'rename' }) };
    const r = start(cwd, 'new', env);
    await stopped(r.child, r.exit);
    expect(whichTree(out, trees)).toBe(during);
    r.child.kill('SIGKILL');
    expect((await r.exit).signal).toBe('SIGKILL');
    expect(whichTree(out, trees)).toBe(after);
    expect(readdirSync(join(cwd, 'out')).length, 'the killed render left its temp tree').toBeGreaterThan(after === 'missing' ? 0 : 1);
    if (after === 'missing') {
      // the documented fallback window: the old tree is whole beside it, and the next render puts it back first
      const aside = readdirSync(join(cwd, 'out')).find((n) => n.endsWith('.old'));
      expect(whichTree(join(cwd, 'out', aside!), trees)).toBe('old');
    }
    render(cwd, 'old');
    expect(whichTree(out, trees)).toBe('old');
    expect(readdirSync(join(cwd, 'out'))).toEqual(['worker']);
  });

  // (the swap itself is synchronous: a signal that arrives just before it is handled right after it)
  it('SIGTERM while it holds the lock: it ends by SIGTERM, its temp tree and the lock go with it', async () => {
    const r = start(cwd, 'new', { MKIMAGE_TEST_PAUSE_AT: 'locked' });
    await stopped(r.child, r.exit);
    expect(readdirSync(join(cwd, 'out')).sort()).toEqual(expect.arrayContaining(['.worker.lock', 'worker']));
    r.child.kill('SIGTERM');
    r.child.kill('SIGCONT');
    expect((await r.exit).signal).toBe('SIGTERM');
    expect(['old', 'new']).toContain(whichTree(out, trees));
    expect(readdirSync(join(cwd, 'out'))).toEqual(['worker']);
  });
});
