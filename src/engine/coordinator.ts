// The coordinator: spreads seeds over the worker pool (sched) or runs rounds of real concurrency
// (threads), aggregates results, writes the results folder, and decides the exit code.
import { Piscina } from 'piscina';
import type { Config } from '../config.js';
import type { RunResult } from './result.js';
import { Aggregate } from '../report/aggregate.js';
import { buildSummary, renderSummary, type Summary } from '../report/summary.js';
import { makeRunId, ResultsWriter } from '../report/results.js';
import { Progress } from '../report/progress.js';
import { runThreads } from './threads.js';
import { resolvePctSteps } from './sched.js';
import { configForSeed } from './variants.js';

export const EXIT_OK = 0, EXIT_VIOLATIONS = 1, EXIT_USAGE = 2, EXIT_INTERRUPTED = 3;

export interface CampaignOptions {
  out: string;
  /** seeds given explicitly on the command line (else only the duration bounds the run) */
  seedsGiven: boolean;
  quiet: boolean;
  version: string;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface CampaignResult {
  summary: Summary;
  dir: string;
  text: string;
  exitCode: number;
}

export async function runCampaign(cfg: Config, opts: CampaignOptions): Promise<CampaignResult> {
  const t0 = performance.now();
  // threads: one simulated CPU per worker thread; summary and artifacts must record that machine
  if (cfg.engine === 'threads') cfg = { ...cfg, cpus: cfg.workers };
  // pct: the step estimate is measured once, so every seed, the summary and artifacts share it
  else cfg = resolvePctSteps(cfg);
  const agg = new Aggregate(cfg.engine === 'sched' ? 'steps' : 'ns');
  const progress = new Progress(cfg, opts.quiet, opts.log);
  const onResult = (r: RunResult) => {
    agg.add(r);
    progress.update(agg);
  };
  let interrupted = false;
  if (cfg.engine === 'sched') interrupted = await runSchedSeeds(cfg, opts, onResult);
  else interrupted = await runThreadsRounds(cfg, opts, onResult);
  progress.done();
  const runId = makeRunId(cfg.engine, cfg.seed);
  const w = new ResultsWriter(opts.out, runId);
  // artifacts in seed order, so the smallest seeds of each signature are the ones kept
  for (const v of agg.violations) w.artifact(configForSeed(cfg, v.seed), v); // a variant's seed: the config it ran
  w.histograms(agg.hist);
  const summary = buildSummary(cfg, agg, { runId, version: opts.version, wallSeconds: (performance.now() - t0) / 1000, interrupted });
  w.json('summary.json', summary);
  const exitCode = interrupted ? EXIT_INTERRUPTED : summary.violations.length ? EXIT_VIOLATIONS : EXIT_OK;
  return { summary, dir: w.dir, text: renderSummary(summary, w.dir), exitCode };
}

/** Seeds cfg.seed, cfg.seed+1, ... over a piscina pool, until cfg.seeds are done or time is up. */
async function runSchedSeeds(cfg: Config, opts: CampaignOptions, onResult: (r: RunResult) => void): Promise<boolean> {
  const pool = new Piscina({
    filename: new URL('../../workers/sched-task.js', import.meta.url).href,
    minThreads: cfg.workers,
    maxThreads: cfg.workers,
  });
  const deadline = cfg.duration > 0 ? performance.now() + cfg.duration * 1000 : Infinity;
  const limit = cfg.duration > 0 && !opts.seedsGiven ? Infinity : cfg.seeds;
  let next = cfg.seed;
  let started = 0;
  let interrupted = false;
  const more = () => started < limit && performance.now() < deadline && !opts.signal?.aborted;
  const lane = async (): Promise<void> => {
    while (more()) {
      const seed = next++;
      started++;
      try {
        onResult(await pool.run({ cfg, seed }, { signal: opts.signal }));
      } catch (e) {
        if (opts.signal?.aborted) {
          interrupted = true;
          return;
        }
        throw e;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: cfg.workers * 2 }, lane));
  } finally {
    await pool.destroy();
  }
  return interrupted || !!opts.signal?.aborted;
}

async function runThreadsRounds(cfg: Config, opts: CampaignOptions, onResult: (r: RunResult) => void): Promise<boolean> {
  const seeds = cfg.duration > 0 && !opts.seedsGiven ? null : Array.from({ length: cfg.seeds }, (_, i) => cfg.seed + i);
  await runThreads(cfg, { seeds, durationSec: cfg.duration, workers: cfg.workers, onRound: onResult, signal: opts.signal });
  return !!opts.signal?.aborted;
}
