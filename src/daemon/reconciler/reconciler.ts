/**
 * The one owner of what a master holds in the kernel: a level-triggered reconciler.
 *
 * Desired set: the objects (src/daemon/reconciler/objects.ts) of every owner that holds (an
 * instance in MASTER says so through `hold`), plus the static ones. Actual set: what the
 * kernel has, from dumps (`start`, `resync`), the acks of our own requests and the events of
 * everyone else's changes. Every change of either converges the actual set onto the desired
 * one, for the objects in the configuration only (nothing else on the host is touched):
 *
 * - an object wanted and missing is added; one present and not wanted is deleted (at start:
 *   an earlier run's leftover; at run time: added by hand while not MASTER — a second holder);
 * - an object deleted by someone else while wanted comes back, logged (keepalived instead
 *   takes the instance to BACKUP, a failover); one with `no_track` stays gone until its
 *   instance next becomes MASTER, as keepalived leaves it;
 * - "already there" on add and "not there" on delete are success; other errors are logged
 *   and the object is not retried until something changes (no busy loop on a refusal);
 * - `hold(owner, true, done)` calls `done` when every object of the owner is in place (the
 *   kernel acked it): gratuitous ARPs go out only then, as keepalived waits for the ack too.
 *
 * Requests go out at once on the caller's turn (a takeover costs no extra loop turn); one
 * request per object is in flight at most, and the next step for it is decided on its ack.
 */
import type { Logger } from 'pino';
import type { Holder } from '../runner-types.js';
import { sameRequest, type KernelObject } from './objects.js';

/** The kernel side: carry out one request and report its errno (0: done). Src/os/rtnl.ts; a fake in unit tests. */
export interface KernelPort {
  apply(op: 'add' | 'del', o: KernelObject, done: (errno: number) => void): void;
}

/** Errnos that mean "already so": EEXIST on add; ENOENT, ESRCH, ENODEV, EADDRNOTAVAIL on delete. */
const ALREADY = { add: new Set([17]), del: new Set([2, 3, 19, 99]) };
const STATIC = '';

interface Entry {
  obj: KernelObject;
  /** Owners (instance names; '' for static objects) that list this object. */
  owners: Set<string>;
  present: boolean;
  op: 'add' | 'del' | null;
  /** The last request failed: not retried until the desired set or the kernel changes. */
  failed: boolean;
  /** The errno of the failed request. */
  errno?: number;
  /**
   * Someone else's change seen while our request was in flight (null: none): it may be
   * older or newer than our request, so after the ack one more request towards the wish
   * settles it.
   */
  seen: boolean | null;
  /** A no_track object someone else deleted: not put back until its owner holds again. */
  heldOff: boolean;
  /** Present with other options than configured now (a label, a scope): deleted and added again. */
  stale?: boolean;
}

export interface ReconcilerStats {
  added: number;
  deleted: number;
  /** Wanted objects someone else deleted, put back. */
  restored: number;
  /** Unwanted objects someone else added (or left from an earlier run), removed. */
  removedForeign: number;
  failures: number;
}

export class Reconciler implements Holder {
  private readonly entries = new Map<string, Entry>();
  /** Each owner's keys in keepalived's add order (addresses, routes, rules). */
  private readonly ownerKeys = new Map<string, string[]>();
  private readonly holding = new Set<string>([STATIC]);
  private readonly waiters = new Map<string, Array<() => void>>();
  readonly stats: ReconcilerStats = { added: 0, deleted: 0, restored: 0, removedForeign: 0, failures: 0 };
  /** Called after a change of the held set (the accept-mode filter follows it). */
  onHeldChange: (() => void) | null = null;

  constructor(
    private readonly port: KernelPort,
    private readonly log: Logger,
  ) {}

  /**
   * The objects of each owner (instance name → its objects; `statics`: the host's). Objects
   * that leave the configuration are deleted if they are held; objects of an owner that
   * holds are added. Call before `start` and on every reload.
   */
  configure(owners: ReadonlyMap<string, readonly KernelObject[]>, statics: readonly KernelObject[], deferDeletes = false): void {
    const wanted = new Set([...this.entries.values()].filter((e) => e.present && this.desired(e)).map((e) => e.obj.key));
    const next = new Map([...owners, [STATIC, statics] as const]);
    for (const e of this.entries.values()) e.owners.clear();
    this.ownerKeys.clear();
    for (const [owner, objs] of next) {
      const keys: string[] = [];
      for (const o of objs) {
        let e = this.entries.get(o.key);
        if (!e) this.entries.set(o.key, (e = { obj: o, owners: new Set(), present: false, op: null, failed: false, seen: null, heldOff: false }));
        else if (!e.op && !sameRequest(e.obj, o)) {
          // same identity, other options (a label, a scope, a metric): a new wish, so a refused
          // one is tried again; one present with the old options is deleted and added again
          e.failed = false;
          if (e.present) e.stale = true;
          e.obj = o;
        }
        e.owners.add(owner);
        keys.push(o.key);
      }
      this.ownerKeys.set(owner, keys);
    }
    for (const o of this.holding) if (!next.has(o)) this.holding.delete(o);
    this.holding.add(STATIC);
    // a refused object that left the configuration (a reload rolled back): forgotten
    for (const [k, e] of this.entries) if (e.failed && !e.present && e.owners.size === 0) this.entries.delete(k);
    // held back: what a master held before and no longer wants (until commit), not what it wants again
    if (!deferDeletes) this.deferred.clear();
    for (const [k, e] of this.entries) {
      if (this.desired(e) || !e.present) this.deferred.delete(k);
      else if (deferDeletes && wanted.has(k)) this.deferred.add(k);
    }
    for (const e of [...this.entries.values()]) this.converge(e);
  }

  /**
   * The actual set from a dump (every key the kernel has). `start`: objects present and not
   * wanted are an earlier run's leftovers (or added by hand): removed, each logged.
   */
  sync(present: ReadonlySet<string>, why: 'start' | 'resync'): void {
    for (const e of this.entries.values()) {
      if (e.op) continue; // its ack will tell
      const was = e.present;
      e.present = present.has(e.obj.key);
      e.failed = false;
      if (e.present && !this.desired(e)) {
        this.stats.removedForeign++;
        this.log.warn({ object: e.obj.text }, why === 'start'
          ? `removing ${e.obj.text} before start (an earlier run's leftover, or added by hand): it is held only while its instance is MASTER`
          : `${e.obj.text} is present while its instance is not MASTER (added by someone else); removing it`);
      } else if (!e.present && was && this.desired(e)) {
        if (e.obj.noTrack) {
          this.heldOffLog(e);
          continue;
        }
        this.restoredLog(e);
      }
      this.converge(e);
    }
  }

  /**
   * `owner` holds (its instance became MASTER) or lets go. `done`: called once every object
   * of the owner is settled (in place, or its request failed and was logged).
   */
  hold(owner: string, on: boolean, done?: () => void): void {
    if (on === this.holding.has(owner)) {
      if (done) this.whenSettled(owner, done);
      return;
    }
    if (on) this.holding.add(owner);
    else this.holding.delete(owner);
    const keys = this.ownerKeys.get(owner) ?? [];
    if (!on) for (const k of keys) this.deferred.delete(k); // it let go: they go now
    // up: addresses, routes, rules; down: rules, routes, addresses (a route may need its address)
    for (const k of on ? keys : [...keys].reverse()) {
      const e = this.entries.get(k)!;
      e.failed = false;
      e.heldOff = false;
      this.converge(e);
    }
    if (done) this.whenSettled(owner, done);
    this.onHeldChange?.();
  }

  holds(owner: string): boolean {
    return this.holding.has(owner);
  }

  /** Keys configure(…, deferDeletes) holds back from deletion until commit(). */
  private readonly deferred = new Set<string>();

  /** A reload is confirmed (or put back): the deletes configure() held back go out. */
  commit(): void {
    const keys = [...this.deferred];
    this.deferred.clear();
    for (const k of keys) {
      const e = this.entries.get(k);
      if (e) this.converge(e);
    }
  }

  /** The objects of `owner` ('' for the static ones) whose last request the kernel refused, with the request and errno name. */
  failures(owner: string): { object: KernelObject; op: 'add' | 'del'; error: string }[] {
    return (this.ownerKeys.get(owner) ?? []).map((k) => this.entries.get(k)!).filter((e) => e.failed)
      .map((e) => ({ object: e.obj, op: e.present ? 'del' : 'add', error: errnoName(e.errno ?? 0) }));
  }

  /** Resolves when no request of `owner`'s objects is in flight and each is as wanted (or failed). */
  settled(owner: string): Promise<void> {
    return new Promise((r) => this.whenSettled(owner, r));
  }

  /** `cb` when `owner`'s objects are settled (at once if they are). */
  afterSettled(owner: string, cb: () => void): void {
    this.whenSettled(owner, cb);
  }

  /** Addresses held by the owners for which `pick` is true (the accept-mode filter's content). */
  heldAddresses(pick: (owner: string) => boolean): KernelObject[] {
    const out = new Map<string, KernelObject>();
    for (const o of this.holding) {
      if (o === STATIC || !pick(o)) continue;
      for (const k of this.ownerKeys.get(o) ?? []) {
        const e = this.entries.get(k)!;
        if (e.obj.kind === 'addr') out.set(k, e.obj);
      }
    }
    return [...out.values()];
  }

  /** Each instance's objects (not the static ones), for the crash guardian, in deletion order (rules, routes, addresses). */
  guardianLists(): Map<string, KernelObject[]> {
    const out = new Map<string, KernelObject[]>();
    for (const [o, keys] of this.ownerKeys) {
      if (o === STATIC) continue;
      out.set(o, keys.map((k) => this.entries.get(k)!.obj).filter((x) => !this.entries.get(x.key)!.owners.has(STATIC)).reverse());
    }
    return out;
  }

  /** Someone else's change (an rtnetlink event not caused by our own requests). */
  observed(key: string, present: boolean): void {
    const e = this.entries.get(key);
    if (!e) return;
    if (e.op) {
      e.seen = present;
      return;
    }
    if (e.present === present) return;
    e.present = present;
    e.failed = false;
    const want = this.desired(e);
    if (!present && want && e.obj.noTrack) {
      this.heldOffLog(e);
      return;
    }
    if (!present && want) this.restoredLog(e);
    else if (present && !want) {
      this.stats.removedForeign++;
      this.log.warn({ object: e.obj.text }, `${e.obj.text} was added by someone else while its instance is not MASTER; removing it (two hosts must not hold it)`);
    }
    this.converge(e);
  }

  /** Forget every retry block (an interface came back, a resync): failed objects are tried again. */
  retryFailed(): void {
    for (const e of this.entries.values()) {
      if (!e.failed) continue;
      e.failed = false;
      this.converge(e);
    }
  }

  /** True when the key is one of ours (the configuration lists it). */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** A no_track object someone else removed: left gone until its owner holds again (keepalived). */
  private heldOffLog(e: Entry): void {
    e.heldOff = true;
    this.log.info({ object: e.obj.text }, `${e.obj.text} was removed by someone else; it is no_track: not put back until its instance next becomes MASTER`);
  }

  private restoredLog(e: Entry): void {
    this.stats.restored++;
    this.log.warn({ object: e.obj.text }, `${e.obj.text} was removed by someone else while its instance is MASTER; putting it back`);
  }

  private desired(e: Entry): boolean {
    for (const o of e.owners) if (this.holding.has(o)) return true;
    return false;
  }

  private converge(e: Entry): void {
    if (e.op || e.failed || e.heldOff) return;
    const want = this.desired(e);
    if (want && e.present && e.stale) {
      e.op = 'del';
      this.port.apply('del', e.obj, (errno) => this.acked(e, 'del', errno));
      return;
    }
    // a reload adds first and deletes once it is confirmed (commit): a reload rolled back then
    // never took away what the running configuration holds
    if (!want && e.present && this.deferred.has(e.obj.key)) return;
    if (want === e.present) {
      // left the configuration and gone: forget it
      if (!want && e.owners.size === 0) this.entries.delete(e.obj.key);
      return;
    }
    const op = want ? 'add' : 'del';
    e.op = op;
    this.port.apply(op, e.obj, (errno) => this.acked(e, op, errno));
  }

  private acked(e: Entry, op: 'add' | 'del', errno: number): void {
    e.op = null;
    if (op === 'del') e.stale = false;
    if (errno === 0 || ALREADY[op].has(errno)) {
      // someone else's change seen meanwhile may be older or newer than ours: unknown, so
      // one more request towards the wish settles it ("already so" is success)
      e.present = e.seen === null || e.seen === (op === 'add') ? op === 'add' : !this.desired(e);
      if (errno === 0) this.stats[op === 'add' ? 'added' : 'deleted']++;
    } else {
      e.failed = true;
      e.errno = errno;
      this.stats.failures++;
      this.log.error({ object: e.obj.text, errno }, `could not ${op === 'add' ? 'add' : 'delete'} ${e.obj.text}: ${errnoName(errno)}`);
    }
    e.seen = null;
    if (!e.failed) this.converge(e); // the wish may have changed meanwhile
    else if (e.owners.size === 0) this.entries.delete(e.obj.key);
    for (const o of e.owners) this.wake(o);
  }

  private isSettled(owner: string): boolean {
    for (const k of this.ownerKeys.get(owner) ?? []) {
      const e = this.entries.get(k)!;
      if (e.op) return false;
      const want = this.desired(e);
      if (!e.failed && !e.heldOff && e.present !== want && !this.deferred.has(k)) return false;
      if (want && e.present && e.stale) return false;
    }
    return true;
  }

  private whenSettled(owner: string, cb: () => void): void {
    if (this.isSettled(owner)) return cb();
    const w = this.waiters.get(owner);
    if (w) w.push(cb);
    else this.waiters.set(owner, [cb]);
  }

  private wake(owner: string): void {
    const w = this.waiters.get(owner);
    if (!w || !this.isSettled(owner)) return;
    this.waiters.delete(owner);
    for (const cb of w) cb();
  }
}

const NAMES: Record<number, string> = { 1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 13: 'EACCES', 17: 'EEXIST', 19: 'ENODEV', 22: 'EINVAL', 95: 'EOPNOTSUPP', 99: 'EADDRNOTAVAIL', 101: 'ENETUNREACH', 108: 'ESHUTDOWN' };
function errnoName(errno: number): string {
  return NAMES[errno] ?? `errno ${errno}`;
}
