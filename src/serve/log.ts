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
const NON_ASCII = /[^\x00-\x7f]/;
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

export function jsonLineLogger(sink: (chunk: string) => void, now: () => Date = () => new Date()): Logger {
  let buffered = '';
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (buffered === '') return;
    const text = buffered;
    buffered = '';
    for (const chunk of lineChunks(text)) sink(chunk);
  };
  return {
    log(event, fields = {}) {
      const line = JSON.stringify({ ts: now().toISOString(), event, ...fields });
      // ASCII only (\uXXXX escapes), so a line's length is its size in bytes
      buffered += `${NON_ASCII.test(line) ? line.replace(NON_ASCII_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : line}\n`;
      if (buffered.length >= FLUSH_AT) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}
