/**
 * What the core asks of the world, in order, through the ActionSink each instance is given at
 * construction. The daemon's runner implements ActionSink itself, so a backup re-arming its
 * timer or a master sending its advert allocates nothing; tests and the simulator give an
 * ActionLog and take the actions from it as values.
 */
export type State = 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT';
export type TimerKind = 'adver' | 'masterDown';
/**
 * Why the VIPs are announced: `master` on becoming MASTER (garp_master_repeat/_delay);
 * `lowerPrio` when a MASTER hears a lower-priority master, which may have announced the VIPs
 * meanwhile (keepalived's garp_lower_prio_repeat/_delay).
 */
export type AnnounceWhy = 'master' | 'lowerPrio';

export type Action =
  | { type: 'send'; priority: number }
  | { type: 'addVips' }
  | { type: 'removeVips' }
  | { type: 'announce'; why: AnnounceWhy }
  | { type: 'arm'; timer: TimerKind; at: number }
  | { type: 'cancel' }
  | { type: 'transition'; from: State; to: State; reason: string };

export interface ActionSink {
  /** Send an advert with this priority (0: resign). */
  send(priority: number): void;
  addVips(): void;
  removeVips(): void;
  /** Gratuitous ARP / unsolicited NA for the VIPs. */
  announce(why: AnnounceWhy): void;
  /** The instance's one timer is now due at `at` (replaces any earlier deadline). */
  arm(timer: TimerKind, at: number): void;
  cancel(): void;
  /** Called after the state changed. */
  transition(from: State, to: State, reason: string): void;
}

/** What take() returns when nothing was recorded: shared, so that an empty take allocates nothing. */
const NONE: readonly Action[] = Object.freeze([]);

/** An ActionSink that records the actions as values, in order, until `take()`. */
export class ActionLog implements ActionSink {
  private actions: Action[] = [];

  send(priority: number): void {
    this.actions.push({ type: 'send', priority });
  }
  addVips(): void {
    this.actions.push({ type: 'addVips' });
  }
  removeVips(): void {
    this.actions.push({ type: 'removeVips' });
  }
  announce(why: AnnounceWhy): void {
    this.actions.push({ type: 'announce', why });
  }
  arm(timer: TimerKind, at: number): void {
    this.actions.push({ type: 'arm', timer, at });
  }
  cancel(): void {
    this.actions.push({ type: 'cancel' });
  }
  transition(from: State, to: State, reason: string): void {
    this.actions.push({ type: 'transition', from, to, reason });
  }

  /** The actions recorded since the last take, oldest first (the log is empty afterwards). */
  take(): readonly Action[] {
    if (!this.actions.length) return NONE;
    const a = this.actions;
    this.actions = [];
    return a;
  }
}

/** The reason of the first transition of an instance (or sync group) that goes on in its state after a reload restarted it: no news, no notify. */
export const RESUMED = 'resumed after reload';

/**
 * The reason of a start in FAULT held only by weight-0 trackers that have not reported yet
 * (a vrrp_script before its first run): keepalived enters "FAULT STATE (init)" then and
 * notifies nothing (vrrp_scheduler.c vrrp_init_state: notifies only when not FAULT or
 * num_script_if_fault); the first report brings BACKUP with its notify, or a FAULT that is news.
 */
export const AWAITING_TRACKERS = 'startup: trackers not reported yet';
