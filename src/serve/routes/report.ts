// POST /done?token=..  and  POST /failed?token=.. (body: the installer's log tail): the installer's last word.
// Through the same gate as the seeds; the token stops working with the report. The body is read up to 1 MiB,
// its last 8 KiB kept, control characters replaced (it is printed on an operator's terminal).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServeApp } from '../app.js';
import { checkInstallToken } from '../gate.js';
import type { RequestInfo } from '../request.js';
import { FAILURE_TAIL_MAX } from '../state-machine.js';
import { methodNotAllowed, send } from './respond.js';

export const BODY_MAX = 1024 * 1024;

/** The body's last `keep` bytes, or undefined when it is longer than BODY_MAX. */
async function bodyTail(req: IncomingMessage, keep: number): Promise<Buffer | undefined> {
  let total = 0;
  let chunks: Buffer[] = [];
  let held = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    total += c.length;
    if (total > BODY_MAX) return undefined;
    chunks.push(c);
    held += c.length;
    if (held > 4 * keep) {
      const all = Buffer.concat(chunks).subarray(-keep);
      chunks = [all];
      held = all.length;
    }
  }
  return Buffer.concat(chunks).subarray(-keep);
}

/** Printable text: control characters (terminal escapes included) become U+FFFD; newlines and tabs stay. */
export function printable(b: Buffer): string {
  return b.toString('utf8').replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '\ufffd');
}

export async function installReport(app: ServeApp, req: IncomingMessage, res: ServerResponse, info: RequestInfo, outcome: 'installed' | 'failed'): Promise<void> {
  if (info.method !== 'POST') return methodNotAllowed(res, 'POST');
  const gate = await checkInstallToken(app, info.query.get('token'), info);
  if (!gate.ok) {
    req.resume();
    app.log.log('report-refused', { path: info.path, mac: info.log.mac, node: info.log.node, remote: info.remote, status: gate.status, reason: gate.reason });
    return send(res, gate.status, gate.status === 403 ? 'forbidden\n' : 'not found\n');
  }
  const body = await bodyTail(req, FAILURE_TAIL_MAX);
  if (body === undefined) return send(res, 413, `the report body is over ${BODY_MAX} bytes: send the log's last lines\n`, undefined, { connection: 'close' });
  const next = await app.store.finish(gate.record, outcome, printable(body));
  if (next === undefined) {
    app.log.log('report-refused', { path: info.path, mac: gate.record.mac, node: gate.node.name, remote: info.remote, status: 409, reason: 'the machine already reported' });
    return send(res, 409, 'already reported\n');
  }
  info.log.state = next.state;
  app.log.log('state', { mac: next.mac, node: next.node, state: next.state, attempts: next.attempts, remote: info.remote, ...(outcome === 'failed' ? { tail: lastLine(next.failure?.tail ?? '') } : {}) });
  send(res, 200, 'ok\n');
}

function lastLine(tail: string): string {
  const lines = tail.trimEnd().split('\n');
  return (lines[lines.length - 1] ?? '').slice(0, 200);
}
