/**
 * The interfaces a configuration names and their link state: looked up before anything is
 * touched (a missing one is an error naming the line that wants it), followed through
 * rtnetlink link events with keepalived's interface_up_down_delays (link-debounce.ts), read
 * again after lost events. One owner for `Interface.up`.
 */
import type { Logger } from 'pino';
import type { DaemonConfig, InstanceModel } from '../config/model.js';
import { lookupInterface, type Interface } from '../os/iface.js';
import { NetlinkError, type Rtnl } from '../os/rtnl.js';
import type { LinkInfo } from '../os/rtnl-msg.js';
import { LinkDebounce, linkDelays } from './link-debounce.js';
import { configAddresses } from './preflight.js';

/** A name a configuration wants as an interface, with the line that wants it. */
interface Wanted {
  name: string;
  /** `file:line: keyword NAME: ` of the line, or '' for an instance's own interface. */
  why: string;
}

/** Every interface `c` needs: instances', VIPs' and routes' `dev`, static objects', trackers', delays'. */
function wantedInterfaces(c: DaemonConfig): Wanted[] {
  const at = (pos: { file: string; line: number } | undefined, what: string): string => (pos ? `${pos.file}:${pos.line}: ${what}: ` : '');
  const out: Wanted[] = [];
  const vip = (v: InstanceModel['vips'][number], dflt: string | null): void => {
    const name = v.dev ?? dflt;
    if (name) out.push({ name, why: v.dev ? at(v.pos, `${v.address} dev ${v.dev}`) : '' });
  };
  for (const i of c.instances) {
    out.push({ name: i.interface, why: at(i.pos, `interface ${i.interface}`) });
    for (const v of [...i.vips, ...i.vipsExcluded]) vip(v, i.interface);
  }
  for (const v of c.staticAddresses) vip(v, c.global.defaultInterface ?? 'eth0'); // keepalived's default_interface
  for (const r of [...c.instances.flatMap((i) => i.routes), ...c.staticRoutes]) {
    for (const dev of [r.dev, ...r.nexthops.map((h) => h.dev)]) if (dev) out.push({ name: dev, why: at(r.pos, `route dev ${dev}`) });
  }
  for (const t of [...c.instances, ...c.syncGroups].flatMap((o) => o.trackInterfaces)) out.push({ name: t.name, why: at(t.pos, `track_interface ${t.name}`) });
  for (const d of c.ifDelays) out.push({ name: d.name, why: at(d.pos, `interface_up_down_delays ${d.name}`) });
  return out;
}

export class Interfaces {
  private readonly map = new Map<string, Interface>();
  /** interface_up_down_delays between the rtnetlink monitor and the link state. */
  private readonly debounce: LinkDebounce;

  constructor(
    private readonly rtnl: Rtnl,
    config: DaemonConfig,
    private readonly log: Logger,
    /** A link went up or down (after its delay): the instances and trackers on it follow. */
    private readonly onLink: (iface: Interface, up: boolean) => void,
  ) {
    this.debounce = new LinkDebounce(linkDelays(config, log), log, (index, up) => this.linkState(index, up));
  }

  get(name: string): Interface | undefined {
    return this.map.get(name);
  }

  /** Is `index` one of the interfaces looked up (or made)? */
  knows(index: number): boolean {
    for (const i of this.map.values()) if (i.index === index) return true;
    return false;
  }

  /** An interface vipd made (a VMAC), known from now on. */
  add(iface: Interface): void {
    this.map.set(iface.name, iface);
  }

  /** The interface's index; throws for a name that was not resolved (an internal error: resolve() checks them all). */
  indexOf(name: string): number {
    const i = this.map.get(name);
    if (!i) throw new Error(`internal: interface ${name} was not looked up`);
    return i.index;
  }

  /**
   * Look up every interface of `c` (a reload: again, for fresh records). The addresses of
   * `also` (the running configuration, on reload) and of `c` are VIPs: never taken as an
   * interface's own address. Throws, naming the line, for an interface that does not exist.
   */
  async resolve(c: DaemonConfig, also?: DaemonConfig): Promise<void> {
    const managed = new Set([...configAddresses(c), ...(also ? configAddresses(also) : [])]);
    const seen = new Set<string>();
    for (const w of wantedInterfaces(c)) {
      if (seen.has(w.name)) continue;
      seen.add(w.name);
      try {
        this.map.set(w.name, await lookupInterface(this.rtnl, w.name, managed));
      } catch (e) {
        if (e instanceof NetlinkError && e.code === 'ENODEV') throw new Error(`${w.why}interface ${w.name} does not exist in this network namespace`);
        throw e;
      }
    }
  }

  /**
   * keepalived's `dynamic_interfaces`: the instances of `c` whose own interface does not exist
   * (their names, with the interface), when the option is on; none otherwise (resolve() then
   * refuses them, naming the line). Touches nothing.
   */
  async missing(c: DaemonConfig): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (c.global.dynamicInterfaces === 'off') return out;
    const links = new Map((await this.rtnl.links()).map((l) => [l.name, l.index]));
    for (const i of c.instances) {
      const index = links.get(i.interface);
      // a link that exists but has no address to send adverts from yet (just created) waits too
      if (index !== undefined && (i.unicastSrc ?? i.mcastSrc ?? (await this.source(index, i.family)))) continue;
      out.set(i.name, i.interface);
    }
    return out;
  }

  /** The first address adverts could come from: the link's IPv4, or its IPv6 link-local. */
  private async source(index: number, family: 4 | 6): Promise<string | undefined> {
    const addrs = await this.rtnl.addresses(index).catch(() => []);
    return addrs.find((a) => a.family === family && (family === 4 || a.address.startsWith('fe80:')))?.address;
  }

  /** A reload's interface_up_down_delays. */
  setDelays(c: DaemonConfig): void {
    this.debounce.setDelays(linkDelays(c, this.log));
  }

  /** A link of a known name appeared with another index (deleted and created again). */
  onRecreated: ((name: string) => void) | null = null;

  /** An rtnetlink link event. */
  onLinkEvent(op: 'new' | 'del', link: LinkInfo): void {
    const known = this.map.get(link.name);
    if (op === 'new' && known && known.index !== link.index) this.onRecreated?.(link.name);
    const iface = [...this.map.values()].find((i) => i.index === link.index);
    if (iface) this.debounce.onLink(iface.index, iface.name, op === 'new' && link.up && link.lowerUp, iface.up);
  }

  /** After lost events: every link as the kernel has it now. */
  async resync(): Promise<void> {
    const links = new Map((await this.rtnl.links()).map((l) => [l.index, l.up && l.lowerUp]));
    for (const iface of [...this.map.values()]) this.linkState(iface.index, links.get(iface.index) ?? false);
  }

  private linkState(index: number, up: boolean): void {
    for (const iface of this.map.values()) {
      if (iface.index !== index) continue;
      const was = iface.up;
      iface.up = up;
      if (was !== up) this.onLink(iface, up);
    }
  }

  close(): void {
    this.debounce.close();
  }
}
