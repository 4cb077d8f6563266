// Walks the schema declarations (schema.ts) over a positioned tree (merge.ts): validation with diagnostics
// worded as the fix, conversion to plain values with a positions map, and defaults.
//
// Positions map: for each dotted path of the value ("kernel.sysctls", "nodes.1.mac"), where it was written:
// a scalar points at its value, a mapping or list at its key (or its first item when it has no key).
// Values filled in by defaults have no entry: look up the nearest ancestor ("" is the document root).

import { error, type Diagnostic, type Position } from '../diagnostics.js';
import type { LNode, LScalar } from './merge.js';
import { FORMATS, type FormatName, type FormatSpec, type Schema, type StringSchema } from './schema.js';

type Path = ReadonlyArray<string | number>;

/** "nodes[1].mac" — how a path reads in a message. */
export function displayPath(path: Path): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out === '' ? 'the top level' : out;
}

/** Optimal-string-alignment distance (a swap of neighbours counts one). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number) => d[i]?.[j] ?? Infinity;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = v;
    }
  }
  return at(a.length, b.length);
}

/** The closest of `known` to `word`, if close enough to be a typo. */
export function suggest(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const dist = editDistance(word, k);
    if (dist < bestD) [best, bestD] = [k, dist];
  }
  return bestD <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

const quote = (s: string) => JSON.stringify(s);
/** How to write `value` at `path`: "memory: 4096" for a key, just the value for a list item. */
const written = (path: Path, value: string) => {
  const key = path[path.length - 1];
  return typeof key === 'string' ? `${key}: ${value}` : value;
};

/** An example value for a "add key: value" hint. */
function exampleOf(s: Schema): string {
  if (s.type === 'string') return s.example ?? (s.enum ? (s.enum[0] ?? '') : s.format ? FORMATS[s.format].example : '...');
  if (s.type === 'integer') return String(s.enum?.[0] ?? s.default ?? s.minimum ?? 1);
  if (s.type === 'boolean') return 'true';
  if (s.type === 'array') return '[]';
  return '{}';
}

/** true, false (the text does not look like the format), or the precise reason it is refused, worded as the fix. */
function formatOk(format: FormatName, text: string): boolean | string {
  const f = FORMATS[format] as FormatSpec;
  if (!new RegExp(f.pattern).test(text)) {
    const ipFormat = format === 'cidr' || format === 'serviceCidr' || format === 'ipPrefix' || format === 'ipv4';
    if (ipFormat && /^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(\/\d+)?$/.test(text)) return `mkimage supports IPv4 only, and this is an IPv6 address: write it like ${quote(f.example)}`;
    return false;
  }
  return f.check?.(text) ?? true;
}

/** What a scalar node is, for "found ..." wording. */
function kindOf(node: LNode): string {
  if (node.kind === 'map') return 'a mapping';
  if (node.kind === 'seq') return 'a list';
  if (node.value === null) return 'nothing';
  return typeof node.value === 'string' ? `the text ${quote(node.value)}` : `${typeof node.value} ${node.source}`;
}

export interface ValidateOptions {
  /** also check ObjectSchema.requiredAfterMerge (the final, merged document) */
  merged?: boolean;
}

/**
 * Check `node` against `schema`; push diagnostics. `anchor` is where a missing key is reported: the key of the
 * mapping that lacks it.
 */
export function validate(schema: Schema, node: LNode, path: Path, anchor: Position, diags: Diagnostic[], opts: ValidateOptions = {}): void {
  const where = displayPath(path);
  switch (schema.type) {
    case 'object': {
      if (node.kind !== 'map') {
        diags.push(error('E004', `${where} must be a mapping of "key: value" lines, not ${kindOf(node)}`, node.pos));
        return;
      }
      const known = Object.keys(schema.properties);
      for (const [key, entry] of node.entries) {
        const prop = schema.properties[key];
        if (prop === undefined) {
          const close = suggest(key, known);
          const fix = close ? `did you mean ${quote(close)}?` : `remove it, or use one of: ${known.join(', ')}`;
          diags.push(error('E003', `unknown key ${quote(key)} in ${where}; ${fix}`, entry.keyPos));
          continue;
        }
        validate(prop, entry.node, [...path, key], entry.keyPos, diags, opts);
      }
      const required = [...(schema.required ?? []), ...(opts.merged ? (schema.requiredAfterMerge ?? []) : [])];
      for (const key of required) {
        if (node.entries.has(key)) continue;
        const prop = schema.properties[key] as Schema;
        const hint = prop.type === 'string' && prop.enum ? `one of ${prop.enum.join(', ')}` : prop.description.replace(/\.$/, '');
        diags.push(error('E005', `${where} needs ${quote(key)}: add "${key}: ${exampleOf(prop)}" (${hint})`, anchor));
      }
      return;
    }
    case 'map': {
      if (node.kind !== 'map') {
        diags.push(error('E004', `${where} must be a mapping of "name: value" lines, not ${kindOf(node)}`, node.pos));
        return;
      }
      for (const [key, entry] of node.entries) {
        if (formatOk(schema.keys, key) !== true) {
          const f = FORMATS[schema.keys];
          diags.push(error('E007', `key ${quote(key)} in ${where} is not ${f.what}: write it like ${quote(f.example)}`, entry.keyPos));
        }
        validate(schema.values, entry.node, [...path, key], entry.keyPos, diags, opts);
      }
      return;
    }
    case 'array': {
      if (node.kind !== 'seq') {
        const fix = node.kind === 'scalar' && node.value === null ? 'write [] for an empty list' : `write it as a list: [${exampleOf(schema.items)}] or one "- item" per line`;
        diags.push(error('E004', `${where} must be a list, not ${kindOf(node)}; ${fix}`, node.pos));
        return;
      }
      node.items.forEach((item, i) => validate(schema.items, item, [...path, i], item.pos, diags, opts));
      return;
    }
    case 'string':
      validateString(schema, node, path, diags);
      return;
    case 'integer': {
      if (node.kind !== 'scalar' || typeof node.value !== 'number' || !Number.isInteger(node.value)) {
        const fix = node.kind === 'scalar' && typeof node.value === 'string' && /^\d+$/.test(node.value) ? `remove the quotes: ${written(path, node.value)}` : `e.g. ${written(path, exampleOf(schema))}`;
        diags.push(error('E004', `${where} must be a whole number, not ${kindOf(node)}; ${fix}`, node.pos));
        return;
      }
      const v = node.value;
      if (schema.enum && !schema.enum.includes(v)) {
        diags.push(error('E006', `${where} must be ${schema.enum.join(' or ')}, not ${v}: write "${written(path, String(schema.enum[0]))}"`, node.pos));
      } else if (schema.minimum !== undefined && v < schema.minimum) {
        diags.push(error('E006', `${where} is ${v}: use at least ${schema.minimum}`, node.pos));
      } else if (schema.maximum !== undefined && v > schema.maximum) {
        diags.push(error('E006', `${where} is ${v}: use at most ${schema.maximum}`, node.pos));
      }
      return;
    }
    case 'boolean':
      if (node.kind !== 'scalar' || typeof node.value !== 'boolean') {
        diags.push(error('E004', `${where} must be true or false, not ${kindOf(node)}`, node.pos));
      }
      return;
  }
}

/** The text of a string-typed scalar (a plain number counts where `numbersAsText`), else undefined. */
function textOf(schema: StringSchema, node: LScalar): string | undefined {
  if (typeof node.value === 'string') return node.value;
  if (typeof node.value === 'number' && schema.numbersAsText) return node.source;
  return undefined;
}

/**
 * The quoted form of an unquoted value. A mode is written back as the 4-digit octal string the loader accepts:
 * 644, 0644 and 0o644 all become '0644' (quoting "644" or "0o644" as they stand would be refused next).
 */
function quotedFix(schema: StringSchema, source: string): string {
  const octal = schema.format === 'mode' ? /^(?:0o)?([0-7]{1,4})$/.exec(source)?.[1] : undefined;
  return octal !== undefined ? `'${octal.padStart(4, '0')}'` : `"${source}"`;
}

function validateString(schema: StringSchema, node: LNode, path: Path, diags: Diagnostic[]): void {
  const where = displayPath(path);
  if (node.kind !== 'scalar') {
    diags.push(error('E004', `${where} must be a single value, not ${kindOf(node)}; e.g. ${written(path, exampleOf(schema))}`, node.pos));
    return;
  }
  const text = textOf(schema, node);
  if (text === undefined) {
    const fix = node.value === null ? `give it a value, e.g. ${written(path, exampleOf(schema))}` : `quote it: ${written(path, quotedFix(schema, node.source))}`;
    diags.push(error('E004', `${where} must be text, not ${kindOf(node)}; ${fix}`, node.pos));
    return;
  }
  if (schema.enum && !schema.enum.includes(text)) {
    const close = suggest(text, schema.enum);
    const hint = close ? ` (did you mean ${quote(close)}?)` : '';
    diags.push(error('E006', `${where} is ${quote(text)}: use one of ${schema.enum.join(', ')}${hint}`, node.pos));
    return;
  }
  const ok = schema.format ? formatOk(schema.format, text) : true;
  if (ok === false && schema.format) {
    const f = FORMATS[schema.format];
    diags.push(error('E007', `${where} is ${quote(text)}, not ${f.what}: write it like ${quote(f.example)}`, node.pos));
  } else if (typeof ok === 'string') {
    diags.push(error('E007', `${where} is ${quote(text)}: ${ok}`, node.pos));
  }
}

/** "52-54-00-66-00-AA" -> "52:54:00:66:00:aa" */
export const normaliseMac = (mac: string) => mac.toLowerCase().replace(/-/g, ':');

/**
 * The plain value of a VALID node (run `validate` first), recording each path's position in `positions`. Load-only keys
 * (version, extends, abstract) are dropped; MACs are normalised.
 */
export function toValue(schema: Schema, node: LNode, path: Path, positions: Map<string, Position>, keyPos?: Position): unknown {
  const dotted = path.join('.');
  positions.set(dotted, node.kind === 'scalar' ? node.pos : (keyPos ?? node.pos));
  if (schema.type === 'object' && node.kind === 'map') {
    const out: Record<string, unknown> = {};
    for (const [key, prop] of Object.entries(schema.properties)) {
      const entry = node.entries.get(key);
      if (entry === undefined || schema.loadOnly?.includes(key)) continue;
      out[key] = toValue(prop, entry.node, [...path, key], positions, entry.keyPos);
    }
    return out;
  }
  if (schema.type === 'map' && node.kind === 'map') {
    const out: Record<string, unknown> = {};
    for (const [key, entry] of node.entries) out[key] = toValue(schema.values, entry.node, [...path, key], positions, entry.keyPos);
    return out;
  }
  if (schema.type === 'array' && node.kind === 'seq') return node.items.map((item, i) => toValue(schema.items, item, [...path, i], positions));
  if (node.kind !== 'scalar') return undefined;
  if (schema.type === 'string') {
    const text = textOf(schema, node) ?? '';
    return schema.format === 'mac' ? normaliseMac(text) : text;
  }
  return node.value;
}

/** Fill every absent field that has a default; properties come out in schema order (stable output). */
export function applyDefaults(schema: Schema, value: unknown): unknown {
  if (schema.type === 'object') {
    const v = (value ?? {}) as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [key, prop] of Object.entries(schema.properties)) {
      if (schema.loadOnly?.includes(key)) continue;
      const own = v[key];
      if (own !== undefined) out[key] = applyDefaults(prop, own);
      else if ('default' in prop && prop.default !== undefined) out[key] = structuredClone(prop.default);
      else if (prop.type === 'object' && !prop.optional) out[key] = applyDefaults(prop, {});
    }
    return out;
  }
  if (schema.type === 'array' && Array.isArray(value)) return value.map((item) => applyDefaults(schema.items, item));
  return value;
}
