/**
 * One configured instance at run time: the sans-I/O core wired to its VRRP socket, the
 * scheduler, the reconciler (it says whether it holds its addresses, routes and rules; the
 * reconciler adds and deletes them), the announcer and the log. Carries the counters.
 */
import type { InstanceModel } from '../config/model.js';
import type { TrackerEffect, TrackerState } from '../core/priority.js';
import { VrrpInstance, type ActionSink, type AdvertIn, type AnnounceWhy, type State, type TimerKind } from '../core/instance.js';
import { intervalFieldToUs, masterDownIntervalUs } from '../core/timers.js';
import { PeerTable } from './peers.js';
import { RunnerAnnouncements } from './runner-announce.js';
import { compareAddr, formatIP } from '../protocol/addr.js';
import { encodeVrrp, receiveVrrp, type Expectation, type VrrpAdvert } from '../protocol/vrrp.js';
import type { RawVrrp, VrrpPacketIn } from '../os/vrrp-socket.js';
import type { Interface } from '../os/iface.js';
import type { DropLog } from './drop-log.js';
import { advertSettings, sharedBytes, vipKey } from './runner-settings.js';
import { staticTrackers } from './trackers/static.js';
import { nowUs } from './clock.js';
import type { TimerOwner } from './scheduler.js';
import type { RunnerDeps, RunnerStats } from './runner-types.js';

export type { DaemonEvent, RunnerDeps, RunnerStats } from './runner-types.js';

/**
 * How long before this router's Master_Down_Interval the crash guardian lets go (at most; a
 * tenth of the advert interval below 500 ms): a backup of equal priority takes over at that
 * very moment, and the guardian needs a few milliseconds to act (no fork: guardian.ts), tens
 * on a loaded host (33 ms seen in CI).
 */
const GUARDIAN_LEAD_US = 50_000;

/** After a handover, the VIPs stay this long past the new master's first advert (its GARP/NA follows the kernel's ack). */
export const HANDOVER_GRACE_MS = 50;

export class InstanceRunner implements TimerOwner, ActionSink {
  readonly core: VrrpInstance;
  readonly stats: RunnerStats = { advertsSent: 0, advertsReceived: 0, priorityZeroSent: 0, priorityZeroReceived: 0, transitions: 0, sendErrors: 0, reannounced: 0, drops: {} };
  lastTransition: { at: number; from: State; to: State; reason: string } | null = null;
  /** The other routers heard on this instance (vipctl handover --to). */
  readonly peers: PeerTable;
  // What the model says about adverts sent and accepted (derive(): at construction and on an in-place reload)
  private expect!: Expectation;
  /** unicast_peer { ADDR min_ttl N max_ttl M }: the accepted TTL range per peer (null: none given). */
  private ttlRanges!: Map<string, { min: number; max: number }> | null;
  /** Warnings for adverts dropped for a reason the operator can fix (rate-limited). */
  private dropLog!: DropLog;
  private advert!: VrrpAdvert;
  private readonly source: string;
  /** Where adverts go (the group, or each unicast peer), in the order of the encoded adverts. */
  private readonly dests: string[];
  /** A handover's release of the VIPs, HANDOVER_GRACE_MS after the new master's first advert. */
  private letGo: NodeJS.Timeout | undefined;
  /** Its gratuitous ARPs / NAs (runner-announce.ts). */
  private readonly ann: RunnerAnnouncements;
  /**
   * The last valid advert byte for byte, then its source and destination address (one copy:
   * a backup of 1000 instances keeps 1000 of these), and what it said.
   */
  private last: Buffer | null = null;
  private lastInput: AdvertIn | null = null;
  /** Encoded adverts at `encodedPriority` and at priority 0, one per destination (`dests`). */
  private encodedPriority = -1;
  private encodedAdverts: Buffer[] = [];
  private encodedZero: Buffer[] = [];

  constructor(
    /** Replaced only by setPriority (a reload that changed nothing but the priority). */
    public model: InstanceModel,
    private readonly d: RunnerDeps,
    /** The trackers' effects at start, keyed `kind:name` (src/daemon/trackers/manager.ts). */
    trackers: TrackerState[] = [],
    /** Where its addresses without `dev` live when not on the socket's interface (its VMAC with vmac_xmit_base). */
    vipIface: Interface | null = null,
  ) {
    // keepalived: unicast_src_ip and mcast_src_ip both set the advert source; else the
    // interface's primary IPv4 / own link-local IPv6 (RFC 9568 5.1.1.1 / 5.1.2.1)
    const primary = model.unicastSrc ?? model.mcastSrc ?? (model.family === 4 ? d.iface.primaryV4 : d.iface.linkLocalV6);
    if (!primary) throw new Error(`${model.interface} has no ${model.family === 4 ? 'IPv4' : 'link-local IPv6'} address to send adverts from`);
    this.source = primary;
    this.dests = d.socket.destinations();
    this.derive(model);
    this.peers = new PeerTable(model.family);
    this.ann = new RunnerAnnouncements(this, d, vipIface);
    this.core = new VrrpInstance({
      name: model.name, vrid: model.vrid, version: model.version, priority: model.priority,
      advertIntervalUs: model.advertIntervalUs, preempt: model.preempt, preemptDelayUs: model.preemptDelayUs,
      acceptMode: model.acceptMode, lowerPrioNoAdvert: model.lowerPrioNoAdvert, higherPrioSendAdvert: model.higherPrioSendAdvert,
      downTimerAdverts: model.downTimerAdverts,
      primaryAddress: sharedBytes(primary), trackers: [...trackers, ...staticTrackers(model, d.log)],
    }, this);
  }

  /** The advert to send, what a received one must match, the TTL ranges and the drop log, from `model`. */
  private derive(model: InstanceModel): void {
    ({ advert: this.advert, expect: this.expect, ttlRanges: this.ttlRanges, dropLog: this.dropLog } = advertSettings(model, this.d.log));
  }

  /** `resume`: the state of the runner this one replaces (VrrpInstance.start). */
  start(resume?: State): void {
    // Encoded now, not when a backup takes over: its first advert goes out sooner.
    this.adverts(this.model.priority);
    this.adverts(0);
    this.core.start(nowUs(), resume);
    // the runner it replaces held its objects: let go if this one does not go on as MASTER
    if (resume === 'MASTER' && !this.core.holdsVips) this.d.holder.hold(this.model.name, false);
  }

  /**
   * Replaced by a new runner of the same instance (a reload restarted it on a new socket):
   * silent, no priority 0, its objects still held for its successor (start(resume)).
   */
  detach(): void {
    this.d.scheduler.release(this);
    this.ann.cancel();
  }

  /** Shutdown: priority 0 if master, its objects removed; resolves when the kernel has acked that. */
  async stop(): Promise<void> {
    this.core.shutdown(nowUs());
    if (this.letGo) this.release(); // a handover's grace ends with the instance
    this.d.scheduler.release(this);
    this.ann.cancel();
    await this.d.holder.settled(this.model.name);
  }

  /**
   * A datagram from this instance's socket whose VRID is ours, still in the socket's buffer.
   * A master repeats the same bytes every interval: a packet identical to the last valid one
   * (same message, TTL 255, same source and destination) passes every RFC 9568 7.1 check that
   * one passed, since those depend on nothing else, so it is not decoded again.
   */
  onRaw(raw: RawVrrp): void {
    const c = this.last;
    const alen = raw.src.length;
    const n = raw.payloadLen;
    if (
      c && raw.ttl === 255 && c.length === n + 2 * alen &&
      c.compare(raw.src, 0, alen, n, n + alen) === 0 && c.compare(raw.dst, 0, alen, n + alen) === 0 &&
      raw.buf.compare(c, 0, n, raw.payloadOff, raw.payloadOff + n) === 0
    ) {
      this.accept(raw.rxUs, this.lastInput!);
      return;
    }
    this.onPacket(this.d.socket.packetIn(raw));
  }

  /** A packet (a copy, safe to keep) from this instance's socket whose VRID is ours. */
  onPacket(p: VrrpPacketIn): void {
    const r = receiveVrrp(p, this.expect);
    if (!r.valid) {
      this.stats.drops[r.reason] = (this.stats.drops[r.reason] ?? 0) + 1;
      this.dropLog.note(r.reason, p.srcText, r.advert, p.ttl);
      return;
    }
    const peer = this.ttlRanges?.get(p.srcText);
    if (peer && (p.ttl < peer.min || p.ttl > peer.max)) {
      // keepalived 2.2.7: "TTL/HL %d not in range %d - %d"
      this.stats.drops['ttl-out-of-range'] = (this.stats.drops['ttl-out-of-range'] ?? 0) + 1;
      this.dropLog.note('ttl-out-of-range', p.srcText, r.advert, p.ttl);
      return;
    }
    if (!r.addressesMatch) this.dropLog.note('addresses-differ', p.srcText, r.advert, p.ttl);
    const n = p.payload.length;
    const last = Buffer.allocUnsafe(n + p.src.length + p.dst.length); // from Node's pool
    last.set(p.payload, 0);
    last.set(p.src, n);
    last.set(p.dst, n + p.src.length);
    const input: AdvertIn = { priority: r.advert.priority, intervalUs: intervalFieldToUs(r.advert.version, r.advert.interval), src: last.subarray(n, n + p.src.length) };
    this.last = last;
    this.lastInput = input;
    this.accept(p.rxUs, input);
  }

  private accept(rxUs: number, input: AdvertIn): void {
    this.stats.advertsReceived++;
    this.peers.note(input.src, input.priority, rxUs, input.intervalUs);
    if (input.priority === 0) this.stats.priorityZeroReceived++;
    // The core updates its master record in place: compare with what it said before.
    const wasSelf = this.core.master?.self;
    const was = this.core.master?.address ?? null;
    // The kernel received the packet at rxUs (never after our read of it, see VrrpSocket):
    // timers count from then, not from now.
    this.core.advert(rxUs, input);
    const after = this.core.master;
    const now = after?.address ?? null;
    if (wasSelf !== after?.self || (was && now ? compareAddr(was, now) !== 0 : was !== now))
      this.d.emit({ type: 'master', instance: this.model.name, master: this.masterText(), priority: after?.priority ?? null });
  }

  /** A due Master_Down timer is judged after the adverts already in the socket (scheduler). */
  drainFirst(): boolean {
    return this.core.timerKind === 'masterDown';
  }

  /** The scheduler's wake-up for this instance's timer. */
  onTimer(now: number): void {
    this.core.timerFired(now);
  }

  /**
   * A reload changed settings that apply in place (src/daemon/reload-plan.ts): state, held
   * objects and master record kept. Adverts carry the new priority, interval, addresses and
   * authentication from the next one on (re-encoded now, not on the send path); received ones
   * are checked against the new settings. A MASTER announces only the addresses the reload
   * added, once the kernel has them (the reconciler adds and removes the objects).
   * `trackers`/`keep`: the core's tracker set now (VrrpInstance.reconfigure).
   */
  reconfigure(model: InstanceModel, trackers: readonly TrackerState[], keep: (key: string) => boolean): void {
    const was = new Set([...this.model.vips, ...this.model.vipsExcluded].map(vipKey));
    const oldRefresh = this.model.garpMasterRefreshS;
    this.model = model;
    this.derive(model);
    this.last = this.lastInput = null; // its checks were the old settings'
    this.encodedPriority = -1;
    this.encodedZero = [];
    this.adverts(0);
    this.priorityChange(() => this.core.reconfigure(nowUs(), {
      priority: model.priority, advertIntervalUs: model.advertIntervalUs, preempt: model.preempt, preemptDelayUs: model.preemptDelayUs,
      acceptMode: model.acceptMode, lowerPrioNoAdvert: model.lowerPrioNoAdvert, higherPrioSendAdvert: model.higherPrioSendAdvert,
      downTimerAdverts: model.downTimerAdverts,
    }, [...trackers, ...staticTrackers(model, this.d.log)], keep));
    this.adverts(this.core.effective);
    this.ann.reconfigured(oldRefresh, [...model.vips, ...model.vipsExcluded].filter((v) => !was.has(vipKey(v))));
  }

  /** A tracker's effect on this instance changed (src/daemon/trackers/manager.ts). */
  setTracker(key: string, effect: TrackerEffect): void {
    this.priorityChange(() => this.core.setTracker(nowUs(), key, effect));
  }

  /** Runs a change and tells a new effective priority as keepalived does (vrrp_set_effective_priority). */
  private priorityChange(change: () => void): void {
    const before = this.core.effective;
    change();
    const after = this.core.effective;
    if (after === before) return;
    this.d.log.info({ instance: this.model.name, oldPriority: before, newPriority: after }, `(${this.model.name}) Changing effective priority from ${before} to ${after}`);
    this.d.emit({ type: 'priority', instance: this.model.name, priority: after });
  }

  setLink(up: boolean): void {
    this.core.setLink(nowUs(), up);
  }

  /** Handover and maintenance (src/daemon/handover.ts): the core's, with the priority change told. */
  handover(how: 'resign' | number): boolean {
    let ok = false;
    this.priorityChange(() => (ok = this.core.handover(nowUs(), how)));
    // resigned: a backup may take over after its Skew_Time, so a crash from now on must not
    // leave the VIPs to the crash guardian's Master_Down_Interval: it lets go at once
    if (ok && how === 'resign') this.d.advertSent?.(this.model.name, 0);
    return ok;
  }
  cancelHandover(): void {
    this.priorityChange(() => this.core.cancelHandover(nowUs()));
  }
  setMaintenance(on: boolean): void {
    this.priorityChange(() => this.core.setMaintenance(nowUs(), on));
  }

  // ---- ActionSink: the core's actions, carried out as it makes them ---------------------------

  /** RFC 9568 6.4.1/6.4.2: a MASTER holds its addresses (and keepalived's routes and rules): the reconciler adds them. */
  addVips(): void {
    clearTimeout(this.letGo);
    this.d.holder.hold(this.model.name, true);
  }

  removeVips(): void {
    clearTimeout(this.letGo);
    // a handover lets go a moment after the new master's first advert: its gratuitous ARP/NA
    // follows once the kernel has its VIPs, and until the client hears it, it still asks here
    if (this.core.handoverRelease) this.letGo = setTimeout(() => this.release(), HANDOVER_GRACE_MS);
    else this.release();
  }

  private release(): void {
    clearTimeout(this.letGo);
    this.letGo = undefined;
    this.d.holder.hold(this.model.name, false);
  }

  /** Gratuitous ARP / NA for the VIPs (runner-announce.ts): on becoming MASTER, or on hearing a lower-priority master. */
  announce(why: AnnounceWhy = 'master'): void {
    if (why === 'lowerPrio') this.ann.lowerPrio();
    else this.ann.master();
  }

  /** garp_lower_prio_repeat bursts, also when another member of its sync group heard a lower-priority master (NotifyHub). */
  lowerPrioBurst(): void {
    this.ann.lowerPrioBurst();
  }

  arm(_timer: TimerKind, at: number): void {
    this.d.scheduler.set(this, at);
  }

  cancel(): void {
    this.d.scheduler.clear(this);
  }

  transition(from: State, to: State, reason: string): void {
    this.stats.transitions++;
    this.lastTransition = { at: Date.now(), from, to, reason };
    if (from === 'MASTER') this.ann.cancel();
    const priority = this.core.effective;
    const master = this.masterText();
    this.d.emit({ type: 'transition', instance: this.model.name, from, to, reason, priority, master });
    // keepalived 2.2.7's wording, for operators' grep habits: "(VI_1) Entering MASTER STATE"
    this.d.log.info({ instance: this.model.name, from, to, reason, priority, master }, `(${this.model.name}) Entering ${to} STATE (${reason})`);
  }

  masterText(): string | null {
    const m = this.core.master;
    if (!m) return null;
    return m.self ? this.source : m.address ? formatIP(this.model.family, m.address) : null;
  }

  /** Encoded adverts, one per destination (`dests`), kept for priority 0 and the last other: sending allocates nothing. */
  private adverts(priority: number): Buffer[] {
    if (priority === 0 && this.encodedZero.length) return this.encodedZero;
    if (priority !== 0 && priority === this.encodedPriority) return this.encodedAdverts;
    const adv = { ...this.advert, priority };
    const bufs = this.dests.map((dst) => encodeVrrp(adv, { src: this.source, dst }));
    if (priority === 0) this.encodedZero = bufs;
    else {
      this.encodedPriority = priority;
      this.encodedAdverts = bufs;
    }
    return bufs;
  }

  /** RFC 9568 6.4.3: send an advert (priority 0 to resign). */
  send(priority: number): void {
    if (priority > 0 && this.ann.refreshAt !== Infinity) this.ann.refreshDue();
    const bufs = this.adverts(priority);
    for (let i = 0; i < bufs.length; i++) {
      try {
        this.d.socket.sendTo(bufs[i]!, this.dests[i]!);
        this.stats.advertsSent++;
        if (priority === 0) this.stats.priorityZeroSent++;
        // the crash guardian lets go of our objects just before a backup may take over: our own
        // Master_Down_Interval (a lower priority's is longer; an equal one's the same), less
        // GUARDIAN_LEAD_US for the guardian's own wake-up
        else if (i === 0 && this.d.advertSent) this.d.advertSent(this.model.name, masterDownIntervalUs(this.model.version, priority, this.model.advertIntervalUs, this.model.downTimerAdverts) - Math.min(this.model.advertIntervalUs / 10, GUARDIAN_LEAD_US));
      } catch (e) {
        this.stats.sendErrors++;
        if (this.stats.sendErrors <= 3 || this.stats.sendErrors % 100 === 0) this.d.log.warn({ instance: this.model.name, err: (e as Error).message }, 'advert send failed');
      }
    }
  }
}
