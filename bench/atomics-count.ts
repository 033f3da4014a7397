// Counting the Atomics operations of a kernel path, for the floor loop (bench/floor.ts). The model
// calls the global Atomics directly on the machine's Int32Array, so counting wraps the methods of
// the global Atomics object. That is done only in a worker thread of its own (bench/atomics-count-
// worker.ts): a wrapped Atomics method would slow every later call in that isolate (V8 no longer
// inlines it), so the timed process never wraps anything and the normal path is untouched.
import { Worker } from 'node:worker_threads';
import { threadsCodeUrl } from '../src/engine/threads-code.js';

/** The Atomics methods counted, in the order the floor loop runs them. */
export const ATOMIC_KINDS = ['load', 'store', 'add', 'sub', 'and', 'or', 'xor', 'exchange', 'compareExchange', 'notify', 'wait'] as const;
export type AtomicKind = (typeof ATOMIC_KINDS)[number];

/** The Atomics operations of a batch of calls: the word index of each, per kind, in program order. */
export interface AtomicsTrace {
  /** Calls the trace covers. */
  calls: number;
  /** Per kind: word indexes into the machine buffer, in the order the path used them. */
  idx: Record<AtomicKind, number[]>;
  /** Per call: the total count (the same for every call when the path is deterministic). */
  perCall: number[];
  /** Operations on other buffers while counting (expected 0). */
  other: number;
}

export function emptyIdx(): Record<AtomicKind, number[]> {
  return Object.fromEntries(ATOMIC_KINDS.map((k) => [k, []])) as unknown as Record<AtomicKind, number[]>;
}

export function traceTotal(t: AtomicsTrace): number {
  return ATOMIC_KINDS.reduce((a, k) => a + t.idx[k].length, 0);
}

/** Per-call counts by kind (total over the trace / calls). */
export function perCallByKind(t: AtomicsTrace): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of ATOMIC_KINDS) if (t.idx[k].length) out[k] = t.idx[k].length / t.calls;
  return out;
}

/**
 * Wrap every counted method of the global Atomics of this isolate (only ever in a counting worker).
 * While `on`, each call on `target` appends its word index to idx[kind]; calls on other buffers count in other.
 */
export class AtomicsCounter {
  on = false;
  target: Int32Array | null = null;
  idx = emptyIdx();
  other = 0;
  total = 0;

  install(): void {
    const A = Atomics as unknown as Record<string, (...a: unknown[]) => unknown>;
    for (const kind of ATOMIC_KINDS) {
      const orig = A[kind];
      A[kind] = (...args: unknown[]) => {
        if (this.on) {
          if (args[0] === this.target) {
            this.idx[kind].push(args[1] as number);
            this.total++;
          } else this.other++;
        }
        return orig.apply(Atomics, args);
      };
    }
  }

  reset(target: Int32Array): void {
    this.target = target;
    this.idx = emptyIdx();
    this.other = 0;
    this.total = 0;
  }
}

/** Count the Atomics operations of one batch of each path (by id) of one code, in a worker thread. */
export function countPathAtomics(ids: readonly string[], code: 'generators' | 'stripped'): Promise<Record<string, AtomicsTrace>> {
  return new Promise((resolve, reject) => {
    // the worker of the code measured, so the operations counted are those of the code the floor is compared with
    const url = code === 'stripped' ? threadsCodeUrl('bench/atomics-count-worker.js') : new URL('./atomics-count-worker.js', import.meta.url);
    const w = new Worker(url, { workerData: { ids } });
    let got: Record<string, AtomicsTrace> | null = null;
    w.once('message', (m: Record<string, AtomicsTrace>) => (got = m));
    w.once('error', reject);
    w.once('exit', (code) => (got ? resolve(got) : reject(new Error(`atomics-count worker exited with ${code} and no result`))));
  });
}
