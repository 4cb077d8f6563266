// GET /seed/<token>/{meta-data,user-data,network-config}: a node's NoCloud seed (it carries the join token),
// only through the gate (installing, current token, planned address). Held in memory. A node without a
// network-config gets 404, which the installer reads as "none"; vendor-data is never served.

import type { ServerResponse } from 'node:http';
import type { ServeApp } from '../app.js';
import { checkInstallToken, type GateAnswer } from '../gate.js';
import { SEED_FILES, type SeedFile } from '../layout.js';
import type { RequestInfo } from '../request.js';
import { methodNotAllowed, notFound, send } from './respond.js';

export const SEED_PREFIX = '/seed/';

export function seedFile(app: ServeApp, res: ServerResponse, info: RequestInfo): void | Promise<void> {
  if (info.method !== 'GET' && info.method !== 'HEAD') return methodNotAllowed(res, 'GET');
  const rest = info.path.slice(SEED_PREFIX.length);
  const slash = rest.indexOf('/');
  const token = slash === -1 ? null : rest.slice(0, slash);
  const name = slash === -1 ? rest : rest.slice(slash + 1);
  info.log.path = `${SEED_PREFIX}<token>/${name.slice(0, 64)}`;
  const gate = checkInstallToken(app, token, info);
  return gate instanceof Promise ? gate.then((g) => answer(app, res, info, name, g)) : answer(app, res, info, name, gate);
}

function answer(app: ServeApp, res: ServerResponse, info: RequestInfo, name: string, gate: GateAnswer): void {
  if (!gate.ok) {
    app.log.log('seed-refused', { path: info.log.path, mac: info.log.mac, node: info.log.node, remote: info.remote, status: gate.status, reason: gate.reason });
    return send(res, gate.status, gate.status === 403 ? 'forbidden\n' : 'not found\n');
  }
  const body = SEED_FILES.includes(name as SeedFile) ? app.layout.seeds.get(gate.record.mac)?.get(name as SeedFile) : undefined;
  if (body === undefined) return notFound(res);
  send(res, 200, body);
}
