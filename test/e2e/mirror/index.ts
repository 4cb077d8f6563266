// The e2e mirror: what the test bed's network cannot reach, served on 127.0.0.1 (10.0.2.2 from a QEMU guest,
// whose user-mode network forwards 10.0.2.2:PORT to the host's 127.0.0.1:PORT). Everything it serves is a
// STAND-IN built here at test time from files in this directory and Debian's tools; nothing is downloaded.
//
//   <base>/kubernetes/core/stable/v1.29/deb/   a flat apt repository shaped like pkgs.k8s.io's (InRelease,
//        Release, Release.gpg, Release.key, Packages, Packages.gz, amd64/*.deb) with stand-in packages kubelet,
//        kubeadm, kubectl (1.29.2-1.1), cri-tools (1.29.0-1.1), kubernetes-cni (1.3.0-1.1): fake binaries
//        (packages/*), upstream's kubelet units, the upstream Depends among them; signed with a throwaway key.
//   <base>/artifacts/                          a directory mirror: cri-dockerd-0.3.9.amd64.tgz (member
//        cri-dockerd/cri-dockerd, a real Go binary: fake-cri-dockerd/main.go) and calico.yaml (artifacts/).
//   <registry>                                 Debian's docker-registry with stand-in images under the names
//        the pre-pull asks for (google_containers/*, calico/*, kube-vip/kube-vip).
//
// The HTTP server (serve.mjs) and the registry run as their own processes, so a test that blocks its event loop
// (spawnSync) never stalls a guest. The apt repository and the cri-dockerd build are cached under the e2e cache
// dir, keyed by the sha256 of their inputs; the registry is filled afresh on each start (a second or two).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { e2eCacheDir } from '../vm/base-image.js';
import { gzipSync } from 'node:zlib';
import { makeTar, makeTgz } from '../../helpers/tgz.js';

export const MIRROR_DIR = dirname(fileURLToPath(import.meta.url));

/** Hosts the mirror is reachable as: this machine, or a QEMU user-mode guest's view of it. */
export type MirrorHost = '127.0.0.1' | '10.0.2.2';

export type StandInPackage = 'kubelet' | 'kubeadm' | 'kubectl' | 'cri-tools' | 'kubernetes-cni';
export type StandInArtifact = 'cri-dockerd' | 'calico';

export interface MirrorOptions {
  /** leave these packages out of the apt repository (an install of them then fails) */
  omitPackages?: readonly StandInPackage[];
  /** answer 404 for these artifacts (a download of them then fails) */
  omitArtifacts?: readonly StandInArtifact[];
  /** HTTP port on 127.0.0.1; default: a free one */
  httpPort?: number;
  /** registry port on 127.0.0.1; default: a free one */
  registryPort?: number;
  /** cache directory; default e2eCacheDir() */
  cacheDir?: string;
  /** progress lines (default: none) */
  log?: (line: string) => void;
}

export interface MirrorTimings {
  aptMs: number;
  criDockerdMs: number;
  registryMs: number;
  totalMs: number;
  /** true where the cache held the build */
  cached: { apt: boolean; criDockerd: boolean };
}

export interface Mirror {
  httpPort: number;
  registryPort: number;
  /** "http://HOST:PORT" (no trailing slash) */
  baseUrl(host: MirrorHost): string;
  /** "HOST:PORT": the registry as image references name it (plain HTTP: an insecure registry) */
  registry(host: MirrorHost): string;
  /** "<base>/artifacts/": the artifactMirrors entry */
  artifactsUrl(host: MirrorHost): string;
  criDockerd: {
    version: string;
    /** sha256 of the tarball */
    sha256: string;
    fileName: string;
    url(host: MirrorHost): string;
    /** the tarball's member */
    member: string;
    /** the Go binary on this machine (for tests) and its sha256 */
    binaryPath: string;
    binarySha256: string;
    tarballPath: string;
  };
  calicoManifest: { version: string; sha256: string; url(host: MirrorHost): string; path: string };
  /** the flat repo as the cluster file's repositories.kubernetes wants it */
  kubernetesRepo(host: MirrorHost): { url: string; gpgkey: string };
  /** the apt repository directory on this machine (Release.key, Packages, amd64/*.deb) */
  aptRepoDir: string;
  /** name=version of each package the repository holds */
  packages: { name: StandInPackage; version: string }[];
  /** every image in the registry, "REPO:TAG" without the registry host */
  images: string[];
  /**
   * The cluster-file settings (SPEC interface) that point a cluster at this mirror, as a guest sees it with
   * host 10.0.2.2: imageRepository, repositories.kubernetes, registries.insecure, images, artifactMirrors.
   */
  clusterSettings(host: MirrorHost): MirrorClusterSettings;
  /** the profile's criDockerd override for the stand-in tarball (its sha256 is not upstream's) */
  criDockerdOverride(host: MirrorHost): { version: string; url: string; sha256: string };
  /** paths of the HTTP requests served so far (any status), in order */
  requests(): string[];
  timings: MirrorTimings;
  stop(): Promise<void>;
}

export interface MirrorClusterSettings {
  imageRepository: string;
  repositories: { kubernetes: { url: string; gpgkey: string } };
  registries: { insecure: string[] };
  images: { calico: string; kubeVip: string };
  artifactMirrors: string[];
}

/** The repository path pkgs.k8s.io uses for v1.29 (a flat repo: `deb [signed-by=...] URL /`). */
export const KUBERNETES_REPO_PATH = '/kubernetes/core/stable/v1.29/deb/';
export const CRI_DOCKERD_VERSION = '0.3.9';
export const CRI_DOCKERD_FILE = `cri-dockerd-${CRI_DOCKERD_VERSION}.amd64.tgz`;
export const CRI_DOCKERD_MEMBER = 'cri-dockerd/cri-dockerd';
export const CALICO_VERSION = 'v3.27.3';
/** what the release tarballs and packages are dated (the 1.29.2 release); every build is byte-identical */
export const SOURCE_DATE_EPOCH = 1707868800; // 2024-02-14T00:00:00Z

export { e2eCacheDir } from '../vm/base-image.js';

// ------------------------------------------------------------------------------------------------ tools

const DEBIAN_PACKAGE: Record<string, string> = {
  go: 'golang-go',
  'dpkg-deb': 'dpkg',
  'apt-ftparchive': 'apt-utils',
  gpg: 'gnupg',
  gpgconf: 'gnupg',
  'docker-registry': 'docker-registry',
};

function need(name: string): string {
  const r = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', name], { encoding: 'utf8' });
  const path = r.stdout.trim();
  if (r.status !== 0 || path === '') {
    throw new Error(`the e2e mirror needs "${name}": apt-get install ${DEBIAN_PACKAGE[name] ?? name} (.ci/run installs it)`);
  }
  return path;
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): string {
  const r = spawnSync(need(cmd), args, { cwd: opts.cwd, env: opts.env ?? process.env, input: opts.input, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal}):\n${r.stderr}${r.stdout}`.trimEnd());
  }
  return r.stdout;
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** sha256 over the relative paths, modes and contents of these files and directories, plus extra strings. */
function inputsHash(paths: string[], extra: string[]): string {
  const h = createHash('sha256');
  const walk = (p: string) => {
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const e of readdirSync(p).sort()) walk(join(p, e));
      return;
    }
    h.update(`${relative(MIRROR_DIR, p)}\0${st.mode & 0o111 ? 'x' : '-'}\0`).update(readFileSync(p)).update('\0');
  };
  for (const p of paths) walk(p);
  for (const e of extra) h.update(`${e}\0`);
  return h.digest('hex').slice(0, 16);
}

/** Build into a temp dir beside `dir` and rename it into place; a concurrent build that won keeps its copy. */
function cached(dir: string, build: (tmp: string) => void): boolean {
  if (existsSync(join(dir, '.complete'))) return true;
  mkdirSync(dirname(dir), { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  mkdirSync(tmp, { recursive: true });
  try {
    build(tmp);
    writeFileSync(join(tmp, '.complete'), '');
    rmSync(dir, { recursive: true, force: true });
    try {
      renameSync(tmp, dir);
    } catch (e) {
      if (!existsSync(join(dir, '.complete'))) throw e;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return false;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createNetServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => res(port));
    });
  });
}

// ------------------------------------------------------------------------------------------------ cri-dockerd

const GO_SRC = join(MIRROR_DIR, 'fake-cri-dockerd');

/** Build the stand-in cri-dockerd (a real static Go binary) and its release-shaped tarball, cached. */
export async function buildCriDockerd(cacheDir = e2eCacheDir()): Promise<{ dir: string; binary: string; tarball: string; cached: boolean }> {
  const goVersion = run('go', ['version']).trim();
  const key = inputsHash([GO_SRC], [goVersion, 'CGO_ENABLED=0 -trimpath -buildvcs=false -ldflags=-buildid=', 'tar v1']);
  const dir = join(cacheDir, `mirror-cri-dockerd-${key}`);
  const binary = join(dir, 'cri-dockerd');
  const tarball = join(dir, CRI_DOCKERD_FILE);
  if (existsSync(join(dir, '.complete'))) return { dir, binary, tarball, cached: true };
  const work = mkdtempSync(join(tmpdir(), 'mkimage-mirror-go-'));
  let bin: Buffer;
  try {
    for (const f of readdirSync(GO_SRC)) writeFileSync(join(work, f), readFileSync(join(GO_SRC, f)));
    run('go', ['build', '-trimpath', '-buildvcs=false', '-ldflags=-buildid=', '-o', join(work, 'cri-dockerd'), '.'], {
      cwd: work,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME ?? work,
        CGO_ENABLED: '0',
        GOOS: 'linux',
        GOARCH: 'amd64',
        GO111MODULE: 'on',
        GOFLAGS: '-mod=mod',
        GOPROXY: 'off',
        GOTOOLCHAIN: 'local',
        GOCACHE: join(cacheDir, 'go-build'),
        GOPATH: join(cacheDir, 'go'),
      },
    });
    bin = readFileSync(join(work, 'cri-dockerd'));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const tgz = await makeTgz([
    { name: 'cri-dockerd/', type: 'directory', mode: 0o755 },
    { name: CRI_DOCKERD_MEMBER, content: bin, mode: 0o755 },
  ]);
  const wasCached = cached(dir, (tmp) => {
    writeFileSync(join(tmp, 'cri-dockerd'), bin, { mode: 0o755 });
    writeFileSync(join(tmp, CRI_DOCKERD_FILE), tgz);
  });
  return { dir, binary, tarball, cached: wasCached };
}

// ------------------------------------------------------------------------------------------------ apt repository

const PKG_SRC = join(MIRROR_DIR, 'packages');

interface DebFile {
  path: string;
  src?: string;
  content?: string;
  mode: number;
}

interface DebSpec {
  name: StandInPackage;
  version: string;
  section: string;
  depends?: string;
  description: string;
  files: DebFile[];
  conffiles?: string[];
}

const KUBE_VERSION = '1.29.2-1.1';
const STAND_IN_NOTE = ' STAND-IN built by mkimage\'s e2e mirror (test/e2e/mirror): a fake, not the Kubernetes binary.';

/**
 * The stand-in packages. Depends follow kubernetes/release's krel templates for 1.29 (metadata.yaml: kubeadm
 * needs kubelet >= 1.19.0, kubectl >= 1.19.0, kubernetes-cni >= 1.2.0, cri-tools >= 1.28.0; kubelet needs
 * kubernetes-cni >= 1.2.0) and file paths their specs (%{_unitdir} = /usr/lib/systemd/system; debbuild rewrites
 * /etc/sysconfig/kubelet to /etc/default/kubelet). Left out on purpose: kubelet's iptables, socat, ethtool,
 * ebtables and conntrack (not on a Debian cloud image; the fake needs none of them); added: python3 and
 * python3-yaml for the Python fakes (a cloud image has both: cloud-init needs them). No maintainer scripts: the
 * package does not start kubelet.
 */
export const PACKAGES: readonly DebSpec[] = [
  {
    name: 'kubelet',
    version: KUBE_VERSION,
    section: 'net',
    depends: 'kubernetes-cni (>= 1.2.0), iproute2, mount, util-linux',
    description: 'Node agent for Kubernetes clusters',
    files: [
      { path: 'usr/bin/kubelet', src: 'kubelet.sh', mode: 0o755 },
      { path: 'usr/lib/systemd/system/kubelet.service', src: 'upstream/kubelet.service', mode: 0o644 },
      { path: 'etc/default/kubelet', src: 'upstream/kubelet.env', mode: 0o644 },
      { path: 'var/lib/kubelet/.kubelet-keep', content: '', mode: 0o644 },
      { path: 'etc/kubernetes/manifests/.kubelet-keep', content: '', mode: 0o644 },
    ],
    conffiles: ['/etc/default/kubelet'],
  },
  {
    name: 'kubeadm',
    version: KUBE_VERSION,
    section: 'admin',
    depends: 'kubelet (>= 1.19.0), kubectl (>= 1.19.0), kubernetes-cni (>= 1.2.0), cri-tools (>= 1.28.0), python3, python3-yaml',
    description: 'Command-line utility for administering a Kubernetes cluster',
    files: [
      { path: 'usr/bin/kubeadm', src: 'kubeadm.py', mode: 0o755 },
      { path: 'usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf', src: 'upstream/10-kubeadm.conf', mode: 0o644 },
    ],
  },
  {
    name: 'kubectl',
    version: KUBE_VERSION,
    section: 'admin',
    depends: 'python3, python3-yaml',
    description: 'Command-line utility for interacting with a Kubernetes cluster',
    files: [{ path: 'usr/bin/kubectl', src: 'kubectl.py', mode: 0o755 }],
  },
  {
    name: 'cri-tools',
    version: '1.29.0-1.1',
    section: 'admin',
    description: 'Command-line utility for interacting with a container runtime',
    files: [{ path: 'usr/bin/crictl', src: 'crictl.sh', mode: 0o755 }],
  },
  {
    name: 'kubernetes-cni',
    version: '1.3.0-1.1',
    section: 'net',
    description: 'Binaries required to provision kubernetes container networking',
    files: [
      ...['bridge', 'host-local', 'loopback', 'portmap'].map((b) => ({ path: `opt/cni/bin/${b}`, src: 'cni-plugin.sh', mode: 0o755 })),
      { path: 'etc/cni/net.d/.kubernetes-cni-keep', content: '', mode: 0o644 },
    ],
  },
];

function control(p: DebSpec, installedKb: number): string {
  return [
    `Package: ${p.name}`,
    `Version: ${p.version}`,
    'Architecture: amd64',
    'Maintainer: Kubernetes Authors <dev@kubernetes.io>',
    `Installed-Size: ${installedKb}`,
    ...(p.depends ? [`Depends: ${p.depends}`] : []),
    `Section: ${p.section}`,
    'Priority: optional',
    'Homepage: https://kubernetes.io',
    `Description: ${p.description} (STAND-IN)`,
    STAND_IN_NOTE,
    '',
  ].join('\n');
}

function setMtimes(dir: string): void {
  const t = new Date(SOURCE_DATE_EPOCH * 1000);
  const walk = (p: string) => {
    if (statSync(p).isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
    utimesSync(p, t, t);
  };
  walk(dir);
}

function buildDeb(p: DebSpec, work: string, outDir: string): string {
  const root = join(work, p.name);
  let bytes = 0;
  for (const f of p.files) {
    const dest = join(root, f.path);
    mkdirSync(dirname(dest), { recursive: true, mode: 0o755 });
    const data = f.src !== undefined ? readFileSync(join(PKG_SRC, f.src)) : Buffer.from(f.content ?? '');
    writeFileSync(dest, data);
    chmodSync(dest, f.mode);
    bytes += data.length;
  }
  mkdirSync(join(root, 'DEBIAN'), { mode: 0o755 });
  writeFileSync(join(root, 'DEBIAN', 'control'), control(p, Math.max(1, Math.ceil(bytes / 1024))));
  if (p.conffiles) writeFileSync(join(root, 'DEBIAN', 'conffiles'), p.conffiles.join('\n') + '\n');
  for (const d of walkDirs(root)) chmodSync(d, 0o755);
  setMtimes(root);
  const deb = join(outDir, `${p.name}_${p.version}_amd64.deb`);
  run('dpkg-deb', ['--root-owner-group', '-Zgzip', '-z9', '--build', root, deb], {
    env: { ...process.env, SOURCE_DATE_EPOCH: String(SOURCE_DATE_EPOCH) },
  });
  return deb;
}

function walkDirs(dir: string): string[] {
  const out = [dir];
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(...walkDirs(join(dir, e.name)));
  return out;
}

/** Packages stanzas sorted by package name (apt-ftparchive lists them in directory order). */
function sortStanzas(text: string): string {
  const stanzas = text.split(/\n\n+/).map((s) => s.trim()).filter((s) => s !== '');
  stanzas.sort((a, b) => (a.split('\n')[0]! < b.split('\n')[0]! ? -1 : 1));
  return stanzas.map((s) => `${s}\n`).join('\n');
}

/** Build (or find in the cache) the signed flat repository holding every package not omitted. */
export function buildAptRepo(omit: readonly StandInPackage[] = [], cacheDir = e2eCacheDir()): { dir: string; cached: boolean } {
  const pkgs = PACKAGES.filter((p) => !omit.includes(p.name));
  const tools = [run('dpkg-deb', ['--version']).split('\n')[0]!, run('apt-ftparchive', ['--version']).split('\n')[0]!];
  const key = inputsHash([PKG_SRC, fileURLToPath(import.meta.url)], [...tools, `packages=${pkgs.map((p) => p.name).join(',')}`]);
  const dir = join(cacheDir, `mirror-apt-${key}`);
  const wasCached = cached(dir, (tmp) => {
    const work = mkdtempSync(join(tmpdir(), 'mkimage-mirror-deb-'));
    const gnupg = mkdtempSync(join(tmpdir(), 'mkimage-gpg-'));
    try {
      mkdirSync(join(tmp, 'amd64'));
      for (const p of pkgs) buildDeb(p, work, join(tmp, 'amd64'));
      const packages = sortStanzas(run('apt-ftparchive', ['packages', 'amd64'], { cwd: tmp }));
      writeFileSync(join(tmp, 'Packages'), packages);
      writeFileSync(join(tmp, 'Packages.gz'), gzipSync(packages, { level: 9 }));
      const release = run('apt-ftparchive', [
        '-o', 'APT::FTPArchive::Release::Origin=mkimage-e2e-stand-in',
        '-o', 'APT::FTPArchive::Release::Label=STAND-IN isv:kubernetes:core:stable:v1.29',
        '-o', 'APT::FTPArchive::Release::Architectures=amd64',
        '-o', 'APT::FTPArchive::Release::Description=STAND-IN of pkgs.k8s.io core:stable:v1.29 (mkimage e2e mirror)',
        'release', '.',
      ], { cwd: tmp, env: { ...process.env, SOURCE_DATE_EPOCH: String(SOURCE_DATE_EPOCH) } });
      writeFileSync(join(tmp, 'Release'), release);
      // a throwaway signing key, made for this build only; its public half is Release.key
      const env = { ...process.env, GNUPGHOME: gnupg };
      chmodSync(gnupg, 0o700);
      run('gpg', ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key', 'mkimage e2e mirror STAND-IN apt key <stand-in@mkimage.invalid>', 'ed25519', 'sign', 'never'], { env });
      writeFileSync(join(tmp, 'Release.key'), run('gpg', ['--batch', '--armor', '--export'], { env }));
      run('gpg', ['--batch', '--yes', '--pinentry-mode', 'loopback', '--passphrase', '', '--clearsign', '-o', join(tmp, 'InRelease'), join(tmp, 'Release')], { env });
      run('gpg', ['--batch', '--yes', '--pinentry-mode', 'loopback', '--passphrase', '', '-abs', '-o', join(tmp, 'Release.gpg'), join(tmp, 'Release')], { env });
      spawnSync('gpgconf', ['--kill', 'all'], { env });
    } finally {
      rmSync(work, { recursive: true, force: true });
      rmSync(gnupg, { recursive: true, force: true });
    }
  });
  return { dir, cached: wasCached };
}

// ------------------------------------------------------------------------------------------------ registry

interface StandInImage {
  repo: string;
  tag: string;
  /** the image it stands in for */
  upstream: string;
}

/** The names the pre-pull asks for with imageRepository <registry>/google_containers and images.calico/kubeVip there. */
export const IMAGES: readonly StandInImage[] = [
  ...['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy'].map((c) => ({ repo: `google_containers/${c}`, tag: 'v1.29.2', upstream: `registry.k8s.io/${c}` })),
  { repo: 'google_containers/coredns', tag: 'v1.11.1', upstream: 'registry.k8s.io/coredns/coredns' },
  { repo: 'google_containers/pause', tag: '3.9', upstream: 'registry.k8s.io/pause' },
  { repo: 'google_containers/etcd', tag: '3.5.10-0', upstream: 'registry.k8s.io/etcd' },
  ...['cni', 'node', 'kube-controllers'].map((c) => ({ repo: `calico/${c}`, tag: CALICO_VERSION, upstream: `docker.io/calico/${c}` })),
  { repo: 'kube-vip/kube-vip', tag: 'v0.8.2', upstream: 'ghcr.io/kube-vip/kube-vip' },
];

const MT_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const MT_CONFIG = 'application/vnd.docker.container.image.v1+json';
const MT_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

interface Blob {
  digest: string;
  data: Buffer;
}

const blob = (data: Buffer): Blob => ({ digest: `sha256:${sha256(data)}`, data });

/** One image: a single gzip layer holding /STAND-IN.txt, an amd64/linux config; deterministic bytes. */
export async function standInImage(img: StandInImage): Promise<{ manifest: Buffer; config: Blob; layer: Blob }> {
  const note = `STAND-IN for ${img.upstream}:${img.tag}, built by mkimage's e2e mirror (test/e2e/mirror).\nNot the real image: it holds only this file.\n`;
  const tar = await makeTar([{ name: 'STAND-IN.txt', content: note, mode: 0o644 }]);
  const layer = blob(gzipSync(tar, { level: 9 }));
  const created = new Date(SOURCE_DATE_EPOCH * 1000).toISOString().replace('.000Z', 'Z');
  const config = blob(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        created,
        config: { Cmd: ['/STAND-IN'], Labels: { 'org.mkimage.stand-in': `${img.upstream}:${img.tag}` } },
        rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(tar)}`] },
        history: [{ created, created_by: 'mkimage e2e mirror: STAND-IN.txt' }],
      }),
    ),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT_MANIFEST,
      config: { mediaType: MT_CONFIG, size: config.data.length, digest: config.digest },
      layers: [{ mediaType: MT_LAYER, size: layer.data.length, digest: layer.digest }],
    }),
  );
  return { manifest, config, layer };
}

/** Push one image through the registry's v2 API (monolithic blob uploads, then the manifest by tag). */
async function pushImage(origin: string, img: StandInImage): Promise<void> {
  const { manifest, config, layer } = await standInImage(img);
  for (const b of [layer, config]) {
    const head = await fetch(`${origin}/v2/${img.repo}/blobs/${b.digest}`, { method: 'HEAD' });
    if (head.status === 200) continue;
    const start = await fetch(`${origin}/v2/${img.repo}/blobs/uploads/`, { method: 'POST' });
    const location = start.headers.get('location');
    if (start.status !== 202 || !location) throw new Error(`registry: starting an upload to ${img.repo}: HTTP ${start.status}`);
    const url = new URL(location, origin);
    url.searchParams.set('digest', b.digest);
    const put = await fetch(url, { method: 'PUT', body: new Uint8Array(b.data), headers: { 'content-type': 'application/octet-stream' } });
    if (put.status !== 201) throw new Error(`registry: uploading ${b.digest} to ${img.repo}: HTTP ${put.status} ${await put.text()}`);
  }
  const put = await fetch(`${origin}/v2/${img.repo}/manifests/${img.tag}`, { method: 'PUT', body: new Uint8Array(manifest), headers: { 'content-type': MT_MANIFEST } });
  if (put.status !== 201) throw new Error(`registry: putting ${img.repo}:${img.tag}: HTTP ${put.status} ${await put.text()}`);
}

async function startRegistry(port: number, storage: string): Promise<ChildProcess> {
  const config = join(storage, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(storage, 'data')}`,
      'http:',
      `  addr: 127.0.0.1:${port}`,
      `  secret: ${randomBytes(16).toString('hex')}`,
      '',
    ].join('\n'),
  );
  const child = spawn(need('docker-registry'), ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-4000)));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`docker-registry exited (${child.exitCode ?? child.signalCode}):\n${stderr}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/v2/`);
      if (r.status === 200) return child;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`docker-registry did not answer on 127.0.0.1:${port} within 15 s:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ------------------------------------------------------------------------------------------------ HTTP

type Route = { prefix: string; dir: string } | { path: string; file: string };

/** serve.mjs in its own process: a test that blocks its event loop never stalls a guest's download. */
async function startHttp(port: number, routes: Route[], dir: string): Promise<{ child: ChildProcess; port: number; log: string }> {
  const log = join(dir, 'requests.log');
  writeFileSync(log, '');
  const config = join(dir, 'http.json');
  writeFileSync(config, JSON.stringify({ port, log, routes }));
  const child = spawn(process.execPath, [join(MIRROR_DIR, 'serve.mjs'), config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-4000)));
  const listening = await new Promise<number>((res, rej) => {
    let out = '';
    const timer = setTimeout(() => rej(new Error(`mirror HTTP server did not start within 10 s:\n${stderr}`)), 10_000);
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) {
        clearTimeout(timer);
        res((JSON.parse(line) as { port: number }).port);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`mirror HTTP server exited (${code}):\n${stderr}`));
    });
  });
  return { child, port: listening, log };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

// ------------------------------------------------------------------------------------------------ the mirror

export async function startMirror(opts: MirrorOptions = {}): Promise<Mirror> {
  const t0 = Date.now();
  const log = opts.log ?? (() => {});
  const cacheDir = opts.cacheDir ?? e2eCacheDir();
  const omitArtifacts = opts.omitArtifacts ?? [];

  const tApt = Date.now();
  const apt = buildAptRepo(opts.omitPackages ?? [], cacheDir);
  const aptMs = Date.now() - tApt;
  log(`mirror: apt repository ${apt.cached ? 'from the cache' : 'built'} in ${aptMs} ms: ${apt.dir}`);

  const tGo = Date.now();
  const cri = await buildCriDockerd(cacheDir);
  const criDockerdMs = Date.now() - tGo;
  log(`mirror: cri-dockerd stand-in ${cri.cached ? 'from the cache' : 'built'} in ${criDockerdMs} ms: ${cri.tarball}`);

  const tReg = Date.now();
  const registryPort = opts.registryPort ?? (await freePort());
  const storage = mkdtempSync(join(tmpdir(), 'mkimage-registry-'));
  let registry: ChildProcess | undefined;
  try {
    registry = await startRegistry(registryPort, storage);
    for (const img of IMAGES) await pushImage(`http://127.0.0.1:${registryPort}`, img);
  } catch (e) {
    registry?.kill('SIGKILL');
    rmSync(storage, { recursive: true, force: true });
    throw e;
  }
  const registryMs = Date.now() - tReg;
  log(`mirror: registry on 127.0.0.1:${registryPort} with ${IMAGES.length} images in ${registryMs} ms`);

  const artifactsDir = join(MIRROR_DIR, 'artifacts');
  const calicoPath = join(artifactsDir, 'calico.yaml');
  const routes: Route[] = [{ prefix: KUBERNETES_REPO_PATH, dir: apt.dir }];
  if (!omitArtifacts.includes('cri-dockerd')) routes.push({ path: `/artifacts/${CRI_DOCKERD_FILE}`, file: cri.tarball });
  if (!omitArtifacts.includes('calico')) routes.push({ path: '/artifacts/calico.yaml', file: calicoPath });
  let http: Awaited<ReturnType<typeof startHttp>>;
  try {
    http = await startHttp(opts.httpPort ?? 0, routes, storage);
  } catch (e) {
    await stopChild(registry);
    rmSync(storage, { recursive: true, force: true });
    throw e;
  }
  const httpPort = http.port;

  const baseUrl = (host: MirrorHost) => `http://${host}:${httpPort}`;
  const tarball = readFileSync(cri.tarball);
  const binary = readFileSync(cri.binary);
  let stopped = false;
  return {
    httpPort,
    registryPort,
    baseUrl,
    registry: (host) => `${host}:${registryPort}`,
    artifactsUrl: (host) => `${baseUrl(host)}/artifacts/`,
    criDockerd: {
      version: CRI_DOCKERD_VERSION,
      sha256: sha256(tarball),
      fileName: CRI_DOCKERD_FILE,
      url: (host) => `${baseUrl(host)}/artifacts/${CRI_DOCKERD_FILE}`,
      member: CRI_DOCKERD_MEMBER,
      binaryPath: cri.binary,
      binarySha256: sha256(binary),
      tarballPath: cri.tarball,
    },
    calicoManifest: {
      version: CALICO_VERSION,
      sha256: sha256(readFileSync(calicoPath)),
      url: (host) => `${baseUrl(host)}/artifacts/calico.yaml`,
      path: calicoPath,
    },
    kubernetesRepo: (host) => ({ url: `${baseUrl(host)}${KUBERNETES_REPO_PATH}`, gpgkey: `${baseUrl(host)}${KUBERNETES_REPO_PATH}Release.key` }),
    aptRepoDir: apt.dir,
    packages: PACKAGES.filter((p) => !(opts.omitPackages ?? []).includes(p.name)).map((p) => ({ name: p.name, version: p.version })),
    images: IMAGES.map((i) => `${i.repo}:${i.tag}`),
    clusterSettings: (host) => ({
      imageRepository: `${host}:${registryPort}/google_containers`,
      repositories: { kubernetes: { url: `${baseUrl(host)}${KUBERNETES_REPO_PATH}`, gpgkey: `${baseUrl(host)}${KUBERNETES_REPO_PATH}Release.key` } },
      registries: { insecure: [`${host}:${registryPort}`] },
      images: { calico: `${host}:${registryPort}/calico`, kubeVip: `${host}:${registryPort}/kube-vip/kube-vip` },
      artifactMirrors: [`${baseUrl(host)}/artifacts/`],
    }),
    criDockerdOverride: (host) => ({ version: CRI_DOCKERD_VERSION, url: `${baseUrl(host)}/artifacts/${CRI_DOCKERD_FILE}`, sha256: sha256(tarball) }),
    requests: () => readFileSync(http.log, 'utf8').split('\n').filter((l) => l !== ''),
    timings: { aptMs, criDockerdMs, registryMs, totalMs: Date.now() - t0, cached: { apt: apt.cached, criDockerd: cri.cached } },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await stopChild(http.child);
      await stopChild(registry!);
      rmSync(storage, { recursive: true, force: true });
    },
  };
}
