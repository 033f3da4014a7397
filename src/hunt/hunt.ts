// The hunt matrix (issue #5): for every deviation and every selected scheduler and engine, run
// seeds of the deviation's provoking config until the first violation or the budget per cell;
// then run the unmodified model for the same budget as the false-positive control. Cells run one
// after another, each across the whole worker pool, so seconds-to-detection are comparable.
import { WorkerPool } from '../engine/pool.js';
import { runSchedSeedWatched, workerHangMs } from '../engine/worker-watch.js';
import { type Config, type ConfigInput, parseConfig } from '../config/config.js';
import { DEVIATIONS, type Deviation } from '../inject/deviations.js';
import type { RunResult, ViolationRecord } from '../engine/result.js';
import { resolvePctSteps } from '../engine/sched.js';
import { runThreads } from '../engine/threads.js';

export interface HuntOptions {
  /** base config (a file's, or the schema defaults) the provoking mixes are laid over */
  base: ConfigInput;
  /**
   * false: the untuned hunt: every deviation runs on the base config as it is (no provoking mix),
   * and the control is the base config alone. What a user's nightly would catch (default true).
   */
  provoke?: boolean;
  deviations: readonly Deviation[];
  schedulers: readonly string[];
  engines: readonly ('sched' | 'threads')[];
  /** seconds per cell */
  budget: number;
  workers: number;
  signal?: AbortSignal;
  /** a line per finished cell (progress) */
  onCell?: (c: CellResult, index: number, total: number) => void;
  /** the sched piscina task file (tests: one that hangs or crashes on purpose); default workers/sched-task.js */
  schedTask?: URL;
}

export interface CellResult {
  /** the deviation, or null for a control cell */
  deviation: string | null;
  /** the sched scheduler, or "-" for the threads engine */
  scheduler: string;
  engine: 'sched' | 'threads';
  detected: boolean;
  /** seeds (sched) or rounds (threads) run */
  seedsRun: number;
  /** sched: the first detecting seed's position from the first seed (1 = the first seed); threads: rounds up to the detection */
  seedsToDetection: number | null;
  secondsToDetection: number | null;
  seconds: number;
  /** the first detection (smallest seed); for a control, its first false positive */
  violation: ViolationRecord | null;
  /** every distinct signature seen (a control lists its false positives here) */
  signatures: string[];
  config: Config;
  interrupted: boolean;
}

export interface HuntResult {
  cells: CellResult[];
  controls: CellResult[];
  /** deviations no cell detected */
  undetected: string[];
  pass: boolean;
  interrupted: boolean;
}

/** A deviation's cell config: base, then its provoking mix, then the cell's engine, scheduler and the deviation itself. */
export function cellConfig(base: ConfigInput, provoke: ConfigInput, inject: string[], engine: 'sched' | 'threads', scheduler: string, workers: number): Config {
  const merged: Record<string, unknown> = { ...base, ...provoke, inject, engine, workers, seed: 1, duration: 0 };
  if (base.weights || provoke.weights) merged.weights = { ...base.weights, ...provoke.weights };
  if (base.files || provoke.files) merged.files = { ...base.files, ...provoke.files };
  if (engine === 'sched') merged.scheduler = scheduler;
  else merged.cpus = workers; // threads: one simulated CPU per worker thread
  let cfg = parseConfig(merged, inject.length ? `hunt profile of ${inject.join('+')}` : 'hunt control');
  if (engine === 'sched') cfg = resolvePctSteps(cfg);
  return cfg;
}

/** The cells to run, deviations first, controls last. */
export function planCells(o: Pick<HuntOptions, 'deviations' | 'schedulers' | 'engines'>): { deviation: Deviation | null; engine: 'sched' | 'threads'; scheduler: string }[] {
  const modes: { engine: 'sched' | 'threads'; scheduler: string }[] = [];
  for (const engine of o.engines) {
    if (engine === 'threads') modes.push({ engine, scheduler: '-' });
    else for (const scheduler of o.schedulers) modes.push({ engine, scheduler });
  }
  const cells: { deviation: Deviation | null; engine: 'sched' | 'threads'; scheduler: string }[] = [];
  for (const d of o.deviations) for (const m of modes) cells.push({ deviation: d, ...m });
  for (const m of modes) cells.push({ deviation: null, ...m });
  return cells;
}

export async function runHunt(o: HuntOptions): Promise<HuntResult> {
  const plan = planCells(o);
  const pool = o.engines.includes('sched')
    ? new WorkerPool({ filename: o.schedTask ?? new URL('../../workers/sched-task.js', import.meta.url), threads: o.workers })
    : null;
  const cells: CellResult[] = [];
  const controls: CellResult[] = [];
  try {
    for (const [i, p] of plan.entries()) {
      if (o.signal?.aborted) break;
      let r: CellResult;
      if (p.deviation) {
        const cfg = cellConfig(o.base, o.provoke === false ? {} : p.deviation.provoke, [p.deviation.name], p.engine, p.scheduler, o.workers);
        r = p.engine === 'sched' ? await schedCell(pool!, () => cfg, o, true) : await threadsCell(cfg, o, true);
        r.deviation = p.deviation.name;
      } else {
        // the control: every deviation's provoking mix in turn (untuned: the base alone), nothing injected
        const mixes = (o.provoke === false ? [{}] : controlMixes(o.deviations)).map((m) => cellConfig(o.base, m, [], p.engine, p.scheduler, o.workers));
        r = p.engine === 'sched' ? await schedCell(pool!, (seed) => mixes[(seed - 1) % mixes.length], o, false) : await threadsControl(mixes, o);
      }
      (p.deviation ? cells : controls).push(r);
      o.onCell?.(r, i, plan.length);
    }
  } finally {
    await pool?.close();
  }
  pool?.throwIfFault();
  return verdict(o.deviations.map((d) => d.name), cells, controls, !!o.signal?.aborted);
}

/** Pass only if every deviation was detected by some cell, a control ran, and no control found anything. */
export function verdict(deviations: readonly string[], cells: CellResult[], controls: CellResult[], interrupted: boolean): HuntResult {
  const undetected = deviations.filter((n) => !cells.some((c) => c.deviation === n && c.detected));
  const clean = controls.every((c) => !c.detected);
  return { cells, controls, undetected, pass: !interrupted && undetected.length === 0 && clean && controls.length > 0, interrupted };
}

/** The distinct provoking mixes of the deviations (the control runs each in turn). */
export function controlMixes(devs: readonly Deviation[]): ConfigInput[] {
  const seen = new Map<string, ConfigInput>();
  seen.set('{}', {});
  for (const d of devs) seen.set(JSON.stringify(d.provoke), d.provoke);
  return [...seen.values()];
}

/**
 * Seeds 1, 2, ... of one cell across the pool until a violation (stopAfterFirst) or the budget.
 * In sched a seed's run is a function of the seed, so the first detection is the smallest
 * detecting seed: lanes stop taking seeds above it but let smaller ones in flight finish.
 */
async function schedCell(pool: WorkerPool, cfgOf: (seed: number) => Config, o: HuntOptions, stopAfterFirst: boolean): Promise<CellResult> {
  const t0 = performance.now();
  const deadline = t0 + o.budget * 1000;
  let next = 1;
  let seedsRun = 0;
  let best: { seed: number; v: ViolationRecord; at: number } | null = null;
  const sigs = new Set<string>();
  const lane = async (): Promise<void> => {
    while (performance.now() < deadline && !o.signal?.aborted && (!best || !stopAfterFirst || next < best.seed)) {
      const seed = next++;
      let r: RunResult;
      try {
        // watched like a run's seeds: a seed that hangs or kills its worker is a finding (worker-hang/crash@sched), not a stuck hunt
        const cfg = cfgOf(seed);
        r = await runSchedSeedWatched(pool, cfg, seed, o.signal, workerHangMs(cfg));
      } catch (e) {
        if (o.signal?.aborted) return;
        throw e;
      }
      seedsRun++;
      for (const v of r.violations) sigs.add(v.signature);
      if (r.violations.length && (!best || seed < best.seed)) best = { seed, v: r.violations[0], at: (performance.now() - t0) / 1000 };
    }
  };
  await Promise.all(Array.from({ length: o.workers }, lane));
  const b = best as { seed: number; v: ViolationRecord; at: number } | null;
  return {
    deviation: null, scheduler: cfgOf(1).scheduler, engine: 'sched', detected: !!b, seedsRun, seedsToDetection: b ? b.seed : null,
    secondsToDetection: b ? round(b.at) : null, seconds: round((performance.now() - t0) / 1000), violation: b?.v ?? null,
    signatures: [...sigs].sort(), config: cfgOf(b?.seed ?? 1), interrupted: !!o.signal?.aborted,
  };
}

/** Rounds of the threads engine until a violation or the budget. */
async function threadsCell(cfg: Config, o: HuntOptions, stopAfterFirst: boolean): Promise<CellResult> {
  const t0 = performance.now();
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  o.signal?.addEventListener('abort', onAbort);
  let first: { v: ViolationRecord; rounds: number; at: number } | null = null;
  let rounds = 0;
  const sigs = new Set<string>();
  try {
    await runThreads(cfg, {
      seeds: null, durationSec: o.budget, workers: cfg.cpus, signal: ac.signal,
      onRound: (r) => {
        rounds++;
        for (const v of r.violations) sigs.add(v.signature);
        if (r.violations.length && !first) {
          first = { v: r.violations[0], rounds, at: (performance.now() - t0) / 1000 };
          if (stopAfterFirst) ac.abort();
        }
      },
    });
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
  }
  const f = first as { v: ViolationRecord; rounds: number; at: number } | null;
  return {
    deviation: null, scheduler: '-', engine: 'threads', detected: !!f, seedsRun: rounds, seedsToDetection: f ? f.rounds : null,
    secondsToDetection: f ? round(f.at) : null, seconds: round((performance.now() - t0) / 1000), violation: f?.v ?? null,
    signatures: [...sigs].sort(), config: cfg, interrupted: !!o.signal?.aborted,
  };
}

/** The threads control: the budget shared evenly by the provoking mixes. */
async function threadsControl(mixes: Config[], o: HuntOptions): Promise<CellResult> {
  const t0 = performance.now();
  const parts: CellResult[] = [];
  for (const cfg of mixes) {
    if (o.signal?.aborted) break;
    parts.push(await threadsCell(cfg, { ...o, budget: o.budget / mixes.length }, false));
  }
  const hit = parts.find((p) => p.detected) ?? null;
  return {
    deviation: null, scheduler: '-', engine: 'threads', detected: !!hit, seedsRun: parts.reduce((a, p) => a + p.seedsRun, 0),
    seedsToDetection: null, secondsToDetection: null, seconds: round((performance.now() - t0) / 1000), violation: hit?.violation ?? null,
    signatures: [...new Set(parts.flatMap((p) => p.signatures))].sort(), config: hit?.config ?? mixes[0], interrupted: !!o.signal?.aborted,
  };
}

const round = (x: number): number => Math.round(x * 100) / 100;

/** Deviations by name (all when names is empty); unknown names are reported by the caller. */
export function selectDeviations(names: readonly string[]): Deviation[] {
  return names.length ? DEVIATIONS.filter((d) => names.includes(d.name)) : [...DEVIATIONS];
}
