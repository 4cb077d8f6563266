// Benchmark: render a generated 1000-node inventory (1 control plane + 999 workers) with every seed ISO, in a
// child process so its peak RSS is its own. Targets on the 2-core machine: under 2 s and 300 MB.
// The cluster's secrets are generated first (as `mkimage cluster init` would) and not timed.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { PACKAGE_ROOT } from '../src/template.js';

export const NODES = 1000;

export function generateCluster(n: number): string {
  const doc = YAML.parseDocument(readFileSync(join(PACKAGE_ROOT, 'profiles', 'cluster.yaml'), 'utf8'));
  const base = doc.toJS() as Record<string, unknown>;
  const nodes = [];
  for (let i = 0; i < n; i++) {
    const hi = (i >> 8) & 0xff;
    const lo = i & 0xff;
    nodes.push({
      name: i === 0 ? 'cp1' : `worker${i}`,
      role: i === 0 ? 'control-plane' : 'worker',
      mac: `52:54:00:10:${hi.toString(16).padStart(2, '0')}:${lo.toString(16).padStart(2, '0')}`,
      ip: `10.50.${Math.floor(i / 250) + 1}.${(i % 250) + 1}/16`,
      gateway: '10.50.0.1',
      dns: ['10.50.0.1'],
    });
  }
  base.nodes = nodes;
  base.controlPlaneEndpoint = '10.50.1.1:6443';
  return YAML.stringify(base);
}

const CHILD = `
import { renderRole, loadAndLint, ensureSecrets } from ${JSON.stringify(join(PACKAGE_ROOT, 'dist/src/pipeline.js'))};
const [clusterFile, out] = process.argv.slice(2);
const opts = { clusterFile, cwd: out };
const pre = loadAndLint(opts);
if (!pre.inputs) { console.error(JSON.stringify(pre.diagnostics)); process.exit(2); }
await ensureSecrets(pre.inputs, opts);
// no writes pending when the clock starts (an earlier run's tree going to disk, the secrets): as for tar below
(await import('node:child_process')).spawnSync('sync');
const rss0 = process.resourceUsage().maxRSS;
const t0 = process.hrtime.bigint();
let seeds = 0;
for (const role of ['control-plane', 'worker']) {
  const r = await renderRole({ ...opts, role, out: out + '/out/' + role });
  if (!r.outDir) { console.error(JSON.stringify(r.diagnostics)); process.exit(2); }
  seeds += r.nodePlans.length;
}
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
console.log(JSON.stringify({ ms, seeds, maxRssKb: process.resourceUsage().maxRSS, rssBeforeKb: rss0 }));
`;

export async function benchRender(): Promise<{ name: string; lines: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'mkimage-bench-render-'));
  const clusterFile = join(dir, 'cluster.yaml');
  writeFileSync(clusterFile, generateCluster(NODES));
  writeFileSync(join(dir, 'child.mjs'), CHILD);
  let m: { ms: number; seeds: number; maxRssKb: number };
  let floor: { ms: number; entries: number };
  try {
    const r = spawnSync(process.execPath, [join(dir, 'child.mjs'), clusterFile, dir], { encoding: 'utf8', env: { ...process.env, SOURCE_DATE_EPOCH: '0' } });
    if (r.status !== 0) throw new Error(`render benchmark failed:\n${r.stderr}`);
    m = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as typeof m;
    floor = tarFloor(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true }); // ~100 MB: left behind, every run's dirty pages slow the next
  }
  const mb = m.maxRssKb / 1024;
  return {
    name: `render ${NODES}-node inventory with seed ISOs`,
    lines: [
      `seeds written: ${m.seeds} (user-data, meta-data, network-config, seed.iso each) + plans + packer dirs`,
      `wall time: ${(m.ms / 1000).toFixed(2)} s (target < 2 s) ${m.ms < 2000 ? 'OK' : 'MISSED'}`,
      `peak RSS: ${mb.toFixed(0)} MB (target < 300 MB) ${mb < 300 ? 'OK' : 'MISSED'}`,
      `the same ${floor.entries} files and directories written by GNU tar -x on the same file system: ${(floor.ms / 1000).toFixed(2)} s (the disk's share; render = ${(m.ms / floor.ms).toFixed(2)}x)`,
    ],
  };
}

/**
 * The reference for the disk's share of the time: GNU tar extracting the rendered tree (archived first, untimed)
 * beside it.
 */
function tarFloor(dir: string): { ms: number; entries: number } {
  const archive = join(dir, 'tree.tar');
  const c = spawnSync('tar', ['-C', dir, '-cf', archive, 'out'], { encoding: 'utf8' });
  if (c.status !== 0) throw new Error(`tar -c: ${c.stderr}`);
  const entries = spawnSync('tar', ['-tf', archive], { encoding: 'utf8' }).stdout.trim().split('\n').length;
  // beside the render's tree, not in its place (files just removed make new ones slow), after the render's writes
  // reach the disk (as the render started with none pending)
  const into = join(dir, 'tar-x');
  mkdirSync(into);
  spawnSync('sync');
  const t0 = process.hrtime.bigint();
  const x = spawnSync('tar', ['-C', into, '-xf', archive], { encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (x.status !== 0) throw new Error(`tar -x: ${x.stderr}`);
  return { ms, entries };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await benchRender();
  console.log(`# ${r.name}\n${r.lines.map((l) => `  ${l}`).join('\n')}`);
}
