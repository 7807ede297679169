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
import { RESUMED, type ActionSink, type State, type TimerKind } from './actions.js';
import { effectivePriority, type TrackerEffect, type TrackerState } from './priority.js';
import type { GroupGate } from './sync-group.js';
import { masterDownIntervalUs, skewTimeUs } from './timers.js';
import type { AdvertIn, InstanceConfig, MasterInfo, Reconfigurable } from './instance-config.js';

export type { Action, ActionSink, AnnounceWhy, State, TimerKind } from './actions.js';
export { RESUMED } from './actions.js';
export type { AdvertIn, InstanceConfig, MasterInfo, Reconfigurable } from './instance-config.js';

export class VrrpInstance {
  /** Replaced (never mutated) by reconfigure. */
  config: Readonly<InstanceConfig>;
  state: State = 'INIT';
  masterAdverIntervalUs: number;
  // The one timer as two fields, not an object: a backup re-arms it on every advert, and a
  // fresh object per advert outlives the young generation only to die in the old one.
  private tKind: TimerKind | null = null;
  private tAt = 0;
  /** The armed Master_Down_Timer is a late one's grace (see timerFired). */
  private graceArmed = false;
  private readonly trackers: TrackerState[] = [];
  private basePriority: number;
  private linkUp = true;
  private preemptDeadline: number | null = null;
  effective: number;
  faults: string[] = [];
  /** The current master. The record of another router is updated in place on each advert. */
  master: MasterInfo | null = null;
  private heard: MasterInfo | null = null;
  holdsVips = false;
  /**
   * keepalived's wantstate MASTER, for sync groups: the Master_Down_Timer fired (or the
   * instance is MASTER) and no master has been heard since.
   */
  wantMaster = false;
  /** The sync group, if any (SyncGroup joins its members). */
  private group: GroupGate | null = null;
  /** Where every event's actions go, in order. */
  private readonly out: ActionSink;

  /** `sink` receives every action of every event, synchronously and in order (see ActionSink). */
  constructor(config: InstanceConfig, sink: ActionSink) {
    this.out = sink;
    this.config = { preempt: true, preemptDelayUs: 0, acceptMode: false, lowerPrioNoAdvert: false, downTimerAdverts: 3, higherPrioSendAdvert: false, ...config };
    this.masterAdverIntervalUs = config.advertIntervalUs;
    this.basePriority = config.priority;
    for (const t of config.trackers ?? []) this.trackers.push({ ...t });
    const e = effectivePriority(this.basePriority, this.trackers);
    this.effective = e.priority;
    this.faults = e.faults;
    this.wantMaster = this.effective === 255;
  }

  /** Called by SyncGroup's constructor, before start; null: the instance left its group (a reload). */
  joinGroup(g: GroupGate | null): void {
    this.group = g;
  }

  /** When the instance's single timer is due, or null. */
  get deadline(): number | null {
    return this.tKind ? this.tAt : null;
  }
  get timerKind(): TimerKind | null {
    return this.tKind;
  }

  get masterDownIntervalUs(): number {
    return masterDownIntervalUs(this.config.version, this.effective, this.masterAdverIntervalUs, this.config.downTimerAdverts);
  }

  get skewTimeUs(): number {
    return skewTimeUs(this.config.version, this.effective, this.masterAdverIntervalUs);
  }

  /** A fault of its own: link down or a weight-0 tracker down. */
  get hasOwnFault(): boolean {
    return !this.linkUp || this.faults.length > 0;
  }

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
    if (this.hasOwnFault) this.toFault(now, 'startup with fault');
    else if (this.group?.holdsFault(this)) this.toFault(now, 'sync group in FAULT');
    else if (this.effective === 255 && (!this.group || this.group.canGoMaster(this))) this.toMaster(now, 'address owner');
    else if (resume === 'MASTER' && (!this.group || this.group.canGoMaster(this))) this.toMaster(now, RESUMED);
    else this.toBackup(now, resume === 'BACKUP' ? RESUMED : 'startup', this.config.advertIntervalUs);
  }

  /** RFC 9568 6.4.2/6.4.3: Shutdown. An Active router sends priority 0 first. */
  shutdown(now: number): void {
    if (this.state === 'INIT') return;
    if (this.state === 'MASTER') {
      this.out.send(0);
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
    if (!t || (t.delta === effect.delta && t.fault === effect.fault)) return;
    const why = effect.fault !== t.fault ? (effect.fault ? 'down' : 'up') : `weight ${effect.delta >= 0 ? '+' : ''}${effect.delta}`;
    t.delta = effect.delta;
    t.fault = effect.fault;
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
    const lower = adv.priority < this.effective;
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
      // keepalived's higher_prio_send_advert: one advert first, so that a peer that hears
      // only this router (a one-way partition) learns of it too
      if (this.config.higherPrioSendAdvert) this.out.send(this.effective);
      // 6.4.3: a better master exists -> Backup with its interval
      const interval = this.config.version === 3 ? adv.intervalUs : this.masterAdverIntervalUs;
      this.toBackup(now, 'higher priority advert received', interval);
      return;
    }
    // 6.4.3 (RFC 9568): answer a lower-priority advert at once so it stands down quickly;
    // keepalived's lower_prio_no_advert turns this off. A lower-priority master may have
    // announced the VIPs (a partition that healed): announce them again (keepalived too).
    if (!this.config.lowerPrioNoAdvert) this.out.send(this.effective);
    this.out.announce('lowerPrio');
  }

  /** RFC 9568 6.4.3: higher priority wins; equal priority -> the higher primary address wins. */
  protected senderWins(adv: AdvertIn): boolean {
    if (adv.priority !== this.effective) return adv.priority > this.effective;
    return compareAddr(adv.src, this.config.primaryAddress) > 0;
  }

  // ---- transitions --------------------------------------------------------------------------

  /** `oldDown`: the Master_Down_Interval before the change (when the change already moved it). */
  private recompute(now: number, reason: string, oldDown = this.masterDownIntervalUs): void {
    const wasFaulted = this.state === 'FAULT';
    const e = effectivePriority(this.basePriority, this.trackers);
    this.effective = e.priority;
    this.faults = e.faults;
    if (this.master?.self) this.master.priority = e.priority;
    if (this.state === 'INIT') return;
    if (this.state === 'BACKUP' && this.tKind === 'masterDown' && !this.graceArmed && this.masterDownIntervalUs !== oldDown) {
      this.setTimer('masterDown', Math.max(now, this.tAt + this.masterDownIntervalUs - oldDown));
    }
    if (this.hasOwnFault && !wasFaulted) this.toFault(now, reason);
    else if (!this.hasOwnFault && wasFaulted) this.leaveFault(now, reason);
  }

  private toMaster(now: number, reason: string): void {
    // RFC 9568 6.4.1/6.4.2: send an advert, announce the VIPs, arm the Adver_Timer
    this.out.send(this.effective);
    if (!this.holdsVips) {
      this.out.addVips();
      this.holdsVips = true;
    }
    this.out.announce('master');
    this.setTimer('adver', now + this.config.advertIntervalUs);
    this.master = { address: null, self: true, priority: this.effective, intervalUs: this.config.advertIntervalUs, lastAdvertAt: now };
    this.wantMaster = true;
    this.transition(now, 'MASTER', reason);
  }

  private toBackup(now: number, reason: string, masterIntervalUs: number): void {
    this.releaseVips();
    // keepalived: every entry into BACKUP restarts preempt_delay (armed by the first lower advert)
    this.preemptDeadline = null;
    this.masterAdverIntervalUs = masterIntervalUs;
    if (this.master?.self) this.master = null;
    this.setTimer('masterDown', now + this.masterDownIntervalUs);
    this.wantMaster = false;
    this.transition(now, 'BACKUP', reason);
  }

  private toFault(now: number, reason: string): void {
    // keepalived: a master going to FAULT resigns with priority 0 (if its link can still send)
    if (this.state === 'MASTER' && this.linkUp) this.out.send(0);
    this.releaseVips();
    if (this.master?.self) this.master = null;
    this.clearTimer();
    this.wantMaster = false;
    this.transition(now, 'FAULT', reason);
  }

  private leaveFault(now: number, reason: string): void {
    // keepalived try_up_instance: a sync group stays in FAULT while any member has a fault
    if (this.group?.holdsFault(this)) return;
    if (this.effective === 255 && (!this.group || this.group.canGoMaster(this))) this.toMaster(now, reason);
    else this.toBackup(now, reason, this.config.advertIntervalUs);
  }

  private releaseVips(): void {
    if (this.holdsVips) {
      this.out.removeVips();
      this.holdsVips = false;
    }
  }

  private setTimer(kind: TimerKind, at: number): void {
    this.tKind = kind;
    this.tAt = at;
    this.graceArmed = false;
    this.out.arm(kind, at);
  }

  private clearTimer(): void {
    this.tKind = null;
    this.out.cancel();
  }

  private transition(now: number, to: State, reason: string): void {
    const from = this.state;
    this.state = to;
    if (from === to) return;
    this.out.transition(from, to, reason);
    this.group?.changed(this, from, to, now);
  }
}
