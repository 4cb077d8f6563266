// Cluster PKI: the three self-signed CAs kubeadm expects under /etc/kubernetes/pki (kubernetes, front-proxy-ca,
// etcd-ca), the service-account key pair, and the discovery hash that pins the cluster CA for `kubeadm join`.
// Certificates are built with @peculiar/x509 on Node's WebCrypto; keys are PEM PKCS#8 ("PRIVATE KEY"), which
// kubeadm reads through keyutil.ParsePrivateKeyPEM like its own PKCS#1 output.

import { createHash, createPrivateKey, createPublicKey, randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export type KeyType = 'rsa' | 'ecdsa';

export interface PemPair {
  cert: string;
  key: string;
}

/** kubeadm's CA validity: ten years. */
export const CA_VALIDITY_YEARS = 10;
/** notBefore is set a little in the past so a node whose clock lags the operator's still accepts the CA. */
export const CLOCK_SKEW_MS = 5 * 60 * 1000;

const RSA: RsaHashedKeyGenParams = {
  name: 'RSASSA-PKCS1-v1_5',
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: 'SHA-256',
};
const ECDSA: EcKeyGenParams & { hash: string } = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

function pem(der: ArrayBuffer, tag: string): string {
  const text = x509.PemConverter.encode(der, tag).replace(/\r\n/g, '\n');
  return text.endsWith('\n') ? text : `${text}\n`;
}

/** A positive, non-zero 128-bit serial number as hex (RFC 5280 allows up to 20 octets). */
function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x01;
  return b.toString('hex');
}

async function generateKeys(type: KeyType): Promise<CryptoKeyPair> {
  const alg = type === 'rsa' ? RSA : ECDSA;
  return (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
}

/** A self-signed CA certificate and its key, named like kubeadm's ("kubernetes", "front-proxy-ca", "etcd-ca"). */
export async function createCa(commonName: string, now: Date, keyType: KeyType = 'rsa'): Promise<PemPair> {
  const keys = await generateKeys(keyType);
  const notBefore = new Date(now.getTime() - CLOCK_SKEW_MS);
  const notAfter = new Date(now.getTime());
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CA_VALIDITY_YEARS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${commonName}`,
    notBefore,
    notAfter,
    signingAlgorithm: keyType === 'rsa' ? RSA : ECDSA,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const key = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as unknown as webcrypto.CryptoKey);
  return { cert: cert.toString('pem').replace(/\r\n/g, '\n').trimEnd() + '\n', key: pem(key, 'PRIVATE KEY') };
}

/** The service-account signing key pair (sa.key, sa.pub): RSA 2048 like kubeadm's. */
export async function createServiceAccountKey(): Promise<{ key: string; pub: string }> {
  const keys = await generateKeys('rsa');
  const priv = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as unknown as webcrypto.CryptoKey);
  const pub = await webcrypto.subtle.exportKey('spki', keys.publicKey as unknown as webcrypto.CryptoKey);
  return { key: pem(priv, 'PRIVATE KEY'), pub: pem(pub, 'PUBLIC KEY') };
}

/**
 * The `--discovery-token-ca-cert-hash` of a CA: "sha256:" + hex(sha256(DER SubjectPublicKeyInfo)), computed over
 * the certificate's own SPKI bytes exactly as kubeadm's pubkeypin.Hash does.
 */
export function discoveryHash(caCertPem: string): string {
  let hash = hashes.get(caCertPem);
  if (hash === undefined) {
    const cert = new x509.X509Certificate(caCertPem);
    const spki = Buffer.from(cert.publicKey.rawData);
    hash = `sha256:${createHash('sha256').update(spki).digest('hex')}`;
    hashes.set(caCertPem, hash);
  }
  return hash;
}
/** One parse per CA, not one per joining node. */
const hashes = new Map<string, string>();

/** Why a CA pair is unusable, or undefined when it is fine (parses, is a CA, key matches, not expired). */
export function checkCaPair(pair: PemPair, now: Date = new Date()): string | undefined {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(pair.cert);
  } catch {
    return 'the certificate is not a PEM X.509 certificate';
  }
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  if (!bc?.ca) return 'the certificate is not a CA (basicConstraints CA:TRUE is missing)';
  if (cert.notAfter.getTime() <= now.getTime()) return `the certificate expired on ${cert.notAfter.toISOString()}`;
  let keySpki: Buffer;
  try {
    keySpki = createPublicKey(createPrivateKey(pair.key)).export({ type: 'spki', format: 'der' });
  } catch {
    return 'the key is not a PEM private key';
  }
  const certSpki = createPublicKey({ key: Buffer.from(cert.publicKey.rawData), format: 'der', type: 'spki' }).export({
    type: 'spki',
    format: 'der',
  });
  if (!keySpki.equals(certSpki)) return 'the key does not belong to the certificate';
  return undefined;
}

/** Why a service-account key pair is unusable, or undefined when it is fine. */
export function checkServiceAccountPair(sa: { key: string; pub: string }): string | undefined {
  let fromKey: Buffer;
  let fromPub: Buffer;
  try {
    fromKey = createPublicKey(createPrivateKey(sa.key)).export({ type: 'spki', format: 'der' });
  } catch {
    return 'sa.key is not a PEM private key';
  }
  try {
    fromPub = createPublicKey(sa.pub).export({ type: 'spki', format: 'der' });
  } catch {
    return 'sa.pub is not a PEM public key';
  }
  if (!fromKey.equals(fromPub)) return 'sa.pub is not the public half of sa.key';
  return undefined;
}
