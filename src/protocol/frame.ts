/**
 * Classify one captured link-layer frame as a VRRP advert, an ARP or an NA (or other),
 * for the sniffer. Pure; never throws on any input.
 */
import { formatIP, formatMac, parseIP, type Family } from './addr.js';
import { parseArp, type ArpPacket } from './arp.js';
import { buildEthernet, buildIPv4, buildIPv6, ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, multicastMac, parseIPPacket } from './ip.js';
import { IPPROTO_ICMPV6, parseNa, type NaPacket } from './ndisc.js';
import { LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_RAW } from './pcap.js';
import { encodeVrrp, groupAddress, IPPROTO_VRRP, receiveVrrp, type ChecksumMode, type VrrpAdvert, type VrrpReceive } from './vrrp.js';

/** The link layer of a captured frame: Ethernet source and destination MAC, when the capture has them. */
export interface EthernetInfo {
  srcMac: string | null;
  dstMac: string | null;
}

export type Classified =
  | (EthernetInfo & { kind: 'vrrp'; family: Family; src: string; dst: string; ttl: number; rawVersion: number; vrrp: VrrpReceive; ipTruncated: boolean })
  | (EthernetInfo & { kind: 'arp'; arp: ArpPacket })
  | (EthernetInfo & { kind: 'na'; src: string; dst: string; hopLimit: number; na: NaPacket })
  | (EthernetInfo & { kind: 'other' });

interface L2 extends EthernetInfo {
  ethertype: number;
  payload: Uint8Array;
}

function link(linktype: number, d: Uint8Array): L2 | null {
  const u16 = (o: number): number => ((d[o] as number) << 8) | (d[o + 1] as number);
  switch (linktype) {
    case LINKTYPE_ETHERNET: {
      if (d.length < 14) return null;
      let et = u16(12);
      let off = 14;
      if (et === 0x8100 && d.length >= 18) {
        // one 802.1Q tag
        et = u16(16);
        off = 18;
      }
      return { srcMac: formatMac(d, 6), dstMac: formatMac(d, 0), ethertype: et, payload: d.subarray(off) };
    }
    case LINKTYPE_LINUX_SLL: {
      if (d.length < 16) return null;
      const src = u16(4) === 6 ? formatMac(d, 6) : null;
      return { srcMac: src, dstMac: null, ethertype: u16(14), payload: d.subarray(16) };
    }
    case LINKTYPE_LINUX_SLL2: {
      if (d.length < 20) return null;
      const src = d[11] === 6 ? formatMac(d, 12) : null;
      return { srcMac: src, dstMac: null, ethertype: u16(0), payload: d.subarray(20) };
    }
    case LINKTYPE_RAW:
    case 12: // DLT_RAW on some systems
    case 14: {
      if (d.length < 1) return null;
      const v = (d[0] as number) >> 4;
      return { srcMac: null, dstMac: null, ethertype: v === 6 ? ETH_P_IPV6 : ETH_P_IP, payload: d };
    }
    default:
      return null;
  }
}

export function classifyFrame(linktype: number, data: Uint8Array): Classified {
  const l2 = link(linktype, data);
  if (!l2) return { kind: 'other', srcMac: null, dstMac: null };
  const base: EthernetInfo = { srcMac: l2.srcMac, dstMac: l2.dstMac };
  if (l2.ethertype === ETH_P_ARP) {
    const arp = parseArp(l2.payload);
    return arp ? { ...base, kind: 'arp', arp } : { ...base, kind: 'other' };
  }
  if (l2.ethertype !== ETH_P_IP && l2.ethertype !== ETH_P_IPV6) return { ...base, kind: 'other' };
  const ip = parseIPPacket(l2.payload);
  if (!ip) return { ...base, kind: 'other' };
  const src = formatIP(ip.family, ip.header.src);
  const dst = formatIP(ip.family, ip.header.dst);
  const proto = ip.header.protocol;
  const ttl = ip.family === 4 ? ip.header.ttl : ip.header.hopLimit;
  if (proto === IPPROTO_VRRP) {
    const r = receiveVrrp({ family: ip.family, src: ip.header.src, dst: ip.header.dst, ttl, payload: ip.payload });
    // The IP header claims more bytes than were on the wire: a truncated packet, whatever VRRP says.
    const vrrp: VrrpReceive = ip.truncated
      ? { valid: false, reason: 'truncated', advert: r.advert, checksum: r.checksum, checksumMode: r.valid ? r.checksumMode : (r.checksumMode ?? null) }
      : r;
    const rawVersion = ip.payload.length > 0 ? (ip.payload[0] as number) >> 4 : 0;
    return { ...base, kind: 'vrrp', family: ip.family, src, dst, ttl, rawVersion, vrrp, ipTruncated: ip.truncated };
  }
  if (ip.family === 6 && proto === IPPROTO_ICMPV6) {
    const na = parseNa(ip.header.src, ip.header.dst, ip.payload);
    if (na) return { ...base, kind: 'na', src, dst, hopLimit: ttl, na };
  }
  return { ...base, kind: 'other' };
}

export interface VrrpFrameOptions {
  srcMac: Uint8Array;
  /** IP source and destination (text); destination defaults to the VRRP group. */
  src: string;
  dst?: string;
  /** TTL / hop limit; 255 unless crafting a bad packet. */
  ttl?: number;
  checksumMode?: ChecksumMode;
}

/** A complete Ethernet frame carrying a VRRP advert (for captures, tests and crafted packets). */
export function buildVrrpFrame(adv: VrrpAdvert, o: VrrpFrameOptions): Buffer {
  const dstText = o.dst ?? groupAddress(adv.family);
  const src = parseIP(o.src);
  const dst = parseIP(dstText);
  if (!src || !dst || src.family !== adv.family || dst.family !== adv.family)
    throw new Error(`buildVrrpFrame: ${o.src} > ${dstText} is not an IPv${adv.family} pair`);
  const msg = encodeVrrp(adv, { src: src.bytes, dst: dst.bytes, checksumMode: o.checksumMode });
  const dstMac = isMulticast(dst.bytes) ? multicastMac(dst.bytes) : Uint8Array.of(0x02, 0, 0, 0, 0, 0xfe);
  if (adv.family === 4) {
    const ip = buildIPv4({ src: src.bytes, dst: dst.bytes, protocol: IPPROTO_VRRP, ttl: o.ttl ?? 255, tos: 0xc0 }, msg);
    return buildEthernet(dstMac, o.srcMac, ETH_P_IP, ip);
  }
  const ip = buildIPv6({ src: src.bytes, dst: dst.bytes, nextHeader: IPPROTO_VRRP, hopLimit: o.ttl ?? 255, trafficClass: 0xc0 }, msg);
  return buildEthernet(dstMac, o.srcMac, ETH_P_IPV6, ip);
}

function isMulticast(a: Uint8Array): boolean {
  return a.length === 4 ? ((a[0] as number) & 0xf0) === 0xe0 : a[0] === 0xff;
}
