// Benchmark: 200 NoCloud seed ISOs written in-process by writeSeedIso vs 200 runs of cloud-localds
// (genisoimage) over the same seed files, in the same run. Target: at least 20x faster.
// Run directly: npm run build && node dist/bench/iso.bench.js

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { writeSeedIso, type IsoFile } from '../src/iso/iso9660.js';

const COUNT = 200;
const TARGET = 20;

function seedFor(i: number): IsoFile[] {
  const host = `node-${String(i).padStart(3, '0')}`;
  return [
    {
      name: 'user-data',
      content:
        `#cloud-config\nhostname: ${host}\nfqdn: ${host}.cluster.local\nwrite_files:\n` +
        `  - path: /etc/kubernetes/kubeadm-join.yaml\n    permissions: '0600'\n    content: |\n` +
        `      apiVersion: kubeadm.k8s.io/v1beta3\n      kind: JoinConfiguration\n`.repeat(20) +
        `runcmd:\n  - [kubeadm, join, --config, /etc/kubernetes/kubeadm-join.yaml]\n`,
    },
    { name: 'meta-data', content: `instance-id: ${host}\nlocal-hostname: ${host}\n` },
    {
      name: 'network-config',
      content: `version: 2\nethernets:\n  eth0:\n    addresses: [10.0.0.${(i % 250) + 2}/24]\n    routes:\n      - to: default\n        via: 10.0.0.1\n`,
    },
  ];
}

const ms = (n: number) => `${n.toFixed(0)} ms`;

export async function benchIso(): Promise<{ name: string; lines: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'mkimage-bench-iso-'));
  try {
    const seeds = Array.from({ length: COUNT }, (_, i) => seedFor(i));

    // cloud-localds needs the seed files on disk; writing them is not timed (it favours cloud-localds).
    const inputs = seeds.map((files, i) => {
      const d = join(dir, 'in', String(i));
      mkdirSync(d, { recursive: true });
      for (const f of files) writeFileSync(join(d, f.name), f.content);
      return d;
    });
    mkdirSync(join(dir, 'localds'));
    mkdirSync(join(dir, 'mkimage'));

    const t0 = performance.now();
    seeds.forEach((files, i) => writeFileSync(join(dir, 'mkimage', `${i}.iso`), writeSeedIso(files, { epochSeconds: 0 })));
    const ours = performance.now() - t0;

    const t1 = performance.now();
    inputs.forEach((d, i) => {
      const r = spawnSync(
        'cloud-localds',
        ['--network-config', join(d, 'network-config'), join(dir, 'localds', `${i}.iso`), join(d, 'user-data'), join(d, 'meta-data')],
        { encoding: 'utf8' },
      );
      if (r.error !== undefined || r.status !== 0) {
        throw new Error(`cloud-localds failed (apt-get install cloud-image-utils genisoimage): ${r.error?.message ?? r.stderr}`);
      }
    });
    const theirs = performance.now() - t1;

    const ratio = theirs / ours;
    const size = (p: string) => statSync(p).size;
    return {
      name: 'iso',
      lines: [
        `writeSeedIso:  ${COUNT} ISOs in ${ms(ours)} (${(ours / COUNT).toFixed(2)} ms each, ${size(join(dir, 'mkimage', '0.iso'))} bytes)`,
        `cloud-localds: ${COUNT} ISOs in ${ms(theirs)} (${(theirs / COUNT).toFixed(2)} ms each, ${size(join(dir, 'localds', '0.iso'))} bytes)`,
        `speedup: ${ratio.toFixed(1)}x (target >= ${TARGET}x) ${ratio >= TARGET ? 'PASS' : 'FAIL'}`,
      ],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { name, lines } = await benchIso();
  console.log(`# ${name}`);
  for (const l of lines) console.log(l);
}
