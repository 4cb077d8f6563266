// The router's tables as mkimage sees them, whatever the API version: four kinds of entry, each a flat record
// of fields. A row is what the router shows (its id and every field it has, kept as sent so an edit can send
// the whole record back); a wanted entry is what the plan says one entry must hold.

/** lease: a static DHCP lease; dns: a static DNS record; dnat: a port mapping; pxe: the LAN's DHCP server. */
export type Kind = 'lease' | 'pxe' | 'dns' | 'dnat';

/** The order mkimage shows and applies them in (the order of ikuai-api.json). */
export const KINDS: readonly Kind[] = ['lease', 'pxe', 'dns', 'dnat'];

export const KIND_NAME: Record<Kind, string> = {
  lease: 'static leases',
  pxe: 'DHCP server (PXE)',
  dns: 'DNS records',
  dnat: 'port mappings',
};

/** A value as the router's JSON holds it. */
export type Value = string | number | boolean | null;

export interface RouterRow {
  /** the router's id, as a string (3.x shows numbers and takes strings; 4.x puts it in the path) */
  id: string;
  /** every field the router showed, the id included, untouched */
  record: Record<string, Value>;
}

export interface Wanted {
  kind: Kind;
  /** what identifies the entry on the router (see diff.ts for each kind's key) */
  key: string;
  /** for people: "worker1 52:54:00:66:00:21" */
  label: string;
  /** the fields mkimage sets, with the values the plan gives them */
  fields: Record<string, string>;
  /** the param of the emitter's call (ikuai-api.json), as the 3.x API takes it */
  param: Record<string, string | boolean>;
}

/** A row's field as a string, for comparing with a wanted value ("" when absent). */
export function fieldOf(row: RouterRow, name: string): string {
  const v = row.record[name];
  return v === undefined || v === null ? '' : String(v);
}
