/**
 * A precise one-shot wake-up on CLOCK_MONOTONIC (timerfd, watched by the libuv loop): no
 * millisecond rounding as with setTimeout, no spinning. Times are microseconds on the
 * clock of process.hrtime (see daemon/clock.ts).
 */
import { native, type Watcher } from './native.js';

export class MonotonicTimer {
  private readonly fd: number;
  private readonly watcher: Watcher;
  private closed = false;

  constructor(onFire: () => void) {
    const n = native();
    this.fd = n.timerfd();
    this.watcher = new n.Watcher(this.fd, 8, () => onFire(), () => undefined, true);
  }

  /** Fire once at `atUs` (absolute, microseconds); a time in the past fires at once. */
  arm(atUs: number): void {
    native().timerfdSet(this.fd, BigInt(Math.max(1, Math.ceil(atUs))) * 1000n);
  }

  disarm(): void {
    native().timerfdSet(this.fd, 0n);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watcher.stop();
    native().close(this.fd);
  }
}
