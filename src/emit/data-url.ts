// A file's contents as an Ignition `data:` URL, chosen the way Butane chooses (coreos/butane base/util/url.go,
// MakeDataURL): the shortest of three encodings, where gzip must also pay for the `"compression": "gzip"` it adds.
//   1. URL-escaped (RFC 2397 / RFC 2396): every byte outside [A-Za-z0-9] and -_.!~*'() becomes %XX.
//   2. base64, when it is strictly shorter than 1.
//   3. gzip (best compression) then base64, when its length plus len("gzip") is strictly shorter than the best of
//      1 and 2.
// Deterministic: Node's gzip writes no name and mtime 0, so the same bytes always give the same URL.

import { gzipSync, constants } from 'node:zlib';

export type DataUrlKind = 'escaped' | 'base64' | 'gzip';

export interface DataUrl {
  source: string;
  /** Ignition's contents.compression: "" (none, said explicitly as Butane does) or "gzip" */
  compression: '' | 'gzip';
  kind: DataUrlKind;
}

const UNRESERVED = /[A-Za-z0-9\-_.!~*'()]/;

/** RFC 2396 escaping of every byte but the unreserved ones, as %XX (upper-case hex, always two digits). */
export function urlEscape(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    out += b < 0x80 && UNRESERVED.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function dataUrl(content: string | Uint8Array): DataUrl {
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content);
  let best: DataUrl = { source: `data:,${urlEscape(bytes)}`, compression: '', kind: 'escaped' };
  const b64 = `data:;base64,${bytes.toString('base64')}`;
  if (b64.length < best.source.length) best = { source: b64, compression: '', kind: 'base64' };
  const gz = `data:;base64,${gzipSync(bytes, { level: constants.Z_BEST_COMPRESSION }).toString('base64')}`;
  if (gz.length + 'gzip'.length < best.source.length) best = { source: gz, compression: 'gzip', kind: 'gzip' };
  return best;
}
