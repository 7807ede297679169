/**
 * A simulated LAN of VRRP routers (instances of the real core) with a virtual clock:
 * delivery delay and jitter, loss, one- and two-way partitions, crash/restart, graceful stop,
 * priority changes and link flaps. Every step checks the invariants that must always hold.
 */
import { ActionLog } from '../core/actions.js';
import { MinHeap } from '../core/heap.js';
import { VrrpInstance, type ActionSink, type InstanceConfig } from '../core/instance.js';
import { formatIPv4 } from '../protocol/addr.js';
import { Prng } from './prng.js';

/** Makes a router's instance (a test's variant of the core); `sink` is the router's ActionLog. */
export type InstanceFactory = (c: InstanceConfig, sink: ActionSink) => VrrpInstance;

export interface RouterSpec {
  priority: number;
}

export interface LanOptions {
  seed: number;
  routers: RouterSpec[];
  version: 2 | 3;
  advertIntervalUs: number;
  preempt: boolean;
  lowerPrioNoAdvert?: boolean;
  factory?: InstanceFactory;
  /** Base one-way delay and uniform jitter, microseconds. */
  delayUs?: number;
  jitterUs?: number;
}

export interface Router {
  id: number;
  addr: Uint8Array;
  name: string;
  basePriority: number;
  inst: VrrpInstance | null;
  /** The sink of its instances: the simulator takes their actions from it after each event. */
  readonly actions: ActionLog;
  linkUp: boolean;
  /** VIPs as the daemon would hold them, from the actions alone. */
  vips: boolean;
  gen: number;
}

type Ev = { kind: 'timer'; r: number; gen: number } | { kind: 'deliver'; from: number; to: number; priority: number; intervalUs: number };

export class InvariantError extends Error {}

export class Lan {
  now = 0;
  readonly routers: Router[];
  readonly rng: Prng;
  loss = 0;
  readonly blocked = new Set<string>();
  readonly trace: string[] = [];
  transitions = 0;
  events = 0;
  /** A run that needs more events than this is an advert storm, which is a bug. */
  maxEvents = 200_000;
  /** Pending events by virtual time; events due at the same time in the order they were queued. */
  private readonly queue = new MinHeap<Ev>({ fifo: true });
  private readonly delayUs: number;
  private readonly jitterUs: number;

  constructor(readonly opts: LanOptions) {
    this.rng = new Prng(opts.seed);
    this.delayUs = opts.delayUs ?? 100;
    this.jitterUs = opts.jitterUs ?? 400;
    this.routers = opts.routers.map((s, i) => ({
      id: i, addr: Uint8Array.of(192, 0, 2, i + 1), name: `r${i + 1}`, basePriority: s.priority,
      inst: null, actions: new ActionLog(), linkUp: true, vips: false, gen: 0,
    }));
  }

  log(msg: string): void {
    this.trace.push(`${(this.now / 1e6).toFixed(6)} ${msg}`);
    if (this.trace.length > 400) this.trace.splice(0, 100);
  }

  private make(r: Router): VrrpInstance {
    const c: InstanceConfig = {
      name: r.name, vrid: 1, version: this.opts.version, priority: r.basePriority,
      advertIntervalUs: this.opts.advertIntervalUs, preempt: this.opts.preempt, primaryAddress: r.addr,
      lowerPrioNoAdvert: this.opts.lowerPrioNoAdvert ?? false,
    };
    return (this.opts.factory ?? ((x, sink) => new VrrpInstance(x, sink)))(c, r.actions);
  }

  // ---- operations ---------------------------------------------------------------------------

  start(r: Router): void {
    if (r.inst) return;
    r.inst = this.make(r);
    this.log(`${r.name} start prio ${r.basePriority}`);
    r.inst.start(this.now);
    this.apply(r);
    if (!r.linkUp) {
      r.inst.setLink(this.now, false);
      this.apply(r);
    }
  }

  crash(r: Router): void {
    if (!r.inst) return;
    this.log(`${r.name} CRASH (was ${r.inst.state})`);
    r.inst = null;
    r.vips = false; // the daemon's crash cleanup / reboot: no VIP left (design goal)
    r.gen++;
  }

  stop(r: Router): void {
    if (!r.inst) return;
    const wasMaster = r.inst.state === 'MASTER';
    r.inst.shutdown(this.now);
    const acts = r.actions.take();
    // Invariant: a master that stops sends priority 0 first (RFC 9568 6.4.3).
    if (wasMaster && !(acts[0]?.type === 'send' && acts[0].priority === 0))
      throw new InvariantError(`${r.name} stopped as MASTER without sending priority 0 first`);
    this.log(`${r.name} stop`);
    this.apply(r, acts);
    r.inst = null;
    r.gen++;
  }

  setPriority(r: Router, p: number): void {
    r.basePriority = p;
    this.log(`${r.name} priority -> ${p}`);
    if (r.inst) {
      r.inst.setBasePriority(this.now, p);
      this.apply(r);
    }
  }

  setLink(r: Router, up: boolean): void {
    r.linkUp = up;
    this.log(`${r.name} link ${up ? 'up' : 'down'}`);
    if (r.inst) {
      r.inst.setLink(this.now, up);
      this.apply(r);
    }
  }

  block(a: Router, b: Router, twoWay: boolean): void {
    this.blocked.add(`${a.id}>${b.id}`);
    if (twoWay) this.blocked.add(`${b.id}>${a.id}`);
    this.log(`partition ${a.name} -/-> ${b.name}${twoWay ? ' (both ways)' : ''}`);
  }

  heal(): void {
    this.blocked.clear();
    this.loss = 0;
    this.log('heal: no partitions, no loss');
    for (const r of this.routers) {
      if (!r.linkUp) this.setLink(r, true);
      if (!r.inst) this.start(r);
    }
  }

  // ---- the engine ---------------------------------------------------------------------------

  /** Carries out what the router's instance asked of its sink in its last event (`acts`: when the caller took them). */
  private apply(r: Router, acts = r.actions.take()): void {
    for (const a of acts) {
      switch (a.type) {
        case 'send':
          this.send(r, a.priority);
          break;
        case 'addVips':
          r.vips = true;
          break;
        case 'removeVips':
          r.vips = false;
          break;
        case 'arm':
          r.gen++;
          this.queue.push(a.at, { kind: 'timer', r: r.id, gen: r.gen });
          break;
        case 'cancel':
          r.gen++;
          break;
        case 'transition':
          this.transitions++;
          this.log(`${r.name} ${a.from} -> ${a.to} (${a.reason}) prio ${r.inst?.effective}`);
          break;
        case 'announce':
          break;
      }
    }
    this.check();
  }

  private send(from: Router, priority: number): void {
    if (!from.linkUp) return;
    for (const to of this.routers) {
      if (to === from || !to.linkUp || this.blocked.has(`${from.id}>${to.id}`)) continue;
      if (this.loss > 0 && this.rng.chance(this.loss)) continue;
      const at = this.now + this.delayUs + this.rng.int(0, this.jitterUs);
      this.queue.push(at, { kind: 'deliver', from: from.id, to: to.id, priority, intervalUs: this.opts.advertIntervalUs });
    }
  }

  /** Run events until virtual time `until` (inclusive). */
  runUntil(until: number): void {
    while (this.queue.size && this.queue.minKey <= until) {
      const at = this.queue.minKey;
      const e = this.queue.pop()!;
      if (++this.events > this.maxEvents) throw new InvariantError(`event storm: more than ${this.maxEvents} events`);
      this.now = Math.max(this.now, at);
      if (e.kind === 'timer') {
        const r = this.routers[e.r]!;
        if (r.inst && e.gen === r.gen) {
          r.inst.timerFired(this.now);
          this.apply(r);
        }
      } else {
        const to = this.routers[e.to]!;
        if (!to.inst || !to.linkUp) continue;
        const from = this.routers[e.from]!;
        to.inst.advert(this.now, { priority: e.priority, intervalUs: e.intervalUs, src: from.addr });
        this.apply(to);
      }
    }
    this.now = Math.max(this.now, until);
  }

  /** Invariants after every step: VIPs held exactly when MASTER; nothing held when down. */
  check(): void {
    for (const r of this.routers) {
      const master = r.inst?.state === 'MASTER';
      if (r.vips !== master) throw new InvariantError(`${r.name} ${r.vips ? 'holds' : 'lacks'} VIPs in state ${r.inst?.state ?? 'down'}`);
      if (r.inst && r.inst.holdsVips !== r.vips) throw new InvariantError(`${r.name} core and actions disagree on VIPs`);
    }
  }

  masters(): Router[] {
    return this.routers.filter((r) => r.inst?.state === 'MASTER');
  }

  /** The router that must be master after convergence with preempt: highest priority, then address. */
  expectedMaster(): Router {
    const live = this.routers.filter((r) => r.inst && r.linkUp && r.inst.state !== 'FAULT');
    return live.reduce((best, r) => {
      const pb = best.inst!.effective;
      const pr = r.inst!.effective;
      return pr > pb || (pr === pb && (r.addr[3] as number) > (best.addr[3] as number)) ? r : best;
    });
  }

  describe(r: Router): string {
    return `${r.name} (${formatIPv4(r.addr)}, prio ${r.inst?.effective ?? '-'}, ${r.inst?.state ?? 'down'})`;
  }
}
