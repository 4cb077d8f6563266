// Cluster secrets for tests: the TEST-ONLY fixture set, private copies loadSecrets accepts, and the
// discovery hash computed the way the kubeadm docs do it (openssl), to check ours against.

import { chmod, copyFile, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { run, tool } from './tools.js';

/** test/fixtures/secrets/: a fixed cluster secret set (keys, token.json) checked in for tests only. */
export const FIXTURE_SECRETS = fileURLToPath(new URL('../fixtures/secrets/', import.meta.url));

/**
 * Copy secret files from `from` into a new 0700 directory `to`, each file 0600 (git keeps the fixture keys 0644;
 * loadSecrets insists on 0600). `files` defaults to every file in `from` but its README.md. Returns `to`.
 */
export async function privateSecretsCopy(from: string, to: string, files?: readonly string[]): Promise<string> {
  await mkdir(to, { mode: 0o700 });
  for (const f of files ?? (await readdir(from)).filter((name) => name !== 'README.md')) {
    await copyFile(join(from, f), join(to, f));
    await chmod(join(to, f), 0o600);
  }
  return to;
}

/** The discovery hash ("sha256:<hex>") of the CA certificate file `caCrt`, as the kubeadm docs compute it with openssl. */
export function opensslHash(caCrt: string): string {
  tool('openssl');
  const r = run('bash', [
    '-c',
    'set -o pipefail; openssl x509 -pubkey -in "$1" | openssl pkey -pubin -outform der | openssl dgst -sha256 -hex',
    'hash',
    caCrt,
  ]);
  expect(r.status, r.stderr).toBe(0);
  const hex = r.stdout.trim().split(/\s+/).pop() ?? '';
  expect(hex).toMatch(/^[0-9a-f]{64}$/);
  return `sha256:${hex}`;
}
