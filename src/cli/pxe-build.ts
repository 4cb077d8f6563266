// `mkimage pxe build`: the LAN-boot directory (out/pxe/) for the nodes of one role: their seeds (the same bytes as
// out/<role>/seeds/), the golden image as raw.gz with its sha256, the installer (Debian's kernel + a busybox
// initramfs), the iPXE/pxelinux boot files and a proxyDHCP config. `mkimage pxe serve` serves it. Flatcar nodes
// (osFamily flatcar) get no seed and need no golden image: Flatcar's PXE kernel and initrd and its OS image with
// its signature (fetched, verified; served to flatcar-install, so the install needs no internet) and
// two Ignition configs each, their own (the bytes of out/<role>/ignition/<node>.ign) and the install config.

import { existsSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { error, hasErrors, type Diagnostic } from '../diagnostics.js';
import { cacheRoot } from '../fetch/cache.js';
import { fetchArtifact, FetchError, type FetchOptions } from '../fetch/index.js';
import { renderInstallConfig } from '../flatcar/install-config.js';
import { IGNITION_DIR, renderFlatcarNodes } from '../flatcar/render.js';
import { resolveEpochSeconds } from '../iso/iso9660.js';
import { formatIPv4, networkOf, parseCidr } from '../net/cidr.js';
import { isFlatcar } from '../plan/os.js';
import { positionOf } from '../profile/lint/position.js';
import type { Inputs, NodeSpec } from '../profile/types.js';
import { checkReplaceable, ensureSecrets, loadAndLint, lockPathFor, nodePlans, nodeSeed, profileFor, type CommonOptions } from '../pipeline.js';
import type { NodePlan } from '../plan/types.js';
import { IMAGES_DIR } from '../emit/packer.js';
import { buildPxeTree, type PxeFlatcar, type PxeNode } from '../pxe/build.js';
import { FLATCAR_CHANNEL, FLATCAR_VERSION, flatcarImageBase, flatcarPxeArtifacts, ignitionDir } from '../pxe/flatcar.js';
import { imageFormat, newestImage } from '../pxe/image.js';
import { seedDir } from '../pxe/manifest.js';
import type { Io, Outcome } from './run.js';
import { common, type CommonFlags } from './commands.js';

export interface PxeBuildFlags extends CommonFlags {
  out?: string;
  /** a path, or false for --no-image (commander's negated option) */
  image?: string | false;
  server?: string;
  role?: string;
  /** the artifact cache (default $XDG_CACHE_HOME/mkimage); not a flag: for tests */
  cacheDir?: string;
}

/** iPXE expands ${next-server} (the DHCP server's next-server: the proxyDHCP host, or QEMU's 10.0.2.2). */
export const DEFAULT_SERVER = 'http://${next-server}:8080';

/** http://HOST[:PORT], HOST an address, a name or an iPXE setting; no path (the server answers at its root). */
const SERVER_URL = /^http:\/\/(?:[A-Za-z0-9.-]+|\$\{[a-z0-9/:-]+\})(?::\d{1,5})?$/;

function checkServer(server: string): Diagnostic | undefined {
  if (/^https:/i.test(server)) {
    return error('E006', `--server ${server}: Debian's iPXE has no HTTPS; use http://HOST:PORT (and keep the LAN private: seeds carry the join token)`);
  }
  if (!SERVER_URL.test(server)) {
    return error('E007', `--server ${server} is not http://HOST[:PORT] (no path, no trailing slash), e.g. http://192.168.66.5:8080 or ${DEFAULT_SERVER}`);
  }
  return undefined;
}

/** The image to put in out/pxe/: --image, else the newest under images/<cluster>/<role>/; an E022 with the fix. */
function findImage(io: Io, o: PxeBuildFlags, inputs: Inputs, role: string, diags: Diagnostic[]): string | undefined {
  const fix = `build it with \`mkimage ${role} --build\`, name one with --image FILE (qcow2 or raw), or leave it out with --no-image`;
  if (typeof o.image === 'string') {
    const p = resolve(io.cwd, o.image);
    if (!existsSync(p) || !statSync(p).isFile()) diags.push(error('E022', `--image ${o.image}: no such file; ${fix}`));
    return p;
  }
  const dir = resolve(io.cwd, IMAGES_DIR, inputs.cluster.value.name, role);
  const found = newestImage(dir);
  if (!found) diags.push(error('E022', `no golden image for ${role} in ${relative(io.cwd, dir) || dir}/: ${fix}`));
  return found;
}

const runsFlatcar = (n: NodeSpec, inputs: Inputs) => isFlatcar(n.osFamily ?? inputs.cluster.value.osFamily);

function lanNode(n: NodeSpec, inputs: Inputs, diags: Diagnostic[]): Omit<PxeNode, 'files'> | undefined {
  if (n.arch !== 'amd64') {
    // the boot chain (Debian's iPXE builds, the installer kernel; Flatcar's amd64-usr PXE images) is x86-64 only
    diags.push(error('E018', `node ${n.name} is ${n.arch}: LAN boot is amd64 only (Debian's iPXE and linux-image-amd64, Flatcar's amd64 PXE images); install it another way or drop it from the role`, positionOf(inputs.cluster, `nodes.${n.index}.arch`)));
    return undefined;
  }
  const cidr = parseCidr(n.ip);
  if (!cidr) return undefined; // the loader has already refused it
  const where = runsFlatcar(n, inputs) ? { ignition: ignitionDir(n.name) } : { seed: seedDir(n.name) };
  return { name: n.name, role: n.role, mac: n.mac.toLowerCase(), ip: n.ip.split('/')[0]!, ...where, network: formatIPv4(networkOf(cidr).addr) };
}

/**
 * The Flatcar nodes' own configs (rendered as `mkimage <role>` renders them, from the artifact cache) and install
 * configs, by node name; the PXE kernel and initrd fetched (mirrors, then the release server; verified). Undefined
 * after pushing the diagnostics that stop the build.
 */
async function flatcarParts(
  plans: NodePlan[],
  inputs: Inputs,
  opts: CommonOptions,
  o: PxeBuildFlags,
  diags: Diagnostic[],
): Promise<{ configs: Map<string, { node: string; install: string }>; release: PxeFlatcar } | undefined> {
  const fetch: FetchOptions = { cacheDir: o.cacheDir, lockFile: lockPathFor(opts), progress: o.json ? 'never' : 'auto', json: o.json ?? false, log: opts.log };
  const rendered = await renderFlatcarNodes(plans, { fetch: { ...fetch, offline: true, progress: 'never' }, epochSeconds: resolveEpochSeconds(undefined) }, diags);
  if (rendered === undefined) return undefined;
  const own = new Map(rendered.filter((f) => f.path.startsWith(`${IGNITION_DIR}/`) && f.path.endsWith('.ign')).map((f) => [f.path, f.content]));
  const configs = new Map<string, { node: string; install: string }>();
  for (const p of plans) {
    const name = p.node!.name;
    const node = own.get(`${IGNITION_DIR}/${name}.ign`);
    if (typeof node !== 'string') throw new Error(`internal: the Flatcar render wrote no ${IGNITION_DIR}/${name}.ign`);
    const install = renderInstallConfig({ node: name, channel: FLATCAR_CHANNEL, version: FLATCAR_VERSION, base: flatcarImageBase(), sshAuthorizedKeys: p.admin.sshAuthorizedKeys }).text;
    configs.set(name, { node, install });
  }
  // the PXE kernel and initrd, then the OS image (~450 MB) and its signature, so flatcar-install needs no internet
  const artifacts = flatcarPxeArtifacts(inputs.cluster.value.artifactMirrors);
  try {
    const files = {} as PxeFlatcar['files'];
    for (const key of ['kernel', 'initrd', 'image', 'signature'] as const) {
      const a = artifacts[key];
      files[key] = { dest: a.dest, from: (await fetchArtifact(a, fetch)).path };
    }
    return { configs, release: { channel: FLATCAR_CHANNEL, version: FLATCAR_VERSION, base: flatcarImageBase(), files } };
  } catch (e) {
    if (!(e instanceof FetchError)) throw e;
    diags.push(e.toDiagnostic());
    return undefined;
  }
}

export async function pxeBuild(io: Io, o: PxeBuildFlags): Promise<Outcome> {
  const opts = common(io, o);
  const loaded = loadAndLint(opts);
  const diags = [...loaded.diagnostics];
  const done = (result?: Record<string, unknown>): Outcome => ({ diagnostics: diags, sources: loaded.sources, result });
  if (!loaded.inputs) return done();
  const inputs = loaded.inputs;
  const role = o.role ?? 'worker';
  const profile = profileFor(inputs, role, diags);
  if (!profile) return done();
  if (profile.value.role === 'gateway') {
    diags.push(error('E018', `${role} configures the router, it has no nodes to install: name a role with nodes (--role worker)`));
    return done();
  }
  const outDir = resolve(io.cwd, o.out ?? join('out', 'pxe'));
  const refusal = checkReplaceable(outDir);
  if (refusal) diags.push(refusal);
  const server = o.server ?? DEFAULT_SERVER;
  const bad = checkServer(server);
  if (bad) diags.push(bad);
  const specs = inputs.cluster.value.nodes.filter((n) => n.role === profile.value.role);
  if (specs.length === 0) diags.push(error('E010', `no node in the cluster has role ${profile.value.role}: add one to nodes: (with its mac and ip)`));
  const lan = specs.map((n) => lanNode(n, inputs, diags));
  // Flatcar nodes install Flatcar's own image: a golden image is needed only for the others
  const seeded = specs.some((n) => !runsFlatcar(n, inputs));
  const image = o.image === false || !seeded ? undefined : findImage(io, o, inputs, role, diags);
  if (hasErrors(diags)) return done();
  if (image !== undefined) await imageFormat(image); // a file qemu-img cannot read fails now, not after the installer

  const secrets = await ensureSecrets(inputs, opts);
  const plans = nodePlans(inputs, profile, secrets, diags);
  if (hasErrors(diags)) return done();
  const flatcarPlans = plans.filter((p) => isFlatcar(p.os.family));
  const flatcar = flatcarPlans.length > 0 ? await flatcarParts(flatcarPlans, inputs, opts, o, diags) : undefined;
  if (hasErrors(diags)) return done();
  const nodes: PxeNode[] = plans.map((p, i) =>
    isFlatcar(p.os.family) ? { ...lan[i]!, ignitionConfigs: flatcar!.configs.get(p.node!.name)! } : { ...lan[i]!, files: nodeSeed(p, 'baked') },
  );
  const say = (line: string) => {
    if (!o.json) io.err(`${line}\n`);
  };
  if (!seeded && typeof o.image === 'string') say(`note: --image is not used: every ${role} node runs Flatcar, which installs Flatcar's own image`);
  const tree = await buildPxeTree({
    outDir,
    cluster: inputs.cluster.value.name,
    server,
    role,
    nodes,
    image,
    ...(flatcar !== undefined && { flatcar: flatcar.release }),
    cache: join(cacheRoot(), 'pxe'),
    epoch: resolveEpochSeconds(undefined),
    log: say,
  });
  const shown = relative(io.cwd, outDir) || '.';
  const flatcarNames = flatcarPlans.map((p) => p.node!.name);
  const imageNote = tree.image ? `image ${role}.raw.gz` : seeded ? 'no image (--no-image)' : 'no golden image (Flatcar)';
  const flatcarNote = flatcar ? `, Flatcar ${flatcar.release.version} PXE kernel, initrd and OS image with Ignition configs for ${flatcarNames.join(', ')}` : '';
  say(`wrote ${shown}/: ${nodes.length} node(s) (${nodes.map((n) => n.name).join(', ')}), installer ${tree.kernelVersion}, ` +
    `${imageNote}${flatcarNote}; serve it with \`mkimage pxe serve --dir ${shown}\``);
  return done({
    out: outDir,
    server,
    kernelVersion: tree.kernelVersion,
    image: tree.image ?? null,
    flatcar: flatcar ? { version: flatcar.release.version, nodes: flatcarNames } : null,
    nodes: nodes.map((n) => n.name),
    packages: tree.packages.map((p) => `${p.name}=${p.version}`),
  });
}
