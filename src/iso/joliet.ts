// Joliet (Microsoft, 1995): a supplementary volume descriptor whose identifiers are UCS-2 big-endian, so
// names keep their case and punctuation. Escape sequence "%/E" announces UCS-2 level 3.

export const JOLIET_ESCAPES = '%/E';

/** Joliet limit on a file identifier, in UCS-2 characters. */
export const JOLIET_MAX_NAME = 64;

/** Characters Joliet forbids in a file identifier (besides control characters). */
const FORBIDDEN = /[*/:;?\\]/;

/** Why `name` cannot be a Joliet file identifier, or null if it can. */
export function jolietNameProblem(name: string): string | null {
  if (name.length > JOLIET_MAX_NAME) return `is longer than ${JOLIET_MAX_NAME} characters`;
  if (FORBIDDEN.test(name) || /[\u0000-\u001f]/.test(name)) return 'contains a character Joliet forbids (* / : ; ? \\ or a control character)';
  return null;
}

/** UCS-2 big-endian bytes of `s` (UTF-16 code units; names are checked to fit). */
export function ucs2be(s: string): Uint8Array {
  const out = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out[2 * i] = c >>> 8;
    out[2 * i + 1] = c & 0xff;
  }
  return out;
}

/** Identifier field writer for the Joliet descriptor: UCS-2 BE text padded with UCS-2 spaces; an odd last byte is 0. */
export function jolietText(buf: Uint8Array, at: number, len: number, s: string): void {
  const chars = len >>> 1;
  for (let i = 0; i < chars; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0x20;
    buf[at + 2 * i] = c >>> 8;
    buf[at + 2 * i + 1] = c & 0xff;
  }
  if (len % 2 === 1) buf[at + len - 1] = 0;
}

/** Order of Joliet directory records: by UCS-2 code unit, as the identifiers compare byte-wise. */
export function compareJoliet(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
