// End to end through the CLI's own entry point (in-process, with a temp cwd), plus one subprocess smoke test of
// the built binary. Outputs are checked with the real consumers: isoinfo, blkid, cloud-init, openssl.

import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync, readdirSync, statSync, writeFileSync, existsSync, mkdirSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { scratchDirs } from './helpers/tmp.js';
import type { Io } from '../src/cli/run.js';
import { PACKAGE_ROOT } from '../src/template.js';
import { discoveryHash } from '../src/cluster/pki.js';
import { run } from './helpers/tools.js';
import { filesUnder } from './helpers/tree.js';
import { mkimage, type Ran } from './helpers/cli.js';
import tar from 'tar-stream';
import { buildGoldenImage, BUILD_FAILED } from '../src/cli/build.js';
import { renderPackerDir } from '../src/emit/packer.js';
import { writeTreeAtomic } from '../src/output.js';
import { fixturePlan as rolePlanFixture } from './fixtures/plan.js';


const tmp = scratchDirs('mkimage-cli-');

function tree(dir: string): Map<string, Buffer> {
  return new Map(filesUnder(dir).map((f) => [f, readFileSync(join(dir, f))]));
}

const mode = (p: string) => statSync(p).mode & 0o777;
const TOKEN_RE = /\b[a-z0-9]{6}\.[a-z0-9]{16}\b/;

describe('mkimage control-plane on the embedded defaults', () => {
  let cwd: string;
  let first: Ran;
  beforeAll(async () => {
    cwd = tmp();
    first = await mkimage(cwd, 'control-plane');
  });

  it('writes the seeds, the plans and the Packer build, and says so', () => {
    expect(first.code, first.err).toBe(0);
    expect(first.err).toContain('wrote out/control-plane/: 1 node seed(s) (cp1)');
    expect(first.err).toContain('note: admin.sshAuthorizedKeys is empty');
    const out = join(cwd, 'out/control-plane');
    for (const f of ['plan.json', 'plans/cp1.json', 'seeds/cp1/user-data', 'seeds/cp1/meta-data', 'seeds/cp1/network-config', 'seeds/cp1/seed.iso', 'packer/mkimage.pkr.hcl']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
  });

  it('generates the secrets on first use, owner-only', () => {
    const dir = join(cwd, 'clusters/homelab/secrets');
    expect(first.err).toContain('generated the cluster');
    expect(mode(dir)).toBe(0o700);
    for (const f of readdirSync(dir)) if (f !== 'packer-build') expect(mode(join(dir, f)), f).toBe(0o600);
    // the cluster's build key for Packer, made once beside the secrets (never under out/)
    expect(mode(join(dir, 'packer-build'))).toBe(0o700);
    expect(mode(join(dir, 'packer-build/id_ed25519'))).toBe(0o600);
  });

  it('writes seeds that hold secrets as 0600', () => {
    const seed = join(cwd, 'out/control-plane/seeds/cp1');
    expect(mode(join(seed, 'user-data'))).toBe(0o600);
    expect(mode(join(seed, 'seed.iso'))).toBe(0o600);
    expect(readFileSync(join(seed, 'user-data'), 'utf8')).toContain('BEGIN PRIVATE KEY');
  });

  it('puts a seed ISO that reads back through isoinfo and blkid', () => {
    const seed = join(cwd, 'out/control-plane/seeds/cp1');
    const iso = join(seed, 'seed.iso');
    const d = run('isoinfo', ['-d', '-i', iso]);
    expect(d.stdout).toMatch(/Volume id: cidata/);
    expect(d.stdout).toMatch(/Joliet/);
    expect(d.stdout).toMatch(/Rock Ridge/);
    for (const name of ['user-data', 'meta-data', 'network-config']) {
      const x = spawnSync('isoinfo', ['-R', '-x', `/${name}`, '-i', iso]);
      expect(Buffer.compare(x.stdout, readFileSync(join(seed, name))), name).toBe(0);
    }
    // Rock Ridge carries the modes: user-data holds the CA keys and the token
    const listing = run('isoinfo', ['-R', '-l', '-i', iso]).stdout;
    expect(listing).toMatch(/^-rw------- .* user-data $/m);
    expect(listing).toMatch(/^-rw-r--r-- .* meta-data $/m);
    const b = run('blkid', ['-p', '-o', 'export', iso]);
    expect(b.stdout).toMatch(/^LABEL=cidata$/m);
    expect(b.stdout).toMatch(/^TYPE=iso9660$/m);
  });

  it('emits user-data the real cloud-init accepts', () => {
    const r = run('cloud-init', ['schema', '-c', join(cwd, 'out/control-plane/seeds/cp1/user-data')]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('is byte-identical when rendered again, and keeps the secrets', async () => {
    const before = tree(join(cwd, 'out/control-plane'));
    const secrets = tree(join(cwd, 'clusters'));
    const again = await mkimage(cwd, 'control-plane');
    expect(again.code, again.err).toBe(0);
    expect(again.err).not.toContain('generated');
    const after = tree(join(cwd, 'out/control-plane'));
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [k, v] of before) expect(Buffer.compare(v, after.get(k)!), k).toBe(0);
    expect(tree(join(cwd, 'clusters'))).toEqual(secrets);
  });

  it('keeps every secret out of the golden image build and the printed plans', () => {
    const files = tree(join(cwd, 'out/control-plane'));
    const token = JSON.parse(readFileSync(join(cwd, 'clusters/homelab/secrets/token.json'), 'utf8'));
    for (const [k, v] of files) {
      if (k.startsWith('seeds/')) continue;
      const text = v.toString('latin1');
      expect(text, k).not.toContain('PRIVATE KEY');
      expect(text, k).not.toContain(token.secret);
    }
  });
});

describe('admin login', () => {
  it('puts the cluster admin key on every node, and the missing-key note goes away', async () => {
    const cwd = tmp();
    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvYvTqY1sXjJgQ1Uo8hYvKk1dQm5J3e8uTqkW3m0aBc ops@example';
    const base = readFileSync(join(PACKAGE_ROOT, 'profiles/cluster.yaml'), 'utf8');
    writeFileSync(join(cwd, 'c.yaml'), base.replace('  sshAuthorizedKeys: []', `  sshAuthorizedKeys: ["${key}"]`));
    const r = await mkimage(cwd, 'worker', '--cluster', 'c.yaml');
    expect(r.code, r.err).toBe(0);
    expect(r.err).not.toContain('sshAuthorizedKeys is empty');
    for (const w of ['worker1', 'worker2']) expect(readFileSync(join(cwd, 'out/worker/seeds', w, 'user-data'), 'utf8')).toContain(key);
  });
});

describe('mkimage worker', () => {
  it('renders every worker, and no worker receives a private key', async () => {
    const cwd = tmp();
    const r = await mkimage(cwd, 'worker');
    expect(r.code, r.err).toBe(0);
    const seeds = join(cwd, 'out/worker/seeds');
    expect(readdirSync(seeds).sort()).toEqual(['worker1', 'worker2']);
    const ca = readFileSync(join(cwd, 'clusters/homelab/secrets/ca.crt'), 'utf8');
    for (const w of ['worker1', 'worker2']) {
      const ud = readFileSync(join(seeds, w, 'user-data'), 'utf8');
      expect(ud).not.toContain('PRIVATE KEY');
      expect(ud).not.toContain('/etc/kubernetes/pki/');
      expect(ud).toMatch(TOKEN_RE); // the join config: the token is how a worker joins
      expect(ud).toContain(discoveryHash(ca));
      expect(mode(join(seeds, w, 'user-data'))).toBe(0o600);
      expect(run('cloud-init', ['schema', '-c', join(seeds, w, 'user-data')]).status).toBe(0);
      // the token-bearing user-data is owner-only inside the ISO too (Rock Ridge)
      expect(run('isoinfo', ['-R', '-l', '-i', join(seeds, w, 'seed.iso')]).stdout).toMatch(/^-rw------- .* user-data $/m);
    }
  });
});

describe('bad input: exit 2, a positioned message worded as the fix, and no output', () => {
  const cases: Array<{ name: string; file: string; text?: string; code: string; at: RegExp }> = [
    { name: 'broken YAML', file: 'cluster.yaml', text: 'version: 1\nname: [homelab\n', code: 'E002', at: /cluster\.yaml:\d+:\d+/ },
    { name: 'unknown key', file: 'cluster.yaml', code: 'E003', at: /cluster\.yaml:8:1/ },
    { name: 'wrong type', file: 'cluster.yaml', code: 'E004', at: /cluster\.yaml:8:\d+/ },
    { name: 'missing file', file: 'nope.yaml', code: 'E001', at: /nope\.yaml/ },
    { name: 'duplicate MAC', file: 'cluster.yaml', code: 'E012', at: /cluster\.yaml:\d+:\d+/ },
  ];
  const base = readFileSync(join(PACKAGE_ROOT, 'profiles/cluster.yaml'), 'utf8');
  const edit: Record<string, (s: string) => string> = {
    'unknown key': (s) => s.replace(/^name: homelab/m, 'nmae: homelab'),
    'wrong type': (s) => s.replace(/^name: homelab/m, 'name: [homelab]'),
    'duplicate MAC': (s) => s.replace('52:54:00:66:00:22', '52:54:00:66:00:21'),
  };

  it.each(cases)('$name', async ({ name, file, text, code, at }) => {
    const cwd = tmp();
    const body = text ?? edit[name]?.(base);
    if (body !== undefined) writeFileSync(join(cwd, file), body);
    const r = await mkimage(cwd, 'control-plane', '--cluster', file);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`error[${code}]`);
    expect(r.err).toMatch(new RegExp(`--> ${at.source}`));
    expect(r.err).not.toMatch(/\n\s+at .*\.(js|ts):\d+/); // no stack trace
    expect(existsSync(join(cwd, 'out'))).toBe(false);
    expect(existsSync(join(cwd, 'clusters'))).toBe(false);
  });

  it('--json gives the same diagnostics for machines', async () => {
    const cwd = tmp();
    writeFileSync(join(cwd, 'c.yaml'), edit['unknown key']!(base));
    const r = await mkimage(cwd, 'validate', '--cluster', 'c.yaml', '--json');
    expect(r.code).toBe(2);
    const j = JSON.parse(r.out);
    expect(j.ok).toBe(false);
    expect(j.diagnostics).toContainEqual(expect.objectContaining({ severity: 'error', code: 'E003', file: 'c.yaml', line: 8, col: 1 }));
  });

  it('refuses to replace a directory it did not write', async () => {
    const cwd = tmp();
    mkdirSync(join(cwd, 'mine'));
    writeFileSync(join(cwd, 'mine/notes.txt'), 'keep me');
    const r = await mkimage(cwd, 'control-plane', '--out', 'mine');
    expect(r.code).toBe(2);
    expect(r.err).toContain('E017');
    expect(readFileSync(join(cwd, 'mine/notes.txt'), 'utf8')).toBe('keep me');
    expect(existsSync(join(cwd, 'clusters')), 'no secrets generated for a render that cannot be written').toBe(false);
  });
});

describe('lints and --strict', () => {
  it('warns on the seed guide values, and --strict makes the warnings fatal', async () => {
    const cwd = tmp();
    const base = readFileSync(join(PACKAGE_ROOT, 'profiles/cluster.yaml'), 'utf8');
    writeFileSync(join(cwd, 'c.yaml'), base.replace('serviceSubnet: 10.96.0.0/12', 'serviceSubnet: 10.10.0.0/12'));
    const warn = await mkimage(cwd, 'validate', '--cluster', 'c.yaml');
    expect(warn.code).toBe(0);
    expect(warn.err).toContain('warning[W103]');
    expect(warn.err).toContain('10.0.0.0/12');
    const strict = await mkimage(cwd, 'validate', '--cluster', 'c.yaml', '--strict');
    expect(strict.code).toBe(2);
    expect(strict.err).toContain('error[W103]');
  });
});

describe('other commands', () => {
  it('plan --node prints the node plan with secret contents redacted', async () => {
    const cwd = tmp();
    const r = await mkimage(cwd, 'plan', 'control-plane', '--node', 'cp1');
    expect(r.code, r.err).toBe(0);
    const plan = JSON.parse(r.out);
    expect(plan.node.name).toBe('cp1');
    const key = plan.files.find((f: { path: string }) => f.path === '/etc/kubernetes/pki/ca.key');
    expect(key.content).toMatch(/^<secret: \d+ bytes/);
    expect(r.out).not.toContain('PRIVATE KEY');
    expect(existsSync(join(cwd, 'clusters')), 'plan creates no secrets as a side effect').toBe(false);
  });

  it('validate plans every role and node: what a render refuses (E018), validate refuses, positioned, writing nothing', async () => {
    const cwd = tmp();
    const base = readFileSync(join(PACKAGE_ROOT, 'profiles/cluster.yaml'), 'utf8');
    writeFileSync(join(cwd, 'c.yaml'), base.replace('kubernetesVersion: "1.29.2"', 'kubernetesVersion: "1.28.2"'));
    const line = base.split('\n').findIndex((l) => l.startsWith('kubernetesVersion:')) + 1;
    const v = await mkimage(cwd, 'validate', '--cluster', 'c.yaml');
    expect(v.code).toBe(2);
    expect(v.err).toContain('error[E018]: kubernetesVersion 1.28.2 is not supported');
    expect(v.err).toContain(`--> c.yaml:${line}:`);
    expect(v.err).not.toContain('ok: cluster');
    const render = await mkimage(cwd, 'worker', '--cluster', 'c.yaml');
    expect(render.code).toBe(2);
    expect(render.err).toContain('error[E018]');
    expect(readdirSync(cwd).sort()).toEqual(['c.yaml']);
  });

  it('plan names the nodes it has when asked for one it does not', async () => {
    const r = await mkimage(tmp(), 'plan', 'worker', '--node', 'cp1');
    expect(r.code).toBe(2);
    expect(r.err).toContain('use one of worker1, worker2');
  });

  it('schema prints the committed JSON Schema', async () => {
    for (const kind of ['profile', 'cluster']) {
      const r = await mkimage(tmp(), 'schema', kind);
      expect(r.code).toBe(0);
      expect(r.out).toBe(readFileSync(join(PACKAGE_ROOT, `schema/${kind}.schema.json`), 'utf8'));
    }
  });

  it('cluster init refuses to overwrite; join-command matches the secrets; token rotates', async () => {
    const cwd = tmp();
    expect((await mkimage(cwd, 'cluster', 'init')).code).toBe(0);
    const again = await mkimage(cwd, 'cluster', 'init');
    expect(again.code).toBe(2);
    const join1 = await mkimage(cwd, 'cluster', 'join-command');
    expect(join1.code).toBe(0);
    const ca = readFileSync(join(cwd, 'clusters/homelab/secrets/ca.crt'), 'utf8');
    const token = JSON.parse(readFileSync(join(cwd, 'clusters/homelab/secrets/token.json'), 'utf8'));
    expect(join1.out.trim()).toBe(
      `kubeadm join 192.168.66.11:6443 --token ${token.id}.${token.secret} --discovery-token-ca-cert-hash ${discoveryHash(ca)} --cri-socket unix:///var/run/cri-dockerd.sock`,
    );
    expect((await mkimage(cwd, 'cluster', 'token')).code).toBe(0);
    const join2 = await mkimage(cwd, 'cluster', 'join-command');
    expect(join2.out).not.toBe(join1.out);
    expect(join2.out).toContain(discoveryHash(ca));
  });

  it('an unknown profile names the ones there are', async () => {
    const r = await mkimage(tmp(), 'render', 'gpu-worker');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/there is no profile "gpu-worker": use one of control-plane, ikuai-gateway, worker/);
  });

  it("a profile file over mkimage's own (the PKI) is E006 at its line, exit 2, nothing written", async () => {
    const cwd = tmp();
    cpSync(join(PACKAGE_ROOT, 'profiles'), join(cwd, 'p'), { recursive: true });
    const wp = join(cwd, 'p/worker.yaml');
    const text = readFileSync(wp, 'utf8').replace(/^extends: base$/m, "extends: base\nfiles:\n  - path: /etc/kubernetes/pki/ca.crt\n    content: mine\n");
    writeFileSync(wp, text);
    const line = text.split('\n').findIndex((l) => l.includes('/etc/kubernetes/pki/ca.crt')) + 1;
    const r = await mkimage(cwd, 'worker', '--profiles', 'p');
    expect(r.code).toBe(2);
    expect(r.err).toContain("error[E006]: files: /etc/kubernetes/pki/ca.crt is inside /etc/kubernetes/pki/, which mkimage writes (the cluster's PKI");
    expect(r.err).toContain(`--> p/worker.yaml:${line}:11`);
    expect(existsSync(join(cwd, 'out'))).toBe(false);
  });

  it('--profiles replaces the embedded profiles', async () => {
    const cwd = tmp();
    cpSync(join(PACKAGE_ROOT, 'profiles'), join(cwd, 'p'), { recursive: true });
    const wp = join(cwd, 'p/worker.yaml');
    writeFileSync(wp, readFileSync(wp, 'utf8').replace(/^extends: base$/m, 'extends: base\nextraPackages: [htop]'));
    const r = await mkimage(cwd, 'plan', 'worker', '--profiles', 'p');
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).packages.map((p: { name: string }) => p.name)).toContain('htop');
  });
});

describe('the built binary', () => {
  const cli = join(PACKAGE_ROOT, 'dist/src/cli.js');
  it('runs as a subprocess: help exits 0, a user mistake exits 2 without a stack trace', () => {
    expect(existsSync(cli), 'run `npm run build` (npm test does) before this test').toBe(true);
    const help = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('mkimage control-plane');
    const cwd = tmp();
    const bad = spawnSync(process.execPath, [cli, 'control-plane', '--cluster', 'missing.yaml'], { encoding: 'utf8', cwd });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('error[E001]');
    expect(bad.stderr).not.toContain('    at ');
  });
});

describe('--mode full', () => {
  /** The shipped cluster file with a Calico version mkimage has no pin for (and extra lines). */
  const clusterWith = (cwd: string, version: string, extra = '') => {
    const text = readFileSync(join(PACKAGE_ROOT, 'profiles/cluster.yaml'), 'utf8').replace(/^calicoVersion: .*$/m, `calicoVersion: ${version}${extra}`);
    writeFileSync(join(cwd, 'cluster.yaml'), text);
    return ['--cluster', 'cluster.yaml'];
  };

  it('needs the sha256 of every unpinned artifact, and says how to record it', async () => {
    const cwd = tmp();
    const r = await mkimage(cwd, 'control-plane', '--mode', 'full', ...clusterWith(cwd, 'v3.26.4'));
    expect(r.code).toBe(2);
    expect(r.err).toContain('error[E019]');
    expect(r.err).toContain('calico-manifest v3.26.4');
    expect(r.err).toContain('mkimage fetch');
    expect(existsSync(join(cwd, 'out'))).toBe(false);
  });

  it('pins the shipped Calico version (no lock needed) and a calicoManifestSha256 from the cluster file', async () => {
    const cwd = tmp();
    const shipped = await mkimage(cwd, 'control-plane', '--mode', 'full', '--out', 'out/shipped');
    expect(shipped.code, shipped.err).toBe(0);
    expect(readFileSync(join(cwd, 'out/shipped/seeds/cp1/user-data'), 'utf8')).toContain('001eacbb07c01f154f21d49c7f1e027dea8d4202d47347a324b678a7f69efdbe');
    const own = 'cd'.repeat(32);
    const r = await mkimage(cwd, 'control-plane', '--mode', 'full', ...clusterWith(cwd, 'v3.26.4', `\ncalicoManifestSha256: "${own}"`));
    expect(r.code, r.err).toBe(0);
    expect(readFileSync(join(cwd, 'out/control-plane/seeds/cp1/user-data'), 'utf8')).toContain(own);
  });

  it('with the lock filled, renders user-data that installs everything and passes cloud-init schema', async () => {
    const cwd = tmp();
    const sum = 'ab'.repeat(32);
    writeFileSync(
      join(cwd, 'mkimage.lock'),
      `${JSON.stringify({ lockVersion: 1, artifacts: [{ name: 'calico-manifest', url: 'https://raw.githubusercontent.com/projectcalico/calico/v3.26.4/manifests/calico.yaml', size: 1, sha256: sum }] }, null, 2)}\n`,
    );
    const r = await mkimage(cwd, 'control-plane', '--mode', 'full', ...clusterWith(cwd, 'v3.26.4'));
    expect(r.code, r.err).toBe(0);
    const ud = join(cwd, 'out/control-plane/seeds/cp1/user-data');
    expect(run('cloud-init', ['schema', '-c', ud]).status).toBe(0);
    const text = readFileSync(ud, 'utf8');
    expect(text).toContain(sum);
    expect(text).toContain('/etc/docker/daemon.json');
    expect(text).toContain('kubelet-1.29.2-150500.1.1');
  });
});

describe('mkimage cluster status (ssh is a FAKE on PATH: no node to log in to exists here)', () => {
  const FAKE_SSH = `#!/bin/bash
# FAKE ssh: records argv, runs the remote command against marker files under $FAKE_NODE_ROOT.
echo "$*" >> "$FAKE_NODE_ROOT/ssh.log"
[ -n "\${FAKE_SSH_DOWN:-}" ] && { echo "ssh: connect to host \${@: -2:1}: No route to host" >&2; exit 255; }
cmd="\${@: -1}"
cmd="\${cmd//\\/var\\/lib\\/mkimage/$FAKE_NODE_ROOT}"
sudo() { "$@"; }
export -f sudo
bash -c "$cmd"
`;
  async function status(state: 'done' | 'failed' | 'install-failed' | 'pending' | 'down', ...extra: string[]) {
    const root = tmp('fake-node');
    const bin = join(root, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'ssh'), FAKE_SSH, { mode: 0o755 });
    if (state === 'done') writeFileSync(join(root, 'firstboot.done'), 'node: worker1\nbootstrap: join\n');
    if (state === 'failed') writeFileSync(join(root, 'firstboot.failed'), 'reason: kubeadm join failed (exit 1)\nphase: first boot\ncommand: kubeadm join --config "$CONFIG"\nnode: worker1\n');
    if (state === 'install-failed') {
      writeFileSync(join(root, 'firstboot.failed'), 'reason: packages failed (exit 100)\nphase: install\ncommand: bash /var/lib/mkimage/bake.sh\nnode: worker1\n--- last log lines (/var/log/mkimage-install.log) ---\nE: Unable to locate package kubelet\n');
    }
    const saved = { PATH: process.env.PATH, FAKE_NODE_ROOT: process.env.FAKE_NODE_ROOT, FAKE_SSH_DOWN: process.env.FAKE_SSH_DOWN };
    Object.assign(process.env, { PATH: `${bin}:${process.env.PATH}`, FAKE_NODE_ROOT: root });
    if (state === 'down') process.env.FAKE_SSH_DOWN = '1';
    try {
      const r = await mkimage(tmp(), 'cluster', 'status', 'worker1', '-i', '/keys/ops', ...extra);
      const logFile = join(root, 'ssh.log');
      return { ...r, log: existsSync(logFile) ? readFileSync(logFile, 'utf8') : '' };
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
  }

  it('logs in as the admin user at the node address and reports success', async () => {
    const r = await status('done');
    expect(r.code, r.err).toBe(0);
    expect(r.log).toMatch(/-o StrictHostKeyChecking=accept-new -i \/keys\/ops -- kube@192\.168\.66\.21 /);
    expect(r.out).toContain('worker1: first boot done');
  });

  it('reports a failed first boot with its phase, reason and command, exit 3', async () => {
    const r = await status('failed');
    expect(r.code).toBe(3);
    expect(r.out).toContain('worker1: failed: first boot: kubeadm join failed (exit 1)\n');
    expect(r.out).toContain('command: kubeadm join --config "$CONFIG"');
  });

  it('reports a failed install (--mode full) the same way, also as JSON', async () => {
    const r = await status('install-failed');
    expect(r.code).toBe(3);
    expect(r.out).toContain('worker1: failed: install: packages failed (exit 100)\n');
    expect(r.out).toContain('E: Unable to locate package kubelet');
    const j = await status('install-failed', '--json');
    expect(j.code).toBe(3);
    expect(JSON.parse(j.out)).toMatchObject({ ok: false, node: 'worker1', state: 'failed', phase: 'install', reason: 'packages failed (exit 100)' });
  });

  it('reaches the node where --host and --port say (a NAT or a forwarded port), with its own known_hosts', async () => {
    const r = await status('done', '--host', '127.0.0.1', '--port', '2222', '--known-hosts', '/tmp/kh');
    expect(r.code, r.err).toBe(0);
    expect(r.log).toMatch(/-o UserKnownHostsFile=\/tmp\/kh -p 2222 -i \/keys\/ops -- kube@127\.0\.0\.1 /);
  });

  it.each([
    ['--user', '-oProxyCommand=touch /tmp/pwned'],
    ['--host', '-oProxyCommand=x'],
    ['--port', '22 -oX'],
  ])('%s %s never reaches ssh: exit 2 with the fix', async (flag, value) => {
    const r = await status('done', flag, value);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${flag} "${value}"`);
    expect(r.log).toBe('');
  });

  it('reports a node still booting', async () => {
    const r = await status('pending');
    expect(r.code).toBe(0);
    expect(r.out).toContain('still running');
  });

  it('an unreachable node is an environment error naming the fix', async () => {
    const r = await status('down');
    expect(r.code).toBe(3);
    expect(r.err).toContain('cannot reach kube@192.168.66.21');
    expect(r.err).toContain('sshAuthorizedKeys');
  });
});

describe('mkimage <role> --build', () => {
  it('a build that ran and failed exits 4 (not 1, not Packer\'s code) and keeps the old image', async () => {
    const cwd = tmp();
    const packerDir = join(cwd, 'packer');
    const imageDir = join(cwd, 'images/homelab/worker');
    mkdirSync(imageDir, { recursive: true });
    writeFileSync(join(imageDir, 'old.qcow2'), 'old');
    const plan = rolePlanFixture(false);
    plan.artifacts = [];
    await writeTreeAtomic(packerDir, renderPackerDir(plan, { packerVersion: '1.6.6' }));
    const bin = tmp('fakebin');
    // FAKE packer: fails like a self-check failure does (Packer exits 1); stub qemu and xorriso
    writeFileSync(join(bin, 'packer'), '#!/bin/sh\necho "==> qemu.golden: Provisioning with shell script: ./scripts/selfcheck.sh"\nexit 1\n', { mode: 0o755 });
    for (const t of ['qemu-system-x86_64', 'xorriso']) writeFileSync(join(bin, t), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    let err = '';
    const io: Io = { out: () => {}, err: (s) => void (err += s), color: false, tty: false, cwd, exitCode: 0 };
    const saved = process.env.PATH;
    process.env.PATH = `${bin}:/usr/bin:/bin`;
    try {
      const code = await buildGoldenImage(io, plan, packerDir, imageDir, { offline: true, lockFile: join(cwd, 'mkimage.lock') });
      expect(code).toBe(BUILD_FAILED);
      expect(BUILD_FAILED).toBe(4);
    } finally {
      process.env.PATH = saved;
    }
    expect(err).toContain('the build failed (packer exit 1): images/homelab/worker/ was left as it was');
    expect(readFileSync(join(imageDir, 'old.qcow2'), 'utf8')).toBe('old');
  });

  it('offline with an empty cache stops before Packer with exit 3, naming the artifact and `mkimage bundle`', async () => {
    const cwd = tmp();
    const saved = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = join(cwd, 'cache');
    try {
      const r = await mkimage(cwd, 'worker', '--build', '--offline', '--packer-version', '1.6.6');
      expect(r.code).toBe(3);
      expect(r.err).toContain('error[E015]');
      expect(r.err).toContain('cri-dockerd');
      expect(r.err).toContain('mkimage bundle');
      expect(r.err).not.toContain('==> packer build');
      // the render itself was written before the build started
      expect(existsSync(join(cwd, 'out/worker/packer/mkimage.pkr.hcl'))).toBe(true);
    } finally {
      if (saved === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = saved;
    }
  });
});

describe("a bad lock or bundle is the user's file: exit 2, named, with the fix", () => {
  // the first artifact `mkimage fetch` looks for (they go in name order): the pinned Calico v3.27.3 manifest
  const CALICO_SUM = '001eacbb07c01f154f21d49c7f1e027dea8d4202d47347a324b678a7f69efdbe';
  /** `mkimage fetch` with an empty cache of its own (so the artifacts are looked for in the bundle). */
  async function fetchIn(cwd: string, ...args: string[]): Promise<Ran> {
    const saved = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = join(cwd, 'cache');
    try {
      return await mkimage(cwd, 'fetch', ...args);
    } finally {
      if (saved === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = saved;
    }
  }
  async function tarOf(entries: Array<{ name: string; type?: 'file' | 'symlink'; body?: string; linkname?: string }>): Promise<Buffer> {
    const pack = tar.pack();
    for (const e of entries) {
      if (e.type === 'symlink') pack.entry({ name: e.name, type: 'symlink', linkname: e.linkname! });
      else pack.entry({ name: e.name }, e.body ?? '');
    }
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  it.each([
    ['a corrupt mkimage.lock', () => Promise.resolve({ lock: '{"lockVersion": 1, "artifacts": [' }), ['mkimage.lock is not valid JSON', 'restore it from version control or delete it to re-record every sum']],
    ['a lock entry without a sum', () => Promise.resolve({ lock: '{"lockVersion": 1, "artifacts": [{"name": "x"}]}\n' }), ['artifacts[0] must be {name, url, size, sha256}']],
    ['a bundle that is not a tar', () => Promise.resolve({ bundle: Buffer.from('not a tar\n') }), ['b.tar is not a tar written by `mkimage bundle`', 'write it again with `mkimage bundle`']],
    [
      'a bundle with a symlink member',
      async () => ({ bundle: await tarOf([{ name: 'mkimage.lock', body: '{"lockVersion": 1, "artifacts": []}\n' }, { name: `sha256/${CALICO_SUM}`, type: 'symlink', linkname: '/etc/shadow' }]) }),
      [`b.tar: sha256/${CALICO_SUM} is a symlink to /etc/shadow, not a file`, 'write it again with `mkimage bundle`'],
    ],
  ] as const)('%s', async (_what, make, says) => {
    const cwd = tmp();
    const made: { lock?: string; bundle?: Buffer } = await make();
    if (made.lock !== undefined) writeFileSync(join(cwd, 'mkimage.lock'), made.lock);
    if (made.bundle !== undefined) writeFileSync(join(cwd, 'b.tar'), made.bundle);
    const r = await fetchIn(cwd, '--offline', ...(made.bundle ? ['--bundle', join(cwd, 'b.tar')] : []));
    expect(r.code, r.err).toBe(2);
    expect(r.err).toContain('error[E007]');
    for (const s of says) expect(r.err).toContain(s);
    expect(r.err).not.toMatch(/\n\s+at /);
    expect(existsSync(join(cwd, 'cache/mkimage/cas', CALICO_SUM))).toBe(false);
  });

  it("a relative --bundle is the command's cwd's file (as --cluster and bundle --out are), not the process's", async () => {
    const cwd = tmp();
    expect(cwd).not.toBe(process.cwd());
    writeFileSync(join(cwd, 'b.tar'), 'not a tar\n');
    const r = await fetchIn(cwd, '--offline', '--bundle', 'b.tar');
    expect(r.code, r.err).toBe(2);
    expect(r.err).toContain(`${join(cwd, 'b.tar')} is not a tar written by \`mkimage bundle\``);
  });
});

describe('fixes that name a command name one that exists, and work when followed', () => {
  it('a broken token.json says to run `mkimage cluster token`; running it makes the render work again', async () => {
    const cwd = tmp();
    expect((await mkimage(cwd, 'cluster', 'init')).code).toBe(0);
    writeFileSync(join(cwd, 'clusters/homelab/secrets/token.json'), '{"id": "nope"}');
    const broken = await mkimage(cwd, 'control-plane');
    expect(broken.code).toBe(2);
    const named = /"(mkimage [a-z -]+)"/.exec(broken.err)?.[1];
    expect(named, broken.err).toBe('mkimage cluster token');
    const fixed = await mkimage(cwd, ...named!.split(' ').slice(1));
    expect(fixed.code, fixed.err).toBe(0);
    expect((await mkimage(cwd, 'control-plane')).code).toBe(0);
  });

});

describe('a render that fails writes nothing, secrets included', () => {
  const cli = (cwd: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnSync(process.execPath, [join(PACKAGE_ROOT, 'dist/src/cli.js'), ...args], { cwd, encoding: 'utf8', env: { ...process.env, ...env } });

  it('a bad SOURCE_DATE_EPOCH: exit 2 before any secret or output exists', () => {
    const cwd = tmp();
    const r = cli(cwd, ['worker'], { SOURCE_DATE_EPOCH: 'yesterday' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('error[E007]: SOURCE_DATE_EPOCH="yesterday" is not a whole number');
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('--out below a regular file: E017 at once (no stack trace), nothing written', () => {
    const cwd = tmp();
    writeFileSync(join(cwd, 'notes'), 'x');
    const r = cli(cwd, ['worker', '--out', 'notes/out']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/error\[E017\]: --out \S+notes\/out is below \S+notes, which is a file/);
    expect(r.stderr).not.toMatch(/\n\s+at .*\.js:\d+/);
    expect(readdirSync(cwd)).toEqual(['notes']);
  });

  it('the first render that succeeds writes the secrets and the output together', () => {
    const cwd = tmp();
    const r = cli(cwd, ['worker', '--mode', 'full']);
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(join(cwd, 'clusters/homelab/secrets')).sort()).toEqual(
      ['ca.crt', 'ca.key', 'etcd-ca.crt', 'etcd-ca.key', 'front-proxy-ca.crt', 'front-proxy-ca.key', 'packer-build', 'sa.key', 'sa.pub', 'token.json'],
    );
    const again = cli(cwd, ['worker']);
    expect(again.status, again.stderr).toBe(0);
  });
});

describe('a reader that closes the pipe early (`mkimage ... | head -1`): no stack trace, the command ends as it would', () => {
  const cli = join(PACKAGE_ROOT, 'dist/src/cli.js');
  /** The built CLI with its stdout on a pipe that is closed after the first line read (or, at-once, before the CLI writes). */
  function closedEarly(cwd: string, args: string[], when: 'after-one-line' | 'at-once'): Promise<{ status: number | null; first: string; stderr: string }> {
    return new Promise((done, fail) => {
      const child = spawn(process.execPath, [cli, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      let got = '';
      child.stderr.setEncoding('utf8').on('data', (s: string) => void (stderr += s));
      if (when === 'at-once') child.stdout.destroy();
      else {
        child.stdout.setEncoding('utf8').on('data', (s: string) => {
          got += s;
          if (got.includes('\n')) child.stdout.destroy();
        });
      }
      child.on('error', fail);
      child.on('close', (status) => done({ status, first: got.split('\n')[0]!, stderr }));
    });
  }

  it('plan with more output than the pipe holds: the rest is dropped, the diagnostics still come, exit 0', async () => {
    const cwd = tmp();
    cpSync(join(PACKAGE_ROOT, 'profiles'), join(cwd, 'p'), { recursive: true });
    // ~350 KB of plan JSON: the CLI is still writing it when the reader goes away
    const content = Array.from({ length: 3000 }, (_, i) => `      line ${i} ${'x'.repeat(100)}\n`).join('');
    writeFileSync(join(cwd, 'p/big-worker.yaml'), `version: 1\nextends: worker\nfiles:\n  - path: /etc/mkimage-big.txt\n    mode: '0644'\n    content: |\n${content}`);
    const r = await closedEarly(cwd, ['plan', 'big-worker', '--profiles', 'p'], 'after-one-line');
    expect(r.first).toBe('{');
    expect(r.stderr).not.toContain('EPIPE');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr).toContain('0 error(s)');
    expect(r.status, r.stderr).toBe(0);
  });

  it('--help to a reader that is already gone: nothing on stderr, exit 0', async () => {
    const r = await closedEarly(tmp(), ['--help'], 'at-once');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
