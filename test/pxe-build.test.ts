// `mkimage pxe build` through the CLI's entry point (in-process, temp cwd, the embedded profiles: worker1 and worker2
// on 192.168.66.0/24), with real Debian packages (cached), a real qemu-img and gzip, and the real consumers of what
// it writes: gzip -t / zcat, sha256sum -c, dnsmasq --test. The LAN boot itself runs in test/e2e/lan-boot.test.ts.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parseDocument } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../src/template.js';
import { packageFile } from '../src/pxe/debs.js';
import { mkimage, type Ran } from './helpers/cli.js';
import { filesUnder } from './helpers/tree.js';
import { run } from './helpers/tools.js';
import { scratchDirs } from './helpers/tmp.js';

const tmp = scratchDirs('mkimage-pxe-build-');

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const mode = (p: string) => statSync(p).mode & 0o777;
/** path -> sha256 of every file (comparing the buffers themselves element by element is slow) */
const tree = (dir: string) => new Map(filesUnder(dir).map((f) => [f, sha256(readFileSync(join(dir, f)))]));
const SERVER = 'http://192.168.66.5:8080';

/** An 8 MiB raw "disk": a few distinct blocks in a sea of zeros, as golden images are. */
function rawImage(path: string): Buffer {
  const b = Buffer.alloc(8 << 20);
  for (let i = 0; i < 64; i++) b.fill(i + 1, i * 4096 * 7, i * 4096 * 7 + 4096);
  b.write('mkimage test image', 1 << 20);
  writeFileSync(path, b);
  return b;
}

describe('mkimage pxe build', () => {
  let cwd: string;
  let raw: Buffer;
  let first: Ran;
  let out: string;
  beforeAll(async () => {
    cwd = tmp();
    raw = rawImage(join(cwd, 'golden.raw'));
    first = await mkimage(cwd, 'pxe', 'build', '--image', 'golden.raw', '--server', SERVER);
    out = join(cwd, 'out/pxe');
  }, 600_000);

  it('writes out/pxe/ and says what is in it', () => {
    expect(first.code, first.err).toBe(0);
    expect(first.err).toMatch(/wrote out\/pxe\/: 2 node\(s\) \(worker1, worker2\), installer \d+\.\d+\.\d+-\d+-amd64, image worker\.raw\.gz/);
    expect(filesUnder(out).sort()).toEqual([
      '.mkimage-output', 'dnsmasq.conf', 'images/worker.raw.gz', 'images/worker.raw.gz.sha256',
      'installer/initramfs.cpio.gz', 'installer/vmlinuz', 'pxe.json',
      'seeds/worker1/meta-data', 'seeds/worker1/network-config', 'seeds/worker1/user-data',
      'seeds/worker2/meta-data', 'seeds/worker2/network-config', 'seeds/worker2/user-data',
      'tftp/boot.ipxe', 'tftp/ipxe.efi', 'tftp/ipxe.lkrn', 'tftp/ldlinux.c32', 'tftp/pxelinux.0',
      'tftp/pxelinux.cfg/default', 'tftp/snponly.efi', 'tftp/undionly.kpxe',
    ]);
  });

  it('pxe.json: the keys in order, the paths, the sums of the files and the nodes of the inventory', () => {
    const text = readFileSync(join(out, 'pxe.json'), 'utf8');
    expect(text.endsWith('}\n')).toBe(true);
    const m = JSON.parse(text);
    expect(Object.keys(m)).toEqual(['version', 'cluster', 'server', 'installer', 'images', 'nodes']);
    const gz = readFileSync(join(out, 'images/worker.raw.gz'));
    expect(m).toEqual({
      version: 1,
      cluster: 'homelab',
      server: SERVER,
      installer: { kernel: 'installer/vmlinuz', initrd: 'installer/initramfs.cpio.gz', kernelVersion: expect.stringMatching(/^\d+\.\d+\.\d+-\d+-amd64$/) },
      images: { worker: { path: 'images/worker.raw.gz', sha256: sha256(gz), size: gz.length, rawSize: raw.length } },
      nodes: [
        { name: 'worker1', role: 'worker', mac: '52:54:00:66:00:21', ip: '192.168.66.21', seed: 'seeds/worker1' },
        { name: 'worker2', role: 'worker', mac: '52:54:00:66:00:22', ip: '192.168.66.22', seed: 'seeds/worker2' },
      ],
    });
    expect(text).toBe(`${JSON.stringify(m, null, 2)}\n`);
    expect(Object.keys(m.installer)).toEqual(['kernel', 'initrd', 'kernelVersion']);
    expect(Object.keys(m.images.worker)).toEqual(['path', 'sha256', 'size', 'rawSize']);
    // a bzImage: "HdrS" at 0x202
    expect(readFileSync(join(out, 'installer/vmlinuz')).subarray(0x202, 0x206).toString()).toBe('HdrS');
  });

  it('the image is the raw disk gzip-compressed without a name or time, and sha256sum -c accepts its sum file', () => {
    const gz = readFileSync(join(out, 'images/worker.raw.gz'));
    expect(gunzipSync(gz).equals(raw)).toBe(true);
    expect(run('gzip', ['-t', join(out, 'images/worker.raw.gz')]).status).toBe(0);
    // header: FLG without FNAME (0x08), MTIME zero
    expect(gz[3]! & 0x08).toBe(0);
    expect(gz.readUInt32LE(4)).toBe(0);
    expect(readFileSync(join(out, 'images/worker.raw.gz.sha256'), 'utf8')).toBe(`${sha256(gz)}  worker.raw.gz\n`);
    const r = run('sha256sum', ['-c', 'worker.raw.gz.sha256'], { cwd: join(out, 'images') });
    expect(r.stdout).toBe('worker.raw.gz: OK\n');
    expect(r.status).toBe(0);
  });

  it('seeds: the same bytes as out/worker/seeds/, the directories 0700 and the files 0600', async () => {
    const r = await mkimage(cwd, 'worker');
    expect(r.code, r.err).toBe(0);
    expect(mode(join(out, 'seeds'))).toBe(0o700);
    for (const node of ['worker1', 'worker2']) {
      expect(mode(join(out, 'seeds', node))).toBe(0o700);
      for (const f of ['user-data', 'meta-data', 'network-config']) {
        const p = join(out, 'seeds', node, f);
        expect(readFileSync(p).equals(readFileSync(join(cwd, 'out/worker/seeds', node, f))), `${node}/${f}`).toBe(true);
        expect(mode(p), `${node}/${f}`).toBe(0o600);
      }
    }
    expect(readFileSync(join(out, 'seeds/worker1/meta-data'), 'utf8')).toContain('local-hostname: worker1');
  });

  it('dnsmasq.conf passes `dnsmasq --test` and answers PXE ROMs with iPXE, iPXE with the server', () => {
    const conf = join(out, 'dnsmasq.conf');
    const r = run('dnsmasq', ['--test', `--conf-file=${conf}`]);
    expect(r.stderr).toContain('syntax check OK');
    expect(r.status).toBe(0);
    const text = readFileSync(conf, 'utf8');
    expect(text).toContain('dhcp-range=192.168.66.0,proxy\n');
    expect(text).toContain('pxe-service=tag:!ipxe,x86PC,"mkimage: iPXE (BIOS)",undionly.kpxe\n');
    expect(text).toContain('pxe-service=tag:!ipxe,X86-64_EFI,"mkimage: iPXE (UEFI)",snponly.efi\n');
    expect(text).toContain('dhcp-userclass=set:ipxe,iPXE\n');
    expect(text).toContain(`dhcp-boot=tag:ipxe,${SERVER}/boot.ipxe,,0.0.0.1\n`);
    expect(text).toContain(`tftp-root=${join(out, 'tftp')}\n`);
    // the files it names are there
    for (const f of ['undionly.kpxe', 'snponly.efi']) expect(statSync(join(out, 'tftp', f)).size).toBeGreaterThan(10_000);
  });

  it('tftp/: the chain script retries DHCP and the server, and the pxelinux chain starts iPXE with it', () => {
    expect(readFileSync(join(out, 'tftp/boot.ipxe'), 'utf8')).toBe(
      [
        '#!ipxe',
        '# generated by mkimage — do not edit',
        '# mkimage LAN boot: ask `mkimage pxe serve` what this machine boots (install, local disk, or nothing).',
        ':retry',
        'isset ${ip} || dhcp || goto retry',
        `chain ${SERVER}/boot.ipxe?mac=\${net0/mac:hexhyp}&uuid=\${uuid}&platform=\${platform} || goto wait`,
        'exit',
        ':wait',
        `echo mkimage: ${SERVER}/boot.ipxe did not answer, trying again in 10 s`,
        'sleep 10 || goto retry',
        'goto retry',
        '',
      ].join('\n'),
    );
    const cfg = readFileSync(join(out, 'tftp/pxelinux.cfg/default'), 'utf8');
    expect(cfg).toContain('  KERNEL ipxe.lkrn\n  INITRD boot.ipxe\n');
    // the EFI builds are PE files, pxelinux.0 and ldlinux.c32 come with it
    expect(readFileSync(join(out, 'tftp/snponly.efi')).subarray(0, 2).toString()).toBe('MZ');
    expect(readFileSync(join(out, 'tftp/ipxe.efi')).subarray(0, 2).toString()).toBe('MZ');
  });

  it('is byte-identical when run again, and a qcow2 of the same disk gives the same raw.gz', async () => {
    const before = tree(out);
    const again = await mkimage(cwd, 'pxe', 'build', '--image', 'golden.raw', '--server', SERVER);
    expect(again.code, again.err).toBe(0);
    expect(tree(out)).toEqual(before);
    const q = run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', join(cwd, 'golden.raw'), join(cwd, 'golden.qcow2')]);
    expect(q.status, q.stderr).toBe(0);
    const fromQcow2 = await mkimage(cwd, 'pxe', 'build', '--image', 'golden.qcow2', '--server', SERVER, '--out', 'out/pxe-q');
    expect(fromQcow2.code, fromQcow2.err).toBe(0);
    expect(sha256(readFileSync(join(cwd, 'out/pxe-q/images/worker.raw.gz')))).toBe(before.get('images/worker.raw.gz'));
  }, 300_000);
});

describe('mkimage pxe build: the golden image', () => {
  it('none found and no --image: E022 with the three fixes, exit 3, nothing written; following --no-image works', async () => {
    const cwd = tmp();
    const r = await mkimage(cwd, 'pxe', 'build');
    expect(r.code).toBe(3);
    expect(r.err).toContain('error[E022]: no golden image for worker in images/homelab/worker/: build it with `mkimage worker --build`, name one with --image FILE (qcow2 or raw), or leave it out with --no-image');
    expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
    expect(existsSync(join(cwd, 'out'))).toBe(false);
    const fixed = await mkimage(cwd, 'pxe', 'build', '--no-image', '--json');
    expect(fixed.code, fixed.err).toBe(0);
    expect(JSON.parse(readFileSync(join(cwd, 'out/pxe/pxe.json'), 'utf8')).images).toEqual({});
    expect(existsSync(join(cwd, 'out/pxe/images'))).toBe(false);
    expect(JSON.parse(fixed.out)).toMatchObject({ ok: true, image: null, nodes: ['worker1', 'worker2'] });
    // a second build replaces its own out/pxe/ (the marker says mkimage wrote it), keeping nothing stale
    writeFileSync(join(cwd, 'out/pxe/stale'), 'x');
    expect((await mkimage(cwd, 'pxe', 'build', '--no-image')).code).toBe(0);
    expect(existsSync(join(cwd, 'out/pxe/stale'))).toBe(false);
  }, 300_000);

  it('--image naming no file is E022 too', async () => {
    const r = await mkimage(tmp(), 'pxe', 'build', '--image', 'missing.qcow2');
    expect(r.code).toBe(3);
    expect(r.err).toContain('error[E022]: --image missing.qcow2: no such file');
  });

  it('takes the newest image under images/<cluster>/<role>/, the default server, and the chain script names it', async () => {
    const cwd = tmp();
    const dir = join(cwd, 'images/homelab/worker');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'old.raw'), Buffer.alloc(1 << 20, 1));
    writeFileSync(join(dir, 'new.raw'), Buffer.alloc(2 << 20, 2));
    writeFileSync(join(dir, 'notes.txt'), 'not an image');
    utimesSync(join(dir, 'old.raw'), new Date(1_600_000_000_000), new Date(1_600_000_000_000));
    const r = await mkimage(cwd, 'pxe', 'build');
    expect(r.code, r.err).toBe(0);
    const m = JSON.parse(readFileSync(join(cwd, 'out/pxe/pxe.json'), 'utf8'));
    expect(m.images.worker.rawSize).toBe(2 << 20);
    expect(m.server).toBe('http://${next-server}:8080');
    const conf = readFileSync(join(cwd, 'out/pxe/dnsmasq.conf'), 'utf8');
    // iPXE expands ${next-server} only in a script: dnsmasq hands iPXE the TFTP chain script instead of a URL
    expect(conf).toContain('dhcp-boot=tag:ipxe,boot.ipxe\n');
    expect(run('dnsmasq', ['--test', `--conf-file=${join(cwd, 'out/pxe/dnsmasq.conf')}`]).status).toBe(0);
    expect(readFileSync(join(cwd, 'out/pxe/tftp/boot.ipxe'), 'utf8')).toContain('chain http://${next-server}:8080/boot.ipxe?mac=');
  }, 300_000);
});

describe('mkimage pxe build: bad input', () => {
  /** The embedded profiles with worker2 made arm64. */
  function armCluster(cwd: string): string {
    const doc = parseDocument(readFileSync(join(PACKAGE_ROOT, 'profiles/cluster.yaml'), 'utf8'));
    doc.setIn(['nodes', 2, 'arch'], 'arm64');
    const p = join(cwd, 'cluster.yaml');
    writeFileSync(p, doc.toString());
    return p;
  }

  it.each([
    [['--server', 'https://192.168.66.5:8080'], 'E006', "Debian's iPXE has no HTTPS"],
    [['--server', 'http://192.168.66.5:8080/boot/'], 'E007', 'is not http://HOST[:PORT]'],
    [['--server', '192.168.66.5'], 'E007', 'is not http://HOST[:PORT]'],
    [['--role', 'nope'], 'E010', 'there is no profile "nope"'],
    [['--role', 'ikuai-gateway'], 'E018', 'configures the router'],
  ])('%j: %s, exit 2, nothing written', async (args, code, text) => {
    const cwd = tmp();
    const r = await mkimage(cwd, 'pxe', 'build', '--no-image', ...args);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`error[${code}]`);
    expect(r.err).toContain(text);
    expect(existsSync(join(cwd, 'out'))).toBe(false);
  });

  it('a Flatcar node is no longer refused by pxe build: without artifactMirrors it is the Flatcar plan\'s own E005, nothing written', async () => {
    const cwd = tmp();
    const doc = parseDocument(readFileSync(join(PACKAGE_ROOT, 'profiles/cluster.yaml'), 'utf8'));
    doc.setIn(['nodes', 1, 'osFamily'], 'flatcar');
    writeFileSync(join(cwd, 'cluster.yaml'), doc.toString());
    const r = await mkimage(cwd, 'pxe', 'build', '--no-image', '--cluster', join(cwd, 'cluster.yaml'));
    expect(r.code).toBe(2);
    expect(r.err).not.toContain('runs Flatcar'); // the Flatcar plan's own checks remain (docker.version, artifactMirrors)
    expect(r.err).toContain('error[E005]: osFamily flatcar: Ignition downloads');
    expect(existsSync(join(cwd, 'out'))).toBe(false);
  });

  it('an arm64 node is E018 at its arch in the cluster file', async () => {
    const cwd = tmp();
    const r = await mkimage(cwd, 'pxe', 'build', '--no-image', '--cluster', armCluster(cwd));
    expect(r.code).toBe(2);
    expect(r.err).toContain('error[E018]: node worker2 is arm64: LAN boot is amd64 only');
    expect(r.err).toMatch(/--> .*cluster\.yaml:\d+:\d+/);
  });

  it('--out holding files mkimage did not write is E017, and they stay', async () => {
    const cwd = tmp();
    mkdirSync(join(cwd, 'mine'));
    writeFileSync(join(cwd, 'mine/notes.txt'), 'keep me');
    const r = await mkimage(cwd, 'pxe', 'build', '--no-image', '--out', 'mine');
    expect(r.code).toBe(2);
    expect(r.err).toContain('error[E017]');
    expect(readFileSync(join(cwd, 'mine/notes.txt'), 'utf8')).toBe('keep me');
  });
});

describe('a file of an unpacked package is read through its links inside the package, never on the host', () => {
  it('an absolute link (ipxe\'s usr/lib/ipxe/ipxe.efi -> /boot/ipxe.efi), a relative one, and one climbing past the root', async () => {
    const root = tmp();
    mkdirSync(join(root, 'boot'));
    mkdirSync(join(root, 'usr/lib/ipxe'), { recursive: true });
    writeFileSync(join(root, 'boot/ipxe.efi'), 'the package\'s own');
    symlinkSync('/boot/ipxe.efi', join(root, 'usr/lib/ipxe/ipxe.efi'));
    symlinkSync('../../../boot/ipxe.efi', join(root, 'usr/lib/ipxe/rel.efi'));
    symlinkSync('../../../../../../boot/ipxe.efi', join(root, 'usr/lib/ipxe/climbing.efi'));
    symlinkSync('chain2', join(root, 'usr/lib/ipxe/chain1'));
    symlinkSync('ipxe.efi', join(root, 'usr/lib/ipxe/chain2'));
    for (const name of ['ipxe.efi', 'rel.efi', 'climbing.efi', 'chain1']) {
      const file = await packageFile(root, `usr/lib/ipxe/${name}`);
      expect(file).toBe(join(root, 'boot/ipxe.efi'));
      expect(readFileSync(file, 'utf8')).toBe('the package\'s own');
    }
    expect(await packageFile(root, 'boot/ipxe.efi')).toBe(join(root, 'boot/ipxe.efi'));
    symlinkSync('loop', join(root, 'loop'));
    await expect(packageFile(root, 'loop')).rejects.toThrow(/too many symbolic links in the package; delete it from the cache/);
  });
});
