// iKuai router settings from a gateway plan: the web API calls (ikuai-api.json), the same settings as a checklist
// for the web UI (ikuai-settings.md) and the static leases for bulk import (leases.csv). Pure: reads only the plan.
//
// API (iKuai 3.x web API, also answered by 4.x): POST /Action/login, then one POST /Action/call per entry of
// ikuai-api.json, each body {"func_name", "action", "param"}; success is {"Result":30000,"ErrMsg":"Success"}.

import type { OutFile } from '../output.js';
import type { GatewayLease, GatewayPlan, NodePlan } from '../plan/types.js';
import { GENERATED } from '../template.js';

/** One body for POST /Action/call. */
export interface IkuaiCall {
  func_name: 'dhcp_static' | 'dhcp_server' | 'dns' | 'dnat';
  action: 'add' | 'edit';
  param: Record<string, string | boolean>;
}

/** WAN side of a port mapping: every WAN line. */
const ALL_WAN = 'all';

function gatewayOf(plan: NodePlan): GatewayPlan {
  if (plan.gateway === undefined) throw new Error(`internal: plan ${plan.profile} has no gateway section (role ${plan.role})`);
  return plan.gateway;
}

function leaseCall(g: GatewayPlan, l: GatewayLease): IkuaiCall {
  return {
    func_name: 'dhcp_static',
    action: 'add',
    param: {
      newRow: true,
      hostname: l.hostname,
      ip_addr: l.ip,
      mac: l.mac,
      gateway: l.gateway,
      interface: g.lanInterface,
      dns1: l.dns1,
      dns2: l.dns2,
      comment: l.comment,
      enabled: 'yes',
    },
  };
}

/** The API calls, in the order to make them: leases, PXE on the DHCP server, DNS records, port mappings. */
export function ikuaiApiCalls(plan: NodePlan): IkuaiCall[] {
  const g = gatewayOf(plan);
  const calls: IkuaiCall[] = g.staticLeases.map((l) => leaseCall(g, l));
  if (g.pxe.enabled && g.pxe.nextServer !== undefined) {
    calls.push({
      func_name: 'dhcp_server',
      action: 'edit',
      param: { interface: g.lanInterface, next_server: g.pxe.nextServer, opt66: g.pxe.nextServer, opt67: g.pxe.bootFile },
    });
  }
  for (const r of g.dnsRecords) {
    calls.push({
      func_name: 'dns',
      action: 'add',
      param: { domain: r.domain, dns_addr: r.ip, parse_type: 'ipv4', src_addr: '', comment: r.comment, enabled: 'yes' },
    });
  }
  for (const m of g.portMappings) {
    calls.push({
      func_name: 'dnat',
      action: 'add',
      param: {
        enabled: 'yes',
        comment: m.name,
        interface: ALL_WAN,
        lan_addr: m.lanAddr,
        lan_port: m.lanPort,
        wan_port: m.wanPort,
        protocol: m.protocol,
        src_addr: '',
      },
    });
  }
  return calls;
}

// ---- ikuai-settings.md -------------------------------------------------------------------------------------

const cell = (s: string) => (s === '' ? '—' : s.replace(/\|/g, '\\|'));
const row = (cells: string[]) => `| ${cells.map(cell).join(' | ')} |`;

function table(head: string[], rows: string[][]): string[] {
  return [row(head), `|${head.map(() => '---').join('|')}|`, ...rows.map(row)];
}

function dhcpSection(g: GatewayPlan): string[] {
  const out = ['## DHCP server — 网络设置 > DHCP设置 > DHCP服务端 (Network > DHCP settings > DHCP server)', ''];
  if (!g.dhcp.enabled) {
    return [...out, 'Not managed by mkimage (`gateway.dhcp.enabled: false`): no DHCP settings and no static leases below.', ''];
  }
  return [
    ...out,
    `- [ ] Service interface (服务接口): \`${g.lanInterface}\``,
    g.dhcp.range
      ? `- [ ] Client address pool (客户端地址): \`${g.dhcp.range.start}-${g.dhcp.range.end}\` — keep the node addresses below out of it`
      : '- [ ] Client address pool (客户端地址): not set by the profile; keep the node addresses below out of it',
    `- [ ] Lease time (租期): ${g.dhcp.leaseMinutes} minutes`,
    '',
  ];
}

function leaseSection(g: GatewayPlan): string[] {
  if (!g.dhcp.enabled) return [];
  const head = ['Host name (主机名)', 'MAC (MAC地址)', 'IP (IP地址)', 'Gateway (网关)', 'DNS1 (首选DNS)', 'DNS2 (备选DNS)', 'Comment (备注)'];
  return [
    '## Static leases — 网络设置 > DHCP设置 > DHCP静态分配 (Network > DHCP settings > Static allocation)',
    '',
    `One per cluster node; interface (线路) \`${g.lanInterface}\`, enabled (启用). Bulk import: leases.csv (hostname,mac,ip).`,
    '',
    ...table(head, g.staticLeases.map((l) => [l.hostname, l.mac, l.ip, l.gateway, l.dns1, l.dns2, l.comment])),
    '',
  ];
}

function dnsSection(g: GatewayPlan): string[] {
  const out = ['## DNS records — 网络设置 > DNS设置 > DNS代理 (Network > DNS settings > static records)', ''];
  if (g.dnsRecords.length === 0) return [...out, 'None.', ''];
  return [
    ...out,
    'Type (解析类型) IPv4, any source address (源地址 empty), enabled.',
    '',
    ...table(['Domain (域名)', 'Address (解析地址)', 'Comment (备注)'], g.dnsRecords.map((r) => [r.domain, r.ip, r.comment])),
    '',
  ];
}

function portSection(g: GatewayPlan): string[] {
  const out = ['## Port mappings — 网络设置 > 端口映射 (Network > Port mapping, DNAT)', ''];
  if (g.portMappings.length === 0) return [...out, 'None: nothing in the LAN is reachable from the WAN side.', ''];
  return [
    ...out,
    'WAN interface (外网接口) all, any source address (源地址 empty), enabled.',
    '',
    ...table(
      ['Comment (备注)', 'Protocol (协议)', 'WAN port (外网端口)', 'LAN address (内网地址)', 'LAN port (内网端口)'],
      g.portMappings.map((m) => [m.name, m.protocol, m.wanPort, m.lanAddr, m.lanPort]),
    ),
    '',
  ];
}

function pxeSection(g: GatewayPlan): string[] {
  const out = ['## PXE — 网络设置 > DHCP设置 > DHCP服务端 > 高级设置 (DHCP server > advanced)', ''];
  const caveat = [
    'iKuai cannot match DHCP requests by architecture or user class, so it hands the same boot file to the NIC\'s PXE ROM',
    'and to iPXE itself: a plain `undionly.kpxe` then chains into iPXE forever. Serve an iPXE build with an embedded script',
    'that chains `http://<next server>/boot.ipxe`, or run a proxyDHCP server (dnsmasq `dhcp-range=...,proxy`) beside iKuai',
    'and leave next-server and options 66/67 empty here.',
  ];
  if (!g.pxe.enabled || g.pxe.nextServer === undefined) {
    return [
      ...out,
      'Off (`gateway.pxe.enabled: false`): leave next-server (next_server) and options 66/67 empty.',
      '',
      `When you enable it (with \`nextServer\`), the boot file will be \`${g.pxe.bootFile}\`. Before you do:`,
      '',
      ...caveat,
      '',
    ];
  }
  return [
    ...out,
    `- [ ] next-server (next_server): \`${g.pxe.nextServer}\``,
    `- [ ] Option 66, TFTP server (选项66): \`${g.pxe.nextServer}\``,
    `- [ ] Option 67, boot file (选项67): \`${g.pxe.bootFile}\``,
    '',
    'Custom options 66/67 need iKuai 3.5.2 or later. Through the API, the dhcp_server edit must carry the whole pool',
    `record: \`show\` dhcp_server, take the row of interface \`${g.lanInterface}\` (with its id), set these three fields and send it back.`,
    '',
    ...caveat,
    '',
  ];
}

/** The checklist: the same settings as ikuai-api.json, with the iKuai UI's menu paths (Chinese, with English). */
export function ikuaiSettingsMarkdown(plan: NodePlan): string {
  const g = gatewayOf(plan);
  const lines = [
    `<!-- ${GENERATED} -->`,
    `# iKuai router settings for cluster ${plan.cluster.name}`,
    '',
    `From profile \`${plan.profile}\`; the nodes are on LAN interface \`${g.lanInterface}\`. Tick each item in the iKuai`,
    'web UI (3.x menu names; 4.x is similar), or make the calls in ikuai-api.json in order: POST /Action/login, then',
    'each entry as the body of POST /Action/call (a success answers `{"Result":30000,"ErrMsg":"Success"}`).',
    '',
    ...[dhcpSection(g), leaseSection(g), dnsSection(g), portSection(g), pxeSection(g)]
      .filter((section) => section.length > 0)
      .flatMap(([title = '', ...body], i) => [title.replace(/^## /, `## ${i + 1}. `), ...body]),
  ];
  return `${lines.join('\n').replace(/\n+$/, '')}\n`;
}

// ---- leases.csv ----------------------------------------------------------------------------------------------

const csvField = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

export function leasesCsv(plan: NodePlan): string {
  const rows = gatewayOf(plan).staticLeases.map((l) => [l.hostname, l.mac, l.ip].map(csvField).join(','));
  return ['hostname,mac,ip', ...rows].map((r) => `${r}\n`).join('');
}

/** Everything for the router, as files relative to the role's output directory. */
export function renderIkuaiSettings(plan: NodePlan): OutFile[] {
  return [
    { path: 'ikuai-api.json', content: `${JSON.stringify(ikuaiApiCalls(plan), null, 2)}\n` },
    { path: 'ikuai-settings.md', content: ikuaiSettingsMarkdown(plan) },
    { path: 'leases.csv', content: leasesCsv(plan) },
  ];
}
