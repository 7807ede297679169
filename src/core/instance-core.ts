/**
 * The state an instance keeps and the transitions between its states (RFC 9568 6.4 and
 * keepalived's FAULT), shared by the events of VrrpInstance (instance.ts), which is the class
 * to use: this file is split from it only to keep each file readable. One owner: only these
 * two classes change an instance's state.
 */
import { compareAddr } from '../protocol/addr.js';
import type { ActionSink, State, TimerKind } from './actions.js';
import { effectivePriority, type TrackerState } from './priority.js';
import type { GroupGate } from './sync-group.js';
import { masterDownIntervalUs, skewTimeUs } from './timers.js';
import type { AdvertIn, InstanceConfig, MasterInfo } from './instance-config.js';

export abstract class InstanceCore {
  /** Replaced (never mutated) by reconfigure. */
  config: Readonly<InstanceConfig>;
  state: State = 'INIT';
  masterAdverIntervalUs: number;
  // The one timer as two fields, not an object: a backup re-arms it on every advert, and a
  // fresh object per advert outlives the young generation only to die in the old one.
  protected tKind: TimerKind | null = null;
  protected tAt = 0;
  /** The armed Master_Down_Timer is a late one's grace (see timerFired). */
  protected graceArmed = false;
  protected readonly trackers: TrackerState[] = [];
  protected basePriority: number;
  protected linkUp = true;
  protected preemptDeadline: number | null = null;
  effective: number;
  faults: string[] = [];
  /** The current master. The record of another router is updated in place on each advert. */
  master: MasterInfo | null = null;
  protected heard: MasterInfo | null = null;
  holdsVips = false;
  /**
   * keepalived's wantstate MASTER, for sync groups: the Master_Down_Timer fired (or the
   * instance is MASTER) and no master has been heard since.
   */
  wantMaster = false;
  /** vipd handover (src/daemon/handover.ts): 'resign' (priority 0 sent, VIPs kept, silent) or the priority advertised instead of the effective one, until another master is heard. */
  handingOver: 'resign' | number | null = null;
  /** True while a handover lets go of the VIPs (the runner keeps them a moment more for the new master's GARP). */
  handoverRelease = false;
  /** vipd maintenance: priority 1 in place of the effective one (an address owner keeps 255). */
  protected maintenance = false;
  get inMaintenance(): boolean {
    return this.maintenance;
  }
  /** After a handover: the new master, whose lower-priority adverts this instance does not preempt until it goes silent or another master is heard. */
  yieldTo: Uint8Array | null = null;
  /** The priority the yielded-to master took over with: advertising another (its trackers, or a handover of its own) ends the yield. */
  protected yieldPriority = 0;
  /** Forced to BACKUP by its sync group during a handover: yield to the first master heard. */
  protected yieldNext = false;
  /** The sync group, if any (SyncGroup joins its members). */
  protected group: GroupGate | null = null;
  /** Where every event's actions go, in order. */
  protected readonly out: ActionSink;

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

  /** In FAULT (or about to be) only because weight-0 trackers have not reported yet: no news (keepalived's FAULT STATE (init)). */
  get awaitingTrackers(): boolean {
    return this.linkUp && this.trackers.some((t) => t.fault) && this.trackers.every((t) => !t.fault || t.pending);
  }

  /** A fault of its own: link down or a weight-0 tracker down. */
  get hasOwnFault(): boolean {
    return !this.linkUp || this.faults.length > 0;
  }


  protected senderWins(adv: AdvertIn): boolean {
    if (this.handingOver === 'resign') return adv.priority > 0; // resigned (handover): any master is the new one
    if (adv.priority !== this.effective) return adv.priority > this.effective;
    return compareAddr(adv.src, this.config.primaryAddress) > 0;
  }


  // ---- transitions --------------------------------------------------------------------------

  /** `oldDown`: the Master_Down_Interval before the change (when the change already moved it). */
  protected recompute(now: number, reason: string, oldDown = this.masterDownIntervalUs): void {
    const wasFaulted = this.state === 'FAULT';
    const e = effectivePriority(this.basePriority, this.trackers);
    const ho = this.handingOver;
    this.effective = e.priority === 255 ? 255 : typeof ho === 'number' ? ho : this.maintenance ? 1 : e.priority;
    this.faults = e.faults;
    if (this.master?.self) this.master.priority = e.priority;
    if (this.state === 'INIT') return;
    if (this.state === 'BACKUP' && this.tKind === 'masterDown' && !this.graceArmed && this.masterDownIntervalUs !== oldDown) {
      this.setTimer('masterDown', Math.max(now, this.tAt + this.masterDownIntervalUs - oldDown));
    }
    if (this.hasOwnFault && !wasFaulted) this.toFault(now, reason);
    else if (!this.hasOwnFault && wasFaulted) this.leaveFault(now, reason);
  }

  protected toMaster(now: number, reason: string): void {
    // RFC 9568 6.4.1/6.4.2: send an advert, announce the VIPs, arm the Adver_Timer
    this.out.send(this.effective);
    if (!this.holdsVips) {
      this.out.addVips();
      this.holdsVips = true;
    }
    this.out.announce('master');
    this.setTimer('adver', now + this.config.advertIntervalUs);
    this.master = { address: null, self: true, priority: this.effective, intervalUs: this.config.advertIntervalUs, lastAdvertAt: now };
    this.yieldTo = null;
    this.yieldNext = false;
    this.wantMaster = true;
    this.transition(now, 'MASTER', reason);
  }

  protected toBackup(now: number, reason: string, masterIntervalUs: number): void {
    // leaving MASTER in a handover (the new master heard, or a sync group member's): the runner
    // keeps the VIPs a moment for the new master's gratuitous ARP; a member forced along yields
    // to the first master it hears
    this.handoverRelease = this.handingOver !== null;
    if (this.handingOver !== null && !this.yieldTo) this.yieldNext = true;
    this.releaseVips();
    this.handoverRelease = false;
    this.endHandover();
    // keepalived: every entry into BACKUP restarts preempt_delay (armed by the first lower advert)
    this.preemptDeadline = null;
    this.masterAdverIntervalUs = masterIntervalUs;
    if (this.master?.self) this.master = null;
    this.setTimer('masterDown', now + this.masterDownIntervalUs);
    this.wantMaster = false;
    this.transition(now, 'BACKUP', reason);
  }

  protected toFault(now: number, reason: string): void {
    // keepalived: a master going to FAULT resigns with priority 0 (if its link can still send)
    if (this.state === 'MASTER' && this.linkUp && this.handingOver !== 'resign') this.out.send(0);
    this.releaseVips();
    this.endHandover();
    if (this.master?.self) this.master = null;
    this.clearTimer();
    this.wantMaster = false;
    this.transition(now, 'FAULT', reason);
  }

  protected leaveFault(now: number, reason: string): void {
    // keepalived try_up_instance: a sync group stays in FAULT while any member has a fault
    if (this.group?.holdsFault(this)) return;
    if (this.effective === 255 && (!this.group || this.group.canGoMaster(this))) this.toMaster(now, reason);
    else this.toBackup(now, reason, this.config.advertIntervalUs);
  }

  /** The handover ended (a new master heard, or FAULT): the effective priority is the configured one's again. */
  protected endHandover(): void {
    if (this.handingOver === null) return;
    this.handingOver = null;
    const e = effectivePriority(this.basePriority, this.trackers).priority;
    this.effective = e === 255 ? 255 : this.maintenance ? 1 : e;
  }

  protected releaseVips(): void {
    if (this.holdsVips) {
      this.out.removeVips();
      this.holdsVips = false;
    }
  }

  protected setTimer(kind: TimerKind, at: number): void {
    this.tKind = kind;
    this.tAt = at;
    this.graceArmed = false;
    this.out.arm(kind, at);
  }

  protected clearTimer(): void {
    this.tKind = null;
    this.out.cancel();
  }

  protected transition(now: number, to: State, reason: string): void {
    const from = this.state;
    this.state = to;
    if (from === to) return;
    this.out.transition(from, to, reason);
    this.group?.changed(this, from, to, now);
  }
}
