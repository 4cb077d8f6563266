// A positioned document tree: every mapping entry, list item and scalar knows the file:line:col it was written
// at. Built from the yaml AST, merged along an `extends:` chain, then turned into typed values (validate.ts).
//
// Merge rule (extends): mappings merge key by key, recursively; scalars and lists REPLACE the base's value
// whole (a child that sets `firewall.ports` lists every port it wants). A child can override, never delete.

import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node as YamlNode } from 'yaml';
import type { Position } from '../diagnostics.js';

export type LNode = LMap | LSeq | LScalar;

export interface LMap {
  kind: 'map';
  pos: Position;
  entries: Map<string, LEntry>;
}
export interface LEntry {
  keyPos: Position;
  node: LNode;
}
export interface LSeq {
  kind: 'seq';
  pos: Position;
  items: LNode[];
}
export interface LScalar {
  kind: 'scalar';
  pos: Position;
  value: string | number | boolean | null;
  /** the text as written (for plain scalars), e.g. "24.0" for the number 24 */
  source: string;
}

/** More nodes than any profile or inventory has (a 1000-node cluster file is about 10,000). */
export const MAX_EXPANDED_NODES = 200_000;

/** Aliases that expand past MAX_EXPANDED_NODES ("billion laughs"): the loader reports E002 at the alias. */
export class AliasExpansionError extends Error {
  constructor(readonly pos: Position) {
    super(`aliases expand to more than ${MAX_EXPANDED_NODES} values`);
  }
}

/**
 * Convert a parsed yaml document (aliases resolved) to a positioned tree; undefined for an empty document. A plain
 * scalar's source is its text (`text` is what was parsed: ranges point into it, no source tokens needed).
 */
export function fromYaml(doc: Document.Parsed, lc: LineCounter, file: string, text: string): LNode | undefined {
  const at = (offset: number | undefined): Position => {
    const { line, col } = lc.linePos(offset ?? 0);
    return { file, line, col };
  };
  let expanded = 0;
  const convert = (node: YamlNode | null, fallback: Position, depth: number): LNode => {
    if (++expanded > MAX_EXPANDED_NODES) throw new AliasExpansionError(fallback);
    if (depth > 64) return { kind: 'scalar', pos: fallback, value: null, source: '' };
    if (isAlias(node)) {
      const target = node.resolve(doc);
      if (!target) return { kind: 'scalar', pos: at(node.range?.[0]), value: null, source: '' };
      try {
        return convert(target, at(node.range?.[0]), depth + 1);
      } catch (e) {
        // the outermost alias is the one to point at
        throw e instanceof AliasExpansionError ? new AliasExpansionError(at(node.range?.[0])) : e;
      }
    }
    if (isMap(node)) {
      const entries = new Map<string, LEntry>();
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = pair.key as YamlNode | null;
        const keyPos = at(key?.range?.[0]);
        const name = isScalar(key) ? String(key.value) : String(key);
        const value = pair.value as YamlNode | null;
        entries.set(name, { keyPos, node: value === null ? { kind: 'scalar', pos: keyPos, value: null, source: '' } : convert(value, keyPos, depth + 1) });
      }
      return { kind: 'map', pos: at(node.range?.[0]), entries };
    }
    if (isSeq(node)) {
      const pos = at(node.range?.[0]);
      return { kind: 'seq', pos, items: node.items.map((item) => convert(item as YamlNode | null, pos, depth + 1)) };
    }
    if (isScalar(node)) {
      const v = node.value;
      const value = v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : String(v);
      const source = node.type === 'PLAIN' && node.range ? text.slice(node.range[0], node.range[1]) : String(value ?? '');
      return { kind: 'scalar', pos: at(node.range?.[0]), value, source };
    }
    return { kind: 'scalar', pos: fallback, value: null, source: '' };
  };
  if (doc.contents === null) return undefined;
  return convert(doc.contents as YamlNode, at(0), 0);
}

/** `child` over `base`, by the merge rule above. Positions stay with whoever wrote the value. */
export function mergeNodes(base: LNode, child: LNode): LNode {
  if (base.kind !== 'map' || child.kind !== 'map') return child;
  const entries = new Map(base.entries);
  for (const [key, entry] of child.entries) {
    const under = base.entries.get(key);
    entries.set(key, under ? { keyPos: entry.keyPos, node: mergeNodes(under.node, entry.node) } : entry);
  }
  return { kind: 'map', pos: child.pos, entries };
}

/** A copy of a mapping without some keys (a base's `extends:` and `abstract:` are not inherited). */
export function withoutKeys(node: LNode, keys: readonly string[]): LNode {
  if (node.kind !== 'map') return node;
  const entries = new Map([...node.entries].filter(([k]) => !keys.includes(k)));
  return { ...node, entries };
}
