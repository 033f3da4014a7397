// Shrinking an explorer artifact: cut steps out of its scenario while the explorer, bounded by the
// artifact's preemptions, still finds a schedule that fails with the same invariant. Greedy, one
// step at a time to a fixed point (a step outside the blocks, a step of one CPU's list inside a
// block, a whole list of a block with more than two, a whole block), each candidate explored
// afresh: its failing schedule (and its minimal K, which may drop) is the one the new artifact
// records. Candidates that no longer parse, or fail otherwise (another invariant, a step that can
// no longer run), are rejected.
import { parseScenario, type Scenario, ScenarioFormatError } from '../scenario/format.js';
import { exploreScenario, type FoundViolation } from './explore.js';
import { makeScenarioArtifact, type ScenarioArtifact } from './artifact.js';

type Json = Record<string, unknown>;

export interface ScenarioShrinkSize {
  /** steps in all, those inside concurrent blocks counted one by one (a block itself not counted) */
  steps: number;
  /** CPUs the scenario runs on: the most lists of a concurrent block (1 without blocks) */
  cpus: number;
  preemptions: number;
}

export interface ScenarioShrinkOutcome {
  artifact: ScenarioArtifact;
  before: ScenarioShrinkSize;
  after: ScenarioShrinkSize;
  /** candidates explored */
  runs: number;
  seconds: number;
  /** false: the budget or Ctrl-C ended the search before a pass removed nothing */
  finished: boolean;
}

/** The steps of a scenario document, counted as ScenarioShrinkSize.steps does. */
export function countSteps(steps: readonly unknown[]): number {
  let n = 0;
  for (const s of steps) {
    const st = s as Json;
    if (st.op === 'concurrent' && Array.isArray(st.cpus)) for (const l of st.cpus as unknown[][]) n += l.length;
    else n++;
  }
  return n;
}

/** The CPUs the steps run on: the most lists of any concurrent block, 1 without blocks. */
export function countCpus(steps: readonly unknown[]): number {
  let n = 1;
  for (const s of steps) {
    const st = s as Json;
    if (st.op === 'concurrent' && Array.isArray(st.cpus)) n = Math.max(n, st.cpus.length);
  }
  return n;
}

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

/** Every document one removal smaller than doc, in step order (earliest first). */
export function candidates(doc: Json): Json[] {
  const steps = doc.steps as Json[];
  const out: Json[] = [];
  const without = (f: (s: Json[]) => void): Json => {
    const d = clone(doc);
    f(d.steps as Json[]);
    return d;
  };
  for (let i = 0; i < steps.length; i++) {
    const st = steps[i];
    if (st.op === 'concurrent' && Array.isArray(st.cpus)) {
      const lists = st.cpus as Json[][];
      for (let j = 0; j < lists.length; j++) {
        if (lists.length > 2) out.push(without((s) => (s[i].cpus as Json[][]).splice(j, 1)));
        for (let k = 0; k < lists[j].length; k++) if (lists[j].length > 1) out.push(without((s) => (s[i].cpus as Json[][])[j].splice(k, 1)));
      }
    }
    out.push(without((s) => s.splice(i, 1)));
  }
  return out;
}

export interface ShrinkScenarioOptions {
  budgetMs: number;
  signal?: AbortSignal;
  /** each candidate's exploration is cut at this many schedules (default 2000) */
  maxSchedules?: number;
  onProgress?: (size: ScenarioShrinkSize, runs: number) => void;
}

/**
 * Shrink art (an explorer artifact). Returns null when the artifact's scenario does not parse or
 * no longer fails as recorded at its own bound (nothing to shrink from).
 */
export async function shrinkScenarioArtifact(art: ScenarioArtifact, dest: string, opts: ShrinkScenarioOptions): Promise<ScenarioShrinkOutcome | null> {
  const t0 = performance.now();
  const k = art.scenario.preemptions;
  const inject = art.scenario.inject;
  let runs = 0;
  /**
   * Explore text at the artifact's bound: the violation with its invariant; null when none is
   * found; 'stopped' when the budget or Ctrl-C ended the exploration before its verdict.
   */
  const fails = async (text: string): Promise<{ sc: Scenario; v: FoundViolation } | null | 'stopped'> => {
    let sc: Scenario;
    try {
      sc = parseScenario(text, art.scenario.file);
    } catch (e) {
      if (e instanceof ScenarioFormatError) return null;
      throw e;
    }
    const left = opts.budgetMs - (performance.now() - t0);
    if (left <= 0 || opts.signal?.aborted) return 'stopped';
    runs++;
    // allRounds: a round whose violations are all of another invariant must not end the search
    const r = await exploreScenario(sc, { preemptions: k, inject, budgetMs: left, signal: opts.signal, maxSchedules: opts.maxSchedules ?? 2000, allRounds: true });
    const v = r.violations.find((x) => x.invariant === art.invariant);
    if (v) return { sc, v };
    return r.stoppedBy === 'budget' || r.stoppedBy === 'interrupted' ? 'stopped' : null;
  };
  let doc: Json;
  try {
    doc = JSON.parse(art.scenario.text) as Json;
  } catch {
    return null;
  }
  if (!Array.isArray(doc.steps)) return null;
  let text = art.scenario.text;
  const before: ScenarioShrinkSize = { steps: countSteps(doc.steps as unknown[]), cpus: countCpus(doc.steps as unknown[]), preemptions: k };
  const first = await fails(text);
  if (first === 'stopped') {
    // out of time before the artifact's own scenario was explored again: it stands as it is
    const seconds = Math.round((performance.now() - t0) / 10) / 100;
    return { artifact: { ...art, replay: `npx foliostorm repro ${dest}` }, before, after: before, runs, seconds, finished: false };
  }
  if (!first) return null;
  let best = first;
  let finished = false;
  for (;;) {
    let progress = false;
    for (const cand of candidates(doc)) {
      if (opts.signal?.aborted || performance.now() - t0 >= opts.budgetMs) break;
      const t = JSON.stringify(cand, null, 2) + '\n';
      const got = await fails(t);
      if (!got || got === 'stopped') continue;
      doc = cand;
      text = t;
      best = got;
      progress = true;
      opts.onProgress?.({ steps: countSteps(doc.steps as unknown[]), cpus: countCpus(doc.steps as unknown[]), preemptions: got.v.minK }, runs);
      break; // the candidates of the smaller document, from its first step again
    }
    if (!progress) {
      finished = !opts.signal?.aborted && performance.now() - t0 < opts.budgetMs;
      break;
    }
  }
  const artifact = makeScenarioArtifact(best.sc, text, inject, best.v, dest);
  return { artifact, before, after: { steps: countSteps(doc.steps as unknown[]), cpus: countCpus(doc.steps as unknown[]), preemptions: best.v.minK }, runs, seconds: Math.round((performance.now() - t0) / 10) / 100, finished };
}
