// The Packer emitter and the --build runner. Every emitted directory goes through the real Packer 1.6.6
// (`packer validate .` with every referenced file present, `packer fmt -check`), its scripts through
// shellcheck, its seed through `cloud-init schema`, and every unit through systemd-analyze verify.

import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiagnosticError } from '../src/diagnostics.js';
import {
  BUILD_USER, hclString, packerAtLeast, renderBuildUserData, renderPackerDir, renderRemoveBuildUserUnit,
} from '../src/emit/packer.js';
import { shellQuote } from '../src/emit/script.js';
import { writeTreeAtomic } from '../src/output.js';
import type { NodePlan } from '../src/plan/types.js';
import { ensureBuildKey, generateSshKeyPair } from '../src/packer/build-key.js';
import { needsPackerInit, packerVersion, phaseOf, runPackerBuild } from '../src/packer/run.js';
import { renderRole } from '../src/pipeline.js';
import { fixturePlan } from './fixtures/plan.js';
import { FAMILIES, shippedPlan } from './helpers/shipped-plan.js';
import { startServer, type TestServer } from './helpers/http-server.js';
import { verifyUnits } from './helpers/systemd-root.js';
import { run, tool } from './helpers/tools.js';
import { scratchDirs } from './helpers/tmp.js';

function runAsync(name: string, args: string[], cwd: string): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // TMPDIR: a packer build that gives up leaves its packer_to_cdrom* dir behind
    const env = { ...process.env, CHECKPOINT_DISABLE: '1', TMPDIR: tempDir(`${name}-tmp`) };
    execFile(tool(name), args, { cwd, env, timeout: 120_000 }, (err, stdout, stderr) => {
      const status = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ status, stdout, stderr });
    });
  });
}

const TOKEN = /[a-z0-9]{6}\.[a-z0-9]{16}/;
const ZERO_SHA = '0'.repeat(64);

const realPlan = shippedPlan;

const tempDir = scratchDirs('mkimage-packer-');


let server: TestServer;

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => server.close());

let validations = 0;

/**
 * Emit with a build key (as the pipeline does), add the fetched artifacts, then `packer validate .`. Packer
 * validate downloads a "file:" checksum list: each call gets its own list on 127.0.0.1 (`checksumPath`), naming
 * the plan's image, or `listed` instead, so what a call's validate fetched is that call's alone.
 */
async function emitAndValidate(plan: NodePlan, tag: string, extraArgs: string[] = [], listed?: string) {
  const dir = tempDir(tag);
  const key = await ensureBuildKey(tempDir(`${tag}-secrets`));
  await writeTreeAtomic(dir, renderPackerDir(plan, { packerVersion: '1.6.6', buildPublicKey: key.publicKey, buildKeyFile: relative(dir, key.privateKeyFile) }));
  for (const a of plan.artifacts) writeFileSync(join(dir, 'artifacts', a.name), `dummy ${a.name}\n`);
  const image = plan.os.cloudImage.url.split('/').pop() ?? 'image.qcow2';
  const checksumPath = `/${++validations}/CHECKSUM`;
  server.route(checksumPath, (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(`${ZERO_SHA}  ${listed ?? image}\n`));
  // Asynchronously: the checksum server lives in this process, so a blocking spawnSync would deadlock.
  const validate = await runAsync('packer', [
    'validate',
    `-var=cloud_image_url=${server.url(`/${image}`)}`,
    `-var=cloud_image_checksum=file:${server.url(checksumPath)}`,
    ...extraArgs,
    '.',
  ], dir);
  return { dir, validate, checksumFetches: server.hits(checksumPath).length };
}

describe('renderPackerDir on the shipped profiles, every OS family', () => {
  const rows = FAMILIES.flatMap((family) => (['control-plane', 'worker'] as const).map((role) => ({ family, role })));

  it.each(rows)('$family $role: packer validate, packer fmt -check, shellcheck, cloud-init schema', async ({ family, role }) => {
    const plan = realPlan(family, role);
    const { dir, validate, checksumFetches } = await emitAndValidate(plan, `${family}-${role}`);
    expect(validate.stderr + validate.stdout).toBe('');
    expect(validate.status).toBe(0);
    // this validate fetched its own checksum list, so the variables really were used
    expect(checksumFetches).toBeGreaterThan(0);

    const fmt = run('packer', ['fmt', '-check', '.'], { cwd: dir });
    expect(fmt.stdout).toBe('');
    expect(fmt.status).toBe(0);

    const scripts = readdirSync(join(dir, 'scripts')).sort();
    expect(scripts).toEqual(['bake.sh', 'cleanup.sh', 'prepull.sh', 'selfcheck.sh']);
    const sc = run('shellcheck', ['-f', 'gcc', ...scripts.map((s) => join(dir, 'scripts', s))]);
    expect(sc.stdout).toBe('');
    expect(sc.status).toBe(0);

    const schema = run('cloud-init', ['schema', '-c', join(dir, 'seed/user-data')]);
    expect(schema.status).toBe(0);

    const hcl = readFileSync(join(dir, 'mkimage.pkr.hcl'), 'utf8');
    expect(hcl).not.toContain('required_plugins');
    expect(hcl).toContain(`default = ${hclString(plan.os.cloudImage.url)}`);
    expect(existsSync(join(dir, 'images.yaml'))).toBe(role === 'control-plane');
    // every bake file is staged at its path under rootfs/
    for (const f of plan.files.filter((x) => x.phase === 'bake')) {
      expect(readFileSync(join(dir, 'rootfs', f.path), 'utf8')).toBe(f.content);
    }
  });

  it.each(FAMILIES)('%s: every unit in the plan, and the build-user removal unit, pass systemd-analyze verify', (family) => {
    const plan = realPlan(family, 'control-plane');
    const units = plan.units.filter((u) => u.path !== undefined && u.content !== undefined).map((u) => ({ path: u.path!, content: u.content! }));
    expect(units.map((u) => u.path.split('/').pop())).toEqual(['cri-docker.service', 'cri-docker.socket', 'mkimage-firstboot.service']);
    units.push({ path: '/etc/systemd/system/mkimage-remove-build-user.service', content: renderRemoveBuildUserUnit() });
    const r = verifyUnits(units);
    expect(r.warnings).toEqual([]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

describe('renderPackerDir contents (el9 fixture)', () => {
  const plan = fixturePlan(false);
  const files = renderPackerDir(plan, { packerVersion: '1.6.6', buildPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGoldenGoldenGoldenGoldenGoldenGoldenGolden0 mkimage-build@mkimage' });
  const text = (path: string) => {
    const f = files.find((x) => x.path === path);
    if (!f) throw new Error(`${path} not emitted`);
    return String(f.content);
  };

  it.each(files.map((f) => f.path))('golden: %s', async (path) => {
    await expect(text(path)).toMatchFileSnapshot(`golden/packer/el9/${path}`);
  });

  it('is deterministic: same plan, same bytes', () => {
    const again = renderPackerDir(fixturePlan(false), { packerVersion: '1.6.6', buildPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGoldenGoldenGoldenGoldenGoldenGoldenGolden0 mkimage-build@mkimage' });
    expect(again).toEqual(files);
  });

  it('the qemu source boots the cloud image with the seed CD and the per-build key', () => {
    const hcl = text('mkimage.pkr.hcl');
    expect(hcl.split('\n')[0]).toBe('# generated by mkimage — do not edit');
    for (const line of [
      'disk_image           = true',
      'iso_url              = var.cloud_image_url',
      'iso_checksum         = var.cloud_image_checksum',
      'accelerator          = var.accelerator',
      'format               = "qcow2"',
      'disk_compression     = true',
      'cd_files             = ["./seed/user-data", "./seed/meta-data"]',
      'cd_label             = "cidata"',
      `ssh_username         = "${BUILD_USER}"`,
      'ssh_private_key_file = var.ssh_private_key_file',
      'shutdown_command     = "sudo shutdown -P now"',
      'default = "kvm"',
      'default = "../../../clusters/homelab/secrets/packer-build/id_ed25519"',
      'default = "../../../images/homelab/control-plane"',
      'disk_discard         = "unmap"',
      'disk_detect_zeroes   = "unmap"',
      // Packer 1.6.6 has no cpu_model: qemuargs replaces its default arguments for -cpu only (step_run.go)
      'qemuargs = [["-cpu", var.accelerator == "kvm" ? "host" : "max"]]',
      'default = "20G"',
      'default = 4096',
    ]) expect(hcl).toContain(line);
  });

  it('provisioners run in order: stage, bake, pre-pull, self-check, clean-up', () => {
    const hcl = text('mkimage.pkr.hcl');
    const order = ['"./artifacts"', '"./rootfs"', '"./images.yaml"', 'scripts/bake.sh', 'scripts/prepull.sh', 'scripts/selfcheck.sh', 'scripts/cleanup.sh'];
    const at = order.map((s) => hcl.indexOf(s));
    expect(at.every((i) => i > 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    expect(hcl).toContain(`execute_command = "sudo bash '{{ .Path }}'"`);
  });

  it('the bake script installs staged artifacts and files, starts nothing', () => {
    const bake = text('scripts/bake.sh');
    expect(bake).toContain('install -D -m 0755 /tmp/mkimage/artifacts/cri-dockerd /usr/bin/cri-dockerd');
    expect(bake).toContain('install -D -m 0644 -o root -g root /tmp/mkimage/rootfs/etc/docker/daemon.json /etc/docker/daemon.json');
    expect(bake).not.toMatch(/systemctl start/);
    expect(text('rootfs/usr/lib/systemd/system/cri-docker.socket')).toBe(plan.units[0]?.content);
  });

  it('the control: a checksum list that does not name the image fails the same validate', async () => {
    const { validate, checksumFetches } = await emitAndValidate(realPlan('el9', 'worker'), 'unlisted', [], 'some-other-image.qcow2');
    expect(checksumFetches).toBeGreaterThan(0);
    expect(validate.stderr + validate.stdout).toMatch(/checksum/i);
    expect(validate.status).not.toBe(0);
  });

  it('pre-pull uses a v1beta3 config with the image repository, version and CRI socket, then docker pull', () => {
    expect(text('images.yaml')).toBe(
      '# generated by mkimage — do not edit\n' +
        'apiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\nnodeRegistration:\n  criSocket: unix:///var/run/cri-dockerd.sock\n' +
        '---\napiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\nkubernetesVersion: v1.29.2\n' +
        'imageRepository: registry.aliyuncs.com/google_containers\n',
    );
    const pre = text('scripts/prepull.sh');
    expect(pre).toContain('systemctl start docker.service cri-docker.socket');
    expect(pre).toContain('kubeadm config images pull --config /tmp/mkimage/images.yaml');
    for (const img of plan.images) expect(pre).toContain(`docker image inspect ${img} >/dev/null 2>&1 || docker pull ${img}`);
    expect(pre).toContain('systemctl stop cri-docker.socket kubelet.service');
  });

  it('a profile with image.prepull false (no images) renders, with nothing to pull or check', () => {
    const bare = fixturePlan(false);
    bare.images = [];
    const out = renderPackerDir(bare, { packerVersion: '1.6.6' });
    const pre = String(out.find((f) => f.path === 'scripts/prepull.sh')?.content);
    expect(pre).not.toContain('docker pull');
    expect(String(out.find((f) => f.path === 'scripts/selfcheck.sh')?.content)).not.toContain('image_present registry');
  });

  it('the self-check covers docker, units, pins, holds, sysctls, modules, images, pki and tokens', () => {
    const check = text('scripts/selfcheck.sh');
    for (const line of [
      "check 'docker.service is active' systemctl is-active --quiet docker.service",
      "check 'docker server is 24.0.x' docker_series 24.0",
      "check 'cri-docker.socket is enabled' systemctl is-enabled --quiet cri-docker.socket",
      "check 'kubelet.service is enabled' systemctl is-enabled --quiet kubelet.service",
      "check 'kubelet.service is not active' not_active kubelet.service",
      "check 'kubelet is 1.29.2-150500.1.1' pkg_is kubelet 1.29.2-150500.1.1",
      "check 'kubelet is held' pkg_held kubelet",
      "check 'sysctl net.ipv4.ip_forward = 1' sysctl_is net.ipv4.ip_forward 1",
      "check 'module br_netfilter is loaded' module_loaded br_netfilter",
      "check 'image registry.aliyuncs.com/google_containers/pause:3.9 is present' image_present registry.aliyuncs.com/google_containers/pause:3.9",
      "check 'no file under /etc/kubernetes/pki' no_pki",
      "check 'no seed, kubeadm credentials or first-boot marker on disk' absent /etc/kubernetes/mkimage/bootstrap.env /etc/kubernetes/mkimage/kubeadm.yaml",
      "check 'no bootstrap token on disk' no_token_in /etc/kubernetes /etc/mkimage /var/lib/kubelet /var/lib/mkimage",
      'exit 1',
    ]) expect(check).toContain(line);
    expect(check).toContain("rpm -q --qf '%{VERSION}-%{RELEASE}'");
  });

  it('clean-up resets cloud-init, machine-id, host keys, logs, and removes the build user at power-off', () => {
    const clean = text('scripts/cleanup.sh');
    for (const line of [
      'cloud-init clean --logs --seed',
      'truncate -s 0 /etc/machine-id',
      'rm -f /var/lib/dbus/machine-id',
      'rm -f /etc/ssh/ssh_host_*',
      'systemctl start mkimage-remove-build-user.service',
      `ExecStop=-/usr/sbin/userdel --force --remove ${BUILD_USER}`,
      // the build hostname does not stay in the image; free space is trimmed before the qcow2 is compressed
      'truncate -s 0 /etc/hostname',
      `sed -i '/\\b${BUILD_USER}\\b/d' /etc/hosts`,
      'fstrim -av || ',
    ]) expect(clean).toContain(line);
    expect(clean.indexOf('fstrim -av')).toBeGreaterThan(clean.indexOf('logs'));
    expect(clean).toContain(renderRemoveBuildUserUnit().trimEnd());
  });

  it('the seed creates only the temporary build user, with key login', () => {
    const ud = text('seed/user-data');
    expect(ud.startsWith('#cloud-config\n')).toBe(true);
    expect(ud).toContain(`- name: ${BUILD_USER}`);
    expect(ud).toContain('ssh_pwauth: false');
    expect(ud).not.toContain(plan.admin.sshAuthorizedKeys[0]);
    expect(text('seed/meta-data')).toContain('instance-id: mkimage-build-control-plane-el9');
  });
});

describe('no secrets in the emitted directory', () => {
  it('no private key and no bootstrap token in any emitted file, for any family', () => {
    const plans = [fixturePlan(false), ...FAMILIES.map((f) => realPlan(f, 'control-plane'))];
    for (const plan of plans) {
      for (const f of renderPackerDir(plan, { packerVersion: '1.6.6' })) {
        const s = String(f.content);
        expect(s, f.path).not.toContain('PRIVATE KEY');
        expect(s, f.path).not.toMatch(TOKEN);
      }
    }
  });

  it('a boot-phase secret file never reaches the directory; a bake-phase one is refused', () => {
    const plan = fixturePlan(false);
    plan.files.push({ path: '/etc/kubernetes/pki/ca.key', mode: '0600', owner: 'root:root', content: 'SECRET-CA-KEY abcdef.0123456789abcdef\n', phase: 'boot', secret: true });
    const files = renderPackerDir(plan, { packerVersion: '1.6.6' });
    for (const f of files) expect(String(f.content)).not.toContain('SECRET-CA-KEY');
    const baked = fixturePlan(false);
    baked.files.push({ path: '/etc/kubernetes/pki/ca.key', mode: '0600', owner: 'root:root', content: 'x', phase: 'bake', secret: true });
    expect(() => renderPackerDir(baked, {})).toThrow(/never be baked/);
  });
});

describe('Packer version awareness', () => {
  it.each([
    ['1.6.6', false],
    ['1.7.0', true],
    ['1.10.2', true],
    [undefined, true],
  ] as const)('packer %s: required_plugins %s', async (version, expected) => {
    const plan = fixturePlan(false);
    const hcl = String(renderPackerDir(plan, version === undefined ? {} : { packerVersion: version }).find((f) => f.path === 'mkimage.pkr.hcl')?.content);
    expect(hcl.includes('required_plugins')).toBe(expected);
    expect(packerAtLeast(version, 1, 7)).toBe(expected);
    if (expected) expect(hcl).toMatch(/qemu = \{\n\s+source  = "github.com\/hashicorp\/qemu"/);
    // the CPU model: the qemu plugin's cpu_model (>= 1.0.9) on >= 1.7, qemuargs on 1.6.6
    expect(hcl.includes('cpu_model = var.accelerator == "kvm" ? "host" : "max"')).toBe(expected);
    expect(hcl.includes('qemuargs = [["-cpu", var.accelerator == "kvm" ? "host" : "max"]]')).toBe(!expected);
    if (expected) expect(hcl).toContain('version = ">= 1.0.9"');
    // fmt accepts both shapes
    const dir = tempDir('fmt');
    writeFileSync(join(dir, 'mkimage.pkr.hcl'), hcl);
    const fmt = run('packer', ['fmt', '-check', '.'], { cwd: dir });
    expect(fmt.status).toBe(0);
  });

  it('vsphere validates on 1.6.6; proxmox is emitted only for >= 1.7, with its plugin', async () => {
    const plan = fixturePlan(false);
    plan.image.sources = ['qemu', 'proxmox', 'vsphere'];
    const old = String(renderPackerDir(plan, { packerVersion: '1.6.6' }).find((f) => f.path === 'mkimage.pkr.hcl')?.content);
    expect(old).toContain('source "vsphere-clone" "golden"');
    expect(old).not.toContain('proxmox-clone');
    expect(old).toContain('The proxmox source is left out: it needs Packer >= 1.7');
    const modern = String(renderPackerDir(plan, { packerVersion: '1.8.0' }).find((f) => f.path === 'mkimage.pkr.hcl')?.content);
    expect(modern).toContain('source "proxmox-clone" "golden"');
    expect(modern).toContain('source  = "github.com/hashicorp/proxmox"');
    expect(modern).toContain('source  = "github.com/hashicorp/vsphere"');
    expect(modern).toContain('sources = ["source.qemu.golden", "source.proxmox-clone.golden", "source.vsphere-clone.golden"]');

    const varFile = join(tempDir('vars'), 'vsphere.pkrvars.hcl');
    writeFileSync(varFile, 'vsphere_server   = "vcenter.example.test"\nvsphere_username = "builder"\nvsphere_password = "not-a-real-password"\nvsphere_cluster  = "cluster1"\nvsphere_template = "rocky9-cloud"\n');
    const { validate } = await emitAndValidate(plan, 'vsphere', [`-var-file=${varFile}`]);
    expect(validate.stderr + validate.stdout).toBe('');
    expect(validate.status).toBe(0);
  });
});

/** Fake-build lines: like Packer, refuse an existing output directory, then write an image into it. */
const MAKES_IMAGE = [
  'if [ "$1" = build ]; then',
  '  out=$(printf %s "$*" | sed -n "s/.*-var=output_directory=\\([^ ]*\\).*/\\1/p")',
  '  [ ! -e "$out" ] || { echo "Error: output directory exists" >&2; exit 7; }',
  '  mkdir -p "$out"',
  '  echo "new image" > "$out/mkimage-control-plane-el9.qcow2"',
  'fi',
];

/** FAKE packer (records each call's argv in `calls`, runs `body`, exits `code`), with stub qemu and xorriso. */
function fakeBuildTools(code: number, body: string[], init = 'exit 0') {
  const bin = tempDir('fakebin');
  const calls = join(bin, 'calls');
  writeFileSync(join(bin, 'packer'), [
    '#!/bin/bash',
    '# FAKE packer: records its arguments; `init` and `build` behave as the test says',
    `echo "$*" >> ${shellQuote(calls)}`,
    `if [ "$1" = init ]; then ${init}; fi`,
    ...body,
    `exit ${code}`,
    '',
  ].join('\n'));
  chmodSync(join(bin, 'packer'), 0o755);
  for (const t of ['qemu-system-x86_64', 'xorriso']) {
    writeFileSync(join(bin, t), '#!/bin/sh\nexit 0\n');
    chmodSync(join(bin, t), 0o755);
  }
  return { bin, calls };
}

async function withPath<T>(bin: string, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.PATH;
  process.env.PATH = `${bin}:/usr/bin:/bin`;
  try {
    return await fn();
  } finally {
    process.env.PATH = saved;
  }
}

async function renderedDir(packerVersion: string): Promise<string> {
  const dir = join(tempDir('build'), 'packer');
  await writeTreeAtomic(dir, renderPackerDir(fixturePlan(false), { packerVersion }));
  return dir;
}

describe('--build runner', () => {
  it('packerVersion() reads `packer version`', async () => {
    expect(await packerVersion()).toBe(run('packer', ['version']).stdout.match(/v(\d+\.\d+\.\d+)/)?.[1]);
  });

  it('the build key is OpenSSH ed25519 that ssh-keygen reads back, made once (0600, dir 0700) and then kept', async () => {
    const secrets = tempDir('secrets');
    const key = await ensureBuildKey(secrets);
    expect(key.privateKeyFile).toBe(join(secrets, 'packer-build/id_ed25519'));
    expect(readFileSync(key.privateKeyFile, 'utf8').startsWith('-----BEGIN OPENSSH PRIVATE KEY-----\n')).toBe(true);
    expect(statSync(key.privateKeyFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(secrets, 'packer-build')).mode & 0o777).toBe(0o700);
    const derived = run('ssh-keygen', ['-y', '-f', key.privateKeyFile]);
    expect(derived.status).toBe(0);
    expect(derived.stdout.trim()).toBe(key.publicKey.replace(/ \S+$/, '') + ' mkimage-build@mkimage');
    expect(await ensureBuildKey(secrets)).toEqual(key);
    expect(generateSshKeyPair('x').publicKey).not.toBe(key.publicKey);
  });

  it('the build seed makes the temporary user and a hostname that resolves (manage_etc_hosts)', () => {
    const ud = renderBuildUserData('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGoldenGoldenGoldenGoldenGoldenGoldenGolden0 x');
    expect(ud).toContain('hostname: mkimage-build\nfqdn: mkimage-build.localdomain\nmanage_etc_hosts: true\n');
    const file = join(tempDir('ud'), 'user-data');
    writeFileSync(file, ud);
    expect(run('cloud-init', ['schema', '-c', file]).status).toBe(0);
  });

  it('with no packer on PATH: E016 naming the packages to install', async () => {
    const saved = process.env.PATH;
    process.env.PATH = tempDir('empty-path');
    try {
      expect(await packerVersion()).toBeUndefined();
      const err = await runPackerBuild(tempDir('nobuild'), { onLine: () => {}, outputDir: 'out' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DiagnosticError);
      const d = (err as DiagnosticError).diagnostics[0];
      expect(d?.code).toBe('E016');
      expect(d?.message).toContain('packer');
      expect(d?.message).toContain('qemu-system-x86_64');
      expect(d?.message).toContain('apt-get install packer qemu-system-x86 qemu-utils');
      expect(d?.message).toContain('dnf install');
    } finally {
      process.env.PATH = saved;
    }
  });

  it('streams output prefixed by phase and passes the exit code through (fake packer and qemu)', async () => {
    const t = fakeBuildTools(3, [
      "echo '==> qemu.golden: Waiting for SSH to become available...'",
      "echo '==> qemu.golden: Uploading ./artifacts => /tmp/mkimage'",
      "echo '==> qemu.golden: Provisioning with shell script: ./scripts/bake.sh'",
      "echo '    qemu.golden: mkimage[bake]: packages'",
      "echo '==> qemu.golden: Provisioning with shell script: ./scripts/selfcheck.sh'",
      "echo '    qemu.golden: mkimage[selfcheck]: FAIL kubelet.service is not active' >&2",
    ]);
    const dir = await renderedDir('1.6.6');
    const lines: string[] = [];
    const code = await withPath(t.bin, () => runPackerBuild(dir, { onLine: (l) => lines.push(l), outputDir: join(dir, '../images/cp') }));
    expect(code).toBe(3);
    const calls = readFileSync(t.calls, 'utf8').trim().split('\n');
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatch(/^build -color=false -var=qemu_binary=\S+\/qemu-system-x86_64 -var=output_directory=\S+\/images\/cp\.building .*\.$/);
    const streamed = lines.filter((l) => !l.includes('/dev/kvm'));
    expect(streamed).toEqual([
      '[build] ==> qemu.golden: Waiting for SSH to become available...',
      '[upload] ==> qemu.golden: Uploading ./artifacts => /tmp/mkimage',
      '[bake] ==> qemu.golden: Provisioning with shell script: ./scripts/bake.sh',
      '[bake]     qemu.golden: mkimage[bake]: packages',
      '[selfcheck] ==> qemu.golden: Provisioning with shell script: ./scripts/selfcheck.sh',
      '[selfcheck]     qemu.golden: mkimage[selfcheck]: FAIL kubelet.service is not active',
    ]);
  });

  // Debian's Packer 1.6.6 has no `packer init` (it rejects it), so the >= 1.7 sequence is checked with a FAKE
  // packer on PATH that records every invocation.
  it('Packer >= 1.7 (required_plugins): runs `packer init .` before `packer build`; 1.6.6: build only', async () => {
    for (const [version, expected] of [['1.10.2', ['init .', 'build']], ['1.6.6', ['build']]] as const) {
      const t = fakeBuildTools(0, MAKES_IMAGE);
      const dir = await renderedDir(version);
      expect(needsPackerInit(dir)).toBe(version !== '1.6.6');
      const code = await withPath(t.bin, () => runPackerBuild(dir, { onLine: () => {}, outputDir: join(dir, '../images/cp') }));
      expect(code, version).toBe(0);
      const calls = readFileSync(t.calls, 'utf8').trim().split('\n').map((c) => (c.startsWith('build ') ? 'build' : c));
      expect(calls, version).toEqual(expected);
    }
  });

  it('a failed `packer init` stops before the build, with its exit code', async () => {
    const t = fakeBuildTools(0, [], 'echo "Error: Failed to install plugin" >&2; exit 1');
    const dir = await renderedDir('1.10.2');
    const code = await withPath(t.bin, () => runPackerBuild(dir, { onLine: () => {}, outputDir: join(dir, '../images/cp') }));
    expect(code).toBe(1);
    expect(readFileSync(t.calls, 'utf8').trim()).toBe('init .');
  });

  it('a successful build replaces the image directory; a failed one keeps the old image and leaves no partial one', async () => {
    const dir = await renderedDir('1.6.6');
    const images = join(dir, '../images/cp');
    mkdirSync(images, { recursive: true });
    writeFileSync(join(images, 'mkimage-control-plane-el9.qcow2'), 'old image');
    // the fake build writes a new image into the output directory it was given, then fails or succeeds
    const writes = MAKES_IMAGE;
    const failing = fakeBuildTools(2, writes);
    expect(await withPath(failing.bin, () => runPackerBuild(dir, { onLine: () => {}, outputDir: images }))).toBe(2);
    expect(readFileSync(join(images, 'mkimage-control-plane-el9.qcow2'), 'utf8')).toBe('old image');
    expect(readdirSync(join(dir, '../images'))).toEqual(['cp']);
    const ok = fakeBuildTools(0, writes);
    expect(await withPath(ok.bin, () => runPackerBuild(dir, { onLine: () => {}, outputDir: images }))).toBe(0);
    expect(readFileSync(join(images, 'mkimage-control-plane-el9.qcow2'), 'utf8')).toBe('new image\n');
    expect(readdirSync(join(dir, '../images'))).toEqual(['cp']);
  });

  it('phaseOf keeps the current phase until a marker line', () => {
    expect(phaseOf('==> qemu.golden: Provisioning with shell script: ./scripts/cleanup.sh', 'x')).toBe('cleanup');
    expect(phaseOf('    qemu.golden: anything', 'bake')).toBe('bake');
    expect(phaseOf('==> qemu.golden: Converting hard drive...', 'cleanup')).toBe('export');
  });
});

describe('a freshly rendered out/<role>/packer (the pipeline, embedded profiles)', () => {
  it.each(['control-plane', 'worker'])('%s: `packer validate -var cloud_image_checksum=none .` passes with no file added by hand', async (role) => {
    const cwd = tempDir('fresh');
    const r = await renderRole({ role, cwd, packerVersion: '1.6.6' });
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const dir = join(cwd, 'out', role, 'packer');
    // `none` (Packer warns that a checksum is recommended) and a sha256 value both work offline
    const none = await runAsync('packer', ['validate', '-var', 'cloud_image_checksum=none', '.'], dir);
    expect(none.stderr + none.stdout).not.toMatch(/error/i);
    expect(none.status).toBe(0);
    const pinned = await runAsync('packer', ['validate', '-var', `cloud_image_checksum=sha256:${ZERO_SHA}`, '.'], dir);
    expect(pinned.stderr + pinned.stdout).toBe('');
    expect(pinned.status).toBe(0);
    // the key it names is the cluster's, beside the secrets, by a relative path; the private half is not under out/
    const hcl = readFileSync(join(dir, 'mkimage.pkr.hcl'), 'utf8');
    expect(hcl).toContain('default = "../../../clusters/homelab/secrets/packer-build/id_ed25519"');
    expect(hcl).toContain(`default = "../../../images/homelab/${role}"`);
    const pub = readFileSync(join(cwd, 'clusters/homelab/secrets/packer-build/id_ed25519.pub'), 'utf8').trim();
    expect(readFileSync(join(dir, 'seed/user-data'), 'utf8')).toContain(pub);
    expect(run('cloud-init', ['schema', '-c', join(dir, 'seed/user-data')]).status).toBe(0);
  });

  it('a re-render keeps the built image, and is byte-identical', async () => {
    const cwd = tempDir('rerender');
    await renderRole({ role: 'worker', cwd, packerVersion: '1.6.6' });
    const dir = join(cwd, 'out/worker/packer');
    const hcl = readFileSync(join(dir, 'mkimage.pkr.hcl'), 'utf8');
    const outputDir = /variable "output_directory" \{\n\s+type\s+= string\n\s+default = "([^"]+)"/.exec(hcl)?.[1];
    expect(outputDir).toBe('../../../images/homelab/worker');
    const image = join(dir, outputDir!, 'mkimage-worker-el9.qcow2');
    mkdirSync(join(image, '..'), { recursive: true });
    writeFileSync(image, 'a built image');
    const before = readdirSync(dir, { recursive: true }).sort().map((f) => [f, existsSync(join(dir, String(f))) && statSync(join(dir, String(f))).isFile() ? readFileSync(join(dir, String(f)), 'latin1') : 'dir']);
    await renderRole({ role: 'worker', cwd, packerVersion: '1.6.6' });
    expect(readFileSync(image, 'utf8')).toBe('a built image');
    const after = readdirSync(dir, { recursive: true }).sort().map((f) => [f, existsSync(join(dir, String(f))) && statSync(join(dir, String(f))).isFile() ? readFileSync(join(dir, String(f)), 'latin1') : 'dir']);
    expect(after).toEqual(before);
  });
});

describe('the qemu command the real Packer 1.6.6 runs (qemu itself is a FAKE that records its argv)', () => {
  it('has -cpu max under tcg, discard/detect-zeroes unmap, and still every default argument', async () => {
    const cwd = tempDir('qemuargs');
    await renderRole({ role: 'worker', cwd, packerVersion: '1.6.6' });
    const base = join(cwd, 'base.qcow2');
    expect(run('qemu-img', ['create', '-f', 'qcow2', base, '64M']).status).toBe(0);
    const argsFile = join(cwd, 'qemu-args');
    const fake = join(cwd, 'fake-qemu');
    // answers -version with the real qemu's (Packer parses it), records the VM command line, then idles
    writeFileSync(fake, [
      '#!/bin/bash',
      `if [ "$1" = -version ]; then exec ${shellQuote(tool('qemu-system-x86_64'))} -version; fi`,
      `printf '%s\\n' "$@" > ${shellQuote(argsFile)}`,
      'sleep 30',
      '',
    ].join('\n'), { mode: 0o755 });
    const r = await runAsync('packer', [
      'build', '-color=false', `-var=qemu_binary=${fake}`, '-var=accelerator=tcg', `-var=cloud_image_url=file://${base}`,
      '-var=cloud_image_checksum=none', '-var=ssh_timeout=5s', `-var=output_directory=${join(cwd, 'img.building')}`, '.',
    ], join(cwd, 'out/worker/packer'));
    expect(r.status).not.toBe(0); // no VM behind the fake: Packer gives up, after starting it
    const args = readFileSync(argsFile, 'utf8').trim().split('\n');
    const value = (flag: string) => args.filter((_, i) => args[i - 1] === flag);
    expect(value('-cpu')).toEqual(['max']);
    expect(value('-machine')).toEqual(['type=pc,accel=tcg']);
    expect(value('-boot')).toEqual(['c']);
    expect(value('-m')).toEqual(['4096M']);
    expect(value('-netdev')[0]).toMatch(/^user,id=user\.0,hostfwd=tcp::\d+-:22$/);
    expect(value('-drive')[0]).toMatch(/^file=.*\/mkimage-worker-el9\.qcow2,if=virtio,.*discard=unmap,.*detect-zeroes=unmap$/);
    expect(value('-drive')[1]).toMatch(/media=cdrom$/); // the cidata seed from cd_files
  }, 180_000);
});
