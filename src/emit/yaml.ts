// A fast YAML writer for the plain JSON data mkimage emits (user-data, network-config, meta-data, kubeadm
// configs), byte-identical to `yaml`'s stringify with the same options.
//
// `yaml` builds a document tree and decides each scalar's style through its schema: a 1000-node render spent half
// its time there. This writer lays out maps and sequences itself, as `yaml` does (2-space indent, sequences
// indented under their key), and decides two common scalar styles itself where the answer is certain:
// - plain: a string that starts with a letter, "_" or "/" (or a digit, when it holds a "/" or is an IPv4 address), uses only a few safe
//   characters, and is no YAML 1.1 boolean or null word, so no schema can read it as anything but that string;
//   and a digit-led string of the same characters that none of the schema's own tag tests (int, float, timestamp,
//   ...) claims, which is the test `yaml` itself makes before it writes a string plain (a MAC with a hex letter,
//   a bootstrap token, a duration); and one without blanks that a tag does claim is quoted whole, with the quote
//   `yaml` uses for these options (a MAC of digits in YAML 1.1, '0600');
// - literal block ("|" or "|-"): a multi-line string with no control characters, no leading space or newline and
//   at most one trailing newline.
// Every other scalar (quoted strings, unusual blocks, keys that need quotes, floats) is written by `yaml` itself in
// the same position and re-indented, and remembered, so a content shared by every node is styled once.
// test/yaml-writer.test.ts checks byte equality with `yaml` on every emitted document and on random documents.

import { Document, stringify, type ToStringOptions, type DocumentOptions, type SchemaOptions, type CreateNodeOptions } from 'yaml';

export type YamlOptions = DocumentOptions & SchemaOptions & CreateNodeOptions & ToStringOptions;

const PLAIN = /^[A-Za-z_/][A-Za-z0-9_/.:=()+,~@ -]*$/;
const PLAIN_BAD = /: |[: ]$/;
const NOT_PLAIN_WORDS = new Set([
  'y', 'Y', 'n', 'N', 'yes', 'Yes', 'YES', 'no', 'No', 'NO', 'true', 'True', 'TRUE', 'false', 'False', 'FALSE',
  'on', 'On', 'ON', 'off', 'Off', 'OFF', 'null', 'Null', 'NULL',
]);
// what makes `yaml` leave block style or switch to double quotes
const DOCUMENT_MARKER = /^(%|---|\.\.\.)/m;
const FORCES_QUOTES = /[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]/;

// A digit may start it when it holds a "/" (an address with its prefix): no number, time or date has one. A
// digit-led string of these characters without one is plain unless the schema's tests read it as another type.
const PLAIN_DIGIT_LED = /^[0-9][A-Za-z0-9_/.:=()+,~@ -]*$/;
// the same without the blank: quoted as it is when a tag claims it
const QUOTE_SAFE = /^[0-9][A-Za-z0-9_/.:=()+,~@-]*$/;

// A dotted quad is no YAML 1.1 float (one dot at most), int or date either.
const DOTTED_QUAD = /^[0-9]{1,3}(\.[0-9]{1,3}){3}$/;

function isPlainSafe(s: string): boolean {
  if (PLAIN_BAD.test(s)) return false;
  if (PLAIN.test(s)) return !NOT_PLAIN_WORDS.has(s);
  return (PLAIN_DIGIT_LED.test(s) && s.includes('/')) || DOTTED_QUAD.test(s);
}

const STR_TAG = 'tag:yaml.org,2002:str';

/**
 * The tests `yaml` runs on a plain string before writing it plain (stringifyString's plainString: every default
 * tag of the schema but str, and its compat tags): a string one of them matches would be read back as another type.
 */
function typedTests(options: YamlOptions): RegExp[] {
  const { tags, compat } = new Document(null, options).schema;
  const tests: RegExp[] = [];
  for (const t of [...tags, ...(compat ?? [])]) {
    if (t.default === true && t.tag !== STR_TAG && 'test' in t && t.test instanceof RegExp) tests.push(t.test);
  }
  return tests;
}

/** The literal block `yaml` writes for `s` (content indented by `indent`), or undefined when unsure. */
function literalBlock(s: string, indent: string): string | undefined {
  if (!s.includes('\n') || FORCES_QUOTES.test(s)) return undefined;
  const first = s.charCodeAt(0);
  if (first === 0x20 || first === 0x0a) return undefined; // needs an indentation indicator
  let body = s;
  let chomp = '-';
  if (s.endsWith('\n')) {
    body = s.slice(0, -1);
    chomp = '';
  }
  const last = body.charCodeAt(body.length - 1);
  if (last === 0x0a || last === 0x20 || last === 0x09) return undefined; // keep-chomping or trailing blanks
  return `|${chomp}\n${indent}${body.replace(/\n+/g, `$&${indent}`)}`;
}

type Place = 'value' | 'item' | 'key';

/**
 * A YAML writer bound to one set of `yaml` options. Keep one per option set: it remembers the scalars `yaml`
 * styled.
 */
export class YamlWriter {
  private readonly probe: { value: Map<string, string>; item: Map<string, string>; key: Map<string, string> } = {
    value: new Map(),
    item: new Map(),
    key: new Map(),
  };

  /** the schema's tests for a string that reads back as another type (typedTests) */
  private readonly typed: RegExp[];

  constructor(readonly options: YamlOptions) {
    this.typed = typedTests(options);
    // the quote `yaml` puts around a string it must not write plain (singleQuote decides): learnt from yaml itself
    this.quote = stringify(['0600'], options).slice('- '.length, '- '.length + 1);
  }

  /** `'` or `"`: how `yaml` quotes a digit-led string a schema tag claims */
  private readonly quote: string;

  /** Plain for certain: the fixed rules, or a digit-led string of safe characters that no schema tag claims. */
  private plain(s: string): boolean {
    if (isPlainSafe(s)) return true;
    return PLAIN_DIGIT_LED.test(s) && !PLAIN_BAD.test(s) && !this.typed.some((t) => t.test(s));
  }

  /**
   * A digit-led value with no blank and nothing to escape that a schema tag claims (a MAC of digits, a base-60 or
   * octal number): `yaml` quotes it whole, with no folding or escape to decide.
   */
  private quoted(s: string): string | undefined {
    if (!QUOTE_SAFE.test(s) || !this.typed.some((t) => t.test(s))) return undefined;
    return `${this.quote}${s}${this.quote}`;
  }

  /** The document for `value` (a mapping or a sequence at the root), as `yaml`'s stringify writes it. */
  write(value: unknown): string {
    try {
      if (isMap(value) && Object.keys(value).length > 0) return this.map(value, '');
      if (Array.isArray(value) && value.length > 0) return this.seq(value, '');
    } catch (e) {
      if (!(e instanceof WholeDocument)) throw e;
    }
    return stringify(value, this.options);
  }

  private map(m: Record<string, unknown>, indent: string): string {
    let out = '';
    for (const k of Object.keys(m)) {
      const v = m[k];
      if (v === undefined) continue;
      out += `${indent}${this.key(k)}:${this.after(v, indent)}`;
    }
    return out;
  }

  private seq(a: readonly unknown[], indent: string): string {
    let out = '';
    for (const v of a) {
      if (isMap(v) && Object.keys(v).length > 0) {
        // the first entry shares the dash's line; the rest line up under it
        const inner = this.map(v, `${indent}  `);
        out += `${indent}- ${inner.slice(indent.length + 2)}`;
      } else if (Array.isArray(v) && v.length > 0) {
        const inner = this.seq(v, `${indent}  `);
        out += `${indent}- ${inner.slice(indent.length + 2)}`;
      } else {
        out += `${indent}- ${this.scalar(v, `${indent}  `, 'item')}\n`;
      }
    }
    return out;
  }

  /** What follows "key:" for a value: a nested block on the next lines, or " scalar". */
  private after(v: unknown, indent: string): string {
    const inner = `${indent}  `;
    if (isMap(v) && Object.keys(v).length > 0) return `\n${this.map(v, inner)}`;
    if (Array.isArray(v) && v.length > 0) return `\n${this.seq(v, inner)}`;
    return ` ${this.scalar(v, inner, 'value')}\n`;
  }

  private key(k: string): string {
    if (this.plain(k)) return k;
    // `yaml` styles such a key by its depth: leave the whole (unusual) document to it
    if (DOCUMENT_MARKER.test(k)) throw new WholeDocument();
    let s = this.probe.key.get(k);
    if (s === undefined) {
      const text = stringify({ [k]: 0 }, this.options);
      if (!text.endsWith(': 0\n') || text.startsWith('? ')) throw new TypeError(`cannot write the key ${JSON.stringify(k)} as YAML`);
      s = text.slice(0, -': 0\n'.length);
      this.probe.key.set(k, s);
    }
    return s;
  }

  /** A scalar (or an empty collection) whose continuation lines are indented by `indent`. */
  private scalar(v: unknown, indent: string, place: Exclude<Place, 'key'>): string {
    if (typeof v === 'string') {
      if (this.plain(v)) return v;
      const quoted = this.quoted(v);
      if (quoted !== undefined) return quoted;
      const block = literalBlock(v, indent);
      if (block !== undefined) return block;
      return this.byYaml(v, indent, place);
    }
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (v === null) return 'null';
    if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
    if (Array.isArray(v) && v.length === 0) return '[]';
    if (isMap(v) && Object.keys(v).length === 0) return '{}';
    if (typeof v === 'number') return this.byYaml(v, indent, place);
    throw new TypeError(`cannot write a ${typeof v} as YAML`);
  }

  /**
   * `yaml`'s own rendering of a scalar in the same place: `{k: v}` puts a value where a mapping value at the
   * root goes (continuations indented by 2), `[v]` where a sequence item goes; re-indented to `indent`.
   */
  private byYaml(v: string | number, indent: string, place: Exclude<Place, 'key'>): string {
    const memo = this.probe[place];
    const memoKey = typeof v === 'number' ? `n${v}` : `s${v}`;
    let text = memo.get(memoKey);
    if (text === undefined) {
      const doc = place === 'value' ? stringify({ k: v }, this.options) : stringify([v], this.options);
      text = doc.slice(place === 'value' ? 'k: '.length : '- '.length, -1);
      memo.set(memoKey, text);
    }
    if (indent === '  ' || !text.includes('\n')) return text;
    const extra = indent.slice(2);
    // only lines that carry text: `yaml` leaves empty lines empty
    return text.replace(/\n(?=[^\n])/g, `\n${extra}`);
  }
}

/** Thrown where only `yaml` writing the whole document gets it right. */
class WholeDocument extends Error {}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
