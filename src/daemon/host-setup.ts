/**
 * What the daemon does to the host once, outside the instances: its scheduling priority
 * (keepalived's vrrp_priority / vrrp_rt_priority) and the removal of VIPs left on the
 * interfaces before start.
 */
import type { Logger } from 'pino';
import type { DaemonConfig, InstanceModel } from '../config/model.js';
import type { Interface } from '../os/iface.js';
import type { InstanceLock } from '../os/instance-lock.js';
import type { Rtnl } from '../os/rtnl.js';
import { setNiceAllThreads, setRealtimeAllThreads } from '../os/sched.js';
import { parseIP } from '../protocol/addr.js';

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

/** VIPs of configured instances found on an interface at start belong to no one (`lock` held: no other vipd runs this configuration): removed. */
export async function removeLeftovers(rtnl: Rtnl, ifaces: ReadonlyMap<string, Interface>, instances: readonly InstanceModel[], lock: InstanceLock, log: Logger): Promise<void> {
  if (!lock.held) throw new Error('internal: leftover VIPs are removed only under the instance lock');
  const present = await rtnl.addresses();
  for (const i of instances) {
    for (const v of i.vips) {
      const iface = ifaces.get(v.dev ?? i.interface)!;
      const found = present.find((a) => a.ifindex === iface.index && a.address === v.address);
      if (!found) continue;
      // a VIP is on an interface only while its instance is MASTER (keepalived removes it too)
      const own = !found.secondary && !present.some((a) => a.ifindex === iface.index && a.family === v.family && a.address !== v.address && !a.secondary);
      log.warn({ instance: i.name, vip: v.address, interface: iface.name },
        own ? `removing VIP ${v.address} from ${iface.name} before start: it is the interface's only ${v.family === 4 ? 'IPv4' : 'IPv6'} address; a VIP must not be the host's own address`
          : `removing VIP ${v.address} from ${iface.name} before start (an earlier run's leftover, or added by hand): it is held only while the instance is MASTER`);
      await rtnl
        .delAddress({ family: v.family, address: parseIP(v.address)!.bytes, prefixLen: v.prefixLen, ifindex: iface.index })
        .catch((e: Error) => log.error({ err: e.message }, 'could not remove leftover VIP'));
    }
  }
}
