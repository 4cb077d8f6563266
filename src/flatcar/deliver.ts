// What a Flatcar render serves: every download of the node plans, made from the artifact cache (offline, verified
// by sha256 against the pin or mkimage.lock), with the sha512 of the exact bytes filled into the plans so the
// Ignition config can verify them. cri-dockerd is served extracted (Ignition cannot untar), the kubernetes sysext is
// built (src/flatcar/sysext.ts) from the binaries, the Calico manifest (edited as the bake edits it) and the plan's
// files under /usr, and the Docker sysext is served as downloaded. A missing artifact is a FetchError whose message
// says to run `mkimage fetch` (or pass a bundle).

import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractMember, fetchArtifact, FetchError, fileNameOf, type FetchOptions } from '../fetch/index.js';
import { inSysext } from '../plan/flatcar.js';
import type { NodePlan, PlanArtifact } from '../plan/types.js';
import { buildSysext, type SysextEntry } from './sysext.js';

export interface ServedFile {
  /** name in out/<role>/ignition/files/ */
  file: string;
  content: Buffer;
  sha512: string;
}

export const sha512Hex = (b: Uint8Array) => createHash('sha512').update(b).digest('hex');

/** The artifact's bytes as installed: its tar member extracted, its edits applied. */
async function installedBytes(a: PlanArtifact, opts: FetchOptions, work: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    const fetched = await fetchArtifact(a, { ...opts, offline: true });
    if (a.member !== undefined && a.member !== '') {
      const out = join(work, `${a.name}-${a.version}-${a.arch}`);
      await extractMember(fetched.path, a.member, out, { label: fileNameOf(a), requireExecutable: (parseInt(a.mode, 8) & 0o111) !== 0, mode: parseInt(a.mode, 8) });
      bytes = await readFile(out);
    } else {
      bytes = await readFile(fetched.path);
    }
  } catch (e) {
    if (e instanceof FetchError && e.kind === 'offline') {
      throw new FetchError('offline', `osFamily flatcar: the render serves ${a.name} ${a.version} ${a.arch} to the nodes from the cache, and ${e.message}; run \`mkimage fetch\` first`);
    }
    throw e;
  }
  if (a.edits === undefined || a.edits.length === 0) return bytes;
  let text = bytes.toString('utf8');
  for (const edit of a.edits) text = text.split(edit.from).join(edit.to);
  return Buffer.from(text, 'utf8');
}

function artifactNamed(plan: NodePlan, name: string): PlanArtifact {
  const a = plan.artifacts.find((x) => x.name === name);
  if (a === undefined) throw new Error(`internal: plan ${plan.profile} serves ${name}, which is not among its artifacts`);
  return a;
}

async function sysextBytes(plan: NodePlan, opts: FetchOptions, work: string, epochSeconds: number): Promise<Buffer> {
  const sx = plan.flatcar!.sysext;
  const entries: SysextEntry[] = plan.files.filter((f) => inSysext(f.path)).map((f) => ({ path: f.path, content: f.content, mode: parseInt(f.mode, 8) }));
  for (const name of sx.artifacts) {
    const a = artifactNamed(plan, name);
    entries.push({ path: a.dest, content: await installedBytes(a, opts, work), mode: parseInt(a.mode, 8) });
  }
  return buildSysext(sx.name, sx.extensionRelease, entries, { epochSeconds });
}

/** What a served file is made of: plans of one role give the same key, so each file is made once and checked. */
function inputsKey(plan: NodePlan, from: string): string {
  const sha = (t: string) => createHash('sha256').update(t).digest('hex');
  const artifact = (a: PlanArtifact) => [a.name, a.version, a.arch, a.urls[0] ?? '', a.sha256 ?? '', a.member ?? '', JSON.stringify(a.edits ?? []), a.dest, a.mode];
  if (!from.startsWith('sysext:')) return JSON.stringify(artifact(artifactNamed(plan, from)));
  const sx = plan.flatcar!.sysext;
  return JSON.stringify([
    sx,
    plan.files.filter((f) => inSysext(f.path)).map((f) => [f.path, f.mode, sha(f.content)]),
    sx.artifacts.map((n) => artifact(artifactNamed(plan, n))),
  ]);
}

/**
 * Fill the sha512 of every download of these Flatcar plans and return the files to serve, each made once. Plans that
 * share a served name (the nodes of one role) must be made of the same inputs.
 */
export async function deliverFlatcar(plans: NodePlan[], opts: FetchOptions, epochSeconds: number): Promise<ServedFile[]> {
  const served = new Map<string, ServedFile & { key: string }>();
  const work = await mkdtemp(join(tmpdir(), 'mkimage-flatcar-'));
  try {
    for (const plan of plans) {
      for (const d of plan.flatcar?.downloads ?? []) {
        const key = inputsKey(plan, d.from);
        const earlier = served.get(d.file);
        if (earlier !== undefined) {
          if (earlier.key !== key) throw new Error(`internal: ${d.file} is made of other inputs for node ${plan.node?.name ?? plan.profile}`);
          d.sha512 = earlier.sha512;
          continue;
        }
        const bytes = d.from.startsWith('sysext:')
          ? await sysextBytes(plan, opts, work, epochSeconds)
          : await installedBytes(artifactNamed(plan, d.from), opts, work);
        const sha512 = sha512Hex(bytes);
        served.set(d.file, { file: d.file, content: bytes, sha512, key });
        d.sha512 = sha512;
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return [...served.values()]
    .map(({ file, content, sha512 }) => ({ file, content, sha512 }))
    .sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}
