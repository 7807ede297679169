import { describe, expect, it } from 'vitest';
import { Scheduler, type Waker } from '../../src/daemon/scheduler.js';

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

describe('Scheduler (one wake-up for all instances)', () => {
  it('arms for the earliest deadline and re-arms after firing', () => {
    const f = fakeWaker();
    const s = new Scheduler(f.waker);
    const a = {};
    const b = {};
    const fired: string[] = [];
    s.set(a, 5e15, () => fired.push('a'));
    expect(f.armed()).toBe(5e15);
    s.set(b, 1, () => fired.push('b')); // long past: due at the next wake-up
    expect(f.armed()).toBe(1);
    f.fire();
    expect(fired).toEqual(['b']);
    expect(f.armed()).toBe(5e15);
    s.clear(a);
    f.fire();
    expect(fired).toEqual(['b']);
    expect(f.armed()).toBeNull();
  });

  it('an entry replaced by a callback in the same round is not run twice', () => {
    const f = fakeWaker();
    const s = new Scheduler(f.waker);
    const a = {};
    const b = {};
    const fired: string[] = [];
    s.set(a, 1, () => {
      fired.push('a');
      s.set(b, 9e15, () => fired.push('b-late'));
    });
    s.set(b, 2, () => fired.push('b'));
    f.fire();
    expect(fired).toEqual(['a']);
    expect(f.armed()).toBe(9e15);
  });
});
