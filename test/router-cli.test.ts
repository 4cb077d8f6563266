// The ikuai-gateway --router command line: flags worded as fixes (exit 2), where the password and token come from,
// a router that is unreachable, not iKuai, or refuses a call (E020, exit 3), and --json. Against the FAKE iKuai
// router over HTTP on 127.0.0.1; the environment reaches the command through its Io, never process.env.

import { PassThrough } from 'node:stream';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { askSecret } from '../src/router/secret-prompt.js';
import { startFakeIkuaiRouter, type FakeRouter } from './fakes/ikuai-router.js';
import { startServer, type TestServer } from './helpers/http-server.js';
import { expectedLeases, PASSWORD, pick, selfSignedCert, TOKEN, workspace } from './router-bed.js';

describe('flags', () => {
  it.each([
    [['--apply'], 'E005', '--apply needs --router <url>'],
    [['--router', '192.168.66.1'], 'E007', 'write it with its scheme, e.g. --router https://192.168.66.1'],
    [['--router', 'ftp://192.168.66.1'], 'E007', 'is not an http(s) URL'],
    [['--router', 'https://admin:pw@192.168.66.1'], 'E007', 'must not carry a user or password'],
    [['--router', 'https://192.168.66.1/login'], 'E007', 'give only the router\'s origin, e.g. --router https://192.168.66.1'],
    [['--router', 'https://192.168.66.1', '--fingerprint', 'AB:CD'], 'E007', 'is not a SHA-256 fingerprint'],
    [['--router', 'https://192.168.66.1', '--fingerprint', 'ab'.repeat(32), '--insecure'], 'E018', '--fingerprint and --insecure contradict'],
  ])('%j is %s', async (args, code, says) => {
    const r = await workspace().run(args);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`error[${code}]`);
    expect(r.err).toContain(says);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('there is no password flag: a password on the command line is refused, and not repeated', async () => {
    const r = await workspace().run(['--router', 'http://127.0.0.1:9', '--password', PASSWORD]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("unknown option '--password'");
    expect(r.out + r.err).not.toContain(PASSWORD);
  });

  it('an unknown --api is refused by the command line', async () => {
    const r = await workspace().run(['--router', 'http://127.0.0.1:9', '--api', '5']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--api.*5.*invalid|Allowed choices/i);
  });
});

describe('credentials', () => {
  let fake: FakeRouter;
  afterEach(() => fake?.close());

  it('without IKUAI_PASSWORD and no terminal: E021 saying to export it (never a flag)', async () => {
    fake = await startFakeIkuaiRouter({ password: PASSWORD });
    const r = await workspace().run(['--router', fake.origin], {});
    expect(r.code).toBe(3);
    expect(r.err).toContain('error[E021]');
    expect(r.err).toContain('export IKUAI_PASSWORD');
    expect(fake.log).toEqual([]);
  });

  it('asks for the password when there is no IKUAI_PASSWORD, once, and logs in with it', async () => {
    fake = await startFakeIkuaiRouter({ password: PASSWORD, user: 'ops' });
    const asked: string[] = [];
    const ws = workspace();
    const r = await ws.run(['--router', fake.origin, '--user', 'ops', '--apply'], {}, { askSecret: async (q) => (asked.push(q), PASSWORD) });
    expect(r.code, r.err).toBe(0);
    expect(asked).toEqual([`iKuai password for ops at ${fake.origin}: `]);
    expect(pick(fake.tables.dhcp_static, ['mac'])).toEqual(pick(expectedLeases(ws), ['mac']));
    expect(r.out + r.err).not.toContain(PASSWORD);
  });

  it('--api 4 without IKUAI_TOKEN: E021 saying where a token comes from', async () => {
    const r = await workspace().run(['--router', 'https://127.0.0.1:9', '--api', '4']);
    expect(r.code).toBe(3);
    expect(r.err).toContain('error[E021]');
    expect(r.err).toContain('--api 4 needs an API token in IKUAI_TOKEN');
  });

  it('--api auto takes 4.x when IKUAI_TOKEN is set, and the token is never printed', async () => {
    const cert = await selfSignedCert();
    fake = await startFakeIkuaiRouter({ token: TOKEN, tls: { cert: cert.cert, key: cert.key } });
    const r = await workspace().run(['--router', fake.origin, '--fingerprint', cert.fingerprint, '--apply', '--json'], { IKUAI_TOKEN: TOKEN });
    expect(r.code, r.err).toBe(0);
    expect(fake.log.length).toBeGreaterThan(0);
    expect(fake.log.every((c) => c.api === '4.x')).toBe(true);
    expect(r.out + r.err).not.toContain(TOKEN);
  });

  it('the password is in no request except the login, and in no output, also with --json', async () => {
    fake = await startFakeIkuaiRouter({ password: PASSWORD });
    const r = await workspace().run(['--router', fake.origin, '--apply', '--json']);
    expect(r.code, r.err).toBe(0);
    const json = JSON.parse(r.out) as { ok: boolean; applied: boolean; made: number; api: string; calls: unknown[]; changes: Array<{ op: string }> };
    expect(json).toMatchObject({ ok: true, applied: true, made: 4, api: '3.x' });
    expect(json.changes.map((c) => c.op)).toEqual(['add', 'add', 'add', 'add']);
    expect(r.out + r.err).not.toContain(PASSWORD);
    const carrying = fake.log.filter((c) => JSON.stringify(c).includes(Buffer.from(`salt_11${PASSWORD}`).toString('base64')));
    expect(carrying.map((c) => c.path)).toEqual(['/Action/login']);
    expect(JSON.stringify(fake.log)).not.toContain(PASSWORD);
  });
});

describe('the router in trouble', () => {
  let fake: FakeRouter | undefined;
  let html: TestServer | undefined;
  afterEach(async () => {
    await fake?.close();
    await html?.close();
    fake = undefined;
    html = undefined;
  });

  it('unreachable: E020 naming the call and the address, exit 3', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const r = await workspace().run(['--router', `http://127.0.0.1:${port}`, '--apply']);
    expect(r.code).toBe(3);
    expect(r.err).toContain('error[E020]: login as admin (POST /Action/login): cannot reach the router at http://127.0.0.1:');
    expect(r.err).toContain('ECONNREFUSED');
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('not an iKuai web UI (an HTML page): E020 saying there was no JSON', async () => {
    html = await startServer({ '/Action/login': (_req, res) => void res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>NAS login</body></html>') });
    const r = await workspace().run(['--router', html.origin]);
    expect(r.code).toBe(3);
    expect(r.err).toContain('error[E020]');
    expect(r.err).toContain('answered HTTP 200 with no JSON object ("<html><body>NAS login</body></html>")');
  });

  it('a call the router refuses: E020 with its ErrMsg and how far the apply got', async () => {
    const ws = workspace();
    ws.edit('ikuai-gateway.yaml', (t) => t.replace(/enabled: false\n(\s*)# nextServer: 192\.168\.66\.5[^\n]*/, 'enabled: true\n$1nextServer: 192.168.66.5'));
    fake = await startFakeIkuaiRouter({ password: PASSWORD });
    // firmware before 3.5.2: the DHCP server has no custom options 66/67
    for (const pool of fake.tables.dhcp_server) {
      delete pool.opt66;
      delete pool.opt67;
      delete pool.opt_type66;
      delete pool.opt_type67;
    }
    const r = await ws.run(['--router', fake.origin, '--apply']);
    expect(r.code).toBe(3);
    expect(r.err).toContain('error[E020]: dhcp_server edit id 1 (lan1: next-server 192.168.66.5, boot file undionly.kpxe): the router refused the call (unknown field(s) opt66, opt67)');
    expect(r.err).toContain('after 3 of 5 call(s) went through');
    expect(fake.tables.dhcp_static).toHaveLength(3);
    expect(fake.tables.dns).toEqual([]);
  });
});

describe('the password prompt', () => {
  it('reads up to Enter without echo, with backspace; the question is all it writes', async () => {
    const input = Object.assign(new PassThrough(), { isTTY: true, raw: [] as boolean[], setRawMode(this: { raw: boolean[] }, on: boolean) { this.raw.push(on); } });
    const output = new PassThrough();
    let shown = '';
    output.on('data', (c: Buffer) => (shown += c.toString()));
    const answer = askSecret('password: ', input, output);
    input.write('hunter3');
    input.write('\u007f2\r');
    expect(await answer).toBe('hunter2');
    expect(shown).toBe('password: \n');
    expect(input.raw).toEqual([true, false]);
  });

  it('Ctrl-C gives up', async () => {
    const input = new PassThrough();
    const answer = askSecret('password: ', input, new PassThrough());
    input.write('abc\u0003');
    expect(await answer).toBeUndefined();
  });
});
