// Where a planner diagnostic points: the source position of a dotted path in a Located document, or of its
// nearest positioned parent (a value merged from a base profile may only be positioned at its section).

import type { Position } from '../diagnostics.js';
import type { Located } from '../profile/types.js';

export function positionOf(doc: Located<unknown>, path: string): Partial<Position> | undefined {
  let p = path;
  for (;;) {
    const found = doc.positions.get(p);
    if (found !== undefined) return found;
    const dot = p.lastIndexOf('.');
    if (dot < 0) return undefined;
    p = p.slice(0, dot);
  }
}
