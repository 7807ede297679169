/**
 * VRRP advertisement wire format: VRRPv3 (RFC 9568 section 5 / RFC 5798 section 5) over IPv4
 * and IPv6, and VRRPv2 (RFC 3768 section 5, IPv4 only). Pure Buffer code, no I/O.
 */
import { addrLen, formatIP, parseIP, type Family } from './addr.js';
import { finish, pseudoHeaderSum, sum16 } from './checksum.js';

export const IPPROTO_VRRP = 112;
export const VRRP_GROUP_V4 = '224.0.0.18';
export const VRRP_GROUP_V6 = 'ff02::12';
const GROUP_V4_BYTES = Uint8Array.of(224, 0, 0, 18);
const GROUP_V6_BYTES = Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12);
export const VRRP_TYPE_ADVERTISEMENT = 1;
const HEADER_LEN = 8;
const V2_AUTH_LEN = 8;

/**
 * How the checksum was (or is to be) computed.
 * - `pseudo-header`: v3, IPv4 or IPv6 pseudo-header with the real src/dst (RFC 5798 5.2.8; keepalived, FRR).
 * - `no-pseudo-header`: v3 IPv4, VRRP message only (RFC 9568 5.2.8 wording; Cisco/Juniper).
 * - `pseudo-header-group`: v3 IPv4 unicast, pseudo-header with 224.0.0.18 as destination
 *   (keepalived `old_unicast_checksum`, versions <= 1.3.6).
 * - `v2`: VRRPv2, VRRP message only (RFC 3768 5.3.8).
 */
export type ChecksumMode = 'pseudo-header' | 'no-pseudo-header' | 'pseudo-header-group' | 'v2';

export interface VrrpAdvert {
  version: 2 | 3;
  family: Family;
  vrid: number;
  priority: number;
  /** v3: Max Adver Int in centiseconds (12 bits). v2: Adver Int in seconds (8 bits). */
  interval: number;
  /** Addresses in packet order, canonical text. */
  addresses: string[];
  /** v2 only: Auth Type (0 none, 1 simple text password, 2 IP AH). */
  authType?: number;
  /** v2 only: the 8 bytes of Authentication Data. */
  authData?: Uint8Array;
  /** Type field; 1 (ADVERTISEMENT) unless a decoder saw something else. */
  type?: number;
  /** v3: the 4 reserved bits; must be 0 on send. */
  reserved?: number;
}

export function advertIntervalMs(a: Pick<VrrpAdvert, 'version' | 'interval'>): number {
  return a.version === 3 ? a.interval * 10 : a.interval * 1000;
}

export interface EncodeOptions {
  /** Source and destination of the IP packet carrying it (needed for pseudo-header checksums). */
  src?: string | Uint8Array;
  dst?: string | Uint8Array;
  /** Default: `v2` for version 2, `pseudo-header` for version 3. */
  checksumMode?: ChecksumMode;
}

function addrBytes(a: string | Uint8Array | undefined, what: string): Uint8Array {
  if (a === undefined) throw new Error(`VRRP encode: ${what} address required for this checksum mode`);
  if (typeof a !== 'string') return a;
  const p = parseIP(a);
  if (!p) throw new Error(`VRRP encode: invalid ${what} address ${a}`);
  return p.bytes;
}

export function vrrpLength(version: 2 | 3, family: Family, count: number): number {
  return HEADER_LEN + count * addrLen(family) + (version === 2 ? V2_AUTH_LEN : 0);
}

/** Checksum of a VRRP message whose checksum field (bytes 6-7) is taken as zero. */
export function computeChecksum(
  msg: Uint8Array,
  mode: ChecksumMode,
  src?: Uint8Array,
  dst?: Uint8Array,
): number {
  let s = sum16(msg, 0, 6) + sum16(msg, 8, msg.length);
  if (mode === 'pseudo-header' || mode === 'pseudo-header-group') {
    const d = mode === 'pseudo-header-group' ? (src?.length === 16 ? GROUP_V6_BYTES : GROUP_V4_BYTES) : dst;
    if (!src || !d) throw new Error('VRRP checksum: pseudo-header needs src and dst');
    s += pseudoHeaderSum(src, d, IPPROTO_VRRP, msg.length);
  }
  return finish(s);
}

/**
 * Encode an advertisement (the VRRP message only, no IP header) into a new Buffer, or into
 * `out` (which must be large enough) to keep the send path allocation-free.
 * Throws on values that cannot be represented: callers validate config first.
 */
export function encodeVrrp(adv: VrrpAdvert, opts: EncodeOptions = {}, out?: Buffer): Buffer {
  const { version, family, addresses } = adv;
  if (version === 2 && family !== 4) throw new Error('VRRPv2 is IPv4 only (RFC 3768)');
  if (addresses.length > 255) throw new Error('VRRP encode: more than 255 addresses');
  const maxInterval = version === 3 ? 0xfff : 0xff;
  if (!Number.isInteger(adv.interval) || adv.interval < 0 || adv.interval > maxInterval)
    throw new Error(`VRRP encode: interval ${adv.interval} out of range 0..${maxInterval}`);
  if (!(adv.vrid >= 0 && adv.vrid <= 255 && adv.priority >= 0 && adv.priority <= 255))
    throw new Error('VRRP encode: vrid/priority out of range');
  const len = vrrpLength(version, family, addresses.length);
  // allocUnsafe takes small buffers from Node's shared pool: no ArrayBuffer of their own.
  const buf = out ? out.subarray(0, len) : Buffer.allocUnsafe(len).fill(0);
  if (buf.length < len) throw new Error('VRRP encode: output buffer too small');
  // RFC 9568 5.2.1-5.2.4: version/type nibbles, VRID, priority, count
  buf[0] = (version << 4) | ((adv.type ?? VRRP_TYPE_ADVERTISEMENT) & 0x0f);
  buf[1] = adv.vrid;
  buf[2] = adv.priority;
  buf[3] = addresses.length;
  if (version === 3) {
    // RFC 9568 5.2.5-5.2.7: 4 reserved bits + 12-bit Max Adver Int (centiseconds)
    buf.writeUInt16BE((((adv.reserved ?? 0) & 0xf) << 12) | adv.interval, 4);
  } else {
    // RFC 3768 5.3.6-5.3.7: Auth Type, Adver Int (seconds)
    buf[4] = adv.authType ?? 0;
    buf[5] = adv.interval;
  }
  buf.writeUInt16BE(0, 6);
  const alen = addrLen(family);
  let off = HEADER_LEN;
  for (const a of addresses) {
    const p = parseIP(a);
    if (!p || p.family !== family) throw new Error(`VRRP encode: ${a} is not an IPv${family} address`);
    buf.set(p.bytes, off);
    off += alen;
  }
  if (version === 2) {
    buf.fill(0, off, off + V2_AUTH_LEN);
    if (adv.authData) buf.set(adv.authData.subarray(0, V2_AUTH_LEN), off);
  }
  const mode = opts.checksumMode ?? (version === 2 ? 'v2' : 'pseudo-header');
  let src: Uint8Array | undefined;
  let dst: Uint8Array | undefined;
  if (mode === 'pseudo-header' || mode === 'pseudo-header-group') {
    src = addrBytes(opts.src, 'source');
    dst = mode === 'pseudo-header' ? addrBytes(opts.dst, 'destination') : undefined;
  }
  buf.writeUInt16BE(computeChecksum(buf, mode, src, dst), 6);
  return buf;
}

/** Why a received packet was dropped (RFC 9568 section 7.1 and RFC 3768 section 7.1). */
export type DropReason =
  | 'truncated'
  | 'bad-ttl'
  | 'bad-version'
  | 'version-mismatch'
  | 'bad-type'
  | 'addr-count-mismatch'
  | 'length-mismatch'
  | 'bad-checksum'
  | 'vrid-mismatch'
  | 'auth-mismatch'
  | 'interval-mismatch'
  | 'bad-interval'
  | 'addresses-mismatch'
  /** A unicast peer's advert outside its `min_ttl`..`max_ttl` (keepalived 2.2.7; checked by the daemon, which knows the peers). */
  | 'ttl-out-of-range';

export interface ReceivedPacket {
  family: Family;
  /** IP source and destination of the packet. */
  src: Uint8Array;
  dst: Uint8Array;
  /** IPv4 TTL or IPv6 hop limit as received. */
  ttl: number;
  /** The VRRP message (IP payload only). */
  payload: Uint8Array;
}

/** What the receiving instance expects; every field optional (the sniffer expects nothing). */
export interface Expectation {
  version?: 2 | 3;
  vrid?: number;
  /** v2: authentication the instance is configured with. */
  authType?: number;
  authData?: Uint8Array;
  /** v2: the instance's own Adver Int in seconds (RFC 3768 7.1 requires equality). */
  interval?: number;
  /** Configured VIPs; a differing list is only fatal for v2 from a non-owner (RFC 3768 7.1). */
  addresses?: readonly string[];
  /**
   * Accepted TTL / Hop Limit range; default 255 only (RFC 9568 7.1). keepalived 2.2.7 does not
   * require 255 of unicast adverts (they may cross routers), only the peer's min_ttl..max_ttl.
   */
  ttl?: { min: number; max: number };
}

export type VrrpReceive =
  | { valid: true; advert: VrrpAdvert; checksum: number; checksumMode: ChecksumMode; addressesMatch: boolean }
  | {
      valid: false;
      reason: DropReason;
      /** Best-effort decode, present when the fixed header could be read. */
      advert?: VrrpAdvert;
      checksum?: number;
      checksumMode?: ChecksumMode | null;
    };

function checksumModesFor(version: number, family: Family, dst: Uint8Array): ChecksumMode[] {
  if (version === 2) return ['v2'];
  if (family === 6) return ['pseudo-header'];
  const isGroup = dst.length === 4 && dst.every((b, i) => b === GROUP_V4_BYTES[i]);
  return isGroup ? ['pseudo-header', 'no-pseudo-header'] : ['pseudo-header', 'no-pseudo-header', 'pseudo-header-group'];
}

/** Which checksum algorithm the packet's checksum matches, or null. */
export function matchChecksum(msg: Uint8Array, version: number, family: Family, src: Uint8Array, dst: Uint8Array): ChecksumMode | null {
  const have = ((msg[6] as number) << 8) | (msg[7] as number);
  for (const mode of checksumModesFor(version, family, dst)) {
    if (computeChecksum(msg, mode, src, dst) === have) return mode;
  }
  return null;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  const x = a ?? new Uint8Array(V2_AUTH_LEN);
  const y = b ?? new Uint8Array(V2_AUTH_LEN);
  for (let i = 0; i < V2_AUTH_LEN; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return false;
  return true;
}

/**
 * Receive validation, RFC 9568 section 7.1 (and RFC 3768 section 7.1 for v2).
 * Never throws: every malformed input yields `{valid: false, reason}`.
 */
export function receiveVrrp(pkt: ReceivedPacket, expect: Expectation = {}): VrrpReceive {
  const msg = pkt.payload;
  if (msg.length < HEADER_LEN) return { valid: false, reason: 'truncated' };
  const version = (msg[0] as number) >> 4;
  const type = (msg[0] as number) & 0x0f;
  const count = msg[3] as number;
  const family = pkt.family;
  const alen = addrLen(family);
  const isV2 = version === 2;
  const advert: VrrpAdvert = {
    version: (version === 2 ? 2 : 3),
    family,
    vrid: msg[1] as number,
    priority: msg[2] as number,
    interval: isV2 ? (msg[5] as number) : (((msg[4] as number) & 0x0f) << 8) | (msg[5] as number),
    addresses: [],
    type,
  };
  if (isV2) advert.authType = msg[4] as number;
  else advert.reserved = (msg[4] as number) >> 4;
  const checksum = ((msg[6] as number) << 8) | (msg[7] as number);
  // Best-effort address list (for reports), never reading past the end.
  const fit = Math.min(count, Math.floor((msg.length - HEADER_LEN) / alen));
  for (let i = 0; i < fit; i++) advert.addresses.push(formatIP(family, msg, HEADER_LEN + i * alen));
  const expectedLen = HEADER_LEN + count * alen + (isV2 ? V2_AUTH_LEN : 0);
  if (isV2 && msg.length >= expectedLen) {
    advert.authData = Uint8Array.from(msg.subarray(expectedLen - V2_AUTH_LEN, expectedLen));
  }
  // Dropped packets still report which checksum algorithm (if any) matches, for the sniffer.
  const drop = (reason: DropReason, mode?: ChecksumMode | null): VrrpReceive => ({
    valid: false,
    reason,
    advert,
    checksum,
    checksumMode: mode !== undefined ? mode : matchChecksum(msg, version, family, pkt.src, pkt.dst),
  });
  // 7.1: TTL / Hop Limit must be 255 (unicast, keepalived: within the peer's range)
  if (expect.ttl ? pkt.ttl < expect.ttl.min || pkt.ttl > expect.ttl.max : pkt.ttl !== 255) return drop('bad-ttl');
  // 7.1: version must be 3 (2 for RFC 3768); VRRPv2 has no IPv6 mapping
  if ((version !== 2 && version !== 3) || (isV2 && family === 6)) return drop('bad-version');
  if (expect.version !== undefined && version !== expect.version) return drop('version-mismatch');
  if (type !== VRRP_TYPE_ADVERTISEMENT) return drop('bad-type');
  // 7.1: the length must cover Count IPvX Addr addresses
  if (msg.length < expectedLen) return drop('addr-count-mismatch');
  if (msg.length > expectedLen) return drop('length-mismatch');
  // 7.1: checksum
  const mode = matchChecksum(msg, version, family, pkt.src, pkt.dst);
  if (mode === null) return drop('bad-checksum', null);
  if (expect.vrid !== undefined && advert.vrid !== expect.vrid) return drop('vrid-mismatch', mode);
  if (isV2) {
    // RFC 3768 7.1: auth type and data must match the local configuration
    if (expect.authType !== undefined) {
      if (advert.authType !== expect.authType) return drop('auth-mismatch', mode);
      if (expect.authType === 1 && !sameBytes(advert.authData, expect.authData)) return drop('auth-mismatch', mode);
    }
    // RFC 3768 7.1: Adver Interval must match the locally configured one
    if (expect.interval !== undefined && advert.interval !== expect.interval) return drop('interval-mismatch', mode);
  }
  if (advert.interval === 0) return drop('bad-interval', mode);
  const addressesMatch = expect.addresses === undefined || sameList(expect.addresses, advert.addresses);
  // RFC 3768 7.1: a v2 list mismatch from a non-owner MUST be dropped; v3 only logs it (RFC 9568 7.1)
  if (isV2 && !addressesMatch && advert.priority !== 255) return drop('addresses-mismatch', mode);
  return { valid: true, advert, checksum, checksumMode: mode, addressesMatch };
}

export function groupAddress(family: Family): string {
  return family === 4 ? VRRP_GROUP_V4 : VRRP_GROUP_V6;
}
