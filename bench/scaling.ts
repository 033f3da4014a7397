// Figure 3 of the bench: scaling from 1 to 2 workers. sched: seeds per second through the real
// coordinator (runCampaign: the piscina pool of workers/sched-task.js) on configs/smoke.json.
// threads: operations per second of the real threads engine (runThreads: one piscina task per
// simulated CPU, the observer sweeping) on configs/bench-lowcontention.json, where each CPU works on
// its own process. Runs alternate 1 and 2 workers; each count keeps its best run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../src/config.js';
import { runCampaign } from '../src/engine/coordinator.js';
import { runThreads } from '../src/engine/threads.js';

export interface ScalingFigure {
  engine: 'sched' | 'threads';
  config: string;
  unit: 'seeds/s' | 'ops/s';
  /** Best rate with 1 and with 2 workers. */
  one: number;
  two: number;
  /** two / one: target >= 1.7 (sched), >= 1.5 (threads). */
  ratio: number;
  target: number;
  /** Every run's rate, in the order run. */
  runs: { workers: number; rate: number; seconds: number }[];
}

export const SCALING_TARGET = { sched: 1.7, threads: 1.5 } as const;

/** Seeds per second of a sched campaign with the given workers for about seconds. */
export async function schedRate(cfg: Config, workers: number, seconds: number): Promise<{ rate: number; seconds: number }> {
  const out = mkdtempSync(join(tmpdir(), 'foliostorm-bench-'));
  try {
    const r = await runCampaign({ ...cfg, engine: 'sched', workers, duration: seconds }, { out, seedsGiven: false, quiet: true, version: 'bench' });
    return { rate: r.summary.seeds.count / r.summary.wallSeconds, seconds: r.summary.wallSeconds };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** Operations per second of the threads engine with the given workers (= simulated CPUs) for about seconds. */
export async function threadsRate(cfg: Config, workers: number, seconds: number): Promise<{ rate: number; seconds: number }> {
  const t0 = performance.now();
  const rs = await runThreads({ ...cfg, engine: 'threads' }, { seeds: null, durationSec: seconds, workers });
  const s = (performance.now() - t0) / 1000;
  const ops = rs.reduce((a, r) => a + Object.values(r.ops).reduce((x, y) => x + y, 0), 0);
  const bad = rs.flatMap((r) => r.violations);
  if (bad.length) throw new Error(`bench: the threads engine found ${bad[0].signature} on ${cfg.name} (seed ${bad[0].seed})`);
  return { rate: ops / s, seconds: s };
}

/** Alternate 1 and 2 workers reps times, secondsPerRun each. */
export async function measureScaling(engine: 'sched' | 'threads', cfg: Config, configName: string, secondsPerRun: number, reps: number): Promise<ScalingFigure> {
  const rate = engine === 'sched' ? schedRate : threadsRate;
  const runs: ScalingFigure['runs'] = [];
  for (let i = 0; i < reps; i++) {
    for (const workers of i % 2 ? [2, 1] : [1, 2]) runs.push({ workers, ...(await rate(cfg, workers, secondsPerRun)) });
  }
  const best = (w: number) => Math.max(...runs.filter((r) => r.workers === w).map((r) => r.rate));
  const one = best(1), two = best(2);
  return { engine, config: configName, unit: engine === 'sched' ? 'seeds/s' : 'ops/s', one, two, ratio: two / one, target: SCALING_TARGET[engine], runs };
}
