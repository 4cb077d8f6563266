// A --root for `systemd-analyze verify`: the units under test at their paths, stub units for every unit they
// name but do not ship (docker.service, network-online.target, the core targets and slices systemd itself
// wants), and stub executables (a faithful fake: `exit 0` scripts) for every Exec*= binary, so verify checks
// the units' own syntax and references rather than what this test machine happens to have installed.

import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { run } from './tools.js';

export interface UnitFile {
  /** absolute path inside the image, e.g. /usr/lib/systemd/system/cri-docker.service */
  path: string;
  content: string;
}

const CORE_UNITS = [
  'sysinit.target', 'basic.target', 'sockets.target', 'paths.target', 'timers.target', 'slices.target',
  'shutdown.target', 'local-fs.target', 'local-fs-pre.target', 'network.target', 'network-online.target',
  'network-pre.target', 'multi-user.target', 'default.target', 'umount.target', 'final.target',
  '-.slice', 'system.slice', 'user.slice',
];
const DEP_KEYS = /^(After|Before|Requires|Wants|PartOf|BindsTo|Requisite|Conflicts|WantedBy|RequiredBy|Also|Upholds)=(.*)$/;
const EXEC_KEYS = /^Exec[A-Za-z]*=(.*)$/;

function stubUnit(name: string): string {
  if (name.endsWith('.service')) return '[Unit]\nDescription=stub\n\n[Service]\nExecStart=/usr/bin/true\n';
  if (name.endsWith('.socket')) return `[Unit]\nDescription=stub\n\n[Socket]\nListenStream=/run/${name}.stub\n`;
  return '[Unit]\nDescription=stub\n';
}

function writeStubBinary(root: string, path: string): void {
  const full = join(root, path);
  if (existsSync(full)) return;
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, '#!/bin/sh\nexit 0\n');
  chmodSync(full, 0o755);
}

/** Build the root; returns it and the absolute host paths of the units under test. */
export function systemdRoot(units: UnitFile[]): { root: string; unitPaths: string[] } {
  const root = mkdtempSync(join(tmpdir(), 'mkimage-systemd-root-'));
  const shipped = new Set(units.map((u) => u.path.split('/').pop() ?? ''));
  const referenced = new Set(CORE_UNITS);
  const unitPaths: string[] = [];
  for (const u of units) {
    const full = join(root, u.path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, u.content);
    unitPaths.push(full);
    for (const line of u.content.split('\n')) {
      const dep = DEP_KEYS.exec(line);
      if (dep?.[2] !== undefined) for (const n of dep[2].split(/\s+/)) if (n !== '') referenced.add(n);
      const exec = EXEC_KEYS.exec(line);
      const bin = exec?.[1]?.replace(/^[-@:+!]+/, '').split(/\s+/)[0];
      if (bin !== undefined && bin.startsWith('/')) writeStubBinary(root, bin);
    }
  }
  writeStubBinary(root, '/usr/bin/true');
  for (const name of referenced) {
    if (shipped.has(name)) continue;
    const full = join(root, 'usr/lib/systemd/system', name);
    mkdirSync(dirname(full), { recursive: true });
    if (!existsSync(full)) writeFileSync(full, stubUnit(name));
  }
  return { root, unitPaths };
}

export interface VerifyResult {
  status: number;
  /** stderr lines that point at a unit file ("file:line: ..."): warnings, counted as failures */
  warnings: string[];
  stderr: string;
}

/** `systemd-analyze verify --man=no --generators=no --root=ROOT` on the given units; the root is removed after. */
export function verifyUnits(units: UnitFile[]): VerifyResult {
  const { root, unitPaths } = systemdRoot(units);
  try {
    const r = run('systemd-analyze', ['verify', '--man=no', '--generators=no', `--root=${root}`, ...unitPaths]);
    const warnings = r.stderr.split('\n').filter((l) => /^\S+:\d+:/.test(l));
    return { status: r.status, warnings, stderr: r.stderr };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
