/** Monotonic time in microseconds on CLOCK_MONOTONIC (the clock of process.hrtime and timerfd). */
export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}
