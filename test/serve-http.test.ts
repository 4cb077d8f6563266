// `mkimage pxe serve` over real HTTP on 127.0.0.1: /boot.ipxe per state and platform, MAC forms, the state
// machine (pending -> installing -> installed | failed), seed gating by token, state and source address
// (clients bind 127.0.0.2 / 127.0.0.3: Linux routes all of 127/8 to lo), Range answers checked against the
// file's own bytes, /healthz, restarts, and a server bug answered 500.

import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startPxeServe, type RunningServe } from '../src/serve/run.js';
import { fetchRaw, makePxeFixture, removePxeFixtures, seedText, tokenIn, CHAIN_SCRIPT, type PxeFixture } from './serve-fixture.js';

const W1 = { name: 'worker1', mac: '52:54:00:66:00:21', ip: '127.0.0.2' };
const W2 = { name: 'worker2', mac: '52:54:00:66:00:22', ip: '127.0.0.3', noNetworkConfig: true };
const W3 = { name: 'worker3', mac: '52:54:00:66:00:23', ip: '127.0.0.4', disk: '/dev/vda' };

interface Served {
  fx: PxeFixture;
  url: string;
  running: RunningServe;
  lines: string[];
  /** the JSON log lines so far */
  logs(): Promise<Array<Record<string, unknown>>>;
  boot(mac: string, platform?: string, from?: string): Promise<string>;
  stateFile(): { machines: Array<Record<string, unknown>> };
}

const running: RunningServe[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
});
afterAll(removePxeFixtures);

async function serve(fx: PxeFixture, natSources: string[] = []): Promise<Served> {
  const lines: string[] = [];
  const r = await startPxeServe({ dir: 'out/pxe', cwd: fx.cwd, host: '127.0.0.1', port: 0, natSources, logSink: (s) => lines.push(s) });
  expect(r.diagnostics).toEqual([]);
  running.push(r.running!);
  const url = r.running!.url;
  const statePath = join(fx.cwd, 'clusters', fx.cluster, 'pxe-state.json');
  return {
    fx,
    url,
    running: r.running!,
    lines,
    async logs() {
      await new Promise((res) => setImmediate(res));
      return lines.join('').trimEnd().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    async boot(mac, platform = 'pcbios', from) {
      const a = await fetchRaw(`${url}/boot.ipxe?mac=${mac}&uuid=1234&platform=${platform}`, { localAddress: from });
      expect(a.status).toBe(200);
      return a.text;
    },
    stateFile: () => JSON.parse(readFileSync(statePath, 'utf8')),
  };
}

const hostOf = (url: string) => new URL(url).host;
const machine = (s: Served, mac: string) => s.stateFile().machines.find((m) => m.mac === mac)!;

describe('/boot.ipxe and the state machine', () => {
  it('pending -> the installer; the machine is installing, durably, under the token it was given', async () => {
    const s = await serve(makePxeFixture({ nodes: [W1, W2] }));
    const script = await s.boot('52-54-00-66-00-21');
    const base = `http://${hostOf(s.url)}`;
    const token = tokenIn(script)!;
    expect(script).toBe(
      '#!ipxe\n' +
        `kernel ${base}/installer/vmlinuz initrd=initramfs.cpio.gz console=tty0 console=ttyS0,115200n8 mkimage.server=${base} ` +
        `mkimage.node=worker1 mkimage.mac=52:54:00:66:00:21 mkimage.token=${token} mkimage.image=images/worker.raw.gz mkimage.sha256=${s.fx.imageSha256}\n` +
        `initrd ${base}/installer/initramfs.cpio.gz\nboot\n`,
    );
    const m = machine(s, W1.mac);
    expect(m).toMatchObject({ node: 'worker1', state: 'installing', attempts: 1, token });
    expect(machine(s, W2.mac)).toMatchObject({ state: 'pending', attempts: 0 });
    expect(statSync(join(s.fx.cwd, 'clusters/homelab/pxe-state.json')).mode & 0o777).toBe(0o600);
    const log = await s.logs();
    expect(log).toContainEqual(expect.objectContaining({ event: 'state', mac: W1.mac, node: 'worker1', state: 'installing' }));
    expect(log).toContainEqual(expect.objectContaining({ event: 'request', path: '/boot.ipxe', status: 200, mac: W1.mac, node: 'worker1', remote: '127.0.0.1' }));
    expect(log.map((l) => JSON.stringify(l)).join('\n')).not.toContain(token);
  });

  it('the MAC in any form (hyphen, colon, upper case, bare) is the same machine: one install, one token', async () => {
    const s = await serve(makePxeFixture({ nodes: [W1] }));
    const forms = ['52-54-00-66-00-21', '52:54:00:66:00:21', '52-54-00-66-00-21'.toUpperCase(), '52:54:00:66:00:21'.toUpperCase(), '525400660021'];
    const tokens = [];
    for (const f of forms) tokens.push(tokenIn(await s.boot(encodeURIComponent(f))));
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    expect(machine(s, W1.mac)).toMatchObject({ state: 'installing', attempts: 1 });
  });

  it('concurrent first requests of one machine get one token, and it is on disk before any answer', async () => {
    const s = await serve(makePxeFixture({ nodes: [W1] }));
    const scripts = await Promise.all(Array.from({ length: 20 }, () => s.boot('52-54-00-66-00-21')));
    const tokens = new Set(scripts.map(tokenIn));
    expect(tokens.size).toBe(1);
    expect(machine(s, W1.mac).token).toBe([...tokens][0]);
  });

  it('the node\'s disk goes on the kernel line', async () => {
    const s = await serve(makePxeFixture({ nodes: [W3] }));
    expect((await s.boot('52-54-00-66-00-23')).split('\n')[1]).toMatch(/ mkimage\.disk=\/dev\/vda$/);
  });

  it('installed -> the local disk: sanboot on BIOS, exit on UEFI; the token stops working', async () => {
    const s = await serve(makePxeFixture({ nodes: [W1] }));
    const token = tokenIn(await s.boot('52-54-00-66-00-21'))!;
    const done = await fetchRaw(`${s.url}/done?token=${token}`, { method: 'POST', localAddress: W1.ip });
    expect(done.status).toBe(200);
    expect(machine(s, W1.mac)).toMatchObject({ state: 'installed' });
    expect(machine(s, W1.mac).token).toBeUndefined();
    expect(await s.boot('52-54-00-66-00-21', 'pcbios')).toBe('#!ipxe\nsanboot --no-describe --drive 0x80 || exit\n');
    expect(await s.boot('52-54-00-66-00-21', 'efi')).toBe('#!ipxe\nexit\n');
    const again = await fetchRaw(`${s.url}/done?token=${token}`, { method: 'POST', localAddress: W1.ip });
    expect(again.status).toBe(404);
    const seed = await fetchRaw(`${s.url}/seed/${token}/user-data`, { localAddress: W1.ip });
    expect(seed.status).toBe(404);
    const log = await s.logs();
    expect(log).toContainEqual(expect.objectContaining({ event: 'state', node: 'worker1', state: 'installed' }));
    expect(log).toContainEqual(expect.objectContaining({ event: 'seed-refused', status: 404, remote: W1.ip }));
    expect(log).toContainEqual(expect.objectContaining({ event: 'report-refused', path: '/done', status: 404 }));
  });

  it('failed: the log tail is kept (capped, control characters made harmless) and the machine polls', async () => {
    const s = await serve(makePxeFixture({ nodes: [W1] }));
    const token = tokenIn(await s.boot('52-54-00-66-00-21'))!;
    const noise = Array.from({ length: 2000 }, (_, i) => `line ${i} of the installer log`).join('\n');
    const body = `${noise}\n\u001b[31msha256 mismatch: want abc got def\u001b[0m\n`;
    const r = await fetchRaw(`${s.url}/failed?token=${token}`, { method: 'POST', body, localAddress: W1.ip });
    expect(r.status).toBe(200);
    const m = machine(s, W1.mac) as { state: string; failure: { tail: string } };
    expect(m.state).toBe('failed');
    expect(m.failure.tail.length).toBeLessThanOrEqual(8192);
    expect(m.failure.tail).toContain('\ufffd[31msha256 mismatch: want abc got def\ufffd[0m');
    expect(m.failure.tail).toContain('line 1999 of the installer log');
    expect(m.failure.tail).not.toContain('line 10 of');
    expect(m.failure.tail).not.toContain('\u001b');
    for (const platform of ['pcbios', 'efi']) {
      const script = await s.boot('52-54-00-66-00-21', platform);
      expect(script).toContain('worker1 failed to install');
      expect(script).toContain(`chain --replace http://${hostOf(s.url)}/boot.ipxe?mac=52-54-00-66-00-21&uuid=\${uuid}&platform=${platform} || exit`);
    }
    expect(machine(s, W1.mac).state).toBe('failed');
    expect(await s.logs()).toContainEqual(expect.objectContaining({ event: 'state', state: 'failed', tail: '\ufffd[31msha256 mismatch: want abc got def\ufffd[0m' }));
  });

  it('a report body over 1 MiB is refused with 413 and changes nothing', async () => {
    const s = await serve(makePxeFixture({ nodes: [W1] }));
    const token = tokenIn(await s.boot('52-54-00-66-00-21'))!;
    const r = await fetchRaw(`${s.url}/failed?token=${token}`, { method: 'POST', body: Buffer.alloc(1024 * 1024 + 1, 0x61), localAddress: W1.ip }).catch((e: Error) => e);
    expect(r instanceof Error ? r.message : r.status).toBe(413);
    expect(machine(s, W1.mac).state).toBe('installing');
  });

  it('a machine with no node: echo + exit, and a log line (never silent); a malformed MAC too', async () => {
    const s = await serve(makePxeFixture({ nodes: [W1] }));
    const script = await s.boot('52-54-00-00-00-99');
    expect(script).toMatch(/^#!ipxe\necho .*52:54:00:00:00:99.*\nexit\n$/);
    const bad = await s.boot('not-a-mac');
    expect(bad).toMatch(/^#!ipxe\necho .*\nexit\n$/);
    const log = await s.logs();
    expect(log).toContainEqual(expect.objectContaining({ event: 'unknown-mac', mac: '52:54:00:00:00:99', remote: '127.0.0.1', uuid: '1234' }));
    expect(log).toContainEqual(expect.objectContaining({ event: 'unknown-mac', mac: 'not-a-mac' }));
  });

  it('no mac parameter -> the chain script of tftp/boot.ipxe, byte for byte', async () => {
    const s = await serve(makePxeFixture({ nodes: [W1] }));
    const r = await fetchRaw(`${s.url}/boot.ipxe`);
    expect(r.status).toBe(200);
    expect(r.text).toBe(CHAIN_SCRIPT);
  });

  it('without a Host header the kernel line uses pxe.json\'s server (iPXE expands ${next-server})', async () => {
    const s = await serve(makePxeFixture({ nodes: [W1] }));
    const r = await fetchRaw(`${s.url}/boot.ipxe?mac=52-54-00-66-00-21`, { headers: { host: 'bad host' } });
    expect(r.status).toBe(200);
    expect(r.text.split('\n')[1]).toMatch(/^kernel http:\/\/\$\{next-server\}:8080\/installer\/vmlinuz initrd=initramfs\.cpio\.gz .* mkimage\.server=http:\/\/\$\{next-server\}:8080 /);
  });

  it('no golden image: the server starts, /healthz is 200, and a pending machine is told and polls (stays pending)', async () => {
    const s = await serve(makePxeFixture({ nodes: [W1], image: false }));
    const h = await fetchRaw(`${s.url}/healthz`);
    expect(h.status).toBe(200);
    expect(JSON.parse(h.text)).toMatchObject({ ok: true, cluster: 'homelab', nodes: 1, images: [] });
    const script = await s.boot('52-54-00-66-00-21');
    expect(script).toContain('no golden image for role worker');
    expect(script).toMatch(/\nsleep \d+\nchain --replace /);
    expect(script).not.toContain('kernel ');
    expect(machine(s, W1.mac).state).toBe('pending');
    const log = await s.logs();
    expect(log.filter((l) => l.event === 'image-missing').length).toBe(2); // at start (the role) and for the machine
    expect(log).toContainEqual(expect.objectContaining({ event: 'image-missing', node: 'worker1', mac: W1.mac }));
  });

  it('GET /healthz is 200 with the cluster and images; a wrong method or path is 405/404 with a log line', async () => {
    const s = await serve(makePxeFixture({ nodes: [W1] }));
    const h = await fetchRaw(`${s.url}/healthz`);
    expect(JSON.parse(h.text)).toEqual({ ok: true, cluster: 'homelab', nodes: 1, images: ['worker'] });
    expect((await fetchRaw(`${s.url}/boot.ipxe?mac=52-54-00-66-00-21`, { method: 'POST' })).status).toBe(405);
    expect((await fetchRaw(`${s.url}/boot.ipxe?mac=52-54-00-66-00-21`, { method: 'HEAD' })).status).toBe(405);
    expect((await s.boot('52-54-00-66-00-21')).split('\n')[1]).toMatch(/ mkimage\.token=\S+ /);
    expect((await s.logs()).filter((l) => l.event === 'state' && l.state === 'installing').length).toBe(1);
    expect((await fetchRaw(`${s.url}/done`)).status).toBe(405);
    expect((await fetchRaw(`${s.url}/etc/passwd`)).status).toBe(404);
    expect((await fetchRaw(`${s.url}/installer/../pxe.json`)).status).toBe(404);
    expect(await s.logs()).toContainEqual(expect.objectContaining({ event: 'not-found', path: '/etc/passwd' }));
  });
});

describe('seed gating', () => {
  it('installing + current token + planned address: the seed files, byte for byte; network-config 404 when there is none; vendor-data 404', async () => {
    const s = await serve(makePxeFixture({ nodes: [W1, W2] }));
    const t1 = tokenIn(await s.boot('52-54-00-66-00-21'))!;
    const t2 = tokenIn(await s.boot('52-54-00-66-00-22'))!;
    for (const f of ['meta-data', 'user-data', 'network-config']) {
      const r = await fetchRaw(`${s.url}/seed/${t1}/${f}`, { localAddress: W1.ip });
      expect(r.status, f).toBe(200);
      expect(r.text).toBe(seedText('worker1', f));
      expect(r.text).toBe(readFileSync(join(s.fx.dir, 'seeds/worker1', f), 'utf8'));
    }
    expect((await fetchRaw(`${s.url}/seed/${t2}/user-data`, { localAddress: W2.ip })).text).toBe(seedText('worker2', 'user-data'));
    expect((await fetchRaw(`${s.url}/seed/${t2}/network-config`, { localAddress: W2.ip })).status).toBe(404);
    expect((await fetchRaw(`${s.url}/seed/${t1}/vendor-data`, { localAddress: W1.ip })).status).toBe(404);
    expect((await fetchRaw(`${s.url}/seed/${t1}/../pxe.json`, { localAddress: W1.ip })).status).toBe(404);
  });

  it('the right token from another address is 403; a wrong token 404; each with a log line naming why', async () => {
    const s = await serve(makePxeFixture({ nodes: [W1, W2] }));
    const t1 = tokenIn(await s.boot('52-54-00-66-00-21'))!;
    tokenIn(await s.boot('52-54-00-66-00-22'));
    const wrongAddress = await fetchRaw(`${s.url}/seed/${t1}/user-data`, { localAddress: W2.ip });
    expect(wrongAddress.status).toBe(403);
    expect(wrongAddress.text).not.toContain('cloud-config');
    const fromLoopback = await fetchRaw(`${s.url}/seed/${t1}/user-data`);
    expect(fromLoopback.status).toBe(403);
    const flipped = `${t1.slice(0, -1)}${t1.endsWith('A') ? 'B' : 'A'}`;
    expect((await fetchRaw(`${s.url}/seed/${flipped}/user-data`, { localAddress: W1.ip })).status).toBe(404);
    expect((await fetchRaw(`${s.url}/seed/user-data`, { localAddress: W1.ip })).status).toBe(404);
    expect((await fetchRaw(`${s.url}/done?token=${t1}`, { method: 'POST', localAddress: W2.ip })).status).toBe(403);
    expect(machine(s, W1.mac).state).toBe('installing');
    const refused = (await s.logs()).filter((l) => l.event === 'seed-refused');
    expect(refused).toContainEqual(expect.objectContaining({ status: 403, remote: W2.ip, node: 'worker1', path: '/seed/<token>/user-data', reason: expect.stringContaining('127.0.0.3') }));
    expect(refused).toContainEqual(expect.objectContaining({ status: 404, remote: W1.ip, reason: expect.stringContaining('token') }));
    expect(JSON.stringify(await s.logs())).not.toContain(t1);
  });

  it('a pending machine has no token: nothing is served before boot.ipxe handed out the installer', async () => {
    const s = await serve(makePxeFixture({ nodes: [W1] }));
    expect(machine(s, W1.mac).token).toBeUndefined();
    expect((await fetchRaw(`${s.url}/seed/AAAAAAAAAAAAAAAAAAAAAAAA/user-data`, { localAddress: W1.ip })).status).toBe(404);
  });

  it('--nat-source: connections from the NAT address may fetch an installing node\'s seed under its token', async () => {
    const s = await serve(makePxeFixture({ nodes: [W1] }), ['127.0.0.1']);
    const t1 = tokenIn(await s.boot('52-54-00-66-00-21'))!;
    expect((await fetchRaw(`${s.url}/seed/${t1}/user-data`)).status).toBe(200);
    expect((await fetchRaw(`${s.url}/seed/${t1}/user-data`, { localAddress: '127.0.0.9' })).status).toBe(403);
    expect((await fetchRaw(`${s.url}/done?token=${t1}`, { method: 'POST' })).status).toBe(200);
  });
});

describe('the installer, the image: GET and HEAD with one Range', () => {
  const files = (fx: PxeFixture) => [
    ['/installer/vmlinuz', fx.kernel],
    ['/installer/initramfs.cpio.gz', fx.initrd],
    ['/images/worker.raw.gz', fx.image!],
  ] as const;

  it('GET: the whole file, its length, and Accept-Ranges', async () => {
    const s = await serve(makePxeFixture({ nodes: [W1] }));
    for (const [path, bytes] of files(s.fx)) {
      const r = await fetchRaw(`${s.url}${path}`);
      expect(r.status).toBe(200);
      expect(r.headers['content-length']).toBe(String(bytes.length));
      expect(r.headers['accept-ranges']).toBe('bytes');
      expect(r.body.equals(bytes)).toBe(true);
    }
  });

  it.each([
    ['bytes=0-0', (n: number) => [0, 0, n]],
    ['bytes=100-4195', (n: number) => [100, 4195, n]],
    ['bytes=5000-', (n: number) => [5000, n - 1, n]],
    ['bytes=-777', (n: number) => [n - 777, n - 1, n]],
    ['bytes=1000-99999999', (n: number) => [1000, n - 1, n]],
  ])('%s -> 206 with Content-Range and exactly those bytes', async (range, expectFor) => {
    const s = await serve(makePxeFixture({ nodes: [W1] }));
    for (const [path, bytes] of files(s.fx)) {
      const [start, end, size] = expectFor(bytes.length) as [number, number, number];
      const r = await fetchRaw(`${s.url}${path}`, { headers: { range } });
      expect(r.status).toBe(206);
      expect(r.headers['content-range']).toBe(`bytes ${start}-${end}/${size}`);
      expect(r.headers['content-length']).toBe(String(end - start + 1));
      expect(r.body.equals(bytes.subarray(start, end + 1))).toBe(true);
    }
  });

  it('a range past the end is 416 with bytes */size; several ranges, or If-Range, get the whole file', async () => {
    const s = await serve(makePxeFixture({ nodes: [W1] }));
    const k = s.fx.kernel;
    const past = await fetchRaw(`${s.url}/installer/vmlinuz`, { headers: { range: `bytes=${k.length}-` } });
    expect(past.status).toBe(416);
    expect(past.headers['content-range']).toBe(`bytes */${k.length}`);
    const multi = await fetchRaw(`${s.url}/installer/vmlinuz`, { headers: { range: 'bytes=0-1,5-6' } });
    expect(multi.status).toBe(200);
    expect(multi.body.equals(k)).toBe(true);
    const ifRange = await fetchRaw(`${s.url}/installer/vmlinuz`, { headers: { range: 'bytes=0-1', 'if-range': '"x"' } });
    expect(ifRange.status).toBe(200);
    expect(ifRange.body.length).toBe(k.length);
  });

  it('HEAD: the headers GET would send, no body', async () => {
    const s = await serve(makePxeFixture({ nodes: [W1] }));
    const img = s.fx.image!;
    const whole = await fetchRaw(`${s.url}/images/worker.raw.gz`, { method: 'HEAD' });
    expect(whole.status).toBe(200);
    expect(whole.headers['content-length']).toBe(String(img.length));
    expect(whole.body.length).toBe(0);
    const part = await fetchRaw(`${s.url}/images/worker.raw.gz`, { method: 'HEAD', headers: { range: 'bytes=10-19' } });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 10-19/${img.length}`);
    expect(part.headers['content-length']).toBe('10');
    expect(part.body.length).toBe(0);
  });

  it('only the files pxe.json names are served: not the seeds directory, not pxe.json', async () => {
    const s = await serve(makePxeFixture({ nodes: [W1] }));
    for (const p of ['/pxe.json', '/seeds/worker1/user-data', '/images/worker.raw.gz.sha256', '/tftp/boot.ipxe']) {
      expect((await fetchRaw(`${s.url}${p}`)).status, p).toBe(404);
    }
  });
});

describe('durability and failures', () => {
  it('a restart keeps every machine\'s state: the installing one keeps its token, the installed one boots local', async () => {
    const fx = makePxeFixture({ nodes: [W1, W2] });
    const a = await serve(fx);
    const t1 = tokenIn(await a.boot('52-54-00-66-00-21'))!;
    const t2 = tokenIn(await a.boot('52-54-00-66-00-22'))!;
    expect((await fetchRaw(`${a.url}/done?token=${t2}`, { method: 'POST', localAddress: W2.ip })).status).toBe(200);
    await running.pop()!.stop();

    const b = await serve(fx);
    expect(tokenIn(await b.boot('52-54-00-66-00-21'))).toBe(t1);
    expect((await fetchRaw(`${b.url}/seed/${t1}/meta-data`, { localAddress: W1.ip })).status).toBe(200);
    expect(await b.boot('52-54-00-66-00-22', 'efi')).toBe('#!ipxe\nexit\n');
    expect(machine(b, W1.mac)).toMatchObject({ state: 'installing', attempts: 1 });
  });

  it('a corrupt state file stops the start with E007 and the fix, and is left as it was', async () => {
    const fx = makePxeFixture({ nodes: [W1] });
    const state = join(fx.cwd, 'clusters/homelab/pxe-state.json');
    mkdirSync(join(fx.cwd, 'clusters/homelab'), { recursive: true });
    writeFileSync(state, '{"version": 1, "cluster": "homelab", "machines": [ {"mac": ');
    const r = await startPxeServe({ dir: 'out/pxe', cwd: fx.cwd, host: '127.0.0.1', port: 0, natSources: [], logSink: () => {} });
    expect(r.running).toBeUndefined();
    expect(r.diagnostics).toEqual([expect.objectContaining({ code: 'E007', file: 'clusters/homelab/pxe-state.json', message: expect.stringContaining('move it aside to start over') })]);
    expect(readFileSync(state, 'utf8')).toBe('{"version": 1, "cluster": "homelab", "machines": [ {"mac": ');
  });

  it('a state file that cannot be written is a 500 and an error log line, never a 404', async () => {
    const s = await serve(makePxeFixture({ nodes: [W1] }));
    const dir = join(s.fx.cwd, 'clusters/homelab');
    rmSync(dir, { recursive: true, force: true });
    writeFileSync(dir, 'a file where the state directory was');
    const r = await fetchRaw(`${s.url}/boot.ipxe?mac=52-54-00-66-00-21`);
    expect(r.status).toBe(500);
    expect(await s.logs()).toContainEqual(expect.objectContaining({ event: 'error', path: '/boot.ipxe', mac: W1.mac, message: expect.stringMatching(/ENOTDIR|EEXIST/) }));
    expect(await s.logs()).toContainEqual(expect.objectContaining({ event: 'request', path: '/boot.ipxe', status: 500 }));
    rmSync(dir);
    mkdirSync(dir);
  });

  it('warns once at start that plain HTTP shows the seeds, and logs the URL it listens on', async () => {
    const s = await serve(makePxeFixture({ nodes: [W1] }));
    const log = await s.logs();
    expect(log.filter((l) => l.event === 'warning')).toEqual([expect.objectContaining({ message: expect.stringMatching(/plain HTTP.*join token.*token.*address/) })]);
    expect(log[0]).toMatchObject({ event: 'listening', url: s.url, nodes: 1 });
    expect(typeof log[0]!.ts).toBe('string');
  });
});
