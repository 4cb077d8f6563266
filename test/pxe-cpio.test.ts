// The initramfs cpio writer, read back by two independent readers: GNU cpio (`cpio -itv`, `cpio -id`) and busybox's
// cpio (what the kernel's unpacker is closest to in behaviour: newc only). Nothing is mocked.

import { readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeCpio, type CpioEntry } from '../src/pxe/cpio.js';
import { run } from './helpers/tools.js';
import { scratchDirs } from './helpers/tmp.js';

const entries: CpioEntry[] = [
  { path: 'init', type: 'file', mode: 0o755, content: Buffer.from('#!/bin/sh\necho hi\n') },
  { path: 'lib/modules/6.1.0-x/kernel/fs/ext4/ext4.ko', type: 'file', mode: 0o644, content: Buffer.alloc(1001, 7) },
  { path: 'bin/sh', type: 'symlink', target: 'busybox' },
  { path: 'bin/busybox', type: 'file', mode: 0o755, content: Buffer.from('not really busybox') },
  { path: 'dev/console', type: 'chardev', mode: 0o600, major: 5, minor: 1 },
  { path: 'etc/empty', type: 'file', mode: 0o600, content: Buffer.alloc(0) },
];
const EPOCH = 1_700_000_000;
// run() hands stdin over as a string: every byte of these entries is ASCII, so latin1 keeps the archive intact
const tmp = scratchDirs('mkimage-cpio-');

describe('writeCpio (newc)', () => {
  const archive = Buffer.from(writeCpio(entries, EPOCH));

  it('is byte-identical for the same entries in any order', () => {
    expect(Buffer.from(writeCpio([...entries].reverse(), EPOCH)).equals(archive)).toBe(true);
    expect(Buffer.from(writeCpio(entries, EPOCH + 1)).equals(archive)).toBe(false);
  });

  it('lists every entry and each parent directory, sorted, owned by root, with the fixed mtime (GNU cpio)', () => {
    const r = run('cpio', ['-itv', '--quiet', '--numeric-uid-gid'], { input: archive.toString('latin1'), env: { ...process.env, TZ: 'UTC' } });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    // `-v` prints the mtime as "Nov 14  2023" (EPOCH) before each name
    for (const l of lines) expect(l).toMatch(/ Nov 14 +2023 /);
    const names = lines.map((l) => l.replace(/^.* 2023 /, ''));
    expect(names).toEqual([
      'bin', 'bin/busybox', 'bin/sh -> busybox', 'dev', 'dev/console', 'etc', 'etc/empty', 'init',
      'lib', 'lib/modules', 'lib/modules/6.1.0-x', 'lib/modules/6.1.0-x/kernel', 'lib/modules/6.1.0-x/kernel/fs',
      'lib/modules/6.1.0-x/kernel/fs/ext4', 'lib/modules/6.1.0-x/kernel/fs/ext4/ext4.ko',
    ]);
    for (const l of lines) expect(l.split(/\s+/).slice(2, 4)).toEqual(['0', '0']);
    expect(lines.find((l) => l.endsWith(' init'))).toMatch(/^-rwxr-xr-x/);
    expect(lines.find((l) => l.endsWith(' dev/console'))).toMatch(/^crw-------\s+1\s+0\s+0\s+5,\s+1 /);
    expect(lines.find((l) => l.endsWith(' lib'))).toMatch(/^drwxr-xr-x/);
    expect(lines.find((l) => l.endsWith(' etc/empty'))).toMatch(/^-rw-------/);
  });

  it('extracts to the same bytes, modes and link (GNU cpio -id)', () => {
    const d = tmp();
    const r = run('cpio', ['-idm', '--quiet', '--no-absolute-filenames', '-D', d], { input: archive.toString('latin1') });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(d, 'init'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
    expect(readFileSync(join(d, 'lib/modules/6.1.0-x/kernel/fs/ext4/ext4.ko')).equals(Buffer.alloc(1001, 7))).toBe(true);
    expect(readlinkSync(join(d, 'bin/sh'))).toBe('busybox');
    expect(statSync(join(d, 'init')).mode & 0o777).toBe(0o755);
    expect(statSync(join(d, 'init')).mtimeMs / 1000).toBe(EPOCH);
  });

  it('is read by busybox cpio too (newc only)', () => {
    const r = run('busybox', ['cpio', '-t'], { input: archive.toString('latin1') });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.split('\n')).toContain('lib/modules/6.1.0-x/kernel/fs/ext4/ext4.ko');
  });

  it('refuses absolute, dotted and duplicate paths', () => {
    const file = (path: string): CpioEntry => ({ path, type: 'file', mode: 0o644, content: Buffer.alloc(0) });
    expect(() => writeCpio([file('/init')], 0)).toThrow(/relative/);
    expect(() => writeCpio([file('a/../b')], 0)).toThrow(/relative/);
    expect(() => writeCpio([file('a'), file('a')], 0)).toThrow(/two cpio entries/);
  });
});
