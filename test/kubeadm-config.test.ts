import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSecrets, discoveryHash, type ClusterSecrets } from '../src/cluster/secrets.js';
import { initConfig, joinConfig, imagesConfig, tokenCreateCommand } from '../src/cluster/kubeadm.js';
import { nodeTokens, tokenString } from '../src/cluster/token.js';
import {
  bootstrapBootFiles,
  BOOTSTRAP_ENV_PATH,
  BOOTSTRAP_ENV_VARS,
  KUBEADM_CONFIG_PATH,
} from '../src/cluster/bootstrap-files.js';
import type { NodePlan, PlanNode } from '../src/plan/types.js';
import { fixturePlan } from './fixtures/plan.js';
import { FIELDS, get, kubeadmDocs as docs, walk } from './helpers/kubeadm-fields.js';
import { FIXTURE_SECRETS, opensslHash, privateSecretsCopy } from './helpers/secrets.js';
import { run } from './helpers/tools.js';

const TOKEN = 'tstfix.testonlyfixture0';

let tmp: string;
let secrets: ClusterSecrets;

/** Per-node plan for another node of the fixture cluster. */
function nodePlan(node: Partial<PlanNode> & Pick<PlanNode, 'name' | 'role' | 'ip' | 'bootstrap'>): NodePlan {
  const plan = fixturePlan(true);
  plan.role = node.role;
  plan.profile = node.role;
  plan.node = {
    mac: '52:54:00:66:00:99',
    address: `${node.ip}/24`,
    prefix: 24,
    gateway: '192.168.66.1',
    dns: ['192.168.66.1'],
    arch: 'amd64',
    onlyNode: false,
    ...node,
  };
  return plan;
}

const cp1 = () => fixturePlan(true);
const cp2 = () => nodePlan({ name: 'cp2', role: 'control-plane', ip: '192.168.66.12', bootstrap: 'join-control-plane' });
const workers = () =>
  [21, 22, 23].map((n) => nodePlan({ name: `w${n - 20}`, role: 'worker', ip: `192.168.66.${n}`, bootstrap: 'join' }));
/** The fixture cluster's joining nodes (cp1 runs init) and their own tokens. */
const JOINERS = ['cp2', 'w1', 'w2', 'w3'];
const tokens = () => nodeTokens(secrets.token, JOINERS, '4h0m0s');
const own = (name: string) => tokenString(tokens().get(name)!);

beforeAll(async () => {
  // git keeps the TEST-ONLY fixture keys 0644; loadSecrets insists on 0600, so load a private copy
  tmp = await mkdtemp(join(tmpdir(), 'mkimage-kubeadm-'));
  secrets = await loadSecrets(await privateSecretsCopy(FIXTURE_SECRETS, join(tmp, 'secrets')));
  expect(`${secrets.token.id}.${secrets.token.secret}`).toBe(TOKEN);
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('the v1beta3 field fixture', () => {
  it('catches a field kubeadm v1beta3 does not know (the walker works)', () => {
    expect(walk({ kind: 'X', networking: { podCIDR: 'x' } }, FIELDS.ClusterConfiguration?.fields ?? {}, 'C')).toEqual([
      'C.networking.podCIDR: not a field of this kind',
    ]);
    expect(walk({ certificateValidityPeriod: '1h' }, FIELDS.ClusterConfiguration?.fields ?? {}, 'C')).toHaveLength(1); // v1beta4 only
  });
});

describe('initConfig', () => {
  it('emits InitConfiguration + ClusterConfiguration + KubeletConfiguration with v1beta3 fields only', () => {
    const [init, cluster, kubelet, ...rest] = docs(initConfig(cp1(), secrets, tokens()));
    expect(rest).toEqual([]);
    expect([init?.kind, cluster?.kind, kubelet?.kind]).toEqual(['InitConfiguration', 'ClusterConfiguration', 'KubeletConfiguration']);
    const defaults = { groups: ['system:bootstrappers:kubeadm:default-node-token'], usages: ['signing', 'authentication'] };
    // the cluster token (for joins later on), then every joining node's own token, in inventory order
    expect(get(init, 'bootstrapTokens')).toEqual([
      { token: TOKEN, description: 'mkimage bootstrap token for cluster homelab', ttl: '24h0m0s', ...defaults },
      ...JOINERS.map((n) => ({ token: own(n), description: `mkimage join token for node ${n}`, ttl: '4h0m0s', ...defaults })),
    ]);
    expect(get(init, 'localAPIEndpoint')).toEqual({ advertiseAddress: '192.168.66.11', bindPort: 6443 });
    expect(get(init, 'nodeRegistration')).toEqual({
      name: 'cp1',
      criSocket: 'unix:///var/run/cri-dockerd.sock',
      kubeletExtraArgs: { 'node-ip': '192.168.66.11' },
    });
    expect(cluster).toMatchObject({
      clusterName: 'homelab',
      kubernetesVersion: 'v1.29.2',
      controlPlaneEndpoint: '192.168.66.11:6443',
      imageRepository: 'registry.aliyuncs.com/google_containers',
      networking: { podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12', dnsDomain: 'cluster.local' },
    });
    expect(get(kubelet, 'cgroupDriver')).toBe('systemd');
  });

  it('keeps a token that looks like a number a string under YAML 1.1', () => {
    const numeric = { ...secrets, token: { id: '123456', secret: '0123456789012345', ttl: '24h0m0s' } };
    const [init] = docs(initConfig(cp1(), numeric));
    expect(get(init, 'bootstrapTokens')).toMatchObject([{ token: '123456.0123456789012345' }]);
  });

  it('writes every token entry out in full (no YAML anchors or aliases for the shared groups and usages)', () => {
    const text = initConfig(cp1(), secrets, tokens());
    expect(text).not.toMatch(/[&*]a\d/);
    expect(text.match(/^ {6}- system:bootstrappers:kubeadm:default-node-token$/gm)).toHaveLength(1 + JOINERS.length);
  });

  it('is deterministic and refuses a role plan or a worker', () => {
    expect(initConfig(cp1(), secrets, tokens())).toBe(initConfig(cp1(), secrets, tokens()));
    expect(() => initConfig(fixturePlan(false), secrets)).toThrow(/per-node plan/);
    expect(() => initConfig(workers()[0]!, secrets)).toThrow(/not a control plane/);
  });
});

describe('joinConfig', () => {
  it('gives every worker a JoinConfiguration pinned to the CA hash openssl computes', () => {
    const expected = opensslHash(join(FIXTURE_SECRETS, 'ca.crt'));
    expect(discoveryHash(secrets.ca.cert)).toBe(expected);
    for (const w of workers()) {
      const all = docs(joinConfig(w, { ca: secrets.ca, token: tokens().get(w.node!.name)! }, { controlPlane: false }));
      expect(all.map((d) => d.kind)).toEqual(['JoinConfiguration']);
      const join = all[0];
      expect(get(join, 'discovery.bootstrapToken')).toEqual({
        token: own(w.node!.name),
        apiServerEndpoint: '192.168.66.11:6443',
        caCertHashes: [expected],
      });
      expect(get(join, 'nodeRegistration')).toEqual({
        name: w.node?.name,
        criSocket: 'unix:///var/run/cri-dockerd.sock',
        kubeletExtraArgs: { 'node-ip': w.node?.ip },
      });
      expect(get(join, 'controlPlane')).toBeUndefined();
    }
  });

  it('adds controlPlane.localAPIEndpoint for an extra control plane', () => {
    const [join] = docs(joinConfig(cp2(), secrets, { controlPlane: true }));
    expect(get(join, 'controlPlane')).toEqual({ localAPIEndpoint: { advertiseAddress: '192.168.66.12', bindPort: 6443 } });
    expect(() => joinConfig(workers()[0]!, secrets, { controlPlane: true })).toThrow(/only control planes/);
  });

  it("carries the profile's ignorePreflightErrors into init and join, each check once", () => {
    const init = cp1();
    init.kubeadm.ignorePreflightErrors = ['NumCPU', 'Mem'];
    expect(get(docs(initConfig(init, secrets))[0], 'nodeRegistration.ignorePreflightErrors')).toEqual(['NumCPU', 'Mem']);
    const joiner = cp2();
    joiner.kubeadm.ignorePreflightErrors = ['NumCPU'];
    const [join] = docs(joinConfig(joiner, secrets, { controlPlane: true, ignorePreflightErrors: ['NumCPU', 'DirAvailable--etc-kubernetes-manifests'] }));
    expect(get(join, 'nodeRegistration.ignorePreflightErrors')).toEqual(['NumCPU', 'DirAvailable--etc-kubernetes-manifests']);
    expect(get(docs(joinConfig(workers()[0]!, secrets, { controlPlane: false }))[0], 'nodeRegistration.ignorePreflightErrors')).toBeUndefined();
  });
});

describe('imagesConfig', () => {
  it('names version, repository and CRI socket, and carries no secret', () => {
    const text = imagesConfig(fixturePlan(false));
    const [init, cluster, ...rest] = docs(text);
    expect(rest).toEqual([]);
    expect(init).toEqual({ apiVersion: 'kubeadm.k8s.io/v1beta3', kind: 'InitConfiguration', nodeRegistration: { criSocket: 'unix:///var/run/cri-dockerd.sock' } });
    expect(cluster).toEqual({
      apiVersion: 'kubeadm.k8s.io/v1beta3',
      kind: 'ClusterConfiguration',
      kubernetesVersion: 'v1.29.2',
      imageRepository: 'registry.aliyuncs.com/google_containers',
    });
    expect(text).not.toContain(secrets.token.secret);
    expect(text).not.toContain('PRIVATE KEY');
  });
});

describe('bootstrapBootFiles', () => {
  it('gives the first control plane the shared PKI, its init config and bootstrap.env, all at boot', () => {
    const files = bootstrapBootFiles(cp1(), secrets, tokens());
    expect(files.map((f) => [f.path, f.mode, f.secret === true])).toEqual([
      ['/etc/kubernetes/pki/ca.crt', '0640', false],
      ['/etc/kubernetes/pki/ca.key', '0600', true],
      ['/etc/kubernetes/pki/front-proxy-ca.crt', '0640', false],
      ['/etc/kubernetes/pki/front-proxy-ca.key', '0600', true],
      ['/etc/kubernetes/pki/etcd/ca.crt', '0640', false],
      ['/etc/kubernetes/pki/etcd/ca.key', '0600', true],
      ['/etc/kubernetes/pki/sa.key', '0600', true],
      ['/etc/kubernetes/pki/sa.pub', '0600', false],
      [KUBEADM_CONFIG_PATH, '0600', true],
      [BOOTSTRAP_ENV_PATH, '0600', false],
    ]);
    expect(files.every((f) => f.phase === 'boot' && f.owner === 'root:root')).toBe(true);
    const byPath = new Map(files.map((f) => [f.path, f.content]));
    expect(byPath.get('/etc/kubernetes/pki/ca.key')).toBe(secrets.ca.key);
    expect(byPath.get('/etc/kubernetes/pki/etcd/ca.crt')).toBe(secrets.etcdCa.cert);
    expect(byPath.get('/etc/kubernetes/pki/sa.pub')).toBe(secrets.sa.pub);
    expect(byPath.get(KUBEADM_CONFIG_PATH)).toBe(initConfig(cp1(), secrets, tokens()));
  });

  it('gives an extra control plane the same PKI and a control-plane join', () => {
    const files = bootstrapBootFiles(cp2(), secrets, tokens());
    expect(files).toHaveLength(10);
    const [join] = docs(files.find((f) => f.path === KUBEADM_CONFIG_PATH)?.content ?? '');
    expect(join?.kind).toBe('JoinConfiguration');
    expect(get(join, 'controlPlane.localAPIEndpoint.advertiseAddress')).toBe('192.168.66.12');
  });

  it('gives workers only their join config and bootstrap.env: never a private key', () => {
    for (const w of workers()) {
      const files = bootstrapBootFiles(w, secrets, tokens());
      expect(files.map((f) => f.path)).toEqual([KUBEADM_CONFIG_PATH, BOOTSTRAP_ENV_PATH]);
      for (const f of files) {
        expect(f.content).not.toContain('PRIVATE KEY');
        expect(f.content).not.toContain('BEGIN CERTIFICATE');
        expect(f.phase).toBe('boot');
        expect(f.mode).toBe('0600');
      }
      const config = files[0]?.content ?? '';
      // a worker joins with its own token: the cluster token and the other nodes' tokens are nowhere in its files
      expect(get(docs(config)[0], 'discovery.bootstrapToken.token')).toBe(own(w.node!.name));
      for (const f of files) {
        expect(f.content).not.toContain(secrets.token.secret);
        expect(f.content).not.toContain(`${secrets.token.id}.`);
        for (const other of JOINERS.filter((n) => n !== w.node!.name)) expect(f.content).not.toContain(own(other));
      }
      expect(get(docs(config)[0], 'discovery.bootstrapToken.caCertHashes')).toEqual([opensslHash(join(FIXTURE_SECRETS, 'ca.crt'))]);
    }
  });

  it('an extra control plane joins with its own token too; a joiner without a derived token is a bug, not a silent fallback', () => {
    const config = bootstrapBootFiles(cp2(), secrets, tokens()).find((f) => f.path === KUBEADM_CONFIG_PATH)!.content;
    expect(get(docs(config)[0], 'discovery.bootstrapToken.token')).toBe(own('cp2'));
    expect(config).not.toContain(TOKEN);
    expect(() => bootstrapBootFiles(workers()[0]!, secrets)).toThrow(/no node token was derived for it/);
  });

  it('`kubeadm token create` registers exactly what the init config registers for a node', () => {
    const [init] = docs(initConfig(cp1(), secrets, tokens()));
    const entry = (get(init, 'bootstrapTokens') as Array<Record<string, string>>).find((t) => t.description === 'mkimage join token for node w2')!;
    expect(tokenCreateCommand('w2', tokens().get('w2')!)).toBe(
      `kubeadm token create ${entry.token} --ttl ${entry.ttl} --description "${entry.description}"`,
    );
  });

  it('leaves the token and keys out of every bake file (fixture plan bake files + the images config)', () => {
    const plan = cp1();
    const all = [...plan.files, ...bootstrapBootFiles(plan, secrets, tokens())];
    const bake = all.filter((f) => f.phase === 'bake').map((f) => f.content);
    bake.push(imagesConfig(plan));
    expect(bake.length).toBeGreaterThan(1);
    const tokenSecrets = [secrets.token.secret, ...[...tokens().values()].map((t) => t.secret)];
    for (const text of bake) {
      for (const s of tokenSecrets) expect(text).not.toContain(s);
      expect(text).not.toContain('PRIVATE KEY');
    }
    for (const f of all.filter((x) => x.content.includes('PRIVATE KEY') || tokenSecrets.some((s) => x.content.includes(s)))) {
      expect(f.phase, f.path).toBe('boot');
      expect(f.secret, f.path).toBe(true);
    }
  });

  it('writes bootstrap.env with exactly the variables the first-boot script reads, loadable by bash', async () => {
    expect(BOOTSTRAP_ENV_VARS).toEqual(['BOOTSTRAP', 'API_ENDPOINT', 'NODE_NAME', 'POD_SUBNET', 'SINGLE_NODE']);
    const only = nodePlan({ name: 'solo', role: 'control-plane', ip: '192.168.66.11', bootstrap: 'init', onlyNode: true });
    const cases: Array<[NodePlan, string]> = [
      [cp1(), 'init|192.168.66.11:6443|cp1|10.244.0.0/16|0'],
      [cp2(), 'join-control-plane|192.168.66.11:6443|cp2|10.244.0.0/16|0'],
      [workers()[0]!, 'join|192.168.66.11:6443|w1|10.244.0.0/16|0'],
      [only, 'init|192.168.66.11:6443|solo|10.244.0.0/16|1'],
    ];
    for (const [plan, expected] of cases) {
      const env = bootstrapBootFiles(plan, secrets, tokens()).find((f) => f.path === BOOTSTRAP_ENV_PATH)?.content ?? '';
      const names = env.split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split('=')[0]);
      expect(names).toEqual([...BOOTSTRAP_ENV_VARS]);
      const path = join(tmp, 'bootstrap.env');
      await writeFile(path, env);
      const r = run('bash', ['-c', 'set -eu; . "$1"; echo "$BOOTSTRAP|$API_ENDPOINT|$NODE_NAME|$POD_SUBNET|$SINGLE_NODE"', 'env', path], { env: {} });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(expected);
    }
  });

  it('refuses a role plan and a role/bootstrap mismatch', () => {
    expect(() => bootstrapBootFiles(fixturePlan(false), secrets)).toThrow(/per-node plan/);
    const bad = nodePlan({ name: 'w9', role: 'worker', ip: '192.168.66.29', bootstrap: 'init' });
    expect(() => bootstrapBootFiles(bad, secrets)).toThrow(/cannot bootstrap with "init"/);
  });
});

describe('goldens (TEST-ONLY fixture secrets)', () => {
  it.each([
    // the kubeadm configs exactly as the seeds carry them
    ['init-cp1.yaml', () => bootstrapBootFiles(cp1(), secrets, tokens()).find((f) => f.path === KUBEADM_CONFIG_PATH)?.content ?? ''],
    ['join-control-plane-cp2.yaml', () => bootstrapBootFiles(cp2(), secrets, tokens()).find((f) => f.path === KUBEADM_CONFIG_PATH)?.content ?? ''],
    ['join-worker-w1.yaml', () => bootstrapBootFiles(workers()[0]!, secrets, tokens()).find((f) => f.path === KUBEADM_CONFIG_PATH)?.content ?? ''],
    ['images.yaml', () => imagesConfig(fixturePlan(false))],
    ['bootstrap-cp1.env', () => bootstrapBootFiles(cp1(), secrets, tokens()).find((f) => f.path === BOOTSTRAP_ENV_PATH)?.content ?? ''],
    ['bootstrap-w1.env', () => bootstrapBootFiles(workers()[0]!, secrets, tokens()).find((f) => f.path === BOOTSTRAP_ENV_PATH)?.content ?? ''],
  ])('%s', async (name, render) => {
    await expect(render()).toMatchFileSnapshot(`./golden/kubeadm/${name}`);
  });
});
