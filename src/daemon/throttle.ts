/**
 * At most one log line per interval for a recurring failure, saying how many occurrences were
 * held back since the last line (mail failures and drops, dropped notify transitions). Per-key
 * throttling of advert drops is DropLog's; a FIFO's drops are summed by a timer in fifo.ts;
 * also vrrp_script's skipped runs.
 */
export class Throttle {
  private at = -Infinity;
  private held = 0;

  constructor(
    /** Time between two lines, in the unit of `now` (default Date.now: milliseconds). */
    private readonly every: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** One occurrence at `t` (default now()): null when it is held back, else how many were held back before it (log now). */
  pass(t: number = this.now()): number | null {
    if (t - this.at < this.every) {
      this.held++;
      return null;
    }
    const held = this.held;
    this.held = 0;
    this.at = t;
    return held;
  }
}
