// The pxe commands through the CLI: `pxe serve` in-process (stopped as SIGTERM would), `pxe status`,
// `pxe retry`/`reinstall` while a server runs (through its admin route) and with none (an edit of the state
// file under its lock), their mistakes (E010, E006, E007 with exit 2), and the built binary as a subprocess:
// SIGTERM flushes the state and exits 0, --dhcp-proxy runs the real dnsmasq and stops it, a missing dnsmasq
// is E016 exit 3.

import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pxeServe } from '../src/cli/pxe-serve.js';
import type { Io, Outcome } from '../src/cli/run.js';
import { PACKAGE_ROOT } from '../src/template.js';
import { fetchRaw, makePxeFixture, removePxeFixtures, tokenIn, until, type PxeFixture } from './serve-fixture.js';
import { tool } from './helpers/tools.js';
import { mkimage } from './helpers/cli.js';

const W1 = { name: 'worker1', mac: '52:54:00:66:00:21', ip: '127.0.0.2' };
const W2 = { name: 'worker2', mac: '52:54:00:66:00:22', ip: '127.0.0.3' };
const CLI = join(PACKAGE_ROOT, 'dist/src/cli.js');

function ioFor(cwd: string) {
  const io = { out: '', err: '' };
  const it: Io = { out: (s) => void (io.out += s), err: (s) => void (io.err += s), color: false, tty: false, cwd, exitCode: 0 };
  return { io, it };
}


interface Serving {
  url: string;
  log: () => Array<Record<string, unknown>>;
  stop(): Promise<Outcome>;
}

const serving: Serving[] = [];
afterEach(async () => {
  for (const s of serving.splice(0)) await s.stop();
});
afterAll(removePxeFixtures);


/** `mkimage pxe serve` in-process, through the command function, on 127.0.0.1 and a free port. */
async function serve(fx: PxeFixture, ...extra: string[]): Promise<Serving> {
  const { io, it } = ioFor(fx.cwd);
  const stop = new AbortController();
  const flags: Record<string, unknown> = { listen: '127.0.0.1:0' };
  for (let i = 0; i < extra.length; i += 2) flags[extra[i]!] = extra[i + 1];
  const done = pxeServe(it, flags, stop.signal);
  const log = () => io.out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const url = await until(() => log().find((l) => l.event === 'listening')?.url as string | undefined, 'the listening line');
  const s: Serving = {
    url,
    log,
    async stop() {
      stop.abort();
      const i = serving.indexOf(s);
      if (i >= 0) serving.splice(i, 1);
      return done;
    },
  };
  serving.push(s);
  return s;
}

const boot = async (url: string, mac: string) => (await fetchRaw(`${url}/boot.ipxe?mac=${mac}&platform=pcbios`)).text;
const stateOf = (fx: PxeFixture) => JSON.parse(readFileSync(join(fx.cwd, 'clusters/homelab/pxe-state.json'), 'utf8')) as { machines: Array<Record<string, unknown>> };

describe('pxe status', () => {
  it('before any server ran: every node pending, never seen', async () => {
    const fx = makePxeFixture({ nodes: [W1, W2] });
    const r = await mkimage(fx.cwd, 'pxe', 'status');
    expect(r.code, r.err).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NODE\s+MAC\s+IP\s+STATE\s+SINCE\s+ATTEMPTS$/);
    expect(lines[1]).toMatch(/^worker1\s+52:54:00:66:00:21\s+127\.0\.0\.2\s+pending\s+-\s+0$/);
    expect(lines[2]).toMatch(/^worker2\s+52:54:00:66:00:22\s+127\.0\.0\.3\s+pending\s+-\s+0$/);
    const j = await mkimage(fx.cwd, 'pxe', 'status', '--json');
    expect(JSON.parse(j.out)).toMatchObject({ ok: true, cluster: 'homelab', nodes: [{ node: 'worker1', state: 'pending', attempts: 0 }, { node: 'worker2', state: 'pending' }] });
  });

  it('without out/pxe: E023 exit 2 naming `mkimage pxe build`', async () => {
    const fx = makePxeFixture({ nodes: [W1] });
    const r = await mkimage(fx.cwd, 'pxe', 'status', '--dir', 'elsewhere');
    expect(r.code).toBe(2);
    expect(r.err).toContain('error[E023]');
    expect(r.err).toContain('elsewhere/pxe.json is missing: run `mkimage pxe build` first');
  });

  it('a corrupt state file: E007 exit 2 with the fix, for status, retry and serve alike', async () => {
    const fx = makePxeFixture({ nodes: [W1] });
    mkdirSync(join(fx.cwd, 'clusters/homelab'), { recursive: true });
    writeFileSync(join(fx.cwd, 'clusters/homelab/pxe-state.json'), '{"version":1,"cluster":"homelab","machines":[{"mac":"52:54:00:66:00:21","node":"worker1","state":"sleeping"}]}\n');
    for (const argv of [['pxe', 'status'], ['pxe', 'retry', 'worker1'], ['pxe', 'serve', '--listen', '127.0.0.1:0']]) {
      const r = await mkimage(fx.cwd, ...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toContain('error[E007]');
      expect(r.err).toContain('clusters/homelab/pxe-state.json is not a LAN-boot state file mkimage can read (machines[0].state is not one of pending, installing, installed, failed)');
      expect(r.err).toContain('move it aside to start over');
      expect(r.err).not.toContain('    at ');
    }
  });
});

describe('pxe retry and reinstall', () => {
  it('while the server runs: failed -> pending at once, and the next boot.ipxe is a new install under a new token', async () => {
    const fx = makePxeFixture({ nodes: [W1, W2] });
    const s = await serve(fx);
    const t1 = tokenIn(await boot(s.url, '52-54-00-66-00-21'))!;
    const failed = await fetchRaw(`${s.url}/failed?token=${t1}`, { method: 'POST', body: 'wget: server returned error: HTTP/1.1 500\nsha256 mismatch\n', localAddress: W1.ip });
    expect(failed.status).toBe(200);

    const st = await mkimage(fx.cwd, 'pxe', 'status');
    expect(st.out).toMatch(/^worker1\s+52:54:00:66:00:21\s+127\.0\.0\.2\s+failed\s+\d{4}-\d\d-\d\dT[\d:.]+Z\s+1$/m);
    expect(st.out).toContain('worker1: last failure at ');
    expect(st.out).toContain('  | wget: server returned error: HTTP/1.1 500\n  | sha256 mismatch\n');

    const r = await mkimage(fx.cwd, 'pxe', 'retry', 'worker1');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe('worker1: failed -> pending: it installs on its next network boot (the running server has it)\n');
    const t2 = tokenIn(await boot(s.url, '52-54-00-66-00-21'))!;
    expect(t2).toBeDefined();
    expect(t2).not.toBe(t1);
    expect(stateOf(fx).machines[0]).toMatchObject({ state: 'installing', attempts: 2, token: t2 });
    expect((await fetchRaw(`${s.url}/seed/${t1}/user-data`, { localAddress: W1.ip })).status).toBe(404);
    expect((await fetchRaw(`${s.url}/seed/${t2}/user-data`, { localAddress: W1.ip })).status).toBe(200);
    expect(s.log()).toContainEqual(expect.objectContaining({ event: 'state', node: 'worker1', state: 'pending', from: 'failed', by: 'pxe retry' }));
  });

  it('no update is lost: retries and reinstalls of one node racing the server\'s own transitions of another', async () => {
    const fx = makePxeFixture({ nodes: [W1, W2] });
    const s = await serve(fx);
    const t1 = tokenIn(await boot(s.url, '52-54-00-66-00-21'))!;
    await fetchRaw(`${s.url}/failed?token=${t1}`, { method: 'POST', body: 'x', localAddress: W1.ip });
    const [retry] = await Promise.all([mkimage(fx.cwd, 'pxe', 'retry', 'worker1'), boot(s.url, '52-54-00-66-00-22')]);
    expect(retry.code, retry.err).toBe(0);
    const m = stateOf(fx).machines;
    expect(m[0]).toMatchObject({ node: 'worker1', state: 'pending' });
    expect(m[1]).toMatchObject({ node: 'worker2', state: 'installing' });
  });

  it('reinstall: installed -> pending; retry of an installed node is E006 naming reinstall; a pending one is a no-op', async () => {
    const fx = makePxeFixture({ nodes: [W1, W2] });
    const s = await serve(fx);
    const t1 = tokenIn(await boot(s.url, '52-54-00-66-00-21'))!;
    await fetchRaw(`${s.url}/done?token=${t1}`, { method: 'POST', localAddress: W1.ip });
    const retry = await mkimage(fx.cwd, 'pxe', 'retry', 'worker1');
    expect(retry.code).toBe(2);
    expect(retry.err).toContain('error[E006]');
    expect(retry.err).toContain('`mkimage pxe reinstall worker1`');
    const re = await mkimage(fx.cwd, 'pxe', 'reinstall', 'worker1', '--json');
    expect(re.code, re.err).toBe(0);
    expect(JSON.parse(re.out)).toMatchObject({ ok: true, node: 'worker1', from: 'installed', state: 'pending', changed: true, via: 'server' });
    expect(tokenIn(await boot(s.url, '52-54-00-66-00-21'))).toBeDefined();
    const noop = await mkimage(fx.cwd, 'pxe', 'retry', 'worker2');
    expect(noop.code).toBe(0);
    expect(noop.out).toBe('worker2 is already pending: nothing to do\n');
  });

  it('an unknown node is E010 exit 2, listing the nodes', async () => {
    const fx = makePxeFixture({ nodes: [W1, W2] });
    for (const cmd of ['retry', 'reinstall']) {
      const r = await mkimage(fx.cwd, 'pxe', cmd, 'worker9');
      expect(r.code).toBe(2);
      expect(r.err).toContain('error[E010]');
      expect(r.err).toContain('there is no LAN-boot node "worker9" in pxe.json: use one of worker1, worker2');
    }
  });

  it('with no server running: the state file is edited under its lock, and the next server starts from it', async () => {
    const fx = makePxeFixture({ nodes: [W1] });
    const s = await serve(fx);
    const t1 = tokenIn(await boot(s.url, '52-54-00-66-00-21'))!;
    await fetchRaw(`${s.url}/done?token=${t1}`, { method: 'POST', localAddress: W1.ip });
    expect(await s.stop()).toEqual({ exitCode: 0 });
    expect(existsSync(join(fx.cwd, 'clusters/homelab/pxe-state.json.lock'))).toBe(false);

    const r = await mkimage(fx.cwd, 'pxe', 'reinstall', 'worker1');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe('worker1: installed -> pending: it installs again (its disk is overwritten) on its next network boot\n');
    expect(stateOf(fx).machines[0]).toMatchObject({ state: 'pending', attempts: 1 });
    expect(existsSync(join(fx.cwd, 'clusters/homelab/pxe-state.json.lock'))).toBe(false);

    const again = await serve(fx);
    expect(tokenIn(await boot(again.url, '52-54-00-66-00-21'))).toBeDefined();
    expect(stateOf(fx).machines[0]).toMatchObject({ state: 'installing', attempts: 2 });
  });

  it('--state names another state file; a second server on the same one is E017', async () => {
    const fx = makePxeFixture({ nodes: [W1] });
    const s = await serve(fx, 'state', 'lab-state.json');
    await boot(s.url, '52-54-00-66-00-21');
    expect(JSON.parse(readFileSync(join(fx.cwd, 'lab-state.json'), 'utf8')).machines[0].state).toBe('installing');
    const second = await mkimage(fx.cwd, 'pxe', 'serve', '--listen', '127.0.0.1:0', '--state', 'lab-state.json');
    expect(second.code).toBe(2);
    expect(second.err).toContain('error[E017]');
    expect(second.err).toContain(`(pid ${process.pid}) holds lab-state.json.lock`);
    const st = await mkimage(fx.cwd, 'pxe', 'status', '--state', 'lab-state.json', '--json');
    expect(JSON.parse(st.out).nodes[0].state).toBe('installing');
  });
});

describe('pxe serve flags', () => {
  it.each([
    [['--listen', '8080'], 'E007', '--listen "8080" is not HOST:PORT'],
    [['--listen', '127.0.0.1:99999'], 'E007', 'is not HOST:PORT'],
    [['--listen', '127.0.0.1:0', '--nat-source', '10.0.2'], 'E007', '--nat-source "10.0.2" is not an IPv4 address'],
    [['--listen', '127.0.0.1:0', '--workers', '0'], 'E007', '--workers "0" is not a count from 1 to 64'],
  ])('%j is %s exit 2', async (argv, code, words) => {
    const fx = makePxeFixture({ nodes: [W1] });
    const r = await mkimage(fx.cwd, 'pxe', 'serve', ...argv);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`error[${code}]`);
    expect(r.err).toContain(words);
  });

  it('an address in use is E006 exit 2, and leaves no lock behind', async () => {
    const fx = makePxeFixture({ nodes: [W1] });
    const s = await serve(fx, 'state', 'a.json');
    const r = await mkimage(fx.cwd, 'pxe', 'serve', '--listen', new URL(s.url).host, '--state', 'b.json');
    expect(r.code).toBe(2);
    expect(r.err).toContain('error[E006]');
    expect(r.err).toContain('EADDRINUSE');
    expect(existsSync(join(fx.cwd, 'b.json.lock'))).toBe(false);
  });
});

describe('the built binary', () => {
  const started = (fx: PxeFixture, args: string[], env: NodeJS.ProcessEnv = process.env) => {
    expect(existsSync(CLI), 'run `npm run build` (npm test does) before this test').toBe(true);
    const child = spawn(process.execPath, [CLI, 'pxe', 'serve', '--listen', '127.0.0.1:0', ...args], { cwd: fx.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exit = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    const url = until(() => /"event":"listening"[^\n]*"url":"([^"]+)"/.exec(out)?.[1], 'the listening line');
    return { child, url, exit, out: () => out, err: () => err };
  };

  it('SIGTERM: the server closes, the state is on disk, the lock is gone, exit 0', async () => {
    const fx = makePxeFixture({ nodes: [W1] });
    const p = started(fx, []);
    const url = await p.url;
    const token = tokenIn(await boot(url, '52-54-00-66-00-21'));
    p.child.kill('SIGTERM');
    expect(await p.exit).toBe(0);
    expect(p.out()).toContain('"event":"stopped"');
    expect(stateOf(fx).machines[0]).toMatchObject({ state: 'installing', token });
    expect(existsSync(join(fx.cwd, 'clusters/homelab/pxe-state.json.lock'))).toBe(false);
    expect(p.err()).toBe('');
  });

  it('--workers 2 (cluster mode): every worker sees each change at once, retry reaches them, the log lines stay whole', async () => {
    const fx = makePxeFixture({ nodes: [W1, W2] });
    const p = started(fx, ['--workers', '2']);
    const url = await p.url;
    expect(p.out()).toContain('"workers":2');
    // each fetchRaw is a new connection: the primary hands them to the workers in turn
    const scripts = await Promise.all(Array.from({ length: 10 }, () => boot(url, '52-54-00-66-00-21')));
    const t1 = tokenIn(scripts[0]!)!;
    expect(new Set(scripts.map(tokenIn))).toEqual(new Set([t1]));
    for (let i = 0; i < 4; i++) expect((await fetchRaw(`${url}/seed/${t1}/user-data`, { localAddress: W1.ip })).status).toBe(200);
    expect((await fetchRaw(`${url}/seed/${t1}/user-data`, { localAddress: W2.ip })).status).toBe(403);
    expect((await fetchRaw(`${url}/failed?token=${t1}`, { method: 'POST', body: 'no disk found\n', localAddress: W1.ip })).status).toBe(200);
    for (let i = 0; i < 4; i++) {
      expect((await fetchRaw(`${url}/seed/${t1}/user-data`, { localAddress: W1.ip })).status).toBe(404);
      expect(await boot(url, '52-54-00-66-00-21')).toContain('worker1 failed to install');
    }
    const retry = await mkimage(fx.cwd, 'pxe', 'retry', 'worker1');
    expect(retry.out).toContain('(the running server has it)');
    const t2 = tokenIn(await boot(url, '52-54-00-66-00-21'))!;
    expect(t2).not.toBe(t1);
    for (let i = 0; i < 4; i++) expect(tokenIn(await boot(url, '52-54-00-66-00-21'))).toBe(t2);
    expect((await fetchRaw(`${url}/done?token=${t2}`, { method: 'POST', localAddress: W1.ip })).status).toBe(200);
    for (let i = 0; i < 4; i++) expect(await boot(url, '52-54-00-66-00-21')).toBe('#!ipxe\nsanboot --no-describe --drive 0x80 || exit\n');
    p.child.kill('SIGTERM');
    expect(await p.exit).toBe(0);
    expect(stateOf(fx).machines[0]).toMatchObject({ state: 'installed', attempts: 2 });
    const lines = p.out().trimEnd().split('\n');
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.filter((l) => l.event === 'request' && l.path === '/boot.ipxe').length).toBe(10 + 4 + 1 + 4 + 4);
    expect(parsed.at(-1)).toMatchObject({ event: 'stopped' });
    expect(p.err()).toBe('');
  });

  it('--workers 2 whose log reader goes away (| head): the workers and the server keep serving, SIGTERM still exits 0', async () => {
    const fx = makePxeFixture({ nodes: [W1] });
    const p = started(fx, ['--workers', '2']);
    const url = await p.url;
    p.child.stdout.destroy(); // the reader closes its end: every log line from now on is an EPIPE
    // each boot is a new connection (the workers take turns) and a log line; a worker that died of EPIPE would be
    // restarted a second later, and the requests meanwhile refused
    const started_ = Date.now();
    const answers: number[] = [];
    while (Date.now() - started_ < 2500) answers.push((await fetchRaw(`${url}/boot.ipxe?mac=52-54-00-66-00-21&platform=pcbios`)).status);
    expect(answers.length).toBeGreaterThan(10);
    expect(new Set(answers)).toEqual(new Set([200]));
    p.child.kill('SIGTERM');
    expect(await p.exit).toBe(0);
    expect(p.err()).toBe('');
  });

  it('--workers 2 on an address in use: E006 exit 2, no lock left behind', async () => {
    const fx = makePxeFixture({ nodes: [W1] });
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (busy.address() as AddressInfo).port;
      const r = spawnSync(process.execPath, [CLI, 'pxe', 'serve', '--workers', '2', '--listen', `127.0.0.1:${port}`], { cwd: fx.cwd, encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('error[E006]');
      expect(r.stderr).toContain('EADDRINUSE');
      expect(existsSync(join(fx.cwd, 'clusters/homelab/pxe-state.json.lock'))).toBe(false);
    } finally {
      busy.close();
    }
  });

  it('--dhcp-proxy runs the real dnsmasq in the foreground with pxe build\'s config, and stops it on SIGINT', async () => {
    tool('dnsmasq'); // a missing dnsmasq fails here, naming its package
    const fx = makePxeFixture({ nodes: [W1] });
    writeFileSync(join(fx.dir, 'dnsmasq.conf'), '# stand-in: no DNS, no DHCP, no TFTP (those need ports other tests may hold)\nport=0\n');
    const p = started(fx, ['--dhcp-proxy']);
    const url = await p.url;
    const pid = await until(() => /"event":"dhcp-proxy"[^\n]*"pid":(\d+)/.exec(p.out())?.[1], 'the dhcp-proxy line');
    await until(() => (p.err().includes('started, version') ? true : undefined), "dnsmasq's start line");
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toEqual(expect.arrayContaining(['--keep-in-foreground', `--conf-file=${join(fx.dir, 'dnsmasq.conf')}`]));
    expect((await fetchRaw(`${url}/healthz`)).status).toBe(200);
    p.child.kill('SIGINT');
    expect(await p.exit).toBe(0);
    expect(existsSync(`/proc/${pid}`)).toBe(false);
  });

  it('--dhcp-proxy without dnsmasq on PATH: E016 exit 3 naming the Debian package', () => {
    const fx = makePxeFixture({ nodes: [W1] });
    const r = spawnSync(process.execPath, [CLI, 'pxe', 'serve', '--dhcp-proxy', '--listen', '127.0.0.1:0'], { cwd: fx.cwd, env: { ...process.env, PATH: join(fx.cwd, 'empty-bin') }, encoding: 'utf8' });
    expect(r.status).toBe(3);
    expect(r.stderr).toContain('error[E016]');
    expect(r.stderr).toContain('apt-get install dnsmasq-base');
  });

  it('dnsmasq failing to start stops the server: E016 exit 3 with its reason', async () => {
    tool('dnsmasq');
    const fx = makePxeFixture({ nodes: [W1] });
    writeFileSync(join(fx.dir, 'dnsmasq.conf'), 'no-such-option-here\n');
    const p = started(fx, ['--dhcp-proxy']);
    expect(await p.exit).toBe(3);
    expect(p.err()).toContain('error[E016]');
    expect(p.err()).toMatch(/dnsmasq exited with code \d+/);
  });
});

describe('mkimage cluster status', () => {
  it('says "LAN boot: <state>" first when pxe serve has the node, even when SSH cannot reach it', async () => {
    const fx = makePxeFixture({ nodes: [W1] });
    const s = await serve(fx);
    await boot(s.url, '52-54-00-66-00-21');
    await s.stop();
    const r = await mkimage(fx.cwd, 'cluster', 'status', 'worker1', '--host', '127.0.0.1', '--port', '1', '--known-hosts', join(fx.cwd, 'kh'));
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/^LAN boot: installing since \d{4}-\d\d-\d\dT[\d:.]+Z \(mkimage pxe status has more\)\n/);
    const other = await mkimage(fx.cwd, 'cluster', 'status', 'cp1', '--host', '127.0.0.1', '--port', '1', '--known-hosts', join(fx.cwd, 'kh'));
    expect(other.out).not.toContain('LAN boot');
  });
});
