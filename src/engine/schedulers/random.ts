// The "random" strategy: a uniformly random runnable CPU at every step, from the seed's "sched"
// stream (the default; with three CPUs about two steps in three are a context switch).
import { rng } from '../../workload/program.js';
import type { Scheduler } from '../scheduler.js';

export class RandomScheduler implements Scheduler {
  readonly name = 'random';
  private rand: () => number;
  /** label: the PRNG stream ("sched" unless a caller needs an independent one, e.g. replay's fallback). */
  constructor(private readonly seed: number, private readonly label = 'sched') {
    this.rand = rng(seed, label);
  }
  start(_ncpus: number): void {
    this.rand = rng(this.seed, this.label);
  }
  pick(runnable: readonly number[], _step = 0): number {
    return runnable.length === 1 ? runnable[0] : runnable[Math.floor(this.rand() * runnable.length)];
  }
  random(): number {
    return this.rand();
  }
}
