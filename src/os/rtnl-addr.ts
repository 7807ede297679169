/**
 * Addresses in rtnetlink (rtnetlink(7) RTM_NEWADDR/RTM_DELADDR, struct ifaddrmsg): the request
 * keepalived 2.2.7 sends for a virtual_ipaddress line with all its options (vrrp_ipaddress.c
 * netlink_ipaddress), the parse of dumps and events, the identity shared by both, and the
 * `ip -batch` line the crash guardian deletes an address with. Pure.
 */
import { formatIP, parseIP, type Family } from '../protocol/addr.js';
import type { VipConfig, VipFlag } from '../config/model-net.js';
import { AF_INET, AF_INET6 } from './linux.js';
import {
  attrString, cstr, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, nlmsg, parseAttrs, rtattr, RT_SCOPE_UNIVERSE, RTM_DELADDR, RTM_NEWADDR, u32,
  type NlMessage,
} from './rtnl-msg.js';

const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_LABEL = 3;
const IFA_BROADCAST = 4;
const IFA_CACHEINFO = 6;
const IFA_FLAGS = 8;
export const IFA_F_SECONDARY = 0x01;
export const IFA_F_NODAD = 0x02;
export const IFA_F_HOMEADDRESS = 0x10;
export const IFA_F_DEPRECATED = 0x20;
export const IFA_F_PERMANENT = 0x80;
export const IFA_F_MANAGETEMPADDR = 0x100;
export const IFA_F_NOPREFIXROUTE = 0x200;
export const IFA_F_MCAUTOJOIN = 0x400;
/** INFINITY_LIFE_TIME: a lifetime that never ends. */
const FOREVER = 0xffffffff;
/** The IFA_F_* flag each address option of keepalived.conf sets (`-nodad` clears one: see vipAddrSpec). */
const VIP_FLAGS: Record<Exclude<VipFlag, '-nodad'>, number> = {
  home: IFA_F_HOMEADDRESS, mngtmpaddr: IFA_F_MANAGETEMPADDR, noprefixroute: IFA_F_NOPREFIXROUTE, autojoin: IFA_F_MCAUTOJOIN,
};

/** An address as the kernel is asked to hold it. */
export interface AddrSpec {
  family: Family;
  address: Uint8Array;
  prefixLen: number;
  ifindex: number;
  /** IFA_LABEL (IPv4 only; the kernel keeps none for IPv6). */
  label?: string;
  /** RT_SCOPE_*; global by default (the kernel computes the scope of IPv6 addresses itself). */
  scope?: number;
  /** IFA_F_* flags sent in IFA_FLAGS, besides `nodad` and `noprefixroute`. */
  flags?: number;
  nodad?: boolean;
  noprefixroute?: boolean;
  /** IFA_ADDRESS when it differs from the local address: the other end of a point-to-point address. */
  peer?: Uint8Array;
  /** IFA_BROADCAST (IPv4). */
  broadcast?: Uint8Array;
  /** Preferred lifetime in seconds, sent in IFA_CACHEINFO with a valid lifetime of forever; absent: forever (nothing sent). */
  preferredLft?: number;
}

function ifaddrmsg(family: Family, prefixLen: number, scope: number, ifindex: number): Buffer {
  const b = Buffer.alloc(8);
  b[0] = family === 4 ? AF_INET : AF_INET6;
  b[1] = prefixLen;
  b[3] = scope; // b[2], ifa_flags: 0, the flags go in IFA_FLAGS (32 bits) as keepalived sends them
  b.writeUInt32LE(ifindex, 4);
  return b;
}

/**
 * RTM_NEWADDR (NLM_F_CREATE | NLM_F_EXCL: EEXIST when it is there) or RTM_DELADDR, with an
 * ack, laid out as keepalived 2.2.7's netlink_ipaddress: on add IFA_CACHEINFO (IPv6 with a
 * preferred lifetime), IFA_LOCAL, IFA_BROADCAST (IPv4), IFA_FLAGS (when any), IFA_LABEL
 * (IPv4), IFA_ADDRESS (the peer); on delete IFA_LOCAL and, for IPv4 or a peer, IFA_ADDRESS
 * (the peer when there is one: the kernel matches it against the address's peer, where
 * keepalived sends the local address and cannot delete a peer address).
 */
export function addrRequest(op: 'add' | 'del', a: AddrSpec, seq: number): Buffer {
  const scope = a.scope ?? RT_SCOPE_UNIVERSE;
  if (op === 'del') {
    const attrs = [rtattr(IFA_LOCAL, a.address)];
    if (a.peer || a.family === 4) attrs.push(rtattr(IFA_ADDRESS, a.peer ?? a.address));
    return nlmsg(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK, seq, [ifaddrmsg(a.family, a.prefixLen, scope, a.ifindex), ...attrs]);
  }
  const flags = ((a.flags ?? 0) | (a.nodad ? IFA_F_NODAD : 0) | (a.noprefixroute ? IFA_F_NOPREFIXROUTE : 0)) >>> 0;
  const attrs: Buffer[] = [];
  if (a.family === 6 && a.preferredLft !== undefined && a.preferredLft !== FOREVER) {
    const ci = Buffer.alloc(16); // struct ifa_cacheinfo { prefered, valid, cstamp, tstamp }
    ci.writeUInt32LE(a.preferredLft >>> 0, 0);
    ci.writeUInt32LE(FOREVER, 4);
    attrs.push(rtattr(IFA_CACHEINFO, ci));
  }
  attrs.push(rtattr(IFA_LOCAL, a.address));
  if (a.family === 4 && a.broadcast) attrs.push(rtattr(IFA_BROADCAST, a.broadcast));
  if (flags) attrs.push(rtattr(IFA_FLAGS, u32(flags)));
  if (a.label && a.family === 4) attrs.push(rtattr(IFA_LABEL, cstr(a.label)));
  if (a.peer) attrs.push(rtattr(IFA_ADDRESS, a.peer));
  return nlmsg(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq, [ifaddrmsg(a.family, a.prefixLen, scope, a.ifindex), ...attrs]);
}

/** The bytes of an address of the model; throws `what 'text' is not an IP address`. */
export function ipBytes(text: string, what: string): Uint8Array {
  const p = parseIP(text);
  if (!p) throw new Error(`${what} '${text}' is not an IP address`);
  return p.bytes;
}
const bytesOf = ipBytes;

/** `ADDR[/LEN]` of the model (no /LEN: a host); throws `what 'text' is not a prefix`. */
export function prefixBytes(text: string, what: string): { family: Family; bytes: Uint8Array; len: number } {
  const [a, l] = text.split('/');
  const p = parseIP(a ?? '');
  const len = l === undefined ? (p?.family === 4 ? 32 : 128) : Number(l);
  if (!p || !Number.isInteger(len) || len < 0 || len > p.bytes.length * 8) throw new Error(`${what} '${text}' is not a prefix`);
  return { family: p.family, bytes: p.bytes, len };
}

/** `ADDR/LEN` with the host bits cleared (what the kernel keeps of a route's prefix). */
export function maskedPrefix(family: Family, b: Uint8Array, len: number): string {
  const out = Uint8Array.from(b);
  for (let bit = len; bit < out.length * 8; bit++) out[bit >> 3] = out[bit >> 3]! & ~(1 << (7 - (bit & 7)));
  return `${formatIP(family, out)}/${len}`;
}

/**
 * The AddrSpec of one virtual_ipaddress / _excluded / static_ipaddress line on interface
 * `ifindex`, with keepalived 2.2.7's semantics: `brd`, `scope`, `label`, `peer` as written;
 * `home`, `mngtmpaddr`, `noprefixroute`, `autojoin` set the IFA_F_* flag of that name; every
 * IPv6 address gets IFA_F_NODAD unless `-nodad`; an IPv6 preferred_lft (the model's default:
 * 0 for a /128, so never a source address) goes in IFA_CACHEINFO, valid forever. Throws when
 * an address of the model does not parse (the model is validated: a bug).
 */
export function vipAddrSpec(v: VipConfig, ifindex: number): AddrSpec {
  let flags = 0;
  for (const f of v.flags) if (f !== '-nodad') flags |= VIP_FLAGS[f];
  const s: AddrSpec = { family: v.family, address: bytesOf(v.address, 'address'), prefixLen: v.prefixLen, ifindex, scope: v.scope, flags };
  if (v.family === 6 && !v.flags.includes('-nodad')) s.nodad = true;
  if (v.label !== null) s.label = v.label;
  if (v.peer !== null) s.peer = bytesOf(v.peer, `peer of ${v.address}`);
  if (v.broadcast !== null && v.family === 4) s.broadcast = bytesOf(v.broadcast, `brd of ${v.address}`);
  if (v.family === 6 && v.preferredLft !== null) s.preferredLft = v.preferredLft;
  return s;
}

/**
 * The identity of an address: `family|ifindex|address/prefixLen`, `address` in canonical text
 * (the model's, and formatIP's for AddrInfo). The kernel has one address per interface for a
 * given local address and prefix length (IPv6: per local address), so this is what a
 * desired address and one from a dump or an event are matched by; options (label, flags,
 * lifetimes) are not part of it.
 */
export function addrKey(family: Family, ifindex: number, address: string, prefixLen: number): string {
  return `${family}|${ifindex}|${address}/${prefixLen}`;
}

/** Words given to `ip -batch` must be plain: no blank, quote or comment character. */
export function batchWord(w: string, what: string): string {
  if (!/^[0-9A-Za-z.:/_@+-]+$/.test(w)) throw new Error(`${what} '${w}' cannot be written on an ip -batch line`);
  return w;
}

/**
 * An `ip -batch` line (no newline) that deletes the address of `v` from `devName`, for the
 * crash guardian's `ip -force -batch -`: `address del ADDR/LEN dev DEV`, or with a peer
 * `address del ADDR peer PEER dev DEV`. Throws when a word could not be written safely.
 */
export function addrDelLine(v: VipConfig, devName: string): string {
  const dev = batchWord(devName, 'interface name');
  const a = batchWord(v.address, 'address');
  if (v.peer !== null) return `address del ${a} peer ${batchWord(v.peer, 'peer')} dev ${dev}`;
  return `address del ${a}/${v.prefixLen} dev ${dev}`;
}

/** An address from a dump or an event. */
export interface AddrInfo {
  family: Family;
  /** The local address (IFA_LOCAL, else IFA_ADDRESS), canonical text. */
  address: string;
  prefixLen: number;
  ifindex: number;
  scope: number;
  /** IFA_F_* (IFA_FLAGS, else the 8 bits of the header). */
  flags: number;
  secondary: boolean;
  label: string | null;
  /** The peer of a point-to-point address (IFA_ADDRESS when it differs from IFA_LOCAL). */
  peer: string | null;
  broadcast: string | null;
  /** IFA_CACHEINFO lifetimes in seconds as the kernel reports them (time left); null: forever or not reported. */
  preferredLft: number | null;
  validLft: number | null;
}

/** An RTM_NEWADDR / RTM_DELADDR of IPv4 or IPv6, or null (another type or family, or malformed). */
export function parseAddr(m: NlMessage): AddrInfo | null {
  if ((m.type !== RTM_NEWADDR && m.type !== RTM_DELADDR) || m.body.length < 8) return null;
  const fam = m.body[0];
  const family: Family | null = fam === AF_INET ? 4 : fam === AF_INET6 ? 6 : null;
  if (!family) return null;
  const len = family === 4 ? 4 : 16;
  const a = parseAttrs(m.body, 8);
  const local = a.get(IFA_LOCAL);
  const address = a.get(IFA_ADDRESS);
  const raw = local ?? address;
  if (!raw || raw.length !== len) return null;
  const flags = a.get(IFA_FLAGS)?.readUInt32LE(0) ?? (m.body[2] as number);
  const label = a.get(IFA_LABEL);
  const brd = a.get(IFA_BROADCAST);
  const ci = a.get(IFA_CACHEINFO);
  const life = (off: number): number | null => (ci && ci.length >= 8 && ci.readUInt32LE(off) !== FOREVER ? ci.readUInt32LE(off) : null);
  return {
    family,
    address: formatIP(family, raw),
    prefixLen: m.body[1] as number,
    ifindex: m.body.readUInt32LE(4),
    scope: m.body[3] as number,
    flags,
    secondary: (flags & IFA_F_SECONDARY) !== 0,
    label: label ? attrString(label) : null,
    peer: local && address && address.length === len && !local.equals(address) ? formatIP(family, address) : null,
    broadcast: brd && brd.length === 4 ? formatIP(4, brd) : null,
    preferredLft: life(0),
    validLft: life(4),
  };
}
