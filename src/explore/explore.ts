// Bounded exhaustive exploration of a scenario's concurrent blocks (DESIGN section 5): every
// schedule with at most K preemptions, K = 0, 1, 2, ... (iterative context bounding), each one a
// fresh run of the whole scenario whose blocks are scheduled by the search (dfs.ts). Every check
// the sched engine makes runs at every explored step (the runner drives each block through the
// sched loop: the refcount observer, the contract hooks, the hang detectors), the quiescent checks
// after each step, every expect after the block, the leak and disk checks at teardown. A schedule
// that passes gives an outcome (outcome.ts); one that fails gives a violation, kept with the
// smallest K it appeared at and the first schedule that showed it.
import { readFileSync } from 'node:fs';
import { parseScenario, type Scenario, ScenarioFormatError } from '../scenario/format.js';
import { runScenario, type ScenarioResult } from '../scenario/runner.js';
import { AccessTracker } from '../engine/footprint.js';
import { backtrack, ExploreScheduler, type Node } from './dfs.js';
import { observedPages, outcomeOf } from './outcome.js';

export interface ExploreOptions {
  /** The preemption bound: rounds K = 0..preemptions. */
  preemptions: number;
  /** Stop after this many schedules run in all (Infinity: none). */
  maxSchedules?: number;
  /** Stop after this many milliseconds of wall-clock (Infinity: none). */
  budgetMs?: number;
  /** Deviations to switch on. */
  inject?: readonly string[];
  /** Sleep-set reduction (default true); false: plain enumeration. */
  reduce?: boolean;
  /** Stop when aborted (Ctrl-C): what was explored is kept. */
  signal?: AbortSignal;
  /** Go on to higher K after a round that found a violation (default false: stop there, each violation found has its minimal K). */
  allRounds?: boolean;
}

export interface RoundStats {
  k: number;
  /** Schedules with exactly k preemptions that ran to the end. */
  explored: number;
  /** Schedules with exactly k preemptions cut by the reduction (equivalent to one explored). */
  pruned: number;
  /** Runs of the scenario this round (a round re-runs the schedules of lower rounds to reach new ones). */
  runs: number;
}

export interface FoundViolation {
  /** invariant and place: what the schedules that show it share */
  signature: string;
  invariant: string;
  message: string;
  /** the smallest number of preemptions of a schedule that shows it */
  minK: number;
  /** schedules (of all rounds explored) that showed it */
  schedules: number;
  /** the first such schedule with minK preemptions: every pick of the blocks, run-length encoded */
  schedule: number[];
  result: ScenarioResult;
}

export type ExploreStatus = 'verified' | 'violation' | 'malformed' | 'unsupported' | 'incomplete';

export interface ExploreResult {
  file: string;
  name: string;
  status: ExploreStatus;
  exitCode: number;
  message?: string;
  bound: number;
  /** The rounds run (the last may be cut short: see stoppedBy). */
  rounds: RoundStats[];
  explored: number;
  pruned: number;
  runs: number;
  /** Distinct outcomes, most frequent first, with how many explored schedules reach each. */
  outcomes: { outcome: string; count: number }[];
  violations: FoundViolation[];
  /** Why the search ended before the bound was exhausted. */
  stoppedBy?: 'max-schedules' | 'budget' | 'interrupted' | 'violation';
  seconds: number;
  scenario?: Scenario;
}

const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

export async function exploreFile(file: string, opts: ExploreOptions): Promise<ExploreResult> {
  const empty = { file, name: file, bound: opts.preemptions, rounds: [], explored: 0, pruned: 0, runs: 0, outcomes: [], violations: [], seconds: 0 };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { ...empty, status: 'malformed', exitCode: 2, message: `${file}: cannot read: ${(e as Error).message}` };
  }
  let sc: Scenario;
  try {
    sc = parseScenario(text, file);
  } catch (e) {
    if (!(e instanceof ScenarioFormatError)) throw e;
    return { ...empty, status: 'malformed', exitCode: 2, message: e.message };
  }
  return exploreScenario(sc, opts);
}

export async function exploreScenario(sc: Scenario, opts: ExploreOptions): Promise<ExploreResult> {
  const t0 = performance.now();
  const reduce = opts.reduce !== false;
  const maxSchedules = opts.maxSchedules ?? Infinity, budgetMs = opts.budgetMs ?? Infinity;
  const vpns = observedPages(sc);
  const outcomes = new Map<string, number>();
  const violations = new Map<string, FoundViolation>();
  const rounds: RoundStats[] = [];
  const base = { file: sc.file, name: sc.name, bound: opts.preemptions, scenario: sc };
  let runs = 0;
  let stoppedBy: ExploreResult['stoppedBy'];
  let lastYield = performance.now();
  const tracker = new AccessTracker();
  tracker.install();
  try {
    for (let k = 0; k <= opts.preemptions && !stoppedBy; k++) {
      const round: RoundStats = { k, explored: 0, pruned: 0, runs: 0 };
      rounds.push(round);
      const nodes: Node[] = [];
      let more = true;
      while (more) {
        if (runs >= maxSchedules) {
          stoppedBy = 'max-schedules';
          break;
        }
        if (performance.now() - t0 > budgetMs) {
          stoppedBy = 'budget';
          break;
        }
        if (performance.now() - lastYield > 50) {
          // let Ctrl-C in (a signal handler runs between turns of the event loop)
          await yieldToLoop();
          lastYield = performance.now();
        }
        if (opts.signal?.aborted) {
          stoppedBy = 'interrupted';
          break;
        }
        const sched = new ExploreScheduler(nodes, k, reduce, tracker);
        let outcome: string | null = null;
        const r = runScenario(sc, {
          inject: opts.inject,
          scheduler: sched,
          onStart: (x) => {
            tracker.attach(x.machine);
            x.reads = [];
            x.writers = new Map();
          },
          onBlock: () => {
            sched.block();
            tracker.recording(true);
          },
          onBlockEnd: () => {
            sched.finishStep();
            tracker.recording(false);
          },
          beforeTeardown: (x) => {
            outcome = outcomeOf(sc, x, vpns);
          },
        });
        sched.finishStep();
        runs++;
        round.runs++;
        if (r.status === 'malformed' || r.status === 'unsupported') {
          return { ...base, status: r.status, exitCode: 2, message: r.message, rounds, explored: 0, pruned: 0, runs, outcomes: [], violations: [], seconds: (performance.now() - t0) / 1000 };
        }
        // a schedule with fewer than k preemptions ran in an earlier round already: counted there
        const fresh = sched.preemptions === k;
        if (sched.pruned) {
          if (fresh) round.pruned++;
        } else if (r.status === 'pass') {
          if (fresh) {
            round.explored++;
            if (outcome !== null) outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
          }
        } else {
          if (fresh) round.explored++;
          const signature = `${r.invariant ?? 'fail'} at step ${r.step ?? '?'}${r.op ? ` (${r.op})` : ''}`;
          const v = violations.get(signature);
          if (v) v.schedules++;
          else violations.set(signature, { signature, invariant: r.invariant ?? 'fail', message: r.message, minK: sched.preemptions, schedules: 1, schedule: r.schedule ?? [], result: r });
        }
        more = backtrack(nodes, k, reduce);
      }
      if (violations.size && !opts.allRounds && !stoppedBy && k < opts.preemptions) stoppedBy = 'violation';
    }
  } finally {
    tracker.uninstall();
  }
  const explored = rounds.reduce((a, r) => a + r.explored, 0), pruned = rounds.reduce((a, r) => a + r.pruned, 0);
  const outs = [...outcomes].map(([outcome, count]) => ({ outcome, count })).sort((a, b) => b.count - a.count || (a.outcome < b.outcome ? -1 : 1));
  const found = [...violations.values()].sort((a, b) => a.minK - b.minK || (a.signature < b.signature ? -1 : 1));
  const status: ExploreStatus = found.length ? 'violation' : stoppedBy && stoppedBy !== 'violation' ? 'incomplete' : 'verified';
  const exitCode = status === 'violation' ? 1 : status === 'verified' ? 0 : 3;
  return { ...base, status, exitCode, rounds, explored, pruned, runs, outcomes: outs, violations: found, ...(stoppedBy ? { stoppedBy } : {}), seconds: (performance.now() - t0) / 1000 };
}
