// Lints: warnings about inputs that load fine but build a cluster that fails or misbehaves (codes W101-W116).
// `--strict` turns them into errors via applyStrict(). Each lint is its own exported function so tests and
// other stages can run one alone; lintInputs runs them all.

import { uniqueDiagnostics, type Diagnostic } from '../diagnostics.js';
import type { Cluster, Inputs, Located, Profile } from './types.js';
import {
  lintControlPlaneEndpoint,
  lintNodeGateways,
  lintNodeSubnets,
  lintSubnetAlignment,
  lintSubnetOverlap,
} from './lint/network.js';
import { lintIgnorePreflightAll, lintPackageNameTypos, lintPackageVersion, lintRepoExcludes } from './lint/packages.js';
import { lintDockerCriDockerd, lintPauseImage } from './lint/runtime.js';
import { lintMirrorReach, lintMirrorReachCriDockerd } from './lint/mirror.js';
import { lintControlPlanesWithoutHA, lintNoControlPlane, lintNodeIsOwnGateway, lintSwapOn } from './lint/inventory.js';

export * from './lint/network.js';
export * from './lint/packages.js';
export * from './lint/runtime.js';
export * from './lint/mirror.js';
export * from './lint/inventory.js';

export type ClusterLint = (cluster: Located<Cluster>) => Diagnostic[];
export type ProfileLint = (profile: Located<Profile>, cluster: Located<Cluster>) => Diagnostic[];

export const CLUSTER_LINTS: readonly ClusterLint[] = [
  lintSubnetAlignment, // W103
  lintSubnetOverlap, // W104
  lintControlPlaneEndpoint, // W105
  lintNodeSubnets, // W110
  lintNodeGateways, // W111
  lintMirrorReach, // W112
  lintNoControlPlane, // W113
  lintControlPlanesWithoutHA, // W114
  lintNodeIsOwnGateway, // W115
];

export const PROFILE_LINTS: readonly ProfileLint[] = [
  lintPackageVersion, // W101
  lintDockerCriDockerd, // W102
  lintIgnorePreflightAll, // W106
  lintRepoExcludes, // W107
  lintPackageNameTypos, // W108
  lintPauseImage, // W109
  lintMirrorReachCriDockerd, // W112
  lintSwapOn, // W116
];

/**
 * Every lint over the cluster and each profile. Profiles that inherit the same value from one base file get
 * one diagnostic for it, not one per profile. Sorted by file, line, column, code.
 */
export function lintInputs(inputs: Inputs): Diagnostic[] {
  const all = CLUSTER_LINTS.flatMap((lint) => lint(inputs.cluster));
  for (const profile of inputs.profiles.values()) {
    for (const lint of PROFILE_LINTS) all.push(...lint(profile, inputs.cluster));
  }
  return uniqueDiagnostics(all);
}
