/**
 * Process scheduling for keepalived's vrrp_priority and vrrp_rt_priority, applied to every
 * thread of the daemon. On Linux both are per thread, and the main thread is not the only
 * one that matters: V8's garbage collector hands work to its platform worker and the main
 * thread waits for it to finish. A worker left at normal priority behind busy processes
 * stopped a real-time main thread for 220–285 ms (docs/BENCHMARKS.md, sixth round).
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { promisify } from 'node:util';

/** Thread ids of this process. */
function threadIds(): number[] {
  return readdirSync('/proc/self/task').map(Number);
}

/** The nice value of every thread (vrrp_priority); true if it changed anything. */
export function setNiceAllThreads(nice: number): boolean {
  let changed = false;
  for (const tid of threadIds()) {
    if (getPriority(tid) === nice) continue;
    setPriority(tid, nice);
    changed = true;
  }
  return changed;
}

/**
 * SCHED_RR at `priority` for every thread (vrrp_rt_priority). Node has no
 * sched_setscheduler; util-linux's chrt (essential on Debian) does it. Reset-on-fork: what
 * the daemon starts (the crash guardian, `ip`, scripts) runs as a normal process, and so
 * do threads created later (libuv's pool, which does no timed work). The kernel's RT
 * throttling (sched_rt_runtime_us, 95 % by default) still leaves the host some CPU.
 */
export async function setRealtimeAllThreads(priority: number): Promise<void> {
  await promisify(execFile)('chrt', ['--all-tasks', '--reset-on-fork', '--rr', '--pid', String(priority), String(process.pid)]);
}
