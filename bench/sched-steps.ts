// Figure 2 of the bench: scheduler steps per second of one sched worker (workers/sched-task.ts's
// task, one seed of configs/smoke.json, on a reused machine buffer as the coordinator gives it) against a bare generator loop that
// yields the same number of times through a chain of nested generators as deep as the model's
// (the mean delegation depth of a step, measured once in a worker thread: see gen-depth-worker.ts).
// A run lasts longer than a scheduling time slice, so on a busy machine its wall-clock time also
// counts other processes; the best of many alternating runs is the figure. (CPU time does not help
// in a VM whose virtual CPUs are themselves preempted: it counts that time too.)
import { Worker } from 'node:worker_threads';
import type { Config } from '../src/config/config.js';
import type { RunResult } from '../src/engine/result.js';
import { MachineBuffers } from '../src/engine/worker-watch.js';
import { computeLayout } from '../src/machine/layout.js';
import schedTask from '../workers/sched-task.js';

export interface SchedFigure {
  config: string;
  seed: number;
  /** Steps of one run of the seed. */
  steps: number;
  /** Ops of one run of the seed (the bare loop runs a generator chain per op). */
  ops: number;
  /** Mean generator delegation depth of a step of the model (measured), and the depth the bare loop uses. */
  meanDepth: number;
  depth: number;
  stepsPerSecond: number;
  nsPerStep: number;
  bareNsPerYield: number;
  /** nsPerStep / bareNsPerYield: target <= 3. */
  ratio: number;
  reps: number;
}

export const SCHED_TARGET = 3;

/** A chain of depth generators, each delegating to the next; the innermost yields n times. */
function* chain(depth: number, n: number): Generator<number, number, void> {
  if (depth <= 1) {
    for (let i = 0; i < n; i++) yield i;
    return n;
  }
  return yield* chain(depth - 1, n);
}

/**
 * The bare loop: ops chains of the given depth, yielding steps times in all, driven to completion
 * one next() at a time as the scheduler drives a CPU. Returns nanoseconds.
 */
export function bareYields(steps: number, ops: number, depth: number): number {
  const per = Math.floor(steps / ops);
  let extra = steps - per * ops;
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let o = 0; o < ops; o++) {
    const g = chain(depth, per + (extra-- > 0 ? 1 : 0));
    for (;;) {
      const r = g.next();
      if (r.done) break;
      sink += r.value;
    }
  }
  const t = Number(process.hrtime.bigint() - t0);
  if (sink === -1) console.log(sink);
  return t;
}

/** Mean delegation depth of the model's steps on cfg/seed, measured in a worker thread (it wraps Generator.prototype.next). */
export function measureDepth(cfg: Config, seed: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./gen-depth-worker.js', import.meta.url), { workerData: { cfg, seed } });
    let got: number | null = null;
    w.once('message', (d: number) => (got = d));
    w.once('error', reject);
    w.once('exit', (code) => (got !== null ? resolve(got) : reject(new Error(`gen-depth worker exited with ${code}`))));
  });
}

/** Alternate a run of the seed and the bare loop for about budgetMs; best of each. */
export async function measureSched(cfg: Config, configName: string, budgetMs: number, seed = 1): Promise<SchedFigure> {
  const meanDepth = await measureDepth(cfg, seed);
  const depth = Math.max(1, Math.round(meanDepth));
  // as a sched worker runs a seed: on a machine buffer the coordinator reuses, zeroed (MachineBuffers)
  const buffers = new MachineBuffers();
  const bytes = computeLayout(cfg).words * 4;
  const runSeed = (): RunResult => {
    const sab = buffers.take(bytes);
    const r = schedTask({ cfg, seed, sab });
    buffers.give(sab);
    return r;
  };
  const first = runSeed(); // warm-up, and the run's size
  const steps = first.steps;
  const ops = Math.max(1, Object.values(first.ops).reduce((a, b) => a + b, 0));
  bareYields(steps, ops, depth);
  const subject: number[] = [];
  const bare: number[] = [];
  const t0 = performance.now();
  while (subject.length < 3 || performance.now() - t0 < budgetMs) {
    const s0 = process.hrtime.bigint();
    const r = runSeed();
    subject.push(Number(process.hrtime.bigint() - s0) / r.steps);
    bare.push(bareYields(steps, ops, depth) / steps);
  }
  const nsPerStep = Math.min(...subject);
  const bareNs = Math.min(...bare);
  return {
    config: configName, seed, steps, ops, meanDepth, depth, stepsPerSecond: 1e9 / nsPerStep, nsPerStep, bareNsPerYield: bareNs, ratio: nsPerStep / bareNs, reps: subject.length,
  };
}
