// Benchmark: fetch + verify + extract of a ~100 MB .tgz served on 127.0.0.1, by mkimage (in a child node process)
// vs `curl -so f URL && sha256sum f && tar -xzf f` in the same run. Both run under /usr/bin/time, whose %M is the
// peak RSS of what it ran. (Not the child's own resourceUsage().maxRSS: Linux carries the high-water mark of the
// forked parent across exec, so a child of this process, which holds the 100 MB archive, reported ~140 MB whatever
// it used itself.)
// Targets: no slower than the curl pipeline; peak RSS < 100 MB.
// Run: npm run bench (compiled), or directly: node dist/bench/fetch.bench.js

import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { serveBytes, startServer } from '../test/helpers/http-server.js';

const SIZE = 100 * 1024 * 1024;
const RUNS = 3;
const MEMBER = 'cri-dockerd/cri-dockerd';

/** The compiled fetcher: next to this file in dist/, or dist/ when run from the TypeScript source. */
function fetcherModule(): string {
  const here = import.meta.url;
  const candidates = [new URL('../src/fetch/index.js', here), new URL('../dist/src/fetch/index.js', here)];
  for (const c of candidates) if (existsSync(fileURLToPath(c))) return c.href;
  throw new Error('compiled src/fetch/index.js not found: run `npm run build` first');
}

async function makeBigTgz(path: string): Promise<void> {
  const pack = tar.pack();
  const writing = pipeline(pack, createGzip({ level: 1 }), createWriteStream(path));
  const entry = pack.entry({ name: MEMBER, size: SIZE, mode: 0o755, mtime: new Date(0) });
  async function* noise() {
    const chunk = 1 << 20;
    for (let off = 0; off < SIZE; off += chunk) yield randomBytes(Math.min(chunk, SIZE - off));
  }
  await pipeline(Readable.from(noise()), entry);
  pack.finalize();
  await writing;
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

function runChild(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
  });
}

/** `cmd args` under /usr/bin/time when there is one: its wall time and peak RSS (NaN without /usr/bin/time). */
async function measured(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string; ms: number; rssMB: number }> {
  if (!existsSync('/usr/bin/time')) return { ...(await runChild(cmd, args)), rssMB: NaN };
  const r = await runChild('/usr/bin/time', ['-f', '%M', cmd, ...args]);
  const lines = r.stderr.trimEnd().split('\n');
  const rssKB = Number(lines.pop());
  return { ...r, stderr: lines.join('\n'), rssMB: Number.isFinite(rssKB) ? rssKB / 1024 : NaN };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchFetch(): Promise<{ name: string; lines: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'mkimage-bench-fetch-'));
  const server = await startServer();
  try {
    const tgzPath = join(dir, 'cri-dockerd-0.3.9.amd64.tgz');
    await makeBigTgz(tgzPath);
    const body = await readFile(tgzPath);
    const sum = await sha256File(tgzPath);
    server.route('/cri-dockerd-0.3.9.amd64.tgz', serveBytes(body, { chunk: 1 << 20 }));
    const url = server.url('/cri-dockerd-0.3.9.amd64.tgz');
    const mod = fetcherModule();

    const ours: Array<{ ms: number; rssMB: number }> = [];
    const curl: Array<{ ms: number; rssMB: number }> = [];
    for (let i = 0; i < RUNS; i++) {
      const work = join(dir, `run-${i}`);
      await mkdir(work, { recursive: true });
      const artifact = { name: 'cri-dockerd', version: '0.3.9', arch: 'amd64', urls: [url], sha256: sum, member: MEMBER, dest: '/usr/local/bin/cri-dockerd', mode: '0755' };
      const script = `
        const { materialise } = await import(${JSON.stringify(mod)});
        await materialise(${JSON.stringify(artifact)}, { cacheDir: ${JSON.stringify(join(work, 'cache'))}, lockFile: ${JSON.stringify(join(work, 'mkimage.lock'))}, progress: 'never', log: () => {} }, ${JSON.stringify(join(work, 'stage'))});`;
      const r = await measured(process.execPath, ['--input-type=module', '-e', script]);
      if (r.code !== 0) throw new Error(`mkimage child failed: ${r.stderr}`);
      ours.push({ ms: r.ms, rssMB: r.rssMB });

      const cdir = join(work, 'curl');
      await mkdir(cdir, { recursive: true });
      const sh = `cd "$1" && curl -so f "$2" && sha256sum f >/dev/null && tar -xzf f`;
      const c = await measured('sh', ['-c', sh, 'sh', cdir, url]);
      if (c.code !== 0) throw new Error(`curl pipeline failed: ${c.stderr}`);
      curl.push({ ms: c.ms, rssMB: c.rssMB });
      await rm(work, { recursive: true, force: true });
    }

    const oursMs = median(ours.map((o) => o.ms));
    const curlMs = median(curl.map((o) => o.ms));
    const peak = Math.max(...ours.map((o) => o.rssMB));
    const ratio = oursMs / curlMs;
    return {
      name: 'fetch',
      lines: [
        `fetch+verify+extract of a ${(body.length / 1048576).toFixed(1)} MiB tgz over 127.0.0.1 (median of ${RUNS}, wall time incl. process start)`,
        `  mkimage (node child):      ${(oursMs / 1000).toFixed(2)} s, peak RSS ${peak.toFixed(1)} MB`,
        `  curl && sha256sum && tar:  ${(curlMs / 1000).toFixed(2)} s, peak RSS ${Math.max(...curl.map((o) => o.rssMB)).toFixed(1)} MB`,
        `  ratio mkimage/curl ${ratio.toFixed(2)} (target <= 1.00: ${ratio <= 1 ? 'met' : 'MISSED'}); RSS target < 100 MB: ${Number.isNaN(peak) ? 'not measured (no /usr/bin/time: apt-get install time)' : peak < 100 ? 'met' : 'MISSED'}`,
        `  load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} CPUs at the end (others' work on the machine slows both sides)`,
      ],
    };
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchFetch().then(
    (r) => console.log(`${r.name}\n${r.lines.join('\n')}`),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
