// One writer at a time for an output tree: the lock file .<name>.lock beside it, created exclusively and holding
// its owner ("<pid>.<start time>"). A lock whose owner is gone (killed, crashed) is stale and is taken over; the
// start time (from /proc) tells a reused pid from the owner. Temp trees carry the same owner in their names, so
// the next writer can tell a dead render's leftovers from a live one's work in progress.

import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** A process as an owner: "<pid>.<start time in clock ticks since boot>" ("<pid>." where /proc is absent). */
export const ownerOf = (pid: number): string => `${pid}.${startTimeOf(pid) ?? ''}`;

/** This process. */
export const OWNER = ownerOf(process.pid);

function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after "(comm)": state is field 3, starttime field 22
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Whether the process named by an owner string still runs (a reused pid with another start time does not count). */
export function ownerAlive(owner: string): boolean {
  const m = /^(\d+)\.(\d*)$/.exec(owner.trim());
  if (!m) return false;
  const pid = Number(m[1]);
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as { code?: string }).code !== 'EPERM') return false; // ESRCH: gone
  }
  const start = startTimeOf(pid);
  return m[2] === '' || start === undefined || start === m[2];
}

/** Another live mkimage holds the lock: the user waits or, if none runs, removes the lock. Exit 2 (E017). */
export class OutputBusyError extends Error {
  readonly code = 'E017';
  constructor(message: string) {
    super(message);
    this.name = 'OutputBusyError';
  }
}

/** How long a writer waits for another's lock: 30 s (MKIMAGE_TEST_LOCK_WAIT_MS shortens it for tests). */
export const defaultLockWaitMs = (): number => Number(process.env['MKIMAGE_TEST_LOCK_WAIT_MS'] ?? 30_000);

export const lockPathOf = (target: string) => join(dirname(target), `.${basename(target)}.lock`);

/** A lock file left empty by a writer killed between creating and filling it is stale after this long. */
const EMPTY_LOCK_STALE_MS = 5_000;
const POLL_MS = 50;

interface Holder {
  owner: string;
  ageMs: number;
}

function readHolder(path: string): Holder | undefined {
  try {
    const owner = readFileSync(path, 'utf8').trim();
    return { owner, ageMs: Date.now() - statSync(path).mtimeMs };
  } catch {
    return undefined; // gone
  }
}

const isStale = (h: Holder) => (h.owner === '' ? h.ageMs > EMPTY_LOCK_STALE_MS : !ownerAlive(h.owner));

/**
 * Remove a stale lock, exactly once: under a second lock file, re-read it and unlink it only if it still names the
 * dead owner — two writers that both found it stale cannot remove a lock the first of them has taken since.
 */
function breakStale(lock: string, dead: Holder): boolean {
  const guard = `${lock}.break`;
  let fd: number;
  try {
    fd = openSync(guard, 'wx', 0o600);
  } catch {
    // another writer is breaking it; a guard left by a writer killed inside these few lines goes after a while
    const g = readHolder(guard);
    if (g !== undefined && g.ageMs > EMPTY_LOCK_STALE_MS) unlinkSync(guard);
    return false;
  }
  try {
    const now = readHolder(lock);
    if (now !== undefined && now.owner === dead.owner && isStale(now)) unlinkSync(lock);
    return true;
  } finally {
    closeSync(fd);
    unlinkSync(guard);
  }
}

export interface HeldLock {
  release(): void;
}

/**
 * Take the lock of `target` (an output directory), waiting up to `waitMs` for a live holder. Throws
 * OutputBusyError (with the holder's pid and the way out) when it stays held.
 */
export async function lockOutput(target: string, waitMs: number): Promise<HeldLock> {
  const lock = lockPathOf(target);
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx', 0o644);
      try {
        writeSync(fd, `${OWNER}\n`);
      } finally {
        closeSync(fd);
      }
      return {
        release() {
          if (readHolder(lock)?.owner === OWNER) unlinkSync(lock);
        },
      };
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST') throw e;
    }
    const holder = readHolder(lock);
    if (holder === undefined) continue; // released meanwhile
    if (isStale(holder) && breakStale(lock, holder)) continue;
    if (Date.now() >= deadline) {
      const who = holder.owner === '' ? 'starting' : `pid ${holder.owner.split('.')[0]}`;
      throw new OutputBusyError(
        `${target} is being written by another mkimage (${who}): wait for it to finish and run again; if no mkimage is running, delete ${lock}`,
      );
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
