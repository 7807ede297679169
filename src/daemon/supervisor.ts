/**
 * The instance supervisor: makes each configured instance's runner on its VRRP socket, joins
 * it to its sync group, starts and stops it, and hands it link and address news. One owner
 * for the set of running instances.
 */
import type { Logger } from 'pino';
import type { DaemonConfig, InstanceModel } from '../config/model.js';
import type { State } from '../core/instance.js';
import type { Interface } from '../os/iface.js';
import type { Interfaces } from './interfaces.js';
import type { NotifyHub } from './notify/hub.js';
import { InstanceRunner, type RunnerDeps, type RunnerStats } from './runner.js';
import type { VrrpSockets } from './sockets.js';
import type { Vmacs } from './vmacs.js';
import { SRC_IP, srcIpEffect } from './trackers/static.js';
import type { TrackerManager } from './trackers/manager.js';

export class Supervisor {
  readonly runners = new Map<string, InstanceRunner>();
  /** Instances in maintenance (vipctl maintenance on, src/daemon/maintenance-store.ts): they start at priority 1. */
  inMaintenance: (name: string) => boolean = () => false;
  /** The counters of runners replaced with their state kept (stop(name, true)), for their successors. */
  private readonly carried = new Map<string, RunnerStats>();

  constructor(
    private readonly sockets: VrrpSockets,
    private readonly ifaces: Interfaces,
    private readonly notes: NotifyHub,
    private readonly log: Logger,
    private readonly trackers: () => TrackerManager | null,
    private readonly vmacs: Vmacs,
  ) {}

  /**
   * Make the runners of `names` with their link state (a link down at start is FAULT at once,
   * as keepalived's "Entering FAULT STATE (init)"), join them to their sync groups and set the
   * groups' state (a member starts in FAULT when its group is), then start them.
   */
  startSet(config: DaemonConfig, names: readonly string[], resume: ReadonlyMap<string, State> = new Map()): void {
    const made = names.map((n) => this.make(config.instances.find((x) => x.name === n)!));
    for (const [r] of made) if (!this.ifaces.get(r.model.interface)!.up && !r.model.dontTrackPrimary) r.setLink(false);
    // masters going on as masters want MASTER from the start: their sync group lets them (every member wants it)
    for (const [r] of made) if (resume.get(r.model.name) === 'MASTER') r.core.wantMaster = true;
    // a group whose members all go on in their state (a reload) starts in it without news
    for (const g of this.notes.bindGroups(this.runners, new Set(names))) g.init(g.members.every((m) => resume.has(m.config.name)));
    for (const [r] of made) r.start(resume.get(r.model.name));
  }

  private make(m: InstanceModel): [InstanceRunner, Interface] {
    // a VMAC instance speaks on its VMAC (unless vmac_xmit_base) and holds its addresses there
    const iface = this.vmacs.sendIface(m.name) ?? this.ifaces.get(m.interface)!;
    const vipIface = this.vmacs.vipIface(m.name);
    const r = this.sockets.attach(m, iface, (deps: RunnerDeps) => new InstanceRunner(m, deps, this.trackers()?.initial(m.name), vipIface));
    this.runners.set(m.name, r);
    if (this.inMaintenance(m.name)) r.setMaintenance(true);
    const before = this.carried.get(m.name);
    if (before) Object.assign(r.stats, before);
    this.carried.delete(m.name);
    // keepalived's default version is 2: say which one each instance speaks (a mixed cluster
    // with one v3 and one v2 router elects two masters)
    this.log.info({ instance: m.name, vrid: m.vrid, interface: m.interface, version: m.version, priority: m.priority, advertInt: m.advertIntervalUs / 1e6 },
      `instance ${m.name} speaks VRRPv${m.version}`);
    return [r, iface];
  }

  /**
   * A reload's check of the instances it will start: each has an address to send adverts
   * from, and the sockets they need open (kept open until the returned release is called).
   * VMAC instances are checked when their VMAC exists (it is made by the reload).
   * @throws Error naming the instance and its line.
   */
  reserve(models: readonly InstanceModel[]): () => void {
    const plain = models.filter((m) => !m.vmac).map((m) => ({ m, iface: this.ifaces.get(m.interface)! }));
    for (const { m, iface } of plain) {
      const src = m.unicastSrc ?? m.mcastSrc ?? (m.family === 4 ? iface.primaryV4 : iface.linkLocalV6);
      if (!src) throw new Error(`${m.pos.file}:${m.pos.line}: vrrp_instance ${m.name}: ${m.interface} has no ${m.family === 4 ? 'IPv4' : 'link-local IPv6'} address to send adverts from`);
    }
    return this.sockets.reserve(plain);
  }

  /**
   * A reload changed `m` in place (reload-plan.ts): its runner takes the new settings and its
   * tracker set now; a changed dont_track_primary takes or leaves the link's state.
   */
  reconfigure(m: InstanceModel, trackers: TrackerManager | null): void {
    const r = this.runners.get(m.name)!;
    // track_src_ip follows address events, not the file: its effect now stays
    r.reconfigure(m, trackers?.initial(m.name) ?? [], (key) => key === SRC_IP || (trackers?.unknown(key) ?? false));
    r.setLink(m.dontTrackPrimary || (this.ifaces.get(m.interface)?.up ?? true));
  }

  /** A reload changed nothing in `m`: its runner takes the new (equal) model object. */
  adopt(m: InstanceModel): void {
    const r = this.runners.get(m.name);
    if (r) r.model = m;
  }

  /**
   * Stop one instance (priority 0 if MASTER, its objects let go and acked) and take it off its
   * socket. `keep`: a restart that goes on in the same state (reload-plan.ts `resume`): silent,
   * objects kept; returns the state for startSet's `resume`.
   */
  async stop(name: string, keep = false): Promise<State | undefined> {
    const r = this.runners.get(name);
    if (!r) return undefined;
    const state = r.core.state;
    if (keep) {
      r.detach();
      this.carried.set(name, r.stats); // its successor counts on (vipctl status, metrics)
    } else await r.stop();
    this.runners.delete(name);
    this.sockets.detach(r);
    return state;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.runners.keys()].map((n) => this.stop(n)));
  }

  /** A link went up or down: instances on it (unless dont_track_primary: keepalived) follow. */
  linkChanged(iface: Interface, up: boolean): void {
    for (const r of this.runners.values()) {
      if (r.model.interface === iface.name && !r.model.dontTrackPrimary) r.setLink(up);
    }
  }

  /** An address appeared or went on an interface: instances whose advert source it is follow (src/daemon/trackers/static.ts). */
  addressChanged(ifindex: number, address: string, present: boolean): void {
    for (const r of this.runners.values()) {
      const src = srcIpEffect(r.model, this.ifaces.get(r.model.interface)?.index === ifindex, address, present);
      if (src) r.setTracker(SRC_IP, src);
    }
  }
}
