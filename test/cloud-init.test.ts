// The cloud-init NoCloud seed emitter, checked with the real tools: `cloud-init schema -c` on user-data,
// cloud-init's own write_files / runcmd code on the parsed document, `cloud-init devel net-convert`
// (the renderer each OS family uses) and `netplan generate` on network-config.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import {
  BAKE_SCRIPT_PATH,
  INSTALL_LOG,
  CLOUD_CONFIG_TOP_LEVEL_KEYS,
  GZIP_THRESHOLD,
  instanceId,
  renderMetaData,
  renderNetworkConfig,
  renderSeed,
  renderUserData,
  unknownTopLevelKeys,
  unknownRenderedKeys,
  writeFile,
  type CloudInitMode,
} from '../src/emit/cloud-init.js';
import { LAN_INTERFACE } from '../src/emit/netplan.js';
import { FIRSTBOOT_SCRIPT, firstbootBakeItems } from '../src/firstboot/files.js';
import type { Diagnostic } from '../src/diagnostics.js';
import { planNode } from '../src/plan/build.js';
import { renderRole } from '../src/pipeline.js';
import { PACKAGE_ROOT } from '../src/template.js';
import { isFileMode } from '../src/profile/schema.js';
import type { NodePlan } from '../src/plan/types.js';
import type { Cluster, Located, NodeRole, NodeSpec, OsFamily, Profile } from '../src/profile/types.js';
import { fixturePlan } from './fixtures/plan.js';
import { FIXTURE_SECRETS, privateSecretsCopy } from './helpers/secrets.js';
import { loadSecrets, type ClusterSecrets } from '../src/cluster/secrets.js';
import { located, testCluster, testNode, testProfile, TEST_SSH_KEY } from './helpers/inputs.js';
import { run, tool } from './helpers/tools.js';

const MODES: CloudInitMode[] = ['baked', 'full'];

/** How each OS family's cloud-init renders network config (distro name for net-convert, renderer). */
const FAMILIES: Array<{ family: OsFamily; pm: 'dnf' | 'apt'; codename?: string; group: string; distro: string; renderer: string }> = [
  { family: 'el9', pm: 'dnf', group: 'wheel', distro: 'rocky', renderer: 'sysconfig' },
  { family: 'ubuntu-22.04', pm: 'apt', codename: 'jammy', group: 'sudo', distro: 'ubuntu', renderer: 'netplan' },
  { family: 'ubuntu-24.04', pm: 'apt', codename: 'noble', group: 'sudo', distro: 'ubuntu', renderer: 'netplan' },
  { family: 'debian-12', pm: 'apt', codename: 'bookworm', group: 'sudo', distro: 'debian', renderer: 'eni' },
];

/** The el9 fixture turned into another family (apt families get deb repos). */
function planFor(family: (typeof FAMILIES)[number]): NodePlan {
  const plan = fixturePlan();
  plan.os.family = family.family;
  plan.os.packageManager = family.pm;
  if (family.codename !== undefined) {
    plan.os.codename = family.codename;
    plan.repos = plan.repos.map((r) => ({ ...r, kind: 'deb', suite: r.id === 'kubernetes' ? '/' : `${family.codename} stable`, exclude: [] }));
    plan.packages = plan.packages.map(({ disableExcludes: _drop, ...p }) => p);
  }
  return plan;
}

/** A plan with boot-phase material: a secret file, a boot unit and boot commands. */
function bootPlan(): NodePlan {
  const plan = fixturePlan();
  plan.files.push({
    path: '/etc/kubernetes/pki/ca.key',
    mode: '0600',
    owner: 'root:root',
    phase: 'boot',
    secret: true,
    content: '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIFakeFakeFakeFakeFakeFakeFakeFakeFakeFakeFake\n-----END PRIVATE KEY-----\n',
  });
  plan.units.push({
    name: 'mkimage-bootstrap.service',
    path: '/etc/systemd/system/mkimage-bootstrap.service',
    content: '[Unit]\nDescription=bootstrap\n\n[Service]\nType=oneshot\nExecStart=/bin/true\n\n[Install]\nWantedBy=multi-user.target\n',
    enable: true,
    start: true,
    phase: 'boot',
  });
  plan.commands.push({ phase: 'bake', name: 'bake-only', run: 'echo baking' });
  plan.commands.push({ phase: 'boot', name: 'kubeadm-init', run: 'kubeadm init --config /run/kubeadm/kubeadm.yaml' });
  return plan;
}

const tempDirs: string[] = [];
afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

function tmp(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `mkimage-ci-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}

interface Doc {
  [k: string]: unknown;
  users: Array<Record<string, unknown>>;
  write_files?: Array<{ path: string; owner: string; permissions: unknown; encoding?: string; defer?: boolean; content: string }>;
  runcmd?: Array<string | string[]>;
}

/** Parse user-data as cloud-init does (YAML 1.1). */
function doc(userData: string): Doc {
  return parse(userData, { version: '1.1' }) as Doc;
}

function schemaCheck(userData: string): { status: number; out: string } {
  const dir = tmp('schema');
  const file = join(dir, 'user-data');
  writeFileSync(file, userData);
  const r = run('cloud-init', ['schema', '-c', file]);
  return { status: r.status, out: r.stdout + r.stderr };
}

/** The Python that runs cloud-init (its shebang), so tests can call cloud-init's own modules. */
function cloudInitPython(): string {
  const first = readFileSync(tool('cloud-init'), 'utf8').split('\n')[0] ?? '';
  const m = /^#!\s*(\S+)/.exec(first);
  if (!m?.[1]) throw new Error(`cannot find cloud-init's interpreter in "${first}"`);
  return m[1];
}

function python(script: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const dir = tmp('py');
  const file = join(dir, 'harness.py');
  writeFileSync(file, script);
  return run(cloudInitPython(), [file, ...args], { env });
}

/** Write every write_files entry with cloud-init's own cc_write_files under `root` (owner: current user). */
const WRITE_FILES_HARNESS = `
import os, sys, pwd, grp, yaml
from cloudinit.config.cc_write_files import write_files
ud, root = sys.argv[1], sys.argv[2]
cfg = yaml.safe_load(open(ud, 'rb'))
owner = pwd.getpwuid(os.getuid()).pw_name + ':' + grp.getgrgid(os.getgid()).gr_name
files = []
for f in cfg.get('write_files', []):
    f = dict(f)
    f['path'] = root + f['path']
    f['owner'] = owner
    f.pop('defer', None)
    files.append(f)
write_files('write_files', files, owner)
`;

/** Print the shell script cloud-init's runcmd module would write for this user-data. */
const RUNCMD_HARNESS = `
import sys, yaml
from cloudinit import util
cfg = yaml.safe_load(open(sys.argv[1], 'rb'))
sys.stdout.write(util.shellify(cfg['runcmd']))
`;

function writeWithCloudInit(userData: string): string {
  const dir = tmp('wf');
  const ud = join(dir, 'user-data');
  writeFileSync(ud, userData);
  const root = join(dir, 'root');
  mkdirSync(root);
  const r = python(WRITE_FILES_HARNESS, [ud, root]);
  expect(r.stderr).not.toMatch(/Traceback/);
  expect(r.status).toBe(0);
  return root;
}

describe.each(MODES)('user-data (%s mode)', (mode) => {
  it.each(FAMILIES)('$family: valid cloud-config, known keys, admin in $group', (family) => {
    const plan = planFor(family);
    const userData = renderUserData(plan, mode);
    const lines = userData.split('\n');
    expect(lines[0]).toBe('#cloud-config');
    expect(lines[1]).toBe('# generated by mkimage — do not edit');

    const checked = schemaCheck(userData);
    expect(checked.out).toContain('Valid cloud-config');
    expect(checked.status).toBe(0);
    expect(unknownTopLevelKeys(userData)).toEqual([]);

    const d = doc(userData);
    expect(d.hostname).toBe('cp1');
    expect(d.preserve_hostname).toBe(false);
    expect(d.manage_etc_hosts).toBe(true);
    expect(d.ssh_pwauth).toBe(false);
    expect(d).not.toHaveProperty('timezone');
    expect(d.users).toEqual([
      {
        name: 'kube',
        groups: family.group,
        sudo: 'ALL=(ALL) NOPASSWD:ALL',
        shell: '/bin/bash',
        lock_passwd: true,
        ssh_authorized_keys: plan.admin.sshAuthorizedKeys,
      },
    ]);
    if (mode === 'full') expect(d.package_update).toBe(false);
    else expect(d).not.toHaveProperty('package_update');
  });

  it('writes every permission as a quoted octal string', () => {
    const userData = renderUserData(bootPlan(), mode);
    const entries = doc(userData).write_files ?? [];
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) {
      expect(typeof e.permissions).toBe('string');
      expect(e.permissions).toMatch(/^0[0-7]{3}$/);
    }
    const raw = userData.split('\n').filter((l) => l.trimStart().startsWith('permissions:'));
    expect(raw.length).toBe(entries.length);
    for (const l of raw) expect(l).toMatch(/^ {4}permissions: '0[0-7]{3}'$/);
  });

  it('writes secret files 0600 and refuses a secret file readable by others', () => {
    const entries = doc(renderUserData(bootPlan(), mode)).write_files ?? [];
    expect(entries.find((e) => e.path === '/etc/kubernetes/pki/ca.key')?.permissions).toBe('0600');
    const root = writeWithCloudInit(renderUserData(bootPlan(), mode));
    expect(statSync(join(root, '/etc/kubernetes/pki/ca.key')).mode & 0o777).toBe(0o600);

    const leaky = bootPlan();
    const key = leaky.files.find((f) => f.secret === true);
    if (key) key.mode = '0644';
    expect(() => renderUserData(leaky, mode)).toThrow(/holds secrets .* 0644/);
  });

  it('cloud-init writes every file back byte for byte with its mode', () => {
    const plan = bootPlan();
    const tricky: Array<[string, string]> = [
      ['/opt/t/no-newline', 'no trailing newline'],
      ['/opt/t/leading-space', '   indented first line\nsecond\n'],
      ['/opt/t/trailing-space', 'a  \nb\t\n'],
      ['/opt/t/extra-newlines', 'x\n\n\n'],
      ['/opt/t/empty', ''],
      ['/opt/t/crlf', 'dos\r\nline\r\n'],
      ['/opt/t/control', 'bell\u0007 nul\u0000 esc\u001b\n'],
      ['/opt/t/yamlish', 'key: value\n- item\n--- \n...\n# not a comment\n\'"{[&*!|>%@`\n'],
      ['/opt/t/unicode', 'héllo 你好 🚀 \u00a0nbsp\n'],
      ['/opt/t/line-sep', 'a\u2028b\u0085c\n'],
      ['/opt/t/heredoc', "cat <<'EOF'\nEOF\n#cloud-config\n"],
      ['/opt/t/big', 'abcdefghijklmnopqrstuvwxyz0123456789\n'.repeat(Math.ceil((GZIP_THRESHOLD + 1) / 37))],
    ];
    for (const [path, content] of tricky) plan.files.push({ path, mode: '0640', owner: 'root:root', phase: 'boot', content });
    const userData = renderUserData(plan, mode);
    expect(schemaCheck(userData).status).toBe(0);

    const byPath = new Map((doc(userData).write_files ?? []).map((e) => [e.path, e]));
    expect(byPath.get('/opt/t/big')?.encoding).toBe('gzip+b64');
    for (const p of ['/opt/t/crlf', '/opt/t/control', '/opt/t/line-sep']) expect(byPath.get(p)?.encoding).toBe('b64');
    for (const p of ['/opt/t/yamlish', '/opt/t/unicode', '/opt/t/heredoc']) expect(byPath.get(p)?.encoding).toBeUndefined();

    const root = writeWithCloudInit(userData);
    const expected = plan.files.filter((f) => mode === 'full' || f.phase === 'boot');
    for (const f of expected) {
      const out = join(root, f.path);
      expect(readFileSync(out, 'utf8'), f.path).toBe(f.content);
      expect((statSync(out).mode & 0o777).toString(8).padStart(4, '0'), f.path).toBe(f.mode);
    }
    for (const u of plan.units) {
      if (u.path === undefined || (mode === 'baked' && u.phase === 'bake')) continue;
      expect(readFileSync(join(root, u.path), 'utf8')).toBe(u.content);
    }
  });

  it('writes every mode the loader accepts, and the loader refuses what real cloud-init would change (setuid: chown clears it)', () => {
    const plan = fixturePlan();
    const modes = ['0755', '0750', '0700', '0640', '0600', '0444'];
    for (const m of modes) plan.files.push({ path: `/opt/modes/m${m}`, mode: m, owner: 'root:root', phase: 'boot', content: `${m}\n` });
    const userData = renderUserData(plan, mode);
    expect(schemaCheck(userData).status).toBe(0);
    const root = writeWithCloudInit(userData);
    for (const m of modes) expect((statSync(join(root, `/opt/modes/m${m}`)).mode & 0o7777).toString(8).padStart(4, '0')).toBe(m);
    // the same definition on both sides: what the emitter takes, the loader takes, and no more
    for (const m of [...modes, '4755', '2750', '1777', '755', '0o644']) expect(isFileMode(m), m).toBe(modes.includes(m));
    expect(() => writeFile('/opt/x', '4755', 'root:root', 'x\n')).toThrow(/not a quoted 4-digit octal/);
  });

  it('defers files owned by a user other than root (users are created after write_files)', () => {
    const plan = fixturePlan();
    plan.files.push({ path: '/home/kube/.bashrc', mode: '0644', owner: 'kube:kube', phase: 'boot', content: 'set -o vi\n' });
    const entries = doc(renderUserData(plan, mode)).write_files ?? [];
    expect(entries.find((e) => e.path === '/home/kube/.bashrc')?.defer).toBe(true);
    expect(entries.find((e) => e.path === '/etc/mkimage/node.env')).not.toHaveProperty('defer');
  });

  it('runcmd stops at the first failing boot command and names it', () => {
    const plan = fixturePlan();
    plan.commands.push(
      { phase: 'boot', name: 'one', run: 'echo one >> "$OUT"' },
      { phase: 'boot', name: 'two', run: 'echo two >> "$OUT"\nfalse | cat\necho after-pipefail >> "$OUT"' },
      { phase: 'boot', name: 'three', run: 'echo three >> "$OUT"' },
    );
    const dir = tmp('runcmd');
    const ud = join(dir, 'user-data');
    writeFileSync(ud, renderUserData(plan, mode));
    const shellified = python(RUNCMD_HARNESS, [ud]);
    expect(shellified.status).toBe(0);
    const script = join(dir, 'runcmd.sh');
    const out = join(dir, 'out');
    writeFileSync(out, '');
    if (mode === 'full') {
      // The bake script is not run here: point its runcmd line at a stand-in that records the call.
      writeFileSync(script, shellified.stdout.replace(`'${BAKE_SCRIPT_PATH}'`, `'${join(dir, 'bake.sh')}'`));
      writeFileSync(join(dir, 'bake.sh'), 'echo bake >> "$OUT"\n');
    } else {
      writeFileSync(script, shellified.stdout);
    }
    const r = run('sh', [script], { env: { ...process.env, OUT: out } });
    expect(r.status).not.toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(`${mode === 'full' ? 'bake\n' : ''}one\ntwo\n`);
  });
});

describe('what each mode delivers', () => {
  it('baked user-data holds only the boot phase', () => {
    const plan = bootPlan();
    const userData = renderUserData(plan, 'baked');
    const d = doc(userData);
    const paths = (d.write_files ?? []).map((e) => e.path);
    expect(paths).toEqual(['/etc/mkimage/node.env', '/etc/kubernetes/pki/ca.key', '/etc/systemd/system/mkimage-bootstrap.service']);
    for (const f of plan.files.filter((x) => x.phase === 'bake')) expect(userData).not.toContain(f.path);
    expect(userData).not.toContain('cri-docker.socket');
    expect(userData).not.toContain(BAKE_SCRIPT_PATH);
    expect(userData).not.toContain('echo baking');
    expect(d.runcmd).toEqual([
      'set -e',
      ['systemctl', 'daemon-reload'],
      ['systemctl', 'enable', 'mkimage-bootstrap.service'],
      ['systemctl', 'start', '--no-block', 'mkimage-bootstrap.service'],
      ['bash', '-euo', 'pipefail', '-c', 'kubeadm init --config /run/kubeadm/kubeadm.yaml', 'mkimage-boot-kubeadm-init'],
    ]);
    for (const k of ['packages', 'package_update', 'yum_repos', 'apt', 'bootcmd']) expect(d).not.toHaveProperty(k);
  });

  it('baked user-data of a plan without boot commands has no runcmd', () => {
    expect(doc(renderUserData(fixturePlan(), 'baked'))).not.toHaveProperty('runcmd');
  });

  it('full user-data writes every file and unit, then runs the bake script before the boot phase', () => {
    const plan = bootPlan();
    const d = doc(renderUserData(plan, 'full'));
    const entries = d.write_files ?? [];
    const paths = entries.map((e) => e.path);
    for (const f of plan.files) expect(paths).toContain(f.path);
    for (const u of plan.units) if (u.path !== undefined) expect(paths).toContain(u.path);
    const bake = entries.find((e) => e.path === BAKE_SCRIPT_PATH);
    expect(bake?.permissions).toBe('0700');
    expect(bake?.content).toMatch(/^#!\/bin\/bash\n/);
    expect(d.runcmd?.[0]).toBe('set -e');
    expect(d.runcmd?.[1]).toEqual(['bash', BAKE_SCRIPT_PATH]);
    expect(d.runcmd?.at(-1)).toEqual(['bash', '-euo', 'pipefail', '-c', 'kubeadm init --config /run/kubeadm/kubeadm.yaml', 'mkimage-boot-kubeadm-init']);
    expect(d.package_update).toBe(false);
  });

  it('full mode runs the install through the first-boot phase runner, which leaves firstboot.failed when it fails', () => {
    // the planner's plan, which carries the first-boot script and unit as it ships (no hand-added items)
    const plan = realPlan('el9', 'w1');
    for (const a of plan.artifacts) a.sha256 ??= '0'.repeat(64);
    const runnerFile = plan.files.find((f) => f.path === FIRSTBOOT_SCRIPT)!;
    const d = doc(renderUserData(plan, 'full'));
    expect(d.runcmd?.[1]).toEqual(['bash', FIRSTBOOT_SCRIPT, '--run-phase', 'install', INSTALL_LOG, '--', 'bash', BAKE_SCRIPT_PATH]);
    // For real: cloud-init's own runcmd shell, H3's runner from the seed, and an install that fails at a step.
    const dir = tmp('install-failed');
    const ud = join(dir, 'user-data');
    writeFileSync(ud, renderUserData(plan, 'full'));
    const shellified = python(RUNCMD_HARNESS, [ud]);
    expect(shellified.status).toBe(0);
    const runner = join(dir, 'firstboot.sh');
    writeFileSync(runner, runnerFile.content);
    writeFileSync(join(dir, 'bake.sh'), [
      'printf "mkimage[bake]: %s\\n" "repository kubernetes"',
      'echo "curl: (6) Could not resolve host: pkgs.k8s.io" >&2',
      'echo \'mkimage[bake]: FAILED step "repository kubernetes": curl -fsSL -o k https://pkgs.k8s.io/key (exit 6)\' >&2',
      'exit 6',
      '',
    ].join('\n'));
    const script = shellified.stdout
      .replace(`'${FIRSTBOOT_SCRIPT}'`, `'${runner}'`)
      .replace(`'${BAKE_SCRIPT_PATH}'`, `'${join(dir, 'bake.sh')}'`)
      .replace(`'${INSTALL_LOG}'`, `'${join(dir, 'install.log')}'`);
    const root = join(dir, 'root');
    mkdirSync(root);
    writeFileSync(join(dir, 'runcmd.sh'), script);
    const r = run('sh', [join(dir, 'runcmd.sh')], { env: { ...process.env, MKIMAGE_ROOT: root } });
    expect(r.status).toBe(6);
    const marker = readFileSync(join(root, 'var/lib/mkimage/firstboot.failed'), 'utf8');
    expect(marker).toMatch(/^reason: .*repository kubernetes.* failed \(exit 6\)\n/);
    expect(marker).toContain('phase: install');
    expect(marker).toContain('Could not resolve host: pkgs.k8s.io');
    expect(statSync(join(root, 'var/lib/mkimage/firstboot.failed')).mode & 0o777).toBe(0o600);
  });

  it('renderSeed refuses a role plan (no node)', () => {
    expect(() => renderSeed(fixturePlan(false), 'baked')).toThrow(/per-node plan/);
    expect(() => renderNetworkConfig(fixturePlan(false))).toThrow(/per-node plan/);
    expect(() => renderMetaData(fixturePlan(false), 'full')).toThrow(/per-node plan/);
  });
});

describe('unknown top-level keys', () => {
  it('the key list is exactly the installed cloud-init schema (plus the merge keys)', () => {
    const r = python(
      'import json\nfrom cloudinit.config.schema import get_schema\ns = get_schema()\nkeys = set()\nfor part in s["allOf"]:\n    d = s["$defs"][part["$ref"].split("/")[-1]] if "$ref" in part else part\n    keys.update(d.get("properties", {}).keys())\nprint(json.dumps(sorted(keys)))\n',
      [],
    );
    expect(r.status).toBe(0);
    const schemaKeys = JSON.parse(r.stdout) as string[];
    expect(schemaKeys.length).toBeGreaterThan(50);
    expect([...CLOUD_CONFIG_TOP_LEVEL_KEYS].sort()).toEqual([...schemaKeys, 'merge_how', 'merge_type'].sort());
  });

  it('catches an injected bogus key that cloud-init schema lets through', () => {
    const d = doc(renderUserData(fixturePlan(), 'full'));
    const bad = `#cloud-config\n${stringify({ ...d, write_file: [{ path: '/x' }], bogus_key: true }, { version: '1.1' })}`;
    expect(schemaCheck(bad).status).toBe(0);
    expect(unknownTopLevelKeys(bad)).toEqual(['write_file', 'bogus_key']);
    expect(unknownTopLevelKeys(renderUserData(fixturePlan(), 'full'))).toEqual([]);
    // the parse-free check the pipeline runs on every rendered seed agrees
    expect(unknownRenderedKeys(bad)).toEqual(['write_file', 'bogus_key']);
    for (const mode of ['baked', 'full'] as const) {
      const ud = renderUserData(fixturePlan(), mode);
      expect(unknownRenderedKeys(ud)).toEqual([]);
      expect(ud.match(/^[A-Za-z_][\w-]*(?=:)/gm)).toEqual(Object.keys(doc(ud)));
    }
  });
});

describe('meta-data', () => {
  it('names the instance after cluster, node and a hash of the content', () => {
    const md = parse(renderMetaData(fixturePlan(), 'baked')) as Record<string, string>;
    expect(md['local-hostname']).toBe('cp1');
    expect(md['instance-id']).toMatch(/^homelab-cp1-[0-9a-f]{12}$/);
  });

  it('same inputs give the same id (whatever the key order); a changed seed a new one', () => {
    const base = instanceId(fixturePlan(), 'baked');
    expect(instanceId(fixturePlan(), 'baked')).toBe(base);
    const reordered = JSON.parse(JSON.stringify(fixturePlan(), (_k, v: unknown) =>
      v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v,
    )) as NodePlan;
    expect(Object.keys(reordered)[0]).not.toBe('planVersion');
    expect(instanceId(reordered, 'baked')).toBe(base);

    const changed = fixturePlan();
    const env = changed.files.find((f) => f.path === '/etc/mkimage/node.env');
    if (env) env.content += 'EXTRA=1\n';
    expect(instanceId(changed, 'baked')).not.toBe(base);
    expect(instanceId(fixturePlan(), 'full')).not.toBe(base);
    const moved = fixturePlan();
    if (moved.node) moved.node.address = '192.168.66.12/24';
    expect(instanceId(moved, 'baked')).not.toBe(base);
    const key = fixturePlan();
    key.admin.sshAuthorizedKeys.push('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAnotherKeyAnotherKeyAnotherKeyAnotherKey00 two@example');
    expect(instanceId(key, 'baked')).not.toBe(base);
  });

  it('a plan change the seed does not carry keeps the id (no re-run of first boot)', () => {
    const build = fixturePlan();
    build.image.memory = 8192;
    expect(instanceId(build, 'baked')).toBe(instanceId(fixturePlan(), 'baked'));
    expect(instanceId(build, 'full')).toBe(instanceId(fixturePlan(), 'full'));
    // A bake-phase change is in the image, not the baked seed; a full seed carries it.
    const bake = fixturePlan();
    const daemon = bake.files.find((f) => f.path === '/etc/docker/daemon.json');
    if (daemon) daemon.content = daemon.content.replace('100m', '200m');
    expect(instanceId(bake, 'baked')).toBe(instanceId(fixturePlan(), 'baked'));
    expect(instanceId(bake, 'full')).not.toBe(instanceId(fixturePlan(), 'full'));
  });

  it('meta-data carries the same id renderSeed computes', () => {
    const seed = renderSeed(fixturePlan(), 'full');
    expect(seed.metaData).toBe(renderMetaData(fixturePlan(), 'full'));
    expect((parse(seed.metaData) as Record<string, string>)['instance-id']).toBe(instanceId(fixturePlan(), 'full'));
  });
});

describe('network-config', () => {
  it('is netplan v2 without a network: wrapper, matched by MAC, static, default route via routes', () => {
    const text = renderNetworkConfig(fixturePlan());
    expect(text.split('\n')[0]).toBe('# generated by mkimage — do not edit');
    expect(parse(text)).toEqual({
      version: 2,
      ethernets: {
        [LAN_INTERFACE]: {
          match: { macaddress: '52:54:00:66:00:11' },
          'set-name': 'lan0',
          dhcp4: false,
          dhcp6: false,
          addresses: ['192.168.66.11/24'],
          routes: [{ to: '0.0.0.0/0', via: '192.168.66.1' }],
          nameservers: { addresses: ['192.168.66.1', '223.5.5.5'] },
        },
      },
    });
    expect(text).not.toContain('gateway4');
  });

  it('netplan generate renders it (MAC, name, address, gateway, DNS)', () => {
    const plan = fixturePlan();
    // A MAC that YAML 1.1 would read as a sexagesimal integer if it were left unquoted.
    if (plan.node) plan.node.mac = '52:54:00:12:34:56';
    const root = tmp('netplan');
    mkdirSync(join(root, 'etc/netplan'), { recursive: true });
    const file = join(root, 'etc/netplan/50-mkimage.yaml');
    writeFileSync(file, stringify({ network: parse(renderNetworkConfig(plan), { version: '1.1' }) as unknown }, { version: '1.1' }));
    chmodSync(file, 0o600);
    const r = run('netplan', ['generate', '--root-dir', root]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const dir = join(root, 'run/systemd/network');
    const rendered = readdirSync(dir).map((f) => readFileSync(join(dir, f), 'utf8')).join('\n');
    expect(rendered).toContain('52:54:00:12:34:56');
    expect(rendered).toContain('Name=lan0');
    expect(rendered).toContain('Address=192.168.66.11/24');
    expect(rendered).toContain('Gateway=192.168.66.1');
    expect(rendered).toContain('DNS=223.5.5.5');
  });

  it.each(FAMILIES)('cloud-init 22.4 renders it for $family ($renderer)', (family) => {
    const { distro, renderer } = family;
    const plan = planFor(family);
    if (plan.node) plan.node.mac = '52:54:00:12:34:56';
    const dir = tmp('netconv');
    const input = join(dir, 'network-config');
    writeFileSync(input, renderNetworkConfig(plan));
    const out = join(dir, 'out');
    const r = run('cloud-init', ['devel', 'net-convert', '-p', input, '-k', 'yaml', '-d', out, '-D', distro, '-O', renderer]);
    expect(r.stderr).not.toMatch(/Traceback|Error/);
    expect(r.status).toBe(0);
    const files: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) (e.isDirectory() ? walk(join(d, e.name)) : files.push(join(d, e.name)));
    };
    walk(out);
    const rendered = files.map((f) => readFileSync(f, 'utf8')).join('\n');
    expect(rendered.toLowerCase()).toContain('52:54:00:12:34:56');
    expect(rendered).toContain('192.168.66.11');
    expect(rendered).toContain('192.168.66.1');
    expect(rendered).toMatch(/lan0/);
    // The default route in a form the renderer's own tool applies: cloud-init's ENI renderer turns a route into
    // `post-up route add ... || true`, which needs net-tools and fails silently without it (canonical/cloud-init#6250).
    expect(rendered).not.toContain('route add');
    if (renderer === 'eni') expect(rendered).toMatch(/^\s+gateway 192\.168\.66\.1$/m);
  });

  it('debian-12 (netplan or ifupdown, whichever the image has) gets gateway4; the others a default route', () => {
    const debian = parse(renderNetworkConfig(planFor(FAMILIES[3]!))) as { ethernets: Record<string, Record<string, unknown>> };
    expect(debian.ethernets[LAN_INTERFACE]).toMatchObject({ gateway4: '192.168.66.1' });
    expect(debian.ethernets[LAN_INTERFACE]).not.toHaveProperty('routes');
    for (const f of FAMILIES.slice(0, 3)) {
      const other = parse(renderNetworkConfig(planFor(f))) as { ethernets: Record<string, Record<string, unknown>> };
      expect(other.ethernets[LAN_INTERFACE]?.['routes']).toEqual([{ to: '0.0.0.0/0', via: '192.168.66.1' }]);
    }
    // netplan still renders it (it only warns that gateway4 is deprecated).
    const root = tmp('netplan-gw4');
    mkdirSync(join(root, 'etc/netplan'), { recursive: true });
    const file = join(root, 'etc/netplan/50-mkimage.yaml');
    writeFileSync(file, stringify({ network: parse(renderNetworkConfig(planFor(FAMILIES[3]!)), { version: '1.1' }) as unknown }, { version: '1.1' }));
    chmodSync(file, 0o600);
    const r = run('netplan', ['generate', '--root-dir', root]);
    expect(r.status).toBe(0);
    expect(r.stderr.replace(/^.*`gateway4` has been deprecated.*\n(See the 'Default routes'.*\n)?/m, '').trim()).toBe('');
    const dir = join(root, 'run/systemd/network');
    expect(readdirSync(dir).map((f) => readFileSync(join(dir, f), 'utf8')).join('\n')).toContain('Gateway=192.168.66.1');
  });
});

describe('determinism and goldens', () => {
  it('renders byte-identical seeds for the same plan', () => {
    for (const mode of MODES) expect(renderSeed(bootPlan(), mode)).toEqual(renderSeed(bootPlan(), mode));
  });

  it.each(MODES)('el9 control-plane, %s mode', async (mode) => {
    const seed = renderSeed(fixturePlan(), mode);
    await expect(seed.userData).toMatchFileSnapshot(`./golden/cloud-init/el9-control-plane.${mode}.user-data`);
    await expect(seed.metaData).toMatchFileSnapshot(`./golden/cloud-init/el9-control-plane.${mode}.meta-data`);
    await expect(seed.networkConfig).toMatchFileSnapshot('./golden/cloud-init/el9-control-plane.network-config');
  });
});

// ---------------------------------------------------------------------------------------------------------
// Real per-node plans from the planner (inputs built by hand: no loader involved), every family x mode.

function realProfile(role: NodeRole, docker: string, criDockerd: string): Located<Profile> {
  return located(testProfile(role, {
    docker: { version: docker },
    criDockerd: { version: criDockerd },
    files: [{ path: '/etc/motd', mode: '0644', owner: 'root:root', content: 'managed by mkimage\n', phase: 'boot' }],
    commands: [{ phase: 'boot', run: 'echo first boot' }],
  }), `profiles/${role}.yaml`);
}

const REAL_NODES: NodeSpec[] = [testNode('cp1', 'control-plane', 0, 11), testNode('w1', 'worker', 1, 21)];

function realCluster(family: OsFamily): Located<Cluster> {
  const admin = { user: 'kube', sshAuthorizedKeys: [TEST_SSH_KEY] };
  return located(testCluster({ osFamily: family, admin, nodes: REAL_NODES }), 'cluster.yaml');
}

const REAL_CASES = FAMILIES.flatMap((f) =>
  REAL_NODES.flatMap((node) => MODES.map((mode) => ({ family: f.family, group: f.group, node: node.name, mode }))),
);

function realPlan(family: OsFamily, nodeName: string): NodePlan {
  const node = REAL_NODES.find((n) => n.name === nodeName);
  if (!node) throw new Error(nodeName);
  // ubuntu-24.04 has no Docker 24 in its repo: Docker 26 with cri-dockerd 0.3.10 (see DOMAIN.md).
  const [docker, cri] = family === 'ubuntu-24.04' ? ['26.1.4', '0.3.10'] : ['24.0.7', '0.3.9'];
  const diags: Diagnostic[] = [];
  // the complete plan a seed ships: the planner's, with the (TEST-ONLY fixture) secrets' boot files in it
  const plan = planNode(realProfile(node.role, docker, cri), realCluster(family), node, diags, realSecrets);
  expect(diags.filter((d) => d.severity === 'error')).toEqual([]);
  return plan;
}

let realSecrets: ClusterSecrets;
beforeAll(async () => {
  realSecrets = await loadSecrets(await privateSecretsCopy(FIXTURE_SECRETS, join(tmp('secrets'), 's')));
});

describe('seeds for real planner output', () => {
  it.each(REAL_CASES)('$family $node $mode: schema-valid, known keys, files round-trip, netplan renders', ({ family, group, node, mode }) => {
    const plan = realPlan(family, node);
    // Full mode downloads artifacts on the node and needs every sha256 pinned: stand in for the hashes
    // `mkimage fetch` records in mkimage.lock for artifacts nobody publishes a checksum for.
    for (const a of plan.artifacts) a.sha256 ??= '0'.repeat(64);
    const seed = renderSeed(plan, mode);

    const checked = schemaCheck(seed.userData);
    expect(checked.out).toContain('Valid cloud-config');
    expect(checked.status).toBe(0);
    expect(unknownTopLevelKeys(seed.userData)).toEqual([]);
    const d = doc(seed.userData);
    expect(d.users[0]?.groups).toBe(group);

    const root = writeWithCloudInit(seed.userData);
    for (const f of plan.files) {
      const delivered = mode === 'full' || f.phase === 'boot';
      if (!delivered) {
        expect(seed.userData).not.toContain(`path: ${f.path}\n`);
        continue;
      }
      expect(readFileSync(join(root, f.path), 'utf8'), f.path).toBe(f.content);
      expect((statSync(join(root, f.path)).mode & 0o777).toString(8).padStart(4, '0'), f.path).toBe(f.mode);
      if (f.secret === true) expect(f.mode).toBe('0600');
    }
    // what ships: the node's kubeadm config and bootstrap.env, the first-boot script in full mode; a joiner's seed
    // names its own token, never the cluster's
    expect(readFileSync(join(root, 'etc/kubernetes/mkimage/bootstrap.env'), 'utf8')).toContain(`NODE_NAME=${node}\n`);
    const kubeadm = readFileSync(join(root, 'etc/kubernetes/mkimage/kubeadm.yaml'), 'utf8');
    expect(kubeadm).toContain(node === 'cp1' ? 'kind: InitConfiguration' : 'kind: JoinConfiguration');
    if (node !== 'cp1') expect(seed.userData).not.toContain(`${realSecrets.token.id}.${realSecrets.token.secret}`);
    if (mode === 'full') expect(readFileSync(join(root, FIRSTBOOT_SCRIPT), 'utf8')).toBe(firstbootBakeItems().files[0]!.content);
    expect(d.runcmd?.at(-1)).toEqual(['bash', '-euo', 'pipefail', '-c', 'echo first boot', expect.stringMatching(/^mkimage-boot-/)]);

    const md = parse(seed.metaData) as Record<string, string>;
    expect(md['instance-id']).toMatch(new RegExp(`^homelab-${node}-[0-9a-f]{12}$`));
    expect(md['local-hostname']).toBe(node);

    const netRoot = tmp('netplan-real');
    mkdirSync(join(netRoot, 'etc/netplan'), { recursive: true });
    const file = join(netRoot, 'etc/netplan/50-mkimage.yaml');
    writeFileSync(file, stringify({ network: parse(seed.networkConfig, { version: '1.1' }) as unknown }, { version: '1.1' }));
    chmodSync(file, 0o600);
    expect(run('netplan', ['generate', '--root-dir', netRoot]).status).toBe(0);
    const netDir = join(netRoot, 'run/systemd/network');
    const rendered = readdirSync(netDir).map((f) => readFileSync(join(netDir, f), 'utf8')).join('\n');
    expect(rendered).toContain(plan.node?.mac ?? 'missing');
    expect(rendered).toContain(`Address=${plan.node?.address ?? 'missing'}`);
  });
});

describe('what the pipeline ships carries the first-boot script and unit (not a hand-made plan)', () => {
  const script = readFileSync(join(PACKAGE_ROOT, 'templates/firstboot/firstboot.sh'), 'utf8');
  const unit = readFileSync(join(PACKAGE_ROOT, 'templates/firstboot/mkimage-firstboot.service'), 'utf8');

  it.each(['control-plane', 'worker'])('%s --mode full: real cloud-init writes the script (0755) and the unit, runcmd enables and starts it', async (role) => {
    const cwd = tmp(`ships-${role}`);
    const r = await renderRole({ role, cwd, mode: 'full' });
    expect(r.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
    const node = role === 'worker' ? 'worker1' : 'cp1';
    const userData = readFileSync(join(cwd, `out/${role}/seeds/${node}/user-data`), 'utf8');
    const root = writeWithCloudInit(userData);
    expect(readFileSync(join(root, FIRSTBOOT_SCRIPT), 'utf8')).toBe(script);
    expect(statSync(join(root, FIRSTBOOT_SCRIPT)).mode & 0o777).toBe(0o755);
    expect(readFileSync(join(root, '/etc/systemd/system/mkimage-firstboot.service'), 'utf8')).toBe(unit);
    // runcmd runs the install script that write_files put down; that script enables and starts the unit
    const shell = python(RUNCMD_HARNESS, [join(cwd, `out/${role}/seeds/${node}/user-data`)]);
    expect(shell.status).toBe(0);
    expect(shell.stdout).toContain(BAKE_SCRIPT_PATH);
    const install = readFileSync(join(root, BAKE_SCRIPT_PATH), 'utf8');
    expect(install).toMatch(/systemctl enable [^\n]*mkimage-firstboot\.service/);
    expect(install).toMatch(/systemctl start --no-block [^\n]*mkimage-firstboot\.service/);
  });

  it.each(['control-plane', 'worker'])('%s baked: the Packer rootfs holds the script (0755) and the unit, and bake.sh enables it', async (role) => {
    const cwd = tmp(`ships-baked-${role}`);
    const r = await renderRole({ role, cwd });
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const rootfs = join(cwd, `out/${role}/packer/rootfs`);
    expect(readFileSync(join(rootfs, FIRSTBOOT_SCRIPT), 'utf8')).toBe(script);
    expect(statSync(join(rootfs, FIRSTBOOT_SCRIPT)).mode & 0o777).toBe(0o755);
    expect(readFileSync(join(rootfs, 'etc/systemd/system/mkimage-firstboot.service'), 'utf8')).toBe(unit);
    expect(readFileSync(join(cwd, `out/${role}/packer/scripts/bake.sh`), 'utf8')).toMatch(/systemctl enable [^\n]*mkimage-firstboot\.service/);
  });
});

describe("an emitter's refusal of a profile entry points at the profile line", () => {
  // A "\ud800" escape with no pair loads as a lone UTF-16 surrogate, which UTF-8 cannot carry: written out it would
  // become U+FFFD on the node. The loader passes it; the emitter that meets it (the seed's write_files or runcmd, the
  // Packer rootfs) refuses it at the entry's source: the line the planner recorded for it.
  const cases = [
    { what: 'a boot-phase file (the seed)', yaml: '    - path: /etc/mkimage-extra/motd\n      content: "hi \\ud800\\n"\n      phase: boot\n', key: 'path: /etc/mkimage-extra/motd', message: 'files: /etc/mkimage-extra/motd: the text has a lone UTF-16 surrogate (\\ud800)', section: 'files' },
    { what: 'a bake-phase file (the Packer rootfs)', yaml: '    - path: /etc/mkimage-extra/motd\n      content: "hi \\udc00\\n"\n', key: 'path: /etc/mkimage-extra/motd', message: 'files: /etc/mkimage-extra/motd: the text has a lone UTF-16 surrogate (\\udc00)', section: 'files' },
    { what: 'a boot command (runcmd)', yaml: '    - phase: boot\n      run: "echo \\ud800"\n', key: 'run: "echo', message: 'commands: extra-boot-1: the text has a lone UTF-16 surrogate (\\ud800)', section: 'commands' },
  ];
  it.each(cases)('$what: E007 at its line, exit 2, nothing written; `mkimage plan` shows no sources', async (c) => {
    const { cpSync, existsSync } = await import('node:fs');
    const { mkimage } = await import('./helpers/cli.js');
    const cwd = tmp('refuse');
    cpSync(join(PACKAGE_ROOT, 'profiles'), join(cwd, 'p'), { recursive: true });
    const wp = join(cwd, 'p/worker.yaml');
    const text = readFileSync(wp, 'utf8').replace(/^extends: base$/m, `extends: base\n${c.section}:\n${c.yaml}`);
    writeFileSync(wp, text);
    const lines = text.split('\n');
    const line = lines.findIndex((l) => l.includes(c.key)) + 1;
    const col = lines[line - 1]!.indexOf(c.key) + c.key.indexOf(': ') + 3;

    // the in-memory plan keeps the entry's source; what `mkimage plan` prints does not
    const plan = await mkimage(cwd, 'plan', 'worker', '--profiles', 'p');
    expect(plan.code, plan.err).toBe(0);
    expect(plan.out).not.toContain('"source"');
    const printed = JSON.parse(plan.out) as NodePlan;
    const entry = c.section === 'files' ? printed.files.find((f) => f.path === '/etc/mkimage-extra/motd') : printed.commands[0];
    expect(Object.keys(entry ?? {}).sort()).toEqual(c.section === 'files' ? ['content', 'mode', 'owner', 'path', 'phase'] : ['name', 'phase', 'run']);

    const r = await mkimage(cwd, 'worker', '--profiles', 'p');
    expect(r.code, r.err).toBe(2);
    expect(r.err).toContain(`error[E007]: ${c.message} that UTF-8 cannot encode: write the character as one`);
    expect(r.err).toContain(`--> p/worker.yaml:${line}:${col}`);
    expect(r.err).not.toMatch(/internal error|\n\s+at /);
    // nothing written: no out/, no secrets, no temp tree left beside them
    expect(readdirSync(cwd).sort()).toEqual(['p']);
    expect(existsSync(join(cwd, 'out'))).toBe(false);
  });

  it('an entry of mkimage\'s own (no source) is still a bug: a plain Error', () => {
    expect(() => writeFile('/opt/x', '0644', 'root:root', 'x\ud800')).toThrow(/^mkimage: files: \/opt\/x: the text has a lone UTF-16 surrogate/);
    const at = { file: 'profiles/worker.yaml', line: 3, col: 11 };
    let thrown: unknown;
    try {
      writeFile('/opt/x', '4755', 'root:root', 'x\n', { source: at });
    } catch (e) {
      thrown = e;
    }
    expect((thrown as { diagnostics?: Diagnostic[] }).diagnostics).toEqual([
      { severity: 'error', code: 'E007', message: "files: /opt/x: mode \"4755\" is not a quoted 4-digit octal string: write it as e.g. '0644'", ...at },
    ]);
  });
});
