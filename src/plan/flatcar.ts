// osFamily flatcar: the same plan, shaped for Flatcar Container Linux. Flatcar is immutable (/usr is a read-only,
// verified partition) and has no package manager, so nothing is baked and nothing is installed:
//   - what a golden image would put under /usr goes into one systemd-sysext image mkimage builds per role (the
//     kubernetes sysext: kubeadm, kubelet, kubectl, crictl, the first-boot script, the Calico manifest), merged over
//     /usr at boot from /etc/extensions/kubernetes.raw;
//   - Docker Engine is the Flatcar sysext-bakery's Docker sysext, and Flatcar's own docker-flatcar and
//     containerd-flatcar extensions are masked: Flatcar ships Docker 26+ since Docker 25 landed in 2024 (Alpha 4053,
//     the flatcar/scripts tree now carries docker 27), and cri-dockerd before 0.3.10 cannot use Docker 25+;
//   - cri-dockerd goes to /opt/bin (Ignition cannot untar: the binary is served extracted), units to
//     /etc/systemd/system, kubelet's unit and kubeadm's drop-in are written (no package ships them), and the volume
//     plugin directory moves to /opt (kubelet and Calico's flexvol driver would create it under read-only /usr);
//   - every file not under /usr, every unit, the admin user, the host name and the network (systemd-networkd) are
//     written by Ignition (src/emit/ignition.ts), and every download comes from the cluster's first artifactMirrors
//     directory, which holds what `mkimage <role>` writes to out/<role>/ignition/files/.
// Mistakes become positioned diagnostics: a Docker that cri-dockerd cannot use (E018, as on the other families),
// packages or commands the profile asks for (Flatcar installs and runs nothing: E018), no directory to serve from (E005).

import { error, type Diagnostic, type Position } from '../diagnostics.js';
import type { Cluster, Located, Profile } from '../profile/types.js';
import { CALICO_MANIFEST_DEST } from './artifacts.js';
import { crictlArtifact, dockerSysextArtifact, KUBE_BINARIES, kubeBinaryArtifact, sysextArchitecture } from './flatcar-artifacts.js';
import { sortFiles } from './files.js';
import { LAN_INTERFACE } from './network.js';
import type { OwnedPath } from './owned-paths.js';
import { positionOf, sourced, withSource } from './positions.js';
import type { FlatcarPlan, NodePlan, PlanArtifact, PlanDownload, PlanFile, PlanUnit } from './types.js';
import { criDockerService, kubeadmKubeletDropin, kubeletService } from './units.js';
import { compareVersions, CRI_DOCKERD_FOR_DOCKER_25, kubernetesRelease, parseVersion, type SemVer } from './versions.js';
import { header, renderTemplate } from '../template.js';

export const FLATCAR_CRI_DOCKERD = '/opt/bin/cri-dockerd';
export const FLATCAR_UNIT_DIR = '/etc/systemd/system';
export const SYSEXT_STORE = '/opt/extensions';
export const EXTENSIONS_DIR = '/etc/extensions';
export const SYSEXT_NAME = 'kubernetes';
/** Flatcar's built-in extensions that a Docker sysext replaces (masked by a link to /dev/null). */
export const BUILT_IN_RUNTIME = ['docker-flatcar', 'containerd-flatcar'] as const;
/** kubelet's and Calico's flexvolume directory, moved off the read-only /usr (Flatcar's Kubernetes guide does too). */
export const VOLUME_PLUGIN_DIR = '/opt/libexec/kubernetes/kubelet-plugins/volume/exec';
const USR_VOLUME_PLUGIN_DIR = '/usr/libexec/kubernetes/kubelet-plugins/volume/exec';
export const KUBELET_DEFAULTS = '/etc/default/kubelet';
export const ADMIN_SUDOERS = '/etc/sudoers.d/mkimage-admin';
export const HOSTNAME_FILE = '/etc/hostname';
export const NETWORKD_LINK = `/etc/systemd/network/10-${LAN_INTERFACE}.link`;
export const NETWORKD_NETWORK = `/etc/systemd/network/10-${LAN_INTERFACE}.network`;
/** The Docker 24 sysext the Flatcar sysext-bakery publishes (its README's example; cri-dockerd 0.3.9 needs Docker 24). */
export const BAKERY_DOCKER_24 = '24.0.9';

/** What Flatcar's read-only /usr means for a plan path: the sysext carries it, Ignition cannot write it. */
export const inSysext = (path: string) => path.startsWith('/usr/');

/** The directory nodes download from: the first artifactMirrors entry that is a directory (not a "{url}" proxy). */
export function serveBase(mirrors: readonly string[]): string | undefined {
  const dir = mirrors.find((m) => !m.includes('{url}'));
  return dir === undefined ? undefined : dir.replace(/\/*$/, '/');
}

export interface FlatcarInputs {
  profile: Located<Profile>;
  cluster: Located<Cluster>;
  diags: Diagnostic[];
  /** the cluster-file path that chose flatcar: "osFamily" or "nodes.<i>.osFamily" */
  osFamilyPath: string;
  docker: SemVer;
  criDockerd: SemVer;
  /** kubeadm/kubelet/kubectl version, "1.29.2" */
  kubernetesVersion: string;
  /** the sandbox image cri-dockerd is told (cri-docker.service is rendered again for /opt/bin) */
  podInfraImage: string;
}

/** The setting that chose the Kubernetes binaries' version (and so the kubernetes sysext's). */
function kubeSource(inp: FlatcarInputs): Position | undefined {
  const own = inp.profile.value.kubernetes.packageVersion !== undefined;
  return positionOf(own ? inp.profile : inp.cluster, own ? 'kubernetes.packageVersion' : 'kubernetesVersion');
}

function report(inp: FlatcarInputs, doc: 'profile' | 'cluster', path: string, code: 'E005' | 'E018', message: string): void {
  inp.diags.push(error(code, message, positionOf(doc === 'profile' ? inp.profile : inp.cluster, path)));
}

/** What Flatcar cannot do that the profile or cluster asks for. */
function checkFlatcar(inp: FlatcarInputs): void {
  const profile = inp.profile.value;
  const cluster = inp.cluster.value;
  if (cluster.containerRuntime === 'docker.io') {
    report(inp, 'cluster', 'containerRuntime', 'E018',
      'containerRuntime docker.io is a Debian/Ubuntu package, and Flatcar installs no packages: use containerRuntime: ' +
        "docker-ce (on Flatcar, Docker's static build as the sysext-bakery's Docker sysext)");
  }
  if (profile.extraPackages.length > 0) {
    report(inp, 'profile', 'extraPackages', 'E018',
      'extraPackages: Flatcar has no package manager: remove extraPackages for a Flatcar role (ship static binaries as ' +
        'files, or their own sysext), or use another osFamily for these nodes');
  }
  if (profile.commands.length > 0) {
    report(inp, 'profile', 'commands.0', 'E018',
      'commands: Ignition runs no commands and nothing is baked for Flatcar: remove commands for a Flatcar role (write ' +
        'the result as files instead), or use another osFamily for these nodes');
  }
  const { docker, criDockerd } = inp;
  const oldCri = criDockerd.major + criDockerd.minor + criDockerd.patch > 0 && compareVersions(criDockerd, CRI_DOCKERD_FOR_DOCKER_25) < 0;
  if (!oldCri || docker.major === 0) return;
  const v = profile.docker.version;
  if (docker.major >= 25) {
    report(inp, 'profile', 'docker.version', 'E018',
      `docker.version ${v} on Flatcar: cri-dockerd ${profile.criDockerd.version} cannot use Docker 25 or newer (it drops ` +
        'the image field cri-dockerd reads, Mirantis/cri-dockerd#299), and Flatcar\'s own Docker is 26+ since 2024: set ' +
        `docker.version to ${BAKERY_DOCKER_24} (the sysext-bakery's Docker 24 sysext, which replaces Flatcar's), or set ` +
        'criDockerd.version to 0.3.10 or later');
  } else if (v !== BAKERY_DOCKER_24) {
    report(inp, 'profile', 'docker.version', 'E018',
      `docker.version ${v} on Flatcar: cri-dockerd ${profile.criDockerd.version} needs Docker 24, which Flatcar no longer ` +
        `ships, and the sysext-bakery's Docker 24 sysext is ${BAKERY_DOCKER_24}: set docker.version to ${BAKERY_DOCKER_24} ` +
        '(or serve your own docker-<version>-<arch>.raw from artifactMirrors and keep it), or set criDockerd.version ' +
        'to 0.3.10 or later');
  }
}

const flatcarFile = (path: string, content: string, mode = '0644', phase: PlanFile['phase'] = 'bake'): PlanFile => ({
  path,
  mode,
  owner: 'root:root',
  content,
  phase,
});

/** The node's own files Ignition writes: host name and the LAN interface (systemd-networkd, matched by MAC). */
function nodeFiles(plan: NodePlan): PlanFile[] {
  const node = plan.node;
  if (node === undefined) return [];
  const mac = node.mac.toLowerCase();
  return [
    flatcarFile(HOSTNAME_FILE, `${node.name}\n`, '0644', 'boot'),
    flatcarFile(NETWORKD_LINK, renderTemplate('systemd/lan0.link.mustache', { header: header('#'), mac, name: LAN_INTERFACE }), '0644', 'boot'),
    flatcarFile(
      NETWORKD_NETWORK,
      renderTemplate('systemd/lan0.network.mustache', { header: header('#'), mac, address: node.address, gateway: node.gateway, dns: node.dns }),
      '0644',
      'boot',
    ),
  ];
}

/** Units where Ignition writes them, cri-dockerd from /opt/bin, and kubelet's unit written (no package ships it). */
function flatcarUnits(units: PlanUnit[], podInfraImage: string): PlanUnit[] {
  return units.map((u) => {
    if (u.name === 'cri-docker.service') return { ...u, path: `${FLATCAR_UNIT_DIR}/${u.name}`, content: criDockerService(podInfraImage, FLATCAR_CRI_DOCKERD) };
    if (u.name === 'kubelet.service') {
      return { ...u, path: `${FLATCAR_UNIT_DIR}/${u.name}`, content: kubeletService(), dropins: [{ name: '10-kubeadm.conf', content: kubeadmKubeletDropin() }] };
    }
    return u.path !== undefined ? { ...u, path: `${FLATCAR_UNIT_DIR}/${u.name}` } : u;
  });
}

function flatcarArtifacts(plan: NodePlan, inp: FlatcarInputs, docker: string): PlanArtifact[] {
  const mirrors = inp.cluster.value.artifactMirrors;
  const arch = plan.node?.arch ?? plan.artifacts[0]?.arch ?? 'amd64';
  const kube = kubeBinaryArtifact;
  const release = kubernetesRelease(parseVersion(inp.kubernetesVersion) ?? { major: 0, minor: 0, patch: 0 });
  const moved = plan.artifacts.map((a): PlanArtifact => {
    if (a.name === 'cri-dockerd') return { ...a, dest: FLATCAR_CRI_DOCKERD };
    if (a.dest === CALICO_MANIFEST_DEST) {
      // Calico's flexvol-driver init container mounts the volume plugin directory from the host (DirectoryOrCreate)
      return { ...a, edits: [...(a.edits ?? []), { from: USR_VOLUME_PLUGIN_DIR, to: VOLUME_PLUGIN_DIR }] };
    }
    return a;
  });
  const k8s = kubeSource(inp);
  return [
    ...moved,
    ...KUBE_BINARIES.map((b) => withSource(kube(b, inp.kubernetesVersion, arch, mirrors), k8s)),
    ...(release !== undefined ? [withSource(crictlArtifact(release.criTools, inp.kubernetesVersion, arch, mirrors), k8s)] : []),
    sourced(dockerSysextArtifact(docker, arch, mirrors), inp.profile, 'docker.version'),
  ];
}

function sysextOf(plan: NodePlan, artifacts: PlanArtifact[], version: string): FlatcarPlan['sysext'] {
  const arch = sysextArchitecture(artifacts[0]?.arch ?? 'amd64');
  const tag = `v${version}`;
  return {
    name: SYSEXT_NAME,
    version: tag,
    architecture: arch,
    // one image per role profile: the Calico manifest is the control planes' only
    path: `${SYSEXT_STORE}/${SYSEXT_NAME}/${SYSEXT_NAME}-${tag}-${arch}-${plan.profile}.raw`,
    extensionRelease: `ID=flatcar\nSYSEXT_LEVEL=1.0\nARCHITECTURE=${arch}\n`,
    artifacts: artifacts.filter((a) => inSysext(a.dest)).map((a) => a.name),
  };
}

const baseName = (p: string) => p.slice(p.lastIndexOf('/') + 1);

/** Each download at its artifact's source; the kubernetes sysext at `sysextSource`. */
function downloadsOf(artifacts: PlanArtifact[], sysext: FlatcarPlan['sysext'], base: string, sysextSource: Position | undefined): PlanDownload[] {
  const served = (from: string, path: string, mode: string, file: string, source: Position | undefined): PlanDownload =>
    withSource({ from, path, mode, file, url: `${base}${file}` }, source);
  const out: PlanDownload[] = [];
  for (const a of artifacts) {
    if (inSysext(a.dest)) continue;
    // cri-dockerd is served extracted under its release name without the .tgz
    const file = a.name === 'cri-dockerd' ? `cri-dockerd-${a.version}.${a.arch}` : baseName(a.dest);
    out.push(served(a.name, a.dest, a.mode, file, a.source));
  }
  out.push(served(`sysext:${sysext.name}`, sysext.path, '0644', baseName(sysext.path), sysextSource));
  return out.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
}

/**
 * The Flatcar shape of a node (or role) plan built by src/plan/build.ts: packages and repositories dropped, units
 * and cri-dockerd moved, the sysext, the Docker sysext and the downloads added. Diagnostics go to inp.diags.
 */
export function flatcarPlan(plan: NodePlan, inp: FlatcarInputs): NodePlan {
  checkFlatcar(inp);
  const base = serveBase(inp.cluster.value.artifactMirrors);
  if (base === undefined) {
    report(inp, 'cluster', inp.cluster.value.artifactMirrors.length > 0 ? 'artifactMirrors' : inp.osFamilyPath, 'E005',
      'osFamily flatcar: Ignition downloads the kubernetes sysext, cri-dockerd and the Docker sysext from one URL each, ' +
        'and mkimage writes them to out/<role>/ignition/files/: add the directory you serve that from to artifactMirrors, ' +
        'e.g. artifactMirrors: ["http://192.168.66.5/mkimage/"] (a "{url}" proxy cannot serve files mkimage builds)');
  }
  const docker = inp.profile.value.docker.version;
  const artifacts = flatcarArtifacts(plan, inp, docker);
  const sysext = sysextOf(plan, artifacts, inp.kubernetesVersion);
  const dockerSysext = artifacts.find((a) => a.name === 'docker-sysext')!;
  const files = [
    ...plan.files,
    // kubelet's flexvolume directory off the read-only /usr (read by 10-kubeadm.conf as KUBELET_EXTRA_ARGS)
    flatcarFile(KUBELET_DEFAULTS, `${header('#')}KUBELET_EXTRA_ARGS=--volume-plugin-dir=${VOLUME_PLUGIN_DIR}\n`),
    sourced(flatcarFile(ADMIN_SUDOERS, `${header('#')}${plan.admin.user} ALL=(ALL) NOPASSWD:ALL\n`, '0440'), inp.cluster, 'admin.user'),
    ...nodeFiles(plan),
  ];
  return {
    ...plan,
    repos: [],
    packages: [],
    files: sortFiles(files),
    units: flatcarUnits(plan.units, inp.podInfraImage),
    // nothing is baked, so nothing is pre-pulled: kubeadm pulls its images at init/join
    images: [],
    artifacts,
    flatcar: {
      sysext,
      downloads: downloadsOf(artifacts, sysext, base ?? 'http://artifact-mirror.invalid/', kubeSource(inp)),
      // the kubernetes sysext at the Kubernetes version; Docker's, and the masks of Flatcar's own, at docker.version
      links: [
        withSource({ path: `${EXTENSIONS_DIR}/${SYSEXT_NAME}.raw`, target: sysext.path }, kubeSource(inp)),
        withSource({ path: `${EXTENSIONS_DIR}/docker.raw`, target: dockerSysext.dest }, dockerSysext.source),
        ...BUILT_IN_RUNTIME.map((name) => withSource({ path: `${EXTENSIONS_DIR}/${name}.raw`, target: '/dev/null' }, dockerSysext.source)),
      ].sort((x, y) => (x.path < y.path ? -1 : 1)),
    },
  };
}

/** Paths a Flatcar plan writes beyond what every plan owns (src/plan/owned-paths.ts): a profile file may not take them. */
export function flatcarOwnedPaths(plan: NodePlan): OwnedPath[] {
  if (plan.flatcar === undefined) return [];
  const file = (path: string, what: string, via?: string): OwnedPath => ({ path, dir: false, what, ...(via !== undefined && { via }) });
  return [
    file(KUBELET_DEFAULTS, "kubelet's extra flags on Flatcar"),
    file(ADMIN_SUDOERS, "the admin's sudo rule", 'admin.user in the cluster file'),
    file(HOSTNAME_FILE, "the node's host name", 'the cluster inventory'),
    file(NETWORKD_LINK, "the LAN interface's name", 'the cluster inventory'),
    file(NETWORKD_NETWORK, "the node's address", 'the cluster inventory'),
    { path: SYSEXT_STORE, dir: true, what: 'the sysext images' },
    { path: EXTENSIONS_DIR, dir: true, what: 'the sysexts Flatcar merges' },
  ];
}
