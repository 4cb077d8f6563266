// Writes batches of files into a temp tree (src/output.ts) with plain synchronous system calls, on a thread of its
// own: the render makes the next node's files on the main thread while this one creates the last node's. Creating
// a file is kernel work (about 0.1-0.5 ms an entry on the 2-core test machines' disk, most of a large render's
// time); node's promise API adds a threadpool round trip, a FileHandle and a promise for each open, write and
// close, which cost more than the writes on tmpfs. Measured with bench/render.bench.ts.
//
// A batch goes to the thread as one ArrayBuffer holding every file's bytes (strings encoded into it, byte arrays
// copied in), moved without a copy, and the thread sends it back for a later batch: cloning each string and
// allocating each seed image cost a 1000-node render more than packing them (bench/render.bench.ts). Only a byte
// array of its own larger than PACK_LIMIT moves by itself.
//
// The thread's code is a string (a worker made from a file would need the compiled file beside it, which the
// TypeScript tests do not have); it takes node's modules with require, or process.getBuiltinModule where node runs
// an eval'd worker as a module (a parent started with --input-type=module).

import * as fs from 'node:fs';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';

const utf8 = new TextEncoder();

/** One file for the writer: its full path, its bytes and its mode; `chmod` when the umask would narrow the mode. */
export interface WriteJob {
  path: string;
  content: string | Uint8Array;
  mode: number;
  chmod: boolean;
}

/** A file of a packed batch: its bytes are `buffer[off, off + len)`, or `bytes` (moved by itself). */
interface PackedJob {
  path: string;
  mode: number;
  chmod: boolean;
  off: number;
  len: number;
  bytes?: Uint8Array;
}

interface Batch {
  id: number;
  dirs: string[];
  dirMode: number;
  files: Array<WriteJob | PackedJob>;
  /** the packed bytes of the batch (threaded) */
  buffer?: ArrayBuffer;
}

interface Reply {
  id: number;
  /** the batch's buffer, back for reuse */
  buffer?: ArrayBuffer;
  error?: { message: string; code?: string; errno?: number; syscall?: string; path?: string };
}

/** A byte array of its own larger than this moves to the thread by itself rather than being copied into the batch. */
export const PACK_LIMIT = 1 << 20;
/** The smallest buffer made for a batch: one node's seed files (a 60 KB seed image, its plan) fit, and it is reused. */
const MIN_BUFFER = 1 << 18;

/**
 * A batch's system calls, the one piece of code both sides run: the thread, and the inline writer of a small tree
 * (a function made from the text, so no bundler or test transform can rename what it calls).
 */
const WRITE_BATCH = `
  for (const d of b.dirs) fs.mkdirSync(d, { recursive: true, mode: b.dirMode });
  for (const f of b.files) {
    const content = f.content ?? f.bytes ?? new Uint8Array(b.buffer, f.off, f.len);
    fs.writeFileSync(f.path, content, { mode: f.mode, flag: 'wx' });
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
    parentPort.postMessage({ id: b.id, buffer: b.buffer }, b.buffer ? [b.buffer] : []);
  } catch (e) {
    parentPort.postMessage({ id: b.id, error: { message: e.message, code: e.code, errno: e.errno, syscall: e.syscall, path: e.path } });
  }
});
`;

/** Bytes that may move to the thread by themselves: large, and the whole of an ArrayBuffer (not a slice of a pool). */
function movable(c: string | Uint8Array): boolean {
  return typeof c !== 'string' && c.byteLength > PACK_LIMIT && c.buffer instanceof ArrayBuffer && c.byteOffset === 0 && c.byteLength === c.buffer.byteLength;
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
  /** batch buffers the thread sent back */
  private readonly spare: ArrayBuffer[] = [];

  constructor(
    private readonly dirMode: number,
    private readonly threaded: boolean,
    private readonly window = WRITE_AHEAD,
  ) {}

  /**
   * Write `files` after every batch before them. Their contents are copied, but with `handOver` a byte array of its
   * own larger than PACK_LIMIT moves to the thread without a copy (the caller's is left empty), for files the caller
   * drops once written.
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
    const moved = this.pack(batch, files, handOver);
    const done = new Promise<void>((resolve, reject) => this.waiting.set(batch.id, { resolve, reject }));
    done.catch(() => undefined); // a failure is thrown by the next write or by close
    this.inFlight.push(done);
    try {
      this.thread().postMessage(batch, [batch.buffer!, ...moved]);
    } catch (e) {
      this.fail(e as Error); // a batch that never reached the thread must not leave close() waiting for it
      throw e;
    }
    while (this.inFlight.length > this.window) await this.inFlight.shift();
  }

  /**
   * Put the batch's bytes in one buffer (a spare one when it is large enough): strings encoded, byte arrays copied;
   * a large byte array of its own goes by itself (moved with `handOver`, else a copy of it). Returns what moves
   * besides the buffer.
   */
  private pack(batch: Batch, files: readonly WriteJob[], handOver: boolean): ArrayBuffer[] {
    const alone = files.map((f) => movable(f.content));
    const sizes = files.map((f, i) => (alone[i] ? 0 : typeof f.content === 'string' ? Buffer.byteLength(f.content) : f.content.byteLength));
    const total = sizes.reduce((a, b) => a + b, 0);
    let buffer = this.spare.pop();
    if (buffer === undefined || buffer.byteLength < total) buffer = new ArrayBuffer(Math.max(total, MIN_BUFFER));
    const into = new Uint8Array(buffer);
    const moved = new Set<ArrayBuffer>(); // each once: postMessage refuses a list that names one twice
    let off = 0;
    batch.files = files.map((f, i) => {
      const { path, mode, chmod, content } = f;
      if (alone[i]) {
        const own = content as Uint8Array;
        const bytes = handOver ? own : own.slice();
        moved.add(bytes.buffer as ArrayBuffer);
        return { path, mode, chmod, off: 0, len: 0, bytes };
      }
      const len = sizes[i]!;
      if (typeof content === 'string') utf8.encodeInto(content, into.subarray(off, off + len));
      else into.set(content, off);
      const job = { path, mode, chmod, off, len };
      off += len;
      return job;
    });
    batch.buffer = buffer;
    return [...moved];
  }

  private thread(): Worker {
    if (this.worker !== undefined) return this.worker;
    const worker = new Worker(WRITER_SOURCE, { eval: true });
    worker.on('message', (r: Reply) => {
      // kept for later batches unless made for a large one
      if (r.buffer !== undefined && r.buffer.byteLength <= PACK_LIMIT && this.spare.length <= this.window) this.spare.push(r.buffer);
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
