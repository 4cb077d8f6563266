import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cacheRoot, fetchArtifact, FetchError, materialise, type FetchOptions } from '../src/fetch/index.js';
import type { PlanArtifact } from '../src/plan/types.js';
import { rejection } from './helpers/fetch-rejection.js';
import { redirect, reset, serveBytes, startServer, status, truncated, type TestServer } from './helpers/http-server.js';
import { makeTar, makeTgz, type TarMember } from './helpers/tgz.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
/** Deterministic incompressible bytes (a sha256 counter stream), so a tgz is about as big as its content. */
function noise(n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let off = 0, i = 0; off < n; off += 32, i++) createHash('sha256').update(String(i)).digest().copy(out, off);
  return out;
}
const TGZ = '/cri-dockerd-0.3.9.amd64.tgz';
const BINARY = Buffer.from('#!/bin/sh\necho "fake cri-dockerd (a test stand-in for the real binary)"\n');
const GOOD_MEMBERS: TarMember[] = [
  { name: 'cri-dockerd/', type: 'directory' },
  { name: 'cri-dockerd/cri-dockerd', content: BINARY, mode: 0o755 },
];

let dir: string;
let server: TestServer;
let logs: string[];
let opts: FetchOptions;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mkimage-fetch-'));
  server = await startServer();
  logs = [];
  opts = { cacheDir: join(dir, 'cache'), lockFile: join(dir, 'mkimage.lock'), retries: 2, backoffMs: 1, log: (l) => logs.push(l), progress: 'never' };
});

afterEach(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

function criDockerd(over: Partial<PlanArtifact> = {}): PlanArtifact {
  return {
    name: 'cri-dockerd',
    version: '0.3.9',
    arch: 'amd64',
    urls: [server.url(TGZ)],
    member: 'cri-dockerd/cri-dockerd',
    dest: '/usr/local/bin/cri-dockerd',
    mode: '0755',
    ...over,
  };
}

/** Every name under cas/ (temp files included), or [] when the directory does not exist. */
async function casListing(): Promise<string[]> {
  return readdir(join(dir, 'cache', 'cas')).catch(() => []);
}

describe('fetchArtifact / materialise over HTTP on 127.0.0.1', () => {
  it('downloads, verifies, extracts the binary with its mode, and a second run hits the cache without a request', async () => {
    const tgz = await makeTgz(GOOD_MEMBERS);
    server.route(TGZ, serveBytes(tgz));
    const a = criDockerd({ sha256: sha(tgz) });

    const out = await materialise(a, opts, join(dir, 'stage'));
    expect(out).toBe(join(dir, 'stage', 'cri-dockerd'));
    expect(await readFile(out)).toEqual(BINARY);
    expect((await stat(out)).mode & 0o7777).toBe(0o755);
    expect(await casListing()).toEqual([sha(tgz)]);
    expect(server.hits(TGZ)).toHaveLength(1);

    const again = await fetchArtifact(a, opts);
    expect(again).toMatchObject({ source: 'cache', sha256: sha(tgz), size: tgz.length, recorded: false });
    await materialise(a, opts, join(dir, 'stage2'));
    expect(server.hits(TGZ)).toHaveLength(1);
  });

  it('a sha256 mismatch names expected, got, the URL and the fix, and leaves nothing in the cache', async () => {
    const tgz = await makeTgz(GOOD_MEMBERS);
    server.route(TGZ, serveBytes(tgz));
    const pinned = sha('something else');
    const e = await rejection(fetchArtifact(criDockerd({ sha256: pinned }), opts));
    expect(e.kind).toBe('mismatch');
    expect(e.code).toBe('E015');
    expect(e.message).toContain(`expected ${pinned} (pinned in the plan)`);
    expect(e.message).toContain(`got      ${sha(tgz)}`);
    expect(e.message).toContain(server.url(TGZ));
    expect(e.message).toContain('Nothing was cached');
    expect(e.message).toContain('update the sha256 pinned in the profile');
    expect(e.message).not.toMatch(/\n\s+at /); // no stack in the user-facing text
    expect(await casListing()).toEqual([]);
  });

  it('resumes a truncated body with a Range request for the missing bytes', async () => {
    const tgz = await makeTgz([{ name: 'cri-dockerd/cri-dockerd', content: noise(300_000), mode: 0o755 }]);
    const cut = 100_000;
    expect(tgz.length).toBeGreaterThan(cut * 2);
    server.route(TGZ, [truncated(tgz, cut), serveBytes(tgz)]);
    const got = await fetchArtifact(criDockerd({ sha256: sha(tgz) }), opts);
    expect(got).toMatchObject({ source: 'network', sha256: sha(tgz), size: tgz.length });
    const hits = server.hits(TGZ);
    expect(hits).toHaveLength(2);
    expect(hits[0]!.headers.range).toBeUndefined();
    // resumes from exactly what reached the disk: some bytes, at most what the server sent before closing
    const m = /^bytes=(\d+)-$/.exec(String(hits[1]!.headers.range));
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(0);
    expect(Number(m![1])).toBeLessThanOrEqual(cut);
    expect(sha(await readFile(got.path))).toBe(sha(tgz));
  });

  it('restarts from zero when the server ignores Range (200 instead of 206)', async () => {
    const tgz = await makeTgz(GOOD_MEMBERS);
    server.route(TGZ, [truncated(tgz, 100, { ranges: false }), serveBytes(tgz, { ranges: false })]);
    const got = await fetchArtifact(criDockerd({ sha256: sha(tgz) }), opts);
    expect(sha(await readFile(got.path))).toBe(sha(tgz));
    expect(server.hits(TGZ)[1]!.headers.range).toBe('bytes=100-');
    expect(logs.some((l) => l.includes('does not support resuming; restarting'))).toBe(true);
  });

  it('a body that is always truncated gives a clear error after the bounded retries, nothing cached', async () => {
    const tgz = await makeTgz([{ name: 'cri-dockerd/cri-dockerd', content: noise(100_000), mode: 0o755 }]);
    server.route(TGZ, (req, res) => truncated(tgz, 0)(req, res));
    const e = await rejection(fetchArtifact(criDockerd({ sha256: sha(tgz) }), opts));
    expect(e.kind).toBe('network');
    expect(e.message).toContain(server.url(TGZ));
    expect(e.message).toContain('gave up after 3 attempts');
    expect(server.hits(TGZ)).toHaveLength(3);
    expect(await casListing()).toEqual([]);
  });

  it('retries a 500 and a connection reset, then succeeds', async () => {
    const tgz = await makeTgz(GOOD_MEMBERS);
    server.route(TGZ, [status(500, 'boom'), reset, serveBytes(tgz)]);
    const got = await fetchArtifact(criDockerd({ sha256: sha(tgz) }), opts);
    expect(got.sha256).toBe(sha(tgz));
    expect(server.hits(TGZ)).toHaveLength(3);
    expect(logs.filter((l) => l.includes('retrying in'))).toHaveLength(2);
  });

  it('a 404 is not retried and the error names the URL', async () => {
    const e = await rejection(fetchArtifact(criDockerd({ sha256: sha('x') }), opts));
    expect(e.kind).toBe('http');
    expect(e.message).toContain(`GET ${server.url(TGZ)} returned 404`);
    expect(e.message).toContain('check the version and URL of cri-dockerd-0.3.9.amd64.tgz');
    expect(server.hits(TGZ)).toHaveLength(1);
    expect(await casListing()).toEqual([]);
  });

  it('follows redirects (relative and absolute Location)', async () => {
    const tgz = await makeTgz(GOOD_MEMBERS);
    server.route('/releases/download/v0.3.9/cri-dockerd-0.3.9.amd64.tgz', redirect('/objects/abc', 302));
    server.route('/objects/abc', redirect(server.url(TGZ), 301));
    server.route(TGZ, serveBytes(tgz));
    const a = criDockerd({ sha256: sha(tgz), urls: [server.url('/releases/download/v0.3.9/cri-dockerd-0.3.9.amd64.tgz')] });
    const got = await fetchArtifact(a, opts);
    expect(got.sha256).toBe(sha(tgz));
    expect(server.requests.map((r) => r.path)).toEqual(['/releases/download/v0.3.9/cri-dockerd-0.3.9.amd64.tgz', '/objects/abc', TGZ]);
  });

  it('falls back along the mirror list in order', async () => {
    const tgz = await makeTgz(GOOD_MEMBERS);
    server.route('/mirror-a/f.tgz', status(404));
    server.route('/mirror-b/f.tgz', status(503));
    server.route('/mirror-c/f.tgz', serveBytes(tgz));
    const urls = ['/mirror-a/f.tgz', '/mirror-b/f.tgz', '/mirror-c/f.tgz'].map((p) => server.url(p));
    const got = await fetchArtifact(criDockerd({ sha256: sha(tgz), urls }), opts);
    expect(got.sha256).toBe(sha(tgz));
    expect(server.requests.map((r) => r.path)).toEqual(['/mirror-a/f.tgz', '/mirror-b/f.tgz', '/mirror-b/f.tgz', '/mirror-b/f.tgz', '/mirror-c/f.tgz']);
  });

  it('when every mirror fails the error lists each one', async () => {
    const urls = ['/a.tgz', '/b.tgz'].map((p) => server.url(p));
    const e = await rejection(fetchArtifact(criDockerd({ sha256: sha('x'), urls }), opts));
    expect(e.message).toContain('from any of its 2 mirrors');
    expect(e.message).toContain(`${urls[0]} returned 404`);
    expect(e.message).toContain(`${urls[1]} returned 404`);
  });

  it('offline with an empty cache is a clear error naming the artifact and `mkimage bundle`, and makes no request', async () => {
    server.route(TGZ, serveBytes(Buffer.from('x')));
    const e = await rejection(fetchArtifact(criDockerd({ sha256: sha('x') }), { ...opts, offline: true }));
    expect(e.kind).toBe('offline');
    expect(e.message).toContain('cri-dockerd-0.3.9.amd64.tgz (cri-dockerd 0.3.9 amd64)');
    expect(e.message).toContain('`mkimage bundle`');
    expect(server.requests).toHaveLength(0);
  });

  it('offline after a fetch is served from the cache', async () => {
    const tgz = await makeTgz(GOOD_MEMBERS);
    server.route(TGZ, serveBytes(tgz));
    const a = criDockerd({ sha256: sha(tgz) });
    await fetchArtifact(a, opts);
    const got = await fetchArtifact(a, { ...opts, offline: true });
    expect(got.source).toBe('cache');
  });

  it('a cached file that no longer matches its name is not trusted: removed, fetched again, staged right', async () => {
    const tgz = await makeTgz(GOOD_MEMBERS);
    server.route(TGZ, serveBytes(tgz));
    const a = criDockerd({ sha256: sha(tgz) });
    await fetchArtifact(a, opts);
    const cached = join(dir, 'cache', 'cas', sha(tgz));
    const tampered = await makeTgz([{ name: 'cri-dockerd/cri-dockerd', content: Buffer.from('#!/bin/sh\necho evil\n'), mode: 0o755 }]);
    await writeFile(cached, tampered);

    const staged = await materialise(a, opts, join(dir, 'stage'));
    expect(await readFile(staged)).toEqual(BINARY);
    expect(server.hits(TGZ)).toHaveLength(2);
    expect(sha(await readFile(cached))).toBe(sha(tgz));
    expect(logs).toContain(`cri-dockerd-0.3.9.amd64.tgz: the cached copy ${cached} hashes to ${sha(tampered)}, not the sum it is named by (changed since it was verified), and was removed; fetching it again`);

    // offline, nothing to fetch it from: refused, saying why, and the bad copy is gone
    await writeFile(cached, tampered);
    const e = await rejection(fetchArtifact(a, { ...opts, offline: true }));
    expect(e.kind).toBe('offline');
    expect(e.message).toContain(`the cached copy ${cached} hashes to ${sha(tampered)}`);
    expect(await casListing()).toEqual([]);
  });

  it('cacheRoot honours XDG_CACHE_HOME, then HOME', () => {
    expect(cacheRoot(undefined, { XDG_CACHE_HOME: '/x/cache', HOME: '/home/u' })).toBe('/x/cache/mkimage');
    expect(cacheRoot(undefined, { HOME: '/home/u' })).toBe('/home/u/.cache/mkimage');
    expect(cacheRoot('/explicit', { HOME: '/home/u' })).toBe('/explicit');
  });
});

/** A real TCP server on 127.0.0.1 that answers the n-th connection (from 0) with raw bytes, then ends it. */
async function rawServer(reply: (n: number) => Array<Buffer | string>): Promise<{ url: (p: string) => string; heads: string[]; close: () => Promise<void> }> {
  const heads: string[] = [];
  const sockets = new Set<Socket>();
  const srv = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let head = '';
    socket.on('data', (d: Buffer) => {
      if (head.includes('\r\n\r\n')) return;
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const n = heads.push(head) - 1;
      for (const part of reply(n)) socket.write(part);
      socket.end();
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  return {
    url: (p) => `http://127.0.0.1:${port}${p}`,
    heads,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}

/** `body` in chunked transfer coding: pieces of the given sizes (the rest in one), with an extension and a trailer. */
function chunked(body: Buffer, sizes: number[]): Buffer {
  const parts: Buffer[] = [];
  let off = 0;
  for (const size of [...sizes, body.length]) {
    const piece = body.subarray(off, off + size);
    if (piece.length === 0) break;
    parts.push(Buffer.from(`${piece.length.toString(16)};ext=1\r\n`), piece, Buffer.from('\r\n'));
    off += piece.length;
  }
  parts.push(Buffer.from('0\r\nX-Checksum: ignored\r\n\r\n'));
  return Buffer.concat(parts);
}

describe('HTTP/1.1 responses the downloader reads (a raw server on 127.0.0.1)', () => {
  const head = (status: string, fields: string[]) => `HTTP/1.1 ${status}\r\n${fields.map((f) => `${f}\r\n`).join('')}\r\n`;
  let raw: Awaited<ReturnType<typeof rawServer>> | undefined;
  afterEach(async () => {
    await raw?.close();
    raw = undefined;
  });

  it('a chunked body after a 103 Early Hints interim response: byte-exact, member extracted', async () => {
    const tgz = await makeTgz([{ name: 'cri-dockerd/cri-dockerd', content: noise(200_000), mode: 0o755 }]);
    raw = await rawServer(() => [head('103 Early Hints', ['Link: </style.css>; rel=preload']), head('200 OK', ['Transfer-Encoding: chunked']), chunked(tgz, [1, 7, 4096, 70_000])]);
    const a = criDockerd({ sha256: sha(tgz), urls: [raw.url(TGZ)] });
    const out = await materialise(a, opts, join(dir, 'stage'));
    expect(sha(await readFile(out))).toBe(sha(noise(200_000)));
    expect(raw.heads[0]).toMatch(/^GET \/cri-dockerd-0\.3\.9\.amd64\.tgz HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\n/);
  });

  it('a body that ends with the connection (no Content-Length, HTTP/1.0)', async () => {
    const tgz = await makeTgz(GOOD_MEMBERS);
    raw = await rawServer(() => ['HTTP/1.0 200 OK\r\nContent-Type: application/gzip\r\n\r\n', tgz]);
    const got = await fetchArtifact(criDockerd({ sha256: sha(tgz), urls: [raw.url(TGZ)] }), opts);
    expect(got).toMatchObject({ source: 'network', sha256: sha(tgz), size: tgz.length });
  });

  it('a chunked body cut inside a chunk is resumed with a Range request for the rest', async () => {
    const tgz = await makeTgz([{ name: 'cri-dockerd/cri-dockerd', content: noise(300_000), mode: 0o755 }]);
    const cut = 150_000;
    raw = await rawServer((n) => {
      if (n === 0) return [head('200 OK', ['Transfer-Encoding: chunked', 'Accept-Ranges: bytes']), chunked(tgz, [100_000]).subarray(0, cut)];
      const start = Number(/range: bytes=(\d+)-/i.exec(raw!.heads[n]!)?.[1]);
      return [head('206 Partial Content', [`Content-Range: bytes ${start}-${tgz.length - 1}/${tgz.length}`, `Content-Length: ${tgz.length - start}`]), tgz.subarray(start)];
    });
    const out = await materialise(criDockerd({ sha256: sha(tgz), urls: [raw.url(TGZ)] }), opts, join(dir, 'stage'));
    expect(sha(await readFile(out))).toBe(sha(noise(300_000)));
    expect(raw.heads).toHaveLength(2);
    const from = Number(/range: bytes=(\d+)-/i.exec(raw.heads[1]!)?.[1]);
    expect(from).toBeGreaterThan(100_000 - 1); // the whole first chunk reached the disk
    expect(from).toBeLessThan(cut);
  });

  it('a response with two different Content-Lengths is refused (retried, then a clear error), nothing cached', async () => {
    raw = await rawServer(() => [head('200 OK', ['Content-Length: 12', 'Content-Length: 13']), 'hello world!!']);
    const e = await rejection(fetchArtifact(criDockerd({ sha256: sha('x'), urls: [raw.url(TGZ)] }), opts));
    expect(e.kind).toBe('network');
    expect(e.message).toContain(`${raw.url(TGZ)}: the response has an invalid Content-Length ("12, 13")`);
    expect(e.message).toContain('gave up after 3 attempts');
    expect(raw.heads).toHaveLength(3);
    expect(await casListing()).toEqual([]);
  });

  it('a chunked body with a broken chunk size is refused', async () => {
    raw = await rawServer(() => [head('200 OK', ['Transfer-Encoding: chunked']), '5\r\nhello\r\nzz\r\n']);
    const e = await rejection(fetchArtifact(criDockerd({ sha256: sha('x'), urls: [raw.url(TGZ)] }), { ...opts, retries: 0 }));
    expect(e.message).toContain('the response has a bad chunk size "zz"');
  });
});

describe('the extraction in the download pass, across the 1 MiB blocks the body is read in', () => {
  // the blocks are reused: a stage that kept a reference to one past its write would see the next block's bytes
  it.each([
    ['tgz', makeTgz],
    ['plain tar', makeTar],
  ])('%s: a 3.5 MB member after a 1.2 MB one is extracted byte-exact', async (_kind, make) => {
    const wanted = noise(3_500_000);
    const archive = await make([
      { name: 'cri-dockerd/README', content: noise(1_200_000).toString('base64'), mode: 0o644 },
      { name: 'cri-dockerd/cri-dockerd', content: wanted, mode: 0o755 },
    ]);
    server.route(TGZ, serveBytes(archive, { chunk: 1 << 16 }));
    const out = await materialise(criDockerd({ sha256: sha(archive) }), opts, join(dir, 'stage'));
    expect(sha(await readFile(out))).toBe(sha(wanted));
    expect(await casListing()).toEqual([sha(archive)]);
  });
});

describe('extracting the member safely', () => {
  async function extractFrom(members: TarMember[], over: Partial<PlanArtifact> = {}): Promise<FetchError> {
    const tgz = await makeTgz(members);
    server.route(TGZ, serveBytes(tgz));
    const e = await rejection(materialise(criDockerd({ sha256: sha(tgz), ...over }), opts, join(dir, 'stage')));
    expect(e.kind).toBe('archive');
    // nothing half-written next to the destination
    expect(await readdir(join(dir, 'stage', 'usr/local/bin')).catch(() => [])).toEqual([]);
    return e;
  }

  it('refuses a member that escapes with ../', async () => {
    const e = await extractFrom([...GOOD_MEMBERS, { name: '../../etc/cron.d/evil', content: 'x' }]);
    expect(e.message).toContain('member "../../etc/cron.d/evil" escapes the archive');
  });

  it('refuses an absolute member path', async () => {
    const e = await extractFrom([{ name: '/etc/passwd', content: 'x' }, ...GOOD_MEMBERS]);
    expect(e.message).toContain('"/etc/passwd" escapes the archive');
  });

  it('refuses the wanted member as a symlink', async () => {
    const e = await extractFrom([{ name: 'cri-dockerd/real', content: BINARY, mode: 0o755 }, { name: 'cri-dockerd/cri-dockerd', type: 'symlink', linkname: 'real' }]);
    expect(e.message).toContain('"cri-dockerd/cri-dockerd" is a symlink to "real", not a regular file');
  });

  it('refuses the wanted member as a hard link', async () => {
    const e = await extractFrom([{ name: 'cri-dockerd/real', content: BINARY, mode: 0o755 }, { name: 'cri-dockerd/cri-dockerd', type: 'link', linkname: 'cri-dockerd/real' }]);
    expect(e.message).toContain('is a hard link');
  });

  it('refuses any symlink pointing outside the archive', async () => {
    const e = await extractFrom([...GOOD_MEMBERS, { name: 'cri-dockerd/etc', type: 'symlink', linkname: '../../etc' }]);
    expect(e.message).toContain('symlink "cri-dockerd/etc" points outside the archive ("../../etc")');
  });

  it('refuses a wanted member that is not a regular file', async () => {
    const e = await extractFrom([{ name: 'cri-dockerd/cri-dockerd/', type: 'directory' }]);
    expect(e.message).toContain('"cri-dockerd/cri-dockerd" is a directory, not a regular file');
  });

  it('refuses a binary without an execute bit', async () => {
    const e = await extractFrom([{ name: 'cri-dockerd/cri-dockerd', content: BINARY, mode: 0o644 }]);
    expect(e.message).toContain('is not executable in the archive (mode 0644)');
  });

  it('names the members it did find when the wanted one is missing', async () => {
    const e = await extractFrom([{ name: 'other/cri-dockerd', content: BINARY, mode: 0o755 }]);
    expect(e.message).toContain('has no member "cri-dockerd/cri-dockerd" (it holds "other/cri-dockerd")');
  });

  it('an artifact without a member is copied as-is with its mode', async () => {
    const yaml = 'kind: List\n';
    server.route('/calico.yaml', serveBytes(Buffer.from(yaml)));
    const a: PlanArtifact = { name: 'calico', version: 'v3.27.3', arch: 'amd64', urls: [server.url('/calico.yaml')], sha256: sha(yaml), dest: '/etc/kubernetes/addons/calico.yaml', mode: '0644' };
    const out = await materialise(a, opts, join(dir, 'stage'));
    expect(await readFile(out, 'utf8')).toBe(yaml);
    expect((await stat(out)).mode & 0o7777).toBe(0o644);
  });
});

describe('progress output', () => {
  function fakeStream(isTTY: boolean) {
    const writes: string[] = [];
    return { isTTY, writes, write: (s: string) => writes.push(s) };
  }

  it('draws a bar ending at 100% on a TTY', async () => {
    const tgz = await makeTgz(GOOD_MEMBERS);
    server.route(TGZ, serveBytes(tgz));
    const tty = fakeStream(true);
    await fetchArtifact(criDockerd({ sha256: sha(tgz) }), { ...opts, progress: 'auto', progressStream: tty });
    const text = tty.writes.join('');
    expect(text).toMatch(/^\rcri-dockerd-0\.3\.9\.amd64\.tgz \[/);
    expect(text).toContain(`[${'#'.repeat(24)}] 100%`);
    expect(text.endsWith('\n')).toBe(true);
  });

  it('writes nothing when the stream is not a TTY, with json, or with progress never', async () => {
    const tgz = await makeTgz(GOOD_MEMBERS);
    server.route(TGZ, serveBytes(tgz));
    const plain = fakeStream(false);
    const json = fakeStream(true);
    const never = fakeStream(true);
    await fetchArtifact(criDockerd({ sha256: sha(tgz) }), { ...opts, progress: 'auto', progressStream: plain });
    await fetchArtifact(criDockerd({ sha256: sha(tgz) }), { ...opts, cacheDir: join(dir, 'c2'), progress: 'auto', json: true, progressStream: json });
    await fetchArtifact(criDockerd({ sha256: sha(tgz) }), { ...opts, cacheDir: join(dir, 'c3'), progress: 'never', progressStream: never });
    expect(server.hits(TGZ)).toHaveLength(3);
    expect(plain.writes).toEqual([]);
    expect(json.writes).toEqual([]);
    expect(never.writes).toEqual([]);
  });
});

describe('mkimage.lock', () => {
  // a sum is recorded only from https: these fetches go to an https server on 127.0.0.1 (self-signed, trusted here)
  let secure: TestServer;
  beforeEach(async () => {
    secure = await startServer({}, { tls: true });
    opts.trustedCa = secure.ca!;
  });
  afterEach(() => secure.close());

  const calico = (): PlanArtifact => ({
    name: 'calico',
    version: 'v3.27.3',
    arch: 'amd64',
    urls: [secure.url('/v3.27.3/manifests/calico.yaml')],
    dest: '/etc/kubernetes/addons/calico.yaml',
    mode: '0644',
  });

  it('records the sum of an unpinned artifact on first fetch, says so, then enforces it', async () => {
    const v1 = '# calico v3.27.3\nkind: List\n';
    secure.route('/v3.27.3/manifests/calico.yaml', serveBytes(Buffer.from(v1)));
    const first = await fetchArtifact(calico(), opts);
    expect(first).toMatchObject({ recorded: true, source: 'network', sha256: sha(v1) });
    expect(logs).toContain(`recorded sha256 ${sha(v1)} for calico.yaml in ${opts.lockFile}; commit it`);
    expect(await readFile(opts.lockFile!, 'utf8')).toBe(
      `{\n  "lockVersion": 1,\n  "artifacts": [\n    {\n      "name": "calico",\n      "url": "${secure.url('/v3.27.3/manifests/calico.yaml')}",\n      "size": ${v1.length},\n      "sha256": "${sha(v1)}"\n    }\n  ]\n}\n`,
    );

    // enforced: the same cache is hit with no request and nothing new recorded
    const second = await fetchArtifact(calico(), opts);
    expect(second).toMatchObject({ recorded: false, source: 'cache' });
    expect(secure.requests).toHaveLength(1);

    // upstream changed under the same URL: with an empty cache, the lock rejects it
    secure.route('/v3.27.3/manifests/calico.yaml', serveBytes(Buffer.from('# tampered\n')));
    const e = await rejection(fetchArtifact(calico(), { ...opts, cacheDir: join(dir, 'other-cache') }));
    expect(e.kind).toBe('mismatch');
    expect(e.message).toContain(`expected ${sha(v1)} (recorded in ${opts.lockFile})`);
    expect(e.message).toContain(`delete its entry from ${opts.lockFile}`);
  });

  it('a pin that disagrees with the lock is an error; an agreeing pin is fine', async () => {
    const v1 = 'kind: List\n';
    secure.route('/v3.27.3/manifests/calico.yaml', serveBytes(Buffer.from(v1)));
    await fetchArtifact(calico(), opts);
    const e = await rejection(fetchArtifact({ ...calico(), sha256: sha('other') }, opts));
    expect(e.kind).toBe('lock');
    expect(e.message).toContain(`records sha256 ${sha(v1)}`);
    expect(e.message).toContain(`the plan pins ${sha('other')}`);
    const ok = await fetchArtifact({ ...calico(), sha256: sha(v1).toUpperCase() }, opts);
    expect(ok.recorded).toBe(false);
  });

  it('never records a sum read over plain http: E019 with the pin to set, nothing cached or recorded', async () => {
    const body = Buffer.from('kind: List\n');
    server.route('/calico.yaml', serveBytes(body));
    const plain = { ...calico(), name: 'calico-manifest', urls: [server.url('/calico.yaml')] };
    const e = await rejection(fetchArtifact(plain, opts));
    expect(e.code).toBe('E019');
    expect(e.message).toContain(`${server.url('/calico.yaml')} is plain http, and the sha256 of calico.yaml is not known yet`);
    expect(e.message).toContain('pin the sum (calicoManifestSha256 in the cluster file)');
    expect(server.requests).toHaveLength(0);
    await expect(stat(opts.lockFile!)).rejects.toThrow();
    expect(await casListing()).toEqual([]);
    // pinned, the same mirror is fine
    expect(await fetchArtifact({ ...plain, sha256: sha(body) }, opts)).toMatchObject({ source: 'network', recorded: false });
  });

  it('passes over a plain-http mirror (or an https one redirecting to http) to record from https', async () => {
    const body = Buffer.from('kind: List\n');
    server.route('/calico.yaml', serveBytes(body));
    secure.route('/to-plain', redirect(server.url('/calico.yaml')));
    secure.route('/calico.yaml', serveBytes(body));
    const got = await fetchArtifact({ ...calico(), urls: [server.url('/calico.yaml'), secure.url('/to-plain'), secure.url('/calico.yaml')] }, opts);
    expect(got).toMatchObject({ source: 'network', recorded: true, sha256: sha(body) });
    expect(server.requests).toHaveLength(0);
    expect(JSON.parse(await readFile(opts.lockFile!, 'utf8')).artifacts[0].url).toBe(server.url('/calico.yaml')); // by its first URL, as always
    expect(logs.filter((l) => l.includes('failed, trying the next mirror'))).toHaveLength(2);
    // and when https never answers, the error says the plain-http one was refused and why
    const e = await rejection(fetchArtifact({ ...calico(), urls: [server.url('/calico.yaml'), secure.url('/missing')] }, { ...opts, cacheDir: join(dir, 'c2'), lockFile: join(dir, 'l2') }));
    expect(e.code).toBe('E019');
    expect(e.message).toContain('is plain http');
    expect(e.message).toContain(`GET ${secure.url('/missing')} returned 404`);
  });

  it('a pinned artifact is not recorded; a corrupt lock is a clear error', async () => {
    const tgz = await makeTgz(GOOD_MEMBERS);
    server.route(TGZ, serveBytes(tgz));
    const got = await fetchArtifact(criDockerd({ sha256: sha(tgz) }), opts);
    expect(got.recorded).toBe(false);
    await expect(stat(opts.lockFile!)).rejects.toThrow();
    await writeFile(opts.lockFile!, '{"lockVersion": 1, "artifacts": [');
    const e = await rejection(fetchArtifact(criDockerd({ sha256: sha(tgz) }), opts));
    expect(e.kind).toBe('lock');
    expect(e.message).toContain('is not valid JSON');
  });
});
