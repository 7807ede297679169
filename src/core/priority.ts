/**
 * Effective priority from trackers, keepalived 2.2.7's semantics (vrrp_track.c
 * process_script_update_priority, initialise_*_tracking_priorities, vrrp_set_effective_priority).
 * A tracker reports a level (`TrackerLevel`); each instance that tracks it turns that level
 * into an effect with its own weight and `reverse` (`trackerEffect`); the instance's
 * effective priority is its base priority plus every effect's delta, clamped to 1..254, and
 * the instance is in FAULT while any effect says so. An address owner (255) keeps 255.
 */

/**
 * The level of a tracker:
 * - `{ kind: 'bool', up }`: a script that succeeds / fails (after rise / fall), an interface
 *   up / down, a process quorum held / lost; `up: null` is a vrrp_script that has not
 *   reported yet (keepalived's SCRIPT_INIT_STATE_INIT);
 * - `{ kind: 'value', value }`: the integer read from a track_file.
 */
export type TrackerLevel = { kind: 'bool'; up: boolean | null } | { kind: 'value'; value: number };

/** What one tracker does to one instance now: add `delta` to its priority, or hold it in FAULT. */
export interface TrackerEffect {
  delta: number;
  fault: boolean;
  /** The fault is only "not reported yet" (a weight-0 vrrp_script before its first run). */
  pending?: boolean;
}

export interface TrackerState extends TrackerEffect {
  name: string;
}

export const NO_EFFECT: TrackerEffect = { delta: 0, fault: false };

/**
 * The effect of `level` through a `track_*` reference of weight `weight` (`reverse`: keepalived's
 * weight multiplier -1):
 * - bool, weight 0: FAULT while down (reverse: while up); a script not yet run holds FAULT
 *   (keepalived keeps the instance out of BACKUP until its weight-0 scripts report);
 * - bool, weight > 0: +weight while up; weight < 0: weight while down (reverse negates); a
 *   script not yet run adds nothing;
 * - value (track_file), weight 0: FAULT while the value is non-zero (reverse: while zero);
 *   otherwise value × weight (× -1 reversed): at or below -254 is FAULT, above 253 counts 253.
 */
export function trackerEffect(weight: number, reverse: boolean, level: TrackerLevel): TrackerEffect {
  const m = reverse ? -1 : 1;
  if (level.kind === 'value') {
    if (weight === 0) return { delta: 0, fault: level.value !== 0 === !reverse };
    const s = level.value * weight * m;
    return s <= -254 ? { delta: 0, fault: true } : { delta: Math.min(253, s), fault: false };
  }
  if (weight === 0) return level.up === null ? { delta: 0, fault: true, pending: true } : { delta: 0, fault: level.up !== !reverse };
  if (level.up === null) return NO_EFFECT;
  if (weight > 0) return { delta: level.up ? weight * m : 0, fault: false };
  return { delta: level.up ? 0 : weight * m, fault: false };
}

export interface EffectivePriority {
  priority: number;
  /** Names of the trackers that hold the instance in FAULT (in FAULT while non-empty). */
  faults: string[];
}

export function effectivePriority(base: number, trackers: Iterable<TrackerState>): EffectivePriority {
  let p = base;
  const faults: string[] = [];
  for (const t of trackers) {
    if (t.fault) faults.push(t.name);
    p += t.delta;
  }
  if (base === 255) return { priority: 255, faults };
  return { priority: Math.min(254, Math.max(1, p)), faults };
}
