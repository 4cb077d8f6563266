// The kubeadm v1beta3 field checker shared by the kubeadm tests: every document of a generated kubeadm file must
// be a known kind with its apiVersion and only fields kubeadm 1.29's v1beta3 API has
// (test/fixtures/kubeadm-v1beta3-fields.json).

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { parseAllDocuments } from 'yaml';

export type FieldSpec = true | 'map' | 'any' | { [k: string]: FieldSpec };
export interface KindSpec {
  apiVersion: string;
  fields: Record<string, FieldSpec>;
}

export const FIELDS: Record<string, KindSpec> = JSON.parse(
  readFileSync(fileURLToPath(new URL('../fixtures/kubeadm-v1beta3-fields.json', import.meta.url)), 'utf8'),
).kinds;

/** Walk one YAML value against a field spec; returns "path: problem" strings. */
export function walk(value: unknown, spec: FieldSpec, path: string): string[] {
  if (spec === 'any') return [];
  if (spec === true) {
    const bad = Array.isArray(value) ? value.some((v) => v !== null && typeof v === 'object') : value !== null && typeof value === 'object';
    return bad ? [`${path}: expected a scalar or a list of scalars`] : [];
  }
  if (spec === 'map') {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return [`${path}: expected a map`];
    return Object.entries(value).flatMap(([k, v]) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? [`${path}.${k}: nested value in a map`] : []));
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => walk(v, spec, `${path}[${i}]`));
  if (value === null || typeof value !== 'object') return [`${path}: expected an object`];
  return Object.entries(value).flatMap(([k, v]) => {
    const sub = spec[k];
    return sub === undefined ? [`${path}.${k}: not a field of this kind`] : walk(v, sub, `${path}.${k}`);
  });
}

/** Parse a multi-document kubeadm file (YAML 1.1, as kubeadm reads it) and check every document's fields. */
export function kubeadmDocs(text: string): Array<Record<string, unknown>> {
  const parsed = parseAllDocuments(text, { version: '1.1' });
  if (!Array.isArray(parsed)) throw new Error('not a document stream');
  return parsed.map((d) => {
    expect(d.errors).toEqual([]);
    const obj = d.toJS() as Record<string, unknown>;
    const kind = String(obj.kind);
    const spec = FIELDS[kind];
    expect(spec, `unknown kind ${kind}`).toBeDefined();
    expect(obj.apiVersion).toBe(spec?.apiVersion);
    expect(walk(obj, spec?.fields ?? {}, kind)).toEqual([]);
    return obj;
  });
}

/** A dotted path into a parsed document ("discovery.bootstrapToken.token"). */
export function get(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const p of path.split('.')) cur = (cur as Record<string, unknown> | undefined)?.[p];
  return cur;
}
