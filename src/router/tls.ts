// Trusting a router's TLS certificate. iKuai ships a self-signed one, so the usual check fails; mkimage then
// names the certificate's SHA-256 fingerprint and the two ways to trust it: --fingerprint (pins exactly that
// certificate; any other is refused) or --insecure (any certificate). Every TLS connection is made without
// Node's own rejection and judged here, on the connected socket, before a byte of HTTP is sent: so the refusal
// can name the fingerprint it saw.

import { TLSSocket } from 'node:tls';
import { Agent, buildConnector } from 'undici';
import { RouterError } from './errors.js';

export interface Trust {
  /** 64 lower-case hex digits: the one certificate to accept */
  pin?: string;
  /** accept any certificate */
  insecure?: boolean;
}

/** "sha256:AB:CD:...", "AB:CD:..." or 64 hex digits -> 64 lower-case hex digits; undefined when it is none of them. */
export function parseFingerprint(s: string): string | undefined {
  const hex = s.trim().replace(/^sha256[:=]/i, '').replace(/:/g, '').toLowerCase();
  return /^[0-9a-f]{64}$/.test(hex) ? hex : undefined;
}

/** 64 hex digits -> "sha256:AB:CD:..." (the form openssl and browsers show). */
export function showFingerprint(hex: string): string {
  return `sha256:${(hex.toUpperCase().match(/../g) ?? []).join(':')}`;
}

/** Node's verification codes, in words. */
const WHY: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'a self-signed certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'a self-signed certificate in the chain',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'signed by an authority this machine does not know',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'signed by an authority this machine does not know',
  CERT_HAS_EXPIRED: 'expired',
  CERT_NOT_YET_VALID: 'not valid yet',
  ERR_TLS_CERT_ALTNAME_INVALID: 'made out for another name or address',
};

/** Why the certificate on `socket` is not to be trusted, or undefined when it is. */
function refusal(socket: TLSSocket, trust: Trust, where: string): RouterError | undefined {
  const seen = socket.getPeerCertificate().fingerprint256?.replace(/:/g, '').toLowerCase() ?? '';
  if (trust.pin !== undefined) {
    if (seen === trust.pin) return undefined;
    return new RouterError('E020',
      `the router's TLS certificate has the SHA-256 fingerprint ${showFingerprint(seen)}, not the ${showFingerprint(trust.pin)} ` +
        'given with --fingerprint, so mkimage did not connect (someone may be in between): if the router\'s certificate changed, ' +
        'check the new fingerprint on the router and pass it with --fingerprint');
  }
  if (trust.insecure || socket.authorized) return undefined;
  const code = String(socket.authorizationError ?? 'not trusted');
  return new RouterError('E020',
    `the router's TLS certificate is not trusted (${WHY[code] ?? code}); its SHA-256 fingerprint is ${showFingerprint(seen)}. ` +
      `Check that against the router (e.g. \`openssl s_client -connect ${where} </dev/null | openssl x509 -noout -fingerprint -sha256\` ` +
      `on a trusted link), then pin it with --fingerprint ${showFingerprint(seen)}, or pass --insecure to accept any certificate (not recommended)`);
}

/** An undici dispatcher whose TLS connections are judged by `trust` (plain http passes through). */
export function routerAgent(trust: Trust, connectTimeoutMs = 10_000): Agent {
  // No session cache: every connection shows its certificate and is judged again.
  const base = buildConnector({ rejectUnauthorized: false, timeout: connectTimeoutMs, maxCachedSessions: 0 });
  const connect: buildConnector.connector = (opts, callback) => {
    base(opts, (err, socket) => {
      if (err !== null) return callback(err, null);
      const why = socket instanceof TLSSocket ? refusal(socket, trust, `${opts.hostname}:${opts.port || 443}`) : undefined;
      if (why === undefined) return callback(null, socket);
      socket.destroy();
      callback(why, null);
    });
  };
  return new Agent({ connect, headersTimeout: 30_000, bodyTimeout: 30_000 });
}
