/**
 * rtnetlink message layouts (rtnetlink(7), netlink(7)): build requests and parse replies
 * and events for links and addresses. Pure; host byte order is little-endian (x86_64/aarch64).
 */
import { formatIP, formatMac, type Family } from '../protocol/addr.js';
import { AF_INET, AF_INET6 } from './linux.js';

export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const RTMGRP_LINK = 0x1;
export const RTMGRP_IPV4_IFADDR = 0x10;
export const RTMGRP_IPV6_IFADDR = 0x100;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_LABEL = 3;
const IFA_FLAGS = 8;
export const IFA_F_SECONDARY = 0x01;
export const IFA_F_NODAD = 0x02;
export const IFA_F_PERMANENT = 0x80;
export const IFA_F_NOPREFIXROUTE = 0x200;
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;
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

export function rtattr(type: number, data: Uint8Array): Buffer {
  const b = Buffer.alloc(align4(4 + data.length));
  b.writeUInt16LE(4 + data.length, 0);
  b.writeUInt16LE(type, 2);
  b.set(data, 4);
  return b;
}
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
};
const cstr = (s: string): Buffer => Buffer.from(`${s}\0`, 'utf8');

export function nlmsg(type: number, flags: number, seq: number, body: Uint8Array[]): Buffer {
  const payload = Buffer.concat(body);
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + payload.length, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt16LE(flags, 6);
  h.writeUInt32LE(seq, 8);
  return Buffer.concat([h, payload]);
}

function ifaddrmsg(family: Family, prefixLen: number, flags: number, scope: number, ifindex: number): Buffer {
  const b = Buffer.alloc(8);
  b[0] = family === 4 ? AF_INET : AF_INET6;
  b[1] = prefixLen;
  b[2] = flags & 0xff;
  b[3] = scope;
  b.writeUInt32LE(ifindex, 4);
  return b;
}

function ifinfomsg(index = 0, flags = 0, change = 0): Buffer {
  const b = Buffer.alloc(16);
  b.writeInt32LE(index, 4);
  b.writeUInt32LE(flags, 8);
  b.writeUInt32LE(change, 12);
  return b;
}

export interface AddrSpec {
  family: Family;
  address: Uint8Array;
  prefixLen: number;
  ifindex: number;
  label?: string;
  scope?: number;
  nodad?: boolean;
  noprefixroute?: boolean;
}

/** RTM_NEWADDR (create, fail if it exists) or RTM_DELADDR, with an ack. */
export function addrRequest(op: 'add' | 'del', a: AddrSpec, seq: number): Buffer {
  const flags = (a.nodad ? IFA_F_NODAD : 0) | (a.noprefixroute ? IFA_F_NOPREFIXROUTE : 0);
  const attrs = [rtattr(IFA_LOCAL, a.address), rtattr(IFA_ADDRESS, a.address), rtattr(IFA_FLAGS, u32(flags))];
  if (a.label && a.family === 4) attrs.push(rtattr(IFA_LABEL, cstr(a.label)));
  const scope = a.scope ?? RT_SCOPE_UNIVERSE;
  return op === 'add'
    ? nlmsg(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq, [ifaddrmsg(a.family, a.prefixLen, flags, scope, a.ifindex), ...attrs])
    : nlmsg(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK, seq, [ifaddrmsg(a.family, a.prefixLen, 0, scope, a.ifindex), ...attrs.slice(0, 2)]);
}

export function dumpRequest(kind: 'link' | 'addr', seq: number): Buffer {
  return kind === 'link'
    ? nlmsg(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq, [ifinfomsg()])
    : nlmsg(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, seq, [Buffer.alloc(8)]);
}

/** RTM_NEWLINK creating a macvlan (bridge mode) on `parent` with the given MAC. */
export function macvlanRequest(name: string, parent: number, mac: Uint8Array, seq: number): Buffer {
  const data = rtattr(IFLA_INFO_DATA, rtattr(IFLA_MACVLAN_MODE, u32(MACVLAN_MODE_BRIDGE)));
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
    name: name ? name.toString('utf8').replace(/\0.*$/, '') : '',
    mac: mac && mac.length === 6 ? formatMac(mac) : null,
    flags,
    up: (flags & IFF_UP) !== 0,
    lowerUp: (flags & IFF_LOWER_UP) !== 0,
    mtu: a.get(IFLA_MTU)?.readUInt32LE(0) ?? 0,
    operState: OPERSTATES[a.get(IFLA_OPERSTATE)?.[0] ?? 0] ?? 'unknown',
    kind: kind ? kind.toString('utf8').replace(/\0.*$/, '') : null,
  };
}

export interface AddrInfo {
  family: Family;
  address: string;
  prefixLen: number;
  ifindex: number;
  scope: number;
  flags: number;
  secondary: boolean;
  label: string | null;
}

export function parseAddr(m: NlMessage): AddrInfo | null {
  if ((m.type !== RTM_NEWADDR && m.type !== RTM_DELADDR) || m.body.length < 8) return null;
  const fam = m.body[0];
  const family: Family | null = fam === AF_INET ? 4 : fam === AF_INET6 ? 6 : null;
  if (!family) return null;
  const a = parseAttrs(m.body, 8);
  const raw = a.get(IFA_LOCAL) ?? a.get(IFA_ADDRESS);
  if (!raw || raw.length !== (family === 4 ? 4 : 16)) return null;
  const flags = a.get(IFA_FLAGS)?.readUInt32LE(0) ?? (m.body[2] as number);
  const label = a.get(IFA_LABEL);
  return {
    family,
    address: formatIP(family, raw),
    prefixLen: m.body[1] as number,
    ifindex: m.body.readUInt32LE(4),
    scope: m.body[3] as number,
    flags,
    secondary: (flags & IFA_F_SECONDARY) !== 0,
    label: label ? label.toString('utf8').replace(/\0.*$/, '') : null,
  };
}
