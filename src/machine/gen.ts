// The yield protocol shared by the kernel paths and both engines. A kernel path is a generator that
// yields a point id at every place another CPU could interleave. The sched engine chooses which
// CPU advances at each yield; the threads engine simply runs each generator to completion on its
// own worker thread, so the interleaving is real. WAIT means "blocked; resume when cpu.waitFor()".
export type Gen<T = void> = Generator<number, T, void>;
export const WAIT = -1;

/**
 * false in the threads engine's build (dist/threads, src/build/strip-generators.ts), where kernel
 * paths are plain functions: only threaded CPUs, which never look at a yield, may run there.
 */
export const GENERATORS: boolean = true;

let spins = 0;
const cell = new Int32Array(new SharedArrayBuffer(4));
/** Spins of interleave() on this thread (the threads engine's CPU task sets it from its config). */
export function setInterleaveSpins(n: number): void {
  spins = n;
}
/**
 * A former yield point in the threads build: a pause of spins atomic loads (config interleaveSpins,
 * 0 by default) where another CPU could interleave. The generators' round trip to drive() and back
 * made such a pause by accident; without it a race whose window is one yield is caught less often.
 */
export function interleave(_point: number): void {
  for (let i = 0; i < spins; i++) Atomics.load(cell, 0);
}

/** Interleaving point ids (for traces). */
export const P = {
  OP: 1,
  LOCK: 2,
  LOCKED: 3,
  UNLOCK: 4,
  ACCESS: 5,
  FAULT: 6,
  PTE_READ: 7,
  SCAN: 8,
  ALLOC: 9,
  SET_PTE: 10,
  CLEAR_PTE: 11,
  RMAP: 12,
  TLB_FLUSH: 13,
  FREE: 14,
  VMA: 15,
  MM: 16,
  IO: 17,
} as const;

/** Run a generator to completion without a scheduler (threads engine, tests). */
export function drive<T>(g: Gen<T>): T {
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
  }
}
