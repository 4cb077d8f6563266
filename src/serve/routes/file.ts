// GET/HEAD of the installer kernel, its initramfs, the golden images and Flatcar's files (flatcar-install's
// `wget --spider` is a HEAD), streamed from disk with one byte range when asked (206 with Content-Range; 416 past
// the end). Opened per request, so a file `pxe build` replaced is served whole, old or new, never mixed. If-Range cannot be checked without validators: the range
// is then ignored and the whole file sent, as RFC 9110 asks.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { ServeApp } from '../app.js';
import type { ServedFile } from '../layout.js';
import { parseRange } from '../range.js';
import type { RequestInfo } from '../request.js';
import { methodNotAllowed, send } from './respond.js';

const CHUNK = 256 * 1024;

export async function servedFile(app: ServeApp, req: IncomingMessage, res: ServerResponse, info: RequestInfo, f: ServedFile): Promise<void> {
  if (info.method !== 'GET' && info.method !== 'HEAD') return methodNotAllowed(res, 'GET, HEAD');
  let fh;
  try {
    fh = await open(f.file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    app.log.log('file-missing', { path: info.path, remote: info.remote, reason: 'removed since the server started: run `mkimage pxe build` again' });
    return send(res, 404, 'not found\n');
  }
  let streaming = false;
  try {
    const size = (await fh.stat()).size;
    const range = req.headers['if-range'] === undefined ? parseRange(req.headers.range, size) : ({ kind: 'whole' } as const);
    const common = { 'content-type': f.type, 'accept-ranges': 'bytes', 'cache-control': 'no-store' };
    if (range.kind === 'unsatisfiable') {
      return send(res, 416, 'range not satisfiable\n', undefined, { 'content-range': `bytes */${size}`, 'accept-ranges': 'bytes' });
    }
    const [start, end] = range.kind === 'part' ? [range.start, range.end] : [0, size - 1];
    const length = end - start + 1;
    if (range.kind === 'part') {
      res.writeHead(206, { ...common, 'content-length': length, 'content-range': `bytes ${start}-${end}/${size}` });
    } else {
      res.writeHead(200, { ...common, 'content-length': size });
    }
    if (info.method === 'HEAD' || length === 0) {
      res.end();
      return;
    }
    info.log.bytes = length;
    streaming = true;
    const stream = fh.createReadStream({ start, end, highWaterMark: CHUNK, autoClose: true });
    try {
      await pipeline(stream, res);
    } catch (e) {
      // The machine went away mid-download: nothing to answer, the log line says it was cut short.
      if (!res.destroyed && !res.writableFinished) throw e;
    }
  } finally {
    if (!streaming) await fh.close();
  }
}
