/** Interface lookup through rtnetlink: index, MAC, primary IPv4 and link-local IPv6. */
import { parseMac } from '../protocol/addr.js';
import { RT_SCOPE_LINK } from './rtnl-msg.js';
import type { Rtnl } from './rtnl.js';

export interface Interface {
  name: string;
  index: number;
  mac: Uint8Array;
  macText: string;
  up: boolean;
  /** First non-secondary IPv4 address (the source of VRRP adverts), if any. */
  primaryV4: string | null;
  /** Link-local IPv6 address (the source of IPv6 adverts), if any. */
  linkLocalV6: string | null;
}

export async function lookupInterface(rtnl: Rtnl, name: string): Promise<Interface> {
  const link = await rtnl.link(name);
  const addrs = await rtnl.addresses(link.index);
  const v4 = addrs.find((a) => a.family === 4 && !a.secondary);
  const ll = addrs.find((a) => a.family === 6 && a.scope === RT_SCOPE_LINK);
  const macText = link.mac ?? '00:00:00:00:00:00';
  return {
    name, index: link.index, mac: parseMac(macText)!, macText, up: link.up && link.lowerUp,
    primaryV4: v4?.address ?? null, linkLocalV6: ll?.address ?? null,
  };
}
