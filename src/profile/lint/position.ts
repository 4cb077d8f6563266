// Where a lint points: the position of the offending value, or of its nearest positioned ancestor when the
// value itself came from a default (e.g. "kubernetes.disableExcludes" falls back to "kubernetes").

import type { Position } from '../../diagnostics.js';
import type { Located } from '../types.js';

export function positionOf(doc: Located<unknown>, path: string): Position | undefined {
  let key = path;
  for (;;) {
    const pos = doc.positions.get(key);
    if (pos !== undefined) return pos;
    const dot = key.lastIndexOf('.');
    if (dot < 0) return doc.positions.get('');
    key = key.slice(0, dot);
  }
}

/** The first of `paths` that has its own position, else the nearest ancestor of the first one. */
export function firstPositionOf(doc: Located<unknown>, ...paths: string[]): Position | undefined {
  for (const p of paths) {
    const pos = doc.positions.get(p);
    if (pos !== undefined) return pos;
  }
  return paths[0] === undefined ? undefined : positionOf(doc, paths[0]);
}
