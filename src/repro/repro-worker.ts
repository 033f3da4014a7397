// foliostorm repro of a worker-hang or worker-crash artifact: the seed re-run in the artifact's
// engine in a watched worker (src/engine/worker-watch.ts), never in this thread, so a seed that
// hangs again is reported again instead of hanging repro. Reproduced when the same signature
// recurs.
import { withPool } from '../engine/pool.js';
import type { Artifact } from '../report/artifact.js';
import type { RunResult } from '../engine/result.js';
import { runThreads } from '../engine/threads.js';
import { runSchedSeedWatched, workerHangMs } from '../engine/worker-watch.js';

export const WORKER_FAULTS = ['worker-hang', 'worker-crash'];

export function isWorkerFault(art: Pick<Artifact, 'invariant'>): boolean {
  return WORKER_FAULTS.includes(art.invariant);
}

export interface WorkerReproResult {
  reproduced: boolean;
  hangMs: number;
  result: RunResult;
}

/**
 * taskFile: the piscina task file (tests: one that hangs on purpose); default the engine's own.
 * signal (Ctrl-C): stops the seed (sched: its thread terminated; threads: at the CPUs' next op
 * boundary); sched rejects, threads resolves with what the round had.
 */
export async function reproduceWorkerFault(art: Artifact, opts: { taskFile?: URL; signal?: AbortSignal } = {}): Promise<WorkerReproResult> {
  const cfg = art.config;
  const hangMs = workerHangMs(cfg);
  let result: RunResult;
  if (art.engine === 'sched') {
    result = await withPool({ filename: opts.taskFile ?? new URL('../../workers/sched-task.js', import.meta.url), threads: 1 }, (pool) =>
      runSchedSeedWatched(pool, { ...cfg, engine: 'sched' }, art.seed, opts.signal, hangMs));
  } else {
    [result] = await runThreads(cfg, { seeds: [art.seed], durationSec: 0, workers: cfg.cpus, taskFile: opts.taskFile, signal: opts.signal });
  }
  return { reproduced: result.violations.some((v) => v.signature === art.signature), hangMs, result };
}

/** What repro prints for it. */
export function renderWorkerRepro(art: Artifact, file: string, r: WorkerReproResult): string {
  const hit = r.result.violations.find((v) => v.signature === art.signature);
  const lines = [`repro ${file}: ${art.signature} at seed ${art.seed} (${art.engine} engine, re-run in a watched worker: ${r.hangMs} ms without an event is a hang)`];
  if (hit) lines.push(`  reproduced: ${String(hit.details.why ?? '')}${hit.details.error ? `: ${String(hit.details.error)}` : ''}`);
  else lines.push(`  not reproduced: ${r.result.violations.length ? `other findings ${[...new Set(r.result.violations.map((v) => v.signature))].join(', ')}` : 'the seed ran to its end clean'}`);
  return lines.join('\n');
}
