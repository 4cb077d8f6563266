// writeTreeAtomic refuses a tree it cannot write whole, before it writes anything.

import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeTreeAtomic } from '../src/output.js';

describe('writeTreeAtomic', () => {
  it.each([
    [[{ path: 'a/x', content: '1' }, { path: 'a/./x', content: '2' }], /two files at one path: a\/x/],
    [[{ path: 'etc/foo', content: '1' }, { path: 'etc/foo/bar', content: '2' }], /etc\/foo is a file in the same tree/],
    [[{ path: '../escape', content: '1' }], /outside the output tree/],
  ])('refuses %j and leaves nothing behind', async (files, message) => {
    const parent = mkdtempSync(join(tmpdir(), 'mkimage-tree-'));
    const dest = join(parent, 'out');
    await expect(writeTreeAtomic(dest, files)).rejects.toThrow(message);
    expect(existsSync(dest)).toBe(false);
    expect(readdirSync(parent)).toEqual([]);
  });

  it('writes a well-formed tree', async () => {
    const dest = join(mkdtempSync(join(tmpdir(), 'mkimage-tree-')), 'out');
    await writeTreeAtomic(dest, [{ path: 'etc/foo/bar', content: '2' }, { path: 'etc/baz', content: '1', mode: 0o600 }]);
    expect(readdirSync(join(dest, 'etc')).sort()).toEqual(['baz', 'foo']);
  });
});
