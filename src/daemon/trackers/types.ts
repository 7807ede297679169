/**
 * What every health tracker of the daemon (vrrp_script, track_interface, track_file,
 * track_process) gives the tracker manager (`trackers.ts`): a level it can be asked for at any
 * time, a callback when the level changes, and a status for `vipctl status` and the metrics.
 * How a level becomes a priority change or a FAULT for each tracking instance (weight,
 * reverse) is the core's (`src/core/priority.ts`), never the tracker's.
 */

import type { TrackerLevel } from '../../core/priority.js';

/** The level of a tracker (`TrackerLevel` of src/core/priority.ts: bool up / down / null = not yet run, or a track_file value). */
export type { TrackerLevel };

export type TrackerKind = 'script' | 'interface' | 'file' | 'process';

/** For vipctl status / watch and the metrics. Fields that do not apply to a kind are absent. */
export interface TrackerStatus {
  kind: TrackerKind;
  name: string;
  level: TrackerLevel;
  /** Human word: 'init', 'ok', 'failed', 'up', 'down', the file's value, 'disabled'. */
  state: string;
  /** Why the tracker cannot run (script not found, insecure, …): it then never changes level. */
  disabled?: string;
  /** vrrp_script: exit code of the last run (null: killed by a signal or never ran). */
  lastExit?: number | null;
  /** vrrp_script: how the last run ended: 'exit', 'signal SIGxxx', 'timeout', 'spawn error: …'. */
  lastResult?: string;
  /** vrrp_script: duration of the last run, milliseconds. */
  lastDurationMs?: number;
  /** vrrp_script: keepalived's `result` counter (0..rise+fall-1; OK when >= rise), rise and fall. */
  result?: number;
  rise?: number;
  fall?: number;
  /** vrrp_script: runs started, runs skipped because the previous one was still going, timeouts. */
  runs?: number;
  skipped?: number;
  timeouts?: number;
  /** track_process: processes counted now, quorum, quorum_max (null: no limit). */
  processes?: number;
  quorum?: number;
  quorumMax?: number | null;
  /** track_file: the file watched. */
  file?: string;
}

/** A running tracker. `start` may be async (first /proc scan, first file read); `stop` ends every timer, watcher and child it owns. */
export interface Tracker {
  readonly kind: TrackerKind;
  readonly name: string;
  /** Called on every change of level (not on every run). */
  onChange: ((level: TrackerLevel) => void) | null;
  level(): TrackerLevel;
  status(): TrackerStatus;
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
}
