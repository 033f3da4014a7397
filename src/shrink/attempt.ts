// Testing one shrink candidate: does this config and these programs still fail with the same
// signature? A candidate comes with a guide schedule (the current one, cut to fit); it is tried
// with that schedule first and, when that misses, with a few fresh seeded schedulers. The run that
// reproduces becomes the new case, with the schedule recorded by its violation and the programs cut
// after the last op started before it. Wall-clock time only bounds the search (OutOfTime).
import type { Config } from '../config/config.js';
import { runSched } from '../engine/sched.js';
import type { Scheduler } from '../engine/scheduler.js';
import { ObservedScheduler } from '../engine/schedulers/observed.js';
import { PctScheduler } from '../engine/schedulers/pct.js';
import { RandomScheduler } from '../engine/schedulers/random.js';
import { ReplayScheduler } from '../engine/schedulers/replay.js';
import { StickyScheduler } from '../engine/schedulers/sticky.js';
import type { Op } from '../workload/program.js';
import { encodeSchedule, type Guide, type ShrinkCase } from './case.js';
import { GuidedScheduler } from '../engine/schedulers/guided.js';
import { EV } from '../machine/events.js';

export class OutOfTime extends Error {
  constructor() {
    super('shrink budget spent');
  }
}

export interface Candidate {
  cfg: Config;
  programs: Op[][];
  /** The schedule to follow first (what remains of the current one). */
  guide: Guide;
}

/**
 * How hard to look for a schedule when following the guide by op misses: replay it by CPU number
 * (then at random), and fresh random and pct schedulers per candidate.
 */
export interface Effort {
  replay: boolean;
  random: number;
  pct: number;
}
export const GUIDE_ONLY: Effort = { replay: false, random: 0, pct: 0 };

export class Tester {
  /** Runs made so far (every candidate schedule tried is one run). */
  runs = 0;
  /** Candidates reproduced, by the index of the try that reproduced them (guided, replay, fresh ...). */
  readonly hitsByTry: number[] = [];
  constructor(
    readonly seed: number,
    readonly signature: string,
    /** performance.now() after which no further run starts */
    public deadline: number,
  ) {}

  /** The case the running pass last kept: what a pass interrupted by the budget leaves. */
  best: ShrinkCase | null = null;
  /** A pass keeps a case: remember it, hand it back. */
  accept(c: ShrinkCase): ShrinkCase {
    this.best = c;
    return c;
  }
  /** Run one pass from c. */
  track(pass: (t: Tester, c: ShrinkCase, effort: Effort) => ShrinkCase, c: ShrinkCase, effort: Effort): ShrinkCase {
    this.best = c;
    return pass(this, c, effort);
  }

  /** One run of cfg and programs under scheduler: the new case if the signature recurred, else null. */
  run(cfg: Config, programs: Op[][], scheduler: Scheduler): ShrinkCase | null {
    if (performance.now() > this.deadline) throw new OutOfTime();
    this.runs++;
    const obs = new ObservedScheduler(scheduler, true);
    // where each touch landed (its first page), for moves that must keep a page's owner CPU
    const touchFirst: number[][] = programs.map(() => []);
    const onNote = (cpu: number, code: number, a: number) => {
      if (code === EV.NOTE_TOUCH) touchFirst[cpu][obs.opIndex[cpu]] = a;
    };
    const r = runSched(cfg, this.seed, { scheduler: obs, programs, onNote });
    const v = r.violations.find((x) => x.signature === this.signature);
    if (!v || !v.schedule || !v.opsStarted) return null;
    const started = v.opsStarted;
    return {
      cfg,
      programs: programs.map((p, i) => p.slice(0, started[i])),
      schedule: v.schedule,
      labels: obs.labels!.slice(0, v.step),
      steps: v.step,
      preemptions: obs.preemptions,
      touchFirst,
      violation: v,
    };
  }

  /**
   * Try a candidate: follow its guide by op (then without preempting); as `effort` says, by CPU
   * number alone (then at random), and fresh schedulers. Their seeds derive from the artifact's seed
   * and the try's number only, so the same candidate is always tried the same way.
   */
  attempt(c: Candidate, effort: Effort = GUIDE_ONLY): ShrinkCase | null {
    const g = c.guide;
    const tries: (() => Scheduler)[] = [() => new GuidedScheduler(g.cpus, g.labels, new StickyScheduler())];
    if (effort.replay) tries.push(() => new ReplayScheduler(encodeSchedule(g.cpus), this.seed, new RandomScheduler(this.seed, 'shrink/fallback')));
    for (let k = 0; k < effort.random; k++) tries.push(() => new RandomScheduler(this.seed, `shrink/random${k}`));
    const steps = Math.max(1, g.cpus.length);
    for (let k = 0; k < effort.pct; k++) tries.push(() => new PctScheduler(this.seed + k + 1, 2 + (k % 2), steps));
    for (let i = 0; i < tries.length; i++) {
      const hit = this.run(c.cfg, c.programs, tries[i]());
      if (hit) {
        this.hitsByTry[i] = (this.hitsByTry[i] ?? 0) + 1;
        return hit;
      }
    }
    return null;
  }
}
