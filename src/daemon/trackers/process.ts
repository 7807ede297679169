/**
 * `vrrp_track_process`: processes counted as keepalived 2.2.7 counts them (core/track_process.c):
 * a scan of /proc at start, then the kernel's process events (src/os/proc-connector.ts).
 *
 * - One `ProcessWatch` per daemon (made once, `close()`d when the daemon exits) owns the
 *   connector and the table pid → trackers counting it (proc-match.ts ProcessTable, keepalived's
 *   process_tree) for every `ProcessTracker` (one per vrrp_track_process).
 * - fork of a counted process: the child counts too (check_process_fork); exec: the process is
 *   checked again by name (/proc/PID/comm) or command line (/proc/PID/cmdline) (check_process);
 *   name change (PR_SET_NAME): no longer counted under the old name, checked under the new
 *   (check_process_comm_change); exit: no longer counted (check_process_termination). Threads
 *   (tid ≠ pid) are ignored. Zombies are skipped by the start-up scan (read_procs).
 * - Reads of /proc are asynchronous (libuv's pool, never on the loop), started as events arrive
 *   (a few at a time) and applied strictly in event order, so a result is never applied after
 *   the exit that followed it. Events that arrive during a scan wait for it.
 * - Lost events (ENOBUFS, a gap in the per-CPU sequence numbers, a full queue): the receive
 *   queue is doubled and /proc scanned again 1 s later, as keepalived does
 *   (process_lost_messages_timer_thread).
 * - Quorum, quorum_max, fork_delay and terminate_delay: proc-match.ts `Quorum`; the level
 *   is `{ kind: 'bool', up: haveQuorum }`, logged "Quorum gained/lost for tracked process NAME".
 */
import type { Logger } from 'pino';
import type { TrackProcessModel } from '../../config/model-track.js';
import { acquireProcConnector, procFs as realProcFs, type ProcEvent, type ProcEventSource, type ProcFs } from '../../os/proc-connector.js';
import { nowUs } from '../clock.js';
import type { Scheduler, TimerOwner } from '../scheduler.js';
import { cmdlineReadLength, compileMatcher, matchCmdline, matchComm, nameProblem, ProcessTable, Quorum, type AddVia, type ProcInfo, type ProcMatcher, type RemoveVia } from './proc-match.js';
import type { Tracker, TrackerLevel, TrackerStatus } from './types.js';

interface Entry {
  e: ProcEvent;
  /** For exec: undefined while the reads run. */
  info?: ProcInfo | null;
  reading: boolean;
}

/** /proc reads in flight at most (libuv's pool has 4 threads, shared with the rest of the daemon). */
const MAX_READS = 8;
/** Events waiting at most; beyond, they are dropped and counted, and /proc is scanned again. */
const MAX_QUEUE = 65536;
const SCAN_CONCURRENCY = 16;

export interface ProcessWatchOptions {
  log: Logger;
  /** The event source (default: acquireProcConnector(): the inherited or a new connector). */
  source?: () => ProcEventSource;
  procfs?: ProcFs;
  /** Wait after a loss before the rescan, ms (keepalived: 1 s). */
  rescanDelayMs?: number;
  /** Warn when the kernel has sent nothing (not even the subscription's ack) this long after the start, ms. */
  confirmMs?: number;
}

/**
 * applied / ignored: events used, and not (threads, processes nobody counts, acks); reads /
 * vanished: /proc reads after an exec, and those that found the process gone; losses: each
 * schedules a rescan; queueDrops: events dropped for a full queue; rescans done; the rest:
 * the connector's (ConnectorCounters).
 */
export interface ProcessWatchCounters {
  applied: number;
  ignored: number;
  reads: number;
  vanished: number;
  losses: number;
  queueDrops: number;
  rescans: number;
  datagrams: number;
  dropped: number;
  overruns: number;
  missed: number;
}

export class ProcessWatch {
  private readonly log: Logger;
  private readonly procfs: ProcFs;
  private readonly openSource: () => ProcEventSource;
  private source: ProcEventSource | null = null;
  /** Trackers attached and not detached; those of them counting (scanned); those waiting for a scan to start. */
  private readonly attached = new Set<ProcessTracker>();
  private readonly active = new Set<ProcessTracker>();
  private readonly waiting = new Set<ProcessTracker>();
  private readonly table = new ProcessTable<ProcessTracker>();
  private queue: Entry[] = [];
  private head = 0;
  /** The next queue index whose read may need starting. */
  private readNext = 0;
  private reads = 0;
  private paused = 0;
  private scanChain: Promise<void> = Promise.resolve();
  private nextScan: Promise<void> | null = null;
  private rescanTimer: NodeJS.Timeout | null = null;
  private confirmTimer: NodeJS.Timeout | null = null;
  private heard = false;
  private readonly n = { applied: 0, ignored: 0, reads: 0, vanished: 0, losses: 0, queueDrops: 0, rescans: 0 };
  /** The counters of connectors closed before (they only ever grow). */
  private readonly past = { datagrams: 0, dropped: 0, overruns: 0, missed: 0 };

  constructor(private readonly o: ProcessWatchOptions) {
    this.log = o.log;
    this.procfs = o.procfs ?? realProcFs;
    this.openSource = o.source ?? acquireProcConnector;
  }

  /** Monotonic counters (for the metrics): this watch's and its connectors'. */
  counters(): ProcessWatchCounters {
    const c = this.source?.counters;
    const p = this.past;
    return { ...this.n, datagrams: p.datagrams + (c?.datagrams ?? 0), dropped: p.dropped + (c?.dropped ?? 0), overruns: p.overruns + (c?.overruns ?? 0), missed: p.missed + (c?.missed ?? 0) };
  }

  /**
   * Count for `t` from now on: resolves once /proc has been scanned for it (trackers attached
   * in the same turn share one scan). Rejects when the connector cannot be had.
   */
  attach(t: ProcessTracker): Promise<void> {
    this.attached.add(t);
    this.waiting.add(t);
    if (!this.nextScan) {
      const scan = this.scanChain.then(() => new Promise<void>((r) => setImmediate(r))).then(() => {
        this.nextScan = null;
        return this.scan([...this.waiting], false);
      });
      this.nextScan = scan;
      this.scanChain = scan.catch(() => undefined);
    }
    return this.nextScan;
  }

  /** Stop counting for `t`. A connector this process opened is closed with the last tracker; an inherited one is kept (it cannot be opened again here). */
  detach(t: ProcessTracker): void {
    this.attached.delete(t);
    this.waiting.delete(t);
    if (this.active.delete(t)) this.table.forget(t);
    if (this.attached.size === 0 && this.source && !this.source.inherited) this.close();
  }

  /** The daemon stops: the connector and every timer. */
  close(): void {
    if (this.rescanTimer) clearTimeout(this.rescanTimer);
    if (this.confirmTimer) clearTimeout(this.confirmTimer);
    this.rescanTimer = this.confirmTimer = null;
    if (this.source) {
      const c = this.source.counters;
      for (const k of ['datagrams', 'dropped', 'overruns', 'missed'] as const) this.past[k] += c[k];
      this.source.close();
    }
    this.source = null;
    this.queue = [];
    this.head = this.readNext = 0;
    this.table.clear();
  }

  private ensureSource(): void {
    if (this.source) return;
    const s = this.openSource(); // throws the operator's reason
    this.source = s;
    this.heard = false;
    s.start((e) => this.onEvent(e), (why) => this.lost(why));
    this.confirmTimer = setTimeout(() => {
      this.confirmTimer = null;
      if (!this.heard) this.log.warn({ tracker: 'process' }, `the kernel has sent no process event within ${(this.o.confirmMs ?? 1000) / 1000} s of subscribing (not even its acknowledgement): proc events may be missing (CONFIG_PROC_EVENTS) or vipd runs in a PID or user namespace other than the initial one; vrrp_track_process counts only what the /proc scans find`);
    }, this.o.confirmMs ?? 1000);
    this.confirmTimer.unref();
  }

  /** Scan /proc for `batch` (first counts) or for every tracker (`rescan`, after a loss). */
  private async scan(batch: ProcessTracker[], rescan: boolean): Promise<void> {
    for (const t of batch) this.waiting.delete(t);
    if (!batch.length) return;
    this.ensureSource();
    this.paused++;
    try {
      if (rescan) for (const t of batch) this.table.forget(t);
      const counts = new Map<ProcessTracker, number>(batch.map((t) => [t, 0]));
      const needComm = batch.some((t) => !t.matcher.fullCommand);
      const cmdLen = cmdlineReadLength(batch.map((t) => t.matcher));
      const pids = await this.procfs.pids();
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < pids.length) {
          const pid = pids[next++]!;
          const st = needComm ? await this.procfs.stat(pid) : null;
          if (needComm && (!st || st.state === 'Z')) continue;
          const cmd = cmdLen ? await this.procfs.cmdline(pid, cmdLen) : null;
          if (cmdLen && !cmd) continue;
          for (const t of batch) {
            const ok = t.matcher.fullCommand ? matchCmdline(t.matcher, cmd!) : matchComm(t.matcher, st!.comm);
            if (ok && this.table.seed(pid, t)) counts.set(t, counts.get(t)! + 1);
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(SCAN_CONCURRENCY, pids.length) }, worker));
      for (const t of batch) {
        if (!this.attached.has(t)) {
          this.table.forget(t); // stopped during the scan
          continue;
        }
        this.active.add(t);
        t.scanned(counts.get(t)!, rescan);
      }
    } finally {
      this.paused--;
      this.pump();
    }
  }

  private lost(why: string): void {
    this.n.losses++;
    if (this.rescanTimer) clearTimeout(this.rescanTimer);
    else {
      const size = this.source?.growRcvbuf();
      this.log.warn({ tracker: 'process', rcvbuf: size }, `${why}: counting processes again from /proc in ${(this.o.rescanDelayMs ?? 1000) / 1000} s${size ? ` (receive queue now ${size} bytes)` : ''}`);
    }
    this.rescanTimer = setTimeout(() => {
      this.rescanTimer = null;
      this.n.rescans++;
      this.scanChain = this.scanChain.then(() => this.scan([...this.active], true)).catch((e: Error) => this.log.error({ tracker: 'process', err: e.message }, `process rescan failed: ${e.message}`));
    }, this.o.rescanDelayMs ?? 1000);
  }

  private onEvent(e: ProcEvent): void {
    this.heard = true;
    let relevant: boolean;
    switch (e.what) {
      case 'fork':
        relevant = e.childPid === e.childTgid && (this.queued || this.table.has(e.parentTgid));
        break;
      case 'exit':
        relevant = e.pid === e.tgid && (this.queued || this.table.has(e.pid));
        break;
      case 'exec':
      case 'comm':
        relevant = e.pid === e.tgid && this.attached.size > 0;
        break;
      case 'ack':
        if (e.err) this.log.warn({ tracker: 'process', err: e.err }, `the kernel refused the process-event subscription (error ${e.err})`);
        relevant = false;
        break;
      default:
        relevant = false;
    }
    if (!relevant) {
      this.n.ignored++;
      return;
    }
    if (!this.queued && e.what !== 'exec') return this.apply(e, null);
    if (this.queue.length - this.head >= MAX_QUEUE) {
      this.n.queueDrops++;
      return this.lost('the process event queue is full');
    }
    this.queue.push({ e, reading: false });
    this.pump();
  }

  private get queued(): boolean {
    return this.paused > 0 || this.head < this.queue.length;
  }

  /** Start the reads of the first queued exec events, then apply what is ready, in order. */
  private pump(): void {
    if (this.readNext < this.head) this.readNext = this.head;
    for (; this.readNext < this.queue.length && this.reads < MAX_READS; this.readNext++) {
      const q = this.queue[this.readNext]!;
      if (q.e.what !== 'exec' || q.reading || q.info !== undefined) continue;
      q.reading = true;
      this.reads++;
      this.n.reads++;
      void this.readInfo(q.e.pid).then((info) => {
        this.reads--;
        q.reading = false;
        q.info = info;
        if (!info) this.n.vanished++;
        this.pump();
      });
    }
    while (!this.paused && this.head < this.queue.length) {
      const q = this.queue[this.head]!;
      if (q.e.what === 'exec' && q.info === undefined) return;
      this.head++;
      this.apply(q.e, q.info ?? null);
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = this.readNext = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.readNext -= this.head;
      this.head = 0;
    }
  }

  private async readInfo(pid: number): Promise<ProcInfo | null> {
    const ms = [...this.attached].map((t) => t.matcher);
    const needComm = ms.some((m) => !m.fullCommand);
    const cmdLen = cmdlineReadLength(ms);
    const comm = needComm ? await this.procfs.comm(pid) : null;
    if (needComm && comm === null) return null;
    const cmdline = cmdLen ? await this.procfs.cmdline(pid, cmdLen) : null;
    if (cmdLen && !cmdline) return null;
    return { comm, cmdline };
  }

  private apply(e: ProcEvent, info: ProcInfo | null): void {
    this.n.applied++;
    if (e.what === 'fork') this.table.fork(e.parentTgid, e.childTgid);
    else if (e.what === 'exec') {
      if (info) this.table.check(e.pid, info, false, this.active);
    } else if (e.what === 'comm') this.table.comm(e.pid, e.comm, this.active);
    else if (e.what === 'exit') this.table.exit(e.pid);
  }
}

export interface ProcessTrackerDeps {
  watch: ProcessWatch;
  scheduler: Scheduler;
  log: Logger;
}

/** One vrrp_track_process: its count, its quorum and its timers (on the daemon's scheduler). */
export class ProcessTracker implements Tracker, TimerOwner {
  readonly kind = 'process' as const;
  readonly name: string;
  onChange: ((level: TrackerLevel) => void) | null = null;
  /** @internal for ProcessWatch */
  readonly matcher: ProcMatcher;
  private running = false;
  private readonly quorum: Quorum;

  constructor(
    readonly model: TrackProcessModel,
    private readonly deps: ProcessTrackerDeps,
  ) {
    this.name = model.name;
    this.matcher = compileMatcher(model);
    this.quorum = new Quorum(model.quorum, model.quorumMax, model.forkDelayS, model.terminateDelayS, (kind, s) => this.arm(kind, s), (up) => {
      deps.log.info({ tracker: this.name, processes: this.quorum.count, up }, `Quorum ${up ? 'gained' : 'lost'} for tracked process ${this.name}`);
      this.onChange?.(this.level());
    });
  }

  level(): TrackerLevel {
    return { kind: 'bool', up: this.quorum.haveQuorum };
  }

  status(): TrackerStatus {
    const q = this.quorum;
    return { kind: 'process', name: this.name, level: this.level(), state: q.haveQuorum ? 'up' : 'down', processes: q.count, quorum: q.quorum, quorumMax: this.model.quorumMax };
  }

  /** The first /proc scan (shared with the other trackers); rejects when the connector cannot be had. */
  async start(): Promise<void> {
    const why = nameProblem(this.name, this.matcher);
    if (why) this.deps.log.warn({ tracker: this.name }, why);
    this.running = true;
    try {
      await this.deps.watch.attach(this);
    } catch (e) {
      this.running = false;
      throw e;
    }
  }

  stop(): void {
    this.running = false;
    this.deps.watch.detach(this);
    this.deps.scheduler.release(this);
  }

  onTimer(): void {
    this.deps.log.debug({ tracker: this.name, processes: this.quorum.count }, `${this.quorum.pending} delay of tracked process ${this.name} over`);
    this.quorum.fired();
  }

  /** @internal ProcessWatch: a scan found `count` processes (first scan, or a rescan after lost events). */
  scanned(count: number, rescan: boolean): void {
    const q = this.quorum;
    if (rescan) {
      if (count !== q.count) this.deps.log.info({ tracker: this.name, from: q.count, to: count }, `tracked process ${this.name}: ${count} processes after the rescan (${q.count} before)`);
      q.rescanned(count);
      return;
    }
    q.init(count);
    const range = `${q.quorum}${this.model.quorumMax === null ? '+' : `..${this.model.quorumMax}`}`;
    this.deps.log.info({ tracker: this.name, processes: count, up: q.haveQuorum }, `tracked process ${this.name}: ${count} running (quorum ${range}): ${q.haveQuorum ? 'up' : 'down'}`);
  }

  /** @internal ProcessWatch: one process more (+1) or less (-1), and how. */
  counted(delta: 1 | -1, via: AddVia | RemoveVia): void {
    if (!this.running) return;
    if (delta > 0) this.quorum.added(via as AddVia);
    else this.quorum.removed(via as RemoveVia);
  }

  private arm(kind: 'fork' | 'terminate' | null, delayS: number): void {
    if (kind === null) this.deps.scheduler.clear(this);
    else this.deps.scheduler.set(this, nowUs() + Math.round(delayS * 1e6));
  }
}
