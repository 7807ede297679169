/**
 * The daemon: puts the parts together and orders them — interfaces (interfaces.ts), VRRP
 * sockets (sockets.ts), the instance supervisor (supervisor.ts), the kernel objects a master
 * holds (reconciler/), trackers, notifications and sync groups (notify/), announcers, the MAC
 * learner and the crash guardian — and carries start, reload and stop.
 *
 * Start is two phases: prepare() only reads (interfaces must exist, objects must build),
 * start(lock) touches (scheduling, crash guardian, leftovers removed, sockets opened, adverts
 * sent) and takes the instance lock as proof that no other vipd of this namespace runs this
 * configuration.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { DaemonConfig, InstanceModel } from '../config/model.js';
import type { State } from '../core/instance.js';
import type { InstanceLock } from '../os/instance-lock.js';
import { Rtnl, RtnlMonitor, type RtnlEvent } from '../os/rtnl.js';
import { MonotonicTimer } from '../os/timer.js';
import type { VrrpSocket } from '../os/vrrp-socket.js';
import type { Interface } from '../os/iface.js';
import { Announcers } from './announcers.js';
import { Guardian } from './guardian.js';
import { applyPriority } from './sched-priority.js';
import { Interfaces } from './interfaces.js';
import { MacLearner } from './mac-learner.js';
import { NotifyHub, type NotifyStats } from './notify/hub.js';
import { KernelState, type BuiltObjects, type KernelStats } from './reconciler/kernel.js';
import type { KernelObject } from './reconciler/objects.js';
import { breathe, kernelRefusals } from './reload-confirm.js';
import { emptyResult, planReload, ReloadError, type ReloadResult } from './reload-plan.js';
import { buildTrackers } from './trackers/build.js';
import type { TrackerManager } from './trackers/manager.js';
import type { DaemonEvent, RunnerDeps } from './runner.js';
import { instanceStatus, type InstanceStatus } from './status.js';
import { Scheduler } from './scheduler.js';
import { VrrpSockets } from './sockets.js';
import { Supervisor } from './supervisor.js';
import { acceptFilter, checkFilter } from './accept-filter.js';
import { Vmacs, type VmacPlan } from './vmacs.js';
import { WaitingInstances } from './waiting.js';

export { ReloadError, type ReloadResult } from './reload-plan.js';

export class Daemon extends EventEmitter<{ event: [DaemonEvent] }> {
  readonly rtnl = new Rtnl((e) => this.log.error({ err: e.message }, 'rtnetlink receive error'));
  readonly startedAt = Date.now();
  private monitor: RtnlMonitor | null = null;
  readonly scheduler = new Scheduler((fire) => new MonotonicTimer(fire));
  private readonly ifaces: Interfaces;
  private readonly sockets: VrrpSockets;
  private readonly supervisor: Supervisor;
  private readonly kernel: KernelState;
  /** The VMAC links (use_vmac). */
  private readonly vmacs: Vmacs;
  private readonly macs: MacLearner;
  /** The health trackers (vrrp_script, track_interface, track_file, track_process); made by prepare(). */
  private trackers: TrackerManager | null = null;
  /** Sync groups, notify scripts, FIFOs, mail, startup/shutdown scripts. */
  private readonly notes: NotifyHub;
  /** One announcer per interface, shared by its instances, and the pacers of their frames. */
  private readonly announcers: Announcers;
  private readonly guardian = new Guardian();
  /**
   * `config` less the instances that wait for their interface (keepalived's
   * dynamic_interfaces): what runs. Every part but status and dump works from it.
   */
  private run: DaemonConfig;
  /** Instances waiting for their interface (dynamic_interfaces; the owner sets `dyn.onReady`). */
  readonly dyn: WaitingInstances;
  /** vrrp_rt_priority in force (SCHED_RR set through chrt), to apply a change on reload only. */
  private rtPriority: number | null = null;

  constructor(
    public config: DaemonConfig,
    private readonly log: Logger,
    opts: { notifyTimeoutMs?: number | undefined } = {},
  ) {
    super();
    this.run = config;
    this.announcers = new Announcers(config, log);
    this.notes = new NotifyHub(config, log, (e) => this.emit('event', e), opts.notifyTimeoutMs);
    this.ifaces = new Interfaces(this.rtnl, config, log, (iface, up) => this.linkState(iface, up));
    this.dyn = new WaitingInstances(log);
    this.ifaces.onRecreated = (name) => this.dyn.onRecreated(name, this.run);
    this.sockets = new VrrpSockets(log, (iface, sock) => this.runnerDeps(iface, sock));
    this.vmacs = new Vmacs(this.rtnl, log);
    this.supervisor = new Supervisor(this.sockets, this.ifaces, this.notes, log, () => this.trackers, this.vmacs);
    this.kernel = new KernelState(this.rtnl, log, this.guardian, () => acceptFilter(this.run, log));
    this.macs = new MacLearner(this.supervisor.runners, (n) => this.ifaces.get(n), log);
    // Adverts already in the sockets count before any Master_Down timer is judged: a daemon
    // that was off the CPU reads a backlog bigger than one loop turn takes (8 batches).
    this.scheduler.beforeFire = () => this.sockets.drain();
  }

  /** Instances in maintenance start at priority 1 (set before start(): src/daemon/handover.ts). */
  set inMaintenance(f: (name: string) => boolean) {
    this.supervisor.inMaintenance = f;
  }

  get runners(): ReadonlyMap<string, import('./runner.js').InstanceRunner> {
    return this.supervisor.runners;
  }

  /** Packets for a VRID no instance here serves. */
  get unknownVrid(): number {
    return this.sockets.unknownVrid;
  }

  /** Notify, FIFO and mail counters, and the sync groups' states. */
  notifyStats(): NotifyStats {
    return this.notes.stats();
  }

  /** Counters of the kernel objects (reconciler) and the accept-mode filter. */
  kernelStats(): KernelStats {
    return this.kernel.stats();
  }

  /** The answer to `status`: every instance. */
  status(): InstanceStatus[] {
    return [...this.supervisor.runners.values()].map((r) =>
      instanceStatus(r, (ip) => this.macs.macOf(ip), this.ifaces.get(r.model.interface)?.macText ?? '?', this.trackers?.status(r.model.name) ?? []));
  }

  private prepared = false;
  /** The VMACs of the configuration, named by prepare() (made by start()). */
  private vmacPlan: VmacPlan = new Map();
  /** The vrrp_startup_delay timer while it runs; stop() clears it. */
  private delayed: NodeJS.Timeout | null = null;
  /** When vrrp_startup_delay ends (epoch ms), while it runs. */
  private startsAt = 0;

  /** Milliseconds until the instances start (vrrp_startup_delay), or null once they run. */
  get startsInMs(): number | null {
    return this.delayed ? Math.max(0, this.startsAt - Date.now()) : null;
  }

  /**
   * The read-only part of start: look up every interface (an error names the line that wants
   * a missing one), check trackers and notify scripts. Touches nothing; start() calls it when
   * the caller has not.
   */
  async prepare(): Promise<void> {
    this.dyn.set(await this.ifaces.missing(this.config));
    this.run = WaitingInstances.runnable(this.config, this.dyn.waiting);
    await this.ifaces.resolve(this.run);
    this.vmacPlan = await this.vmacs.prepare(this.run);
    this.buildObjects(this.run, this.vmacPlan, true); // every object must build: an error here touches nothing
    await checkFilter(this.run);
    // scripts checked (found, executable, secure, their users), the process connector opened
    this.trackers = await buildTrackers(this.run, { scheduler: this.scheduler, log: this.log, linkUp: (n) => this.ifaces.get(n)?.up ?? false },
      (instance, key, effect) => this.supervisor.runners.get(instance)?.setTracker(key, effect));
    await this.notes.prepare();
    this.prepared = true;
  }

  /**
   * Run: the first call that changes anything. `lock` is this configuration's instance lock
   * (src/os/instance-lock.ts), held: objects found in the kernel are removed as an earlier
   * run's leftovers only under it, never from under another live vipd.
   */
  async start(lock: InstanceLock): Promise<void> {
    if (!this.prepared) await this.prepare();
    if (!lock.held) throw new Error('internal: leftovers are removed only under the instance lock');
    await this.notes.start(); // the FIFOs, then startup_script (waited for), before any VRRP
    this.rtPriority = await applyPriority(this.run, this.log, this.rtPriority);
    this.guardian.setTag(lock.name);
    const stale = await this.guardian.stopStale();
    if (stale.length) this.log.warn({ pids: stale }, `stopped the crash guardian of an earlier run of this configuration (pid ${stale.join(', ')}): it would have deleted what this run holds`);
    await this.vmacs.apply(this.vmacPlan, this.ifaces);
    this.configureKernel(this.run, this.vmacPlan);
    this.monitor = new RtnlMonitor();
    this.monitor.on('event', (e) => this.onRtnl(e));
    this.monitor.on('lost', (e) => void this.resync(e));
    await this.kernel.start();
    this.macs.start();
    await this.trackers!.start();
    const delayS = this.config.global.startupDelayS;
    if (delayS > 0) {
      // keepalived's vrrp_startup_delay: the instances start later (start() returns now: pid
      // files and READY=1 do not wait; a reload meanwhile replaces the configuration they
      // will start with, and a stop cancels it)
      this.log.info({ seconds: delayS }, `Delaying startup for ${delayS} seconds (vrrp_startup_delay)`);
      this.startsAt = Date.now() + delayS * 1000;
      this.delayed = setTimeout(() => {
        this.delayed = null;
        this.startInstances();
      }, delayS * 1000);
      return;
    }
    this.startInstances();
  }

  /**
   * The kernel objects of `c`, addresses of VMAC instances on their VMAC. `dry`: the VMACs
   * need not exist yet (a check before anything is made).
   */
  private buildObjects(c: DaemonConfig, plan: VmacPlan, dry = false): BuiltObjects {
    const names = new Set([...plan.values()].map((p) => p.name));
    const ifindexOf = (n: string): number => (dry && names.has(n) ? 0 : this.ifaces.indexOf(n));
    return this.kernel.build(c, ifindexOf, (m) => Vmacs.vipDev(plan, m));
  }

  private startInstances(): void {
    this.supervisor.startSet(this.run, this.run.instances.map((m) => m.name));
    this.log.info({ instances: this.run.instances.length, guardian: this.guardian.pid }, 'vipd running');
  }

  /** Shared by the runners of one socket (the socket implies the interface). */
  private runnerDeps(iface: Interface, socket: VrrpSocket): RunnerDeps {
    const emit = (e: DaemonEvent): void => {
      this.macs.onEvent(iface, e);
      if (e.instance !== null) this.notes.onEvent(e, this.supervisor.runners.get(e.instance));
      this.emit('event', e);
    };
    return {
      holder: this.kernel.reconciler, scheduler: this.scheduler, log: this.log, iface, ifaceOf: (n) => this.ifaces.get(n), socket,
      announcer: this.announcers.of(iface), announcerOf: (i) => this.announcers.of(i), emit,
      advertSent: (name, masterDownUs) => this.kernel.advertSent(name, masterDownUs),
    };
  }

  private onRtnl(e: RtnlEvent): void {
    this.dyn.onEvent(e, (i) => this.ifaces.knows(i));
    if (e.type === 'link') this.ifaces.onLinkEvent(e.op, e.link);
    else if (e.type === 'addr') this.supervisor.addressChanged(e.addr.ifindex, e.addr.address, e.op === 'new');
    this.kernel.onEvent(e);
  }

  private linkState(iface: Interface, up: boolean): void {
    this.supervisor.linkChanged(iface, up);
    this.trackers?.linkState(iface.name, up);
  }

  /** The kernel dropped events for the monitor (its queue was full): read links and objects again. */
  private async resync(e: Error): Promise<void> {
    this.log.warn({ err: e.message }, 'rtnetlink events lost; reading links, addresses, routes and rules again');
    try {
      await this.ifaces.resync();
      await this.kernel.resync();
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'could not read links and addresses again');
    }
  }

  /**
   * SIGHUP / `vipctl reload`: apply `next`. Every check runs first (interfaces, VMACs, kernel
   * objects, the accept filter, trackers, notify scripts, the new instances' advert sources and
   * sockets): a failure refuses the reload (ReloadError 'refused') with nothing changed. Then
   * the difference (reload-plan.ts): in-place changes keep state and held objects, only a new
   * identity on the wire restarts an instance. The kernel's answer for the objects the reload
   * adds is awaited: a refusal, like any failure while applying, puts the running
   * configuration back (ReloadError 'failed', naming what failed).
   */
  async reload(full: DaemonConfig, rollingBack = false): Promise<ReloadResult> {
    const [prevFull, prev, waitedBefore] = [this.config, this.run, this.dyn.waiting];
    let vmacPlan: VmacPlan;
    let notifyPlan: Awaited<ReturnType<NotifyHub['check']>>;
    let waiting: Map<string, string>;
    let next: DaemonConfig;
    try {
      // an empty or half-written file (a copy in progress) must not stop every instance
      if (prevFull.instances.length && !full.instances.length) throw new Error('the new configuration has no vrrp_instance (an empty or half-written file?); to run without instances, stop vipd');
      waiting = await this.ifaces.missing(full);
      next = WaitingInstances.runnable(full, waiting);
      await this.ifaces.resolve(next, this.run);
      vmacPlan = await this.vmacs.prepare(next);
      this.buildObjects(next, vmacPlan, true);
      await checkFilter(next);
      await this.trackers?.check(next);
      notifyPlan = await this.notes.check(next);
    } catch (e) {
      throw new ReloadError((e as Error).message, 'refused');
    }
    this.config = full;
    this.dyn.set(waiting);
    if (this.delayed) {
      const res = emptyResult();
      res.trackers = (await this.trackers?.reload(next)) ?? res.trackers;
      this.run = next; // vrrp_startup_delay still runs: the instances will start with this one
      await this.notes.reloaded(next, notifyPlan, this.supervisor.runners);
      this.announcers.reconfigure(next);
      await this.vmacs.apply(vmacPlan, this.ifaces);
      this.configureKernel(next, vmacPlan);
      return res;
    }
    await breathe();
    const { res, inPlace } = planReload(prev.instances, next.instances, this.dyn.recreated);
    this.dyn.recreated.clear();
    // one that ran and now waits for its interface is stopped, not removed (no DELETED)
    res.waiting = [...waiting].map(([instance, ifname]) => ({ instance, interface: ifname }));
    const nowWaiting = res.removed.filter((n) => waiting.has(n));
    res.removed = res.removed.filter((n) => !waiting.has(n));
    const fresh = next.instances.filter((m) => res.added.includes(m.name) || res.restarted.includes(m.name));
    let release: () => void;
    try {
      release = this.supervisor.reserve(fresh);
    } catch (e) {
      this.config = prevFull;
      this.dyn.waiting = waitedBefore;
      throw new ReloadError((e as Error).message, 'refused', res);
    }
    const had = this.built;
    let failure: string | null = null;
    try {
      await this.applyReload(next, res, inPlace, vmacPlan, notifyPlan, nowWaiting);
    } catch (e) {
      failure = (e as Error).message;
    } finally {
      release();
    }
    failure ??= await kernelRefusals(this.kernel.reconciler, ['', ...res.inPlace, ...res.stateKept], had, this.log);
    if (!failure || rollingBack) this.kernel.reconciler.commit(); // the objects it no longer wants go now
    if (!failure) {
      this.log.info(res, rollingBack ? 'running configuration put back' : 'configuration reloaded');
      return res;
    }
    if (rollingBack) throw new ReloadError(failure, 'failed', res);
    this.log.error({ err: failure }, `reload failed: ${failure}; putting the running configuration back`);
    try {
      await this.reload(prevFull, true);
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'the running configuration could not be put back completely');
      throw new ReloadError(`${failure}; putting the running configuration back failed too: ${(e as Error).message}`, 'failed', res);
    }
    throw new ReloadError(`${failure}; the running configuration was put back`, 'failed', res);
  }

  /** The difference, applied (after every check passed). */
  private async applyReload(next: DaemonConfig, res: ReloadResult, inPlace: readonly InstanceModel[], vmacPlan: VmacPlan, notifyPlan: Awaited<ReturnType<NotifyHub['check']>>, nowWaiting: readonly string[]): Promise<void> {
    for (const name of res.removed) {
      const r = this.supervisor.runners.get(name)!;
      this.notes.deleted(r.model, r.core.effective); // keepalived: DELETED (or FAULT) before the instance goes
    }
    const resume = new Map<string, State>();
    for (const name of [...res.removed, ...nowWaiting, ...res.restarted]) {
      const keep = res.stateKept.includes(name);
      const state = await this.supervisor.stop(name, keep);
      if (keep && state) resume.set(name, state);
    }
    res.trackers = (await this.trackers?.reload(next)) ?? res.trackers;
    this.run = next;
    this.announcers.reconfigure(next);
    this.ifaces.setDelays(next);
    this.rtPriority = await applyPriority(next, this.log, this.rtPriority);
    await this.vmacs.apply(vmacPlan, this.ifaces);
    // the objects first: an in-place master announces the addresses it gains once they are in
    await breathe();
    this.configureKernel(next, vmacPlan, true);
    for (const m of inPlace) {
      await breathe();
      this.supervisor.reconfigure(m, this.trackers);
    }
    // the unchanged ones take the new model objects too: the notify plan is keyed by them
    // (an old object would find no script: notify silently off after any reload)
    const kept = new Set([...res.restarted, ...res.added, ...inPlace.map((m) => m.name)]);
    for (const m of next.instances) if (!kept.has(m.name)) this.supervisor.adopt(m);
    await this.notes.reloaded(next, notifyPlan, this.supervisor.runners);
    await breathe();
    this.supervisor.startSet(next, [...res.restarted, ...res.added], resume);
  }

  /** The kernel objects configured last, by key (a reload tells its new or changed ones from them). */
  private built = new Map<string, KernelObject>();

  /** `reload`: deletes wait until the reload is confirmed or put back (commit in reload()). */
  private configureKernel(c: DaemonConfig, plan: VmacPlan, reload = false): void {
    const b = this.buildObjects(c, plan);
    this.built = new Map([...[...b.owners.values()].flat(), ...b.statics].map((o) => [o.key, o]));
    this.kernel.configure(b, this.vmacs.guardianLines(), reload);
  }

  /** Graceful stop: every master sends priority 0 and lets go of what it holds; then close everything. */
  async stop(): Promise<void> {
    if (this.delayed) clearTimeout(this.delayed);
    this.delayed = null;
    this.dyn.stop();
    const stopping = [...this.supervisor.runners.values()].map((r) => ({ model: r.model, priority: r.core.effective }));
    await this.supervisor.stopAll();
    await this.notes.stop(stopping); // notify_stop (STOP) of instances then groups, then shutdown_script
    await this.trackers?.stop();
    this.scheduler.stop();
    this.monitor?.close();
    this.announcers.close();
    this.macs.close();
    this.ifaces.close();
    await this.vmacs.stop();
    await this.kernel.stop();
    this.rtnl.close();
  }
}
