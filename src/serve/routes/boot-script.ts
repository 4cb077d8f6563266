// GET /boot.ipxe?mac=..&uuid=..&platform=pcbios|efi: the machine's next step, by its state.
//   no mac      -> the chain script (tftp/boot.ipxe), so a machine can be pointed straight at this URL
//   unknown MAC -> echo + exit (its firmware boots the next device), and a log line
//   pending     -> the installer (the machine becomes installing, durably, before the answer goes out);
//                  without a golden image for its role: say so and poll. A Flatcar node: Flatcar's PXE kernel
//                  and initrd, Ignition fetching its install config (no golden image needed)
//   installing  -> the installer again, same token (the machine rebooted during its install)
//   installed   -> boot the local disk;  failed -> say so and poll, so `pxe retry` needs no power cycle
// Scripts are cached per record (records are immutable: a state change is a new record) and Host.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServeApp } from '../app.js';
import { failedScript, flatcarScript, imageMissingScript, installerScript, localBootScript, unknownMacScript, type Platform } from '../ipxe.js';
import { normaliseMac } from '../mac.js';
import type { PxeNode } from '../manifest.js';
import { scriptHost, type RequestInfo } from '../request.js';
import type { MachineRecord } from '../state-file.js';
import { methodNotAllowed, send } from './respond.js';

const IPXE = 'text/plain; charset=utf-8';
const CACHE_PER_RECORD = 8;
const cache = new WeakMap<MachineRecord, Map<string, Buffer>>();

function scriptFor(app: ServeApp, r: MachineRecord, node: PxeNode, base: string, platform: Platform): string | undefined {
  switch (r.state) {
    case 'installing':
      if (node.ignition !== undefined) return flatcarScript(base, app.layout.manifest.flatcar!, node, r.token!);
      return installerScript(base, app.layout.manifest, node, app.layout.manifest.images[node.role]!, r.token!);
    case 'installed':
      return localBootScript(platform);
    case 'failed':
      return failedScript(base, node, platform);
    case 'pending':
      return undefined;
  }
}

function cached(app: ServeApp, r: MachineRecord, node: PxeNode, base: string, platform: Platform): Buffer {
  const key = `${platform} ${base}`;
  let perRecord = cache.get(r);
  const hit = perRecord?.get(key);
  if (hit) return hit;
  const body = Buffer.from(scriptFor(app, r, node, base, platform)!);
  if (!perRecord) cache.set(r, (perRecord = new Map()));
  if (perRecord.size < CACHE_PER_RECORD) perRecord.set(key, body);
  return body;
}

/** Synchronous except when a pending machine starts its install (that waits for the state to be on disk). */
export function bootScript(app: ServeApp, req: IncomingMessage, res: ServerResponse, info: RequestInfo): void | Promise<void> {
  // GET only: asking moves a pending machine to installing, which a HEAD must not do
  if (info.method !== 'GET') return methodNotAllowed(res, 'GET');
  const raw = info.query.get('mac');
  if (raw === null) return send(res, 200, app.layout.chainScript, IPXE);

  const mac = normaliseMac(raw);
  const node = mac === undefined ? undefined : app.layout.nodesByMac.get(mac);
  if (mac === undefined || node === undefined) {
    info.log.mac = mac ?? raw.slice(0, 64);
    app.log.log('unknown-mac', { mac: info.log.mac, remote: info.remote, uuid: info.query.get('uuid')?.slice(0, 64) });
    return send(res, 200, unknownMacScript(mac), IPXE);
  }
  info.log.mac = mac;
  info.log.node = node.name;
  const platform: Platform = info.query.get('platform') === 'efi' ? 'efi' : 'pcbios';
  const host = scriptHost(req);
  const base = host === undefined ? app.layout.manifest.server : `http://${host}`;

  const r = app.store.get(mac)!;
  if (r.state !== 'pending') return answer(app, res, info, r, node, base, platform);
  if (node.seed !== undefined && !app.layout.imageRoles.has(node.role)) {
    app.log.log('image-missing', { mac, node: node.name, role: node.role, remote: info.remote });
    return send(res, 200, imageMissingScript(base, node, platform), IPXE);
  }
  return app.store.beginInstall(mac).then((started) => {
    app.log.log('state', { mac, node: node.name, state: started.state, attempts: started.attempts, remote: info.remote });
    answer(app, res, info, started, node, base, platform);
  });
}

function answer(app: ServeApp, res: ServerResponse, info: RequestInfo, r: MachineRecord, node: PxeNode, base: string, platform: Platform): void {
  info.log.state = r.state;
  send(res, 200, cached(app, r, node, base, platform), IPXE);
}
