// Who may use an install token: the machine it was handed to, while it installs, from its planned address
// (or a --nat-source address). Seeds and the /done and /failed reports share this gate.

import type { ServeApp } from './app.js';
import type { PxeNode } from './manifest.js';
import type { RequestInfo } from './request.js';
import type { MachineRecord } from './state-file.js';

export type GateAnswer =
  | { ok: true; record: MachineRecord; node: PxeNode }
  | { ok: false; status: 403 | 404; reason: string };

/** The gate's answer; a promise only when a worker's replica has to ask the server process about the token. */
export function checkInstallToken(app: ServeApp, token: string | null, info: RequestInfo): GateAnswer | Promise<GateAnswer> {
  const record = token === null ? undefined : app.store.byToken(token);
  if (record === undefined && token !== null && app.store.lookupToken) {
    return app.store.lookupToken(token).then((r) => gateFor(app, r, info));
  }
  return gateFor(app, record, info);
}

function gateFor(app: ServeApp, record: MachineRecord | undefined, info: RequestInfo): GateAnswer {
  if (record === undefined) return { ok: false, status: 404, reason: 'no machine is installing under this token' };
  const node = app.layout.nodesByMac.get(record.mac)!;
  info.log.mac = record.mac;
  info.log.node = node.name;
  if (info.remote !== node.ip && !app.natSources.has(info.remote)) {
    return { ok: false, status: 403, reason: `the request came from ${info.remote}, not from ${node.name}'s planned address ${node.ip}` };
  }
  return { ok: true, record, node };
}
