/**
 * One timer for every instance: a deadline per owner, one wake-up armed for the earliest.
 * Deadlines are absolute monotonic microseconds, so re-arming never accumulates drift. The
 * wake-up is a timerfd (microsecond precision); without it, setTimeout (millisecond).
 */
import { MinHeap } from '../core/heap.js';
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
 * Deadlines in a binary min-heap (src/core/heap.ts: keys in a Float64Array, nothing allocated
 * per operation), one current deadline per owner. A heap node whose deadline is no longer its
 * owner's current one is stale and skipped when it surfaces: set() and clear() are O(log n) and O(1), a
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
  /** Every deadline set and not yet popped, stale ones included; grows by doubling, never shrinks. */
  private readonly heap = new MinHeap<TimerOwner>();
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

  /** The owner's timer is now due at `at` (monotonic microseconds), replacing any earlier one; throws a RangeError on NaN. */
  set(owner: TimerOwner, at: number): void {
    this.heap.push(at, owner); // first: it throws on a NaN deadline, before anything else changes
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
    return this.heap.size;
  }

  /** The heap's top is its owner's current deadline (false when the heap is empty). */
  private topLive(): boolean {
    const owner = this.heap.peek();
    if (owner === undefined) return false;
    const id = this.ids.get(owner);
    return id !== undefined && this.deadlines[id] === this.heap.minKey;
  }

  private arm(): void {
    while (this.heap.size && !this.topLive()) this.heap.pop();
    const min = this.heap.minKey;
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
    while (this.heap.size && this.heap.minKey <= now) {
      if (this.topLive()) {
        const o = this.heap.peek()!;
        this.clear(o);
        if (n < due.length) due[n] = o;
        else due.push(o);
        n++;
      }
      this.heap.pop();
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
    this.heap.clear();
    this.armedAt = Infinity;
  }
}
