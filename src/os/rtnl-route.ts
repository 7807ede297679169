/**
 * Routes in rtnetlink (rtnetlink(7) RTM_NEWROUTE/RTM_DELROUTE, struct rtmsg): the request
 * keepalived 2.2.7 sends for a virtual_routes / static_routes line (vrrp_iproute.c
 * netlink_route), the parse of dumps and events, the identity shared by both, and the
 * `ip -batch` line the crash guardian deletes a route with. Pure.
 */
import { formatIP, parseIP, type Family } from '../protocol/addr.js';
import type { NextHop, RouteModel } from '../config/model-net.js';
import { AF_INET, AF_INET6 } from './linux.js';
import { batchWord, ipBytes, maskedPrefix, prefixBytes } from './rtnl-addr.js';
import {
  NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, nlmsg, parseAttrs, rtattr, RT_SCOPE_NOWHERE, RT_SCOPE_UNIVERSE,
  RTM_DELROUTE, RTM_NEWROUTE, u32, type NlMessage,
} from './rtnl-msg.js';

/** RTPROT_KEEPALIVED: the protocol keepalived marks its routes and rules with. */
export const RTPROT_KEEPALIVED = 18;
const [RTA_DST, RTA_SRC, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_PREFSRC, RTA_METRICS, RTA_MULTIPATH, RTA_FLOW, RTA_TABLE] = [1, 2, 4, 5, 6, 7, 8, 9, 11, 15];
const [RTA_VIA, RTA_PREF, RTA_ENCAP_TYPE, RTA_ENCAP, RTA_EXPIRES, RTA_TTL_PROPAGATE] = [18, 20, 21, 22, 23, 26];
const RTNH_F_ONLINK = 4;
const RTM_F_CLONED = 0x200;
/** IPv6 routes added without a metric get IP6_RT_PRIO_USER. */
const IP6_DEFAULT_METRIC = 1024;
/** RTN_* by name (index = number). */
const RTN = ['unspec', 'unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole', 'unreachable', 'prohibit', 'throw', 'nat', 'xresolve'];
/** Types whose routes have no device (the kernel refuses one for IPv4, puts `lo` for IPv6). */
const NO_DEV = new Set(['blackhole', 'unreachable', 'prohibit', 'throw']);
/** RTAX_* in the order keepalived 2.2.7 puts them in RTA_METRICS (congctl is RTAX_CC_ALGO = 16, features 12). */
const RTAX: ReadonlyArray<[string, number]> = [
  ['rtt', 4], ['rttvar', 5], ['rto_min', 13], ['mtu', 2], ['window', 3], ['ssthresh', 6], ['cwnd', 7], ['advmss', 8], ['reordering', 9], ['hoplimit', 10],
  ['initcwnd', 11], ['initrwnd', 14], ['quickack', 15], ['fastopen_no_cookie', 17],
];
const [RTAX_LOCK, RTAX_FEATURES, RTAX_CC_ALGO, RTAX_FEATURE_ECN] = [1, 12, 16, 1];
/** `pref` words (ICMPV6_ROUTER_PREF_*). */
const PREF: Record<string, number> = { low: 3, medium: 0, high: 1 };

/** Interface name → index (throws for an unknown name). */
export type IfindexOf = (name: string) => number;

/** The RTN_* number of a model's type (name or number as text). */
function typeNumber(t: string): number {
  const i = RTN.indexOf(t);
  const n = i >= 0 ? i : Number(t);
  if (!Number.isInteger(n) || n < 0 || n > 255) throw new Error(`route type '${t}' is not an RTN_* type`);
  return n;
}
const typeName = (n: number): string => RTN[n] ?? String(n);

const u8 = (n: number): Buffer => Buffer.of(n & 0xff);

/** struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags. */
function rtmsg(family: Family, dstLen: number, srcLen: number, tos: number, table: number, protocol: number, scope: number, type: number, flags: number): Buffer {
  const b = Buffer.from([family === 4 ? AF_INET : AF_INET6, dstLen, srcLen, tos, table, protocol, scope, type, 0, 0, 0, 0]);
  b.writeUInt32LE(flags >>> 0, 8);
  return b;
}

/** The hops of a multipath route; a hop without `dev` takes the route's (see routeRequest). */
function hopsOf(r: RouteModel): NextHop[] {
  return r.nexthops.map((h) => (h.dev === null && r.dev !== null ? { ...h, dev: r.dev } : h));
}

const be64 = (text: string, what: string): Buffer => {
  if (!/^\d+$/.test(text) || BigInt(text) > 0xffffffffffffffffn) throw new Error(`encap ${what} '${text}' is not a 64-bit number`);
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(text), 0);
  return b;
};

/**
 * RTA_ENCAP (nested) and RTA_ENCAP_TYPE for the model's `encap` words, as keepalived 2.2.7's
 * add_encap: `ip`/`ip6` (LWTUNNEL_IP[6]_*: id as a big-endian u64, dst, src, tos|tc and
 * ttl|hoplimit as u8, flags as u16), `mpls L[/L…]` (label stack entries, bottom of stack
 * marked), `ila LOCATOR` (four 16-bit words, network order). A tos/tc must be a number here.
 */
function encapAttrs(words: string, family: Family): Buffer[] {
  const [kind, ...w] = words.split(' ');
  const inner: Buffer[] = [];
  let type: number;
  if (kind === 'ip' || kind === 'ip6') {
    type = kind === 'ip' ? 2 : 4; // LWTUNNEL_ENCAP_IP / _IP6
    const ids: Record<string, number> = { id: 1, dst: 2, src: 3, ttl: 4, hoplimit: 4, tos: 5, tc: 5, flags: 6 };
    const order = ['id', 'dst', 'src', 'tos', 'tc', 'ttl', 'hoplimit', 'flags'];
    const pairs = new Map<string, string>();
    for (let i = 0; i + 1 < w.length; i += 2) pairs.set(w[i]!, w[i + 1]!);
    for (const k of order) {
      const v = pairs.get(k);
      if (v === undefined) continue;
      const t = ids[k]!;
      if (k === 'id') inner.push(rtattr(t, be64(v, k)));
      else if (k === 'dst' || k === 'src') inner.push(rtattr(t, ipBytes(v, `encap ${k}`)));
      else {
        const n = Number(v);
        if (!/^(0x[0-9a-f]+|\d+)$/i.test(v) || n > (k === 'flags' ? 0xffff : 255)) throw new Error(`encap ${k} '${v}' must be a number here`);
        const b = k === 'flags' ? Buffer.alloc(2) : Buffer.alloc(1);
        if (k === 'flags') b.writeUInt16LE(n, 0);
        else b[0] = n;
        inner.push(rtattr(t, b));
      }
    }
  } else if (kind === 'mpls') {
    type = 1;
    const labels = (w[0] ?? '').split('/').map(Number);
    const stack = Buffer.alloc(4 * labels.length);
    labels.forEach((l, i) => stack.writeUInt32BE(((l << 12) | (i === labels.length - 1 ? 0x100 : 0)) >>> 0, 4 * i));
    inner.push(rtattr(1, stack)); // MPLS_IPTUNNEL_DST
  } else if (kind === 'ila') {
    type = 3;
    const loc = Buffer.alloc(8);
    (w[0] ?? '').split(':').forEach((x, i) => loc.writeUInt16BE(parseInt(x, 16), 2 * i));
    inner.push(rtattr(1, loc)); // ILA_ATTR_LOCATOR
  } else throw new Error(`encap '${words}' (IPv${family} route): unknown encapsulation`);
  const t = Buffer.alloc(2);
  t.writeUInt16LE(type, 0);
  return [rtattr(RTA_ENCAP, Buffer.concat(inner)), rtattr(RTA_ENCAP_TYPE, t)];
}

/** struct rtnexthop (len, flags, hops = weight - 1, ifindex) and its attributes. */
function rtnexthop(h: NextHop, family: Family, ifindexOf: IfindexOf): Buffer {
  const attrs: Buffer[] = [];
  if (h.address !== null) attrs.push(rtattr(RTA_GATEWAY, ipBytes(h.address, 'next hop')));
  if (h.realms) attrs.push(rtattr(RTA_FLOW, u32(h.realms)));
  if (h.encap) attrs.push(...encapAttrs(h.encap, family));
  const body = Buffer.concat(attrs);
  const b = Buffer.alloc(8);
  b.writeUInt16LE(8 + body.length, 0);
  b[2] = h.onlink ? RTNH_F_ONLINK : 0;
  b[3] = h.weight === null ? 0 : h.weight - 1;
  b.writeInt32LE(h.dev === null ? 0 : ifindexOf(h.dev), 4);
  return Buffer.concat([b, body]);
}

/** RTA_METRICS: the RTAX_* of the model in keepalived's order, then RTAX_LOCK; null when none. */
function metricsAttr(r: RouteModel): Buffer | null {
  const m: Buffer[] = [];
  const cc = r.options.congctl;
  if (cc !== undefined) m.push(rtattr(RTAX_CC_ALGO, Buffer.from(cc, 'utf8'))); // without NUL, as keepalived and ip send it
  for (const [name, type] of RTAX.slice(0, 3)) if (r.metrics[name] !== undefined) m.push(rtattr(type, u32(r.metrics[name])));
  if (r.options.features === 'ecn') m.push(rtattr(RTAX_FEATURES, u32(RTAX_FEATURE_ECN)));
  for (const [name, type] of RTAX.slice(3)) if (r.metrics[name] !== undefined) m.push(rtattr(type, u32(r.metrics[name])));
  for (const k of Object.keys(r.metrics)) if (!RTAX.some(([n]) => n === k)) throw new Error(`route metric '${k}' has no RTAX_* attribute`);
  if (!m.length) return null;
  let lock = 0;
  for (const k of r.locked) lock |= 1 << (k === 'congctl' ? RTAX_CC_ALGO : (RTAX.find(([n]) => n === k)?.[1] ?? 0));
  if (lock) m.push(rtattr(RTAX_LOCK, u32(lock)));
  return rtattr(RTA_METRICS, Buffer.concat(m));
}

/**
 * RTM_NEWROUTE or RTM_DELROUTE with an ack for one virtual_routes / static_routes line, as
 * keepalived 2.2.7's netlink_route sends it (checked byte for byte against its requests):
 * mode `add` = NLM_F_CREATE|NLM_F_EXCL (EEXIST when the kernel has the same
 * table/dst/tos/metric), `prepend` (keepalived's default) = NLM_F_CREATE, `append` =
 * NLM_F_CREATE|NLM_F_APPEND, as ip-route(8) does — except that keepalived 2.2.7 sends a route
 * with a type other than unicast in `prepend` mode as `add` (a macro clash in its
 * vrrp_iproute.h), and so does this; type, table (above
 * 255 in RTA_TABLE, rtm_table 0), protocol (the model's, else 18: keepalived), scope (global
 * unless given; on delete RT_SCOPE_NOWHERE unless given), tos, onlink; RTA_DST, RTA_SRC
 * (`from`), RTA_PREFSRC (`src`), RTA_GATEWAY (`via`), RTA_ENCAP, RTA_OIF (`dev`),
 * RTA_PRIORITY (`metric`), RTA_FLOW (`realms`), RTA_EXPIRES, RTA_PREF, RTA_TTL_PROPAGATE,
 * RTA_METRICS (RTAX_*, `lock`), RTA_MULTIPATH (`nexthop …`, and `via A or B` as two hops).
 * A delete carries the same attributes (the kernel deletes only the route they all match),
 * the type only where keepalived does (`add` mode, or a non-unicast type in `prepend` mode),
 * and for IPv6 no hops (the kernel then deletes all of a multipath route at once, with one
 * event, where keepalived's hops make it delete them one by one).
 *
 * One difference from keepalived: a multipath route with `dev` gets the device in each hop
 * without one and no RTA_OIF, where keepalived sends RTA_OIF beside hops without a device,
 * which the kernel refuses for IPv4 ("Nexthop device index does not match RTA_OIF").
 * Throws (before anything is sent) for `vrf` (its table is not resolved here), an unknown
 * interface (from `ifindexOf`) or a value that cannot be encoded.
 */
export function routeRequest(op: 'add' | 'del', r: RouteModel, ifindexOf: IfindexOf, seq: number): Buffer {
  if (r.vrf !== null) throw new Error(`route ${r.dst} vrf ${r.vrf}: VRF routes are not supported (their table is the VRF's; give 'table N')`);
  const dst = prefixBytes(r.dst, 'destination');
  const from = r.from === null ? null : prefixBytes(r.from, 'source prefix');
  const type = typeNumber(r.type);
  const attrs: Buffer[] = [];
  if (r.table > 255) attrs.push(rtattr(RTA_TABLE, u32(r.table)));
  attrs.push(rtattr(RTA_DST, dst.bytes));
  if (from) attrs.push(rtattr(RTA_SRC, from.bytes));
  if (r.src !== null) attrs.push(rtattr(RTA_PREFSRC, ipBytes(r.src, 'src')));
  if (r.via !== null) {
    const gw = parseIP(r.via);
    if (!gw) throw new Error(`via '${r.via}' is not an IP address`);
    if (gw.family === r.family) attrs.push(rtattr(RTA_GATEWAY, gw.bytes));
    else attrs.push(rtattr(RTA_VIA, Buffer.concat([Buffer.of(gw.family === 4 ? AF_INET : AF_INET6, 0), gw.bytes])));
  }
  if (r.options.encap) attrs.push(...encapAttrs(r.options.encap, r.family));
  const multipath = r.nexthops.length > 0;
  if (r.dev !== null && !multipath) attrs.push(rtattr(RTA_OIF, u32(ifindexOf(r.dev))));
  if (r.metric !== null) attrs.push(rtattr(RTA_PRIORITY, u32(r.metric)));
  const num = (k: string, max: number): number => {
    const n = Number(r.options[k]);
    if (!Number.isInteger(n) || n < 0 || n > max) throw new Error(`route ${r.dst}: ${k} '${r.options[k]}' is not a number`);
    return n;
  };
  if (r.options.realms !== undefined && num('realms', 0xffffffff)) attrs.push(rtattr(RTA_FLOW, u32(num('realms', 0xffffffff))));
  if (r.options.expires !== undefined) attrs.push(rtattr(RTA_EXPIRES, u32(num('expires', 0xffffffff))));
  const pref = r.options.pref;
  if (pref !== undefined) attrs.push(rtattr(RTA_PREF, u8(PREF[pref] ?? num('pref', 255))));
  const ttl = r.options['ttl-propagate'];
  if (ttl !== undefined) attrs.push(rtattr(RTA_TTL_PROPAGATE, u8(ttl === 'enabled' ? 1 : 0)));
  const metrics = metricsAttr(r);
  if (metrics) attrs.push(metrics);
  // An IPv6 multipath route is deleted whole without its hops (one event, as it was added); with
  // them the kernel deletes hop by hop, each with an event of its own.
  if (multipath && !(op === 'del' && r.family === 6)) attrs.push(rtattr(RTA_MULTIPATH, Buffer.concat(hopsOf(r).map((h) => rtnexthop(h, r.family, ifindexOf)))));
  const protocol = r.protocol ?? RTPROT_KEEPALIVED;
  const table = r.table > 255 ? 0 : r.table;
  const flags = r.onlink ? RTNH_F_ONLINK : 0;
  // keepalived 2.2.7's IPROUTE_BIT_ADD expands to its IPROUTE_BIT_TYPE (IPROUTE_ADD is also a
  // command #define, 1): a type keyword acts as `add` unless `prepend`/`append` clears it.
  const typeBit = r.mode === 'add' || (type !== 1 && r.mode === 'prepend');
  if (op === 'del') {
    const hdr = rtmsg(r.family, dst.len, from?.len ?? 0, r.tos ?? 0, table, protocol, r.scope ?? RT_SCOPE_NOWHERE, typeBit ? type : 0, flags);
    return nlmsg(RTM_DELROUTE, NLM_F_REQUEST | NLM_F_ACK, seq, [hdr, ...attrs]);
  }
  const mode = typeBit ? NLM_F_EXCL : r.mode === 'append' ? NLM_F_APPEND : 0;
  const hdr = rtmsg(r.family, dst.len, from?.len ?? 0, r.tos ?? 0, table, protocol, r.scope ?? RT_SCOPE_UNIVERSE, type, flags);
  return nlmsg(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | mode, seq, [hdr, ...attrs]);
}

/** One hop of a multipath route from a dump or an event. */
export interface RouteHop {
  gateway: string | null;
  ifindex: number;
  /** 1..256 (rtnh_hops + 1). */
  weight: number;
  /** RTNH_F_* */
  flags: number;
}

/** A route from a dump or an event. */
export interface RouteInfo {
  family: Family;
  /** RTA_TABLE, else rtm_table. */
  table: number;
  /** RTN_* name (`unicast`, `blackhole` …) or the number as text. */
  type: string;
  /** Destination `ADDR/LEN` (`0.0.0.0/0`, `::/0` for a default route). */
  dst: string;
  /** RTA_SRC `ADDR/LEN` (an IPv6 source-specific route's `from`); null when rtm_src_len is 0. */
  from: string | null;
  /** RTA_PREFSRC (`src`). */
  prefsrc: string | null;
  /** RTA_GATEWAY (or RTA_VIA) of a single-path route. */
  gateway: string | null;
  /** RTA_OIF of a single-path route; 0: none. */
  oif: number;
  /** RTA_PRIORITY; 0 when absent. */
  metric: number;
  tos: number;
  scope: number;
  protocol: number;
  /** rtm_flags (RTNH_F_ONLINK, RTNH_F_LINKDOWN …). */
  flags: number;
  /** RTA_MULTIPATH hops; empty for a single-path route. */
  nexthops: RouteHop[];
}

function gatewayOf(a: Map<number, Buffer>, family: Family): string | null {
  const gw = a.get(RTA_GATEWAY);
  if (gw && gw.length === (family === 4 ? 4 : 16)) return formatIP(family, gw);
  const via = a.get(RTA_VIA); // struct rtvia { u16 family; u8 addr[] }
  if (via && via.length >= 6) {
    const f = via.readUInt16LE(0);
    if (f === AF_INET && via.length >= 6) return formatIP(4, via.subarray(2, 6));
    if (f === AF_INET6 && via.length >= 18) return formatIP(6, via.subarray(2, 18));
  }
  return null;
}

/**
 * An RTM_NEWROUTE / RTM_DELROUTE of IPv4 or IPv6, or null: another message type, another
 * family (MPLS, multicast routing), a cloned (cache) route, or a malformed message.
 */
export function parseRouteMsg(m: NlMessage): RouteInfo | null {
  if ((m.type !== RTM_NEWROUTE && m.type !== RTM_DELROUTE) || m.body.length < 12) return null;
  const b = m.body;
  const family: Family | null = b[0] === AF_INET ? 4 : b[0] === AF_INET6 ? 6 : null;
  if (!family) return null;
  const flags = b.readUInt32LE(8);
  if (flags & RTM_F_CLONED) return null;
  const alen = family === 4 ? 4 : 16;
  const a = parseAttrs(b, 12);
  const pfx = (type: number, len: number): string | null => {
    const v = a.get(type);
    if (len > alen * 8) return null;
    return maskedPrefix(family, v && v.length === alen ? v : new Uint8Array(alen), len);
  };
  const dst = pfx(RTA_DST, b[1] as number);
  if (dst === null) return null;
  const nexthops: RouteHop[] = [];
  const mp = a.get(RTA_MULTIPATH);
  for (let off = 0; mp && off + 8 <= mp.length; ) {
    const len = mp.readUInt16LE(off);
    if (len < 8 || off + len > mp.length) return null;
    const ha = parseAttrs(mp.subarray(off, off + len), 8);
    nexthops.push({ gateway: gatewayOf(ha, family), ifindex: mp.readInt32LE(off + 4), weight: (mp[off + 3] as number) + 1, flags: mp[off + 2] as number });
    off += (len + 3) & ~3;
  }
  const prefsrc = a.get(RTA_PREFSRC);
  const table = a.get(RTA_TABLE);
  return {
    family,
    table: table && table.length >= 4 ? table.readUInt32LE(0) : (b[4] as number),
    type: typeName(b[7] as number),
    dst,
    from: (b[2] as number) > 0 ? pfx(RTA_SRC, b[2] as number) : null,
    prefsrc: prefsrc && prefsrc.length === alen ? formatIP(family, prefsrc) : null,
    gateway: gatewayOf(a, family),
    oif: a.get(RTA_OIF)?.readUInt32LE(0) ?? 0,
    metric: a.get(RTA_PRIORITY)?.readUInt32LE(0) ?? 0,
    tos: b[3] as number,
    scope: b[6] as number,
    protocol: b[5] as number,
    flags,
    nexthops,
  };
}

interface KeyHop {
  gateway: string | null;
  ifindex: number;
  weight: number;
}

/**
 * The identity both keys are made of. The kernel's identity of a route is its family, table,
 * destination, tos and metric (IPv6: also the source prefix); vipd adds the type, the
 * preferred source and the path, so that a route whose gateway, device or src was changed by
 * hand does not count as the one the model describes. The path: the gateway(s), and the device
 * only for a hop without a gateway (the kernel fills in the device it resolved a gateway to,
 * which the model may not name) and never for blackhole/unreachable/prohibit/throw. Hops of a
 * multipath route are sorted (with their weights); a single hop is a single-path route, as the
 * kernel reports it. The protocol too (the model's, else keepalived's 18, as sent): an
 * operator's `proto static` route to the same place is not vipd's, and vipd's delete (which
 * names the protocol) would not match it anyway. Not part of it: scope, flags (onlink),
 * metrics, realms — `ip` adds the same line with other values of some of them.
 */
function key(family: Family, table: number, type: string, dst: string, from: string | null, tos: number, metric: number, prefsrc: string | null, hops: KeyHop[], protocol: number): string {
  const noDev = NO_DEV.has(type);
  const hop = (h: KeyHop, multi: boolean): string =>
    [h.gateway !== null ? `via ${h.gateway}` : noDev ? '' : `dev ${h.ifindex}`, multi ? `weight ${h.weight}` : ''].filter(Boolean).join(' ');
  const path = hops.length > 1 ? hops.map((h) => `nexthop ${hop(h, true)}`).sort().join(' ') : hops[0] ? hop(hops[0], false) : '';
  const m = family === 6 && metric === 0 ? IP6_DEFAULT_METRIC : metric;
  return [`${family}`, `table ${table}`, type, dst, from ? `from ${from}` : '', `tos ${tos}`, `metric ${m}`, path, prefsrc ? `src ${prefsrc}` : '', `proto ${protocol}`]
    .filter(Boolean).join(' ');
}

/** The identity of a route from a dump or an event (see modelRouteKey: equal when it is the model's route). */
export function routeKey(r: RouteInfo): string {
  const hops = r.nexthops.length ? r.nexthops : [{ gateway: r.gateway, ifindex: r.oif, weight: 1 }];
  return key(r.family, r.table, r.type, r.dst, r.from, r.tos, r.metric, r.prefsrc, hops, r.protocol);
}

/**
 * The identity of the route a model line describes: the same string as routeKey gives for the
 * route the kernel holds after routeRequest('add') of it, or after `ip route add` of the same
 * line. Throws as routeRequest does (vrf, unknown interface).
 */
export function modelRouteKey(r: RouteModel, ifindexOf: IfindexOf): string {
  if (r.vrf !== null) throw new Error(`route ${r.dst} vrf ${r.vrf}: VRF routes are not supported (their table is the VRF's; give 'table N')`);
  const d = prefixBytes(r.dst, 'destination');
  const f = r.from === null ? null : prefixBytes(r.from, 'source prefix');
  const idx = (dev: string | null, gw: string | null): number => (dev === null || gw !== null ? 0 : ifindexOf(dev));
  const hops: KeyHop[] = r.nexthops.length
    ? hopsOf(r).map((h) => ({ gateway: h.address, ifindex: idx(h.dev, h.address), weight: h.weight ?? 1 }))
    : [{ gateway: r.via, ifindex: NO_DEV.has(typeName(typeNumber(r.type))) ? 0 : idx(r.dev, r.via), weight: 1 }];
  return key(r.family, r.table, typeName(typeNumber(r.type)), maskedPrefix(d.family, d.bytes, d.len), f && f.len > 0 ? maskedPrefix(f.family, f.bytes, f.len) : null, r.tos ?? 0, r.metric ?? 0, r.src, hops, r.protocol ?? RTPROT_KEEPALIVED);
}

/**
 * An `ip -batch` line (no newline) deleting the route of `r`, for the crash guardian's
 * `ip -force -batch -`: `route del [TYPE] DST [from P] [tos T] table N [metric M] proto P
 * [src A] [via G] [dev D] [nexthop via G [dev D]]…`: the protocol, gateway and device keep it
 * from deleting someone else's route to the same destination (an IPv6 multipath route goes
 * whole without its hops). Throws when a word could not be written safely, or for `vrf`.
 */
export function routeDelLine(r: RouteModel): string {
  if (r.vrf !== null) throw new Error(`route ${r.dst} vrf ${r.vrf}: VRF routes are not supported`);
  const w: string[] = ['route', 'del'];
  const type = typeName(typeNumber(r.type));
  if (type !== 'unicast') w.push(type);
  w.push(batchWord(r.dst, 'destination'));
  if (r.from !== null) w.push('from', batchWord(r.from, 'source prefix'));
  if (r.tos !== null) w.push('tos', `0x${r.tos.toString(16)}`); // ip reads a DS field number as hex
  w.push('table', String(r.table));
  if (r.metric !== null) w.push('metric', String(r.metric));
  w.push('proto', String(r.protocol ?? RTPROT_KEEPALIVED));
  if (r.src !== null) w.push('src', batchWord(r.src, 'src'));
  if (r.via !== null) w.push('via', batchWord(r.via, 'gateway'));
  if (r.dev !== null && !r.nexthops.length) w.push('dev', batchWord(r.dev, 'interface name'));
  for (const h of r.family === 6 ? [] : hopsOf(r)) {
    w.push('nexthop');
    if (h.address !== null) w.push('via', batchWord(h.address, 'gateway'));
    if (h.dev !== null) w.push('dev', batchWord(h.dev, 'interface name'));
    if (h.weight !== null) w.push('weight', String(h.weight));
  }
  return w.join(' ');
}
