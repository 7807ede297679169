/**
 * The gratuitous ARPs / unsolicited NAs of one instance (its InstanceRunner's): the MASTER
 * burst once the kernel has the VIPs, the lower-priority re-announcement, keepalived's
 * garp_master_refresh, and the burst for addresses a reload added. Each kind is keyed apart in
 * the announcers, so that one never cancels another; leaving MASTER cancels them all.
 */
import type { InstanceModel } from '../config/model.js';
import type { State } from '../core/instance.js';
import type { Interface } from '../os/iface.js';
import type { Announcer } from './announcer.js';
import { nowUs } from './clock.js';
import type { RunnerDeps, RunnerStats } from './runner-types.js';

/** What the announcements read of their instance. */
export interface AnnouncedInstance {
  readonly model: InstanceModel;
  readonly stats: RunnerStats;
  readonly core: { readonly holdsVips: boolean; readonly state: State; readonly effective: number };
}

export class RunnerAnnouncements {
  /** The announcers' keys: the MASTER burst is keyed by the instance itself. */
  private readonly lowerPrioKey: object;
  private readonly refreshKey: object;
  private readonly addedKey: object;
  /** When the last lower-priority re-announcement went out (microseconds). */
  private reannouncedAt = -Infinity;
  /** When the next garp_master_refresh burst is due (microseconds; Infinity: none). */
  refreshAt = Infinity;
  /** Announcers and their VIPs, made on the first announcement. */
  private groups: Map<Announcer, InstanceModel['vips']> | null = null;
  /** Bumped on leaving MASTER: a burst waiting for the kernel's ack is then dropped. */
  private token = 0;

  constructor(
    private readonly r: AnnouncedInstance,
    private readonly d: RunnerDeps,
    /** Where its addresses without `dev` live when not on the socket's interface (its VMAC with vmac_xmit_base). */
    private readonly vipIface: Interface | null,
  ) {
    this.lowerPrioKey = { owner: r };
    this.refreshKey = { owner: r };
    this.addedKey = { owner: r };
  }

  /** On becoming MASTER: garp_master_repeat now and again after garp_master_delay, once the VIPs are on the interface (keepalived too waits for the kernel's ack). */
  master(): void {
    const m = this.r.model;
    this.refreshAt = m.garpMasterRefreshS > 0 ? nowUs() + m.garpMasterRefreshS * 1e6 : Infinity;
    const token = this.token;
    this.d.holder.afterSettled(m.name, () => {
      if (token !== this.token || !this.r.core.holdsVips) return;
      for (const [a, vips] of this.byAnnouncer()) a.announce(this.r, vips, this.r.model.garpMasterRepeat, this.r.model.garpMasterDelayS);
    });
  }

  /**
   * A MASTER heard a lower-priority master. keepalived sends a burst (and runs
   * notify_master_rx_lower_pri) for every such advert; a peer that cannot hear us (a one-way
   * partition) sends one every interval, at 10 ms too: once per own advert interval at most,
   * the rest are covered by the pending second burst.
   */
  lowerPrio(): void {
    const now = nowUs();
    if (now - this.reannouncedAt < this.r.model.advertIntervalUs) return;
    this.reannouncedAt = now;
    this.d.emit({ type: 'lowerPrio', instance: this.r.model.name, priority: this.r.core.effective });
    this.lowerPrioBurst();
  }

  /**
   * garp_lower_prio_repeat announcements now and after garp_lower_prio_delay, if the instance
   * holds its VIPs: for its own lower-priority advert, and (keepalived's vrrp_state_master_rx)
   * when another member of its sync group heard one (NotifyHub).
   */
  lowerPrioBurst(): void {
    const m = this.r.model;
    if (!this.r.core.holdsVips || m.garpLowerPrioRepeat === 0) return;
    this.r.stats.reannounced++;
    for (const [a, vips] of this.byAnnouncer()) a.announce(this.lowerPrioKey, vips, m.garpLowerPrioRepeat, m.garpLowerPrioDelayS);
  }

  /** keepalived's garp_master_refresh: checked as each advert goes out (as keepalived does). */
  refreshDue(): void {
    const now = nowUs();
    if (now < this.refreshAt || this.r.core.state !== 'MASTER') return;
    const m = this.r.model;
    this.refreshAt = now + m.garpMasterRefreshS * 1e6;
    for (const [a, vips] of this.byAnnouncer()) a.announce(this.refreshKey, vips, m.garpMasterRefreshRepeat, 0);
  }

  /** A reload changed the model: the groups are made again; a MASTER announces only `added`, once the kernel has them. */
  reconfigured(oldRefreshS: number, added: InstanceModel['vips']): void {
    const m = this.r.model;
    this.groups = null;
    if (m.garpMasterRefreshS !== oldRefreshS) this.refreshAt = m.garpMasterRefreshS > 0 && this.r.core.state === 'MASTER' ? nowUs() + m.garpMasterRefreshS * 1e6 : Infinity;
    if (!added.length || !this.r.core.holdsVips) return;
    const token = this.token;
    this.d.holder.afterSettled(m.name, () => {
      if (token !== this.token || !this.r.core.holdsVips) return;
      for (const [a, vips] of this.byAnnouncer()) {
        const fresh = vips.filter((v) => added.includes(v));
        if (fresh.length) a.announce(this.addedKey, fresh, m.garpMasterRepeat, m.garpMasterDelayS);
      }
    });
  }

  /** Every pending burst of this instance cancelled (leaving MASTER, detach, stop). */
  cancel(): void {
    this.refreshAt = Infinity;
    this.token++;
    for (const a of this.groups ? this.groups.keys() : [this.d.announcer]) {
      a.cancel(this.r);
      a.cancel(this.lowerPrioKey);
      a.cancel(this.addedKey);
    }
  }

  /**
   * The addresses per announcer: those on the instance's interface, and those with a `dev`
   * of their own on theirs; virtual_ipaddress_excluded ones too (keepalived announces them).
   */
  private byAnnouncer(): Map<Announcer, InstanceModel['vips']> {
    if (this.groups) return this.groups;
    const m = this.r.model;
    const g = new Map<Announcer, InstanceModel['vips']>();
    for (const v of [...m.vips, ...m.vipsExcluded]) {
      const own = v.family === m.family && this.vipIface && this.vipIface !== this.d.iface ? this.vipIface : undefined;
      const iface = v.dev && v.dev !== m.interface ? this.d.ifaceOf(v.dev) : own;
      const a = iface && this.d.announcerOf ? this.d.announcerOf(iface) : this.d.announcer;
      g.set(a, [...(g.get(a) ?? []), v]);
    }
    return (this.groups = g);
  }
}
