// Rock Ridge (RRIP 1991A) over SUSP 1.10: the System Use entries that give ISO 9660 records POSIX names,
// modes and times. Same entry set and order as genisoimage -rock, so Linux, isoinfo and libblkid read it.

import { both32, dirDate, type IsoTime } from './ecma119.js';

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;

const ER_ID = 'RRIP_1991A';
const ER_DESCRIPTOR = 'THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS';
const ER_SOURCE =
  'PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION.';

// RRIP 1.09 "RR" flags: which Rock Ridge entries a record carries.
const RR_PX = 0x01;
const RR_NM = 0x08;
const RR_TF = 0x80;

const PX_LEN = 36; // RRIP 1991A: mode, links, uid, gid (no serial number)
const TF_LEN = 5 + 3 * 7; // modify, access, attributes, short form
const CE_LEN = 28;
const SP_LEN = 7;
const RR_LEN = 5;

function header(buf: Uint8Array, at: number, sig: string, len: number): void {
  buf[at] = sig.charCodeAt(0);
  buf[at + 1] = sig.charCodeAt(1);
  buf[at + 2] = len;
  buf[at + 3] = 1; // entry version
}

function rr(buf: Uint8Array, at: number, flags: number): number {
  header(buf, at, 'RR', RR_LEN);
  buf[at + 4] = flags;
  return RR_LEN;
}

function px(buf: Uint8Array, at: number, mode: number, links: number): number {
  header(buf, at, 'PX', PX_LEN);
  both32(buf, at + 4, mode);
  both32(buf, at + 12, links);
  both32(buf, at + 20, 0); // uid
  both32(buf, at + 28, 0); // gid
  return PX_LEN;
}

function tf(buf: Uint8Array, at: number, t: IsoTime): number {
  header(buf, at, 'TF', TF_LEN);
  buf[at + 4] = 0x0e; // MODIFY | ACCESS | ATTRIBUTES
  dirDate(buf, at + 5, t);
  dirDate(buf, at + 12, t);
  dirDate(buf, at + 19, t);
  return TF_LEN;
}

/** System Use of the root "." record: SP first (SUSP 5.3), then RR, PX, TF and a CE to the ER entry. */
export function rootDotSystemUse(t: IsoTime, ceExtent: number): Uint8Array {
  const su = new Uint8Array(SP_LEN + RR_LEN + PX_LEN + TF_LEN + CE_LEN);
  let p = 0;
  header(su, p, 'SP', SP_LEN);
  su[p + 4] = 0xbe;
  su[p + 5] = 0xef;
  su[p + 6] = 0; // LEN_SKP
  p += SP_LEN;
  p += rr(su, p, RR_PX | RR_TF);
  p += px(su, p, S_IFDIR | 0o755, 2);
  p += tf(su, p, t);
  header(su, p, 'CE', CE_LEN);
  both32(su, p + 4, ceExtent);
  both32(su, p + 12, 0); // offset
  both32(su, p + 20, extensionsReferenceLength());
  return su;
}

/** System Use of the root ".." record (the root is its own parent). */
export function rootDotDotSystemUse(t: IsoTime): Uint8Array {
  const su = new Uint8Array(RR_LEN + PX_LEN + TF_LEN);
  let p = rr(su, 0, RR_PX | RR_TF);
  p += px(su, p, S_IFDIR | 0o755, 2);
  tf(su, p, t);
  return su;
}

/** System Use of a regular file: RR, NM (the real name), PX, TF. */
export function fileSystemUse(name: Uint8Array, mode: number, t: IsoTime): Uint8Array {
  const nmLen = 5 + name.length;
  const su = new Uint8Array(RR_LEN + nmLen + PX_LEN + TF_LEN);
  let p = rr(su, 0, RR_PX | RR_NM | RR_TF);
  header(su, p, 'NM', nmLen);
  su[p + 4] = 0; // flags: a complete name
  su.set(name, p + 5);
  p += nmLen;
  p += px(su, p, S_IFREG | mode, 1);
  tf(su, p, t);
  return su;
}

export function extensionsReferenceLength(): number {
  return 8 + ER_ID.length + ER_DESCRIPTOR.length + ER_SOURCE.length;
}

/** The ER entry naming RRIP_1991A, written in the continuation area the root "." CE points to. */
export function writeExtensionsReference(buf: Uint8Array, at: number): void {
  header(buf, at, 'ER', extensionsReferenceLength());
  buf[at + 4] = ER_ID.length;
  buf[at + 5] = ER_DESCRIPTOR.length;
  buf[at + 6] = ER_SOURCE.length;
  buf[at + 7] = 1; // extension version
  let p = at + 8;
  for (const s of [ER_ID, ER_DESCRIPTOR, ER_SOURCE]) {
    for (let i = 0; i < s.length; i++) buf[p++] = s.charCodeAt(i);
  }
}
