// Structured logs: one JSON object per line (ts, event, then the fields that apply: mac, node, path, status,
// remote, ...). Lines are buffered and handed to the sink once per turn of the event loop (or when 64 KiB
// pile up), so logging every request costs a string append, not a write system call. Each write is at most
// PIPE_BUF (4096) bytes and ends at a line end, so the lines of several processes sharing one stdout pipe
// (cluster mode) never interleave.

export type LogFields = Record<string, string | number | boolean | undefined>;

export interface Logger {
  log(event: string, fields?: LogFields): void;
  /** write out what is buffered */
  flush(): void;
}

const FLUSH_AT = 64 * 1024;
const NON_ASCII_ALL = /[^\x00-\x7f]/g;
export const ATOMIC_WRITE = 4096;

/** `text` (whole lines) cut into pieces of at most ATOMIC_WRITE bytes at line ends (a longer line stays whole). */
export function lineChunks(text: string): string[] {
  const chunks: string[] = [];
  let start = 0;
  while (start < text.length) {
    if (text.length - start <= ATOMIC_WRITE) {
      chunks.push(text.slice(start));
      break;
    }
    let end = text.lastIndexOf('\n', start + ATOMIC_WRITE - 1);
    if (end < start) end = text.indexOf('\n', start + ATOMIC_WRITE);
    if (end === -1) end = text.length - 1;
    chunks.push(text.slice(start, end + 1));
    start = end + 1;
  }
  return chunks;
}

/** Strings that are their own JSON text between quotes: no quote, backslash, control or non-ASCII character. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

function jsonString(v: string): string {
  if (PLAIN.test(v)) return `"${v}"`;
  // ASCII only (\uXXXX escapes), so a line's length is its size in bytes
  return JSON.stringify(v).replace(NON_ASCII_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The same text JSON.stringify({ts, event, ...fields}) gives (undefined fields left out), built without the object. */
export function jsonLine(ts: string, event: string, fields: LogFields): string {
  let line = `{"ts":"${ts}","event":${jsonString(event)}`;
  for (const k in fields) {
    const v = fields[k];
    if (v === undefined) continue;
    line += `,${jsonString(k)}:${typeof v === 'string' ? jsonString(v) : typeof v === 'number' && !Number.isFinite(v) ? 'null' : String(v)}`;
  }
  return `${line}}`;
}

export function jsonLineLogger(sink: (chunk: string) => void, now: () => number = Date.now): Logger {
  let buffered = '';
  let scheduled = false;
  let stampedAt = -1;
  let stamp = '';
  const flush = () => {
    scheduled = false;
    if (buffered === '') return;
    const text = buffered;
    buffered = '';
    for (const chunk of lineChunks(text)) sink(chunk);
  };
  return {
    log(event, fields = {}) {
      const t = now();
      if (t !== stampedAt) {
        stampedAt = t;
        stamp = new Date(t).toISOString();
      }
      buffered += `${jsonLine(stamp, event, fields)}\n`;
      if (buffered.length >= FLUSH_AT) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}
