// The Flatcar install config (src/flatcar/install-config.ts) and what it runs, for real on this machine: its files
// are taken out of the config's data: URLs and the install script runs under sh against a fake root (MKIMAGE_ROOT:
// /proc/cmdline from the kernel line a real `mkimage pxe serve` on 127.0.0.1 handed out, a fake sysfs with disks,
// the disks as plain files), with a FAKE flatcar-install and a FAKE systemctl on PATH that record their arguments;
// curl is the real one. Plus ignition-validate on the config (and on a broken one), shellcheck on the scripts and
// `systemd-analyze verify` on the unit. No real Flatcar boots here: its images cannot be fetched.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { IgnitionConfig } from '../src/emit/ignition.js';
import { INSTALL_SCRIPT, INSTALL_UNIT, INSTALLER_LIB, LIVE_USER, renderInstallConfig } from '../src/flatcar/install-config.js';
import { FLATCAR_CHANNEL, FLATCAR_VERSION, flatcarImageBase } from '../src/pxe/flatcar.js';
import { startPxeServe, type RunningServe } from '../src/serve/run.js';
import { templateText } from '../src/template.js';
import { fetchRaw, ignitionText, makePxeFixture, removePxeFixtures, tokenIn } from './serve-fixture.js';
import { verifyUnits } from './helpers/systemd-root.js';
import { scratchDirs } from './helpers/tmp.js';
import { run, tool } from './helpers/tools.js';

const tmp = scratchDirs('mkimage-flatcar-install-');
const exec = promisify(execFile);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForMkimageTestsOnly0000000000000000 admin@test';

beforeAll(() => {
  for (const t of ['ignition-validate', 'shellcheck', 'systemd-analyze', 'curl', 'sh', 'bash', 'wget', 'sha256sum']) tool(t);
});

/** The bytes of an Ignition data: URL (escaped, base64, or gzip + base64). */
function decode(f: IgnitionConfig['storage']['files'][number]): Buffer {
  const src = f.contents.source;
  let bytes: Buffer;
  if (src.startsWith('data:;base64,')) bytes = Buffer.from(src.slice('data:;base64,'.length), 'base64');
  else if (src.startsWith('data:,')) bytes = Buffer.from(decodeURIComponent(src.slice('data:,'.length)), 'utf8');
  else throw new Error(`not a data URL: ${src.slice(0, 40)}`);
  return f.contents.compression === 'gzip' ? gunzipSync(bytes) : bytes;
}

const rendered = () => renderInstallConfig({ node: 'flatcar1', channel: FLATCAR_CHANNEL, version: FLATCAR_VERSION, base: flatcarImageBase(), sshAuthorizedKeys: [KEY] });
const fileAt = (c: IgnitionConfig, path: string) => c.storage.files.find((f) => f.path === path)!;

describe('the install config', () => {
  it('is Ignition 3.3.0 and passes the real ignition-validate; a broken one is rejected', () => {
    const { config, text } = rendered();
    expect(config.ignition.version).toBe('3.3.0');
    expect(text).toBe(`${JSON.stringify(config, null, 2)}\n`);
    const d = tmp();
    writeFileSync(join(d, 'install.ign'), text);
    const v = run('ignition-validate', [join(d, 'install.ign')]);
    expect(v.stdout + v.stderr).toBe('');
    expect(v.status).toBe(0);
    const broken = structuredClone(config) as unknown as { storage: { files: Array<Record<string, unknown>> } };
    broken.storage.files[2]!.path = 'opt/mkimage/flatcar-install.sh'; // not absolute
    writeFileSync(join(d, 'broken.ign'), JSON.stringify(broken));
    const b = run('ignition-validate', [join(d, 'broken.ign')]);
    expect(b.status).not.toBe(0);
    expect(b.stdout + b.stderr).toContain('path not absolute');
  });

  it('writes the script (0755), the shared installer library and the host name, enables the unit, and gives core the admin\'s keys', () => {
    const { config } = rendered();
    expect(config.storage.files.map((f) => [f.path, f.mode.toString(8)])).toEqual([
      ['/etc/hostname', '644'],
      [INSTALLER_LIB, '644'],
      [INSTALL_SCRIPT, '755'],
    ]);
    expect(decode(fileAt(config, '/etc/hostname')).toString()).toBe('flatcar1\n');
    expect(decode(fileAt(config, INSTALLER_LIB)).toString()).toBe(templateText('pxe/installer-lib.sh'));
    const script = decode(fileAt(config, INSTALL_SCRIPT)).toString();
    expect(script).toContain(`CHANNEL='stable'\nVERSION='${FLATCAR_VERSION}'\nBASE='flatcar/amd64-usr'\n`);
    expect(script).not.toContain('{{');
    expect(config.systemd.units).toEqual([{ name: INSTALL_UNIT, enabled: true, contents: expect.stringContaining(`ExecStart=${INSTALL_SCRIPT}\n`) }]);
    expect(config.passwd.users).toEqual([{ name: LIVE_USER, groups: [], sshAuthorizedKeys: [KEY] }]);
    // nothing secret: the token comes from the kernel line
    expect(JSON.stringify(config)).not.toMatch(/token=[A-Za-z0-9_-]{24}/);
    expect(renderInstallConfig({ node: 'n', channel: 'stable', version: FLATCAR_VERSION, base: flatcarImageBase(), sshAuthorizedKeys: [] }).config.passwd.users).toEqual([]);
  });

  it('the script passes shellcheck (POSIX sh, following the library it sources), and the unit systemd-analyze verify', () => {
    const { config } = rendered();
    const d = tmp();
    writeFileSync(join(d, 'flatcar-install.sh'), decode(fileAt(config, INSTALL_SCRIPT)));
    writeFileSync(join(d, 'installer-lib.sh'), decode(fileAt(config, INSTALLER_LIB)));
    const s = run('shellcheck', ['-s', 'sh', '-x', '-f', 'gcc', 'flatcar-install.sh', 'installer-lib.sh'], { cwd: d });
    expect(s.stdout + s.stderr).toBe('');
    expect(s.status).toBe(0);
    const v = verifyUnits([{ path: `/etc/systemd/system/${INSTALL_UNIT}`, content: config.systemd.units[0]!.contents! }]);
    expect(v.warnings).toEqual([]);
    expect(v.status, v.stderr).toBe(0);
  });
});

const running: RunningServe[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
});
afterAll(removePxeFixtures);

const MIB = 2048; // sectors
/** A fake root: /sys/block with two virtio disks, a larger CD, loop device and removable stick (never chosen). */
function fakeRoot(): string {
  const root = tmp();
  const disk = (name: string, sectors: number, o: { removable?: boolean; device?: boolean; serial?: string } = {}) => {
    const b = join(root, 'sys/block', name);
    mkdirSync(b, { recursive: true });
    writeFileSync(join(b, 'size'), `${sectors}\n`);
    writeFileSync(join(b, 'removable'), o.removable ? '1\n' : '0\n');
    writeFileSync(join(b, 'ro'), '0\n');
    if (o.device !== false) mkdirSync(join(b, 'device'));
    if (o.serial !== undefined) writeFileSync(join(b, 'serial'), `${o.serial}\n`);
    mkdirSync(join(root, 'dev'), { recursive: true });
    writeFileSync(join(root, 'dev', name), Buffer.alloc(sectors * 512, 0xee));
  };
  disk('vda', 3 * MIB, { serial: 'disk0' });
  disk('vdb', 4 * MIB);
  disk('sr0', 8 * MIB);
  disk('loop0', 8 * MIB, { device: false });
  disk('sdc', 8 * MIB, { removable: true });
  mkdirSync(join(root, 'proc'));
  return root;
}

/**
 * FAKE flatcar-install (the real one needs a Flatcar live system and Flatcar's signed image) and FAKE systemctl:
 * record their arguments (and the -i file) under $REC; FAKE_FAIL=1 fails mid-write. The fake parses its options
 * and builds the image URLs as the real one does (flatcar/init bin/flatcar-install at commit
 * 0765e955aca24034d66b9389e0d538e4c3ee543c: the same getopts string, BASE_URL="${OPTARG%/}", prep_url's
 * IMAGE_NAME, OEM and ${BASE_URL}/${VERSION_ID}/${IMAGE_NAME}[.sig]), and fetches them the same way, with wget
 * (--spider, i.e. HEAD, first), from the server it was given; it records their sha256 where the real one would
 * run `gpg --verify` with its built-in key (a STAND-IN image has no Flatcar signature). Without -b it stops: the
 * real one would go to the release server on the internet.
 */
function fakeBin(rec: string): string {
  const bin = join(rec, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    join(bin, 'flatcar-install'),
    [
      '#!/bin/bash',
      '# FAKE flatcar-install for mkimage tests: parses its options and fetches the image and .sig like the real one',
      'set -e -o pipefail',
      'printf "%s\\n" "$@" > "$REC/flatcar-install.argv"',
      'OEM_ID=pxe # as if the live system named an OEM: only -o \'\' gets the generic image',
      'WGET_ARGS="--tries 10 --timeout=20 --retry-connrefused"',
      'while getopts "V:B:C:DI:d:o:c:e:i:t:b:k:f:nusyvh" OPTION; do',
      '  case $OPTION in',
      '    V) VERSION_ID="$OPTARG" ;; C) CHANNEL_ID="$OPTARG" ;; d) DEVICE="$OPTARG" ;; o) OEM_ID="$OPTARG" ;;',
      '    i) IGNITION="$OPTARG" ;; b) BASE_URL="${OPTARG%/}" ;; k) KEYFILE="$OPTARG" ;; f) IMAGE_FILE="$OPTARG" ;;',
      '    *) echo "FAKE flatcar-install: option -$OPTION is not used by mkimage" >&2; exit 1 ;;',
      '  esac',
      'done',
      '[ -z "$KEYFILE$IMAGE_FILE" ] || { echo "FAKE flatcar-install: -k/-f would change or skip the signature check" >&2; exit 1; }',
      '[ -n "$BASE_URL" ] || { echo "FAKE flatcar-install: no -b: would download from https://${CHANNEL_ID}.release.flatcar-linux.net" >&2; exit 1; }',
      '[ -n "$VERSION_ID" ] && [ "$VERSION_ID" != current ] || { echo "FAKE flatcar-install: no -V: would fetch version.txt" >&2; exit 1; }',
      'IMAGE_NAME="flatcar_production_image.bin.bz2"',
      '[ -z "$OEM_ID" ] || IMAGE_NAME="flatcar_production_${OEM_ID}_image.bin.bz2"',
      'IMAGE_URL="${BASE_URL}/${VERSION_ID}/${IMAGE_NAME}"',
      'SIG_URL="${IMAGE_URL}.sig"',
      'echo "$IMAGE_URL" > "$REC/image.url"',
      'wget ${WGET_ARGS} --spider --quiet "${IMAGE_URL}" || { echo "$0: Image URL unavailable: $IMAGE_URL" >&2; exit 1; }',
      'wget ${WGET_ARGS} --spider --quiet "${SIG_URL}" || { echo "$0: Image signature unavailable: $SIG_URL" >&2; exit 1; }',
      'wget ${WGET_ARGS} --no-verbose -O "$REC/image.sig" "${SIG_URL}"',
      'wget ${WGET_ARGS} --no-verbose -O - "${IMAGE_URL}" | tee "$REC/image" | sha256sum | cut -d" " -f1 > "$REC/image.sha256"',
      'sha256sum < "$REC/image.sig" | cut -d" " -f1 > "$REC/image.sig.sha256"',
      'cp "$IGNITION" "$REC/config"',
      'printf "FAKE FLATCAR" | dd of="$DEVICE" bs=512 conv=notrunc 2>/dev/null',
      'echo "FAKE flatcar-install: writing $DEVICE"',
      'if [ -n "$FAKE_FAIL" ]; then echo "FAKE flatcar-install: bzip2: data integrity error" >&2; exit 3; fi',
      '',
    ].join('\n'),
  );
  writeFileSync(join(bin, 'systemctl'), '#!/bin/sh\n# FAKE systemctl for mkimage tests\nprintf "%s\\n" "$@" > "$REC/systemctl.argv"\n');
  chmodSync(join(bin, 'flatcar-install'), 0o755);
  chmodSync(join(bin, 'systemctl'), 0o755);
  return bin;
}

async function install(opts: { fail?: boolean; disk?: string } = {}) {
  const fx = makePxeFixture({ nodes: [{ name: 'flatcar1', mac: '52:54:00:66:00:31', ip: '127.0.0.1', flatcar: true, ...(opts.disk !== undefined && { disk: opts.disk }) }] });
  const lines: string[] = [];
  const r = await startPxeServe({ dir: 'out/pxe', cwd: fx.cwd, host: '127.0.0.1', port: 0, natSources: [], logSink: (s) => lines.push(s) });
  expect(r.diagnostics).toEqual([]);
  running.push(r.running!);
  const url = r.running!.url;
  const script = (await fetchRaw(`${url}/boot.ipxe?mac=52-54-00-66-00-31&platform=efi`)).text;
  const token = tokenIn(script)!;
  const root = fakeRoot();
  // the kernel's command line: the iPXE kernel line's arguments, as Flatcar's live system sees them
  writeFileSync(join(root, 'proc/cmdline'), `${script.split('\n')[1]!.split(' ').slice(2).join(' ')}\n`);
  const opt = join(tmp(), 'opt/mkimage');
  mkdirSync(opt, { recursive: true });
  const { config } = rendered();
  for (const p of [INSTALL_SCRIPT, INSTALLER_LIB]) writeFileSync(join(opt, p.slice(p.lastIndexOf('/') + 1)), decode(fileAt(config, p)), { mode: 0o755 });
  const rec = tmp();
  const env = { ...process.env, PATH: `${fakeBin(rec)}:${process.env.PATH}`, MKIMAGE_ROOT: root, REC: rec, ...(opts.fail ? { FAKE_FAIL: '1' } : {}) };
  let code = 0;
  let out = '';
  try {
    out = (await exec('sh', [join(opt, 'flatcar-install.sh')], { env, timeout: 60_000 })).stdout;
  } catch (e) {
    const err = e as { code: number; stdout: string };
    code = err.code;
    out = err.stdout;
  }
  const state = JSON.parse(readFileSync(join(fx.cwd, 'clusters', fx.cluster, 'pxe-state.json'), 'utf8')).machines[0];
  return { fx, url, token, root, rec, code, out, state, lines };
}

describe('the install script against a real pxe serve, with a FAKE flatcar-install', () => {
  it('fetches the node config under the token, installs it on the largest plain disk from the server\'s OS image (-b), reports done, reboots', async () => {
    const r = await install();
    expect(r.code, r.out).toBe(0);
    expect(readFileSync(join(r.rec, 'flatcar-install.argv'), 'utf8').split('\n').slice(0, -1)).toEqual([
      '-d', join(r.root, 'dev/vdb'), '-C', 'stable', '-V', FLATCAR_VERSION, '-b', `${r.url}/flatcar/amd64-usr`, '-o', '', '-i', join(r.root, 'run/mkimage/node.ign'),
    ]);
    // the image and its .sig came from pxe serve, over HTTP, byte for byte, at the path the real script builds
    expect(readFileSync(join(r.rec, 'image.url'), 'utf8')).toBe(`${r.url}/flatcar/amd64-usr/${FLATCAR_VERSION}/flatcar_production_image.bin.bz2\n`);
    expect(readFileSync(join(r.rec, 'image.sha256'), 'utf8').trim()).toBe(sha256(r.fx.flatcarImage!));
    expect(sha256(readFileSync(join(r.rec, 'image')))).toBe(sha256(r.fx.flatcarImage!));
    expect(readFileSync(join(r.rec, 'image.sig.sha256'), 'utf8').trim()).toBe(sha256(r.fx.flatcarSignature!));
    const requests = r.lines.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === 'request');
    const image = `/flatcar/amd64-usr/${FLATCAR_VERSION}/flatcar_production_image.bin.bz2`;
    expect(requests.filter((l) => String(l.path).startsWith('/flatcar/')).map((l) => `${l.method} ${l.path} ${l.status}`)).toEqual([
      `HEAD ${image} 200`, `HEAD ${image}.sig 200`, `GET ${image}.sig 200`, `GET ${image} 200`,
    ]);
    expect(readFileSync(join(r.rec, 'config'), 'utf8')).toBe(ignitionText('flatcar1', 'node.ign'));
    expect(existsSync(join(r.root, 'run/mkimage/node.ign'))).toBe(false); // the config (it holds the join token) is gone
    expect(readFileSync(join(r.rec, 'systemctl.argv'), 'utf8')).toBe('reboot\n');
    expect(r.state).toMatchObject({ node: 'flatcar1', state: 'installed' });
    expect(r.out).toContain(`mkimage-flatcar-install: target disk: ${join(r.root, 'dev/vdb')} (4 MiB)`);
    expect(r.out).toContain('mkimage-flatcar-install: reported done to');
    // what flatcar-install wrote stays
    expect(readFileSync(join(r.root, 'dev/vdb')).subarray(0, 12).toString()).toBe('FAKE FLATCAR');
    const log = r.lines.join('');
    expect(log).toContain('"path":"/ignition/<token>/node.ign","status":200');
    expect(log).not.toContain(r.token);
  }, 90_000);

  it('mkimage.disk=id:<by-id name> picks that disk', async () => {
    const r = await install({ disk: 'id:virtio-disk0' });
    expect(r.code, r.out).toBe(0);
    expect(readFileSync(join(r.rec, 'flatcar-install.argv'), 'utf8')).toContain(`-d\n${join(r.root, 'dev/vda')}\n`);
  }, 90_000);

  it('a failing flatcar-install: /failed with the log tail, the disk\'s partition tables wiped, no reboot, the unit fails', async () => {
    const r = await install({ fail: true });
    expect(r.code).toBe(1);
    expect(existsSync(join(r.rec, 'systemctl.argv'))).toBe(false);
    expect(r.state).toMatchObject({ state: 'failed' });
    expect(r.state.failure.tail).toContain('FAKE flatcar-install: bzip2: data integrity error');
    expect(r.state.failure.tail).toContain('mkimage-flatcar-install: FAILED: flatcar-install exited 3');
    const disk = readFileSync(join(r.root, 'dev/vdb'));
    expect(disk.subarray(0, 1 << 20).every((b) => b === 0)).toBe(true);
    expect(disk.subarray(disk.length - (1 << 20)).every((b) => b === 0)).toBe(true);
    expect(disk[2 << 20]).toBe(0xee); // only the ends
    expect(r.out).toContain('stopped, not rebooting');
    // the token stopped working with the report
    expect((await fetchRaw(`${r.url}/ignition/${r.token}/node.ign`)).status).toBe(404);
  }, 90_000);
});
