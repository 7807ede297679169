/**
 * Why an advert was late: while the jitter run goes, sample the daemon's main thread's
 * run-queue wait (/proc/PID/schedstat, 2nd field: ns spent runnable but not running), that
 * of its other threads (the main thread waits for V8's GC worker) and the machine's steal
 * time (/proc/stat, time the hypervisor ran someone else on our vCPUs). A gap with as much
 * run-queue wait is CPU scheduling in this VM; with steal, the host.
 */
import { readdirSync, readFileSync } from 'node:fs';

interface Sample {
  t: number;
  /** run-queue wait (ns) of each thread of the daemon, by thread id */
  threads: Map<number, number>;
  /** steal ticks of each vCPU */
  steal: number[];
}

const TICK_MS = 10; // USER_HZ 100

export interface StallInfo {
  gapMs: number;
  /** run-queue wait of the daemon's main thread around the gap */
  runDelayMs: number;
  /** the largest run-queue wait of one of its other threads around the gap */
  otherDelayMs: number;
  /** steal time around the gap, summed over the vCPUs */
  stealMs: number;
  /** the largest steal of one vCPU around the gap */
  stealOneMs: number;
}

/** Steal ticks per vCPU (the `cpuN` lines of /proc/stat, 8th value). */
function steal(): number[] {
  return readFileSync('/proc/stat', 'utf8').split('\n').filter((l) => /^cpu\d/.test(l)).map((l) => Number(l.trim().split(/\s+/)[8] ?? 0));
}

const stealDelta = (a: Sample, b: Sample): number[] => b.steal.map((x, i) => (x - (a.steal[i] ?? 0)) * TICK_MS);

/** Run-queue wait (ns: schedstat's 2nd field) of each thread of a process, by thread id; empty once it has gone. */
export function threadWaits(pid: number): Map<number, number> {
  const m = new Map<number, number>();
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      try {
        m.set(Number(t), Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[1] ?? 0));
      } catch {
        // the thread has gone
      }
    }
  } catch {
    // the process has gone
  }
  return m;
}

/** The largest growth of one thread's run-queue wait from a to b, the main thread (`pid`) left out (ms). */
export function otherWaitMs(a: Map<number, number>, b: Map<number, number>, pid: number): number {
  let max = 0;
  for (const [tid, ns] of b) {
    const was = a.get(tid);
    if (tid !== pid && was !== undefined) max = Math.max(max, (ns - was) / 1e6);
  }
  return max;
}

/** The main thread's run-queue wait from a to b (ms). */
export const mainWaitMs = (a: Map<number, number>, b: Map<number, number>, pid: number): number => ((b.get(pid) ?? Number.NaN) - (a.get(pid) ?? Number.NaN)) / 1e6;

export class StallSampler {
  private readonly samples: Sample[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number, everyMs = 20) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  private sample(): void {
    this.samples.push({ t: Date.now() / 1000, threads: threadWaits(this.pid), steal: steal() });
  }

  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }

  /** Totals over the whole run (ms). */
  totals(): { runDelayMs: number; otherDelayMs: number; stealMs: number } {
    const a = this.samples[0]!;
    const b = this.samples.at(-1)!;
    return { runDelayMs: mainWaitMs(a.threads, b.threads, this.pid), otherDelayMs: otherWaitMs(a.threads, b.threads, this.pid), stealMs: stealDelta(a, b).reduce((x, y) => x + y, 0) };
  }

  /** Run-queue wait and steal between the last sample before t0 and the first after t1 (s). */
  around(t0: number, t1: number, gapMs: number): StallInfo {
    let a = this.samples[0]!;
    let b = this.samples.at(-1)!;
    for (const s of this.samples) {
      if (s.t <= t0) a = s;
      if (s.t >= t1) {
        b = s;
        break;
      }
    }
    const d = stealDelta(a, b);
    return { gapMs, runDelayMs: mainWaitMs(a.threads, b.threads, this.pid), otherDelayMs: otherWaitMs(a.threads, b.threads, this.pid), stealMs: d.reduce((x, y) => x + y, 0), stealOneMs: Math.max(0, ...d) };
  }
}
