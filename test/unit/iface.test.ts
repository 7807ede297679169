import { describe, expect, it } from 'vitest';
import { eui64LinkLocal, lookupInterface } from '../../src/os/iface.js';
import { formatIP } from '../../src/protocol/addr.js';
import { RT_SCOPE_LINK, RT_SCOPE_UNIVERSE, type AddrInfo } from '../../src/os/rtnl-msg.js';
import type { Rtnl } from '../../src/os/rtnl.js';

const addr = (family: 4 | 6, address: string, o: Partial<AddrInfo> = {}): AddrInfo =>
  ({ family, address, prefixLen: family === 4 ? 24 : 64, ifindex: 2, scope: address.startsWith('fe80') ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE, secondary: false, label: null, ...o }) as AddrInfo;

/** An rtnl whose eth0 lists these addresses, in this order (the kernel lists newest IPv6 first). */
function rtnlWith(addrs: AddrInfo[]): Rtnl {
  return {
    link: async () => ({ index: 2, name: 'eth0', mac: '02:00:00:00:00:01', up: true, lowerUp: true }),
    addresses: async () => addrs,
  } as unknown as Rtnl;
}

describe('lookupInterface: the interface\'s own addresses, never a VIP', () => {
  it('the EUI-64 link-local of the MAC, not a link-local VIP listed before it', async () => {
    expect(formatIP(6, eui64LinkLocal(Uint8Array.from([2, 0, 0, 0, 0, 1])))).toBe('fe80::ff:fe00:1');
    const r = rtnlWith([addr(6, 'fe80::52'), addr(6, '2001:db8::52'), addr(6, 'fe80::ff:fe00:1')]);
    expect((await lookupInterface(r, 'eth0')).linkLocalV6).toBe('fe80::ff:fe00:1');
  });
  it('a managed link-local is skipped even when the MAC-derived one is absent (stable-privacy)', async () => {
    const r = rtnlWith([addr(6, 'fe80::52'), addr(6, 'fe80::1234:5678')]);
    expect((await lookupInterface(r, 'eth0', new Set(['fe80::52']))).linkLocalV6).toBe('fe80::1234:5678');
    expect((await lookupInterface(r, 'eth0', new Set(['fe80::52', 'fe80::1234:5678']))).linkLocalV6).toBe(null);
  });
  it('IPv4: a VIP of another subnet (primary in its own subnet) listed first is not the primary address', async () => {
    const r = rtnlWith([addr(4, '198.51.100.5'), addr(4, '192.0.2.1'), addr(4, '192.0.2.50', { secondary: true })]);
    expect((await lookupInterface(r, 'eth0', new Set(['198.51.100.5', '192.0.2.50']))).primaryV4).toBe('192.0.2.1');
    expect((await lookupInterface(r, 'eth0')).primaryV4).toBe('198.51.100.5'); // without the list: the kernel's first
  });
});
