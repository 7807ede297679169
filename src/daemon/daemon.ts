/**
 * The daemon: resolves interfaces, clears configured VIPs found before start, opens one VRRP socket
 * per (interface, family[, unicast peers]) and one packet socket per interface, runs the
 * instances, follows link and address events, and reloads or stops cleanly.
 *
 * Start is two phases: prepare() only reads (interfaces must exist), start(lock) touches
 * (scheduling, crash guardian, leftover VIPs removed, sockets opened, adverts sent) and takes
 * the instance lock as proof that no other vipd of this namespace runs this configuration.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { DaemonConfig, InstanceModel } from '../config/model.js';
import { lookupInterface, type Interface } from '../os/iface.js';
import type { InstanceLock } from '../os/instance-lock.js';
import { NetlinkError, Rtnl, RtnlMonitor, type RtnlEvent } from '../os/rtnl.js';
import { MonotonicTimer } from '../os/timer.js';
import { VrrpSocket } from '../os/vrrp-socket.js';
import { Announcers } from './announcers.js';
import { configAddresses } from './preflight.js';
import { Guardian } from './guardian.js';
import { applyPriority, removeLeftovers } from './host-setup.js';
import { LinkDebounce, linkDelays } from './link-debounce.js';
import { MacLearner } from './mac-learner.js';
import { NotifyHub, type NotifyStats } from './notify/hub.js';
import { buildTrackers } from './trackers/build.js';
import { SRC_IP, srcIpEffect } from './trackers/static.js';
import type { TrackerManager } from './trackers/manager.js';
import { InstanceRunner, type DaemonEvent, type RunnerDeps } from './runner.js';
import { instanceStatus, type InstanceStatus } from './status.js';
import { Scheduler } from './scheduler.js';

/** What a reload did (the control API's `reload` answer): instances, and trackers (re)started or disabled (`kind:name`). */
export interface ReloadResult {
  restarted: string[];
  added: string[];
  removed: string[];
  reprioritised: string[];
  trackers: { started: string[]; disabled: string[] };
}

interface SocketEntry {
  sock: VrrpSocket;
  runners: Map<number, InstanceRunner>;
  /** What the socket's runners share (one object and one event closure, not one per instance). */
  deps: RunnerDeps | null;
}

/** Receive queue for the socket's instances, at the shortest advert interval among them. */
function sizeQueue(e: SocketEntry): void {
  let min = Infinity;
  for (const r of e.runners.values()) min = Math.min(min, r.model.advertIntervalUs);
  if (e.runners.size) e.sock.sizeReceiveQueue(e.runners.size, min);
}

export class Daemon extends EventEmitter<{ event: [DaemonEvent] }> {
  readonly rtnl = new Rtnl((e) => this.log.error({ err: e.message }, 'rtnetlink receive error'));
  readonly startedAt = Date.now();
  private monitor: RtnlMonitor | null = null;
  readonly scheduler = new Scheduler((fire) => new MonotonicTimer(fire));
  readonly runners = new Map<string, InstanceRunner>();
  private readonly macs: MacLearner;
  /** interface_up_down_delays between the rtnetlink monitor and the link state. */
  private readonly debounce: LinkDebounce;
  /** The health trackers (vrrp_script, track_interface, track_file, track_process); made by prepare(). */
  private trackers: TrackerManager | null = null;
  /** Sync groups, notify scripts, FIFOs, mail, startup/shutdown scripts. */
  private readonly notes: NotifyHub;
  private readonly sockets = new Map<string, SocketEntry>();
  /** One announcer per interface, shared by its instances, and the pacers of their frames. */
  private readonly announcers: Announcers;
  private readonly ifaces = new Map<string, Interface>();
  private readonly guardian = new Guardian();
  /** vrrp_rt_priority in force (SCHED_RR set through chrt), to apply a change on reload only. */
  private rtPriority: number | null = null;
  /** Packets for a VRID no instance here serves, per socket. */
  unknownVrid = 0;

  constructor(
    public config: DaemonConfig,
    private readonly log: Logger,
    opts: { notifyTimeoutMs?: number | undefined } = {},
  ) {
    super();
    this.announcers = new Announcers(config, log);
    this.notes = new NotifyHub(config, log, (e) => this.emit('event', e), opts.notifyTimeoutMs);
    this.macs = new MacLearner(this.runners, (n) => this.ifaces.get(n), log);
    this.debounce = new LinkDebounce(linkDelays(config, log), log, (index, up) => this.linkState(index, up));
    // Adverts already in the sockets count before any Master_Down timer is judged: a daemon
    // that was off the CPU reads a backlog bigger than one loop turn takes (8 batches).
    this.scheduler.beforeFire = () => {
      for (const e of this.sockets.values()) e.sock.drain();
    };
  }

  /** Notify, FIFO and mail counters, and the sync groups' states. */
  notifyStats(): NotifyStats {
    return this.notes.stats();
  }

  /** The answer to `status`: every instance. */
  status(): InstanceStatus[] {
    return [...this.runners.values()].map((r) =>
      instanceStatus(r, (ip) => this.macs.macOf(ip), this.ifaces.get(r.model.interface)?.macText ?? '?', this.trackers?.status(r.model.name) ?? []));
  }

  private prepared = false;
  /** The vrrp_startup_delay timer while it runs; stop() clears it. */
  private delayed: NodeJS.Timeout | null = null;
  /** When vrrp_startup_delay ends (epoch ms), while it runs. */
  private startsAt = 0;

  /** Milliseconds until the instances start (vrrp_startup_delay), or null once they run. */
  get startsInMs(): number | null {
    return this.delayed ? Math.max(0, this.startsAt - Date.now()) : null;
  }

  /**
   * The read-only part of start: look up every interface (an error names the one missing).
   * Touches nothing; start() calls it when the caller has not.
   */
  async prepare(): Promise<void> {
    await this.resolveInterfaces(this.config);
    // scripts checked (found, executable, secure, their users), the process connector opened
    this.trackers = await buildTrackers(this.config, { scheduler: this.scheduler, log: this.log, linkUp: (n) => this.ifaces.get(n)?.up ?? false },
      (instance, key, effect) => this.runners.get(instance)?.setTracker(key, effect));
    await this.notes.prepare();
    this.prepared = true;
  }

  /**
   * Run: the first call that changes anything. `lock` is this configuration's instance lock
   * (src/os/instance-lock.ts), held: VIPs found on the interfaces are removed as an earlier
   * run's leftovers only under it, never from under another live vipd.
   */
  async start(lock: InstanceLock): Promise<void> {
    if (!this.prepared) await this.prepare();
    await this.notes.start(); // the FIFOs, then startup_script (waited for), before any VRRP
    this.rtPriority = await applyPriority(this.config, this.log, this.rtPriority);
    this.armGuardian(this.config);
    await removeLeftovers(this.rtnl, this.ifaces, this.config.instances, lock, this.log);
    this.monitor = new RtnlMonitor();
    this.monitor.on('event', (e) => this.onRtnl(e));
    this.monitor.on('lost', (e) => void this.resync(e));
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

  private startInstances(): void {
    this.startInstanceSet(this.config.instances.map((m) => m.name));
    this.log.info({ instances: this.config.instances.length, guardian: this.guardian.pid }, 'vipd running');
  }

  /**
   * Look up every interface of `c`. The addresses of `also` (the running configuration, on
   * reload) and of `c` are VIPs: never taken as an interface's own address.
   */
  private async resolveInterfaces(c: DaemonConfig, also?: DaemonConfig): Promise<void> {
    const tracked = [...[...c.instances, ...c.syncGroups].flatMap((o) => o.trackInterfaces.map((t) => t.name)), ...c.ifDelays.map((d) => d.name)];
    const names = new Set([...c.instances.flatMap((i) => [i.interface, ...i.vips.map((v) => v.dev ?? i.interface)]), ...tracked]);
    const managed = new Set([...configAddresses(c), ...(also ? configAddresses(also) : [])]);
    for (const n of names) {
      try {
        this.ifaces.set(n, await lookupInterface(this.rtnl, n, managed));
      } catch (e) {
        if (e instanceof NetlinkError && e.code === 'ENODEV') {
          // name the line that wants it when it is a tracker's (track_interface, interface_up_down_delays)
          const ref = [...c.instances, ...c.syncGroups].flatMap((o) => o.trackInterfaces).find((t) => t.name === n) ?? c.ifDelays.find((d) => d.name === n);
          const why = ref ? `${ref.pos.file}:${ref.pos.line}: ${'weight' in ref ? 'track_interface' : 'interface_up_down_delays'} ${n}: ` : '';
          throw new Error(`${why}interface ${n} does not exist in this network namespace`);
        }
        throw e;
      }
    }
  }

  private armGuardian(c: DaemonConfig): void {
    this.guardian.arm(c.instances.flatMap((i) => i.vips.map((vip) => ({ vip, dev: vip.dev ?? i.interface, holdMs: (2 * i.advertIntervalUs) / 1000 }))));
  }

  private vrrpSocket(m: InstanceModel, iface: Interface): SocketEntry {
    const peers = m.unicastPeers.map((p) => p.address);
    const key = `${m.interface}/${m.family}/${peers.join(',')}`;
    let e = this.sockets.get(key);
    if (!e) {
      // IPv6 multicast: the link-local (RFC 9568 5.1.2.1), named on each send; IPv6 unicast
      // without unicast_src_ip: the kernel picks a source that fits the peers' addresses.
      const source = m.unicastSrc ?? m.mcastSrc ?? (m.family === 4 ? iface.primaryV4 : m.unicastPeers.length ? null : iface.linkLocalV6) ?? undefined;
      const sock = new VrrpSocket({ ifname: iface.name, ifindex: iface.index, family: m.family, source, unicastPeers: peers });
      const entry: SocketEntry = { sock, runners: new Map(), deps: null };
      sock.onRaw = (raw) => {
        const vrid = raw.payloadLen >= 2 ? (raw.buf[raw.payloadOff + 1] as number) : -1;
        const r = entry.runners.get(vrid);
        if (r) r.onRaw(raw);
        else this.unknownVrid++;
      };
      sock.on('error', (err) => this.log.error({ err: err.message, socket: key }, 'VRRP socket error'));
      this.sockets.set(key, entry);
      e = entry;
    }
    return e;
  }

  /**
   * Make the runners of `names` with their link state (a link down at start is FAULT at once,
   * as keepalived's "Entering FAULT STATE (init)"), join them to their sync groups and set the
   * groups' state (a member starts in FAULT when its group is), then start them.
   */
  private startInstanceSet(names: readonly string[]): void {
    const made = names.map((n) => this.makeRunner(this.config.instances.find((x) => x.name === n)!));
    for (const [r, iface] of made) if (!iface.up && !r.model.dontTrackPrimary) r.setLink(false);
    for (const g of this.notes.bindGroups(this.runners, new Set(names))) g.init();
    for (const [r] of made) r.start();
  }

  private makeRunner(m: InstanceModel): [InstanceRunner, Interface] {
    const iface = this.ifaces.get(m.interface)!;
    const entry = this.vrrpSocket(m, iface);
    // a reload looks the interfaces up again: new runners get the fresh record
    if (entry.deps?.iface !== iface) entry.deps = this.runnerDeps(iface, entry.sock);
    const r = new InstanceRunner(m, entry.deps, this.trackers?.initial(m.name));
    entry.runners.set(m.vrid, r);
    sizeQueue(entry);
    this.runners.set(m.name, r);
    // keepalived's default version is 2: say which one each instance speaks (a mixed cluster
    // with one v3 and one v2 router elects two masters)
    this.log.info({ instance: m.name, vrid: m.vrid, interface: m.interface, version: m.version, priority: m.priority, advertInt: m.advertIntervalUs / 1e6 },
      `instance ${m.name} speaks VRRPv${m.version}`);
    return [r, iface];
  }

  /** Shared by the runners of one socket (the socket implies the interface). */
  private runnerDeps(iface: Interface, socket: VrrpSocket): RunnerDeps {
    const emit = (e: DaemonEvent): void => {
      this.macs.onEvent(iface, e);
      if (e.instance !== null) this.notes.onEvent(e, this.runners.get(e.instance));
      this.emit('event', e);
    };
    return { rtnl: this.rtnl, scheduler: this.scheduler, log: this.log, iface, vipIfaces: this.ifaces, socket, announcer: this.announcers.of(iface), announcerOf: (i) => this.announcers.of(i), emit };
  }

  private async stopInstance(name: string): Promise<void> {
    const r = this.runners.get(name);
    if (!r) return;
    await r.stop();
    this.runners.delete(name);
    for (const [key, e] of this.sockets) {
      if (e.runners.get(r.model.vrid) !== r) continue;
      e.runners.delete(r.model.vrid);
      if (e.runners.size === 0) {
        e.sock.close();
        this.sockets.delete(key);
      } else sizeQueue(e);
    }
  }

  private onRtnl(e: RtnlEvent): void {
    if (e.type === 'link') {
      const iface = [...this.ifaces.values()].find((i) => i.index === e.link.index);
      if (iface) this.debounce.onLink(iface.index, iface.name, e.op === 'new' && e.link.up && e.link.lowerUp, iface.up);
    }
    else {
      for (const r of this.runners.values()) {
        if (e.op === 'del') r.vipRemoved(e.addr.address);
        const src = srcIpEffect(r.model, this.ifaces.get(r.model.interface)?.index === e.addr.ifindex, e.addr.address, e.op === 'new');
        if (src) r.setTracker(SRC_IP, src);
      }
    }
  }

  private linkState(index: number, up: boolean): void {
    for (const r of this.runners.values()) {
      const iface = this.ifaces.get(r.model.interface);
      // dont_track_primary: the instance's own link going down is not a FAULT (keepalived)
      if (iface?.index !== index || iface.up === up || r.model.dontTrackPrimary) continue;
      r.setLink(up);
    }
    for (const iface of this.ifaces.values()) {
      if (iface.index !== index) continue;
      iface.up = up;
      this.trackers?.linkState(iface.name, up);
    }
  }

  /** The kernel dropped events for the monitor (its queue was full): read links and VIPs again. */
  private async resync(e: Error): Promise<void> {
    this.log.warn({ err: e.message }, 'rtnetlink events lost; reading links and addresses again');
    try {
      const links = new Map((await this.rtnl.links()).map((l) => [l.index, l.up && l.lowerUp]));
      for (const iface of this.ifaces.values()) this.linkState(iface.index, links.get(iface.index) ?? false);
      const present = new Set((await this.rtnl.addresses()).map((a) => `${a.ifindex} ${a.address}`));
      for (const r of this.runners.values()) {
        for (const v of r.model.vips) {
          const iface = this.ifaces.get(v.dev ?? r.model.interface);
          if (iface && !present.has(`${iface.index} ${v.address}`)) r.vipRemoved(v.address);
        }
      }
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'could not read links and addresses again');
    }
  }

  /**
   * SIGHUP: apply a new config. An instance whose priority alone changed keeps its state and
   * VIPs (the core recomputes its election); one whose other settings changed is restarted.
   */
  async reload(next: DaemonConfig): Promise<ReloadResult> {
    // positions (of the instance, its VIPs, its track_* lines…) are not meaning: a comment added above must not restart it
    // leaving a sync group (syncGroup becomes null) needs no restart: the hub unjoins it
    const key = (m: InstanceModel, priority = m.priority, group = m.syncGroup): string => JSON.stringify({ ...m, priority, syncGroup: group }, (k, v: unknown) => (k === 'pos' ? undefined : v));
    const old = new Map(this.config.instances.map((m) => [m.name, m]));
    const res: ReloadResult = { restarted: [], added: [], removed: [], reprioritised: [], trackers: { started: [], disabled: [] } };
    await this.resolveInterfaces(next, this.config);
    await this.trackers?.check(next);
    const plan = await this.notes.check(next);
    if (this.delayed) {
      res.trackers = (await this.trackers?.reload(next)) ?? res.trackers;
      this.config = next; // vrrp_startup_delay still runs: the instances will start with this one
      await this.notes.reloaded(next, plan, this.runners);
      this.announcers.reconfigure(next);
      this.armGuardian(next);
      return res;
    }
    for (const [name, m] of old) {
      const n = next.instances.find((x) => x.name === name);
      if (!n) res.removed.push(name);
      else if (key(n) === key(m)) continue;
      else if (n.syncGroup === null && key(n) === key(m, m.priority, null)) this.runners.get(name)!.model = n; // left its group
      else if (key(n, 0) === key(m, 0)) {
        this.runners.get(name)!.setPriority(n);
        res.reprioritised.push(name);
      } else res.restarted.push(name);
    }
    for (const n of next.instances) if (!old.has(n.name)) res.added.push(n.name);
    // a sync group with a new or restarted member restarts all its members: they start
    // together, never one MASTER beside a fresh BACKUP of the same group
    const fresh = new Set([...res.restarted, ...res.added]);
    for (const i of next.instances) {
      if (!i.syncGroup || fresh.has(i.name) || !next.instances.some((o) => o.syncGroup === i.syncGroup && fresh.has(o.name))) continue;
      res.restarted.push(i.name);
      res.reprioritised = res.reprioritised.filter((n) => n !== i.name);
    }
    for (const name of res.removed) {
      const r = this.runners.get(name)!;
      this.notes.deleted(r.model, r.core.effective); // keepalived: DELETED (or FAULT) before the instance goes
    }
    for (const name of [...res.removed, ...res.restarted]) await this.stopInstance(name);
    res.trackers = (await this.trackers?.reload(next)) ?? res.trackers;
    this.config = next;
    this.announcers.reconfigure(next);
    this.debounce.setDelays(linkDelays(next, this.log));
    this.rtPriority = await applyPriority(next, this.log, this.rtPriority);
    this.armGuardian(next);
    await this.notes.reloaded(next, plan, this.runners);
    this.startInstanceSet([...res.restarted, ...res.added]);
    this.log.info(res, 'configuration reloaded');
    return res;
  }

  /** Graceful stop: every master sends priority 0 and drops its VIPs; then close everything. */
  async stop(): Promise<void> {
    if (this.delayed) clearTimeout(this.delayed);
    this.delayed = null;
    const stopping = [...this.runners.values()].map((r) => ({ model: r.model, priority: r.core.effective }));
    await Promise.all([...this.runners.keys()].map((n) => this.stopInstance(n)));
    await this.notes.stop(stopping); // notify_stop (STOP) of instances then groups, then shutdown_script
    await this.trackers?.stop();
    this.scheduler.stop();
    this.monitor?.close();
    this.announcers.close();
    this.macs.close();
    this.debounce.close();
    this.rtnl.close();
    this.guardian.release();
  }
}
