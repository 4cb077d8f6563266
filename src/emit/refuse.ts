// An emitter's refusal of a plan entry. An entry that came from the user's input (it has a `source`: a profile file,
// a profile command, an artifact a setting chose) is the user's to fix: a positioned diagnostic at that line (exit 2).
// One of mkimage's own is a bug in mkimage: thrown as a plain Error (exit 1).

import { DiagnosticError, error, type Code } from '../diagnostics.js';
import type { Sourced } from '../plan/types.js';

export function refuse(entry: Sourced, code: Code, message: string): never {
  if (entry.source !== undefined) throw new DiagnosticError([error(code, message, entry.source)]);
  throw new Error(`mkimage: ${message}`);
}

const LONE_SURROGATE = /[\ud800-\udfff]/u;

/**
 * Text that UTF-8 cannot carry: a lone UTF-16 surrogate (a YAML "\ud800" escape with no pair). Written out it would
 * silently become U+FFFD on the node, so every emitter refuses it. `what`: "files: /etc/motd", "commands: extra-boot-1".
 */
export function requireUtf8(entry: Sourced, what: string, text: string): void {
  const m = LONE_SURROGATE.exec(text);
  if (m === null) return;
  const hex = m[0].charCodeAt(0).toString(16);
  refuse(entry, 'E007',
    `${what}: the text has a lone UTF-16 surrogate (\\u${hex}) that UTF-8 cannot encode: write the character as one ` +
      '"\\UXXXXXXXX" escape (or the character itself), or remove it');
}
