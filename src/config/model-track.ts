/**
 * Model of health trackers, notifications and sync groups as keepalived 2.2.7 reads them
 * (vrrp_parser.c, trackers/track_file.c, vrrp_track.c, lib/notify.c). Every value is the
 * effective one after keepalived's defaults; `kw-track.ts` fills it and
 * `crossCheckTracking` resolves what needs the whole file (references, sync groups).
 */
import type { Pos } from './lexer.js';

/**
 * A command line as keepalived 2.2.7 splits it (lib/notify.c set_script_params_array): the
 * argv given to execve(2), never through a shell, except the file-open check form (argv[0]
 * starting `<` then `/`, e.g. `</dev/tcp/127.0.0.1/80`), which keepalived hands to
 * `/bin/sh -c` (see `keepalivedShellForm` in kw-notify.ts).
 */
export type Command = string[];

/** `USER [GROUP]` of a script: the group defaults to the user's own (getpwnam). */
export interface ScriptUser {
  user: string;
  group: string | null;
}

/** A notify script: `notify_* CMD [USER [GROUP]]`; user null = global script_user / keepalived_script / root. */
export interface NotifyScript {
  argv: Command;
  user: ScriptUser | null;
  pos: Pos;
}

/** `vrrp_script NAME { … }`. Defaults: vrrp_data.c alloc_vrrp_script. */
export interface VrrpScriptModel {
  name: string;
  script: Command;
  /** `interval`, whole seconds 1..4294; default 1. */
  intervalS: number;
  /** `timeout`, whole seconds; keepalived's 0 default means "the interval", resolved here. */
  timeoutS: number;
  /** `weight` -253..253; default 0 (0: failure puts the tracking instances in FAULT). */
  weight: number;
  /** `weight N reverse`: success lowers and failure raises the priority. */
  weightReverse: boolean;
  /** Successes needed to turn OK, 1..2^31-1; default 1. */
  rise: number;
  /** Failures needed to turn KO, 1..2^31-1; default 1. */
  fall: number;
  user: ScriptUser | null;
  /** `init_fail`: starts in the failed state instead of OK. */
  initFail: boolean;
  pos: Pos;
}

/** `track_file NAME { … }` (or the deprecated `vrrp_track_file`). Defaults: track_file.c track_file_handler. */
export interface TrackFileModel {
  name: string;
  file: string;
  /** -254..254; default 1 (the file's number times the weight is added to the priority). */
  weight: number;
  weightReverse: boolean;
  /** `init_file [VALUE] [overwrite]`: write VALUE (default 0) at start if missing, or always with overwrite. */
  initFile: { value: number; overwrite: boolean } | null;
  pos: Pos;
}

/** `vrrp_track_process NAME { … }`. Defaults: vrrp_data.c alloc_vrrp_process (zeroed, quorum 1, no max). */
export interface TrackProcessModel {
  name: string;
  /** `process PATH …`: the name (or full path) matched against the process. */
  process: string;
  /** The words after PATH on the `process` line, matched against the command line. */
  params: string[];
  /** `param_match`: 'exact' is implied by parameters or a bare `param_match`; null = name only. */
  paramMatch: 'exact' | 'initial' | 'partial' | null;
  /** -254..254; default 0 (keepalived.conf(5) says 1, the 2.2.7 code leaves 0). */
  weight: number;
  weightReverse: boolean;
  /** Processes needed for "up", 0..65535 (0 only with quorum_max 0); default 1. */
  quorum: number;
  /** Most processes still "up"; null = no limit (keepalived's UINT_MAX). */
  quorumMax: number | null;
  /** Seconds (µs resolution) to wait after quorum is lost / gained; `delay` sets both; default 0. */
  terminateDelayS: number;
  forkDelayS: number;
  /** Match /proc/PID/cmdline rather than the process name (implied by params or param_match). */
  fullCommand: boolean;
  pos: Pos;
}

/**
 * One entry of `track_interface` / `track_script` / `track_file` / `track_process` /
 * `track_bfd`: `NAME [weight N [reverse|noreverse]]`, with the defaults resolved by
 * `crossCheckTracking`: an omitted weight / reverse is the tracked object's own (scripts,
 * files, processes), or 0 / false for interfaces (weight 0: down means FAULT).
 */
export interface TrackRef {
  name: string;
  weight: number;
  reverse: boolean;
  pos: Pos;
}

export type TrackScriptRef = TrackRef;

/** Notifications of an instance or a sync group. */
export interface NotifyModel {
  master: NotifyScript | null;
  backup: NotifyScript | null;
  fault: NotifyScript | null;
  stop: NotifyScript | null;
  /** `notify_deleted CMD`: run when a reload deletes the instance (instances only). */
  deleted: NotifyScript | null;
  /** `notify_deleted` (with or without a script): report DELETED rather than FAULT on deletion. */
  notifyDeleted: boolean;
  /** `notify`: called with 4 more arguments: INSTANCE|GROUP NAME STATE PRIORITY. */
  any: NotifyScript | null;
  /** `notify_master_rx_lower_pri` (instances only). */
  masterRxLowerPri: NotifyScript | null;
  /**
   * `notify_priority_changes` (FIFO messages on priority changes). For an instance, resolved
   * by crossCheckTracking as keepalived's vrrp_complete_instance does: its own, else its sync
   * group's, else global `vrrp_notify_priority_changes`, else false. A group keeps null if unset.
   */
  priorityChanges: boolean | null;
}

/** `vrrp_sync_group NAME { … }`: instances that change state together. */
export interface SyncGroupModel {
  name: string;
  /** Member instance names as written (`group { … }`), checked by crossCheckTracking. */
  instances: string[];
  notify: NotifyModel;
  /** Mail on transitions; unset: global smtp_alert_vrrp, else smtp_alert, else false (vrrp.c). */
  smtpAlert: boolean;
  /**
   * `sync_group_tracking_weight` (or the deprecated `global_tracking`): members keep their
   * weighted trackers. Without it keepalived drops weighted track_script / track_file /
   * track_bfd entries of members and zeroes their track_interface weights.
   */
  trackingWeight: boolean;
  trackInterfaces: TrackRef[];
  trackScripts: TrackScriptRef[];
  trackFiles: TrackRef[];
  trackProcesses: TrackRef[];
  trackBfd: TrackRef[];
  pos: Pos;
}
