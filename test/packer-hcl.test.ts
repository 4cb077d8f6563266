// Packer >= 1.7 output, checked field by field. No Packer >= 1.7 or plugin can be installed here (Debian ships
// 1.6.6, which validates only the 1.6.6 variant), so the emitted mkimage.pkr.hcl is parsed with HashiCorp's own
// HCL parser (@cdktf/hcl2json, hcl2json built to WASM) and every block, attribute and value type is checked
// against the field lists of packer-plugin-qemu, -proxmox and -vsphere at the oldest and newest release the
// emitted required_plugins constraint admits, and the provisioners against Packer core at the targeted version.
// Those lists are read from the upstream hcl2spec.go files into test/fixtures/packer-plugins/ by generate.ts there.
//
// Required fields: packer-sdc marks none Required in these specs (the plugins check required settings in their
// Prepare), so that part checks whatever a fixture marks and is proven on a spec made here.

import { readFileSync, readdirSync, writeFileSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getExpressionAst, parse } from '@cdktf/hcl2json';
import { beforeAll, describe, expect, it } from 'vitest';
import { mkimage } from './helpers/cli.js';
import { scratchDirs } from './helpers/tmp.js';
import { PACKAGE_ROOT } from '../src/template.js';

// ---------------------------------------------------------------------------------------------------------------
// Fixtures

/** As generate.ts writes it: an attribute is its cty type, a nested block a BlockSpec. */
interface BlockSpec {
  block?: 'single' | 'list';
  required: string[];
  fields: Record<string, string | BlockSpec>;
}
interface Fixture {
  repo: string;
  tag: string;
  blocks: Record<string, BlockSpec>;
}

const FIXTURES = fileURLToPath(new URL('./fixtures/packer-plugins/', import.meta.url));
/** "qemu" -> "1.0.9" -> fixture; "packer" is Packer core. */
const fixtures = new Map<string, Map<string, Fixture>>();
for (const f of readdirSync(FIXTURES)) {
  const m = /^([a-z]+)-(\d+\.\d+\.\d+)\.json$/.exec(f);
  if (!m) continue;
  if (!fixtures.has(m[1]!)) fixtures.set(m[1]!, new Map());
  fixtures.get(m[1]!)!.set(m[2]!, JSON.parse(readFileSync(join(FIXTURES, f), 'utf8')));
}
const RELEASES: Record<string, { repo: string; versions: string[] }> = JSON.parse(
  readFileSync(join(FIXTURES, 'releases.json'), 'utf8'),
).releases;

// ---------------------------------------------------------------------------------------------------------------
// Versions and constraints, as hashicorp/go-version reads them (what `packer init` uses)

type Ver = number[];
function parseVer(s: string): Ver {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(s.trim());
  if (!m) throw new Error(`not a version: ${s}`);
  return [m[1], m[2], m[3]].filter((x) => x !== undefined).map(Number);
}
function cmp(a: Ver, b: Ver): number {
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
}
/** Does `constraint` (">= 1.0.9", "~> 1.1", ">= 1.0, < 2.0") admit `version`? Throws on bad syntax. */
function admits(constraint: string, version: string): boolean {
  const v = parseVer(version);
  return constraint.split(',').every((part) => {
    const m = /^\s*(>=|<=|!=|~>|=|>|<)?\s*(\S+)\s*$/.exec(part);
    if (!m) throw new Error(`not a version constraint: ${constraint}`);
    const c = parseVer(m[2]!);
    const d = cmp(v, c);
    switch (m[1] ?? '=') {
      case '=': return d === 0;
      case '!=': return d !== 0;
      case '>': return d > 0;
      case '<': return d < 0;
      case '>=': return d >= 0;
      case '<=': return d <= 0;
      // pessimistic: all but the constraint's last segment equal, the last one at least as high
      default: return d >= 0 && c.slice(0, -1).every((x, i) => v[i] === x);
    }
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Value types, as cty converts them when Packer decodes an attribute

type Ty =
  | { t: 'string'; lits?: string[] }
  | { t: 'number' | 'bool' | 'null' }
  | { t: 'tuple'; elems: Ty[] }
  | { t: 'object'; attrs: Record<string, Ty> }
  | { t: 'list' | 'set' | 'map'; elem: Ty };

const show = (ty: Ty): string => ('elem' in ty ? `${ty.t}(${show(ty.elem)})` : ty.t);

/** A variable's `type = ...` (hcl2json writes it as "${string}"). */
function declaredType(expr: string): Ty {
  const s = expr.replace(/^\$\{(.*)\}$/s, '$1').trim();
  if (s === 'string' || s === 'number' || s === 'bool') return { t: s };
  const m = /^(list|set|map)\((.*)\)$/.exec(s);
  if (m) return { t: m[1] as 'list', elem: declaredType(m[2]!) };
  throw new Error(`variable type not understood: ${expr}`);
}

/** Why `from` does not convert to the cty type `to` ("string", "list(string)", ...), or null when it does. */
function convertError(from: Ty, to: string): string | null {
  if (from.t === 'null') return null;
  const wrap = /^(list|set|map)\((.*)\)$/.exec(to);
  if (wrap) {
    const [kind, elem] = [wrap[1]!, wrap[2]!];
    const items: Ty[] | undefined = kind === 'map'
      ? from.t === 'object' ? Object.values(from.attrs) : from.t === 'map' ? [from.elem] : undefined
      : from.t === 'tuple' ? from.elems : from.t === 'list' || from.t === 'set' ? [from.elem] : undefined;
    if (items === undefined) return `expected ${to}, got ${show(from)}`;
    for (const item of items) {
      const e = convertError(item, elem);
      if (e !== null) return `expected ${to}: ${e}`;
    }
    return null;
  }
  if (to === 'string') return ['string', 'number', 'bool'].includes(from.t) ? null : `expected string, got ${show(from)}`;
  if (to === 'number' || to === 'bool') {
    if (from.t === to) return null;
    if (from.t === 'string') {
      // cty converts a string that spells a number or a bool; a variable's string may spell anything
      if (from.lits === undefined) return `expected ${to}, got a string variable (not every value converts)`;
      const ok = (s: string) => (to === 'number' ? /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(s) : s === 'true' || s === 'false');
      const bad = from.lits.find((s) => !ok(s));
      return bad === undefined ? null : `expected ${to}, got the string ${JSON.stringify(bad)}`;
    }
    return `expected ${to}, got ${show(from)}`;
  }
  throw new Error(`cty type not understood: ${to}`);
}

type Ast = Awaited<ReturnType<typeof getExpressionAst>>;

function astType(ast: NonNullable<Ast>, vars: Map<string, Ty>): Ty {
  const child = (i: number) => astType(ast.children[i]!, vars);
  switch (ast.type) {
    case 'literalValue': {
      const meta = ast.meta as { type: string; value: string };
      if (meta.type === 'string') return { t: 'string', lits: [meta.value] };
      if (meta.type === 'number' || meta.type === 'bool') return { t: meta.type };
      return { t: 'null' };
    }
    case 'template': {
      const lits = ast.children.every((c) => c.type === 'literalValue')
        ? [ast.children.map((c) => (c.meta as { value: string }).value).join('')]
        : undefined;
      ast.children.forEach((_c, i) => child(i)); // every reference inside must resolve
      return lits === undefined ? { t: 'string' } : { t: 'string', lits };
    }
    case 'templateWrap':
      return child(0);
    case 'scopeTraversal': {
      const name = (ast.meta as { fullAccessor: string }).fullAccessor;
      const m = /^var\.([\w-]+)$/.exec(name);
      const ty = m ? vars.get(m[1]!) : undefined;
      if (ty === undefined) throw new Error(m ? `${name}: no such variable` : `${name}: type not known here`);
      return ty;
    }
    case 'conditional': {
      if (convertError(child(0), 'bool') !== null) throw new Error(`condition is not a bool: ${ast.meta.value}`);
      const [a, b] = [child(1), child(2)];
      if (a.t === 'string' && b.t === 'string') {
        return a.lits && b.lits ? { t: 'string', lits: [...a.lits, ...b.lits] } : { t: 'string' };
      }
      if (a.t === b.t && !('elem' in a) && a.t !== 'tuple' && a.t !== 'object') return a;
      throw new Error(`conditional results differ in type: ${ast.meta.value}`);
    }
    case 'binaryOp':
    case 'unaryOp':
      ast.children.forEach((_c, i) => child(i));
      return { t: (ast.meta as { returnType: string }).returnType as 'bool' };
    case 'tuple':
      return { t: 'tuple', elems: ast.children.map((_c, i) => child(i)) };
    default:
      throw new Error(`${ast.type} expression not typed by this check: ${ast.meta.value}`);
  }
}

/** The type of a value as hcl2json gives it (expressions come as "${...}" strings). */
async function typeOf(v: unknown, vars: Map<string, Ty>): Promise<Ty> {
  if (v === null) return { t: 'null' };
  if (typeof v === 'boolean') return { t: 'bool' };
  if (typeof v === 'number') return { t: 'number' };
  if (Array.isArray(v)) return { t: 'tuple', elems: await Promise.all(v.map((x) => typeOf(x, vars))) };
  if (typeof v === 'object') {
    const attrs: Record<string, Ty> = {};
    for (const [k, x] of Object.entries(v)) attrs[k] = await typeOf(x, vars);
    return { t: 'object', attrs };
  }
  const s = String(v);
  if (!s.includes('${')) return { t: 'string', lits: [s] };
  // one whole interpolation: the expression's own type; else a template, whose result is a string
  const whole = /^\$\{([\s\S]*)\}$/.exec(s);
  if (whole) {
    const ast = await getExpressionAst('value.hcl', whole[1]!).catch(() => null);
    if (ast) return astType(ast, vars);
  }
  const ast = await getExpressionAst('value.hcl', `"${s}"`);
  if (!ast) throw new Error(`cannot parse ${s}`);
  return astType(ast, vars);
}

// ---------------------------------------------------------------------------------------------------------------
// Attribute or block: hcl2json writes `x { ... }` and `x = [{ ... }]` alike, so the text says which it was

interface Form {
  chain: string[];
  name: string;
  form: 'attribute' | 'block';
}

/** Bracket depth change of one line, outside double-quoted strings. */
function depthDelta(s: string): number {
  let d = 0;
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '#') break;
    else if (c === '[' || c === '{' || c === '(') d++;
    else if (c === ']' || c === '}' || c === ')') d--;
  }
  return d;
}

/** Every attribute and block of a `packer fmt` formatted file, with the chain of blocks it is in. */
function forms(text: string): Form[] {
  const out: Form[] = [];
  const chain: string[] = [];
  let pending = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending > 0) {
      pending += depthDelta(line);
      continue;
    }
    if (line === '' || line.startsWith('#') || line.startsWith('//')) continue;
    if (line.includes('<<')) throw new Error(`heredocs are not read by this check: ${raw}`);
    if (line === '}') {
      if (chain.pop() === undefined) throw new Error('unbalanced }');
      continue;
    }
    const attr = /^([A-Za-z_][\w-]*)\s*=(.*)$/.exec(line);
    if (attr) {
      out.push({ chain: [...chain], name: attr[1]!, form: 'attribute' });
      pending = depthDelta(attr[2]!);
      continue;
    }
    const block = /^([A-Za-z_][\w-]*)((?:\s+"[^"]*")*)\s*\{(\s*\})?$/.exec(line);
    if (block) {
      out.push({ chain: [...chain], name: block[1]!, form: 'block' });
      if (block[3] === undefined) chain.push(`${block[1]}${block[2]}`);
      continue;
    }
    throw new Error(`line not read by this check: ${raw}`);
  }
  if (chain.length > 0) throw new Error(`unclosed block ${chain.join(' > ')}`);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// The checker

/**
 * Packer core's own frame, hand-read from hashicorp/packer v1.7.0..v1.9.4 hcl2template/: parser.go configSchema
 * and packerBlockSchema, types.variables.go variableBlockSchema and variableValidationBlockSchema,
 * types.build.go (decodeBuildConfig, buildSchema), types.build.provisioners.go (the provisioner meta fields).
 */
const TOP_BLOCKS = ['packer', 'source', 'variables', 'variable', 'locals', 'local', 'data', 'build'];
const VARIABLE: BlockSpec = {
  required: [],
  fields: {
    description: 'string', default: 'any', type: 'any', sensitive: 'bool',
    validation: { block: 'list', required: ['condition', 'error_message'], fields: { condition: 'bool', error_message: 'string' } },
  },
};
const BUILD_ATTRS: Record<string, string> = { name: 'string', description: 'string', sources: 'list(string)' };
const BUILD_BLOCKS = ['source', 'provisioner', 'error-cleanup-provisioner', 'post-processor', 'post-processors', 'hcp_packer_registry'];
const PROVISIONER_META: Record<string, string> = {
  name: 'string', pause_before: 'string', max_retries: 'number', timeout: 'string', only: 'list(string)', except: 'list(string)',
};

type Body = Record<string, unknown>;
const isBody = (v: unknown): v is Body => v !== null && typeof v === 'object' && !Array.isArray(v);

/** One body against a block spec: unknown fields, value types, nested blocks, required fields. */
async function checkBody(body: Body, spec: BlockSpec, where: string, vars: Map<string, Ty>, errors: string[]): Promise<void> {
  for (const r of spec.required) if (!(r in body)) errors.push(`${where}: ${r} is required`);
  for (const [k, v] of Object.entries(body)) {
    const f = spec.fields[k];
    if (f === undefined) {
      errors.push(`${where}: ${k} is not a field of this block`);
    } else if (typeof f === 'string') {
      if (f === 'any') continue;
      try {
        const e = convertError(await typeOf(v, vars), f);
        if (e !== null) errors.push(`${where}: ${k}: ${e}`);
      } catch (err) {
        errors.push(`${where}: ${k}: ${(err as Error).message}`);
      }
    } else if (!Array.isArray(v) || !v.every(isBody)) {
      errors.push(`${where}: ${k} must be a block`);
    } else if (f.block === 'single' && v.length > 1) {
      errors.push(`${where}: block ${k} may appear once, not ${v.length} times`);
    } else {
      for (const [i, b] of v.entries()) await checkBody(b, f, `${where}.${k}[${i}]`, vars, errors);
    }
  }
}

/** The same spec walked over the text's forms: a field the plugin takes as a block must be written as one. */
function checkForms(all: Form[], head: string, spec: BlockSpec, where: string, errors: string[]): void {
  for (const f of all) {
    if (f.chain[0] !== head) continue;
    let s: BlockSpec | undefined = spec;
    for (const name of f.chain.slice(1)) {
      const next: string | BlockSpec | undefined = s?.fields[name.split(' ')[0]!];
      s = typeof next === 'object' ? next : undefined;
    }
    const field = s?.fields[f.name];
    if (field === undefined) continue; // unknown: reported by checkBody
    const want = typeof field === 'string' ? 'attribute' : 'block';
    if (want !== f.form) errors.push(`${where}: ${[...f.chain.slice(1), f.name].join('.')} is written as ${f.form === 'block' ? 'a block' : 'an attribute'}; the plugin takes ${want === 'block' ? 'a block' : 'an attribute'}`);
  }
}

interface CheckResult {
  errors: string[];
  /** "source.qemu.golden: qemu 1.0.9" for every body checked against a fixture */
  checked: string[];
  /** local name -> { source, version } */
  plugins: Record<string, { source: string; version: string }>;
}

/** Check one emitted file for Packer `packerVersion` (>= 1.7). */
async function checkPackerHcl(text: string, packerVersion: string, opts: { fixtures?: typeof fixtures } = {}): Promise<CheckResult> {
  const fx = opts.fixtures ?? fixtures;
  const errors: string[] = [];
  const checked: string[] = [];
  const doc = (await parse('mkimage.pkr.hcl', text)) as Record<string, unknown>;
  const textForms = forms(text);
  for (const f of textForms) {
    if (f.chain.length === 0 && (f.form === 'attribute' || !TOP_BLOCKS.includes(f.name))) errors.push(`${f.name}: not a top-level block of Packer`);
  }

  // variables: their declared types type every var.X below
  const vars = new Map<string, Ty>();
  for (const [name, bodies] of Object.entries((doc.variable ?? {}) as Record<string, Body[]>)) {
    const body = bodies[0]!;
    if (bodies.length > 1) errors.push(`variable.${name}: declared ${bodies.length} times`);
    await checkBody(body, VARIABLE, `variable.${name}`, vars, errors);
    let ty: Ty = { t: 'string' };
    try {
      ty = typeof body.type === 'string' ? declaredType(body.type) : { t: 'string' };
      if ('default' in body) {
        const e = convertError(await typeOf(body.default, new Map()), show(ty));
        if (e !== null) errors.push(`variable.${name}: default: ${e}`);
      }
    } catch (err) {
      errors.push(`variable.${name}: ${(err as Error).message}`);
    }
    vars.set(name, ty);
  }

  // packer { required_version, required_plugins { name = { source, version } } }
  const plugins: CheckResult['plugins'] = {};
  for (const [i, p] of ((doc.packer ?? []) as Body[]).entries()) {
    for (const k of Object.keys(p)) if (k !== 'required_version' && k !== 'required_plugins') errors.push(`packer[${i}]: ${k} is not a field of this block`);
    for (const rp of (p.required_plugins ?? []) as Body[]) {
      for (const [name, req] of Object.entries(rp)) {
        const r = req as Body;
        if (!isBody(r) || typeof r.source !== 'string' || typeof r.version !== 'string' || Object.keys(r).some((k) => k !== 'source' && k !== 'version')) {
          errors.push(`required_plugins.${name}: must be an object of exactly source and version, both strings`);
          continue;
        }
        if (!/^[\w.-]+\/[\w-]+\/[\w-]+$/.test(r.source)) errors.push(`required_plugins.${name}: source ${r.source} is not host/namespace/name`);
        plugins[name] = { source: r.source, version: r.version };
      }
    }
  }
  if (Object.keys(plugins).length === 0) errors.push('no required_plugins: Packer >= 1.7 loads no external plugin without them');

  /** The fixtures a plugin's constraint admits; the oldest and newest admitted release must both be there. */
  const admitted = (name: string): Array<[string, Fixture]> => {
    const { source, version } = plugins[name]!;
    const plugin = /^github\.com\/hashicorp\/([\w-]+)$/.exec(source)?.[1];
    const releases = plugin === undefined ? undefined : RELEASES[plugin];
    if (plugin === undefined || releases === undefined) {
      errors.push(`required_plugins.${name}: no field lists for ${source}`);
      return [];
    }
    let ok: string[];
    try {
      ok = releases.versions.filter((v) => admits(version, v));
    } catch (err) {
      errors.push(`required_plugins.${name}: ${(err as Error).message}`);
      return [];
    }
    if (ok.length === 0) {
      errors.push(`required_plugins.${name}: "${version}" admits no release of ${releases.repo}`);
      return [];
    }
    const have = fx.get(plugin) ?? new Map<string, Fixture>();
    for (const v of new Set([ok[0]!, ok.at(-1)!])) {
      if (!have.has(v)) errors.push(`required_plugins.${name}: "${version}" admits ${plugin} ${v}, which has no field list: run test/fixtures/packer-plugins/generate.ts for ${plugin}@${v}`);
    }
    return [...have].filter(([v]) => ok.includes(v)).sort(([a], [b]) => cmp(parseVer(a), parseVer(b)));
  };

  // sources: each against every admitted field list of its plugin
  const declared = new Set<string>();
  for (const [type, byName] of Object.entries((doc.source ?? {}) as Record<string, Record<string, Body[]>>)) {
    const local = Object.keys(plugins).find((n) => type === n || type.startsWith(`${n}-`));
    for (const [name, bodies] of Object.entries(byName)) {
      const where = `source.${type}.${name}`;
      declared.add(where);
      if (bodies.length > 1) errors.push(`${where}: declared ${bodies.length} times`);
      if (local === undefined) {
        errors.push(`${where}: no required_plugins entry provides the ${type} builder`);
        continue;
      }
      for (const [version, fixture] of admitted(local)) {
        const spec = fixture.blocks[`source.${type}`];
        if (spec === undefined) {
          errors.push(`${where}: ${fixture.repo} ${version} has no ${type} builder`);
          continue;
        }
        const before = errors.length;
        await checkBody(bodies[0]!, spec, where, vars, errors);
        checkForms(textForms, `source "${type}" "${name}"`, spec, where, errors);
        for (let i = before; i < errors.length; i++) errors[i] = `${errors[i]} (${local} ${version})`;
        checked.push(`${where}: ${local} ${version}`);
      }
    }
  }

  // build: sources named must exist; provisioners against Packer core at this version
  const core = fx.get('packer')?.get(packerVersion);
  if (core === undefined) errors.push(`no field list for Packer ${packerVersion}: run generate.ts for packer@${packerVersion}`);
  for (const [bi, build] of ((doc.build ?? []) as Body[]).entries()) {
    for (const [k, v] of Object.entries(build)) {
      if (k in BUILD_ATTRS) {
        const e = convertError(await typeOf(v, vars), BUILD_ATTRS[k]!);
        if (e !== null) errors.push(`build[${bi}]: ${k}: ${e}`);
      } else if (!BUILD_BLOCKS.includes(k)) errors.push(`build[${bi}]: ${k} is not a field of this block`);
    }
    for (const s of (build.sources ?? []) as string[]) if (!declared.has(s)) errors.push(`build[${bi}]: sources names ${s}, which is not declared`);
    if (build['post-processor'] !== undefined || build['post-processors'] !== undefined || build['error-cleanup-provisioner'] !== undefined) {
      errors.push(`build[${bi}]: post-processors and error-cleanup provisioners have no field list here: add them to generate.ts`);
    }
    for (const [type, bodies] of Object.entries((build.provisioner ?? {}) as Record<string, Body[]>)) {
      const spec = core?.blocks[`provisioner.${type}`];
      if (spec === undefined) {
        if (core !== undefined) errors.push(`build[${bi}]: no field list for provisioner ${type} in Packer ${packerVersion}`);
        continue;
      }
      const withMeta: BlockSpec = { ...spec, fields: { ...PROVISIONER_META, override: 'any', ...spec.fields } };
      for (const [i, body] of bodies.entries()) {
        const before = errors.length;
        await checkBody(body, withMeta, `build[${bi}].provisioner.${type}[${i}]`, vars, errors);
        for (let j = before; j < errors.length; j++) errors[j] = `${errors[j]} (packer ${packerVersion})`;
        checked.push(`build[${bi}].provisioner.${type}[${i}]: packer ${packerVersion}`);
      }
    }
  }
  return { errors, checked, plugins };
}

// ---------------------------------------------------------------------------------------------------------------
// Rendering through the CLI

const ALL_SOURCES = ['qemu', 'proxmox', 'vsphere'];

const scratch = scratchDirs('mkimage-packer-hcl-');
const rendered = new Map<string, Promise<string>>();
/** The shipped profiles, with image.sources set, rendered by `mkimage ROLE --packer-version V` (once each). */
function render(role: 'control-plane' | 'worker', packerVersion: string, sources: string[]): Promise<string> {
  const key = `${role} ${packerVersion} ${sources.join()}`;
  if (!rendered.has(key)) rendered.set(key, renderOnce(role, packerVersion, sources));
  return rendered.get(key)!;
}

async function renderOnce(role: 'control-plane' | 'worker', packerVersion: string, sources: string[]): Promise<string> {
  const cwd = scratch();
  const profiles = join(cwd, 'profiles');
  cpSync(join(PACKAGE_ROOT, 'profiles'), profiles, { recursive: true });
  const base = readFileSync(join(profiles, 'base.yaml'), 'utf8');
  const edited = base.replace(/^(\s*)sources: \[qemu\]/m, `$1sources: [${sources.join(', ')}]`);
  if (sources.join() !== 'qemu') expect(edited).not.toBe(base);
  writeFileSync(join(profiles, 'base.yaml'), edited);
  const r = await mkimage(cwd, role, '--profiles', profiles, '--packer-version', packerVersion, '--out', join(cwd, 'out'));
  expect(r.err).toMatch(/^0 error\(s\)/m);
  expect(r.code).toBe(0);
  return readFileSync(join(cwd, 'out', 'packer', 'mkimage.pkr.hcl'), 'utf8');
}

const CORE_VERSIONS = [...(fixtures.get('packer')?.keys() ?? [])].sort((a, b) => cmp(parseVer(a), parseVer(b)));
const pluginVersions = (p: string) => [...(fixtures.get(p)?.keys() ?? [])];

describe('the field lists', () => {
  it('cover Packer core from 1.7.0 and every plugin mkimage emits, from the upstream hcl2spec files', () => {
    expect(CORE_VERSIONS[0]).toBe('1.7.0');
    for (const p of ['qemu', 'proxmox', 'vsphere']) expect(pluginVersions(p).length).toBeGreaterThan(0);
    for (const [name, byVersion] of fixtures) {
      for (const [v, f] of byVersion) {
        expect(f.tag).toBe(`v${v}`);
        expect(f.repo).toBe(RELEASES[name]!.repo);
        expect(RELEASES[name]!.versions).toContain(v);
      }
    }
    // a field the emitter relies on, known from the plugins' changelogs: cpu_model came with qemu 1.0.9
    expect(fixtures.get('qemu')!.get('1.0.9')!.blocks['source.qemu']!.fields.cpu_model).toBe('string');
  });

  it('read constraints as go-version does', () => {
    expect(admits('~> 1.1', '1.2.4')).toBe(true);
    expect(admits('~> 1.1', '2.0.0')).toBe(false);
    expect(admits('~> 1.1.0', '1.2.0')).toBe(false);
    expect(admits('>= 1.0.9, < 2.0.0', '1.0.8')).toBe(false);
    expect(admits('>= 1.0.9, < 2.0.0', '1.1.4')).toBe(true);
    expect(() => admits('about 1.0', '1.0.0')).toThrow(/not a version/);
  });
});

// every core version with a field list for the control plane; the worker (fewer provisioners) once
const RENDERS = [
  ...CORE_VERSIONS.map((packerVersion) => ({ packerVersion, role: 'control-plane' as const })),
  { packerVersion: '1.9.4', role: 'worker' as const },
];

describe('mkimage ROLE --packer-version V with qemu, proxmox and vsphere sources: every block against the plugins and core', () => {
  it.each(RENDERS)('$role, Packer $packerVersion', async ({ role, packerVersion }) => {
    const hcl = await render(role, packerVersion, ALL_SOURCES);
    const r = await checkPackerHcl(hcl, packerVersion);
    expect(r.errors).toEqual([]);
    expect(Object.keys(r.plugins).sort()).toEqual(['proxmox', 'qemu', 'vsphere']);
    // every source was checked against the oldest and the newest release its constraint admits
    for (const [local, type] of [['qemu', 'qemu'], ['proxmox', 'proxmox-clone'], ['vsphere', 'vsphere-clone']] as const) {
      const ok = RELEASES[local]!.versions.filter((v) => admits(r.plugins[local]!.version, v));
      expect(r.checked).toContain(`source.${type}.golden: ${local} ${ok[0]}`);
      expect(r.checked).toContain(`source.${type}.golden: ${local} ${ok.at(-1)}`);
    }
    const provisioners = r.checked.filter((c) => c.includes('.provisioner.'));
    expect(provisioners.length).toBe(role === 'control-plane' ? 8 : 7);
  });
});

describe('the default profile (qemu only)', () => {
  it('names only the qemu plugin and passes the check', async () => {
    const hcl = await render('worker', '1.9.4', ['qemu']);
    const r = await checkPackerHcl(hcl, '1.9.4');
    expect(r.errors).toEqual([]);
    expect(Object.keys(r.plugins)).toEqual(['qemu']);
    expect(r.checked.filter((c) => c.startsWith('source.')).map((c) => c.split(': ')[0])).toEqual(
      expect.arrayContaining(['source.qemu.golden']),
    );
    expect(hcl).not.toMatch(/proxmox|vsphere/);
  });
});

describe('the check fails on broken HCL', () => {
  let good: string;
  beforeAll(async () => {
    good = await render('control-plane', '1.9.4', ALL_SOURCES);
  });
  const edit = (from: string | RegExp, to: string) => {
    const out = good.replace(from, to);
    expect(out).not.toBe(good);
    return out;
  };
  const errorsOf = async (hcl: string) => (await checkPackerHcl(hcl, '1.9.4')).errors;

  it('an unknown attribute', async () => {
    const errs = await errorsOf(edit('source "qemu" "golden" {\n', 'source "qemu" "golden" {\n  frobnicate = true\n'));
    expect(errs).toContain(`source.qemu.golden: frobnicate is not a field of this block (qemu ${RELEASES.qemu!.versions.find((v) => admits('>= 1.0.9', v))})`);
  });

  it('a string for a number (a literal that is not one, and a string variable); a numeric string converts, as cty does', async () => {
    const lots = await errorsOf(edit(/(source "qemu"[\s\S]*?)memory( +)= var\.memory/, '$1memory$2= "lots"'));
    expect(lots.some((e) => e.startsWith('source.qemu.golden: memory: expected number, got the string "lots"'))).toBe(true);
    const fromVar = await errorsOf(edit(/cores( +)= var\.cpus/, 'cores$1= var.disk_size'));
    expect(fromVar.some((e) => e.startsWith('source.proxmox-clone.golden: cores: expected number, got a string variable'))).toBe(true);
    expect(await errorsOf(edit(/(source "qemu"[\s\S]*?)memory( +)= var\.memory/, '$1memory$2= "4096"'))).toEqual([]);
    const list = await errorsOf(edit(/headless( +)= true/, 'headless$1= ["yes"]'));
    expect(list.some((e) => e.startsWith('source.qemu.golden: headless: expected bool, got tuple'))).toBe(true);
  });

  it('an unknown nested block, an unknown field in a known block, a block written as an attribute', async () => {
    const nested = await errorsOf(edit('  additional_iso_files {\n', '  frob {\n  }\n\n  additional_iso_files {\n'));
    expect(nested.some((e) => e.startsWith('source.proxmox-clone.golden: frob is not a field of this block'))).toBe(true);
    const inner = await errorsOf(edit('    cd_label         = "cidata"\n    iso_storage_pool', '    cd_lable         = "cidata"\n    iso_storage_pool'));
    expect(inner.some((e) => e.startsWith('source.proxmox-clone.golden.additional_iso_files[0]: cd_lable is not a field'))).toBe(true);
    const asAttr = await errorsOf(edit(/ {2}additional_iso_files \{[\s\S]*?\n {2}\}\n/, '  additional_iso_files = [{ device = "ide3", unmount = true }]\n'));
    expect(asAttr.some((e) => e.startsWith('source.proxmox-clone.golden: additional_iso_files is written as an attribute; the plugin takes a block'))).toBe(true);
  });

  it('a field only newer releases have is refused for the oldest the constraint admits', async () => {
    // proxmox 1.2.0 added additional_iso_files.type; "~> 1.1" still admits 1.1.x
    const errs = await errorsOf(edit('    device           = "ide3"\n', '    type             = "ide"\n'));
    expect(errs).toEqual(['source.proxmox-clone.golden.additional_iso_files[0]: type is not a field of this block (proxmox 1.1.0)']);
  });

  it('a constraint admitting a release without a field list, or none at all; a source without its plugin', async () => {
    const older = await errorsOf(edit('version = ">= 1.0.9', 'version = ">= 1.0.8'));
    expect(older.some((e) => e.includes('admits qemu 1.0.8, which has no field list'))).toBe(true);
    const none = await errorsOf(edit('version = "~> 1.1"', 'version = "> 9.0"'));
    expect(none).toContain('required_plugins.proxmox: "> 9.0" admits no release of hashicorp/packer-plugin-proxmox');
    const missing = await errorsOf(edit(/ {4}vsphere = \{[\s\S]*?\n {4}\}\n/, ''));
    expect(missing).toContain('source.vsphere-clone.golden: no required_plugins entry provides the vsphere-clone builder');
  });

  it('a provisioner field Packer core lacks, an undeclared variable, a default of the wrong type, an undeclared source', async () => {
    const prov = await errorsOf(edit('script          = "./scripts/bake.sh"', 'scirpt          = "./scripts/bake.sh"'));
    expect(prov.some((e) => /^build\[0\]\.provisioner\.shell\[\d\]: scirpt is not a field of this block \(packer 1\.9\.4\)$/.test(e))).toBe(true);
    const undeclared = await errorsOf(edit('ssh_timeout          = var.ssh_timeout\n  shutdown_command     = "sudo shutdown -P now"\n  output_directory', 'ssh_timeout          = var.ssh_timeot\n  shutdown_command     = "sudo shutdown -P now"\n  output_directory'));
    expect(undeclared.some((e) => e.startsWith('source.qemu.golden: ssh_timeout: var.ssh_timeot: no such variable'))).toBe(true);
    const def = await errorsOf(edit(/(variable "memory" \{\n {2}type {4}= number\n {2}default = )\d+/, '$1"lots"'));
    expect(def).toContain('variable.memory: default: expected number, got the string "lots"');
    const src = await errorsOf(edit('"source.vsphere-clone.golden"]', '"source.vsphere-iso.golden"]'));
    expect(src).toContain('build[0]: sources names source.vsphere-iso.golden, which is not declared');
  });

  it('a required field missing (on a spec made here: the upstream specs mark none Required)', async () => {
    const spec: BlockSpec = { required: ['iso_url'], fields: { iso_url: 'string', disk: { block: 'single', required: ['size'], fields: { size: 'number' } } } };
    const errors: string[] = [];
    await checkBody({ disk: [{}, {}] }, spec, 'source.x.y', new Map(), errors);
    expect(errors).toEqual(['source.x.y: iso_url is required', 'source.x.y: block disk may appear once, not 2 times']);
    const nested: string[] = [];
    await checkBody({ iso_url: 'u', disk: [{}] }, spec, 'source.x.y', new Map(), nested);
    expect(nested).toEqual(['source.x.y.disk[0]: size is required']);
  });
});
