/**
 * `vipctl handover` and `vipctl maintenance` (issue #26; docs/handover.md): move mastership
 * on purpose, make-before-break. The core does the protocol (VrrpInstance.handover): here the
 * checks before anything changes, the choice of method, the wait for the new master, the
 * time-out that puts everything back, and maintenance's persistence.
 *
 * - Without `--to`: the master resigns with priority 0 but keeps its VIPs and stays silent;
 *   the highest-priority backup takes over after its Skew_Time (RFC 9568 6.4.2, whatever its
 *   preempt mode: Kolla's nopreempt clusters too) and its first advert makes the old master
 *   let go. Nobody within 3 × Adver_Int + 0.5 s: the old master advertises again at once.
 * - `--to ADDRESS`: the master advertises the target's last priority − 1, so that the target
 *   preempts it (6.4.2) and no router it has heard would; the target must have advertised
 *   (VRRP backups are silent: a router is heard once it has been master) and nobody heard may
 *   be at or above it. No takeover within the target's Master_Down_Interval + Adver_Int +
 *   0.5 s (its preemption is off, or it is down): the master's priority comes back.
 * - After a handover the old master does not preempt the new one (VrrpInstance.yieldTo); it
 *   would otherwise take the VIP straight back where it has the higher priority.
 * Sync groups move together: naming a member hands over its whole group.
 */
import type { Logger } from 'pino';
import type { SyncGroupModel } from '../config/model-track.js';
import { masterDownIntervalUs } from '../core/timers.js';
import { canonicalIP } from '../protocol/addr.js';
import { nowUs } from './clock.js';
import type { MaintenanceStore } from './maintenance-store.js';
import type { InstanceRunner } from './runner.js';
import type { DaemonEvent } from './runner-types.js';

export interface HandoverRequest {
  /** One instance (with its sync group), or every instance (`all`). */
  instance?: string;
  all?: boolean;
  /** Only this router may win (its address as it sends adverts). */
  to?: string;
}

export interface HandoverOutcome {
  instance: string;
  ok: boolean;
  /** 'refused': nothing changed (still MASTER, same priority); 'failed': it changed, not as asked. */
  kind?: 'refused' | 'failed';
  error?: string;
  method?: 'resign' | 'preempt';
  /** The new master's address and advertised priority. */
  master?: string | null;
  priority?: number | null;
  /** From the start of the handover to the new master's first advert, ms. */
  ms?: number;
  /** `--all`: not MASTER here, nothing to hand over (not a refusal). */
  skipped?: string;
}

export interface MaintenanceOutcome extends HandoverOutcome {
  maintenance: boolean;
  state: string;
}

export interface DeskDeps {
  runners: () => ReadonlyMap<string, InstanceRunner>;
  syncGroups: () => readonly SyncGroupModel[];
  store: MaintenanceStore;
  log: Logger;
}

/** A request the desk cannot act on at all (unknown instance, no instance named). */
export class HandoverError extends Error {
  readonly kind = 'refused';
}

const RESIGN_MARGIN_US = 500_000;

export class HandoverDesk {
  private readonly waiters = new Map<string, (e: Extract<DaemonEvent, { type: 'transition' }>) => void>();

  constructor(private readonly d: DeskDeps) {}

  /** Feed every daemon event (transitions end the waits). */
  onEvent(e: DaemonEvent): void {
    if (e.type !== 'transition' || e.instance === null) return;
    this.waiters.get(e.instance)?.(e);
  }

  /**
   * The runners a request names: `all`, or one instance and the members of its sync group.
   * @throws HandoverError for an unknown name or no name.
   */
  select(req: HandoverRequest): InstanceRunner[] {
    for (const [k, t] of [['instance', 'string'], ['to', 'string'], ['all', 'boolean']] as const) {
      if (req[k] !== undefined && typeof req[k] !== t) throw new HandoverError(`"${k}" must be a ${t}`);
    }
    const runners = this.d.runners();
    if (req.all) return [...runners.values()];
    if (!req.instance) {
      if (runners.size === 1) return [...runners.values()];
      throw new HandoverError(`name an instance (${[...runners.keys()].join(', ')}) or --all`);
    }
    const r = runners.get(req.instance);
    if (!r) throw new HandoverError(`no instance ${req.instance} (there is: ${[...runners.keys()].join(', ') || 'none'})`);
    const group = this.d.syncGroups().find((g) => g.instances.includes(req.instance!));
    return group ? group.instances.map((n) => runners.get(n)).filter((x): x is InstanceRunner => Boolean(x)) : [r];
  }

  /** Hand over every named instance at once; one outcome each, when each has a new master or gave up. */
  async handover(req: HandoverRequest): Promise<HandoverOutcome[]> {
    const all = this.select(req);
    if (req.to !== undefined && !canonicalIP(req.to)) throw new HandoverError(`--to ${req.to}: not an IP address`);
    const to = req.to === undefined ? undefined : canonicalIP(req.to)!;
    // --all: the instances this router is master of; the others have nothing to hand over
    const rs = req.all ? all.filter((r) => r.core.state === 'MASTER') : all;
    const skipped = all.filter((r) => !rs.includes(r)).map((r): HandoverOutcome => ({ instance: r.model.name, ok: true, skipped: `${r.core.state}, not master: nothing to hand over` }));
    if (req.all && !rs.length) throw new HandoverError(`this router is master of no instance (${all.map((r) => `${r.model.name} ${r.core.state}`).join(', ') || 'none configured'})`);
    // instances that move together (a sync group, --all) wait as long as the slowest of them
    const floor = Math.max(...rs.map((r) => this.timeoutUs(r, to)));
    return [...(await Promise.all(rs.map((r) => this.one(r, to, floor)))), ...skipped];
  }

  /** How long a handover of `r` may take before it is given up (µs); see the file's header. */
  private timeoutUs(r: InstanceRunner, to: string | undefined): number {
    const m = r.model;
    const target = to === undefined ? undefined : r.peers.get(to);
    if (!target) return 3 * m.advertIntervalUs + RESIGN_MARGIN_US;
    return masterDownIntervalUs(m.version, Math.max(1, target.priority), m.advertIntervalUs, m.downTimerAdverts) + m.advertIntervalUs + RESIGN_MARGIN_US;
  }

  /**
   * Maintenance on: written to the file first, then priority 1, and a master hands over (to
   * whoever wins). Off: written, then the configured priority back (a preempting router with
   * the highest priority takes the VIP back by ordinary preemption).
   */
  async maintenance(on: boolean, req: HandoverRequest): Promise<MaintenanceOutcome[]> {
    // off: a name only in the file (an instance removed or renamed since) can be taken out too
    const stale = !on && req.instance && !this.d.runners().has(req.instance) && this.d.store.has(req.instance) ? [req.instance] : [];
    const rs = stale.length ? [] : this.select(req);
    const names = [...rs.map((r) => r.model.name), ...stale, ...(!on && req.all ? this.d.store.list() : [])];
    try {
      await this.d.store.set(names, on);
    } catch (e) {
      this.d.log.error({ err: (e as Error).message }, `maintenance ${on ? 'on' : 'off'} refused`);
      throw new HandoverError((e as Error).message);
    }
    if (stale.length) return [{ instance: stale[0]!, ok: true, maintenance: false, state: 'not configured: taken out of the maintenance file' }];
    const out = await Promise.all(rs.map(async (r): Promise<MaintenanceOutcome> => {
      const was = r.core.state;
      r.setMaintenance(on);
      this.d.log.info({ instance: r.model.name, maintenance: on }, `(${r.model.name}) maintenance ${on ? 'on: priority 1' : 'off'}`);
      const h: HandoverOutcome = on && was === 'MASTER' ? await this.one(r, undefined) : { instance: r.model.name, ok: true };
      const res = { ...h, maintenance: on, state: r.core.state };
      if (on && !h.ok) return { ...res, kind: 'failed', error: `${r.model.name} is in maintenance (priority 1) but still MASTER: ${h.error?.replace(/; \S+ is still MASTER, nothing changed$/, '')}` };
      return res;
    }));
    return out;
  }

  private async one(r: InstanceRunner, to: string | undefined, floorUs = 0): Promise<HandoverOutcome> {
    const name = r.model.name;
    const refuse = (error: string): HandoverOutcome => ({ instance: name, ok: false, kind: 'refused', error });
    if (r.core.state !== 'MASTER') {
      const m = r.masterText();
      return refuse(`${name} is ${r.core.state}, not MASTER${m ? ` (the master is ${m})` : ''}: run handover on the master`);
    }
    if (r.core.effective === 255) return refuse(`${name} owns its addresses (priority 255): an address owner cannot hand them over`);
    if (r.core.handingOver !== null) return refuse(`${name} is already handing over`);
    const m = r.model;
    let how: 'resign' | number = 'resign';
    const timeoutUs = Math.max(floorUs, this.timeoutUs(r, to));
    if (to !== undefined) {
      if ((to.includes(':') ? 6 : 4) !== m.family) return refuse(`${to} is an IPv${to.includes(':') ? 6 : 4} address and ${name} an IPv${m.family} instance`);
      if (to === r.masterText()) return refuse(`${to} is this router`);
      const target = r.peers.get(to);
      const heard = r.peers.list().map((p) => `${p.address} (${p.priority})`).join(', ') || 'none';
      if (!target) {
        return refuse(`${to} has not advertised on ${name}, so its priority is unknown (VRRP backups are silent until they have been master; routers heard: ${heard}${m.family === 6 ? '; IPv6 routers advertise from their link-local address' : ''}): run handover without --to, and the highest-priority backup takes over`);
      }
      if (target.priority < 2) return refuse(`${to} took over with priority ${target.priority} when last master: it cannot win`);
      const above = r.peers.list().find((p) => p.address !== to && p.priority >= target.priority);
      const ago = (p: { at: number }): string => `${Math.round((nowUs() - p.at) / 1e6)} s ago`;
      if (above) return refuse(`${above.address} took over with priority ${above.priority} (last heard ${ago(above)}), at or above ${to}'s ${target.priority}: ${to} cannot be the one to win`);
      how = target.priority - 1;
    }
    const t0 = nowUs();
    const done = this.wait(name, timeoutUs / 1000);
    if (!r.handover(how)) {
      this.waiters.delete(name);
      return refuse(`${name} could not start a handover`);
    }
    this.d.log.info({ instance: name, method: how === 'resign' ? 'resign' : 'preempt', to: to ?? null }, how === 'resign'
      ? `(${name}) handover: priority 0 sent, VIPs kept until a new master is heard`
      : `(${name}) handover to ${to}: advertising priority ${how} for it to preempt`);
    const e = await done;
    const ms = Math.round((nowUs() - t0) / 1000);
    if (!e) {
      r.cancelHandover();
      const why = to !== undefined
        ? `${to} did not take over within ${ms} ms (its preemption is off, or it is down)`
        : `no router took over within ${ms} ms of priority 0 (no other router runs, or none hears this one)`;
      this.d.log.warn({ instance: name }, `(${name}) handover given up: ${why}; still MASTER`);
      return refuse(`${why}; ${name} is still MASTER, nothing changed`);
    }
    const method = how === 'resign' ? 'resign' : 'preempt';
    // a sync group member forced along hears its new master a moment later
    for (const end = nowUs() + m.advertIntervalUs + RESIGN_MARGIN_US; e.to === 'BACKUP' && !r.masterText() && nowUs() < end;) await new Promise((res) => setTimeout(res, 10));
    const master = r.masterText();
    const priority = r.core.master?.priority ?? null;
    if (e.to !== 'BACKUP') return { instance: name, ok: false, kind: 'failed', method, error: `${name} went to ${e.to} (${e.reason}) during the handover`, ms };
    if (to !== undefined && master !== to) return { instance: name, ok: false, kind: 'failed', method, master, priority, ms, error: `${master ?? 'another router'} took over, not ${to} (a router that had not advertised before)` };
    this.d.log.info({ instance: name, master, priority, ms }, `(${name}) handed over to ${master} in ${ms} ms`);
    return { instance: name, ok: true, method, master, priority, ms };
  }

  /** The instance's next transition, or null after `timeoutMs`. */
  private wait(name: string, timeoutMs: number): Promise<Extract<DaemonEvent, { type: 'transition' }> | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(name);
        resolve(null);
      }, timeoutMs);
      this.waiters.set(name, (e) => {
        clearTimeout(timer);
        this.waiters.delete(name);
        resolve(e);
      });
    });
  }
}
