// `mkimage pxe build`: the LAN-boot directory (out/pxe/) for the nodes of one role: their seeds (the same bytes as
// out/<role>/seeds/), the golden image as raw.gz with its sha256, the installer (Debian's kernel + a busybox
// initramfs), the iPXE/pxelinux boot files and a proxyDHCP config. `mkimage pxe serve` serves it.

import { existsSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { error, hasErrors, type Diagnostic } from '../diagnostics.js';
import { cacheRoot } from '../fetch/cache.js';
import { resolveEpochSeconds } from '../iso/iso9660.js';
import { formatIPv4, networkOf, parseCidr } from '../net/cidr.js';
import { isFlatcar } from '../plan/os.js';
import { positionOf } from '../profile/lint/position.js';
import type { Inputs, NodeSpec } from '../profile/types.js';
import { checkReplaceable, ensureSecrets, loadAndLint, nodePlans, nodeSeed, profileFor } from '../pipeline.js';
import { IMAGES_DIR } from '../emit/packer.js';
import { buildPxeTree, type PxeNode } from '../pxe/build.js';
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

function lanNode(n: NodeSpec, inputs: Inputs, diags: Diagnostic[]): Omit<PxeNode, 'files'> | undefined {
  if (n.arch !== 'amd64') {
    diags.push(error('E018', `node ${n.name} is ${n.arch}: the LAN-boot installer is amd64 (Debian's linux-image-amd64); install it another way or drop it from the role`, positionOf(inputs.cluster, `nodes.${n.index}.arch`)));
    return undefined;
  }
  if (isFlatcar(n.osFamily ?? inputs.cluster.value.osFamily)) {
    diags.push(error('E018', `node ${n.name} runs Flatcar, which boots with Ignition, not a cloud-init seed: LAN boot installs a golden image with cloud-init; PXE-boot Flatcar with its own kernel and ignition.config.url, or give the node another osFamily`,
      positionOf(inputs.cluster, n.osFamily ? `nodes.${n.index}.osFamily` : 'osFamily')));
    return undefined;
  }
  const cidr = parseCidr(n.ip);
  if (!cidr) return undefined; // the loader has already refused it
  return { name: n.name, role: n.role, mac: n.mac.toLowerCase(), ip: n.ip.split('/')[0]!, seed: seedDir(n.name), network: formatIPv4(networkOf(cidr).addr) };
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
  const image = o.image === false ? undefined : findImage(io, o, inputs, role, diags);
  if (hasErrors(diags)) return done();
  if (image !== undefined) await imageFormat(image); // a file qemu-img cannot read fails now, not after the installer

  const secrets = await ensureSecrets(inputs, opts);
  const plans = nodePlans(inputs, profile, secrets, diags);
  if (hasErrors(diags)) return done();
  const nodes: PxeNode[] = plans.map((p, i) => ({ ...lan[i]!, files: nodeSeed(p, 'baked') }));
  const say = (line: string) => {
    if (!o.json) io.err(`${line}\n`);
  };
  const tree = await buildPxeTree({
    outDir,
    cluster: inputs.cluster.value.name,
    server,
    role,
    nodes,
    image,
    cache: join(cacheRoot(), 'pxe'),
    epoch: resolveEpochSeconds(undefined),
    log: say,
  });
  const shown = relative(io.cwd, outDir) || '.';
  say(`wrote ${shown}/: ${nodes.length} node(s) (${nodes.map((n) => n.name).join(', ')}), installer ${tree.kernelVersion}, ` +
    `${tree.image ? `image ${role}.raw.gz` : 'no image (--no-image)'}; serve it with \`mkimage pxe serve --dir ${shown}\``);
  return done({
    out: outDir,
    server,
    kernelVersion: tree.kernelVersion,
    image: tree.image ?? null,
    nodes: nodes.map((n) => n.name),
    packages: tree.packages.map((p) => `${p.name}=${p.version}`),
  });
}
