/** RFC 1071 Internet checksum over one or more byte ranges. Pure. */

/** Add 16-bit big-endian words of `buf[start, end)` to `sum`; odd tail padded with zero. */
export function sum16(buf: Uint8Array, start = 0, end = buf.length, sum = 0): number {
  let i = start;
  for (; i + 1 < end; i += 2) sum += ((buf[i] as number) << 8) | (buf[i + 1] as number);
  if (i < end) sum += (buf[i] as number) << 8;
  return sum;
}

/** Fold a running sum into the final one's complement checksum. */
export function finish(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

export function internetChecksum(buf: Uint8Array, start = 0, end = buf.length): number {
  return finish(sum16(buf, start, end));
}

/** Sum of an IPv4 or IPv6 pseudo-header (RFC 768 / RFC 8200 8.1). */
export function pseudoHeaderSum(src: Uint8Array, dst: Uint8Array, proto: number, length: number): number {
  let s = sum16(src) + sum16(dst);
  if (src.length === 4) {
    s += proto + length;
  } else {
    s += Math.floor(length / 0x10000) + (length & 0xffff) + proto;
  }
  return s;
}
