/**
 * What vipd does on a transition of an instance or a sync group, as keepalived 2.2.7's
 * vrrp_notify.c send_instance_notifies / send_group_notifies / send_event_notify /
 * send_instance_priority_notifies, in its order:
 *
 * 1. the state's script (notify_master, notify_backup, notify_fault, notify_stop,
 *    notify_deleted) with no arguments added;
 * 2. the generic `notify` script with `INSTANCE|GROUP NAME STATE PRIORITY` appended (a
 *    group's priority is 0);
 * 3. the FIFO line (`INSTANCE "VI_1" MASTER 100`, `GROUP "G" MASTER 0`);
 * 4. the mail (smtp_alert).
 *
 * keepalived's rules kept: an instance of a sync group that enters the state its group is
 * already in sends nothing (the group's notifications said it); a deleted instance is
 * notified as FAULT unless it has `notify_deleted`; notify_master_rx_lower_pri runs its script
 * without arguments and writes `MASTER_RX_LOWER_PRI`; with notify_priority_changes a priority
 * change writes `MASTER_PRIORITY` / `BACKUP_PRIORITY` to the FIFO. Scripts run in order per
 * instance and group (queue.ts).
 */
import type { Logger } from 'pino';
import type { InstanceModel } from '../../config/model.js';
import type { NotifyModel, NotifyScript, SyncGroupModel } from '../../config/model-track.js';
import type { NotifyPlan } from './check.js';
import { fifoLine } from './fifo.js';
import { NOTIFY_TIMEOUT_MS, NotifyQueues, STOP_TIMEOUT_MS, type NotifyCall, type NotifyRunEvent } from './queue.js';

export type NotifyState = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP' | 'DELETED';

/** Where the FIFO lines go (fifo.ts NotifyFifos). */
export interface FifoSink {
  write(line: string): void;
}

/** Where the mail goes (mail.ts Mailer). */
export interface MailSink {
  alert(kind: 'instance' | 'group', name: string, state: NotifyState, smtpAlert: boolean): void;
}

export interface NotifierDeps {
  log: Logger;
  emit: (e: NotifyRunEvent) => void;
  plan: NotifyPlan;
  fifo?: FifoSink | null;
  mail?: MailSink | null;
  /** The runner of the queues (tests inject one). */
  queues?: NotifyQueues;
  /** Each notify script's timeout, ms (`vipd run --notify-timeout`); default NOTIFY_TIMEOUT_MS. */
  notifyTimeoutMs?: number;
}

const FIELD: Record<NotifyState, keyof NotifyModel> = { MASTER: 'master', BACKUP: 'backup', FAULT: 'fault', STOP: 'stop', DELETED: 'deleted' };

export class Notifier {
  readonly queues: NotifyQueues;
  /** The checked scripts (replaced by a reload). */
  plan: NotifyPlan;
  /** keepalived's notifies_sent, per instance name. */
  private readonly sent = new Set<string>();

  private readonly notifyTimeoutMs: number;

  constructor(private readonly d: NotifierDeps) {
    this.queues = d.queues ?? new NotifyQueues(d.log, d.emit);
    this.plan = d.plan;
    this.notifyTimeoutMs = d.notifyTimeoutMs ?? NOTIFY_TIMEOUT_MS;
  }

  /**
   * An instance entered `state` with `priority` (its effective priority). `groupState`: the
   * state its sync group is in now (before the group's own transition), null without group.
   */
  instance(m: InstanceModel, state: NotifyState, priority: number, groupState: string | null = null): void {
    if (this.sent.has(m.name) && groupState !== null && groupState === state) return;
    if (state === 'DELETED' && !m.notify.notifyDeleted) state = 'FAULT';
    this.sent.add(m.name);
    this.run({ instance: m.name }, state, this.calls(m.notify, state, ['INSTANCE', m.name, state, String(priority)], this.timeout(state)));
    this.d.fifo?.write(fifoLine('INSTANCE', m.name, state, priority));
    this.d.mail?.alert('instance', m.name, state, m.smtpAlert);
  }

  /** A sync group entered `state` (its priority is reported as 0, as keepalived does). */
  group(g: SyncGroupModel, state: NotifyState): void {
    this.run({ instance: null, group: g.name }, state, this.calls(g.notify, state, ['GROUP', g.name, state, '0'], this.timeout(state)));
    this.d.fifo?.write(fifoLine('GROUP', g.name, state, 0));
    this.d.mail?.alert('group', g.name, state, g.smtpAlert);
  }

  /** A MASTER heard a lower-priority master (keepalived send_event_notify). */
  lowerPriority(m: InstanceModel, priority: number): void {
    const s = this.ready(m.notify.masterRxLowerPri);
    if (s) this.queues.enqueue({ instance: m.name }, 'MASTER_RX_LOWER_PRI', [{ script: s, args: [], timeoutMs: this.notifyTimeoutMs }]);
    this.d.fifo?.write(fifoLine('INSTANCE', m.name, 'MASTER_RX_LOWER_PRI', priority));
  }

  /** The effective priority changed (FIFO only, with notify_priority_changes). */
  priority(m: InstanceModel, master: boolean, priority: number): void {
    if (m.notify.priorityChanges) this.d.fifo?.write(fifoLine('INSTANCE', m.name, master ? 'MASTER_PRIORITY' : 'BACKUP_PRIORITY', priority));
  }

  /** fifo_write_vrrp_states_on_reload: the FIFO line of a state, nothing else. */
  fifoState(kind: 'INSTANCE' | 'GROUP', name: string, state: string, priority: number): void {
    this.d.fifo?.write(fifoLine(kind, name, state, priority));
  }

  /** STOP (shutdown) runs beside the queue, as keepalived forks it whatever runs; the rest in order. */
  private run(owner: { instance: string | null; group?: string }, state: NotifyState, calls: NotifyCall[]): void {
    if (state === 'STOP') this.queues.runAside(owner, state, calls);
    else this.queues.enqueue(owner, state, calls);
  }

  private timeout(state: NotifyState): number {
    return state === 'STOP' ? STOP_TIMEOUT_MS : this.notifyTimeoutMs;
  }

  private ready(s: NotifyScript | null): NonNullable<ReturnType<NotifyPlan['get']>> | null {
    return s ? this.plan.get(s) ?? null : null;
  }

  private calls(n: NotifyModel, state: NotifyState, args: string[], timeoutMs: number): NotifyCall[] {
    const out: NotifyCall[] = [];
    const own = this.ready(n[FIELD[state]] as NotifyScript | null);
    if (own) out.push({ script: own, args: [], timeoutMs });
    const any = this.ready(n.any);
    if (any) out.push({ script: any, args, timeoutMs });
    return out;
  }
}
