// The stages, in order: load -> lint -> plan -> emit -> check -> write. A stage with a fatal diagnostic stops
// the pipeline before anything is written. Every command of the CLI is a thin call into this module.

import { accessSync, constants as fsConstants, existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { applyStrict, DiagnosticError, error, hasErrors, sortDiagnostics, type Diagnostic } from './diagnostics.js';
import { loadInputs, type LoadOptions } from './profile/load.js';
import { lintInputs } from './profile/lint.js';
import type { Inputs, Located, Profile } from './profile/types.js';
import { planJson, planNode, planRole, PlanShapes } from './plan/build.js';
import type { NodePlan } from './plan/types.js';
import { generateSecrets, initSecrets, loadSecrets, secretsDirWarnings, writeSecrets, type ClusterSecrets } from './cluster/secrets.js';
import { renderSeed, unknownRenderedKeys, type CloudInitMode, type SeedFiles } from './emit/cloud-init.js';
import { IMAGES_DIR, renderPackerDir } from './emit/packer.js';
import { prepareBuildKey } from './packer/build-key.js';
import { renderIkuaiSettings } from './emit/ikuai.js';
import { resolveEpochSeconds, writeSeedIso } from './iso/iso9660.js';
import { writeTreeAtomic, type OutFile } from './output.js';
import { GENERATED } from './template.js';
import { findEntry, readLock, LOCK_FILE_NAME } from './fetch/lock.js';
import { isFlatcar } from './plan/os.js';
import { renderFlatcarNodes } from './flatcar/render.js';

/** Marks a directory as mkimage output, so a re-render may replace it and nothing else is ever replaced. */
export const OUTPUT_MARKER = '.mkimage-output';

/** An E017 when `dir` exists and holds files mkimage did not write (a render replaces the whole directory). */
export function checkReplaceable(dir: string): Diagnostic | undefined {
  if (!existsSync(dir)) return checkCreatable(dir);
  if (!statSync(dir).isDirectory()) return error('E017', `--out ${dir} is a file: name a new or empty directory`);
  const entries = readdirSync(dir);
  if (entries.length === 0 || entries.includes(OUTPUT_MARKER)) return undefined;
  return error('E017', `--out ${dir} holds files mkimage did not write, and a render replaces the whole directory: name a new or empty directory`);
}

/** A new output directory can be made: its nearest existing ancestor is a directory this process may write in. */
function checkCreatable(dir: string): Diagnostic | undefined {
  let at = dirname(dir);
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  if (existsSync(at) && !statSync(at).isDirectory()) {
    return error('E017', `--out ${dir} is below ${at}, which is a file: name a directory outside it`);
  }
  try {
    accessSync(at, fsConstants.W_OK);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'EROFS' ? 'is on a read-only file system' : 'is not writable by this user';
    return error('E017', `--out ${dir} cannot be created: ${at} ${why}; name a directory you can write in`);
  }
  return undefined;
}

/** A write that failed for a reason of the place (permissions, a read-only or full disk) is the user's to fix. */
function outputError(e: unknown, dir: string): Diagnostic | undefined {
  const code = (e as NodeJS.ErrnoException).code;
  const why: Record<string, string> = {
    EACCES: 'permission denied', EPERM: 'not permitted', EROFS: 'read-only file system', ENOTDIR: 'a file is in the way',
    ENOSPC: 'the disk is full', EDQUOT: 'the disk quota is used up',
  };
  if (code === undefined || why[code] === undefined) return undefined;
  return error('E017', `cannot write ${dir} (${why[code]}: ${(e as Error).message}): free or fix the place, or name another --out`);
}

export interface CommonOptions extends LoadOptions {
  strict?: boolean;
  /** where cluster secrets live; default clusters/<cluster name>/secrets under cwd */
  secretsDir?: string;
  log?: (line: string) => void;
}

export interface Loaded {
  inputs?: Inputs;
  diagnostics: Diagnostic[];
  /** source texts for caret lines */
  sources: Map<string, string>;
}

/** load + lint; `inputs` is undefined when anything is an error (after --strict). */
export function loadAndLint(opts: CommonOptions): Loaded {
  const loaded = loadInputs(opts);
  const sources = loaded.sources;
  let diagnostics = loaded.diagnostics;
  if (loaded.inputs) diagnostics = [...diagnostics, ...lintInputs(loaded.inputs)];
  diagnostics = sortDiagnostics(applyStrict(diagnostics, opts.strict ?? false));
  return { inputs: hasErrors(diagnostics) ? undefined : loaded.inputs, diagnostics, sources };
}

export function profileFor(inputs: Inputs, role: string, diags: Diagnostic[]): Located<Profile> | undefined {
  const p = inputs.profiles.get(role);
  if (!p) {
    const names = [...inputs.profiles.keys()].filter((n) => n !== 'base').sort();
    diags.push(error('E010', `there is no profile "${role}": use one of ${names.join(', ')} (or add profiles/${role}.yaml)`));
  }
  return p;
}

export function secretsDirFor(inputs: Inputs, opts: CommonOptions): string {
  return resolve(opts.cwd ?? process.cwd(), opts.secretsDir ?? join('clusters', inputs.cluster.value.name, 'secrets'));
}

/** Load the cluster's secrets, generating them on first use (never overwriting). */
export async function ensureSecrets(inputs: Inputs, opts: CommonOptions, diags?: Diagnostic[]): Promise<ClusterSecrets> {
  const dir = secretsDirFor(inputs, opts);
  if (existsSync(dir)) {
    const secrets = await loadSecrets(dir);
    diags?.push(...applyStrict(await secretsDirWarnings(dir), opts.strict ?? false));
    return secrets;
  }
  let s: ClusterSecrets;
  try {
    s = await initSecrets(dir, { ttl: inputs.cluster.value.bootstrapTokenTTL });
  } catch (e) {
    // another render made them meanwhile (two first renders at once): use those, as every node must
    if (e instanceof DiagnosticError && e.diagnostics.some((d) => d.code === 'E017') && existsSync(dir)) return loadSecrets(dir);
    throw e;
  }
  const shown = relative(opts.cwd ?? process.cwd(), dir) || dir;
  opts.log?.(`note: generated the cluster's CAs, service-account keys and bootstrap token in ${shown} (0600; keep them, never commit them)`);
  return s;
}

/**
 * The cluster's secrets for a render: loaded, or (on the first render) generated in memory and written only by
 * `commit()`, once everything else has passed, so a render that fails writes nothing. commit() is false when a
 * concurrent first render wrote its set first (then render again with that one).
 */
export async function secretsForRender(inputs: Inputs, opts: CommonOptions, diags: Diagnostic[]): Promise<{ secrets: ClusterSecrets; commit: () => Promise<boolean> }> {
  const dir = secretsDirFor(inputs, opts);
  if (existsSync(dir)) return { secrets: await ensureSecrets(inputs, opts, diags), commit: async () => true };
  const secrets = await generateSecrets({ ttl: inputs.cluster.value.bootstrapTokenTTL });
  return {
    secrets,
    commit: async () => {
      if (!(await writeSecrets(dir, secrets))) return false;
      const shown = relative(opts.cwd ?? process.cwd(), dir) || dir;
      opts.log?.(`note: generated the cluster's CAs, service-account keys and bootstrap token in ${shown} (0600; keep them, never commit them)`);
      return true;
    },
  };
}

/** The role plan (no node), as the planner returns it: the first-boot unit is baked in. */
export function rolePlan(inputs: Inputs, profile: Located<Profile>, diags: Diagnostic[]): NodePlan {
  return planRole(profile, inputs.cluster, diags);
}

/** One complete plan per node of the profile's role; with secrets, each holds that node's seed files (PKI, kubeadm config). */
export function nodePlans(
  inputs: Inputs,
  profile: Located<Profile>,
  secrets: ClusterSecrets | undefined,
  diags: Diagnostic[],
  only?: string,
): NodePlan[] {
  const nodes = inputs.cluster.value.nodes.filter((n) => n.role === profile.value.role && (only === undefined || n.name === only));
  const shapes = new PlanShapes(); // the role's node-independent plan, built once for all its nodes
  return nodes.map((n) => planNode(profile, inputs.cluster, n, diags, secrets, shapes));
}

/** A copy of the plan that is safe to print: secret file contents are replaced by a note. */
export function redactSecrets(plan: NodePlan): NodePlan {
  return {
    ...plan,
    files: plan.files.map((f) =>
      f.secret ? { ...f, content: `<secret: ${Buffer.byteLength(f.content)} bytes, written only to the seed>` } : f,
    ),
  };
}


export function lockPathFor(opts: CommonOptions): string {
  return resolve(opts.cwd ?? process.cwd(), LOCK_FILE_NAME);
}

/**
 * Fill the sha256 of unpinned artifacts from the lock; an artifact the lock lacks is an E019 with the fix. The
 * plans get new artifact entries: the old ones may be shared with other plans (PlanShapes).
 */
async function pinFromLock(plans: NodePlan[], lockFile: string, diags: Diagnostic[]): Promise<void> {
  const lock = await readLock(lockFile);
  const missing = new Set<string>();
  for (const p of plans) {
    p.artifacts = p.artifacts.map((a) => {
      if (a.sha256 !== undefined) return a;
      const entry = findEntry(lock, a);
      if (entry) return { ...a, sha256: entry.sha256 };
      missing.add(`${a.name} ${a.version}`);
      return a;
    });
  }
  for (const m of [...missing].sort()) {
    diags.push(
      error('E019', `--mode full: nodes download ${m} at first boot and must verify it, but no sha256 is known: run \`mkimage fetch\` once to record it in ${LOCK_FILE_NAME}, then render again`),
    );
  }
}

/** A node's NoCloud seed (user-data, meta-data, network-config) in memory, as every output of it carries it. */
export function nodeSeed(plan: NodePlan, mode: CloudInitMode): SeedFiles {
  const seed = renderSeed(plan, mode);
  const bogus = unknownRenderedKeys(seed.userData);
  if (bogus.length > 0) throw new Error(`internal: user-data for ${plan.node?.name ?? plan.role} has unknown keys ${bogus.join(', ')}`);
  return seed;
}

export interface RenderOptions extends CommonOptions {
  role: string;
  /** the role's output directory; default out/<role> under cwd */
  out?: string;
  mode?: CloudInitMode;
  packerVersion?: string;
  accelerator?: 'kvm' | 'tcg';
  /** the artifact cache Flatcar renders serve from (default $XDG_CACHE_HOME/mkimage) */
  cacheDir?: string;
}

export interface RenderResult extends Loaded {
  outDir?: string;
  /** where the role's golden image is built (the HCL's output_directory): images/<cluster>/<role> under cwd */
  imageDir?: string;
  files?: OutFile[];
  rolePlan?: NodePlan;
  nodePlans?: NodePlan[];
  /** the nodes that got an Ignition config (osFamily flatcar) instead of a seed */
  ignitionNodes?: string[];
}

/** Where a render goes (default out/<role>), and the atomic write with the marker that allows the next replace. */
function outDirFor(opts: RenderOptions): string {
  return resolve(opts.cwd ?? process.cwd(), opts.out ?? join('out', opts.role));
}

/** Where `--build` puts the role's image: beside out/, so a re-render (which replaces out/<role>) keeps it. */
function imageDirFor(opts: RenderOptions, cluster: string): string {
  return resolve(opts.cwd ?? process.cwd(), IMAGES_DIR, cluster, opts.role);
}

/** false: `beforeSwap` said no, and nothing was swapped in. */
async function writeOutput(outDir: string, role: string, files: OutFile[], more: Iterable<OutFile[]> | undefined, beforeSwap: () => Promise<boolean>): Promise<boolean> {
  try {
    return await writeTreeAtomic(outDir, [...files, { path: OUTPUT_MARKER, content: `${GENERATED}\nrole: ${role}\n` }], { more, beforeSwap });
  } catch (e) {
    const d = outputError(e, outDir);
    if (d) throw new DiagnosticError([d]);
    throw e;
  }
}

/**
 * A role: gateway profile configures the LAN router, not VMs: no secrets, node seeds or Packer build, only plan.json
 * and the router settings (src/emit/ikuai.ts).
 */
function gatewayFiles(plan: NodePlan): OutFile[] {
  return [{ path: 'plan.json', content: planJson(plan) }, ...renderIkuaiSettings(plan)];
}

/** A node's seed files (and its plan) for out/<role>, one node per batch, made when the writer asks. */
function* seedFiles(plans: readonly NodePlan[], mode: CloudInitMode): Generator<OutFile[]> {
  for (const p of plans) {
    const node = p.node!;
    const seed = nodeSeed(p, mode);
    const dir = `seeds/${node.name}`;
    // user-data carries the bootstrap token (and on control planes the CA keys): owner-only.
    yield [
      { path: `${dir}/user-data`, content: seed.userData, mode: 0o600, scripts: seed.scripts },
      { path: `${dir}/meta-data`, content: seed.metaData },
      { path: `${dir}/network-config`, content: seed.networkConfig },
      {
        path: `${dir}/seed.iso`,
        mode: 0o600,
        content: writeSeedIso([
          { name: 'user-data', content: seed.userData, mode: 0o600 },
          { name: 'meta-data', content: seed.metaData },
          { name: 'network-config', content: seed.networkConfig },
        ]),
      },
      { path: `plans/${node.name}.json`, content: planJson(redactSecrets(p)) },
    ];
  }
}

/**
 * `mkimage <role>`: everything the role's VMs need, written atomically to out/<role>/. A refusal thrown on the way
 * (an emitter's of a profile entry, src/emit/refuse.ts, even one made while the seeds are written; an unusable
 * output place) joins the diagnostics, and nothing is written.
 */
export async function renderRole(opts: RenderOptions): Promise<RenderResult> {
  const loaded = loadAndLint(opts);
  const diags = [...loaded.diagnostics];
  const fail = (): RenderResult => ({ ...loaded, diagnostics: sortDiagnostics(diags) });
  try {
    return await renderLoaded(opts, loaded, diags, fail);
  } catch (e) {
    if (!(e instanceof DiagnosticError)) throw e;
    diags.push(...e.diagnostics);
    return fail();
  }
}

async function renderLoaded(opts: RenderOptions, loaded: Loaded, diags: Diagnostic[], fail: () => RenderResult): Promise<RenderResult> {
  if (!loaded.inputs) return fail();
  const inputs = loaded.inputs;
  const profile = profileFor(inputs, opts.role, diags);
  if (!profile) return fail();

  const outDir = outDirFor(opts);
  const refusal = checkReplaceable(outDir);
  if (refusal) diags.push(refusal);
  const plan = rolePlan(inputs, profile, diags);
  if (hasErrors(diags)) return fail();
  // Everything that can refuse the render is checked before anything is written (secrets included).
  try {
    resolveEpochSeconds(undefined);
  } catch (e) {
    if (!(e instanceof DiagnosticError)) throw e;
    diags.push(...e.diagnostics);
    return fail();
  }
  if ((opts.mode ?? 'baked') === 'full' && plan.role !== 'gateway') {
    await pinFromLock([structuredClone(plan)], lockPathFor(opts), diags);
    if (hasErrors(diags)) return fail();
  }
  const imageDir = imageDirFor(opts, inputs.cluster.value.name);
  let commitSecrets: () => Promise<boolean> = async () => true;
  const done = async (files: OutFile[], plans: NodePlan[], more?: Iterable<OutFile[]>): Promise<RenderResult> => {
    // Secrets are written once every file of the tree is (nothing is written for a render that fails), before the
    // swap. A concurrent first render that wrote its secrets first: these seeds carry the wrong CA, render again.
    if (!(await writeOutput(outDir, opts.role, files, more, commitSecrets))) return renderRole(opts);
    return { ...loaded, diagnostics: sortDiagnostics(diags), outDir, imageDir, files, rolePlan: plan, nodePlans: plans };
  };
  if (plan.role === 'gateway') return done(gatewayFiles(plan), []);

  const { secrets, commit } = await secretsForRender(inputs, opts, diags);
  commitSecrets = commit;
  const plans = nodePlans(inputs, profile, secrets, diags);
  if (hasErrors(diags)) return fail();

  const mode = opts.mode ?? 'baked';
  // Full mode: nodes download the artifacts themselves at first boot and verify them, so every sha256 must be
  // known now — pinned in the plan, or recorded in mkimage.lock by `mkimage fetch`.
  if (mode === 'full') {
    await pinFromLock(plans, lockPathFor(opts), diags);
    if (hasErrors(diags)) return fail();
  }
  const files: OutFile[] = [{ path: 'plan.json', content: planJson(redactSecrets(plan)) }];
  // Flatcar nodes get an Ignition config (and the files it downloads) instead of a seed: src/flatcar/render.ts
  const flatcar = plans.filter((p) => isFlatcar(p.os.family));
  if (flatcar.length > 0) {
    const fetch = { cacheDir: opts.cacheDir, lockFile: lockPathFor(opts), offline: true, progress: 'never' as const, log: opts.log };
    const out = await renderFlatcarNodes(flatcar, { fetch, epochSeconds: resolveEpochSeconds(undefined) }, diags);
    if (out === undefined) return fail();
    files.push(...out, ...flatcar.map((p) => ({ path: `plans/${p.node!.name}.json`, content: planJson(redactSecrets(p)) })));
  }
  // Each node's seed files are made while the ones before them are written (src/output.ts `more`).
  const seeds = seedFiles(plans.filter((x) => !isFlatcar(x.os.family)), mode);
  const ignitionNodes = flatcar.map((p) => p.node!.name);
  // Flatcar is immutable: no golden image, the kubernetes sysext (in ignition/files/) replaces the bake.
  if (isFlatcar(plan.os.family)) return { ...(await done(files, plans, seeds)), ignitionNodes };
  // The build seed authorises the cluster's build key (made once beside the secrets); the HCL names it and the
  // image directory by paths relative to the Packer directory, so renders stay byte-identical.
  const packerDir = join(outDir, 'packer');
  // the build key lives in the secrets directory: made now, written with the secrets (src/packer/build-key.ts)
  const prepared = await prepareBuildKey(secretsDirFor(inputs, opts));
  const buildKey = prepared.key;
  const commitCluster = commitSecrets;
  // the build key after the secrets: both, or (a concurrent first render won) neither is this render's
  commitSecrets = async () => (await commitCluster()) && (await prepared.commit());
  const packerOpts = {
    packerVersion: opts.packerVersion,
    accelerator: opts.accelerator,
    buildPublicKey: buildKey.publicKey,
    buildKeyFile: relative(packerDir, buildKey.privateKeyFile),
    outputDirectory: relative(packerDir, imageDir),
  };
  for (const f of renderPackerDir(plan, packerOpts)) {
    files.push({ ...f, path: `packer/${f.path}` });
  }
  return { ...(await done(files, plans, seeds)), ignitionNodes };
}
