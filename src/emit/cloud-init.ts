// The cloud-init NoCloud seed for one node: user-data (#cloud-config), meta-data, network-config.
//
// Two modes deliver the same NodePlan:
// - 'baked': the golden image already holds the bake phase (Packer). user-data carries the boot phase
//   only: boot files and boot units (write_files), boot units enabled/started and boot commands (runcmd).
// - 'full': a stock cloud image, no Packer. user-data carries both phases: every file and every unit
//   with content (write_files), the bake script at /var/lib/mkimage/bake.sh run first from runcmd, then
//   the boot phase.
// Both add the admin user (and no distro "default" user: only the plan's admin can log in), the
// hostname, and turn SSH password logins off.
//
// user-data is built as an object and serialised as `yaml` would (src/emit/yaml.ts: YAML 1.1 quoting for PyYAML, no line
// folding so file contents round-trip byte for byte); keys are always in the order written below.

import { isFileMode } from '../profile/schema.js';
import { gzipSync } from 'node:zlib';
import { parse } from 'yaml';
import type { Position } from '../diagnostics.js';
import type { NodePlan, PlanCommand, PlanFile, PlanUnit } from '../plan/types.js';
import { refuse, requireUtf8 } from './refuse.js';
import { header } from '../template.js';
import { metaDataText, seedInstanceId } from './meta-data.js';
import { cloudYaml, renderNetworkConfig, requireNode } from './netplan.js';
import { renderPhaseScript } from './script.js';
import { FIRSTBOOT_SCRIPT } from '../firstboot/files.js';
import { scriptShell } from '../profile/shell.js';

export { renderNetworkConfig } from './netplan.js';

export type CloudInitMode = 'baked' | 'full';

export interface SeedFiles {
  userData: string;
  metaData: string;
  networkConfig: string;
  /** the shell scripts user-data's write_files carries (full mode: the bake script, the first-boot script, ...) */
  scripts: EmbeddedScript[];
}

/** A shell script inside another file (a write_files entry of user-data): the tree writer parses it like a file. */
export interface EmbeddedScript {
  /** where it lands on the node */
  path: string;
  text: string;
}

/** Where full mode writes the bake-phase script, and how runcmd runs it. */
export const BAKE_SCRIPT_PATH = '/var/lib/mkimage/bake.sh';
/** The install phase's log in full mode (the first-boot runner appends the script's output to it). */
export const INSTALL_LOG = '/var/log/mkimage-install.log';

/** Contents larger than this are written gzip+b64 (keeps the seed small; cloud-init decodes it). */
export const GZIP_THRESHOLD = 64 * 1024;

/**
 * Top-level keys the cloud-config schema of cloud-init 22.4 (Debian 12's 22.4.2) defines — one or more
 * per module — plus `merge_how`/`merge_type`, which cloud-init's part merger reads. `cloud-init schema`
 * does not flag a key outside this list; unknownTopLevelKeys() does.
 */
export const CLOUD_CONFIG_TOP_LEVEL_KEYS: readonly string[] = [
  'allow_public_ssh_keys', 'ansible', 'apk_repos', 'apt', 'apt_pipelining', 'apt_reboot_if_required', 'apt_update',
  'apt_upgrade', 'authkey_hash', 'autoinstall', 'bootcmd', 'byobu_by_default', 'ca-certs', 'ca_certs', 'chef',
  'chpasswd', 'cloud_config_modules', 'cloud_final_modules', 'cloud_init_modules', 'device_aliases',
  'disable_ec2_metadata', 'disable_root', 'disable_root_opts', 'disk_setup', 'drivers', 'fan', 'final_message',
  'fqdn', 'fs_setup', 'groups', 'growpart', 'grub-dpkg', 'grub_dpkg', 'hostname', 'keyboard', 'landscape', 'locale',
  'locale_configfile', 'lxd', 'manage_etc_hosts', 'manage_resolv_conf', 'mcollective', 'merge_how', 'merge_type',
  'migrate', 'mount_default_fields', 'mounts', 'no_ssh_fingerprints', 'ntp', 'package_reboot_if_required',
  'package_update', 'package_upgrade', 'packages', 'password', 'phone_home', 'power_state',
  'prefer_fqdn_over_hostname', 'preserve_hostname', 'puppet', 'random_seed', 'reporting', 'resize_rootfs',
  'resolv_conf', 'rh_subscription', 'rsyslog', 'runcmd', 'salt_minion', 'snap', 'spacewalk', 'ssh',
  'ssh_authorized_keys', 'ssh_deletekeys', 'ssh_fp_console_blacklist', 'ssh_genkeytypes', 'ssh_import_id',
  'ssh_key_console_blacklist', 'ssh_keys', 'ssh_publish_hostkeys', 'ssh_pwauth', 'ssh_quiet_keygen', 'swap',
  'timezone', 'ubuntu_advantage', 'updates', 'user', 'users', 'vendor_data', 'wireguard', 'write_files',
  'yum_repo_dir', 'yum_repos', 'zypper',
];

const KNOWN_KEYS = new Set(CLOUD_CONFIG_TOP_LEVEL_KEYS);

/** Top-level keys of a #cloud-config document that no cloud-init 22.4 module reads (document order). */
export function unknownTopLevelKeys(userData: string): string[] {
  const doc: unknown = parse(userData, { version: '1.1' });
  if (doc === null || doc === undefined) return [];
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error('user-data is not a YAML mapping');
  return Object.keys(doc).filter((k) => !KNOWN_KEYS.has(k));
}

/**
 * The same check for user-data this module rendered, without parsing it again: the serialiser puts every
 * top-level key at column 0 and indents everything else, so a column-0 `key:` line is a top-level key.
 */
export function unknownRenderedKeys(userData: string): string[] {
  const keys = userData.match(/^[A-Za-z_][\w-]*(?=:)/gm) ?? [];
  return keys.filter((k) => !KNOWN_KEYS.has(k));
}

export interface WriteFile {
  path: string;
  owner: string;
  permissions: string;
  encoding?: 'b64' | 'gzip+b64';
  defer?: true;
  content?: string;
}

export interface AdminUser {
  name: string;
  groups: string;
  sudo: string;
  shell: string;
  lock_passwd: true;
  ssh_authorized_keys?: string[];
}

/** The #cloud-config document; members appear in this order. */
export interface CloudConfig {
  hostname: string;
  preserve_hostname: false;
  manage_etc_hosts: true;
  users: AdminUser[];
  ssh_pwauth: false;
  package_update?: false;
  write_files?: WriteFile[];
  runcmd?: Array<string | string[]>;
}

// Characters a YAML 1.1 parser would not return unchanged from a block scalar: C0/C1 controls (CR is
// folded into LF), DEL, NEL and the Unicode line/paragraph separators (line breaks in YAML 1.1).
const NOT_YAML_SAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\ufeff]/;

/**
 * A write_files entry; content that YAML cannot carry verbatim is base64 (gzip+base64 when large). `source`: the
 * profile line of a file the user gave, where a refusal points (src/emit/refuse.ts); none for mkimage's own files.
 */
export function writeFile(path: string, mode: string, owner: string, content: string, opts: { secret?: boolean; source?: Position } = {}): WriteFile {
  const entry = opts.source !== undefined ? { source: opts.source } : {};
  if (!isFileMode(mode)) refuse(entry, 'E007', `files: ${path}: mode "${mode}" is not a quoted 4-digit octal string: write it as e.g. '0644'`);
  if (opts.secret === true && (parseInt(mode, 8) & 0o077) !== 0) {
    throw new Error(`mkimage: ${path} holds secrets but its mode ${mode} lets group/others read it (want 0600)`);
  }
  requireUtf8(entry, `files: ${path}`, content);
  const bytes = Buffer.from(content, 'utf8');
  let encoding: WriteFile['encoding'];
  let text = content;
  if (bytes.length > GZIP_THRESHOLD) {
    encoding = 'gzip+b64';
    text = gzipSync(bytes, { level: 9 }).toString('base64');
  } else if (NOT_YAML_SAFE.test(content)) {
    encoding = 'b64';
    text = bytes.toString('base64');
  }
  const written: WriteFile = { path, owner, permissions: mode };
  if (encoding !== undefined) written.encoding = encoding;
  // write_files runs before users are created and packages installed: a file owned by anyone but root
  // waits for the final stage.
  if (!/^root(:root)?$/.test(owner)) written.defer = true;
  written.content = text;
  return written;
}

function planFileEntry(f: PlanFile): WriteFile {
  return writeFile(f.path, f.mode, f.owner, f.content, { secret: f.secret === true, ...(f.source !== undefined && { source: f.source }) });
}

function unitFileEntry(u: PlanUnit & { path: string; content: string }): WriteFile {
  return writeFile(u.path, '0644', 'root:root', u.content);
}

function hasUnitFile(u: PlanUnit): u is PlanUnit & { path: string; content: string } {
  return u.path !== undefined && u.content !== undefined;
}

/**
 * runcmd entries for the boot-phase units: reload after writing them, enable, then start. Starts are
 * --no-block: runcmd runs inside cloud-final.service, and waiting on a unit ordered after cloud-init
 * would deadlock the boot.
 */
function bootUnitCommands(plan: NodePlan): string[][] {
  const units = plan.units.filter((u) => u.phase === 'boot');
  const cmds: string[][] = [];
  if (units.some(hasUnitFile)) cmds.push(['systemctl', 'daemon-reload']);
  const enable = units.filter((u) => u.enable).map((u) => u.name);
  const start = units.filter((u) => u.start).map((u) => u.name);
  if (enable.length > 0) cmds.push(['systemctl', 'enable', ...enable]);
  if (start.length > 0) cmds.push(['systemctl', 'start', '--no-block', ...start]);
  return cmds;
}

/**
 * A plan command as a runcmd entry: bash with `set -euo pipefail` semantics; the trailing argument is
 * bash's $0, so an error line names the command ("mkimage-boot-kubeadm-init: line 3: ...").
 */
function commandEntry(c: PlanCommand): string[] {
  requireUtf8(c, `commands: ${c.name}`, c.run);
  return ['bash', '-euo', 'pipefail', '-c', c.run, `mkimage-boot-${c.name}`];
}

function adminUser(plan: NodePlan): AdminUser {
  const user: AdminUser = {
    name: plan.admin.user,
    groups: plan.os.packageManager === 'dnf' ? 'wheel' : 'sudo',
    sudo: 'ALL=(ALL) NOPASSWD:ALL',
    shell: '/bin/bash',
    lock_passwd: true,
  };
  if (plan.admin.sshAuthorizedKeys.length > 0) user.ssh_authorized_keys = [...plan.admin.sshAuthorizedKeys];
  return user;
}

/**
 * The #cloud-config document for one node, as an object. `scripts`, when given, gets every shell script its
 * write_files carries (by src/profile/shell.ts scriptShell, as a file in a tree is judged), for the writer to parse.
 */
export function cloudConfigObject(plan: NodePlan, mode: CloudInitMode, scripts?: EmbeddedScript[]): CloudConfig {
  const node = requireNode(plan);
  const cfg: CloudConfig = {
    hostname: node.name,
    preserve_hostname: false,
    manage_etc_hosts: true,
    users: [adminUser(plan)],
    ssh_pwauth: false,
  };
  if (mode === 'full') cfg.package_update = false;

  const files: WriteFile[] = [];
  const carry = (path: string, content: string): void => {
    if (scripts !== undefined && scriptShell(path, content.slice(0, 80)) !== undefined) scripts.push({ path, text: content });
  };
  const planFile = (f: PlanFile): void => {
    files.push(planFileEntry(f));
    carry(f.path, f.content);
  };
  const runcmd: Array<string | string[]> = [];
  if (mode === 'full') {
    for (const f of plan.files) planFile(f);
    for (const u of plan.units) if (hasUnitFile(u)) files.push(unitFileEntry(u));
    const bake = renderPhaseScript(plan, 'bake', { files: 'skip', artifacts: 'download', start: true, insideCloudInit: true });
    files.push(writeFile(BAKE_SCRIPT_PATH, '0700', 'root:root', bake));
    carry(BAKE_SCRIPT_PATH, bake);
    // Through the first-boot script's phase runner when the plan ships it: a failed install then leaves
    // firstboot.failed (step, command, log tail) instead of a node that looks like it is still booting.
    const runner = plan.files.find((f) => f.path === FIRSTBOOT_SCRIPT && f.phase === 'bake');
    runcmd.push(runner !== undefined
      ? ['bash', FIRSTBOOT_SCRIPT, '--run-phase', 'install', INSTALL_LOG, '--', 'bash', BAKE_SCRIPT_PATH]
      : ['bash', BAKE_SCRIPT_PATH]);
  } else {
    for (const f of plan.files) if (f.phase === 'boot') planFile(f);
    for (const u of plan.units) if (u.phase === 'boot' && hasUnitFile(u)) files.push(unitFileEntry(u));
  }
  runcmd.push(...bootUnitCommands(plan));
  for (const c of plan.commands) if (c.phase === 'boot') runcmd.push(commandEntry(c));

  if (files.length > 0) cfg.write_files = files;
  // runcmd is one sh script in which only the last exit status counts: `set -e` makes the first failure
  // stop it and mark cloud-init's final stage failed.
  if (runcmd.length > 0) cfg.runcmd = ['set -e', ...runcmd];
  return cfg;
}

/** The NoCloud `user-data` file: "#cloud-config", the generated-by line, then the document. */
export function renderUserData(plan: NodePlan, mode: CloudInitMode, scripts?: EmbeddedScript[]): string {
  return `#cloud-config\n${header('#')}${cloudYaml.write(cloudConfigObject(plan, mode, scripts))}`;
}

interface RenderedSeed {
  userData: string;
  networkConfig: string;
  instanceId: string;
  hostname: string;
  scripts: EmbeddedScript[];
}

function renderParts(plan: NodePlan, mode: CloudInitMode): RenderedSeed {
  const node = requireNode(plan);
  const scripts: EmbeddedScript[] = [];
  const userData = renderUserData(plan, mode, scripts);
  const networkConfig = renderNetworkConfig(plan);
  return { userData, networkConfig, instanceId: seedInstanceId(plan.cluster.name, node.name, [userData, networkConfig]), hostname: node.name, scripts };
}

/** The seed's instance-id: cluster + node name + a hash of the user-data and network-config it goes with. */
export function instanceId(plan: NodePlan, mode: CloudInitMode): string {
  return renderParts(plan, mode).instanceId;
}

/** The NoCloud `meta-data` file: instance-id (see meta-data.ts) and local-hostname = node name. */
export function renderMetaData(plan: NodePlan, mode: CloudInitMode): string {
  const p = renderParts(plan, mode);
  return metaDataText(p.instanceId, p.hostname);
}

/** All three seed files for one node (plan.node must be set). */
export function renderSeed(plan: NodePlan, mode: CloudInitMode): SeedFiles {
  const p = renderParts(plan, mode);
  return { userData: p.userData, metaData: metaDataText(p.instanceId, p.hostname), networkConfig: p.networkConfig, scripts: p.scripts };
}
