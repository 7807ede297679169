/**
 * The reconciler wired to the host: its objects built from the configuration (once per
 * configuration, with the interfaces resolved), its requests carried by rtnetlink, its actual
 * set read from dumps and from other processes' events, the crash guardian's plan taken from
 * its lists, and the accept-mode filter following what non-accept masters hold.
 */
import type { Logger } from 'pino';
import type { DaemonConfig, InstanceModel, RuleModel } from '../../config/model.js';
import { addrKey } from '../../os/rtnl-addr.js';
import { routeKey } from '../../os/rtnl-route.js';
import { keepalivedRulePriorities, ruleKey } from '../../os/rtnl-rule.js';
import type { Rtnl, RtnlEvent } from '../../os/rtnl.js';
import type { Guardian } from '../guardian.js';
import { instanceObjects, staticObjects, type KernelObject } from './objects.js';
import { Reconciler, type KernelPort, type ReconcilerStats } from './reconciler.js';

/** The accept-mode filter as the reconciler drives it (src/os/nft.ts). */
export interface AddressFilter {
  set(entries: { family: 4 | 6; address: string; ifname: string }[]): void;
  settled(): Promise<void>;
  remove(): Promise<void>;
  /** The argv that deletes it, for the crash guardian. */
  deleteCommand(): string[];
  /** nft runs and failed runs so far. */
  stats(): { runs: number; errors: number };
}

/** The reconciler's counters and the accept-mode filter's (`vipctl dump`, metrics). */
export interface KernelStats extends ReconcilerStats {
  filterRuns: number;
  filterErrors: number;
}

/**
 * `c` with its rules written without `priority` numbered as keepalived 2.2.7 numbers them
 * (16384 down, per family, static_rules and virtual_rules in file order).
 */
function numberRules(c: DaemonConfig): DaemonConfig {
  const all: { r: RuleModel; k: number }[] = [...c.staticRules, ...c.instances.flatMap((m) => m.rules)].map((r, k) => ({ r, k }));
  if (!all.some((x) => x.r.priority === null)) return c;
  const files: string[] = [];
  const fileRank = (f: string | undefined): number => (f === undefined ? -1 : files.includes(f) ? files.indexOf(f) : files.push(f) - 1);
  for (const x of all) fileRank(x.r.pos?.file);
  all.sort((a, b) => fileRank(a.r.pos?.file) - fileRank(b.r.pos?.file) || (a.r.pos?.line ?? 0) - (b.r.pos?.line ?? 0) || a.k - b.k);
  const out = keepalivedRulePriorities(all.map((y) => y.r));
  const numbered = new Map(all.map((x, i) => [x.r, out[i]!]));
  return { ...c, staticRules: c.staticRules.map((r) => numbered.get(r)!), instances: c.instances.map((m) => ({ ...m, rules: m.rules.map((r) => numbered.get(r)!) })) };
}

/** What build() made of a configuration. */
export interface BuiltObjects {
  config: DaemonConfig;
  owners: Map<string, KernelObject[]>;
  statics: KernelObject[];
}

export class KernelState {
  readonly reconciler: Reconciler;
  /** Instance name → its crash guardian slot. */
  private slots = new Map<string, number>();
  /** Instances whose master drops traffic to its addresses (Accept_Mode false, not the owner). */
  private noAccept = new Set<string>();
  private filter: AddressFilter | null = null;
  /** Our own rtnetlink port id (learnt from the first ack): events we caused are not someone else's change. */
  private ownPid = -1;

  constructor(
    private readonly rtnl: Rtnl,
    private readonly log: Logger,
    private readonly guardian: Guardian,
    private readonly makeFilter: (() => AddressFilter) | null = null,
  ) {
    const port: KernelPort = {
      apply: (op, o, done) => this.rtnl.op(`${op === 'add' ? 'add' : 'delete'} ${o.text}`, (seq) => o.request(op, seq), done),
    };
    this.reconciler = new Reconciler(port, log);
    this.reconciler.onHeldChange = () => this.filterUpdate();
  }

  /**
   * The objects of `c`, its interfaces resolved in `ifaces`. Throws (touching nothing) when an
   * object cannot be built (a static address without an interface, a route vipd cannot send).
   */
  build(c: DaemonConfig, ifindexOf: (name: string) => number, vipDevOf: (m: InstanceModel) => string | undefined = () => undefined): BuiltObjects {
    const n = numberRules(c);
    return {
      config: c,
      owners: new Map<string, KernelObject[]>(n.instances.map((m) => [m.name, instanceObjects(m, ifindexOf, vipDevOf(m))])),
      statics: staticObjects(n, ifindexOf, c.global.defaultInterface ?? 'eth0'),
    };
  }

  /**
   * Hand built objects to the reconciler (it converges at once; `deferDeletes`: a reload's,
   * whose deletes wait for reconciler.commit()); re-arm the crash guardian with its lists and
   * `links` (`ip -batch` lines deleting the VMACs, after every object).
   */
  configure(b: BuiltObjects, links: readonly string[] = [], deferDeletes = false): void {
    const { config: c, owners, statics } = b;
    this.noAccept = new Set(c.instances.filter((m) => !m.acceptMode && m.priority !== 255).map((m) => m.name));
    if (this.noAccept.size && !this.filter && this.makeFilter) this.filter = this.makeFilter();
    this.reconciler.configure(owners, statics, deferDeletes);
    const before = this.slots;
    this.slots = new Map(c.instances.map((m, k) => [m.name, k]));
    const lists = this.reconciler.guardianLists();
    const skipped = this.guardian.arm({
      groups: c.instances.map((m) => (lists.get(m.name) ?? []).map((o) => ({ family: o.family, line: o.delLine }))),
      finalIp: links,
      finalCmds: this.filter ? [this.filter.deleteCommand()] : [],
    }, (k) => before.get(c.instances[k]!.name) ?? null);
    for (const l of skipped) this.log.warn({ line: l.trim() }, 'the crash guardian cannot delete this (a word a shell would misread): it stays if vipd is killed');
    this.filterUpdate();
  }

  /** The kernel's objects now (addresses, routes, rules), as keys. */
  private async present(): Promise<Set<string>> {
    // one dump at a time on a netlink socket (a second one is EBUSY)
    const addrs = await this.rtnl.addresses();
    const routes = await this.rtnl.routes();
    const rules = await this.rtnl.rules();
    return new Set([
      ...addrs.map((a) => addrKey(a.family, a.ifindex, a.address, a.prefixLen)),
      ...routes.map(routeKey),
      ...rules.map(ruleKey),
    ]);
  }

  /** Before the instances start: what is there that should not be (an earlier run's) goes; the static objects are added. */
  async start(): Promise<void> {
    this.reconciler.sync(await this.present(), 'start');
  }

  /** Lost events: read everything again. */
  async resync(): Promise<void> {
    this.reconciler.sync(await this.present(), 'resync');
  }

  /** An rtnetlink event: someone else's change of one of our objects is converged back. */
  onEvent(e: RtnlEvent): void {
    if (e.type === 'link') {
      // a link back: what failed on it (ENODEV, ENETUNREACH) may work now
      if (e.op === 'new' && e.link.up) this.reconciler.retryFailed();
      return;
    }
    if (this.ownPid < 0) this.ownPid = this.rtnl.portId ?? -1;
    if (e.pid !== 0 && e.pid === this.ownPid) return; // our own request: its ack told
    const key = e.type === 'addr' ? addrKey(e.addr.family, e.addr.ifindex, e.addr.address, e.addr.prefixLen) : e.type === 'route' ? routeKey(e.route) : ruleKey(e.rule);
    if (this.reconciler.has(key)) this.reconciler.observed(key, e.op === 'new');
  }

  stats(): KernelStats {
    const f = this.filter?.stats() ?? { runs: 0, errors: 0 };
    return { ...this.reconciler.stats, filterRuns: f.runs, filterErrors: f.errors };
  }

  /** An advert went out for `instance`: the guardian may keep its objects until `masterDownUs` from now. */
  advertSent(instance: string, masterDownUs: number): void {
    const slot = this.slots.get(instance);
    if (slot !== undefined) this.guardian.sent(slot, masterDownUs);
  }

  private filterUpdate(): void {
    if (!this.filter) return;
    const held = this.reconciler.heldAddresses((o) => this.noAccept.has(o));
    this.filter.set(held.map((o) => ({ family: o.family, address: o.vip!.address, ifname: o.ifname! })));
  }

  /** Clean exit (the instances have let go): the filter's table goes; the static objects stay, as keepalived leaves them. */
  async stop(): Promise<void> {
    try {
      await this.filter?.remove();
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'could not delete the accept-mode table');
    }
    this.guardian.release();
  }
}
