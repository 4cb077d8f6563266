// Renders the bash script that applies one phase (bake | boot) of a NodePlan: repos, pinned and held
// packages, artifacts, files, kernel settings, swap, SELinux, firewall, units, then the phase's commands.
// The shell lives in templates/scripts/*.sh.mustache (one template per step); this module only decides
// which steps a phase has and hands them shell-quoted values. Every step converges, so a second run of
// the same script is harmless.

import type { NodePlan, Phase, PlanArtifact, PlanFile, PlanPackage, PlanRepo, PlanUnit } from '../plan/types.js';
import { header, renderTemplate } from '../template.js';
import { debKeyring, repoFilePaths } from '../plan/repos.js';
import { refuse, requireUtf8 } from './refuse.js';

export interface PhaseScriptOptions {
  /** install: copy plan files from <stagedDir>/rootfs; skip: something else (cloud-init write_files) wrote them */
  files: 'install' | 'skip';
  /** staged: artifacts already fetched into <stagedDir>/artifacts/<name>; download: curl + sha256 on the node */
  artifacts: 'staged' | 'download';
  /** start the units marked start:true (never during an image bake) */
  start: boolean;
  /** where the Packer file provisioner put artifacts/ and rootfs/; default /tmp/mkimage */
  stagedDir?: string;
  /** run by cloud-init itself (full-mode runcmd): never wait for cloud-init, that would deadlock */
  insideCloudInit?: boolean;
}

export const DEFAULT_STAGED_DIR = '/tmp/mkimage';

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * One shell word holding exactly `s`. Plain words stay bare; text with `$` goes in double quotes with
 * `\ $ " \`` escaped (so shellcheck does not mistake a literal `$releasever` for a forgotten expansion);
 * anything else goes in single quotes.
 */
export function shellQuote(s: string): string {
  if (SAFE_WORD.test(s)) return s;
  if (s.includes('$')) return `"${s.replace(/[\\$"`]/g, (c) => `\\${c}`)}"`;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

const words = (xs: string[]) => xs.map(shellQuote).join(' ');

/** Units whose file the plan writes (rather than a package shipping it). */
export const writesUnitFile = (u: PlanUnit): u is PlanUnit & { path: string; content: string } =>
  u.path !== undefined && u.content !== undefined;

/** The files a phase installs from <stagedDir>/rootfs: plan files plus written unit files, in plan order. */
export function phaseRootfsFiles(plan: NodePlan, phase: Phase): PlanFile[] {
  const files = plan.files.filter((f) => f.phase === phase);
  for (const f of files) requireUtf8(f, `files: ${f.path}`, f.content);
  for (const u of plan.units) {
    if (u.phase === phase && writesUnitFile(u)) {
      files.push({ path: u.path, mode: '0644', owner: 'root:root', content: u.content, phase });
    }
  }
  return files;
}

function repoBlock(plan: NodePlan, r: PlanRepo): string {
  if (r.kind === 'rpm') {
    const lines = [
      `[${r.id}]`,
      `name=${r.name}`,
      `baseurl=${r.baseurl}`,
      'enabled=1',
      'gpgcheck=1',
      `gpgkey=${r.gpgkey}`,
    ];
    if (r.exclude.length > 0) lines.push(`exclude=${r.exclude.join(' ')}`);
    return renderTemplate('scripts/repo-rpm.sh.mustache', {
      id: r.id,
      path: shellQuote(repoFilePaths(r.id, 'dnf')[0]!),
      content: shellQuote(`${lines.join('\n')}\n`),
    });
  }
  const keyring = debKeyring(r.id);
  // An empty suite means the release codename; "/" marks a flat repository.
  const suite = [r.suite || plan.os.codename || '/', ...(r.components ?? [])].join(' ');
  return renderTemplate('scripts/repo-deb.sh.mustache', {
    id: r.id,
    keyring: shellQuote(keyring),
    gpgkey: shellQuote(r.gpgkey),
    path: shellQuote(repoFilePaths(r.id, 'apt')[0]!),
    content: shellQuote(`deb [signed-by=${keyring}] ${r.baseurl} ${suite}\n`),
  });
}

/** dnf wants name-version, apt name=version. */
const pinned = (plan: NodePlan, p: PlanPackage) =>
  p.version === undefined ? p.name : plan.os.packageManager === 'dnf' ? `${p.name}-${p.version}` : `${p.name}=${p.version}`;

function packageBlocks(plan: NodePlan): string[] {
  if (plan.packages.length === 0) return [];
  const blocks: string[] = [];
  if (plan.os.packageManager === 'dnf') {
    // One transaction per --disableexcludes repo, in first-appearance order.
    const groups = new Map<string, PlanPackage[]>();
    for (const p of plan.packages) {
      const key = p.disableExcludes ?? '';
      groups.set(key, [...(groups.get(key) ?? []), p]);
    }
    for (const [repo, pkgs] of groups) {
      const args = [...(repo === '' ? [] : [`--disableexcludes=${repo}`]), ...pkgs.map((p) => pinned(plan, p))];
      blocks.push(renderTemplate('scripts/install-dnf.sh.mustache', { args: words(args) }));
    }
    const held = plan.packages.filter((p) => p.hold);
    if (held.length > 0) {
      blocks.push(
        renderTemplate('scripts/hold-dnf.sh.mustache', {
          locks: held.map((p) => ({ name: shellQuote(p.name), spec: shellQuote(pinned(plan, p)) })),
        }),
      );
    }
  } else {
    blocks.push(renderTemplate('scripts/install-apt.sh.mustache', { args: words(plan.packages.map((p) => pinned(plan, p))) }));
    const held = plan.packages.filter((p) => p.hold).map((p) => p.name);
    if (held.length > 0) blocks.push(renderTemplate('scripts/hold-apt.sh.mustache', { names: words(held) }));
  }
  return blocks;
}

/** A sed replacement text: `\`, `&` and the delimiter taken literally. */
const sedText = (s: string, delimiter = '|') => s.replace(/[\\&]/g, (c) => `\\${c}`).replaceAll(delimiter, `\\${delimiter}`);
/** A basic-regex matching `s` literally. */
const sedLiteral = (s: string) => s.replace(/[\\.*[\]^$|]/g, (c) => `\\${c}`);

/** The installed artifact's literal edits (the Calico manifest's image repository), after it is in place. */
function artifactEdits(a: PlanArtifact): string {
  if (a.edits === undefined || a.edits.length === 0) return '';
  return renderTemplate('scripts/artifact-edit.sh.mustache', {
    dest: shellQuote(a.dest),
    edits: a.edits.map((e) => ({ expr: shellQuote(`s|${sedLiteral(e.from)}|${sedText(e.to)}|g`) })),
  });
}

/** Shell globs of fixed system paths: written bare so the shell expands them. */
const GLOB_PATH = /^\/[A-Za-z0-9_.\/*-]+$/;

function archiveBlock(archive: NonNullable<NodePlan['os']['archive']>): string {
  for (const f of archive.files) if (!GLOB_PATH.test(f)) throw new Error(`mkimage: archive file pattern ${JSON.stringify(f)} is not a plain path glob`);
  return renderTemplate('scripts/os-archive.sh.mustache', {
    url: shellQuote(archive.url).replace(/^'|'$/g, ''),
    files: archive.files.join(' '),
    // `#` delimits: the patterns use `|` for alternatives.
    exprs: archive.rewrites.map((r) => `-e ${shellQuote(`s#${r.from}#${sedText(r.to, '#')}#g`)}`).join(' '),
  });
}

function artifactBlock(a: PlanArtifact, opts: PhaseScriptOptions, staged: string): string {
  return `${artifactInstall(a, opts, staged).replace(/\n+$/, '')}\n${artifactEdits(a)}`;
}

function artifactInstall(a: PlanArtifact, opts: PhaseScriptOptions, staged: string): string {
  if (opts.artifacts === 'staged') {
    return renderTemplate('scripts/artifact-staged.sh.mustache', {
      name: a.name,
      version: a.version,
      src: shellQuote(`${staged}/artifacts/${a.name}`),
      dest: shellQuote(a.dest),
      mode: shellQuote(a.mode),
    });
  }
  if (a.sha256 === undefined) {
    refuse(a, 'E019',
      `artifact ${a.name} ${a.version} has no sha256, so a node could not verify its download: ` +
        'record it in mkimage.lock first (`mkimage fetch`), or stage the artifact instead');
  }
  return renderTemplate('scripts/artifact-download.sh.mustache', {
    name: a.name,
    version: a.version,
    dest: shellQuote(a.dest),
    mode: shellQuote(a.mode),
    sha256: shellQuote(a.sha256),
    member: shellQuote(a.member ?? ''),
    urls: words(a.urls),
  });
}

function fileBlock(f: PlanFile, staged: string, phase: Phase): string {
  if (f.secret && phase === 'bake') {
    throw new Error(`${f.path} holds cluster secrets and must never be baked into an image: give it phase boot`);
  }
  const [user = 'root', group = user] = f.owner.split(':');
  return renderTemplate('scripts/file-install.sh.mustache', {
    label: shellQuote(`file ${f.path}`),
    src: shellQuote(`${staged}/rootfs${f.path}`),
    dest: shellQuote(f.path),
    mode: shellQuote(f.mode),
    user: shellQuote(user),
    group: shellQuote(group),
  });
}

/** The comment line mkimage writes above a before.rules protocol rule. */
const ufwRuleComment = (protocol: string) => (protocol === '4' ? '# mkimage: Calico IP-in-IP between nodes' : `# mkimage: IP protocol ${protocol}`);

/** "2379-2380/tcp" in ufw's syntax: "2379:2380/tcp". */
const ufwPort = (p: string) => p.replace(/^(\d+)-(\d+)/, '$1:$2');

function hostBlocks(plan: NodePlan): string[] {
  const blocks: string[] = [];
  const el = plan.os.packageManager === 'dnf';
  if (plan.modules.length > 0) {
    blocks.push(renderTemplate('scripts/modules.sh.mustache', { modules: plan.modules.map(shellQuote) }));
  }
  if (plan.sysctls.length > 0) blocks.push(renderTemplate('scripts/sysctl.sh.mustache', {}));
  if (plan.swapOff) blocks.push(renderTemplate('scripts/swap-off.sh.mustache', {}));
  if (el && (plan.selinux === 'permissive' || plan.selinux === 'disabled')) {
    blocks.push(renderTemplate('scripts/selinux.sh.mustache', { mode: plan.selinux }));
  }
  const fw = plan.firewall;
  if (fw.enabled && (fw.ports.length > 0 || fw.protocols.length > 0 || fw.trustedInterfaces.length > 0)) {
    blocks.push(
      el
        ? renderTemplate('scripts/firewall-firewalld.sh.mustache', {
          args: [
            ...fw.ports.map((p) => `--add-port=${p}`),
            ...fw.protocols.map((p) => `--add-protocol=${p}`),
            ...fw.trustedInterfaces.map((i) => `--zone=trusted --add-interface=${i}`),
          ].map((a) => a.split(' ').map(shellQuote).join(' ')),
        })
        : renderTemplate('scripts/firewall-ufw.sh.mustache', {
          ports: fw.ports.map((p) => shellQuote(ufwPort(p))),
          rules: fw.protocols.map((p) => ({ rule: shellQuote(`-A ufw-before-input -p ${p} -j ACCEPT`), comment: shellQuote(ufwRuleComment(p)) })),
        }),
    );
  }
  return blocks;
}

function unitBlock(units: PlanUnit[], opts: PhaseScriptOptions): string {
  const enabled = units.filter((u) => u.enable).map((u) => shellQuote(u.name));
  const started = opts.start ? units.filter((u) => u.start) : [];
  const ready = started.filter((u) => u.ready !== undefined);
  const rest = started.filter((u) => u.ready === undefined);
  return renderTemplate('scripts/units.sh.mustache', {
    enable: enabled.join(' '),
    hasEnable: enabled.length > 0,
    start: ready.map((u) => shellQuote(u.name)).join(' '),
    hasStart: ready.length > 0,
    sockets: ready.map((u) => shellQuote(u.ready ?? '')).join(' '),
    startNoBlock: rest.map((u) => shellQuote(u.name)).join(' '),
    hasStartNoBlock: rest.length > 0,
  });
}

/** The bash script for one phase of `plan`. Pure: same plan and options, same bytes. */
export function renderPhaseScript(plan: NodePlan, phase: Phase, opts: PhaseScriptOptions): string {
  const staged = opts.stagedDir ?? DEFAULT_STAGED_DIR;
  const blocks: string[] = [];
  const bake = phase === 'bake';
  if (bake) {
    // Outside cloud-init (a Packer build), cloud-init may still be running apt on the fresh VM: wait for it.
    if (plan.os.packageManager === 'apt' && opts.insideCloudInit !== true) blocks.push(renderTemplate('scripts/apt-wait.sh.mustache', {}));
    if (plan.os.archive !== undefined) blocks.push(archiveBlock(plan.os.archive));
    if (plan.repos.length > 0) {
      if (plan.os.packageManager === 'apt') blocks.push(renderTemplate('scripts/apt-prereqs.sh.mustache', {}));
      for (const r of plan.repos) blocks.push(repoBlock(plan, r));
      if (plan.os.packageManager === 'apt') blocks.push(renderTemplate('scripts/apt-update.sh.mustache', {}));
    }
    blocks.push(...packageBlocks(plan));
    for (const a of plan.artifacts) blocks.push(artifactBlock(a, opts, staged));
  }
  if (opts.files === 'install') {
    for (const f of phaseRootfsFiles(plan, phase)) blocks.push(fileBlock(f, staged, phase));
  }
  if (bake) blocks.push(...hostBlocks(plan));
  const units = plan.units.filter((u) => u.phase === phase);
  if (units.length > 0) blocks.push(unitBlock(units, opts));
  for (const c of plan.commands) {
    if (c.phase !== phase) continue;
    requireUtf8(c, `commands: ${c.name}`, c.run);
    blocks.push(renderTemplate('scripts/command.sh.mustache', { label: shellQuote(`command ${c.name}`), run: c.run.replace(/\n+$/, '') }));
  }
  return renderTemplate('scripts/phase.sh.mustache', {
    header: header('#'),
    phase,
    role: plan.role,
    family: plan.os.family,
    target: plan.node ? `node ${plan.node.name}` : `role ${plan.role}`,
    apt: plan.os.packageManager === 'apt',
    download: bake && opts.artifacts === 'download' && plan.artifacts.length > 0,
    body: blocks.map((b) => `\n${b.replace(/\n+$/, '')}\n`).join(''),
  });
}
