// The canary's record and findings (the run itself: src/campaign/canary.ts). A run that finds
// nothing proves something only while its checker still catches bugs: each named deviation, run on
// its provoking mix before the run's seeds, must be caught with one of the invariants it is known
// to trip; one that is not is a run-level finding, canary-missed@<deviation> (exit 1, like a reach
// floor not met; no seed of the run is at fault).
import { signatureOf } from '../machine/cpu.js';
import type { ReachFinding } from './reach.js';

export const CANARY_INVARIANT = 'canary-missed';

export interface CanaryDeviation {
  name: string;
  caught: boolean;
  /** the smallest seed run that caught it, and the signature it was caught with */
  seed?: number;
  signature?: string;
  seedsRun: number;
  /** the invariants that count as caught (Deviation.expect) */
  expect: readonly string[];
  /** signatures seen that are not among the deviation's expected invariants */
  other: string[];
}

export interface CanarySummary {
  /** seeds 1..seeds per deviation at most */
  seeds: number;
  seconds: number;
  /** false: stopped before every deviation ran (Ctrl-C, an early stop) */
  complete: boolean;
  deviations: CanaryDeviation[];
}

/** The canary's findings: one per deviation it ran and did not catch. */
export function canaryFindings(c: CanarySummary): ReachFinding[] {
  return c.deviations.filter((d) => !d.caught).map((d) => ({
    signature: signatureOf(CANARY_INVARIANT, d.name, []),
    invariant: CANARY_INVARIANT,
    path: d.name,
    details: {
      deviation: d.name, seeds: d.seedsRun, expect: d.expect, seen: d.other,
      why: `the deviation ran on its provoking mix for seeds 1..${d.seedsRun} and no seed tripped one of its expected invariants: a check it relies on stopped working, or the model no longer reaches its bad state`,
    },
  }));
}
