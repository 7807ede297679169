/**
 * A binary min-heap of values by a numeric key: the daemon's timer scheduler (thousands of
 * deadlines, one push per advert heard) and the simulator's event queue. Pure.
 *
 * Built for the scheduler's rate: keys live in a Float64Array (a JS array of doubles would
 * hand each popped key out boxed in a fresh heap number), values in a parallel array; both
 * grow by doubling and never shrink, and sifting moves a hole instead of swapping. Once grown,
 * push, pop and peek allocate nothing.
 *
 * Equal keys: with `fifo`, they come out in the order they were pushed (the simulator: a seed
 * replays the same run); without it, in an order that depends only on the sequence of
 * operations (deterministic, not specified), and no sequence number is stored.
 */
export interface MinHeapOptions {
  /** Equal keys pop in push order (stores a sequence number per node). Default false. */
  fifo?: boolean;
  /** Initial capacity in nodes (grows by doubling). Default 64. */
  capacity?: number;
}

export class MinHeap<T> {
  private keys: Float64Array;
  /** Push order of each node, when fifo (else null). A double: exact up to 2^53 pushes. */
  private seqs: Float64Array | null;
  private readonly values: (T | undefined)[] = [];
  private n = 0;
  private nextSeq = 0;

  constructor(o: MinHeapOptions = {}) {
    const cap = Math.max(1, o.capacity ?? 64);
    this.keys = new Float64Array(cap);
    this.seqs = o.fifo ? new Float64Array(cap) : null;
  }

  /** Number of nodes. */
  get size(): number {
    return this.n;
  }

  /** The smallest key, or Infinity when the heap is empty. */
  get minKey(): number {
    return this.n ? this.keys[0]! : Infinity;
  }

  /** The value with the smallest key (not removed), or undefined when the heap is empty. */
  peek(): T | undefined {
    return this.n ? this.values[0] : undefined;
  }

  /**
   * Adds `value` under `key`: O(log n). Throws a RangeError on a NaN key, which would compare
   * neither less nor greater than any other and break the heap's order.
   */
  push(key: number, value: T): void {
    if (Number.isNaN(key)) throw new RangeError('MinHeap.push: the key is NaN');
    if (this.n === this.keys.length) this.grow();
    const keys = this.keys;
    const seqs = this.seqs;
    const values = this.values;
    const seq = this.nextSeq;
    if (seqs) this.nextSeq = seq + 1;
    let i = this.n++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pk = keys[p]!;
      // the new node moves up past greater keys only: a parent with an equal key was pushed
      // earlier, so it stays before the new node (fifo)
      if (pk <= key) break;
      keys[i] = pk;
      if (seqs) seqs[i] = seqs[p]!;
      values[i] = values[p];
      i = p;
    }
    keys[i] = key;
    if (seqs) seqs[i] = seq;
    values[i] = value;
  }

  /** Removes the value with the smallest key and returns it (undefined when empty): O(log n). */
  pop(): T | undefined {
    if (this.n === 0) return undefined;
    const keys = this.keys;
    const seqs = this.seqs;
    const values = this.values;
    const top = values[0];
    const n = --this.n;
    const lastKey = keys[n]!;
    const lastSeq = seqs ? seqs[n]! : 0;
    const lastValue = values[n];
    values[n] = undefined; // no reference kept to a value that may be gone
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      // the smaller child (fifo: of equal keys, the one pushed first)
      const c = r < n && (keys[r]! < keys[l]! || (seqs !== null && keys[r] === keys[l] && seqs[r]! < seqs[l]!)) ? r : l;
      const ck = keys[c]!;
      // the hole moves down while the smaller child comes before the last node
      if (ck > lastKey || (ck === lastKey && (seqs === null || seqs[c]! > lastSeq))) break;
      keys[i] = ck;
      if (seqs) seqs[i] = seqs[c]!;
      values[i] = values[c];
      i = c;
    }
    keys[i] = lastKey;
    if (seqs) seqs[i] = lastSeq;
    values[i] = lastValue;
    return top;
  }

  /** Removes every node (the storage stays allocated). */
  clear(): void {
    this.values.length = 0;
    this.n = 0;
  }

  private grow(): void {
    const keys = new Float64Array(this.keys.length * 2);
    keys.set(this.keys);
    this.keys = keys;
    if (this.seqs) {
      const seqs = new Float64Array(keys.length);
      seqs.set(this.seqs);
      this.seqs = seqs;
    }
  }
}
