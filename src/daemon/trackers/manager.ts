/**
 * The trackers of a configuration at run time: one tracker per tracked object (a vrrp_script,
 * an interface, a track_file, a vrrp_track_process), however many instances and sync groups
 * track it, and the references that turn its level into each instance's effect (weight,
 * reverse: src/core/priority.ts trackerEffect). A sync group's track_* entries apply to every
 * member, as keepalived 2.2.7 adds them to each member's lists (vrrp_sync.c).
 *
 * The manager owns the trackers' lives (start, stop, keep across a reload when unchanged) and
 * tells the daemon, per instance, the tracker key (`script:NAME`, `interface:IF`,
 * `file:NAME`, `process:NAME`) and its new effect; the instance's core does the rest.
 */
import type { Logger } from 'pino';
import type { DaemonConfig, InstanceModel } from '../../config/model.js';
import type { TrackRef } from '../../config/model-track.js';
import { NO_EFFECT, trackerEffect, type TrackerEffect, type TrackerState } from '../../core/priority.js';
import { InterfaceTracker } from './interface.js';
import type { Tracker, TrackerKind, TrackerLevel, TrackerStatus } from './types.js';

/** One `track_*` line as an instance sees it, with where it comes from. */
export interface TrackerRef {
  key: string;
  kind: TrackerKind;
  name: string;
  weight: number;
  reverse: boolean;
  /** 'instance', or 'sync group NAME'. */
  via: string;
}

/** What `vipctl status` shows for one reference of one instance. */
export interface TrackerRefStatus extends TrackerStatus {
  weight: number;
  reverse: boolean;
  via: string;
  effect: TrackerEffect;
}

/** Builds a tracker for a tracked object; `reload`: made by a reload (track_file's init_file … overwrite keeps the file then). */
export type TrackerFactory = (kind: TrackerKind, name: string, c: DaemonConfig, reload: boolean) => Tracker;

/** The definition a tracker is built from, to tell whether a reload changed it. */
function definition(kind: TrackerKind, name: string, c: DaemonConfig): string {
  const strip = <T extends { pos?: unknown }>(o: T | undefined): string => JSON.stringify(o ? { ...o, pos: undefined } : null);
  switch (kind) {
    case 'script':
      return strip(c.scripts.find((s) => s.name === name)) + JSON.stringify([c.global.scriptUser, c.global.enableScriptSecurity]);
    case 'file':
      return strip(c.trackFiles.find((s) => s.name === name));
    case 'process':
      return strip(c.trackProcesses.find((s) => s.name === name));
    case 'interface':
      return name;
  }
}

/** Every tracker reference of an instance: its own lines, then its sync group's. */
export function trackerRefs(i: InstanceModel, c: DaemonConfig): TrackerRef[] {
  const out: TrackerRef[] = [];
  const add = (kind: TrackerKind, refs: readonly TrackRef[], via: string): void => {
    for (const r of refs) {
      const key = `${kind}:${r.name}`;
      // keepalived: a script tracked by both the instance and its group uses the group's weight unless that is 0
      const seen = out.findIndex((x) => x.key === key);
      if (seen >= 0) {
        if (r.weight !== 0) out[seen] = { key, kind, name: r.name, weight: r.weight, reverse: r.reverse, via };
        continue;
      }
      out.push({ key, kind, name: r.name, weight: r.weight, reverse: r.reverse, via });
    }
  };
  add('interface', i.trackInterfaces, 'instance');
  add('script', i.trackScripts, 'instance');
  add('file', i.trackFiles, 'instance');
  add('process', i.trackProcesses, 'instance');
  const g = i.syncGroup ? c.syncGroups.find((x) => x.name === i.syncGroup) : undefined;
  if (g) {
    const via = `sync group ${g.name}`;
    add('interface', g.trackInterfaces, via);
    add('script', g.trackScripts, via);
    add('file', g.trackFiles, via);
    add('process', g.trackProcesses, via);
  }
  return out;
}

export class TrackerManager {
  private readonly trackers = new Map<string, { tracker: Tracker; def: string }>();
  private refs = new Map<string, TrackerRef[]>();

  constructor(
    private config: DaemonConfig,
    private readonly make: TrackerFactory,
    private readonly log: Logger,
    /** Called when a tracker's level changes: the instance's new effect for that tracker key. */
    private readonly onEffect: (instance: string, key: string, effect: TrackerEffect) => void,
  ) {
    this.index(config);
  }

  /** Work to do at start beside the trackers' own (init_file of a track_file no instance tracks). */
  onStart: (() => Promise<void>) | null = null;
  /** Work to do after the trackers stopped (the process connector closed). */
  onStop: (() => void) | null = null;
  /** Checks a configuration's trackers need before the factory runs for it (scripts' users and files), at build and at each reload. */
  prepare: ((c: DaemonConfig) => Promise<void>) | null = null;

  private index(c: DaemonConfig, reload = false): void {
    this.refs = new Map(c.instances.map((i) => [i.name, trackerRefs(i, c)]));
    for (const refs of this.refs.values()) {
      for (const r of refs) {
        if (this.trackers.has(r.key)) continue;
        const tracker = this.make(r.kind, r.name, c, reload);
        tracker.onChange = (level) => this.changed(r.key, level);
        this.trackers.set(r.key, { tracker, def: definition(r.kind, r.name, c) });
      }
    }
  }

  /** Start every tracker (first script runs, first /proc scan, first file read). */
  async start(): Promise<void> {
    await this.onStart?.();
    await Promise.all([...this.trackers.values()].map(({ tracker }) => tracker.start()));
  }

  /** The core's initial tracker states for an instance (its effects now). */
  initial(instance: string): TrackerState[] {
    return (this.refs.get(instance) ?? []).map((r) => ({ name: r.key, ...this.effect(r) }));
  }

  /**
   * The tracker has not reported a level yet (a script not yet run, after a start or a
   * reload): an instance that already had its effect keeps it (keepalived's
   * SCRIPT_INIT_STATE_INIT_RELOAD: a reloaded script changes nothing until it reports).
   */
  unknown(key: string): boolean {
    const l = this.trackers.get(key)?.tracker.level();
    return !!l && l.kind === 'bool' && l.up === null;
  }

  /**
   * A disabled tracker (a script not found or insecure, a track_file whose directory is
   * missing) is dropped from its instances, as keepalived removes it: no effect at all (its
   * level must not count: with `weight 0 reverse`, a file's 0 would mean FAULT).
   */
  private effect(r: TrackerRef): TrackerEffect {
    const t = this.trackers.get(r.key)!.tracker;
    return t.status().disabled ? NO_EFFECT : trackerEffect(r.weight, r.reverse, t.level());
  }

  private changed(key: string, level: TrackerLevel): void {
    this.log.debug({ tracker: key, trackerLevel: level }, 'tracker level changed');
    for (const [instance, refs] of this.refs) {
      for (const r of refs) if (r.key === key) this.onEffect(instance, key, this.effect(r));
    }
  }

  /** A link went up or down (the daemon's rtnetlink monitor): its track_interface tracker, if any, follows. */
  linkState(ifname: string, up: boolean): void {
    const t = this.trackers.get(`interface:${ifname}`)?.tracker;
    if (t instanceof InterfaceTracker) t.set(up);
  }

  /** Per instance, each reference with its tracker's status and its effect now. */
  status(instance: string): TrackerRefStatus[] {
    return (this.refs.get(instance) ?? []).map((r) => ({
      ...this.trackers.get(r.key)!.tracker.status(), weight: r.weight, reverse: r.reverse, via: r.via, effect: this.effect(r),
    }));
  }

  /**
   * A reload (after check(next)): trackers whose definition did not change keep running with their level (a
   * script keeps its rise/fall count); changed or new ones start afresh; unused ones stop.
   */
  /**
   * The checks of a new configuration's trackers (scripts, process connector): the daemon
   * runs them before it changes anything on a reload; reload() then builds from them.
   * @throws Error naming the file:line of what cannot run here.
   */
  async check(next: DaemonConfig): Promise<void> {
    await this.prepare?.(next);
  }

  async reload(next: DaemonConfig): Promise<{ started: string[]; disabled: string[] }> {
    const keep = new Map<string, { tracker: Tracker; def: string }>();
    const stopping: Tracker[] = [];
    for (const [key, t] of this.trackers) {
      const [kind, ...rest] = key.split(':');
      const name = rest.join(':');
      const used = next.instances.some((i) => trackerRefs(i, next).some((r) => r.key === key));
      // a disabled tracker is checked again (the script made executable, the directory created)
      if (used && definition(kind as TrackerKind, name, next) === t.def && !t.tracker.status().disabled) keep.set(key, t);
      else stopping.push(t.tracker);
    }
    this.trackers.clear();
    for (const [k, v] of keep) this.trackers.set(k, v);
    this.config = next;
    const before = new Set(this.trackers.keys());
    this.index(next, true);
    await Promise.all(stopping.map((t) => t.stop()));
    const fresh = [...this.trackers].filter(([k]) => !before.has(k));
    await Promise.all(fresh.map(([, v]) => v.tracker.start()));
    // Running instances that kept their references learn the new trackers' levels; a script
    // not yet run changes nothing until it reports (keepalived's SCRIPT_INIT_STATE_INIT_RELOAD).
    for (const [key, { tracker }] of fresh) {
      const level = tracker.level();
      if (level.kind === 'bool' && level.up === null) continue;
      this.changed(key, level);
    }
    return { started: fresh.map(([k]) => k), disabled: fresh.filter(([, v]) => v.tracker.status().disabled).map(([k]) => k) };
  }

  async stop(): Promise<void> {
    await Promise.all([...this.trackers.values()].map(({ tracker }) => tracker.stop()));
    this.trackers.clear();
    this.onStop?.();
  }
}
