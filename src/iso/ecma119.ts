// ECMA-119 (ISO 9660) field encoders: both-byte-order integers, the two date formats, directory records,
// path table records and volume descriptors. Everything writes into a caller-owned buffer at an offset, so
// the whole image is built in one allocation.

export const SECTOR = 2048;

/** 7.2.3: 16-bit little-endian then big-endian (4 bytes). */
export function both16(buf: Uint8Array, at: number, v: number): void {
  buf[at] = v & 0xff;
  buf[at + 1] = (v >>> 8) & 0xff;
  buf[at + 2] = (v >>> 8) & 0xff;
  buf[at + 3] = v & 0xff;
}

/** 7.3.3: 32-bit little-endian then big-endian (8 bytes). */
export function both32(buf: Uint8Array, at: number, v: number): void {
  le32(buf, at, v);
  be32(buf, at + 4, v);
}

export function le32(buf: Uint8Array, at: number, v: number): void {
  buf[at] = v & 0xff;
  buf[at + 1] = (v >>> 8) & 0xff;
  buf[at + 2] = (v >>> 16) & 0xff;
  buf[at + 3] = (v >>> 24) & 0xff;
}

export function be32(buf: Uint8Array, at: number, v: number): void {
  buf[at] = (v >>> 24) & 0xff;
  buf[at + 1] = (v >>> 16) & 0xff;
  buf[at + 2] = (v >>> 8) & 0xff;
  buf[at + 3] = v & 0xff;
}

export function le16(buf: Uint8Array, at: number, v: number): void {
  buf[at] = v & 0xff;
  buf[at + 1] = (v >>> 8) & 0xff;
}

export function be16(buf: Uint8Array, at: number, v: number): void {
  buf[at] = (v >>> 8) & 0xff;
  buf[at + 1] = v & 0xff;
}

/** Write ASCII `s` and pad the field to `len` bytes with `fill`. */
export function ascii(buf: Uint8Array, at: number, len: number, s: string, fill = 0x20): void {
  for (let i = 0; i < len; i++) buf[at + i] = i < s.length ? s.charCodeAt(i) & 0x7f : fill;
}

/** A UTC instant broken into the fields both ISO 9660 date formats need. */
export interface IsoTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** Latest instant the 7-byte directory date can hold (year 1900 + 255). */
export const MAX_EPOCH_SECONDS = Date.UTC(2155, 11, 31, 23, 59, 59) / 1000;

export function isoTime(epochSeconds: number): IsoTime {
  const d = new Date(epochSeconds * 1000);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
  };
}

/** 9.1.5: 7-byte recording date (years since 1900 … GMT offset 0). */
export function dirDate(buf: Uint8Array, at: number, t: IsoTime): void {
  buf[at] = t.year - 1900;
  buf[at + 1] = t.month;
  buf[at + 2] = t.day;
  buf[at + 3] = t.hour;
  buf[at + 4] = t.minute;
  buf[at + 5] = t.second;
  buf[at + 6] = 0;
}

const two = (n: number) => String(n).padStart(2, '0');

/** 8.4.26.1: 17-byte volume date "YYYYMMDDHHMMSScc" + GMT offset; `null` writes "not specified". */
export function volumeDate(buf: Uint8Array, at: number, t: IsoTime | null): void {
  const s = t === null
    ? '0000000000000000'
    : `${String(t.year).padStart(4, '0')}${two(t.month)}${two(t.day)}${two(t.hour)}${two(t.minute)}${two(t.second)}00`;
  ascii(buf, at, 16, s);
  buf[at + 16] = 0;
}

export const FLAG_DIRECTORY = 0x02;

/** Length of a directory record (9.1) with an identifier of `idLen` bytes and `suLen` bytes of system use. */
export function dirRecordLength(idLen: number, suLen: number): number {
  return 33 + idLen + (idLen % 2 === 0 ? 1 : 0) + suLen;
}

export interface DirRecord {
  extent: number;
  size: number;
  flags: number;
  /** file identifier bytes (0x00 for ".", 0x01 for "..") */
  id: Uint8Array;
  /** System Use area (SUSP entries), may be empty */
  su: Uint8Array;
}

/** Write a directory record (9.1); returns its length. */
export function writeDirRecord(buf: Uint8Array, at: number, r: DirRecord, t: IsoTime): number {
  const len = dirRecordLength(r.id.length, r.su.length);
  if (len > 255) throw new RangeError(`directory record of ${len} bytes exceeds 255`);
  buf[at] = len;
  buf[at + 1] = 0; // extended attribute record length
  both32(buf, at + 2, r.extent);
  both32(buf, at + 10, r.size);
  dirDate(buf, at + 18, t);
  buf[at + 25] = r.flags;
  buf[at + 26] = 0; // file unit size
  buf[at + 27] = 0; // interleave gap
  both16(buf, at + 28, 1); // volume sequence number
  buf[at + 32] = r.id.length;
  buf.set(r.id, at + 33);
  let p = at + 33 + r.id.length;
  if (r.id.length % 2 === 0) buf[p++] = 0;
  buf.set(r.su, p);
  return len;
}

/** Size in bytes of a directory extent holding `lengths` records; a record never straddles a sector (6.8.1.1). */
export function directoryExtentSize(lengths: number[]): number {
  let sectors = 1;
  let used = 0;
  for (const len of lengths) {
    if (used + len > SECTOR) {
      sectors++;
      used = 0;
    }
    used += len;
  }
  return sectors * SECTOR;
}

/** Write directory records in order from `at`, moving to the next sector when one would straddle. */
export function writeDirectory(buf: Uint8Array, at: number, records: DirRecord[], t: IsoTime): void {
  let used = 0;
  let p = at;
  for (const r of records) {
    const len = dirRecordLength(r.id.length, r.su.length);
    if (used + len > SECTOR) {
      p += SECTOR - used;
      used = 0;
    }
    writeDirRecord(buf, p, r, t);
    p += len;
    used += len;
  }
}

/** Path table holding only the root directory (9.4): 10 bytes. */
export const ROOT_PATH_TABLE_SIZE = 10;

export function writeRootPathTable(buf: Uint8Array, at: number, rootExtent: number, bigEndian: boolean): void {
  buf[at] = 1; // length of directory identifier
  buf[at + 1] = 0; // extended attribute record length
  if (bigEndian) {
    be32(buf, at + 2, rootExtent);
    be16(buf, at + 6, 1);
  } else {
    le32(buf, at + 2, rootExtent);
    le16(buf, at + 6, 1);
  }
  buf[at + 8] = 0; // root identifier
  buf[at + 9] = 0; // padding
}

export interface VolumeDescriptor {
  type: 1 | 2; // primary | supplementary
  /** encodes an identifier field of `len` bytes (a-/d-characters for the primary, UCS-2 BE for Joliet) */
  text: (buf: Uint8Array, at: number, len: number, s: string) => void;
  systemId: string;
  volumeId: string;
  applicationId: string;
  escapes: string; // "%/E" for Joliet UCS-2 level 3, "" for the primary
  volumeSectors: number;
  pathTableSize: number;
  lPathTable: number;
  mPathTable: number;
  root: DirRecord;
  time: IsoTime;
}

/** Primary (8.4) or supplementary (8.5) volume descriptor, one sector at `at`. */
export function writeVolumeDescriptor(buf: Uint8Array, at: number, v: VolumeDescriptor): void {
  buf[at] = v.type;
  ascii(buf, at + 1, 5, 'CD001');
  buf[at + 6] = 1; // version
  v.text(buf, at + 8, 32, v.systemId);
  v.text(buf, at + 40, 32, v.volumeId);
  both32(buf, at + 80, v.volumeSectors);
  ascii(buf, at + 88, v.escapes.length, v.escapes);
  both16(buf, at + 120, 1); // volume set size
  both16(buf, at + 124, 1); // volume sequence number
  both16(buf, at + 128, SECTOR);
  both32(buf, at + 132, v.pathTableSize);
  le32(buf, at + 140, v.lPathTable);
  be32(buf, at + 148, v.mPathTable);
  writeDirRecord(buf, at + 156, v.root, v.time);
  v.text(buf, at + 190, 128, ''); // volume set
  v.text(buf, at + 318, 128, ''); // publisher
  v.text(buf, at + 446, 128, ''); // data preparer
  v.text(buf, at + 574, 128, v.applicationId);
  v.text(buf, at + 702, 37, ''); // copyright file
  v.text(buf, at + 739, 37, ''); // abstract file
  v.text(buf, at + 776, 37, ''); // bibliographic file
  volumeDate(buf, at + 813, v.time); // creation
  volumeDate(buf, at + 830, v.time); // modification
  volumeDate(buf, at + 847, null); // expiration
  volumeDate(buf, at + 864, v.time); // effective
  buf[at + 881] = 1; // file structure version
}

/** Volume descriptor set terminator (8.3). */
export function writeTerminator(buf: Uint8Array, at: number): void {
  buf[at] = 255;
  ascii(buf, at + 1, 5, 'CD001');
  buf[at + 6] = 1;
}
