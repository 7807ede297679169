import { describe, expect, it } from 'vitest';
import type { Logger } from 'pino';
import { DropLog } from '../../src/daemon/drop-log.js';
import type { VrrpAdvert } from '../../src/protocol/vrrp.js';

function fakeLog(): { log: Logger; lines: { o: Record<string, unknown>; msg: string }[] } {
  const lines: { o: Record<string, unknown>; msg: string }[] = [];
  return { log: { warn: (o: Record<string, unknown>, msg: string) => lines.push({ o, msg }) } as unknown as Logger, lines };
}
const ctx = { instance: 'VI_1', vrid: 51, version: 3 as const, intervalUs: 1_000_000, vips: ['192.0.2.100'] };
const v2: VrrpAdvert = { version: 2, family: 4, vrid: 51, priority: 100, interval: 1, addresses: ['192.0.2.100'] };

describe('DropLog: adverts an operator can fix are told, once a minute per peer and reason', () => {
  it('says what to do, with the peer, and counts the ones it kept quiet about', () => {
    const { log, lines } = fakeLog();
    let now = 0;
    const d = new DropLog(log, ctx, () => now);
    for (let k = 0; k < 10; k++) d.note('version-mismatch', '192.0.2.2', v2, 255);
    d.note('version-mismatch', '192.0.2.3', v2, 255); // another peer: its own line
    d.note('auth-mismatch', '192.0.2.2', v2, 255); // another reason: its own line
    expect(lines.map((l) => l.msg)).toEqual([
      "(VI_1) advert from 192.0.2.2 is VRRPv2, this instance speaks VRRPv3: every router of VRID 51 needs the same vrrp_version (keepalived's default is 2)",
      "(VI_1) advert from 192.0.2.3 is VRRPv2, this instance speaks VRRPv3: every router of VRID 51 needs the same vrrp_version (keepalived's default is 2)",
      '(VI_1) advert from 192.0.2.2 has other authentication: every router of VRID 51 needs the same auth_type and auth_pass (only the first 8 characters count)',
    ]);
    now = 60_000;
    d.note('version-mismatch', '192.0.2.2', v2, 255);
    expect(lines[3]!.o).toMatchObject({ peer: '192.0.2.2', reason: 'version-mismatch', suppressed: 9 });
  });
  it('malformed packets are only counted (nothing to configure)', () => {
    const { log, lines } = fakeLog();
    const d = new DropLog(log, ctx);
    expect(d.note('truncated', '192.0.2.2', undefined, 255)).toBe(false);
    expect(d.note('bad-type', '192.0.2.2', undefined, 255)).toBe(false);
    expect(lines).toEqual([]);
  });
  it('other VIPs, a v2 interval, a TTL below 255', () => {
    const { log, lines } = fakeLog();
    const d = new DropLog(log, { ...ctx, version: 2 });
    d.note('addresses-mismatch', '192.0.2.2', { ...v2, addresses: ['192.0.2.101'] }, 255);
    d.note('interval-mismatch', '192.0.2.2', { ...v2, interval: 3 }, 255);
    d.note('bad-ttl', '192.0.2.2', v2, 254);
    expect(lines.map((l) => l.msg)).toEqual([
      '(VI_1) advert from 192.0.2.2 lists other addresses (192.0.2.101) than this instance (192.0.2.100): every router of VRID 51 needs the same virtual_ipaddress',
      '(VI_1) advert from 192.0.2.2 says advert_int 3 s, this instance 1 s: VRRPv2 needs the same advert_int on every router of VRID 51',
      '(VI_1) advert from 192.0.2.2 arrived with TTL/hop limit 254, not 255: it crossed a router (RFC 9568 7.1); VRRP peers must share the link',
    ]);
  });
});
