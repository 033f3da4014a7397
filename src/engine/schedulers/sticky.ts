// The "sticky" strategy: never preempt. The CPU that ran last keeps running while it can; when it
// blocks or its program ends, the lowest-numbered runnable CPU takes over. No randomness: the
// schedule is a function of the programs alone. The shrinker finishes a truncated schedule with
// it (everything after the cut runs without a preemption), and replays fall back to it there.
import type { Scheduler } from '../scheduler.js';

export class StickyScheduler implements Scheduler {
  readonly name = 'sticky';
  /** The CPU that ran last (whoever chose it: a replay that falls back to us tells us through yielded). */
  private cur = -1;
  start(_ncpus: number): void {
    this.cur = -1;
  }
  pick(runnable: readonly number[], _step = 0): number {
    return this.cur >= 0 && runnable.includes(this.cur) ? this.cur : runnable[0];
  }
  yielded(cpu: number, _point: number | null): void {
    this.cur = cpu;
  }
  random(): number {
    return 0.5; // never consulted by the engine; a fixed value keeps the strategy free of randomness
  }
}
