// Small IPv4 address and CIDR helpers. Addresses are unsigned 32-bit numbers; every function is pure and
// returns `undefined` for text it cannot parse, so callers decide how to report bad input.

/** An IPv4 prefix as written: `addr` may have host bits set (see `isAligned`). */
export interface Cidr {
  /** the address as written, as an unsigned 32-bit number */
  addr: number;
  /** 0..32 */
  prefix: number;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** "192.168.66.11" -> 3232252427; rejects leading zeros ("010"), out-of-range octets and anything else. */
/** The address without its prefix length: "192.168.66.11/24" -> "192.168.66.11". */
export const addressOf = (ipPrefix: string): string => ipPrefix.split('/')[0] ?? ipPrefix;

export function parseIPv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const part of parts) {
    if (!OCTET.test(part)) return undefined;
    n = n * 256 + Number(part);
  }
  return n;
}

export function formatIPv4(addr: number): string {
  return [addr >>> 24, (addr >>> 16) & 255, (addr >>> 8) & 255, addr & 255].join('.');
}

/** "10.244.0.0/16" -> {addr, prefix}; a missing or malformed prefix is `undefined`. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const addr = parseIPv4(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (addr === undefined || !/^(3[0-2]|[12]?\d)$/.test(prefixText)) return undefined;
  return { addr, prefix: Number(prefixText) };
}

export function formatCidr(c: Cidr): string {
  return `${formatIPv4(c.addr)}/${c.prefix}`;
}

/** The netmask of a prefix length as an unsigned number (/0 -> 0, /32 -> 0xffffffff). */
export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** The network a CIDR belongs to: host bits cleared ("10.10.0.0/12" -> 10.0.0.0/12). */
export function networkOf(c: Cidr): Cidr {
  return { addr: (c.addr & maskOf(c.prefix)) >>> 0, prefix: c.prefix };
}

/** True when no host bits are set, i.e. the CIDR names a network ("10.0.0.0/12" yes, "10.10.0.0/12" no). */
export function isAligned(c: Cidr): boolean {
  return networkOf(c).addr === c.addr;
}

/** Whether `addr` lies inside the network of `c` (host bits of `c` are ignored). */
export function contains(c: Cidr, addr: number): boolean {
  const mask = maskOf(c.prefix);
  return ((addr & mask) >>> 0) === ((c.addr & mask) >>> 0);
}

/** Whether the networks of `a` and `b` share any address (for prefixes, one then contains the other). */
export function overlaps(a: Cidr, b: Cidr): boolean {
  const mask = maskOf(Math.min(a.prefix, b.prefix));
  return ((a.addr & mask) >>> 0) === ((b.addr & mask) >>> 0);
}

/** The host part of "host:port" when the host is an IPv4 literal, else `undefined` (DNS names, IPv6). */
export function ipv4HostOf(endpoint: string): number | undefined {
  const colon = endpoint.lastIndexOf(':');
  const host = colon < 0 ? endpoint : endpoint.slice(0, colon);
  return parseIPv4(host);
}
