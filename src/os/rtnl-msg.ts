/**
 * rtnetlink message layouts (rtnetlink(7), netlink(7)): the netlink header and attributes,
 * dump requests, and links. Addresses, routes and rules have files of their own
 * (rtnl-addr.ts, rtnl-route.ts, rtnl-rule.ts). Pure; host byte order is little-endian
 * (x86_64/aarch64).
 */
import { formatMac } from '../protocol/addr.js';

export type { AddrInfo, AddrSpec } from './rtnl-addr.js';

export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;
export const RTM_NEWRULE = 32;
export const RTM_DELRULE = 33;
export const RTM_GETRULE = 34;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_APPEND = 0x800;
/** Multicast groups as the bind(2) bitmask: bit (RTNLGRP_x - 1). */
export const RTMGRP_LINK = 0x1;
export const RTMGRP_IPV4_IFADDR = 0x10;
export const RTMGRP_IPV4_ROUTE = 0x40;
export const RTMGRP_IPV4_RULE = 0x80;
export const RTMGRP_IPV6_IFADDR = 0x100;
export const RTMGRP_IPV6_ROUTE = 0x400;
/** RTNLGRP_IPV6_RULE = 19: no RTMGRP_ name in the kernel headers, but within the 32 bits of bind. */
export const RTMGRP_IPV6_RULE = 1 << (19 - 1);
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_SITE = 200;
export const RT_SCOPE_LINK = 253;
export const RT_SCOPE_HOST = 254;
export const RT_SCOPE_NOWHERE = 255;
const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_LINK = 5;
const IFLA_OPERSTATE = 16;
const IFLA_LINKINFO = 18;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const IFLA_MACVLAN_MODE = 1;
export const MACVLAN_MODE_BRIDGE = 4;
export const IFF_UP = 0x1;
export const IFF_LOWER_UP = 0x10000;
const OPERSTATES = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'];

const align4 = (n: number): number => (n + 3) & ~3;

/** One attribute (struct rtattr / nlattr): length, type, data, padded to 4 bytes. */
export function rtattr(type: number, data: Uint8Array): Buffer {
  const b = Buffer.alloc(align4(4 + data.length));
  b.writeUInt16LE(4 + data.length, 0);
  b.writeUInt16LE(type, 2);
  b.set(data, 4);
  return b;
}
/** A u32 in host byte order (attribute payload). */
export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
}
/** A NUL-terminated string (attribute payload). */
export const cstr = (s: string): Buffer => Buffer.from(`${s}\0`, 'utf8');
/** An attribute's payload as a string without its NUL. */
export const attrString = (b: Buffer): string => b.toString('utf8').replace(/\0.*$/s, '');

/** A netlink message: struct nlmsghdr (16 bytes, pid 0) and the body parts. */
export function nlmsg(type: number, flags: number, seq: number, body: Uint8Array[]): Buffer {
  const payload = Buffer.concat(body);
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + payload.length, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt16LE(flags, 6);
  h.writeUInt32LE(seq, 8);
  return Buffer.concat([h, payload]);
}

function ifinfomsg(index = 0, flags = 0, change = 0): Buffer {
  const b = Buffer.alloc(16);
  b.writeInt32LE(index, 4);
  b.writeUInt32LE(flags, 8);
  b.writeUInt32LE(change, 12);
  return b;
}

/**
 * A dump of every link, or of every address, route (all tables) or rule of both families
 * (family AF_UNSPEC: the kernel answers for each family it has, MPLS and multicast routing
 * included, which the parsers skip).
 */
export function dumpRequest(kind: 'link' | 'addr' | 'route' | 'rule', seq: number): Buffer {
  const [type, body] = {
    link: [RTM_GETLINK, ifinfomsg()] as const,
    addr: [RTM_GETADDR, Buffer.alloc(8)] as const, // struct ifaddrmsg
    route: [RTM_GETROUTE, Buffer.alloc(12)] as const, // struct rtmsg
    rule: [RTM_GETRULE, Buffer.alloc(12)] as const, // struct fib_rule_hdr
  }[kind];
  return nlmsg(type, NLM_F_REQUEST | NLM_F_DUMP, seq, [body]);
}

/** RTM_NEWLINK creating a macvlan on `parent` with the given MAC, in `mode` (MACVLAN_MODE_*, bridge by default). */
export function macvlanRequest(name: string, parent: number, mac: Uint8Array, seq: number, mode = MACVLAN_MODE_BRIDGE): Buffer {
  const data = rtattr(IFLA_INFO_DATA, rtattr(IFLA_MACVLAN_MODE, u32(mode)));
  const linkinfo = rtattr(IFLA_LINKINFO, Buffer.concat([rtattr(IFLA_INFO_KIND, cstr('macvlan')), data]));
  return nlmsg(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq, [
    ifinfomsg(), rtattr(IFLA_IFNAME, cstr(name)), rtattr(IFLA_LINK, u32(parent)), rtattr(IFLA_ADDRESS, mac), linkinfo,
  ]);
}

export function delLinkRequest(ifindex: number, seq: number): Buffer {
  return nlmsg(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, seq, [ifinfomsg(ifindex)]);
}

/** Set a link up or down (RTM_NEWLINK with IFF_UP in change). */
export function setLinkRequest(ifindex: number, up: boolean, seq: number): Buffer {
  return nlmsg(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq, [ifinfomsg(ifindex, up ? IFF_UP : 0, IFF_UP)]);
}

export interface NlMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  body: Buffer;
}

/** Split a datagram into netlink messages; stops at the first malformed header. */
export function splitMessages(b: Buffer): NlMessage[] {
  const out: NlMessage[] = [];
  let off = 0;
  while (off + 16 <= b.length) {
    const len = b.readUInt32LE(off);
    if (len < 16 || off + len > b.length) break;
    out.push({ type: b.readUInt16LE(off + 4), flags: b.readUInt16LE(off + 6), seq: b.readUInt32LE(off + 8), pid: b.readUInt32LE(off + 12), body: b.subarray(off + 16, off + len) });
    off += align4(len);
  }
  return out;
}

/** The attributes from `start` on, by type (NLA_F_NESTED / NLA_F_NET_BYTEORDER bits cleared; the last of a type wins). */
export function parseAttrs(b: Buffer, start: number): Map<number, Buffer> {
  const m = new Map<number, Buffer>();
  let off = start;
  while (off + 4 <= b.length) {
    const len = b.readUInt16LE(off);
    if (len < 4 || off + len > b.length) break;
    m.set(b.readUInt16LE(off + 2) & 0x3fff, b.subarray(off + 4, off + len));
    off += align4(len);
  }
  return m;
}

/** The negative errno of an NLMSG_ERROR (0 = ack). */
export function errorCode(m: NlMessage): number {
  return m.body.length >= 4 ? m.body.readInt32LE(0) : -22;
}

export interface LinkInfo {
  index: number;
  name: string;
  mac: string | null;
  flags: number;
  up: boolean;
  lowerUp: boolean;
  mtu: number;
  operState: string;
  kind: string | null;
}

export function parseLink(m: NlMessage): LinkInfo | null {
  if ((m.type !== RTM_NEWLINK && m.type !== RTM_DELLINK) || m.body.length < 16) return null;
  const a = parseAttrs(m.body, 16);
  const flags = m.body.readUInt32LE(8);
  const name = a.get(IFLA_IFNAME);
  const mac = a.get(IFLA_ADDRESS);
  const info = a.get(IFLA_LINKINFO);
  const kind = info ? parseAttrs(info, 0).get(IFLA_INFO_KIND) : undefined;
  return {
    index: m.body.readInt32LE(4),
    name: name ? attrString(name) : '',
    mac: mac && mac.length === 6 ? formatMac(mac) : null,
    flags,
    up: (flags & IFF_UP) !== 0,
    lowerUp: (flags & IFF_LOWER_UP) !== 0,
    mtu: a.get(IFLA_MTU)?.readUInt32LE(0) ?? 0,
    operState: OPERSTATES[a.get(IFLA_OPERSTATE)?.[0] ?? 0] ?? 'unknown',
    kind: kind ? attrString(kind) : null,
  };
}
