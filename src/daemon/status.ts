/**
 * The daemon's answers to `status`, `who-owns` and `dump`: plain JSON objects (api 1), the
 * stable shape documented in docs/control-api.md.
 */
import { canonicalIP, formatIP } from '../protocol/addr.js';
import { nowUs } from './clock.js';
import type { InstanceRunner } from './runner.js';
import type { TrackerRefStatus } from './trackers/manager.js';

export interface InstanceStatus {
  name: string;
  interface: string;
  family: 4 | 6;
  vrid: number;
  version: 2 | 3;
  state: string;
  priority: number;
  effectivePriority: number;
  advertIntervalMs: number;
  vips: string[];
  vipsHeld: boolean;
  master: { address: string | null; mac: string | null; self: boolean; priority: number | null; lastAdvertAgoMs: number | null };
  transitions: number;
  lastTransition: { time: string; from: string; to: string; reason: string } | null;
  stats: InstanceRunner['stats'];
  /** Each track_* reference (the instance's own, then its sync group's): the tracker's state and its effect here. */
  trackers: TrackerRefStatus[];
  /** vipctl maintenance on: priority 1 until off (persisted). */
  maintenance: boolean;
  /** A handover in progress: 'resign' (priority 0 sent, VIPs kept) or the priority advertised for a chosen router to preempt. */
  handover: 'resign' | number | null;
  /** After a handover: the new master this instance does not preempt while it advertises. */
  yieldsTo: string | null;
  /** The other routers heard on this instance: address, last advertised priority, ms since. */
  peers: { address: string; priority: number; lastAdvertAgoMs: number }[];
}

export function instanceStatus(r: InstanceRunner, macOf: (ip: string) => string | null, ownMac: string, trackers: TrackerRefStatus[] = []): InstanceStatus {
  const m = r.core.master;
  const address = r.masterText();
  return {
    name: r.model.name,
    interface: r.model.interface,
    family: r.model.family,
    vrid: r.model.vrid,
    version: r.model.version,
    state: r.core.state,
    priority: r.model.priority,
    effectivePriority: r.core.effective,
    advertIntervalMs: r.model.advertIntervalUs / 1000,
    vips: r.model.vips.map((v) => `${v.address}/${v.prefixLen}`),
    vipsHeld: r.core.holdsVips,
    master: {
      address,
      mac: m?.self ? ownMac : address ? macOf(address) : null,
      self: Boolean(m?.self),
      priority: m?.priority ?? null,
      lastAdvertAgoMs: m && !m.self ? Math.round((nowUs() - m.lastAdvertAt) / 1000) : m?.self ? 0 : null,
    },
    transitions: r.stats.transitions,
    lastTransition: r.lastTransition
      ? { time: new Date(r.lastTransition.at).toISOString(), from: r.lastTransition.from, to: r.lastTransition.to, reason: r.lastTransition.reason }
      : null,
    stats: r.stats,
    trackers,
    maintenance: r.core.inMaintenance,
    handover: r.core.handingOver,
    yieldsTo: r.core.yieldTo ? formatIP(r.model.family, r.core.yieldTo) : null,
    peers: r.peers.list().map((p) => ({ address: p.address, priority: p.priority, lastAdvertAgoMs: Math.round((nowUs() - p.at) / 1000) })),
  };
}

export type WhoOwns =
  | { configured: false; address: string }
  | { configured: true; address: string; instance: string; state: string; master: InstanceStatus['master'] | null };

export function whoOwns(address: string, all: InstanceStatus[]): WhoOwns | null {
  const want = canonicalIP(address.split('/')[0] ?? '');
  if (!want) return null;
  const inst = all.find((i) => i.vips.some((v) => v.split('/')[0] === want));
  if (!inst) return { configured: false, address: want };
  return { configured: true, address: want, instance: inst.name, state: inst.state, master: inst.master.address ? inst.master : null };
}
