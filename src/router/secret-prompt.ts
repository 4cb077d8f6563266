// Ask for a secret on a terminal without echoing it: raw mode, one key at a time. Enter ends it; Ctrl-C or
// Ctrl-D on an empty line gives up (undefined). Nothing of the secret is written anywhere.

import type { Writable } from 'node:stream';

export interface SecretInput extends NodeJS.EventEmitter {
  isTTY?: boolean;
  setRawMode?(raw: boolean): unknown;
  resume(): unknown;
  pause(): unknown;
  setEncoding(enc: BufferEncoding): unknown;
}

export function askSecret(question: string, input: SecretInput, output: Writable): Promise<string | undefined> {
  return new Promise((resolve) => {
    let typed = '';
    const finish = (value: string | undefined) => {
      input.removeListener('data', onData);
      input.setRawMode?.(false);
      input.pause();
      output.write('\n');
      resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish(typed);
        if (ch === '\u0003' || (ch === '\u0004' && typed === '')) return finish(undefined);
        if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
        else if (ch >= ' ') typed += ch;
      }
    };
    output.write(question);
    input.setRawMode?.(true);
    input.setEncoding('utf8');
    input.on('data', onData);
    input.resume();
  });
}
