/**
 * The trackers part of `vipctl status`: one row per tracked object (a vrrp_script, an
 * interface, a track_file, a vrrp_track_process), however many instances track it, with its
 * state, what it last did, and its effect on each instance that tracks it ("VI_1 -20",
 * "VI_2 FAULT", "VI_3 0"). Fits 100 columns: long cells end in "…".
 */
import type { InstanceStatus } from '../daemon/status.js';
import type { TrackerRefStatus } from '../daemon/trackers/manager.js';

const cut = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** What the tracker last did, in a few words: a script's last run and how far it is from turning, a file's value, a process count. */
export function trackerDetail(t: TrackerRefStatus): string {
  if (t.disabled) return `disabled: ${t.disabled}`;
  switch (t.kind) {
    case 'script': {
      if (!t.runs) return 'not run yet';
      if (t.lastResult === undefined) return 'first run going';
      const last = t.lastResult === 'exit' ? `exit ${t.lastExit}` : t.lastResult;
      const ms = t.lastDurationMs === undefined ? '' : `, ${Math.round(t.lastDurationMs)} ms`;
      // keepalived's result counter: OK from `rise` up to rise+fall-1
      const r = t.result ?? 0;
      const rise = t.rise ?? 1;
      const turn = t.level.kind === 'bool' && t.level.up ? `fails after ${r - rise + 1} more` : `ok after ${rise - r} more`;
      return `${last}${ms}; ${turn}`;
    }
    case 'file':
      return `${t.file ?? ''} = ${t.level.kind === 'value' ? t.level.value : '?'}`;
    case 'process':
      return `${t.processes ?? 0} running, quorum ${t.quorum ?? 1}${t.quorumMax !== null && t.quorumMax !== undefined ? `..${t.quorumMax}` : ''}`;
    case 'interface':
      return '';
  }
}

/** Rows TRACKER, STATE, DETAIL, EFFECT for every tracker of `instances`; empty when none. `wide`: cells whole. */
export function trackerRows(instances: InstanceStatus[], wide = false): string[][] {
  const byKey = new Map<string, { t: TrackerRefStatus; effects: string[] }>();
  for (const i of instances) {
    for (const t of i.trackers ?? []) {
      const key = `${t.kind}:${t.name}`;
      const e = byKey.get(key) ?? { t, effects: [] };
      byKey.set(key, e);
      e.effects.push(`${i.name} ${t.effect.fault ? 'FAULT' : t.effect.delta > 0 ? `+${t.effect.delta}` : String(t.effect.delta)}`);
    }
  }
  if (!byKey.size) return [];
  const rows = [['TRACKER', 'STATE', 'DETAIL', 'EFFECT']];
  const c = (x: string, n: number): string => (wide ? x : cut(x, n));
  for (const [key, { t, effects }] of byKey) rows.push([c(key, 28), t.disabled ? 'disabled' : t.state, c(trackerDetail(t), 36), c(effects.join(', '), 28)]);
  return rows;
}
