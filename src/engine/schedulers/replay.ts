// The "replay" strategy: follow a recorded schedule (the run-length encoded CPU choices of an
// artifact) step by step. When the recording names a CPU that cannot run at that step, or runs
// out before the machine is done, the replay has diverged: it records the step and goes on with a
// fallback strategy (a seeded random scheduler unless told otherwise) instead of failing.
import type { Scheduler } from '../scheduler.js';
import { RandomScheduler } from './random.js';

export interface ReplayOutcome {
  /** steps taken as recorded */
  followed: number;
  /** the step at which the recording could not be followed, and why; absent if it never diverged */
  divergedAt?: number;
  reason?: string;
}

export class ReplayScheduler implements Scheduler {
  readonly name = 'replay';
  private run = 0;
  private left = 0;
  private following = true;
  private followed = 0;
  private divergedAt: number | undefined;
  private reason: string | undefined;
  readonly fallback: Scheduler;
  /** schedule: [cpu, count, cpu, count, ...] as ScheduleRecorder.encode() writes it. */
  constructor(
    private readonly schedule: readonly number[],
    seed: number,
    fallback?: Scheduler,
  ) {
    if (schedule.length % 2) throw new Error('replay: a schedule is (cpu, count) pairs');
    this.fallback = fallback ?? new RandomScheduler(seed, 'replay-fallback');
  }
  start(ncpus: number): void {
    this.run = 0;
    this.left = this.schedule.length ? this.schedule[1] : 0;
    this.following = true;
    this.followed = 0;
    this.divergedAt = undefined;
    this.reason = undefined;
    this.fallback.start(ncpus);
  }
  pick(runnable: readonly number[], step: number): number {
    if (this.following) {
      while (this.left === 0 && this.run + 2 < this.schedule.length) {
        this.run += 2;
        this.left = this.schedule[this.run + 1];
      }
      if (this.left === 0) this.diverge(step, `the recorded schedule ended after ${this.followed} steps`);
      else {
        const cpu = this.schedule[this.run];
        if (runnable.includes(cpu)) {
          this.left--;
          this.followed++;
          return cpu;
        }
        this.diverge(step, `recorded CPU ${cpu} cannot run (runnable: ${runnable.join(',') || 'none'})`);
      }
    }
    return this.fallback.pick(runnable, step);
  }
  yielded(cpu: number, point: number | null): void {
    this.fallback.yielded?.(cpu, point);
  }
  random(): number {
    return this.fallback.random();
  }
  private diverge(step: number, reason: string): void {
    this.following = false;
    this.divergedAt = step;
    this.reason = reason;
  }
  outcome(): ReplayOutcome {
    return this.divergedAt === undefined ? { followed: this.followed } : { followed: this.followed, divergedAt: this.divergedAt, reason: this.reason };
  }
}
