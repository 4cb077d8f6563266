// One function per CLI command. Each returns an Outcome (diagnostics, result, exit code) and is callable from
// tests without a subprocess.

import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { error, hasErrors, uniqueDiagnostics, type Diagnostic } from '../diagnostics.js';
import {
  loadAndLint,
  nodePlans,
  profileFor,
  redactSecrets,
  renderRole,
  rolePlan,
  secretsDirFor,
  lockPathFor,
  type CommonOptions,
} from '../pipeline.js';
import { profileJsonSchema, clusterJsonSchema } from '../profile/load.js';
import { generateSecrets, initSecrets, loadSecrets, rotateToken, discoveryHash, joinCommand as classicJoin } from '../cluster/secrets.js';
import { PACKAGE_ROOT } from '../template.js';
import { EXIT, EnvironmentError, type Io, type Outcome } from './run.js';
import { FIRSTBOOT_DONE, FIRSTBOOT_FAILED } from '../firstboot/files.js';
import { buildGoldenImage } from './build.js';
import { packerVersion as installedPackerVersion } from '../packer/run.js';
import { joiningNodes, joinTokens, planJson } from '../plan/build.js';
import { tokenCreateCommand } from '../cluster/kubeadm.js';
import { isGoDuration } from '../cluster/token.js';
import type { Cluster } from '../profile/types.js';
import { fetchArtifact, writeBundle } from '../fetch/index.js';
import type { PlanArtifact } from '../plan/types.js';
import { isFlatcar } from '../plan/os.js';
import { flatcarPxeArtifacts } from '../pxe/flatcar.js';
import { lanBootOf } from '../serve/status.js';

export const VERSION: string = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')).version;

export interface CommonFlags {
  profiles?: string;
  cluster?: string;
  secrets?: string;
  strict?: boolean;
  json?: boolean;
}

export function common(io: Io, o: CommonFlags): CommonOptions {
  return {
    profilesDir: o.profiles,
    clusterFile: o.cluster,
    secretsDir: o.secrets,
    strict: o.strict,
    cwd: io.cwd,
    log: (line) => io.err(`${line}\n`),
  };
}

const shown = (io: Io, p: string) => relative(io.cwd, p) || '.';

export interface RenderFlags extends CommonFlags {
  out?: string;
  mode?: 'baked' | 'full';
  build?: boolean;
  packerVersion?: string;
  accelerator?: 'kvm' | 'tcg';
  offline?: boolean;
  bundle?: string;
}

export async function render(io: Io, role: string, o: RenderFlags): Promise<Outcome> {
  // Emit for the Packer that will run it: the installed one, unless told otherwise.
  const packerVersion = o.packerVersion ?? (await installedPackerVersion());
  const r = await renderRole({ ...common(io, o), role, out: o.out, mode: o.mode, packerVersion, accelerator: o.accelerator });
  if (!r.outDir || !r.imageDir || !r.nodePlans || !r.rolePlan) return { diagnostics: r.diagnostics, sources: r.sources };
  const gateway = r.rolePlan.gateway;
  if (gateway !== undefined) {
    // A gateway profile renders router settings, not node seeds; there is no golden image to --build.
    if (!o.json) {
      io.err(`wrote ${shown(io, r.outDir)}/: iKuai router settings (${gateway.staticLeases.length} static lease(s), ` +
        `${gateway.dnsRecords.length} DNS record(s), ${gateway.portMappings.length} port mapping(s)): ikuai-settings.md, ikuai-api.json, leases.csv, plan.json\n`);
      if (o.build) io.err('note: --build does nothing for a gateway profile: it configures the router, there is no image to build\n');
    }
    return { diagnostics: r.diagnostics, sources: r.sources, result: { out: r.outDir, nodes: [] } };
  }
  const names = r.nodePlans.map((p) => p.node!.name);
  const ignition = r.ignitionNodes ?? [];
  const seeds = names.filter((n) => !ignition.includes(n));
  // Flatcar (src/flatcar/render.ts): Ignition configs and the files they download; no golden image for the role
  const baked = r.rolePlan.flatcar === undefined;
  if (!o.json) {
    const parts = [
      ...(seeds.length > 0 || ignition.length === 0 ? [`${seeds.length} node seed(s)${seeds.length ? ` (${seeds.join(', ')})` : ''}`] : []),
      ...(ignition.length > 0 ? [`${ignition.length} Ignition config(s) (${ignition.join(', ')}) in ignition/`] : []),
      'plan.json',
      ...(baked ? ['packer/'] : []),
    ];
    io.err(`wrote ${shown(io, r.outDir)}/: ${parts.join(', ')}\n`);
    const serve = r.nodePlans.find((p) => p.flatcar !== undefined)?.flatcar?.downloads[0]?.url;
    if (serve !== undefined) {
      io.err(`note: serve ${shown(io, r.outDir)}/ignition/files/ at ${serve.slice(0, serve.lastIndexOf('/') + 1)} (the configs download the sysexts and cri-dockerd from there)\n`);
    }
    if (names.length === 0) io.err(`note: the cluster has no ${role} nodes; only the golden-image build was rendered\n`);
    if (names.length > 0 && r.rolePlan.admin.sshAuthorizedKeys.length === 0) {
      io.err(`note: admin.sshAuthorizedKeys is empty, so nobody can log in to these nodes (or run \`mkimage cluster status\`): add your public key to the cluster file\n`);
    }
  }
  const result = { out: r.outDir, nodes: names };
  if (!o.build) return { diagnostics: r.diagnostics, sources: r.sources, result };
  if (!baked) {
    if (!o.json) io.err('note: --build does nothing for a Flatcar role: Flatcar is immutable, the kubernetes sysext in ignition/files/ replaces the golden image\n');
    return { diagnostics: r.diagnostics, sources: r.sources, result };
  }
  const c = common(io, o);
  const code = await buildGoldenImage(io, r.rolePlan, join(r.outDir, 'packer'), r.imageDir, fetchOptions(io, c, o));
  return { diagnostics: r.diagnostics, sources: r.sources, result, exitCode: code };
}


export async function validate(io: Io, o: CommonFlags): Promise<Outcome> {
  const r = loadAndLint(common(io, o));
  const diags: Diagnostic[] = [...r.diagnostics];
  // Plan every role and every node (without secrets): what a render would refuse, validate refuses too.
  if (r.inputs) {
    for (const profile of [...r.inputs.profiles.values()].sort((a, b) => a.value.name.localeCompare(b.value.name))) {
      rolePlan(r.inputs, profile, diags);
      if (profile.value.role !== 'gateway') nodePlans(r.inputs, profile, undefined, diags);
    }
  }
  const unique = uniqueDiagnostics(diags);
  if (hasErrors(unique)) return { diagnostics: unique, sources: r.sources };
  if (r.inputs && !o.json) {
    const { cluster, profiles } = r.inputs;
    const warnings = unique.length;
    io.err(`ok: cluster ${cluster.value.name} (${cluster.value.nodes.length} nodes), profiles ${[...profiles.keys()].sort().join(', ')}${warnings ? `; ${warnings} warning(s)` : ''}\n`);
  }
  return { diagnostics: unique, sources: r.sources };
}

export async function plan(io: Io, role: string, o: CommonFlags & { node?: string }): Promise<Outcome> {
  const c = common(io, o);
  const r = loadAndLint(c);
  const diags: Diagnostic[] = [...r.diagnostics];
  if (!r.inputs) return { diagnostics: diags, sources: r.sources };
  const profile = profileFor(r.inputs, role, diags);
  if (!profile) return { diagnostics: diags, sources: r.sources };
  let out: ReturnType<typeof rolePlan>;
  if (o.node === undefined) {
    out = rolePlan(r.inputs, profile, diags);
  } else {
    const node = r.inputs.cluster.value.nodes.find((n) => n.name === o.node);
    if (!node || node.role !== profile.value.role) {
      const names = r.inputs.cluster.value.nodes.filter((n) => n.role === profile.value.role).map((n) => n.name);
      diags.push(error('E010', `there is no ${role} node "${o.node}": use one of ${names.join(', ') || '(none)'}`));
      return { diagnostics: diags, sources: r.sources };
    }
    // Never create the secrets as a side effect: without them, a stand-in set shows the same (redacted) files.
    const dir = secretsDirFor(r.inputs, c);
    const secrets = existsSync(dir) ? await loadSecrets(dir) : await generateSecrets({ ttl: r.inputs.cluster.value.bootstrapTokenTTL });
    const plans = nodePlans(r.inputs, profile, secrets, diags, o.node);
    out = plans[0]!;
  }
  if (hasErrors(diags)) return { diagnostics: diags, sources: r.sources };
  if (o.json) return { diagnostics: diags, sources: r.sources, result: { plan: redactSecrets(out) } };
  io.out(planJson(redactSecrets(out)));
  return { diagnostics: diags, sources: r.sources };
}

export async function schema(io: Io, kind: 'profile' | 'cluster'): Promise<Outcome> {
  io.out(`${JSON.stringify(kind === 'cluster' ? clusterJsonSchema() : profileJsonSchema(), null, 2)}\n`);
  return {};
}

function loadedOrFail(io: Io, o: CommonFlags) {
  const c = common(io, o);
  const r = loadAndLint(c);
  return { c, r };
}

export async function clusterInit(io: Io, o: CommonFlags & { force?: boolean }): Promise<Outcome> {
  const { c, r } = loadedOrFail(io, o);
  if (!r.inputs) return { diagnostics: r.diagnostics, sources: r.sources };
  const dir = secretsDirFor(r.inputs, c);
  const s = await initSecrets(dir, { ttl: r.inputs.cluster.value.bootstrapTokenTTL, force: o.force });
  const hash = discoveryHash(s.ca.cert);
  if (!o.json) {
    io.err(`wrote ${shown(io, dir)}/ (dir 0700, files 0600): cluster, front-proxy and etcd CAs, service-account keys, bootstrap token\n`);
    io.err(`discovery hash ${hash}; token ttl ${s.token.ttl}\n`);
    io.err(`keep this directory safe and out of git; render the seeds with \`mkimage control-plane\` and \`mkimage worker\`\n`);
  }
  return { diagnostics: r.diagnostics, result: { secrets: dir, caCertHash: hash, tokenId: s.token.id } };
}

export async function clusterToken(io: Io, o: CommonFlags & { ttl?: string; node?: string }): Promise<Outcome> {
  const { c, r } = loadedOrFail(io, o);
  if (!r.inputs) return { diagnostics: r.diagnostics, sources: r.sources };
  const dir = secretsDirFor(r.inputs, c);
  if (o.node !== undefined) return nodeTokenCommand(io, r.inputs.cluster.value, dir, { node: o.node, ttl: o.ttl, json: o.json === true }, r.diagnostics);
  const t = await rotateToken(dir, o.ttl ?? r.inputs.cluster.value.bootstrapTokenTTL);
  if (!o.json) io.err(`rotated the bootstrap token (id ${t.id}, ttl ${t.ttl}) and with it every node's own join token; render the seeds again so new nodes get them\n`);
  return { diagnostics: r.diagnostics, result: { tokenId: t.id, ttl: t.ttl } };
}

/**
 * `cluster token --node NAME`: the command that (re)registers that node's own join token on a control plane, e.g.
 * for a node added to the inventory after `kubeadm init` ran, or one that booted after its token expired. Rotates
 * nothing. --ttl replaces the cluster's nodeTokenTTL in the printed command.
 */
async function nodeTokenCommand(
  io: Io,
  cluster: Cluster,
  dir: string,
  o: { node: string; ttl?: string; json: boolean },
  diagnostics: Diagnostic[],
): Promise<Outcome> {
  const name = o.node;
  const joiners = joiningNodes(cluster);
  if (!joiners.includes(name)) {
    const init = cluster.nodes.some((n) => n.name === name);
    const why = init ? `node "${name}" runs kubeadm init and needs no join token` : `there is no node "${name}" in the cluster`;
    return { diagnostics: [error('E010', `${why}: use one of the nodes that join: ${joiners.join(', ') || '(none)'}`)] };
  }
  if (o.ttl !== undefined && !isGoDuration(o.ttl)) {
    return { diagnostics: [error('E007', `--ttl "${o.ttl}" is not a Go duration: write it like "4h0m0s"`)] };
  }
  const secrets = await loadSecrets(dir);
  const derived = joinTokens(cluster, secrets.token).get(name)!;
  const token = o.ttl === undefined ? derived : { ...derived, ttl: o.ttl };
  const command = tokenCreateCommand(name, token);
  if (o.json) return { diagnostics, result: { node: name, tokenId: token.id, ttl: token.ttl, command } };
  io.err(`run this on a control plane to register node ${name}'s join token (valid ${token.ttl} from then on), then (re)start its first boot:\n`);
  io.out(`${command}\n`);
  return { diagnostics };
}

export async function joinCommand(io: Io, o: CommonFlags): Promise<Outcome> {
  const { c, r } = loadedOrFail(io, o);
  if (!r.inputs) return { diagnostics: r.diagnostics, sources: r.sources };
  const s = await loadSecrets(secretsDirFor(r.inputs, c));
  const line = classicJoin(r.inputs.cluster.value.controlPlaneEndpoint, `${s.token.id}.${s.token.secret}`, discoveryHash(s.ca.cert), 'unix:///var/run/cri-dockerd.sock');
  if (o.json) return { result: { command: line } };
  io.out(`${line}\n`);
  return { diagnostics: r.diagnostics };
}

export interface StatusFlags {
  user?: string;
  identity?: string;
  /** the address SSH reaches the node at (a NAT, a bastion's forward); default its inventory address */
  host?: string;
  port?: string;
  /** the known_hosts file; a node seen for the first time is accepted and recorded there */
  knownHosts?: string;
}

const SSH_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const SSH_HOST = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;

/** Flag values that reach ssh's command line: a value starting with "-" would be read as an ssh option. */
function statusFlagErrors(o: StatusFlags): Diagnostic[] {
  const bad: Diagnostic[] = [];
  if (o.user !== undefined && !SSH_USER.test(o.user)) bad.push(error('E007', `--user "${o.user}" is not a Linux user name: use lower-case letters, digits, "_" and "-", e.g. --user kube`));
  if (o.host !== undefined && !SSH_HOST.test(o.host)) bad.push(error('E007', `--host "${o.host}" is not a host name or IPv4 address: e.g. --host 192.168.66.11`));
  if (o.port !== undefined && !(/^[0-9]{1,5}$/.test(o.port) && Number(o.port) >= 1 && Number(o.port) <= 65535)) {
    bad.push(error('E007', `--port "${o.port}" is not a TCP port: use 1-65535, e.g. --port 22`));
  }
  return bad;
}

export async function clusterStatus(io: Io, nodeName: string, o: CommonFlags & StatusFlags): Promise<Outcome> {
  const flagErrors = statusFlagErrors(o);
  if (flagErrors.length > 0) return { diagnostics: flagErrors };
  const { r } = loadedOrFail(io, o);
  if (!r.inputs) return { diagnostics: r.diagnostics, sources: r.sources };
  const node = r.inputs.cluster.value.nodes.find((n) => n.name === nodeName);
  if (!node) {
    const names = r.inputs.cluster.value.nodes.map((n) => n.name).join(', ');
    return { diagnostics: [error('E010', `there is no node "${nodeName}" in the cluster: use one of ${names}`)] };
  }
  // A node that boots from the LAN: its install state from `pxe serve`'s default state file, first.
  const lanBoot = await lanBootOf(join(io.cwd, 'clusters', r.inputs.cluster.value.name, 'pxe-state.json'), nodeName);
  if (lanBoot && !o.json) io.out(`${lanBoot.line}\n`);
  const lan = lanBoot ? { lanBoot: { state: lanBoot.state, since: lanBoot.since } } : {};
  const user = o.user ?? r.inputs.cluster.value.admin.user;
  const host = o.host ?? node.ip.split('/')[0]!;
  const remote = `sudo cat ${FIRSTBOOT_DONE} 2>/dev/null && echo '@@done' || { sudo cat ${FIRSTBOOT_FAILED} 2>/dev/null && echo '@@failed' || echo '@@pending'; }`;
  const args = [
    '-o', 'BatchMode=yes',
    '-o', 'ConnectTimeout=10',
    // a freshly installed node is a new host: record its key on first contact, refuse a changed one after
    '-o', 'StrictHostKeyChecking=accept-new',
    ...(o.knownHosts ? ['-o', `UserKnownHostsFile=${o.knownHosts}`] : []),
    ...(o.port ? ['-p', o.port] : []),
    ...(o.identity ? ['-i', o.identity] : []),
    '--',
    `${user}@${host}`,
    remote,
  ];
  const ssh = spawnSync('ssh', args, { encoding: 'utf8' });
  if (ssh.error) throw new EnvironmentError('ssh is not installed: apt-get install openssh-client (or dnf install openssh-clients)');
  if (ssh.status === 255) throw new EnvironmentError(`cannot reach ${user}@${host} over SSH: ${ssh.stderr.trim()} — check the address and that your key is in the cluster's admin.sshAuthorizedKeys`);
  const out = ssh.stdout;
  const state = out.includes('@@done') ? 'joined' : out.includes('@@failed') ? 'failed' : 'pending';
  const detail = out.replace(/@@(done|failed|pending)\s*$/, '').trim();
  const code = state === 'failed' ? EXIT.environment : EXIT.ok;
  if (state !== 'failed') {
    if (o.json) return { result: { node: nodeName, state, detail, ...lan }, exitCode: code };
    io.out(`${nodeName}: ${state === 'joined' ? 'first boot done' : 'first boot still running (no marker yet)'}\n${detail ? `${detail}\n` : ''}`);
    return { exitCode: code };
  }
  // The failure marker (src/firstboot/files.ts): the same format for every phase (install, first boot, ...).
  const field = (k: string) => new RegExp(`^${k}: (.*)$`, 'm').exec(detail)?.[1]?.trim();
  const phase = field('phase');
  const reason = field('reason') ?? 'no reason recorded';
  if (o.json) return { result: { node: nodeName, state, phase, reason, detail, ...lan }, exitCode: code };
  io.out(`${nodeName}: failed: ${phase ? `${phase}: ` : ''}${reason}\n${detail}\n`);
  return { exitCode: code };
}

/** Every artifact any role's golden image (or a Flatcar node's LAN install) needs, once each, in a fixed order. */
function allArtifacts(inputs: NonNullable<ReturnType<typeof loadAndLint>['inputs']>, diags: Diagnostic[]): PlanArtifact[] {
  const artifacts = new Map<string, PlanArtifact>();
  const add = (a: PlanArtifact) => artifacts.set(`${a.name}@${a.version}/${a.arch}`, a);
  for (const [name, profile] of inputs.profiles) {
    if (name === 'base' || profile.value.role === 'gateway') continue;
    rolePlan(inputs, profile, diags).artifacts.forEach(add);
    for (const p of nodePlans(inputs, profile, undefined, diags)) {
      p.artifacts.forEach(add);
      // a Flatcar node installs over the LAN (`mkimage pxe build`, amd64 only): its PXE kernel, initrd, OS image, .sig
      if (isFlatcar(p.os.family) && p.node?.arch === 'amd64') Object.values(flatcarPxeArtifacts(inputs.cluster.value.artifactMirrors)).forEach(add);
    }
  }
  return [...artifacts.keys()].sort().map((k) => artifacts.get(k)!);
}

function fetchOptions(io: Io, c: CommonOptions, o: { offline?: boolean; json?: boolean; bundle?: string }) {
  return {
    offline: o.offline,
    // against the command's cwd, like --cluster, --profiles, --secrets and bundle --out
    bundle: o.bundle === undefined ? undefined : resolve(io.cwd, o.bundle),
    lockFile: lockPathFor(c),
    progress: io.tty && !o.json ? ('auto' as const) : ('never' as const),
    json: o.json,
    log: (l: string) => io.err(`${l}\n`),
  };
}

export async function fetch(io: Io, o: CommonFlags & { offline?: boolean; bundle?: string }): Promise<Outcome> {
  const { c, r } = loadedOrFail(io, o);
  if (!r.inputs) return { diagnostics: r.diagnostics, sources: r.sources };
  const diags: Diagnostic[] = [...r.diagnostics];
  const list = allArtifacts(r.inputs, diags);
  if (hasErrors(diags)) return { diagnostics: diags, sources: r.sources };
  const fetched = [];
  for (const a of list) {
    const f = await fetchArtifact(a, fetchOptions(io, c, o));
    fetched.push({ name: a.name, version: a.version, arch: a.arch, sha256: f.sha256, size: f.size, source: f.source });
    if (!o.json) io.err(`${a.name} ${a.version} ${a.arch}: sha256 ${f.sha256} (${f.source})\n`);
  }
  return { diagnostics: diags, result: { artifacts: fetched } };
}

export async function bundle(io: Io, o: CommonFlags & { out: string; offline?: boolean }): Promise<Outcome> {
  const { c, r } = loadedOrFail(io, o);
  if (!r.inputs) return { diagnostics: r.diagnostics, sources: r.sources };
  const diags: Diagnostic[] = [...r.diagnostics];
  const list = allArtifacts(r.inputs, diags);
  if (hasErrors(diags)) return { diagnostics: diags, sources: r.sources };
  await writeBundle(list, resolve(io.cwd, o.out), fetchOptions(io, c, o));
  if (!o.json) io.err(`wrote ${o.out}: ${list.map((a) => `${a.name} ${a.version} ${a.arch}`).join(', ')} and mkimage.lock\n`);
  return { diagnostics: diags, result: { bundle: o.out, artifacts: list.map((a) => a.name) } };
}
