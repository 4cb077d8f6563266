// Writes batches of files into a temp tree (src/output.ts) with plain synchronous system calls, on a thread of its
// own: the render makes the next node's files on the main thread while this one creates the last node's. Creating
// a file is kernel work (about 0.1-0.5 ms an entry on the 2-core test machines' disk, most of a large render's
// time); node's promise API adds a threadpool round trip, a FileHandle and a promise for each open, write and
// close, which cost more than the writes on tmpfs. Measured with bench/render.bench.ts.
//
// The thread's code is a string (a worker made from a file would need the compiled file beside it, which the
// TypeScript tests do not have); it takes node's modules with require, or process.getBuiltinModule where node runs
// an eval'd worker as a module (a parent started with --input-type=module).

import * as fs from 'node:fs';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';

/** One file for the writer: its full path, its bytes and its mode; `chmod` when the umask would narrow the mode. */
export interface WriteJob {
  path: string;
  content: string | Uint8Array;
  mode: number;
  chmod: boolean;
}

interface Batch {
  id: number;
  dirs: string[];
  dirMode: number;
  files: WriteJob[];
}

interface Reply {
  id: number;
  error?: { message: string; code?: string; errno?: number; syscall?: string; path?: string };
}

/**
 * A batch's system calls, the one piece of code both sides run: the thread, and the inline writer of a small tree
 * (a function made from the text, so no bundler or test transform can rename what it calls).
 */
const WRITE_BATCH = `
  for (const d of b.dirs) fs.mkdirSync(d, { recursive: true, mode: b.dirMode });
  for (const f of b.files) {
    fs.writeFileSync(f.path, f.content, { mode: f.mode, flag: 'wx' });
    if (f.chmod) fs.chmodSync(f.path, f.mode);
  }
`;
const writeInline = new Function('b', 'fs', WRITE_BATCH) as (b: Batch, fs: typeof import('node:fs')) => void;

const WRITER_SOURCE = `
const builtin = (name) => (typeof require === 'function' ? require(name) : process.getBuiltinModule(name));
const { parentPort } = builtin('node:worker_threads');
const fs = builtin('node:fs');
parentPort.on('message', (b) => {
  try {
    ${WRITE_BATCH}
    parentPort.postMessage({ id: b.id });
  } catch (e) {
    parentPort.postMessage({ id: b.id, error: { message: e.message, code: e.code, errno: e.errno, syscall: e.syscall, path: e.path } });
  }
});
`;

/**
 * The ArrayBuffers that only a file's bytes use (not a slice of node's shared Buffer pool): these can move. Each
 * once: the same bytes at two paths of a batch would make postMessage refuse the list.
 */
function ownBuffers(files: readonly WriteJob[]): ArrayBuffer[] {
  const own = new Set<ArrayBuffer>();
  for (const { content: c } of files) {
    if (typeof c !== 'string' && c.buffer instanceof ArrayBuffer && c.byteOffset === 0 && c.byteLength === c.buffer.byteLength) own.add(c.buffer);
  }
  return [...own];
}

/** An error from the thread as the system call's own error (code, errno, path): callers map EACCES, ENOSPC, ... */
function asError(r: NonNullable<Reply['error']>): NodeJS.ErrnoException {
  return Object.assign(new Error(r.message), r.code === undefined ? {} : { code: r.code, errno: r.errno, syscall: r.syscall, path: r.path });
}

/** How many batches a threaded writer holds, queued or being written, before `write` waits for the oldest. */
export const WRITE_AHEAD = 32;

/**
 * Writes batches in order, each file after the directories it needs. Threaded, `write` returns once the batch is
 * queued (at most `window` batches wait: a render that makes files faster than the disk takes them does not hold
 * them all) and `close` once all are written; inline (a small tree: a thread takes some 30-80 ms to start), `write`
 * returns once the batch is written.
 */
export class TreeWriter {
  private worker: Worker | undefined;
  private readonly made = new Set<string>();
  private readonly inFlight: Array<Promise<void>> = [];
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private next = 0;
  private failed: Error | undefined;

  constructor(
    private readonly dirMode: number,
    private readonly threaded: boolean,
    private readonly window = WRITE_AHEAD,
  ) {}

  /**
   * Write `files` after every batch before them. `handOver`: the byte contents go to the thread without a copy (the
   * caller's arrays are left empty), for files the caller drops once written.
   */
  async write(files: WriteJob[], handOver = false): Promise<void> {
    if (this.failed !== undefined) throw this.failed;
    const dirs: string[] = [];
    for (const f of files) {
      const d = dirname(f.path);
      if (!this.made.has(d)) {
        this.made.add(d);
        dirs.push(d);
      }
    }
    const batch: Batch = { id: this.next++, dirs: dirs.sort(), dirMode: this.dirMode, files };
    if (!this.threaded) return writeInline(batch, fs);
    const done = new Promise<void>((resolve, reject) => this.waiting.set(batch.id, { resolve, reject }));
    done.catch(() => undefined); // a failure is thrown by the next write or by close
    this.inFlight.push(done);
    try {
      this.thread().postMessage(batch, handOver ? ownBuffers(files) : []);
    } catch (e) {
      this.fail(e as Error); // a batch that never reached the thread must not leave close() waiting for it
      throw e;
    }
    while (this.inFlight.length > this.window) await this.inFlight.shift();
  }

  private thread(): Worker {
    if (this.worker !== undefined) return this.worker;
    const worker = new Worker(WRITER_SOURCE, { eval: true });
    worker.on('message', (r: Reply) => {
      const w = this.waiting.get(r.id);
      this.waiting.delete(r.id);
      if (r.error === undefined) return w?.resolve();
      this.failed ??= asError(r.error);
      w?.reject(this.failed);
    });
    worker.on('error', (e) => this.fail(e));
    worker.on('exit', () => this.fail(new Error('internal: the tree writer thread ended')));
    this.worker = worker;
    return worker;
  }

  private fail(e: Error): void {
    this.failed ??= e;
    for (const w of this.waiting.values()) w.reject(this.failed);
    this.waiting.clear();
  }

  /** Wait for every batch (each ends written or failed), end the thread, and throw the first failure. */
  async close(): Promise<void> {
    await Promise.allSettled(this.inFlight.splice(0));
    const worker = this.worker;
    this.worker = undefined;
    if (worker !== undefined) {
      worker.removeAllListeners('exit');
      await worker.terminate();
    }
    if (this.failed !== undefined) throw this.failed;
  }
}
