// The planner: Profile + Cluster (+ NodeSpec) -> NodePlan. The only module that knows what a kubeadm node
// with Docker Engine + cri-dockerd needs. User mistakes become diagnostics (positioned via Located); the
// plan is still returned so later checks can run, but the caller stops on any error.

import { error, type Diagnostic, type Position } from '../diagnostics.js';
import type { Arch, Cluster, Located, NodeRole, NodeSpec, OsFamily, Profile } from '../profile/types.js';
import { planArtifacts } from './artifacts.js';
import { baseFiles, nodeEnvFile, profileFiles, sortFiles } from './files.js';
import { planGateway } from './gateway.js';
import { kubeVipImage, planImages, podInfraImage } from './images.js';
import { archiveMirror, isFlatcar, isRpmFamily, planOs } from './os.js';
import { flatcarOwnedPaths, flatcarPlan } from './flatcar.js';
import { planPackages } from './packages.js';
import { positionOf, sourced } from './positions.js';
import { nodeTokens, type BootstrapToken } from '../cluster/token.js';
import { bootstrapBootFiles } from '../cluster/bootstrap-files.js';
import type { ClusterSecrets } from '../cluster/secrets.js';
import { firstbootBakeItems } from '../firstboot/files.js';
import { planRepos } from './repos.js';
import type { NodePlan, PlanArtifact, PlanCommand, PlanNode, PlanUnit, Sourced } from './types.js';
import { CRI_SOCKET, planUnits } from './units.js';
import { ownedPaths, ownerOf, type OwnedPath } from './owned-paths.js';
import {
  compareVersions,
  CRI_DOCKERD_FOR_DOCKER_25,
  FIRST_DOCKER_ON,
  formatVersion,
  kubernetesRelease,
  parseVersion,
  SUPPORTED_MINORS,
  type SemVer,
} from './versions.js';

/** What a plan is built for: the cluster's OS family, or a node's override, and one architecture. */
interface Target {
  osFamily: OsFamily;
  /** dotted path in the cluster file that chose osFamily */
  osFamilyPath: string;
  arch: Arch;
  node?: PlanNode;
}

interface Inputs {
  profile: Located<Profile>;
  cluster: Located<Cluster>;
  diags: Diagnostic[];
}

const ZERO: SemVer = { major: 0, minor: 0, patch: 0 };

/** What Calico's default manifest (BGP + IP-in-IP) needs beyond its BGP port. */
const CALICO_FIREWALL = { protocols: ['4'], trustedInterfaces: ['cali+', 'tunl0'] };

function report(inp: Inputs, doc: 'profile' | 'cluster', path: string, message: string, code: 'E006' | 'E007' | 'E018'): void {
  const at: Partial<Position> | undefined = positionOf(doc === 'profile' ? inp.profile : inp.cluster, path);
  inp.diags.push(error(code, message, at));
}

function version(inp: Inputs, doc: 'profile' | 'cluster', path: string, text: string, example: string): SemVer {
  const v = parseVersion(text);
  if (v === undefined) {
    report(inp, doc, path, `${path} "${text}" is not a version: write MAJOR.MINOR.PATCH, e.g. "${example}"`, 'E007');
    return ZERO;
  }
  return v;
}

/** Docker Engine and its OS family: the runtime package must exist in the repo and work with cri-dockerd. */
function checkRuntime(inp: Inputs, target: Target, docker: SemVer, criDockerd: SemVer): void {
  const cluster = inp.cluster.value;
  const profile = inp.profile.value;
  if (cluster.containerRuntime === 'docker.io') {
    if (isRpmFamily(target.osFamily)) {
      report(inp, 'cluster', 'containerRuntime',
        `containerRuntime docker.io is a Debian/Ubuntu package that ${target.osFamily} does not have: ` +
          'use containerRuntime: docker-ce (Docker\'s own repo), or an ubuntu/debian osFamily', 'E018');
    } else if (target.osFamily.startsWith('ubuntu-') && criDockerd !== ZERO && compareVersions(criDockerd, CRI_DOCKERD_FOR_DOCKER_25) < 0) {
      // Ubuntu backports current Docker into its LTS updates pockets (25+, later 29), with no older series to pin.
      report(inp, 'cluster', 'containerRuntime',
        `containerRuntime docker.io on ${target.osFamily} installs the Docker Engine Ubuntu ships today (25 or newer), ` +
          `which cri-dockerd ${profile.criDockerd.version} cannot use (Docker 25 dropped the image field it reads, ` +
          'Mirantis/cri-dockerd#299; Docker 29 refuses its API version): use containerRuntime: docker-ce (pinned to ' +
          `${profile.docker.version}), or osFamily: debian-12 (docker.io 20.10), or set criDockerd.version 0.3.10 or later ` +
          'in the profile', 'E018');
    }
    return;
  }
  const first = FIRST_DOCKER_ON[target.osFamily];
  if (first === undefined || docker === ZERO || criDockerd === ZERO) return;
  const needsOldDocker = compareVersions(criDockerd, CRI_DOCKERD_FOR_DOCKER_25) < 0;
  if (needsOldDocker) {
    report(inp, 'cluster', target.osFamilyPath,
      `${target.osFamily}: Docker's repo for it starts at docker-ce ${formatVersion(first)} and has no ` +
        `${profile.docker.version}, while cri-dockerd ${profile.criDockerd.version} needs Docker Engine 24.0.x ` +
        '(Docker 25+ breaks its image inspection); use ubuntu-22.04, or override criDockerd.version >= 0.3.10 ' +
        `together with docker.version >= ${formatVersion(first)}`, 'E018');
  } else if (compareVersions(docker, first) < 0) {
    report(inp, 'profile', 'docker.version',
      `docker.version ${profile.docker.version} is not in Docker's ${target.osFamily} repo, which starts at ` +
        `${formatVersion(first)}: set docker.version to ${formatVersion(first)} or later`, 'E018');
  }
}

/**
 * The profile's own files may not replace what mkimage writes (kubeadm's prerequisites and config, the PKI, the
 * first-boot script and unit, repositories, units, binaries: src/plan/owned-paths.ts), nor give one path twice.
 */
function checkProfileFiles(inp: Inputs, owned: readonly OwnedPath[]): void {
  const first = new Map<string, number>();
  inp.profile.value.files.forEach((f, i) => {
    const earlier = first.get(f.path);
    if (earlier !== undefined) {
      report(inp, 'profile', `files.${i}.path`,
        `files: ${f.path} is already written by files[${earlier}]: give each file one entry (merge their content)`, 'E006');
      return;
    }
    first.set(f.path, i);
    const hit = ownerOf(f.path, owned);
    if (hit === undefined) return;
    const { owner, how } = hit;
    const where =
      how === 'is' ? `${f.path} is written by mkimage (${owner.what})`
      : how === 'under' ? `${f.path} is inside ${owner.path}/, which mkimage writes (${owner.what})`
      : `${f.path} is a directory mkimage writes ${owner.path} into (${owner.what})`;
    const fix = owner.via !== undefined && how === 'is' ? `change it through ${owner.via}, or write your file to another path` : 'write your file to another path';
    report(inp, 'profile', `files.${i}.path`, `files: ${where}: ${fix}`, 'E006');
  });
}

function calicoTag(inp: Inputs): string {
  const raw = inp.cluster.value.calicoVersion;
  const tag = raw.startsWith('v') ? raw : `v${raw}`;
  version(inp, 'cluster', 'calicoVersion', tag, 'v3.27.3');
  return tag;
}

/** The profile's commands, each at its commands.N.run line. */
function commands(located: Located<Profile>): PlanCommand[] {
  const count = { bake: 0, boot: 0 };
  return located.value.commands.map((c, i) =>
    sourced({ phase: c.phase, name: `extra-${c.phase}-${++count[c.phase]}`, run: c.run }, located, `commands.${i}.run`));
}

/** The profile section that configures each of mkimage's units. */
const UNIT_SETTING: Record<string, string> = {
  'cri-docker.service': 'criDockerd',
  'cri-docker.socket': 'criDockerd',
  'docker.service': 'docker',
  'kubelet.service': 'kubernetes',
};

const unitsFrom = (units: PlanUnit[], profile: Located<Profile>): PlanUnit[] =>
  units.map((u) => (UNIT_SETTING[u.name] !== undefined ? sourced(u, profile, UNIT_SETTING[u.name]!) : u));

/** cri-dockerd at criDockerd.url when the profile gives one, else at its version; the Calico manifest at calicoVersion. */
function artifactsFrom(artifacts: PlanArtifact[], inp: Inputs): PlanArtifact[] {
  return artifacts.map((a) => {
    if (a.name === 'cri-dockerd') return sourced(a, inp.profile, inp.profile.value.criDockerd.url !== undefined ? 'criDockerd.url' : 'criDockerd.version');
    if (a.name === 'calico-manifest') return sourced(a, inp.cluster, 'calicoVersion');
    return a;
  });
}

function buildPlan(inp: Inputs, target: Target): NodePlan {
  const profile = inp.profile.value;
  const cluster = inp.cluster.value;
  const os = planOs(target.osFamily, target.arch);
  const repo = cluster.imageRepository;
  const base = {
    planVersion: 1 as const,
    role: profile.role,
    profile: profile.name,
    cluster: {
      name: cluster.name,
      kubernetesVersion: cluster.kubernetesVersion.replace(/^v/, ''),
      controlPlaneEndpoint: cluster.controlPlaneEndpoint,
      podSubnet: cluster.podSubnet,
      serviceSubnet: cluster.serviceSubnet,
      dnsDomain: cluster.dnsDomain,
      imageRepository: repo,
      criSocket: CRI_SOCKET,
      mirror: cluster.mirror,
      cni: cluster.cni,
      calicoVersion: calicoTag(inp),
      controlPlaneHA: cluster.controlPlaneHA,
      ...(cluster.controlPlaneHA === 'kube-vip' && { kubeVipImage: kubeVipImage(cluster.images?.kubeVip) }),
    },
    os: {
      family: os.family,
      packageManager: os.packageManager,
      ...(os.codename !== undefined && { codename: os.codename }),
      cloudImage: os.cloudImage,
      ...(cluster.repositories?.os !== undefined && {
        archive: archiveMirror(target.osFamily, cluster.repositories.os.url, cluster.repositories.os.security),
      }),
    },
    kubeadm: { ignorePreflightErrors: [...profile.kubernetes.ignorePreflightErrors] },
    admin: sourced({ user: cluster.admin.user, sshAuthorizedKeys: [...cluster.admin.sshAuthorizedKeys] }, inp.cluster, 'admin'),
    ...(target.node !== undefined && { node: target.node }),
  };
  const image = {
    diskSize: profile.image.diskSize,
    memory: profile.image.memory,
    cpus: profile.image.cpus,
    sources: [...profile.image.sources],
  };
  const bootFiles = target.node !== undefined ? [nodeEnvFile(target.node, cluster.name)] : [];

  if (profile.role === 'gateway') {
    // The LAN router, not a node image: no packages or units, only the router settings (src/plan/gateway.ts).
    const gateway = planGateway(inp.profile, inp.cluster, inp.diags);
    return {
      ...base, repos: [], packages: [], files: sortFiles([...profileFiles(inp.profile), ...bootFiles]), units: [],
      sysctls: [], modules: [], swapOff: false, firewall: { enabled: false, ports: [], protocols: [], trustedInterfaces: [] }, commands: commands(inp.profile),
      images: [], artifacts: [], image, ...(gateway !== undefined && { gateway }),
    };
  }
  const role: NodeRole = profile.role;

  const k8s = version(inp, 'cluster', 'kubernetesVersion', cluster.kubernetesVersion, '1.29.2');
  const release = kubernetesRelease(k8s);
  if (release === undefined && k8s !== ZERO) {
    report(inp, 'cluster', 'kubernetesVersion',
      `kubernetesVersion ${cluster.kubernetesVersion} is not supported: use a ${SUPPORTED_MINORS.join(' or ')} release ` +
        '(mkimage knows the kubeadm image list and package revisions only for those)', 'E018');
  }
  const pkgText = profile.kubernetes.packageVersion ?? cluster.kubernetesVersion;
  const pkgPath = profile.kubernetes.packageVersion !== undefined ? 'kubernetes.packageVersion' : undefined;
  const pkg = pkgPath ? version(inp, 'profile', pkgPath, pkgText, '1.29.2') : k8s;
  const pkgRelease = kubernetesRelease(pkg);
  if (pkgPath !== undefined && pkgRelease === undefined && pkg !== ZERO) {
    report(inp, 'profile', pkgPath,
      `kubernetes.packageVersion ${pkgText} is not supported: use a ${SUPPORTED_MINORS.join(' or ')} release`, 'E018');
  }

  if (profile.criDockerd.url !== undefined && profile.criDockerd.sha256 === undefined) {
    inp.diags.push(error('E005',
      `criDockerd.url needs criDockerd.sha256: add "sha256: <64 hex digits>" (\`sha256sum\` of the tarball), so every ` +
        'node verifies what it downloads', positionOf(inp.profile, 'criDockerd.url')));
  }
  const docker = version(inp, 'profile', 'docker.version', profile.docker.version, '24.0.7');
  const criDockerd = version(inp, 'profile', 'criDockerd.version', profile.criDockerd.version, '0.3.9');
  checkRuntime(inp, target, docker, criDockerd);

  const sysctls = Object.entries(profile.kernel.sysctls).map(([key, value]) => ({ key, value: String(value) }));
  const pause = podInfraImage(repo, profile.criDockerd.pauseImage);
  const repoMinor = `${pkg.major}.${pkg.minor}`;
  const repos = planRepos(target.osFamily, os.codename, cluster.mirror, cluster.containerRuntime, repoMinor, profile.kubernetes.repoExclude, cluster.repositories);
  const units = unitsFrom(planUnits(pause), inp.profile);
  const artifacts = artifactsFrom(planArtifacts(profile.criDockerd.version, base.cluster.calicoVersion, target.arch, role, {
    mirrors: cluster.artifactMirrors,
    criDockerd: { ...(profile.criDockerd.url !== undefined && { url: profile.criDockerd.url }), ...(profile.criDockerd.sha256 !== undefined && { sha256: profile.criDockerd.sha256 }) },
    ...(cluster.images?.calico !== undefined && { calicoImages: cluster.images.calico }),
    ...(cluster.calicoManifestSha256 !== undefined && { calicoManifestSha256: cluster.calicoManifestSha256 }),
  }), inp);

  const plan: NodePlan = {
    ...base,
    repos,
    packages: planPackages(target.osFamily, cluster.containerRuntime, profile, formatVersion(pkg), pkgRelease),
    files: sortFiles([...baseFiles(inp.profile, sysctls, cluster.registries?.insecure), ...profileFiles(inp.profile), ...bootFiles]),
    units,
    sysctls,
    modules: [...profile.kernel.modules],
    swapOff: profile.swap === 'off',
    ...(isRpmFamily(target.osFamily) && { selinux: profile.selinux }),
    firewall: { enabled: profile.firewall.enabled, ports: [...profile.firewall.ports], ...CALICO_FIREWALL },
    commands: commands(inp.profile),
    images: profile.image.prepull
      ? planImages(repo, k8s, release, role, profile.criDockerd.pauseImage, base.cluster.calicoVersion, cluster.controlPlaneHA, cluster.images)
      : [],
    artifacts,
    image,
  };
  // Flatcar: nothing is baked or installed; the sysext and Ignition deliver the same plan (src/plan/flatcar.ts)
  const shaped = !isFlatcar(target.osFamily)
    ? plan
    : flatcarPlan(plan, {
        ...inp, osFamilyPath: target.osFamilyPath, docker, criDockerd, kubernetesVersion: formatVersion(pkg), podInfraImage: pause,
      });
  checkProfileFiles(inp, [
    ...ownedPaths({ repos: shaped.repos, units: shaped.units, artifacts: shaped.artifacts, packageManager: shaped.os.packageManager }),
    ...flatcarOwnedPaths(shaped),
  ]);
  // the first-boot script and unit (src/firstboot/files.ts): baked, driven at boot by the node's seed files
  const firstboot = firstbootBakeItems();
  shaped.files.push(...firstboot.files);
  shaped.units.push(...firstboot.units);
  return shaped;
}

/** The golden image's architecture: that of the first inventory node of the role, else amd64. */
function roleArch(cluster: Cluster, role: Profile['role']): Arch {
  return cluster.nodes.find((n) => n.role === role)?.arch ?? 'amd64';
}

/** One plan per role profile: what is baked into its golden image (no node, no per-node files), first boot included. */
export function planRole(profile: Located<Profile>, cluster: Located<Cluster>, diags: Diagnostic[]): NodePlan {
  const c = cluster.value;
  return buildPlan({ profile, cluster, diags }, { osFamily: c.osFamily, osFamilyPath: 'osFamily', arch: roleArch(c, profile.value.role) });
}

/** The node's bootstrap step: the inventory's first control plane runs kubeadm init, the others join. */
export function bootstrapOf(cluster: Cluster, node: NodeSpec): PlanNode['bootstrap'] {
  if (node.role === 'worker') return 'join';
  const first = cluster.nodes.find((n) => n.role === 'control-plane');
  return first?.name === node.name ? 'init' : 'join-control-plane';
}

/** The names of the nodes that join (every node but the one that runs kubeadm init), in inventory order. */
export function joiningNodes(cluster: Cluster): string[] {
  return cluster.nodes.filter((n) => bootstrapOf(cluster, n) !== 'init').map((n) => n.name);
}

const tokenCache = new WeakMap<Cluster, { key: string; nodes: readonly NodeSpec[]; tokens: ReadonlyMap<string, BootstrapToken> }>();

/**
 * Every joining node's own join token (node name -> token, inventory order), derived from the cluster token with
 * the cluster's nodeTokenTTL (src/cluster/token.ts). Made once per cluster, token and nodes list: every node's plan
 * needs it, and a 1000-node cluster would otherwise derive a million.
 */
export function joinTokens(cluster: Cluster, token: BootstrapToken): ReadonlyMap<string, BootstrapToken> {
  // the same token, TTL and nodes array (the loader's, not changed in place) as last time: no walk over the nodes
  const key = `${token.id}.${token.secret}\0${cluster.nodeTokenTTL}\0${cluster.nodes.length}`;
  const hit = tokenCache.get(cluster);
  if (hit !== undefined && hit.key === key && hit.nodes === cluster.nodes) return hit.tokens;
  const tokens = nodeTokens(token, joiningNodes(cluster), cluster.nodeTokenTTL);
  tokenCache.set(cluster, { key, nodes: cluster.nodes, tokens });
  return tokens;
}

function planNodeOf(inp: Inputs, node: NodeSpec): PlanNode {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(node.ip);
  if (!m) {
    report(inp, 'cluster', `nodes.${node.index}.ip`,
      `node ${node.name}: ip "${node.ip}" needs its prefix length, e.g. "192.168.66.11/24"`, 'E007');
  }
  return sourced({
    name: node.name,
    role: node.role,
    mac: node.mac,
    address: node.ip,
    ip: m?.[1] ?? node.ip.split('/')[0] ?? node.ip,
    prefix: m ? Number(m[2]) : 0,
    gateway: node.gateway,
    dns: [...node.dns],
    arch: node.arch,
    bootstrap: bootstrapOf(inp.cluster.value, node),
    onlyNode: inp.cluster.value.nodes.length === 1,
  }, inp.cluster, `nodes.${node.index}`);
}

/**
 * The node-independent part of buildPlan, made once per profile, OS family and architecture for the nodes of one
 * planning pass (`nodePlans`: a 1000-node render built the same role plan a thousand times). Each node's plan is
 * then that shape with the node and its node.env file put in as buildPlan puts them (same keys in the same order,
 * files sorted the same way), fresh arrays of the shared entries (which nothing changes), and the shape's
 * diagnostics said again, as buildPlan would have said them. Not for Flatcar, whose shape depends on the node.
 * Meant to live for one pass over inputs nothing changes meanwhile.
 */
export class PlanShapes {
  private readonly made = new Map<string, { profile: Located<Profile>; cluster: Located<Cluster>; plan: NodePlan; sorted: number; diags: Diagnostic[] }>();

  plan(inp: Inputs, target: Target & { node: PlanNode }): NodePlan {
    const key = `${target.osFamily}\0${target.osFamilyPath}\0${target.arch}`;
    let shape = this.made.get(key);
    if (shape === undefined || shape.profile !== inp.profile || shape.cluster !== inp.cluster) {
      const diags: Diagnostic[] = [];
      const plan = buildPlan({ ...inp, diags }, { osFamily: target.osFamily, osFamilyPath: target.osFamilyPath, arch: target.arch });
      // buildPlan appends the first-boot files after sorting the rest
      const sorted = plan.files.length - firstbootBakeItems().files.length;
      shape = { profile: inp.profile, cluster: inp.cluster, plan, sorted, diags };
      this.made.set(key, shape);
    }
    inp.diags.push(...shape.diags);
    return withNode(shape.plan, shape.sorted, target.node, inp.cluster.value.name);
  }
}

/**
 * A node-less plan from buildPlan (its first `sorted` files sorted, then the first-boot files) with the node in
 * it: what buildPlan returns for that node (see PlanShapes).
 */
function withNode(shape: NodePlan, sorted: number, node: PlanNode, clusterName: string): NodePlan {
  const files = [...sortFiles([...shape.files.slice(0, sorted), nodeEnvFile(node, clusterName)]), ...shape.files.slice(sorted)];
  const plan: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(shape)) {
    plan[k] = Array.isArray(v) ? [...v] : v;
    if (k === 'admin') plan.node = node; // where buildPlan's base object puts it
  }
  plan.files = files;
  return plan as unknown as NodePlan;
}

/**
 * The role plan for this node's OS family and architecture, plus the node and its first-boot files; with the
 * cluster's secrets, also the boot files that carry them: the complete plan its seed or Ignition config delivers.
 */
export function planNode(
  profile: Located<Profile>,
  cluster: Located<Cluster>,
  node: NodeSpec,
  diags: Diagnostic[],
  secrets?: ClusterSecrets,
  shapes?: PlanShapes,
): NodePlan {
  const inp: Inputs = { profile, cluster, diags };
  if (node.role !== profile.value.role) {
    report(inp, 'cluster', `nodes.${node.index}.role`,
      `node ${node.name} has role ${node.role} but profile ${profile.value.name} is for role ${profile.value.role}: ` +
        `plan it with the ${node.role} profile`, 'E018');
  }
  const target: Target & { node: PlanNode } = {
    osFamily: node.osFamily ?? cluster.value.osFamily,
    osFamilyPath: node.osFamily !== undefined ? `nodes.${node.index}.osFamily` : 'osFamily',
    arch: node.arch,
    node: planNodeOf(inp, node),
  };
  const plan = shapes !== undefined && !isFlatcar(target.osFamily) ? shapes.plan(inp, target) : buildPlan(inp, target);
  // the secret-bearing boot files (PKI, kubeadm config with the node's own token, bootstrap.env, kube-vip)
  if (secrets !== undefined && plan.role !== 'gateway') {
    plan.files.push(...bootstrapBootFiles(plan, secrets, joinTokens(cluster.value, secrets.token)));
  }
  return plan;
}

/** The plan without its entries' sources (which are for diagnostics, not output). */
function withoutSources(plan: NodePlan): NodePlan {
  const bare = <T extends Sourced>(e: T): T => {
    if (e.source === undefined) return e;
    const { source: _, ...rest } = e;
    return rest as T;
  };
  const fc = plan.flatcar;
  return {
    ...plan,
    admin: bare(plan.admin),
    ...(plan.node !== undefined && { node: bare(plan.node) }),
    files: plan.files.map(bare),
    units: plan.units.map(bare),
    commands: plan.commands.map(bare),
    artifacts: plan.artifacts.map(bare),
    ...(fc !== undefined && { flatcar: { ...fc, downloads: fc.downloads.map(bare), links: fc.links.map(bare) } }),
  };
}

/** `mkimage plan` output: 2-space JSON in the plan's fixed key order, newline-terminated; entries' sources left out. */
export function planJson(plan: NodePlan): string {
  return `${JSON.stringify(withoutSources(plan), null, 2)}\n`;
}
