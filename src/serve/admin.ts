// The admin route of a running `pxe serve`: POST /reset {node, to} on 127.0.0.1 (a listener of its own, never
// the LAN one), with the secret from the 0600 lock file as a bearer token. Why a route, not an edit of the
// state file under a lock: the server changes states on the hot path and is the file's only writer while it
// runs, so an outside edit would race with it; through the route the change happens in the server's store,
// takes effect on the machine's next poll and is on disk before the CLI returns. The secret keeps out anything
// else on this host (a guest behind QEMU's NAT arrives from 127.0.0.1 too).

import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Diagnostic } from '../diagnostics.js';
import type { Logger } from './log.js';
import type { ResetKind, ResetOutcome } from './state-machine.js';
import type { StateStore } from './state-store.js';
import { newToken, sameToken } from './tokens.js';

export interface AdminServer {
  url: string;
  secret: string;
  close(): Promise<void>;
}

export type ResetAnswer = { ok: true; outcome: ResetOutcome } | { ok: false; diagnostic: Diagnostic };

/** `lookup` maps a node name to its MAC, or says which names there are. */
export async function startAdmin(store: StateStore, lookup: (node: string) => string | Diagnostic, log: Logger): Promise<AdminServer> {
  const secret = newToken();
  const server = createServer((req, res) => {
    const answer = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
    };
    const auth = req.headers.authorization ?? '';
    if (req.method !== 'POST' || req.url !== '/reset' || !sameToken(auth, `Bearer ${secret}`)) {
      req.resume();
      log.log('admin-refused', { path: (req.url ?? '').slice(0, 200), remote: req.socket.remoteAddress });
      return answer(403, { ok: false });
    }
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      if (body.length < 4096) body += c;
    });
    req.on('end', () => {
      void (async () => {
        try {
          const { node, to } = JSON.parse(body) as { node: string; to: ResetKind };
          const mac = lookup(node);
          if (typeof mac !== 'string') return answer(200, { ok: false, diagnostic: mac } satisfies ResetAnswer);
          const outcome = await store.reset(mac, to);
          if (outcome.kind === 'moved') log.log('state', { mac, node, state: outcome.record.state, from: outcome.from, by: `pxe ${to}` });
          answer(200, { ok: true, outcome } satisfies ResetAnswer);
        } catch (e) {
          log.log('error', { path: '/reset', message: (e as Error).stack ?? String(e) });
          answer(500, { ok: false });
        }
      })();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    secret,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Ask a running server to reset `node`. Throws when the server cannot be reached or refuses the secret. */
export function requestReset(admin: string, secret: string, node: string, to: ResetKind): Promise<ResetAnswer> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ node, to });
    const req = request(
      `${admin}/reset`,
      { method: 'POST', agent: false, headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: 10_000 },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`the running mkimage pxe serve answered ${res.statusCode}`));
          try {
            resolve(JSON.parse(text) as ResetAnswer);
          } catch (e) {
            reject(e);
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('the running mkimage pxe serve did not answer within 10 s')));
    req.on('error', reject);
    req.end(body);
  });
}
