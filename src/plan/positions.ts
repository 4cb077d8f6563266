// Where a planner diagnostic points, and where a plan entry came from: the source position of a dotted path in a
// Located document, or of its nearest positioned parent (a value merged from a base profile may only be positioned
// at its section).

import type { Position } from '../diagnostics.js';
import type { Located } from '../profile/types.js';

export function positionOf(doc: Located<unknown>, path: string): Position | undefined {
  let p = path;
  for (;;) {
    const found = doc.positions.get(p);
    if (found !== undefined) return found;
    const dot = p.lastIndexOf('.');
    if (dot < 0) return undefined;
    p = p.slice(0, dot);
  }
}

/** The entry with `source` set (unchanged when there is none). */
export const withSource = <T extends object>(entry: T, source: Position | undefined): T =>
  source === undefined ? entry : { ...entry, source };

/** The entry with `source` set to the position of `path` in `doc` (unchanged when that has none). */
export const sourced = <T extends object>(entry: T, doc: Located<unknown>, path: string): T => withSource(entry, positionOf(doc, path));
