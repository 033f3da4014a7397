// Not a strategy: a decorator that watches another scheduler's run. It knows the step being run,
// which op of its program each CPU is in, and counts preemptions: a switch away from a CPU that is
// in the middle of an op and could still run (a switch at an op boundary, or away from a blocked
// CPU, is not one). Optionally it labels every step with the op index of the CPU that ran it
// (ops ended so far by that CPU: op j of the program, then its release of pins, then its end),
// which is how the shrinker cuts the steps of removed ops out of a schedule.
import type { Scheduler } from '../scheduler.js';

export class ObservedScheduler implements Scheduler {
  readonly name: string;
  /** The step being run (1-based: the engine's clock.step while the CPU runs it). */
  step = 0;
  /** The CPU running the current step. */
  cpu = -1;
  preemptions = 0;
  /** Per CPU: ops ended so far (the index of the op it is in or will start next). */
  opIndex: number[] = [];
  /** Per CPU: in the middle of an op. */
  inOp: boolean[] = [];
  /** Per step (when labelling): the op index of the CPU that ran it. */
  readonly labels: number[] | null;
  /** Told of each preemption: the step about to run, and the CPU switched away from. */
  onPreempt: ((step: number, cpu: number) => void) | null = null;
  event?: (cpu: number, code: number) => void;
  outcome?: () => object;
  constructor(readonly inner: Scheduler, label = false) {
    this.name = inner.name;
    this.labels = label ? [] : null;
    if (inner.event) this.event = inner.event.bind(inner);
    if (inner.outcome) this.outcome = inner.outcome.bind(inner);
  }
  start(ncpus: number): void {
    this.step = 0;
    this.cpu = -1;
    this.preemptions = 0;
    this.opIndex = new Array(ncpus).fill(0);
    this.inOp = new Array(ncpus).fill(false);
    if (this.labels) this.labels.length = 0;
    this.inner.start(ncpus);
  }
  pick(runnable: readonly number[], step: number): number {
    const c = this.inner.pick(runnable, step);
    const prev = this.cpu;
    this.cpu = c;
    this.step = step + 1;
    if (prev >= 0 && c !== prev && this.inOp[prev] && runnable.includes(prev)) {
      this.preemptions++;
      this.onPreempt?.(this.step, prev);
    }
    this.labels?.push(this.opIndex[c]);
    return c;
  }
  yielded(cpu: number, point: number | null): void {
    this.inner.yielded?.(cpu, point);
    if (point === null) {
      this.inOp[cpu] = false;
      this.opIndex[cpu]++;
    } else this.inOp[cpu] = true;
  }
  random(): number {
    return this.inner.random();
  }
}
