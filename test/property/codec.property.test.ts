import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseIP } from '../../src/protocol/addr.js';
import { classifyFrame } from '../../src/protocol/frame.js';
import { readPcap } from '../../src/protocol/pcap.js';
import { computeChecksum, encodeVrrp, receiveVrrp } from '../../src/protocol/vrrp.js';
import { advertCaseArb, RUNS } from '../helpers/arbitraries.js';
import { expectedFiles } from '../helpers/fixtures.js';

const bytes = (t: string): Uint8Array => parseIP(t)!.bytes;

describe('VRRP codec properties', () => {
  it('decode(encode(x)) = x for every representable advert, with a consistent checksum mode', () => {
    fc.assert(
      fc.property(advertCaseArb, ({ advert, src, dst, mode }) => {
        const msg = encodeVrrp(advert, { src, dst, checksumMode: mode });
        const r = receiveVrrp({ family: advert.family, src: bytes(src), dst: bytes(dst), ttl: 255, payload: msg });
        expect(r.valid).toBe(true);
        if (!r.valid) return;
        const { type: _t, reserved: _r, ...got } = r.advert;
        expect(got).toEqual(advert);
        // The reported mode reproduces the checksum (modes may coincide on some inputs).
        expect(computeChecksum(msg, r.checksumMode, bytes(src), bytes(dst))).toBe(r.checksum);
      }),
      { numRuns: Math.max(1000, Math.floor(RUNS / 20)) },
    );
  });

  it('the receive path never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 120 }),
        fc.constantFrom<4 | 6>(4, 6),
        fc.integer({ min: 0, max: 255 }),
        (payload, family, ttl) => {
          const a = new Uint8Array(family === 4 ? 4 : 16);
          const r = receiveVrrp({ family, src: a, dst: a, ttl, payload }, { version: 3, vrid: 1, addresses: [] });
          expect(typeof r.valid).toBe('boolean');
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('frame classification never throws on mutations of real frames', () => {
    const frames = expectedFiles().flatMap((f) => f.data.packets.map((p) => Buffer.from(p.frame_hex, 'hex')));
    fc.assert(
      fc.property(
        fc.constantFrom(...frames),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.nat(),
        fc.constantFrom(1, 101, 113, 276),
        (frame, flips, cut, linktype) => {
          const m = Buffer.from(frame);
          for (const [pos, val] of flips) m[pos % m.length] = val;
          const c = classifyFrame(linktype, m.subarray(0, cut % (m.length + 1)));
          expect(c.kind).toMatch(/^(vrrp|arp|na|other)$/);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('the pcap reader either parses or throws PcapError, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        try {
          readPcap(b);
        } catch (e) {
          expect((e as Error).name).toBe('PcapError');
        }
      }),
      { numRuns: Math.max(1000, Math.floor(RUNS / 20)) },
    );
  });
});
