// The canary (issue 14: a clean night must mean no bug). A run that finds nothing proves something
// only while its checker still catches bugs. So a sched run whose config sets canarySeeds first runs
// every named deviation (src/inject/deviations.ts) on its provoking mix, seeds 1..canarySeeds under
// the random scheduler across the run's worker pool, and requires each to be caught with one of the
// invariants it is known to trip (Deviation.expect). A deviation not caught is a run-level finding,
// canary-missed@<deviation> (exit 1, like a reach floor not met; no seed of the run is at fault).
// Then the controls: each provoking mix runs again without its deviation, on the seeds that ran
// for it (1 up to the seed that caught it), and must stay clean: the mixes are the directed part
// of the night (each drives one known bug class's window open), so a violation there is a false
// positive or a model bug of that class (canary-control@<deviation>, with an artifact to replay).
// Sched seeds are deterministic, so a canary does not flake: it moves only when the model or the
// checker changes, and then it says which deviation went unseen and what was seen instead.
import type { WorkerPool } from '../engine/pool.js';
import { runSchedSeedWatched, workerHangMs } from '../engine/worker-watch.js';
import { DEVIATIONS, type Deviation } from '../inject/deviations.js';
import { cellConfig } from '../hunt/hunt.js';
import type { CanaryDeviation, CanarySummary } from '../check/canary.js';
import type { Config } from '../config/config.js';
import type { RunResult, ViolationRecord } from '../engine/result.js';

/** A violation of a control (a provoking mix without its deviation): the config it ran and the violation (for its artifact). */
export type ControlViolation = (deviation: string, cfg: Config, v: ViolationRecord) => void;

/**
 * Run the canary: every deviation's seeds 1, 2, ... over the pool's lanes (2 per worker, as a
 * run's seeds), the lowest seed of any deviation not caught yet first, until each is caught as
 * expected or has run all its seeds.
 */
export async function runCanary(pool: WorkerPool, seeds: number, workers: number, signal: AbortSignal | undefined, deviations: readonly Deviation[] = DEVIATIONS, onControlViolation?: ControlViolation): Promise<CanarySummary> {
  const t0 = performance.now();
  const states = deviations.map((d) => {
    // the provoking mix over the schema defaults, as the hunt and test/inject measured it
    const cfg = cellConfig({}, d.provoke, [d.name], 'sched', 'random', workers);
    return { d, cfg, hangMs: workerHangMs(cfg), next: 1, r: { name: d.name, caught: false, seedsRun: 0, expect: d.expect, other: [] } as CanaryDeviation, other: new Set<string>() };
  });
  // a seed is worth running while no smaller one caught the deviation
  const open = (x: (typeof states)[number]): boolean => x.next <= seeds && (x.r.seed === undefined || x.next < x.r.seed);
  await runLanes(pool, workers * 2, signal, () => {
    const x = lowest(states, open);
    if (!x) return undefined;
    const seed = x.next++;
    return {
      cfg: x.cfg, seed, hangMs: x.hangMs,
      done: (res) => {
        x.r.seedsRun++;
        const expect = x.d.expect;
        for (const v of res.violations) if (!expect.includes(v.invariant)) x.other.add(v.signature);
        const hit = res.violations.find((v) => expect.includes(v.invariant));
        if (hit && (x.r.seed === undefined || seed < x.r.seed)) {
          x.r.caught = true;
          x.r.seed = seed;
          x.r.signature = hit.signature;
        }
      },
    };
  });
  // the controls: the same mix without the deviation, seeds 1 up to the one that caught it (or
  // every seed run), the lowest seed of any control first; a control stops at its first violation
  const controls = states.map((x) => ({
    x, cfg: cellConfig({}, x.d.provoke, [], 'sched', 'random', workers), last: x.r.seed ?? x.r.seedsRun, next: 1,
    r: { seeds: 0 } as NonNullable<CanaryDeviation['control']>,
  }));
  const ctlOpen = (c: (typeof controls)[number]): boolean => c.next <= c.last && (c.r.violation === undefined || c.next < c.r.violation.seed);
  if (!signal?.aborted) {
    await runLanes(pool, workers * 2, signal, () => {
      const c = lowest(controls, ctlOpen);
      if (!c) return undefined;
      const seed = c.next++;
      return {
        cfg: c.cfg, seed, hangMs: c.x.hangMs,
        done: (res) => {
          c.r.seeds++;
          const v = res.violations[0];
          if (v && (c.r.violation === undefined || seed < c.r.violation.seed)) {
            c.r.violation = { seed, signature: v.signature };
            onControlViolation?.(c.x.d.name, c.cfg, v);
            if (v.artifact) c.r.violation.artifact = v.artifact;
          }
        },
      };
    });
  }
  for (const c of controls) if (!signal?.aborted || c.next > c.last) c.x.r.control = c.r;
  // stopped early: only the deviations that were caught or ran all their seeds are reported
  const done = states.filter((x) => x.r.caught || x.next > seeds);
  const out = (signal?.aborted ? done : states).map((x) => ({ ...x.r, other: [...x.other].sort() }));
  return { seeds, seconds: Math.round((performance.now() - t0) / 10) / 100, complete: out.length === deviations.length, deviations: out };
}


/** The open task with the lowest next seed (the first of equals), or undefined. */
function lowest<T extends { next: number }>(tasks: readonly T[], open: (t: T) => boolean): T | undefined {
  let best: T | undefined;
  for (const t of tasks) if (open(t) && (!best || t.next < best.next)) best = t;
  return best;
}

/** One seed to run: its config, seed and hang limit, and what to do with its result. */
interface LaneJob {
  cfg: Config;
  seed: number;
  hangMs: number;
  done: (res: RunResult) => void;
}

/** Run jobs over n lanes of the pool until next() has none (or the signal stops it: a seed in flight is dropped). */
async function runLanes(pool: WorkerPool, n: number, signal: AbortSignal | undefined, next: () => LaneJob | undefined): Promise<void> {
  const lane = async (): Promise<void> => {
    for (;;) {
      if (signal?.aborted) return;
      const job = next();
      if (!job) return;
      let res;
      try {
        res = await runSchedSeedWatched(pool, job.cfg, job.seed, signal, job.hangMs);
      } catch (e) {
        if (signal?.aborted) return;
        throw e;
      }
      job.done(res);
    }
  };
  await Promise.all(Array.from({ length: n }, lane));
}
