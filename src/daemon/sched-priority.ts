/**
 * What the daemon does to the process once, outside the instances: its scheduling priority
 * (keepalived's vrrp_priority / vrrp_rt_priority).
 */
import type { Logger } from 'pino';
import type { DaemonConfig } from '../config/model.js';
import { setNiceAllThreads, setRealtimeAllThreads } from '../os/sched.js';

/**
 * keepalived's vrrp_priority (nice) and vrrp_rt_priority (SCHED_RR), for every thread
 * (src/os/sched.ts). Under CPU contention a daemon at the default priority waits on the
 * run queue behind busy processes and its adverts come late. `rtInForce`: the SCHED_RR
 * priority already set (a reload applies a change only); returns the one in force after.
 */
export async function applyPriority(c: DaemonConfig, log: Logger, rtInForce: number | null): Promise<number | null> {
  if (c.vrrpPriority !== null) {
    try {
      if (setNiceAllThreads(c.vrrpPriority)) log.info({ nice: c.vrrpPriority }, 'scheduling priority set (vrrp_priority)');
    } catch (e) {
      log.warn({ err: (e as Error).message, nice: c.vrrpPriority }, 'could not set vrrp_priority (needs CAP_SYS_NICE to raise it)');
    }
  }
  if (c.vrrpRtPriority !== null && c.vrrpRtPriority !== rtInForce) {
    try {
      await setRealtimeAllThreads(c.vrrpRtPriority);
      log.info({ rtPriority: c.vrrpRtPriority }, 'real-time scheduling set (vrrp_rt_priority, SCHED_RR)');
      return c.vrrpRtPriority;
    } catch (e) {
      log.warn({ err: (e as Error).message.trim(), rtPriority: c.vrrpRtPriority }, 'could not set vrrp_rt_priority');
    }
  }
  return rtInForce;
}
