/**
 * One timer for every instance: a deadline per owner, one wake-up armed for the earliest.
 * Deadlines are absolute monotonic microseconds, so re-arming never accumulates drift. The
 * wake-up is a timerfd (microsecond precision); without it, setTimeout (millisecond).
 */
import { nowUs } from './clock.js';

/** What the scheduler wakes: an instance runner (no closure is made per timer). */
export interface TimerOwner {
  onTimer(now: number): void;
  /** True when this owner's due timer should see the packets already received (a backup's
   * Master_Down timer): the wake-up then runs `beforeFire` first. */
  drainFirst?(): boolean;
}

export interface Waker {
  arm(atUs: number): void;
  disarm(): void;
  close(): void;
}

/** setTimeout-based waker: rounds up to whole milliseconds. */
export function timeoutWaker(onFire: () => void): Waker {
  let t: NodeJS.Timeout | null = null;
  return {
    arm(atUs) {
      if (t) clearTimeout(t);
      t = setTimeout(onFire, Math.max(0, Math.ceil((atUs - nowUs()) / 1000)));
    },
    disarm() {
      if (t) clearTimeout(t);
      t = null;
    },
    close() {
      this.disarm();
    },
  };
}

/**
 * Deadlines in a binary min-heap (two parallel arrays, the deadlines a Float64Array: popping
 * from a JS array of doubles returns each one boxed in a new heap number), one
 * current deadline per owner. A heap node whose deadline is no longer its owner's current
 * one is stale and skipped when it surfaces: set() and clear() are O(log n) and O(1), a
 * wake-up pops only what is due, whatever the number of instances.
 *
 * Current deadlines live in a Float64Array indexed by a small id per owner: a Map holding
 * them as values would box every deadline (microseconds exceed V8's small integers) in a
 * heap number that lives one interval, long enough to be promoted to the old generation.
 */
export class Scheduler {
  /**
   * Owner -> slot in `deadlines` (NaN: no timer). The slot stays with its owner until
   * release(): deleting and re-adding Map entries on every wake-up makes the Map rehash.
   */
  private readonly ids = new Map<TimerOwner, number>();
  private readonly freeIds: number[] = [];
  private deadlines = new Float64Array(64);
  /** The heap: `n` nodes, deadline ats[i] for owners[i]; grows by doubling, never shrinks. */
  private ats = new Float64Array(64);
  private readonly owners: (TimerOwner | undefined)[] = [];
  private n = 0;
  /** Owners due in a wake-up, the first n of it: never truncated, so never reallocated. */
  private readonly dueNow: (TimerOwner | undefined)[] = [];
  private armedAt = Infinity;
  private readonly waker: Waker;
  /**
   * Runs in a wake-up before due owners that ask for it (drainFirst) are called: the daemon
   * reads its VRRP sockets there, so that adverts already received push a Master_Down timer
   * before it is judged.
   */
  beforeFire: (() => void) | null = null;
  /** In a wake-up: set() leaves the timerfd alone, the wake-up arms it once at its end. */
  private firing = false;

  constructor(
    makeWaker: (onFire: () => void) => Waker = timeoutWaker,
    private readonly clock: () => number = nowUs,
  ) {
    this.waker = makeWaker(() => this.fire());
  }

  set(owner: TimerOwner, at: number): void {
    let id = this.ids.get(owner);
    if (id === undefined) {
      id = this.freeIds.pop() ?? this.ids.size;
      if (id >= this.deadlines.length) {
        const d = new Float64Array(this.deadlines.length * 2);
        d.set(this.deadlines);
        this.deadlines = d;
      }
      this.ids.set(owner, id);
    }
    this.deadlines[id] = at;
    this.push(at, owner);
    if (!this.firing && at < this.armedAt) this.arm();
  }

  clear(owner: TimerOwner): void {
    const id = this.ids.get(owner);
    if (id !== undefined) this.deadlines[id] = Number.NaN;
  }

  /** The owner is gone for good (an instance removed): its timer and its slot. */
  release(owner: TimerOwner): void {
    const id = this.ids.get(owner);
    if (id === undefined) return;
    this.ids.delete(owner);
    this.freeIds.push(id);
  }

  private has(owner: TimerOwner): boolean {
    const id = this.ids.get(owner);
    return id !== undefined && !Number.isNaN(this.deadlines[id]!);
  }

  /** Heap nodes, stale ones included (for tests: it must stay bounded). */
  get size(): number {
    return this.n;
  }

  private live(i: number): boolean {
    const id = this.ids.get(this.owners[i]!);
    return id !== undefined && this.deadlines[id] === this.ats[i];
  }

  private arm(): void {
    while (this.n && !this.live(0)) this.pop();
    const min = this.n ? this.ats[0]! : Infinity;
    this.armedAt = min;
    if (min === Infinity) this.waker.disarm();
    else this.waker.arm(min);
  }

  private fire(): void {
    this.firing = true;
    this.armedAt = Infinity;
    const now = this.clock();
    // Collect first: what a callback schedules at or before now waits for the next wake-up.
    const due = this.dueNow;
    let n = 0;
    while (this.n && this.ats[0]! <= now) {
      if (this.live(0)) {
        const o = this.owners[0]!;
        this.clear(o);
        if (n < due.length) due[n] = o;
        else due.push(o);
        n++;
      }
      this.pop();
    }
    if (this.beforeFire) {
      for (let i = 0; i < n; i++) {
        if (due[i]!.drainFirst?.()) {
          this.beforeFire(); // owners it gives a new deadline are no longer due (has() below)
          break;
        }
      }
    }
    try {
      for (let i = 0; i < n; i++) {
        const o = due[i]!;
        due[i] = undefined;
        // An owner may have been given a new deadline by an earlier callback in this round.
        if (!this.has(o)) o.onTimer(now);
      }
    } finally {
      this.firing = false;
      this.arm();
    }
  }

  stop(): void {
    this.waker.close();
    this.ids.clear();
    this.freeIds.length = 0;
    this.dueNow.length = 0;
    this.n = 0;
    this.owners.length = 0;
    this.armedAt = Infinity;
  }

  private push(at: number, owner: TimerOwner): void {
    if (this.n === this.ats.length) {
      const d = new Float64Array(this.n * 2);
      d.set(this.ats);
      this.ats = d;
    }
    const ats = this.ats;
    const owners = this.owners;
    let i = this.n++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (ats[p]! <= at) break;
      ats[i] = ats[p]!;
      owners[i] = owners[p];
      i = p;
    }
    ats[i] = at;
    owners[i] = owner;
  }

  private pop(): void {
    const ats = this.ats;
    const owners = this.owners;
    const n = --this.n;
    const lastAt = ats[n]!;
    const lastOwner = owners[n];
    owners[n] = undefined; // no reference kept to an owner that may be gone
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const c = l + 1 < n && ats[l + 1]! < ats[l]! ? l + 1 : l;
      if (ats[c]! >= lastAt) break;
      ats[i] = ats[c]!;
      owners[i] = owners[c];
      i = c;
    }
    ats[i] = lastAt;
    owners[i] = lastOwner;
  }
}
