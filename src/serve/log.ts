// Structured logs: one JSON object per line (ts, event, then the fields that apply: mac, node, path, status,
// remote, ...). Lines are buffered and handed to the sink once per turn of the event loop (or when 64 KiB
// pile up), so logging every request costs a string append, not a write system call.

export type LogFields = Record<string, string | number | boolean | undefined>;

export interface Logger {
  log(event: string, fields?: LogFields): void;
  /** write out what is buffered */
  flush(): void;
}

const FLUSH_AT = 64 * 1024;

export function jsonLineLogger(sink: (chunk: string) => void, now: () => Date = () => new Date()): Logger {
  let buffered = '';
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (buffered === '') return;
    const chunk = buffered;
    buffered = '';
    sink(chunk);
  };
  return {
    log(event, fields = {}) {
      buffered += `${JSON.stringify({ ts: now().toISOString(), event, ...fields })}\n`;
      if (buffered.length >= FLUSH_AT) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}
