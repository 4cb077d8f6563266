// Loading: profiles/*.yaml and the cluster file -> typed, positioned Inputs, or diagnostics.
// Per file: parse (yaml CST + LineCounter) -> positioned tree -> validate against schema.ts. Per profile:
// resolve the `extends:` chain and merge (merge.ts), check what the merged profile must have, convert to values
// with a positions map, apply defaults (firewall ports by role). Per cluster: defaults, then duplicate checks.

import { lstatSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, relative, resolve } from 'node:path';
import { LineCounter, isPair, isScalar, parseDocument, visit, type Document } from 'yaml';
import { error, hasErrors, uniqueDiagnostics, type Diagnostic, type Position } from '../diagnostics.js';
import { PACKAGE_ROOT } from '../template.js';
import { clusterJsonSchema as clusterSchema, profileJsonSchema as profileSchema } from './jsonschema.js';
import { AliasExpansionError, MAX_EXPANDED_NODES, mergeNodes, withoutKeys, fromYaml, type LNode } from './merge.js';
import { CLUSTER_SCHEMA, PROFILE_SCHEMA, ROLE_PORTS, type ObjectSchema } from './schema.js';
import type { Cluster, Inputs, Located, NodeSpec, Profile, Role } from './types.js';
import { applyDefaults, toValue, validate } from './validate.js';
import { checkCommands } from './shell.js';
import { addressOf } from '../net/cidr.js';
import { goDurationSeconds } from '../cluster/token.js';

export interface LoadOptions {
  /** default <package root>/profiles */
  profilesDir?: string;
  /** default <profilesDir>/cluster.yaml */
  clusterFile?: string;
  /** for display paths (default process.cwd()) */
  cwd?: string;
}

export interface LoadResult {
  /** undefined when any diagnostic is an error */
  inputs?: Inputs;
  diagnostics: Diagnostic[];
  /** every file read, by display path (for caret lines, also when loading failed) */
  sources: Map<string, string>;
}

export const SHIPPED_PROFILES = join(PACKAGE_ROOT, 'profiles');
export const profileJsonSchema = profileSchema;
export const clusterJsonSchema = clusterSchema;

const YAML_FILE = /\.ya?ml$/;
const CLUSTER_NAME = /^cluster\.ya?ml$/;
const stem = (abs: string) => basename(abs, extname(abs));
const quote = (s: string) => JSON.stringify(s);

interface ParsedFile {
  file: string;
  /** undefined after a YAML syntax error */
  root?: LNode;
  /** no diagnostics in this file */
  ok: boolean;
}

/**
 * The last parse of each file in this process, reused while its text is the same: a render loads the inputs once
 * per role, and a 1000-node cluster file costs more to parse than the rest of the load. Parsed trees are never
 * mutated (merging copies), so sharing them is safe.
 */
const parsedFiles = new Map<string, { text: string; schema: ObjectSchema; result: ParsedFile; diags: Diagnostic[] }>();

/** One load: parses each file once, so a base shared by several profiles reports its errors once. */
class Loader {
  readonly diags: Diagnostic[] = [];
  readonly sources = new Map<string, string>();
  private readonly parsed = new Map<string, ParsedFile | undefined>();

  constructor(
    readonly cwd: string,
    readonly profilesDir: string,
  ) {}

  /** Relative to cwd when inside it ("profiles/worker.yaml"), else absolute. */
  display(abs: string): string {
    const rel = relative(this.cwd, abs);
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : abs;
  }

  /** Read, parse and validate one file (once); undefined when it cannot be read. */
  parse(abs: string, schema: ObjectSchema): ParsedFile | undefined {
    if (this.parsed.has(abs)) return this.parsed.get(abs);
    const file = this.display(abs);
    const read = readText(abs);
    if (typeof read !== 'string') {
      // A missing file is the caller's to report (it knows what was looked for); anything else is said here.
      if (read.code !== 'ENOENT') this.diags.push(error(read.code === 'EUTF8' ? 'E007' : 'E001', read.message, { file, ...read.at }));
      this.parsed.set(abs, read.code === 'ENOENT' ? undefined : { file, ok: false });
      return this.parsed.get(abs);
    }
    const text = read;
    this.sources.set(file, text);
    const key = `${this.cwd}\0${abs}`;
    const memo = parsedFiles.get(key);
    if (memo !== undefined && memo.text === text && memo.schema === schema) {
      this.diags.push(...memo.diags);
      this.parsed.set(abs, memo.result);
      return memo.result;
    }
    const before = this.diags.length;
    const lc = new LineCounter();
    const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter: lc });
    for (const e of doc.errors) {
      const at = { file, ...lc.linePos(e.pos[0]) };
      if (e.code === 'DUPLICATE_KEY') this.diags.push(error('E009', duplicateKeyMessage(doc, e.pos[0], lc), at));
      else this.diags.push(error('E002', `YAML syntax: ${e.message.replace(/\s+/g, ' ').trim()}; fix the YAML here (indentation, quotes, brackets, a space after ":")`, at));
    }
    let result: ParsedFile;
    if (doc.errors.some((e) => e.code !== 'DUPLICATE_KEY')) {
      result = { file, ok: false };
    } else {
      let root: LNode | undefined;
      try {
        root = fromYaml(doc, lc, file, text) ?? { kind: 'map', pos: { file, line: 1, col: 1 }, entries: new Map() };
      } catch (e) {
        if (!(e instanceof AliasExpansionError)) throw e;
        this.diags.push(error('E002', `YAML aliases here expand to more than ${MAX_EXPANDED_NODES} values (an alias bomb?): write the values out instead of nesting aliases`, e.pos));
      }
      if (root === undefined) {
        result = { file, ok: false };
      } else {
        validate(schema, root, [], root.pos, this.diags);
        result = { file, root, ok: this.diags.length === before };
      }
    }
    this.parsed.set(abs, result);
    parsedFiles.set(key, { text, schema, result, diags: this.diags.slice(before) });
    return result;
  }

  /** Where `extends: name` points: beside the extending file, then the profiles directory, then the shipped ones. */
  findProfile(name: string, dir: string): string | undefined {
    for (const d of [dir, this.profilesDir, SHIPPED_PROFILES]) {
      for (const ext of ['.yaml', '.yml']) {
        const abs = join(d, name + ext);
        if (isFile(abs)) return abs;
      }
    }
    return undefined;
  }

  /** The profile and its `extends:` chain merged into one tree; undefined on any error in the chain. */
  resolveProfile(abs: string, chain: string[], files: string[]): LNode | undefined {
    const pf = this.parse(abs, PROFILE_SCHEMA);
    if (pf === undefined || pf.root === undefined) return undefined;
    files.push(pf.file);
    const ext = pf.root.kind === 'map' ? pf.root.entries.get('extends')?.node : undefined;
    if (ext?.kind !== 'scalar' || typeof ext.value !== 'string') return pf.ok ? pf.root : undefined;
    const name = ext.value;
    const parent = this.findProfile(name, dirname(abs));
    if (parent === undefined) {
      const dirs = [dirname(abs), this.profilesDir, SHIPPED_PROFILES];
      const names = [...new Set(dirs.flatMap((d) => profileNames(d)))].filter((n) => n !== stem(abs)).sort();
      this.diags.push(error('E008', `extends: ${quote(name)} names no profile: add ${this.display(join(dirname(abs), `${name}.yaml`))}, or extend one of: ${names.join(', ')}`, ext.pos));
      return undefined;
    }
    if (parent === abs || chain.includes(parent)) {
      const loop = [...chain, abs, parent].map(stem).join(' -> ');
      this.diags.push(error('E008', `extends: ${quote(name)} makes a cycle (${loop}): remove the extends: that points back`, ext.pos));
      return undefined;
    }
    const base = this.resolveProfile(parent, [...chain, abs], files);
    if (base === undefined || !pf.ok) return undefined;
    return mergeNodes(withoutKeys(base, ['extends', 'abstract']), pf.root);
  }

  /** A typed profile, `abstract: true` for a base that is not a role by itself. */
  buildProfile(abs: string): { profile?: Located<Profile>; abstract: boolean } {
    const files: string[] = [];
    const merged = this.resolveProfile(abs, [], files);
    const own = this.parsed.get(abs)?.root;
    const abstractEntry = own?.kind === 'map' ? own.entries.get('abstract')?.node : undefined;
    const abstract = abstractEntry?.kind === 'scalar' && abstractEntry.value === true;
    if (merged === undefined || abstract) return { abstract };
    const before = this.diags.length;
    validate(PROFILE_SCHEMA, merged, [], merged.pos, this.diags, { merged: true });
    if (this.diags.length > before) return { abstract };
    const positions = new Map<string, Position>();
    const raw = toValue(PROFILE_SCHEMA, merged, [], positions) as Record<string, unknown> & { role: Role };
    const firewall = (raw.firewall ?? {}) as { ports?: string[] };
    firewall.ports ??= [...ROLE_PORTS[raw.role]];
    raw.firewall = firewall;
    if (raw.role === 'gateway') raw.gateway ??= {};
    else if (raw.gateway !== undefined) {
      this.diags.push(error('E018', `gateway: settings are for role: gateway only; remove "gateway:" from this profile, or set role: gateway`, positions.get('gateway')));
      return { abstract };
    }
    const value = { name: stem(abs), ...(applyDefaults(PROFILE_SCHEMA, raw) as Omit<Profile, 'name'>) };
    const shell = checkCommands(value.commands, (path) => positions.get(path), value.files);
    if (shell.length > 0) {
      this.diags.push(...shell);
      return { abstract };
    }
    return { profile: { value, positions, sources: this.sourcesOf(files) }, abstract };
  }

  buildCluster(abs: string): Located<Cluster> | undefined {
    const pf = this.parse(abs, CLUSTER_SCHEMA);
    if (pf === undefined) {
      this.diags.push(error('E001', `cluster file ${this.display(abs)} not found: create it (profiles/cluster.yaml is an example) or pass the right path`, { file: this.display(abs) }));
      return undefined;
    }
    if (!pf.ok || pf.root === undefined) return undefined;
    const positions = new Map<string, Position>();
    const raw = applyDefaults(CLUSTER_SCHEMA, toValue(CLUSTER_SCHEMA, pf.root, [], positions)) as Omit<Cluster, 'nodes'> & { nodes: Array<Omit<NodeSpec, 'index' | 'dns'> & { dns?: string[] }> };
    const nodes: NodeSpec[] = raw.nodes.map((n, index) => ({
      name: n.name,
      role: n.role,
      mac: n.mac,
      ip: n.ip,
      gateway: n.gateway,
      dns: n.dns ?? [n.gateway],
      arch: n.arch,
      ...(n.osFamily !== undefined ? { osFamily: n.osFamily } : {}),
      index,
    }));
    const firstCp = nodes.find((n) => n.role === 'control-plane');
    const value: Cluster = {
      name: raw.name,
      kubernetesVersion: raw.kubernetesVersion,
      controlPlaneEndpoint: raw.controlPlaneEndpoint ?? `${firstCp ? addressOf(firstCp.ip) : '192.168.66.11'}:6443`,
      podSubnet: raw.podSubnet,
      serviceSubnet: raw.serviceSubnet,
      dnsDomain: raw.dnsDomain,
      imageRepository: raw.imageRepository,
      mirror: raw.mirror,
      osFamily: raw.osFamily,
      containerRuntime: raw.containerRuntime,
      cni: raw.cni,
      calicoVersion: raw.calicoVersion,
      ...(raw.calicoManifestSha256 !== undefined && { calicoManifestSha256: raw.calicoManifestSha256 }),
      controlPlaneHA: raw.controlPlaneHA,
      bootstrapTokenTTL: raw.bootstrapTokenTTL,
      nodeTokenTTL: raw.nodeTokenTTL,
      ...(raw.repositories !== undefined && { repositories: raw.repositories }),
      registries: raw.registries ?? { insecure: [] },
      images: raw.images ?? {},
      artifactMirrors: raw.artifactMirrors,
      admin: raw.admin,
      nodes,
    };
    const before = this.diags.length;
    this.checkNodeTokenTTL(value, positions);
    this.checkUnique(nodes, positions);
    if (this.diags.length > before) return undefined;
    return { value, positions, sources: this.sourcesOf([pf.file]) };
  }

  /** A node's own join token may not outlive the cluster token (unless that one never expires, "0"). */
  private checkNodeTokenTTL(c: Cluster, positions: Map<string, Position>): void {
    const cluster = goDurationSeconds(c.bootstrapTokenTTL);
    const node = goDurationSeconds(c.nodeTokenTTL);
    if (cluster === undefined || node === undefined || c.bootstrapTokenTTL === '0' || node <= cluster) return;
    const at = positions.get('nodeTokenTTL') ?? positions.get('bootstrapTokenTTL');
    this.diags.push(error('E006',
      `nodeTokenTTL ${c.nodeTokenTTL} is longer than bootstrapTokenTTL ${c.bootstrapTokenTTL}: a node's own join token ` +
        `may not outlive the cluster token; set nodeTokenTTL to ${c.bootstrapTokenTTL} or less, or raise bootstrapTokenTTL`, at));
  }

  /** Node names, MACs and IP addresses are each unique; report the second use, naming the first. */
  private checkUnique(nodes: NodeSpec[], positions: Map<string, Position>): void {
    const checks = [
      { code: 'E011', field: 'name', key: (n: NodeSpec) => n.name, say: (v: string) => `node name ${quote(v)}`, fix: 'give each node its own name (names are host names and Kubernetes node names)' },
      { code: 'E012', field: 'mac', key: (n: NodeSpec) => n.mac, say: (v: string) => `MAC ${v}`, fix: "each machine has its own MAC: copy this one from the machine's NIC or VM settings" },
      { code: 'E013', field: 'ip', key: (n: NodeSpec) => addressOf(n.ip), say: (v: string) => `IP address ${v}`, fix: 'give each node its own address' },
    ] as const;
    for (const c of checks) {
      const seen = new Map<string, NodeSpec>();
      for (const n of nodes) {
        const first = seen.get(c.key(n));
        if (first === undefined) {
          seen.set(c.key(n), n);
          continue;
        }
        const line = positions.get(`nodes.${first.index}.${c.field}`)?.line;
        const by = c.code === 'E011' ? `nodes[${first.index}]` : `node ${quote(first.name)}`;
        const msg = `${c.say(c.key(n))} is already used by ${by}${line ? ` (line ${line})` : ''}: ${c.fix}`;
        this.diags.push(error(c.code, msg, positions.get(`nodes.${n.index}.${c.field}`)));
      }
    }
  }

  private sourcesOf(files: string[]): Map<string, string> {
    return new Map(files.flatMap((f) => (this.sources.has(f) ? [[f, this.sources.get(f) as string] as const] : [])));
  }

  result<T extends object>(extra: T): T & { diagnostics: Diagnostic[]; sources: Map<string, string> } {
    return { ...extra, diagnostics: uniqueDiagnostics(this.diags), sources: this.sources };
  }
}

interface ReadFailure {
  code: string;
  message: string;
  at?: { line: number; col: number };
}

/** A file's text, refusing what would load wrong: a directory, a symlink loop, unreadable bytes, non-UTF-8. */
function readText(abs: string): string | ReadFailure {
  let bytes: Buffer;
  try {
    bytes = readFileSync(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    const why: Record<string, string> = {
      ENOENT: 'does not exist',
      EISDIR: 'is a directory, not a YAML file: name the file inside it, or move the directory out of the way',
      ELOOP: 'is a symbolic link loop: point the link at a real file, or remove it',
      EACCES: 'cannot be read (permission denied): make it readable (chmod a+r) or run as its owner',
    };
    return { code, message: `this path ${why[code] ?? `cannot be read (${code}): check the file and the disk`}` };
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const bad = firstInvalidUtf8(bytes);
    const before = bytes.subarray(0, bad).toString('utf8').split('\n');
    const at = { line: before.length, col: [...(before[before.length - 1] ?? '')].length + 1 };
    const hex = bytes[bad]?.toString(16).padStart(2, '0') ?? '??';
    return { code: 'EUTF8', at, message: `byte 0x${hex} is not UTF-8 (the file was saved in another encoding, e.g. GBK or Latin-1): save it as UTF-8` };
  }
}

/** Offset of the first byte that does not start or continue a valid UTF-8 sequence. */
function firstInvalidUtf8(b: Buffer): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i] as number;
    const len = c < 0x80 ? 1 : c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c < 0xf5 ? 4 : 0;
    if (len === 0) return i;
    const seq = b.subarray(i, i + len);
    if (seq.length < len) return i;
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(seq);
    } catch {
      return i;
    }
    i += len;
  }
  return i;
}


function isFile(abs: string): boolean {
  try {
    return statSync(abs).isFile();
  } catch {
    return false;
  }
}

/** Anything at the path, even a directory or a dangling link (the loader then says what is wrong with it). */
function pathExists(abs: string): boolean {
  try {
    lstatSync(abs);
    return true;
  } catch {
    return false;
  }
}

/** Profile names in a directory (cluster.yaml is never a profile). */
function profileNames(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => YAML_FILE.test(f) && !CLUSTER_NAME.test(f))
      .map((f) => stem(f))
      .sort();
  } catch {
    return [];
  }
}

function duplicateKeyMessage(doc: Document.Parsed, offset: number, lc: LineCounter): string {
  let message = 'this key appears twice in the same mapping: keep one';
  visit(doc, {
    Map(_, map) {
      const pairs = map.items.filter(isPair);
      const dup = pairs.find((p) => isScalar(p.key) && p.key.range?.[0] === offset);
      if (dup === undefined || !isScalar(dup.key)) return undefined;
      const name = String(dup.key.value);
      const first = pairs.find((p) => isScalar(p.key) && String(p.key.value) === name);
      const line = isScalar(first?.key) && first.key.range ? lc.linePos(first.key.range[0]).line : undefined;
      message = `key ${quote(name)} is already set${line ? ` on line ${line}` : ''} in this mapping: keep one of them`;
      return visit.BREAK;
    },
  });
  return message;
}

function setup(opts: LoadOptions) {
  const cwd = resolve(opts.cwd ?? process.cwd());
  const profilesDir = resolve(cwd, opts.profilesDir ?? SHIPPED_PROFILES);
  const clusterFile = resolve(cwd, opts.clusterFile ?? join(profilesDir, 'cluster.yaml'));
  return { loader: new Loader(cwd, profilesDir), profilesDir, clusterFile };
}

/** Every profile in the profiles directory (but abstract bases) and the cluster. */
export function loadInputs(opts: LoadOptions = {}): LoadResult {
  const { loader, profilesDir, clusterFile } = setup(opts);
  let names: string[];
  try {
    names = readdirSync(profilesDir).filter((f) => YAML_FILE.test(f) && !CLUSTER_NAME.test(f) && join(profilesDir, f) !== clusterFile).sort();
  } catch {
    loader.diags.push(error('E001', `profiles directory ${loader.display(profilesDir)} not found: pass a directory holding <role>.yaml files`, { file: loader.display(profilesDir) }));
    return loader.result({});
  }
  const profiles = new Map<string, Located<Profile>>();
  for (const f of names) {
    const { profile } = loader.buildProfile(join(profilesDir, f));
    if (profile) profiles.set(profile.value.name, profile);
  }
  // A profile that failed to load would look like a missing role: only check roles when all loaded.
  const profilesLoaded = !hasErrors(loader.diags);
  const cluster = loader.buildCluster(clusterFile);
  if (cluster && profilesLoaded) {
    const roles = new Set([...profiles.values()].map((p) => p.value.role));
    for (const n of cluster.value.nodes) {
      if (roles.has(n.role)) continue;
      const at = cluster.positions.get(`nodes.${n.index}.role`);
      loader.diags.push(error('E010', `node ${quote(n.name)} has role ${n.role}, but no profile in ${loader.display(profilesDir)} has role: ${n.role}: add ${n.role}.yaml there (extends: base)`, at));
    }
  }
  const done = loader.result({});
  if (cluster === undefined || hasErrors(done.diagnostics)) return done;
  return { ...done, inputs: { profiles, cluster } };
}

/** One profile by name (profiles/<name>.yaml) or by path (anything with "/" or ending in .yaml). */
export function loadProfile(name: string, opts: LoadOptions = {}): { profile?: Located<Profile>; diagnostics: Diagnostic[]; sources: Map<string, string> } {
  const { loader, profilesDir } = setup(opts);
  const byPath = name.includes('/') || YAML_FILE.test(name);
  const abs = byPath ? resolve(loader.cwd, name) : loader.findProfile(name, profilesDir);
  if (abs === undefined || !pathExists(abs)) {
    const shown = loader.display(abs ?? join(profilesDir, `${name}.yaml`));
    const known = profileNames(profilesDir);
    loader.diags.push(error('E001', `profile ${shown} not found: name one of ${known.join(', ')}, or create it`, { file: shown }));
    return loader.result({});
  }
  const { profile, abstract } = loader.buildProfile(abs);
  if (abstract) {
    const roles = profileNames(dirname(abs)).filter((n) => n !== stem(abs));
    loader.diags.push(error('E010', `profile ${quote(stem(abs))} is abstract (a base for extends:), not a role: use one of ${roles.join(', ')}`, { file: loader.display(abs) }));
  }
  const done = loader.result({});
  return hasErrors(done.diagnostics) || profile === undefined ? done : { ...done, profile };
}
