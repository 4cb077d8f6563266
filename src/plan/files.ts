// Files the plan writes: Docker's daemon.json (built as an object, serialised with JSON.stringify),
// the kernel module and sysctl drop-ins kubeadm's preflight wants, the profile's own files, and the
// per-node environment file written at first boot.

import { header } from '../template.js';
import type { Located, Profile } from '../profile/types.js';
import { sourced } from './positions.js';
import type { PlanFile, PlanNode } from './types.js';

export const DAEMON_JSON = '/etc/docker/daemon.json';
export const MODULES_CONF = '/etc/modules-load.d/k8s.conf';
export const SYSCTL_CONF = '/etc/sysctl.d/99-kubernetes.conf';
export const NODE_ENV = '/etc/mkimage/node.env';

/** Key order is fixed; list-valued keys appear only when non-empty. */
/** `insecure`: every insecure registry (the profile's docker.insecureRegistries, then the cluster's registries.insecure). */
export function daemonJson(docker: Profile['docker'], insecure: readonly string[] = docker.insecureRegistries): string {
  const config: Record<string, unknown> = {
    'exec-opts': ['native.cgroupdriver=systemd'],
    'log-driver': 'json-file',
    'log-opts': { 'max-size': docker.logMaxSize, 'max-file': String(docker.logMaxFile) },
    'storage-driver': 'overlay2',
  };
  if (docker.registryMirrors.length > 0) config['registry-mirrors'] = [...docker.registryMirrors];
  if (insecure.length > 0) config['insecure-registries'] = [...insecure];
  return `${JSON.stringify(config, null, 2)}\n`;
}

export const modulesConf = (modules: string[]) => `${header('#')}${modules.map((m) => `${m}\n`).join('')}`;

export const sysctlConf = (sysctls: Array<{ key: string; value: string }>) =>
  `${header('#')}${sysctls.map((s) => `${s.key} = ${s.value}\n`).join('')}`;

/** "644" -> "0644"; a 4-digit string is kept. */
const octal4 = (mode: string) => mode.padStart(4, '0');

const file = (
  path: string,
  content: string,
  phase: PlanFile['phase'] = 'bake',
  mode = '0644',
  owner = 'root:root',
): PlanFile => ({ path, mode, owner, content, phase });

/** mkimage's files each carry the profile setting that makes them (docker, kernel.modules, kernel.sysctls). */
export function baseFiles(located: Located<Profile>, sysctls: Array<{ key: string; value: string }>, clusterInsecure: readonly string[] = []): PlanFile[] {
  const profile = located.value;
  const insecure = [...profile.docker.insecureRegistries, ...clusterInsecure].filter((r, i, all) => all.indexOf(r) === i);
  const files = [sourced(file(DAEMON_JSON, daemonJson(profile.docker, insecure)), located, 'docker')];
  if (profile.kernel.modules.length > 0) files.push(sourced(file(MODULES_CONF, modulesConf(profile.kernel.modules)), located, 'kernel.modules'));
  if (sysctls.length > 0) files.push(sourced(file(SYSCTL_CONF, sysctlConf(sysctls)), located, 'kernel.sysctls'));
  return files;
}

/** The profile's own files, each at its files.N.path line. */
export function profileFiles(located: Located<Profile>): PlanFile[] {
  return located.value.files.map((f, i) => sourced(file(f.path, f.content, f.phase, octal4(f.mode), f.owner), located, `files.${i}.path`));
}

export function nodeEnvFile(node: PlanNode, clusterName: string): PlanFile {
  const lines = [
    `CLUSTER_NAME=${clusterName}`,
    `NODE_NAME=${node.name}`,
    `NODE_ROLE=${node.role}`,
    `NODE_IP=${node.ip}`,
    `NODE_ARCH=${node.arch}`,
    `NODE_BOOTSTRAP=${node.bootstrap}`,
  ];
  return file(NODE_ENV, `${header('#')}${lines.join('\n')}\n`, 'boot');
}

/** Bake before boot, then by path: where files go is free, so the order is fixed by sorting. */
export function sortFiles(files: PlanFile[]): PlanFile[] {
  const rank = (f: PlanFile) => (f.phase === 'bake' ? 0 : 1);
  return [...files].sort((a, b) => rank(a) - rank(b) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
