// A one-line download progress bar on stderr — only when stderr is a TTY, never with json output or
// progress:'never'. Redrawn with \r at most every 100 ms; the final frame is always drawn.

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(chunk: string): unknown;
}

export interface ProgressOptions {
  stream?: ProgressStream;
  progress?: 'auto' | 'never';
  json?: boolean;
  /** clock, for tests */
  now?: () => number;
}

export interface Progress {
  /** bytes received so far (absolute) */
  update(received: number): void;
  /** the download finished: draw 100% and end the line */
  done(received: number): void;
  /** the download failed or was abandoned: end the line if one was drawn */
  stop(): void;
}

const NOOP: Progress = { update() {}, done() {}, stop() {} };
const INTERVAL_MS = 100;
const BAR = 24;

export function progressEnabled(opts: ProgressOptions): boolean {
  const stream = opts.stream ?? process.stderr;
  return opts.progress !== 'never' && opts.json !== true && stream.isTTY === true;
}

export function createProgress(label: string, total: number | undefined, opts: ProgressOptions = {}): Progress {
  if (!progressEnabled(opts)) return NOOP;
  const stream = opts.stream ?? process.stderr;
  const now = opts.now ?? Date.now;
  let last = -Infinity;
  let drawn = false;
  const draw = (received: number) => {
    drawn = true;
    stream.write(`\r${frame(label, received, total)}\x1b[K`);
  };
  return {
    update(received) {
      const t = now();
      if (t - last < INTERVAL_MS) return;
      last = t;
      draw(received);
    },
    done(received) {
      draw(received);
      stream.write('\n');
      drawn = false;
    },
    stop() {
      if (drawn) stream.write('\n');
      drawn = false;
    },
  };
}

export function frame(label: string, received: number, total: number | undefined): string {
  if (total === undefined || total <= 0) return `${label} ${mib(received)}`;
  const ratio = Math.min(1, received / total);
  const filled = Math.round(ratio * BAR);
  const pct = String(Math.floor(ratio * 100)).padStart(3);
  return `${label} [${'#'.repeat(filled)}${'-'.repeat(BAR - filled)}] ${pct}% ${mib(received)}/${mib(total)}`;
}

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
