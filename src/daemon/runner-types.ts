/** The shapes an InstanceRunner shares with the daemon: its counters, what it is given, the events it emits. */
import type { Logger } from 'pino';
import type { State } from '../core/instance.js';
import type { Interface } from '../os/iface.js';
import type { VrrpSocket } from '../os/vrrp-socket.js';
import type { DropReason } from '../protocol/vrrp.js';
import type { Announcer } from './announcer.js';
import type { HubEvent } from './notify/hub.js';
import type { Scheduler } from './scheduler.js';

export interface RunnerStats {
  advertsSent: number;
  advertsReceived: number;
  priorityZeroSent: number;
  priorityZeroReceived: number;
  transitions: number;
  sendErrors: number;
  /** Re-announcements after a lower-priority master was heard. */
  reannounced: number;
  drops: Partial<Record<DropReason, number>>;
}

/**
 * What an instance holds, seen from the instance: the reconciler (src/daemon/reconciler/).
 * It says whether it holds; it never adds or deletes anything itself.
 */
export interface Holder {
  /** The instance (`owner`) holds its objects (MASTER) or lets go. */
  hold(owner: string, on: boolean): void;
  /** `cb` once every object of the owner is as wanted (the kernel acked it, or the failure was logged). */
  afterSettled(owner: string, cb: () => void): void;
  settled(owner: string): Promise<void>;
}

export interface RunnerDeps {
  holder: Holder;
  /** An advert with a priority above 0 went out; `masterDownUs`: how long after it the crash guardian may keep what this instance holds. */
  advertSent?: (instance: string, masterDownUs: number) => void;
  scheduler: Scheduler;
  log: Logger;
  iface: Interface;
  /** Interfaces of VIPs with a `dev` of their own. */
  ifaceOf: (name: string) => Interface | undefined;
  socket: VrrpSocket;
  /** The announcer of the instance's interface. */
  announcer: Announcer;
  /** The announcer of another interface (a VIP with its own `dev` is announced there, with that interface's MAC). */
  announcerOf?: (iface: Interface) => Announcer;
  /** Events for the control socket's watchers. */
  emit: (e: DaemonEvent) => void;
}

export type DaemonEvent =
  | { type: 'transition'; instance: string; from: State; to: State; reason: string; priority: number; master: string | null }
  | { type: 'master'; instance: string; master: string | null; priority: number | null }
  | { type: 'priority'; instance: string; priority: number }
  /** A MASTER heard a lower-priority master (at most once per own advert interval); priority: its own. */
  | { type: 'lowerPrio'; instance: string; priority: number }
  /** A notify script ran (`notify`), a sync group changed state (`group`): src/daemon/notify/hub.ts. */
  | HubEvent;
