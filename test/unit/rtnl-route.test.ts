/**
 * Routes (src/os/rtnl-route.ts) and addresses with all their options (src/os/rtnl-addr.ts):
 * the requests byte for byte against what keepalived 2.2.7 sent for the same lines (captured
 * with `strace -xx -e write=all` of keepalived in a test namespace, eth0 = ifindex 3, eth1 = 5;
 * the sequence number zeroed), parses of kernel messages, the identity keys, the ip -batch
 * lines. Models come from the real config parser (src/config/kw-net*.ts).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_RT_NAMES, parseRouteBlock, parseVipBlock } from '../../src/config/kw-net.js';
import type { RouteModel, VipConfig } from '../../src/config/model-net.js';
import { Builder } from '../../src/config/spec.js';
import { parseFile, type FileSource } from '../../src/config/tree.js';
import { addrDelLine, addrKey, addrRequest, parseAddr, vipAddrSpec } from '../../src/os/rtnl-addr.js';
import { nlmsg, rtattr, RTM_NEWADDR, RTM_NEWROUTE, splitMessages, u32 } from '../../src/os/rtnl-msg.js';
import { modelRouteKey, parseRouteMsg, routeDelLine, routeKey, routeRequest } from '../../src/os/rtnl-route.js';

const IFINDEX: Record<string, number> = { eth0: 3, eth1: 5 };
const ifindexOf = (n: string): number => {
  const i = IFINDEX[n];
  if (i === undefined) throw new Error(`no interface ${n}`);
  return i;
};

/** The models of `lines` in a `block { }` of keepalived.conf, through the real parser (no error allowed). */
async function parseLines(block: string, lines: string[]): Promise<{ vips: VipConfig[]; routes: RouteModel[] }> {
  const text = `${block} {\n${lines.join('\n')}\n}\n`;
  const src: FileSource = { read: async () => text, glob: async () => [], resolve: (_f, p) => p };
  const [st] = await parseFile('/mem/keepalived.conf', src);
  const b = new Builder();
  const out = { vips: [] as VipConfig[], routes: [] as RouteModel[] };
  if (block.endsWith('routes')) out.routes = parseRouteBlock(b, st!, DEFAULT_RT_NAMES);
  else out.vips = parseVipBlock(b, st!, block);
  expect(b.errors.map((e) => e.message)).toEqual([]);
  return out;
}

const hex = (b: Buffer): string => {
  const c = Buffer.from(b);
  c.writeUInt32LE(0, 8); // sequence number
  return c.toString('hex');
};

const ROUTES = [
  'default via 192.0.2.254 dev eth0',
  '198.51.100.0/24 dev eth1 src 198.51.100.5 scope link table 1',
  'default via 198.51.100.1 dev eth1 onlink table 1',
  '192.0.2.128/25 dev eth0 src 192.0.2.1 table 100',
  'blackhole 203.0.113.0/25',
  'unreachable 203.0.113.128/26 table 1000',
  'prohibit 203.0.113.192/26',
  '2001:db8:1::/48 via 2001:db8::fe dev eth0 metric 200',
  '198.51.100.128/25 via 192.0.2.252 or 192.0.2.253',
  '203.0.113.0/24 dev eth0 mtu lock 1400 advmss 1360 metric 7 append',
];
/** keepalived 2.2.7's RTM_NEWROUTE for each line of ROUTES (note NLM_F_EXCL, 0x0200, on the typed routes). */
const KA_ROUTE_ADD = [
  '3400000018000504000000000000000002000000fe12000100000000080001000000000008000500c00002fe0800040003000000',
  '34000000180005040000000000000000021800000112fd010000000008000100c633640008000700c63364050800040005000000',
  '34000000180005040000000000000000020000000112000104000000080001000000000008000500c63364010800040005000000',
  '3400000018000504000000000000000002190000641200010000000008000100c000028008000700c00002010800040003000000',
  '2400000018000506000000000000000002190000fe1200060000000008000100cb007100',
  '2c000000180005060000000000000000021a0000001200070000000008000f00e803000008000100cb007180',
  '24000000180005060000000000000000021a0000fe1200080000000008000100cb0071c0',
  '540000001800050400000000000000000a300000fe120001000000001400010020010db80001000000000000000000001400050020010db80000000000000000000000fe080004000300000008000600c8000000',
  '4800000018000504000000000000000002190000fe1200010000000008000100c633648024000900100000000000000008000500c00002fc100000000000000008000500c00002fd',
  '500000001800050c000000000000000002180000fe1200010000000008000100cb007100080004000300000008000600070000001c000800080002007805000008000800500500000800010004000000',
];
/** keepalived 2.2.7's RTM_DELROUTE for each line of ROUTES (scope RT_SCOPE_NOWHERE unless given). */
const KA_ROUTE_DEL = [
  '3400000019000500000000000000000002000000fe12ff0000000000080001000000000008000500c00002fe0800040003000000',
  '34000000190005000000000000000000021800000112fd000000000008000100c633640008000700c63364050800040005000000',
  '34000000190005000000000000000000020000000112ff0004000000080001000000000008000500c63364010800040005000000',
  '34000000190005000000000000000000021900006412ff000000000008000100c000028008000700c00002010800040003000000',
  '2400000019000500000000000000000002190000fe12ff060000000008000100cb007100',
  '2c000000190005000000000000000000021a00000012ff070000000008000f00e803000008000100cb007180',
  '24000000190005000000000000000000021a0000fe12ff080000000008000100cb0071c0',
  '540000001900050000000000000000000a300000fe12ff00000000001400010020010db80001000000000000000000001400050020010db80000000000000000000000fe080004000300000008000600c8000000',
  '4800000019000500000000000000000002190000fe12ff000000000008000100c633648024000900100000000000000008000500c00002fc100000000000000008000500c00002fd',
  '5000000019000500000000000000000002180000fe12ff000000000008000100cb007100080004000300000008000600070000001c000800080002007805000008000800500500000800010004000000',
];

describe('routeRequest: keepalived 2.2.7\'s bytes', () => {
  it('add and delete of each line are what keepalived sent', async () => {
    const { routes } = await parseLines('virtual_routes', ROUTES);
    expect(routes.map((r) => hex(routeRequest('add', r, ifindexOf, 7)))).toEqual(KA_ROUTE_ADD);
    expect(routes.map((r) => hex(routeRequest('del', r, ifindexOf, 7)))).toEqual(KA_ROUTE_DEL);
    expect(routeRequest('add', routes[0]!, ifindexOf, 0x01020304).readUInt32LE(8)).toBe(0x01020304);
  });

  it('mode add / append / prepend, table above 255, from, tos, metrics and options by hand', async () => {
    const { routes: [add, app, v6] } = await parseLines('virtual_routes', [
      '198.51.100.0/24 via 192.0.2.254 table 300 tos 0x10 add',
      '198.51.100.0/24 via 192.0.2.254 congctl lock cubic rtt 300ms features ecn quickack 1 append',
      '2001:db8:5::/64 from 2001:db8:6::/64 via 2001:db8::fe pref high expires 60 hoplimit 9',
    ]);
    const a = routeRequest('add', add!, ifindexOf, 1);
    expect(a.readUInt16LE(6)).toBe(0x0605); // REQUEST|ACK|CREATE|EXCL
    expect([...a.subarray(16, 24)]).toEqual([2, 24, 0, 0x10, 0, 18, 0, 1]); // rtm_table 0, RTA_TABLE below
    expect(a.subarray(28, 36).toString('hex')).toBe('08000f002c010000'); // RTA_TABLE 300, first as keepalived
    const p = routeRequest('add', app!, ifindexOf, 1);
    expect(p.readUInt16LE(6)).toBe(0x0c05); // REQUEST|ACK|CREATE|APPEND
    // RTA_METRICS: CC_ALGO "cubic" (no NUL), RTT 2400 (1/8 ms), FEATURES ECN, QUICKACK 1, LOCK 1<<16
    expect(p.toString('hex')).toContain(['30000800', '09001000637562696300000008000400600900000800', '0c00010000000800', '0f00010000000800', '010000000100'].join(''));
    const s = routeRequest('add', v6!, ifindexOf, 1);
    expect([...s.subarray(16, 19)]).toEqual([10, 64, 64]);
    expect(s.toString('hex')).toContain('1400020020010db8000600000000000000000000'); // RTA_SRC
    // RTA_EXPIRES 60, RTA_PREF high (1), RTA_METRICS { RTAX_HOPLIMIT 9 }: keepalived's order
    expect(s.toString('hex')).toContain('080017003c00000005001400010000000c00080008000a0009000000');
  });

  it('nexthops: weight - 1, onlink, the route\'s dev in each hop without one (no RTA_OIF beside them)', async () => {
    const { routes: [mp] } = await parseLines('virtual_routes', ['198.51.100.0/24 dev eth0 nexthop via 192.0.2.252 weight 3 onlink nexthop via 192.0.2.253 dev eth1']);
    const b = routeRequest('add', mp!, ifindexOf, 1);
    const attrs = b.toString('hex');
    expect(attrs).not.toContain('08000400'); // no RTA_OIF
    expect(attrs).toContain('2400090010000402030000000800050' + '0c00002fc' + '1000000005000000' + '08000500c00002fd');
  });

  it('encap: RTA_ENCAP (LWTUNNEL attributes) and RTA_ENCAP_TYPE, as keepalived\'s add_encap', async () => {
    const { routes: [ip, mpls, ila] } = await parseLines('virtual_routes', [
      '198.51.100.0/24 encap ip id 5 dst 192.0.2.9 ttl 10 dev eth0', '203.0.113.0/24 encap mpls 100/200 via 192.0.2.254', '2001:db8:a::/64 encap ila 1:2:3:4 dev eth0',
    ]);
    // LWTUNNEL_IP_ID (big-endian u64), _DST, _TTL (u8); LWTUNNEL_ENCAP_IP = 2
    expect(routeRequest('add', ip!, ifindexOf, 1).toString('hex')).toContain(
      '2000160' + '00c000100' + '0000000000000005' + '08000200c0000209' + '0500040' + '00a000000' + '0600150002000000');
    // MPLS_IPTUNNEL_DST: label << 12, bottom of stack (0x100) on the last; LWTUNNEL_ENCAP_MPLS = 1
    expect(routeRequest('add', mpls!, ifindexOf, 1).toString('hex')).toContain('100016000c00010000064000000c81000600150001000000');
    // ILA_ATTR_LOCATOR: four 16-bit words in network order; LWTUNNEL_ENCAP_ILA = 3
    expect(routeRequest('add', ila!, ifindexOf, 1).toString('hex')).toContain('100016000c0001000001000200030004' + '0600150003000000');
  });

  it('refuses what it cannot send, before anything is sent', async () => {
    const { routes: [vrf, dev] } = await parseLines('virtual_routes', ['198.51.100.0/24 via 192.0.2.254 vrf blue', '198.51.100.0/24 dev eth9']);
    expect(() => routeRequest('add', vrf!, ifindexOf, 1)).toThrow(/vrf blue.*not supported/);
    expect(() => modelRouteKey(vrf!, ifindexOf)).toThrow(/vrf/);
    expect(() => routeRequest('add', dev!, ifindexOf, 1)).toThrow(/no interface eth9/);
  });
});

/** A route as the kernel reports it (attributes in rt_fill_info's order; RTA_TABLE always). */
function kernelRoute(o: { family?: 4 | 6; dstLen: number; table?: number; type?: number; proto?: number; scope?: number; attrs: Buffer[] }): Buffer {
  const h = Buffer.from([o.family === 6 ? 10 : 2, o.dstLen, 0, 0, Math.min(o.table ?? 254, 252), o.proto ?? 18, o.scope ?? 0, o.type ?? 1, 0, 0, 0, 0]);
  return nlmsg(RTM_NEWROUTE, 0, 0, [h, rtattr(15, u32(o.table ?? 254)), ...o.attrs]);
}
const ip4 = (...b: number[]): Buffer => Buffer.from(b);

describe('parseRouteMsg and the keys', () => {
  it('a kernel dump of the default route: fields, and the key of the model line', async () => {
    const m = splitMessages(kernelRoute({ dstLen: 0, attrs: [rtattr(5, ip4(192, 0, 2, 254)), rtattr(4, u32(3))] }))[0]!;
    const r = parseRouteMsg(m)!;
    expect(r).toEqual({
      family: 4, table: 254, type: 'unicast', dst: '0.0.0.0/0', from: null, prefsrc: null, gateway: '192.0.2.254', oif: 3, metric: 0, tos: 0, scope: 0, protocol: 18, flags: 0, nexthops: [],
    });
    const { routes } = await parseLines('virtual_routes', ['default via 192.0.2.254 dev eth0', '0.0.0.0/0 via 192.0.2.254', 'default via 192.0.2.253 dev eth0']);
    expect(routeKey(r)).toBe('4 table 254 unicast 0.0.0.0/0 tos 0 metric 0 via 192.0.2.254 proto 18');
    expect(modelRouteKey(routes[0]!, ifindexOf)).toBe(routeKey(r)); // with dev
    expect(modelRouteKey(routes[1]!, ifindexOf)).toBe(routeKey(r)); // without: the kernel resolved it
    expect(modelRouteKey(routes[2]!, ifindexOf)).not.toBe(routeKey(r)); // a changed gateway is another route
    // an operator's route to the same place with another protocol is not ours
    const stat = parseRouteMsg(splitMessages(kernelRoute({ dstLen: 0, proto: 4, attrs: [rtattr(5, ip4(192, 0, 2, 254)), rtattr(4, u32(3))] }))[0]!)!;
    expect(routeKey(stat)).not.toBe(modelRouteKey(routes[0]!, ifindexOf));
  });

  it('IPv6: the default metric 1024, RTA_TABLE above 255, host bits, blackhole on lo', async () => {
    const v6dst = Buffer.from('20010db8000500000000000000000000', 'hex');
    const m = kernelRoute({ family: 6, dstLen: 64, table: 1000, type: 6, attrs: [rtattr(1, v6dst), rtattr(6, u32(1024)), rtattr(4, u32(1))] });
    const r = parseRouteMsg(splitMessages(m)[0]!)!;
    expect([r.table, r.type, r.dst, r.metric, r.oif]).toEqual([1000, 'blackhole', '2001:db8:5::/64', 1024, 1]);
    const { routes } = await parseLines('virtual_routes', ['blackhole 2001:db8:5::1/64 table 1000', 'blackhole 2001:db8:5::/64 table 1000 metric 1024', 'blackhole 2001:db8:5::/64 table 1000 metric 5']);
    expect(modelRouteKey(routes[0]!, ifindexOf)).toBe(routeKey(r));
    expect(modelRouteKey(routes[1]!, ifindexOf)).toBe(routeKey(r));
    expect(modelRouteKey(routes[2]!, ifindexOf)).not.toBe(routeKey(r));
  });

  it('multipath: hops sorted with weights; `or` equals the same two nexthops', async () => {
    const hop = (gw: number, ifindex: number, hops: number): Buffer => {
      const a = rtattr(5, ip4(192, 0, 2, gw));
      const h = Buffer.alloc(8);
      h.writeUInt16LE(8 + a.length, 0);
      h[3] = hops;
      h.writeInt32LE(ifindex, 4);
      return Buffer.concat([h, a]);
    };
    const m = kernelRoute({ dstLen: 25, attrs: [rtattr(1, ip4(198, 51, 100, 128)), rtattr(9, Buffer.concat([hop(253, 3, 0), hop(252, 3, 0)]))] });
    const r = parseRouteMsg(splitMessages(m)[0]!)!;
    expect(r.nexthops).toEqual([{ gateway: '192.0.2.253', ifindex: 3, weight: 1, flags: 0 }, { gateway: '192.0.2.252', ifindex: 3, weight: 1, flags: 0 }]);
    const { routes } = await parseLines('virtual_routes', [
      '198.51.100.128/25 via 192.0.2.252 or 192.0.2.253', '198.51.100.128/25 nexthop via 192.0.2.252 nexthop via 192.0.2.253 dev eth0',
      '198.51.100.128/25 nexthop via 192.0.2.252 weight 2 nexthop via 192.0.2.253',
    ]);
    expect(modelRouteKey(routes[0]!, ifindexOf)).toBe(routeKey(r));
    expect(modelRouteKey(routes[1]!, ifindexOf)).toBe(routeKey(r));
    expect(modelRouteKey(routes[2]!, ifindexOf)).not.toBe(routeKey(r));
  });

  it('every request parses back to its own key (dev routes, src, tables, types)', async () => {
    const { routes } = await parseLines('virtual_routes', ROUTES);
    for (const rt of routes) {
      const req = routeRequest('add', rt, ifindexOf, 1);
      const r = parseRouteMsg({ ...splitMessages(req)[0]!, type: RTM_NEWROUTE })!;
      expect(routeKey(r)).toBe(modelRouteKey(rt, ifindexOf));
    }
    expect(modelRouteKey(routes[1]!, ifindexOf)).toBe('4 table 1 unicast 198.51.100.0/24 tos 0 metric 0 dev 5 src 198.51.100.5 proto 18');
  });

  it('skips what is not an IPv4/IPv6 route: other types, MPLS, cache clones, truncated bodies', () => {
    const base = kernelRoute({ dstLen: 0, attrs: [] });
    const m = splitMessages(base)[0]!;
    expect(parseRouteMsg({ ...m, type: RTM_NEWADDR })).toBeNull();
    expect(parseRouteMsg({ ...m, body: Buffer.concat([Buffer.of(28), m.body.subarray(1)]) })).toBeNull();
    const cloned = Buffer.from(m.body);
    cloned.writeUInt32LE(0x200, 8);
    expect(parseRouteMsg({ ...m, body: cloned })).toBeNull();
    expect(parseRouteMsg({ ...m, body: m.body.subarray(0, 8) })).toBeNull();
  });
});

describe('routeDelLine', () => {
  it('ip -batch words: type, dst, table, metric, proto, gateway, device, hops', async () => {
    const { routes } = await parseLines('virtual_routes', [
      '0.0.0.0/0 via 198.51.100.1 dev eth2 no_track protocol static', 'blackhole 203.0.113.0/25', '2001:db8:1::/48 via 2001:db8::fe dev eth0 metric 200',
      '198.51.100.128/25 via 192.0.2.252 or 192.0.2.253', '198.51.100.0/24 dev eth1 src 198.51.100.5 scope link table 1',
    ]);
    expect(routes.map(routeDelLine)).toEqual([
      'route del 0.0.0.0/0 table 254 proto 4 via 198.51.100.1 dev eth2',
      'route del blackhole 203.0.113.0/25 table 254 proto 18',
      'route del 2001:db8:1::/48 table 254 metric 200 proto 18 via 2001:db8::fe dev eth0',
      'route del 198.51.100.128/25 table 254 proto 18 nexthop via 192.0.2.252 nexthop via 192.0.2.253',
      'route del 198.51.100.0/24 table 1 proto 18 src 198.51.100.5 dev eth1',
    ]);
  });
});

const VIPS4 = ['192.0.2.100/24 brd + dev eth0 scope site label eth0:v1', '192.0.2.101 peer 192.0.2.201 dev eth0', '192.0.2.102/24 dev eth0 noprefixroute'];
const VIPS6 = ['2001:db8::100/64 dev eth0 preferred_lft 30', '2001:db8::101/128 dev eth0', '2001:db8::102/64 dev eth0 -nodad home'];
/** keepalived 2.2.7's RTM_NEWADDR for VIPS4 + VIPS6, flags 0x0005 (vipd adds CREATE|EXCL: the kernel answers EEXIST either way). */
const KA_ADDR_ADD = [
  '34000000140005000000000000000000021800c80300000008000200c000026408000400c00002ff0c000300657468303a763100',
  '28000000140005000000000000000000022000000300000008000200c000026508000100c00002c9',
  '28000000140005000000000000000000021800000300000008000200c00002660800080000020000',
  '480000001400050000000000000000000a40000003000000140006001e000000ffffffff00000000000000001400020020010db80000000000000000000001000800080002000000',
  '480000001400050000000000000000000a800000030000001400060000000000ffffffff00000000000000001400020020010db80000000000000000000001010800080002000000',
  '340000001400050000000000000000000a400000030000001400020020010db80000000000000000000001020800080010000000',
];
/** keepalived 2.2.7's RTM_DELADDR for the same (its IFA_ADDRESS of the peer address is the local one: see below). */
const KA_ADDR_DEL = [
  '28000000150005000000000000000000021800c80300000008000200c000026408000100c0000264',
  '28000000150005000000000000000000022000000300000008000200c000026508000100c0000265',
  '28000000150005000000000000000000021800000300000008000200c000026608000100c0000266',
  '2c0000001500050000000000000000000a400000030000001400020020010db8000000000000000000000100',
  '2c0000001500050000000000000000000a800000030000001400020020010db8000000000000000000000101',
  '2c0000001500050000000000000000000a400000030000001400020020010db8000000000000000000000102',
];

describe('addresses: vipAddrSpec + addrRequest against keepalived 2.2.7', () => {
  it('add: brd, scope, label, peer, noprefixroute, IFA_CACHEINFO, NODAD unless -nodad, home', async () => {
    const vips = [...(await parseLines('virtual_ipaddress', VIPS4)).vips, ...(await parseLines('virtual_ipaddress_excluded', VIPS6)).vips];
    const ours = vips.map((v) => hex(addrRequest('add', vipAddrSpec(v, ifindexOf(v.dev!)), 1)));
    expect(ours).toEqual(KA_ADDR_ADD.map((h) => `${h.slice(0, 12)}0506${h.slice(16)}`));
  });

  it('delete: as keepalived, but a peer address names its peer (keepalived\'s delete of one fails and leaves it)', async () => {
    const vips = [...(await parseLines('virtual_ipaddress', VIPS4)).vips, ...(await parseLines('virtual_ipaddress_excluded', VIPS6)).vips];
    const ours = vips.map((v) => hex(addrRequest('del', vipAddrSpec(v, ifindexOf(v.dev!)), 1)));
    expect(ours).toEqual(KA_ADDR_DEL.map((h, i) => (i === 1 ? h.replace(/c0000265$/, 'c00002c9') : h)));
  });

  it('parseAddr reads peer, broadcast, label, lifetimes; addrKey matches the model\'s', async () => {
    const [brd, peer] = (await parseLines('virtual_ipaddress', VIPS4)).vips;
    const [lft] = (await parseLines('virtual_ipaddress_excluded', VIPS6)).vips;
    const echo = (b: Buffer): Buffer => Buffer.concat([b, rtattr(6, Buffer.from('1e000000ffffffff0000000000000000', 'hex'))]);
    const p = parseAddr({ ...splitMessages(addrRequest('add', vipAddrSpec(peer!, 3), 1))[0]!, type: RTM_NEWADDR })!;
    expect([p.address, p.peer, p.prefixLen, p.broadcast]).toEqual(['192.0.2.101', '192.0.2.201', 32, null]);
    const b = parseAddr({ ...splitMessages(addrRequest('add', vipAddrSpec(brd!, 3), 1))[0]!, type: RTM_NEWADDR })!;
    expect([b.broadcast, b.label, b.scope, b.peer]).toEqual(['192.0.2.255', 'eth0:v1', 200, null]);
    const m = splitMessages(addrRequest('add', vipAddrSpec(lft!, 3), 1))[0]!;
    const l = parseAddr({ ...m, body: echo(m.body.subarray(0, 8)) })!;
    expect(l).toBeNull(); // no address attribute
    const l2 = parseAddr({ ...m, body: echo(m.body) })!;
    expect([l2.preferredLft, l2.validLft, l2.address]).toEqual([30, null, '2001:db8::100']);
    expect(addrKey(l2.family, l2.ifindex, l2.address, l2.prefixLen)).toBe(addrKey(lft!.family, 3, lft!.address, lft!.prefixLen));
    expect(addrKey(6, 3, '2001:db8::100', 64)).toBe('6|3|2001:db8::100/64');
  });

  it('addrDelLine: ip -batch words; unsafe words refused', async () => {
    const vips = (await parseLines('virtual_ipaddress', VIPS4)).vips;
    expect(vips.map((v) => addrDelLine(v, v.dev!))).toEqual([
      'address del 192.0.2.100/24 dev eth0', 'address del 192.0.2.101 peer 192.0.2.201 dev eth0', 'address del 192.0.2.102/24 dev eth0',
    ]);
    expect(() => addrDelLine(vips[0]!, 'eth0 ; reboot')).toThrow(/cannot be written/);
  });
});
