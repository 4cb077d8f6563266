// The e2e mirror's HTTP server, run as its own process (node serve.mjs CONFIG.json) so that a test blocking its
// event loop (spawnSync, execFileSync of a long packer build) never stalls a guest's apt-get or download.
// CONFIG: { "port": 0, "log": "/path/requests.log", "routes": [ { "prefix": "/a/", "dir": "/x" } | { "path": "/f", "file": "/y" } ] }
// Serves GET and HEAD on 127.0.0.1 only, with Content-Length and Last-Modified; no listings; 404 otherwise.
// Prints {"port":N} on stdout once listening; appends every request's path to the log.

import { appendFileSync, createReadStream, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { resolve, sep } from 'node:path';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));

const CONTENT_TYPES = {
  '.deb': 'application/vnd.debian.binary-package',
  '.gz': 'application/gzip',
  '.tgz': 'application/gzip',
  '.yaml': 'text/yaml',
  '.key': 'application/pgp-keys',
  '.gpg': 'application/pgp-signature',
};

function lookup(path) {
  for (const r of config.routes) {
    if (r.path !== undefined && path === r.path) return r.file;
    if (r.prefix !== undefined && path.startsWith(r.prefix)) {
      const file = resolve(r.dir, path.slice(r.prefix.length));
      if (file.startsWith(r.dir + sep) && !file.endsWith(`${sep}.complete`)) return file;
    }
  }
  return undefined;
}

const server = createServer((req, res) => {
  let path;
  try {
    path = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/');
  } catch {
    path = req.url ?? '/';
  }
  appendFileSync(config.log, `${path}\n`);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-length': '0' }).end();
    return;
  }
  const file = lookup(path);
  let st;
  try {
    st = file === undefined ? undefined : statSync(file);
  } catch {
    st = undefined;
  }
  if (!st?.isFile()) {
    res.writeHead(404, { 'content-type': 'text/plain', 'content-length': '10' }).end(req.method === 'HEAD' ? undefined : 'not found\n');
    return;
  }
  const ext = file.slice(file.lastIndexOf('.'));
  res.writeHead(200, {
    'content-type': CONTENT_TYPES[ext] ?? (/\/(Release|InRelease|Packages)$/.test(file) ? 'text/plain' : 'application/octet-stream'),
    'content-length': String(st.size),
    'last-modified': st.mtime.toUTCString(),
  });
  if (req.method === 'HEAD') res.end();
  else createReadStream(file).pipe(res);
});

// Idle keep-alive connections stay open for 10 minutes: a client whose event loop was blocked (a test in spawnSync)
// must not reuse a socket this process closed meanwhile (Node's default is 5 s; undici then fails "other side closed").
server.keepAliveTimeout = 10 * 60_000;
server.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
