// The Packer directory for one role's golden image (out/<role>/packer/): HCL2 from packer/*.mustache, the
// bake script and the build-only scripts (pre-pull, self-check, clean-up), the bake-phase rootfs, the kubeadm
// images config, and the NoCloud seed that creates the temporary build user. Pure: plan in, files out.
//
// The build user (BUILD_USER) exists only while Packer runs: cloud-init creates it from seed/user-data with the
// cluster's build key (src/packer/build-key.ts: made once, kept beside the secrets, referenced by a relative
// path), and the clean-up step starts a oneshot unit whose
// ExecStop runs `userdel --force --remove` as the build VM powers off, after the SSH session and user.slice
// are gone. That is why it works although Packer is still logged in as that user when clean-up runs.

import { stringify } from 'yaml';
import type { OutFile } from '../output.js';
import type { NodePlan, PlanUnit } from '../plan/types.js';
import { header, renderTemplate } from '../template.js';
import { BOOTSTRAP_ENV_PATH, KUBEADM_CONFIG_PATH } from '../cluster/bootstrap-files.js';
import { compareVersions, CRI_DOCKERD_FOR_DOCKER_25, parseVersion } from '../plan/versions.js';
import { FIRSTBOOT_DONE, FIRSTBOOT_FAILED } from '../firstboot/files.js';
import { DEFAULT_STAGED_DIR, phaseRootfsFiles, renderPhaseScript, shellQuote } from './script.js';

export interface PackerOptions {
  /** e.g. "1.6.6"; the packer { required_plugins } block (and the proxmox source) only when >= 1.7 */
  packerVersion?: string;
  accelerator?: 'kvm' | 'tcg';
  /** the build key's public half: seed/user-data authorises it (always given by the pipeline) */
  buildPublicKey?: string;
  /** ssh_private_key_file's default, relative to the Packer directory (default: the default secrets layout) */
  buildKeyFile?: string;
  /** output_directory's default, relative to the Packer directory (default: images/<cluster>/<role> beside out/) */
  outputDirectory?: string;
}

/** Where images go by default, beside out/: images/<cluster>/<role>/ (a re-render replaces out/<role> whole). */
export const IMAGES_DIR = 'images';
/** Defaults for the default layout (cwd/out/<role>/packer, cwd/clusters/<name>/secrets). */
export const defaultBuildKeyFile = (cluster: string) => `../../../clusters/${cluster}/secrets/packer-build/id_ed25519`;
export const defaultOutputDirectory = (cluster: string, role: string) => `../../../${IMAGES_DIR}/${cluster}/${role}`;

export const BUILD_USER = 'mkimage-build';
export const REMOVE_BUILD_USER_UNIT = 'mkimage-remove-build-user.service';
/** Units the pre-pull step itself runs; every other start:false unit is stopped before the self-check. */
const PREPULL_UNITS = ['docker.service', 'containerd.service', 'cri-docker.socket', 'cri-docker.service'];
/** Packer's own Go template placeholder: the uploaded script's path on the guest. */
const SUDO_BASH = "sudo bash '{{ .Path }}'";
const BOOTSTRAP_TOKEN_RE = '[a-z0-9]{6}\\.[a-z0-9]{16}';
/**
 * What a node's seed, kubeadm or the first boot writes: none of it may be in a golden image. The token lives
 * in kubeadm.yaml; bootstrap-kubelet.conf and kubelet.conf carry credentials; a first-boot marker would make
 * every clone skip its first boot.
 */
const SEED_WRITTEN_PATHS = [
  BOOTSTRAP_ENV_PATH, KUBEADM_CONFIG_PATH,
  '/etc/kubernetes/admin.conf', '/etc/kubernetes/super-admin.conf', '/etc/kubernetes/kubelet.conf',
  '/etc/kubernetes/bootstrap-kubelet.conf', '/var/lib/kubelet/pki', FIRSTBOOT_DONE, FIRSTBOOT_FAILED,
];
/** Text config directories grepped for a token (text files only: never binaries, see no_token_in). */
const TOKEN_TEXT_DIRS = ['/etc/kubernetes', '/etc/mkimage', '/var/lib/kubelet', '/var/lib/mkimage'];

/** The seed-written paths plus every secret file the plan itself names (those are boot-phase only). */
function seedPaths(plan: NodePlan): string[] {
  const secret = plan.files.filter((f) => f.secret === true).map((f) => f.path);
  return [...new Set([...SEED_WRITTEN_PATHS, ...secret])];
}

/** "1.6.6" >= "1.7"? Unknown versions count as current (>= 1.7). */
export function packerAtLeast(version: string | undefined, major: number, minor: number): boolean {
  if (version === undefined) return true;
  const m = /(\d+)\.(\d+)/.exec(version);
  if (!m) return true;
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj > major || (maj === major && min >= minor);
}

/** A quoted HCL string: JSON escapes, plus `${` and `%{` kept literal. */
export function hclString(s: string): string {
  return JSON.stringify(s).replace(/\$\{/g, '$${').replace(/%\{/g, '%%{');
}

const YAML_OPTS = { lineWidth: 0 } as const;

/**
 * seed/user-data for the build VM: only the temporary build user, key login, passwordless sudo. The hostname
 * resolves through /etc/hosts while the build runs (else sudo warns on every step); clean-up resets both.
 */
export function renderBuildUserData(publicKey: string): string {
  const doc = {
    hostname: BUILD_USER,
    fqdn: `${BUILD_USER}.localdomain`,
    manage_etc_hosts: true,
    users: [
      {
        name: BUILD_USER,
        gecos: 'mkimage image build (removed as the build VM powers off)',
        shell: '/bin/bash',
        sudo: 'ALL=(ALL) NOPASSWD:ALL',
        lock_passwd: true,
        ssh_authorized_keys: [publicKey.trim()],
      },
    ],
    ssh_pwauth: false,
    disable_root: true,
  };
  return `#cloud-config\n${header('#')}${stringify(doc, YAML_OPTS)}`;
}

function renderBuildMetaData(plan: NodePlan): string {
  const doc = { 'instance-id': `mkimage-build-${plan.role}-${plan.os.family}`, 'local-hostname': BUILD_USER };
  return `${header('#')}${stringify(doc, YAML_OPTS)}`;
}

/** images.yaml: what `kubeadm config images pull --config` needs (v1beta3, kubeadm 1.22-1.30). */
export function renderImagesConfig(plan: NodePlan): string {
  const init = {
    apiVersion: 'kubeadm.k8s.io/v1beta3',
    kind: 'InitConfiguration',
    nodeRegistration: { criSocket: plan.cluster.criSocket },
  };
  const v = plan.cluster.kubernetesVersion;
  const cluster = {
    apiVersion: 'kubeadm.k8s.io/v1beta3',
    kind: 'ClusterConfiguration',
    kubernetesVersion: v.startsWith('v') ? v : `v${v}`,
    imageRepository: plan.cluster.imageRepository,
  };
  return `${header('#')}${stringify(init, YAML_OPTS)}---\n${stringify(cluster, YAML_OPTS)}`;
}

/** The oneshot whose ExecStop removes the build user at the build VM's power-off. */
export function renderRemoveBuildUserUnit(): string {
  return renderTemplate('scripts/remove-build-user.service.mustache', {
    header: header('#'),
    user: BUILD_USER,
    unit: REMOVE_BUILD_USER_UNIT,
  });
}

const bakeUnits = (plan: NodePlan): PlanUnit[] => plan.units.filter((u) => u.phase === 'bake');
const hasUnit = (plan: NodePlan, name: string) => bakeUnits(plan).some((u) => u.name === name);
const kubeadmPull = (plan: NodePlan) => plan.role === 'control-plane' && plan.images.length > 0;

function renderPrepull(plan: NodePlan): string {
  const start = ['docker.service', 'cri-docker.socket'].filter((u) => hasUnit(plan, u));
  const stop = bakeUnits(plan)
    .filter((u) => !u.start && !['docker.service', 'containerd.service'].includes(u.name))
    .map((u) => u.name);
  return renderTemplate('scripts/packer-prepull.sh.mustache', {
    header: header('#'),
    start: start.map(shellQuote).join(' '),
    hasStart: start.length > 0,
    kubeadmPull: kubeadmPull(plan),
    config: `${DEFAULT_STAGED_DIR}/images.yaml`,
    // one string, not a list of views: the strict template check refuses an empty list's item fields
    pulls: plan.images
      .map((img) => `step ${shellQuote(`image ${img}`)}\ndocker image inspect ${shellQuote(img)} >/dev/null 2>&1 || docker pull ${shellQuote(img)}`)
      .join('\n'),
    hasPulls: plan.images.length > 0,
    stop: stop.map(shellQuote).join(' '),
    hasStop: stop.length > 0,
  });
}

function renderSelfCheck(plan: NodePlan): string {
  const checks: Array<{ what: string; cmd: string[] }> = [];
  const add = (what: string, ...cmd: string[]) => checks.push({ what, cmd });
  for (const u of bakeUnits(plan)) {
    if (u.enable) add(`${u.name} is enabled`, 'systemctl', 'is-enabled', '--quiet', u.name);
  }
  if (hasUnit(plan, 'docker.service')) add('docker.service is active', 'systemctl', 'is-active', '--quiet', 'docker.service');
  const dockerPin = plan.packages.find((p) => p.name === 'docker-ce')?.version;
  const dockerSeries = dockerPin === undefined ? undefined : /(\d+\.\d+)\.\d+/.exec(dockerPin)?.[1];
  if (dockerSeries !== undefined) add(`docker server is ${dockerSeries}.x`, 'docker_series', dockerSeries);
  // cri-dockerd < 0.3.10 breaks on Docker 25+ (API 1.44 dropped VirtualSize, Mirantis/cri-dockerd#299), whichever
  // package brought Docker: a pinned docker-ce, or the distribution's docker.io (Ubuntu backports 25+).
  const criDockerd = plan.artifacts.find((a) => a.name === 'cri-dockerd')?.version;
  const criVersion = criDockerd === undefined ? undefined : parseVersion(criDockerd);
  const docker = plan.packages.some((p) => p.name === 'docker-ce' || p.name === 'docker.io');
  if (docker && criVersion !== undefined && compareVersions(criVersion, CRI_DOCKERD_FOR_DOCKER_25) < 0) {
    add(`docker server is older than 25 (cri-dockerd ${criDockerd} needs Docker API < 1.44)`, 'docker_below', '25');
  }
  for (const u of bakeUnits(plan)) {
    if (!u.start && !PREPULL_UNITS.includes(u.name)) add(`${u.name} is not active`, 'not_active', u.name);
  }
  for (const p of plan.packages) {
    if (p.version !== undefined) add(`${p.name} is ${p.version}`, 'pkg_is', p.name, p.version);
    if (p.hold) add(`${p.name} is held`, 'pkg_held', p.name);
  }
  for (const s of plan.sysctls) add(`sysctl ${s.key} = ${s.value}`, 'sysctl_is', s.key, s.value);
  for (const m of plan.modules) add(`module ${m} is loaded`, 'module_loaded', m);
  for (const img of plan.images) add(`image ${img} is present`, 'image_present', img);
  add('no file under /etc/kubernetes/pki', 'no_pki');
  add('no seed, kubeadm credentials or first-boot marker on disk', 'absent', ...seedPaths(plan));
  add('no bootstrap token on disk', 'no_token_in', ...TOKEN_TEXT_DIRS);
  return renderTemplate('scripts/packer-selfcheck.sh.mustache', {
    header: header('#'),
    dnf: plan.os.packageManager === 'dnf',
    apt: plan.os.packageManager === 'apt',
    dockerFormat: shellQuote('{{.Server.Version}}'),
    tokenRe: shellQuote(BOOTSTRAP_TOKEN_RE),
    checks: checks.map((c) => ({ what: shellQuote(c.what), cmd: c.cmd.map(shellQuote).join(' ') })),
  });
}

function renderCleanup(plan: NodePlan): string {
  return renderTemplate('scripts/packer-cleanup.sh.mustache', {
    header: header('#'),
    dnf: plan.os.packageManager === 'dnf',
    apt: plan.os.packageManager === 'apt',
    staged: DEFAULT_STAGED_DIR,
    user: BUILD_USER,
    unit: REMOVE_BUILD_USER_UNIT,
    unitContent: renderRemoveBuildUserUnit().replace(/\n$/, ''),
  });
}

function artifactsReadme(plan: NodePlan): string {
  const lines = [
    header('#').trimEnd(),
    '# `mkimage <role> --build` fills this directory: one file per artifact, named as below,',
    '# already extracted and sha256-checked. The Packer file provisioner uploads it to /tmp/mkimage/artifacts/.',
    '',
  ];
  for (const a of plan.artifacts) {
    lines.push(`${a.name}  ${a.version} ${a.arch} -> ${a.dest} (mode ${a.mode})`);
    if (a.member !== undefined) lines.push(`  member ${a.member} of the download`);
    lines.push(`  sha256 ${a.sha256 ?? '(recorded in mkimage.lock on first fetch)'}`);
    for (const u of a.urls) lines.push(`  ${u}`);
  }
  return `${lines.join('\n')}\n`;
}

function pluginsFor(sources: NodePlan['image']['sources']) {
  // qemu >= 1.0.9: the first with cpu_model
  const plugins = [{ name: 'qemu', source: 'github.com/hashicorp/qemu', version: '>= 1.0.9' }];
  if (sources.includes('proxmox')) plugins.push({ name: 'proxmox', source: 'github.com/hashicorp/proxmox', version: '~> 1.1' });
  if (sources.includes('vsphere')) plugins.push({ name: 'vsphere', source: 'github.com/hashicorp/vsphere', version: '>= 1.0.0' });
  return plugins;
}

/** The Packer directory for a role plan, as files relative to out/<role>/packer/. */
export function renderPackerDir(plan: NodePlan, opts: PackerOptions = {}): OutFile[] {
  const modern = packerAtLeast(opts.packerVersion, 1, 7);
  // proxmox-clone in Packer 1.6.6 cannot attach the seed (no cd_files in additional_iso_files): >= 1.7 only.
  const proxmox = modern && plan.image.sources.includes('proxmox');
  const vsphere = plan.image.sources.includes('vsphere');
  const rootfs = phaseRootfsFiles(plan, 'bake');
  const sources = ['source.qemu.golden', ...(proxmox ? ['source.proxmox-clone.golden'] : []), ...(vsphere ? ['source.vsphere-clone.golden'] : [])];
  const scripts = ['bake', 'prepull', 'selfcheck', 'cleanup'];

  const notes: string[] = [];
  if (plan.image.sources.includes('proxmox') && !proxmox) {
    notes.push(
      `# The proxmox source is left out: it needs Packer >= 1.7 and its proxmox plugin (this is Packer ${opts.packerVersion ?? 'unknown'}).`,
    );
  }
  const hcl = renderTemplate('packer/mkimage.pkr.hcl.mustache', {
    header: `${header('#')}${notes.map((n) => `${n}\n`).join('')}`,
    role: plan.role,
    family: plan.os.family,
    profile: plan.profile,
    requiredPlugins: modern,
    modern,
    plugins: pluginsFor(plan.image.sources.filter((s) => s !== 'proxmox' || proxmox)),
    cloudImageUrl: hclString(plan.os.cloudImage.url),
    cloudImageChecksum: hclString(plan.os.cloudImage.checksum),
    accelerator: hclString(opts.accelerator ?? 'kvm'),
    buildKeyFile: hclString(opts.buildKeyFile ?? defaultBuildKeyFile(plan.cluster.name)),
    outputDirectory: hclString(opts.outputDirectory ?? defaultOutputDirectory(plan.cluster.name, plan.role)),
    imageName: hclString(`mkimage-${plan.role}-${plan.os.family}`),
    diskSize: hclString(plan.image.diskSize),
    memory: String(plan.image.memory),
    cpus: String(plan.image.cpus),
    buildUser: hclString(BUILD_USER),
    proxmox,
    vsphere,
    sources: sources.map(hclString).join(', '),
    rootfs: rootfs.length > 0,
    kubeadmPull: kubeadmPull(plan),
    scripts: scripts.map((name) => ({ name, execute: SUDO_BASH })),
  });

  const files: OutFile[] = [
    { path: 'mkimage.pkr.hcl', content: hcl },
    { path: 'seed/meta-data', content: renderBuildMetaData(plan) },
    { path: 'artifacts/README', content: artifactsReadme(plan) },
    {
      path: 'scripts/bake.sh',
      content: renderPhaseScript(plan, 'bake', { files: 'install', artifacts: 'staged', start: false }),
      mode: 0o755,
    },
    { path: 'scripts/prepull.sh', content: renderPrepull(plan), mode: 0o755 },
    { path: 'scripts/selfcheck.sh', content: renderSelfCheck(plan), mode: 0o755 },
    { path: 'scripts/cleanup.sh', content: renderCleanup(plan), mode: 0o755 },
  ];
  if (opts.buildPublicKey !== undefined) files.push({ path: 'seed/user-data', content: renderBuildUserData(opts.buildPublicKey) });
  if (kubeadmPull(plan)) files.push({ path: 'images.yaml', content: renderImagesConfig(plan) });
  for (const f of rootfs) files.push({ path: `rootfs${f.path}`, content: f.content, mode: parseInt(f.mode, 8) });
  return files;
}
