// The files only an installing machine may read, through the gate (installing, current token, planned address),
// held in memory:
//   GET /seed/<token>/{meta-data,user-data,network-config}   a cloud-init node's NoCloud seed (it carries the join
//       token); a node without a network-config gets 404, which the installer reads as "none"; vendor-data is never
//       served;
//   GET /ignition/<token>/{install.ign,node.ign}             a Flatcar node's install config (Ignition on its PXE
//       live system fetches it) and its own config (the install unit hands it to flatcar-install; it carries the
//       join token).

import type { ServerResponse } from 'node:http';
import type { ServeApp } from '../app.js';
import { checkInstallToken, type GateAnswer } from '../gate.js';
import { IGNITION_PREFIX } from '../ipxe.js';
import type { ServeLayout } from '../layout.js';
import type { RequestInfo } from '../request.js';
import { methodNotAllowed, notFound, send } from './respond.js';

export const SEED_PREFIX = '/seed/';

interface GatedKind {
  prefix: string;
  /** the log event of a refusal */
  refused: string;
  files: (layout: ServeLayout, mac: string) => ReadonlyMap<string, Buffer> | undefined;
}

export const SEEDS: GatedKind = { prefix: SEED_PREFIX, refused: 'seed-refused', files: (l, mac) => l.seeds.get(mac) };
export const IGNITION: GatedKind = { prefix: IGNITION_PREFIX, refused: 'ignition-refused', files: (l, mac) => l.ignition.get(mac) };

export function gatedFile(app: ServeApp, res: ServerResponse, info: RequestInfo, kind: GatedKind): void | Promise<void> {
  if (info.method !== 'GET' && info.method !== 'HEAD') return methodNotAllowed(res, 'GET');
  const rest = info.path.slice(kind.prefix.length);
  const slash = rest.indexOf('/');
  const token = slash === -1 ? null : rest.slice(0, slash);
  const name = slash === -1 ? rest : rest.slice(slash + 1);
  info.log.path = `${kind.prefix}<token>/${name.slice(0, 64)}`;
  const gate = checkInstallToken(app, token, info);
  return gate instanceof Promise ? gate.then((g) => answer(app, res, info, kind, name, g)) : answer(app, res, info, kind, name, gate);
}

function answer(app: ServeApp, res: ServerResponse, info: RequestInfo, kind: GatedKind, name: string, gate: GateAnswer): void {
  if (!gate.ok) {
    app.log.log(kind.refused, { path: info.log.path, mac: info.log.mac, node: info.log.node, remote: info.remote, status: gate.status, reason: gate.reason });
    return send(res, gate.status, gate.status === 403 ? 'forbidden\n' : 'not found\n');
  }
  const body = kind.files(app.layout, gate.record.mac)?.get(name);
  if (body === undefined) return notFound(res);
  send(res, 200, body);
}
