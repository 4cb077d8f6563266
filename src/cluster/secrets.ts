// Cluster secrets (`mkimage cluster init`): the CAs, the service-account key pair and the bootstrap token,
// kept under clusters/<name>/secrets/ (dir 0700, files 0600). They are made once and never overwritten
// silently: nodes already built trust this CA. Token rotation rewrites token.json alone.

import { readFile, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DiagnosticError, error, type Diagnostic } from '../diagnostics.js';
import { exists, writeFileAtomic, writeTreeAtomic } from '../output.js';
import {
  checkCaPair,
  checkServiceAccountPair,
  createCa,
  createServiceAccountKey,
  type KeyType,
  type PemPair,
} from './pki.js';
import { checkToken, generateToken, isGoDuration, type BootstrapToken } from './token.js';

export { discoveryHash } from './pki.js';
export { joinCommand } from './kubeadm.js';

export interface ClusterSecrets {
  ca: PemPair;
  frontProxyCa: PemPair;
  etcdCa: PemPair;
  sa: { key: string; pub: string };
  token: BootstrapToken;
}

export interface InitSecretsOptions {
  /** bootstrap token TTL, Go duration (the cluster's bootstrapTokenTTL, "24h0m0s" by default) */
  ttl: string;
  /** replace an existing secrets directory (every node built before must then be rebuilt) */
  force?: boolean;
  /** the time certificates start from and the token is stamped with */
  now?: Date;
  /** CA key type; kubeadm's default is RSA 2048 */
  keyType?: KeyType;
}

/** File names under the secrets directory, in a fixed order. */
export const SECRET_FILES = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  frontProxyCaCert: 'front-proxy-ca.crt',
  frontProxyCaKey: 'front-proxy-ca.key',
  etcdCaCert: 'etcd-ca.crt',
  etcdCaKey: 'etcd-ca.key',
  saKey: 'sa.key',
  saPub: 'sa.pub',
  token: 'token.json',
} as const;

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

function tokenJson(t: BootstrapToken): string {
  const ordered: BootstrapToken = { id: t.id, secret: t.secret, ttl: t.ttl };
  if (t.createdAt !== undefined) ordered.createdAt = t.createdAt;
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

function secretFiles(s: ClusterSecrets): Array<[string, string]> {
  return [
    [SECRET_FILES.caCert, s.ca.cert],
    [SECRET_FILES.caKey, s.ca.key],
    [SECRET_FILES.frontProxyCaCert, s.frontProxyCa.cert],
    [SECRET_FILES.frontProxyCaKey, s.frontProxyCa.key],
    [SECRET_FILES.etcdCaCert, s.etcdCa.cert],
    [SECRET_FILES.etcdCaKey, s.etcdCa.key],
    [SECRET_FILES.saKey, s.sa.key],
    [SECRET_FILES.saPub, s.sa.pub],
    [SECRET_FILES.token, tokenJson(s.token)],
  ];
}

async function nonEmptyDir(path: string): Promise<boolean> {
  try {
    return (await readdir(path)).length > 0;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

function badTtl(ttl: string): Diagnostic {
  return error('E007', `bootstrap token TTL "${ttl}" is not a Go duration: write it like "24h0m0s" (hours, so slow first boots still join)`);
}

/** A whole set of cluster secrets, in memory only (`cluster init` writes them; `plan` shows a redacted one). */
export async function generateSecrets(opts: Omit<InitSecretsOptions, 'force'>): Promise<ClusterSecrets> {
  if (!isGoDuration(opts.ttl)) throw new DiagnosticError([badTtl(opts.ttl)]);
  const now = opts.now ?? new Date();
  const keyType = opts.keyType ?? 'rsa';
  const [ca, frontProxyCa, etcdCa, sa] = await Promise.all([
    createCa('kubernetes', now, keyType),
    createCa('front-proxy-ca', now, keyType),
    createCa('etcd-ca', now, keyType),
    createServiceAccountKey(),
  ]);
  return { ca, frontProxyCa, etcdCa, sa, token: generateToken(opts.ttl, now) };
}

/** Generate every cluster secret into `dir` (clusters/<name>/secrets). Refuses an existing, non-empty dir unless force. */
export async function initSecrets(dir: string, opts: InitSecretsOptions): Promise<ClusterSecrets> {
  if (!isGoDuration(opts.ttl)) throw new DiagnosticError([badTtl(opts.ttl)]);
  const target = resolve(dir);
  await checkSecretsDir(target);
  const alreadyThere = () =>
    new DiagnosticError([
      error(
        'E017',
        `${dir} already holds cluster secrets and nodes built from them trust this CA: keep them, rotate only the ` +
          `token ("mkimage cluster token"), or pass --force to replace every key (then rebuild every node)`,
        { file: dir },
      ),
    ]);
  if (!opts.force && (await nonEmptyDir(target))) throw alreadyThere();
  const secrets = await generateSecrets(opts);
  if (!(await writeSecrets(target, secrets, { force: opts.force }))) throw alreadyThere();
  return secrets;
}

/**
 * Write a generated set into `dir` (0700, files 0600). The whole set goes into a temp dir beside it that is then
 * swapped in, so a failure leaves the old set intact. Without force an existing set wins (a concurrent first render
 * got there first) and this returns false, writing nothing.
 */
export async function writeSecrets(dir: string, secrets: ClusterSecrets, opts: { force?: boolean } = {}): Promise<boolean> {
  const target = resolve(dir);
  await checkSecretsDir(target);
  const files = secretFiles(secrets).map(([path, content]) => ({ path, content, mode: FILE_MODE }));
  return writeTreeAtomic(target, files, { dirMode: DIR_MODE, keepExisting: !opts.force });
}

/**
 * How to get one missing secret back. `cluster init` refuses a directory that still holds the others, so the fix
 * is the file's own: a public half is derived from its key, a CA or key is copied back from a control plane that
 * booted with it (kubeadm keeps them under /etc/kubernetes/pki), the token is simply made anew.
 */
function restoreHint(name: string, dir: string): string {
  const pki: Record<string, string> = {
    [SECRET_FILES.caCert]: 'ca.crt', [SECRET_FILES.caKey]: 'ca.key',
    [SECRET_FILES.frontProxyCaCert]: 'front-proxy-ca.crt', [SECRET_FILES.frontProxyCaKey]: 'front-proxy-ca.key',
    [SECRET_FILES.etcdCaCert]: 'etcd/ca.crt', [SECRET_FILES.etcdCaKey]: 'etcd/ca.key',
    [SECRET_FILES.saKey]: 'sa.key', [SECRET_FILES.saPub]: 'sa.pub',
  };
  const target = join(dir, name);
  if (name === SECRET_FILES.token) return `run "mkimage cluster token" to write a new bootstrap token, then render the seeds again`;
  const derive = name === SECRET_FILES.saPub ? `derive it from sa.key (openssl pkey -in ${join(dir, SECRET_FILES.saKey)} -pubout -out ${target}), or ` : '';
  return (
    `${derive}restore it from your backup, or copy it back from a control plane that booted with these secrets ` +
    `(scp root@cp1:/etc/kubernetes/pki/${pki[name] ?? name} ${target}; chmod 600 ${target}); if no node was ever built ` +
    `from them, start over with "mkimage cluster init --force"`
  );
}

/** Read one secret file: collects a diagnostic (missing, not a file, or readable by others) instead of throwing. */
async function readSecret(dir: string, name: string, diags: Diagnostic[]): Promise<string> {
  const path = join(dir, name);
  try {
    const st = await stat(path);
    if (!st.isFile()) {
      diags.push(error('E014', `${name} in ${dir} is a directory, not the secret file: move it away, then ${restoreHint(name, dir)}`, { file: path }));
      return '';
    }
    const mode = st.mode & 0o777;
    if ((mode & 0o077) !== 0) {
      diags.push(
        error('E014', `${name} is readable by other users (mode ${mode.toString(8).padStart(4, '0')}): run chmod 600 ${path}`, {
          file: path,
        }),
      );
    }
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      diags.push(error('E014', `${name} is missing from ${dir}: ${restoreHint(name, dir)}`, { file: path }));
      return '';
    }
    if (code === 'EACCES') {
      diags.push(error('E014', `${name} cannot be read (permission denied): run mkimage as the user that owns ${dir}`, { file: path }));
      return '';
    }
    throw e;
  }
}

/** W117: a secrets directory others can list or enter (the files are checked one by one, E014). */
export async function secretsDirWarnings(dir: string): Promise<Diagnostic[]> {
  try {
    const mode = (await stat(dir)).mode & 0o777;
    if ((mode & 0o077) === 0) return [];
    return [{
      severity: 'warning', code: 'W117', file: dir,
      message: `the secrets directory is mode ${mode.toString(8).padStart(4, '0')}, so other users can see what it holds: run chmod 700 ${dir}`,
    }];
  } catch {
    return [];
  }
}

/** `--secrets` (or clusters/<name>/secrets) must be a directory, or not exist yet. */
async function checkSecretsDir(dir: string): Promise<void> {
  let st;
  try {
    st = await stat(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') {
      throw new DiagnosticError([error('E014', `the secrets path ${dir} is below a regular file: pass --secrets <a directory>`, { file: dir })]);
    }
    throw e;
  }
  if (!st.isDirectory()) {
    throw new DiagnosticError([error('E014', `the secrets path ${dir} is a file, not a directory: pass --secrets <the directory "mkimage cluster init" made>`, { file: dir })]);
  }
}

/** Load and check the secrets in `dir`; every problem becomes an E014 diagnostic (thrown together). */
export async function loadSecrets(dir: string): Promise<ClusterSecrets> {
  const diags: Diagnostic[] = [];
  await checkSecretsDir(dir);
  if (!(await exists(dir))) {
    throw new DiagnosticError([
      error('E014', `no cluster secrets at ${dir}: run "mkimage cluster init" first`, { file: dir }),
    ]);
  }
  const read = (name: string) => readSecret(dir, name, diags);
  const ca = { cert: await read(SECRET_FILES.caCert), key: await read(SECRET_FILES.caKey) };
  const frontProxyCa = { cert: await read(SECRET_FILES.frontProxyCaCert), key: await read(SECRET_FILES.frontProxyCaKey) };
  const etcdCa = { cert: await read(SECRET_FILES.etcdCaCert), key: await read(SECRET_FILES.etcdCaKey) };
  const sa = { key: await read(SECRET_FILES.saKey), pub: await read(SECRET_FILES.saPub) };
  const tokenText = await read(SECRET_FILES.token);
  if (diags.length > 0) throw new DiagnosticError(diags);

  const pairs: Array<[PemPair, string, string]> = [
    [ca, SECRET_FILES.caCert, SECRET_FILES.caKey],
    [frontProxyCa, SECRET_FILES.frontProxyCaCert, SECRET_FILES.frontProxyCaKey],
    [etcdCa, SECRET_FILES.etcdCaCert, SECRET_FILES.etcdCaKey],
  ];
  for (const [pair, certName, keyName] of pairs) {
    const why = checkCaPair(pair);
    if (why) {
      diags.push(error('E014', `${certName}/${keyName}: ${why}; restore them from a backup or re-create with "mkimage cluster init --force"`, {
        file: join(dir, certName),
      }));
    }
  }
  const saWhy = checkServiceAccountPair(sa);
  if (saWhy) diags.push(error('E014', `${saWhy}; restore it from a backup or re-create with "mkimage cluster init --force"`, { file: join(dir, SECRET_FILES.saKey) }));

  let token: BootstrapToken | undefined;
  try {
    const parsed: unknown = JSON.parse(tokenText);
    const why = checkToken(parsed);
    if (why) throw new Error(why);
    token = parsed as BootstrapToken;
  } catch (e) {
    diags.push(error('E014', `${SECRET_FILES.token}: ${(e as Error).message}; make a new one with "mkimage cluster token"`, {
      file: join(dir, SECRET_FILES.token),
    }));
  }
  if (diags.length > 0 || token === undefined) throw new DiagnosticError(diags);
  const t: BootstrapToken = { id: token.id, secret: token.secret, ttl: token.ttl };
  if (token.createdAt !== undefined) t.createdAt = token.createdAt;
  return { ca, frontProxyCa, etcdCa, sa, token: t };
}

/** Replace the bootstrap token (token.json only); the CAs and keys stay untouched. */
export async function rotateToken(dir: string, ttl: string, opts: { now?: Date } = {}): Promise<BootstrapToken> {
  if (!isGoDuration(ttl)) throw new DiagnosticError([badTtl(ttl)]);
  const caCert = join(dir, SECRET_FILES.caCert);
  if (!(await exists(caCert))) {
    throw new DiagnosticError([
      error('E014', `no cluster secrets at ${dir}: run "mkimage cluster init" before rotating the token`, { file: dir }),
    ]);
  }
  const token = generateToken(ttl, opts.now ?? new Date());
  await writeFileAtomic(join(dir, SECRET_FILES.token), tokenJson(token), FILE_MODE);
  return token;
}
