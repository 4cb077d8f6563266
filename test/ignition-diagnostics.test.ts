// Flatcar's diagnostics, each at the line that causes it (real loader, real files in a temp project):
//   E018  a Docker that cri-dockerd cannot use on Flatcar, and what Flatcar cannot do (packages, commands);
//   E005  no artifactMirrors directory to serve the downloads from;
//   E007  a config Ignition refuses: found on the emitted config, mapped back through the translation set to the
//         profile line, and the real ignition-validate reports the same JSON path, which maps to the same line.
// Also a per-node osFamily: one Flatcar node in an el9 cluster gets a config, the others seeds, and Packer stays.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Diagnostic } from '../src/diagnostics.js';
import { loadAndLint, nodePlans, profileFor, renderRole, rolePlan } from '../src/pipeline.js';
import { loadSecrets } from '../src/cluster/secrets.js';
import { renderIgnition } from '../src/emit/ignition.js';
import { ignitionDiagnostics, ignitionProblemsFrom } from '../src/emit/ignition-check.js';
import { makeFlatcarBed, replaceOnce, type FlatcarBed } from './helpers/flatcar-bed.js';
import { run } from './helpers/tools.js';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'mkimage-flatcar-diag-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
async function bed(opts: { cluster?: (t: string) => string; base?: (t: string) => string; worker?: (t: string) => string } = {}): Promise<FlatcarBed> {
  const cwd = join(tmp, `p${++n}`);
  mkdirSync(cwd);
  const b = await makeFlatcarBed(cwd, { ...(opts.cluster !== undefined && { edit: opts.cluster }) });
  const edit = (file: string, f?: (t: string) => string) => {
    if (f) writeFileSync(join(b.profilesDir, file), f(readFileSync(join(b.profilesDir, file), 'utf8')));
  };
  edit('base.yaml', opts.base);
  edit('worker.yaml', opts.worker);
  return b;
}

/** Diagnostics of planning every role and node, as `mkimage validate` does. */
function planAll(b: FlatcarBed): Diagnostic[] {
  const loaded = loadAndLint({ cwd: b.cwd, profilesDir: b.profilesDir, clusterFile: b.clusterFile });
  expect(loaded.inputs, JSON.stringify(loaded.diagnostics)).toBeDefined();
  const diags: Diagnostic[] = [];
  for (const role of ['control-plane', 'worker']) {
    const profile = profileFor(loaded.inputs!, role, diags)!;
    rolePlan(loaded.inputs!, profile, diags);
    nodePlans(loaded.inputs!, profile, undefined, diags);
  }
  return diags;
}

/** The 1-based line of the only line of `file` containing `text`. */
function lineOf(file: string, text: string): number {
  const lines = readFileSync(file, 'utf8').split('\n');
  const hits = lines.flatMap((l, i) => (l.includes(text) ? [i + 1] : []));
  expect(hits, `${text} in ${file}`).toHaveLength(1);
  return hits[0]!;
}

const only = (diags: Diagnostic[], code: string) => {
  const hits = [...new Map(diags.filter((d) => d.code === code).map((d) => [JSON.stringify(d), d])).values()];
  expect(hits, JSON.stringify(diags)).toHaveLength(1);
  return hits[0]!;
};

describe('Docker and cri-dockerd on Flatcar (E018)', () => {
  it('Docker 24.0.7 with cri-dockerd 0.3.9: E018 at docker.version, with both fixes', async () => {
    const b = await bed({ base: (t) => replaceOnce(t, 'version: "24.0.9"', 'version: "24.0.7"') });
    const d = only(planAll(b), 'E018');
    expect(d.file).toBe(relative(b.cwd, join(b.profilesDir, 'base.yaml')));
    expect(d.line).toBe(lineOf(join(b.profilesDir, 'base.yaml'), 'version: "24.0.7"'));
    expect(d.message).toContain('set docker.version to 24.0.9');
    expect(d.message).toContain('criDockerd.version to 0.3.10 or later');
  });

  it('Docker 26 with cri-dockerd 0.3.9: E018 (Docker 25+ drops what cri-dockerd reads)', async () => {
    const b = await bed({ base: (t) => replaceOnce(t, 'version: "24.0.9"', 'version: "26.1.0"') });
    const d = only(planAll(b), 'E018');
    expect(d.line).toBe(lineOf(join(b.profilesDir, 'base.yaml'), 'version: "26.1.0"'));
    expect(d.message).toMatch(/cannot use Docker 25 or newer.*Mirantis\/cri-dockerd#299/);
  });

  it('Docker 26 with cri-dockerd 0.3.10: no E018', async () => {
    const b = await bed({
      base: (t) => replaceOnce(replaceOnce(t, 'version: "24.0.9"', 'version: "26.1.0"'), 'version: "0.3.9"', 'version: "0.3.10"'),
    });
    expect(planAll(b).filter((d) => d.severity === 'error')).toEqual([]);
  });

  it('packages and commands Flatcar cannot run: E018 at the profile line', async () => {
    const b = await bed({ worker: (t) => `${t}\nextraPackages: [htop]\ncommands:\n  - run: echo hi\n` });
    const diags = planAll(b).filter((d) => d.code === 'E018');
    const worker = join(b.profilesDir, 'worker.yaml');
    expect(diags.find((d) => d.message.startsWith('extraPackages'))?.line).toBe(lineOf(worker, 'extraPackages: [htop]'));
    expect(diags.find((d) => d.message.startsWith('commands'))?.line).toBe(lineOf(worker, '- run: echo hi'));
  });
});

describe('where the downloads are served from (E005)', () => {
  it('no artifactMirrors: E005 at osFamily', async () => {
    const b = await bed({ cluster: (t) => t.replace(/^artifactMirrors: .*$/m, '') });
    const d = only(planAll(b), 'E005');
    expect(d.line).toBe(lineOf(b.clusterFile, 'osFamily: flatcar'));
    expect(d.message).toContain('add the directory you serve that from to artifactMirrors');
  });
});

describe('a config Ignition refuses points at the profile line (E007)', () => {
  const BAD = '/etc/mkimage-extra//motd';
  it('a path that is not fully simplified: the render stops at the file\'s line, and the real ignition-validate agrees', async () => {
    const b = await bed({ worker: (t) => `${t}\nfiles:\n  - path: ${BAD}\n    content: "hello\\n"\n` });
    const worker = join(b.profilesDir, 'worker.yaml');
    const line = lineOf(worker, `path: ${BAD}`);

    const r = await renderRole({ role: 'worker', cwd: b.cwd, profilesDir: b.profilesDir, clusterFile: b.clusterFile, secretsDir: b.secretsDir, cacheDir: b.cacheDir });
    const e007 = r.diagnostics.filter((d) => d.code === 'E007');
    expect(e007.map((d) => [d.file, d.line])).toEqual([[relative(b.cwd, worker), line], [relative(b.cwd, worker), line]]); // worker1, worker2
    expect(e007[0]!.message).toContain('path is not fully simplified: write it as /etc/mkimage-extra/motd');
    expect(existsSync(join(b.cwd, 'out', 'worker')), 'nothing is written').toBe(false);

    // the same config through the real consumer: its report maps to the same line
    const loaded = loadAndLint({ cwd: b.cwd, profilesDir: b.profilesDir, clusterFile: b.clusterFile });
    const profile = profileFor(loaded.inputs!, 'worker', [])!;
    const plan = nodePlans(loaded.inputs!, profile, await loadSecrets(b.secretsDir), [], 'worker1')[0]!;
    for (const d of plan.flatcar!.downloads) d.sha512 = '0'.repeat(128);
    const emitted = renderIgnition(plan);
    const file = join(b.cwd, 'worker1.ign');
    writeFileSync(file, emitted.text);
    const v = run('ignition-validate', [file]);
    expect(v.status).not.toBe(0);
    const problems = ignitionProblemsFrom(v.stdout + v.stderr);
    expect(problems.map((p) => p.message)).toEqual(['path is not fully simplified']);
    const mapped = ignitionDiagnostics(problems, emitted.translations, plan);
    expect(mapped.map((d) => [d.code, d.file, d.line])).toEqual([['E007', relative(b.cwd, worker), line]]);
  });
});

describe('osFamily per node', () => {
  it('one Flatcar node in an el9 cluster: it gets an Ignition config, the other a seed, and the role keeps its Packer build', async () => {
    const b = await bed({
      cluster: (t) => replaceOnce(t.replace(/^osFamily: flatcar$/m, 'osFamily: el9'), '    ip: 192.168.66.22/24', '    ip: 192.168.66.22/24\n    osFamily: flatcar'),
    });
    const r = await renderRole({ role: 'worker', cwd: b.cwd, profilesDir: b.profilesDir, clusterFile: b.clusterFile, secretsDir: b.secretsDir, cacheDir: b.cacheDir, packerVersion: '1.6.6' });
    expect(r.diagnostics.filter((d) => d.severity === 'error'), JSON.stringify(r.diagnostics)).toEqual([]);
    const out = join(b.cwd, 'out', 'worker');
    expect(r.ignitionNodes).toEqual(['worker2']);
    expect(existsSync(join(out, 'ignition', 'worker2.ign'))).toBe(true);
    expect(existsSync(join(out, 'seeds', 'worker2'))).toBe(false);
    expect(existsSync(join(out, 'seeds', 'worker1', 'user-data'))).toBe(true);
    expect(existsSync(join(out, 'packer', 'mkimage.pkr.hcl'))).toBe(true);
    expect(run('ignition-validate', [join(out, 'ignition', 'worker2.ign')]).status).toBe(0);
  });
});

describe('the CLI on a Flatcar cluster', () => {
  it('says what it wrote and where to serve the downloads; --build builds nothing; a bad Docker exits 2 at its line', async () => {
    const { mkimage } = await import('./helpers/cli.js');
    const { symlinkSync } = await import('node:fs');
    const b = await bed();
    const xdg = join(b.cwd, 'xdg');
    mkdirSync(xdg);
    symlinkSync(b.cacheDir, join(xdg, 'mkimage'));
    const before = process.env['XDG_CACHE_HOME'];
    process.env['XDG_CACHE_HOME'] = xdg;
    try {
      const args = ['--profiles', b.profilesDir, '--cluster', b.clusterFile, '--secrets', b.secretsDir];
      const ok = await mkimage(b.cwd, 'worker', ...args, '--build');
      expect(ok.code, ok.err).toBe(0);
      expect(ok.err).toContain('wrote out/worker/: 2 Ignition config(s) (worker1, worker2) in ignition/, plan.json\n');
      expect(ok.err).toContain('note: serve out/worker/ignition/files/ at http://192.168.66.5/mkimage/');
      expect(ok.err).toContain('--build does nothing for a Flatcar role');
      expect(existsSync(join(b.cwd, 'out', 'worker', 'packer'))).toBe(false);

      writeFileSync(join(b.profilesDir, 'base.yaml'), replaceOnce(readFileSync(join(b.profilesDir, 'base.yaml'), 'utf8'), 'version: "24.0.9"', 'version: "24.0.7"'));
      const bad = await mkimage(b.cwd, 'worker', ...args);
      expect(bad.code).toBe(2);
      expect(bad.err).toContain(`error[E018]: docker.version 24.0.7 on Flatcar`);
      expect(bad.err).toContain(`--> profiles/base.yaml:${lineOf(join(b.profilesDir, 'base.yaml'), 'version: "24.0.7"')}:`);
    } finally {
      if (before === undefined) delete process.env['XDG_CACHE_HOME'];
      else process.env['XDG_CACHE_HOME'] = before;
    }
  });
});
