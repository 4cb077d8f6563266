// A Flatcar node's Ignition config (spec 3.3.0, what Debian's ignition-validate 2.14 accepts as stable and Flatcar
// reads): a pure function of the per-node plan, built as an object and serialised with JSON.stringify.
//   storage.files   every plan file Ignition can write (those under /usr are in the kubernetes sysext: Flatcar's /usr
//                   is read-only), as data: URLs chosen as Butane does (src/emit/data-url.ts); modes as the decimal
//                   integers Ignition wants (0644 -> 420), owners by name; then the downloads (the sysexts,
//                   cri-dockerd served extracted) by URL with verification.hash sha512 of the exact served bytes;
//   storage.links   /etc/extensions: the sysexts merged at boot, Flatcar's built-in Docker and containerd masked;
//   systemd.units   every plan unit with enabled, contents and drop-ins;
//   passwd.users    the admin with the cluster's SSH keys.
// Beside the config it returns the translation set (Butane's TranslationSet): JSON path -> the plan entry it came
// from, which src/emit/ignition-positions.ts turns into the profile or inventory line that produced it.

import { PKI_DIR } from '../cluster/bootstrap-files.js';
import { inSysext } from '../plan/flatcar.js';
import { withSource } from '../plan/positions.js';
import type { NodePlan, PlanFile, Sourced } from '../plan/types.js';
import { dataUrl } from './data-url.js';
import { requireUtf8 } from './refuse.js';

export const IGNITION_SPEC = '3.3.0';
/** The admin's groups on Flatcar: sudo (the sudoers rule is also written) and docker (the socket's group). */
export const ADMIN_GROUPS = ['sudo', 'docker'];

export interface IgnitionFile {
  path: string;
  overwrite: true;
  mode: number;
  user?: { name: string };
  group?: { name: string };
  contents: { compression?: '' | 'gzip'; source: string; verification?: { hash: string } };
}

export interface IgnitionConfig {
  ignition: { version: string };
  passwd: { users: Array<{ name: string; groups: string[]; sshAuthorizedKeys?: string[] }> };
  storage: {
    files: IgnitionFile[];
    links: Array<{ path: string; target: string; hard: false; overwrite: true }>;
  };
  systemd: { units: Array<{ name: string; enabled: boolean; contents?: string; dropins?: Array<{ name: string; contents: string }> }> };
}

/** The plan entry a part of the config came from, with that entry's source (the profile or inventory line). */
export type PlanRef = (
  | { kind: 'file'; path: string }
  | { kind: 'download'; from: string }
  | { kind: 'link'; path: string }
  | { kind: 'unit'; name: string }
  | { kind: 'admin' }
) & Sourced;

export interface RenderedIgnition {
  config: IgnitionConfig;
  /** the .ign file: 2-space JSON, newline-terminated */
  text: string;
  /** JSON path ("$.storage.files.3") -> plan entry; deeper paths resolve to their nearest listed parent */
  translations: Map<string, PlanRef>;
}

/** "0644" -> 420: Ignition wants the mode as a decimal integer. */
export function ignitionMode(octal: string): number {
  if (!/^0?[0-7]{3,4}$/.test(octal)) throw new Error(`internal: file mode "${octal}" is not octal`);
  return parseInt(octal, 8);
}

function owner(f: PlanFile): Pick<IgnitionFile, 'user' | 'group'> {
  const [user, group] = f.owner.split(':');
  return { user: { name: user ?? 'root' }, ...(group !== undefined && group !== '' && { group: { name: group } }) };
}

/** The guarantees no plan may break, whatever built it: secrets owner-only, and no CA key on a worker. */
function checkSecrets(plan: NodePlan): void {
  for (const f of plan.files) {
    if (f.secret && f.mode !== '0600') throw new Error(`internal: secret file ${f.path} has mode ${f.mode}, not 0600`);
    if (plan.node?.role === 'worker' && f.path.startsWith(`${PKI_DIR}/`) && f.path.endsWith('.key')) {
      throw new Error(`internal: worker ${plan.node.name}'s plan carries the private key ${f.path}`);
    }
  }
}

export function renderIgnition(plan: NodePlan): RenderedIgnition {
  const fc = plan.flatcar;
  if (plan.node === undefined || fc === undefined) {
    throw new Error(`internal: an Ignition config needs a per-node Flatcar plan (profile ${plan.profile}, family ${plan.os.family})`);
  }
  checkSecrets(plan);
  const translations = new Map<string, PlanRef>();
  const files: IgnitionFile[] = [];
  for (const f of plan.files) {
    if (inSysext(f.path)) continue; // in the kubernetes sysext (src/flatcar/sysext.ts)
    requireUtf8(f, `files: ${f.path}`, f.content);
    const url = dataUrl(f.content);
    translations.set(`$.storage.files.${files.length}`, withSource({ kind: 'file', path: f.path }, f.source));
    files.push({ path: f.path, overwrite: true, mode: ignitionMode(f.mode), ...owner(f), contents: { compression: url.compression, source: url.source } });
  }
  for (const d of fc.downloads) {
    if (d.sha512 === undefined) throw new Error(`internal: ${d.from} (${d.file}) has no sha512: the render resolves every download first`);
    translations.set(`$.storage.files.${files.length}`, withSource({ kind: 'download', from: d.from }, d.source));
    files.push({
      path: d.path,
      overwrite: true,
      mode: ignitionMode(d.mode),
      user: { name: 'root' },
      group: { name: 'root' },
      contents: { source: d.url, verification: { hash: `sha512-${d.sha512}` } },
    });
  }
  const links = fc.links.map((l, i) => {
    translations.set(`$.storage.links.${i}`, withSource({ kind: 'link', path: l.path }, l.source));
    return { path: l.path, target: l.target, hard: false as const, overwrite: true as const };
  });
  const units = plan.units.map((u, i) => {
    translations.set(`$.systemd.units.${i}`, withSource({ kind: 'unit', name: u.name }, u.source));
    return {
      name: u.name,
      enabled: u.enable,
      ...(u.content !== undefined && { contents: u.content }),
      ...(u.dropins !== undefined && u.dropins.length > 0 && { dropins: u.dropins.map((d) => ({ name: d.name, contents: d.content })) }),
    };
  });
  translations.set('$.passwd.users.0', withSource({ kind: 'admin' }, plan.admin.source));
  const config: IgnitionConfig = {
    ignition: { version: IGNITION_SPEC },
    passwd: {
      users: [
        {
          name: plan.admin.user,
          groups: [...ADMIN_GROUPS],
          ...(plan.admin.sshAuthorizedKeys.length > 0 && { sshAuthorizedKeys: [...plan.admin.sshAuthorizedKeys] }),
        },
      ],
    },
    storage: { files, links },
    systemd: { units },
  };
  return { config, text: `${JSON.stringify(config, null, 2)}\n`, translations };
}

/** The plan entry behind a JSON path of the config, or of its nearest translated parent ("$.storage.files.3.path"). */
export function planRefAt(translations: ReadonlyMap<string, PlanRef>, jsonPath: string): PlanRef | undefined {
  let p = jsonPath;
  for (;;) {
    const hit = translations.get(p);
    if (hit !== undefined) return hit;
    const dot = p.lastIndexOf('.');
    if (dot <= 1) return undefined;
    p = p.slice(0, dot);
  }
}
