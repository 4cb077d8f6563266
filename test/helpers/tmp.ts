// Temp directories for a test file, removed after its last test.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/**
 * A function that makes a fresh temp dir named `<prefix>XXXXXX` (`<prefix><tag>-XXXXXX` given a tag); all of them
 * are removed after the file's tests. Call it where hooks may be registered: at the top of a test file or in a
 * describe, not inside a test.
 */
export function scratchDirs(prefix: string): (tag?: string) => string {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  return (tag) => {
    const d = mkdtempSync(join(tmpdir(), tag === undefined ? prefix : `${prefix}${tag}-`));
    dirs.push(d);
    return d;
  };
}
