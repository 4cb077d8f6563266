// One writer per state file. `pxe serve` holds <state>.lock for as long as it runs; the file says where its
// admin route listens (127.0.0.1, a random port) and the secret it wants (the lock is 0600, like the state).
// `pxe retry`/`reinstall` with no server running hold the same lock for the moment of their edit. A lock
// whose process is gone is stale and taken over.

import { open, readFile, rm } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface LockHolder {
  pid: number;
  /** set by a running server: its admin route */
  admin?: string;
  secret?: string;
}

export const lockPathFor = (statePath: string) => `${statePath}.lock`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The live holder of the lock, if any (a stale lock is removed). */
export async function lockHolder(lockPath: string): Promise<LockHolder | undefined> {
  let text: string;
  try {
    text = await readFile(lockPath, 'utf8');
  } catch {
    return undefined;
  }
  let holder: LockHolder | undefined;
  try {
    const o = JSON.parse(text) as LockHolder;
    if (Number.isSafeInteger(o.pid) && o.pid > 0) holder = o;
  } catch {
    // a lock being written this instant, or garbage: treat as held for now, stale if it stays so
    return { pid: -1 };
  }
  if (holder && alive(holder.pid)) return holder;
  await rm(lockPath, { force: true });
  return undefined;
}

export type LockResult = { held: true; release(): Promise<void> } | { held: false; holder: LockHolder };

/**
 * Take the lock for `me`, waiting up to `waitMs` for a short holder (a CLI edit) to let go.
 * A server holding it (an admin route in the file) is answered at once.
 */
export async function takeLock(lockPath: string, me: LockHolder, waitMs = 5000): Promise<LockResult> {
  await mkdir(dirname(lockPath), { recursive: true });
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const fh = await open(lockPath, 'wx', 0o600);
      try {
        await fh.writeFile(`${JSON.stringify(me)}\n`);
      } finally {
        await fh.close();
      }
      return { held: true, release: () => rm(lockPath, { force: true }) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = await lockHolder(lockPath);
    if (holder === undefined) continue;
    if (holder.admin !== undefined || Date.now() >= deadline) return { held: false, holder };
    await new Promise((r) => setTimeout(r, 50));
  }
}
