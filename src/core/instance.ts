/**
 * One VRRP instance: the state machine of RFC 9568 section 6 (VRRPv3) with the VRRPv2
 * differences of RFC 3768 (fixed interval), plus keepalived's FAULT state, trackers,
 * nopreempt and preempt_delay. Sans-I/O: events in (with the current time in microseconds),
 * ordered actions out, to the sink given at construction (the daemon's runner; an ActionLog in
 * tests and the simulator). The instance keeps one timer; `deadline` says
 * when it is due. RFC 9568 names the states Initialize / Backup / Active; operators know
 * Active as MASTER.
 */
import { compareAddr } from '../protocol/addr.js';
import { AWAITING_TRACKERS, RESUMED, type State } from './actions.js';
import type { TrackerEffect, TrackerState } from './priority.js';
import { InstanceCore } from './instance-core.js';
import type { AdvertIn, Reconfigurable } from './instance-config.js';

export type { Action, ActionSink, AnnounceWhy, State, TimerKind } from './actions.js';
export { AWAITING_TRACKERS, RESUMED } from './actions.js';
export type { AdvertIn, InstanceConfig, MasterInfo, Reconfigurable } from './instance-config.js';
export { InstanceCore } from './instance-core.js';

export class VrrpInstance extends InstanceCore {
  // ---- events -------------------------------------------------------------------------------

  /** RFC 9568 6.4.1: Startup. */
  /**
   * `resume`: the state of the instance this one replaces (a reload restarted it on a new
   * socket with the same VRID, interface and family): a MASTER goes on as MASTER (its VIPs
   * were never let go; the others' Master_Down timers were running on its adverts), with
   * RESUMED as the reason (no notify: keepalived notifies nothing for a state kept).
   */
  start(now: number, resume?: State): void {
    if (this.state !== 'INIT') return;
    // held only by trackers that have not reported: FAULT without news, as keepalived's (init)
    if (this.hasOwnFault) this.toFault(now, this.awaitingTrackers ? AWAITING_TRACKERS : 'startup with fault');
    else if (this.group?.holdsFault(this)) this.toFault(now, 'sync group in FAULT');
    else if (this.effective === 255 && (!this.group || this.group.canGoMaster(this))) this.toMaster(now, 'address owner');
    else if (resume === 'MASTER' && (!this.group || this.group.canGoMaster(this))) this.toMaster(now, RESUMED);
    else this.toBackup(now, resume === 'BACKUP' ? RESUMED : 'startup', this.config.advertIntervalUs);
  }

  /** RFC 9568 6.4.2/6.4.3: Shutdown. An Active router sends priority 0 first. */
  shutdown(now: number): void {
    if (this.state === 'INIT') return;
    if (this.state === 'MASTER') {
      if (this.handingOver !== 'resign') this.out.send(0);
      this.releaseVips();
    }
    this.clearTimer();
    this.transition(now, 'INIT', 'shutdown');
  }

  /** An advert for this VRID that passed receive validation (RFC 9568 7.1). */
  advert(now: number, adv: AdvertIn): void {
    // A master that keeps its role stays the master it reports (a lower advert is not one).
    if (adv.priority > 0 && (this.state !== 'MASTER' || this.senderWins(adv))) {
      const m = (this.heard ??= { address: null, self: false, priority: 0, intervalUs: 0, lastAdvertAt: 0 });
      m.address = adv.src;
      m.priority = adv.priority;
      m.intervalUs = adv.intervalUs;
      m.lastAdvertAt = now;
      this.master = m;
    } else if (this.master && !this.master.self && this.master.address && compareAddr(this.master.address, adv.src) === 0) {
      this.master = null; // the master resigned
    }
    switch (this.state) {
      case 'BACKUP':
        this.backupAdvert(now, adv);
        break;
      case 'MASTER':
        this.masterAdvert(now, adv);
        break;
      default:
        break; // INIT and FAULT do not take part in the election
    }
  }

  /** The timer fired (the caller only calls this at or after `deadline`). */
  timerFired(now: number): void {
    if (!this.tKind || now < this.tAt) return;
    if (this.state === 'BACKUP' && this.tKind === 'masterDown') {
      // vipd: a timer judged a whole master interval or more after it fell due means this
      // router itself was not running then (a stopped process, or a paused VM whose master
      // may have been paused too): adverts sent meanwhile may still be on their way in, so
      // listen one interval more, once. A backup that runs on time is not delayed.
      if (!this.graceArmed && now - this.tAt >= this.masterAdverIntervalUs) {
        this.setTimer('masterDown', now + this.masterAdverIntervalUs);
        this.graceArmed = true;
        return;
      }
      // RFC 9568 6.4.2: Master_Down_Timer fires -> Active; in a sync group only when every
      // member wants it (keepalived vrrp_sync_can_goto_master: else wait another interval)
      this.wantMaster = true;
      if (this.group && !this.group.canGoMaster(this)) {
        this.setTimer('masterDown', now + this.masterDownIntervalUs);
        return;
      }
      this.toMaster(now, 'master down timer expired');
    } else if (this.state === 'MASTER' && this.tKind === 'adver') {
      // RFC 9568 6.4.3: Adver_Timer fires -> send, reset. Scheduled from the previous deadline
      // so that adverts do not drift; after a stall, from now.
      this.out.send(this.effective);
      const next = this.tAt + this.config.advertIntervalUs;
      this.setTimer('adver', next > now ? next : now + this.config.advertIntervalUs);
    } else {
      this.clearTimer();
    }
  }

  /**
   * A tracker's effect changed (script, interface, file, process: `trackerEffect`). Unknown
   * names are ignored. A new effective priority goes into the next advert; a backup's running
   * Master_Down_Timer moves by the change of Skew_Time (keepalived vrrp_set_effective_priority).
   */
  setTracker(now: number, name: string, effect: TrackerEffect): void {
    const t = this.trackers.find((x) => x.name === name);
    if (!t || (t.delta === effect.delta && t.fault === effect.fault && Boolean(t.pending) === Boolean(effect.pending))) return;
    const why = effect.fault !== t.fault ? (effect.fault ? 'down' : 'up') : `weight ${effect.delta >= 0 ? '+' : ''}${effect.delta}`;
    t.delta = effect.delta;
    t.fault = effect.fault;
    t.pending = effect.pending;
    this.recompute(now, `tracker ${name} ${why}`);
  }

  /** The configured base priority changed (reload). */
  setBasePriority(now: number, priority: number): void {
    this.basePriority = priority;
    this.recompute(now, `priority set to ${priority}`);
  }

  /**
   * A reload changed settings that apply in place (src/daemon/reload-plan.ts): the state,
   * the VIPs held and the master record are kept. `trackers`: the instance's tracker set now
   * (a reload may add or drop `track_*` lines); `keep(name)`: a tracker that has not reported
   * since the reload keeps the effect this instance had from it. One recompute: one new
   * effective priority, into the next advert (no priority-0 advert, no extra transition:
   * keepalived's reload keeps instances the same way). A new Adver_Int takes effect from the
   * next advert of a MASTER (sooner if the new interval ends before the armed one); a BACKUP
   * keeps the master's interval it learned (VRRPv3), or takes the new one (VRRPv2, fixed).
   */
  reconfigure(now: number, c: Reconfigurable, trackers: readonly TrackerState[], keep: (name: string) => boolean = () => false): void {
    const oldDown = this.masterDownIntervalUs;
    const oldInterval = this.config.advertIntervalUs;
    this.config = { ...this.config, ...c };
    this.basePriority = c.priority;
    const had = new Map(this.trackers.map((t) => [t.name, t]));
    this.trackers.length = 0;
    for (const t of trackers) this.trackers.push(keep(t.name) && had.has(t.name) ? had.get(t.name)! : { ...t });
    if (!c.preemptDelayUs) this.preemptDeadline = null;
    if (c.advertIntervalUs !== oldInterval && (this.config.version === 2 || this.state !== 'BACKUP')) {
      this.masterAdverIntervalUs = c.advertIntervalUs;
      if (this.master?.self) this.master.intervalUs = c.advertIntervalUs;
      if (this.state === 'MASTER' && this.tKind === 'adver' && this.tAt > now + c.advertIntervalUs) this.setTimer('adver', now + c.advertIntervalUs);
    }
    this.recompute(now, 'reload', oldDown);
  }

  /** The interface went down or up; down is a FAULT (keepalived semantics). */
  setLink(now: number, up: boolean): void {
    if (this.linkUp === up) return;
    this.linkUp = up;
    this.recompute(now, `interface ${up ? 'up' : 'down'}`);
  }

  /**
   * vipd handover, make-before-break (docs/handover.md). A MASTER either resigns ('resign':
   * priority 0 now, so that the backups take over after Skew_Time, RFC 9568 6.4.2, whatever
   * their preempt mode) but keeps its VIPs and stays silent, or advertises `how` instead of
   * its effective priority, so that a backup above it preempts (6.4.2). Either way it lets go
   * of the VIPs only when the new master's first advert arrives (6.4.3), and then does not
   * preempt that master (yieldTo). False unless MASTER and not already handing over.
   */
  handover(now: number, how: 'resign' | number): boolean {
    if (this.state !== 'MASTER' || this.handingOver !== null || this.effective === 255) return false;
    this.handingOver = how;
    if (how === 'resign') {
      this.out.send(0);
      this.clearTimer();
    } else this.recompute(now, `handover: advertising ${how}`);
    return true;
  }

  /** No router took over: advertise at the effective priority again (a MASTER that resigned sends at once). */
  cancelHandover(now: number): void {
    const how = this.handingOver;
    if (how === null) return;
    this.handingOver = null;
    if (how !== 'resign') this.recompute(now, 'handover cancelled');
    else if (this.state === 'MASTER') {
      this.out.send(this.effective);
      this.setTimer('adver', now + this.config.advertIntervalUs);
    }
  }

  /** vipd maintenance on/off: priority 1 while on (still the last resort when no other router runs). */
  setMaintenance(now: number, on: boolean): void {
    if (this.maintenance === on) return;
    this.maintenance = on;
    // back in service: the normal election, not the yield of the handover that began the maintenance
    if (!on) this.yieldTo = null;
    this.yieldNext = false;
    this.recompute(now, `maintenance ${on ? 'on' : 'off'}`);
  }

  // ---- sync group hooks (keepalived vrrp_sync_group) ----------------------------------------

  /** Follow a group member to MASTER: from BACKUP only (nothing otherwise). */
  forceMaster(now: number, reason: string): void {
    if (this.state === 'BACKUP') this.toMaster(now, reason);
  }

  /** Follow a group member to BACKUP: from MASTER only (nothing otherwise). */
  forceBackup(now: number, reason: string): void {
    if (this.state === 'MASTER') this.toBackup(now, reason, this.masterAdverIntervalUs);
  }

  /**
   * Follow a group member into FAULT (from MASTER or BACKUP) or out of it (from FAULT, unless
   * this instance has a fault of its own); nothing otherwise.
   */
  forceFault(now: number, fault: boolean, reason: string): void {
    if (fault && (this.state === 'MASTER' || this.state === 'BACKUP')) this.toFault(now, reason);
    else if (!fault && this.state === 'FAULT' && !this.hasOwnFault) this.leaveFault(now, reason);
  }

  // ---- RFC 9568 6.4.2 / 6.4.3 ---------------------------------------------------------------

  private backupAdvert(now: number, adv: AdvertIn): void {
    if (adv.priority === 0) {
      // 6.4.2: a resigning master: take over after Skew_Time only
      this.setTimer('masterDown', now + this.skewTimeUs);
      return;
    }
    // another master, or the one handed over to advertising another priority than it took over
    // with (its trackers, or a handover of its own, --to this router): the yield is over
    if (this.yieldNext) {
      this.yieldNext = false;
      this.yieldTo = Uint8Array.from(adv.src);
      this.yieldPriority = adv.priority;
    } else if (this.yieldTo && (compareAddr(adv.src, this.yieldTo) !== 0 || adv.priority !== this.yieldPriority)) this.yieldTo = null;
    const lower = adv.priority < this.effective && !this.yieldTo;
    if (lower && this.config.preempt && this.preemptDelayOver(now)) return; // 6.4.2: discard
    if (!lower) this.preemptDeadline = null;
    this.wantMaster = false; // keepalived: held in BACKUP by a sync group, a master heard again
    // 6.4.2: adopt the master's interval (v3 only; v2 intervals are fixed and validated equal)
    if (this.config.version === 3) this.masterAdverIntervalUs = adv.intervalUs;
    this.setTimer('masterDown', now + this.masterDownIntervalUs);
  }

  private preemptDelayOver(now: number): boolean {
    if (!this.config.preemptDelayUs) return true;
    if (this.preemptDeadline === null) this.preemptDeadline = now + this.config.preemptDelayUs;
    return now >= this.preemptDeadline;
  }

  private masterAdvert(now: number, adv: AdvertIn): void {
    if (adv.priority === 0) {
      // 6.4.3: another router resigned: send an advert at once and reset the Adver_Timer
      this.out.send(this.effective);
      this.setTimer('adver', now + this.config.advertIntervalUs);
      return;
    }
    if (this.senderWins(adv)) {
      if (this.handingOver !== null) {
        this.yieldTo = Uint8Array.from(adv.src);
        this.yieldPriority = adv.priority;
      }
      // keepalived's higher_prio_send_advert: one advert first, so that a peer that hears
      // only this router (a one-way partition) learns of it too
      // (not when resigned for a handover: its effective priority would beat the new master)
      if (this.config.higherPrioSendAdvert && this.handingOver !== 'resign') this.out.send(this.effective);
      // 6.4.3: a better master exists -> Backup with its interval
      const interval = this.config.version === 3 ? adv.intervalUs : this.masterAdverIntervalUs;
      this.toBackup(now, this.handingOver !== null ? 'handover: new master heard' : 'higher priority advert received', interval);
      return;
    }
    // 6.4.3 (RFC 9568): answer a lower-priority advert at once so it stands down quickly;
    // keepalived's lower_prio_no_advert turns this off. A lower-priority master may have
    // announced the VIPs (a partition that healed): announce them again (keepalived too).
    if (!this.config.lowerPrioNoAdvert) this.out.send(this.effective);
    this.out.announce('lowerPrio');
  }

  /** RFC 9568 6.4.3: higher priority wins; equal priority -> the higher primary address wins. */
}
