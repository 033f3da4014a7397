// Figure 3 of the bench: scaling from 1 to 2 workers. sched: seeds per second through the real
// coordinator (runCampaign: the piscina pool of workers/sched-task.js) on configs/smoke.json.
// threads: operations per second of the real threads engine (runThreads: one piscina task per
// simulated CPU, the observer sweeping) on configs/bench-lowcontention.json, where each CPU works on
// its own process. Runs alternate 1 and 2 workers; each count keeps its best run. A rate is taken
// over the run's steady part (results arriving after the first 40% of it: a fresh pool's threads
// first compile the model), the whole run's rate is kept too. Next to them, the machine's own
// scaling: a loop of pure arithmetic in 1 and in 2 threads, so that a shared machine (other
// processes holding a core) is told apart from the engine.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Config } from '../src/config/config.js';
import { runCampaign } from '../src/campaign/coordinator.js';
import { runThreads } from '../src/engine/threads.js';

export interface RateRun {
  workers: number;
  /** Over the steady part of the run, and over the whole run. */
  rate: number;
  wholeRate: number;
  seconds: number;
}

export interface ScalingFigure {
  engine: 'sched' | 'threads';
  config: string;
  unit: 'seeds/s' | 'ops/s';
  /** Best steady rate with 1 and with 2 workers. */
  one: number;
  two: number;
  /** two / one: target >= 1.7 (sched), >= 1.5 (threads). */
  ratio: number;
  target: number;
  /** Every run, in the order run. */
  runs: RateRun[];
  /** The machine's own scaling, measured just before (a pure arithmetic loop in 1 and 2 threads). */
  machine: MachineScaling;
}

export interface MachineScaling {
  /** Iterations per second of a pure arithmetic loop, best of the runs, in 1 and in 2 threads at once. */
  one: number;
  two: number;
  ratio: number;
  runs: { threads: number; rate: number }[];
}

export const SCALING_TARGET = { sched: 1.7, threads: 1.5 } as const;

/** The steady part of a run: what arrived after the first 40% of it. */
const STEADY_FROM = 0.4;

/** Rates from (time, amount) arrivals over [t0, t1]: after STEADY_FROM of the run, and whole. */
export function rates(arrivals: readonly { t: number; n: number }[], t0: number, t1: number): { rate: number; wholeRate: number } {
  const tw = t0 + STEADY_FROM * (t1 - t0);
  const total = arrivals.reduce((a, x) => a + x.n, 0);
  const late = arrivals.filter((x) => x.t > tw);
  const steady = late.reduce((a, x) => a + x.n, 0);
  // from the last arrival before the window (or its start) to the last arrival: whole intervals only
  const before = arrivals.filter((x) => x.t <= tw).pop()?.t ?? tw;
  const end = late.length ? late[late.length - 1].t : t1;
  return { rate: end > before && steady ? steady / ((end - before) / 1000) : total / ((t1 - t0) / 1000), wholeRate: total / ((t1 - t0) / 1000) };
}

/** Seeds per second of a sched campaign with the given workers for about seconds. */
export async function schedRate(cfg: Config, workers: number, seconds: number): Promise<Omit<RateRun, 'workers'>> {
  const out = mkdtempSync(join(tmpdir(), 'foliostorm-bench-'));
  const arrivals: { t: number; n: number }[] = [];
  try {
    const t0 = performance.now();
    await runCampaign({ ...cfg, engine: 'sched', workers, duration: seconds }, { out, seedsGiven: false, quiet: true, version: 'bench', onResult: () => arrivals.push({ t: performance.now(), n: 1 }) });
    const t1 = arrivals.length ? arrivals[arrivals.length - 1].t : performance.now();
    return { ...rates(arrivals, t0, t1), seconds: (t1 - t0) / 1000 };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** Operations per second of the threads engine with the given workers (= simulated CPUs) for about seconds. */
export async function threadsRate(cfg: Config, workers: number, seconds: number): Promise<Omit<RateRun, 'workers'>> {
  const arrivals: { t: number; n: number }[] = [];
  const t0 = performance.now();
  const rs = await runThreads({ ...cfg, engine: 'threads' }, {
    seeds: null, durationSec: seconds, workers,
    onRound: (r) => arrivals.push({ t: performance.now(), n: Object.values(r.ops).reduce((x, y) => x + y, 0) }),
  });
  const t1 = performance.now();
  const bad = rs.flatMap((r) => r.violations);
  if (bad.length) throw new Error(`bench: the threads engine found ${bad[0].signature} on ${cfg.name} (seed ${bad[0].seed})`);
  return { ...rates(arrivals, t0, t1), seconds: (t1 - t0) / 1000 };
}

/**
 * A rate needs something to have finished: on a loaded machine a short run may end before its first
 * seed (sched) or round (threads) does, which is no rate at all. Run again, twice as long, up to 4 times.
 */
async function rateOf(measure: typeof schedRate, cfg: Config, workers: number, seconds: number): Promise<Omit<RateRun, 'workers'>> {
  let r = await measure(cfg, workers, seconds);
  for (let i = 1; i < 4 && !(r.rate > 0); i++) r = await measure(cfg, workers, (seconds *= 2));
  return r;
}

/** Alternate 1 and 2 workers reps times, secondsPerRun each. */
export async function measureScaling(engine: 'sched' | 'threads', cfg: Config, configName: string, secondsPerRun: number, reps: number): Promise<ScalingFigure> {
  const measure = engine === 'sched' ? schedRate : threadsRate;
  const rate = (c: Config, workers: number, seconds: number) => rateOf(measure, c, workers, seconds);
  const machine = await measureMachineScaling(Math.min(1000, secondsPerRun * 200), 2);
  const runs: RateRun[] = [];
  for (let i = 0; i < reps; i++) {
    for (const workers of i % 2 ? [2, 1] : [1, 2]) runs.push({ workers, ...(await rate(cfg, workers, secondsPerRun)) });
  }
  const best = (w: number) => Math.max(...runs.filter((r) => r.workers === w).map((r) => r.rate));
  const one = best(1), two = best(2);
  return { engine, config: configName, unit: engine === 'sched' ? 'seeds/s' : 'ops/s', one, two, ratio: two / one, target: SCALING_TARGET[engine], runs, machine };
}

const SPIN = `const { parentPort, workerData } = require('node:worker_threads');
const end = performance.now() + workerData;
let n = 0, x = 1;
while (performance.now() < end) { for (let i = 0; i < 1e5; i++) x = (Math.imul(x, 1103515245) + 12345) | 0; n++; }
parentPort.postMessage(x === 7 ? n + 1 : n);`;

/** Iterations per second of threads pure-arithmetic loops running at once for ms. */
export async function spinRate(threads: number, ms: number): Promise<number> {
  const counts = await Promise.all(Array.from({ length: threads }, () => new Promise<number>((resolve, reject) => {
    const w = new Worker(SPIN, { eval: true, workerData: ms });
    w.once('message', resolve);
    w.once('error', reject);
  })));
  return counts.reduce((a, b) => a + b, 0) / (ms / 1000);
}

/** The machine's scaling from 1 to 2 threads right now (alternating, best of reps). */
export async function measureMachineScaling(ms: number, reps: number): Promise<MachineScaling> {
  const runs: MachineScaling['runs'] = [];
  for (let i = 0; i < reps; i++) for (const threads of i % 2 ? [2, 1] : [1, 2]) runs.push({ threads, rate: await spinRate(threads, ms) });
  const best = (t: number) => Math.max(...runs.filter((r) => r.threads === t).map((r) => r.rate));
  return { one: best(1), two: best(2), ratio: best(2) / best(1), runs };
}
