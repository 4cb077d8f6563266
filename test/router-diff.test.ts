// The diff rules on hand-made router rows: what is ours, what is in the way, what is left alone. Pure.

import { describe, expect, it } from 'vitest';
import { diffKind } from '../src/router/diff.js';
import type { Kind, RouterRow, Value, Wanted } from '../src/router/records.js';
import { keyOf } from '../src/router/wanted.js';

const OWNER = 'mkimage homelab/ikuai-gateway';

function want(kind: Kind, fields: Record<string, string>): Wanted {
  return { kind, key: keyOf(kind, fields), label: `${kind} entry`, fields, param: fields };
}

let nextId = 0;
const row = (record: Record<string, Value>): RouterRow => {
  const id = ++nextId;
  return { id: String(id), record: { id, ...record } };
};

const lease = (mac: string, ip: string, extra: Record<string, string> = {}) => ({
  hostname: 'worker1', mac, ip_addr: ip, gateway: '192.168.66.1', interface: 'lan1', dns1: '192.168.66.1', dns2: '', comment: OWNER, enabled: 'yes', ...extra,
});

const rule = (comment: string, protocol: string, wan: string, lanPort = wan) => ({
  enabled: 'yes', comment, interface: 'all', lan_addr: '192.168.66.21', lan_port: lanPort, wan_port: wan, protocol, src_addr: '',
});

describe('leases', () => {
  it('match by MAC in any case; equal ones are unchanged, a changed address an edit of that field only', () => {
    const d = diffKind('lease', [want('lease', lease('52:54:00:66:00:21', '192.168.66.31')), want('lease', lease('52:54:00:66:00:22', '192.168.66.22', { hostname: 'worker2' }))], [
      row(lease('52:54:00:66:00:21', '192.168.66.21')),
      row(lease('52:54:00:66:00:22'.toUpperCase(), '192.168.66.22', { hostname: 'worker2' })),
    ], OWNER);
    expect(d.conflicts).toEqual([]);
    expect(d.changes.map((c) => [c.op, c.changed])).toEqual([['edit', ['ip_addr']], ['unchanged', []]]);
  });

  it('our own earlier lease holding a planned address is a conflict that says so', () => {
    const d = diffKind('lease', [want('lease', lease('52:54:00:66:00:23', '192.168.66.21'))], [row(lease('52:54:00:66:00:21', '192.168.66.21'))], OWNER);
    expect(d.changes).toEqual([]);
    expect(d.conflicts.map((c) => c.code)).toEqual(['E013']);
    expect(d.conflicts[0]?.message).toContain('an earlier mkimage lease, no longer in the plan');
    expect(d.strays).toEqual([{ kind: 'lease', label: 'worker1 52:54:00:66:00:21 -> 192.168.66.21' }]);
  });
});

describe('DNS records', () => {
  it('match by domain in any case; a foreign record for the domain is a conflict, ours is edited', () => {
    const w = want('dns', { domain: 'k8s-api.homelab.lan', dns_addr: '192.168.66.10', parse_type: 'ipv4', src_addr: '', comment: OWNER, enabled: 'yes' });
    const ours = row({ domain: 'K8S-API.homelab.lan', dns_addr: '192.168.66.11', parse_type: 'ipv4', src_addr: '', comment: OWNER, enabled: 'yes' });
    expect(diffKind('dns', [w], [ours], OWNER).changes.map((c) => [c.op, c.changed])).toEqual([['edit', ['domain', 'dns_addr']]]);
    const foreign = row({ domain: 'k8s-api.homelab.lan', dns_addr: '10.0.0.1', parse_type: 'ipv4', src_addr: '', comment: 'lab', enabled: 'yes' });
    const d = diffKind('dns', [w], [foreign], OWNER);
    expect(d.changes).toEqual([]);
    expect(d.conflicts.map((c) => [c.code, c.message.includes('comment "lab"')])).toEqual([['E006', true]]);
  });
});

describe('port mappings', () => {
  const planned = want('dnat', rule('nodeports', 'tcp+udp', '30000-30100'));

  it.each([
    ['the same name, protocol and WAN port (ours)', rule('nodeports', 'tcp+udp', '30000-30100'), 'unchanged', []],
    ['the same name, protocol and WAN port, another LAN port', rule('nodeports', 'tcp+udp', '30000-30100', '31000-31100'), 'edit', []],
    ['a UDP rule on a port out of the range', rule('dns', 'udp', '53'), 'add', []],
    ['a TCP rule inside the range', rule('nas', 'tcp', '30050'), undefined, ['E006']],
    ['an overlapping range', rule('games', 'udp', '30100-30200'), undefined, ['E006']],
    ['our name on another port overlapping', rule('nodeports', 'tcp', '30000-30050'), undefined, ['E006']],
  ])('against %s', (_what, existing, op, codes) => {
    const d = diffKind('dnat', [planned], [row(existing)], OWNER);
    expect(d.changes.map((c) => c.op)).toEqual(op === undefined ? [] : [op]);
    expect(d.conflicts.map((c) => c.code)).toEqual(codes);
  });

  it('a TCP and a UDP mapping on the same port are not in each other\'s way', () => {
    const d = diffKind('dnat', [want('dnat', rule('a', 'tcp', '8080'))], [row(rule('b', 'udp', '8080'))], OWNER);
    expect(d.conflicts).toEqual([]);
    expect(d.changes.map((c) => c.op)).toEqual(['add']);
  });
});

describe('the DHCP server', () => {
  const pxe = want('pxe', { interface: 'lan1', next_server: '192.168.66.5', opt66: '192.168.66.5', opt67: 'undionly.kpxe' });

  it('is the row of the LAN interface; only the three PXE fields count', () => {
    const pools = [row({ interface: 'lan2', next_server: '' }), row({ interface: 'lan1', next_server: '192.168.66.5', opt66: '192.168.66.5', opt67: 'undionly.kpxe', lease: 120 })];
    const d = diffKind('pxe', [pxe], pools, OWNER);
    expect(d.changes.map((c) => [c.op, c.row?.record.interface])).toEqual([['unchanged', 'lan1']]);
  });

  it('missing on that interface is E006 naming the ones there are', () => {
    const d = diffKind('pxe', [pxe], [row({ interface: 'lan2' }), row({ interface: 'vlan10' })], OWNER);
    expect(d.conflicts.map((c) => c.code)).toEqual(['E006']);
    expect(d.conflicts[0]?.message).toContain('no DHCP server on lan1 to set next-server and options 66/67 on (it has one on lan2, vlan10)');
  });
});
