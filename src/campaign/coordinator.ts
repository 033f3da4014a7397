// The coordinator: spreads seeds over the worker pool (sched) or runs rounds of real concurrency
// (threads), aggregates results, writes the results folder, and decides the exit code.
import type { Config } from '../config/config.js';
import type { ViolationRecord } from '../engine/result.js';
import type { RunResult } from '../engine/result.js';
import { Aggregate } from '../report/aggregate.js';
import { buildSummary, failed, renderSummary, type Summary } from '../report/summary.js';
import { makeRunId, ResultsWriter } from '../report/results.js';
import { WriteError, type WriteFs } from '../report/disk.js';
import { writeSummaryOutputs } from '../report/outputs.js';
import { JUNIT_FILE, renderJunit } from '../report/junit.js';
import { Progress, type ProgressSink } from '../report/progress.js';
import { runThreads } from '../engine/threads.js';
import { pctProbe } from '../engine/sched.js';
import { type Shard, shardSeed, shardSeedCount } from '../engine/shard.js';
import { configForSeed, variantOf } from '../engine/variants.js';
import { RunStop } from '../engine/stop.js';
import { withPool, type WorkerPool } from '../engine/pool.js';
import { MachineBuffers, runSchedSeedWatched, type SchedTask, workerHangMs } from '../engine/worker-watch.js';
import { LiveArtifacts } from '../report/live-artifacts.js';
import { EXIT_INTERRUPTED, EXIT_OK, EXIT_VIOLATIONS } from '../report/exit-codes.js';
import { variantCount } from '../report/seed-groups.js';
import { runCanary } from './canary.js';
import { type CanarySummary, canaryFindings } from '../check/canary.js';
import { DEFAULT_REACH_MIN_SEEDS, judgeReach, reachNotJudged, type ReachSummary } from '../check/reach.js';

export { EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, EXIT_VIOLATIONS } from '../report/exit-codes.js';

export interface CampaignOptions {
  out: string;
  /** seeds given explicitly on the command line (else only the duration bounds the run) */
  seedsGiven: boolean;
  quiet: boolean;
  version: string;
  signal?: AbortSignal;
  /** --shard K/N: run only the K-th slice of the seeds (src/engine/shard.ts); cfg.seeds counts the whole run's */
  shard?: Shard;
  /** Where progress lines go (default stderr; none when quiet). */
  progress?: ProgressSink;
  /** Off a terminal: a progress line at most this often (default 10 s). */
  progressEveryMs?: number;
  /** The piscina task files (tests: ones that hang or crash on purpose); default workers/sched-task.js and workers/cpu-task.js. */
  schedTask?: URL;
  cpuTask?: URL;
  /** Stop once this many seeds have failed (--max-failures; a seed fails with one violation or more). */
  maxFailures?: number;
  /**
   * Rewrite the results folder's summary.json (with histograms.json, .hgrm and junit.xml) at most
   * this often while the run goes on, marked interrupted with stop.reason "unfinished", so a run
   * killed outright (SIGKILL, OOM, a lost machine) leaves a summary of what it did (default 60 s; 0: never).
   */
  checkpointEveryMs?: number;
  /** Told of each seed's (threads: round's) result as it arrives, after the run has counted it (the bench times them). */
  onResult?: (r: RunResult) => void;
  /** The file system calls the results are written with (tests: failures put in). */
  fs?: WriteFs;
  /** --no-reach: do not judge the reach floor (src/check/reach.ts). */
  noReach?: boolean;
  /** The reach floor judges only variants that ran at least this many seeds (default DEFAULT_REACH_MIN_SEEDS). */
  reachMinSeeds?: number;
}

export interface CampaignResult {
  summary: Summary;
  dir: string;
  text: string;
  exitCode: number;
  /**
   * The first results file that could not be written (a full disk, an I/O error, a folder made
   * read-only): the run stopped starting seeds, kept what it had written, and exits 3.
   */
  writeError?: WriteError;
}

export async function runCampaign(cfg: Config, opts: CampaignOptions): Promise<CampaignResult> {
  const t0 = performance.now();
  // the results folder first: a bad --out is a usage error before any thread starts or seed runs
  const runId = makeRunId(opts.shard ? `${cfg.engine}-shard${opts.shard.index}of${opts.shard.count}` : cfg.engine, cfg.seed);
  const w = new ResultsWriter(opts.out, runId, { label: '--out', fs: opts.fs });
  if (cfg.engine !== 'sched') return campaign(cfg, opts, t0, runId, w, null);
  // sched: one pool for the pct step estimate and the seeds; an early stop aborts the seeds in
  // flight, and a result one of them had already posted arrives late and is dropped by the pool
  return withPool({ filename: opts.schedTask ?? new URL('../../workers/sched-task.js', import.meta.url), threads: cfg.workers }, (pool) => campaign(cfg, opts, t0, runId, w, pool));
}

async function campaign(cfg: Config, opts: CampaignOptions, t0: number, runId: string, w: ResultsWriter, pool: WorkerPool | null): Promise<CampaignResult> {
  // threads: one simulated CPU per worker thread; summary and artifacts must record that machine
  if (cfg.engine === 'threads') cfg = { ...cfg, cpus: cfg.workers };
  // pct: the step estimate is measured once, so every seed, the summary and artifacts share it
  else cfg = await resolvePctStepsOn(pool!, cfg, opts.signal);
  const runCfg = cfg;
  const agg = new Aggregate(cfg.engine === 'sched' ? 'steps' : 'ns', variantCount(cfg));
  const seedLimit = cfg.duration > 0 && !opts.seedsGiven ? null : cfg.seeds;
  const progress = new Progress(cfg, { quiet: opts.quiet, sink: opts.progress, everyMs: opts.progressEveryMs, seedLimit });
  const stop = new RunStop({ signal: opts.signal, maxFailures: opts.maxFailures });
  // each violation's artifact as soon as its seed ends (a variant's seed: the config it ran)
  const artifacts = new LiveArtifacts(w, (v) => configForSeed(runCfg, v.seed));
  let failedSeeds = 0;
  const checkpointEveryMs = opts.checkpointEveryMs ?? 60_000;
  let lastCheckpoint = performance.now();
  // A write that fails (ENOSPC, EIO, EACCES, EROFS) stops the run: no more seeds start, nothing
  // more is written during it, and what was written stays. The seeds already run are still counted.
  let writeError: WriteError | undefined;
  const writing = (write: () => void): boolean => {
    if (writeError) return false;
    try {
      write();
      return true;
    } catch (e) {
      if (!(e instanceof WriteError)) throw e;
      writeError = e;
      stop.writeFailed(e.message);
      return false;
    }
  };
  // what the folder would hold if the run ended now; the final write replaces it
  const checkpoint = () => {
    const wallSeconds = (performance.now() - t0) / 1000;
    const stopped = { reason: 'unfinished' as const, detail: `the state after ${Math.round(wallSeconds)} s; the run had not ended when this was written (if nothing replaced it, the run was killed)` };
    const reach = reachNotJudged('the run had not ended', opts.reachMinSeeds ?? DEFAULT_REACH_MIN_SEEDS);
    const s = buildSummary(cfg, agg, { runId, version: opts.version, wallSeconds, interrupted: true, shard: opts.shard, stop: stopped, reach });
    writing(() => w.json('summary.json', s)) && writing(() => w.histograms(agg.hist, agg.encodedGroups())) && writing(() => w.text(JUNIT_FILE, renderJunit(s)));
    lastCheckpoint = performance.now();
  };
  const onResult = (r: RunResult) => {
    agg.add(r);
    // artifacts first, before anything else is written: on a full disk they are what matters most
    for (const v of r.violations) writing(() => artifacts.add(v));
    progress.add(r);
    stop.failuresFound((failedSeeds += r.violations.length ? 1 : 0));
    progress.tick(agg);
    if (checkpointEveryMs > 0 && performance.now() - lastCheckpoint >= checkpointEveryMs) checkpoint();
    opts.onResult?.(r);
  };
  progress.start(agg, w.dir);
  const engineOpts = { ...opts, signal: stop.signal };
  let canary: CanarySummary | undefined;
  try {
    // the canary first (sched): the run's duration counts its time too
    // (a control's violation gets an artifact, as a seed's does: replayable with repro)
    const onControl = (dev: string, ccfg: Config, v: ViolationRecord) => void writing(() => w.writeArtifact(ccfg, v, `canary-control-${dev}`));
    if (cfg.engine === 'sched' && cfg.canarySeeds) canary = await runCanary(pool!, cfg.canarySeeds, cfg.workers, stop.signal, undefined, onControl);
    if (cfg.engine === 'sched') await runSchedSeeds(cfg, engineOpts, onResult, pool!, t0);
    else await runThreadsRounds(cfg, engineOpts, onResult);
  } finally {
    progress.done();
  }
  const wallSeconds = (performance.now() - t0) / 1000;
  const stopped = stop.info(cfg.duration > 0 && wallSeconds >= cfg.duration);
  const interrupted = stop.interrupted;
  const reach = judgeRunReach(cfg, agg, opts, interrupted);
  // a deviation the canary ran and missed fails the run as a reach floor does
  if (canary) reach.findings.push(...canaryFindings(canary));
  const summary = buildSummary(cfg, agg, { runId, version: opts.version, wallSeconds, interrupted, shard: opts.shard, stop: stopped, reach, canary });
  // the artifacts are written; then summary.json (tried even after a failed write: it is small and
  // it is the run's record), the histograms, junit.xml and report.html, until one fails
  const failedBefore = writeError;
  writeError = undefined;
  const wrote = writing(() => w.json('summary.json', summary)) && writing(() => w.histograms(agg.hist, agg.encodedGroups())) && writing(() => writeSummaryOutputs(w, summary, { summary: false }));
  if (failedBefore) writeError = failedBefore;
  // a reach floor not met fails the run as a violation does (exit 1)
  const exitCode = interrupted || !wrote ? EXIT_INTERRUPTED : failed(summary) ? EXIT_VIOLATIONS : EXIT_OK;
  return { summary, dir: w.dir, text: renderSummary(summary, w.dir), exitCode, ...(writeError ? { writeError } : {}) };
}

/**
 * The reach floor of the run (src/check/reach.ts): each variant's seeds and event sums (the
 * aggregate's per-variant totals) judged against the rules its config enables. An interrupted run
 * is not judged: it stopped before its planned seeds or duration.
 */
export function judgeRunReach(cfg: Config, agg: Aggregate, opts: Pick<CampaignOptions, 'noReach' | 'reachMinSeeds'>, interrupted: boolean): ReachSummary {
  const minSeeds = opts.reachMinSeeds ?? DEFAULT_REACH_MIN_SEEDS;
  if (opts.noReach) return reachNotJudged('switched off (--no-reach)', minSeeds);
  if (interrupted) return reachNotJudged('the run was interrupted', minSeeds);
  if (!agg.variantTotals) return reachNotJudged('no per-variant counts', minSeeds);
  // variant i is the one seed i runs (seed s runs variant s mod n)
  const variants = agg.variantTotals.map((t, i) => ({ variant: variantOf(cfg, i), config: configForSeed(cfg, i), seeds: t.seeds, cleanSeeds: t.cleanSeeds, events: t.events }));
  return judgeReach(variants, { minSeeds, inject: cfg.inject });
}

/**
 * resolvePctSteps (src/engine/sched.ts) with its probe run on the pool: a nightly config's takes
 * 2 s, which on the main thread would keep Ctrl-C waiting. Stopped by signal: cfg as it was (no
 * seed runs then).
 */
async function resolvePctStepsOn(pool: WorkerPool, cfg: Config, signal: AbortSignal | undefined): Promise<Config> {
  const probe = pctProbe(cfg);
  if (!probe) return cfg;
  try {
    const r = await pool.run<RunResult>({ cfg: probe, seed: 0 } satisfies SchedTask, { signal });
    return { ...cfg, pctSteps: Math.max(1, r.steps) };
  } catch (e) {
    if (signal?.aborted) return cfg;
    throw e;
  }
}

/** Seeds cfg.seed, cfg.seed+1, ... (a shard: its slice) over the pool, until cfg.seeds are done or time is up. */
async function runSchedSeeds(cfg: Config, opts: CampaignOptions, onResult: (r: RunResult) => void, pool: WorkerPool, t0: number): Promise<boolean> {
  const deadline = cfg.duration > 0 ? t0 + cfg.duration * 1000 : Infinity; // from the run's start (the canary's time included)
  const limit = cfg.duration > 0 && !opts.seedsGiven ? Infinity : shardSeedCount(cfg.seeds, opts.shard);
  const hangMs = workerHangMs(cfg);
  const buffers = new MachineBuffers(); // one per lane at most
  let started = 0;
  let interrupted = false;
  const more = () => started < limit && performance.now() < deadline && !opts.signal?.aborted;
  const lane = async (): Promise<void> => {
    while (more()) {
      const seed = shardSeed(cfg.seed, opts.shard, started++);
      try {
        // a hang or a crash comes back as the seed's finding (worker-hang/worker-crash@sched)
        onResult(await runSchedSeedWatched(pool, cfg, seed, opts.signal, hangMs, buffers));
      } catch (e) {
        if (opts.signal?.aborted) {
          interrupted = true;
          return;
        }
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: cfg.workers * 2 }, lane));
  return interrupted || !!opts.signal?.aborted;
}

async function runThreadsRounds(cfg: Config, opts: CampaignOptions, onResult: (r: RunResult) => void): Promise<boolean> {
  // a count of rounds (a shard: of its slice), not a list: nightly.json's seeds (1e9) with --seed would not fit in memory
  const count = cfg.duration > 0 && !opts.seedsGiven ? Infinity : shardSeedCount(cfg.seeds, opts.shard);
  await runThreads(cfg, { seeds: null, count, seedAt: (i) => shardSeed(cfg.seed, opts.shard, i), durationSec: cfg.duration, workers: cfg.workers, onRound: onResult, signal: opts.signal, taskFile: opts.cpuTask });
  return !!opts.signal?.aborted;
}
