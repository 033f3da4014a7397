// The floor of a kernel path: a loop that performs the same Atomics operations as one batch of the
// path (the same number of each kind, on the same words of the same buffer, counted by
// bench/atomics-count.ts) and nothing else: no model logic, no generators, no events. The words it
// touches are saved before and restored after (untimed), so the machine is left as it was.
import { ATOMIC_KINDS, type AtomicsTrace } from './atomics-count.js';

export class FloorLoop {
  private readonly load: Int32Array;
  private readonly store: Int32Array;
  private readonly add: Int32Array;
  private readonly sub: Int32Array;
  private readonly and: Int32Array;
  private readonly or: Int32Array;
  private readonly xor: Int32Array;
  private readonly exchange: Int32Array;
  private readonly cas: Int32Array;
  private readonly notify: Int32Array;
  /** Every word touched, once, and room for its value. */
  private readonly words: Int32Array;
  private readonly saved: Int32Array;
  readonly ops: number;

  constructor(readonly m: Int32Array, readonly trace: AtomicsTrace) {
    if (trace.idx.wait.length) throw new Error('floor: the path waited (Atomics.wait) while uncontended');
    const a = (k: keyof AtomicsTrace['idx']) => Int32Array.from(trace.idx[k]);
    this.load = a('load');
    this.store = a('store');
    this.add = a('add');
    this.sub = a('sub');
    this.and = a('and');
    this.or = a('or');
    this.xor = a('xor');
    this.exchange = a('exchange');
    this.cas = a('compareExchange');
    this.notify = a('notify');
    this.words = Int32Array.from(new Set(ATOMIC_KINDS.flatMap((k) => trace.idx[k])));
    this.saved = new Int32Array(this.words.length);
    this.ops = ATOMIC_KINDS.reduce((s, k) => s + trace.idx[k].length, 0);
  }

  /** Run the batch's operations reps times; returns nanoseconds (the save and restore are not timed). */
  time(reps: number): number {
    const { m, words, saved } = this;
    for (let i = 0; i < words.length; i++) saved[i] = m[words[i]];
    const t0 = process.hrtime.bigint();
    let sink = 0;
    for (let r = 0; r < reps; r++) sink += this.once(r);
    const t = Number(process.hrtime.bigint() - t0);
    for (let i = 0; i < words.length; i++) m[words[i]] = saved[i];
    if (sink === 0.5) console.log(sink); // keep the loads live
    return t;
  }

  /** One batch's operations, kind by kind. */
  private once(r: number): number {
    const m = this.m;
    let s = 0;
    const { load, store, add, sub, and, or, xor, exchange, cas, notify } = this;
    for (let i = 0; i < load.length; i++) s += Atomics.load(m, load[i]);
    for (let i = 0; i < store.length; i++) Atomics.store(m, store[i], r + i);
    for (let i = 0; i < add.length; i++) s += Atomics.add(m, add[i], 1);
    for (let i = 0; i < sub.length; i++) s += Atomics.sub(m, sub[i], 1);
    for (let i = 0; i < and.length; i++) s += Atomics.and(m, and[i], ~2);
    for (let i = 0; i < or.length; i++) s += Atomics.or(m, or[i], 4);
    for (let i = 0; i < xor.length; i++) s += Atomics.xor(m, xor[i], 8);
    for (let i = 0; i < exchange.length; i++) s += Atomics.exchange(m, exchange[i], i);
    // (a locked compare-and-exchange costs the same whether it swaps or not)
    for (let i = 0; i < cas.length; i++) s += Atomics.compareExchange(m, cas[i], i, r);
    for (let i = 0; i < notify.length; i++) s += Atomics.notify(m, notify[i], 1);
    return s;
  }
}
