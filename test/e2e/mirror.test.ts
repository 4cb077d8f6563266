// The e2e mirror (test/e2e/mirror) against real consumers: apt-get reads its signed repository and resolves the
// stand-in packages; the fake kubeadm from the package takes mkimage's own rendered configs and refuses a wrong
// kind; the stand-in cri-dockerd is a real Go binary in the upstream tarball shape and behaves like 0.3.9 where the
// test bed touches it; skopeo finds every stand-in image in Debian's docker-registry; stop() frees the ports.

import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parseAllDocuments } from 'yaml';
import { bootstrapBootFiles } from '../../src/cluster/bootstrap-files.js';
import { initConfig, joinConfig, imagesConfig } from '../../src/cluster/kubeadm.js';
import { firstbootScript } from '../../src/firstboot/files.js';
import { loadSecrets, type ClusterSecrets } from '../../src/cluster/secrets.js';
import type { NodePlan } from '../../src/plan/types.js';
import { fixturePlan } from '../fixtures/plan.js';
import { FIXTURE_SECRETS, privateSecretsCopy } from '../helpers/secrets.js';
import { systemdRoot } from '../helpers/systemd-root.js';
import { buildAptRepo, IMAGES, KUBERNETES_REPO_PATH, standInImage, startMirror, type Mirror } from './mirror/index.js';

const TOKEN_RE = /[a-z0-9]{6}\.[a-z0-9]{16}/;

let m: Mirror;
let tmp: string;
let secrets: ClusterSecrets;

function sh(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: opts.env ?? process.env, cwd: opts.cwd, input: opts.input, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function need(cmd: string, pkg: string) {
  const r = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', cmd]);
  if (r.status !== 0) throw new Error(`"${cmd}" is not installed: apt-get install ${pkg} (.ci/run installs it)`);
}

/** The same, without blocking the event loop: for every command that talks to the mirror's HTTP server, which
 * runs in this process. */
function shAsync(cmd: string, args: string[], opts: { cwd?: string; input?: string } = {}): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.once('error', rej);
    child.once('close', (code) => res({ status: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  for (const [c, p] of [['apt-get', 'apt'], ['skopeo', 'skopeo'], ['python3', 'python3'], ['systemd-socket-activate', 'systemd']] as const) need(c, p);
  tmp = mkdtempSync(join(tmpdir(), 'mkimage-mirror-test-'));
  secrets = await loadSecrets(await privateSecretsCopy(FIXTURE_SECRETS, join(tmp, 'secrets')));
  m = await startMirror({ log: (l) => process.stderr.write(`${l}\n`) });
  process.stderr.write(`mirror timings: ${JSON.stringify(m.timings)}\n`);
}, 600_000);

afterAll(async () => {
  await m?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** What a Debian 12 cloud image has installed of what the stand-ins depend on (the dpkg status apt resolves against). */
const CLOUD_IMAGE_STATUS = [
  ['python3', '3.11.2-1+b1'],
  ['python3-yaml', '6.0-3+b2'],
  ['iproute2', '6.1.0-3'],
  ['mount', '2.38.1-5+deb12u1'],
  ['util-linux', '2.38.1-5+deb12u1'],
]
  .map(([p, v]) => `Package: ${p}\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nVersion: ${v}\nDescription: ${p}\n`)
  .join('\n');

/** An apt configuration of its own (sources, keyring, lists, cache, dpkg status) reading only the mirror. */
function isolatedApt(mirror: Mirror, name: string) {
  const root = join(tmp, name);
  for (const d of ['etc/sources.list.d', 'etc/preferences.d', 'etc/apt.conf.d', 'etc/trusted.gpg.d', 'keyrings', 'state/lists/partial', 'cache/archives/partial']) {
    mkdirSync(join(root, d), { recursive: true });
  }
  const keyring = join(root, 'keyrings', 'kubernetes.gpg');
  const { url } = mirror.kubernetesRepo('127.0.0.1');
  writeFileSync(join(root, 'etc', 'sources.list'), `deb [signed-by=${keyring}] ${url} /\n`);
  writeFileSync(join(root, 'status'), CLOUD_IMAGE_STATUS);
  const opts = [
    `Dir::Etc::SourceList=${join(root, 'etc', 'sources.list')}`,
    `Dir::Etc::SourceParts=${join(root, 'etc', 'sources.list.d')}`,
    `Dir::Etc::Preferences=${join(root, 'etc', 'preferences')}`,
    `Dir::Etc::PreferencesParts=${join(root, 'etc', 'preferences.d')}`,
    `Dir::Etc::Parts=${join(root, 'etc', 'apt.conf.d')}`,
    `Dir::Etc::TrustedParts=${join(root, 'etc', 'trusted.gpg.d')}`,
    `Dir::State=${join(root, 'state')}`,
    `Dir::State::status=${join(root, 'status')}`,
    `Dir::Cache=${join(root, 'cache')}`,
    'APT::Sandbox::User=root',
    'Acquire::Languages=none',
  ].flatMap((o) => ['-o', o]);
  return {
    root,
    keyring,
    apt: (tool: 'apt-get' | 'apt-cache', ...args: string[]) => shAsync(tool, [...opts, ...args], { cwd: root }),
  };
}

async function fetchKeyring(mirror: Mirror, keyring: string) {
  const key = await fetch(mirror.kubernetesRepo('127.0.0.1').gpgkey);
  expect(key.status).toBe(200);
  const armoured = await key.text();
  expect(armoured).toMatch(/^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
  // what the product's repo step does: curl URL | gpg --dearmor -o KEYRING
  const r = sh('gpg', ['--batch', '--yes', '--dearmor', '-o', keyring], { input: armoured });
  expect(r.status, r.stderr).toBe(0);
}

describe('the apt repository (pkgs.k8s.io shape)', () => {
  it('apt-get update verifies its signature with the served Release.key and resolves every stand-in package', async () => {
    const a = isolatedApt(m, 'apt');
    await fetchKeyring(m, a.keyring);
    const update = await a.apt('apt-get', 'update');
    expect(update.status, update.stdout + update.stderr).toBe(0);
    expect(update.stdout + update.stderr).not.toMatch(/^(W|E):/m);
    expect(m.requests()).toContain(`${KUBERNETES_REPO_PATH}InRelease`);

    const policy = await a.apt('apt-cache', 'policy', 'kubeadm', 'kubelet', 'kubectl', 'cri-tools', 'kubernetes-cni');
    expect(policy.status).toBe(0);
    for (const [name, version] of [['kubeadm', '1.29.2-1.1'], ['kubelet', '1.29.2-1.1'], ['kubectl', '1.29.2-1.1'], ['cri-tools', '1.29.0-1.1'], ['kubernetes-cni', '1.3.0-1.1']] as const) {
      expect(policy.stdout).toMatch(new RegExp(`^${name}:\\n  Installed: \\(none\\)\\n  Candidate: ${version.replace(/\./g, '\\.')}\\n`, 'm'));
    }
    expect(policy.stdout).toContain(`500 ${m.kubernetesRepo('127.0.0.1').url.replace(/\/$/, '')}  Packages`);

    // the install the bake does, simulated: kubeadm pulls in the other four through the upstream Depends
    const sim = await a.apt('apt-get', '-s', '--no-install-recommends', 'install', 'kubeadm=1.29.2-1.1', 'kubelet=1.29.2-1.1', 'kubectl=1.29.2-1.1');
    expect(sim.status, sim.stdout + sim.stderr).toBe(0);
    const inst = [...sim.stdout.matchAll(/^Inst (\S+) \((\S+) /gm)].map((x) => `${x[1]}=${x[2]}`).sort();
    expect(inst).toEqual(['cri-tools=1.29.0-1.1', 'kubeadm=1.29.2-1.1', 'kubectl=1.29.2-1.1', 'kubelet=1.29.2-1.1', 'kubernetes-cni=1.3.0-1.1']);

    const dl = await a.apt('apt-get', 'download', 'kubeadm=1.29.2-1.1');
    expect(dl.status, dl.stderr).toBe(0);
    const deb = join(a.root, 'kubeadm_1.29.2-1.1_amd64.deb');
    expect(sh('dpkg-deb', ['-f', deb, 'Depends']).stdout.trim()).toBe(
      'kubelet (>= 1.19.0), kubectl (>= 1.19.0), kubernetes-cni (>= 1.2.0), cri-tools (>= 1.28.0), python3, python3-yaml',
    );
    expect(sh('dpkg-deb', ['-f', deb, 'Description']).stdout).toContain('STAND-IN');
  });

  it('packages hold the upstream paths and units, and start nothing', () => {
    const list = (name: string) => {
      const file = readdirSync(join(m.aptRepoDir, 'amd64')).find((f) => f.startsWith(`${name}_`))!;
      const deb = join(m.aptRepoDir, 'amd64', file);
      return { deb, files: sh('dpkg-deb', ['-c', deb]).stdout, control: sh('dpkg-deb', ['-I', deb]).stdout };
    };
    const kubelet = list('kubelet');
    expect(kubelet.files).toMatch(/-rwxr-xr-x root\/root .* \.\/usr\/bin\/kubelet$/m);
    expect(kubelet.files).toMatch(/-rw-r--r-- root\/root .* \.\/usr\/lib\/systemd\/system\/kubelet\.service$/m);
    expect(kubelet.files).toMatch(/\.\/etc\/default\/kubelet$/m);
    expect(kubelet.control).toMatch(/Depends: kubernetes-cni \(>= 1\.2\.0\)/);
    const kubeadm = list('kubeadm');
    expect(kubeadm.files).toMatch(/\.\/usr\/lib\/systemd\/system\/kubelet\.service\.d\/10-kubeadm\.conf$/m);
    for (const p of ['kubelet', 'kubeadm', 'kubectl', 'cri-tools', 'kubernetes-cni']) {
      // no maintainer scripts: nothing is enabled or started by the install
      expect(list(p).control, p).not.toMatch(/\b(postinst|preinst|prerm|postrm)\b/);
    }
    const x = join(tmp, 'x-kubeadm');
    expect(sh('dpkg-deb', ['-x', kubeadm.deb, x]).status).toBe(0);
    expect(readFileSync(join(x, 'usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf'), 'utf8')).toContain(
      'ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS',
    );
  });

  it('ships a kubelet unit and kubeadm drop-in that systemd-analyze verify accepts together', () => {
    const unit = readFileSync(packaged('kubelet', 'usr/lib/systemd/system/kubelet.service'), 'utf8');
    const dropIn = readFileSync(packaged('kubeadm', 'usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf'), 'utf8');
    const verify = (drop: string) => {
      const { root, unitPaths } = systemdRoot([
        { path: '/usr/lib/systemd/system/kubelet.service', content: unit },
        { path: '/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf', content: drop },
      ]);
      try {
        const r = sh('systemd-analyze', ['verify', '--man=no', '--generators=no', `--root=${root}`, unitPaths[0]!]);
        return { status: r.status, stderr: r.stderr, warnings: r.stderr.split('\n').filter((l) => /^\S+:\d+:/.test(l)) };
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    };
    const ok = verify(dropIn);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.warnings).toEqual([]);
    // the drop-in is read: a bad line in it is reported
    expect(verify(`${dropIn}NoSuchDirective=1\n`).warnings.join('\n')).toMatch(/10-kubeadm\.conf:\d+: Unknown key 'NoSuchDirective'/);
  });

  it('builds byte-identical packages from the same inputs', () => {
    const other = mkdtempSync(join(tmp, 'cache-'));
    const again = buildAptRepo([], other);
    expect(again.cached).toBe(false);
    for (const f of readdirSync(join(m.aptRepoDir, 'amd64'))) {
      expect(sha256(readFileSync(join(again.dir, 'amd64', f))), f).toBe(sha256(readFileSync(join(m.aptRepoDir, 'amd64', f))));
    }
    expect(readFileSync(join(again.dir, 'Packages'), 'utf8')).toBe(readFileSync(join(m.aptRepoDir, 'Packages'), 'utf8'));
  });
});

/** Extract one packaged fake into tmp and return its path. */
function packaged(pkg: string, path: string): string {
  const dir = join(tmp, `pkg-${pkg}`);
  if (!existsSync(dir)) {
    const file = readdirSync(join(m.aptRepoDir, 'amd64')).find((f) => f.startsWith(`${pkg}_`))!;
    expect(sh('dpkg-deb', ['-x', join(m.aptRepoDir, 'amd64', file), dir]).status).toBe(0);
  }
  return join(dir, path);
}

/** A stand-in Docker Engine API on a unix socket: GET /version only (no Docker on the test machine). */
async function fakeDockerApi(path: string, version: string, apiVersion: string) {
  const server = createHttpServer((req, res) => {
    if (req.url === '/version' || /^\/v[\d.]+\/version$/.test(req.url ?? '')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ Version: version, ApiVersion: apiVersion, MinAPIVersion: '1.12', Os: 'linux', Arch: 'amd64' }));
    } else res.writeHead(404).end('{"message":"page not found"}');
  });
  await new Promise<void>((r) => server.listen(path, r));
  return { close: () => new Promise<void>((r) => server.close(() => r())) };
}

function startProcess(cmd: string, args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (output += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (output += s));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, output: () => output, exited };
}

async function until(what: string, cond: () => boolean, ms = 15_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface NodeRoot {
  root: string;
  /** env for the packaged fakes run against this root */
  env: NodeJS.ProcessEnv;
  close(): Promise<void>;
}

/**
 * A node's root for the fakes: /proc stand-ins (ip_forward on, no swap), a stand-in Docker API, and the real Go
 * stand-in cri-dockerd listening on ROOT/var/run/cri-dockerd.sock; `docker pull` for the fake kubeadm asks the
 * mirror's registry through skopeo (no Docker on the test machine).
 */
async function nodeRoot(): Promise<NodeRoot> {
  const root = mkdtempSync(join(tmpdir(), 'mk-root-'));
  const proc = join(root, 'proc-standin');
  mkdirSync(join(proc, 'sys/net/ipv4'), { recursive: true });
  writeFileSync(join(proc, 'sys/net/ipv4/ip_forward'), '1\n');
  writeFileSync(join(proc, 'swaps'), 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n');
  mkdirSync(join(root, 'etc/kubernetes/pki'), { recursive: true });
  mkdirSync(join(root, 'var/run'), { recursive: true });
  const docker = await fakeDockerApi(join(root, 'var/run/docker.sock'), '20.10.24+dfsg1', '1.41');
  const cri = startProcess(m.criDockerd.binaryPath, [
    '--container-runtime-endpoint', `unix://${root}/var/run/cri-dockerd.sock`, `--docker-endpoint=unix://${root}/var/run/docker.sock`,
    '--network-plugin=cni', `--pod-infra-container-image=${m.registry('127.0.0.1')}/google_containers/pause:3.9`,
  ], process.env);
  await until('cri-dockerd to listen', () => existsSync(join(root, 'var/run/cri-dockerd.sock')));
  const shim = join(root, 'docker-pull-shim');
  writeFileSync(shim, '#!/bin/sh\n[ "$1" = pull ] || exit 2\nexec skopeo inspect --tls-verify=false "docker://$2" >/dev/null\n', { mode: 0o755 });
  return {
    root,
    env: { ...process.env, FAKE_KUBEADM_ROOT: root, FAKE_KUBEADM_PROC: proc, FAKE_KUBEADM_DOCKER: shim, FAKE_KUBECTL_ROOT: root },
    close: async () => {
      cri.child.kill('SIGTERM');
      await cri.exited;
      await docker.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

describe('the fake kubeadm (from the kubeadm package)', () => {
  let node: NodeRoot;
  let root: string;
  let env: NodeJS.ProcessEnv;
  const plan = (): NodePlan => {
    const p = fixturePlan(true);
    p.cluster.imageRepository = `${m.registry('127.0.0.1')}/google_containers`;
    return p;
  };
  const kubeadm = (...args: string[]) => sh(packaged('kubeadm', 'usr/bin/kubeadm'), args, { env });

  beforeAll(async () => {
    node = await nodeRoot();
    root = node.root;
    env = node.env;
    // the seeded CA, as a control plane's seed has it
    writeFileSync(join(root, 'etc/kubernetes/pki/ca.crt'), secrets.ca.cert);
    writeFileSync(join(root, 'etc/kubernetes/pki/ca.key'), secrets.ca.key, { mode: 0o600 });
  }, 60_000);

  afterAll(async () => {
    await node?.close();
  });

  it('prints its version like kubeadm 1.29.2, for a non-root user too (nothing to record then)', () => {
    expect(kubeadm('version', '-o', 'short').stdout).toBe('v1.29.2\n');
    const pub = mkdtempSync(join(tmpdir(), 'mk-pub-'));
    try {
      chmodSync(pub, 0o755);
      for (const [pkg, b] of [['kubeadm', 'kubeadm'], ['kubectl', 'kubectl']] as const) {
        writeFileSync(join(pub, b), readFileSync(packaged(pkg, `usr/bin/${b}`)), { mode: 0o755 });
      }
      const asNobody = (b: string, ...args: string[]) =>
        sh('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', join(pub, b), ...args], { env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent' } });
      const v = asNobody('kubeadm', 'version', '-o', 'short');
      expect([v.status, v.stdout, v.stderr]).toEqual([0, 'v1.29.2\n', '']);
      const c = asNobody('kubectl', 'version', '--client');
      expect([c.status, c.stderr]).toEqual([0, '']);
    } finally {
      rmSync(pub, { recursive: true, force: true });
    }
  });

  it('lists and pulls the images kubeadm 1.29.2 would, from mkimage\'s images config (every one exists in the registry)', () => {
    const cfg = join(root, 'images.yaml');
    writeFileSync(cfg, imagesConfig(plan()));
    const r = m.registry('127.0.0.1');
    const list = kubeadm('config', 'images', 'list', '--config', cfg);
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout.trim().split('\n')).toEqual([
      `${r}/google_containers/kube-apiserver:v1.29.2`,
      `${r}/google_containers/kube-controller-manager:v1.29.2`,
      `${r}/google_containers/kube-scheduler:v1.29.2`,
      `${r}/google_containers/kube-proxy:v1.29.2`,
      `${r}/google_containers/coredns:v1.11.1`,
      `${r}/google_containers/pause:3.9`,
      `${r}/google_containers/etcd:3.5.10-0`,
    ]);
    const pull = kubeadm('config', 'images', 'pull', '--config', cfg);
    expect(pull.status, pull.stderr).toBe(0);
    expect(pull.stdout.match(/^\[config\/images\] Pulled /gm)).toHaveLength(7);
    // like the real one, the pull needs the CRI socket to answer (cri-dockerd must be up while baking)
    const dead = plan();
    dead.cluster.criSocket = 'unix:///var/run/nobody.sock';
    writeFileSync(cfg, imagesConfig(dead));
    const noCri = kubeadm('config', 'images', 'pull', '--config', cfg);
    expect(noCri.status).toBe(1);
    expect(noCri.stderr).toContain('failed to create new CRI image service');
    // the default repository keeps coredns' nested path
    expect(kubeadm('config', 'images', 'list', '--kubernetes-version', 'v1.29.2').stdout).toContain('registry.k8s.io/coredns/coredns:v1.11.1\n');
  });

  it('init takes mkimage\'s rendered init config and leaves what kubeadm leaves', () => {
    const p = plan();
    const cfg = join(root, 'init.yaml');
    const text = initConfig(p, secrets);
    writeFileSync(cfg, text);
    const r = kubeadm('init', '--config', cfg, '--skip-token-print');
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain('[certs] Using existing ca certificate authority');
    expect(r.stdout).toContain('Your Kubernetes control-plane has initialized successfully!');
    expect(r.stdout).not.toContain(secrets.token.secret);
    expect(r.stderr).not.toMatch(/unknown field/);
    const k8s = join(root, 'etc/kubernetes');
    for (const f of ['admin.conf', 'super-admin.conf', 'kubelet.conf', 'controller-manager.conf', 'scheduler.conf']) {
      expect(statSync(join(k8s, f)).mode & 0o777, f).toBe(0o600);
    }
    const admin = parseAllDocuments(readFileSync(join(k8s, 'admin.conf'), 'utf8'))[0]!.toJS();
    expect(admin.clusters[0].cluster.server).toBe(`https://${p.cluster.controlPlaneEndpoint}`.replace(/^(https:\/\/[^:]+)$/, '$1:6443'));
    expect(Buffer.from(admin.clusters[0].cluster['certificate-authority-data'], 'base64').toString()).toBe(secrets.ca.cert);
    const scheduler = parseAllDocuments(readFileSync(join(k8s, 'scheduler.conf'), 'utf8'))[0]!.toJS();
    expect(scheduler.clusters[0].cluster.server).toBe(`https://${p.node!.ip}:6443`);
    for (const c of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) {
      const pod = parseAllDocuments(readFileSync(join(k8s, 'manifests', `${c}.yaml`), 'utf8'))[0]!.toJS();
      expect(pod.kind).toBe('Pod');
      expect(pod.spec.containers[0].image).toMatch(new RegExp(`^${m.registry('127.0.0.1')}/google_containers/${c}:`));
    }
    const kubelet = parseAllDocuments(readFileSync(join(root, 'var/lib/kubelet/config.yaml'), 'utf8'))[0]!.toJS();
    expect(kubelet).toMatchObject({ kind: 'KubeletConfiguration', cgroupDriver: 'systemd', clusterDomain: p.cluster.dnsDomain });
    expect(readFileSync(join(root, 'var/lib/kubelet/kubeadm-flags.env'), 'utf8')).toContain('--container-runtime-endpoint=unix:///var/run/cri-dockerd.sock');
    // recorded: the call with its exit code, and the config it was given
    const calls = readFileSync(join(root, 'var/log/fake-kubeadm.calls'), 'utf8').trim().split('\n');
    const last = calls[calls.length - 1]!;
    expect(last).toMatch(/^\d+ exit=0 kubeadm init --config \S+init\.yaml --skip-token-print$/);
    expect(readFileSync(join(root, `var/log/fake-kubeadm.${last.split(' ')[0]}.config`), 'utf8')).toBe(text);

    // a second init on the same node fails preflight like the real one, until reset
    const again = kubeadm('init', '--config', cfg, '--skip-token-print');
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('[ERROR FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml]');
    const reset = kubeadm('reset', '--force', '--cri-socket', p.cluster.criSocket);
    expect(reset.status, reset.stderr).toBe(0);
    expect(existsSync(join(k8s, 'admin.conf'))).toBe(false);
    expect(readdirSync(join(k8s, 'manifests'))).toEqual([]);
    expect(existsSync(join(k8s, 'pki/ca.crt'))).toBe(false);
    // put the seeded CA back for the tests after this one
    writeFileSync(join(k8s, 'pki/ca.crt'), secrets.ca.cert);
    writeFileSync(join(k8s, 'pki/ca.key'), secrets.ca.key, { mode: 0o600 });
  });

  it('init refuses a JoinConfiguration, an old apiVersion, and a CRI socket no runtime answers on', async () => {
    const p = plan();
    p.node = { ...p.node!, role: 'worker', bootstrap: 'join' };
    const join1 = join(root, 'join-as-init.yaml');
    writeFileSync(join1, joinConfig(p, secrets, { controlPlane: false }));
    const r = kubeadm('init', '--config', join1);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('Ignored YAML document with GroupVersionKind kubeadm.k8s.io/v1beta3, Kind=JoinConfiguration');
    expect(r.stderr).toContain('no InitConfiguration found');
    expect(existsSync(join(root, 'etc/kubernetes/admin.conf'))).toBe(false);

    const old = join(root, 'old.yaml');
    writeFileSync(old, initConfig(plan(), secrets).replaceAll('kubeadm.k8s.io/v1beta3', 'kubeadm.k8s.io/v1beta2'));
    expect(kubeadm('init', '--config', old).stderr).toContain('your configuration file uses an old API spec: "kubeadm.k8s.io/v1beta2"');

    const noCri = plan();
    noCri.cluster.criSocket = 'unix:///var/run/containerd/containerd.sock';
    const nc = join(root, 'no-cri.yaml');
    writeFileSync(nc, initConfig(noCri, secrets));
    const r2 = kubeadm('init', '--config', nc);
    expect(r2.status).toBe(1);
    expect(r2.stderr).toMatch(/\[ERROR CRI\]: container runtime is not running: .*dial unix \/var\/run\/containerd\/containerd\.sock/);

    // a socket somebody holds (systemd's cri-docker.socket) while no runtime ever takes the connection
    const held = startProcess('python3', ['-c', [
      'import socket,time', 's=socket.socket(socket.AF_UNIX,socket.SOCK_STREAM)', `s.bind(${JSON.stringify(join(root, 'var/run/held.sock'))})`,
      's.listen(8)', 'print("listening",flush=True)', 'time.sleep(60)',
    ].join('\n')], process.env);
    await until('the held socket', () => held.output().includes('listening'));
    const heldCfg = plan();
    heldCfg.cluster.criSocket = 'unix:///var/run/held.sock';
    writeFileSync(nc, initConfig(heldCfg, secrets));
    const r3 = sh(packaged('kubeadm', 'usr/bin/kubeadm'), ['init', '--config', nc], { env: { ...env, FAKE_KUBEADM_CRI_TIMEOUT: '1' } });
    held.child.kill('SIGKILL');
    expect(r3.status).toBe(1);
    expect(r3.stderr).toMatch(/\[ERROR CRI\]: .*dial unix \/var\/run\/held\.sock: context deadline exceeded/);
    expect(kubeadm('frobnicate').stderr).toContain('unknown command "frobnicate" for "kubeadm"');
    expect(readFileSync(join(root, 'var/log/fake-kubeadm.calls'), 'utf8')).toMatch(/exit=1 kubeadm init --config \S+join-as-init\.yaml\n/);
  });

  it('join takes mkimage\'s rendered worker config and writes kubelet.conf and pki/ca.crt', () => {
    const p = plan();
    p.node = { ...p.node!, name: 'w1', role: 'worker', bootstrap: 'join', ip: '192.168.66.21' };
    rmSync(join(root, 'etc/kubernetes/pki'), { recursive: true, force: true }); // a worker's seed has no CA files
    const cfg = join(root, 'join.yaml');
    writeFileSync(cfg, joinConfig(p, secrets, { controlPlane: false }));
    const r = kubeadm('join', '--config', cfg);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('This node has joined the cluster');
    const kubeconfig = parseAllDocuments(readFileSync(join(root, 'etc/kubernetes/kubelet.conf'), 'utf8'))[0]!.toJS();
    expect(kubeconfig.clusters[0].cluster.server).toBe(`https://${p.cluster.controlPlaneEndpoint}`);
    expect(existsSync(join(root, 'etc/kubernetes/pki/ca.crt'))).toBe(true);
    // join's partial state (kubelet.conf, pki/ca.crt) fails the next join's preflight, as on a real node
    const again = kubeadm('join', '--config', cfg);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('[ERROR FileAvailable--etc-kubernetes-kubelet.conf]');
    expect(again.stderr).toContain('[ERROR FileAvailable--etc-kubernetes-pki-ca.crt]');
    const init = join(root, 'init-as-join.yaml');
    writeFileSync(init, initConfig(plan(), secrets));
    expect(kubeadm('join', '--config', init).stderr).toContain('no JoinConfiguration found in the supplied config');
  });
});

describe('mkimage\'s first-boot script against the packaged fakes', () => {
  it('runs kubeadm init, applies the edited Calico manifest and leaves firstboot.done', async () => {
    const n = await nodeRoot();
    try {
      const p = fixturePlan(true);
      p.cluster.imageRepository = `${m.registry('127.0.0.1')}/google_containers`;
      // the node's seed, as mkimage renders it (kubeadm config, bootstrap.env, the cluster CAs)
      for (const f of bootstrapBootFiles(p, secrets)) {
        mkdirSync(dirname(join(n.root, f.path)), { recursive: true });
        writeFileSync(join(n.root, f.path), f.content, { mode: parseInt(f.mode, 8) });
      }
      mkdirSync(join(n.root, 'usr/share/mkimage'), { recursive: true });
      writeFileSync(join(n.root, 'usr/share/mkimage/calico.yaml'), readFileSync(m.calicoManifest.path));
      writeFileSync(join(n.root, 'firstboot.sh'), firstbootScript());
      const bin = join(n.root, 'fakebin');
      mkdirSync(bin);
      for (const [pkg, b] of [['kubeadm', 'kubeadm'], ['kubectl', 'kubectl']] as const) {
        writeFileSync(join(bin, b), readFileSync(packaged(pkg, `usr/bin/${b}`)), { mode: 0o755 });
      }
      const r = sh('bash', [join(n.root, 'firstboot.sh')], { env: { ...n.env, PATH: `${bin}:/usr/bin:/bin`, MKIMAGE_ROOT: n.root } });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(readFileSync(join(n.root, 'var/lib/mkimage/firstboot.done'), 'utf8')).toContain(`node: ${p.node!.name}`);
      const kubeadmCalls = readFileSync(join(n.root, 'var/log/fake-kubeadm.calls'), 'utf8');
      expect(kubeadmCalls).toMatch(/^1 exit=0 kubeadm init --config \S+\/etc\/kubernetes\/mkimage\/kubeadm\.yaml --skip-token-print$/m);
      expect(readFileSync(join(n.root, 'var/log/fake-kubeadm.1.config'), 'utf8')).toBe(initConfig(p, secrets));
      const applied = readFileSync(join(n.root, 'var/log/fake-kubectl.applied.1.yaml'), 'utf8');
      expect(applied).toContain(`            - name: CALICO_IPV4POOL_CIDR\n              value: "${p.cluster.podSubnet}"\n`);
      expect(readFileSync(join(n.root, 'var/log/fake-kubectl.calls'), 'utf8')).toMatch(/^1 exit=0 kubectl apply -f /m);
      expect(statSync(join(n.root, 'root/.kube/config')).mode & 0o777).toBe(0o600);
    } finally {
      await n.close();
    }
  });
});

describe('the fake kubectl, kubelet, crictl and CNI plugins', () => {
  it('kubectl needs a kubeconfig, applies YAML documents and keeps a copy of them', () => {
    const root = mkdtempSync(join(tmp, 'kubectl-'));
    const kubectl = packaged('kubectl', 'usr/bin/kubectl');
    const env = { ...process.env, FAKE_KUBECTL_ROOT: root, HOME: root };
    mkdirSync(join(root, 'var/log'), { recursive: true });
    const manifest = readFileSync(m.calicoManifest.path, 'utf8');
    writeFileSync(join(root, 'calico.yaml'), manifest);
    const noConfig = sh(kubectl, ['apply', '-f', join(root, 'calico.yaml')], { env });
    expect(noConfig.status).toBe(1);
    expect(noConfig.stderr).toContain('The connection to the server localhost:8080 was refused');
    writeFileSync(join(root, 'admin.conf'), 'apiVersion: v1\nkind: Config\nclusters:\n- name: k\n  cluster: {server: "https://10.0.2.15:6443"}\n');
    const ok = sh(kubectl, ['apply', '-f', join(root, 'calico.yaml')], { env: { ...env, KUBECONFIG: join(root, 'admin.conf') } });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('daemonset.apps/calico-node created');
    expect(readFileSync(join(root, 'var/log/fake-kubectl.applied.2.yaml'), 'utf8')).toBe(manifest);
    writeFileSync(join(root, 'bad.yaml'), 'kind: [unclosed\n');
    expect(sh(kubectl, ['apply', '-f', join(root, 'bad.yaml')], { env: { ...env, KUBECONFIG: join(root, 'admin.conf') } }).status).toBe(1);
    expect(sh(kubectl, ['taint', 'nodes', 'cp1', 'node-role.kubernetes.io/control-plane:NoSchedule-'], { env: { ...env, KUBECONFIG: join(root, 'admin.conf') } }).stdout).toBe('node/cp1 untainted\n');
    expect(sh(kubectl, ['version', '--client'], { env }).stdout).toMatch(/^Client Version: v1\.29\.2$/m);
    expect(readFileSync(join(root, 'var/log/fake-kubectl.calls'), 'utf8')).toMatch(/^1 exit=1 kubectl apply -f \S+\n2 exit=0 kubectl apply -f /);
  });

  it('kubelet prints its version and fails without the config kubeadm writes, like the real one', async () => {
    const kubelet = packaged('kubelet', 'usr/bin/kubelet');
    expect(sh(kubelet, ['--version']).stdout).toBe('Kubernetes v1.29.2\n');
    const root = mkdtempSync(join(tmp, 'kubelet-'));
    const env = { ...process.env, FAKE_KUBELET_ROOT: root };
    const missing = sh(kubelet, ['--config=/var/lib/kubelet/config.yaml'], { env });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('failed to load kubelet config file, path: /var/lib/kubelet/config.yaml');
    mkdirSync(join(root, 'var/lib/kubelet'), { recursive: true });
    writeFileSync(join(root, 'var/lib/kubelet/config.yaml'), 'kind: KubeletConfiguration\n');
    const p = startProcess(kubelet, ['--config=/var/lib/kubelet/config.yaml'], env);
    await until('kubelet to say it runs', () => p.output().includes('FAKE kubelet v1.29.2 running'));
    expect(p.child.exitCode).toBe(null);
    p.child.kill('SIGTERM');
    await p.exited;
  });

  it('crictl and the CNI plugins answer their version', () => {
    expect(sh(packaged('cri-tools', 'usr/bin/crictl'), ['--version']).stdout).toBe('crictl version v1.29.0\n');
    for (const b of ['bridge', 'host-local', 'loopback', 'portmap']) {
      const r = sh(packaged('kubernetes-cni', `opt/cni/bin/${b}`), [], { env: { ...process.env, CNI_COMMAND: 'VERSION' } });
      expect(JSON.parse(r.stdout).supportedVersions, b).toContain('1.0.0');
    }
  });
});

describe('the stand-in cri-dockerd', () => {
  it('is served as the upstream tarball shape, with its sha256', async () => {
    const r = await fetch(m.criDockerd.url('127.0.0.1'));
    expect(r.status).toBe(200);
    const body = Buffer.from(await r.arrayBuffer());
    expect(Number(r.headers.get('content-length'))).toBe(body.length);
    expect(sha256(body)).toBe(m.criDockerd.sha256);
    expect(m.criDockerd.url('10.0.2.2')).toBe(`http://10.0.2.2:${m.httpPort}/artifacts/cri-dockerd-0.3.9.amd64.tgz`);
    const tgz = join(tmp, m.criDockerd.fileName);
    writeFileSync(tgz, body);
    expect(sh('tar', ['-tzf', tgz]).stdout.trim().split('\n')).toEqual(['cri-dockerd/', 'cri-dockerd/cri-dockerd']);
    const x = join(tmp, 'x-cri');
    mkdirSync(x);
    expect(sh('tar', ['-xzf', tgz, '-C', x, m.criDockerd.member]).status).toBe(0);
    const bin = readFileSync(join(x, m.criDockerd.member));
    expect(sha256(bin)).toBe(m.criDockerd.binarySha256);
    expect(statSync(join(x, m.criDockerd.member)).mode & 0o777).toBe(0o755);
  });

  it('is a real static Go binary holding token-shaped strings (the self-check trap of issue 7)', () => {
    const bin = readFileSync(m.criDockerd.binaryPath);
    expect(bin.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect(bin.toString('latin1')).toContain('runtime.entersyscallblock');
    expect(bin.toString('latin1')).toMatch(TOKEN_RE);
    const info = sh('go', ['version', '-m', m.criDockerd.binaryPath]).stdout;
    expect(info).toMatch(/build\s+CGO_ENABLED=0/);
    expect(info).toMatch(/build\s+-trimpath=true/);
    expect(sh(m.criDockerd.binaryPath, ['--version']).stdout).toBe('cri-dockerd 0.3.9 (fake)\n');
    expect(sh(m.criDockerd.binaryPath, ['--no-such-flag']).status).toBe(1);
  });

  it('runs socket-activated with the unit\'s flags, logs the Docker version and notifies systemd READY=1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mk-cri-'));
    try {
      const docker = await fakeDockerApi(join(dir, 'docker.sock'), '20.10.24+dfsg1', '1.41');
      // a datagram receiver standing in for systemd's notify socket
      const notify = startProcess('python3', ['-c', [
        'import socket,sys', 's=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)', `s.bind(${JSON.stringify(join(dir, 'notify'))})`,
        'print("bound",flush=True)', 'print(s.recv(4096).decode(),flush=True)',
      ].join('\n')], process.env);
      await until('the notify socket', () => notify.output().includes('bound'));
      // systemd-socket-activate passes the listening socket as fd 3 with LISTEN_FDS/LISTEN_PID, like cri-docker.socket
      const act = startProcess('systemd-socket-activate', [
        '-l', join(dir, 'cri-dockerd.sock'), `--setenv=NOTIFY_SOCKET=${join(dir, 'notify')}`,
        m.criDockerd.binaryPath, '--container-runtime-endpoint', 'fd://', '--network-plugin=cni',
        '--pod-infra-container-image=10.0.2.2:5000/google_containers/pause:3.9', `--docker-endpoint=unix://${join(dir, 'docker.sock')}`,
      ], process.env);
      await until('the socket', () => existsSync(join(dir, 'cri-dockerd.sock')));
      // the first connection starts it (socket activation)
      const { createConnection } = await import('node:net');
      const c = createConnection(join(dir, 'cri-dockerd.sock'));
      await new Promise<void>((r) => c.once('close', () => r()).once('error', () => r()));
      await until('READY=1', () => notify.output().includes('READY=1'));
      expect(act.output()).toContain('Docker version 20.10.24+dfsg1, API version 1.41');
      expect(act.output()).toContain('Start cri-dockerd grpc backend');
      act.child.kill('SIGTERM');
      await act.exited;
      await notify.exited;
      await docker.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses Docker 25+ (API 1.44), as 0.3.9 cannot use it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mk-cri-'));
    try {
      const docker = await fakeDockerApi(join(dir, 'docker.sock'), '25.0.3', '1.44');
      const p = startProcess(m.criDockerd.binaryPath, ['--container-runtime-endpoint', `unix://${join(dir, 'cri.sock')}`, `--docker-endpoint=unix://${join(dir, 'docker.sock')}`], process.env);
      expect(await p.exited).toBe(1);
      expect(p.output()).toContain('Docker 25.0.3 (API 1.44) is not supported by cri-dockerd 0.3.9');
      expect(existsSync(join(dir, 'cri.sock'))).toBe(false);
      await docker.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the artifacts directory and the HTTP server', () => {
  it('serves the stand-in Calico manifest with the lines the first-boot script edits', async () => {
    const r = await fetch(m.calicoManifest.url('127.0.0.1'));
    expect(r.status).toBe(200);
    const text = await r.text();
    expect(sha256(text)).toBe(m.calicoManifest.sha256);
    expect(text).toContain('\n            # - name: CALICO_IPV4POOL_CIDR\n            #   value: "192.168.0.0/16"\n');
    const docs = parseAllDocuments(text).map((d) => d.toJS());
    expect(docs.find((d) => d.kind === 'DaemonSet')?.metadata.name).toBe('calico-node');
    for (const c of ['cni', 'node', 'kube-controllers']) expect(text).toContain(`image: docker.io/calico/${c}:v3.27.3\n`);
  });

  it('answers HEAD with the length and 404 for what it does not hold, and logs every path', async () => {
    const head = await fetch(`${m.kubernetesRepo('127.0.0.1').url}Packages.gz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe(statSync(join(m.aptRepoDir, 'Packages.gz')).size);
    for (const p of ['/nope', `${KUBERNETES_REPO_PATH}../../../../../etc/passwd`, `${KUBERNETES_REPO_PATH}.complete`, '/artifacts/']) {
      expect((await fetch(`${m.baseUrl('127.0.0.1')}${p}`)).status, p).toBe(404);
    }
    expect(m.requests()).toContain('/nope');
  });

  it('keeps serving while this process blocks (the server runs in its own process)', () => {
    need('curl', 'curl');
    const r = sh('curl', ['-fsS', '--max-time', '10', m.calicoManifest.url('127.0.0.1')]);
    expect(r.status, r.stderr).toBe(0);
    expect(sha256(r.stdout)).toBe(m.calicoManifest.sha256);
  });
});

describe('the registry', () => {
  it('holds every stand-in image under the names the pre-pull asks for (skopeo inspect)', () => {
    expect(m.images).toHaveLength(11);
    for (const img of m.images) {
      const r = sh('skopeo', ['inspect', '--tls-verify=false', `docker://${m.registry('127.0.0.1')}/${img}`]);
      expect(r.status, `${img}: ${r.stderr}`).toBe(0);
      const info = JSON.parse(r.stdout);
      expect(info).toMatchObject({ Architecture: 'amd64', Os: 'linux' });
      expect(info.Labels['org.mkimage.stand-in']).toMatch(/^(registry\.k8s\.io|docker\.io\/calico|ghcr\.io\/kube-vip)\//);
      expect(info.Layers).toHaveLength(1);
    }
  });

  it('clusterSettings() names images the registry holds and the mirror\'s own URLs', async () => {
    const s = m.clusterSettings('127.0.0.1');
    for (const ref of [`${s.imageRepository}/pause:3.9`, `${s.images.calico}/node:v3.27.3`, `${s.images.kubeVip}:v0.8.2`]) {
      expect(sh('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`]).status, ref).toBe(0);
    }
    expect(s.registries.insecure).toEqual([m.registry('127.0.0.1')]);
    expect((await fetch(s.repositories.kubernetes.gpgkey)).status).toBe(200);
    expect((await fetch(`${s.artifactMirrors[0]}calico.yaml`)).status).toBe(200);
    const g = m.clusterSettings('10.0.2.2');
    expect(g.imageRepository).toBe(`10.0.2.2:${m.registryPort}/google_containers`);
    expect(m.criDockerdOverride('10.0.2.2')).toEqual({ version: '0.3.9', url: m.criDockerd.url('10.0.2.2'), sha256: m.criDockerd.sha256 });
  });

  it('serves an image whose layer is the STAND-IN note, built byte-identically', async () => {
    const dir = join(tmp, 'img');
    const r = sh('skopeo', ['copy', '--src-tls-verify=false', `docker://${m.registry('127.0.0.1')}/calico/node:v3.27.3`, `dir:${dir}`]);
    expect(r.status, r.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    const layer = join(dir, manifest.layers[0].digest.replace('sha256:', ''));
    expect(sh('tar', ['-xzOf', layer, 'STAND-IN.txt']).stdout).toContain('STAND-IN for docker.io/calico/node:v3.27.3');
    // what docker pull verifies: the config's diff_id is the sha256 of the uncompressed layer
    const config = JSON.parse(readFileSync(join(dir, manifest.config.digest.replace('sha256:', '')), 'utf8'));
    expect(config.rootfs.diff_ids).toEqual([`sha256:${sha256(gunzipSync(readFileSync(layer)))}`]);
    expect(manifest.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    const img = IMAGES.find((i) => i.repo === 'calico/node')!;
    expect((await standInImage(img)).manifest.equals((await standInImage(img)).manifest)).toBe(true);
  });
});

describe('a mirror with a package and an artifact left out', () => {
  it('cannot install the left-out package, 404s the artifact, and stop() frees both ports', async () => {
    const m2 = await startMirror({ omitPackages: ['kubeadm'], omitArtifacts: ['cri-dockerd'] });
    let stopped = false;
    try {
      const a = isolatedApt(m2, 'apt-omit');
      await fetchKeyring(m2, a.keyring);
      expect((await a.apt('apt-get', 'update')).status).toBe(0);
      const sim = await a.apt('apt-get', '-s', 'install', 'kubeadm=1.29.2-1.1');
      expect(sim.status).toBe(100);
      expect(sim.stderr).toContain('Unable to locate package kubeadm');
      expect((await a.apt('apt-get', '-s', 'install', 'kubelet=1.29.2-1.1')).status).toBe(0);
      expect((await fetch(m2.criDockerd.url('127.0.0.1'))).status).toBe(404);
      expect((await fetch(m2.calicoManifest.url('127.0.0.1'))).status).toBe(200);
      await m2.stop();
      stopped = true;
      for (const port of [m2.httpPort, m2.registryPort]) {
        const s: NetServer = createNetServer();
        await new Promise<void>((res, rej) => s.once('error', rej).listen(port, '127.0.0.1', () => res()));
        await new Promise<void>((res) => s.close(() => res()));
      }
    } finally {
      if (!stopped) await m2.stop();
    }
  }, 120_000);
});

