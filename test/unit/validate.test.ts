import { describe, expect, it } from 'vitest';
import { canonicalIP, formatIPv6, isDocumentationAddress, parseIP } from '../../src/protocol/addr.js';
import { encodeVrrp, receiveVrrp, type ReceivedPacket, type VrrpAdvert } from '../../src/protocol/vrrp.js';

const b = (t: string): Uint8Array => parseIP(t)!.bytes;
const v3: VrrpAdvert = { version: 3, family: 4, vrid: 7, priority: 100, interval: 100, addresses: ['192.0.2.100'] };
const v2: VrrpAdvert = { version: 2, family: 4, vrid: 7, priority: 100, interval: 1, addresses: ['192.0.2.100'], authType: 1, authData: Buffer.from('secret12') };
const pkt = (adv: VrrpAdvert, patch: Partial<ReceivedPacket> = {}, mutate?: (m: Buffer) => void): ReceivedPacket => {
  const payload = encodeVrrp(adv, { src: '192.0.2.1', dst: '224.0.0.18' });
  mutate?.(payload);
  return { family: 4, src: b('192.0.2.1'), dst: b('224.0.0.18'), ttl: 255, payload, ...patch };
};
const reason = (p: ReceivedPacket, e = {}): string => {
  const r = receiveVrrp(p, e);
  return r.valid ? 'valid' : r.reason;
};

describe('receive validation (RFC 9568 7.1, RFC 3768 7.1)', () => {
  it('accepts a well-formed advert', () => expect(reason(pkt(v3), { version: 3, vrid: 7 })).toBe('valid'));
  it('drops TTL != 255', () => expect(reason(pkt(v3, { ttl: 254 }))).toBe('bad-ttl'));
  it('drops short packets', () => expect(reason(pkt(v3, { payload: new Uint8Array(7) }))).toBe('truncated'));
  it('drops version 1 and 4', () => {
    expect(reason(pkt(v3, {}, (m) => (m[0] = 0x11)))).toBe('bad-version');
    expect(reason(pkt(v3, {}, (m) => (m[0] = 0x41)))).toBe('bad-version');
  });
  it('drops VRRPv2 over IPv6', () => {
    const p = pkt(v2);
    expect(reason({ ...p, family: 6, src: b('fe80::1'), dst: b('ff02::12') })).toBe('bad-version');
  });
  it('drops a version other than configured', () => expect(reason(pkt(v2), { version: 3 })).toBe('version-mismatch'));
  it('drops type != 1', () => expect(reason(pkt(v3, {}, (m) => (m[0] = 0x32)))).toBe('bad-type'));
  it('drops count larger than the payload', () => expect(reason(pkt(v3, {}, (m) => (m[3] = 2)))).toBe('addr-count-mismatch'));
  it('drops trailing bytes', () => {
    const p = pkt(v3);
    expect(reason({ ...p, payload: Buffer.concat([p.payload, Buffer.alloc(4)]) })).toBe('length-mismatch');
  });
  it('drops a bad checksum', () => expect(reason(pkt(v3, {}, (m) => (m[7] = (m[7]! ^ 1))))).toBe('bad-checksum'));
  it('drops another VRID', () => expect(reason(pkt(v3), { vrid: 8 })).toBe('vrid-mismatch'));
  it('v2: drops wrong auth type or password', () => {
    expect(reason(pkt(v2), { authType: 0 })).toBe('auth-mismatch');
    expect(reason(pkt(v2), { authType: 1, authData: Buffer.from('secret13') })).toBe('auth-mismatch');
    expect(reason(pkt(v2), { authType: 1, authData: Buffer.from('secret12') })).toBe('valid');
  });
  it('v2: drops a different Adver Int', () => expect(reason(pkt(v2), { interval: 2 })).toBe('interval-mismatch'));
  it('v2: drops a different address list unless from the owner', () => {
    expect(reason(pkt(v2), { addresses: ['192.0.2.101'] })).toBe('addresses-mismatch');
    expect(reason(pkt({ ...v2, priority: 255 }), { addresses: ['192.0.2.101'] })).toBe('valid');
  });
  it('v3: a different address list is reported, not dropped', () => {
    const r = receiveVrrp(pkt(v3), { addresses: ['192.0.2.101'] });
    expect(r.valid && r.addressesMatch).toBe(false);
    expect(r.valid).toBe(true);
  });
  it('drops a zero interval', () => expect(reason(pkt({ ...v3, interval: 0 }))).toBe('bad-interval'));
  it('tells which IPv4 v3 checksum algorithm matched', () => {
    for (const mode of ['pseudo-header', 'no-pseudo-header'] as const) {
      const payload = encodeVrrp(v3, { src: '192.0.2.1', dst: '224.0.0.18', checksumMode: mode });
      const r = receiveVrrp({ family: 4, src: b('192.0.2.1'), dst: b('224.0.0.18'), ttl: 255, payload });
      expect(r.valid && r.checksumMode).toBe(mode);
    }
  });
});

describe('addresses', () => {
  it('formats IPv6 per RFC 5952', () => {
    expect(canonicalIP('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(canonicalIP('2001:db8:0:1:0:0:0:1')).toBe('2001:db8:0:1::1');
    expect(canonicalIP('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(canonicalIP('::')).toBe('::');
    expect(canonicalIP('::ffff:192.0.2.1')).toBe('::ffff:c000:201');
    expect(formatIPv6(new Uint8Array(16).fill(0xff))).toBe('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');
  });
  it('rejects invalid text', () => {
    for (const t of ['1.2.3', '256.0.0.1', '01.2.3.4', ':::', '1::2::3', '12345::', 'g::1', '1:2:3:4:5:6:7:8:9']) expect(parseIP(t)).toBeNull();
  });
  it('recognises documentation ranges only', () => {
    expect(isDocumentationAddress('192.0.2.5')).toBe(true);
    expect(isDocumentationAddress('203.0.113.9')).toBe(true);
    expect(isDocumentationAddress('2001:db8::5')).toBe(true);
    expect(isDocumentationAddress('10.0.0.1')).toBe(false);
    expect(isDocumentationAddress('192.168.1.1')).toBe(false);
  });
});
