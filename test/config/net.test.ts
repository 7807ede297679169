/**
 * Address, route and rule lines (src/config/kw-net*.ts): every line form of the real corpus
 * parses to its model; bad lines are refused at file:line:col; and a table of crafted lines
 * where real `keepalived -t` (2.2.7) decides: vipd refuses exactly the lines keepalived
 * reports, except where marked (`stricter`: keepalived keeps a wrong value without a word,
 * vipd refuses; `warn`: keepalived's report is a deprecation or notice and it does what the
 * line says, vipd warns).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fsSource } from '../../src/config/fs-source.js';
import { checkFamilies, DEFAULT_RT_NAMES, parseRouteBlock, parseRuleBlock, parseVipBlock, rtNamesFromFiles, type RtNames } from '../../src/config/kw-net.js';
import type { RouteModel, RuleModel, VipConfig } from '../../src/config/model-net.js';
import { Builder } from '../../src/config/spec.js';
import { parseFile, type Statement } from '../../src/config/tree.js';
import { errorsAt, keepalivedCheck } from '../helpers/keepalived-check.js';

const CORPUS = resolve(__dirname, '../../../shared/data/keepalived-conf');
const tmp = mkdtempSync(join(tmpdir(), 'vipd-net-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Kind = 'vip' | 'evip' | 'route' | 'rule' | 'saddr' | 'sroute' | 'srule';
const BLOCK: Record<Kind, string> = {
  vip: 'virtual_ipaddress', evip: 'virtual_ipaddress_excluded', route: 'virtual_routes', rule: 'virtual_rules',
  saddr: 'static_ipaddress', sroute: 'static_routes', srule: 'static_rules',
};

interface Parsed {
  b: Builder;
  vips: VipConfig[];
  routes: RouteModel[];
  rules: RuleModel[];
}

/** Runs every address/route/rule block of `stmts` (top level and instances) through kw-net. */
function parseBlocks(stmts: Statement[], names: RtNames = DEFAULT_RT_NAMES, b = new Builder()): Parsed {
  const out: Parsed = { b, vips: [], routes: [], rules: [] };
  const walk = (sts: Statement[], inst: string | null): void => {
    for (const s of sts) {
      if (s.keyword === 'vrrp_instance') walk(s.block ?? [], s.args[0]!.text);
      else if (s.keyword.endsWith('_ipaddress') || s.keyword.endsWith('_excluded')) {
        const v = parseVipBlock(b, s, inst ? `${s.keyword} of ${inst}` : s.keyword, undefined, names);
        if (s.keyword === 'virtual_ipaddress') checkFamilies(b, v, [], [], [], null);
        out.vips.push(...v);
      } else if (s.keyword.endsWith('_routes')) out.routes.push(...parseRouteBlock(b, s, names));
      else if (s.keyword.endsWith('_rules')) out.rules.push(...parseRuleBlock(b, s, names));
    }
  };
  walk(stmts, null);
  return out;
}
let n = 0;
async function parseText(text: string, names?: RtNames): Promise<Parsed> {
  const file = join(tmp, `t${n++}.conf`);
  writeFileSync(file, text);
  return parseBlocks(await parseFile(file, fsSource), names);
}
const at = (p: Parsed): string[] => p.b.errors.map((e) => `${e.pos.line}:${e.pos.col} ${e.message}`);

const V = (o: Partial<VipConfig>): VipConfig => ({
  address: '', family: 4, prefixLen: 32, dev: null, label: null, broadcast: null, scope: 0, peer: null, noTrack: false,
  preferredLft: null, flags: [], useVmac: false, trackGroup: null, ...o,
});
const R = (o: Partial<RouteModel>): RouteModel => ({
  family: 4, type: 'unicast', dst: '', src: null, from: null, via: null, nexthops: [], multipath: null, dev: null, table: 254, vrf: null, metric: null,
  scope: null, protocol: 18, tos: null, onlink: false, noTrack: false, trackGroup: null, mode: 'prepend', metrics: {}, locked: [], options: {}, ...o,
});
const hop = (address: string) => ({ address, dev: null, weight: null, onlink: false, realms: null, encap: null });
const noPos = <T extends { pos?: unknown }>(xs: T[]): Omit<T, 'pos'>[] => xs.map(({ pos: _p, ...x }) => x);

describe('the corpus: every address, route and rule line', () => {
  const load = async (f: string): Promise<Parsed> => parseBlocks(await parseFile(join(CORPUS, f), fsSource));
  const warns = (p: Parsed): string[] => p.b.warnings.map((w) => `${w.pos.line}:${w.pos.col} ${w.message}`);

  it('03 (static_routes, VIPs on other devices, a route without dev)', async () => {
    const p = await load('03_acassen-track-interface.conf');
    expect(at(p)).toEqual([]);
    expect(noPos(p.vips)).toEqual([V({ address: '192.0.2.16' }), V({ address: '192.0.2.17', dev: 'eth1' }), V({ address: '192.0.2.18', dev: 'eth2' })]);
    expect(noPos(p.routes)).toEqual([
      R({ dst: '203.0.113.16/28', via: '192.0.2.254', dev: 'eth0' }), R({ dst: '203.0.113.32/28', via: '192.0.2.254', dev: 'eth0' }),
      R({ dst: '203.0.113.48/28', dev: 'eth3' }), R({ dst: '203.0.113.64/28', dev: 'eth1' }),
      R({ dst: '203.0.113.80/28', via: '192.0.2.254', dev: 'eth1' }), R({ dst: '203.0.113.96/28', dev: 'eth2' }),
      R({ dst: '203.0.113.112/28', via: '203.0.113.254', noTrack: true }),
    ]);
    expect(warns(p)).toEqual([expect.stringMatching(/^31:9 .*keepalived 2.2.7 cannot track a route without 'dev'/)]);
  });

  it('06 (src, scope, or, blackhole, gw … table 100)', async () => {
    const p = await load('06_acassen-vrrp-routes.conf');
    expect(at(p)).toEqual([]);
    expect(noPos(p.routes)).toEqual([
      R({ dst: '203.0.113.16/28', src: '203.0.113.1', via: '192.0.2.254', dev: 'eth0' }), R({ dst: '203.0.113.32/28', via: '192.0.2.254', dev: 'eth0' }),
      R({ dst: '203.0.113.48/28', via: '192.0.2.254', dev: 'eth0' }), R({ dst: '203.0.113.64/28', dev: 'eth3', scope: 200 }),
      R({ dst: '203.0.113.80/28', dev: 'eth1', scope: 253 }),
      R({ dst: '203.0.113.96/28', src: '203.0.113.1', via: '192.0.2.254', dev: 'eth1' }), R({ dst: '203.0.113.112/28', via: '192.0.2.254', dev: 'eth1' }),
      R({ dst: '203.0.113.128/28', dev: 'eth2' }), R({ dst: '203.0.113.144/28', via: '203.0.113.254', noTrack: true }),
      R({ dst: '203.0.113.160/28', nexthops: [hop('203.0.113.252'), hop('203.0.113.253')], multipath: 'or', noTrack: true }),
      R({ dst: '203.0.113.161/32', type: 'blackhole', noTrack: true }),
      R({ dst: '0.0.0.0/0', via: '198.51.100.254', table: 100, noTrack: true }),
    ]);
    expect(p.b.warnings.map((w) => `${w.pos.line}:${w.pos.col}`)).toEqual(['29:9', '30:44', '30:9', '31:12', '32:19', '32:9']);
    expect(p.b.warnings[1]!.message).toMatch(/'or' is deprecated/);
    expect(p.b.warnings[4]!.message).toMatch(/'gw' is deprecated/);
  });

  it('10 (Neutron: excluded addresses of both families, no_track, IPv6 scope link, protocol static)', async () => {
    const p = await load('10_neutron-l3-ha.conf');
    expect(at(p)).toEqual([]);
    expect(noPos(p.vips)).toEqual([
      V({ address: '192.0.2.1', prefixLen: 24, dev: 'eth0' }),
      V({ address: '198.51.100.10', prefixLen: 24, dev: 'eth2', noTrack: true }), V({ address: '198.51.100.11', dev: 'eth2', noTrack: true }),
      V({ address: '2001:db8:1::1', family: 6, prefixLen: 64, dev: 'eth1', noTrack: true }),
      V({ address: '2001:db8:ffff:0:f816:3eff:fe12:3456', family: 6, prefixLen: 64, dev: 'eth1', noTrack: true }),
      V({ address: '203.0.113.1', prefixLen: 24, dev: 'eth1', noTrack: true }),
    ]);
    expect(noPos(p.routes)).toEqual([R({ dst: '0.0.0.0/0', via: '198.51.100.1', dev: 'eth2', noTrack: true, protocol: 4 })]);
    const w = p.b.warnings.map((x) => `${x.pos.line}:${x.pos.col} ${x.message}`);
    expect(w.filter((x) => /not acted on/.test(x))).toEqual([]); // every option is acted on (src/os/rtnl-addr.ts)
    expect(w).toContainEqual(expect.stringMatching(/^24:56 .*'scope' is ignored for IPv6 addresses, by keepalived 2.2.7 too/));
  });

  it('11 (Octavia: route with src/scope/table, default … onlink, a rule, an empty excluded block)', async () => {
    const p = await load('11_octavia-amphora.conf');
    expect([at(p), p.b.warnings]).toEqual([[], []]);
    expect(noPos(p.routes)).toEqual([
      R({ dst: '198.51.100.0/24', dev: 'eth1', src: '198.51.100.5', scope: 253, table: 1 }),
      R({ dst: '0.0.0.0/0', via: '198.51.100.1', dev: 'eth1', onlink: true, table: 1 }),
    ]);
    expect(noPos(p.rules)).toEqual([{
      family: 4, from: '198.51.100.5/32', to: null, table: 1, priority: 100, iif: null, oif: null, fwmark: null, action: 'table', gotoTarget: null, l3mdev: false,
      invert: false, tos: null, realms: null, suppressPrefixLength: null, suppressIfgroup: null, tunnelId: null, uidRange: null, protocol: 18, ipProto: null,
      sport: null, dport: null, noTrack: false, trackGroup: null,
    }]);
  });
});

describe('models and positions', () => {
  const inst = (blocks: string): string => `vrrp_instance A {\n  interface eth0\n  virtual_router_id 5\n${blocks}}\n`;

  it('address options: brd + / -, peer, flags, preferred_lft, IPv6 /128 deprecated by default', async () => {
    const p = await parseText(inst('  virtual_ipaddress {\n    192.0.2.9/24 brd + label eth0:x\n    192.0.2.10/26 broadcast - home noprefixroute home\n    192.0.2.11 peer 192.0.2.12 dev eth1\n  }\n  virtual_ipaddress_excluded {\n    2001:db8::1\n    2001:DB8::2/64 -nodad preferred_lft 30\n    2001:db8::3 preferred_lft forever\n  }\n'));
    expect(at(p)).toEqual([]);
    expect(noPos(p.vips)).toEqual([
      V({ address: '192.0.2.9', prefixLen: 24, broadcast: '192.0.2.255', label: 'eth0:x' }),
      V({ address: '192.0.2.10', prefixLen: 26, broadcast: '192.0.2.0', flags: ['home', 'noprefixroute'] }),
      V({ address: '192.0.2.11', peer: '192.0.2.12', dev: 'eth1' }),
      V({ address: '2001:db8::1', family: 6, prefixLen: 128, preferredLft: 0 }),
      V({ address: '2001:db8::2', family: 6, prefixLen: 64, preferredLft: 30, flags: ['-nodad'] }),
      V({ address: '2001:db8::3', family: 6, prefixLen: 128 }),
    ]);
    const w = p.b.warnings.map((x) => `${x.pos.line}:${x.pos.col} ${x.message}`);
    expect(w).toContainEqual(expect.stringMatching(/^6:50 .*'home' given twice/));
    expect(w.filter((x) => /not acted on|deprecated/.test(x))).toEqual([]); // brd, peer, flags, preferred_lft: all acted on
  });

  it('routes: IPv6, nexthop, metrics with lock and units, types, modes; rules: fwmark mask, not, goto, l3mdev, ranges', async () => {
    const p = await parseText(inst(`  virtual_routes {
    2001:DB8:1::/48 via 2001:db8::1 dev eth0 metric 1024 pref high expires 60
    198.51.100.0/24 table 100 nexthop via 192.0.2.1 dev eth0 weight 2 onlink nexthop via 192.0.2.2 dev eth1
    unreachable 203.0.113.0/24 dev eth0 mtu lock 1400 rtt 1.5s rttvar lock 300ms rto_min 200 advmss 1360 append
  }
  virtual_rules {
    not from 192.0.2.0/24 fwmark 0x10/0xff lookup main priority 0x20 iif eth0
    from all to 2001:db8::/32 goto 300 priority 200 sport 1000-2000 ipproto tcp no_track protocol 4
    oif eth1 l3mdev priority 7 uidrange 1000-1999
  }
`));
    expect(at(p)).toEqual([]);
    expect(noPos(p.routes)).toEqual([
      R({ family: 6, dst: '2001:db8:1::/48', via: '2001:db8::1', dev: 'eth0', metric: 1024, options: { pref: 'high', expires: '60' } }),
      R({ dst: '198.51.100.0/24', table: 100, multipath: 'nexthop', noTrack: true, nexthops: [{ ...hop('192.0.2.1'), dev: 'eth0', weight: 2, onlink: true }, { ...hop('192.0.2.2'), dev: 'eth1' }] }),
      R({ type: 'unreachable', dst: '203.0.113.0/24', dev: 'eth0', mode: 'append', metrics: { mtu: 1400, rtt: 12000, rttvar: 1200, rto_min: 200, advmss: 1360 }, locked: ['mtu', 'rttvar'] }),
    ]);
    expect(p.rules.map((r) => [r.family, r.invert, r.from, r.to, r.fwmark, r.table, r.priority, r.iif, r.action, r.gotoTarget, r.sport, r.ipProto, r.protocol, r.l3mdev, r.uidRange])).toEqual([
      [4, true, '192.0.2.0/24', null, { value: 16, mask: 255 }, 254, 32, 'eth0', 'table', null, null, null, 18, false, null],
      [6, false, null, '2001:db8::/32', null, null, 200, null, 'goto', 300, { start: 1000, end: 2000 }, 6, 4, false, null],
      [4, false, null, null, null, null, 7, null, 'table', null, null, null, 18, true, { start: 1000, end: 1999 }],
    ]);
  });

  it('refuses bad lines at file:line:col, one error per line, with keepalived\'s consequence', async () => {
    const p = await parseText(inst(`  virtual_ipaddress {
    192.0.2.1/33 dev eth0
    192.0.2.2 lable eth0:1
    192.0.2.3 dev eth0 scope lnk
  }
  virtual_routes {
    198.51.100.0/24 dev eth0 metirc 5
    198.51.100.0/24 dev eth0 table foo
    inet6 default dev eth0
    198.51.100.1/24 dev eth0
  }
  virtual_rules {
    from 192.0.2.0/24 lookup main pref 100
    from 192.0.2.0/24 fwmark 0x10/ lookup main priority 5
  }
`));
    const f = join(tmp, `t${n - 1}.conf`);
    expect(p.b.errors.map((e) => `${e.pos.file}:${e.pos.line}:${e.pos.col}`)).toEqual([
      `${f}:5:15`, `${f}:6:15`, `${f}:7:30`, `${f}:10:30`, `${f}:11:36`, `${f}:12:11`, `${f}:13:5`, `${f}:16:35`, `${f}:17:30`,
    ]);
    expect(at(p)).toEqual([
      expect.stringMatching(/invalid prefix length '\/33'.*keepalived 2.2.7 would use \/32/),
      expect.stringMatching(/unknown option 'lable' \(did you mean 'label'\?\)/),
      expect.stringMatching(/unknown scope 'lnk' \(global, nowhere, host, link, site or a number 0..255; keepalived 2.2.7 ignores it and uses global\)/),
      expect.stringMatching(/unknown option 'metirc' \(did you mean 'metric'\?\); keepalived 2.2.7 drops the route/),
      expect.stringMatching(/unknown routing table 'foo' \(default, main, local or a number/),
      expect.stringMatching(/keepalived 2.2.7 skips the word after 'inet6', so 'default' would be lost/),
      expect.stringMatching(/has host bits set: the kernel refuses.*write 198.51.100.0\/24/),
      expect.stringMatching(/ip rule's 'pref' is 'priority' \(or 'preference', 'order'\) in keepalived 2.2.7/),
      expect.stringMatching(/invalid 'fwmark' '0x10\/'.*keepalived 2.2.7 would read an empty mask as 0/),
    ]);
  });

  it('families: an address of the other family in virtual_ipaddress is refused where keepalived drops it; excluded, routes and rules mix freely', async () => {
    const b = new Builder();
    const v4 = V({ address: '192.0.2.1', pos: { file: 'f', line: 3, col: 5 } });
    const v6 = V({ address: '2001:db8::1', family: 6, prefixLen: 128, pos: { file: 'f', line: 4, col: 5 } });
    expect(checkFamilies(b, [v4, v6], [v6], [], [], null)).toBe(4);
    expect(b.errors.map((e) => `${e.pos.line} ${e.message}`)).toEqual([expect.stringMatching(/^4 2001:db8::1 is IPv6 but the instance is IPv4 \(set by its first virtual_ipaddress\)/)]);
    const b2 = new Builder(); // unicast_src_ip 2001:db8::5 on line 2, before the addresses: the IPv4 address is the one dropped
    expect(checkFamilies(b2, [v4], [], [], [], { family: 6, pos: { file: 'f', line: 2, col: 3 }, keyword: 'unicast_src_ip' })).toBe(6);
    expect(b2.errors.map((e) => e.pos.line)).toEqual([3]);
    const b3 = new Builder(); // … after them: keepalived ignores the unicast_src_ip
    expect(checkFamilies(b3, [v4], [], [], [], { family: 6, pos: { file: 'f', line: 9, col: 3 }, keyword: 'unicast_src_ip' })).toBe(4);
    expect(b3.errors.map((e) => e.pos.line)).toEqual([9]);
    expect(checkFamilies(new Builder(), [], [v4, v6], [], [], null)).toBe(4);
  });

  it('names: keepalived\'s built-ins without /etc/iproute2 (main, local, default; no unspec), the files\' names when given', async () => {
    const line = 'vrrp_instance A {\n virtual_routes {\n  198.51.100.0/24 dev eth0 table unspec no_track protocol keepalived\n }\n}\n';
    expect(at(await parseText(line))).toEqual([expect.stringMatching(/unknown routing table 'unspec'/)]);
    const names = rtNamesFromFiles((f) => ({ '/etc/iproute2/rt_tables': '255 local\n254 main\n253 default\n0 unspec\n', '/etc/iproute2/rt_protos': '0 unspec\n18 keepalived\n' })[f] ?? null);
    const p = await parseText(line, names);
    expect([at(p), p.routes[0]!.table, p.routes[0]!.protocol]).toEqual([[], 0, 18]);
    expect(names.protos.has('none')).toBe(false); // the file names 0, so keepalived does not add its built-in 'none'
  });
});

/** Crafted lines, each checked by real keepalived -t in its own small configuration. */
interface Case {
  k: Kind;
  line: string;
  /** What keepalived -t reports for the line (null: nothing). */
  ka: RegExp | null;
  vipd: 'ok' | 'warn' | 'error';
  /** The word vipd's error must point at. */
  at?: string;
  /** Why vipd refuses a line keepalived takes without a word. */
  stricter?: string;
}
const cases: Case[] = [
  { k: 'vip', line: '192.0.2.1/24 dev eth1 label eth1:vip', ka: null, vipd: 'ok' },
  { k: 'vip', line: '192.0.2.2/33', ka: /Invalid address prefix len 33/, vipd: 'error', at: '33' },
  { k: 'vip', line: '192.0.2.3/', ka: null, vipd: 'error', stricter: 'keepalived reads an empty length as /0' },
  { k: 'vip', line: '192.0.2.300', ka: /parsed invalid IP 192.0.2.300/, vipd: 'error', at: '192.0.2.300' },
  { k: 'vip', line: '192.0.2.4 dve eth0', ka: /Unknown configuration entry 'dve'/, vipd: 'error', at: 'dve' },
  { k: 'vip', line: '192.0.2.5 dev', ka: /No dev parameter/, vipd: 'error', at: 'dev' },
  { k: 'vip', line: '192.0.2.6/24 brd +', ka: null, vipd: 'ok' },
  { k: 'vip', line: '192.0.2.7/31 brd +', ka: /too long for broadcast/, vipd: 'error', at: '+' },
  { k: 'vip', line: '192.0.2.8 peer 192.0.2.9/24', ka: /Invalid peer address/, vipd: 'error', at: '192.0.2.9/24' },
  { k: 'vip', line: '192.0.2.10/24 peer 192.0.2.9', ka: /Cannot specify address prefix when specifying peer/, vipd: 'error', at: '192.0.2.10/24' },
  { k: 'vip', line: '192.0.2.11 label averyveryverylongl', ka: /longer than maximum length 15/, vipd: 'error', at: 'averyveryverylongl' },
  { k: 'vip', line: '192.0.2.12 label foo', ka: null, vipd: 'ok' }, // no DEV: prefix needed, by keepalived or the kernel
  { k: 'vip', line: '192.0.2.13 scope lnk', ka: /Invalid scope 'lnk'/, vipd: 'error', at: 'lnk' },
  { k: 'vip', line: '192.0.2.14 scope link no_track preferred_lft forever', ka: null, vipd: 'warn' },
  { k: 'vip', line: '192.0.2.15 preferred_lft -1', ka: /preferred_lft -1 is invalid/, vipd: 'error', at: '-1' },
  { k: 'vip', line: '192.0.2.16 dev eth0 dev eth1', ka: /device more than once/, vipd: 'error' },
  { k: 'vip', line: '2001:db8::1/64', ka: /address family must match VRRP instance/, vipd: 'error', at: '2001:db8::1/64' },
  { k: 'evip', line: '2001:db8::1/64 scope link', ka: /Cannot specify scope for IPv6/, vipd: 'warn' }, // Neutron writes it; no effect on IPv6
  { k: 'evip', line: '2001:db8::2 label eth0:6', ka: /Cannot specify label for IPv6/, vipd: 'error', at: 'label' },
  { k: 'evip', line: '2001:db8::3 brd +', ka: /trying to assign a broadcast .* to the IPv6 address/, vipd: 'error', at: 'brd' },
  { k: 'evip', line: '192.0.2.20 use_vmac', ka: null, vipd: 'warn' },
  { k: 'saddr', line: '192.0.2.21/24 dev eth0 label eth0:1', ka: null, vipd: 'ok' },
  { k: 'saddr', line: '192.0.2.22 dev eth0 use_vmac', ka: /Unknown configuration entry 'use_vmac'/, vipd: 'error', at: 'use_vmac' },
  { k: 'route', line: '198.51.100.0/24 via 192.0.2.254 dev eth0', ka: null, vipd: 'ok' },
  { k: 'route', line: 'to 198.51.100.0/24 dev eth0 table 100 metric 10', ka: null, vipd: 'ok' },
  { k: 'route', line: '198.51.100.0/24 dev eth0 table foo', ka: /Routing table foo not found/, vipd: 'error', at: 'foo' },
  { k: 'route', line: '198.51.100.0/24 dev eth0 table unspec', ka: null, vipd: 'ok' }, // a name of /etc/iproute2/rt_tables
  { k: 'route', line: 'blackhole 198.51.100.0/25', ka: /cannot track route 198.51.100.0\/25 with no interface/, vipd: 'warn' },
  { k: 'route', line: 'to blackhole 198.51.100.0/25 dev eth0', ka: /unknown route keyword blackhole/, vipd: 'error', at: 'blackhole' },
  { k: 'route', line: 'unreachable 198.51.100.128/25 dev eth0 metric 5', ka: null, vipd: 'ok' },
  { k: 'route', line: 'throw 198.51.100.0/24 dev eth0 table 100', ka: null, vipd: 'ok' },
  { k: 'route', line: '198.51.100.0/24 via 192.0.2.1 or 192.0.2.2 dev eth0', ka: /"or" for routes is deprecated/, vipd: 'warn' },
  { k: 'route', line: '198.51.100.0/24 or 192.0.2.2 dev eth0', ka: /"or" for routes is deprecated/, vipd: 'error', at: 'or' }, // keepalived makes a hop without gateway
  { k: 'route', line: '198.51.100.0/24 dev eth0 gw 192.0.2.1', ka: /"gw" for routes is deprecated/, vipd: 'warn' },
  { k: 'route', line: '2001:db8:1::/48 via 2001:db8::1 dev eth0', ka: null, vipd: 'ok' },
  { k: 'route', line: '2001:db8:1::/48 via 192.0.2.1 dev eth0', ka: /Cannot mix IPv4 and IPv6/, vipd: 'error', at: '192.0.2.1' },
  { k: 'route', line: 'default via 192.0.2.1 dev eth0 metric 0x10', ka: /Invalid metric 0x10/, vipd: 'error', at: '0x10' },
  { k: 'route', line: '198.51.100.0/24 dev eth0 metirc 5', ka: /unknown route keyword metirc/, vipd: 'error', at: 'metirc' },
  { k: 'route', line: '198.51.100.0/24 192.0.2.0/24 dev eth0', ka: null, vipd: 'error', at: '192.0.2.0/24', stricter: 'keepalived silently keeps the last destination' },
  { k: 'route', line: 'src 192.0.2.1 dev eth0', ka: /Route must have a destination/, vipd: 'error', at: 'src' },
  { k: 'route', line: 'inet6 default dev eth0', ka: /Route must have a destination/, vipd: 'error', at: 'default' },
  { k: 'route', line: 'from 2001:db8::/64 default6 dev eth0', ka: null, vipd: 'warn' },
  { k: 'route', line: 'from 192.0.2.0/24 default dev eth0', ka: /route from address only supported with IPv6/, vipd: 'error', at: '192.0.2.0/24' },
  { k: 'route', line: '198.51.100.0/24 dev eth0 protocol bird', ka: /cannot be tracked if protocol is not RTPROT_KEEPALIVED/, vipd: 'error', at: 'protocol' },
  { k: 'route', line: '198.51.100.0/24 dev eth0 no_track protocol bird scope link', ka: null, vipd: 'ok' },
  { k: 'route', line: '198.51.100.1/24 dev eth0', ka: null, vipd: 'error', stricter: 'the kernel refuses an IPv4 route with host bits when keepalived adds it' },
  { k: 'route', line: '198.51.100.0/24 nexthop via 192.0.2.1 dev eth0 weight 2 nexthop via 192.0.2.2 dev eth1', ka: /cannot track route/, vipd: 'warn' },
  { k: 'route', line: '198.51.100.0/24 dev eth0 nexthop via 192.0.2.1 weight 0', ka: /Invalid weight 0/, vipd: 'error', at: '0' },
  { k: 'route', line: '198.51.100.0/24 dev eth0 mtu lock 1400 rtt 300ms advmss 1360 features ecn', ka: null, vipd: 'ok' },
  { k: 'route', line: '198.51.100.0/24 dev eth0 features sack', ka: /feature sack not supported/, vipd: 'error', at: 'sack' },
  { k: 'route', line: 'default dev eth0 pref high', ka: null, vipd: 'ok' },
  { k: 'route', line: '198.51.100.0/24 dev eth0 pref high', ka: /pref is only valid for IPv6/, vipd: 'error', at: 'pref' },
  { k: 'route', line: '198.51.100.0/24 dev eth0 via', ka: /missing a parameter after keyword `via`/, vipd: 'error', at: 'via' },
  { k: 'route', line: '198.51.100.0/24 dev eth0 track_group G', ka: /unknown route keyword track_group/, vipd: 'error', at: 'track_group' },
  { k: 'sroute', line: '198.51.100.0/24 via 192.0.2.1 dev eth0 onlink', ka: null, vipd: 'ok' },
  { k: 'route', line: '2001:db8:2::/48 via inet6 2001:db8::1 dev eth0', ka: null, vipd: 'ok' },
  { k: 'route', line: '198.51.100.0/24 dev eth0 rtt 150s', ka: null, vipd: 'warn' }, // keepalived brings it to 120 s without a report
  { k: 'route', line: '198.51.100.0/24 dev eth0 rtt 1.2345s', ka: /too many decimal places/, vipd: 'error', at: '1.2345s' },
  { k: 'route', line: '198.51.100.0/24 dev eth0 encap ip id 5 dst 192.0.2.1 ttl 4', ka: null, vipd: 'ok' },
  { k: 'route', line: '198.51.100.0/24 dev eth0 encap mpls 100/200', ka: null, vipd: 'ok' },
  { k: 'route', line: '198.51.100.0/24 dev eth0 encap foo', ka: /Unknown encap type - foo/, vipd: 'error', at: 'foo' },
  { k: 'route', line: '198.51.100.0/24 dev eth0 expires 5', ka: /expires is only valid for IPv6/, vipd: 'error', at: 'expires' },
  { k: 'route', line: '198.51.100.0/24 dev eth0 as to 192.0.2.9', ka: /"as to" for MPLS only/, vipd: 'error', at: 'as' },
  { k: 'route', line: '198.51.100.0/24 dev eth0 hoplimit 256', ka: /Invalid hoplimit 256/, vipd: 'error', at: '256' },
  { k: 'route', line: '198.51.100.0/24 dev eth0 quickack 2', ka: /Invalid quickack value 2/, vipd: 'error', at: '2' },
  { k: 'route', line: '2001:db8:3::/48 dev eth0 realms 5', ka: /realms are only valid for IPv4/, vipd: 'error', at: 'realms' },
  { k: 'route', line: '198.51.100.0/24 dev eth0 congctl lock cubic ttl-propagate maybe', ka: /ttl-propagate value maybe not recognised/, vipd: 'error', at: 'maybe' },
  { k: 'rule', line: 'from 192.0.2.0/24 table 100 priority 100', ka: null, vipd: 'ok' },
  { k: 'rule', line: 'from 192.0.2.0/24 lookup main pref 100', ka: /Unknown rule option pref/, vipd: 'error', at: 'pref' },
  { k: 'rule', line: 'to 192.0.2.0/24 table 100 preference 0x20', ka: null, vipd: 'ok' },
  { k: 'rule', line: 'from all fwmark 0x10/0xff table 100 priority 101', ka: null, vipd: 'ok' },
  { k: 'rule', line: 'not from 192.0.2.0/24 table 100 priority 102 not', ka: null, vipd: 'ok' },
  { k: 'rule', line: 'from 192.0.2.0/24 goto 50 priority 104', ka: /preference 104 >= goto target 50/, vipd: 'error', at: 'goto' },
  { k: 'rule', line: 'iif eth0 l3mdev table 10 priority 106', ka: /Cannot specify more than one of table/, vipd: 'error', at: 'table' },
  { k: 'rule', line: 'from 192.0.2.0/24 table 5 priority 107 dport 30', ka: /invalid dport range 30/, vipd: 'error', at: '30' },
  { k: 'rule', line: 'from 192.0.2.0/24 table 5 priority 108 ipproto 132', ka: /Invalid ipproto 132/, vipd: 'error', at: '132' },
  { k: 'rule', line: 'from 192.0.2.0/24 table 5 priority 7 sport 10-20 dport 20-30 ipproto UDP', ka: null, vipd: 'ok' },
  { k: 'rule', line: 'from 2001:db8::/32 to 192.0.2.0/24 table 5 priority 109', ka: /mixed IPv4 and IPv6/, vipd: 'error', at: '192.0.2.0/24' },
  { k: 'rule', line: 'from 192.0.2.0/24 nop priority 112', ka: null, vipd: 'ok' },
  { k: 'rule', line: 'from 192.0.2.0/24 priority 113', ka: /No action specified for rule/, vipd: 'error', at: 'from' },
  { k: 'rule', line: 'table 0 priority 114', ka: /Table 0 is not valid/, vipd: 'error', at: '0' },
  { k: 'rule', line: 'from 192.0.2.0/24 fwmark 0x10/ table 5 priority 116', ka: null, vipd: 'error', at: '0x10/', stricter: 'keepalived reads the empty mask as 0' },
  { k: 'rule', line: 'from 192.0.2.0/24 table 1', ka: /Rule has no preference specified/, vipd: 'warn' },
  { k: 'rule', line: 'from 192.0.2.0/24 table 5 priority 118 protocol 5', ka: /Rule cannot be tracked if protocol/, vipd: 'error', at: 'protocol' },
  { k: 'rule', line: 'from 192.0.2.0/24 to 198.51.100.0/24 iif eth0 tos 0x10 fwmark 24/12 preference 39 realms 30/20 goto 40', ka: /suppressor\/realm specified for non table action/, vipd: 'error', at: 'realms' }, // keepalived.conf(5)'s own example
  { k: 'rule', line: 'to 2001:db8:1::/112 from 2001:db8:2::/96 table 6908 uidrange 10000-19999 priority 5', ka: null, vipd: 'ok' },
  { k: 'rule', line: 'from 192.0.2.0/24 tabel 5 priority 8', ka: /Unknown rule option tabel/, vipd: 'error', at: 'tabel' },
  { k: 'rule', line: 'inet6 from 2001:db8::/32 table 5 priority 9', ka: /Unknown rule option 2001:db8::\/32/, vipd: 'error', at: 'from' },
  { k: 'rule', line: 'from 192.0.2.0/24 type blackhole priority 5', ka: null, vipd: 'ok' },
  { k: 'rule', line: 'from 192.0.2.0/24 6 priority 6', ka: null, vipd: 'ok' }, // RTN_BLACKHOLE by number
  { k: 'rule', line: 'from 192.0.2.0/24 throw priority 7', ka: /Invalid rule action throw/, vipd: 'error', at: 'throw' },
  { k: 'rule', line: 'from 192.0.2.0/24 goto 20 priority 8 sup_pl 0', ka: /suppressor\/realm specified for non table action/, vipd: 'error', at: 'sup_pl' },
  { k: 'rule', line: 'from 192.0.2.0/24 table 5 priority 9 uidrange 20-10', ka: null, vipd: 'error', at: '20-10', stricter: 'the kernel refuses a UID range whose start is above its end' },
  { k: 'rule', line: 'from 192.0.2.0/24 table 5 priority 10 fwmark 5/0x', ka: /Invalid rule fwmark 5\/0x/, vipd: 'error', at: '5/0x' },
  { k: 'rule', line: 'from 192.0.2.0/24 table 5 priority 11 iif eth0 tunnel-id 18446744073709551616', ka: /Invalid tunnel-id/, vipd: 'error', at: '18446744073709551616' },
  { k: 'srule', line: 'from 192.0.2.0/24 table 5 priority 10 no_track', ka: null, vipd: 'ok' },
];

/** The small configuration of one case: an instance with one IPv4 address, and the line in its block. */
function config(c: Case): string {
  const top = c.k.startsWith('s');
  const l: string[] = top ? [`${BLOCK[c.k]} {`, `  ${c.line}`, '}'] : [];
  l.push('vrrp_instance A {', '  interface eth0', '  virtual_router_id 51', '  priority 100', '  virtual_ipaddress {', '    192.0.2.100/24');
  if (c.k === 'vip') l.push(`    ${c.line}`);
  l.push('  }');
  if (!top && c.k !== 'vip') l.push(`  ${BLOCK[c.k]} {`, `    ${c.line}`, '  }');
  l.push('}', '');
  return l.join('\n');
}
const lineOf = (text: string, c: Case): number => text.split('\n').findIndex((l) => l.trim() === c.line) + 1;

describe('crafted lines, with real keepalived -t as referee', () => {
  const names = rtNamesFromFiles((f) => (existsSync(f) ? readFileSync(f, 'utf8') : null));

  it('has at least 25 cases, each stricter-than-keepalived verdict explained', () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
    for (const c of cases) {
      if (c.ka === null && c.vipd === 'error') expect({ line: c.line, stricter: c.stricter }).toEqual({ line: c.line, stricter: expect.any(String) });
      if (c.ka !== null) expect({ line: c.line, vipd: c.vipd }).not.toEqual({ line: c.line, vipd: 'ok' });
    }
  });

  it.each(cases)('$k: $line', async (c) => {
    const text = config(c);
    const line = lineOf(text, c);
    expect(line).toBeGreaterThan(0);
    const ka = await keepalivedCheck(text);
    const kaLine = errorsAt(ka, line);
    if (c.ka === null) expect({ kaLine, exit: ka.exitCode }).toEqual({ kaLine: [], exit: 0 });
    else expect(kaLine).toContainEqual(expect.stringMatching(c.ka));
    // everything keepalived says is about this line (the rest of the configuration is clean)
    expect(ka.errors.filter((e) => !e.includes(`Line ${line})`))).toEqual([]);

    const p = await parseText(text, names);
    const errs = p.b.errors.filter((e) => e.pos.line === line);
    expect(p.b.errors.length).toBe(errs.length);
    const warns = p.b.warnings.filter((w) => w.pos.line === line);
    const verdict = errs.length ? 'error' : warns.length ? 'warn' : 'ok';
    expect({ verdict, errs: errs.map((e) => e.message), warns: warns.map((w) => w.message) }).toMatchObject({ verdict: c.vipd });
    if (c.at !== undefined) {
      // the column of the word `at` (or, inside a word, of that text)
      const words = c.line.split(' ');
      const k = words.indexOf(c.at);
      const offset = k >= 0 ? words.slice(0, k).join(' ').length + (k ? 1 : 0) : c.line.indexOf(c.at);
      expect(errs[0]!.pos.col).toBe(text.split('\n')[line - 1]!.indexOf(c.line) + offset + 1);
    }
  });
});
