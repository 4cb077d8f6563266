// writeTreeAtomic refuses a tree it cannot write whole, before it writes anything, and swaps it in under a lock.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeTreeAtomic } from '../src/output.js';
import { PACK_LIMIT, WRITE_AHEAD } from '../src/tree-writer.js';
import { OutputBusyError, ownerOf } from '../src/output-lock.js';
import { renameExchange } from '../src/rename-exchange.js';
import { scratchDirs } from './helpers/tmp.js';

const tmp = scratchDirs('mkimage-');

describe('writeTreeAtomic', () => {
  it.each([
    [[{ path: 'a/x', content: '1' }, { path: 'a/./x', content: '2' }], /two files at one path: a\/x/],
    [[{ path: 'etc/foo', content: '1' }, { path: 'etc/foo/bar', content: '2' }], /etc\/foo is a file in the same tree/],
    [[{ path: '../escape', content: '1' }], /outside the output tree/],
  ])('refuses %j and leaves nothing behind', async (files, message) => {
    const parent = tmp('tree');
    const dest = join(parent, 'out');
    await expect(writeTreeAtomic(dest, files)).rejects.toThrow(message);
    expect(existsSync(dest)).toBe(false);
    expect(readdirSync(parent)).toEqual([]);
  });

  it.each([
    ['a file of a later batch at the path of an earlier one', [[{ path: 'seeds/n1/user-data', content: '2' }]]],
    ['a file where an earlier batch needs a directory', [[{ path: 'seeds', content: 'x' }]]],
    ['a directory where an earlier batch has a file', [[{ path: 'plan.json/x', content: 'x' }]]],
    ['a later batch that repeats itself', [[{ path: 'seeds/n2/a', content: '1' }], [{ path: 'seeds/n3/a', content: '1' }, { path: 'seeds/n3/a', content: '2' }]]],
  ])('refuses %s among the lazily made files, and leaves the old tree as it was', async (_what, more) => {
    const parent = tmp('tree');
    const dest = join(parent, 'out');
    const first = [{ path: 'plan.json', content: 'old' }, { path: 'seeds/n1/user-data', content: 'old', mode: 0o600 }];
    await writeTreeAtomic(dest, first);
    await expect(writeTreeAtomic(dest, [{ path: 'plan.json', content: 'new' }, { path: 'seeds/n1/user-data', content: '1' }], { more })).rejects.toThrow(/refusing to write/);
    expect(readFileSync(join(dest, 'plan.json'), 'utf8')).toBe('old');
    expect(readdirSync(parent)).toEqual(['out']);
  });

  it(`writes lazily made batches at most ${WRITE_AHEAD} behind the maker, with the modes asked for whatever the umask`, async () => {
    const parent = tmp('tree');
    const dest = join(parent, 'out');
    const tempTree = () => readdirSync(parent).filter((n) => n.startsWith('.out.tmp-')).map((n) => join(parent, n))[0]!;
    const seenWritten: boolean[] = [];
    const N = WRITE_AHEAD + 6;
    const behind = WRITE_AHEAD + 1;
    function* batches() {
      for (let k = 0; k < N; k++) {
        // when batch k is made, batch k-behind is on disk already: the writer holds at most WRITE_AHEAD batches
        if (k >= behind) seenWritten.push(existsSync(join(tempTree(), `seeds/n${k - behind}/user-data`)));
        yield [{ path: `seeds/n${k}/user-data`, content: `u${k}`, mode: 0o600 }, { path: `seeds/n${k}/meta-data`, content: `m${k}` }, { path: `seeds/n${k}/run.sh`, content: 'x', mode: 0o755 }];
      }
    }
    const saved = process.umask(0o077);
    try {
      await writeTreeAtomic(dest, [{ path: 'plan.json', content: '{}' }], { more: batches() });
    } finally {
      process.umask(saved);
    }
    expect(seenWritten).toEqual(Array.from({ length: N - behind }, () => true));
    for (let k = 0; k < N; k++) {
      expect(readFileSync(join(dest, `seeds/n${k}/user-data`), 'utf8')).toBe(`u${k}`);
      expect(statSync(join(dest, `seeds/n${k}/user-data`)).mode & 0o7777).toBe(0o600);
      expect(statSync(join(dest, `seeds/n${k}/meta-data`)).mode & 0o7777).toBe(0o644); // widened back past umask 077
      expect(statSync(join(dest, `seeds/n${k}/run.sh`)).mode & 0o7777).toBe(0o755);
    }
    expect(readdirSync(parent)).toEqual(['out']);
  });

  it('a write that fails in the writer thread is the system call\'s own error; the old tree stays, no temp tree is left', async () => {
    const parent = tmp('tree');
    const dest = join(parent, 'out');
    await writeTreeAtomic(dest, [{ path: 'old', content: 'old' }]);
    function* batches() {
      for (let k = 0; k < 40; k++) {
        // bytes too (moved to the thread, not copied); batch 30 names a file longer than any file system allows
        yield [{ path: `seeds/n${k}/${k === 30 ? 'x'.repeat(300) : 'seed.iso'}`, content: new Uint8Array(70000).fill(k) }];
      }
    }
    const e = await writeTreeAtomic(dest, [{ path: 'plan.json', content: '{}' }], { more: batches() }).then(() => undefined, (x: NodeJS.ErrnoException) => x);
    expect(e?.code).toBe('ENAMETOOLONG');
    expect(e?.path).toContain(`seeds/n30/${'x'.repeat(300)}`);
    expect(readdirSync(parent)).toEqual(['out']);
    expect(readdirSync(dest)).toEqual(['old']);
    // the same batches without the bad name: every byte arrives
    function* good() {
      for (let k = 0; k < 40; k++) yield [{ path: `seeds/n${k}/seed.iso`, content: new Uint8Array(70000).fill(k) }];
    }
    await writeTreeAtomic(dest, [{ path: 'plan.json', content: '{}' }], { more: good() });
    for (const k of [0, 17, 39]) expect(readFileSync(join(dest, `seeds/n${k}/seed.iso`)).equals(Buffer.alloc(70000, k))).toBe(true);
  });

  it('the same bytes at two paths of a lazily made batch are both written (moved to the thread once)', async () => {
    const dest = join(tmp('tree'), 'out');
    const bytes = new Uint8Array(70000).fill(7);
    function* batches() {
      yield [{ path: 'a/x', content: bytes }, { path: 'a/y', content: bytes }];
    }
    await writeTreeAtomic(dest, [], { more: batches() });
    for (const name of ['x', 'y']) expect(readFileSync(join(dest, 'a', name)).equals(Buffer.alloc(70000, 7))).toBe(true);
  });

  it('packs each lazily made batch into one reused buffer: every file gets exactly its bytes, multi-byte text and shorter batches after longer ones included', async () => {
    const dest = join(tmp('tree'), 'out');
    const N = WRITE_AHEAD * 3; // the thread's buffers come back and carry later batches
    const text = (k: number) => `${'é中'.repeat((k * 7919) % 500)}${k}\n`;
    const bytes = (k: number) => new Uint8Array((k * 104729) % 90000).fill(k & 0xff);
    const kept: Uint8Array[] = [];
    function* batches() {
      for (let k = 0; k < N; k++) {
        const b = bytes(k);
        kept.push(b);
        yield [{ path: `n${k}/text`, content: text(k) }, { path: `n${k}/bytes`, content: b }, { path: `n${k}/empty`, content: '' }];
      }
    }
    await writeTreeAtomic(dest, [{ path: 'plan.json', content: '{}' }], { more: batches() });
    for (let k = 0; k < N; k++) {
      expect(readFileSync(join(dest, `n${k}/text`), 'utf8')).toBe(text(k));
      expect(readFileSync(join(dest, `n${k}/bytes`)).equals(Buffer.from(bytes(k)))).toBe(true);
      expect(readFileSync(join(dest, `n${k}/empty`)).length).toBe(0);
    }
    // copied, not moved: the maker's arrays are as they were
    expect(kept.every((b, k) => b.byteLength === bytes(k).byteLength)).toBe(true);
  });

  it(`moves a byte array of its own over ${PACK_LIMIT} bytes to the thread by itself, once when it is at two paths`, async () => {
    const dest = join(tmp('tree'), 'out');
    const big = new Uint8Array(PACK_LIMIT + 4096).fill(9);
    const slice = new Uint8Array(new ArrayBuffer(PACK_LIMIT * 3), PACK_LIMIT, PACK_LIMIT + 1).fill(3); // not its own buffer: copied
    function* batches() {
      yield [{ path: 'a/big', content: big }, { path: 'a/again', content: big }, { path: 'a/slice', content: slice }, { path: 'a/small', content: 'x' }];
    }
    await writeTreeAtomic(dest, [], { more: batches() });
    for (const name of ['big', 'again']) expect(readFileSync(join(dest, 'a', name)).equals(Buffer.alloc(PACK_LIMIT + 4096, 9))).toBe(true);
    expect(readFileSync(join(dest, 'a/slice')).equals(Buffer.alloc(PACK_LIMIT + 1, 3))).toBe(true);
    expect(readFileSync(join(dest, 'a/small'), 'utf8')).toBe('x');
    expect(big.byteLength).toBe(0); // moved: the render drops its seeds once written
    expect(slice.byteLength).toBe(PACK_LIMIT + 1);
  });

  it('writes a well-formed tree', async () => {
    const dest = join(tmp('tree'), 'out');
    await writeTreeAtomic(dest, [{ path: 'etc/foo/bar', content: '2' }, { path: 'etc/baz', content: '1', mode: 0o600 }]);
    expect(readdirSync(join(dest, 'etc')).sort()).toEqual(['baz', 'foo']);
  });
});

// The swap: exchange where perl or python3 can make the renameat2 call, else two renames; a lock for one writer at
// a time; leftovers of dead writers cleaned. (test/render-races.test.ts runs real renders at once and kills them.)
describe('writeTreeAtomic swaps under a lock', () => {
  const parentDir = () => tmp('swap');
  const treeOf = (n: string) => [{ path: 'seeds/n1/user-data', content: `token ${n}`, mode: 0o600 }, { path: `only-${n}`, content: n }];
  const listing = (dir: string) => readdirSync(dir, { recursive: true }).map(String).sort();
  const withEnv = async (env: Record<string, string>, fn: () => Promise<void>) => {
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    try {
      await fn();
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
  };
  /** A process that has ended: its pid names no one (unless reused, which the start time tells apart). */
  const deadOwner = () => {
    const r = spawnSync('true');
    return `${r.pid}.1`;
  };

  it.each(['perl', 'python3'] as const)('%s makes the renameat2(RENAME_EXCHANGE) call: both names swap contents', (helper) => {
    const parent = parentDir();
    mkdirSync(join(parent, 'a'));
    mkdirSync(join(parent, 'b'));
    writeFileSync(join(parent, 'a/from-a'), '');
    writeFileSync(join(parent, 'b/from-b'), '');
    expect(renameExchange(join(parent, 'a'), join(parent, 'b'), helper)).toBe(true);
    expect(readdirSync(join(parent, 'a'))).toEqual(['from-b']);
    expect(readdirSync(join(parent, 'b'))).toEqual(['from-a']);
  });

  it.each(['perl', 'python3', 'rename'])('with %s, a second write replaces the first and leaves nothing beside it', async (how) => {
    const parent = parentDir();
    const dest = join(parent, 'out');
    await withEnv({ MKIMAGE_TEST_EXCHANGE: how }, async () => {
      await writeTreeAtomic(dest, treeOf('old'));
      await writeTreeAtomic(dest, treeOf('new'));
    });
    expect(listing(dest)).toEqual(['only-new', 'seeds', 'seeds/n1', 'seeds/n1/user-data']);
    expect(readFileSync(join(dest, 'seeds/n1/user-data'), 'utf8')).toBe('token new');
    expect(readdirSync(parent)).toEqual(['out']);
  });

  it('waits for a live writer, then fails with E017 naming its pid and the lock (the tree is left as it was)', async () => {
    const parent = parentDir();
    const dest = join(parent, 'out');
    await writeTreeAtomic(dest, treeOf('old'));
    const holder = spawn('sleep', ['30']);
    try {
      writeFileSync(join(parent, '.out.lock'), `${ownerOf(holder.pid!)}\n`);
      const e = await writeTreeAtomic(dest, treeOf('new'), { lockWaitMs: 300 }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(OutputBusyError);
      expect((e as OutputBusyError).code).toBe('E017');
      expect((e as Error).message).toContain(`being written by another mkimage (pid ${holder.pid})`);
      expect((e as Error).message).toContain(`delete ${join(parent, '.out.lock')}`);
      expect(readFileSync(join(dest, 'only-old'), 'utf8')).toBe('old');
      expect(readdirSync(parent).sort()).toEqual(['.out.lock', 'out']); // its temp tree is gone, the lock is not ours
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('takes over the lock of a writer that is gone, and releases it', async () => {
    const parent = parentDir();
    const dest = join(parent, 'out');
    writeFileSync(join(parent, '.out.lock'), `${deadOwner()}\n`);
    expect(await writeTreeAtomic(dest, treeOf('new'), { lockWaitMs: 0 })).toBe(true);
    expect(readdirSync(parent)).toEqual(['out']);
  });

  it("removes dead writers' temp trees (secrets in them too) and keeps a live writer's", async () => {
    const parent = parentDir();
    const dest = join(parent, 'out');
    const live = spawn('sleep', ['30']);
    try {
      const dead = deadOwner();
      for (const name of [`.out.tmp-${dead}-abcDEF`, `.out.tmp-${dead}-abcDEF.old`, '.out.tmp-x1Y2z3', `.out.tmp-${ownerOf(live.pid!)}-ghiJKL`, '.outer.tmp-x1Y2z3']) {
        mkdirSync(join(parent, name, 'seeds/n1'), { recursive: true });
        writeFileSync(join(parent, name, 'seeds/n1/user-data'), 'token', { mode: 0o600 });
      }
      await writeTreeAtomic(dest, treeOf('new'));
      expect(readdirSync(parent).sort()).toEqual([`.out.tmp-${ownerOf(live.pid!)}-ghiJKL`, '.outer.tmp-x1Y2z3', 'out']);
    } finally {
      live.kill('SIGKILL');
    }
  });

  it('puts back a tree that a killed fallback swap had moved aside (out/ missing) before it goes on', async () => {
    const parent = parentDir();
    const dest = join(parent, 'out');
    const dead = deadOwner();
    // what two-rename swap leaves when killed between its renames: the old tree aside, the new one complete
    await writeTreeAtomic(join(parent, `.out.tmp-${dead}-abcDEF.old`), treeOf('old'));
    await writeTreeAtomic(join(parent, `.out.tmp-${dead}-abcDEF`), treeOf('killed'));
    // keepExisting shows the state after the clean-up: the old tree is back, so nothing is written over it
    expect(await writeTreeAtomic(dest, treeOf('new'), { keepExisting: true })).toBe(false);
    expect(readFileSync(join(dest, 'only-old'), 'utf8')).toBe('old');
    expect(readdirSync(parent)).toEqual(['out']);
  });
});
