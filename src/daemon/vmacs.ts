/**
 * The VMAC links of a configuration (keepalived's `use_vmac [NAME]`, `vmac_xmit_base`): one
 * private macvlan per instance with the RFC 9568 7.3 virtual MAC (src/os/vmac.ts), created
 * at start (and on reload for new instances) in every state, deleted at stop, as keepalived
 * does (vrrp.c vrrp_complete_instance, vrrp_daemon.c shutdown). What follows from it:
 * - the instance's addresses of its family without a `dev` go on the VMAC;
 * - its adverts are sent and received on the VMAC (keepalived never splits them), unless
 *   `vmac_xmit_base` (forced with unicast peers, as keepalived forces it): then on the
 *   parent, as without VMAC;
 * - gratuitous ARPs and NAs leave through the VMAC, with the virtual MAC as source.
 * The parent's sysctls keepalived changes (arp_ignore, arp_filter, rp_filter) are given back
 * at stop; after a crash the guardian deletes the links but not the sysctls.
 */
import type { Logger } from 'pino';
import type { DaemonConfig, InstanceModel } from '../config/model.js';
import type { Interface } from '../os/iface.js';
import type { Rtnl } from '../os/rtnl.js';
import { createVmac, defaultVmacName, deleteVmac, validLinkName, vmacDelLine, VmacHostSysctls } from '../os/vmac.js';
import { formatMac } from '../protocol/addr.js';
import type { Interfaces } from './interfaces.js';

/** Instance name → its VMAC's name and sending mode (Vmacs.prepare). */
export type VmacPlan = Map<string, Planned>;

interface Planned {
  name: string;
  instance: InstanceModel;
  xmitBase: boolean;
}

interface Held {
  name: string;
  index: number;
  iface: Interface;
  /** The instance that made it (same vrid, family and parent keep it over a reload). */
  key: string;
}

const keyOf = (m: InstanceModel, name: string): string => `${name} ${m.interface} ${m.vrid} ${m.family}`;

export class Vmacs {
  private plan = new Map<string, Planned>();
  private readonly held = new Map<string, Held>();
  private readonly host = new VmacHostSysctls();

  constructor(
    private readonly rtnl: Rtnl,
    private readonly log: Logger,
  ) {}

  /**
   * The names of `c`'s VMACs (keepalived's naming when `use_vmac` names none). Touches
   * nothing; throws, naming the line, for an invalid name or two instances wanting one name.
   */
  async prepare(c: DaemonConfig): Promise<Map<string, Planned>> {
    const existing = new Set((await this.rtnl.links()).map((l) => l.name));
    const mine = new Set([...this.held.keys()]);
    const plan = new Map<string, Planned>();
    const used = new Set<string>();
    for (const m of c.instances) {
      if (!m.vmac) continue;
      const prefix = c.global.other.vmac_prefix?.[0] ?? 'vrrp';
      const name = m.vmac.name ?? defaultVmacName(m.vrid, m.family, (n) => used.has(n) || (existing.has(n) && !mine.has(n) && n !== defaultVmacName(m.vrid, m.family, () => false, prefix)), prefix);
      if (!validLinkName(name)) throw new Error(`${m.pos.file}:${m.pos.line}: use_vmac ${name}: not a valid interface name (1..15 bytes, no '/', ':' or space)`);
      if (used.has(name)) throw new Error(`${m.pos.file}:${m.pos.line}: use_vmac ${name}: another instance uses this VMAC name`);
      used.add(name);
      plan.set(m.name, { name, instance: m, xmitBase: m.vmac.xmitBase || m.unicastPeers.length > 0 });
    }
    return plan;
  }

  /** Where the instance's adverts go (its VMAC, unless vmac_xmit_base), or null: its own interface. */
  sendIface(instance: string): Interface | null {
    const p = this.plan.get(instance);
    return p && !p.xmitBase ? (this.held.get(p.name)?.iface ?? null) : null;
  }

  /** The VMAC carrying the instance's addresses, or null. */
  vipIface(instance: string): Interface | null {
    const p = this.plan.get(instance);
    return p ? (this.held.get(p.name)?.iface ?? null) : null;
  }

  /** The VMAC's name for the objects of `m` (where its addresses without `dev` go), from a prepared plan. */
  static vipDev(plan: Map<string, Planned>, m: InstanceModel): string | undefined {
    return plan.get(m.name)?.name;
  }

  /**
   * Make the links of `plan` (created, or adopted when an earlier run's is right) and
   * register them in `ifaces`; delete the ones no instance wants any more. Throws the first
   * failure (the kernel's error, a sysctl that cannot be written).
   */
  async apply(plan: Map<string, Planned>, ifaces: Interfaces): Promise<void> {
    const wanted = new Set([...plan.values()].map((p) => keyOf(p.instance, p.name)));
    for (const [name, h] of [...this.held]) {
      if (wanted.has(h.key)) continue;
      await this.drop(name, h);
    }
    for (const p of plan.values()) {
      const m = p.instance;
      const key = keyOf(m, p.name);
      if (this.held.get(p.name)?.key === key) continue;
      const parent = ifaces.get(m.interface)!;
      const linkLocal = m.family === 6 && !p.xmitBase ? (m.unicastSrc ?? m.mcastSrc ?? parent.linkLocalV6 ?? undefined) : undefined;
      const otherFamilyVips = [...m.vips, ...m.vipsExcluded].some((v) => v.family !== m.family && !v.dev);
      const v = await createVmac(this.rtnl, { name: p.name, parentIndex: parent.index, vrid: m.vrid, family: m.family, linkLocal, otherFamilyVips, host: this.host });
      const iface: Interface = { name: v.name, index: v.index, mac: v.mac, macText: formatMac(v.mac), up: true, primaryV4: parent.primaryV4, linkLocalV6: linkLocal ?? parent.linkLocalV6 };
      this.held.set(p.name, { name: p.name, index: v.index, iface, key });
      ifaces.add(iface);
      this.log.info({ instance: m.name, vmac: v.name, mac: iface.macText, adopted: v.adopted }, `(${m.name}) ${v.adopted ? 'using the existing' : 'created'} VMAC ${v.name} (${iface.macText}) on ${m.interface}`);
    }
    this.plan = plan;
  }

  /** The crash guardian's lines for the links held now. */
  guardianLines(): string[] {
    return [...this.held.keys()].map((n) => `${vmacDelLine(n)}\n`);
  }

  private async drop(name: string, h: Held): Promise<void> {
    this.held.delete(name);
    try {
      await deleteVmac(this.rtnl, h.index, this.host);
    } catch (e) {
      this.log.error({ vmac: name, err: (e as Error).message }, `could not delete VMAC ${name}`);
    }
  }

  /** Clean exit, after the instances have let go: every VMAC deleted, the host's sysctls given back. */
  async stop(): Promise<void> {
    for (const [name, h] of [...this.held]) await this.drop(name, h);
    try {
      await this.host.restore();
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'could not give the sysctls changed for VMACs back');
    }
  }
}
