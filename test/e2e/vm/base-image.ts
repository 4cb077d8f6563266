// The e2e base image (a Debian 12 cloud image built from Debian's packages by base-image.sh): built once,
// then found in the cache by the recipe's hash. See base-image.sh for what is in it.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BASE_IMAGE_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'base-image.sh');

/** The directory every e2e VM image is cached in (the same rule as base-image.sh). */
export function e2eCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MKIMAGE_E2E_CACHE) return env.MKIMAGE_E2E_CACHE;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mkimage-e2e');
}

/** Where base-image.sh puts (or finds) the image: keyed by the first 16 hex digits of the recipe's sha256. */
export function baseImagePath(env: NodeJS.ProcessEnv = process.env): string {
  const hash = createHash('sha256').update(readFileSync(BASE_IMAGE_SCRIPT)).digest('hex').slice(0, 16);
  return join(e2eCacheDir(env), `debian-12-base-${hash}.qcow2`);
}

/**
 * Path of the cached base image; runs base-image.sh (as root, about 5 to 10 minutes) when it is missing.
 * The script's progress goes to `log` (default: this process's stderr). Rejects with the tail of its output.
 */
export async function ensureBaseImage(opts: { log?: (chunk: string) => void } = {}): Promise<string> {
  const expected = baseImagePath();
  if (existsSync(expected)) return expected;
  const log = opts.log ?? ((s: string) => process.stderr.write(s));
  const child = spawn('bash', [BASE_IMAGE_SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let tail = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    log(s);
    tail = (tail + s).slice(-8000);
  });
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c, sig) => resolve(c ?? (sig ? 128 : 1)));
  });
  if (code !== 0) throw new Error(`base-image.sh failed (exit ${code}):\n${tail}`);
  const printed = stdout.trim().split('\n').pop() ?? '';
  if (printed !== expected || !existsSync(expected)) {
    throw new Error(`base-image.sh printed "${printed}", expected the image at ${expected}`);
  }
  return expected;
}
