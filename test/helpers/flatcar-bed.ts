// A project for Flatcar renders in a temp dir: the shipped profiles (Docker 24.0.9, the sysext-bakery's Docker 24
// sysext, and cri-dockerd from a STAND-IN tarball), a cluster file turned osFamily: flatcar, the TEST-ONLY fixture
// secrets, and an artifact cache plus mkimage.lock holding STAND-INs of everything a Flatcar node downloads: tiny
// shell scripts named as stand-ins for kubeadm/kubelet/kubectl/crictl/cri-dockerd, a stand-in Calico manifest and
// stand-in bytes for the Docker sysext. Kubernetes 1.29.3, whose binaries mkimage does not pin, so their sums come
// from the lock as for any unpinned release (1.29.2's are pinned to the real upstream sums).

import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serializeLock, type LockEntry } from '../../src/fetch/lock.js';
import { privateSecretsCopy, FIXTURE_SECRETS } from './secrets.js';
import { makeTgz } from './tgz.js';

export const SHIPPED_PROFILES = fileURLToPath(new URL('../../profiles/', import.meta.url));
export const HA_CLUSTER = fileURLToPath(new URL('../fixtures/ha/cluster.yaml', import.meta.url));
export const MIRROR = 'http://192.168.66.5/mkimage/';
export const K8S = '1.29.3';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const standIn = (name: string) => `#!/bin/sh\n# STAND-IN ${name} for mkimage tests: not the real binary\necho "stand-in ${name}"\n`;

export interface FlatcarBed {
  cwd: string;
  profilesDir: string;
  clusterFile: string;
  secretsDir: string;
  cacheDir: string;
  /** the stand-in bytes as served, by artifact name (cri-dockerd: the extracted binary) */
  standIns: Record<string, Buffer>;
  /** the stand-in cri-dockerd tarball */
  criDockerdTgz: Buffer;
}

/** `cluster`: the cluster file to start from (default the shipped one); `edit` changes its text. */
export async function makeFlatcarBed(cwd: string, opts: { cluster?: string; edit?: (text: string) => string } = {}): Promise<FlatcarBed> {
  const cacheDir = join(cwd, 'cache');
  mkdirSync(join(cacheDir, 'cas'), { recursive: true });
  const put = (b: Buffer) => {
    writeFileSync(join(cacheDir, 'cas', sha256(b)), b);
    return sha256(b);
  };
  const standIns: Record<string, Buffer> = {};
  const lock: LockEntry[] = [];
  for (const bin of ['kubeadm', 'kubelet', 'kubectl']) {
    const b = Buffer.from(standIn(`${bin} v${K8S}`));
    standIns[bin] = b;
    lock.push({ name: bin, url: `https://dl.k8s.io/release/v${K8S}/bin/linux/amd64/${bin}`, size: b.length, sha256: put(b) });
  }
  standIns['crictl'] = Buffer.from(standIn('crictl v1.29.0'));
  const crictl = await makeTgz([{ name: 'crictl', content: standIns['crictl'], mode: 0o755 }]);
  lock.push({ name: 'crictl', url: 'https://github.com/kubernetes-sigs/cri-tools/releases/download/v1.29.0/crictl-v1.29.0-linux-amd64.tar.gz', size: crictl.length, sha256: put(crictl) });
  standIns['docker-sysext'] = Buffer.from('STAND-IN docker-24.0.9-x86-64.raw for mkimage tests (not a squashfs)\n');
  lock.push({ name: 'docker-sysext', url: 'https://extensions.flatcar.org/extensions/docker-24.0.9-x86-64.raw', size: standIns['docker-sysext'].length, sha256: put(standIns['docker-sysext']) });
  standIns['cri-dockerd'] = Buffer.from(standIn('cri-dockerd 0.3.9'));
  const criDockerdTgz = await makeTgz([{ name: 'cri-dockerd/', type: 'directory' }, { name: 'cri-dockerd/cri-dockerd', content: standIns['cri-dockerd'], mode: 0o755 }]);
  const criSha = put(criDockerdTgz);
  // a stand-in of Calico's manifest with the lines mkimage edits
  const calico = Buffer.from(
    '# STAND-IN calico.yaml for mkimage tests\n' +
      'image: docker.io/calico/cni:v3.27.3\n' +
      'path: /usr/libexec/kubernetes/kubelet-plugins/volume/exec/nodeagent~uds\n',
  );
  standIns['calico-manifest'] = calico;
  const calicoSha = put(calico);
  writeFileSync(join(cwd, 'mkimage.lock'), serializeLock({ lockVersion: 1, artifacts: lock }));

  const profilesDir = join(cwd, 'profiles');
  mkdirSync(profilesDir);
  for (const f of readdirSync(SHIPPED_PROFILES)) copyFileSync(join(SHIPPED_PROFILES, f), join(profilesDir, f));
  const base = readFileSync(join(profilesDir, 'base.yaml'), 'utf8');
  writeFileSync(
    join(profilesDir, 'base.yaml'),
    replaceOnce(
      replaceOnce(base, 'version: "24.0.7"', 'version: "24.0.9"'),
      '  # url: "http://192.168.66.5/mkimage/cri-dockerd-0.3.14.amd64.tgz"',
      `  url: "${MIRROR}cri-dockerd-0.3.9.amd64.tgz"\n  sha256: "${criSha}"`,
    ),
  );

  let cluster = readFileSync(opts.cluster ?? join(SHIPPED_PROFILES, 'cluster.yaml'), 'utf8');
  cluster = cluster.replace(/^osFamily: el9\b.*$/m, 'osFamily: flatcar');
  cluster = cluster.replace(/^kubernetesVersion: "1\.29\.2"/m, `kubernetesVersion: "${K8S}"`);
  cluster = cluster.replace(/^artifactMirrors: \[\]$/m, '');
  cluster += `\nartifactMirrors: ["${MIRROR}"]\ncalicoManifestSha256: "${calicoSha}"\n`;
  if (opts.edit) cluster = opts.edit(cluster);
  const clusterFile = join(cwd, 'cluster.yaml');
  writeFileSync(clusterFile, cluster);
  const secretsDir = await privateSecretsCopy(FIXTURE_SECRETS, join(cwd, 'secrets'));
  return { cwd, profilesDir, clusterFile, secretsDir, cacheDir, standIns, criDockerdTgz };
}

export function replaceOnce(text: string, from: string, to: string): string {
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + 1) >= 0) throw new Error(`expected exactly one ${JSON.stringify(from)}`);
  return text.slice(0, at) + to + text.slice(at + from.length);
}
