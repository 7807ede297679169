/**
 * VRRP virtual MAC interfaces (keepalived's `use_vmac`): a macvlan on the instance's interface
 * whose MAC is the RFC 9568 7.3 virtual router MAC, 00:00:5e:00:01:VRID (IPv4) or
 * 00:00:5e:00:02:VRID (IPv6), in private mode, with the sysctls keepalived 2.2.7 sets on it
 * and on its parent (vrrp/vrrp_vmac.c netlink_link_add_vmac, vrrp/vrrp_if_config.c).
 *
 * Sysctls are written through /proc/sys with fs/promises (never synchronously on the loop).
 * Link names containing '.' (vrrp.51) are fine there: /proc/sys uses the name as it is.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { formatMac, parseIP, type Family } from '../protocol/addr.js';
import { parseAttrs, parseLink, type NlMessage } from './rtnl-msg.js';
import { EEXIST, type Rtnl } from './rtnl.js';

/** linux/if_link.h: MACVLAN_MODE_PRIVATE, keepalived's mode for every VMAC. */
export const MACVLAN_MODE_PRIVATE = 1;
const IFLA_LINK = 5;
const IFLA_LINKINFO = 18;
const IFLA_INFO_DATA = 2;
const IFLA_MACVLAN_MODE = 1;
const IFNAMSIZ = 16;

function checkVrid(vrid: number): void {
  if (!Number.isInteger(vrid) || vrid < 1 || vrid > 255) throw new RangeError(`VRID ${vrid} is not an integer in 1..255`);
}

/** RFC 9568 7.3 virtual router MAC: 00:00:5e:00:01:VRID for IPv4, 00:00:5e:00:02:VRID for IPv6. Throws RangeError for a VRID outside 1..255. */
export function vmacMac(vrid: number, family: Family): Uint8Array {
  checkVrid(vrid);
  return Uint8Array.from([0x00, 0x00, 0x5e, 0x00, family === 4 ? 0x01 : 0x02, vrid]);
}

/**
 * The kernel's rule for a link name (net/core/dev.c dev_valid_name, which keepalived's parser
 * copies as dev_name_valid): 1..15 bytes, not `.` or `..`, no `/`, `:` or white space.
 */
export function validLinkName(name: string): boolean {
  return name.length > 0 && Buffer.byteLength(name) < IFNAMSIZ && name !== '.' && name !== '..' && !/[/:\s]/.test(name);
}

/** `${prefix}${num}.${vrid}`, the prefix shortened as keepalived does when it would pass 15 bytes. */
function vmacName(prefix: string, num: string, vrid: number): string {
  const full = `${prefix}${num}.${vrid}`;
  if (full.length < IFNAMSIZ) return full;
  return `${prefix.slice(0, prefix.length - (full.length - IFNAMSIZ) - 1)}${num}.${vrid}`;
}

/**
 * keepalived's name for a VMAC without one in `use_vmac` (vrrp/vrrp.c create_vmac_name):
 * `vrrp.VRID` for both families; when that name is `taken` (an existing link, or another
 * instance's VMAC), IPv6 tries `vrrp6.VRID` next, then `vrrp1.VRID`, `vrrp2.VRID`, …
 * (skipping 6); IPv4 tries `vrrp1.VRID`, `vrrp2.VRID`, …. `prefix` is keepalived's
 * `vmac_prefix` (default `vrrp`; `vmac_addr_prefix` for VMACs of VIPs on other interfaces).
 * Note: before naming, keepalived adopts any existing private macvlan on the same parent with
 * the right MAC, whatever its name (see createVmac).
 */
export function defaultVmacName(vrid: number, family: Family, taken: (name: string) => boolean = () => false, prefix = 'vrrp'): string {
  checkVrid(vrid);
  let num = 0;
  for (let tries = 0; tries < 1000; tries++) {
    const name = vmacName(prefix, num === 0 ? '' : String(num), vrid);
    if (!taken(name)) return name;
    if (family === 6) num = num === 0 ? 6 : num === 6 ? 1 : num + 1 === 6 ? 7 : num + 1;
    else num++;
  }
  throw new Error(`no free VMAC name for VRID ${vrid} with prefix ${prefix}`);
}

/** One `ip -batch` line deleting the link (for the crash guardian: `ip -force -batch -`). Throws for a name the kernel would refuse. */
export function vmacDelLine(name: string): string {
  if (!validLinkName(name)) throw new Error(`invalid link name ${JSON.stringify(name)}`);
  return `link del ${name}`;
}

const sysctlPath = (root: string, family: Family, ifname: string, key: string): string => `${root}/net/ipv${family}/conf/${ifname}/${key}`;

async function readSysctl(path: string): Promise<number> {
  const text = (await readFile(path, 'utf8')).trim();
  const v = Number(text);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(v)) throw new Error(`${path}: not an integer: ${JSON.stringify(text)}`);
  return v;
}

const writeSysctl = (path: string, value: number): Promise<void> => writeFile(path, `${value}\n`);

/** A link as the kernel describes it, with the parent and macvlan mode that LinkInfo leaves out. */
interface LinkDetail {
  index: number;
  name: string;
  mac: string | null;
  kind: string | null;
  parent: number;
  macvlanMode: number | null;
}

function linkDetail(m: NlMessage): LinkDetail | null {
  const l = parseLink(m);
  if (!l) return null;
  const a = parseAttrs(m.body, 16);
  const info = a.get(IFLA_LINKINFO);
  const data = info ? parseAttrs(info, 0).get(IFLA_INFO_DATA) : undefined;
  const mode = data && l.kind === 'macvlan' ? parseAttrs(data, 0).get(IFLA_MACVLAN_MODE) : undefined;
  return { index: l.index, name: l.name, mac: l.mac, kind: l.kind, parent: a.get(IFLA_LINK)?.readUInt32LE(0) ?? 0, macvlanMode: mode && mode.length >= 4 ? mode.readUInt32LE(0) : null };
}

/** Every link with its parent and macvlan mode. */
async function links(rtnl: Rtnl): Promise<LinkDetail[]> {
  const ms = await rtnl.linkMessages();
  return ms.map(linkDetail).filter((l): l is LinkDetail => l !== null);
}

function addMacvlan(rtnl: Rtnl, name: string, parent: number, mac: Uint8Array, mode: number): Promise<void> {
  return rtnl.addMacvlan(name, parent, mac, mode);
}

/** RFC 9568 says nothing; keepalived (vrrp_if_config.c vmac_sysctl) sets these on an IPv4 VMAC. */
const VMAC_SYSCTLS_V4: ReadonlyArray<[string, number]> = [
  ['arp_ignore', 1], // no ARP replies on the VMAC for the parent's addresses
  ['accept_local', 1], // hear another local instance's adverts
  ['rp_filter', 0], // receive on a VMAC without an address in the sender's subnet
  ['promote_secondaries', 1],
];

export interface CreateVmacOptions {
  /** The link name (use_vmac NAME, else defaultVmacName). */
  name: string;
  /** ifindex of the instance's interface (the macvlan's lower device). */
  parentIndex: number;
  vrid: number;
  family: Family;
  /**
   * IPv6 only, and not with vmac_xmit_base: the link-local address put on the VMAC (/64,
   * nodad) so that adverts leave from the router's own address with the virtual MAC:
   * keepalived uses the instance's configured source, else the parent's link-local, else
   * the EUI-64 one of the parent's MAC (vrrp_vmac.c set_link_local_address).
   */
  linkLocal?: string;
  /** The instance has VIPs of the other family on the VMAC: IPv6 stays enabled on an IPv4 VMAC (keepalived's EVIP_OTHER_FAMILY). */
  otherFamilyVips?: boolean;
  /** Parent and host-wide sysctls (IPv4 VMACs), restored later through it. */
  host?: VmacHostSysctls;
  /** /proc/sys (tests may point elsewhere). */
  procSys?: string;
}

export interface Vmac {
  index: number;
  name: string;
  mac: Uint8Array;
  /** An existing macvlan of that name (same parent, right MAC, private mode) was taken over. */
  adopted: boolean;
}

/**
 * Create (or adopt) and bring up the VMAC of one instance, as keepalived does at start
 * (vrrp.c vrrp_complete_instance → vrrp_vmac.c netlink_link_add_vmac):
 * - a link of that name that is a macvlan on `parentIndex` with the virtual MAC in private
 *   mode is adopted (keepalived: "Found matching interface"); any other macvlan of that name
 *   is deleted and created again (keepalived deletes one on another parent and updates one
 *   with the wrong MAC or mode in place); a link of that name that is not a macvlan is an
 *   error (keepalived refuses it: "conflicts with existing interface").
 * - macvlan, private mode: a multicast frame whose source MAC is this VMAC's (a peer's advert
 *   sent from its own VMAC of the same VRID) is delivered to the VMAC only, not to the parent.
 * - before up: IPv6 addr_gen_mode 1 (none: no EUI-64 link-local from the virtual MAC, RFC
 *   5798/9568 7.4; keepalived sets IFLA_INET6_ADDR_GEN_MODE), disable_ipv6 1 on an IPv4 VMAC
 *   without VIPs of the other family, else 0. IPv4 VMAC: arp_ignore 1, accept_local 1,
 *   rp_filter 0, promote_secondaries 1; with `host`, also the parent's arp_ignore/arp_filter
 *   and net.ipv4.conf.all.rp_filter (see VmacHostSysctls).
 * - link up; IPv6: `linkLocal` added.
 * Errors (NetlinkError from the kernel, sysctl write errors) are thrown; a link this call
 * created is deleted again before the error is thrown.
 */
export async function createVmac(rtnl: Rtnl, o: CreateVmacOptions): Promise<Vmac> {
  if (!validLinkName(o.name)) throw new Error(`invalid VMAC name ${JSON.stringify(o.name)}`);
  const mac = vmacMac(o.vrid, o.family);
  const macText = formatMac(mac);
  const ll = o.linkLocal !== undefined ? parseIP(o.linkLocal) : null;
  if (o.linkLocal !== undefined && (o.family !== 6 || !ll || ll.family !== 6 || ll.bytes[0] !== 0xfe || (ll.bytes[1]! & 0xc0) !== 0x80))
    throw new Error(`linkLocal ${o.linkLocal} is not an IPv6 link-local address of an IPv6 VMAC`);
  const root = o.procSys ?? '/proc/sys';
  const all = await links(rtnl);
  const parent = all.find((l) => l.index === o.parentIndex);
  if (!parent) throw new Error(`VMAC ${o.name}: parent link ${o.parentIndex} does not exist`);
  const old = all.find((l) => l.name === o.name);
  let adopted = false;
  if (old) {
    if (old.kind !== 'macvlan') throw new Error(`VMAC ${o.name}: a ${old.kind ?? 'physical'} link of that name exists (not a macvlan): not touched`);
    adopted = old.parent === o.parentIndex && old.mac === macText && old.macvlanMode === MACVLAN_MODE_PRIVATE;
    if (!adopted) await rtnl.delLink(old.index);
  }
  if (!adopted) await addMacvlan(rtnl, o.name, o.parentIndex, mac, MACVLAN_MODE_PRIVATE);
  const link = (await links(rtnl)).find((l) => l.name === o.name);
  if (!link) throw new Error(`VMAC ${o.name}: created but not found in the link dump`);
  try {
    await writeSysctl(sysctlPath(root, 6, o.name, 'addr_gen_mode'), 1);
    await writeSysctl(sysctlPath(root, 6, o.name, 'disable_ipv6'), o.family === 4 && !o.otherFamilyVips ? 1 : 0);
    if (o.family === 4) {
      // all.rp_filter first (it raises the links' values), then the VMAC's own 0
      await o.host?.hold(link.index, parent.name, all.map((l) => l.name));
      for (const [k, v] of VMAC_SYSCTLS_V4) await writeSysctl(sysctlPath(root, 4, o.name, k), v);
    } else {
      // keepalived 2.2.7 leaves arp_ignore 0 on an IPv6 VMAC, which then answers ARP for the
      // host's IPv4 addresses (the VIPs of an IPv4 instance too) with its virtual MAC: vipd does not
      await writeSysctl(sysctlPath(root, 4, o.name, 'arp_ignore'), 1);
    }
    await rtnl.setLink(link.index, true);
    if (ll) {
      try {
        await rtnl.addAddress({ family: 6, address: ll.bytes, prefixLen: 64, ifindex: link.index, nodad: true });
      } catch (e) {
        if (!(adopted && (e as { errno?: number }).errno === EEXIST)) throw e; // adopted: it may be there already
      }
    }
  } catch (e) {
    // the first error is the one thrown; a failed clean-up is added to its message
    const also: string[] = [];
    await o.host?.release(link.index).catch((e2: unknown) => also.push(`giving the parent's sysctls back failed: ${String(e2)}`));
    if (!adopted) await rtnl.delLink(link.index).catch((e2: unknown) => also.push(`deleting ${o.name} again failed: ${String(e2)}`));
    if (also.length && e instanceof Error) e.message += `; ${also.join('; ')}`;
    throw e;
  }
  return { index: link.index, name: o.name, mac, adopted };
}

/**
 * Delete a VMAC (keepalived: netlink_link_del_vmac at shutdown, or when its parent goes away):
 * first the parent's ARP sysctls are given back if `host` holds them for it (the last VMAC
 * on that parent), then RTM_DELLINK. Throws the NetlinkError (ENODEV: no such link).
 */
export async function deleteVmac(rtnl: Rtnl, index: number, host?: VmacHostSysctls): Promise<void> {
  await host?.release(index);
  await rtnl.delLink(index);
}

interface SavedBase {
  refs: number;
  arpIgnore: number;
  arpFilter: number;
  changed: boolean;
}

/**
 * The sysctls outside the VMAC itself that keepalived changes for IPv4 VMACs, and gives back
 * (vrrp_if_config.c set_interface_parameters, reset_interface_parameters, clear_rp_filter,
 * restore_rp_filter):
 * - on the parent: arp_ignore 1 and arp_filter 1 (no ARP replies on the parent for the VIPs
 *   that live on the VMAC), unless both are 1 already; counted per parent, the old values
 *   written back when its last VMAC is deleted.
 * - once per process, if net.ipv4.conf.all.rp_filter > 0 (the kernel uses the larger of `all`
 *   and the link's value, so the VMAC's 0 would not count): default.rp_filter and every
 *   link's rp_filter raised to all's value where lower, then all.rp_filter 0. `restore()`
 *   writes the old values back, each only if it still holds the value written here.
 * Call `restore()` at exit, after deleting the VMACs.
 */
export class VmacHostSysctls {
  private rp: { all: number; default: number | null; links: Map<string, number> } | null = null;
  private readonly bases = new Map<string, SavedBase>();
  private readonly holders = new Map<number, string>();

  constructor(private readonly root = '/proc/sys') {}

  /** The VMAC `vmacIndex` on parent `parentName` needs the settings above; `links`: every link now (for rp_filter). */
  async hold(vmacIndex: number, parentName: string, links: readonly string[]): Promise<void> {
    if (this.holders.has(vmacIndex)) return;
    if (!this.rp) await this.clearRpFilter(links);
    const p = (k: string): string => sysctlPath(this.root, 4, parentName, k);
    const saved = this.bases.get(parentName);
    if (saved) saved.refs++;
    else {
      const arpIgnore = await readSysctl(p('arp_ignore'));
      const arpFilter = await readSysctl(p('arp_filter'));
      const changed = arpIgnore !== 1 || arpFilter !== 1;
      if (changed) {
        await writeSysctl(p('arp_ignore'), 1);
        await writeSysctl(p('arp_filter'), 1);
      }
      this.bases.set(parentName, { refs: 1, arpIgnore, arpFilter, changed });
    }
    this.holders.set(vmacIndex, parentName);
  }

  /** The VMAC is going: the last one on its parent gives the parent's values back. */
  async release(vmacIndex: number): Promise<void> {
    const parent = this.holders.get(vmacIndex);
    if (parent === undefined) return;
    this.holders.delete(vmacIndex);
    const b = this.bases.get(parent)!;
    if (--b.refs > 0) return;
    this.bases.delete(parent);
    if (b.changed) await this.writeBase(parent, b);
  }

  /** Give everything back (at exit): parents still held, then rp_filter. Every write is tried; the first error is thrown after. */
  async restore(): Promise<void> {
    const errors: unknown[] = [];
    for (const [parent, b] of this.bases) if (b.changed) await this.writeBase(parent, b).catch((e: unknown) => errors.push(e));
    this.bases.clear();
    this.holders.clear();
    const rp = this.rp;
    this.rp = null;
    if (rp && rp.all > 0) {
      const restoreIf = async (path: string, expect: number, value: number): Promise<void> => {
        if ((await readSysctl(path)) === expect) await writeSysctl(path, value);
      };
      const conf = (name: string): string => sysctlPath(this.root, 4, name, 'rp_filter');
      await restoreIf(conf('all'), 0, rp.all).catch((e: unknown) => errors.push(e));
      if (rp.default !== null) await restoreIf(conf('default'), rp.all, rp.default).catch((e: unknown) => errors.push(e));
      for (const [name, v] of rp.links) {
        // a link deleted meanwhile has nothing to give back
        await restoreIf(conf(name), rp.all, v).catch((e: unknown) => ((e as { code?: string }).code === 'ENOENT' ? undefined : errors.push(e)));
      }
    }
    if (errors.length) throw errors[0];
  }

  /** Sysctls changed and not yet given back, with the value `restore()` would write (for logs and the crash guardian). */
  changes(): { path: string; value: number }[] {
    const out: { path: string; value: number }[] = [];
    for (const [parent, b] of this.bases) {
      if (!b.changed) continue;
      out.push({ path: sysctlPath(this.root, 4, parent, 'arp_ignore'), value: b.arpIgnore }, { path: sysctlPath(this.root, 4, parent, 'arp_filter'), value: b.arpFilter });
    }
    if (this.rp && this.rp.all > 0) {
      out.push({ path: sysctlPath(this.root, 4, 'all', 'rp_filter'), value: this.rp.all });
      if (this.rp.default !== null) out.push({ path: sysctlPath(this.root, 4, 'default', 'rp_filter'), value: this.rp.default });
      for (const [name, v] of this.rp.links) out.push({ path: sysctlPath(this.root, 4, name, 'rp_filter'), value: v });
    }
    return out;
  }

  private async writeBase(parent: string, b: SavedBase): Promise<void> {
    await writeSysctl(sysctlPath(this.root, 4, parent, 'arp_ignore'), b.arpIgnore);
    await writeSysctl(sysctlPath(this.root, 4, parent, 'arp_filter'), b.arpFilter);
  }

  private async clearRpFilter(links: readonly string[]): Promise<void> {
    const conf = (name: string): string => sysctlPath(this.root, 4, name, 'rp_filter');
    const all = await readSysctl(conf('all'));
    const rp = { all, default: null as number | null, links: new Map<string, number>() };
    this.rp = rp;
    if (all === 0) return;
    const def = await readSysctl(conf('default'));
    if (def < all) {
      await writeSysctl(conf('default'), all);
      rp.default = def;
    }
    for (const name of links) {
      const v = await readSysctl(conf(name)).catch((e: unknown) => {
        if ((e as { code?: string }).code === 'ENOENT') return all; // the link went away since the dump
        throw e;
      });
      if (v < all) {
        await writeSysctl(conf(name), all);
        rp.links.set(name, v);
      }
    }
    await writeSysctl(conf('all'), 0);
  }
}
