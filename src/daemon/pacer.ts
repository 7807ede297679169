/**
 * keepalived's garp_interval / gna_interval: the least time between two gratuitous ARPs, and
 * between two unsolicited NAs, on the interfaces that share a pacer (one `garp_group`, or one
 * interface under the global vrrp_garp_interval / vrrp_gna_interval), whichever instance
 * sends them. A frame that comes sooner waits its turn in its kind's queue; none is dropped,
 * and frames of an owner that leaves MASTER are dropped from the queues (cancel).
 */

/** Which queue: gratuitous ARPs (0) or unsolicited NAs (1). */
export type FrameKind = 0 | 1;

interface Paced {
  intervalMs: number;
  /** performance.now() when the next frame may go. */
  nextAt: number;
  queue: { owner: object; send: () => void }[];
}

export class Pacer {
  private readonly kinds: [Paced, Paced];
  private timer: NodeJS.Timeout | null = null;

  /** Intervals in milliseconds; 0 leaves that kind unpaced. */
  constructor(garpIntervalMs: number, gnaIntervalMs: number) {
    this.kinds = [{ intervalMs: garpIntervalMs, nextAt: 0, queue: [] }, { intervalMs: gnaIntervalMs, nextAt: 0, queue: [] }];
  }

  /** Whether frames of this kind are spaced at all. */
  paces(kind: FrameKind): boolean {
    return this.kinds[kind].intervalMs > 0;
  }

  /** Send now if the kind's interval has passed and nothing waits, else queue `send`. */
  submit(kind: FrameKind, owner: object, send: () => void): void {
    const k = this.kinds[kind];
    const now = performance.now();
    if (k.intervalMs <= 0 || (!k.queue.length && now >= k.nextAt)) {
      k.nextAt = now + k.intervalMs;
      send();
      return;
    }
    k.queue.push({ owner, send });
    this.arm();
  }

  cancel(owner: object): void {
    for (const k of this.kinds) if (k.queue.length) k.queue = k.queue.filter((q) => q.owner !== owner);
  }

  /** Frames waiting (for tests and status). */
  get queued(): number {
    return this.kinds[0].queue.length + this.kinds[1].queue.length;
  }

  close(): void {
    for (const k of this.kinds) k.queue = [];
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(): void {
    if (this.timer) return;
    const due = Math.min(...this.kinds.filter((k) => k.queue.length).map((k) => k.nextAt));
    if (due === Infinity) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const now = performance.now();
      for (const k of this.kinds) {
        if (!k.queue.length || k.nextAt > now + 1) continue; // a timer may fire up to a millisecond early
        k.nextAt = now + k.intervalMs;
        k.queue.shift()!.send();
      }
      this.arm();
    }, Math.max(0, due - performance.now()));
    this.timer.unref();
  }
}
