// The canary (issue 14: a clean night must mean no bug). A run that finds nothing proves something
// only while its checker still catches bugs. So a sched run whose config sets canarySeeds first runs
// every named deviation (src/inject/deviations.ts) on its provoking mix, seeds 1..canarySeeds under
// the random scheduler across the run's worker pool, and requires each to be caught with one of the
// invariants it is known to trip (Deviation.expect). A deviation not caught is a run-level finding,
// canary-missed@<deviation> (exit 1, like a reach floor not met; no seed of the run is at fault).
// Sched seeds are deterministic, so a canary does not flake: it moves only when the model or the
// checker changes, and then it says which deviation went unseen and what was seen instead.
import type { WorkerPool } from '../engine/pool.js';
import { runSchedSeedWatched, workerHangMs } from '../engine/worker-watch.js';
import { DEVIATIONS, type Deviation } from '../inject/deviations.js';
import { cellConfig } from '../hunt/hunt.js';
import type { CanaryDeviation, CanarySummary } from '../check/canary.js';

/**
 * Run the canary: every deviation's seeds 1, 2, ... over the pool's lanes (2 per worker, as a
 * run's seeds), the lowest seed of any deviation not caught yet first, until each is caught as
 * expected or has run all its seeds.
 */
export async function runCanary(pool: WorkerPool, seeds: number, workers: number, signal: AbortSignal | undefined, deviations: readonly Deviation[] = DEVIATIONS): Promise<CanarySummary> {
  const t0 = performance.now();
  const states = deviations.map((d) => {
    // the provoking mix over the schema defaults, as the hunt and test/inject measured it
    const cfg = cellConfig({}, d.provoke, [d.name], 'sched', 'random', workers);
    return { d, cfg, hangMs: workerHangMs(cfg), next: 1, r: { name: d.name, caught: false, seedsRun: 0, expect: d.expect, other: [] } as CanaryDeviation, other: new Set<string>() };
  });
  // a seed is worth running while no smaller one caught the deviation
  const open = (x: (typeof states)[number]): boolean => x.next <= seeds && (x.r.seed === undefined || x.next < x.r.seed);
  const lane = async (): Promise<void> => {
    for (;;) {
      if (signal?.aborted) return;
      let x: (typeof states)[number] | undefined;
      for (const s of states) if (open(s) && (!x || s.next < x.next)) x = s;
      if (!x) return;
      const seed = x.next++;
      let res;
      try {
        res = await runSchedSeedWatched(pool, x.cfg, seed, signal, x.hangMs);
      } catch (e) {
        if (signal?.aborted) return;
        throw e;
      }
      x.r.seedsRun++;
      const expect = x.d.expect;
      for (const v of res.violations) if (!expect.includes(v.invariant)) x.other.add(v.signature);
      const hit = res.violations.find((v) => expect.includes(v.invariant));
      if (hit && (x.r.seed === undefined || seed < x.r.seed)) {
        x.r.caught = true;
        x.r.seed = seed;
        x.r.signature = hit.signature;
      }
    }
  };
  await Promise.all(Array.from({ length: workers * 2 }, lane));
  // stopped early: only the deviations that were caught or ran all their seeds are reported
  const done = states.filter((x) => x.r.caught || x.next > seeds);
  const out = (signal?.aborted ? done : states).map((x) => ({ ...x.r, other: [...x.other].sort() }));
  return { seeds, seconds: Math.round((performance.now() - t0) / 10) / 100, complete: out.length === deviations.length, deviations: out };
}

