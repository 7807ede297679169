/**
 * `tsx scripts/bench/timer-lateness.ts [count] [periodMs]`: how late the daemon's timer
 * (timerfd on the libuv loop) fires in an otherwise idle Node process on this machine.
 */
import { nowUs } from '../../src/daemon/clock.js';
import { MonotonicTimer } from '../../src/os/timer.js';

const count = Number(process.argv[2] ?? 500);
const periodUs = Number(process.argv[3] ?? 10) * 1000;
const late: number[] = [];
let at = nowUs() + periodUs;
const t = new MonotonicTimer(() => {
  late.push(nowUs() - at);
  if (late.length < count) {
    at = nowUs() + periodUs;
    t.arm(at);
    return;
  }
  t.close();
  late.sort((a, b) => a - b);
  const q = (f: number): number => late[Math.min(late.length - 1, Math.floor(f * late.length))]!;
  console.log(`timer lateness over ${count} wake-ups of ${periodUs / 1000} ms: p50 ${q(0.5)} us, p99 ${q(0.99)} us, max ${late.at(-1)} us`);
});
t.arm(at);
