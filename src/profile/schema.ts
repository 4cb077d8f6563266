// The profile language, declared once. The same declarations validate a loaded document and supply its
// defaults (validate.ts walks them) and generate the editor JSON Schemas (jsonschema.ts), so the three can
// never disagree. Shapes mirror Profile and Cluster in types.ts.

import { OS_FAMILIES } from './types.js';

/** A named string format: an anchored ECMAScript regex (also emitted as the JSON Schema `pattern`), an optional
 *  extra check for what a regex says badly (port ranges), and the words of the fix. */
export interface FormatSpec {
  pattern: string;
  /** after the pattern matched: true, false (say `what`), or the precise reason with its fix */
  check?: (s: string) => boolean | string;
  /** what a value must look like, completing "write it as ..." */
  what: string;
  example: string;
}

const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const IPV4 = `${OCTET}(\\.${OCTET}){3}`;
const PREFIX = '(3[0-2]|[12]?[0-9])';
const LABEL = '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?';
const portsOk = (s: string): boolean => {
  const [lo = 0, hi = lo] = (s.split('/')[0] ?? '').split('-').map(Number);
  return lo >= 1 && hi <= 65535 && lo <= hi;
};

const ipv4Number = (s: string): number => s.split('.').reduce((n, o) => n * 256 + Number(o), 0);

/** A node address must be a host of its subnet: not the subnet's own address, not its broadcast address. */
const hostAddressOk = (s: string): boolean | string => {
  const [ip = '', bits = '32'] = s.split('/');
  const prefix = Number(bits);
  if (prefix > 30) return true; // /31 point-to-point and /32: every address is a host
  const size = 2 ** (32 - prefix);
  const offset = ipv4Number(ip) % size;
  const network = ipv4Number(ip) - offset;
  const dotted = (n: number) => [24, 16, 8, 0].map((sh) => Math.floor(n / 2 ** sh) % 256).join('.');
  if (offset === 0) return `that is the address of the subnet ${dotted(network)}/${prefix} itself, not a host in it: use a host address such as ${dotted(network + 1)}/${prefix}`;
  if (offset === size - 1) return `that is the broadcast address of ${dotted(network)}/${prefix}, not a host in it: use a host address such as ${dotted(network + size - 2)}/${prefix}`;
  return true;
};

/** A NIC's own address: unicast (first byte even), neither all zeros nor broadcast. */
const unicastMacOk = (s: string): boolean | string => {
  const bytes = s.split(/[:-]/).map((h) => parseInt(h, 16));
  const fix = "copy the MAC from the machine's NIC (ip link) or its VM settings";
  if (bytes.every((b) => b === 0)) return `the all-zero MAC is no NIC's address: ${fix}`;
  if (bytes.every((b) => b === 255)) return `that is the broadcast MAC, no NIC's own address: ${fix}`;
  if (((bytes[0] ?? 0) & 1) === 1) return `that is a multicast MAC (its first byte is odd), no NIC's own address: ${fix}`;
  return true;
};

/** The Service network: CoreDNS takes its 10th address (so at least /28), and kube-apiserver refuses more than /12. */
const serviceCidrOk = (s: string): boolean | string => {
  const prefix = Number(s.split('/')[1]);
  if (prefix > 28) return `a /${prefix} holds too few addresses (kubeadm gives CoreDNS the 10th): use /28 or larger, e.g. 10.96.0.0/16`;
  if (prefix < 12) return `kube-apiserver refuses a Service network larger than /12: use /12 to /28, e.g. 10.96.0.0/12`;
  return true;
};

/** Disk sizes up to 16 TiB: anything larger is a typo that Packer and qemu-img would only refuse much later. */
const diskSizeOk = (s: string): boolean | string => {
  const mib = Number(s.slice(0, -1)) * (s.endsWith('G') ? 1024 : 1);
  return mib <= 16 * 1024 * 1024 || 'that is more than 16 TiB: write the size in G, e.g. 20G';
};

export const FORMATS = {
  cidr: { pattern: `^${IPV4}/${PREFIX}$`, what: 'a subnet ADDRESS/PREFIX with a prefix of 0-32', example: '10.244.0.0/16' },
  serviceCidr: { pattern: `^${IPV4}/${PREFIX}$`, check: serviceCidrOk, what: 'a subnet ADDRESS/PREFIX, /12 to /28', example: '10.96.0.0/12' },
  ipPrefix: { pattern: `^${IPV4}/${PREFIX}$`, check: hostAddressOk, what: 'the node address with its prefix length', example: '192.168.66.11/24' },
  ipv4: { pattern: `^${IPV4}$`, what: 'an IPv4 address', example: '192.168.66.1' },
  mac: { pattern: '^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$', check: unicastMacOk, what: 'six hex pairs separated by ":"', example: '52:54:00:66:00:11' },
  version: { pattern: '^[0-9]+\\.[0-9]+\\.[0-9]+$', what: 'a quoted MAJOR.MINOR.PATCH version', example: '1.29.2' },
  vVersion: { pattern: '^v[0-9]+\\.[0-9]+\\.[0-9]+$', what: 'a release tag vMAJOR.MINOR.PATCH', example: 'v3.27.3' },
  // Not setuid/setgid: cloud-init's write_files chowns after its chmod, and chown clears those bits.
  mode: { pattern: '^0[0-7]{3}$', what: "a quoted 4-digit octal mode starting with 0 (cloud-init's write_files drops setuid and setgid bits: set them with a command)", example: '0644' },
  port: {
    pattern: '^[0-9]{1,5}(-[0-9]{1,5})?/(tcp|udp)$',
    check: portsOk,
    what: 'PORT/PROTOCOL or FIRST-LAST/PROTOCOL (ports 1-65535, protocol tcp or udp)',
    example: '6443/tcp',
  },
  portNumber: { pattern: '^[0-9]{1,5}(-[0-9]{1,5})?$', check: portsOk, what: 'a port 1-65535 or a range FIRST-LAST', example: '6443' },
  endpoint: {
    pattern: `^(${LABEL}(\\.${LABEL})*|${IPV4}):[0-9]{1,5}$`,
    check: (s) => portsOk(s.slice(s.lastIndexOf(':') + 1)),
    what: 'HOST:PORT (a lower-case DNS name or IPv4 address, then the API port)',
    example: '192.168.66.11:6443',
  },
  duration: { pattern: '^([0-9]+h([0-9]+m)?([0-9]+s)?|[0-9]+m([0-9]+s)?|[0-9]+s)$', what: 'a duration like 24h0m0s', example: '24h0m0s' },
  hostname: { pattern: `^${LABEL}$`, what: 'a lower-case host name (letters, digits and "-", at most 63)', example: 'worker1' },
  domain: { pattern: `^${LABEL}(\\.${LABEL})*$`, what: 'a lower-case DNS name', example: 'cluster.local' },
  imageRepository: {
    pattern: `^${LABEL}(\\.${LABEL})*(:[0-9]{1,5})?(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*$`,
    what: 'a registry host with an optional path',
    example: 'registry.aliyuncs.com/google_containers',
  },
  imageRef: { pattern: '^[a-z0-9]([a-z0-9._/-]*[a-z0-9])?:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$', what: 'NAME:TAG', example: 'pause:3.9' },
  registry: { pattern: `^${LABEL}(\\.${LABEL})*(:[0-9]{1,5})?$`, what: 'HOST or HOST:PORT', example: 'registry.lan:5000' },
  url: { pattern: '^https?://[^\\s]+$', what: 'an http:// or https:// URL', example: 'https://docker.m.daocloud.io' },
  sha256: { pattern: '^[0-9a-f]{64}$', what: 'a sha256 sum: 64 lower-case hex digits (`sha256sum FILE`)', example: 'a6d9b4b796e9eff830311a2349d259507302cb3955dd07b78296b91e40e8b433' },
  diskSize: { pattern: '^[1-9][0-9]*[MG]$', check: diskSizeOk, what: 'a size in M or G', example: '20G' },
  logSize: { pattern: '^[1-9][0-9]*[kmg]$', what: 'a size in k, m or g', example: '100m' },
  absPath: {
    pattern: '^/[^\\n]*$',
    // ".." would climb out of the directory the file is staged in (packer/rootfs/, the seed)
    check: (s) => !s.split('/').includes('..'),
    what: 'an absolute path without ".." parts',
    example: '/etc/motd',
  },
  owner: { pattern: '^[a-z_][a-z0-9_-]*(:[a-z_][a-z0-9_-]*)?$', what: 'USER or USER:GROUP', example: 'root:root' },
  user: { pattern: '^[a-z_][a-z0-9_-]{0,31}$', what: 'a lower-case Linux user name', example: 'kube' },
  sshKey: {
    pattern: '^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\\.com) [A-Za-z0-9+/=]+( [^\\n]*)?$',
    what: 'one OpenSSH public key line "TYPE BASE64 [COMMENT]"',
    example: 'ssh-ed25519 AAAAC3Nz... you@laptop',
  },
  packageName: { pattern: '^[A-Za-z0-9][A-Za-z0-9._+:~=-]*$', what: 'a package name without spaces', example: 'kubelet' },
  module: { pattern: '^[A-Za-z0-9_-]+$', what: 'a kernel module name', example: 'br_netfilter' },
  sysctl: { pattern: '^[a-z0-9_]+(\\.[A-Za-z0-9_/-]+)+$', what: 'a dotted sysctl name', example: 'net.ipv4.ip_forward' },
  line: { pattern: '^[^\\n]*$', what: 'a single line', example: '1' },
  word: { pattern: '^[A-Za-z0-9_-]+$', what: 'a single word', example: 'NumCPU' },
  profileName: { pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', what: 'a profile name (a file name in the profiles directory, without .yaml)', example: 'base' },
  interface: { pattern: '^[A-Za-z0-9_.-]+$', what: 'an interface name', example: 'lan1' },
} satisfies Record<string, FormatSpec>;

export type FormatName = keyof typeof FORMATS;

/** The one definition of a file mode, for the loader and every emitter: '0' and three octal digits. */
export const isFileMode = (mode: string): boolean => new RegExp(FORMATS.mode.pattern).test(mode);

// ---- the DSL ---------------------------------------------------------------------------------------------

interface Common {
  description: string;
}
export interface StringSchema extends Common {
  type: 'string';
  format?: FormatName;
  enum?: readonly string[];
  default?: string;
  /** the value shown in "add key: value" hints, when the format's own example would mislead */
  example?: string;
  /** also accept a plain YAML number, taken as the text written (sysctl values, port numbers) */
  numbersAsText?: boolean;
}
export interface IntegerSchema extends Common {
  type: 'integer';
  minimum?: number;
  maximum?: number;
  enum?: readonly number[];
  default?: number;
}
export interface BooleanSchema extends Common {
  type: 'boolean';
  default?: boolean;
}
export interface ArraySchema extends Common {
  type: 'array';
  items: Schema;
  default?: readonly unknown[];
}
export interface ObjectSchema extends Common {
  type: 'object';
  properties: Record<string, Schema>;
  /** must be present in every file (also `required` in the JSON Schema) */
  required?: readonly string[];
  /** must be present once `extends:` is resolved (a child may inherit it): checked by the loader only */
  requiredAfterMerge?: readonly string[];
  /** keys read by the loader but not part of the typed value (version, extends, abstract) */
  loadOnly?: readonly string[];
  /** when absent, stays absent (no default object is made) */
  optional?: boolean;
}
/** A mapping with free keys of one format and string values (sysctls). */
export interface MapSchema extends Common {
  type: 'map';
  keys: FormatName;
  values: StringSchema;
  default?: Record<string, string>;
}
export type Schema = StringSchema | IntegerSchema | BooleanSchema | ArraySchema | ObjectSchema | MapSchema;

type Opts<S> = Omit<S, 'type' | 'description'>;
export const str = (description: string, o: Opts<StringSchema> = {}): StringSchema => ({ type: 'string', description, ...o });
export const int = (description: string, o: Opts<IntegerSchema> = {}): IntegerSchema => ({ type: 'integer', description, ...o });
export const bool = (description: string, o: Opts<BooleanSchema> = {}): BooleanSchema => ({ type: 'boolean', description, ...o });
export const list = (description: string, items: Schema, o: Omit<Opts<ArraySchema>, 'items'> = {}): ArraySchema => ({ type: 'array', description, items, ...o });
export const obj = (description: string, properties: Record<string, Schema>, o: Omit<Opts<ObjectSchema>, 'properties'> = {}): ObjectSchema => ({
  type: 'object',
  description,
  properties,
  ...o,
});
export const oneOf = (description: string, values: readonly string[], dflt?: string): StringSchema =>
  str(description, dflt === undefined ? { enum: values } : { enum: values, default: dflt });

// ---- the language ----------------------------------------------------------------------------------------

const VERSION = int('Format version of this file. Always 1.', { enum: [1] });
const PHASES = ['bake', 'boot'] as const;
const phase = (what: string) => oneOf(`When ${what}: bake (into the golden image, once per role) or boot (first boot, once per node).`, PHASES, 'bake');

/**
 * Ports opened per role when a profile does not list `firewall.ports` (the loader applies them by role): the
 * Kubernetes "Ports and Protocols" lists (kube-proxy's health 10256/tcp on every node, NodePorts tcp and udp on
 * workers) plus Calico's BGP. Calico's default dataplane is IP-in-IP (IP protocol 4, no port: the plan opens it
 * beside the ports); VXLAN's 4789/udp is only for VXLAN mode.
 */
export const CALICO_PORTS = ['179/tcp'] as const;
export const ROLE_PORTS: Record<'control-plane' | 'worker' | 'gateway', readonly string[]> = {
  'control-plane': ['6443/tcp', '2379-2380/tcp', '10250/tcp', '10256/tcp', '10257/tcp', '10259/tcp', ...CALICO_PORTS],
  worker: ['10250/tcp', '10256/tcp', '30000-32767/tcp', '30000-32767/udp', ...CALICO_PORTS],
  gateway: [],
};

const gatewaySettings = obj(
  'Settings for a LAN gateway (role: gateway only). Static DHCP leases are made from the cluster nodes.',
  {
    vendor: oneOf('Router vendor.', ['ikuai'], 'ikuai'),
    lanInterface: str('LAN interface the nodes are on, as the router names it.', { format: 'interface', default: 'lan1' }),
    dhcp: obj('DHCP on the LAN. Each cluster node gets a static lease (its MAC -> its IP).', {
      enabled: bool('Manage the DHCP server and static leases.', { default: true }),
      rangeStart: str('First address of the dynamic pool (optional).', { format: 'ipv4' }),
      rangeEnd: str('Last address of the dynamic pool (optional).', { format: 'ipv4' }),
      leaseMinutes: int('Lease time in minutes.', { minimum: 1, maximum: 525600, default: 120 }),
    }),
    pxe: obj('Network boot: DHCP next-server and boot file (options 66/67).', {
      enabled: bool('Hand out next-server and boot file.', { default: false }),
      nextServer: str('TFTP/HTTP server the nodes boot from (optional; the `mkimage serve` host).', { format: 'ipv4' }),
      bootFile: str('Boot file name: an iPXE build with an embedded script that chains http://<server>/boot.ipxe.', {
        format: 'line',
        default: 'undionly.kpxe',
      }),
    }),
    dns: obj('Static DNS records the router answers.', {
      records: list('Records, e.g. a name for the API endpoint.', obj('A static A record.', {
        domain: str('Name.', { format: 'domain' }),
        ip: str('Address.', { format: 'ipv4' }),
      }, { required: ['domain', 'ip'] }), { default: [] }),
    }),
    portMappings: list('Port mappings (DNAT) from the WAN side into the LAN. Off by default.', obj('A port mapping.', {
      name: str('Comment shown on the router.', { format: 'line' }),
      wanPort: str('WAN port or range.', { format: 'portNumber', numbersAsText: true }),
      lanAddr: str('LAN address to forward to.', { format: 'ipv4' }),
      lanPort: str('LAN port or range.', { format: 'portNumber', numbersAsText: true }),
      protocol: oneOf('Protocol.', ['tcp', 'udp', 'tcp+udp'], 'tcp'),
    }, { required: ['name', 'wanPort', 'lanAddr', 'lanPort'] }), { default: [] }),
  },
  { optional: true },
);

/** One profile file (profiles/<name>.yaml). Merged with its `extends:` chain, then defaulted. */
export const PROFILE_SCHEMA: ObjectSchema = obj(
  'A mkimage role profile: what a Kubernetes node of one role needs, baked into a golden image and finished at first boot.',
  {
    version: VERSION,
    extends: str('Profile this one builds on (a name in the same directory, then the shipped profiles). Maps merge key by key; scalars and lists replace.', {
      format: 'profileName',
    }),
    abstract: bool('A base for `extends:` only, not a role by itself (role is then not required).'),
    role: oneOf('What the profile makes: control-plane, worker or gateway.', ['control-plane', 'worker', 'gateway']),
    description: str('Free text.'),
    kubernetes: obj('Kubernetes packages from pkgs.k8s.io (or its aliyun mirror).', {
      packageVersion: str('Package version; defaults to the cluster kubernetesVersion. Keep them equal.', { format: 'version' }),
      packages: list('Packages installed and held.', str('Package.', { format: 'packageName' }), { default: ['kubelet', 'kubeadm', 'kubectl'] }),
      repoExclude: list('The repo `exclude=` list, so a routine update never moves the cluster.', str('Package.', { format: 'packageName' }), {
        default: ['kubelet', 'kubeadm', 'kubectl', 'cri-tools', 'kubernetes-cni'],
      }),
      disableExcludes: bool('Install with --disableexcludes=kubernetes (needed when repoExclude is set).', { default: true }),
      ignorePreflightErrors: list('kubeadm preflight checks to ignore, by name. Never "all".', str('Check name.', { format: 'word' }), { default: [] }),
    }),
    docker: obj('Docker Engine (docker-ce), the runtime behind cri-dockerd.', {
      version: str('docker-ce version pin. Stay on 24.0.x with cri-dockerd 0.3.9 (Docker 25+ breaks it).', { format: 'version', default: '24.0.7' }),
      registryMirrors: list('daemon.json registry-mirrors.', str('Mirror URL.', { format: 'url' }), { default: [] }),
      logMaxSize: str('daemon.json log-opts max-size.', { format: 'logSize', default: '100m' }),
      logMaxFile: int('daemon.json log-opts max-file.', { minimum: 1, maximum: 1000, default: 3 }),
      insecureRegistries: list('daemon.json insecure-registries.', str('Registry.', { format: 'registry' }), { default: [] }),
    }),
    criDockerd: obj('cri-dockerd, the CRI shim kubelet talks to (unix:///var/run/cri-dockerd.sock).', {
      version: str('Release version (tarball from Mirantis/cri-dockerd, sha256-pinned).', { format: 'version', default: '0.3.9' }),
      pauseImage: str('Pause image under the cluster imageRepository; kubeadm 1.29 expects pause:3.9.', { format: 'imageRef', default: 'pause:3.9' }),
      url: str('Where to download the release tarball instead of GitHub (an internal mirror; the tarball holds cri-dockerd/cri-dockerd). Needs sha256.', {
        format: 'url',
        example: 'http://192.168.66.5/mkimage/cri-dockerd-0.3.14.amd64.tgz',
      }),
      sha256: str('sha256 of the tarball: required with url; alone it pins the GitHub tarball of a version mkimage does not know.', { format: 'sha256' }),
    }),
    kernel: obj('Kernel prerequisites, loaded at boot and applied at once.', {
      modules: list('Modules in /etc/modules-load.d.', str('Module.', { format: 'module' }), { default: ['overlay', 'br_netfilter'] }),
      sysctls: {
        type: 'map',
        description: 'Sysctls in /etc/sysctl.d.',
        keys: 'sysctl',
        values: str('Value.', { format: 'line', numbersAsText: true }),
        default: {
          'net.bridge.bridge-nf-call-iptables': '1',
          'net.bridge.bridge-nf-call-ip6tables': '1',
          'net.ipv4.ip_forward': '1',
        },
      },
    }),
    swap: oneOf('kubelet refuses to start with swap on: off also removes it from /etc/fstab.', ['off', 'on'], 'off'),
    selinux: oneOf('SELinux mode on EL.', ['permissive', 'enforcing', 'disabled'], 'permissive'),
    firewall: obj('Host firewall (firewalld on EL, ufw on Ubuntu/Debian).', {
      enabled: bool('Keep the firewall on and open `ports`.', { default: true }),
      ports: list('Ports to open. Default by role: control-plane 6443, 2379-2380, 10250, 10256, 10257, 10259 (tcp); worker 10250/tcp, 10256/tcp, 30000-32767 tcp and udp; both Calico BGP 179/tcp. Calico IP-in-IP (IP protocol 4) and its interfaces (cali+, tunl0) are always allowed.', str('Port.', { format: 'port' })),
    }),
    image: obj('The golden image build (Packer).', {
      prepull: bool('Pre-pull the kubeadm images (and CNI images on control planes) into the image.', { default: true }),
      diskSize: str('Disk size.', { format: 'diskSize', default: '20G' }),
      memory: int('Build VM memory in MiB.', { minimum: 512, maximum: 1048576, default: 4096 }),
      cpus: int('Build VM CPUs.', { minimum: 1, maximum: 512, default: 2 }),
      sources: list('Packer sources to build with.', oneOf('Source.', ['qemu', 'proxmox', 'vsphere']), { default: ['qemu'] }),
    }),
    extraPackages: list('Extra packages installed at bake time.', str('Package.', { format: 'packageName' }), { default: [] }),
    files: list('Extra files.', obj('A file.', {
      path: str('Absolute path.', { format: 'absPath' }),
      mode: str('Quoted octal mode.', { format: 'mode', default: '0644' }),
      owner: str('USER:GROUP.', { format: 'owner', default: 'root:root' }),
      content: str('File content.'),
      phase: phase('the file is written'),
    }, { required: ['path', 'content'] }), { default: [] }),
    commands: list('Extra shell commands run at the end of a phase.', obj('A command.', {
      phase: phase('it runs'),
      run: str('Shell command.'),
    }, { required: ['run'] }), { default: [] }),
    gateway: gatewaySettings,
  },
  { required: ['version'], requiredAfterMerge: ['role'], loadOnly: ['version', 'extends', 'abstract'] },
);

const node = obj('A machine of the cluster.', {
  name: str('Host name, also the Kubernetes node name.', { format: 'hostname' }),
  role: oneOf('Role profile it runs.', ['control-plane', 'worker']),
  mac: str('MAC of its LAN interface (matched by cloud-init, DHCP and PXE).', { format: 'mac' }),
  ip: str('Static address with prefix.', { format: 'ipPrefix' }),
  gateway: str('Default gateway (the router).', { format: 'ipv4' }),
  dns: list('Name servers; default [gateway].', str('Server.', { format: 'ipv4' })),
  arch: oneOf('CPU architecture.', ['amd64', 'arm64'], 'amd64'),
  osFamily: oneOf('Overrides the cluster osFamily for this node (flatcar: an Ignition config instead of a seed).', OS_FAMILIES),
}, { required: ['name', 'role', 'mac', 'ip', 'gateway'] });

/** The cluster inventory (cluster.yaml). */
export const CLUSTER_SCHEMA: ObjectSchema = obj(
  'A mkimage cluster inventory: cluster-wide settings and the machines.',
  {
    version: VERSION,
    name: str('Cluster name (also names the secrets directory).', { format: 'hostname', example: 'homelab' }),
    kubernetesVersion: str('kubeadm kubernetesVersion; the packages default to it.', { format: 'version', default: '1.29.2' }),
    controlPlaneEndpoint: str('HOST:PORT the API is reached at (a VIP or load balancer for HA). Default: the first control-plane node address, port 6443.', {
      format: 'endpoint',
    }),
    podSubnet: str('Pod network (Calico CALICO_IPV4POOL_CIDR).', { format: 'cidr', default: '10.244.0.0/16' }),
    serviceSubnet: str('Service network (/12 to /28).', { format: 'serviceCidr', default: '10.96.0.0/12' }),
    dnsDomain: str('Cluster DNS domain.', { format: 'domain', default: 'cluster.local' }),
    imageRepository: str('Where kubeadm pulls control-plane images from.', { format: 'imageRepository', default: 'registry.aliyuncs.com/google_containers' }),
    mirror: oneOf('Package mirror: upstream (download.docker.com, pkgs.k8s.io) or aliyun (mirrors.aliyun.com).', ['upstream', 'aliyun'], 'aliyun'),
    osFamily: oneOf('OS of the node images. flatcar: Flatcar Container Linux, configured by Ignition (out/<role>/ignition/<node>.ign); nothing is baked: a kubernetes sysext replaces the golden image, and artifactMirrors must name the directory that serves out/<role>/ignition/files/.', OS_FAMILIES, 'el9'),
    containerRuntime: oneOf('Docker packages: docker-ce (Docker repo) or docker.io (distribution).', ['docker-ce', 'docker.io'], 'docker-ce'),
    cni: oneOf('Pod network plugin.', ['calico'], 'calico'),
    calicoVersion: str('Calico release tag (v3.27.x supports Kubernetes 1.27-1.29).', { format: 'vVersion', default: 'v3.27.3' }),
    calicoManifestSha256: str(
      "sha256 of the Calico manifest (calico.yaml) for calicoVersion. mkimage pins v3.27.0-v3.27.5; set this for another version, or for your own copy served by artifactMirrors (it replaces the pin). Without a pin, mkimage records the sum only from an https source.",
      { format: 'sha256' },
    ),
    controlPlaneHA: oneOf('none, kube-vip (a static pod holds the endpoint VIP) or external (your load balancer).', ['none', 'kube-vip', 'external'], 'none'),
    bootstrapTokenTTL: str('Lifetime of the join token; long enough for slow bare-metal boots.', { format: 'duration', default: '24h0m0s' }),
    nodeTokenTTL: str(
      "Lifetime of each joining node's own join token, counted from `kubeadm init` on the first control plane (which registers them all); at most bootstrapTokenTTL. A node that boots later needs its token registered again: `mkimage cluster token --node NAME`.",
      { format: 'duration', default: '4h0m0s' },
    ),
    repositories: obj('Internal package mirrors (Nexus, Artifactory, apt-cacher, a local repo); each replaces what `mirror:` picks for it.', {
      docker: obj('Docker CE: a mirror of https://download.docker.com/linux/<centos|ubuntu|debian>. apt: `deb URL <codename> stable`; dnf: URL/$releasever/$basearch/stable.', {
        url: str('Repository URL.', { format: 'url', example: 'http://nexus.lan/docker-ce/linux/debian' }),
        gpgkey: str('Its signing key.', { format: 'url', example: 'http://nexus.lan/docker-ce/linux/debian/gpg' }),
      }, { required: ['url', 'gpgkey'], optional: true }),
      kubernetes: obj('Kubernetes packages: a mirror of https://pkgs.k8s.io/core:/stable:/v1.29/<deb|rpm>/. apt: a flat repository `deb URL /`; dnf: baseurl URL.', {
        url: str('Repository URL.', { format: 'url', example: 'http://nexus.lan/kubernetes/core/stable/v1.29/deb/' }),
        gpgkey: str('Its signing key (Release.key for deb, repodata/repomd.xml.key for rpm).', { format: 'url', example: 'http://nexus.lan/kubernetes/core/stable/v1.29/deb/Release.key' }),
      }, { required: ['url', 'gpgkey'], optional: true }),
      os: obj('The distribution archive the bake installs from. debian-12: replaces deb.debian.org/debian (and the security archive); ubuntu: archive/security/ports.ubuntu.com; el9 (Rocky): mirrorlist off, baseurl under URL (a mirror of dl.rockylinux.org/pub/rocky). Also rewritten in cloud-init\'s mirror settings.', {
        url: str('Archive URL.', { format: 'url', example: 'http://mirrors.aliyun.com/debian' }),
        security: str('Security archive URL. Default: debian-12 URL + "-security" (http://mirrors.aliyun.com/debian-security), ubuntu the same URL.', { format: 'url' }),
      }, { required: ['url'], optional: true }),
    }, { optional: true }),
    registries: obj('Image registries.', {
      insecure: list('Plain-HTTP or self-signed registries (a LAN Harbor or registry): added to daemon.json insecure-registries on every node, with the profile\'s docker.insecureRegistries.', str('Registry.', { format: 'registry' }), { default: [] }),
    }),
    images: obj('Repositories for images that are not under imageRepository (Docker Hub and ghcr.io are blocked or throttled in places).', {
      calico: str('Replaces docker.io/calico: <calico>/{cni,node,kube-controllers}:<calicoVersion>, pre-pulled and named in the installed Calico manifest.', {
        format: 'imageRepository',
        example: 'harbor.lan/calico',
      }),
      kubeVip: str('Replaces ghcr.io/kube-vip/kube-vip (controlPlaneHA: kube-vip): <kubeVip>:<version>.', { format: 'imageRepository', example: 'harbor.lan/kube-vip/kube-vip' }),
    }),
    artifactMirrors: list(
      'Where mkimage fetches artifacts (cri-dockerd, the Calico manifest), tried in order BEFORE the upstream URL. An entry with {url} is a prefix proxy ("https://proxy.example/{url}"); any other entry is a directory holding the files by name ("http://192.168.66.5/mkimage/").',
      str('Mirror URL.', { format: 'url' }),
      { default: [] },
    ),
    admin: obj('Operator login made by cloud-init (keys only, no password).', {
      user: str('User name.', { format: 'user', default: 'kube' }),
      sshAuthorizedKeys: list('Public keys.', str('Key.', { format: 'sshKey' }), { default: [] }),
    }),
    nodes: list('The machines.', node),
  },
  { required: ['version', 'name', 'nodes'], loadOnly: ['version'] },
);
