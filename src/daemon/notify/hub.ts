/**
 * The daemon's owner of sync groups and notifications: the core SyncGroup objects of the
 * running instances, the notify scripts (checked at prepare, run by the Notifier), the notify
 * FIFOs, the mailer, and global_defs startup_script / shutdown_script.
 *
 * It hears the runners' events (`transition`, `priority`, `lowerPrio`) and the groups'
 * transitions; it never touches addresses or sends packets.
 */
import type { Logger } from 'pino';
import type { DaemonConfig, InstanceModel } from '../../config/model.js';
import type { SyncGroupModel } from '../../config/model-track.js';
import { SyncGroup, type GroupState } from '../../core/sync-group.js';
import type { InstanceRunner } from '../runner.js';
import type { DaemonEvent } from '../runner-types.js';
import { AWAITING_TRACKERS, RESUMED } from '../../core/instance.js';
import { runScript } from '../trackers/script-runner.js';
import { checkNotify, startStopScripts, type NotifyPlan } from './check.js';
import { NotifyFifos } from './fifo.js';
import { Mailer } from './mail.js';
import { Notifier, type NotifierDeps } from './notifier.js';
import type { NotifyQueues, NotifyRunEvent } from './queue.js';

/** How long vipd waits at shutdown for the notify_stop scripts and the last mails, milliseconds. */
const STOP_WAIT_MS = 3_000;

/** The counters of notifications (metrics, vipctl dump) and the groups' states. */
export interface NotifyStats {
  notify: NotifyQueues['counters'] | null;
  fifo: ReturnType<NotifyFifos['stats']>;
  mail: ReturnType<Mailer['stats']> | null;
  groups: { name: string; state: GroupState; members: string[] }[];
}

export type HubEvent = NotifyRunEvent | { type: 'group'; instance: null; group: string; from: GroupState; to: GroupState; reason: string };

export class NotifyHub {
  private notifier: Notifier | null = null;
  /** The notifier's sinks: a reload replaces the FIFOs and the mailer in place. */
  private deps: NotifierDeps | null = null;
  private fifos: NotifyFifos | null = null;
  private mailer: Mailer | null = null;
  private plan: NotifyPlan = new Map();
  /** The daemon's runners (bindGroups), for the other members of a group. */
  private runners: ReadonlyMap<string, InstanceRunner> = new Map();
  /** Groups a reload rebuilt, with the state the old object had: the same state again is not a transition. */
  private readonly before = new Map<string, GroupState>();
  /** The running groups by name, with their model. */
  private readonly groups = new Map<string, { g: SyncGroup; model: SyncGroupModel }>();

  constructor(
    private config: DaemonConfig,
    private readonly log: Logger,
    private readonly emit: (e: HubEvent) => void,
    /** Each notify script's timeout, ms (vipd run --notify-timeout); undefined: NOTIFY_TIMEOUT_MS. */
    private readonly notifyTimeoutMs?: number,
  ) {}

  /** Every check that can fail, before anything is touched: the notify scripts (a bad one is dropped and logged, as keepalived does). */
  async prepare(): Promise<void> {
    this.plan = await checkNotify(this.config, this.log);
  }

  /** A reload's check of `next`'s scripts (before anything changes); applied by reloaded(). */
  async check(next: DaemonConfig): Promise<NotifyPlan> {
    return checkNotify(next, this.log);
  }

  /** Before the instances start: the FIFOs opened (their scripts started), the mailer made, startup_script run and waited for. */
  async start(): Promise<void> {
    // keepalived logs a FIFO it cannot set up and runs without it; so does vipd (check-config warns)
    this.fifos = await NotifyFifos.open(this.config.global, this.log).catch((e: Error) => {
      this.log.error({ err: e.message }, `${e.message}: vipd runs without the notify FIFO, as keepalived 2.2.7 does; fix it and reload`);
      return null;
    });
    this.mailer = new Mailer(this.config, this.log);
    this.deps = { log: this.log, emit: (e) => this.emit(e), plan: this.plan, fifo: this.fifos, mail: this.mailer, ...(this.notifyTimeoutMs ? { notifyTimeoutMs: this.notifyTimeoutMs } : {}) };
    this.notifier = new Notifier(this.deps);
    await this.startStop('startup_script');
  }

  /**
   * Make the sync groups of `runners` (not started yet: the members must have joined their
   * group before start). Groups whose members all kept their runner keep their object.
   */
  bindGroups(runners: ReadonlyMap<string, InstanceRunner>, fresh: ReadonlySet<string>): SyncGroup[] {
    this.runners = runners;
    const made: SyncGroup[] = [];
    for (const name of [...this.groups.keys()]) if (!this.config.syncGroups.some((g) => g.name === name)) this.groups.delete(name);
    // an instance that left its group (a reload) is not restarted: it leaves the group object
    for (const r of runners.values()) if (!r.model.syncGroup) r.core.joinGroup(null);
    for (const model of this.config.syncGroups) {
      const members = this.config.instances.filter((i) => i.syncGroup === model.name).map((i) => runners.get(i.name)).filter((r): r is InstanceRunner => !!r);
      const old = this.groups.get(model.name);
      if (old && !members.some((r) => fresh.has(r.model.name)) && old.g.members.length === members.length) {
        old.model = model;
        continue;
      }
      if (old) this.before.set(model.name, old.g.state);
      const entry = { g: null as unknown as SyncGroup, model };
      entry.g = new SyncGroup(model.name, members.map((r) => r.core), (from, to, reason) => this.groupChanged(entry.model, from, to, reason));
      this.groups.set(model.name, entry);
      made.push(entry.g);
    }
    return made;
  }

  /** The state of an instance's sync group now, or null. */
  groupState(m: InstanceModel): GroupState | null {
    return m.syncGroup ? this.groups.get(m.syncGroup)?.g.state ?? null : null;
  }

  /** A runner's event (called before the group reacts to an instance's transition). */
  onEvent(e: DaemonEvent, runner: InstanceRunner | undefined): void {
    if (!this.notifier || !runner) return;
    const m = runner.model;
    // a state kept through a reload's restart (RESUMED), and a start held in FAULT only by
    // trackers not reported yet (AWAITING_TRACKERS), are no news: keepalived notifies nothing
    if (e.type === 'transition' && (e.to === 'MASTER' || e.to === 'BACKUP' || e.to === 'FAULT') && e.reason !== RESUMED && e.reason !== AWAITING_TRACKERS) this.notifier.instance(m, e.to, e.priority, this.groupState(m));
    else if (e.type === 'priority') this.notifier.priority(m, runner.core.state === 'MASTER', e.priority);
    else if (e.type === 'lowerPrio') {
      this.notifier.lowerPriority(m, e.priority);
      // keepalived: the other members of its sync group announce their VIPs too
      if (m.syncGroup) for (const i of this.config.instances) if (i.syncGroup === m.syncGroup && i.name !== m.name) this.runners.get(i.name)?.lowerPrioBurst();
    }
  }

  private groupChanged(model: SyncGroupModel, from: GroupState, to: GroupState, reason: string): void {
    const was = this.before.get(model.name);
    this.before.delete(model.name);
    if (from === 'INIT' && (was === to || reason === RESUMED)) {
      // keepalived's state_same_at_reload: a group rebuilt by a reload in the state it was in sends nothing
      this.log.info({ group: model.name, newState: to }, `VRRP_Group(${model.name}) still ${to} after the reload`);
      return;
    }
    this.log.info({ group: model.name, oldState: from, newState: to, reason }, `VRRP_Group(${model.name}) Syncing instances to ${to} state`);
    this.emit({ type: 'group', instance: null, group: model.name, from, to, reason });
    if (to !== 'INIT' && reason !== AWAITING_TRACKERS) this.notifier?.group(model, to);
  }

  /** An instance removed by a reload: DELETED (FAULT without notify_deleted), keepalived's clear_diff_vrrp. */
  deleted(m: InstanceModel, priority: number): void {
    this.notifier?.instance(m, 'DELETED', priority);
  }

  /**
   * A reload took `next`: models and checked scripts swapped; a changed notify FIFO closed and
   * the new one opened (keepalived reopens its FIFOs on every reload; vipd only on a change,
   * so a reader of an unchanged FIFO keeps it); changed mail settings make a new mailer (the
   * old one sends what it holds). With fifo_write_vrrp_states_on_reload, every state to the FIFO.
   */
  async reloaded(next: DaemonConfig, plan: NotifyPlan, runners: ReadonlyMap<string, InstanceRunner>): Promise<void> {
    const prev = this.config;
    this.config = next;
    this.plan = plan;
    if (this.notifier) this.notifier.plan = plan;
    if (!this.deps) return;
    const fifoKey = (c: DaemonConfig): string => JSON.stringify([c.global.notifyFifo, c.global.vrrpNotifyFifo, ...['notify_fifo', 'vrrp_notify_fifo', 'notify_fifo_script_user', 'vrrp_notify_fifo_script_user'].map((k) => c.global.other[k])]);
    if (fifoKey(prev) !== fifoKey(next)) {
      await this.fifos?.close();
      this.fifos = this.deps.fifo = null;
      try {
        this.fifos = this.deps.fifo = await NotifyFifos.open(next.global, this.log);
      } catch (e) {
        this.log.error({ err: (e as Error).message }, `reload: the notify FIFO could not be opened, FIFO lines are off until the next reload: ${(e as Error).message}`);
      }
    }
    const mailKey = (c: DaemonConfig): string => JSON.stringify([c.global.mail, c.routerId, 'no_email_faults' in c.global.other]);
    if (mailKey(prev) !== mailKey(next)) {
      const old = this.mailer;
      this.mailer = this.deps.mail = new Mailer(next, this.log);
      void old?.close(STOP_WAIT_MS);
    }
    if (!('fifo_write_vrrp_states_on_reload' in next.global.other)) return;
    for (const { g } of this.groups.values()) this.notifier?.fifoState('GROUP', g.name, g.state, 0);
    for (const r of runners.values()) this.notifier?.fifoState('INSTANCE', r.model.name, r.core.state, r.core.effective);
  }

  /** Shutdown (after the instances stopped): STOP for every instance then every group, waited for briefly; then the shutdown script. */
  async stop(instances: readonly { model: InstanceModel; priority: number }[]): Promise<void> {
    const n = this.notifier;
    if (!n) return; // start() did not run (a start that failed before it): nothing to stop
    const dropped = n.queues.dropPending();
    if (dropped) this.log.warn({ dropped }, `stopping: ${dropped} notify scripts not yet started were dropped`);
    for (const i of instances) n.instance(i.model, 'STOP', i.priority);
    for (const { model } of this.groups.values()) n.group(model, 'STOP');
    if (!(await n.queues.drained(STOP_WAIT_MS))) this.log.warn(`stopping: notify scripts still running after ${STOP_WAIT_MS / 1000} s are killed`);
    await this.mailer?.close(STOP_WAIT_MS);
    await this.fifos?.close();
    await this.startStop('shutdown_script');
    this.notifier = null;
  }

  /** Counters for metrics and status. */
  stats(): NotifyStats {
    return {
      notify: this.notifier?.queues.counters ?? null, fifo: this.fifos?.stats() ?? [], mail: this.mailer?.stats() ?? null,
      groups: [...this.groups.values()].map(({ g }) => ({ name: g.name, state: g.state, members: g.members.map((m) => m.config.name) })),
    };
  }

  /** keepalived's startup_script / shutdown_script: run and waited for, up to its timeout (then its group is killed). */
  private async startStop(keyword: 'startup_script' | 'shutdown_script'): Promise<void> {
    const s = startStopScripts(this.config).find((x) => x.keyword === keyword);
    const ready = s && this.plan.get(s.script);
    if (!s || !ready) return;
    const o = await runScript({ argv: ready.argv, uid: ready.uid, gid: ready.gid, timeoutMs: s.timeoutS * 1000 }).done;
    const fields = { script: keyword, command: ready.argv.join(' '), exitCode: o.exitCode, signal: o.signal, durationMs: Math.round(o.durationMs) };
    if (o.timedOut) this.log.warn(fields, `${keyword.replace('_', ' ')} timed out after ${s.timeoutS} s: killed`);
    else if (o.exitCode !== 0) this.log.warn(fields, `${keyword.replace('_', ' ')} failed, ${o.spawnError ?? (o.signal ? `signal ${o.signal}` : `status ${o.exitCode}`)}`);
    else this.log.info(fields, `${keyword.replace('_', ' ')} succeeded`);
  }
}
