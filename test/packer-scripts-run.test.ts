// The image build's own scripts (out/<role>/packer/scripts/prepull.sh, selfcheck.sh, cleanup.sh) run for real
// under bash on a fake build host, for each package-manager branch of the templates (dnf: el9, apt: Debian and
// Ubuntu): each passes on a host that matches its plan, and fails, saying what is wrong, on one that does not.
//
// The host: a temp root directory and a state directory. systemctl, docker, kubeadm, rpm/dpkg-query, dnf/apt-mark,
// sysctl, journalctl and fstrim are FAKES first on PATH (no build VM with systemd, a container runtime or a
// package database exists here): each records its argv in state/log and answers from the state files (installed
// packages, holds, sysctls, active and disabled units, the image store), so the pre-pull's effects are what the
// self-check then sees. Everything else the scripts call is the real tool.
// - selfcheck.sh reads the image's files below MKIMAGE_ROOT (it supports a root prefix);
// - prepull.sh touches no file;
// - cleanup.sh hard-codes /etc, /var, /tmp and /root and has no root prefix (it must not gain one: it edits the
//   real build VM), so it runs chrooted into the temp root inside `unshare -rmu` (a private mount namespace with
//   the host's /usr and /dev bound in, a private hostname); real cloud-init clean, getent, sed, find and truncate
//   act on the temp root.

import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILD_USER, REMOVE_BUILD_USER_UNIT, renderPackerDir, renderRemoveBuildUserUnit } from '../src/emit/packer.js';
import { shellQuote } from '../src/emit/script.js';
import type { NodePlan } from '../src/plan/types.js';
import type { OsFamily } from '../src/profile/types.js';
import { shippedPlan } from './helpers/shipped-plan.js';
import { scratchDirs } from './helpers/tmp.js';
import { run, tool, type RunResult } from './helpers/tools.js';

const scratch = scratchDirs('mkimage-buildhost-');
/** One family per branch of the templates ({{#dnf}} / {{#apt}}), and noble (Docker 26, cri-dockerd 0.3.10). */
const BRANCHES: OsFamily[] = ['el9', 'debian-12', 'ubuntu-24.04'];
const ROLES = ['control-plane', 'worker'] as const;

interface BuildHost {
  plan: NodePlan;
  root: string;
  bin: string;
  state: string;
  env: NodeJS.ProcessEnv;
  /** the rendered scripts, by name (prepull.sh, selfcheck.sh, cleanup.sh) */
  script: (name: string) => string;
  /** the fakes' argv records since the last call, one line per call */
  log: () => string[];
}

interface HostOptions {
  /** installed version per package (default: the pin plus a release suffix) */
  installed?: Record<string, string>;
  /** packages installed but not held (default: every package the plan holds is held) */
  unheld?: string[];
  /** units running (default: docker and containerd, as after the pre-pull) */
  active?: string[];
  disabled?: string[];
  /** the image store (default: every image of the plan) */
  images?: string[];
  /** sysctl values that differ from the plan's */
  sysctls?: Record<string, string>;
  dockerVersion?: string;
  /** the hold listing also lists 8000 unrelated packages (far more than a pipe buffer) */
  bigHolds?: boolean;
  /** a glob over "<command> <args>": a fake whose call matches it fails (exit 1) */
  fail?: string;
}

const lines = (xs: string[]) => xs.map((x) => `${x}\n`).join('');

function buildHost(plan: NodePlan, opts: HostOptions = {}): BuildHost {
  const base = scratch();
  const root = join(base, 'root');
  const bin = join(base, 'bin');
  const state = join(base, 'state');
  const scripts = join(base, 'scripts');
  for (const d of [root, bin, state, join(root, 'tmp/mkimage/artifacts')]) mkdirSync(d, { recursive: true });
  for (const m of plan.modules) mkdirSync(join(root, 'sys/module', m), { recursive: true });
  // what a real build stages: the cri-dockerd Go binary (any Go binary holds names matching the token pattern)
  copyFileSync(tool('packer'), join(root, 'tmp/mkimage/artifacts/cri-dockerd'));

  writeFileSync(join(state, 'pkgs'), lines(plan.packages.map((p) => `${p.name} ${opts.installed?.[p.name] ?? `${p.version ?? '1.0'}-1`}`)));
  writeFileSync(join(state, 'holds'), lines(plan.packages.filter((p) => p.hold && !opts.unheld?.includes(p.name)).map((p) => p.name)));
  writeFileSync(join(state, 'sysctls'), lines(plan.sysctls.map((s) => `${s.key} ${opts.sysctls?.[s.key] ?? s.value}`)));
  writeFileSync(join(state, 'active'), lines(opts.active ?? ['docker.service', 'containerd.service']));
  writeFileSync(join(state, 'disabled'), lines(opts.disabled ?? []));
  writeFileSync(join(state, 'images'), lines(opts.images ?? plan.images));
  writeFileSync(join(state, 'log'), '');

  const put = (name: string, body: string) => {
    writeFileSync(join(bin, name), [
      '#!/bin/bash',
      `# FAKE ${name} for the build-host tests: records its argv, answers from $FAKE_STATE`,
      `printf '%s\\n' "${name} $*" >>"$FAKE_STATE/log"`,
      `case "${name} $*" in $FAKE_FAIL) echo "${name}: FAKE failure" >&2; exit 1 ;; esac`,
      body,
      '',
    ].join('\n'));
    chmodSync(join(bin, name), 0o755);
  };
  const has = (file: string, what: string) => `grep -qxF -- "${what}" "$FAKE_STATE/${file}"`;
  put('systemctl', [
    'case $1 in',
    `  is-enabled) ! ${has('disabled', '${*: -1}')} ;;`,
    `  is-active) ${has('active', '${*: -1}')} || exit 3 ;;`,
    '  start) shift; printf \'%s\\n\' "$@" >>"$FAKE_STATE/active" ;;',
    '  stop) shift; for u in "$@"; do grep -vxF -- "$u" "$FAKE_STATE/active" >"$FAKE_STATE/active.new" || true; mv "$FAKE_STATE/active.new" "$FAKE_STATE/active"; done ;;',
    'esac',
  ].join('\n'));
  // the daemon answers only while docker.service runs; a pull adds to the image store
  put('docker', [
    `${has('active', 'docker.service')} || { echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock' >&2; exit 1; }`,
    'case "$1 $2" in',
    '  "version --format") echo "$FAKE_DOCKER_VERSION" ;;',
    `  "image inspect") ${has('images', '$3')} || { echo "Error: No such image: $3" >&2; exit 1; } ;;`,
    '  "pull "*) echo "$2" >>"$FAKE_STATE/images" ;;',
    '  *) exit 1 ;;',
    'esac',
  ].join('\n'));
  put('kubeadm', `${has('active', 'cri-docker.socket')} || { echo 'failed to connect to the CRI socket unix:///var/run/cri-dockerd.sock' >&2; exit 1; }`);
  const lookup = 'v=$(awk -v n="${*: -1}" \'$1 == n { print $2 }\' "$FAKE_STATE/pkgs"); [ -n "$v" ] || { echo "package ${*: -1} is not installed"; exit 1; }; printf %s "$v"';
  put('rpm', lookup);
  put('dpkg-query', lookup);
  // showhold / versionlock list: one process (as the real tools are) that dies of SIGPIPE when its reader stops
  // early; the held names first, then with bigHolds 8000 more lines (about 200 KiB: 3 pipe buffers).
  const listing = (suffix: string) =>
    `exec awk -v f="$FAKE_STATE/holds" 'BEGIN { while ((getline l < f) > 0) print l "${suffix}"; ` +
    `if (ENVIRON["FAKE_BIG"] != "") for (i = 1; i <= 8000; i++) print "filler-package-" i "${suffix}" }'`;
  put('apt-mark', `[ "$1" = showhold ] || exit 0\n${listing('')}`);
  put('dnf', `case "$*" in *"versionlock list"*) ;; *) exit 0 ;; esac\n${listing('-0:1.0-1.*')}`);
  put('sysctl', 'awk -v k="${*: -1}" \'$1 == k { print $2 }\' "$FAKE_STATE/sysctls"');
  // the build VM's journal and its disk: nothing of this host's may be rotated or trimmed
  put('journalctl', '');
  put('fstrim', '');

  mkdirSync(scripts);
  for (const f of renderPackerDir(plan, { packerVersion: '1.6.6' }).filter((x) => x.path.startsWith('scripts/'))) {
    writeFileSync(join(scripts, f.path.slice('scripts/'.length)), String(f.content));
  }
  const env: NodeJS.ProcessEnv = {
    PATH: `${bin}:/usr/bin:/bin`,
    MKIMAGE_ROOT: root,
    FAKE_STATE: state,
    FAKE_FAIL: opts.fail ?? '__nothing_fails__',
    FAKE_DOCKER_VERSION: opts.dockerVersion ?? (plan.os.family === 'ubuntu-24.04' ? '26.1.4' : '24.0.7'),
    ...(opts.bigHolds ? { FAKE_BIG: '1' } : {}),
  };
  let seen = 0;
  const log = () => {
    const all = readFileSync(join(state, 'log'), 'utf8').split('\n').filter((l) => l !== '');
    const fresh = all.slice(seen);
    seen = all.length;
    return fresh;
  };
  return { plan, root, bin, state, env, script: (name) => join(scripts, name), log };
}

/** Run a script on the host as the build runs it (sudo bash SCRIPT). */
const runScript = (h: BuildHost, name: string): RunResult => run('bash', [h.script(name)], { env: h.env });

const fails = (r: RunResult) => r.stderr.split('\n').filter((l) => /^mkimage\[\w+\]: FAIL /.test(l));

// ---- selfcheck.sh ----------------------------------------------------------------------------------------

const pin = (plan: NodePlan, name: string) => {
  const v = plan.packages.find((p) => p.name === name)?.version;
  if (v === undefined) throw new Error(`the plan pins no ${name}`);
  return v;
};

interface Broken {
  what: string;
  host: (plan: NodePlan) => HostOptions;
  /** files left in the image, relative to its root */
  files?: Record<string, string>;
  /** the FAIL lines, in order */
  fail: (plan: NodePlan) => string[];
  /** further lines the failure names on stderr */
  says?: string[];
  /** the check reads files or the runtime, the same on every family: one family is enough */
  anyFamily?: true;
}

const BROKEN: Broken[] = [
  {
    what: 'a kubelet of another patch release',
    host: (plan) => ({ installed: { kubelet: pin(plan, 'kubelet').replace(/^(\d+:)?1\.29\.2/, '$11.29.1') } }),
    fail: (plan) => [`kubelet is ${pin(plan, 'kubelet')}`],
  },
  {
    what: 'kubeadm missing',
    host: () => ({ installed: { kubeadm: '' } }),
    fail: (plan) => [`kubeadm is ${pin(plan, 'kubeadm')}`],
  },
  {
    what: 'kubeadm not held',
    host: () => ({ unheld: ['kubeadm'] }),
    fail: () => ['kubeadm is held'],
  },
  {
    what: 'kubelet running in the image',
    anyFamily: true,
    host: () => ({ active: ['docker.service', 'containerd.service', 'kubelet.service'] }),
    fail: () => ['kubelet.service is not active'],
  },
  {
    what: 'kubelet not enabled',
    anyFamily: true,
    host: () => ({ disabled: ['kubelet.service'] }),
    fail: () => ['kubelet.service is enabled'],
  },
  {
    what: 'docker stopped',
    host: () => ({ active: ['containerd.service'] }),
    // the daemon does not answer: its version and every image are unknown too
    fail: (plan) => [
      'docker.service is active',
      ...(plan.os.family === 'ubuntu-24.04' ? ['docker server is 26.1.x'] : ['docker server is 24.0.x', 'docker server is older than 25 (cri-dockerd 0.3.9 needs Docker API < 1.44)']),
      ...plan.images.map((i) => `image ${i} is present`),
    ],
  },
  {
    what: 'a Docker server of another series',
    host: (plan) => ({ dockerVersion: plan.os.family === 'ubuntu-24.04' ? '27.0.3' : '24.1.0' }),
    fail: (plan) => [plan.os.family === 'ubuntu-24.04' ? 'docker server is 26.1.x' : 'docker server is 24.0.x'],
  },
  {
    what: 'an image that was not pre-pulled',
    anyFamily: true,
    host: (plan) => ({ images: plan.images.slice(0, -1) }),
    fail: (plan) => [`image ${plan.images.at(-1)} is present`],
  },
  {
    what: 'ip_forward off',
    anyFamily: true,
    host: () => ({ sysctls: { 'net.ipv4.ip_forward': '0' } }),
    fail: () => ['sysctl net.ipv4.ip_forward = 1'],
  },
  {
    what: 'a leftover bootstrap.env (a seed file)',
    anyFamily: true,
    host: () => ({}),
    files: { 'etc/kubernetes/mkimage/bootstrap.env': 'BOOTSTRAP=join\n' },
    fail: () => ['no seed, kubeadm credentials or first-boot marker on disk'],
    says: ['mkimage[selfcheck]:      found /etc/kubernetes/mkimage/bootstrap.env'],
  },
  {
    what: 'a leftover kubelet.conf and first-boot marker',
    anyFamily: true,
    host: () => ({}),
    files: { 'etc/kubernetes/kubelet.conf': 'apiVersion: v1\n', 'var/lib/mkimage/firstboot.done': '' },
    fail: () => ['no seed, kubeadm credentials or first-boot marker on disk'],
    says: ['mkimage[selfcheck]:      found /etc/kubernetes/kubelet.conf', 'mkimage[selfcheck]:      found /var/lib/mkimage/firstboot.done'],
  },
  {
    what: 'a leftover CA key',
    anyFamily: true,
    host: () => ({}),
    files: { 'etc/kubernetes/pki/ca.key': '-----BEGIN PRIVATE KEY-----\n' },
    fail: () => ['no file under /etc/kubernetes/pki'],
    says: ['mkimage[selfcheck]:      found /etc/kubernetes/pki/ca.key'],
  },
  {
    what: 'a bootstrap token in a text file',
    anyFamily: true,
    host: () => ({}),
    files: { 'etc/kubernetes/leftover.yaml': 'token: abcdef.0123456789abcdef\n' },
    fail: () => ['no bootstrap token on disk'],
  },
];

describe('selfcheck.sh on a fake build host', () => {
  const passing = BRANCHES.flatMap((family) => ROLES.map((role) => ({ family, role })));
  it.each(passing)('$family $role: passes on an image that matches its plan, although a real Go binary is staged', ({ family, role }) => {
    const h = buildHost(shippedPlan(family, role));
    const r = runScript(h, 'selfcheck.sh');
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('mkimage[selfcheck]: ok   kubelet.service is not active\n');
    expect(r.stdout.endsWith('mkimage[selfcheck]: the image matches its plan\n')).toBe(true);
    expect(r.status).toBe(0);
    // it asked the package manager of its family, and about every pinned package
    const log = h.log();
    const ask = family === 'el9' ? 'rpm -q --qf' : 'dpkg-query -W -f=${Version}';
    for (const p of h.plan.packages.filter((x) => x.version !== undefined)) expect(log, p.name).toContain(`${ask} ${family === 'el9' ? (p.version!.includes(':') ? '%{EPOCH}:%{VERSION}-%{RELEASE}' : '%{VERSION}-%{RELEASE}') + ' ' : ''}${p.name}`);
    expect(log.some((l) => l.startsWith(family === 'el9' ? 'dnf -q versionlock list' : 'apt-mark showhold'))).toBe(true);
  });

  const rows = BRANCHES.flatMap((family) => BROKEN.filter((b) => !b.anyFamily || family === 'debian-12').map((b) => ({ family, ...b })));
  it.each(rows)('$family: fails on $what, and says which check failed', ({ family, host, files, fail, says }) => {
    const real = shippedPlan(family, 'control-plane');
    const h = buildHost(real, host(real));
    for (const [path, body] of Object.entries(files ?? {})) {
      mkdirSync(dirname(join(h.root, path)), { recursive: true });
      writeFileSync(join(h.root, path), body);
    }
    const r = runScript(h, 'selfcheck.sh');
    expect(fails(r)).toEqual(fail(real).map((w) => `mkimage[selfcheck]: FAIL ${w}`));
    for (const s of says ?? []) expect(r.stderr).toContain(`${s}\n`);
    expect(r.stderr.endsWith('mkimage[selfcheck]: the image does not match its plan: see FAIL lines above\n')).toBe(true);
    expect(r.stdout).not.toContain('the image matches its plan');
    expect(r.status).toBe(1);
  });

  it('a module that is not loaded fails its check', () => {
    const plan = shippedPlan('el9', 'worker');
    const h = buildHost(plan);
    const gone = join(h.root, 'sys/module/br_netfilter');
    expect(existsSync(gone)).toBe(true);
    run('rmdir', [gone]);
    const r = runScript(h, 'selfcheck.sh');
    expect(fails(r)).toEqual(['mkimage[selfcheck]: FAIL module br_netfilter is loaded']);
    expect(r.status).toBe(1);
  });

  it.each(['debian-12', 'el9'] as const)('%s: a hold listing far larger than a pipe buffer still reads as held, 50 times in a row', (family) => {
    const plan = shippedPlan(family, 'worker');
    const h = buildHost(plan, { bigHolds: true });
    // the first, a middle and the last held name of the listing (each call lists every hold plus the filler)
    const allHeld = plan.packages.filter((p) => p.hold).map((p) => p.name);
    expect(allHeld.length).toBeGreaterThan(3);
    const held = [allHeld[0]!, allHeld[Math.floor(allHeld.length / 2)]!, allHeld.at(-1)!];
    // the rendered pkg_held, under the script's own shell options, 50 rounds over every held package
    const driver = join(h.root, '..', 'held.sh');
    writeFileSync(driver, [
      'set -euo pipefail',
      `eval "$(sed -n '/^pkg_held() {/,/^}/p' ${shellQuote(h.script('selfcheck.sh'))})"`,
      'for i in $(seq 1 50); do',
      `  for n in ${held.map(shellQuote).join(' ')}; do`,
      '    pkg_held "$n" || { echo "round $i: $n is not held" >&2; exit 1; }',
      '  done',
      'done',
      'echo all held',
      '',
    ].join('\n'));
    const r = run('bash', [driver], { env: h.env });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('all held\n');
    expect(r.status).toBe(0);
  }, 120_000);

  it('docker.io with cri-dockerd 0.3.9: Docker 20.10 passes, a Docker 25+ server fails the build', () => {
    const plan = shippedPlan('debian-12', 'worker');
    plan.packages = plan.packages.filter((p) => !p.name.startsWith('docker-ce') && p.name !== 'containerd.io');
    plan.packages.unshift({ name: 'docker.io', hold: true });
    const ok = runScript(buildHost(plan, { dockerVersion: '20.10.24+dfsg1' }), 'selfcheck.sh');
    expect(ok.stdout).toContain('ok   docker server is older than 25 (cri-dockerd 0.3.9 needs Docker API < 1.44)');
    expect(ok.status).toBe(0);
    const bad = runScript(buildHost(plan, { dockerVersion: '26.1.5+dfsg1' }), 'selfcheck.sh');
    expect(fails(bad)).toEqual(['mkimage[selfcheck]: FAIL docker server is older than 25 (cri-dockerd 0.3.9 needs Docker API < 1.44)']);
    expect(bad.status).toBe(1);
  });

  it('a series pin (docker.io=20.10.*) matches the installed release as a pattern, and refuses another series', () => {
    const plan = shippedPlan('debian-12', 'worker');
    plan.packages = plan.packages.filter((p) => !p.name.startsWith('docker-ce') && p.name !== 'containerd.io');
    plan.packages.unshift({ name: 'docker.io', version: '20.10.*', hold: true });
    const ok = runScript(buildHost(plan, { dockerVersion: '20.10.24+dfsg1', installed: { 'docker.io': '20.10.24+dfsg1-1+deb12u1' } }), 'selfcheck.sh');
    expect(ok.stdout).toContain('ok   docker.io is 20.10.*');
    expect(ok.status).toBe(0);
    const bad = runScript(buildHost(plan, { dockerVersion: '20.10.24+dfsg1', installed: { 'docker.io': '26.1.5+dfsg1-9' } }), 'selfcheck.sh');
    expect(fails(bad)).toEqual(['mkimage[selfcheck]: FAIL docker.io is 20.10.*']);
    expect(bad.status).toBe(1);
  });
});

// ---- prepull.sh ------------------------------------------------------------------------------------------

/** After the bake: the packages are installed, nothing pulled; Debian's kubelet postinst has started kubelet. */
const afterBake = (opts: HostOptions = {}): HostOptions => ({ active: ['kubelet.service'], images: [], ...opts });

describe('prepull.sh on a fake build host', () => {
  const rows = BRANCHES.flatMap((family) => ROLES.map((role) => ({ family, role })));
  it.each(rows)('$family $role: starts the runtime, pulls every image, stops what a node starts; the self-check then passes', ({ family, role }) => {
    const plan = shippedPlan(family, role);
    expect(plan.images.length).toBeGreaterThan(1);
    const h = buildHost(plan, afterBake());
    const r = runScript(h, 'prepull.sh');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.endsWith('mkimage[prepull]: done\n')).toBe(true);
    expect(h.log()).toEqual([
      'systemctl start docker.service cri-docker.socket',
      ...(role === 'control-plane' ? ['kubeadm config images pull --config /tmp/mkimage/images.yaml'] : []),
      ...plan.images.flatMap((i) => [`docker image inspect ${i}`, `docker pull ${i}`]),
      // the shipped profiles start neither (the socket that the pull started may stay: it is the node's to start)
      'systemctl stop cri-docker.service kubelet.service',
    ]);
    const check = runScript(h, 'selfcheck.sh');
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });

  it('an image already in the store is not pulled again', () => {
    const plan = shippedPlan('el9', 'worker');
    const h = buildHost(plan, afterBake({ images: [plan.images[0]!] }));
    expect(runScript(h, 'prepull.sh').status).toBe(0);
    const pulls = h.log().filter((l) => l.startsWith('docker pull '));
    expect(pulls).toEqual(plan.images.slice(1).map((i) => `docker pull ${i}`));
  });

  it.each(BRANCHES)('%s: an image that cannot be pulled fails the build at that image, and nothing after it runs', (family) => {
    const plan = shippedPlan(family, 'control-plane');
    const bad = plan.images[1]!;
    const h = buildHost(plan, afterBake({ fail: `docker pull ${bad}` }));
    const r = runScript(h, 'prepull.sh');
    expect(r.status).toBe(1);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe(`mkimage[prepull]: image ${bad}`);
    expect(r.stderr).toBe('docker: FAKE failure\n');
    const log = h.log();
    expect(log.at(-1)).toBe(`docker pull ${bad}`);
    expect(log.some((l) => l.startsWith('systemctl stop'))).toBe(false);
    // and were the build to go on, the self-check would refuse the image
    const check = runScript(h, 'selfcheck.sh');
    expect(fails(check)).toContain(`mkimage[selfcheck]: FAIL image ${bad} is present`);
    expect(check.status).toBe(1);
  });

  it('a container runtime that does not start fails before any pull', () => {
    const h = buildHost(shippedPlan('debian-12', 'control-plane'), afterBake({ fail: 'systemctl start *' }));
    const r = runScript(h, 'prepull.sh');
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("mkimage[prepull]: start the container runtime\n");
    expect(h.log()).toEqual(['systemctl start docker.service cri-docker.socket']);
  });

  it('kubeadm config images pull failing fails the build (control plane)', () => {
    const h = buildHost(shippedPlan('el9', 'control-plane'), afterBake({ fail: 'kubeadm config images pull *' }));
    const r = runScript(h, 'prepull.sh');
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('kubeadm: FAKE failure\n');
    expect(h.log().some((l) => l.startsWith('docker pull'))).toBe(false);
  });
});

// ---- cleanup.sh ------------------------------------------------------------------------------------------

const HOST_KEYS = ['etc/ssh/ssh_host_ed25519_key', 'etc/ssh/ssh_host_ed25519_key.pub', 'etc/ssh/ssh_host_rsa_key', 'etc/ssh/ssh_host_rsa_key.pub'];

/** The build VM as the build leaves it before clean-up: identity, host keys, the build user, logs, staged files. */
function buildVm(h: BuildHost): void {
  const put = (path: string, body: string) => {
    mkdirSync(dirname(join(h.root, path)), { recursive: true });
    writeFileSync(join(h.root, path), body);
  };
  put('etc/passwd', `root:x:0:0:root:/root:/bin/bash\n${BUILD_USER}:x:1000:1000::/home/${BUILD_USER}:/bin/bash\n`);
  put('etc/group', `root:x:0:\n${BUILD_USER}:x:1000:\n`);
  put(`home/${BUILD_USER}/.ssh/authorized_keys`, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBuildKeyOnly packer\n');
  put(`home/${BUILD_USER}/.profile`, '# kept\n');
  for (const k of HOST_KEYS) put(k, `${k}\n`);
  put('etc/ssh/sshd_config', 'PasswordAuthentication no\n');
  put('etc/machine-id', '0123456789abcdef0123456789abcdef\n');
  put('var/lib/dbus/machine-id', '0123456789abcdef0123456789abcdef\n');
  put('etc/hostname', `${BUILD_USER}\n`);
  put('etc/hosts', `127.0.0.1 localhost\n127.0.1.1 ${BUILD_USER}\n::1 localhost ip6-localhost\n`);
  mkdirSync(join(h.root, 'etc/systemd/system'), { recursive: true });
  mkdirSync(join(h.root, 'etc/apt/apt.conf.d'), { recursive: true });
  // the staged files (rootfs/, images.yaml) and a copy of the build's bootstrap material a bake might leave
  put('tmp/mkimage/images.yaml', 'kind: ClusterConfiguration\n');
  put('tmp/mkimage/rootfs/etc/kubernetes/mkimage/bootstrap.env', 'BOOTSTRAP_TOKEN=abcdef.0123456789abcdef\n');
  // cloud-init's state from the build seed (the real `cloud-init clean` removes it)
  put('var/lib/cloud/instance/user-data.txt', '#cloud-config\n');
  put('var/lib/cloud/seed/nocloud/user-data', '#cloud-config\n');
  put('var/log/cloud-init.log', 'build boot\n');
  put('var/log/messages', 'build log\n');
  put('var/log/messages.1', 'rotated\n');
  put('var/log/dnf.log.gz', 'gz');
  put('var/log/audit/audit.log', 'audit\n');
  put('var/log/journal/0123/system.journal', 'journald owns this\n');
  put('root/.bash_history', 'sudo -i\n');
  put('var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease', 'lists\n');
  put('var/cache/apt/archives/kubelet_1.29.2-1.1_amd64.deb', 'deb\n');
  mkdirSync(join(h.root, 'var/cache/apt/archives/partial'), { recursive: true });
}

/**
 * Run cleanup.sh chrooted into the host's root, as root of a user namespace with a private mount and hostname
 * namespace (the host's /usr and /dev bound in; the fakes and their state at /fake). The hostname it leaves is
 * written to state/hostname-after.
 */
function runChrooted(h: BuildHost, name: string): RunResult {
  const inside = join(h.root, 'fake');
  const wrapper = join(h.state, '..', 'chroot.sh');
  writeFileSync(wrapper, [
    'set -eu',
    'R=$1 BASE=$2 SCRIPT=$3',
    'for d in usr dev; do mkdir -p "$R/$d"; mount --rbind "/$d" "$R/$d"; done',
    'for d in bin sbin lib lib64; do',
    '  if [ -L "/$d" ]; then ln -sfn "$(readlink "/$d")" "$R/$d"; elif [ -d "/$d" ]; then mkdir -p "$R/$d"; mount --rbind "/$d" "$R/$d"; fi',
    'done',
    'for d in bin state scripts; do mkdir -p "$R/fake/$d"; mount --bind "$BASE/$d" "$R/fake/$d"; done',
    `hostname ${BUILD_USER}`,
    'exec chroot "$R" /usr/bin/env -i PATH=/fake/bin:/usr/sbin:/usr/bin:/sbin:/bin FAKE_STATE=/fake/state "FAKE_FAIL=$FAKE_FAIL" \\',
    '  /bin/bash -c \'bash "/fake/scripts/$1"; rc=$?; hostname >/fake/state/hostname-after; exit $rc\' bash "$SCRIPT"',
    '',
  ].join('\n'));
  expect(existsSync(inside)).toBe(false);
  return run('unshare', ['-rmu', 'bash', wrapper, h.root, join(h.state, '..'), name], { env: { ...h.env, PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
}

describe('cleanup.sh on a fake build VM (chrooted, private namespaces)', () => {
  it.each(BRANCHES)('%s: leaves no identity, host key, build key, staged secret, cloud-init state, history or log text', (family) => {
    const plan = shippedPlan(family, 'worker');
    const h = buildHost(plan);
    buildVm(h);
    const r = runChrooted(h, 'cleanup.sh');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.endsWith('mkimage[cleanup]: done\n')).toBe(true);
    const at = (p: string) => join(h.root, p);
    const gone = [
      'tmp/mkimage', ...HOST_KEYS, `home/${BUILD_USER}/.ssh/authorized_keys`, 'root/.bash_history',
      'var/lib/cloud/instance', 'var/lib/cloud/seed', 'var/log/cloud-init.log', 'var/log/messages.1', 'var/log/dnf.log.gz',
    ];
    for (const p of gone) expect(existsSync(at(p)), p).toBe(false);
    // kept: what is not the build's
    expect(readFileSync(at('etc/ssh/sshd_config'), 'utf8')).toBe('PasswordAuthentication no\n');
    expect(readFileSync(at(`home/${BUILD_USER}/.profile`), 'utf8')).toBe('# kept\n');
    expect(readFileSync(at('var/log/journal/0123/system.journal'), 'utf8')).toBe('journald owns this\n');
    // a clone makes its own machine-id (empty, not absent: systemd then generates one) and dbus follows it
    expect(readFileSync(at('etc/machine-id'), 'utf8')).toBe('');
    expect(readlinkSync(at('var/lib/dbus/machine-id'))).toBe('/etc/machine-id');
    expect(readFileSync(at('etc/hostname'), 'utf8')).toBe('');
    expect(readFileSync(at('etc/hosts'), 'utf8')).toBe('127.0.0.1 localhost\n::1 localhost ip6-localhost\n');
    expect(readFileSync(join(h.state, 'hostname-after'), 'utf8')).toBe('localhost\n');
    for (const log of ['var/log/messages', 'var/log/audit/audit.log']) expect(statSync(at(log)).size, log).toBe(0);
    // the power-off unit that removes the build user
    const unit = at(`etc/systemd/system/${REMOVE_BUILD_USER_UNIT}`);
    expect(readFileSync(unit, 'utf8')).toBe(renderRemoveBuildUserUnit());
    expect(statSync(unit).mode & 0o777).toBe(0o644);
    if (family === 'el9') {
      expect(existsSync(at('var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease'))).toBe(true);
    } else {
      // the real apt-get clean emptied the package cache; the lists are gone
      expect(existsSync(at('var/cache/apt/archives/kubelet_1.29.2-1.1_amd64.deb'))).toBe(false);
      expect(readdirSync(at('var/lib/apt/lists'))).toEqual([]);
    }
    expect(h.log()).toEqual([
      ...(family === 'el9' ? ['dnf clean all'] : []),
      'systemctl daemon-reload',
      `systemctl start ${REMOVE_BUILD_USER_UNIT}`,
      'journalctl --rotate',
      'journalctl --vacuum-time=1s',
      'fstrim -av',
    ]);
    expect(lstatSync(at('tmp')).isDirectory()).toBe(true);
  });

  it('a power-off unit that does not start fails the build (the image would keep the build user)', () => {
    const h = buildHost(shippedPlan('el9', 'worker'), { fail: `systemctl start ${REMOVE_BUILD_USER_UNIT}` });
    buildVm(h);
    const r = runChrooted(h, 'cleanup.sh');
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('systemctl: FAKE failure\n');
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('mkimage[cleanup]: remove the build user at power-off');
    expect(existsSync(join(h.root, `home/${BUILD_USER}/.ssh/authorized_keys`))).toBe(true);
  });

  it('a disk without discard still cleans up (fstrim failing is said, not fatal)', () => {
    const h = buildHost(shippedPlan('debian-12', 'worker'), { fail: 'fstrim *' });
    buildVm(h);
    const r = runChrooted(h, 'cleanup.sh');
    expect(r.stdout).toContain('mkimage[cleanup]: fstrim is not supported here: free space stays as it is\nmkimage[cleanup]: done\n');
    expect(r.status).toBe(0);
  });
});
