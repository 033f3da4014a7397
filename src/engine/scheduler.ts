// The scheduler interface of the sched engine (after awslabs/shuttle): the engine asks which
// runnable CPU advances next. One file per strategy in schedulers/: random, pct, replay, ops,
// follow (a threads recording), pos (partial order sampling).
import { SCHEDULERS, type SchedulerName } from '../config/config.js';
import { OpScheduler } from './schedulers/ops.js';
import { PctScheduler } from './schedulers/pct.js';
import { RandomScheduler } from './schedulers/random.js';
import { PosScheduler } from './schedulers/pos.js';
import type { Machine } from '../machine/machine.js';

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
  /** Optional: told of every event a CPU records (EV.* code), as it happens. */
  event?(cpu: number, code: number): void;
  /** Optional: how the strategy fared (replay: where it diverged), for the run's result. */
  outcome?(): object;
  /** Optional: the machine the run's steps act on, just before the first step (pos watches its words). */
  attach?(machine: Machine): void;
  /** Optional: the last step has run (pos stops watching). */
  detach?(): void;
}


export interface PctOptions {
  pctDepth: number;
  /** the step-count estimate k (resolved: > 0) */
  pctSteps: number;
}

export function makeScheduler(name: string, seed: number, pct: PctOptions = { pctDepth: 3, pctSteps: 0 }): Scheduler {
  switch (name) {
    case 'random':
      return new RandomScheduler(seed);
    case 'ops':
      return new OpScheduler(seed);
    case 'pos':
      return new PosScheduler(seed);
    case 'pct':
      if (!(pct.pctSteps > 0)) throw new Error('pct: the step estimate (pctSteps) must be resolved before the run');
      return new PctScheduler(seed, pct.pctDepth, pct.pctSteps);
    default:
      throw new Error(`unknown scheduler "${name}"`);
  }
}

/**
 * Run-length encoding of a schedule (cpu, count pairs), for artifacts. Kept in chunks of CHUNK
 * numbers: one array that grows to tens of thousands is reallocated and copied into fresh memory
 * as it grows, which page faults cost more than the pushes on some machines.
 */
export class ScheduleRecorder {
  private static readonly CHUNK = 4096;
  private readonly chunks: number[][] = [];
  private runs: number[] = [];
  private last = -1;
  private count = 0;
  push(cpu: number): void {
    if (cpu === this.last) this.count++;
    else {
      if (this.count) {
        if (this.runs.length >= ScheduleRecorder.CHUNK) {
          this.chunks.push(this.runs);
          this.runs = [];
        }
        this.runs.push(this.last, this.count);
      }
      this.last = cpu;
      this.count = 1;
    }
  }
  encode(): number[] {
    const out = ([] as number[]).concat(...this.chunks, this.runs);
    if (this.count) out.push(this.last, this.count);
    return out;
  }
}
