// The fast YAML writer (src/emit/yaml.ts) must write exactly what `yaml`'s stringify writes with the same options:
// on random documents full of awkward strings, and on every document the emitters build for the shipped profiles.

import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { YamlWriter, type YamlOptions } from '../src/emit/yaml.js';
import { CLOUD_YAML_OPTIONS } from '../src/emit/netplan.js';
import { cloudConfigObject } from '../src/emit/cloud-init.js';
import { networkConfigObject } from '../src/emit/netplan.js';
import { loadSecrets } from '../src/cluster/secrets.js';
import { loadAndLint, nodePlans, profileFor } from '../src/pipeline.js';
import type { NodePlan } from '../src/plan/types.js';
import { FIXTURE_SECRETS, privateSecretsCopy } from './helpers/secrets.js';
import { scratchDirs } from './helpers/tmp.js';

const KUBEADM_OPTIONS: YamlOptions = { version: '1.1', lineWidth: 0 };

/** A small deterministic PRNG (mulberry32), so a failure reproduces from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// pieces that hit every style decision: YAML 1.1 words, numbers, indicators, comments, document markers,
// leading/trailing blanks and newlines, controls, quotes, unicode line separators
const ATOMS = [
  'a', 'Z', '_x', '/etc/x', 'root:root', 'ALL=(ALL) NOPASSWD:ALL', 'yes', 'No', 'on', 'OFF', 'y', 'n', 'null', '~',
  'true', '0644', '0x1F', '1:20', '1_000', '.inf', '-.5', '1e3', '2001-12-14', '=', '<<', '-', '?', ':', ': ', ' #',
  '#', '&a', '*b', '!t', '|', '>', "'", '"', '%', '@', '`', ',', '[', ']', '{', '}', ' ', '  ', '\t', '\n', '\n\n',
  '\r', '\x00', '\x1b', '\x7f', '\u0085', '\u2028', '\ufeff', 'é', '中文', '---', '...', 'key: value', '- item',
  '52:54:00:10:00:11', '10.0.0.1/24', '10.0.0.1', '1.2.3', '1.2', '1/2', '0.0.0.0/0', '2001-12-14/x', 'sha256:abc', '${VAR}', 'a b', 'x:', ' lead', 'trail ',
];

function randomString(r: () => number): string {
  const n = Math.floor(r() * 6);
  let s = '';
  for (let i = 0; i < n; i++) s += ATOMS[Math.floor(r() * ATOMS.length)];
  return s;
}

function randomValue(r: () => number, depth: number): unknown {
  const k = r();
  if (depth > 3 || k < 0.55) {
    const t = r();
    if (t < 0.75) return randomString(r);
    if (t < 0.82) return Math.floor(r() * 70000) - 100;
    if (t < 0.86) return r() * 100;
    if (t < 0.92) return r() < 0.5;
    return null;
  }
  if (k < 0.78) {
    const m: Record<string, unknown> = {};
    const n = Math.floor(r() * 5);
    for (let i = 0; i < n; i++) m[r() < 0.8 ? `k${Math.floor(r() * 50)}` : randomString(r)] = randomValue(r, depth + 1);
    return m;
  }
  return Array.from({ length: Math.floor(r() * 5) }, () => randomValue(r, depth + 1));
}

const scratch = scratchDirs('mkimage-yaml-writer-');

/** Every node plan of the shipped profiles and cluster file, with the TEST-ONLY fixture secrets. */
async function shippedNodePlans(): Promise<NodePlan[]> {
  const tmp = scratch();
  const loaded = loadAndLint({ cwd: tmp });
  if (!loaded.inputs) throw new Error(JSON.stringify(loaded.diagnostics));
  const secrets = await loadSecrets(await privateSecretsCopy(FIXTURE_SECRETS, `${tmp}/secrets`));
  const plans: NodePlan[] = [];
  for (const role of ['control-plane', 'worker']) {
    const profile = profileFor(loaded.inputs, role, [])!;
    plans.push(...nodePlans(loaded.inputs, profile, secrets, []));
  }
  return plans;
}

describe('YamlWriter', () => {
  for (const [name, options] of [['cloud-init', CLOUD_YAML_OPTIONS], ['kubeadm', KUBEADM_OPTIONS]] as const) {
    it(`writes what yaml writes, on 5000 random documents (${name} options)`, () => {
      const r = rng(name === 'kubeadm' ? 7 : 1);
      const w = new YamlWriter(options);
      let checked = 0;
      for (let i = 0; i < 5000; i++) {
        const doc = randomValue(r, 0);
        if (typeof doc !== 'object' || doc === null) continue;
        let want: string;
        try {
          want = stringify(doc, options);
        } catch {
          continue; // yaml refuses it too (e.g. a key it cannot write): not a document mkimage makes
        }
        expect(w.write(doc), JSON.stringify(doc)).toBe(want);
        checked++;
      }
      expect(checked).toBeGreaterThan(2000);
    });
  }

  it('writes every document the emitters build for the shipped profiles as yaml does, and it reads back', async () => {
    const w = new YamlWriter(CLOUD_YAML_OPTIONS);
    const plans = await shippedNodePlans();
    expect(plans.length).toBeGreaterThan(2);
    for (const plan of plans) {
      for (const doc of [cloudConfigObject(plan, 'baked'), cloudConfigObject(plan, 'full'), networkConfigObject(plan)]) {
        const text = w.write(doc);
        expect(text).toBe(stringify(doc, CLOUD_YAML_OPTIONS));
        expect(parse(text, { version: '1.1' })).toEqual(JSON.parse(JSON.stringify(doc)));
      }
    }
  });

  it('writes digit-led strings as yaml does: plain unless the schema reads them as a number, time or date', () => {
    // the schema's own tag tests decide these (sexagesimal ints, octals, floats, timestamps in YAML 1.1)
    const known = [
      '52:54:00:10:00:11', '52:54:00:1a:00:ff', '3vb1lp.4wx12k12tlmb6o30', '0qou5d.73pco2vn1v83r6je', '4h0m0s', '1:20',
      '190:20:30', '190:20:30.15', '1_000', '0x1F', '0b101', '1e3', '1E+3', '2001-12-14', '2001-12-14t21:59:43.10-05:00',
      '2001-12-14 21:59:43.10 -5', '1.5', '1.', '0755', '0644', '08', '9', '1 2', '1-2', '10.0.0.1:6443', '1.29.2-1.1',
    ];
    const r = rng(11);
    const alphabet = '0123456789:._eExb+- afhmst';
    const random = Array.from({ length: 3000 }, () => {
      let s = String(Math.floor(r() * 10));
      const n = Math.floor(r() * 12);
      for (let i = 0; i < n; i++) s += alphabet[Math.floor(r() * alphabet.length)];
      return s;
    });
    const strings = [...known, ...random];
    for (const options of [CLOUD_YAML_OPTIONS, KUBEADM_OPTIONS, {}] as YamlOptions[]) {
      const w = new YamlWriter(options);
      for (const s of strings) {
        for (const doc of [{ v: s }, [s], { [s]: 1 }, { a: { b: [s] } }]) {
          expect(w.write(doc), `${JSON.stringify(doc)} with ${JSON.stringify(options)}`).toBe(stringify(doc, options));
        }
      }
    }
    // the YAML 1.1 writer leaves a MAC of digits quoted (a base-60 int there) and one with a hex letter plain
    const w = new YamlWriter(CLOUD_YAML_OPTIONS);
    expect(w.write({ mac: '52:54:00:10:00:11', other: '52:54:00:1a:00:ff', token: '0qou5d.73pco2vn1v83r6je' }))
      .toBe("mac: '52:54:00:10:00:11'\nother: 52:54:00:1a:00:ff\ntoken: 0qou5d.73pco2vn1v83r6je\n");
  });

  it('re-indents the scalars it leaves to yaml at any depth', () => {
    const w = new YamlWriter(CLOUD_YAML_OPTIONS);
    const odd = " starts with a space\nand more\n\n\nkeeps trailing newlines\n\n";
    const doc = { a: [{ b: { c: [odd, [odd]] } }], d: odd, 'key: with colon': 'it\'s "quoted"' };
    expect(w.write(doc)).toBe(stringify(doc, CLOUD_YAML_OPTIONS));
    expect(w.write(doc)).toBe(stringify(doc, CLOUD_YAML_OPTIONS)); // from its memory the second time
  });
});
