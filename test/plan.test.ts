// The planner: Profile + Cluster (+ node) -> NodePlan. Inputs are built by hand (with positions) so these
// tests do not depend on the loader; the last test plans the shipped defaults through the real loader.

import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../src/diagnostics.js';
import { planJson, planNode, planRole } from '../src/plan/build.js';
import { kubeVipBootFiles } from '../src/cluster/kube-vip.js';
import { FIRSTBOOT_SCRIPT, firstbootScript } from '../src/firstboot/files.js';
import { loadSecrets } from '../src/cluster/secrets.js';
import { nodePlans, redactSecrets, rolePlan } from '../src/pipeline.js';
import { FIXTURE_SECRETS, privateSecretsCopy } from './helpers/secrets.js';
import { mkimage } from './helpers/cli.js';
import { loadInputs } from '../src/profile/load.js';
import type { NodePlan } from '../src/plan/types.js';
import type { Cluster, Located, Mirror, NodeRole, NodeSpec, OsFamily, Profile } from '../src/profile/types.js';
import {
  located, rolePorts, testCluster, testGatewaySettings, testNode, testProfile, TEST_SSH_KEY,
} from './helpers/inputs.js';
import { tool } from './helpers/tools.js';
import { scratchDirs } from './helpers/tmp.js';

// ---------------------------------------------------------------------------------------------------------
// Builders (test/helpers/inputs.ts): patched, then located, so patched paths have positions too.

/** A shipped role profile without Calico's firewall ports (the golden plans carry the role's own only). */
function profileOf(role: NodeRole | 'gateway', patch: (p: Profile) => void = () => {}): Located<Profile> {
  const p = testProfile(role, { firewall: { ports: rolePorts(role) } });
  patch(p);
  return located(p, `profiles/${role}.yaml`);
}

/** Two control planes and a worker, and an operator key. */
function clusterOf(patch: (c: Cluster) => void = () => {}): Located<Cluster> {
  const c = testCluster({
    admin: { user: 'kube', sshAuthorizedKeys: [TEST_SSH_KEY] },
    nodes: [
      testNode('cp1', 'control-plane', 0, 11),
      testNode('cp2', 'control-plane', 1, 12),
      testNode('w1', 'worker', 2, 21),
    ],
  });
  patch(c);
  return located(c, 'cluster.yaml');
}

const errors = (d: Diagnostic[]) => d.filter((x) => x.severity === 'error');
const file = (p: NodePlan, path: string) => p.files.find((f) => f.path === path);
const pkg = (p: NodePlan, name: string) => p.packages.find((x) => x.name === name);
const repo = (p: NodePlan, id: string) => p.repos.find((r) => r.id === id);

// ---------------------------------------------------------------------------------------------------------
// Per OS family facts (DOMAIN.md). ubuntu-24.04 rows use the only valid Docker there: 26.x with cri-dockerd 0.3.10+.

interface FamilyFacts {
  family: OsFamily;
  docker: string;
  dockerPin: string;
  criDockerd: string;
  kubePin: string;
  pm: 'dnf' | 'apt';
  codename?: string;
  dockerDistro: string;
  cloudImage: string;
}

const FAMILIES: FamilyFacts[] = [
  {
    family: 'el9', docker: '24.0.7', dockerPin: '24.0.7-1.el9', criDockerd: '0.3.9', kubePin: '1.29.2-150500.1.1',
    pm: 'dnf', dockerDistro: 'centos',
    cloudImage: 'https://dl.rockylinux.org/pub/rocky/9/images/x86_64/Rocky-9-GenericCloud-Base.latest.x86_64.qcow2',
  },
  {
    family: 'ubuntu-22.04', docker: '24.0.7', dockerPin: '5:24.0.7-1~ubuntu.22.04~jammy', criDockerd: '0.3.9',
    kubePin: '1.29.2-1.1', pm: 'apt', codename: 'jammy', dockerDistro: 'ubuntu',
    cloudImage: 'https://cloud-images.ubuntu.com/jammy/current/jammy-server-cloudimg-amd64.img',
  },
  {
    family: 'ubuntu-24.04', docker: '26.1.4', dockerPin: '5:26.1.4-1~ubuntu.24.04~noble', criDockerd: '0.3.10',
    kubePin: '1.29.2-1.1', pm: 'apt', codename: 'noble', dockerDistro: 'ubuntu',
    cloudImage: 'https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img',
  },
  {
    family: 'debian-12', docker: '24.0.7', dockerPin: '5:24.0.7-1~debian.12~bookworm', criDockerd: '0.3.9',
    kubePin: '1.29.2-1.1', pm: 'apt', codename: 'bookworm', dockerDistro: 'debian',
    cloudImage: 'https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2',
  },
];

const ROLES: NodeRole[] = ['control-plane', 'worker'];
const MIRRORS: Mirror[] = ['upstream', 'aliyun'];
const MATRIX = FAMILIES.flatMap((f) => ROLES.flatMap((role) => MIRRORS.map((mirror) => ({ ...f, role, mirror }))));

const REPO = { upstream: 'registry.k8s.io', aliyun: 'registry.aliyuncs.com/google_containers' } as const;

function planFor(row: (typeof MATRIX)[number]) {
  const diags: Diagnostic[] = [];
  const profile = profileOf(row.role, (p) => {
    p.docker.version = row.docker;
    p.criDockerd.version = row.criDockerd;
  });
  const cluster = clusterOf((c) => {
    c.osFamily = row.family;
    c.mirror = row.mirror;
    c.imageRepository = REPO[row.mirror];
  });
  return { plan: planRole(profile, cluster, diags), diags, profile, cluster };
}

describe('planRole over OS family x role x mirror', () => {
  it.each(MATRIX)('$family $role $mirror: no diagnostics, OS and repos', (row) => {
    const { plan, diags } = planFor(row);
    expect(diags).toEqual([]);
    expect(plan.node).toBeUndefined();
    expect('node' in plan).toBe(false);
    expect(plan.role).toBe(row.role);
    expect(plan.os.family).toBe(row.family);
    expect(plan.os.packageManager).toBe(row.pm);
    expect(plan.os.codename).toBe(row.codename);
    expect(plan.os.cloudImage.url).toBe(row.cloudImage);
    expect(plan.os.cloudImage.checksum).toMatch(/^file:https:\/\/.*\/(CHECKSUM|SHA256SUMS|SHA512SUMS)$/);
    expect(plan.cluster.criSocket).toBe('unix:///var/run/cri-dockerd.sock');

    const dockerBase = row.mirror === 'aliyun' ? 'https://mirrors.aliyun.com/docker-ce/linux' : 'https://download.docker.com/linux';
    const k8sBase = row.mirror === 'aliyun'
      ? `https://mirrors.aliyun.com/kubernetes-new/core/stable/v1.29/${row.pm === 'dnf' ? 'rpm' : 'deb'}/`
      : `https://pkgs.k8s.io/core:/stable:/v1.29/${row.pm === 'dnf' ? 'rpm' : 'deb'}/`;
    if (row.pm === 'dnf') {
      expect(plan.repos).toEqual([
        {
          id: 'docker-ce-stable', name: 'Docker CE Stable', kind: 'rpm',
          baseurl: `${dockerBase}/centos/$releasever/$basearch/stable`, gpgkey: `${dockerBase}/centos/gpg`, exclude: [],
        },
        {
          id: 'kubernetes', name: 'Kubernetes', kind: 'rpm', baseurl: k8sBase, gpgkey: `${k8sBase}repodata/repomd.xml.key`,
          exclude: ['kubelet', 'kubeadm', 'kubectl', 'cri-tools', 'kubernetes-cni'],
        },
      ]);
      expect(plan.selinux).toBe('permissive');
    } else {
      expect(plan.repos).toEqual([
        {
          id: 'docker-ce', name: 'Docker CE Stable', kind: 'deb', baseurl: `${dockerBase}/${row.dockerDistro}`,
          gpgkey: `${dockerBase}/${row.dockerDistro}/gpg`, suite: row.codename, components: ['stable'], exclude: [],
        },
        { id: 'kubernetes', name: 'Kubernetes', kind: 'deb', baseurl: k8sBase, gpgkey: `${k8sBase}Release.key`, suite: '/', exclude: [] },
      ]);
      expect(plan.selinux).toBeUndefined();
      expect('selinux' in plan).toBe(false);
    }
    for (const r of plan.repos) expect(r.baseurl).not.toContain('kubect1');
  });

  it.each(MATRIX)('$family $role $mirror: exact package pins, held', (row) => {
    const { plan } = planFor(row);
    const rpm = row.pm === 'dnf';
    const kube = (name: string) => ({ name, version: row.kubePin, hold: true, ...(rpm && { disableExcludes: 'kubernetes' }) });
    expect(plan.packages).toEqual([
      { name: 'docker-ce', version: row.dockerPin, hold: true },
      { name: 'docker-ce-cli', version: row.dockerPin, hold: true },
      // Docker 24.0.7 was released and tested with containerd 1.6: the series is pinned (a glob both apt and dnf
      // accept) and held, so a routine upgrade never brings containerd 1.7/2.x under it.
      row.docker.startsWith('24.') ? { name: 'containerd.io', version: '1.6.*', hold: true } : { name: 'containerd.io', hold: true },
      kube('kubelet'),
      kube('kubeadm'),
      kube('kubectl'),
      // kubeadm's companions are pinned and held on apt too, not left to float with the repo.
      ...(rpm
        ? [
          { name: 'cri-tools', version: '1.29.0-150500.1.1', hold: true, disableExcludes: 'kubernetes' },
          { name: 'kubernetes-cni', version: '1.3.0-150500.1.1', hold: true, disableExcludes: 'kubernetes' },
        ]
        : [
          { name: 'cri-tools', version: '1.29.0-1.1', hold: true },
          { name: 'kubernetes-cni', version: '1.3.0-1.1', hold: true },
        ]),
    ]);
  });

  it.each(MATRIX)('$family $role $mirror: bake files, units, kernel and firewall', (row) => {
    const { plan } = planFor(row);
    expect(plan.files.map((f) => [f.path, f.mode, f.owner, f.phase])).toEqual([
      ['/etc/docker/daemon.json', '0644', 'root:root', 'bake'],
      ['/etc/modules-load.d/k8s.conf', '0644', 'root:root', 'bake'],
      ['/etc/sysctl.d/99-kubernetes.conf', '0644', 'root:root', 'bake'],
      // the first-boot script, from the planner itself: what the golden image bakes is what the plan says
      ['/usr/local/libexec/mkimage/firstboot.sh', '0755', 'root:root', 'bake'],
    ]);
    expect(file(plan, '/usr/local/libexec/mkimage/firstboot.sh')?.content).toBe(firstbootScript());
    expect(file(plan, '/etc/docker/daemon.json')?.content).toBe(
      '{\n  "exec-opts": [\n    "native.cgroupdriver=systemd"\n  ],\n  "log-driver": "json-file",\n' +
        '  "log-opts": {\n    "max-size": "100m",\n    "max-file": "3"\n  },\n  "storage-driver": "overlay2"\n}\n',
    );
    expect(file(plan, '/etc/modules-load.d/k8s.conf')?.content).toBe(
      '# generated by mkimage — do not edit\noverlay\nbr_netfilter\n',
    );
    expect(file(plan, '/etc/sysctl.d/99-kubernetes.conf')?.content).toBe(
      '# generated by mkimage — do not edit\nnet.bridge.bridge-nf-call-iptables = 1\n' +
        'net.bridge.bridge-nf-call-ip6tables = 1\nnet.ipv4.ip_forward = 1\n',
    );
    // Docker and cri-dockerd's socket start wherever units are started (full mode), and first boot waits for
    // their sockets: After= alone orders but starts nothing. kubelet is left to kubeadm.
    expect(plan.units.map((u) => [u.name, u.path, u.enable, u.start, u.phase, u.ready])).toEqual([
      ['cri-docker.service', '/usr/lib/systemd/system/cri-docker.service', true, false, 'bake', undefined],
      ['cri-docker.socket', '/usr/lib/systemd/system/cri-docker.socket', true, true, 'bake', '/run/cri-dockerd.sock'],
      ['docker.service', undefined, true, true, 'bake', '/run/docker.sock'],
      ['kubelet.service', undefined, true, false, 'bake', undefined],
      ['mkimage-firstboot.service', '/etc/systemd/system/mkimage-firstboot.service', true, true, 'bake', undefined],
    ]);
    const service = plan.units[0]?.content ?? '';
    expect(service.startsWith('# generated by mkimage — do not edit\n[Unit]\n')).toBe(true);
    expect(service).toContain(
      `ExecStart=/usr/bin/cri-dockerd --container-runtime-endpoint fd:// --network-plugin=cni ` +
        `--pod-infra-container-image=${REPO[row.mirror]}/pause:3.9\n`,
    );
    expect(service).toContain('Requires=cri-docker.socket\n');
    expect(service).toContain('Delegate=yes\nKillMode=process\n');
    expect(plan.units[1]?.content).toContain('ListenStream=%t/cri-dockerd.sock\nSocketMode=0660\nSocketUser=root\nSocketGroup=docker\n');
    expect(plan.sysctls.map((s) => s.key)).toEqual([
      'net.bridge.bridge-nf-call-iptables', 'net.bridge.bridge-nf-call-ip6tables', 'net.ipv4.ip_forward',
    ]);
    expect(plan.modules).toEqual(['overlay', 'br_netfilter']);
    expect(plan.swapOff).toBe(true);
    expect(plan.firewall.ports).toContain(row.role === 'control-plane' ? '6443/tcp' : '30000-32767/udp');
    // Calico's default dataplane: IP-in-IP (IP protocol 4) between nodes, its interfaces trusted.
    expect(plan.firewall.protocols).toEqual(['4']);
    expect(plan.firewall.trustedInterfaces).toEqual(['cali+', 'tunl0']);
    expect(plan.commands).toEqual([]);
  });

  it.each(MATRIX)('$family $role $mirror: images and artifacts', (row) => {
    const { plan, profile, cluster } = planFor(row);
    const r = REPO[row.mirror];
    const calico = ['cni', 'node', 'kube-controllers'].map((c) => `docker.io/calico/${c}:v3.27.3`);
    const coredns = row.mirror === 'upstream' ? `${r}/coredns/coredns:v1.11.1` : `${r}/coredns:v1.11.1`;
    expect(plan.images).toEqual(
      row.role === 'control-plane'
        ? [
          `${r}/kube-apiserver:v1.29.2`, `${r}/kube-controller-manager:v1.29.2`, `${r}/kube-scheduler:v1.29.2`,
          `${r}/kube-proxy:v1.29.2`, coredns, `${r}/pause:3.9`, `${r}/etcd:3.5.10-0`, ...calico,
        ]
        : [`${r}/kube-proxy:v1.29.2`, `${r}/pause:3.9`, ...calico],
    );
    const cri = plan.artifacts[0];
    expect(cri).toMatchObject({
      name: 'cri-dockerd', version: row.criDockerd, arch: 'amd64', member: 'cri-dockerd/cri-dockerd',
      dest: '/usr/bin/cri-dockerd', mode: '0755',
      urls: [`https://github.com/Mirantis/cri-dockerd/releases/download/v${row.criDockerd}/cri-dockerd-${row.criDockerd}.amd64.tgz`],
      // the setting that chose it (no criDockerd.url here)
      source: profile.positions.get('criDockerd.version'),
    });
    // Only 0.3.9's digest is pinned up front; others are recorded in the lock on first fetch.
    expect(cri?.sha256).toBe(row.criDockerd === '0.3.9' ? 'a6d9b4b796e9eff830311a2349d259507302cb3955dd07b78296b91e40e8b433' : undefined);
    if (row.role === 'control-plane') {
      expect(plan.artifacts[1]).toEqual({
        name: 'calico-manifest', version: 'v3.27.3', arch: 'amd64',
        urls: ['https://raw.githubusercontent.com/projectcalico/calico/v3.27.3/manifests/calico.yaml'],
        sha256: '001eacbb07c01f154f21d49c7f1e027dea8d4202d47347a324b678a7f69efdbe',
        dest: '/usr/share/mkimage/calico.yaml', mode: '0644',
        source: cluster.positions.get('calicoVersion'),
      });
    }
    expect(plan.artifacts).toHaveLength(row.role === 'control-plane' ? 2 : 1);
  });

  it.each(MATRIX)('$family $role $mirror: nothing secret is baked', (row) => {
    const { plan } = planFor(row);
    const text = planJson(plan);
    expect(plan.files.filter((f) => f.phase === 'bake' && f.secret)).toEqual([]);
    expect(text).not.toMatch(/PRIVATE KEY/);
    expect(text).not.toMatch(/\b[a-z0-9]{6}\.[a-z0-9]{16}\b/); // bootstrap token shape
    expect(text).not.toMatch(/sha256:[0-9a-f]{64}/); // discovery hash
  });
});

// ---------------------------------------------------------------------------------------------------------

function gatewayProfile(patch: (g: NonNullable<Profile['gateway']>) => void = () => {}): Located<Profile> {
  return profileOf('gateway', (p) => {
    p.gateway = testGatewaySettings();
    patch(p.gateway);
  });
}

describe('gateway role plans', () => {
  it('carry the router settings and nothing a node image needs', () => {
    const diags: Diagnostic[] = [];
    const cluster = clusterOf((c) => {
      c.nodes[2] = testNode('w1', 'worker', 2, 21, { mac: '52:54:00:66:00:21', dns: ['192.168.66.1'] });
    });
    const plan = planRole(gatewayProfile(), cluster, diags);
    expect(diags).toEqual([]);
    expect([plan.repos, plan.packages, plan.units, plan.images, plan.artifacts]).toEqual([[], [], [], [], []]);
    const comment = 'mkimage homelab/gateway';
    expect(plan.gateway).toEqual({
      vendor: 'ikuai',
      lanInterface: 'lan1',
      dhcp: { enabled: true, range: { start: '192.168.66.100', end: '192.168.66.200' }, leaseMinutes: 120 },
      staticLeases: [
        { hostname: 'cp1', mac: '52:54:00:66:00:11', ip: '192.168.66.11', gateway: '192.168.66.1', dns1: '192.168.66.1', dns2: '223.5.5.5', comment },
        { hostname: 'cp2', mac: '52:54:00:66:00:12', ip: '192.168.66.12', gateway: '192.168.66.1', dns1: '192.168.66.1', dns2: '223.5.5.5', comment },
        { hostname: 'w1', mac: '52:54:00:66:00:21', ip: '192.168.66.21', gateway: '192.168.66.1', dns1: '192.168.66.1', dns2: '', comment },
      ],
      pxe: { enabled: false, bootFile: 'undionly.kpxe' },
      dnsRecords: [{ domain: 'k8s-api.homelab.lan', ip: '192.168.66.11', comment }],
      portMappings: [],
    });
  });

  it('have no static leases when the profile leaves DHCP alone', () => {
    const plan = planRole(gatewayProfile((g) => (g.dhcp.enabled = false)), clusterOf(), []);
    expect(plan.gateway?.staticLeases).toEqual([]);
  });

  it('E005 at gateway.pxe when PXE is enabled without a next server', () => {
    const diags: Diagnostic[] = [];
    const profile = gatewayProfile((g) => (g.pxe.enabled = true));
    planRole(profile, clusterOf(), diags);
    expect(diags).toHaveLength(1);
    expect(diags[0]).toMatchObject({ severity: 'error', code: 'E005', ...profile.positions.get('gateway.pxe') });
    expect(diags[0]?.message).toContain('add nextServer:');
  });

  it('E005 at the given end of a half-set dynamic pool', () => {
    const diags: Diagnostic[] = [];
    const profile = gatewayProfile((g) => delete g.dhcp.rangeEnd);
    const plan = planRole(profile, clusterOf(), diags);
    expect(diags[0]).toMatchObject({ code: 'E005', ...profile.positions.get('gateway.dhcp.rangeStart') });
    expect(plan.gateway?.dhcp.range).toBeUndefined();
  });

  it('E005 at role when a gateway profile has no gateway section', () => {
    const diags: Diagnostic[] = [];
    const profile = profileOf('gateway');
    const plan = planRole(profile, clusterOf(), diags);
    expect(diags[0]).toMatchObject({ code: 'E005', ...profile.positions.get('role') });
    expect(plan.gateway).toBeUndefined();
  });
});

describe('unsupported combinations (E018)', () => {
  it('docker.io on el9 is an error at containerRuntime', () => {
    const diags: Diagnostic[] = [];
    const cluster = clusterOf((c) => (c.containerRuntime = 'docker.io'));
    planRole(profileOf('worker'), cluster, diags);
    expect(diags).toHaveLength(1);
    expect(diags[0]).toMatchObject({ severity: 'error', code: 'E018', ...cluster.positions.get('containerRuntime') });
    expect(diags[0]?.message).toContain('use containerRuntime: docker-ce');
  });

  it('docker.io on debian-12: the distro package pinned to bookworm\'s 20.10 series and held, no Docker repo', () => {
    const diags: Diagnostic[] = [];
    const plan = planRole(profileOf('worker'), clusterOf((c) => {
      c.containerRuntime = 'docker.io';
      c.osFamily = 'debian-12';
    }), diags);
    expect(diags).toEqual([]);
    expect(plan.repos.map((r) => r.id)).toEqual(['kubernetes']);
    // A version glob apt accepts (`docker.io=20.10.*`): bookworm security updates (20.10.24+dfsg1-1+deb12uN) still match.
    expect(plan.packages[0]).toEqual({ name: 'docker.io', version: '20.10.*', hold: true });
    expect(plan.packages.map((p) => p.name)).not.toContain('docker-ce');
    expect(plan.packages.map((p) => p.name)).not.toContain('containerd.io');
  });

  it.each(['ubuntu-22.04', 'ubuntu-24.04'] as const)('docker.io on %s with cri-dockerd 0.3.9 is an error at containerRuntime with the fixes', (family) => {
    const diags: Diagnostic[] = [];
    const cluster = clusterOf((c) => {
      c.containerRuntime = 'docker.io';
      c.osFamily = family;
    });
    planRole(profileOf('worker'), cluster, diags);
    expect(diags).toHaveLength(1);
    expect(diags[0]).toMatchObject({ severity: 'error', code: 'E018', ...cluster.positions.get('containerRuntime') });
    expect(diags[0]?.message).toContain('Mirantis/cri-dockerd#299');
    expect(diags[0]?.message).toContain('containerRuntime: docker-ce');
    expect(diags[0]?.message).toContain('osFamily: debian-12');
    expect(diags[0]?.message).toContain('criDockerd.version 0.3.10');
  });

  it('docker.io on ubuntu-22.04 with cri-dockerd 0.3.10: Ubuntu\'s current Docker, held', () => {
    const diags: Diagnostic[] = [];
    const plan = planRole(profileOf('worker', (p) => void (p.criDockerd.version = '0.3.10')), clusterOf((c) => {
      c.containerRuntime = 'docker.io';
      c.osFamily = 'ubuntu-22.04';
    }), diags);
    expect(diags).toEqual([]);
    expect(plan.packages[0]).toEqual({ name: 'docker.io', hold: true });
    expect(plan.packages.map((p) => p.name)).not.toContain('docker-ce');
    expect(plan.packages.map((p) => p.name)).not.toContain('containerd.io');
  });

  it('ubuntu-24.04 with Docker 24 + cri-dockerd 0.3.9 is an error at osFamily with the fix', () => {
    const diags: Diagnostic[] = [];
    const cluster = clusterOf((c) => (c.osFamily = 'ubuntu-24.04'));
    const plan = planRole(profileOf('control-plane'), cluster, diags);
    expect(errors(diags)).toHaveLength(1);
    expect(diags[0]).toMatchObject({ code: 'E018', ...cluster.positions.get('osFamily') });
    expect(diags[0]?.message).toContain('has no 24.0.7');
    expect(diags[0]?.message).toContain('use ubuntu-22.04, or override criDockerd.version >= 0.3.10');
    expect(plan.os.codename).toBe('noble');
  });

  it('a node overriding osFamily to ubuntu-24.04 is positioned at that node', () => {
    const diags: Diagnostic[] = [];
    const cluster = clusterOf((c) => {
      const w = c.nodes[2];
      if (w) w.osFamily = 'ubuntu-24.04';
    });
    const w1 = cluster.value.nodes[2] as NodeSpec;
    planNode(profileOf('worker'), cluster, w1, diags);
    expect(diags).toHaveLength(1);
    expect(diags[0]).toMatchObject({ code: 'E018', ...cluster.positions.get('nodes.2.osFamily') });
    expect(cluster.positions.get('nodes.2.osFamily')).toBeDefined();
  });

  it('ubuntu-24.04 with cri-dockerd 0.3.10 but Docker 24 is an error at docker.version', () => {
    const diags: Diagnostic[] = [];
    const profile = profileOf('worker', (p) => (p.criDockerd.version = '0.3.10'));
    planRole(profile, clusterOf((c) => (c.osFamily = 'ubuntu-24.04')), diags);
    expect(diags).toHaveLength(1);
    expect(diags[0]).toMatchObject({ code: 'E018', ...profile.positions.get('docker.version') });
    expect(diags[0]?.message).toContain('set docker.version to 26.0.0 or later');
  });

  it('an unknown Kubernetes minor names the supported ones', () => {
    const diags: Diagnostic[] = [];
    const cluster = clusterOf((c) => (c.kubernetesVersion = '1.30.1'));
    planRole(profileOf('control-plane'), cluster, diags);
    expect(diags).toHaveLength(1);
    expect(diags[0]).toMatchObject({ code: 'E018', ...cluster.positions.get('kubernetesVersion') });
    expect(diags[0]?.message).toContain('use a 1.29 release');
  });

  it('a gateway profile has no node plan: there are no gateway nodes (E018 at the node\'s role)', () => {
    const diags: Diagnostic[] = [];
    const cluster = clusterOf();
    planNode(gatewayProfile(), cluster, cluster.value.nodes[0] as NodeSpec, diags);
    expect(errors(diags)[0]).toMatchObject({ code: 'E018', ...cluster.positions.get('nodes.0.role') });
  });

  it('a node planned with the other role\'s profile is an error at its role', () => {
    const diags: Diagnostic[] = [];
    const cluster = clusterOf();
    planNode(profileOf('worker'), cluster, cluster.value.nodes[0] as NodeSpec, diags);
    expect(diags[0]).toMatchObject({ code: 'E018', ...cluster.positions.get('nodes.0.role') });
  });

  it.each([
    ['may not replace one the planner writes', '/etc/docker/daemon.json', 'docker.registryMirrors'],
    ['may not share its path with another profile file', '/etc/motd', 'already written by files[0]'],
    // what the first boot, the seeds and the bake write: taking any of them breaks the node or is lost at boot
    ['may not be bootstrap.env', '/etc/kubernetes/mkimage/bootstrap.env', 'is inside /etc/kubernetes/mkimage/, which mkimage writes (the first-boot settings'],
    ['may not be kubeadm.yaml', '/etc/kubernetes/mkimage/kubeadm.yaml', 'the first-boot settings (bootstrap.env, kubeadm.yaml)'],
    ['may not go into the PKI', '/etc/kubernetes/pki/ca.crt', "is inside /etc/kubernetes/pki/, which mkimage writes (the cluster's PKI"],
    ['may not be a file where the PKI directory goes', '/etc/kubernetes', '/etc/kubernetes is a directory mkimage writes /etc/kubernetes/'],
    ['may not be the kube-vip manifest', '/etc/kubernetes/manifests/kube-vip.yaml', 'the kube-vip static pod): change it through controlPlaneHA'],
    ['may not be the first-boot script', '/usr/local/libexec/mkimage/firstboot.sh', 'the first-boot script'],
    ['may not be the first-boot unit', '/etc/systemd/system/mkimage-firstboot.service', '(the first-boot unit): write your file to another path'],
    ['may not be in first boot\'s state directory', '/var/lib/mkimage/firstboot.done', "first boot's state"],
    ['may not be node.env', '/etc/mkimage/node.env', "the node's identity): change it through the cluster inventory"],
    ['may not be a repository file', '/etc/yum.repos.d/kubernetes.repo', "the kubernetes repository): change it through the cluster's repositories"],
    ['may not be a unit the plan writes', '/usr/lib/systemd/system/cri-docker.socket', 'the cri-docker.socket unit'],
    ['may not be a downloaded binary', '/usr/bin/cri-dockerd', 'the downloaded cri-dockerd): change it through criDockerd.version'],
  ])('a profile file %s (E006 at its path)', (_what, second, message) => {
    const diags: Diagnostic[] = [];
    const profile = profileOf('worker', (p) => {
      p.files = [
        { path: '/etc/motd', mode: '0644', owner: 'root:root', content: 'hi\n', phase: 'bake' },
        { path: second, mode: '0644', owner: 'root:root', content: '{}\n', phase: 'bake' },
      ];
    });
    planRole(profile, clusterOf(), diags);
    expect(diags).toHaveLength(1);
    expect(diags[0]).toMatchObject({ code: 'E006', ...profile.positions.get('files.1.path') });
    expect(diags[0]?.message).toContain(message);
  });

  it.each([
    ['ubuntu-22.04', '/etc/apt/keyrings/kubernetes.gpg', 'the kubernetes repository'],
    ['el9', '/usr/share/mkimage/calico.yaml', 'the downloaded calico-manifest): change it through calicoVersion'],
  ] as const)('%s control plane: a profile file at %s is E006', (family, path, message) => {
    const diags: Diagnostic[] = [];
    const profile = profileOf('control-plane', (p) => {
      p.files = [{ path, mode: '0644', owner: 'root:root', content: 'x\n', phase: 'boot' }];
    });
    planRole(profile, clusterOf((c) => void (c.osFamily = family)), diags);
    expect(errors(diags)).toEqual([expect.objectContaining({ code: 'E006', ...profile.positions.get('files.0.path') })]);
    expect(errors(diags)[0]?.message).toContain(message);
  });

  it('bad version and address formats are E007 at their keys', () => {
    const diags: Diagnostic[] = [];
    const profile = profileOf('worker', (p) => (p.docker.version = '24.0'));
    const cluster = clusterOf((c) => {
      const w = c.nodes[2];
      if (w) w.ip = '192.168.66.21';
    });
    planNode(profile, cluster, cluster.value.nodes[2] as NodeSpec, diags);
    expect(diags.map((d) => d.code)).toEqual(['E007', 'E007']);
    expect(diags).toContainEqual(expect.objectContaining({ ...cluster.positions.get('nodes.2.ip') }));
    expect(diags).toContainEqual(expect.objectContaining({ ...profile.positions.get('docker.version') }));
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('profile settings reach the plan', () => {
  it('packageVersion, excludes, mirrors, extra packages/files/commands, no pre-pull', () => {
    const diags: Diagnostic[] = [];
    const profile = profileOf('worker', (p) => {
      p.kubernetes.packageVersion = '1.29.1';
      p.kubernetes.disableExcludes = false;
      p.kubernetes.repoExclude = ['kubelet'];
      p.docker.registryMirrors = ['https://mirror.example'];
      p.docker.insecureRegistries = ['10.0.0.5:5000'];
      p.docker.logMaxSize = '50m';
      p.docker.logMaxFile = 5;
      p.extraPackages = ['vim', 'kubelet', 'vim'];
      p.files = [
        { path: '/etc/motd', mode: '644', owner: 'root:root', content: 'hi\n', phase: 'bake' },
        { path: '/etc/boot.txt', mode: '0600', owner: 'kube:kube', content: 'x\n', phase: 'boot' },
      ];
      p.commands = [
        { phase: 'bake', run: 'echo one' },
        { phase: 'boot', run: 'echo two' },
        { phase: 'bake', run: 'echo three' },
      ];
      p.image.prepull = false;
      p.swap = 'on';
    });
    const plan = planRole(profile, clusterOf(), diags);
    expect(diags).toEqual([]);
    expect(pkg(plan, 'kubelet')).toEqual({ name: 'kubelet', version: '1.29.1-150500.1.1', hold: true });
    expect(repo(plan, 'kubernetes')?.exclude).toEqual(['kubelet']);
    expect(plan.packages.filter((p) => p.name === 'vim')).toEqual([{ name: 'vim', hold: false }]);
    expect(plan.packages.filter((p) => p.name === 'kubelet')).toHaveLength(1);
    expect(JSON.parse(file(plan, '/etc/docker/daemon.json')?.content ?? '')).toEqual({
      'exec-opts': ['native.cgroupdriver=systemd'],
      'log-driver': 'json-file',
      'log-opts': { 'max-size': '50m', 'max-file': '5' },
      'storage-driver': 'overlay2',
      'registry-mirrors': ['https://mirror.example'],
      'insecure-registries': ['10.0.0.5:5000'],
    });
    // each profile entry carries its profile line: a file its path's, a command its run's
    const at = (path: string) => profile.positions.get(path);
    expect(file(plan, '/etc/motd')).toEqual({ path: '/etc/motd', mode: '0644', owner: 'root:root', content: 'hi\n', phase: 'bake', source: at('files.0.path') });
    expect(plan.files.find((f) => f.path === '/etc/boot.txt')).toEqual({ path: '/etc/boot.txt', mode: '0600', owner: 'kube:kube', content: 'x\n', phase: 'boot', source: at('files.1.path') });
    expect(plan.commands).toEqual([
      { phase: 'bake', name: 'extra-bake-1', run: 'echo one', source: at('commands.0.run') },
      { phase: 'boot', name: 'extra-boot-1', run: 'echo two', source: at('commands.1.run') },
      { phase: 'bake', name: 'extra-bake-2', run: 'echo three', source: at('commands.2.run') },
    ]);
    expect(at('files.1.path')?.line).toBeGreaterThan(at('files.0.path')!.line);
    // mkimage's own files carry the setting that makes them; its first-boot items none
    expect(file(plan, '/etc/docker/daemon.json')?.source).toEqual(at('docker'));
    expect(file(plan, FIRSTBOOT_SCRIPT)).toBeDefined();
    expect(file(plan, FIRSTBOOT_SCRIPT)?.source).toBeUndefined();
    // and `mkimage plan` output leaves every source out
    expect(planJson(plan)).not.toContain('"source"');
    expect(JSON.parse(planJson(plan)).files.find((f: { path: string }) => f.path === '/etc/motd')).toEqual({ path: '/etc/motd', mode: '0644', owner: 'root:root', content: 'hi\n', phase: 'bake' });
    expect(plan.images).toEqual([]);
    expect(plan.swapOff).toBe(false);
  });

  it('a pause image other than kubeadm\'s is what cri-dockerd runs and is pre-pulled too', () => {
    const plan = planRole(profileOf('worker', (p) => (p.criDockerd.pauseImage = 'pause:3.8')), clusterOf(), []);
    expect(plan.units[0]?.content).toContain('--pod-infra-container-image=registry.aliyuncs.com/google_containers/pause:3.8');
    expect(plan.images).toContain('registry.aliyuncs.com/google_containers/pause:3.8');
    expect(plan.images).toContain('registry.aliyuncs.com/google_containers/pause:3.9');
  });

  it('etcd follows the patch: 1.29.3 uses 3.5.12-0', () => {
    const plan = planRole(profileOf('control-plane'), clusterOf((c) => (c.kubernetesVersion = '1.29.3')), []);
    expect(plan.images).toContain('registry.aliyuncs.com/google_containers/etcd:3.5.12-0');
    expect(pkg(plan, 'kubeadm')?.version).toBe('1.29.3-150500.1.1');
  });
});

describe('nodePlans', () => {
  const scratch = scratchDirs('mkimage-plan-shapes-');

  // nodePlans builds a role's node-independent plan once (PlanShapes) and puts each node in it: every node must get
  // exactly the plan, keys in the same order, and the diagnostics planNode alone gives it
  it('gives every node the plan and diagnostics planNode alone builds for it, OS family and arch overrides included', async () => {
    const secrets = await loadSecrets(await privateSecretsCopy(FIXTURE_SECRETS, join(scratch(), 's')));
    for (const docker of ['24.0.7', 'not-a-version']) {
      const cluster = clusterOf((c) => {
        c.nodes.push(
          testNode('w2', 'worker', 3, 22, { arch: 'arm64' }),
          testNode('w3', 'worker', 4, 23, { osFamily: 'debian-12' }),
          testNode('w4', 'worker', 5, 24),
          testNode('w5', 'worker', 6, 25, { osFamily: 'flatcar' }),
        );
      });
      const inputs = { cluster, profiles: new Map(), sources: new Map() } as unknown as Parameters<typeof nodePlans>[0];
      for (const role of ['control-plane', 'worker'] as const) {
        const profile = profileOf(role, (p) => { p.docker.version = docker; });
        const shared: Diagnostic[] = [];
        const plans = nodePlans(inputs, profile, secrets, shared);
        const alone: Diagnostic[] = [];
        const want = cluster.value.nodes.filter((n) => n.role === role).map((n) => planNode(profile, cluster, n, alone, secrets));
        expect(plans.map((p) => p.node?.name)).toEqual(want.map((p) => p.node?.name));
        plans.forEach((p, i) => {
          expect(JSON.stringify(p), p.node?.name).toBe(JSON.stringify(want[i]));
          expect(planJson(redactSecrets(p))).toBe(planJson(redactSecrets(want[i]!)));
        });
        expect(shared).toEqual(alone);
        expect(shared.some((d) => d.code === 'E007')).toBe(docker !== '24.0.7');
        // each node has arrays of its own: one node's files are not another's
        expect(new Set(plans.map((p) => p.files)).size).toBe(plans.length);
      }
    }
  });
});

describe('planNode', () => {
  it('bootstrap order, address split and the boot-phase node file', () => {
    const cluster = clusterOf();
    const [cp1, cp2, w1] = cluster.value.nodes as [NodeSpec, NodeSpec, NodeSpec];
    const diags: Diagnostic[] = [];
    const a = planNode(profileOf('control-plane'), cluster, cp1, diags);
    const b = planNode(profileOf('control-plane'), cluster, cp2, diags);
    const c = planNode(profileOf('worker'), cluster, w1, diags);
    expect(diags).toEqual([]);
    expect(a.node).toEqual({
      name: 'cp1', role: 'control-plane', mac: '52:54:00:66:00:11', address: '192.168.66.11/24', ip: '192.168.66.11',
      prefix: 24, gateway: '192.168.66.1', dns: ['192.168.66.1', '223.5.5.5'], arch: 'amd64', bootstrap: 'init',
      onlyNode: false, source: cluster.positions.get('nodes.0'),
    });
    expect(b.node?.bootstrap).toBe('join-control-plane');
    expect(c.node?.bootstrap).toBe('join');
    expect(file(c, '/etc/mkimage/node.env')).toEqual({
      path: '/etc/mkimage/node.env', mode: '0644', owner: 'root:root', phase: 'boot',
      content: '# generated by mkimage — do not edit\nCLUSTER_NAME=homelab\nNODE_NAME=w1\nNODE_ROLE=worker\n' +
        'NODE_IP=192.168.66.21\nNODE_ARCH=amd64\nNODE_BOOTSTRAP=join\n',
    });
    // The node plan is the role plan plus the node and its boot files.
    const role = planRole(profileOf('worker'), cluster, []);
    expect({ ...c, node: undefined, files: c.files.filter((f) => f.phase === 'bake') }).toEqual({ ...role, node: undefined });
  });

  it('an arm64 node gets the arm64 cri-dockerd digest and cloud image', () => {
    const cluster = clusterOf((c) => {
      c.osFamily = 'ubuntu-22.04';
      c.nodes.push(testNode('arm1', 'worker', 3, 31, { arch: 'arm64' }));
    });
    const plan = planNode(profileOf('worker'), cluster, cluster.value.nodes[3] as NodeSpec, []);
    expect(plan.artifacts[0]).toMatchObject({
      arch: 'arm64',
      sha256: 'f5051002b4f95b0e8fe7fbd5f8de4493350e010834d2a8b647f2b26c45c6c203',
      urls: ['https://github.com/Mirantis/cri-dockerd/releases/download/v0.3.9/cri-dockerd-0.3.9.arm64.tgz'],
    });
    expect(plan.os.cloudImage.url).toBe('https://cloud-images.ubuntu.com/jammy/current/jammy-server-cloudimg-arm64.img');
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('golden plans and determinism', () => {
  it('el9 control-plane node (aliyun)', async () => {
    const cluster = clusterOf();
    const diags: Diagnostic[] = [];
    const plan = planNode(profileOf('control-plane'), cluster, cluster.value.nodes[0] as NodeSpec, diags);
    expect(diags).toEqual([]);
    await expect(planJson(plan)).toMatchFileSnapshot('./golden/plan/el9-control-plane.json');
  });

  it('ubuntu-22.04 worker node (upstream)', async () => {
    const cluster = clusterOf((c) => {
      c.osFamily = 'ubuntu-22.04';
      c.mirror = 'upstream';
      c.imageRepository = 'registry.k8s.io';
    });
    const diags: Diagnostic[] = [];
    const plan = planNode(profileOf('worker'), cluster, cluster.value.nodes[2] as NodeSpec, diags);
    expect(diags).toEqual([]);
    await expect(planJson(plan)).toMatchFileSnapshot('./golden/plan/ubuntu-22.04-worker.json');
  });

  it('the same inputs give byte-identical output, whatever the position map order', () => {
    const a = planJson(planRole(profileOf('control-plane'), clusterOf(), []));
    const profile = profileOf('control-plane');
    profile.positions = new Map([...profile.positions].reverse());
    const b = planJson(planRole(profile, clusterOf(), []));
    expect(b).toBe(a);
    expect(a.endsWith('}\n')).toBe(true);
    expect(JSON.parse(a)).toEqual(JSON.parse(planJson(JSON.parse(a) as NodePlan)));
  });
});

const HOST_UNITS = '/usr/lib/systemd/system';

describe('rendered units pass systemd-analyze verify', () => {
  it('cri-docker.service and cri-docker.socket', () => {
    const analyze = tool('systemd-analyze');
    const plan = planRole(profileOf('worker'), clusterOf(), []);
    const root = mkdtempSync(join(tmpdir(), 'mkimage-plan-'));
    try {
      const unitDir = join(root, 'usr/lib/systemd/system');
      mkdirSync(unitDir, { recursive: true });
      // The standard targets and slices the units hang off, copied from this machine's systemd.
      for (const name of readdirSync(HOST_UNITS)) {
        if (name.endsWith('.target') || name.endsWith('.slice')) copyFileSync(join(HOST_UNITS, name), join(unitDir, name));
      }
      mkdirSync(join(root, 'usr/bin'), { recursive: true });
      mkdirSync(join(root, 'bin'), { recursive: true });
      for (const bin of ['usr/bin/cri-dockerd', 'bin/kill']) {
        writeFileSync(join(root, bin), '#!/bin/sh\n');
        chmodSync(join(root, bin), 0o755);
      }
      const paths: string[] = [];
      for (const u of plan.units.filter((x) => x.name.startsWith('cri-docker.'))) {
        if (u.path === undefined || u.content === undefined) continue;
        writeFileSync(join(root, u.path), u.content);
        paths.push(join(root, u.path));
      }
      expect(paths).toHaveLength(2);
      // verify exits 0 on warnings: any "file:line:" complaint on stderr is a failure too.
      const r = spawnSync(analyze, ['verify', '--man=no', '--generators=no', `--root=${root}`, ...paths], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// Through the real loader (src/profile/load.ts): YAML files in a temp directory -> Inputs -> plans.

describe('plans from loaded YAML', () => {
  const PROFILES = {
    'control-plane.yaml': 'version: 1\nrole: control-plane\n',
    'worker.yaml': 'version: 1\nrole: worker\n',
  };
  const cluster = (osFamily: string) =>
    [
      'version: 1',
      'name: homelab',
      `osFamily: ${osFamily}`,
      'nodes:',
      '  - {name: cp1, role: control-plane, mac: "52:54:00:66:00:11", ip: 192.168.66.11/24, gateway: 192.168.66.1}',
      '  - {name: w1, role: worker, mac: "52:54:00:66:00:21", ip: 192.168.66.21/24, gateway: 192.168.66.1, arch: arm64}',
      '',
    ].join('\n');

  function withDir<T>(osFamily: string, body: (dir: string) => T): T {
    const dir = mkdtempSync(join(tmpdir(), 'mkimage-plan-load-'));
    try {
      for (const [name, text] of Object.entries(PROFILES)) writeFileSync(join(dir, name), text);
      writeFileSync(join(dir, 'cluster.yaml'), cluster(osFamily));
      return body(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('the loader\'s defaults plan every role and node with no diagnostics', () => {
    withDir('el9', (dir) => {
      const loaded = loadInputs({ profilesDir: dir, cwd: dir });
      expect(loaded.diagnostics).toEqual([]);
      const inputs = loaded.inputs;
      if (inputs === undefined) throw new Error('no inputs');
      const diags: Diagnostic[] = [];
      for (const p of inputs.profiles.values()) planRole(p, inputs.cluster, diags);
      const plans = inputs.cluster.value.nodes.map((n) => {
        const profile = [...inputs.profiles.values()].find((p) => p.value.role === n.role);
        if (profile === undefined) throw new Error(`no profile for ${n.role}`);
        return planNode(profile, inputs.cluster, n, diags);
      });
      expect(diags).toEqual([]);
      expect(plans.map((p) => p.node?.bootstrap)).toEqual(['init', 'join']);
      expect(plans[1]?.artifacts[0]?.arch).toBe('arm64');
      expect(plans[0]?.units[0]?.content).toContain('--pod-infra-container-image=registry.aliyuncs.com/google_containers/pause:3.9');
    });
  });

  it('E018 for ubuntu-24.04 points at the osFamily line of cluster.yaml', () => {
    withDir('ubuntu-24.04', (dir) => {
      const inputs = loadInputs({ profilesDir: dir, cwd: dir }).inputs;
      const worker = inputs?.profiles.get('worker');
      if (inputs === undefined || worker === undefined) throw new Error('no inputs');
      const diags: Diagnostic[] = [];
      planRole(worker, inputs.cluster, diags);
      expect(diags).toHaveLength(1);
      expect(diags[0]).toMatchObject({ code: 'E018', file: 'cluster.yaml', line: 3, col: 11 });
    });
  });
});

describe('artifact mirrors', () => {
  it('tries each mirror first ({url} prefix proxies and plain directories), then the upstream URL', () => {
    const diags: Diagnostic[] = [];
    const mirrors = ['https://ghproxy.example.com/{url}', 'http://192.168.66.5/mkimage/', 'http://files.lan/k8s'];
    const plan = planRole(profileOf('control-plane'), clusterOf((c) => void (c.artifactMirrors = mirrors)), diags);
    expect(errors(diags)).toEqual([]);
    const cri = plan.artifacts.find((a) => a.name === 'cri-dockerd')!;
    const up = 'https://github.com/Mirantis/cri-dockerd/releases/download/v0.3.9/cri-dockerd-0.3.9.amd64.tgz';
    // An air-gapped site must not wait for the upstream URL to time out first.
    expect(cri.urls).toEqual([
      `https://ghproxy.example.com/${up}`,
      'http://192.168.66.5/mkimage/cri-dockerd-0.3.9.amd64.tgz',
      'http://files.lan/k8s/cri-dockerd-0.3.9.amd64.tgz',
      up,
    ]);
    const calico = plan.artifacts.find((a) => a.name === 'calico-manifest')!;
    expect(calico.urls[1]).toBe('http://192.168.66.5/mkimage/calico.yaml');
    expect(planRole(profileOf('control-plane'), clusterOf(), []).artifacts[0]!.urls).toEqual([up]);
  });
});

describe('the Calico manifest is pinned', () => {
  const calicoOf = (edit: (c: Cluster) => void) =>
    planRole(profileOf('control-plane'), clusterOf(edit), []).artifacts.find((a) => a.name === 'calico-manifest')!;

  // The sums of manifests/calico.yaml at each tag, computed here from projectcalico/calico's blobs (whose trees give
  // kubespray's calico_crds_archive_checksums for the same tags; see src/plan/artifacts.ts).
  it.each([
    ['v3.27.0', 'dbc4d6fdb5ca87978f6d67a43b09094852cd375398cad5c1650c1c462dd58d8b'],
    ['v3.27.3', '001eacbb07c01f154f21d49c7f1e027dea8d4202d47347a324b678a7f69efdbe'],
    ['v3.27.5', 'a8b89fd22e304cea657d5a4ee06a350bb2287dc6d39ff83e06e8a7e5cf9f172b'],
  ])('%s: the known sum, whatever mirror serves it', (version, sum) => {
    const a = calicoOf((c) => {
      c.calicoVersion = version;
      c.artifactMirrors = ['http://192.168.66.5/mkimage/'];
    });
    expect(a.sha256).toBe(sum);
    expect(a.urls[0]).toBe('http://192.168.66.5/mkimage/calico.yaml');
  });

  it('another version has no pin (its sum comes from https or the lock); calicoManifestSha256 pins it or replaces the known one', () => {
    expect(calicoOf((c) => void (c.calicoVersion = 'v3.26.4'))).not.toHaveProperty('sha256');
    const own = 'cd'.repeat(32);
    expect(calicoOf((c) => Object.assign(c, { calicoVersion: 'v3.26.4', calicoManifestSha256: own })).sha256).toBe(own);
    expect(calicoOf((c) => void (c.calicoManifestSha256 = own)).sha256).toBe(own);
  });
});

describe('custom mirrors (cluster repositories, registries, images; profile criDockerd.url)', () => {
  const INTERNAL = {
    docker: { url: 'http://nexus.lan/docker-ce/linux/debian', gpgkey: 'http://nexus.lan/docker-ce/linux/debian/gpg' },
    kubernetes: { url: 'http://10.0.2.2:8480/kubernetes/core/stable/v1.29/deb/', gpgkey: 'http://10.0.2.2:8480/kubernetes/core/stable/v1.29/deb/Release.key' },
    os: { url: 'http://mirrors.aliyun.com/debian' },
  };

  it('repositories replace what mirror: picks, on apt (flat kubernetes repo) and dnf', () => {
    const diags: Diagnostic[] = [];
    const plan = planRole(profileOf('worker'), clusterOf((c) => {
      c.osFamily = 'debian-12';
      c.repositories = INTERNAL;
    }), diags);
    expect(errors(diags)).toEqual([]);
    expect(repo(plan, 'docker-ce')).toMatchObject({ kind: 'deb', baseurl: INTERNAL.docker.url, gpgkey: INTERNAL.docker.gpgkey, suite: 'bookworm', components: ['stable'] });
    expect(repo(plan, 'kubernetes')).toMatchObject({ kind: 'deb', baseurl: INTERNAL.kubernetes.url, gpgkey: INTERNAL.kubernetes.gpgkey, suite: '/' });
    const el = planRole(profileOf('worker'), clusterOf((c) => {
      c.repositories = {
        docker: { url: 'http://nexus.lan/docker-ce/linux/centos', gpgkey: 'http://nexus.lan/docker-ce/linux/centos/gpg' },
        kubernetes: { url: 'http://nexus.lan/k8s/rpm/', gpgkey: 'http://nexus.lan/k8s/rpm/repodata/repomd.xml.key' },
      };
    }), []);
    expect(repo(el, 'docker-ce-stable')).toMatchObject({ baseurl: 'http://nexus.lan/docker-ce/linux/centos/$releasever/$basearch/stable', gpgkey: 'http://nexus.lan/docker-ce/linux/centos/gpg' });
    expect(repo(el, 'kubernetes')).toMatchObject({ baseurl: 'http://nexus.lan/k8s/rpm/', gpgkey: 'http://nexus.lan/k8s/rpm/repodata/repomd.xml.key', exclude: ['kubelet', 'kubeadm', 'kubectl', 'cri-tools', 'kubernetes-cni'] });
  });

  it('repositories.os rewrites the distribution archive (and cloud-init\'s mirror settings) on each family', () => {
    const deb = planRole(profileOf('worker'), clusterOf((c) => {
      c.osFamily = 'debian-12';
      c.repositories = { os: { url: 'http://mirrors.aliyun.com/debian/' } };
    }), []);
    expect(deb.os.archive).toEqual({
      url: 'http://mirrors.aliyun.com/debian',
      files: ['/etc/apt/sources.list', '/etc/apt/sources.list.d/*.list', '/etc/apt/sources.list.d/*.sources', '/etc/cloud/cloud.cfg', '/etc/cloud/cloud.cfg.d/*.cfg'],
      rewrites: [
        { from: 'https?://(deb|security)\\.debian\\.org/debian-security', to: 'http://mirrors.aliyun.com/debian-security' },
        { from: 'https?://deb\\.debian\\.org/debian', to: 'http://mirrors.aliyun.com/debian' },
      ],
    });
    const ubuntu = planRole(profileOf('worker'), clusterOf((c) => {
      c.osFamily = 'ubuntu-22.04';
      c.repositories = { os: { url: 'http://mirrors.aliyun.com/ubuntu', security: 'http://mirrors.aliyun.com/ubuntu-security-only' } };
    }), []);
    expect(ubuntu.os.archive?.rewrites).toEqual([
      { from: 'https?://security\\.ubuntu\\.com/ubuntu', to: 'http://mirrors.aliyun.com/ubuntu-security-only' },
      { from: 'https?://([a-z]+\\.)?archive\\.ubuntu\\.com/ubuntu', to: 'http://mirrors.aliyun.com/ubuntu' },
      { from: 'https?://ports\\.ubuntu\\.com/ubuntu-ports', to: 'http://mirrors.aliyun.com/ubuntu' },
    ]);
    const el = planRole(profileOf('worker'), clusterOf((c) => void (c.repositories = { os: { url: 'https://mirrors.aliyun.com/rockylinux' } })), []);
    expect(el.os.archive).toEqual({
      url: 'https://mirrors.aliyun.com/rockylinux',
      files: ['/etc/yum.repos.d/rocky*.repo'],
      rewrites: [
        { from: '^mirrorlist=', to: '#mirrorlist=' },
        { from: '^#?baseurl=https?://dl\\.rockylinux\\.org/\\$contentdir', to: 'baseurl=https://mirrors.aliyun.com/rockylinux' },
      ],
    });
    expect(planRole(profileOf('worker'), clusterOf(), []).os.archive).toBeUndefined();
  });

  it('insecure registries merge into daemon.json; image repositories replace docker.io/calico and ghcr.io/kube-vip/kube-vip', () => {
    const plan = planRole(
      profileOf('control-plane', (p) => void (p.docker.insecureRegistries = ['registry.lan:5000'])),
      clusterOf((c) => {
        c.registries = { insecure: ['10.0.2.2:5000', 'registry.lan:5000'] };
        c.images = { calico: '10.0.2.2:5000/calico', kubeVip: '10.0.2.2:5000/kube-vip/kube-vip' };
        c.controlPlaneHA = 'kube-vip';
        c.controlPlaneEndpoint = '192.168.66.10:6443';
      }),
      [],
    );
    expect(JSON.parse(file(plan, '/etc/docker/daemon.json')!.content)['insecure-registries']).toEqual(['registry.lan:5000', '10.0.2.2:5000']);
    const calico = ['cni', 'node', 'kube-controllers'].map((c) => `10.0.2.2:5000/calico/${c}:v3.27.3`);
    for (const img of [...calico, '10.0.2.2:5000/kube-vip/kube-vip:v0.8.2']) expect(plan.images).toContain(img);
    expect(plan.images.filter((i) => i.startsWith('docker.io/') || i.startsWith('ghcr.io/'))).toEqual([]);
    expect(plan.cluster.kubeVipImage).toBe('10.0.2.2:5000/kube-vip/kube-vip:v0.8.2');
    const cluster = clusterOf((c) => {
      c.images = { kubeVip: '10.0.2.2:5000/kube-vip/kube-vip' };
      c.controlPlaneHA = 'kube-vip';
      c.controlPlaneEndpoint = '192.168.66.10:6443';
    });
    const cp1 = planNode(profileOf('control-plane'), cluster, cluster.value.nodes[0]!, []);
    const manifest = kubeVipBootFiles(cp1).find((f) => f.path.endsWith('kube-vip.yaml'))?.content ?? '';
    expect(manifest).toContain('image: 10.0.2.2:5000/kube-vip/kube-vip:v0.8.2\n');
    expect(manifest).not.toContain('ghcr.io');
    // The manifest Calico's pods come from names docker.io/calico/...: the installed copy names the mirror.
    expect(plan.artifacts.find((a) => a.name === 'calico-manifest')?.edits).toEqual([{ from: 'docker.io/calico/', to: '10.0.2.2:5000/calico/' }]);
    expect(planRole(profileOf('control-plane'), clusterOf(), []).artifacts.find((a) => a.name === 'calico-manifest')).not.toHaveProperty('edits');
  });

  it('criDockerd.url + sha256 replace the release tarball (mirrors still first); url without sha256 is E005 at url', () => {
    const url = 'http://10.0.2.2:8480/artifacts/cri-dockerd-0.3.14.amd64.tgz';
    const sha = 'b'.repeat(64);
    const diags: Diagnostic[] = [];
    const plan = planRole(profileOf('worker', (p) => {
      p.criDockerd = { ...p.criDockerd, version: '0.3.14', url, sha256: sha };
    }), clusterOf((c) => void (c.artifactMirrors = ['http://files.lan/k8s/'])), diags);
    expect(errors(diags)).toEqual([]);
    expect(plan.artifacts[0]).toMatchObject({ name: 'cri-dockerd', version: '0.3.14', sha256: sha, urls: ['http://files.lan/k8s/cri-dockerd-0.3.14.amd64.tgz', url] });
    const bad: Diagnostic[] = [];
    const profile = profileOf('worker', (p) => void (p.criDockerd = { ...p.criDockerd, url }));
    planRole(profile, clusterOf(), bad);
    expect(bad).toHaveLength(1);
    expect(bad[0]).toMatchObject({ severity: 'error', code: 'E005', ...profile.positions.get('criDockerd.url') });
    expect(bad[0]?.message).toContain('criDockerd.sha256');
    // sha256 alone pins the upstream tarball of a version mkimage does not know.
    const pinned = planRole(profileOf('worker', (p) => void (p.criDockerd = { ...p.criDockerd, version: '0.3.14', sha256: sha })), clusterOf(), []);
    expect(pinned.artifacts[0]).toMatchObject({ sha256: sha, urls: ['https://github.com/Mirantis/cri-dockerd/releases/download/v0.3.14/cri-dockerd-0.3.14.amd64.tgz'] });
  });
});

describe('the planner returns the whole plan (issue 9): nothing downstream adds to it', () => {
  const scratch = scratchDirs('mkimage-plan-');
  it('role and node plans carry the first-boot unit and script; with secrets a node plan carries its boot files, and the pipeline ships exactly that', async () => {
    const secrets = await loadSecrets(await privateSecretsCopy(FIXTURE_SECRETS, join(scratch('secrets'), 's')));
    const inputs = loadInputs({}).inputs!;
    const worker = inputs.profiles.get('worker')!;
    const role = planRole(worker, inputs.cluster, []);
    expect(role.files.filter((f) => f.path === FIRSTBOOT_SCRIPT)).toHaveLength(1);
    expect(role.units.filter((u) => u.name === 'mkimage-firstboot.service')).toHaveLength(1);
    expect(rolePlan(inputs, worker, [])).toEqual(role);

    const w1 = inputs.cluster.value.nodes.find((n) => n.name === 'worker1')!;
    const bare = planNode(worker, inputs.cluster, w1, []);
    expect(bare.files.filter((f) => f.phase === 'boot' && f.secret)).toEqual([]);
    const full = planNode(worker, inputs.cluster, w1, [], secrets);
    expect(full.files.map((f) => f.path).filter((p) => !bare.files.some((b) => b.path === p))).toEqual([
      '/etc/kubernetes/mkimage/kubeadm.yaml',
      '/etc/kubernetes/mkimage/bootstrap.env',
    ]);
    expect(full.files.filter((f) => f.path === FIRSTBOOT_SCRIPT)).toHaveLength(1);
    expect(nodePlans(inputs, worker, secrets, [], 'worker1')).toEqual([full]);
    // a gateway plan gets neither
    const gw = planRole(inputs.profiles.get('ikuai-gateway')!, inputs.cluster, []);
    expect(gw.files.some((f) => f.path === FIRSTBOOT_SCRIPT)).toBe(false);
    expect(gw.units).toEqual([]);
  });

  it('`mkimage plan --node` prints the complete plan with the secret contents redacted', async () => {
    const cwd = scratch('cli');
    const r = await mkimage(cwd, 'plan', 'worker', '--node', 'worker1');
    expect(r.code, r.err).toBe(0);
    const printed = JSON.parse(r.out) as NodePlan;
    const config = printed.files.find((f) => f.path === '/etc/kubernetes/mkimage/kubeadm.yaml')!;
    expect(config.secret).toBe(true);
    expect(config.content).toMatch(/^<secret: \d+ bytes, written only to the seed>$/);
    expect(printed.files.some((f) => f.path === FIRSTBOOT_SCRIPT)).toBe(true);
    expect(r.out).not.toMatch(/\b[a-z0-9]{6}\.[a-z0-9]{16}\b/);
  });
});
