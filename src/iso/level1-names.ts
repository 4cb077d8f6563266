// ISO 9660 level 1 file identifiers: 8.3 d-characters (A-Z 0-9 _) plus ";1". "user-data" becomes
// "USER_DAT.;1". Readers that understand Rock Ridge or Joliet never show these names.

export interface Level1Name {
  base: string; // up to 8 d-characters
  ext: string; // up to 3 d-characters
}

function dChars(s: string, max: number): string {
  return s.toUpperCase().replace(/[^A-Z0-9_]/g, '_').slice(0, max);
}

/**
 * Level 1 names for `names` (already in the order they should claim names), unique among themselves:
 * a clash replaces the tail of the base with a counter (USER_DAT, USER_DA1, USER_DA2 …).
 */
export function level1Names(names: readonly string[]): Level1Name[] {
  const taken = new Set<string>();
  return names.map((name) => {
    const dot = name.lastIndexOf('.');
    const rawBase = dot > 0 ? name.slice(0, dot) : name;
    const rawExt = dot > 0 ? name.slice(dot + 1) : '';
    const base0 = dChars(rawBase, 8) || '_';
    const ext = dChars(rawExt, 3);
    let base = base0;
    for (let n = 1; taken.has(`${base}.${ext}`); n++) {
      const suffix = String(n);
      base = base0.slice(0, 8 - suffix.length) + suffix;
    }
    taken.add(`${base}.${ext}`);
    return { base, ext };
  });
}

/** "BASE.EXT;1" as the bytes of the file identifier. */
export function level1Identifier(n: Level1Name): Uint8Array {
  const s = `${n.base}.${n.ext};1`;
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function padCompare(a: string, b: string): number {
  const len = Math.max(a.length, b.length);
  const pa = a.padEnd(len, ' ');
  const pb = b.padEnd(len, ' ');
  return pa < pb ? -1 : pa > pb ? 1 : 0;
}

/** ECMA-119 9.3 record order: name part then extension, each compared as if padded with spaces. */
export function compareLevel1(a: Level1Name, b: Level1Name): number {
  return padCompare(a.base, b.base) || padCompare(a.ext, b.ext);
}
