// The "guided" strategy: follow a recorded schedule whose steps are labelled with the op each CPU
// was in (ops ended so far), realigning where ops ran shorter or longer than when it was recorded.
// A step recorded for an op the CPU has already finished is skipped; a step for a later op than the
// CPU's current one is given to it anyway (its earlier op runs longer now); a step for a CPU that
// cannot run is skipped. When the recording runs out, a fallback strategy takes over. The shrinker
// tries candidates with it: taking ops out of a program changes how long others run, and replaying
// by CPU number alone would then hand steps to the wrong ops.
import type { Scheduler } from '../scheduler.js';

export class GuidedScheduler implements Scheduler {
  readonly name = 'guided';
  private pos = 0;
  private opIndex: number[] = [];
  /** cpus[i] ran step i, in op labels[i] of its program. */
  constructor(
    private readonly cpus: readonly number[],
    private readonly labels: readonly number[],
    readonly fallback: Scheduler,
  ) {
    if (cpus.length !== labels.length) throw new Error('guided: one label per step');
  }
  start(ncpus: number): void {
    this.pos = 0;
    this.opIndex = new Array(ncpus).fill(0);
    this.fallback.start(ncpus);
  }
  pick(runnable: readonly number[], step: number): number {
    while (this.pos < this.cpus.length) {
      const c = this.cpus[this.pos++];
      if (c >= this.opIndex.length || this.opIndex[c] > this.labels[this.pos - 1]) continue; // that op is over
      if (runnable.includes(c)) return c;
    }
    return this.fallback.pick(runnable, step);
  }
  yielded(cpu: number, point: number | null): void {
    if (point === null) this.opIndex[cpu]++;
    this.fallback.yielded?.(cpu, point);
  }
  random(): number {
    return this.fallback.random();
  }
}
