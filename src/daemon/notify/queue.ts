/**
 * Runs notify scripts, one queue per instance and per sync group, never blocking the event
 * loop (runScript: posix_spawn on a pool thread, exit on a pidfd).
 *
 * Order. keepalived 2.2.7 forks each notify script as the transition happens and never
 * waits for it (notify.c notify_exec): it guarantees only the order the scripts start in; a
 * slow notify_backup may still run when the notify_master of the next transition starts, and
 * finish after it. vipd guarantees more: the scripts of one instance (or group) run one after
 * the other in the order of its transitions, and those of one transition in keepalived's
 * order (notify_STATE, then `notify`): a script starts when the previous one has exited.
 * Different instances do not wait for each other.
 *
 * Bounds. keepalived gives notify scripts no timeout (notify_stop: 1 s at shutdown). Since a
 * queue waits, vipd gives each script {@link NOTIFY_TIMEOUT_MS} (then SIGTERM to its group,
 * SIGKILL 2 s later), logged. At most {@link MAX_PENDING} jobs wait per queue; beyond, the
 * oldest waiting one is dropped, counted and logged (an instance flapping faster than its
 * scripts run keeps its latest transitions).
 */
import type { Logger } from 'pino';
import { runScript, type ScriptOutcome } from '../trackers/script-runner.js';
import type { ReadyScript } from './check.js';
import { Throttle } from '../throttle.js';

/** Each notify script's timeout (vipd; keepalived has none), milliseconds. */
export const NOTIFY_TIMEOUT_MS = 30_000;
/** keepalived's timeout for notify_stop scripts at shutdown (vrrp_notify.c: TIMER_HZ). */
export const STOP_TIMEOUT_MS = 1_000;
/** Jobs waiting per queue. */
export const MAX_PENDING = 32;

/** One script of a job, with the arguments keepalived appends (`notify`: INSTANCE|GROUP NAME STATE PRIORITY). */
export interface NotifyCall {
  script: ReadyScript;
  args: string[];
  timeoutMs: number;
}

/** What `vipctl watch` shows of each notify run (DaemonEvent `notify`). */
export interface NotifyRunEvent {
  type: 'notify';
  /** The instance, or null for a group (then `group`). */
  instance: string | null;
  group?: string;
  /** The keyword: notify_master, notify … */
  script: string;
  /** The state notified (MASTER …, MASTER_RX_LOWER_PRI). */
  state: string;
  command: string;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  error?: string;
}

export interface NotifyCounters {
  runs: number;
  failures: number;
  timeouts: number;
  dropped: number;
}

interface Job {
  calls: NotifyCall[];
  state: string;
}

type Run = typeof runScript;

export class NotifyQueues {
  readonly counters: NotifyCounters = { runs: 0, failures: 0, timeouts: 0, dropped: 0 };
  private readonly queues = new Map<string, { jobs: Job[]; busy: boolean; owner: { instance: string | null; group?: string } }>();
  private idle: (() => void)[] = [];
  /** Runs started aside of the queues (runAside) and not ended yet. */
  private aside = 0;
  /** Warnings of jobs dropped from full queues: one per 10 s at most. */
  private readonly dropLog = new Throttle(10_000);

  constructor(
    private readonly log: Logger,
    private readonly emit: (e: NotifyRunEvent) => void,
    private readonly run: Run = runScript,
  ) {}

  /** Queue the calls of one transition of `owner` (an instance name, or a group with `group`). */
  enqueue(owner: { instance: string | null; group?: string }, state: string, calls: NotifyCall[]): void {
    if (!calls.length) return;
    const key = owner.group !== undefined ? `group:${owner.group}` : `instance:${owner.instance}`;
    let q = this.queues.get(key);
    if (!q) this.queues.set(key, (q = { jobs: [], busy: false, owner }));
    if (q.jobs.length >= MAX_PENDING) {
      const lost = q.jobs.shift()!;
      this.counters.dropped += lost.calls.length;
      // a flap burst drops many: one warning per 10 s, with how many were not told
      const held = this.dropLog.pass();
      if (held !== null) {
        this.log.warn({ ...owner, state: lost.state, dropped: this.counters.dropped, suppressed: held }, `${label(owner)}: the notify scripts of ${lost.state} dropped${held ? ` (and ${held} more transitions' since the last warning)` : ''}: ${MAX_PENDING} transitions wait for earlier scripts (a script that does not end, or a flapping instance)`);
      }
    }
    q.jobs.push({ calls, state });
    if (!q.busy) void this.pump(key);
  }

  /**
   * Run `calls` now, one after the other, beside the owner's queue rather than behind it:
   * the STOP notifications at shutdown, which keepalived forks whatever else runs (a hung
   * notify_master must not keep notify_stop from running).
   */
  runAside(owner: { instance: string | null; group?: string }, state: string, calls: NotifyCall[]): void {
    if (!calls.length) return;
    this.aside++;
    void (async () => {
      try {
        for (const c of calls) await this.one(owner, state, c);
      } finally {
        this.aside--;
        if (this.isIdle()) for (const f of this.idle.splice(0)) f();
      }
    })();
  }

  /** Drop every job not yet started (shutdown); the running scripts go on. Returns how many were dropped. */
  dropPending(): number {
    let n = 0;
    for (const q of this.queues.values()) {
      n += q.jobs.reduce((s, j) => s + j.calls.length, 0);
      q.jobs = [];
    }
    this.counters.dropped += n;
    return n;
  }

  /** Resolves when every queue is empty and no script runs, or after `timeoutMs` (false then). */
  drained(timeoutMs: number): Promise<boolean> {
    if (this.isIdle()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.idle = this.idle.filter((f) => f !== done);
        resolve(false);
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(t);
        resolve(true);
      };
      this.idle.push(done);
    });
  }

  private isIdle(): boolean {
    if (this.aside > 0) return false;
    for (const q of this.queues.values()) if (q.busy || q.jobs.length) return false;
    return true;
  }

  private async pump(key: string): Promise<void> {
    const q = this.queues.get(key)!;
    q.busy = true;
    try {
      for (let job = q.jobs.shift(); job; job = q.jobs.shift()) {
        for (const c of job.calls) await this.one(q.owner, job.state, c);
      }
    } finally {
      q.busy = false;
      if (this.isIdle()) for (const f of this.idle.splice(0)) f();
    }
  }

  private async one(owner: { instance: string | null; group?: string }, state: string, c: NotifyCall): Promise<void> {
    const argv = [...c.script.argv, ...c.args];
    const command = argv.join(' ');
    this.counters.runs++;
    const o: ScriptOutcome = await this.run({ argv, uid: c.script.uid, gid: c.script.gid, timeoutMs: c.timeoutMs }).done;
    const ok = o.exitCode === 0 && !o.timedOut;
    if (!ok) this.counters.failures++;
    if (o.timedOut) this.counters.timeouts++;
    const fields = { ...owner, script: c.script.keyword, state, command, exitCode: o.exitCode, signal: o.signal, timedOut: o.timedOut, durationMs: Math.round(o.durationMs) };
    if (o.timedOut) this.log.warn(fields, `${label(owner)}: ${c.script.keyword} ${command} timed out after ${c.timeoutMs / 1000} s: its process group was killed`);
    else if (o.spawnError) this.log.error({ ...fields, err: o.spawnError }, `${label(owner)}: ${c.script.keyword} ${command} could not start: ${o.spawnError}`);
    else if (!ok) this.log.warn(fields, `${label(owner)}: ${c.script.keyword} ${command} ${o.signal ? `killed by ${o.signal}` : `exited with status ${o.exitCode}`}`);
    else this.log.debug(fields, `${label(owner)}: ${c.script.keyword} ran`);
    if (o.output) this.log.debug({ ...owner, script: c.script.keyword, output: o.output }, 'notify script output');
    this.emit({ type: 'notify', ...fields, ...(o.spawnError ? { error: o.spawnError } : {}) });
  }
}

function label(o: { instance: string | null; group?: string }): string {
  return o.group !== undefined ? `VRRP_Group(${o.group})` : `(${o.instance})`;
}
