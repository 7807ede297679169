/**
 * keepalived `vrrp_sync_group`: the member instances move together. When one becomes MASTER
 * the others follow to MASTER; when one falls back to BACKUP the others follow; while any
 * member is in FAULT the whole group is in FAULT, and it leaves FAULT when no member has one.
 * Sans-I/O: wraps the member instances and returns actions per member.
 */
import type { Action, VrrpInstance } from './instance.js';

export type GroupActions = Map<VrrpInstance, Action[]>;

export class SyncGroup {
  constructor(
    readonly name: string,
    readonly members: readonly VrrpInstance[],
  ) {}

  /**
   * Run `event` on one member, then propagate any transition it made to the others
   * (and theirs, until the group is stable).
   */
  apply(member: VrrpInstance, now: number, event: (i: VrrpInstance) => readonly Action[]): GroupActions {
    const result: GroupActions = new Map();
    const add = (i: VrrpInstance, acts: readonly Action[]): void => {
      if (acts.length) result.set(i, [...(result.get(i) ?? []), ...acts]);
    };
    const queue: [VrrpInstance, readonly Action[]][] = [[member, event(member)]];
    for (let guard = 0; queue.length && guard < 4 * this.members.length + 4; guard++) {
      const [inst, acts] = queue.shift()!;
      add(inst, acts);
      for (const a of acts) {
        if (a.type !== 'transition') continue;
        const why = `sync group ${this.name}: ${inst.config.name} ${a.from} -> ${a.to}`;
        for (const other of this.members) {
          if (other === inst) continue;
          let follow: readonly Action[] = [];
          if (a.to === 'MASTER') follow = other.forceMaster(now, why);
          else if (a.to === 'BACKUP' && a.from === 'MASTER') follow = other.forceBackup(now, why);
          else if (a.to === 'FAULT') follow = other.forceFault(now, true, why);
          else if (a.from === 'FAULT' && !this.members.some((m) => m.hasOwnFault && m !== other))
            follow = other.forceFault(now, false, why);
          if (follow.length) queue.push([other, follow]);
        }
      }
    }
    return result;
  }
}
