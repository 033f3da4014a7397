// The canary's record and findings (the run itself: src/campaign/canary.ts). A run that finds
// nothing proves something only while its checker still catches bugs: each named deviation, run on
// its provoking mix before the run's seeds, must be caught with one of the invariants it is known
// to trip; one that is not is a run-level finding, canary-missed@<deviation> (exit 1, like a reach
// floor not met; no seed of the run is at fault).
import { signatureOf } from '../machine/cpu.js';
import type { ReachFinding } from './reach.js';

export const CANARY_INVARIANT = 'canary-missed';
/** A provoking mix run without its deviation (the clean model) found a violation. */
export const CANARY_CONTROL_INVARIANT = 'canary-control';

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
  /**
   * The control: the same mix without the deviation, seeds 1 up to the one that caught it (absent:
   * not run, the canary stopped first); violation: the smallest seed that found one, and its signature.
   */
  control?: { seeds: number; violation?: { seed: number; signature: string; artifact?: string } };
}

export interface CanarySummary {
  /** seeds 1..seeds per deviation at most */
  seeds: number;
  seconds: number;
  /** false: stopped before every deviation ran (Ctrl-C, an early stop) */
  complete: boolean;
  deviations: CanaryDeviation[];
}

/** The canary's findings: one per deviation it ran and did not catch, and one per control that found a violation. */
export function canaryFindings(c: CanarySummary): ReachFinding[] {
  return [...missedFindings(c), ...controlFindings(c)];
}

function controlFindings(c: CanarySummary): ReachFinding[] {
  return c.deviations.filter((d) => d.control?.violation).map((d) => {
    const v = d.control!.violation!;
    return {
      signature: signatureOf(CANARY_CONTROL_INVARIANT, d.name, []),
      invariant: CANARY_CONTROL_INVARIANT,
      path: d.name,
      details: {
        deviation: d.name, seed: v.seed, found: v.signature, ...(v.artifact ? { artifact: v.artifact, replay: `npx foliostorm repro ${v.artifact}` } : {}),
        why: `the provoking mix of ${d.name} run without the deviation (the clean model) found ${v.signature} at seed ${v.seed}: a false positive of the check, or a model bug of the class that mix drives`,
      },
    };
  });
}

function missedFindings(c: CanarySummary): ReachFinding[] {
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
