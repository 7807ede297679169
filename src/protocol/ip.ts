/** Ethernet II, IPv4 (RFC 791) and IPv6 (RFC 8200) headers: parse and build. Pure. */
import { internetChecksum } from './checksum.js';

export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_IPV6 = 0x86dd;
export const ETH_HLEN = 14;

export function buildEthernet(dst: Uint8Array, src: Uint8Array, ethertype: number, payload: Uint8Array): Buffer {
  // allocUnsafe + fill: a slice of Node's pool, not an ArrayBuffer per frame (a takeover of 1000
  // instances keeps their frames for the second burst)
  const f = Buffer.allocUnsafe(ETH_HLEN + payload.length).fill(0);
  f.set(dst, 0);
  f.set(src, 6);
  f.writeUInt16BE(ethertype, 12);
  f.set(payload, ETH_HLEN);
  return f;
}

/** Multicast MAC for an IPv4 group (RFC 1112 6.4) or an IPv6 group (RFC 2464 7). */
export function multicastMac(group: Uint8Array): Uint8Array {
  if (group.length === 4) return Uint8Array.of(0x01, 0x00, 0x5e, (group[1] as number) & 0x7f, group[2] as number, group[3] as number);
  return Uint8Array.of(0x33, 0x33, group[12] as number, group[13] as number, group[14] as number, group[15] as number);
}

export interface IPv4Header {
  ihl: number;
  tos: number;
  totalLength: number;
  id: number;
  df: boolean;
  ttl: number;
  protocol: number;
  src: Uint8Array;
  dst: Uint8Array;
  headerChecksumOk: boolean;
}

export interface IPv6Header {
  trafficClass: number;
  flowLabel: number;
  payloadLength: number;
  /** Upper-layer protocol after skipping known extension headers. */
  protocol: number;
  hopLimit: number;
  src: Uint8Array;
  dst: Uint8Array;
  /** Offset of the upper-layer payload from the start of the IPv6 header. */
  payloadOffset: number;
}

export type ParsedIP =
  | { family: 4; header: IPv4Header; payload: Uint8Array; truncated: boolean }
  | { family: 6; header: IPv6Header; payload: Uint8Array; truncated: boolean };

/**
 * An IPv4 packet (RFC 791) from its first byte: the header, and the payload up to Total Length
 * (Ethernet padding stripped; `truncated`, with the payload up to the end of `b`, when Total
 * Length claims more bytes than there are or fewer than the header). Null when the version is
 * not 4, IHL is under 20 bytes or the header is not all there. Never throws. Text addresses:
 * addr.ts parseIPv4.
 */
export function parseIPv4Packet(b: Uint8Array): ParsedIP | null {
  if (b.length < 20 || (b[0] as number) >> 4 !== 4) return null;
  const ihl = ((b[0] as number) & 0x0f) * 4;
  if (ihl < 20 || b.length < ihl) return null;
  const totalLength = ((b[2] as number) << 8) | (b[3] as number);
  const header: IPv4Header = {
    ihl,
    tos: b[1] as number,
    totalLength,
    id: ((b[4] as number) << 8) | (b[5] as number),
    df: ((b[6] as number) & 0x40) !== 0,
    ttl: b[8] as number,
    protocol: b[9] as number,
    src: b.subarray(12, 16),
    dst: b.subarray(16, 20),
    headerChecksumOk: internetChecksum(b, 0, ihl) === 0,
  };
  const truncated = totalLength > b.length || totalLength < ihl;
  const end = truncated ? b.length : totalLength; // strip Ethernet padding
  return { family: 4, header, payload: b.subarray(ihl, end), truncated };
}

const IPV6_EXT = new Set([0, 43, 60]); // hop-by-hop, routing, destination options

/**
 * An IPv6 packet (RFC 8200) from its first byte: the header, hop-by-hop / routing / destination
 * options skipped to the upper-layer protocol, and its payload up to Payload Length (`truncated`,
 * with what there is, when Payload Length claims more bytes than there are or ends inside the
 * extension headers). Null when the version is not 6 or the 40-byte header is not all there.
 * Never throws. Text addresses: addr.ts parseIPv6.
 */
export function parseIPv6Packet(b: Uint8Array): ParsedIP | null {
  if (b.length < 40 || (b[0] as number) >> 4 !== 6) return null;
  const payloadLength = ((b[4] as number) << 8) | (b[5] as number);
  let next = b[6] as number;
  let off = 40;
  while (IPV6_EXT.has(next) && off + 8 <= b.length) {
    const hdrLen = ((b[off + 1] as number) + 1) * 8;
    next = b[off] as number;
    off += hdrLen;
  }
  const header: IPv6Header = {
    trafficClass: (((b[0] as number) & 0x0f) << 4) | ((b[1] as number) >> 4),
    flowLabel: (((b[1] as number) & 0x0f) << 16) | ((b[2] as number) << 8) | (b[3] as number),
    payloadLength,
    protocol: next,
    hopLimit: b[7] as number,
    src: b.subarray(8, 24),
    dst: b.subarray(24, 40),
    payloadOffset: off,
  };
  const end = 40 + payloadLength;
  const truncated = end > b.length || off > end;
  return { family: 6, header, payload: truncated ? b.subarray(Math.min(off, b.length)) : b.subarray(off, end), truncated };
}

/** An IPv4 or IPv6 packet, by its version nibble (see the two above); null for anything else. Text addresses: addr.ts parseIP. */
export function parseIPPacket(b: Uint8Array): ParsedIP | null {
  if (b.length === 0) return null;
  const v = (b[0] as number) >> 4;
  return v === 4 ? parseIPv4Packet(b) : v === 6 ? parseIPv6Packet(b) : null;
}

export interface IPv4Build {
  src: Uint8Array;
  dst: Uint8Array;
  protocol: number;
  ttl?: number;
  tos?: number;
  id?: number;
  df?: boolean;
}

/** A full IPv4 packet with a correct header checksum (used for captures and test vectors). */
export function buildIPv4(h: IPv4Build, payload: Uint8Array): Buffer {
  const p = Buffer.allocUnsafe(20 + payload.length).fill(0);
  p[0] = 0x45;
  p[1] = h.tos ?? 0;
  p.writeUInt16BE(p.length, 2);
  p.writeUInt16BE(h.id ?? 0, 4);
  p[6] = h.df ? 0x40 : 0;
  p[8] = h.ttl ?? 255;
  p[9] = h.protocol;
  p.set(h.src, 12);
  p.set(h.dst, 16);
  p.writeUInt16BE(internetChecksum(p, 0, 20), 10);
  p.set(payload, 20);
  return p;
}

export interface IPv6Build {
  src: Uint8Array;
  dst: Uint8Array;
  nextHeader: number;
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
}

export function buildIPv6(h: IPv6Build, payload: Uint8Array): Buffer {
  const p = Buffer.allocUnsafe(40 + payload.length).fill(0);
  const tc = h.trafficClass ?? 0;
  const fl = h.flowLabel ?? 0;
  p.writeUInt32BE(((6 << 28) | (tc << 20) | fl) >>> 0, 0);
  p.writeUInt16BE(payload.length, 4);
  p[6] = h.nextHeader;
  p[7] = h.hopLimit ?? 255;
  p.set(h.src, 8);
  p.set(h.dst, 24);
  p.set(payload, 40);
  return p;
}
