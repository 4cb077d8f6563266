// The data: URL choice of src/emit/data-url.ts (Butane's rule: the shortest of URL-escaped, base64 and gzip+base64,
// gzip paying for its "compression" field) against candidates computed independently: python3's urllib.parse.quote
// with RFC 2396's unreserved set, and the system's base64 and gzip -9. Each URL must also decode back to the input
// with those tools. System gzip and zlib may differ by a few bytes, so every case is chosen far from a tie.

import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { dataUrl, urlEscape } from '../src/emit/data-url.js';
import { run, tool } from './helpers/tools.js';

/** 640 fixed bytes that look random (incompressible): sha512 of 0..9. */
const NOISE = Buffer.concat(Array.from({ length: 10 }, (_, i) => createHash('sha512').update(String(i)).digest()));

const b64 = (b: Buffer) => run('bash', ['-c', 'base64 -d | base64 -w0'], { input: b.toString('base64') }).stdout;

/** Candidate lengths of the three encodings, by the system's tools (input carried in as base64). */
function candidates(input: Buffer): { escaped: number; base64: number; gzip: number } {
  tool('python3');
  tool('gzip');
  const escaped = run('python3', ['-c', "import sys,base64,urllib.parse;print(len(urllib.parse.quote(base64.b64decode(sys.stdin.read()), safe=\"-_.!~*'()\")))"], { input: input.toString('base64') });
  const base64 = b64(input).length;
  const gzip = run('bash', ['-c', 'base64 -d | gzip -9n | base64 -w0 | wc -c'], { input: input.toString('base64') });
  return { escaped: Number(escaped.stdout.trim()) + ','.length, base64: base64 + ';base64,'.length, gzip: Number(gzip.stdout.trim()) + ';base64,'.length };
}

function decode(source: string, compression: string): Buffer {
  const payload = source.slice(source.indexOf(',') + 1);
  if (source.startsWith('data:,')) {
    return Buffer.from(run('python3', ['-c', 'import sys,base64,urllib.parse;print(base64.b64encode(urllib.parse.unquote_to_bytes(sys.stdin.read())).decode())'], { input: payload }).stdout.trim(), 'base64');
  }
  const pipe = compression === 'gzip' ? 'base64 -d | gzip -dc | base64 -w0' : 'base64 -d | base64 -w0';
  return Buffer.from(run('bash', ['-c', pipe], { input: payload }).stdout, 'base64');
}

const CASES: Array<[string, Buffer, 'escaped' | 'base64' | 'gzip']> = [
  ['a short ASCII word list (escaping costs nothing)', Buffer.from('worker1.cluster.local'), 'escaped'],
  ['bytes that look random (incompressible, most need %XX)', NOISE, 'base64'],
  ['a long repetitive config (compresses well)', Buffer.from('net.ipv4.ip_forward = 1\n'.repeat(200)), 'gzip'],
  ['a unit file with spaces and newlines', Buffer.from('[Unit]\nDescription=x y z\n[Service]\nExecStart=/opt/bin/a --b=c\n'), 'base64'],
];

describe('data: URLs as Butane chooses them', () => {
  it.each(CASES)('%s', (_label, input, expected) => {
    const c = candidates(input);
    // Butane's rule, from the independent lengths: base64 if strictly shorter than escaped; gzip if len+4 shorter
    const best = c.base64 < c.escaped ? 'base64' : 'escaped';
    const independent = c.gzip + 'gzip'.length < Math.min(c.escaped, c.base64) ? 'gzip' : best;
    expect(independent).toBe(expected);
    const url = dataUrl(input);
    expect(url.kind).toBe(expected);
    expect(url.compression).toBe(expected === 'gzip' ? 'gzip' : '');
    if (expected !== 'gzip') expect(url.source.length - 'data:'.length).toBe(c[expected]);
    expect(decode(url.source, url.compression).equals(input)).toBe(true);
  });

  it('escapes every byte outside RFC 2396\'s unreserved set as two upper-case hex digits', () => {
    expect(urlEscape(Buffer.from("Az09-_.!~*'() /%\n\u00e9"))).toBe("Az09-_.!~*'()%20%2F%25%0A%C3%A9");
    expect(urlEscape(Uint8Array.of(0, 15, 16, 255))).toBe('%00%0F%10%FF');
  });
});
