/** Monotonic time in microseconds (the core's time base). */
export function nowUs(): number {
  return Math.round(performance.now() * 1000);
}
