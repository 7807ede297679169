/**
 * Faults of an instance that come from its own configuration and addresses, not from a
 * tracker block (keepalived 2.2.7):
 * - `unicast_fault_no_peer` without any `unicast_peer`: FAULT for good ("Cannot use unicast
 *   without any peers - going to fault state", vrrp.c vrrp_complete_instance), where plain
 *   keepalived would fall back to multicast;
 * - `track_src_ip`: FAULT while the configured source address (unicast_src_ip or
 *   mcast_src_ip) is gone from the instance's interface (keepalived_netlink.c address events;
 *   without a configured source the keyword does nothing, as keepalived clears it).
 * Both are tracker states of the core, under the names below.
 */
import type { Logger } from 'pino';
import type { InstanceModel } from '../../config/model.js';
import type { TrackerEffect, TrackerState } from '../../core/priority.js';
import { canonicalIP } from '../../protocol/addr.js';

export const NO_PEER = 'unicast_fault_no_peer';
export const SRC_IP = 'track_src_ip';

/** The static trackers of an instance, with their state at start. */
export function staticTrackers(m: InstanceModel, log: Logger): TrackerState[] {
  const out: TrackerState[] = [];
  if (NO_PEER in m.other && m.unicastPeers.length === 0) {
    log.info({ instance: m.name }, `(${m.name}) Cannot use unicast without any peers - going to fault state (unicast_fault_no_peer)`);
    out.push({ name: NO_PEER, delta: 0, fault: true });
  }
  if (SRC_IP in m.other && (m.unicastSrc ?? m.mcastSrc)) out.push({ name: SRC_IP, delta: 0, fault: false });
  return out;
}

/**
 * The track_src_ip effect of an address event on interface `onInterface` (true: the
 * instance's own), or null when the event is not about its configured source.
 */
export function srcIpEffect(m: InstanceModel, onInterface: boolean, address: string, present: boolean): TrackerEffect | null {
  const src = m.unicastSrc ?? m.mcastSrc;
  if (!onInterface || !(SRC_IP in m.other) || !src || canonicalIP(address) !== canonicalIP(src)) return null;
  return { delta: 0, fault: !present };
}
