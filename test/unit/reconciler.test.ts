/**
 * The reconciler's logic on a fake kernel (the real one is in test/netns/reconciler.test.ts):
 * desired against actual, one request per object in flight, "already so" as success,
 * failures not retried in a loop, objects put back or removed after someone else's change,
 * leftovers removed at start, shared objects, keepalived's order, and "settled" only after
 * the kernel's ack.
 */
import pino from 'pino';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { KernelObject } from '../../src/daemon/reconciler/objects.js';
import { Reconciler, type KernelPort } from '../../src/daemon/reconciler/reconciler.js';

const silent = pino({ level: 'silent' });

function obj(kind: KernelObject['kind'], key: string, noTrack = false): KernelObject {
  return { kind, key, family: 4, text: key, request: () => Buffer.alloc(0), delLine: `${kind} del ${key}\n`, vip: null, ifname: kind === 'addr' ? 'eth0' : null, noTrack };
}

/** A kernel that holds keys and acks when told (`flush`), or at once (`auto`). */
class FakeKernel implements KernelPort {
  readonly has = new Set<string>();
  readonly queue: Array<{ op: 'add' | 'del'; key: string; done: (e: number) => void }> = [];
  readonly log: string[] = [];
  /** Errno to answer for a key's add (once). */
  readonly fail = new Map<string, number>();
  auto = false;
  apply(op: 'add' | 'del', o: KernelObject, done: (e: number) => void): void {
    this.log.push(`${op} ${o.key}`);
    this.queue.push({ op, key: o.key, done });
    if (this.auto) this.flush();
  }
  flush(): void {
    while (this.queue.length) {
      const q = this.queue.shift()!;
      const f = this.fail.get(q.key);
      if (q.op === 'add' && f) {
        this.fail.delete(q.key);
        q.done(f);
        continue;
      }
      if (q.op === 'add') {
        if (this.has.has(q.key)) q.done(17);
        else {
          this.has.add(q.key);
          q.done(0);
        }
      } else if (!this.has.delete(q.key)) q.done(99);
      else q.done(0);
    }
  }
}

function setup(): { k: FakeKernel; r: Reconciler } {
  const k = new FakeKernel();
  const r = new Reconciler(k, silent);
  r.configure(
    new Map([
      ['VI_1', [obj('addr', 'a1'), obj('addr', 'a2'), obj('route', 'r1'), obj('rule', 'u1')]],
      ['VI_2', [obj('addr', 'a3'), obj('addr', 'shared')]],
      ['VI_3', [obj('addr', 'shared')]],
    ]),
    [obj('addr', 'static1')],
  );
  return { k, r };
}

describe('Reconciler', () => {
  it('adds in keepalived\'s order on hold, deletes in reverse on release; settled only after the acks', () => {
    const { k, r } = setup();
    k.flush(); // the static one
    k.log.length = 0;
    let done = false;
    r.hold('VI_1', true);
    r.afterSettled('VI_1', () => (done = true));
    expect(k.log).toEqual(['add a1', 'add a2', 'add r1', 'add u1']);
    expect(done).toBe(false);
    k.flush();
    expect(done).toBe(true);
    k.log.length = 0;
    r.hold('VI_1', false);
    expect(k.log).toEqual(['del u1', 'del r1', 'del a2', 'del a1']);
    k.flush();
    expect([...k.has]).toEqual(['static1']);
  });

  it('one request per object in flight: a flap before the ack ends as the last wish, without a second add', () => {
    const { k, r } = setup();
    k.flush();
    k.log.length = 0;
    r.hold('VI_2', true);
    r.hold('VI_2', false);
    r.hold('VI_2', true);
    expect(k.log).toEqual(['add a3', 'add shared']);
    k.flush();
    expect(k.has.has('a3')).toBe(true);
    r.hold('VI_2', false);
    r.hold('VI_2', true);
    r.hold('VI_2', false);
    k.flush(); // del acked; the wish is "not held": nothing more
    expect(k.has.has('a3')).toBe(false);
    expect(k.queue).toEqual([]);
  });

  it('an object two instances list stays while either holds it', () => {
    const { k, r } = setup();
    k.auto = true;
    r.hold('VI_2', true);
    r.hold('VI_3', true);
    r.hold('VI_2', false);
    expect(k.has.has('shared')).toBe(true);
    expect(k.has.has('a3')).toBe(false);
    r.hold('VI_3', false);
    expect(k.has.has('shared')).toBe(false);
  });

  it('EEXIST on add and EADDRNOTAVAIL on delete are success; another error is logged once, not retried until something changes', () => {
    const { k, r } = setup();
    k.auto = true;
    k.has.add('a1');
    r.hold('VI_1', true);
    expect(r.stats.failures).toBe(0);
    r.hold('VI_1', false);
    k.fail.set('a1', 22);
    r.hold('VI_1', true);
    expect(r.stats.failures).toBe(1);
    expect(k.log.filter((l) => l === 'add a1').length).toBe(2); // no retry loop
    r.retryFailed();
    expect(k.has.has('a1')).toBe(true);
  });

  it('puts back what someone else deleted while held, removes what someone else added while not', () => {
    const { k, r } = setup();
    k.auto = true;
    r.hold('VI_1', true);
    k.has.delete('r1');
    r.observed('r1', false);
    expect(k.has.has('r1')).toBe(true);
    expect(r.stats.restored).toBe(1);
    k.has.add('a3');
    r.observed('a3', true);
    expect(k.has.has('a3')).toBe(false);
    expect(r.stats.removedForeign).toBe(1);
    r.observed('not-ours', true); // not in the configuration: nothing
    expect(k.log).not.toContain('del not-ours');
  });

  it('no_track: deleted by someone else, it stays gone until its instance next holds (keepalived)', () => {
    const k = new FakeKernel();
    k.auto = true;
    const r = new Reconciler(k, silent);
    r.configure(new Map([['VI_1', [obj('route', 'nt', true), obj('addr', 'a1')]]]), []);
    r.hold('VI_1', true);
    k.has.delete('nt');
    r.observed('nt', false);
    expect(k.has.has('nt')).toBe(false);
    let settled = false;
    r.afterSettled('VI_1', () => (settled = true));
    expect(settled).toBe(true);
    r.hold('VI_1', false);
    r.hold('VI_1', true);
    expect(k.has.has('nt')).toBe(true);
    // the same when the deletion is only seen in a resync (events lost)
    k.has.delete('nt');
    r.sync(new Set(k.has), 'resync');
    expect(k.has.has('nt')).toBe(false);
  });

  it('start: leftovers of the configuration are removed, other objects are left alone, statics added', () => {
    const k = new FakeKernel();
    k.auto = true;
    const r = new Reconciler(k, silent);
    k.has.add('a1');
    k.has.add('foreign');
    r.configure(new Map([['VI_1', [obj('addr', 'a1')]]]), [obj('addr', 'static1')]);
    r.sync(new Set(k.has), 'start');
    expect([...k.has].sort()).toEqual(['foreign', 'static1']);
  });

  it('a reload that drops a held object deletes it; the guardian lists hold each instance\'s objects in deletion order, without statics', () => {
    const { k, r } = setup();
    k.auto = true;
    r.hold('VI_1', true);
    expect(r.guardianLists().get('VI_1')!.map((o) => o.key)).toEqual(['u1', 'r1', 'a2', 'a1']);
    r.configure(new Map([['VI_1', [obj('addr', 'a1')]]]), [obj('addr', 'static1')]);
    expect([...k.has].sort()).toEqual(['a1', 'static1']);
  });

  it('a reload with deferred deletes adds first and deletes only on commit; one put back deletes nothing it held; a master that lets go meanwhile deletes at once', () => {
    const { k, r } = setup();
    k.auto = true;
    r.hold('VI_1', true);
    r.configure(new Map([['VI_1', [obj('addr', 'a1'), obj('addr', 'a4')]], ['VI_2', [obj('addr', 'a3'), obj('addr', 'shared')]]]), [obj('addr', 'static1')], true);
    expect([...k.has].sort()).toEqual(['a1', 'a2', 'a4', 'r1', 'static1', 'u1']); // a4 added, a2/r1/u1 kept for now
    // put back: the running set again, then commit: only what the reload added goes
    r.configure(new Map([['VI_1', [obj('addr', 'a1'), obj('addr', 'a2'), obj('route', 'r1'), obj('rule', 'u1')]], ['VI_2', [obj('addr', 'a3'), obj('addr', 'shared')]]]), [obj('addr', 'static1')], true);
    expect(k.log.filter((l) => l.startsWith('del'))).toEqual([]);
    r.commit();
    expect([...k.has].sort()).toEqual(['a1', 'a2', 'r1', 'static1', 'u1']);
    // confirmed this time: the deletes go out on commit
    r.configure(new Map([['VI_1', [obj('addr', 'a1')]]]), [obj('addr', 'static1')], true);
    expect(k.has.has('a2')).toBe(true);
    r.commit();
    expect([...k.has].sort()).toEqual(['a1', 'static1']);
    // a master that lets go during a reload deletes what it still lists at once
    r.configure(new Map([['VI_1', [obj('addr', 'a1'), obj('addr', 'a5')]]]), [obj('addr', 'static1')], true);
    r.hold('VI_1', false);
    expect([...k.has].sort()).toEqual(['static1']);
  });

  it('an object whose options change (same identity) is deleted and added again when present, and tried again when it had been refused', () => {
    const k = new FakeKernel();
    k.auto = true;
    const r = new Reconciler(k, silent);
    const opt = (label: string): KernelObject => ({ ...obj('addr', 'a1'), request: () => Buffer.from(label) });
    k.fail.set('a1', 22);
    r.configure(new Map([['VI_1', [opt('scope link')]]]), []);
    r.hold('VI_1', true);
    expect(k.has.has('a1')).toBe(false); // refused once: not retried by itself
    r.configure(new Map([['VI_1', [opt('plain')]]]), []);
    expect(k.has.has('a1')).toBe(true); // a new wish: tried again
    k.log.length = 0;
    r.configure(new Map([['VI_1', [opt('label eth0:pub')]]]), []);
    expect(k.log).toEqual(['del a1', 'add a1']);
    r.configure(new Map([['VI_1', [opt('label eth0:pub')]]]), []);
    expect(k.log).toEqual(['del a1', 'add a1']); // the same again: nothing
  });

  it('property: after any sequence of holds, flaps, foreign changes and acks, the kernel ends as desired', () => {
    const keys = ['a1', 'a2', 'r1', 'u1', 'a3', 'shared', 'static1'];
    const step = fc.oneof(
      fc.record({ t: fc.constant('hold' as const), o: fc.constantFrom('VI_1', 'VI_2', 'VI_3'), on: fc.boolean() }),
      fc.record({ t: fc.constant('flush' as const) }),
      fc.record({ t: fc.constant('foreign' as const), key: fc.constantFrom(...keys), on: fc.boolean() }),
    );
    fc.assert(fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
      const { k, r } = setup();
      for (const s of steps) {
        if (s.t === 'hold') r.hold(s.o, s.on);
        else if (s.t === 'flush') k.flush();
        else {
          if (s.on) k.has.add(s.key);
          else k.has.delete(s.key);
          r.observed(s.key, s.on);
        }
      }
      for (let i = 0; i < 5; i++) k.flush();
      const want = new Set(['static1']);
      for (const [o, ks] of [['VI_1', ['a1', 'a2', 'r1', 'u1']], ['VI_2', ['a3', 'shared']], ['VI_3', ['shared']]] as const) if (r.holds(o)) for (const x of ks) want.add(x);
      expect([...k.has].sort()).toEqual([...want].sort());
    }), { numRuns: 2000 });
  });
});
