// Trusting the router's TLS certificate: the FAKE iKuai router serves HTTPS with a self-signed certificate made
// in the test; its fingerprint is computed here with node:crypto, independently of src/router/tls.ts.

import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseFingerprint, showFingerprint } from '../src/router/tls.js';
import { startFakeIkuaiRouter, type FakeRouter } from './fakes/ikuai-router.js';
import { expectedLeases, PASSWORD, pick, selfSignedCert, TOKEN, workspace } from './router-bed.js';

let cert: Awaited<ReturnType<typeof selfSignedCert>>;
let other: Awaited<ReturnType<typeof selfSignedCert>>;
beforeAll(async () => {
  [cert, other] = await Promise.all([selfSignedCert(), selfSignedCert()]);
});

describe('an https router with a self-signed certificate', () => {
  let fake: FakeRouter;
  afterEach(() => fake?.close());
  const start = () => startFakeIkuaiRouter({ password: PASSWORD, tls: { cert: cert.cert, key: cert.key } });

  it('is refused without --fingerprint or --insecure: E020 naming its fingerprint and both ways to trust it', async () => {
    fake = await start();
    const r = await workspace().run(['--router', fake.origin]);
    expect(r.code).toBe(3);
    expect(r.err).toContain('error[E020]');
    expect(r.err).toContain(`SHA-256 fingerprint is sha256:${cert.fingerprint}`);
    expect(r.err).toContain(`--fingerprint sha256:${cert.fingerprint}`);
    expect(r.err).toContain('--insecure');
    expect(r.err).toMatch(/self-signed certificate/);
    expect(fake.log).toEqual([]);
  });

  it.each([
    ['as printed', () => `sha256:${cert.fingerprint}`],
    ['as lower-case hex without colons', () => cert.fingerprint.replace(/:/g, '').toLowerCase()],
  ])('is trusted with its --fingerprint (%s)', async (_form, fp) => {
    fake = await start();
    const ws = workspace();
    const r = await ws.run(['--router', fake.origin, '--fingerprint', fp(), '--apply']);
    expect(r.code, r.err).toBe(0);
    expect(pick(fake.tables.dhcp_static, ['mac', 'ip_addr'])).toEqual(pick(expectedLeases(ws), ['mac', 'ip_addr']));
    expect(r.err).not.toContain('plain http');
  });

  it('with another --fingerprint is refused before any request, naming both fingerprints', async () => {
    fake = await start();
    const r = await workspace().run(['--router', fake.origin, '--fingerprint', `sha256:${other.fingerprint}`, '--apply']);
    expect(r.code).toBe(3);
    expect(r.err).toContain('error[E020]');
    expect(r.err).toContain(`has the SHA-256 fingerprint sha256:${cert.fingerprint}, not the sha256:${other.fingerprint}`);
    expect(fake.log).toEqual([]);
    expect(fake.writes()).toBe(0);
  });

  it('is accepted with --insecure', async () => {
    fake = await start();
    const r = await workspace().run(['--router', fake.origin, '--insecure', '--apply']);
    expect(r.code, r.err).toBe(0);
    expect(fake.tables.dhcp_static).toHaveLength(3);
  });
});

describe('plain http', () => {
  let fake: FakeRouter;
  afterEach(() => fake?.close());

  it('works for 3.x with a warning that the password crosses the LAN in clear', async () => {
    fake = await startFakeIkuaiRouter({ password: PASSWORD });
    const r = await workspace().run(['--router', fake.origin]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(`warning: ${fake.origin} is plain http: the password`);
    expect(r.err).toContain('crosses the LAN in clear');
  });

  it('for 4.x gets the router\'s 403 with the fix: REST is https only', async () => {
    fake = await startFakeIkuaiRouter({ token: TOKEN });
    const r = await workspace().run(['--router', fake.origin], { IKUAI_TOKEN: TOKEN });
    expect(r.code).toBe(3);
    expect(r.err).toContain('error[E020]');
    expect(r.err).toContain('4.x answers /api/v4.0 on https only, use --router https://');
    expect(r.err).toContain('the API token crosses the LAN in clear');
  });
});

describe('fingerprint forms', () => {
  it.each([
    ['sha256:AB:CD', undefined],
    [`sha256:${'AB:'.repeat(31)}AB`, 'ab'.repeat(32)],
    [`SHA256=${'0f'.repeat(32)}`, '0f'.repeat(32)],
    ['ab'.repeat(32), 'ab'.repeat(32)],
    [`sha1:${'ab'.repeat(20)}`, undefined],
    ['zz'.repeat(32), undefined],
  ])('%s -> %s', (given, hex) => {
    expect(parseFingerprint(given)).toBe(hex);
  });

  it('are shown the way openssl prints them', () => {
    expect(showFingerprint('0a'.repeat(32))).toBe(`sha256:${Array(32).fill('0A').join(':')}`);
  });
});
