// The "ops" strategy of the sched engine: a CPU, once chosen, runs its current workload op to the
// end before any other CPU moves; the next CPU is then chosen at random from the seed's "sched"
// stream. Kernel paths never interleave, only whole ops do, so the op order depends on the seed
// alone and not on how many yields a path makes: batching: true and false run the same ops in the
// same order (test/engine/equivalence.test.ts). Races are out of its reach by construction.
import { rng } from '../../workload/program.js';
import type { Scheduler } from '../scheduler.js';

export class OpScheduler implements Scheduler {
  readonly name = 'ops';
  private rand: () => number;
  /** The CPU in the middle of an op, or -1 at an op boundary. */
  private cur = -1;
  constructor(private readonly seed: number) {
    this.rand = rng(seed, 'sched');
  }
  start(_ncpus: number): void {
    this.rand = rng(this.seed, 'sched');
    this.cur = -1;
  }
  pick(runnable: readonly number[]): number {
    // A CPU blocked in the middle of its op (a lock another CPU holds across ops: none today)
    // would deadlock the strict rule; then another CPU runs, and op atomicity is lost.
    if (this.cur >= 0 && runnable.includes(this.cur)) return this.cur;
    this.cur = runnable.length === 1 ? runnable[0] : runnable[Math.floor(this.rand() * runnable.length)];
    return this.cur;
  }
  yielded(cpu: number, point: number | null): void {
    if (cpu === this.cur && point === null) this.cur = -1; // its op ended: choose again
  }
  random(): number {
    return this.rand();
  }
}
