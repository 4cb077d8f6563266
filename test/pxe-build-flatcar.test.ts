// `mkimage pxe build` for a role with Flatcar nodes (the Flatcar bed: shipped profiles, STAND-IN downloads in an
// artifact cache), through the command's function with real Debian boot packages (cached). worker1 runs Flatcar and
// worker2 (osFamily el9 on its node) installs a golden image: one out/pxe/ for both. Flatcar's PXE kernel and initrd
// are STAND-INs served by a mirror on 127.0.0.1 and fetched through mkimage's artifact system (verified against
// mkimage.lock). Checked: the layout and pxe.json, node.ign byte-equal to out/worker/ignition/worker1.ign, both
// configs through the real ignition-validate (and a broken one rejected), modes, and a wrong stand-in refused.

import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pxeBuild, type PxeBuildFlags } from '../src/cli/pxe-build.js';
import { runCommand, type Io } from '../src/cli/run.js';
import { serializeLock, type LockEntry } from '../src/fetch/lock.js';
import { renderRole } from '../src/pipeline.js';
import { fileNameOf } from '../src/fetch/index.js';
import { FLATCAR_VERSION, flatcarPxeArtifacts } from '../src/pxe/flatcar.js';
import { makeFlatcarBed, MIRROR, type FlatcarBed } from './helpers/flatcar-bed.js';
import { startServer, type TestServer } from './helpers/http-server.js';
import { filesUnder } from './helpers/tree.js';
import { mkimage } from './helpers/cli.js';
import { pxeCache } from './helpers/pxe-packages.js';
import { scratchDirs } from './helpers/tmp.js';
import { run, tool } from './helpers/tools.js';

const tmp = scratchDirs('mkimage-pxe-flatcar-');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const mode = (p: string) => statSync(p).mode & 0o777;
const KERNEL = Buffer.from('STAND-IN flatcar_production_pxe.vmlinuz for mkimage tests (not a kernel)\n');
const INITRD = Buffer.from('STAND-IN flatcar_production_pxe_image.cpio.gz for mkimage tests (not an initrd)\n');
const IMAGE = Buffer.concat([Buffer.from('STAND-IN flatcar_production_image.bin.bz2 for mkimage tests (not an image)\n'), Buffer.alloc(256 * 1024, 0x5a)]);
const SIGNATURE = Buffer.from('STAND-IN flatcar_production_image.bin.bz2.sig for mkimage tests (not a signature)\n');
const SERVER = 'http://192.168.66.5:8080';

async function build(b: FlatcarBed, ...extra: Array<[string, unknown]>): Promise<{ code: number; err: string; out: string }> {
  let out = '';
  let err = '';
  const io: Io = { out: (s) => void (out += s), err: (s) => void (err += s), color: false, tty: false, cwd: b.cwd, exitCode: 0 };
  const o: PxeBuildFlags = { profiles: b.profilesDir, cluster: b.clusterFile, secrets: b.secretsDir, cacheDir: b.cacheDir, server: SERVER, ...Object.fromEntries(extra) };
  await runCommand(io, o, () => pxeBuild(io, o));
  return { code: io.exitCode, err, out };
}

/** The STAND-IN files a Flatcar LAN boot needs, by flatcarPxeArtifacts' key, and where the test mirror serves them. */
const STAND_INS = { kernel: KERNEL, initrd: INITRD, image: IMAGE, signature: SIGNATURE };
const UPSTREAM = flatcarPxeArtifacts([]);
/** Where flatcar-install -b http://<server>/flatcar/amd64-usr -V <version> looks (src/pxe/flatcar.ts cites the script). */
const IMAGE_PATH = `flatcar/amd64-usr/${FLATCAR_VERSION}/flatcar_production_image.bin.bz2`;
const mirrorPath = (key: keyof typeof STAND_INS) => `/flatcar/${fileNameOf(UPSTREAM[key])}`;

/** mkimage.lock with the bed's entries and the STAND-IN Flatcar files' sums under their upstream URLs (`other` replaces some). */
function lockStandIns(b: FlatcarBed, other: Partial<typeof STAND_INS> = {}): void {
  const lock = JSON.parse(readFileSync(join(b.cwd, 'mkimage.lock'), 'utf8')) as { artifacts: LockEntry[] };
  const artifacts = lock.artifacts.filter((e) => !e.name.startsWith('flatcar-pxe-') && !e.name.startsWith('flatcar-image'));
  for (const key of Object.keys(STAND_INS) as Array<keyof typeof STAND_INS>) {
    const bytes = other[key] ?? STAND_INS[key];
    artifacts.push({ name: UPSTREAM[key].name, url: UPSTREAM[key].urls[0]!, size: bytes.length, sha256: sha256(bytes) });
  }
  writeFileSync(join(b.cwd, 'mkimage.lock'), serializeLock({ lockVersion: 1, artifacts }));
}

/** Every Flatcar node's two configs in out/pxe/ through the real ignition-validate; returns the nodes checked. */
function validateAll(out: string): string[] {
  const nodes = (JSON.parse(readFileSync(join(out, 'pxe.json'), 'utf8')).nodes as Array<{ name: string; ignition?: string }>).filter((n) => n.ignition !== undefined);
  for (const n of nodes) {
    for (const f of ['install.ign', 'node.ign']) {
      const v = run('ignition-validate', [join(out, n.ignition!, f)]);
      expect(v.stdout + v.stderr, `${n.name}/${f}`).toBe('');
      expect(v.status, `${n.name}/${f}`).toBe(0);
    }
  }
  return nodes.map((n) => n.name);
}

describe('mkimage pxe build with Flatcar nodes', () => {
  let mirror: TestServer;
  let b: FlatcarBed;
  let first: { code: number; err: string; out: string };
  let out: string;
  beforeAll(async () => {
    tool('ignition-validate');
    mirror = await startServer(
      Object.fromEntries((Object.keys(STAND_INS) as Array<keyof typeof STAND_INS>).map((k) => [mirrorPath(k), (_q, s) => void s.writeHead(200).end(STAND_INS[k])])),
    );
    const cwd = tmp();
    b = await makeFlatcarBed(cwd, {
      // the local mirror first (it holds the PXE files by name), then the bed's; worker2 installs el9 from a golden image
      edit: (t) =>
        t.replace(`artifactMirrors: ["${MIRROR}"]`, `artifactMirrors: ["${mirror.url('/flatcar/')}", "${MIRROR}"]`)
          .replace('  - name: worker2\n    role: worker\n', '  - name: worker2\n    role: worker\n    osFamily: el9\n'),
    });
    lockStandIns(b);
    writeFileSync(join(cwd, 'golden.raw'), Buffer.alloc(1 << 20, 7));
    first = await build(b, ['image', 'golden.raw']);
    out = join(cwd, 'out/pxe');
  }, 600_000);
  afterAll(async () => mirror.close());

  it('writes the Flatcar kernel, initrd, OS image and signature as fetched, each node\'s configs, and worker2\'s seed and image', () => {
    expect(first.code, first.err).toBe(0);
    expect(first.err).toContain(`wrote out/pxe/: 2 node(s) (worker1, worker2)`);
    expect(first.err).toContain(`image worker.raw.gz, Flatcar ${FLATCAR_VERSION} PXE kernel, initrd and OS image with Ignition configs for worker1;`);
    const files = filesUnder(out).sort();
    for (const f of [
      'flatcar/flatcar_production_pxe.vmlinuz', 'flatcar/flatcar_production_pxe_image.cpio.gz', IMAGE_PATH, `${IMAGE_PATH}.sig`,
      'ignition/worker1/install.ign', 'ignition/worker1/node.ign', 'images/worker.raw.gz',
      'seeds/worker2/meta-data', 'seeds/worker2/network-config', 'seeds/worker2/user-data',
    ]) expect(files, f).toContain(f);
    expect(files.filter((f) => f.startsWith('seeds/worker1') || f.startsWith('ignition/worker2'))).toEqual([]);
    expect(readFileSync(join(out, 'flatcar/flatcar_production_pxe.vmlinuz')).equals(KERNEL)).toBe(true);
    expect(readFileSync(join(out, 'flatcar/flatcar_production_pxe_image.cpio.gz')).equals(INITRD)).toBe(true);
    expect(readFileSync(join(out, IMAGE_PATH)).equals(IMAGE)).toBe(true);
    expect(readFileSync(join(out, `${IMAGE_PATH}.sig`)).equals(SIGNATURE)).toBe(true);
    for (const k of Object.keys(STAND_INS) as Array<keyof typeof STAND_INS>) expect(mirror.hits(mirrorPath(k)).length, k).toBe(1);
    expect(mode(join(out, 'ignition'))).toBe(0o700);
    expect(mode(join(out, 'ignition/worker1'))).toBe(0o700);
    for (const f of ['install.ign', 'node.ign']) expect(mode(join(out, 'ignition/worker1', f))).toBe(0o600);
    expect(mode(join(out, 'flatcar/flatcar_production_pxe.vmlinuz'))).toBe(0o644);
    expect(mode(join(out, IMAGE_PATH))).toBe(0o644);
    for (const d of ['flatcar', 'flatcar/amd64-usr', `flatcar/amd64-usr/${FLATCAR_VERSION}`]) expect(mode(join(out, d)), d).toBe(0o755);
  });

  it('pxe.json: the flatcar section after installer, worker1 by its ignition directory, worker2 by its seed', () => {
    const m = JSON.parse(readFileSync(join(out, 'pxe.json'), 'utf8'));
    expect(Object.keys(m)).toEqual(['version', 'cluster', 'server', 'installer', 'flatcar', 'images', 'nodes']);
    expect(m.flatcar).toEqual({
      channel: 'stable', version: FLATCAR_VERSION, kernel: 'flatcar/flatcar_production_pxe.vmlinuz', initrd: 'flatcar/flatcar_production_pxe_image.cpio.gz',
      base: 'flatcar/amd64-usr', image: IMAGE_PATH, signature: `${IMAGE_PATH}.sig`,
    });
    expect(m.nodes).toEqual([
      { name: 'worker1', role: 'worker', mac: '52:54:00:66:00:21', ip: '192.168.66.21', ignition: 'ignition/worker1' },
      { name: 'worker2', role: 'worker', mac: '52:54:00:66:00:22', ip: '192.168.66.22', seed: 'seeds/worker2' },
    ]);
  });

  it('node.ign is byte-equal to what `mkimage worker` writes to out/worker/ignition/worker1.ign', async () => {
    const r = await renderRole({ role: 'worker', cwd: b.cwd, profilesDir: b.profilesDir, clusterFile: b.clusterFile, secretsDir: b.secretsDir, cacheDir: b.cacheDir });
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const own = readFileSync(join(b.cwd, 'out/worker/ignition/worker1.ign'));
    expect(readFileSync(join(out, 'ignition/worker1/node.ign')).equals(own)).toBe(true);
    expect(own.toString()).toContain('"version": "3.3.0"');
  });

  it('both configs pass the real ignition-validate; a broken one is rejected', () => {
    expect(validateAll(out)).toEqual(['worker1']);
    const install = JSON.parse(readFileSync(join(out, 'ignition/worker1/install.ign'), 'utf8'));
    expect(install.systemd.units[0].name).toBe('mkimage-flatcar-install.service');
    expect(install.storage.files.map((f: { path: string }) => f.path)).toContain('/opt/mkimage/flatcar-install.sh');
    install.storage.files[0].mode = '0644'; // a string, not Ignition's integer
    const broken = join(tmp(), 'broken.ign');
    writeFileSync(broken, JSON.stringify(install));
    expect(run('ignition-validate', [broken]).status).not.toBe(0);
  });

  it('is byte-identical when run again', async () => {
    const before = new Map(filesUnder(out).map((f) => [f, sha256(readFileSync(join(out, f)))]));
    const again = await build(b, ['image', 'golden.raw']);
    expect(again.code, again.err).toBe(0);
    expect(new Map(filesUnder(out).map((f) => [f, sha256(readFileSync(join(out, f)))]))).toEqual(before);
  }, 300_000);

  it('a Flatcar-only role needs no golden image; a PXE file that does not match mkimage.lock stops the build with nothing written', async () => {
    const only = await makeFlatcarBed(tmp(), { edit: (t) => t.replace(`artifactMirrors: ["${MIRROR}"]`, `artifactMirrors: ["${mirror.url('/flatcar/')}", "${MIRROR}"]`) });
    lockStandIns(only);
    const r = await build(only);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain('no golden image (Flatcar)');
    expect(JSON.parse(readFileSync(join(only.cwd, 'out/pxe/pxe.json'), 'utf8')).images).toEqual({});
    expect(validateAll(join(only.cwd, 'out/pxe'))).toEqual(['worker1', 'worker2']);

    const wrong = await makeFlatcarBed(tmp(), { edit: (t) => t.replace(`artifactMirrors: ["${MIRROR}"]`, `artifactMirrors: ["${mirror.url('/flatcar/')}", "${MIRROR}"]`) });
    lockStandIns(wrong, { kernel: Buffer.from('other kernel') });
    const w = await build(wrong, ['json', false]);
    expect(w.code).not.toBe(0);
    expect(w.err).toContain('error[E015]: could not fetch flatcar_production_pxe.vmlinuz');
    expect(w.err).toContain(`sha256 mismatch for flatcar_production_pxe.vmlinuz (flatcar-pxe-kernel ${FLATCAR_VERSION} amd64) from ${mirror.url('/flatcar/flatcar_production_pxe.vmlinuz')}`);
    expect(w.err).not.toMatch(/\n\s+at /);
    expect(filesUnder(wrong.cwd).filter((f) => f.startsWith('out/'))).toEqual([]);
  }, 300_000);
});

describe('offline: `mkimage bundle` carries what a Flatcar LAN boot needs', () => {
  let mirror: TestServer;
  beforeAll(async () => {
    tool('tar');
    mirror = await startServer(
      Object.fromEntries((Object.keys(STAND_INS) as Array<keyof typeof STAND_INS>).map((k) => [mirrorPath(k), (_q, s) => void s.writeHead(200).end(STAND_INS[k])])),
    );
  });
  afterAll(async () => mirror.close());

  it('bundle takes the PXE kernel, initrd, OS image and .sig with the rest; where none is cached and the mirror is not asked, fetch --offline --bundle and pxe build write them', async () => {
    const b = await makeFlatcarBed(tmp(), { edit: (t) => t.replace(`artifactMirrors: ["${MIRROR}"]`, `artifactMirrors: ["${mirror.url('/flatcar/')}", "${MIRROR}"]`) });
    lockStandIns(b);
    // the CLI's cache is $XDG_CACHE_HOME/mkimage: the bed's, with pxe/ (Debian's boot packages) the real one's
    const realPxe = pxeCache();
    const xdg = join(b.cwd, 'xdg');
    mkdirSync(xdg);
    symlinkSync(b.cacheDir, join(xdg, 'mkimage'));
    symlinkSync(realPxe, join(b.cacheDir, 'pxe'));
    const saved = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = xdg;
    try {
      const flags = ['--profiles', b.profilesDir, '--cluster', b.clusterFile, '--secrets', b.secretsDir];
      const bundled = await mkimage(b.cwd, 'bundle', '--out', 'bundle.tar', ...flags);
      expect(bundled.code, bundled.err).toBe(0);
      for (const k of Object.keys(STAND_INS) as Array<keyof typeof STAND_INS>) expect(bundled.err).toContain(`${UPSTREAM[k].name} ${FLATCAR_VERSION} amd64`);
      const tarball = join(b.cwd, 'bundle.tar');
      const names = run('tar', ['-tf', tarball]).stdout.split('\n');
      for (const k of Object.keys(STAND_INS) as Array<keyof typeof STAND_INS>) {
        expect(names, k).toContain(`by-name/${UPSTREAM[k].name}/${FLATCAR_VERSION}/amd64/${fileNameOf(UPSTREAM[k])}`);
        const member = spawnSync('tar', ['-xOf', tarball, `sha256/${sha256(STAND_INS[k])}`]);
        expect(member.status, k).toBe(0);
        expect(member.stdout.equals(STAND_INS[k]), k).toBe(true);
      }
      const hits = () => (Object.keys(STAND_INS) as Array<keyof typeof STAND_INS>).map((k) => mirror.hits(mirrorPath(k)).length);
      expect(hits()).toEqual([1, 1, 1, 1]);

      // the machine behind the firewall: none of the four in its cache
      for (const bytes of Object.values(STAND_INS)) rmSync(join(b.cacheDir, 'cas', sha256(bytes)));
      const fetched = await mkimage(b.cwd, 'fetch', '--offline', '--bundle', tarball, ...flags);
      expect(fetched.code, fetched.err).toBe(0);
      expect(fetched.err).toContain(`flatcar-image ${FLATCAR_VERSION} amd64: sha256 ${sha256(IMAGE)} (bundle)`);
      expect(fetched.err).toContain(`flatcar-image-sig ${FLATCAR_VERSION} amd64: sha256 ${sha256(SIGNATURE)} (bundle)`);
      const r = await build(b);
      expect(r.code, r.err).toBe(0);
      const out = join(b.cwd, 'out/pxe');
      expect(readFileSync(join(out, IMAGE_PATH)).equals(IMAGE)).toBe(true);
      expect(readFileSync(join(out, `${IMAGE_PATH}.sig`)).equals(SIGNATURE)).toBe(true);
      expect(readFileSync(join(out, 'flatcar/flatcar_production_pxe.vmlinuz')).equals(KERNEL)).toBe(true);
      expect(hits()).toEqual([1, 1, 1, 1]); // nothing more from the mirror
    } finally {
      if (saved === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = saved;
    }
  }, 300_000);
});
