// The scheduler interface of the sched engine (after awslabs/shuttle): the engine asks which
// runnable CPU advances next. PCT and replay (issue #5) implement the same three methods.
import { rng } from '../workload/program.js';
import { OpScheduler } from './op-scheduler.js';

export interface Scheduler {
  readonly name: string;
  /** A new execution of ncpus CPUs begins. */
  start(ncpus: number): void;
  /** Choose one CPU from runnable (non-empty, ascending ids) at this step. */
  pick(runnable: readonly number[], step: number): number;
  /** Any further randomness the engine needs, from the scheduler's own stream. */
  random(): number;
  /**
   * Optional: told after every step of cpu the point it yielded at (P.*, or WAIT), or null when
   * its kernel path (one workload op) has ended. Strategies that schedule by program structure
   * (ops) use it; the others ignore it.
   */
  yielded?(cpu: number, point: number | null): void;
}

/** Uniformly random choice at every step, from the seed's "sched" stream. */
export class RandomScheduler implements Scheduler {
  readonly name = 'random';
  private rand: () => number;
  constructor(private readonly seed: number) {
    this.rand = rng(seed, 'sched');
  }
  start(_ncpus: number): void {
    this.rand = rng(this.seed, 'sched');
  }
  pick(runnable: readonly number[]): number {
    return runnable.length === 1 ? runnable[0] : runnable[Math.floor(this.rand() * runnable.length)];
  }
  random(): number {
    return this.rand();
  }
}

export function makeScheduler(name: string, seed: number): Scheduler {
  switch (name) {
    case 'random':
      return new RandomScheduler(seed);
    case 'ops':
      return new OpScheduler(seed);
    default:
      throw new Error(`unknown scheduler "${name}"`);
  }
}

/** Run-length encoding of a schedule (cpu, count pairs), for artifacts. */
export class ScheduleRecorder {
  private readonly runs: number[] = [];
  private last = -1;
  private count = 0;
  push(cpu: number): void {
    if (cpu === this.last) this.count++;
    else {
      if (this.count) this.runs.push(this.last, this.count);
      this.last = cpu;
      this.count = 1;
    }
  }
  encode(): number[] {
    return this.count ? [...this.runs, this.last, this.count] : [...this.runs];
  }
}
