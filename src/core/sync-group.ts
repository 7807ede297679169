/**
 * keepalived 2.2.7's `vrrp_sync_group` (vrrp_sync.c, vrrp_scheduler.c try_up_instance,
 * vrrp_track.c down_instance): the member instances move together. Sans-I/O: the members
 * call the group from their transitions (VrrpInstance.joinGroup); the group forces the others
 * through their own events, so their actions go to their own sinks.
 *
 * The rules, as keepalived has them:
 * - MASTER only together: a member whose Master_Down_Timer fires wants MASTER, but goes
 *   there only when every other member wants it too (their timers fired, or they are MASTER);
 *   else it stays BACKUP and re-arms the timer ("prefer backup state to avoid thrashing").
 *   A member that hears a master again stops wanting. The last one to want it goes MASTER
 *   and takes the others with it (vrrp_sync_master).
 * - One MASTER member falling back to BACKUP (a higher-priority advert) takes the others to
 *   BACKUP (vrrp_sync_backup); they do not send priority 0.
 * - One member in FAULT puts the group in FAULT (vrrp_sync_fault): MASTER members resign
 *   with priority 0, BACKUP members stop. The group leaves FAULT when no member has a fault
 *   of its own; the member that clears last enters BACKUP and takes the others with it.
 * - The group's own state changes once per group transition (`onState`): its notify_* run
 *   then, once, not once per member.
 */
import type { VrrpInstance } from './instance.js';
import type { InstanceCore } from './instance-core.js';
import { AWAITING_TRACKERS, RESUMED, type State } from './actions.js';

/** The group's state: INIT until its members have started, then as keepalived's sgroup->state. */
export type GroupState = 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT';

/** What a member asks of its group (VrrpInstance calls these). */
export interface GroupGate {
  /** vrrp_sync_can_goto_master: the group is MASTER, or every other member wants MASTER. */
  canGoMaster(member: InstanceCore): boolean;
  /** Another member has a fault of its own: this one stays in FAULT (num_member_fault). */
  holdsFault(member: InstanceCore): boolean;
  /** After the member's transition (not called for the transitions the group itself forces). */
  changed(member: InstanceCore, from: State, to: State, now: number): void;
}

export class SyncGroup implements GroupGate {
  state: GroupState = 'INIT';
  /** Forcing the members: their transitions do not call back into the group. */
  private syncing = false;

  constructor(
    readonly name: string,
    readonly members: readonly VrrpInstance[],
    /** The group's own transitions (notify_* of the group, its FIFO line, its mail). */
    private readonly onState: (from: GroupState, to: GroupState, reason: string) => void = () => {},
  ) {
    for (const m of members) m.joinGroup(this);
  }

  canGoMaster(member: InstanceCore): boolean {
    if (this.state === 'MASTER') return true;
    return this.members.every((m) => m === member || m.wantMaster);
  }

  holdsFault(member: InstanceCore): boolean {
    return this.members.some((m) => m !== member && m.hasOwnFault);
  }

  /**
   * Before the members start (and once they have joined): keepalived's initial group state
   * (vrrp_sync_set_group), so that the group's notifications come before its members', as
   * keepalived's vrrp_init_state sends them: FAULT if a member has a fault, MASTER if every one
   * wants it (an address owner, or a MASTER going on after a reload), else BACKUP. A member
   * already running (a group a reload rebuilt) counts with its state. `resumed`: every member
   * goes on in its state after a reload (reason RESUMED: no news). A FAULT held only by members
   * whose weight-0 trackers have not reported is no news either (AWAITING_TRACKERS: keepalived
   * keeps such a group in INIT, vrrp_track.c, and notifies it once they report).
   */
  init(resumed = false): void {
    if (this.state !== 'INIT') return;
    const st = (m: VrrpInstance): State => (m.state !== 'INIT' ? m.state : m.hasOwnFault ? 'FAULT' : m.wantMaster ? 'MASTER' : 'BACKUP');
    const states = this.members.map(st);
    const awaiting = this.members.every((m) => st(m) !== 'FAULT' || (m.state === 'INIT' && m.awaitingTrackers));
    const to = states.includes('FAULT') ? 'FAULT' : states.every((s) => s === 'MASTER') ? 'MASTER' : 'BACKUP';
    this.set(to, resumed ? RESUMED : to === 'FAULT' && awaiting ? AWAITING_TRACKERS : 'startup');
  }

  changed(member: InstanceCore, from: State, to: State, now: number): void {
    if (this.syncing) return;
    const why = `sync group ${this.name}: ${member.config.name} ${from} -> ${to}`;
    // each force* acts only from the states its docstring names, and does nothing from the others
    if (to === 'MASTER') this.sync('MASTER', member, why, (o) => o.forceMaster(now, why));
    else if (to === 'FAULT') this.sync('FAULT', member, why, (o) => o.forceFault(now, true, why));
    else if (to === 'BACKUP' && from !== 'INIT') {
      this.sync('BACKUP', member, why, (o) => (o.state === 'MASTER' ? o.forceBackup(now, why) : o.forceFault(now, false, why)));
    }
  }

  /** Force every other member with `force`, then the group enters `to` (its state changes after its members', as keepalived's). */
  private sync(to: GroupState, member: InstanceCore, why: string, force: (o: VrrpInstance) => void): void {
    if (this.state === to) return;
    this.syncing = true;
    try {
      for (const o of this.members) if (o !== member) force(o);
    } finally {
      this.syncing = false;
    }
    this.set(to, why);
  }

  private set(to: GroupState, why: string): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    this.onState(from, to, why);
  }
}
