// GET /healthz: 200 once the state is loaded and the manifest read (that is, whenever the server listens),
// 503 while it shuts down.

import type { ServerResponse } from 'node:http';
import type { ServeApp } from '../app.js';
import { send } from './respond.js';

export function health(app: ServeApp, res: ServerResponse): void {
  const body = {
    ok: !app.closing,
    cluster: app.layout.manifest.cluster,
    nodes: app.layout.manifest.nodes.length,
    images: [...app.layout.imageRoles].sort(),
  };
  send(res, app.closing ? 503 : 200, `${JSON.stringify(body)}\n`, 'application/json');
}
