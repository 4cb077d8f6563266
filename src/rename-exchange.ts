// Atomically swap two directories: Linux renameat2(RENAME_EXCHANGE). After the call each name holds what the other
// held, and at no instant is either name missing — so a reader (or a kill) never sees out/<role> gone.
//
// Node 20 has no binding for renameat2, so the system call is made by a one-line helper in an interpreter the
// machine already has, tried in this order:
//   1. perl: perl-base is Essential on Debian and Ubuntu (on every such machine, slim container images included);
//      perl's syscall() needs the kernel's syscall number, listed below per architecture.
//   2. python3 (ctypes, glibc's renameat2 wrapper): on RHEL/Rocky/Fedora, where perl is often absent.
// Why not a native addon built at `npm ci`: node-gyp needs python3 *and* a C compiler and Node's headers (downloaded
// when missing), so it works on strictly fewer machines than helper 2 alone, and a failed build breaks `npm ci`.
// When no helper works (neither installed, another OS, a filesystem without RENAME_EXCHANGE), the caller falls
// back to two renames (src/output.ts documents that fallback and its recovery).

import { spawnSync } from 'node:child_process';

/** renameat2 by architecture (Node's process.arch): the kernel's syscall tables. */
const RENAMEAT2: Partial<Record<NodeJS.Architecture, number>> = {
  x64: 316,
  ia32: 353,
  arm64: 276, // the generic table, as riscv64 and loong64
  riscv64: 276,
  loong64: 276,
  arm: 382,
  ppc64: 357,
  s390x: 347,
};

/** Exit codes of the helpers: 0 swapped; UNSUPPORTED the kernel or filesystem cannot; anything else an error. */
const UNSUPPORTED = 3;

// AT_FDCWD is -100, RENAME_EXCHANGE is 2. Paths arrive as argv strings (never numbers, so perl passes pointers).
const PERL = `my $r = syscall($ARGV[0] + 0, -100, "$ARGV[1]", -100, "$ARGV[2]", 2);
if ($r != 0) { print STDERR "$!\\n"; exit(($!{ENOSYS} || $!{EINVAL} || $!{EOPNOTSUPP}) ? ${UNSUPPORTED} : 1); }`;

const PYTHON = `import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
f = getattr(libc, "renameat2", None)
if f is None: sys.exit(${UNSUPPORTED})
f.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
if f(-100, os.fsencode(sys.argv[1]), -100, os.fsencode(sys.argv[2]), 2) != 0:
    e = ctypes.get_errno(); sys.stderr.write(os.strerror(e) + "\\n")
    sys.exit(${UNSUPPORTED} if e in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP) else 1)`;

export type ExchangeHelper = 'perl' | 'python3';

function argvFor(helper: ExchangeHelper, a: string, b: string): string[] | undefined {
  if (helper === 'python3') return ['-c', PYTHON, a, b];
  const nr = RENAMEAT2[process.arch];
  return nr === undefined ? undefined : ['-e', PERL, String(nr), a, b];
}

/** Helpers that failed to run here (not installed, no syscall number): not tried again in this process. */
const unusable = new Set<ExchangeHelper>();

/**
 * Exchange directories `a` and `b` (both must exist). Returns false when no helper can do it here (then nothing was
 * changed); throws when the system call ran and failed (both names are then as they were).
 * `only` picks one helper (tests).
 */
export function renameExchange(a: string, b: string, only?: ExchangeHelper): boolean {
  if (process.platform !== 'linux') return false;
  for (const helper of only ? [only] : (['perl', 'python3'] as const)) {
    if (unusable.has(helper)) continue;
    const argv = argvFor(helper, a, b);
    if (argv === undefined) {
      unusable.add(helper);
      continue;
    }
    const r = spawnSync(helper, argv, { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.status === 0) return true;
    // not installed, or cannot here; a helper killed by a signal is an error below (it may have swapped)
    if (r.error !== undefined || r.status === UNSUPPORTED) {
      unusable.add(helper);
      continue;
    }
    throw new Error(`cannot swap ${b} with its new content: ${r.stderr.trim() || `${helper} ${r.status === null ? `was killed by ${r.signal}` : `exited ${r.status}`}`}`);
  }
  return false;
}
