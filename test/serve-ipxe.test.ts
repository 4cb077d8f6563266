// The LAN-boot server's pure parts: MAC forms, the iPXE scripts per state and platform (against the text the
// server <-> installer contract spells out), Range parsing (RFC 9110 cases) and the pxe.json checks.

import { describe, expect, it } from 'vitest';
import { normaliseMac, hexhyp } from '../src/serve/mac.js';
import { failedScript, imageMissingScript, installerScript, localBootScript, unknownMacScript } from '../src/serve/ipxe.js';
import { checkManifest, type PxeManifest } from '../src/serve/manifest.js';
import { parseRange } from '../src/serve/range.js';
import { looksLikeToken, newToken, sameToken } from '../src/serve/tokens.js';
import { jsonLine, jsonLineLogger, lineChunks } from '../src/serve/log.js';

const SHA = 'ab'.repeat(32);
const manifestJson = () => ({
  version: 1,
  cluster: 'homelab',
  server: 'http://${next-server}:8080',
  installer: { kernel: 'installer/vmlinuz', initrd: 'installer/initramfs.cpio.gz', kernelVersion: '6.1.0-99-amd64' },
  images: { worker: { path: 'images/worker.raw.gz', sha256: SHA, size: 123, rawSize: 456 } },
  nodes: [
    { name: 'worker1', role: 'worker', mac: '52:54:00:66:00:21', ip: '192.168.66.21', seed: 'seeds/worker1' },
    { name: 'worker2', role: 'worker', mac: '52:54:00:66:00:22', ip: '192.168.66.22', seed: 'seeds/worker2', disk: 'id:ata-QEMU_HARDDISK_QM00001' },
  ],
});
const manifest = (): PxeManifest => checkManifest(manifestJson(), 'out/pxe/pxe.json').manifest!;

describe('MAC forms', () => {
  it.each([
    ['52-54-00-66-00-21', '52:54:00:66:00:21'],
    ['52:54:00:66:00:21', '52:54:00:66:00:21'],
    ['52-54-00-AB-CD-EF', '52:54:00:ab:cd:ef'],
    ['52:54:00:AB:cd:Ef', '52:54:00:ab:cd:ef'],
    ['525400ABCDEF', '52:54:00:ab:cd:ef'],
    [' 52:54:00:66:00:21 ', '52:54:00:66:00:21'],
  ])('%s -> %s', (raw, want) => {
    expect(normaliseMac(raw)).toBe(want);
  });

  it.each(['52:54:00:66:00', '52-54:00-66:00-21', '52:54:00:66:00:2g', '', 'x'.repeat(40), '52:54:00:66:00:21:00'])('%j is not a MAC', (raw) => {
    expect(normaliseMac(raw)).toBeUndefined();
  });

  it('hexhyp is the form iPXE sends', () => {
    expect(hexhyp('52:54:00:66:00:21')).toBe('52-54-00-66-00-21');
  });
});

describe('iPXE scripts', () => {
  const m = manifest();
  const [w1, w2] = m.nodes as [PxeManifest['nodes'][0], PxeManifest['nodes'][0]];
  const token = 'AbCdEfGhIjKlMnOpQrStUv_-';

  it('pending: the installer, with initrd= on the kernel line and the contract parameters', () => {
    expect(installerScript('http://10.0.2.2:8080', m, w1, m.images.worker!, token)).toBe(
      '#!ipxe\n' +
        'kernel http://10.0.2.2:8080/installer/vmlinuz initrd=initramfs.cpio.gz console=tty0 console=ttyS0,115200n8 ' +
        'mkimage.server=http://10.0.2.2:8080 mkimage.node=worker1 mkimage.mac=52:54:00:66:00:21 ' +
        `mkimage.token=${token} mkimage.image=images/worker.raw.gz mkimage.sha256=${SHA}\n` +
        'initrd http://10.0.2.2:8080/installer/initramfs.cpio.gz\n' +
        'boot\n',
    );
  });

  it("a node's disk goes on the kernel line as mkimage.disk", () => {
    const s = installerScript('http://h', m, w2, m.images.worker!, token);
    expect(s.split('\n')[1]).toMatch(/ mkimage\.sha256=[0-9a-f]{64} mkimage\.disk=id:ata-QEMU_HARDDISK_QM00001$/);
  });

  it('installed: sanboot the first disk on BIOS (exit if that fails), exit on UEFI', () => {
    expect(localBootScript('pcbios')).toBe('#!ipxe\nsanboot --no-describe --drive 0x80 || exit\n');
    expect(localBootScript('efi')).toBe('#!ipxe\nexit\n');
  });

  it.each(['pcbios', 'efi'] as const)('failed (%s): says so, names the fix, sleeps and chains back with its own MAC and platform', (platform) => {
    const s = failedScript('http://10.0.2.2:8080', w1, platform);
    const lines = s.trimEnd().split('\n');
    expect(lines[0]).toBe('#!ipxe');
    expect(s).toContain('worker1 failed to install');
    expect(s).toContain('mkimage pxe retry worker1');
    expect(lines).toContain('sleep 10');
    expect(lines.at(-1)).toBe(`chain --replace http://10.0.2.2:8080/boot.ipxe?mac=52-54-00-66-00-21&uuid=\${uuid}&platform=${platform} || exit`);
    expect(s).not.toMatch(/sanboot|kernel /);
  });

  it('image missing: says so and polls', () => {
    const s = imageMissingScript('http://h:1', w1, 'efi');
    expect(s).toContain('no golden image for role worker');
    expect(s).toContain('sleep 30');
    expect(s).toContain('chain --replace http://h:1/boot.ipxe?mac=52-54-00-66-00-21&uuid=${uuid}&platform=efi || exit');
  });

  it('unknown MAC: echo and exit, nothing else', () => {
    const s = unknownMacScript('52:54:00:00:00:99');
    expect(s).toMatch(/^#!ipxe\necho [^\n$]*52:54:00:00:00:99[^\n$]*\nexit\n$/);
    expect(unknownMacScript(undefined)).toMatch(/^#!ipxe\necho [^\n$]*\nexit\n$/);
  });

  it('no script carries a character iPXE would expand, except the ${uuid} it is meant to', () => {
    const all = [failedScript('http://h', w1, 'pcbios'), imageMissingScript('http://h', w1, 'pcbios'), unknownMacScript('52:54:00:00:00:99'), localBootScript('efi')];
    for (const s of all) expect(s.replace(/\$\{uuid\}/g, '')).not.toMatch(/[$;\\"'`]/);
  });
});

describe('Range (RFC 9110 §14)', () => {
  const size = 1000;
  it.each([
    [undefined, { kind: 'whole' }],
    ['bytes=0-0', { kind: 'part', start: 0, end: 0 }],
    ['bytes=0-499', { kind: 'part', start: 0, end: 499 }],
    ['bytes=500-', { kind: 'part', start: 500, end: 999 }],
    ['bytes=-1', { kind: 'part', start: 999, end: 999 }],
    ['bytes=-500', { kind: 'part', start: 500, end: 999 }],
    ['bytes=-5000', { kind: 'part', start: 0, end: 999 }],
    ['bytes=900-5000', { kind: 'part', start: 900, end: 999 }],
    ['BYTES = 1 - 2', { kind: 'part', start: 1, end: 2 }],
    ['bytes=1000-', { kind: 'unsatisfiable' }],
    ['bytes=1000-1001', { kind: 'unsatisfiable' }],
    ['bytes=-0', { kind: 'unsatisfiable' }],
    ['bytes=5-2', { kind: 'whole' }],
    ['bytes=0-1,5-6', { kind: 'whole' }],
    ['items=0-1', { kind: 'whole' }],
    ['bytes=-', { kind: 'whole' }],
    ['bytes=abc', { kind: 'whole' }],
  ] as const)('%s', (h, want) => {
    expect(parseRange(h, size)).toEqual(want);
  });

  it('an empty file has no satisfiable range', () => {
    expect(parseRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-1', 0)).toEqual({ kind: 'unsatisfiable' });
  });
});

describe('pxe.json', () => {
  it('reads what pxe build writes, MACs normalised', () => {
    const j = manifestJson();
    j.nodes[0]!.mac = '52-54-00-66-00-21';
    const r = checkManifest(j, 'out/pxe/pxe.json');
    expect(r.diagnostics).toEqual([]);
    expect(r.manifest!.nodes.map((n) => n.mac)).toEqual(['52:54:00:66:00:21', '52:54:00:66:00:22']);
  });

  it('--no-image: images {} is fine', () => {
    expect(checkManifest({ ...manifestJson(), images: {} }, 'p').diagnostics).toEqual([]);
  });

  it.each([
    ['a path out of the directory', (j: ReturnType<typeof manifestJson>) => void (j.installer.kernel = '../../etc/passwd'), 'leaves the LAN-boot directory'],
    ['a bad MAC', (j: ReturnType<typeof manifestJson>) => void (j.nodes[1]!.mac = 'nope'), 'nodes[1].mac "nope" is not a MAC address'],
    ['a space in a kernel parameter', (j: ReturnType<typeof manifestJson>) => void (j.nodes[1]!.disk = '/dev/sda quiet'), 'nodes[1].disk'],
    ['another version', (j: ReturnType<typeof manifestJson>) => void ((j as { version: number }).version = 2), 'version 2 is not one this mkimage reads'],
    ['two nodes with one MAC', (j: ReturnType<typeof manifestJson>) => void (j.nodes[1]!.mac = j.nodes[0]!.mac), 'share a MAC address'],
    ['a short sha256', (j: ReturnType<typeof manifestJson>) => void (j.images.worker.sha256 = 'abc'), 'images.worker.sha256'],
  ])('%s is E023 with the fix', (_what, change, words) => {
    const j = manifestJson();
    change(j);
    const r = checkManifest(j, 'out/pxe/pxe.json');
    expect(r.manifest).toBeUndefined();
    expect(r.diagnostics.length).toBeGreaterThan(0);
    expect(r.diagnostics[0]!.code).toBe('E023');
    expect(r.diagnostics.map((d) => d.message).join('\n')).toContain(words);
  });
});

describe('install tokens', () => {
  it('are URL- and command-line-safe, at least 128 bits, and differ', () => {
    const ts = Array.from({ length: 200 }, newToken);
    for (const t of ts) {
      expect(t).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(Buffer.from(t, 'base64url').length * 8).toBeGreaterThanOrEqual(128);
      expect(looksLikeToken(t)).toBe(true);
    }
    expect(new Set(ts).size).toBe(ts.length);
  });

  it('compare equal only to themselves, lengths included', () => {
    const t = newToken();
    expect(sameToken(t, `${t}`)).toBe(true);
    expect(sameToken(t, t.slice(0, -1))).toBe(false);
    expect(sameToken(t, `${t.slice(0, -1)}${t.endsWith('A') ? 'B' : 'A'}`)).toBe(false);
  });
});

describe('log lines', () => {
  it('are the JSON of {ts, event, ...fields} without the undefined ones, in ASCII, whatever the strings hold', () => {
    const nasty = ['plain', 'a"quote', 'back\\slash', 'new\nline', 'tab\t', '\u001b[31mred', 'ü\ufffd', '😀', '', '/seed/<token>/user-data'];
    for (const v of nasty) {
      const fields = { path: v, status: 200, ok: true, mac: undefined, n: 1.5 };
      const line = jsonLine('2026-01-01T00:00:00.000Z', 'request', fields);
      expect(line).toMatch(/^[\x20-\x7e]+$/);
      expect(JSON.parse(line)).toEqual({ ts: '2026-01-01T00:00:00.000Z', event: 'request', path: v, status: 200, ok: true, n: 1.5 });
    }
  });

  it('are written in pieces of at most 4096 bytes that end at a line end', () => {
    const out: string[] = [];
    const log = jsonLineLogger((s) => out.push(s), () => 0);
    for (let i = 0; i < 500; i++) log.log('request', { path: `/boot.ipxe?n=${i}`, tail: 'ü'.repeat(i % 7) });
    log.flush();
    expect(out.length).toBeGreaterThan(1);
    for (const c of out) {
      expect(Buffer.byteLength(c)).toBeLessThanOrEqual(4096);
      expect(c.endsWith('\n')).toBe(true);
    }
    const lines = out.join('').trimEnd().split('\n').map((l) => JSON.parse(l) as { path: string; ts: string });
    expect(lines.map((l) => l.path)).toEqual(Array.from({ length: 500 }, (_, i) => `/boot.ipxe?n=${i}`));
    expect(lines[0]!.ts).toBe('1970-01-01T00:00:00.000Z');
  });

  it('a line longer than 4096 bytes is written whole, on its own', () => {
    expect(lineChunks(`${'a'.repeat(10)}\n${'b'.repeat(5000)}\n${'c'.repeat(10)}\n`).map((c) => c.length)).toEqual([11, 5001, 11]);
  });
});
