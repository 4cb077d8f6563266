// The per-cluster SSH key Packer logs in to the build VM with: made once, kept beside the cluster's secrets
// (<secretsDir>/packer-build/id_ed25519, 0600, and .pub), never under out/. Renders read its public half into
// the build seed's user-data, and the HCL points at the private half by a path relative to the Packer directory,
// so two renders stay byte-identical and `packer build .` in a fresh render needs no file added by hand. It only
// ever authorises the temporary build user, which the clean-up step removes from the image.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exists, writeTreeAtomic } from '../output.js';

export const BUILD_KEY_DIR = 'packer-build';
export const BUILD_KEY_NAME = 'id_ed25519';

// ---- OpenSSH ed25519 key (PROTOCOL.key), unencrypted ----

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const sshString = (b: Buffer | string) => {
  const buf = typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
  return Buffer.concat([u32(buf.length), buf]);
};

export interface SshKeyPair {
  /** "-----BEGIN OPENSSH PRIVATE KEY-----..." */
  privateKey: string;
  /** "ssh-ed25519 AAAA... comment" */
  publicKey: string;
}

/** A fresh ed25519 key pair in OpenSSH formats, made with node:crypto. */
export function generateSshKeyPair(comment: string): SshKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d ?? '', 'base64url');
  const pubBlob = Buffer.concat([sshString('ssh-ed25519'), sshString(pub)]);
  const check = randomBytes(4);
  let priv = Buffer.concat([
    check,
    check,
    sshString('ssh-ed25519'),
    sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString(comment),
  ]);
  const pad = (8 - (priv.length % 8)) % 8;
  priv = Buffer.concat([priv, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0', 'latin1'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    u32(1),
    sshString(pubBlob),
    sshString(priv),
  ]).toString('base64');
  const lines = body.match(/.{1,70}/g) ?? [];
  return {
    privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`,
    publicKey: `ssh-ed25519 ${pubBlob.toString('base64')} ${comment}`,
  };
}

export interface BuildKey {
  /** absolute path of the private key */
  privateKeyFile: string;
  /** "ssh-ed25519 AAAA... comment" */
  publicKey: string;
}

/** The cluster's build key under `secretsDir`, generated on first use (dir 0700, key 0600), never replaced. */
export async function ensureBuildKey(secretsDir: string, comment = 'mkimage-build@mkimage'): Promise<BuildKey> {
  const prepared = await prepareBuildKey(secretsDir, comment);
  return (await prepared.commit()) ? prepared.key : readBuildKey(prepared.key.privateKeyFile);
}

async function readBuildKey(privateKeyFile: string): Promise<BuildKey> {
  return { privateKeyFile, publicKey: (await readFile(`${privateKeyFile}.pub`, 'utf8')).trim() };
}

/**
 * The build key as ensureBuildKey makes it, but a new pair is only written by `commit()` (a render writes nothing
 * before everything has passed). commit() is false when another render wrote its pair first: the one on disk stays
 * and is the cluster's key (render again with it). A directory holding half a pair is replaced.
 */
export async function prepareBuildKey(secretsDir: string, comment = 'mkimage-build@mkimage'): Promise<{ key: BuildKey; commit: () => Promise<boolean> }> {
  const dir = join(secretsDir, BUILD_KEY_DIR);
  const privateKeyFile = join(dir, BUILD_KEY_NAME);
  const pubFile = `${privateKeyFile}.pub`;
  const bothThere = async () => (await exists(privateKeyFile)) && (await exists(pubFile));
  if (await bothThere()) return { key: await readBuildKey(privateKeyFile), commit: async () => true };
  const keys = generateSshKeyPair(comment);
  const pair = [
    { path: BUILD_KEY_NAME, content: keys.privateKey, mode: 0o600 },
    { path: `${BUILD_KEY_NAME}.pub`, content: `${keys.publicKey}\n`, mode: 0o644 },
  ];
  return {
    key: { privateKeyFile, publicKey: keys.publicKey },
    commit: async () => {
      // both halves at once; a render that made the pair first (two first renders at once) keeps it
      if (await writeTreeAtomic(dir, pair, { dirMode: 0o700, keepExisting: true })) return true;
      if (await bothThere()) return false;
      await writeTreeAtomic(dir, pair, { dirMode: 0o700 });
      return true;
    },
  };
}
