/**
 * IPv6 Neighbour Discovery: unsolicited Neighbour Advertisement (RFC 4861 4.4 and 7.2.6),
 * as VRRP sends for each IPv6 VIP on becoming Active (RFC 9568 7.3). Pure.
 */
import { formatIPv6, formatMac } from './addr.js';
import { finish, pseudoHeaderSum, sum16 } from './checksum.js';
import { buildEthernet, buildIPv6, ETH_P_IPV6, multicastMac } from './ip.js';

export const IPPROTO_ICMPV6 = 58;
export const ND_NEIGHBOR_ADVERT = 136;
const ALL_NODES = Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
const NA_LEN = 32; // 24 bytes NA + 8 bytes target link-layer address option

export interface NaFlags {
  router: boolean;
  solicited: boolean;
  override: boolean;
}

export interface NaPacket extends NaFlags {
  target: string;
  targetMac: string | null;
  checksumOk: boolean;
}

/** ICMPv6 checksum (RFC 4443 2.3) over the pseudo-header and message. */
export function icmpv6Checksum(src: Uint8Array, dst: Uint8Array, msg: Uint8Array): number {
  return finish(pseudoHeaderSum(src, dst, IPPROTO_ICMPV6, msg.length) + sum16(msg, 0, 2) + sum16(msg, 4, msg.length));
}

/** The ICMPv6 NA message with its Target Link-Layer Address option and checksum. */
export function buildNaMessage(src: Uint8Array, dst: Uint8Array, target: Uint8Array, mac: Uint8Array, flags: NaFlags): Buffer {
  const m = Buffer.allocUnsafe(NA_LEN).fill(0);
  m[0] = ND_NEIGHBOR_ADVERT;
  m[4] = (flags.router ? 0x80 : 0) | (flags.solicited ? 0x40 : 0) | (flags.override ? 0x20 : 0);
  m.set(target, 8);
  m[24] = 2; // option: Target Link-Layer Address
  m[25] = 1; // length in units of 8 bytes
  m.set(mac, 26);
  m.writeUInt16BE(icmpv6Checksum(src, dst, m), 2);
  return m;
}

/**
 * A whole Ethernet frame carrying an unsolicited NA for `target` (source = target, to ff02::1,
 * hop limit 255, Override set, Solicited clear), as keepalived and FRR send it.
 */
export function buildUnsolicitedNa(mac: Uint8Array, target: Uint8Array, opts: { router?: boolean } = {}): Buffer {
  const msg = buildNaMessage(target, ALL_NODES, target, mac, { router: opts.router ?? false, solicited: false, override: true });
  const ip = buildIPv6({ src: target, dst: ALL_NODES, nextHeader: IPPROTO_ICMPV6, hopLimit: 255 }, msg);
  return buildEthernet(multicastMac(ALL_NODES), mac, ETH_P_IPV6, ip);
}

/** Parse an ICMPv6 message as an NA; null when it is not one. */
export function parseNa(src: Uint8Array, dst: Uint8Array, m: Uint8Array): NaPacket | null {
  if (m.length < 24 || m[0] !== ND_NEIGHBOR_ADVERT || m[1] !== 0) return null;
  const f = m[4] as number;
  let targetMac: string | null = null;
  for (let off = 24; off + 8 <= m.length; ) {
    const olen = (m[off + 1] as number) * 8;
    if (olen === 0) break;
    if (m[off] === 2 && olen >= 8) targetMac = formatMac(m, off + 2);
    off += olen;
  }
  return {
    router: (f & 0x80) !== 0,
    solicited: (f & 0x40) !== 0,
    override: (f & 0x20) !== 0,
    target: formatIPv6(m, 8),
    targetMac,
    checksumOk: icmpv6Checksum(src, dst, m) === (((m[2] as number) << 8) | (m[3] as number)),
  };
}
