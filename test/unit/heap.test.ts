/**
 * src/core/heap.ts MinHeap against a sorted array: the scheduler's deadlines (plain) and the
 * simulator's event queue (fifo: equal keys in push order).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MinHeap } from '../../src/core/heap.js';

/** Pushes (key), pops (null) and clears, interleaved; keys few and repeated so that ties are common. */
const ops = fc.array(
  fc.oneof(
    { weight: 6, arbitrary: fc.oneof(fc.integer({ min: -5, max: 20 }), fc.constantFrom(Infinity, -Infinity, 1e15 + 0.5, -0)) },
    { weight: 4, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.constant('clear' as const) },
  ),
  { maxLength: 300 },
);

/** -0 as 0: they are equal keys, which a plain heap returns in either order. */
const z = (k: number): number => k + 0;

/** A pushed value: its key and its push number. */
interface Node {
  key: number;
  n: number;
}

describe('MinHeap', () => {
  for (const fifo of [false, true]) {
    it(`${fifo ? 'fifo' : 'plain'}: matches a sorted array on random push / pop / clear sequences (capacity 1, so it grows)`, () => {
      fc.assert(
        fc.property(ops, (seq) => {
          const h = new MinHeap<Node>({ fifo, capacity: 1 });
          // the model, sorted by key, then push number
          let model: Node[] = [];
          let pushes = 0;
          /** `got` is a smallest node of the model (fifo: the first pushed of them); removed from the model. */
          const isTop = (got: Node | undefined): void => {
            expect(got).toBeDefined();
            const at = model.indexOf(got!);
            expect(at).toBeGreaterThanOrEqual(0);
            expect(z(got!.key)).toBe(z(model[0]!.key));
            if (fifo) expect(at).toBe(0);
          };
          for (const op of seq) {
            if (op === 'clear') {
              h.clear();
              model = [];
            } else if (op === null) {
              const got = h.pop();
              if (!model.length) expect(got).toBeUndefined();
              else {
                isTop(got);
                model.splice(model.indexOf(got!), 1);
              }
            } else {
              const node = { key: op, n: pushes++ };
              h.push(op, node);
              model.push(node);
              model.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.n - b.n));
            }
            expect(h.size).toBe(model.length);
            expect(z(h.minKey)).toBe(model.length ? z(model[0]!.key) : Infinity);
            if (model.length) isTop(h.peek());
            else expect(h.peek()).toBeUndefined();
          }
          // what is left comes out in order of keys (fifo: and of pushes)
          const rest: Node[] = [];
          for (let v = h.pop(); v !== undefined; v = h.pop()) rest.push(v);
          expect(rest.map((x) => z(x.key))).toEqual(model.map((x) => z(x.key)));
          if (fifo) expect(rest).toEqual(model);
          expect(h.size).toBe(0);
        }),
        { numRuns: 1000 },
      );
    });
  }

  it('refuses a NaN key with a RangeError and stays as it was', () => {
    const h = new MinHeap<string>();
    h.push(2, 'b');
    h.push(1, 'a');
    expect(() => h.push(Number.NaN, 'x')).toThrow(RangeError);
    expect(h.size).toBe(2);
    expect([h.pop(), h.pop(), h.pop()]).toEqual(['a', 'b', undefined]);
  });

  it('empty: no top, minKey Infinity, pop undefined; clear empties a full heap', () => {
    const h = new MinHeap<object>();
    expect([h.size, h.minKey, h.peek(), h.pop()]).toEqual([0, Infinity, undefined, undefined]);
    for (let i = 0; i < 200; i++) h.push(200 - i, {});
    expect(h.minKey).toBe(1);
    h.clear();
    expect([h.size, h.minKey, h.peek(), h.pop()]).toEqual([0, Infinity, undefined, undefined]);
    h.push(7, { k: 7 });
    expect(h.peek()).toEqual({ k: 7 });
  });
});
