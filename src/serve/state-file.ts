// The per-MAC install state on disk (default clusters/<cluster>/pxe-state.json, 0600: it holds the install
// tokens). Written durably: a temp file in the same directory, fsync, rename over the old one, fsync the
// directory. A crash leaves the old file or the new one, never half of either.

import { open, readFile, rename, rm, chmod, mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { error, type Diagnostic } from '../diagnostics.js';
import { normaliseMac } from './mac.js';
import { looksLikeToken } from './tokens.js';

export const MACHINE_STATES = ['pending', 'installing', 'installed', 'failed'] as const;
export type MachineState = (typeof MACHINE_STATES)[number];

export interface MachineRecord {
  /** lower-case colon form */
  mac: string;
  node: string;
  state: MachineState;
  /** ISO time the machine entered `state` */
  since: string;
  /** how many times it was handed the installer */
  attempts: number;
  /** the current install token: only while installing */
  token?: string;
  /** the installer's last report of a failure, kept after a retry */
  failure?: { at: string; tail: string };
}

export interface StateDoc {
  version: 1;
  cluster: string;
  machines: MachineRecord[];
}

export const STATE_FILE_MODE = 0o600;

function checkRecord(v: unknown, i: number): MachineRecord | string {
  if (typeof v !== 'object' || v === null) return `machines[${i}] is not an object`;
  const o = v as Record<string, unknown>;
  const mac = typeof o.mac === 'string' ? normaliseMac(o.mac) : undefined;
  if (mac === undefined) return `machines[${i}].mac is not a MAC address`;
  if (typeof o.node !== 'string' || o.node === '') return `machines[${i}].node is not a node name`;
  if (!MACHINE_STATES.includes(o.state as MachineState)) return `machines[${i}].state is not one of ${MACHINE_STATES.join(', ')}`;
  if (typeof o.since !== 'string' || Number.isNaN(Date.parse(o.since))) return `machines[${i}].since is not a time`;
  if (typeof o.attempts !== 'number' || !Number.isSafeInteger(o.attempts) || o.attempts < 0) return `machines[${i}].attempts is not a count`;
  const state = o.state as MachineState;
  if (state === 'installing' && (typeof o.token !== 'string' || !looksLikeToken(o.token))) return `machines[${i}] is installing without a valid token`;
  const r: MachineRecord = { mac, node: o.node, state, since: o.since, attempts: o.attempts };
  if (state === 'installing') r.token = o.token as string;
  if (o.failure !== undefined) {
    const f = o.failure as Record<string, unknown>;
    if (typeof f !== 'object' || f === null || typeof f.at !== 'string' || typeof f.tail !== 'string') return `machines[${i}].failure is not {at, tail}`;
    r.failure = { at: f.at, tail: f.tail };
  }
  return r;
}

/** Parse the state file's text: the document, or what is wrong with it. */
export function parseStateDoc(text: string): StateDoc | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return `not valid JSON: ${(e as Error).message}`;
  }
  if (typeof json !== 'object' || json === null) return 'not a JSON object';
  const o = json as Record<string, unknown>;
  if (o.version !== 1) return `version ${JSON.stringify(o.version)} is not 1`;
  if (typeof o.cluster !== 'string') return 'cluster is not a name';
  if (!Array.isArray(o.machines)) return 'machines is not a list';
  const machines: MachineRecord[] = [];
  const seen = new Set<string>();
  for (const [i, v] of o.machines.entries()) {
    const r = checkRecord(v, i);
    if (typeof r === 'string') return r;
    if (seen.has(r.mac)) return `machines[${i}].mac ${r.mac} is listed twice`;
    seen.add(r.mac);
    machines.push(r);
  }
  return { version: 1, cluster: o.cluster, machines };
}

export function serialiseStateDoc(doc: StateDoc): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** E007 for a state file mkimage cannot read, worded as the fix. */
export function corruptStateDiagnostic(shown: string, why: string): Diagnostic {
  return error(
    'E007',
    `${shown} is not a LAN-boot state file mkimage can read (${why}): repair it, or move it aside to start over ` +
      '(every machine is then pending, and an installed one installs again on its next network boot)',
    { file: shown },
  );
}

/** The state file's document; undefined when there is none; a string saying what is wrong when it is corrupt. */
export async function readStateDoc(path: string): Promise<StateDoc | undefined | string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return (e as Error).message;
  }
  return parseStateDoc(text);
}

/** Replace `path` with `text` durably (temp + fsync + rename + directory fsync), mode 0600. */
export async function writeDurably(path: string, text: string): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    const fh = await open(tmp, 'wx', STATE_FILE_MODE);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await chmod(tmp, STATE_FILE_MODE);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
