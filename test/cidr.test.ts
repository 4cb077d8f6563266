import { describe, expect, it } from 'vitest';
import {
  contains,
  formatCidr,
  formatIPv4,
  ipv4HostOf,
  isAligned,
  maskOf,
  networkOf,
  overlaps,
  parseCidr,
  parseIPv4,
} from '../src/net/cidr.js';

const cidr = (text: string) => {
  const c = parseCidr(text);
  if (c === undefined) throw new Error(`test CIDR ${text} does not parse`);
  return c;
};

describe('parseIPv4 / formatIPv4', () => {
  it.each([
    ['0.0.0.0', 0],
    ['192.168.66.11', 0xc0a8420b],
    ['255.255.255.255', 0xffffffff],
    ['10.96.0.1', 0x0a600001],
  ])('%s <-> %d', (text, n) => {
    expect(parseIPv4(text)).toBe(n);
    expect(formatIPv4(n)).toBe(text);
  });

  it.each(['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1.2.3.-4', 'a.b.c.d', '1.2.3.4 ', '::1'])(
    'rejects %j',
    (text) => expect(parseIPv4(text)).toBeUndefined(),
  );
});

describe('parseCidr', () => {
  it('parses address and prefix', () => {
    expect(parseCidr('10.244.0.0/16')).toEqual({ addr: 0x0af40000, prefix: 16 });
    expect(parseCidr('0.0.0.0/0')).toEqual({ addr: 0, prefix: 0 });
    expect(formatCidr(cidr('192.168.66.11/24'))).toBe('192.168.66.11/24');
  });

  it.each(['10.0.0.0', '10.0.0.0/', '10.0.0.0/33', '10.0.0.0/016', '10.0.0.0/-1', '10.0.0/8', 'fd00::/108'])(
    'rejects %j',
    (text) => expect(parseCidr(text)).toBeUndefined(),
  );
});

describe('masks, networks and alignment', () => {
  it('maskOf covers /0 and /32 without 32-bit shift wrap-around', () => {
    expect(maskOf(0)).toBe(0);
    expect(maskOf(12)).toBe(0xfff00000);
    expect(maskOf(32)).toBe(0xffffffff);
  });

  it("the seed guide's service CIDR 10.10.0.0/12 is really 10.0.0.0/12", () => {
    const c = cidr('10.10.0.0/12');
    expect(isAligned(c)).toBe(false);
    expect(formatCidr(networkOf(c))).toBe('10.0.0.0/12');
  });

  it.each(['10.96.0.0/12', '10.244.0.0/16', '192.168.66.0/24', '0.0.0.0/0', '192.168.66.11/32'])(
    '%s is aligned',
    (text) => expect(isAligned(cidr(text))).toBe(true),
  );

  it('networkOf a host address with prefix is its subnet (high bit set stays unsigned)', () => {
    expect(formatCidr(networkOf(cidr('192.168.66.11/24')))).toBe('192.168.66.0/24');
    expect(networkOf(cidr('255.255.255.255/1')).addr).toBe(0x80000000);
  });
});

describe('contains / overlaps', () => {
  it('contains tests membership in the network, ignoring host bits', () => {
    const lan = cidr('192.168.66.11/24');
    expect(contains(lan, parseIPv4('192.168.66.1') ?? -1)).toBe(true);
    expect(contains(lan, parseIPv4('192.168.66.255') ?? -1)).toBe(true);
    expect(contains(lan, parseIPv4('192.168.10.11') ?? -1)).toBe(false);
    expect(contains(cidr('0.0.0.0/0'), 0xffffffff)).toBe(true);
  });

  it.each([
    ['192.168.0.0/16', '192.168.66.0/24', true],
    ['192.168.66.0/24', '192.168.0.0/16', true],
    ['10.244.0.0/16', '10.96.0.0/12', false],
    ['10.10.0.0/12', '10.0.0.0/16', true],
    ['10.0.0.0/12', '10.16.0.0/12', false],
    ['192.168.66.11/32', '192.168.66.0/24', true],
  ])('%s overlaps %s: %s', (a, b, want) => {
    expect(overlaps(cidr(a), cidr(b))).toBe(want);
  });
});

describe('ipv4HostOf', () => {
  it.each([
    ['192.168.10.11:6443', '192.168.10.11'],
    ['192.168.10.11', '192.168.10.11'],
  ])('%s -> %s', (ep, host) => expect(formatIPv4(ipv4HostOf(ep) ?? -1)).toBe(host));

  it.each(['k8s-api.lan:6443', '[fd00::1]:6443', ''])('%j is not an IPv4 host', (ep) =>
    expect(ipv4HostOf(ep)).toBeUndefined(),
  );
});
