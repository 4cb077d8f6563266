// meta-data for the NoCloud seed: instance-id and local-hostname.
//
// The instance-id is "<cluster>-<node>-<12 hex>", the hex a sha256 over the seed's other files (user-data
// and network-config) as rendered. Same inputs -> same id, so re-seeding an unchanged node is a no-op;
// any change to what the seed delivers -> a new id, so cloud-init re-runs its per-instance modules
// (users, write_files, runcmd) on the next boot. Plan fields the seed does not carry (build settings,
// the bake phase in baked mode) leave the id alone: changing them must not re-run a node's first boot.

import { createHash } from 'node:crypto';
import { header } from '../template.js';
import { cloudYaml } from './netplan.js';

/** Stable instance-id from the cluster and node names and the seed contents it identifies. */
export function seedInstanceId(cluster: string, node: string, contents: readonly string[]): string {
  const h = createHash('sha256').update('mkimage-seed\n');
  for (const c of contents) h.update(`${Buffer.byteLength(c, 'utf8')}\n`).update(c);
  return `${cluster}-${node}-${h.digest('hex').slice(0, 12)}`;
}

/** The NoCloud `meta-data` file text. */
export function metaDataText(instanceId: string, localHostname: string): string {
  return header('#') + cloudYaml.write({ 'instance-id': instanceId, 'local-hostname': localHostname });
}
