// JSON Schema (draft-07, what yaml-language-server reads best) generated from the declarations in schema.ts.
// The committed schema/*.schema.json files must equal this output (test/profile-load.test.ts checks it).
// Port-range bounds (FormatSpec.check) are checked by the loader only; everything else is in the patterns.

import { CLUSTER_SCHEMA, FORMATS, PROFILE_SCHEMA, type Schema } from './schema.js';

type Json = Record<string, unknown>;

export function toJsonSchema(s: Schema): Json {
  const out: Json = {};
  switch (s.type) {
    case 'string':
      out.type = s.numbersAsText ? ['string', 'number'] : 'string';
      out.description = s.description;
      if (s.enum) out.enum = [...s.enum];
      if (s.format) {
        out.pattern = FORMATS[s.format].pattern;
        out.examples = [s.default ?? FORMATS[s.format].example];
      }
      break;
    case 'integer':
      out.type = 'integer';
      out.description = s.description;
      if (s.enum) out.enum = [...s.enum];
      if (s.minimum !== undefined) out.minimum = s.minimum;
      if (s.maximum !== undefined) out.maximum = s.maximum;
      break;
    case 'boolean':
      out.type = 'boolean';
      out.description = s.description;
      break;
    case 'array':
      out.type = 'array';
      out.description = s.description;
      out.items = toJsonSchema(s.items);
      break;
    case 'map':
      out.type = 'object';
      out.description = s.description;
      out.propertyNames = { pattern: FORMATS[s.keys].pattern };
      out.additionalProperties = toJsonSchema(s.values);
      break;
    case 'object':
      out.type = 'object';
      out.description = s.description;
      out.properties = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, toJsonSchema(v)]));
      if (s.required && s.required.length > 0) out.required = [...s.required];
      out.additionalProperties = false;
      break;
  }
  if ('default' in s && s.default !== undefined) out.default = s.default;
  return out;
}

function document(title: string, s: Schema): Json {
  return { $schema: 'http://json-schema.org/draft-07/schema#', title, ...toJsonSchema(s) };
}

/** schema/profile.schema.json */
export const profileJsonSchema = (): Json => document('mkimage role profile', PROFILE_SCHEMA);
/** schema/cluster.schema.json */
export const clusterJsonSchema = (): Json => document('mkimage cluster', CLUSTER_SCHEMA);

/** The exact text of a committed schema file. */
export const jsonSchemaText = (schema: Json): string => `${JSON.stringify(schema, null, 2)}\n`;
