import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, readFile, readdir, rm, stat, writeFile, chmod, mkdir, unlink, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { DiagnosticError } from '../src/diagnostics.js';
import { loadInputs } from '../src/profile/load.js';
import { nodePlans } from '../src/pipeline.js';
import { PACKAGE_ROOT } from '../src/template.js';
import { mkimage } from './helpers/cli.js';
import {
  initSecrets,
  loadSecrets,
  rotateToken,
  discoveryHash,
  joinCommand,
  SECRET_FILES,
  secretsDirWarnings,
  type ClusterSecrets,
} from '../src/cluster/secrets.js';
import {
  deriveNodeToken,
  goDurationSeconds,
  hmacTokenChars,
  nodeTokens,
  TOKEN_PATTERN,
  tokenCharOf,
  tokenString,
  type BootstrapToken,
} from '../src/cluster/token.js';
import { FIXTURE_SECRETS, opensslHash, privateSecretsCopy } from './helpers/secrets.js';
import { run } from './helpers/tools.js';
import { scratchDirs } from './helpers/tmp.js';

const tmp = scratchDirs('mkimage-');
const NOW = new Date('2024-03-01T00:00:00Z');
const ALL_FILES = Object.values(SECRET_FILES).sort();

let root: string;
let dir: string;
let secrets: ClusterSecrets;

function codes(e: unknown): string[] {
  expect(e).toBeInstanceOf(DiagnosticError);
  return (e as DiagnosticError).diagnostics.map((d) => d.code);
}

async function caught(p: Promise<unknown>): Promise<DiagnosticError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(DiagnosticError);
    return e as DiagnosticError;
  }
  throw new Error('expected a DiagnosticError');
}

async function snapshot(d: string): Promise<Map<string, string>> {
  const m = new Map<string, string>();
  for (const f of await readdir(d)) m.set(f, await readFile(join(d, f), 'utf8'));
  return m;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mkimage-secrets-'));
  dir = join(root, 'clusters', 'homelab', 'secrets');
  secrets = await initSecrets(dir, { ttl: '24h0m0s', now: NOW });
}, 60_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('initSecrets', () => {
  it('writes exactly the nine secret files, each 0600, in a 0700 directory', async () => {
    expect((await readdir(dir)).sort()).toEqual(ALL_FILES);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    for (const f of ALL_FILES) expect(((await stat(join(dir, f))).mode & 0o777).toString(8), f).toBe('600');
  });

  it.each([
    ['ca.crt', 'kubernetes'],
    ['front-proxy-ca.crt', 'front-proxy-ca'],
    ['etcd-ca.crt', 'etcd-ca'],
  ])('%s is a self-signed CA named %s that openssl accepts', (file, cn) => {
    const path = join(dir, file);
    const text = run('openssl', ['x509', '-in', path, '-noout', '-text']);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/Basic Constraints: critical\s+CA:TRUE/);
    expect(text.stdout).toMatch(/Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/);
    expect(text.stdout).toContain(`Subject: CN = ${cn}`);
    expect(text.stdout).toContain(`Issuer: CN = ${cn}`);
    expect(text.stdout).toContain('Public-Key: (2048 bit)');
    const verify = run('openssl', ['verify', '-CAfile', path, path]);
    expect(verify.status, verify.stderr).toBe(0);
    expect(verify.stdout).toContain(': OK');
  });

  it('gives the CAs ten years of validity starting at opts.now (minus 5 minutes of clock skew)', () => {
    const r = run('openssl', ['x509', '-in', join(dir, 'ca.crt'), '-noout', '-startdate', '-enddate', '-serial']);
    expect(r.stdout).toContain('notBefore=Feb 29 23:55:00 2024 GMT');
    expect(r.stdout).toContain('notAfter=Mar  1 00:00:00 2034 GMT');
    const serials = ['ca.crt', 'front-proxy-ca.crt', 'etcd-ca.crt'].map(
      (f) => run('openssl', ['x509', '-in', join(dir, f), '-noout', '-serial']).stdout,
    );
    expect(new Set(serials).size).toBe(3); // random serials
  });

  it('writes PKCS#8 keys that belong to their certificates, and sa.pub as the public half of sa.key', () => {
    for (const [crt, key] of [
      ['ca.crt', 'ca.key'],
      ['front-proxy-ca.crt', 'front-proxy-ca.key'],
      ['etcd-ca.crt', 'etcd-ca.key'],
    ] as const) {
      const fromCert = run('openssl', ['x509', '-in', join(dir, crt), '-noout', '-pubkey']);
      const fromKey = run('openssl', ['pkey', '-in', join(dir, key), '-pubout']);
      expect(fromKey.status, fromKey.stderr).toBe(0);
      expect(fromKey.stdout).toBe(fromCert.stdout);
    }
    expect(secrets.ca.key.startsWith('-----BEGIN PRIVATE KEY-----\n')).toBe(true);
    expect(secrets.sa.pub.startsWith('-----BEGIN PUBLIC KEY-----\n')).toBe(true);
    const saPub = run('openssl', ['pkey', '-in', join(dir, 'sa.key'), '-pubout']);
    expect(saPub.stdout).toBe(secrets.sa.pub);
    expect(run('openssl', ['pkey', '-in', join(dir, 'sa.key'), '-noout', '-text']).stdout).toContain('Private-Key: (2048 bit');
  });

  it('makes a bootstrap token [a-z0-9]{6}.[a-z0-9]{16} with the cluster TTL', async () => {
    expect(tokenString(secrets.token)).toMatch(TOKEN_PATTERN);
    expect(secrets.token.ttl).toBe('24h0m0s');
    expect(secrets.token.createdAt).toBe(NOW.toISOString());
    const onDisk = JSON.parse(await readFile(join(dir, 'token.json'), 'utf8'));
    expect(onDisk).toEqual(secrets.token);
  });

  it('refuses to overwrite an existing secrets directory, leaving it untouched', async () => {
    const before = await snapshot(dir);
    const e = await caught(initSecrets(dir, { ttl: '24h0m0s', now: NOW }));
    expect(codes(e)).toEqual(['E017']);
    expect(e.diagnostics[0]?.message).toContain('--force');
    expect(await snapshot(dir)).toEqual(before);
  });

  it('replaces everything with force, keeping the modes', async () => {
    const other = join(root, 'forced');
    const first = await initSecrets(other, { ttl: '24h0m0s', now: NOW });
    const second = await initSecrets(other, { ttl: '48h0m0s', now: NOW, force: true });
    expect(second.ca.cert).not.toBe(first.ca.cert);
    expect(second.token.secret).not.toBe(first.token.secret);
    expect((await stat(other)).mode & 0o777).toBe(0o700);
    for (const f of ALL_FILES) expect((await stat(join(other, f))).mode & 0o777).toBe(0o600);
    expect(await loadSecrets(other)).toEqual(second);
    expect((await readdir(root)).filter((f) => f.includes('.tmp-'))).toEqual([]);
  }, 60_000);

  it('accepts an empty existing directory (nothing to overwrite)', async () => {
    const empty = join(root, 'empty');
    await mkdir(empty);
    const s = await initSecrets(empty, { ttl: '1h', now: NOW, keyType: 'ecdsa' });
    expect(s.token.ttl).toBe('1h');
  });

  it('rejects a TTL that is not a Go duration', async () => {
    const e = await caught(initSecrets(join(root, 'badttl'), { ttl: '15', now: NOW }));
    expect(codes(e)).toEqual(['E007']);
    expect(e.diagnostics[0]?.message).toContain('24h0m0s');
  });

  it('makes ECDSA P-256 CAs on request, still accepted by openssl with a matching hash', async () => {
    const ec = join(root, 'ec');
    const s = await initSecrets(ec, { ttl: '24h0m0s', now: NOW, keyType: 'ecdsa' });
    const text = run('openssl', ['x509', '-in', join(ec, 'ca.crt'), '-noout', '-text']).stdout;
    expect(text).toContain('id-ecPublicKey');
    expect(text).toMatch(/prime256v1|P-256/);
    expect(text).toMatch(/CA:TRUE/);
    expect(run('openssl', ['verify', '-CAfile', join(ec, 'ca.crt'), join(ec, 'ca.crt')]).status).toBe(0);
    expect(discoveryHash(s.ca.cert)).toBe(opensslHash(join(ec, 'ca.crt')));
  });
});

describe('discoveryHash and joinCommand', () => {
  it('equals what openssl computes from ca.crt', () => {
    expect(discoveryHash(secrets.ca.cert)).toBe(opensslHash(join(dir, 'ca.crt')));
    expect(discoveryHash(secrets.ca.cert)).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('matches openssl for the committed test fixture CA too', async () => {
    const crt = join(FIXTURE_SECRETS, 'ca.crt');
    expect(discoveryHash(await readFile(crt, 'utf8'))).toBe(opensslHash(crt));
  });

  it('prints the classic kubeadm join line', () => {
    const hash = discoveryHash(secrets.ca.cert);
    expect(joinCommand('192.168.66.11:6443', secrets.token, hash, 'unix:///var/run/cri-dockerd.sock')).toBe(
      `kubeadm join 192.168.66.11:6443 --token ${secrets.token.id}.${secrets.token.secret} ` +
        `--discovery-token-ca-cert-hash ${hash} --cri-socket unix:///var/run/cri-dockerd.sock`,
    );
    expect(joinCommand('lb:6443', 'abcdef.0123456789abcdef', 'sha256:00', 'unix:///x.sock')).toBe(
      'kubeadm join lb:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:00 --cri-socket unix:///x.sock',
    );
  });
});

describe('rotateToken', () => {
  it('rewrites token.json only', async () => {
    const rot = join(root, 'rotate');
    const orig = await initSecrets(rot, { ttl: '24h0m0s', now: NOW });
    const before = await snapshot(rot);
    const later = new Date('2024-03-05T12:00:00Z');
    const t = await rotateToken(rot, '12h0m0s', { now: later });
    expect(tokenString(t)).toMatch(TOKEN_PATTERN);
    expect(tokenString(t)).not.toBe(tokenString(orig.token));
    expect(t).toMatchObject({ ttl: '12h0m0s', createdAt: later.toISOString() });
    const after = await snapshot(rot);
    expect([...after.keys()].sort()).toEqual(ALL_FILES);
    for (const [name, content] of before) {
      if (name === 'token.json') expect(after.get(name)).not.toBe(content);
      else expect(after.get(name), name).toBe(content);
    }
    expect((await stat(join(rot, 'token.json'))).mode & 0o777).toBe(0o600);
    const loaded = await loadSecrets(rot);
    expect(loaded.token).toEqual(t);
    expect(loaded.ca).toEqual(orig.ca);
  }, 60_000);

  it('needs existing secrets and a valid TTL', async () => {
    expect(codes(await caught(rotateToken(join(root, 'nothing-here'), '24h')))).toEqual(['E014']);
    expect(codes(await caught(rotateToken(dir, 'one day')))).toEqual(['E007']);
  });
});

describe('loadSecrets', () => {
  const copyOf = (name: string): Promise<string> => privateSecretsCopy(dir, join(root, name), ALL_FILES);

  it('round-trips what initSecrets wrote', async () => {
    expect(await loadSecrets(dir)).toEqual(secrets);
  });

  it('says to run cluster init when the directory is missing', async () => {
    const e = await caught(loadSecrets(join(root, 'absent')));
    expect(codes(e)).toEqual(['E014']);
    expect(e.diagnostics[0]?.message).toContain('mkimage cluster init');
  });

  it('names each missing file', async () => {
    const d = await copyOf('missing');
    await unlink(join(d, 'sa.key'));
    await unlink(join(d, 'etcd-ca.crt'));
    const e = await caught(loadSecrets(d));
    expect(codes(e)).toEqual(['E014', 'E014']);
    expect(e.diagnostics.map((x) => x.file)).toEqual([join(d, 'etcd-ca.crt'), join(d, 'sa.key')]);
  });

  it('says how to get each missing file back (cluster init refuses the directory), and the fixes work when followed', async () => {
    const d = await copyOf('restore');
    await unlink(join(d, 'sa.pub'));
    await unlink(join(d, 'token.json'));
    await unlink(join(d, 'ca.key'));
    const e = await caught(loadSecrets(d));
    const byFile = new Map(e.diagnostics.map((x) => [x.file, x.message]));
    expect(byFile.get(join(d, 'ca.key'))).toMatch(/ca\.key is missing from .*: restore it from your backup, or copy it back from a control plane .*scp root@cp1:\/etc\/kubernetes\/pki\/ca\.key /);
    expect(byFile.get(join(d, 'token.json'))).toContain('run "mkimage cluster token" to write a new bootstrap token');
    const saHint = byFile.get(join(d, 'sa.pub')) ?? '';
    expect(saHint).not.toContain('mkimage cluster init"');
    // follow the fixes: derive sa.pub with the printed openssl command, make a token, put the key back
    const openssl = /\(openssl ([^)]+)\)/.exec(saHint)?.[1];
    expect(openssl).toBeDefined();
    expect(run('openssl', (openssl as string).split(' ')).status).toBe(0);
    await chmod(join(d, 'sa.pub'), 0o600);
    await rotateToken(d, '24h0m0s', { now: NOW });
    await copyFile(join(dir, 'ca.key'), join(d, 'ca.key'));
    const back = await loadSecrets(d);
    expect(back.sa).toEqual(secrets.sa);
    expect(back.ca).toEqual(secrets.ca);
  });

  it('a secrets entry that is a directory, and --secrets naming a file or a path below one, are E014 (no stack trace)', async () => {
    const d = await copyOf('dir-entry');
    await unlink(join(d, 'ca.crt'));
    await mkdir(join(d, 'ca.crt'));
    const e = await caught(loadSecrets(d));
    expect(codes(e)).toEqual(['E014']);
    expect(e.diagnostics[0]?.message).toMatch(/ca\.crt in .* is a directory, not the secret file: move it away/);

    const file = join(root, 'not-a-dir');
    await writeFile(file, 'x\n');
    const asFile = await caught(loadSecrets(file));
    expect(codes(asFile)).toEqual(['E014']);
    expect(asFile.diagnostics[0]?.message).toContain('is a file, not a directory');
    const below = await caught(initSecrets(join(file, 'secrets'), { ttl: '24h0m0s' }));
    expect(codes(below)).toEqual(['E014']);
    expect(below.diagnostics[0]?.message).toContain('is below a regular file');
  });

  it('W117: a secrets directory other users can enter', async () => {
    const d = await copyOf('wide');
    await chmod(d, 0o755);
    expect((await secretsDirWarnings(d)).map((x) => [x.code, x.severity, x.message])).toEqual([
      ['W117', 'warning', `the secrets directory is mode 0755, so other users can see what it holds: run chmod 700 ${d}`],
    ]);
    await chmod(d, 0o700);
    expect(await secretsDirWarnings(d)).toEqual([]);
  });

  it('refuses key files other users can read, with the chmod to run', async () => {
    const d = await copyOf('loose');
    await chmod(join(d, 'ca.key'), 0o644);
    const e = await caught(loadSecrets(d));
    expect(codes(e)).toEqual(['E014']);
    expect(e.diagnostics[0]?.message).toContain(`chmod 600 ${join(d, 'ca.key')}`);
    expect(e.diagnostics[0]?.message).toContain('0644');
  });

  it('catches a key that does not belong to its certificate', async () => {
    const d = await copyOf('swapped');
    await copyFile(join(dir, 'etcd-ca.key'), join(d, 'ca.key'));
    const e = await caught(loadSecrets(d));
    expect(codes(e)).toEqual(['E014']);
    expect(e.diagnostics[0]?.message).toContain('does not belong');
    expect(e.diagnostics[0]?.file).toBe(join(d, 'ca.crt'));
  });

  it('catches a certificate that is not a CA or not PEM, a wrong sa.pub, and a malformed token', async () => {
    const d = await copyOf('broken');
    await writeFile(join(d, 'front-proxy-ca.crt'), 'not a certificate\n', { mode: 0o600 });
    await copyFile(join(dir, 'ca.crt'), join(d, 'sa.pub'));
    await writeFile(join(d, 'token.json'), '{"id":"ABCDEF","secret":"x","ttl":"24h"}\n', { mode: 0o600 });
    const e = await caught(loadSecrets(d));
    expect(codes(e)).toEqual(['E014', 'E014', 'E014']);
    const text = e.diagnostics.map((x) => x.message).join('\n');
    expect(text).toContain('front-proxy-ca.crt/front-proxy-ca.key: the certificate is not a PEM X.509 certificate');
    expect(text).toContain('sa.pub');
    expect(text).toContain('token id must be 6 characters');
  });
});

describe('per-node join tokens (derived from the cluster token)', () => {
  const cluster: BootstrapToken = { id: 'tstfix', secret: 'testonlyfixture0', ttl: '24h0m0s' };
  const names = ['cp2', 'worker1', 'worker2', 'worker3'];

  it('are deterministic, kubeadm-shaped, distinct per node, and carry the node TTL', () => {
    const a = nodeTokens(cluster, names, '4h0m0s');
    const b = nodeTokens({ ...cluster }, [...names], '4h0m0s');
    expect([...a.keys()]).toEqual(names);
    expect([...a]).toEqual([...b]);
    for (const t of a.values()) {
      expect(tokenString(t)).toMatch(TOKEN_PATTERN);
      expect(t.ttl).toBe('4h0m0s');
      expect(t.secret).not.toBe(cluster.secret);
    }
    const all = [...a.values()].map(tokenString);
    expect(new Set(all).size).toBe(names.length);
    expect(new Set([cluster.id, ...[...a.values()].map((t) => t.id)]).size).toBe(names.length + 1);
    // a node's token depends on its name and the cluster secret only, not on the other nodes
    expect(nodeTokens(cluster, ['worker2'], '4h0m0s').get('worker2')).toEqual(a.get('worker2'));
  });

  it('all change when the cluster token is rotated (a new secret), and rotation on disk changes what a load derives', async () => {
    const before = nodeTokens(cluster, names, '4h0m0s');
    const after = nodeTokens({ ...cluster, secret: 'anothersecret000' }, names, '4h0m0s');
    for (const n of names) expect(tokenString(after.get(n)!)).not.toBe(tokenString(before.get(n)!));
    const rot = await privateSecretsCopy(FIXTURE_SECRETS, join(root, 'rotate-nodes'));
    const old = nodeTokens((await loadSecrets(rot)).token, names, '4h0m0s');
    await rotateToken(rot, '24h0m0s', { now: NOW });
    const fresh = nodeTokens((await loadSecrets(rot)).token, names, '4h0m0s');
    for (const n of names) expect(tokenString(fresh.get(n)!)).not.toBe(tokenString(old.get(n)!));
  });

  it('map HMAC bytes onto [a-z0-9] without modulo bias: 252 of 256 byte values accepted, each character exactly 7 times', () => {
    const counts = new Map<string, number>();
    let rejected = 0;
    for (let b = 0; b < 256; b++) {
      const c = tokenCharOf(b);
      if (c === undefined) rejected++;
      else counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    expect(rejected).toBe(4);
    expect([252, 253, 254, 255].map(tokenCharOf)).toEqual([undefined, undefined, undefined, undefined]);
    expect([...counts.keys()].sort().join('')).toBe('0123456789abcdefghijklmnopqrstuvwxyz');
    expect(new Set(counts.values())).toEqual(new Set([7]));
    // and the stream they come from is flat: 36,000 characters, every one within 5 sigma of 1,000
    const text = hmacTokenChars('k', 'm', 36_000);
    expect(text).toMatch(/^[a-z0-9]{36000}$/);
    const freq = new Map<string, number>();
    for (const c of text) freq.set(c, (freq.get(c) ?? 0) + 1);
    expect(freq.size).toBe(36);
    for (const [c, n] of freq) expect(Math.abs(n - 1000), c).toBeLessThan(5 * Math.sqrt(1000 * (35 / 36)));
  });

  it('keeps ids unique across the cluster with a tie-break that does not depend on the inventory order', () => {
    // node67126 and node71827 derive the same id under the fixture secret on their first attempt
    const x = deriveNodeToken(cluster, 'node67126', '4h0m0s');
    const y = deriveNodeToken(cluster, 'node71827', '4h0m0s');
    expect(x.id).toBe(y.id);
    const forward = nodeTokens(cluster, ['node67126', 'node71827'], '4h0m0s');
    const backward = nodeTokens(cluster, ['node71827', 'node67126'], '4h0m0s');
    expect([...backward.keys()]).toEqual(['node71827', 'node67126']);
    for (const m of [forward, backward]) {
      expect(m.get('node67126')).toEqual(x); // the name that sorts first keeps its id
      expect(m.get('node71827')).toEqual(deriveNodeToken(cluster, 'node71827', '4h0m0s', 1));
      expect(m.get('node71827')!.id).not.toBe(x.id);
    }
    // a node whose id is the cluster token's derives again too
    const clash: BootstrapToken = { ...cluster, id: deriveNodeToken(cluster, 'worker1', '4h0m0s').id };
    expect(nodeTokens(clash, ['worker1'], '4h0m0s').get('worker1')).toEqual(deriveNodeToken(cluster, 'worker1', '4h0m0s', 1));
  });

  it('goDurationSeconds reads the TTLs the cluster file takes', () => {
    expect(['4h0m0s', '24h0m0s', '90m', '1h30m', '45s', '0', '1.5h', '250ms'].map(goDurationSeconds)).toEqual([14400, 86400, 5400, 5400, 45, 0, 5400, 0.25]);
    expect(goDurationSeconds('4 hours')).toBeUndefined();
  });
});

describe('nodeTokenTTL (cluster file)', () => {
  const shipped = readFileSync(join(PACKAGE_ROOT, 'profiles/cluster.yaml'), 'utf8');
  async function clusterWith(edit: (text: string) => string): Promise<{ file: string; text: string }> {
    const d = tmp('ttl');
    const file = join(d, 'cluster.yaml');
    const text = edit(shipped);
    await writeFile(file, text);
    return { file, text };
  }
  const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.startsWith(needle)) + 1;

  it('defaults to 4h0m0s', () => {
    expect(loadInputs({}).inputs!.cluster.value.nodeTokenTTL).toBe('4h0m0s');
  });

  it('longer than bootstrapTokenTTL is E006 at nodeTokenTTL, worded as the fix', async () => {
    const { file, text } = await clusterWith((t) => t.replace('bootstrapTokenTTL: 24h0m0s', 'bootstrapTokenTTL: 24h0m0s\nnodeTokenTTL: 48h'));
    const r = loadInputs({ clusterFile: file });
    expect(r.inputs).toBeUndefined();
    expect(r.diagnostics.map((d) => [d.code, d.line, d.col])).toEqual([['E006', lineOf(text, 'nodeTokenTTL:'), 15]]);
    expect(r.diagnostics[0]!.message).toBe(
      'nodeTokenTTL 48h is longer than bootstrapTokenTTL 24h0m0s: a node\'s own join token may not outlive the cluster token; set nodeTokenTTL to 24h0m0s or less, or raise bootstrapTokenTTL',
    );
  });

  it('a bootstrapTokenTTL shorter than the default nodeTokenTTL is E006 at bootstrapTokenTTL (nodeTokenTTL is not in the file)', async () => {
    const { file, text } = await clusterWith((t) => t.replace('bootstrapTokenTTL: 24h0m0s', 'bootstrapTokenTTL: 1h'));
    const r = loadInputs({ clusterFile: file });
    expect(r.diagnostics.map((d) => [d.code, d.line, d.col])).toEqual([['E006', lineOf(text, 'bootstrapTokenTTL:'), 20]]);
    expect(r.diagnostics[0]!.message).toContain('set nodeTokenTTL to 1h or less');
  });

  it('equal TTLs, and a nodeTokenTTL that is not a duration is the usual E007', async () => {
    const equal = await clusterWith((t) => t.replace('bootstrapTokenTTL: 24h0m0s', 'bootstrapTokenTTL: 2h\nnodeTokenTTL: 120m'));
    expect(loadInputs({ clusterFile: equal.file }).diagnostics).toEqual([]);
    const bad = await clusterWith((t) => t.replace('bootstrapTokenTTL: 24h0m0s', 'bootstrapTokenTTL: 24h0m0s\nnodeTokenTTL: four hours'));
    expect(loadInputs({ clusterFile: bad.file }).diagnostics.map((d) => [d.code, d.line])).toEqual([['E007', lineOf(bad.text, 'nodeTokenTTL:')]]);
  });
});

describe('mkimage cluster token --node', () => {
  async function initialised(): Promise<string> {
    const cwd = tmp('node-token');
    await mkdir(join(cwd, 'clusters/homelab'), { recursive: true });
    await privateSecretsCopy(FIXTURE_SECRETS, join(cwd, 'clusters/homelab/secrets'));
    return cwd;
  }

  it('prints the kubeadm token create that registers the node token its seed carries, and rotates nothing', async () => {
    const cwd = await initialised();
    const before = await snapshot(join(cwd, 'clusters/homelab/secrets'));
    const r = await mkimage(cwd, 'cluster', 'token', '--node', 'worker2');
    expect(r.code, r.err).toBe(0);
    const inputs = loadInputs({}).inputs!;
    const t = nodeTokens((await loadSecrets(join(cwd, 'clusters/homelab/secrets'))).token, ['worker1', 'worker2'], '4h0m0s').get('worker2')!;
    expect(r.out).toBe(`kubeadm token create ${tokenString(t)} --ttl 4h0m0s --description "mkimage join token for node worker2"\n`);
    expect(r.err).toContain('run this on a control plane');
    expect(await snapshot(join(cwd, 'clusters/homelab/secrets'))).toEqual(before);
    // the same token worker2's rendered seed joins with
    const [plan] = nodePlans(inputs, inputs.profiles.get('worker')!, await loadSecrets(join(cwd, 'clusters/homelab/secrets')), [], 'worker2');
    const config = plan!.files.find((f) => f.path === '/etc/kubernetes/mkimage/kubeadm.yaml')!.content;
    expect(config).toContain(`token: ${tokenString(t)}\n`);
    const withTtl = await mkimage(cwd, 'cluster', 'token', '--node', 'worker2', '--ttl', '1h');
    expect(withTtl.out).toContain(' --ttl 1h ');
  });

  it.each([
    ['worker9', 'there is no node "worker9" in the cluster: use one of the nodes that join: worker1, worker2'],
    ['cp1', 'node "cp1" runs kubeadm init and needs no join token: use one of the nodes that join: worker1, worker2'],
  ])('%s: E010 naming the nodes that join, exit 2, nothing printed on stdout', async (node, message) => {
    const cwd = await initialised();
    const r = await mkimage(cwd, 'cluster', 'token', '--node', node);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toContain(`error[E010]: ${message}`);
    expect(r.err).not.toMatch(/\n\s+at /);
  });
});

describe('rendered seeds carry per-node tokens', () => {
  it("no worker seed holds the cluster-wide token anywhere; each holds its own and no other node's; cp1's init registers them all", async () => {
    const cwd = tmp('seed-tokens');
    for (const role of ['control-plane', 'worker']) {
      const r = await mkimage(cwd, role, '--packer-version', '1.6.6');
      expect(r.code, r.err).toBe(0);
    }
    const secrets = await loadSecrets(join(cwd, 'clusters/homelab/secrets'));
    const cluster = tokenString(secrets.token);
    const own = nodeTokens(secrets.token, ['worker1', 'worker2'], '4h0m0s');
    const seedFiles = async (node: string) => {
      const dir = join(cwd, 'out/worker/seeds', node);
      const names = (await readdir(dir)).sort();
      expect(names).toEqual(['meta-data', 'network-config', 'seed.iso', 'user-data']);
      return Promise.all(names.map(async (n) => [n, (await readFile(join(dir, n))).toString('latin1')] as const));
    };
    for (const [node, token] of own) {
      const others = [...own].filter(([n]) => n !== node).map(([, t]) => tokenString(t));
      for (const [name, text] of await seedFiles(node)) {
        expect(text, `${node}/${name}`).not.toContain(cluster);
        expect(text, `${node}/${name}`).not.toContain(secrets.token.secret);
        for (const o of others) expect(text, `${node}/${name}`).not.toContain(o);
        if (name === 'user-data' || name === 'seed.iso') expect(text, `${node}/${name}`).toContain(tokenString(token));
      }
    }
    const cp1 = await readFile(join(cwd, 'out/control-plane/seeds/cp1/user-data'), 'utf8');
    for (const t of [cluster, ...[...own.values()].map(tokenString)]) expect(cp1).toContain(`token: ${t}`);
  }, 120_000);
});
