// NoCloud seed ISO writer: ISO 9660 level 1 + Joliet + Rock Ridge, volume label "cidata", a flat root
// directory. Pure TypeScript, one allocation for the image, byte-reproducible (every timestamp is
// epochSeconds; files are laid out in name order).
//
// Layout (2048-byte sectors):
//   0-15 system area (zero) | 16 primary VD | 17 Joliet SVD | 18 terminator
//   19/20 L/M path table (primary) | 21/22 L/M path table (Joliet)
//   primary root directory | Joliet root directory | Rock Ridge continuation area (ER) | file data

import { DiagnosticError, error } from '../diagnostics.js';
import {
  FLAG_DIRECTORY,
  MAX_EPOCH_SECONDS,
  ROOT_PATH_TABLE_SIZE,
  SECTOR,
  ascii,
  directoryExtentSize,
  dirRecordLength,
  isoTime,
  writeDirectory,
  writeRootPathTable,
  writeTerminator,
  writeVolumeDescriptor,
  type DirRecord,
  type IsoTime,
} from './ecma119.js';
import { JOLIET_ESCAPES, compareJoliet, jolietNameProblem, jolietText, ucs2be } from './joliet.js';
import { compareLevel1, level1Identifier, level1Names } from './level1-names.js';
import { fileSystemUse, rootDotDotSystemUse, rootDotSystemUse, writeExtensionsReference } from './rockridge.js';

export interface IsoFile {
  name: string;
  content: Uint8Array | string;
  /** permission bits shown through Rock Ridge; default 0o644 (use 0o600 for files holding secrets) */
  mode?: number;
}

export interface IsoOptions {
  /** volume label; default "cidata" (what cloud-init's NoCloud looks for) */
  volumeId?: string;
  /** every timestamp in the image; default SOURCE_DATE_EPOCH from the environment, else 0 */
  epochSeconds?: number;
}

const SYSTEM_ID = 'LINUX';
const APPLICATION_ID = 'MKIMAGE';
const FIRST_PATH_TABLE = 19;
const DOT = Uint8Array.of(0);
const DOTDOT = Uint8Array.of(1);
const MAX_FILE_BYTES = 0xffffffff;

/** Epoch for all timestamps: the option, else SOURCE_DATE_EPOCH, else 0. A bad SOURCE_DATE_EPOCH is an E007. */
export function resolveEpochSeconds(epochSeconds: number | undefined, env: NodeJS.ProcessEnv = process.env): number {
  if (epochSeconds !== undefined) {
    if (!Number.isInteger(epochSeconds) || epochSeconds < 0 || epochSeconds > MAX_EPOCH_SECONDS) {
      throw new RangeError(`epochSeconds must be a whole number of seconds from 0 to ${MAX_EPOCH_SECONDS}, got ${epochSeconds}`);
    }
    return epochSeconds;
  }
  const raw = env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === '') return 0;
  const n = /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n > MAX_EPOCH_SECONDS) {
    throw new DiagnosticError([
      error(
        'E007',
        `SOURCE_DATE_EPOCH="${raw}" is not a whole number of seconds since 1970 up to ${MAX_EPOCH_SECONDS}; ` +
          'set it to e.g. $(git log -1 --format=%ct), or unset it',
        { file: 'SOURCE_DATE_EPOCH' },
      ),
    ]);
  }
  return n;
}

function checkVolumeId(id: string): void {
  if (!/^[\x21-\x7e][\x20-\x7e]{0,15}$/.test(id)) {
    throw new RangeError(`volumeId "${id}" must be 1 to 16 printable ASCII characters (Joliet keeps 16)`);
  }
}

interface Entry {
  name: string;
  content: Uint8Array | string;
  size: number;
  mode: number;
  extent: number;
}

function toEntries(files: readonly IsoFile[]): Entry[] {
  const seen = new Set<string>();
  const entries = files.map((f): Entry => {
    if (f.name === '' || f.name === '.' || f.name === '..') throw new RangeError(`seed file name "${f.name}" is not a file name`);
    const problem = jolietNameProblem(f.name);
    if (problem !== null) throw new RangeError(`seed file name "${f.name}" ${problem}`);
    if (seen.has(f.name)) throw new RangeError(`seed file "${f.name}" is given twice`);
    seen.add(f.name);
    const mode = f.mode ?? 0o644;
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw new RangeError(`mode of "${f.name}" must be permission bits 0 to 0o7777`);
    const size = typeof f.content === 'string' ? Buffer.byteLength(f.content, 'utf8') : f.content.length;
    if (size > MAX_FILE_BYTES) throw new RangeError(`seed file "${f.name}" is larger than ISO 9660 allows (4 GiB - 1)`);
    return { name: f.name, content: f.content, size, mode, extent: 0 };
  });
  return entries.sort((a, b) => compareJoliet(a.name, b.name));
}

const utf8 = new TextEncoder();

/** Build a NoCloud seed image (ISO 9660 + Joliet + Rock Ridge) holding `files` in its root directory. */
export function writeSeedIso(files: IsoFile[], opts: IsoOptions = {}): Uint8Array {
  const volumeId = opts.volumeId ?? 'cidata';
  checkVolumeId(volumeId);
  const time: IsoTime = isoTime(resolveEpochSeconds(opts.epochSeconds));
  const entries = toEntries(files); // in real-name order: data layout and Joliet order

  // Primary (Rock Ridge) records: sizes first, extents filled in once the layout is known.
  const l1 = level1Names(entries.map((e) => e.name));
  const rrNames = entries.map((e) => utf8.encode(e.name));
  const primaryOrder = entries.map((_, i) => i).sort((a, b) => compareLevel1(l1[a]!, l1[b]!));
  const primaryIds = l1.map(level1Identifier);
  const jolietIds = entries.map((e) => ucs2be(e.name));

  const rootDotSuLen = rootDotSystemUse(time, 0).length;
  const rootDotDotSuLen = rootDotDotSystemUse(time).length;
  const fileSus = entries.map((e, i) => fileSystemUse(rrNames[i]!, e.mode, time));
  const primaryDirSize = directoryExtentSize([
    dirRecordLength(1, rootDotSuLen),
    dirRecordLength(1, rootDotDotSuLen),
    ...primaryOrder.map((i) => dirRecordLength(primaryIds[i]!.length, fileSus[i]!.length)),
  ]);
  const jolietDirSize = directoryExtentSize([
    dirRecordLength(1, 0),
    dirRecordLength(1, 0),
    ...jolietIds.map((id) => dirRecordLength(id.length, 0)),
  ]);

  const primaryRoot = FIRST_PATH_TABLE + 4;
  const jolietRoot = primaryRoot + primaryDirSize / SECTOR;
  const ceExtent = jolietRoot + jolietDirSize / SECTOR;
  let next = ceExtent + 1;
  for (const e of entries) {
    e.extent = next; // an empty file points at where the next data would go, as genisoimage does
    next += Math.ceil(e.size / SECTOR);
  }
  const volumeSectors = next;
  const image = new Uint8Array(volumeSectors * SECTOR);

  const dir = (extent: number, size: number, id: Uint8Array, su: Uint8Array): DirRecord => ({
    extent, size, flags: FLAG_DIRECTORY, id, su,
  });
  const primaryRecords: DirRecord[] = [
    dir(primaryRoot, primaryDirSize, DOT, rootDotSystemUse(time, ceExtent)),
    dir(primaryRoot, primaryDirSize, DOTDOT, rootDotDotSystemUse(time)),
    ...primaryOrder.map((i) => ({ extent: entries[i]!.extent, size: entries[i]!.size, flags: 0, id: primaryIds[i]!, su: fileSus[i]! })),
  ];
  const empty = new Uint8Array(0);
  const jolietRecords: DirRecord[] = [
    dir(jolietRoot, jolietDirSize, DOT, empty),
    dir(jolietRoot, jolietDirSize, DOTDOT, empty),
    ...entries.map((e, i) => ({ extent: e.extent, size: e.size, flags: 0, id: jolietIds[i]!, su: empty })),
  ];

  const common = { volumeSectors, pathTableSize: ROOT_PATH_TABLE_SIZE, time };
  writeVolumeDescriptor(image, 16 * SECTOR, {
    ...common,
    type: 1,
    text: (buf, at, len, s) => ascii(buf, at, len, s),
    systemId: SYSTEM_ID,
    volumeId,
    applicationId: APPLICATION_ID,
    escapes: '',
    lPathTable: FIRST_PATH_TABLE,
    mPathTable: FIRST_PATH_TABLE + 1,
    root: dir(primaryRoot, primaryDirSize, DOT, empty),
  });
  writeVolumeDescriptor(image, 17 * SECTOR, {
    ...common,
    type: 2,
    text: jolietText,
    systemId: SYSTEM_ID,
    volumeId,
    applicationId: APPLICATION_ID,
    escapes: JOLIET_ESCAPES,
    lPathTable: FIRST_PATH_TABLE + 2,
    mPathTable: FIRST_PATH_TABLE + 3,
    root: dir(jolietRoot, jolietDirSize, DOT, empty),
  });
  writeTerminator(image, 18 * SECTOR);
  writeRootPathTable(image, FIRST_PATH_TABLE * SECTOR, primaryRoot, false);
  writeRootPathTable(image, (FIRST_PATH_TABLE + 1) * SECTOR, primaryRoot, true);
  writeRootPathTable(image, (FIRST_PATH_TABLE + 2) * SECTOR, jolietRoot, false);
  writeRootPathTable(image, (FIRST_PATH_TABLE + 3) * SECTOR, jolietRoot, true);
  writeDirectory(image, primaryRoot * SECTOR, primaryRecords, time);
  writeDirectory(image, jolietRoot * SECTOR, jolietRecords, time);
  writeExtensionsReference(image, ceExtent * SECTOR);

  for (const e of entries) {
    const at = e.extent * SECTOR;
    if (typeof e.content === 'string') utf8.encodeInto(e.content, image.subarray(at, at + e.size));
    else image.set(e.content, at);
  }
  return image;
}
