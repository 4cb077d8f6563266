import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tar from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fetchArtifact, materialise, writeBundle, type FetchOptions } from '../src/fetch/index.js';
import { packBundle } from '../src/fetch/bundle.js';
import type { PlanArtifact } from '../src/plan/types.js';
import { rejection } from './helpers/fetch-rejection.js';
import { serveBytes, startServer, type TestServer } from './helpers/http-server.js';
import { makeTgz } from './helpers/tgz.js';
import { run } from './helpers/tools.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const BINARY = Buffer.from('#!/bin/sh\necho "fake cri-dockerd (a test stand-in)"\n');
const CALICO = '# calico v3.27.3 (test stand-in)\nkind: List\n';

let dir: string;
let server: TestServer;
let tgz: Buffer;
let logs: string[];
let online: FetchOptions;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mkimage-bundle-'));
  // https: the unpinned Calico stand-in's sum is recorded, which mkimage does only from https
  server = await startServer({}, { tls: true });
  tgz = await makeTgz([{ name: 'cri-dockerd/cri-dockerd', content: BINARY, mode: 0o755 }]);
  server.route('/v0.3.9/cri-dockerd-0.3.9.amd64.tgz', serveBytes(tgz));
  server.route('/v3.27.3/manifests/calico.yaml', serveBytes(Buffer.from(CALICO)));
  logs = [];
  online = { cacheDir: join(dir, 'cache'), lockFile: join(dir, 'mkimage.lock'), retries: 0, backoffMs: 1, progress: 'never', log: (l) => logs.push(l), trustedCa: server.ca! };
});

afterEach(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

const artifacts = (): PlanArtifact[] => [
  {
    name: 'cri-dockerd',
    version: '0.3.9',
    arch: 'amd64',
    urls: [server.url('/v0.3.9/cri-dockerd-0.3.9.amd64.tgz')],
    sha256: sha(tgz),
    member: 'cri-dockerd/cri-dockerd',
    dest: '/usr/local/bin/cri-dockerd',
    mode: '0755',
  },
  { name: 'calico', version: 'v3.27.3', arch: 'amd64', urls: [server.url('/v3.27.3/manifests/calico.yaml')], dest: '/etc/kubernetes/addons/calico.yaml', mode: '0644' },
];

/** An air-gapped machine: its own empty cache and lock, offline, with only the bundle. */
const airGapped = (bundle: string): FetchOptions => ({
  cacheDir: join(dir, 'airgap-cache'),
  lockFile: join(dir, 'airgap.lock'),
  offline: true,
  bundle,
  progress: 'never',
  log: (l) => logs.push(l),
});

describe('mkimage bundle', () => {
  it('round-trips: write the bundle online, then fetch offline from it into an empty cache', async () => {
    const out = join(dir, 'artifacts.tar');
    const summary = await writeBundle(artifacts(), out, online);
    expect(summary.lock.artifacts.map((e) => [e.name, e.sha256])).toEqual([
      ['cri-dockerd', sha(tgz)],
      ['calico', sha(CALICO)],
    ]);
    expect(logs).toContain(`recorded sha256 ${sha(CALICO)} for calico.yaml in ${online.lockFile}; commit it`);
    const requestsOnline = server.requests.length;
    expect(requestsOnline).toBe(2);

    // the real tar reads it: lock first, artifacts by sum, friendly names as hard links
    const listing = run('tar', ['-tvf', out]);
    expect(listing.status).toBe(0);
    const names = listing.stdout.trim().split('\n').map((l) => l.split(/\s+/).slice(5).join(' '));
    const [a, b] = [sha(tgz), sha(CALICO)].sort();
    expect(names).toEqual([
      'mkimage.lock',
      `sha256/${a}`,
      `sha256/${b}`,
      `by-name/calico/v3.27.3/amd64/calico.yaml link to sha256/${sha(CALICO)}`,
      `by-name/cri-dockerd/0.3.9/amd64/cri-dockerd-0.3.9.amd64.tgz link to sha256/${sha(tgz)}`,
    ]);
    const unpacked = join(dir, 'unpacked');
    expect(run('sh', ['-c', `mkdir -p "$1" && tar -xf "$2" -C "$1"`, 'sh', unpacked, out]).status).toBe(0);
    expect(sha(await readFile(join(unpacked, 'by-name/cri-dockerd/0.3.9/amd64/cri-dockerd-0.3.9.amd64.tgz')))).toBe(sha(tgz));
    expect(JSON.parse(await readFile(join(unpacked, 'mkimage.lock'), 'utf8'))).toEqual({ lockVersion: 1, artifacts: summary.lock.artifacts.slice().reverse() });

    // air-gapped: no network, empty cache, no lock yet
    const opts = airGapped(out);
    const bin = await materialise(artifacts()[0]!, opts, join(dir, 'stage'));
    expect(await readFile(bin)).toEqual(BINARY);
    const calico = await fetchArtifact(artifacts()[1]!, opts);
    expect(calico).toMatchObject({ source: 'bundle', sha256: sha(CALICO), recorded: true });
    expect(await readFile(calico.path, 'utf8')).toBe(CALICO);
    expect((await readdir(join(dir, 'airgap-cache', 'cas'))).sort()).toEqual([a, b]);
    expect(server.requests).toHaveLength(requestsOnline);

    // and a second offline fetch is a plain cache hit
    expect((await fetchArtifact(artifacts()[1]!, opts)).source).toBe('cache');
  });

  it('is byte-identical when written twice and honours SOURCE_DATE_EPOCH', async () => {
    const saved = process.env['SOURCE_DATE_EPOCH'];
    process.env['SOURCE_DATE_EPOCH'] = '1700000000';
    try {
      await writeBundle(artifacts(), join(dir, 'one.tar'), online);
      await writeBundle(artifacts(), join(dir, 'two.tar'), online);
    } finally {
      if (saved === undefined) delete process.env['SOURCE_DATE_EPOCH'];
      else process.env['SOURCE_DATE_EPOCH'] = saved;
    }
    const one = await readFile(join(dir, 'one.tar'));
    expect(one.equals(await readFile(join(dir, 'two.tar')))).toBe(true);
    const headers: Array<{ name: string; mtime: number; uid: number; mode: number }> = [];
    const ex = tar.extract();
    const reading = (async () => {
      for await (const e of ex) {
        headers.push({ name: e.header.name, mtime: e.header.mtime.getTime() / 1000, uid: e.header.uid, mode: e.header.mode });
        e.resume();
      }
    })();
    ex.end(one);
    await reading;
    expect(headers).toHaveLength(5);
    expect(headers.every((h) => h.mtime === 1700000000 && h.uid === 0 && h.mode === 0o644)).toBe(true);
  });

  it('bundles what the sums name, not what the cache holds under them', async () => {
    await writeBundle(artifacts(), join(dir, 'first.tar'), online);
    const cached = join(dir, 'cache', 'cas', sha(CALICO));
    await writeFile(cached, '# tampered\n');
    // through the cache: the bad copy is dropped and fetched again
    const out = join(dir, 'artifacts.tar');
    await writeBundle(artifacts(), out, online);
    const unpacked = join(dir, 'unpacked');
    expect(run('sh', ['-c', `mkdir -p "$1" && tar -xf "$2" -C "$1"`, 'sh', unpacked, out]).status).toBe(0);
    expect(await readFile(join(unpacked, `sha256/${sha(CALICO)}`), 'utf8')).toBe(CALICO);
    // a file that changes after it was checked (between fetch and pack) is caught as it goes in
    await writeFile(cached, '# tampered\n');
    const items = [{ artifact: artifacts()[1]!, sha256: sha(CALICO), size: '# tampered\n'.length, path: cached }];
    const e = await rejection(packBundle(items, { lockVersion: 1, artifacts: [] }, join(dir, 'late.tar')));
    expect(e.message).toContain(`${cached} (calico v3.27.3) changed while it was bundled: it hashes to ${sha('# tampered\n')}, not ${sha(CALICO)}`);
    expect((await readdir(dir)).filter((n) => n.includes('late'))).toEqual([]);
  });

  it('a corrupt artifact in the bundle is refused and nothing is cached', async () => {
    const out = join(dir, 'artifacts.tar');
    await writeBundle(artifacts(), out, online);
    const bytes = await readFile(out);
    const at = bytes.indexOf(tgz.subarray(0, 32));
    expect(at).toBeGreaterThan(0);
    bytes[at + 40] = bytes[at + 40]! ^ 0xff;
    await writeFile(out, bytes);
    const e = await rejection(fetchArtifact(artifacts()[0]!, airGapped(out)));
    expect(e.kind).toBe('bundle');
    expect(e.message).toContain(`the bundle ${out} is corrupt: sha256/${sha(tgz)}`);
    expect(e.message).toContain('write the bundle again with `mkimage bundle`');
    expect(await readdir(join(dir, 'airgap-cache', 'cas'))).toEqual([]);
  });

  it('offline with a bundle that lacks the artifact names both places it looked', async () => {
    const out = join(dir, 'only-calico.tar');
    await writeBundle([artifacts()[1]!], out, online);
    const e = await rejection(fetchArtifact(artifacts()[0]!, airGapped(out)));
    expect(e.kind).toBe('offline');
    expect(e.message).toContain('cri-dockerd-0.3.9.amd64.tgz (cri-dockerd 0.3.9 amd64) is in neither the cache');
    expect(e.message).toContain(`nor the bundle ${out}`);
    expect(e.message).toContain('`mkimage bundle`');
  });

  it('a file that is not a bundle is a clear error', async () => {
    const out = join(dir, 'not-a-bundle.tar');
    await writeFile(out, 'hello\n'.repeat(200));
    const e = await rejection(fetchArtifact(artifacts()[1]!, airGapped(out)));
    expect(e.kind).toBe('bundle');
    expect(e.code).toBe('E007');
    expect(e.message).toContain(`the bundle ${out} is not a tar written by \`mkimage bundle\``);
  });
});
