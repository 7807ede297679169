/** In-place control-message scanning (the receive path's ancillary data, src/os/linux.ts). */
import { describe, expect, it } from 'vitest';
import { ancillaryScratch, SO_TIMESTAMPNS, SOL_SOCKET, IP_PKTINFO, IP_TTL, IPPROTO_IP, IPPROTO_IPV6, IPV6_HOPLIMIT, IPV6_PKTINFO, scanCmsgs } from '../../src/os/linux.js';

function cmsg(level: number, type: number, data: Buffer): Buffer {
  const len = 16 + data.length;
  const b = Buffer.alloc((len + 7) & ~7);
  b.writeUInt32LE(len, 0); // size_t, little-endian 64-bit
  b.writeInt32LE(level, 8);
  b.writeInt32LE(type, 12);
  data.copy(b, 16);
  return b;
}
const int = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
};

describe('scanCmsgs', () => {
  it('reads IPv4 TTL and PKTINFO (ifindex, destination) at an offset inside a larger buffer', () => {
    const pktinfo = Buffer.alloc(12);
    pktinfo.writeInt32LE(7, 0);
    pktinfo.set([224, 0, 0, 18], 8);
    const body = Buffer.concat([cmsg(IPPROTO_IP, IP_TTL, int(255)), cmsg(IPPROTO_IP, IP_PKTINFO, pktinfo)]);
    const slab = Buffer.concat([Buffer.alloc(40, 0xee), body, Buffer.alloc(40, 0xee)]);
    const out = ancillaryScratch();
    scanCmsgs(slab, 40, body.length, out);
    expect(out).toMatchObject({ ttl: 255, ifindex: 7, dstLen: 4, hopLimit: -1 });
    expect([...out.dst.subarray(0, 4)]).toEqual([224, 0, 0, 18]);
  });

  it('reads IPv6 hop limit and PKTINFO, and resets what the next packet lacks', () => {
    const pktinfo = Buffer.alloc(20);
    pktinfo[0] = 0xff;
    pktinfo[1] = 0x02;
    pktinfo[15] = 0x12;
    pktinfo.writeInt32LE(3, 16);
    const out = ancillaryScratch();
    const v6 = Buffer.concat([cmsg(IPPROTO_IPV6, IPV6_HOPLIMIT, int(254)), cmsg(IPPROTO_IPV6, IPV6_PKTINFO, pktinfo)]);
    scanCmsgs(v6, 0, v6.length, out);
    expect(out).toMatchObject({ hopLimit: 254, ifindex: 3, dstLen: 16 });
    expect(out.dst[15]).toBe(0x12);
    scanCmsgs(v6, 0, 0, out);
    expect(out).toMatchObject({ hopLimit: -1, ifindex: -1, dstLen: 0, ttl: -1 });
  });

  it('reads the kernel receive time (SCM_TIMESTAMPNS, struct timespec) in nanoseconds', () => {
    const ts = Buffer.alloc(16);
    ts.writeUInt32LE(1_795_747_000, 0); // tv_sec
    ts.writeUInt32LE(123_456_789, 8); // tv_nsec
    const c = Buffer.concat([cmsg(SOL_SOCKET, SO_TIMESTAMPNS, ts), cmsg(IPPROTO_IP, IP_TTL, int(255))]);
    const out = ancillaryScratch();
    scanCmsgs(c, 0, c.length, out);
    expect(out.ttl).toBe(255);
    expect(Math.abs(out.rxRealNs - (1_795_747_000 * 1e9 + 123_456_789))).toBeLessThan(1000);
    scanCmsgs(c, 0, 0, out);
    expect(out.rxRealNs).toBe(-1);
  });

  it('stops at a length that runs past the end or is shorter than a header', () => {
    const good = cmsg(IPPROTO_IP, IP_TTL, int(64));
    const bad = Buffer.from(good);
    bad.writeUInt32LE(1000, 0);
    const out = ancillaryScratch();
    scanCmsgs(Buffer.concat([bad, good]), 0, bad.length + good.length, out);
    expect(out.ttl).toBe(-1);
    const short = Buffer.from(good);
    short.writeUInt32LE(8, 0);
    scanCmsgs(short, 0, short.length, out);
    expect(out.ttl).toBe(-1);
    const high = Buffer.from(good);
    high.writeUInt32LE(1, 4); // a length above 4 GiB
    scanCmsgs(high, 0, high.length, out);
    expect(out.ttl).toBe(-1);
  });
});
