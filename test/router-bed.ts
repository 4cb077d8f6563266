// The router tests' workspace: a copy of the shipped profiles in a temp dir (edited per test), the real CLI run
// in-process through main() with an Io that carries the environment (IKUAI_PASSWORD/IKUAI_TOKEN) instead of
// process.env, and what the router must end up holding, read from the workspace's YAML with the yaml package
// alone (not through mkimage's loader, planner or emitter).

import { X509Certificate } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { main } from '../src/cli.js';
import type { RouterIo } from '../src/cli/router.js';
import { createCa } from '../src/cluster/pki.js';
import { SHIPPED_PROFILES } from '../src/profile/load.js';
import { scratchDirs } from './helpers/tmp.js';

/** Every workspace's temp dir, removed after the tests of the file that imports this module. */
const scratch = scratchDirs('mkimage-router-');

export const PASSWORD = 'Router-Secret-7f3a';
export const TOKEN = 'v4-token-0c1d2e3f';

/** A self-signed certificate for the fake router, and its SHA-256 fingerprint as openssl prints it ("AB:CD:..."). */
export async function selfSignedCert(): Promise<{ cert: string; key: string; fingerprint: string }> {
  const pair = await createCa('127.0.0.1', new Date(), 'ecdsa');
  return { ...pair, fingerprint: new X509Certificate(pair.cert).fingerprint256 };
}

export interface Workspace {
  dir: string;
  profiles: string;
  /** rewrite a file of the profiles directory */
  edit(file: 'cluster.yaml' | 'ikuai-gateway.yaml', change: (text: string) => string): void;
  /** run `mkimage <args> --profiles <dir>`; env replaces process.env for the command */
  run(args: string[], env?: Record<string, string>, extra?: Partial<RouterIo>): Promise<Run>;
}

export interface Run {
  code: number;
  out: string;
  err: string;
}

export function workspace(): Workspace {
  const dir = scratch();
  const profiles = join(dir, 'profiles');
  cpSync(SHIPPED_PROFILES, profiles, { recursive: true });
  return {
    dir,
    profiles,
    edit(file, change) {
      const path = join(profiles, file);
      const before = readFileSync(path, 'utf8');
      const after = change(before);
      if (after === before) throw new Error(`test bug: the edit of ${file} changed nothing`);
      writeFileSync(path, after);
    },
    async run(args, env = { IKUAI_PASSWORD: PASSWORD }, extra = {}) {
      let out = '';
      let err = '';
      const io: RouterIo = {
        out: (s) => void (out += s),
        err: (s) => void (err += s),
        color: false,
        tty: false,
        cwd: dir,
        exitCode: 0,
        env,
        askSecret: async () => undefined,
        ...extra,
      };
      const code = await main(['ikuai-gateway', ...args, '--profiles', profiles], io);
      return { code, out, err };
    },
  };
}

/** The shipped gateway profile with PXE on (next-server 192.168.66.5) and two port mappings. */
export function withPxeAndPorts(ws: Workspace): void {
  ws.edit('ikuai-gateway.yaml', (t) =>
    t
      .replace(/enabled: false\n(\s*)# nextServer: 192\.168\.66\.5[^\n]*/, 'enabled: true\n$1nextServer: 192.168.66.5')
      .replace('portMappings: []', [
        'portMappings:',
        '    - { name: kube-apiserver, wanPort: "16443", lanAddr: 192.168.66.11, lanPort: "6443", protocol: tcp }',
        '    - { name: nodeports, wanPort: "30000-30100", lanAddr: 192.168.66.21, lanPort: "30000-30100", protocol: tcp+udp }',
      ].join('\n')));
}

interface YamlNode {
  name: string;
  mac: string;
  ip: string;
  gateway: string;
  dns?: string[];
}

/** The static leases the router must hold: one per node of the workspace's cluster.yaml. */
export function expectedLeases(ws: Workspace): Array<Record<string, string>> {
  const cluster = parse(readFileSync(join(ws.profiles, 'cluster.yaml'), 'utf8')) as { name: string; nodes: YamlNode[] };
  const gateway = parse(readFileSync(join(ws.profiles, 'ikuai-gateway.yaml'), 'utf8')) as { gateway: { lanInterface: string } };
  return cluster.nodes.map((n) => ({
    hostname: n.name,
    mac: n.mac.toLowerCase(),
    ip_addr: n.ip.replace(/\/\d+$/, ''),
    gateway: n.gateway,
    interface: gateway.gateway.lanInterface,
    dns1: n.dns?.[0] ?? '',
    dns2: n.dns?.[1] ?? '',
    comment: `mkimage ${cluster.name}/ikuai-gateway`,
    enabled: 'yes',
  }));
}

/** The DNS records the router must hold, from the workspace's gateway profile. */
export function expectedDns(ws: Workspace): Array<Record<string, string>> {
  const cluster = parse(readFileSync(join(ws.profiles, 'cluster.yaml'), 'utf8')) as { name: string };
  const g = parse(readFileSync(join(ws.profiles, 'ikuai-gateway.yaml'), 'utf8')) as { gateway: { dns: { records: Array<{ domain: string; ip: string }> } } };
  return g.gateway.dns.records.map((r) => ({ domain: r.domain, dns_addr: r.ip, parse_type: 'ipv4', src_addr: '', comment: `mkimage ${cluster.name}/ikuai-gateway`, enabled: 'yes' }));
}

/** `rows` with only the named fields, values as strings. */
export function pick(rows: Array<Record<string, unknown>>, fields: string[]): Array<Record<string, string>> {
  return rows.map((r) => Object.fromEntries(fields.map((f) => [f, String(r[f] ?? '')])));
}
