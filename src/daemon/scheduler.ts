/**
 * One timer for every instance: entries keyed by owner, one wake-up armed for the earliest.
 * Deadlines are absolute monotonic microseconds, so re-arming never accumulates drift. The
 * wake-up is a timerfd (microsecond precision); without it, setTimeout (millisecond).
 */
import { nowUs } from './clock.js';

interface Entry {
  at: number;
  fn: (now: number) => void;
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

export class Scheduler {
  private readonly entries = new Map<object, Entry>();
  private armedAt = Infinity;
  private readonly waker: Waker;

  constructor(makeWaker: (onFire: () => void) => Waker = timeoutWaker) {
    this.waker = makeWaker(() => this.fire());
  }

  set(owner: object, at: number, fn: (now: number) => void): void {
    this.entries.set(owner, { at, fn });
    if (at < this.armedAt) this.arm();
  }

  clear(owner: object): void {
    this.entries.delete(owner);
  }

  private arm(): void {
    let min = Infinity;
    for (const e of this.entries.values()) if (e.at < min) min = e.at;
    this.armedAt = min;
    if (min === Infinity) this.waker.disarm();
    else this.waker.arm(min);
  }

  private fire(): void {
    this.armedAt = Infinity;
    const now = nowUs();
    const due: [object, Entry][] = [];
    for (const [k, e] of this.entries) if (e.at <= now) due.push([k, e]);
    for (const [k, e] of due) {
      // An entry may have been replaced by an earlier callback in this round.
      if (this.entries.get(k) !== e) continue;
      this.entries.delete(k);
      e.fn(now);
    }
    this.arm();
  }

  stop(): void {
    this.waker.close();
    this.entries.clear();
    this.armedAt = Infinity;
  }
}
