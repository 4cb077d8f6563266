// Writes an in-memory file tree atomically: everything goes into a temp dir beside the destination, which then
// takes the destination's place. A failure leaves the old tree (or nothing) behind, never a half-written one.
// Before anything is written the tree is checked: paths inside it, one file per path, and every shell script parses
// (files made lazily, in batches, are checked as they come, and a refusal then drops the temp tree: the old tree stays).
//
// The swap, under the destination's lock (src/output-lock.ts), so concurrent writers take turns:
//   1. clean up after writers that died (killed renders): their temp trees go, and a tree a fallback swap had moved
//      aside while the destination was missing is put back;
//   2. exchange the temp tree with the destination in one renameat2(RENAME_EXCHANGE) (src/rename-exchange.ts):
//      the destination is never missing, and the old tree is then under the temp name;
//   3. remove the old tree (it holds seeds with the token and CA keys: no copy stays beside the output).
// Fallback where RENAME_EXCHANGE cannot be done (no perl or python3, another OS, a filesystem without it): two
// renames, destination -> <temp>.old, then temp -> destination. Between them the destination is missing for a
// moment; if the process is killed there, the next writer (step 1) puts the old tree back before it swaps.
// SIGINT, SIGTERM and SIGHUP during a write remove the temp trees and the lock before the process ends; after a
// SIGKILL the next write removes them.
//
// Test hooks (environment): MKIMAGE_TEST_PAUSE_AT=<step> stops the process (SIGSTOP) at that step, so a test can
// look at the disk and SIGKILL it there: written (temp tree complete, lock not taken), locked, moved-aside (the
// fallback, between its renames), swapped (before the old tree is removed). MKIMAGE_TEST_EXCHANGE=perl|python3|rename
// forces one way of swapping; MKIMAGE_TEST_LOCK_WAIT_MS shortens the wait for another writer's lock (default 30 s).

import { renameSync, rmSync, rmdirSync, existsSync, readdirSync } from 'node:fs';
import { mkdir, rename, rm, writeFile, chmod, mkdtemp, stat } from 'node:fs/promises';
import { dirname, join, resolve, basename, isAbsolute, normalize } from 'node:path';
import { createHash } from 'node:crypto';
import { defaultLockWaitMs, lockOutput, ownerAlive, OWNER, type HeldLock } from './output-lock.js';
import { scriptShell, syntaxProblems, syntaxProblemsAsync } from './profile/shell.js';
import { renameExchange, type ExchangeHelper } from './rename-exchange.js';
import { TreeWriter, type WriteJob } from './tree-writer.js';

export interface OutFile {
  /** path relative to the tree root, with forward slashes */
  path: string;
  content: string | Uint8Array;
  /** numeric mode, default 0o644 */
  mode?: number;
  /**
   * shell scripts this file carries inside it (user-data's write_files: the full-mode bake script, the first-boot
   * script): parsed before the write like a script file of the tree, and named `<file>: <path>` when one does not parse
   */
  scripts?: ReadonlyArray<{ path: string; text: string }>;
}

export type FileTree = OutFile[];

export interface TreeOptions {
  /** mode of the tree's root and every directory in it, default 0o755 (0o700 for a secrets directory) */
  dirMode?: number;
  /** leave a destination that exists and is not empty (see writeTreeAtomic) */
  keepExisting?: boolean;
  /** how long to wait for another writer's lock before OutputBusyError */
  lockWaitMs?: number;
  /**
   * writes more into the temp tree (its path is the argument) after `files` and before the swap: content too large
   * to hold in memory, streamed from disk (the LAN-boot image). What it writes is swapped in with the rest.
   */
  fill?: (tmp: string) => Promise<void>;
  /**
   * more files, made lazily in batches after `files` (a node's seed files each): a batch is written while the next
   * is made, and dropped once written, so a large render neither holds every file in memory nor waits for its
   * writes. Checked like `files` (inside the tree, one file per path, no file where a directory goes). Their
   * contents are copied into the writer thread's batch buffer; a byte array of its own over 1 MiB (PACK_LIMIT)
   * moves there instead: emptied here once the batch is queued.
   */
  more?: Iterable<FileTree>;
  /**
   * runs once the whole temp tree is written, before the lock and the swap: false drops the tree and
   * writeTreeAtomic returns false (a render writes its new secrets here, so a failed write leaves none)
   */
  beforeSwap?: () => Promise<boolean>;
}

function checkRelative(p: string): string {
  const n = normalize(p);
  if (isAbsolute(n) || n === '..' || n.startsWith('../') || n.includes('/../')) {
    throw new Error(`refusing to write outside the output tree: ${p}`);
  }
  return n;
}

/**
 * The normalised relative path of every file, checked before anything is written: inside the tree, one file per
 * path, and no file where another needs a directory (`etc/foo` and `etc/foo/bar`): the second write would
 * silently replace the first, or fail half-way.
 */
class TreeCheck {
  private readonly files = new Set<string>();
  private readonly dirs = new Set<string>();

  /** The normalised paths of `batch`, once the whole batch passes against itself and everything before it. */
  add(batch: FileTree): string[] {
    const paths = batch.map((f) => checkRelative(f.path));
    for (const p of paths) {
      if (this.files.has(p)) throw new Error(`refusing to write two files at one path: ${p}`);
      this.files.add(p);
    }
    for (const p of paths) {
      if (this.dirs.has(p)) throw new Error(`refusing to write ${p}: it is a directory of another file in the same tree`);
      for (let d = dirname(p); d !== '.' && d !== '/' && !this.dirs.has(d); d = dirname(d)) {
        if (this.files.has(d)) throw new Error(`refusing to write ${p}: ${d} is a file in the same tree`);
        this.dirs.add(d);
      }
    }
    return paths;
  }
}

/** The shell that runs a tree entry (src/profile/shell.ts scriptShell), reading a binary entry only if it starts with #!. */
function entryShell(f: OutFile): 'bash' | 'sh' | undefined {
  const c = f.content;
  const head = typeof c === 'string' ? c.slice(0, 80) : c[0] === 0x23 && c[1] === 0x21 ? Buffer.from(c.subarray(0, 80)).toString('latin1') : '';
  return scriptShell(f.path, head);
}

/** Scripts (by shell and content digest) that already parsed in this process: a render writes the same ones again. */
const parsedScripts = new Set<string>();

/**
 * Every shell script of the tree parses (`bash -n`, or `sh -n` for a #!/bin/sh one), checked before anything is
 * written. mkimage generated them, so one that does not parse is mkimage's bug (E024, thrown: exit 1). One parse
 * per distinct script, not per file (the scripts of a role are the same for each of its nodes), all in one process.
 */
export function checkScripts(files: FileTree): void {
  const todo = scriptsToParse(files);
  settleScripts(todo, syntaxProblems(todo.map(([, s]) => s)));
}

/** checkScripts without blocking: writeTreeAtomic writes the temp tree meanwhile, and waits for it before the swap. */
export async function checkScriptsAsync(files: FileTree): Promise<void> {
  const todo = scriptsToParse(files);
  settleScripts(todo, await syntaxProblemsAsync(todo.map(([, s]) => s)));
}

type ScriptToParse = [key: string, script: { shell: 'bash' | 'sh'; path: string; text: string }];

function scriptsToParse(files: FileTree): ScriptToParse[] {
  const todo = new Map<string, { shell: 'bash' | 'sh'; path: string; text: string }>();
  const want = (shell: 'bash' | 'sh', path: string, text: string): void => {
    const key = `${shell} ${createHash('sha256').update(withoutLeadingComments(text)).digest('hex')}`;
    if (!parsedScripts.has(key) && !todo.has(key)) todo.set(key, { shell, path, text });
  };
  for (const f of files) {
    const shell = entryShell(f);
    if (shell !== undefined) want(shell, f.path, typeof f.content === 'string' ? f.content : Buffer.from(f.content).toString('utf8'));
    for (const s of f.scripts ?? []) {
      const inner = scriptShell(s.path, s.text.slice(0, 80));
      if (inner !== undefined) want(inner, `${f.path}: ${s.path}`, s.text);
    }
  }
  return [...todo];
}

/**
 * `text` without the comment lines it starts with (the #! line, the generated-by and "for node X" header): at the
 * top of a script no construct is open, so they are comments whatever they say, and the rest parses the same without
 * them. Scripts that differ only there (a role's per-node bake scripts) are parsed once.
 */
function withoutLeadingComments(text: string): string {
  let at = 0;
  while (text.startsWith('#', at)) {
    const eol = text.indexOf('\n', at);
    if (eol < 0) return '';
    at = eol + 1;
  }
  return text.slice(at);
}

function settleScripts(checked: readonly ScriptToParse[], problems: ReadonlyArray<string | undefined>): void {
  for (const [i, [key, s]] of checked.entries()) {
    const problem = problems[i];
    if (problem !== undefined) {
      throw new Error(`E024: internal: mkimage generated ${s.path}, which does not parse (${s.shell} -n: ${problem}); nothing was written. This is a bug in mkimage: please report it with this output`);
    }
    parsedScripts.add(key);
  }
}

export type SwapStep = 'written' | 'locked' | 'moved-aside' | 'swapped';

/** The test hook: stop here (SIGSTOP) when MKIMAGE_TEST_PAUSE_AT names this step. */
function pauseAt(step: SwapStep): void {
  if (process.env['MKIMAGE_TEST_PAUSE_AT'] === step) process.kill(process.pid, 'SIGSTOP');
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `.<name>.tmp-<owner>-XXXXXX` (and `<that>.old`); also the owner-less names older mkimage versions left. */
function tempTreeName(target: string): RegExp {
  return new RegExp(`^\\.${escapeRe(basename(target))}\\.tmp-(?:(\\d+\\.\\d*)-)?[A-Za-z0-9]{6}(\\.old)?$`);
}

/**
 * Step 1 of the swap (under the lock): put back a tree a killed fallback swap had moved aside, then remove every
 * temp tree whose writer is gone. A live writer's temp tree (still being written) stays.
 */
async function cleanAfterDeadWriters(target: string): Promise<void> {
  const parent = dirname(target);
  const pattern = tempTreeName(target);
  const dead = readdirSync(parent)
    .map((name) => ({ name, m: pattern.exec(name) }))
    .filter((e) => e.m !== null && (e.m[1] === undefined || !ownerAlive(e.m[1])))
    .map((e) => ({ path: join(parent, e.name), aside: e.m![2] !== undefined }))
    .sort((a, b) => (a.path < b.path ? -1 : 1));
  const movedAside = dead.find((e) => e.aside);
  if (movedAside && !existsSync(target)) renameSync(movedAside.path, target);
  for (const e of dead) await rm(e.path, { recursive: true, force: true });
}

/**
 * Step 2: `tmp` takes the place of `target`; afterwards the old tree is at `tmp` (exchange) or `<tmp>.old`
 * (fallback), or nowhere (there was none). Synchronous, so no signal handler runs between the fallback's renames.
 */
function swapIn(tmp: string, target: string): void {
  if (!existsSync(target)) {
    renameSync(tmp, target);
    return;
  }
  const forced = process.env['MKIMAGE_TEST_EXCHANGE'];
  if (forced !== 'rename' && renameExchange(tmp, target, forced === undefined ? undefined : (forced as ExchangeHelper))) {
    pauseAt('swapped');
    return;
  }
  renameSync(target, `${tmp}.old`);
  pauseAt('moved-aside');
  renameSync(tmp, target);
  pauseAt('swapped');
}

/** Temp trees (and held locks) to remove if the process is told to end while writing. */
const inFlight = new Set<{ tmp: string; lock?: HeldLock }>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function onSignal(signal: NodeJS.Signals): void {
  for (const w of inFlight) {
    for (const p of [w.tmp, `${w.tmp}.old`]) rmSync(p, { recursive: true, force: true });
    w.lock?.release();
  }
  inFlight.clear();
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  process.kill(process.pid, signal); // the default action now: end as the signal says
}

function track(w: { tmp: string; lock?: HeldLock }): () => void {
  if (inFlight.size === 0) for (const s of SIGNALS) process.on(s, onSignal);
  inFlight.add(w);
  return () => {
    inFlight.delete(w);
    if (inFlight.size === 0) for (const s of SIGNALS) process.removeListener(s, onSignal);
  };
}

/**
 * Write `files` as the complete content of directory `dest`, replacing whatever was there (see the top of this
 * file). With `keepExisting`, a destination that exists and is not empty when the lock is taken (another writer got
 * there first) is left as it is: returns false, nothing written; so does a `beforeSwap` that says false.
 */
export async function writeTreeAtomic(dest: string, files: FileTree, opts: TreeOptions = {}): Promise<boolean> {
  const dirMode = opts.dirMode ?? 0o755;
  const target = resolve(dest);
  const check = new TreeCheck();
  const paths = check.add(files);
  // the shells parse while the tree is written; the swap waits for them (a refusal drops the temp tree)
  const parsing = checkScriptsAsync(files);
  parsing.catch(() => undefined); // awaited below; handled here too in case the write fails first
  const parent = dirname(target);
  const madeParent = await mkdir(parent, { recursive: true });
  const tmp = await mkdtemp(join(parent, `.${basename(target)}.tmp-${OWNER}-`));
  const writing: { tmp: string; lock?: HeldLock } = { tmp };
  const untrack = track(writing);
  let swapped = false;
  // a tree made in batches (a render's seeds) is written by a thread while the next batches are made
  const into = new TreeWriter(dirMode, opts.more !== undefined);
  const masked = currentUmask();
  const jobs = (batch: FileTree, batchPaths: readonly string[]): WriteJob[] => batch.map((f, i) => {
    const mode = f.mode ?? 0o644;
    // umask must not narrow what the plan says (a new file never gets more than its mode)
    return { path: join(tmp, batchPaths[i]!), content: f.content, mode, chmod: (mode & masked) !== 0 };
  });
  try {
    try {
      await into.write(jobs(files, paths));
      for (const batch of opts.more ?? []) {
        const batchPaths = check.add(batch); // made (by the iterator) while the batches before it are written
        checkScripts(batch);
        await into.write(jobs(batch, batchPaths), true);
      }
    } finally {
      await into.close(); // every write in flight ends before the temp tree is used or goes
    }
    await opts.fill?.(tmp);
    await chmod(tmp, dirMode);
    await parsing;
    if (opts.beforeSwap && !(await opts.beforeSwap())) return false;
    pauseAt('written');
    writing.lock = await lockOutput(target, opts.lockWaitMs ?? defaultLockWaitMs());
    pauseAt('locked');
    await cleanAfterDeadWriters(target);
    if (opts.keepExisting && existsSync(target) && readdirSync(target).length > 0) return false;
    swapIn(tmp, target);
    swapped = true;
    return true;
  } finally {
    for (const p of [tmp, `${tmp}.old`]) await rm(p, { recursive: true, force: true });
    writing.lock?.release();
    untrack();
    // nothing swapped in: the directories made for it go too, as far as they are empty
    if (!swapped && madeParent !== undefined) removeEmptyUpTo(parent, madeParent);
  }
}

/** rmdir `dir`, then its parents up to and including `top`, stopping at the first that is not empty. */
function removeEmptyUpTo(dir: string, top: string): void {
  for (let d = dir; ; d = dirname(d)) {
    try {
      rmdirSync(d);
    } catch {
      return;
    }
    if (d === top || dirname(d) === d) return;
  }
}

/** The process's umask (read by setting it and putting it back at once: nothing runs in between). */
function currentUmask(): number {
  const m = process.umask(0o022);
  process.umask(m);
  return m;
}

/** Write one file atomically (temp file in the same directory, then rename). */
export async function writeFileAtomic(path: string, content: string | Uint8Array, mode = 0o644): Promise<void> {
  const target = resolve(path);
  await mkdir(dirname(target), { recursive: true });
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    await writeFile(tmp, content, { mode });
    await chmod(tmp, mode);
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Whether anything (file, directory, link target) exists at `p`. */
export async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
