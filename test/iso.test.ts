// NoCloud seed ISO: checked with the real readers (isoinfo from genisoimage, libblkid) and against the
// reference tool cloud-localds. Files are written to a temp dir and read back; nothing is mocked.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DiagnosticError } from '../src/diagnostics.js';
import { writeSeedIso, type IsoFile } from '../src/iso/iso9660.js';
import { execFileSync, run, tool } from './helpers/tools.js';

const SECTOR = 2048;
const EPOCH = 1_700_000_000; // 2023-11-14 22:13:20 UTC

function bytes(n: number, f: (i: number) => number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = f(i);
  return b;
}

// 100 KiB, every byte value, includes sequences that are not UTF-8 (0xff, lone 0x80 …)
const big = bytes(100 * 1024, (i) => (i * 7919 + (i >>> 11)) & 0xff);
const exactSector = bytes(SECTOR, (i) => 0x41 + (i % 26));

const seed: IsoFile[] = [
  { name: 'user-data', content: '#cloud-config\nhostname: cp-1\nruncmd:\n  - echo "héllo ✓"\n' },
  { name: 'meta-data', content: 'instance-id: cp-1\nlocal-hostname: cp-1\n' },
  { name: 'network-config', content: 'version: 2\nethernets:\n  eth0:\n    dhcp4: true\n' },
  { name: 'vendor-data', content: big },
  { name: 'empty', content: '' },
  { name: 'exact-sector', content: exactSector },
];

const asBytes = (c: Uint8Array | string) => (typeof c === 'string' ? new TextEncoder().encode(c) : c);

let dir: string;
let iso: string;
let image: Uint8Array;

/** isoinfo with binary stdout (file contents are compared byte for byte). */
function isoinfoRaw(args: string[]): Buffer {
  return execFileSync(tool('isoinfo'), args, { maxBuffer: 64 << 20 });
}

function isoinfo(args: string[]): string {
  const r = run('isoinfo', args);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

/** Names in an `isoinfo -l` listing, without "." and "..". */
function listedNames(listing: string): string[] {
  return listing
    .split('\n')
    .map((l) => /\]\s+(.*?)\s*$/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined && n !== '.' && n !== '..');
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mkimage-iso-'));
  image = writeSeedIso(seed, { epochSeconds: EPOCH });
  iso = join(dir, 'seed.iso');
  writeFileSync(iso, image);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('writeSeedIso read back by isoinfo', () => {
  it('has volume id cidata, Joliet level 3, Rock Ridge and the right volume size', () => {
    const d = isoinfo(['-d', '-i', iso]);
    expect(d).toContain('CD-ROM is in ISO 9660 format');
    expect(d).toMatch(/^Volume id: cidata$/m);
    expect(d).toContain('Joliet with UCS level 3 found');
    expect(d).toContain('Rock Ridge signatures version 1 found');
    expect(d).toMatch(new RegExp(`^Volume size is: ${image.length / SECTOR}$`, 'm'));
    expect(image.length % SECTOR).toBe(0);
  });

  it('records the volume dates from epochSeconds', () => {
    const d = isoinfo(['-d', '-debug', '-i', iso]);
    expect(d).toContain('Creation Date:     2023 11 14 22:13:20.00');
    expect(d).toContain('Modification Date: 2023 11 14 22:13:20.00');
    expect(d).toContain('Path table size is:     10');
  });

  it('extracts every file byte-identical through Rock Ridge and through Joliet', () => {
    for (const f of seed) {
      const want = Buffer.from(asBytes(f.content));
      expect(isoinfoRaw(['-R', '-x', `/${f.name}`, '-i', iso]).equals(want), `-R ${f.name}`).toBe(true);
      expect(isoinfoRaw(['-J', '-x', `/${f.name}`, '-i', iso]).equals(want), `-J ${f.name}`).toBe(true);
    }
  });

  it('lists real names, sizes and POSIX modes with -R, real names with -J, 8.3 names without either', () => {
    const sorted = seed.map((f) => f.name).sort();
    const rr = isoinfo(['-R', '-l', '-i', iso]);
    expect(listedNames(rr).sort()).toEqual(sorted);
    expect(rr).toMatch(/^-rw-r--r-- +1 +0 +0 +102400 Nov 14 2023 .* vendor-data $/m);
    expect(rr).toMatch(/^-rw-r--r-- +1 +0 +0 +2048 .* exact-sector $/m);
    expect(rr).toMatch(/^-rw-r--r-- +1 +0 +0 +0 .* empty $/m);
    expect(rr).toMatch(/^drwxr-xr-x +2 +0 +0 +2048 .* \. $/m);
    expect(listedNames(isoinfo(['-J', '-l', '-i', iso]))).toEqual(sorted);
    expect(listedNames(isoinfo(['-l', '-i', iso]))).toEqual([
      'EMPTY.;1', 'EXACT_SE.;1', 'META_DAT.;1', 'NETWORK_.;1', 'USER_DAT.;1', 'VENDOR_D.;1',
    ]);
  });

  it('lays files out in name order on whole sectors, sharing extents between the two trees', () => {
    const extents = (listing: string) =>
      Object.fromEntries(
        listing.split('\n').flatMap((l) => {
          const m = /^\S+\s+\d+\s+\d+\s+\d+\s+(\d+) .*\[\s*(\d+) 00\]\s+(.*?)\s*$/.exec(l);
          return m ? [[m[3]!, { size: Number(m[1]), lba: Number(m[2]) }]] : [];
        }),
      );
    const rr = extents(isoinfo(['-R', '-l', '-i', iso]));
    expect(extents(isoinfo(['-J', '-l', '-i', iso]))).toEqual(rr);
    const order = seed.map((f) => f.name).sort();
    for (let i = 1; i < order.length; i++) {
      const prev = rr[order[i - 1]!]!;
      expect(rr[order[i]!]!.lba).toBe(prev.lba + Math.ceil(prev.size / SECTOR));
    }
    const last = rr[order[order.length - 1]!]!;
    expect(last.lba + Math.ceil(last.size / SECTOR)).toBe(image.length / SECTOR);
  });
});

describe('writeSeedIso read back by blkid', () => {
  it('reports LABEL=cidata, TYPE=iso9660 and a UUID from the timestamp', () => {
    const r = run('blkid', ['-p', '-o', 'export', iso]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^LABEL=cidata$/m);
    expect(r.stdout).toMatch(/^TYPE=iso9660$/m);
    expect(r.stdout).toMatch(/^UUID=2023-11-14-22-13-20-00$/m);
  });

  it('honours another volume id', () => {
    const other = join(dir, 'other.iso');
    writeFileSync(other, writeSeedIso(seed.slice(0, 2), { volumeId: 'CIDATA', epochSeconds: 0 }));
    expect(run('blkid', ['-p', '-o', 'export', other]).stdout).toMatch(/^LABEL=CIDATA$/m);
  });
});

describe('writeSeedIso compared with cloud-localds', () => {
  it('shows the same names and modes as the reference tool', () => {
    const ref = join(dir, 'ref');
    mkdirSync(ref);
    for (const f of seed.slice(0, 3)) writeFileSync(join(ref, f.name), asBytes(f.content), { mode: 0o644 });
    const refIso = join(dir, 'ref.iso');
    const r = run('cloud-localds', ['--network-config', join(ref, 'network-config'), refIso, join(ref, 'user-data'), join(ref, 'meta-data')]);
    expect(r.status, r.stderr).toBe(0);
    const mine = join(dir, 'three.iso');
    writeFileSync(mine, writeSeedIso(seed.slice(0, 3), { epochSeconds: EPOCH }));
    const shape = (p: string, flag: string) =>
      isoinfo([flag, '-l', '-i', p])
        .split('\n')
        .flatMap((l) => {
          const m = /^(\S{10})\s+\d+\s+\d+\s+\d+\s+(\d+) .*\]\s+(.*?)\s*$/.exec(l);
          return m && m[3] !== '.' && m[3] !== '..' ? [`${m[1]} ${m[2]} ${m[3]}`] : [];
        });
    expect(shape(mine, '-R')).toEqual(shape(refIso, '-R'));
    expect(shape(mine, '-J')).toEqual(shape(refIso, '-J'));
    expect(shape(mine, '-R')).toHaveLength(3);
  });
});

/** Zero every timestamp (volume dates, directory record dates, Rock Ridge TF) by walking the structures. */
function withoutTimestamps(img: Uint8Array): Uint8Array {
  const out = img.slice();
  const u32 = (at: number) => out[at]! | (out[at + 1]! << 8) | (out[at + 2]! << 16) | (out[at + 3]! * 0x1000000);
  for (const vd of [16, 17]) {
    const at = vd * SECTOR;
    out.fill(0, at + 813, at + 881); // creation, modification, expiration, effective
    out.fill(0, at + 156 + 18, at + 156 + 25); // root record date
    const extent = u32(at + 156 + 2);
    const size = u32(at + 156 + 10);
    for (let s = extent * SECTOR; s < (extent * SECTOR) + size; s += SECTOR) {
      for (let p = s; p < s + SECTOR && out[p]! !== 0; p += out[p]!) {
        out.fill(0, p + 18, p + 25);
        const idLen = out[p + 32]!;
        let su = p + 33 + idLen + (idLen % 2 === 0 ? 1 : 0);
        while (su + 4 <= p + out[p]!) {
          const len = out[su + 2]!;
          if (out[su] === 0x54 && out[su + 1] === 0x46) out.fill(0, su + 5, su + len); // "TF"
          su += len;
        }
      }
    }
  }
  return out;
}

describe('writeSeedIso is reproducible', () => {
  const saved = process.env.SOURCE_DATE_EPOCH;
  afterEach(() => {
    if (saved === undefined) delete process.env.SOURCE_DATE_EPOCH;
    else process.env.SOURCE_DATE_EPOCH = saved;
  });

  it('renders byte-identical images from the same input', () => {
    process.env.SOURCE_DATE_EPOCH = String(EPOCH);
    const a = writeSeedIso(seed);
    const b = writeSeedIso([...seed].reverse());
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(a).equals(Buffer.from(image))).toBe(true);
  });

  it('changes only timestamps when SOURCE_DATE_EPOCH changes', () => {
    process.env.SOURCE_DATE_EPOCH = String(EPOCH);
    const a = writeSeedIso(seed);
    process.env.SOURCE_DATE_EPOCH = '86400';
    const b = writeSeedIso(seed);
    expect(a.length).toBe(b.length);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    expect(Buffer.from(withoutTimestamps(a)).equals(Buffer.from(withoutTimestamps(b)))).toBe(true);
    const p = join(dir, 'day1.iso');
    writeFileSync(p, b);
    expect(isoinfo(['-R', '-l', '-i', p])).toMatch(/ Jan  2 1970 .* user-data $/m);
  });

  it('uses epoch 0 when SOURCE_DATE_EPOCH is unset', () => {
    delete process.env.SOURCE_DATE_EPOCH;
    const p = join(dir, 'zero.iso');
    writeFileSync(p, writeSeedIso(seed.slice(0, 2)));
    expect(run('blkid', ['-p', '-o', 'export', p]).stdout).toMatch(/^UUID=1970-01-01-00-00-00-00$/m);
  });

  it('rejects a malformed SOURCE_DATE_EPOCH with diagnostic E007 naming the fix', () => {
    process.env.SOURCE_DATE_EPOCH = 'yesterday';
    let caught: unknown;
    try {
      writeSeedIso(seed);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(DiagnosticError);
    const d = (caught as DiagnosticError).diagnostics[0]!;
    expect(d.code).toBe('E007');
    expect(d.message).toContain('SOURCE_DATE_EPOCH="yesterday"');
    expect(d.message).toContain('unset it');
  });
});

describe('writeSeedIso edge cases', () => {
  it('gives 8.3 clashes distinct names and keeps a multi-sector directory readable', () => {
    const files: IsoFile[] = [];
    for (let i = 0; i < 60; i++) files.push({ name: `config-fragment-${String(i).padStart(2, '0')}.yaml`, content: `n: ${i}\n` });
    const p = join(dir, 'many.iso');
    writeFileSync(p, writeSeedIso(files, { epochSeconds: 0 }));
    const plain = listedNames(isoinfo(['-l', '-i', p]));
    expect(new Set(plain).size).toBe(60);
    expect(plain).toContain('CONFIG_F.YAM;1');
    expect(plain).toContain('CONFIG_1.YAM;1');
    expect(listedNames(isoinfo(['-R', '-l', '-i', p])).sort()).toEqual(files.map((f) => f.name));
    expect(listedNames(isoinfo(['-J', '-l', '-i', p]))).toEqual(files.map((f) => f.name));
    for (const i of [0, 31, 59]) {
      const want = `n: ${i}\n`;
      expect(isoinfoRaw(['-R', '-x', `/${files[i]!.name}`, '-i', p]).toString()).toBe(want);
      expect(isoinfoRaw(['-J', '-x', `/${files[i]!.name}`, '-i', p]).toString()).toBe(want);
    }
  });

  it('shows a file mode given for a secret', () => {
    const p = join(dir, 'secret.iso');
    writeFileSync(p, writeSeedIso([{ name: 'user-data', content: 'token', mode: 0o600 }, { name: 'meta-data', content: '' }], { epochSeconds: 0 }));
    expect(isoinfo(['-R', '-l', '-i', p])).toMatch(/^-rw------- .* user-data $/m);
  });

  it('refuses names and options it cannot encode', () => {
    expect(() => writeSeedIso([{ name: 'a', content: '' }, { name: 'a', content: 'x' }])).toThrow(/given twice/);
    expect(() => writeSeedIso([{ name: 'a/b', content: '' }])).toThrow(/Joliet forbids/);
    expect(() => writeSeedIso([{ name: 'x'.repeat(65), content: '' }])).toThrow(/longer than 64/);
    expect(() => writeSeedIso([], { volumeId: 'a-volume-label-too-long' })).toThrow(/1 to 16/);
    expect(() => writeSeedIso([], { epochSeconds: 1.5 })).toThrow(/whole number/);
  });
});
