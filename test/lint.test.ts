import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { applyStrict, hasErrors, type Diagnostic, type Position } from '../src/diagnostics.js';
import { loadInputs } from '../src/profile/load.js';
import {
  editDistance,
  lintControlPlaneEndpoint,
  lintDockerCriDockerd,
  lintIgnorePreflightAll,
  lintInputs,
  lintMirrorReach,
  lintMirrorReachCriDockerd,
  lintControlPlanesWithoutHA,
  lintNodeGateways,
  lintNodeIsOwnGateway,
  lintNodeSubnets,
  lintNoControlPlane,
  lintPackageNameTypos,
  lintPackageVersion,
  lintPauseImage,
  lintRepoExcludes,
  lintSubnetAlignment,
  lintSubnetOverlap,
  lintSwapOn,
  typoOf,
} from '../src/profile/lint.js';
import type { Cluster, Inputs, Located, NodeSpec, Profile } from '../src/profile/types.js';
import { located, testCluster, testNode, testProfile, type ProfileOverrides } from './helpers/inputs.js';

// ---- hand-built Located inputs (the loader is tested on its own) -------------------------------------------

/** A profile that lints clean; `over` replaces top-level keys and merges into sections. */
const profile = (over: ProfileOverrides = {}, file = 'profiles/worker.yaml'): Located<Profile> =>
  located(testProfile('worker', over), file);

/** Lint tests place nodes anywhere: the address and router are given whole. */
const node = (index: number, name: string, role: NodeSpec['role'], ip: string, gateway: string): NodeSpec =>
  testNode(name, role, index, 10 + index, { ip, gateway, dns: ['192.168.66.1'] });

/**
 * A cluster that lints clean: one control plane and two workers on 192.168.66.0/24, mirror: aliyun with every
 * download it cannot reach covered (a Calico image repository and an artifact mirror on the LAN).
 */
function cluster(over: Partial<Cluster> = {}): Located<Cluster> {
  const nodes = [
    node(0, 'cp1', 'control-plane', '192.168.66.11/24', '192.168.66.1'),
    node(1, 'w1', 'worker', '192.168.66.21/24', '192.168.66.1'),
    node(2, 'w2', 'worker', '192.168.66.22/24', '192.168.66.1'),
  ];
  return located(testCluster({ nodes, images: { calico: 'harbor.lan/calico' }, artifactMirrors: ['http://192.168.66.5/mkimage/'], ...over }), 'cluster.yaml');
}

const at = (doc: Located<unknown>, path: string): Position => {
  const p = doc.positions.get(path);
  if (p === undefined) throw new Error(`builder gave no position to ${path}`);
  return p;
};

/** code + position of each diagnostic, for compact assertions. */
const where = (diags: Diagnostic[]) => diags.map((d) => ({ code: d.code, file: d.file, line: d.line, col: d.col }));
const expectOne = (diags: Diagnostic[], code: string, pos: Position) => {
  expect(where(diags)).toEqual([{ code, ...pos }]);
  expect(diags[0]?.severity).toBe('warning');
  return diags[0]?.message ?? '';
};

// ---- the clean baseline ---------------------------------------------------------------------------------

describe('a sound cluster and profile', () => {
  it('produce no lint at all', () => {
    const inputs: Inputs = {
      cluster: cluster(),
      profiles: new Map([
        ['worker', profile()],
        ['control-plane', profile({ name: 'control-plane', role: 'control-plane' }, 'profiles/control-plane.yaml')],
      ]),
    };
    expect(lintInputs(inputs)).toEqual([]);
  });
});

// ---- W101 -----------------------------------------------------------------------------------------------

describe('W101 package version vs kubernetesVersion', () => {
  it('seed: packages 1.29.0 while kubeadm init --kubernetes-version 1.29.2', () => {
    const p = profile({ kubernetes: { packageVersion: '1.29.0' } });
    const msg = expectOne(lintPackageVersion(p, cluster()), 'W101', at(p, 'kubernetes.packageVersion'));
    expect(msg).toContain('set kubernetes.packageVersion to 1.29.2 (or remove it to follow kubernetesVersion)');
  });

  it.each(['1.29.2', 'v1.29.2', '1.29.2-150500.1.1', '1.29.2-1.1'])('accepts %s for 1.29.2', (v) => {
    expect(lintPackageVersion(profile({ kubernetes: { packageVersion: v } }), cluster())).toEqual([]);
  });

  it('is silent when packageVersion is absent (it follows kubernetesVersion)', () => {
    expect(lintPackageVersion(profile(), cluster())).toEqual([]);
  });

  it('names the cluster version even when it is written with a "v"', () => {
    const p = profile({ kubernetes: { packageVersion: '1.28.5' } });
    const [d] = lintPackageVersion(p, cluster({ kubernetesVersion: 'v1.29.2' }));
    expect(d?.message).toContain('set kubernetes.packageVersion to 1.29.2');
  });
});

// ---- W102 -----------------------------------------------------------------------------------------------

describe('W102 Docker Engine 25+ with cri-dockerd 0.3.9', () => {
  it.each(['25.0.3', '26.1.4', '3:27.3.1-1.el9', '5:25.0.0-1~ubuntu.22.04~jammy'])('docker %s warns', (v) => {
    const p = profile({ docker: { version: v } });
    const msg = expectOne(lintDockerCriDockerd(p), 'W102', at(p, 'docker.version'));
    expect(msg).toContain('ImageInspectError');
    expect(msg).toContain('Mirantis/cri-dockerd#299');
    expect(msg).toContain('pin docker.version to 24.0.7, or set criDockerd.version to 0.3.10 or later');
  });

  it('seed: `yum -y install docker-ce` unpinned installs the newest engine, so it warns too', () => {
    const p = profile({ docker: { version: '' } });
    const msg = expectOne(lintDockerCriDockerd(p), 'W102', at(p, 'docker.version'));
    expect(msg).toMatch(/^docker.version is not pinned/);
  });

  it.each([
    ['24.0.7', '0.3.9'],
    ['3:24.0.9-1.el9', '0.3.9'],
    ['26.1.4', '0.3.10'],
    ['27.3.1', 'v0.3.16'],
  ])('docker %s with cri-dockerd %s is fine', (docker, cri) => {
    expect(lintDockerCriDockerd(profile({ docker: { version: docker }, criDockerd: { version: cri } }))).toEqual([]);
  });
});

// ---- W103 -----------------------------------------------------------------------------------------------

describe('W103 CIDR not aligned to its prefix', () => {
  it('seed: --service-cidr=10.10.0.0/12 names the aligned network 10.0.0.0/12', () => {
    const c = cluster({ serviceSubnet: '10.10.0.0/12' });
    const msg = expectOne(lintSubnetAlignment(c), 'W103', at(c, 'serviceSubnet'));
    expect(msg).toContain('set serviceSubnet to 10.0.0.0/12');
  });

  it('checks podSubnet too', () => {
    const c = cluster({ podSubnet: '10.244.1.0/16' });
    const msg = expectOne(lintSubnetAlignment(c), 'W103', at(c, 'podSubnet'));
    expect(msg).toContain('set podSubnet to 10.244.0.0/16');
  });

  it("leaves text that is not an IPv4 CIDR to the loader's format check", () => {
    expect(lintSubnetAlignment(cluster({ podSubnet: 'fd00::/108' }))).toEqual([]);
  });
});

// ---- W104 -----------------------------------------------------------------------------------------------

describe('W104 overlapping pod, service and node subnets', () => {
  it("Calico's manifest default 192.168.0.0/16 as podSubnet swallows the seed's LAN 192.168.66.0/24", () => {
    const c = cluster({ podSubnet: '192.168.0.0/16' });
    const msg = expectOne(lintSubnetOverlap(c), 'W104', at(c, 'podSubnet'));
    expect(msg).toContain('node subnet 192.168.66.0/24 (cp1, w1, w2)');
    expect(msg).toContain('choose a podSubnet outside 192.168.66.0/24');
  });

  it('service range overlapping the pod range is reported at serviceSubnet', () => {
    const c = cluster({ serviceSubnet: '10.0.0.0/8' });
    const msg = expectOne(lintSubnetOverlap(c), 'W104', at(c, 'serviceSubnet'));
    expect(msg).toContain('overlaps podSubnet 10.244.0.0/16');
  });

  it("compares the seed's misaligned 10.10.0.0/12 by its real network (10.0.0.0/12 meets 10.8.0.0/16)", () => {
    const c = cluster({ serviceSubnet: '10.10.0.0/12', podSubnet: '10.8.0.0/16' });
    expect(where(lintSubnetOverlap(c)).map((d) => d.code)).toEqual(['W104']);
  });

  it("the seed's own ranges (10.244.0.0/16, 10.10.0.0/12, 192.168.66.0/24) do not overlap", () => {
    expect(lintSubnetOverlap(cluster({ serviceSubnet: '10.10.0.0/12' }))).toEqual([]);
  });
});

// ---- W105 -----------------------------------------------------------------------------------------------

describe('W105 controlPlaneEndpoint vs the control-plane address', () => {
  it('seed: advertise 192.168.66.11 but workers join 192.168.10.11:6443', () => {
    const c = cluster({ controlPlaneEndpoint: '192.168.10.11:6443' });
    const msg = expectOne(lintControlPlaneEndpoint(c), 'W105', at(c, 'controlPlaneEndpoint'));
    expect(msg).toContain('set controlPlaneEndpoint to 192.168.66.11:6443');
    expect(msg).toContain('control-plane node cp1 (192.168.66.11)');
  });

  it('several control planes without HA: the endpoint must be one of them', () => {
    const nodes = [...cluster().value.nodes, node(3, 'cp2', 'control-plane', '192.168.66.12/24', '192.168.66.1')];
    expect(lintControlPlaneEndpoint(cluster({ nodes }))).toEqual([]);
    const c = cluster({ nodes, controlPlaneEndpoint: '192.168.66.100:6443' });
    const msg = expectOne(lintControlPlaneEndpoint(c), 'W105', at(c, 'controlPlaneEndpoint'));
    expect(msg).toContain('set controlPlaneHA to kube-vip or external');
  });

  it.each(['kube-vip', 'external'] as const)('%s: a VIP equal to a node IP warns', (ha) => {
    const c = cluster({ controlPlaneHA: ha, controlPlaneEndpoint: '192.168.66.11:6443' });
    const msg = expectOne(lintControlPlaneEndpoint(c), 'W105', at(c, 'controlPlaneEndpoint'));
    expect(msg).toContain("node cp1's own address");
    expect(msg).toContain('set controlPlaneEndpoint to an unused address in 192.168.66.0/24');
  });

  it('kube-vip: a VIP outside the control-plane subnet warns; an external load balancer may be routed', () => {
    const c = cluster({ controlPlaneHA: 'kube-vip', controlPlaneEndpoint: '192.168.10.100:6443' });
    const msg = expectOne(lintControlPlaneEndpoint(c), 'W105', at(c, 'controlPlaneEndpoint'));
    expect(msg).toContain('outside the control-plane subnet 192.168.66.0/24');
    expect(lintControlPlaneEndpoint(cluster({ controlPlaneHA: 'external', controlPlaneEndpoint: '10.1.2.3:6443' }))).toEqual([]);
  });

  it('kube-vip with a free VIP in the subnet, and DNS-name endpoints, are fine', () => {
    expect(lintControlPlaneEndpoint(cluster({ controlPlaneHA: 'kube-vip', controlPlaneEndpoint: '192.168.66.10:6443' }))).toEqual([]);
    expect(lintControlPlaneEndpoint(cluster({ controlPlaneEndpoint: 'k8s-api.lan:6443' }))).toEqual([]);
  });
});

// ---- W106 -----------------------------------------------------------------------------------------------

describe('W106 ignorePreflightErrors: all', () => {
  it('seed: --ignore-preflight-errors=all, at the list entry, any case', () => {
    const p = profile({ kubernetes: { ignorePreflightErrors: ['NumCPU', 'All'] } });
    const msg = expectOne(lintIgnorePreflightAll(p), 'W106', at(p, 'kubernetes.ignorePreflightErrors.1'));
    expect(msg).toContain('remove "All" from kubernetes.ignorePreflightErrors');
  });

  it('named checks are fine', () => {
    expect(lintIgnorePreflightAll(profile({ kubernetes: { ignorePreflightErrors: ['NumCPU', 'Mem'] } }))).toEqual([]);
  });
});

// ---- W107 -----------------------------------------------------------------------------------------------

describe('W107 repo excludes without disableExcludes', () => {
  const seedExclude = ['kubelet', 'kubeadm', 'kubect1', 'cri-tools', 'kubernetes-cni'];

  it('seed: exclude= in the repo file, install line lacks --disableexcludes=kubernetes', () => {
    const p = profile({
      kubernetes: { packages: ['kubelet', 'kubect1', 'kubeadm'], repoExclude: seedExclude, disableExcludes: false },
    });
    const msg = expectOne(lintRepoExcludes(p), 'W107', at(p, 'kubernetes.disableExcludes'));
    expect(msg).toContain('hides kubelet, kubect1, kubeadm');
    expect(msg).toContain('yum refuses');
    expect(msg).toContain('set kubernetes.disableExcludes: true');
  });

  it('matches yum globs and points at repoExclude when disableExcludes came from a default', () => {
    const p = profile({ kubernetes: { repoExclude: ['kube*'], disableExcludes: false } });
    p.positions.delete('kubernetes.disableExcludes');
    const msg = expectOne(lintRepoExcludes(p), 'W107', at(p, 'kubernetes.repoExclude'));
    expect(msg).toContain('hides kubelet, kubeadm, kubectl');
  });

  it('no excludes, or excludes disabled, is fine', () => {
    expect(lintRepoExcludes(profile({ kubernetes: { repoExclude: [], disableExcludes: false } }))).toEqual([]);
    expect(lintRepoExcludes(profile({ kubernetes: { repoExclude: seedExclude, disableExcludes: true } }))).toEqual([]);
  });
});

// ---- W108 -----------------------------------------------------------------------------------------------

describe('W108 package name typos', () => {
  it('seed: kubect1 (digit one) in the install line and in exclude=, each at its entry', () => {
    const p = profile({
      kubernetes: {
        packages: ['kubelet', 'kubect1', 'kubeadm'],
        repoExclude: ['kubelet', 'kubeadm', 'kubect1', 'cri-tools', 'kubernetes-cni'],
      },
    });
    const diags = lintPackageNameTypos(p);
    expect(where(diags)).toEqual([
      { code: 'W108', ...at(p, 'kubernetes.packages.1') },
      { code: 'W108', ...at(p, 'kubernetes.repoExclude.2') },
    ]);
    expect(diags[0]?.message).toContain('did you mean kubectl?');
    expect(diags[1]?.message).toContain('"kubect1" in kubernetes.repoExclude: did you mean kubectl?');
  });

  it('checks extraPackages and keeps a version suffix in the suggestion', () => {
    const p = profile({ extraPackages: ['vim-enhanced', 'dokcer-ce-cli-24.0.7', 'containerd.oi'] });
    const diags = lintPackageNameTypos(p);
    expect(where(diags)).toEqual([
      { code: 'W108', ...at(p, 'extraPackages.1') },
      { code: 'W108', ...at(p, 'extraPackages.2') },
    ]);
    expect(diags[0]?.message).toContain('did you mean docker-ce-cli? Write "docker-ce-cli-24.0.7"');
    expect(diags[1]?.message).toContain('did you mean containerd.io?');
  });

  it.each([
    ['kubect1', 'kubectl'],
    ['kubelte', 'kubelet'],
    ['cri-tool', 'cri-tools'],
    ['kubernetes-nci', 'kubernetes-cni'],
    ['kubectl=1.29.2-1.1', undefined],
    ['kubelet-1.29.2-150500.1.1', undefined],
    ['kubectx', undefined],
    ['containerd', undefined],
    ['docker.io', undefined],
    ['kube*', undefined],
    ['htop', undefined],
    ['socat', undefined],
  ])('typoOf(%j) is %j', (entry, want) => expect(typoOf(entry)).toBe(want));

  it('editDistance counts a transposition as one edit', () => {
    expect(editDistance('kubectl', 'kubect1')).toBe(1);
    expect(editDistance('kubelet', 'kubelte')).toBe(1);
    expect(editDistance('kubeadm', 'kubelet')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
  });
});

// ---- W109 -----------------------------------------------------------------------------------------------

describe('W109 pause image', () => {
  it('seed: --pod-infra-container-image=registry.aliyuncs.com/google_containers/pause:3.8', () => {
    const p = profile({ criDockerd: { pauseImage: 'registry.aliyuncs.com/google_containers/pause:3.8' } });
    const msg = expectOne(lintPauseImage(p, cluster()), 'W109', at(p, 'criDockerd.pauseImage'));
    expect(msg).toContain('set criDockerd.pauseImage to registry.aliyuncs.com/google_containers/pause:3.9');
    expect(msg).toContain('kubeadm 1.29');
  });

  it('short name form, and the kubeadm minor decides (1.31 expects 3.10)', () => {
    const p = profile({ criDockerd: { pauseImage: 'pause:3.9' } });
    const msg = expectOne(lintPauseImage(p, cluster({ kubernetesVersion: '1.31.1' })), 'W109', at(p, 'criDockerd.pauseImage'));
    expect(msg).toContain('set criDockerd.pauseImage to pause:3.10');
  });

  it('custom sandbox images, digests and unknown minors are left alone', () => {
    expect(lintPauseImage(profile({ criDockerd: { pauseImage: 'my/sandbox:1' } }), cluster())).toEqual([]);
    expect(lintPauseImage(profile({ criDockerd: { pauseImage: 'pause@sha256:abc' } }), cluster())).toEqual([]);
    expect(lintPauseImage(profile({ criDockerd: { pauseImage: 'pause:3.8' } }), cluster({ kubernetesVersion: '1.40.0' }))).toEqual([]);
  });
});

// ---- W110 / W111 ----------------------------------------------------------------------------------------

describe('W110 node outside the control-plane subnet', () => {
  it('a worker on 192.168.10.0/24 when the control plane is on 192.168.66.0/24', () => {
    const nodes = [...cluster().value.nodes];
    nodes[2] = node(2, 'w2', 'worker', '192.168.10.22/24', '192.168.10.1');
    const c = cluster({ nodes });
    const msg = expectOne(lintNodeSubnets(c), 'W110', at(c, 'nodes.2.ip'));
    expect(msg).toContain('node w2 address 192.168.10.22 is outside the control-plane subnet 192.168.66.0/24');
  });

  it('two control planes on different subnets each warn; no control plane means nothing to compare', () => {
    const nodes = [
      node(0, 'cp1', 'control-plane', '192.168.66.11/24', '192.168.66.1'),
      node(1, 'cp2', 'control-plane', '192.168.10.12/24', '192.168.10.1'),
    ];
    const c = cluster({ nodes, controlPlaneHA: 'external', controlPlaneEndpoint: 'api.lan:6443' });
    expect(where(lintNodeSubnets(c))).toEqual([
      { code: 'W110', ...at(c, 'nodes.0.ip') },
      { code: 'W110', ...at(c, 'nodes.1.ip') },
    ]);
    expect(lintNodeSubnets(cluster({ nodes: cluster().value.nodes.filter((n) => n.role === 'worker') }))).toEqual([]);
  });
});

describe('W111 gateway outside the node subnet', () => {
  it('gateway 192.168.10.1 for a node on 192.168.66.0/24', () => {
    const nodes = [...cluster().value.nodes];
    nodes[1] = node(1, 'w1', 'worker', '192.168.66.21/24', '192.168.10.1');
    const c = cluster({ nodes });
    const msg = expectOne(lintNodeGateways(c), 'W111', at(c, 'nodes.1.gateway'));
    expect(msg).toContain("set nodes[1].gateway to the router's address in 192.168.66.0/24");
  });
});

// ---- W113-W116: the inventory as a cluster, and swap ------------------------------------------------------

describe('W113 no control plane, W114 several control planes without HA, W115 own gateway, W116 swap on', () => {
  it('W113: workers only, at nodes:', () => {
    const c = cluster({ nodes: cluster().value.nodes.filter((n) => n.role === 'worker') });
    const msg = expectOne(lintNoControlPlane(c), 'W113', at(c, 'nodes'));
    expect(msg).toMatch(/nothing runs kubeadm init .*add a node with role: control-plane/);
    expect(lintNoControlPlane(cluster())).toEqual([]);
  });

  it('W114: two control planes with controlPlaneHA none, at controlPlaneHA; kube-vip is quiet', () => {
    const nodes = [...cluster().value.nodes, node(3, 'cp2', 'control-plane', '192.168.66.12/24', '192.168.66.1')];
    const c = cluster({ nodes, controlPlaneHA: 'none' });
    const msg = expectOne(lintControlPlanesWithoutHA(c), 'W114', at(c, 'controlPlaneHA'));
    expect(msg).toContain('2 control planes (cp1, cp2) with controlPlaneHA: none all depend on 192.168.66.11:6443');
    expect(lintControlPlanesWithoutHA(cluster({ nodes, controlPlaneHA: 'kube-vip', controlPlaneEndpoint: '192.168.66.10:6443' }))).toEqual([]);
    expect(lintControlPlanesWithoutHA(cluster())).toEqual([]);
  });

  it('W115: a node whose gateway is its own address, at its gateway', () => {
    const nodes = [...cluster().value.nodes];
    nodes[2] = node(2, 'w2', 'worker', '192.168.66.22/24', '192.168.66.22');
    const c = cluster({ nodes });
    const msg = expectOne(lintNodeIsOwnGateway(c), 'W115', at(c, 'nodes.2.gateway'));
    expect(msg).toContain("node w2 has its own address 192.168.66.22 as gateway");
    expect(lintNodeIsOwnGateway(cluster())).toEqual([]);
  });

  it('W116: swap: on, at swap', () => {
    const p = profile({ swap: 'on' });
    const msg = expectOne(lintSwapOn(p), 'W116', at(p, 'swap'));
    expect(msg).toMatch(/kubelet refuse to start .*set swap: off/);
    expect(lintSwapOn(profile())).toEqual([]);
  });

  it('lintInputs runs them, and --strict makes them errors', () => {
    const inputs: Inputs = { cluster: cluster({ nodes: cluster().value.nodes.filter((n) => n.role === 'worker') }), profiles: new Map([['worker', profile({ swap: 'on' })]]) };
    const diags = lintInputs(inputs);
    expect(diags.map((d) => d.code).sort()).toEqual(['W113', 'W116']);
    expect(hasErrors(applyStrict(diags, true))).toBe(true);
  });
});

// ---- all together ---------------------------------------------------------------------------------------

describe('lintInputs', () => {
  const seedProfile = (name: string, role: Profile['role'], file: string) =>
    profile(
      {
        name,
        role,
        kubernetes: {
          packageVersion: '1.29.0',
          packages: ['kubelet', 'kubect1', 'kubeadm'],
          repoExclude: ['kubelet', 'kubeadm', 'kubect1', 'cri-tools', 'kubernetes-cni'],
          disableExcludes: false,
          ignorePreflightErrors: ['all'],
        },
        docker: { version: '' },
        criDockerd: { version: '0.3.9', pauseImage: 'registry.aliyuncs.com/google_containers/pause:3.8' },
      },
      file,
    );
  const seedCluster = () => cluster({ controlPlaneEndpoint: '192.168.10.11:6443', serviceSubnet: '10.10.0.0/12' });

  it("reports every mistake of the seed guide, sorted by file and line", () => {
    const inputs: Inputs = { cluster: seedCluster(), profiles: new Map([['worker', seedProfile('worker', 'worker', 'profiles/worker.yaml')]]) };
    const diags = lintInputs(inputs);
    // cluster.yaml: controlPlaneEndpoint comes before serviceSubnet; worker.yaml: kubernetes.packages,
    // repoExclude, disableExcludes, ignorePreflightErrors, packageVersion, then docker, then criDockerd.
    expect(diags.map((d) => d.code)).toEqual(['W105', 'W103', 'W108', 'W108', 'W107', 'W106', 'W101', 'W102', 'W109']);
    const lines = diags.map((d) => d.line ?? 0);
    expect(lines.slice(2)).toEqual([...lines.slice(2)].sort((x, y) => x - y));
    expect(diags.map((d) => d.file)).toEqual([...Array(2).fill('cluster.yaml'), ...Array(7).fill('profiles/worker.yaml')]);
    expect(applyStrict(diags, true).every((d) => d.severity === 'error')).toBe(true);
    expect(diags.every((d) => d.severity === 'warning')).toBe(true);
  });

  it('a value two profiles inherit from one base file is reported once', () => {
    const a = seedProfile('worker', 'worker', 'profiles/base.yaml');
    const b = seedProfile('control-plane', 'control-plane', 'profiles/base.yaml');
    const one = lintInputs({ cluster: cluster(), profiles: new Map([['worker', a]]) });
    const two = lintInputs({ cluster: cluster(), profiles: new Map([['worker', a], ['control-plane', b]]) });
    expect(two).toEqual(one);
  });

  it('gateway profiles are not held to Kubernetes package and runtime lints', () => {
    const g = seedProfile('gateway', 'gateway', 'profiles/gateway.yaml');
    expect(lintInputs({ cluster: cluster(), profiles: new Map([['gateway', g]]) })).toEqual([]);
  });
});

// ---- end to end through the real loader -----------------------------------------------------------------

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Where `needle` starts in `file` (relative to the repo root), searching from the first `after`. */
function find(file: string, needle: string, after = ''): Position {
  const text = readFileSync(`${ROOT}/${file}`, 'utf8');
  const offset = text.indexOf(needle, text.indexOf(after));
  if (offset < 0 || text.indexOf(after) < 0) throw new Error(`${needle} not in ${file}`);
  const before = text.slice(0, offset).split('\n');
  return { file, line: before.length, col: (before.at(-1)?.length ?? 0) + 1 };
}

describe('lintInputs on loaded files', () => {
  const CLUSTER = 'test/fixtures/lint/seed-cluster.yaml';
  const BASE = 'test/fixtures/lint/seed-profiles/base.yaml';

  it("the seed guide's values in YAML: every lint at the offending value, inherited ones once", () => {
    const loaded = loadInputs({ profilesDir: 'test/fixtures/lint/seed-profiles', clusterFile: CLUSTER, cwd: ROOT });
    expect(loaded.diagnostics).toEqual([]);
    if (loaded.inputs === undefined) throw new Error('seed fixtures did not load');
    expect([...loaded.inputs.profiles.keys()].sort()).toEqual(['control-plane', 'worker']);
    const diags = lintInputs(loaded.inputs);
    expect(where(diags)).toEqual([
      { code: 'W105', ...find(CLUSTER, '"192.168.10.11:6443"', 'controlPlaneEndpoint:') },
      { code: 'W103', ...find(CLUSTER, '10.10.0.0/12') },
      { code: 'W110', ...find(CLUSTER, '192.168.10.22/24') },
      { code: 'W111', ...find(CLUSTER, '192.168.66.1', 'name: node2') },
      { code: 'W101', ...find(BASE, '"1.29.0"') },
      { code: 'W108', ...find(BASE, 'kubect1') },
      { code: 'W108', ...find(BASE, 'kubect1', 'repoExclude:') },
      { code: 'W107', ...find(BASE, 'false', 'disableExcludes:') },
      { code: 'W106', ...find(BASE, 'all', 'ignorePreflightErrors:') },
      { code: 'W102', ...find(BASE, '"25.0.3"') },
      { code: 'W109', ...find(BASE, 'pause:3.8') },
    ]);
    expect(diags.find((d) => d.code === 'W108')?.message).toBe('unknown package "kubect1" in kubernetes.packages: did you mean kubectl?');
    expect(hasErrors(diags)).toBe(false);
    expect(hasErrors(applyStrict(diags, true))).toBe(true);
  });

  it('the shipped profiles and example cluster lint clean but for W112: mirror: aliyun does not reach everything', () => {
    const loaded = loadInputs({ cwd: ROOT });
    expect(loaded.diagnostics).toEqual([]);
    if (loaded.inputs === undefined) throw new Error('shipped defaults did not load');
    expect(loaded.inputs.profiles.size).toBeGreaterThanOrEqual(3);
    const diags = lintInputs(loaded.inputs);
    expect(diags.map((d) => d.code)).toEqual(['W112', 'W112', 'W112']);
    expect(diags.map((d) => d.file)).toEqual(['profiles/base.yaml', 'profiles/cluster.yaml', 'profiles/cluster.yaml']);
  });
});

// ---- W112 -----------------------------------------------------------------------------------------------

describe('W112 mirror: aliyun and downloads it does not reach', () => {
  const bare = () => cluster({ images: {}, artifactMirrors: [] });

  it('Calico images from docker.io and the Calico manifest from GitHub, at the mirror line, worded as the fix', () => {
    const c = bare();
    const diags = lintMirrorReach(c);
    expect(where(diags)).toEqual([{ code: 'W112', ...at(c, 'mirror') }, { code: 'W112', ...at(c, 'mirror') }]);
    expect(diags[0]?.message).toMatch(/docker\.io\/calico.*set images\.calico/);
    expect(diags[1]?.message).toMatch(/raw\.githubusercontent\.com.*set artifactMirrors/);
  });

  it('kube-vip from ghcr.io with controlPlaneHA kube-vip', () => {
    const c = cluster({ controlPlaneHA: 'kube-vip', controlPlaneEndpoint: '192.168.66.10:6443' });
    const msg = expectOne(lintMirrorReach(c), 'W112', at(c, 'mirror'));
    expect(msg).toMatch(/ghcr\.io\/kube-vip\/kube-vip.*set images\.kubeVip/);
    expect(lintMirrorReach(cluster({ controlPlaneHA: 'kube-vip', images: { calico: 'h/calico', kubeVip: 'h/kube-vip' } }))).toEqual([]);
  });

  it('an imageRepository on registry.k8s.io', () => {
    const c = cluster({ imageRepository: 'registry.k8s.io' });
    const msg = expectOne(lintMirrorReach(c), 'W112', at(c, 'imageRepository'));
    expect(msg).toContain('set imageRepository: registry.aliyuncs.com/google_containers');
  });

  it('cri-dockerd from GitHub: at criDockerd.version, unless criDockerd.url or artifactMirrors covers it', () => {
    const p = profile();
    const msg = expectOne(lintMirrorReachCriDockerd(p, bare()), 'W112', at(p, 'criDockerd.version'));
    expect(msg).toMatch(/github\.com.*set criDockerd\.url \(with criDockerd\.sha256\), or the cluster's artifactMirrors/);
    expect(lintMirrorReachCriDockerd(p, cluster())).toEqual([]);
    expect(lintMirrorReachCriDockerd(profile({ criDockerd: { version: '0.3.9', pauseImage: 'pause:3.9', url: 'http://h/c.tgz', sha256: 'a'.repeat(64) } }), bare())).toEqual([]);
  });

  it('mirror: upstream is silent', () => {
    const c = cluster({ mirror: 'upstream', images: {}, artifactMirrors: [], imageRepository: 'registry.k8s.io' });
    expect(lintMirrorReach(c)).toEqual([]);
    expect(lintMirrorReachCriDockerd(profile(), c)).toEqual([]);
  });
});
