/** Interface lookup through rtnetlink: index, MAC, primary IPv4 and link-local IPv6. */
import { parseIP, parseMac } from '../protocol/addr.js';
import { RT_SCOPE_LINK, type AddrInfo } from './rtnl-msg.js';
import type { Rtnl } from './rtnl.js';

export interface Interface {
  name: string;
  index: number;
  mac: Uint8Array;
  macText: string;
  up: boolean;
  /** First non-secondary IPv4 address that vipd does not manage (the source of VRRP adverts), if any. */
  primaryV4: string | null;
  /** Link-local IPv6 address that vipd does not manage (the source of IPv6 adverts), if any. */
  linkLocalV6: string | null;
}

/**
 * Look an interface up. `managed` holds the addresses vipd adds and removes (VIPs, in the
 * canonical text of formatIP): none of them is ever the interface's own address, whatever
 * order the kernel lists them in. A VIP is gone when its instance leaves MASTER; an advert
 * sent from it would then fail (IPv6: EINVAL) and its source would not be the router's own
 * (RFC 9568 5.1.1.1 / 5.1.2.1).
 *
 * @throws NetlinkError (ENODEV) when there is no such interface.
 */
export async function lookupInterface(rtnl: Rtnl, name: string, managed: ReadonlySet<string> = new Set()): Promise<Interface> {
  const link = await rtnl.link(name);
  const addrs = (await rtnl.addresses(link.index)).filter((a) => !managed.has(a.address));
  const macText = link.mac ?? '00:00:00:00:00:00';
  const mac = parseMac(macText)!;
  return {
    name, index: link.index, mac, macText, up: link.up && link.lowerUp,
    primaryV4: addrs.find((a) => a.family === 4 && !a.secondary)?.address ?? null,
    linkLocalV6: ownLinkLocal(addrs, mac),
  };
}

/**
 * The interface's own link-local address: the one the kernel derived from the MAC (EUI-64)
 * when it is there, else the first other link-local (stable-privacy or configured ones).
 */
export function ownLinkLocal(addrs: readonly AddrInfo[], mac: Uint8Array): string | null {
  const ll = addrs.filter((a) => a.family === 6 && a.scope === RT_SCOPE_LINK);
  const eui = eui64LinkLocal(mac);
  return (ll.find((a) => sameIP(a.address, eui)) ?? ll[0])?.address ?? null;
}

/** fe80::/64 with the modified EUI-64 interface identifier of a 48-bit MAC (RFC 4291 2.5.1, appendix A). */
export function eui64LinkLocal(mac: Uint8Array): Uint8Array {
  const b = new Uint8Array(16);
  b[0] = 0xfe;
  b[1] = 0x80;
  b.set([mac[0]! ^ 0x02, mac[1]!, mac[2]!, 0xff, 0xfe, mac[3]!, mac[4]!, mac[5]!], 8);
  return b;
}

function sameIP(text: string, bytes: Uint8Array): boolean {
  const p = parseIP(text);
  return !!p && p.bytes.length === bytes.length && p.bytes.every((x, i) => x === bytes[i]);
}
