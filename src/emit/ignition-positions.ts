// Where a part of an Ignition config came from: the translation set of src/emit/ignition.ts maps a JSON path to a
// plan entry, and this maps the plan entry to the profile or inventory line that produced it. So a problem found in
// the emitted config (by the check below, or by the real ignition-validate) is reported at that line.

import { positionOf } from '../plan/positions.js';
import type { Position } from '../diagnostics.js';
import type { Cluster, Located, Profile } from '../profile/types.js';
import type { NodePlan } from '../plan/types.js';
import { DAEMON_JSON, MODULES_CONF, SYSCTL_CONF } from '../plan/files.js';
import { ADMIN_SUDOERS } from '../plan/flatcar.js';
import { planRefAt, type PlanRef } from './ignition.js';

export interface Origin {
  doc: 'profile' | 'cluster';
  /** dotted path in that document */
  path: string;
}

const PROFILE_SETTING: Record<string, string> = {
  [DAEMON_JSON]: 'docker',
  [MODULES_CONF]: 'kernel.modules',
  [SYSCTL_CONF]: 'kernel.sysctls',
};

const UNIT_SETTING: Record<string, string> = {
  'cri-docker.service': 'criDockerd',
  'cri-docker.socket': 'criDockerd',
  'docker.service': 'docker',
  'kubelet.service': 'kubernetes',
};

/** The setting a plan entry of this node's plan came from. */
export function originOf(ref: PlanRef, plan: NodePlan, profile: Profile, cluster: Cluster): Origin {
  const index = cluster.nodes.findIndex((n) => n.name === plan.node?.name);
  const node: Origin = { doc: 'cluster', path: index >= 0 ? `nodes.${index}` : 'nodes' };
  switch (ref.kind) {
    case 'file': {
      const own = profile.files.findIndex((f) => f.path === ref.path);
      if (own >= 0) return { doc: 'profile', path: `files.${own}.path` };
      const setting = PROFILE_SETTING[ref.path];
      if (setting !== undefined) return { doc: 'profile', path: setting };
      if (ref.path === ADMIN_SUDOERS) return { doc: 'cluster', path: 'admin.user' };
      return node; // the node's identity, network, PKI, kubeadm config, first-boot files
    }
    case 'download':
      if (ref.from === 'cri-dockerd') return { doc: 'profile', path: 'criDockerd.version' };
      if (ref.from === 'docker-sysext') return { doc: 'profile', path: 'docker.version' };
      return { doc: 'cluster', path: 'kubernetesVersion' };
    case 'link':
      return ref.path.endsWith('/kubernetes.raw') ? { doc: 'cluster', path: 'kubernetesVersion' } : { doc: 'profile', path: 'docker.version' };
    case 'unit': {
      const setting = UNIT_SETTING[ref.name];
      return setting !== undefined ? { doc: 'profile', path: setting } : node;
    }
    case 'admin':
      return { doc: 'cluster', path: 'admin' };
  }
}

/** The source position behind a JSON path of a node's config (undefined when the path is not translated). */
export function ignitionPosition(
  jsonPath: string,
  translations: ReadonlyMap<string, PlanRef>,
  plan: NodePlan,
  profile: Located<Profile>,
  cluster: Located<Cluster>,
): { ref: PlanRef; origin: Origin; at: Partial<Position> | undefined } | undefined {
  const ref = planRefAt(translations, jsonPath);
  if (ref === undefined) return undefined;
  const origin = originOf(ref, plan, profile.value, cluster.value);
  return { ref, origin, at: positionOf(origin.doc === 'profile' ? profile : cluster, origin.path) };
}
