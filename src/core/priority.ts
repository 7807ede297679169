/**
 * Effective priority from trackers, keepalived semantics: a tracker with a positive weight adds
 * it while the tracked thing is up; a negative weight is added while it is down; weight 0 puts
 * the instance in FAULT while down. The result is clamped to 1..254; an address owner (255)
 * keeps 255 (keepalived ignores weights on owners).
 */

export interface TrackerState {
  name: string;
  weight: number;
  up: boolean;
}

export interface EffectivePriority {
  priority: number;
  /** Names of weight-0 trackers that are down (the instance is in FAULT while non-empty). */
  faults: string[];
}

export function effectivePriority(base: number, trackers: Iterable<TrackerState>): EffectivePriority {
  let p = base;
  const faults: string[] = [];
  for (const t of trackers) {
    if (t.weight === 0) {
      if (!t.up) faults.push(t.name);
    } else if (t.weight > 0 && t.up) p += t.weight;
    else if (t.weight < 0 && !t.up) p += t.weight;
  }
  if (base === 255) return { priority: 255, faults };
  return { priority: Math.min(254, Math.max(1, p)), faults };
}
