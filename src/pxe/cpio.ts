// A cpio archive in the "newc" format (what the Linux kernel unpacks as an initramfs), written byte-reproducibly:
// entries sorted by path (a directory before what is in it), every entry owned by root (uid/gid 0), one fixed mtime
// (SOURCE_DATE_EPOCH, else 0), inode numbers in entry order, no device numbers. The same entries give the same
// bytes on every machine.
//
// newc: a 110-byte ASCII header ("070701" + 13 fields of 8 hex digits), the NUL-terminated name padded to 4 bytes,
// the data padded to 4 bytes; the archive ends with an entry named "TRAILER!!!".

export type CpioEntry =
  | { path: string; type: 'dir'; mode: number }
  | { path: string; type: 'file'; mode: number; content: Uint8Array }
  | { path: string; type: 'symlink'; target: string }
  /** a character device node, e.g. dev/console (5, 1): the kernel opens it for /init before any /dev is mounted */
  | { path: string; type: 'chardev'; mode: number; major: number; minor: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const TRAILER = 'TRAILER!!!';

const pad4 = (n: number) => (4 - (n % 4)) % 4;
const hex8 = (n: number) => n.toString(16).padStart(8, '0');

interface Header {
  ino: number;
  mode: number;
  nlink: number;
  mtime: number;
  size: number;
  nameSize: number;
  rdev?: [number, number];
}

/** Fields: magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check. */
function header(f: Header): string {
  const [rmaj, rmin] = f.rdev ?? [0, 0];
  return '070701' + [f.ino, f.mode, 0, 0, f.nlink, f.mtime, f.size, 0, 0, rmaj, rmin, f.nameSize, 0].map(hex8).join('');
}

/** Directories first within their parent's order: a plain byte order of paths puts "a" before "a/b", as needed. */
function byPath(a: CpioEntry, b: CpioEntry): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

function checkPath(p: string): void {
  if (p === '' || p.startsWith('/') || p.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new Error(`internal: cpio path ${JSON.stringify(p)} must be relative, without empty, "." or ".." parts`);
  }
}

/** The entries plus every parent directory none of them names (0755), so the kernel can create each path. */
function withParents(entries: CpioEntry[]): CpioEntry[] {
  const named = new Set(entries.map((e) => e.path));
  const parents: CpioEntry[] = [];
  for (const e of entries) {
    const parts = e.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!named.has(dir)) {
        named.add(dir);
        parents.push({ path: dir, type: 'dir', mode: 0o755 });
      }
    }
  }
  return [...entries, ...parents];
}

/**
 * The archive's bytes. `mtime` is in seconds since the epoch (the caller passes SOURCE_DATE_EPOCH or 0). Parent
 * directories the entries do not name are added (0755).
 */
export function writeCpio(entries: CpioEntry[], mtime: number): Uint8Array {
  for (const e of entries) checkPath(e.path);
  const sorted = withParents(entries).sort(byPath);
  const parts: Uint8Array[] = [];
  const enc = new TextEncoder();
  const seen = new Set<string>();
  let ino = 0;
  const push = (head: string, name: string, data: Uint8Array) => {
    const nameBytes = enc.encode(`${name}\0`);
    const h = enc.encode(head);
    parts.push(h, nameBytes, new Uint8Array(pad4(h.length + nameBytes.length)), data, new Uint8Array(pad4(data.length)));
  };
  for (const e of sorted) {
    if (seen.has(e.path)) throw new Error(`internal: two cpio entries at ${e.path}`);
    seen.add(e.path);
    const nameSize = enc.encode(e.path).length + 1;
    ino += 1;
    if (e.type === 'dir') {
      push(header({ ino, mode: S_IFDIR | (e.mode & 0o7777), nlink: 2, mtime, size: 0, nameSize }), e.path, new Uint8Array());
    } else if (e.type === 'file') {
      push(header({ ino, mode: S_IFREG | (e.mode & 0o7777), nlink: 1, mtime, size: e.content.length, nameSize }), e.path, e.content);
    } else if (e.type === 'chardev') {
      push(header({ ino, mode: S_IFCHR | (e.mode & 0o7777), nlink: 1, mtime, size: 0, nameSize, rdev: [e.major, e.minor] }), e.path, new Uint8Array());
    } else {
      const target = enc.encode(e.target);
      push(header({ ino, mode: S_IFLNK | 0o777, nlink: 1, mtime, size: target.length, nameSize }), e.path, target);
    }
  }
  push(header({ ino: 0, mode: 0, nlink: 1, mtime: 0, size: 0, nameSize: TRAILER.length + 1 }), TRAILER, new Uint8Array());
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
