import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Scheduler, type TimerOwner, type Waker } from '../../src/daemon/scheduler.js';

/** A waker driven by hand: records what the scheduler arms. */
function fakeWaker(): { waker: (fire: () => void) => Waker; armed: () => number | null; fire: () => void } {
  let armedAt: number | null = null;
  let onFire: () => void = () => undefined;
  return {
    waker: (f) => {
      onFire = f;
      return { arm: (at) => void (armedAt = at), disarm: () => void (armedAt = null), close: () => void (armedAt = null) };
    },
    armed: () => armedAt,
    fire: () => onFire(),
  };
}

const owner = (fn: (now: number) => void): TimerOwner => ({ onTimer: fn });

describe('Scheduler (one wake-up for all instances)', () => {
  it('arms for the earliest deadline and re-arms after firing', () => {
    const f = fakeWaker();
    const s = new Scheduler(f.waker);
    const fired: string[] = [];
    const a = owner(() => fired.push('a'));
    const b = owner(() => fired.push('b'));
    s.set(a, 5e15);
    expect(f.armed()).toBe(5e15);
    s.set(b, 1); // long past: due at the next wake-up
    expect(f.armed()).toBe(1);
    f.fire();
    expect(fired).toEqual(['b']);
    expect(f.armed()).toBe(5e15);
    s.clear(a);
    f.fire();
    expect(fired).toEqual(['b']);
    expect(f.armed()).toBeNull();
  });

  it('a due owner that asks for it runs beforeFire first; owners it re-arms are not called; one arm per wake-up', () => {
    let arms = 0;
    let onFire: () => void = () => undefined;
    const s = new Scheduler((f) => {
      onFire = f;
      return { arm: () => void arms++, disarm: () => undefined, close: () => undefined };
    }, () => 100);
    const fired: string[] = [];
    // a backup's Master_Down timer (drains first) and a master's Adver_Timer, both due
    const backup: TimerOwner = { onTimer: () => fired.push('backup'), drainFirst: () => true };
    const master: TimerOwner = { onTimer: () => { fired.push('master'); s.set(master, 110); }, drainFirst: () => false };
    const drains: number[] = [];
    // the drain delivers an advert that arrived in time: the backup's timer moves on
    s.beforeFire = () => { drains.push(1); s.set(backup, 136); };
    s.set(backup, 90);
    s.set(master, 95);
    arms = 0;
    onFire();
    expect(drains).toEqual([1]);
    expect(fired).toEqual(['master']);
    expect(arms).toBe(1); // not once per set() made during the wake-up
    // nothing asks for a drain: no drain
    s.beforeFire = () => void drains.push(2);
    s.set(master, 1);
    onFire();
    expect(drains).toEqual([1]);
  });

  it('an entry replaced by a callback in the same round is not run twice', () => {
    const f = fakeWaker();
    const s = new Scheduler(f.waker);
    const fired: string[] = [];
    const b = owner(() => fired.push('b'));
    const a = owner(() => {
      fired.push('a');
      s.set(b, 9e15);
    });
    s.set(a, 1);
    s.set(b, 2);
    f.fire();
    expect(fired).toEqual(['a']);
    expect(f.armed()).toBe(9e15);
  });

  it('matches a naive model on random set / clear / wake-up sequences', () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant('set' as const), o: fc.nat(7), at: fc.nat(1000) }),
      fc.record({ k: fc.constant('clear' as const), o: fc.nat(7) }),
      fc.record({ k: fc.constant('release' as const), o: fc.nat(7) }),
      fc.record({ k: fc.constant('fire' as const), dt: fc.nat(300) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        let now = 0;
        const f = fakeWaker();
        const s = new Scheduler(f.waker, () => now);
        const model = new Map<number, number>();
        const got: number[] = [];
        const owners = Array.from({ length: 8 }, (_, i) => owner(() => got.push(i)));
        for (const x of ops) {
          if (x.k === 'set') {
            s.set(owners[x.o]!, x.at);
            model.set(x.o, x.at);
          } else if (x.k === 'clear' || x.k === 'release') {
            // release: the owner is gone; its slot goes to the next new owner
            if (x.k === 'clear') s.clear(owners[x.o]!);
            else s.release(owners[x.o]!);
            model.delete(x.o);
          } else {
            now += x.dt;
            const due = [...model].filter(([, at]) => at <= now).sort((p, q) => p[1] - q[1] || 0).map(([o]) => o);
            for (const o of due) model.delete(o);
            got.length = 0;
            f.fire();
            expect([...got].sort()).toEqual([...due].sort());
            const next = Math.min(...model.values());
            expect(f.armed()).toBe(model.size ? next : null);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('stale entries do not pile up: 100 owners re-set 100 000 times keep the heap small', () => {
    let now = 0;
    const f = fakeWaker();
    const s = new Scheduler(f.waker, () => now);
    const owners = Array.from({ length: 100 }, () => owner(() => undefined));
    for (let t = 0; t < 1000; t++) {
      now = t * 10;
      for (const o of owners) s.set(o, now + 36); // a backup hearing every master each 10 ms
      f.fire();
    }
    expect(s.size).toBeLessThan(100 * 10);
  });
});
