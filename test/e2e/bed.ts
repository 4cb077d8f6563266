// The e2e test bed: a workspace a user would have (a profiles directory, a cluster file, an SSH key), pointed at
// the local mirror (test/e2e/mirror) through the product's own settings — repositories, registries, images,
// artifactMirrors and criDockerd.url/sha256 — and the real mkimage CLI (dist/src/cli.js) run in it.
//
// Addresses: the guest (QEMU user-mode networking) reaches the mirror at 10.0.2.2, this machine at 127.0.0.1.
// artifactMirrors lists both: mkimage on this machine (fetch, --build) gets its files from 127.0.0.1, a guest's
// first boot finds nothing there and takes 10.0.2.2. The sums pinned here (criDockerd.sha256, calicoManifestSha256)
// hold for both.

import { spawn, spawnSync } from 'node:child_process';
import { cpSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument, stringify } from 'yaml';
import { startMirror, type Mirror, type MirrorOptions } from './mirror/index.js';
import { ensureBaseImage } from './vm/base-image.js';
import { GUEST_ADDRESS, GUEST_DNS, GUEST_GATEWAY } from './vm/qemu.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = join(REPO_ROOT, 'dist/src/cli.js');

export interface Bed {
  dir: string;
  profiles: string;
  cluster: string;
  /** the admin's private key (its public half is in the cluster file) */
  key: string;
  admin: string;
  node: { name: string; mac: string; ip: string };
  /** run the mkimage CLI in the workspace with --profiles/--cluster added */
  mkimage(args: string[], opts?: { env?: NodeJS.ProcessEnv }): { status: number; stdout: string; stderr: string };
  /** the same, for long commands (`--build`): output streamed to `log`, resolves with the exit code */
  mkimageAsync(args: string[], log: string, opts?: { env?: NodeJS.ProcessEnv }): Promise<number>;
  remove(): void;
}

export interface BedOptions {
  /** the local mirror the cluster points at; none: the shipped profiles' sources (for tests that install nothing) */
  mirror?: Mirror;
  mac: string;
  /** the cluster's name (also the secrets directory's) */
  name?: string;
}

/** The cluster-file keys that point a cluster at the mirror, as a guest reaches it (10.0.2.2) and this machine does. */
function mirrorSettings(m: Mirror) {
  const k8s = m.kubernetesRepo('10.0.2.2');
  return {
    imageRepository: `${m.registry('10.0.2.2')}/google_containers`,
    calicoVersion: m.calicoManifest.version,
    // the stand-in manifest is not the real v3.27.3 one mkimage pins, and comes over plain http: pin its own sum
    calicoManifestSha256: m.calicoManifest.sha256,
    repositories: { kubernetes: { url: k8s.url, gpgkey: k8s.gpgkey } },
    registries: { insecure: [m.registry('10.0.2.2')] },
    images: { calico: `${m.registry('10.0.2.2')}/calico`, kubeVip: `${m.registry('10.0.2.2')}/kube-vip/kube-vip` },
    artifactMirrors: [m.artifactsUrl('127.0.0.1'), m.artifactsUrl('10.0.2.2')],
  };
}

/** A new workspace in a temp dir: the shipped profiles, adjusted for the mirror, and a one-node cluster file. */
export function makeBed(opts: BedOptions): Bed {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
  const dir = mkdtempSync(join(tmpdir(), 'mkimage-bed-'));
  const profiles = join(dir, 'profiles');
  cpSync(join(REPO_ROOT, 'profiles'), profiles, { recursive: true });
  const m = opts.mirror;

  // The stand-in cri-dockerd tarball has its own sha256: the profile's criDockerd override names it.
  const basePath = join(profiles, 'base.yaml');
  const base = parseDocument(readFileSync(basePath, 'utf8'));
  if (m) {
    base.setIn(['criDockerd', 'url'], m.criDockerd.url('10.0.2.2'));
    base.setIn(['criDockerd', 'sha256'], m.criDockerd.sha256);
  }
  // The build VM on this 2-core machine: what TCG can use.
  base.setIn(['image', 'diskSize'], '8G');
  base.setIn(['image', 'memory'], 3072);
  base.setIn(['image', 'cpus'], 2);
  writeFileSync(basePath, base.toString());

  const key = join(dir, 'id_ed25519');
  const kg = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'e2e@mkimage', '-f', key], { encoding: 'utf8' });
  if (kg.status !== 0) throw new Error(`ssh-keygen failed: ${kg.stderr}`);
  const pub = readFileSync(`${key}.pub`, 'utf8').trim();

  const admin = 'kube';
  const node = { name: 'cp1', mac: opts.mac, ip: GUEST_ADDRESS };
  const cluster = {
    version: 1,
    name: opts.name ?? 'e2e',
    kubernetesVersion: '1.29.2',
    controlPlaneEndpoint: `${GUEST_ADDRESS}:6443`,
    podSubnet: '10.244.0.0/16',
    serviceSubnet: '10.96.0.0/12',
    mirror: 'upstream',
    osFamily: 'debian-12',
    containerRuntime: 'docker.io',
    ...(m ? mirrorSettings(m) : {}),
    admin: { user: admin, sshAuthorizedKeys: [pub] },
    nodes: [
      {
        name: node.name,
        role: 'control-plane',
        mac: node.mac,
        ip: `${GUEST_ADDRESS}/24`,
        gateway: GUEST_GATEWAY,
        dns: [GUEST_DNS],
      },
    ],
  };
  const clusterPath = join(dir, 'cluster.yaml');
  writeFileSync(clusterPath, stringify(cluster));

  const withInputs = (args: string[]) => [CLI, ...args, '--profiles', profiles, '--cluster', clusterPath];
  const env = (extra?: NodeJS.ProcessEnv) => ({ ...process.env, XDG_CACHE_HOME: join(dir, 'cache'), ...extra });
  return {
    dir,
    profiles,
    cluster: clusterPath,
    key,
    admin,
    node,
    mkimage(args, o = {}) {
      const r = spawnSync(process.execPath, withInputs(args), { cwd: dir, encoding: 'utf8', env: env(o.env), maxBuffer: 64 << 20 });
      return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
    },
    mkimageAsync(args, log, o = {}) {
      mkdirSync(dirname(log), { recursive: true });
      const out = createWriteStream(log);
      const child = spawn(process.execPath, withInputs(args), { cwd: dir, env: env(o.env), stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.pipe(out, { end: false });
      child.stderr.pipe(out, { end: false });
      return new Promise((res, rej) => {
        child.on('error', rej);
        child.on('close', (code, sig) => {
          out.end();
          res(code ?? (sig ? 128 : 1));
        });
      });
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Poll `probe` every `everyMs` until it returns a value (not undefined) or `timeoutMs` passes. */
export async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string, everyMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The last `n` lines of a text file (for failure messages). */
export function tail(path: string, n = 60): string {
  if (!existsSync(path)) return `(${path} does not exist)`;
  return readFileSync(path, 'utf8').split('\n').slice(-n).join('\n');
}

/** What every real boot needs: the local mirror, the base image and a workspace pointed at the mirror. */
export interface Rig {
  mirror: Mirror;
  base: string;
  bed: Bed;
  vm?: { stop(): Promise<void> };
  /** stops the VM (when set) and the mirror, removes the workspace */
  stop(): Promise<void>;
}

export async function startRig(opts: { mac: string; mirror?: MirrorOptions }): Promise<Rig> {
  const [mirror, base] = await Promise.all([startMirror(opts.mirror), ensureBaseImage()]);
  const rig: Rig = {
    mirror,
    base,
    bed: makeBed({ mirror, mac: opts.mac }),
    async stop() {
      await rig.vm?.stop();
      await mirror.stop();
      rig.bed.remove();
    },
  };
  return rig;
}
