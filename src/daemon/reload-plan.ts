/**
 * What a reload does to each instance, from the running and the new configuration alone
 * (pure): kept as it is, reprioritised (only its priority changed: state and addresses kept,
 * as keepalived keeps them), restarted, added or removed.
 */
import type { InstanceModel } from '../config/model.js';

/** What a reload did (the control API's `reload` answer): instances, and trackers (re)started or disabled (`kind:name`). */
export interface ReloadResult {
  restarted: string[];
  added: string[];
  removed: string[];
  reprioritised: string[];
  trackers: { started: string[]; disabled: string[] };
}

/** The meaning of an instance: positions (`pos`: a comment added above must not restart it) left out. */
function meaning(m: InstanceModel, priority = m.priority, group = m.syncGroup): string {
  return JSON.stringify({ ...m, priority, syncGroup: group }, (k, v: unknown) => (k === 'pos' ? undefined : v));
}

/**
 * The plan, and `leftGroup`: instances that only left their sync group (no restart: the
 * notify hub unjoins them; their model is replaced in place). A sync group with a new or
 * restarted member restarts all its members: they start together, never one MASTER beside a
 * fresh BACKUP of the same group.
 */
export function planReload(old: readonly InstanceModel[], next: readonly InstanceModel[]): { res: ReloadResult; leftGroup: InstanceModel[]; reprioritise: InstanceModel[] } {
  const res: ReloadResult = { restarted: [], added: [], removed: [], reprioritised: [], trackers: { started: [], disabled: [] } };
  const leftGroup: InstanceModel[] = [];
  const byName = new Map(next.map((m) => [m.name, m]));
  const oldNames = new Set(old.map((m) => m.name));
  for (const m of old) {
    const n = byName.get(m.name);
    if (!n) res.removed.push(m.name);
    else if (meaning(n) === meaning(m)) continue;
    else if (n.syncGroup === null && meaning(n) === meaning(m, m.priority, null)) leftGroup.push(n);
    else if (meaning(n, 0) === meaning(m, 0)) res.reprioritised.push(m.name);
    else res.restarted.push(m.name);
  }
  for (const n of next) if (!oldNames.has(n.name)) res.added.push(n.name);
  const fresh = new Set([...res.restarted, ...res.added]);
  for (const i of next) {
    if (!i.syncGroup || fresh.has(i.name) || !next.some((o) => o.syncGroup === i.syncGroup && fresh.has(o.name))) continue;
    res.restarted.push(i.name);
    res.reprioritised = res.reprioritised.filter((n) => n !== i.name);
  }
  return { res, leftGroup, reprioritise: res.reprioritised.map((n) => byName.get(n)!) };
}
