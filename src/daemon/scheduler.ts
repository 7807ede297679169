/**
 * One timer for every instance: entries keyed by owner, one Node timer armed for the earliest.
 * Deadlines are absolute monotonic microseconds, so re-arming never accumulates drift.
 */
import { nowUs } from './clock.js';

interface Entry {
  at: number;
  fn: (now: number) => void;
}

export class Scheduler {
  private readonly entries = new Map<object, Entry>();
  private timer: NodeJS.Timeout | null = null;
  private armedAt = Infinity;

  set(owner: object, at: number, fn: (now: number) => void): void {
    this.entries.set(owner, { at, fn });
    if (at < this.armedAt) this.arm();
  }

  clear(owner: object): void {
    this.entries.delete(owner);
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    let min = Infinity;
    for (const e of this.entries.values()) if (e.at < min) min = e.at;
    this.armedAt = min;
    if (min === Infinity) return;
    const delayMs = Math.max(0, Math.ceil((min - nowUs()) / 1000));
    this.timer = setTimeout(() => this.fire(), delayMs);
  }

  private fire(): void {
    this.timer = null;
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
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.entries.clear();
    this.armedAt = Infinity;
  }
}
