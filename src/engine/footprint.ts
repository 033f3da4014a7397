// What each scheduler step reads and writes of the machine: its footprint, for the explorer's
// partial-order reduction (src/explore) and the pos scheduler (two steps of different CPUs
// commute when neither writes a word the other reads or writes). Every shared word of the model lives in the machine's SharedArrayBuffer and
// every access to it goes through Atomics (DESIGN section 1: "All shared words are read and written
// with Atomics"; the only plain accesses are mem_init at boot and the buddy lists, which are only
// touched under the zone lock, itself taken with Atomics, and the flight recorder). So the tracker
// wraps the Atomics functions while an exploration runs and records, per step, the word indices of
// the machine's Int32Array each call touches: PTEs, struct page/folio words, locks, TLB entries,
// VMAs, the data oracle, all at word granularity. That is sound without annotating the kernel
// layer (which never imports the tool), and precise: a lock word, a PTE slot, a folio's refcount.
// Left out: the flight recorder's words (each CPU's ring and ring position, the global event
// sequence and violation count): they order events for reports and no kernel decision reads them.
// Reads the checkers make at a step (the refcount observer, the contract hooks) count as the
// step's reads: more steps conflict than need to, never fewer.
import { CPU, G, RING_WORDS } from '../machine/layout.js';
import type { Machine } from '../machine/machine.js';

/** The words one step read and wrote (writes are also reads: a read-modify-write reads). */
export interface Footprint {
  reads: Set<number>;
  writes: Set<number>;
}

export const emptyFootprint = (): Footprint => ({ reads: new Set(), writes: new Set() });

/** Two steps (of different CPUs) commute: neither writes what the other reads or writes. */
export function independent(a: Footprint, b: Footprint): boolean {
  const [sa, sb] = a.writes.size + a.reads.size <= b.writes.size + b.reads.size ? [a, b] : [b, a];
  for (const w of sa.writes) if (sb.writes.has(w) || sb.reads.has(w)) return false;
  for (const r of sa.reads) if (sb.writes.has(r)) return false;
  return true;
}

type AtomicsFns = Pick<typeof Atomics, 'load' | 'store' | 'add' | 'sub' | 'and' | 'or' | 'xor' | 'exchange' | 'compareExchange' | 'wait' | 'notify'>;

/**
 * Records the footprint of every step while installed. One tracker at a time (it patches the global
 * Atomics of this thread); uninstall() restores the originals. Other typed arrays pass through.
 */
export class AccessTracker {
  private cur: Footprint = emptyFootprint();
  private saved: AtomicsFns | null = null;
  /** The machine's words while recording (inside a concurrent block), else null: nothing recorded. */
  private m: Int32Array | null = null;
  private machineM: Int32Array | null = null;
  /** Word indices not recorded (the flight recorder). */
  private skip = new Set<number>();
  private ringLo = 0;
  private ringHi = 0;

  /** Track accesses to this machine's words from now on (a fresh machine per explored schedule). */
  attach(machine: Machine): void {
    const { L } = machine;
    this.machineM = machine.m;
    this.m = null;
    this.skip = new Set([L.global + G.SEQ, L.global + G.VIOLATIONS, L.global + G.STEP]);
    for (let c = 0; c < L.cpus; c++) this.skip.add(L.cpu + c * CPU.WORDS + CPU.RING_POS);
    this.ringLo = L.ring;
    this.ringHi = L.ring + L.cpus * L.ringSize * RING_WORDS;
    this.cur = emptyFootprint();
  }

  /** Record from now on (a concurrent block begins), or stop (it ended: the steps after it make no choice). */
  recording(on: boolean): void {
    this.m = on ? this.machineM : null;
  }

  /** The footprint since the last take(), and a fresh one begins. */
  take(): Footprint {
    const f = this.cur;
    this.cur = emptyFootprint();
    return f;
  }

  install(): void {
    if (this.saved) return;
    const A = Atomics as unknown as Record<keyof AtomicsFns, (...a: unknown[]) => unknown>;
    const saved = { load: A.load, store: A.store, add: A.add, sub: A.sub, and: A.and, or: A.or, xor: A.xor, exchange: A.exchange, compareExchange: A.compareExchange, wait: A.wait, notify: A.notify };
    this.saved = saved as unknown as AtomicsFns;
    const read = (arr: unknown, i: unknown): void => {
      if (arr !== this.m) return;
      const n = i as number;
      if ((n >= this.ringLo && n < this.ringHi) || this.skip.has(n)) return;
      this.cur.reads.add(n);
    };
    const write = (arr: unknown, i: unknown): void => {
      if (arr !== this.m) return;
      const n = i as number;
      if ((n >= this.ringLo && n < this.ringHi) || this.skip.has(n)) return;
      this.cur.reads.add(n);
      this.cur.writes.add(n);
    };
    A.load = (arr, i) => (read(arr, i), saved.load(arr, i));
    A.wait = (arr, i, v, t) => (read(arr, i), saved.wait(arr, i, v, t));
    A.notify = (arr, i, c) => (read(arr, i), saved.notify(arr, i, c));
    for (const k of ['store', 'add', 'sub', 'and', 'or', 'xor', 'exchange'] as const) {
      const f = saved[k];
      A[k] = (arr, i, v) => (write(arr, i), f(arr, i, v));
    }
    A.compareExchange = (arr, i, e, r) => (write(arr, i), saved.compareExchange(arr, i, e, r));
  }

  uninstall(): void {
    if (!this.saved) return;
    Object.assign(Atomics, this.saved);
    this.saved = null;
  }
}
