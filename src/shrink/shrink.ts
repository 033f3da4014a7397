// foliostorm shrink: minimise a sched failure under a time budget, keeping its signature. The case
// is {config, each CPU's explicit ops, the schedule}; passes drop CPUs, fold processes, remove ops,
// shrink config sizes and single ops, round after round until a round changes nothing, then cut
// preemptions out of the schedule. Every choice is seeded: the same artifact with a budget large
// enough to finish gives the same result. The budget (wall clock) only stops the search early; the
// best case found so far is kept.
import type { Config } from '../config/config.js';
import { runSched } from '../engine/sched.js';
import { ObservedScheduler } from '../engine/schedulers/observed.js';
import { ReplayScheduler } from '../engine/schedulers/replay.js';
import { followRecording, reproduce } from '../repro/repro.js';
import { type Artifact, ArtifactError, makeArtifact, type ShrinkRecord } from '../report/artifact.js';
import { EventLog, renderInterleaving } from '../report/interleaving.js';
import { type Op, programPrefix } from '../workload/program.js';
import { type Effort, GUIDE_ONLY, OutOfTime, Tester } from './attempt.js';
import { type ShrinkCase, sizeOf } from './case.js';
import { fewerProcesses, smallerConfig } from './config.js';
import { fewerPreemptions } from './preemptions.js';
import { fewerCpus, removeOps, shrinkOps } from './programs.js';

export interface ShrinkOptions {
  /** wall-clock seconds for the search (default 60) */
  budgetSeconds?: number;
  /** the file the shrunk artifact is written to (named in its replay command) */
  out: string;
  /** told of each pass's progress, for a terminal */
  progress?: (line: string) => void;
}

export interface ShrinkOutcome {
  artifact: Artifact;
  interleaving: string[];
  record: ShrinkRecord;
}

/** The artifact's failure did not recur when replayed: there is nothing to shrink. */
export class NotReproduced extends Error {}

/** Share of the budget for the program and config passes; the preemption passes get the rest. */
const MAIN_SHARE = 0.8;
const MAX_ROUNDS = 12;
/** When a round with the guide schedule alone changes nothing: fresh schedulers per candidate. */
const WIDE: Effort = { replay: true, random: 3, pct: 3 };
const FIRST: Effort = { ...GUIDE_ONLY, replay: true };
/** A threads failure: the follow replays tried before giving up (as repro's default). */
const THREADS_ATTEMPTS = 5;

export function shrinkArtifact(art: Artifact, file: string, opts: ShrinkOptions): ShrinkOutcome {
  if (art.engine === 'threads') art = schedFailureOf(art, file);
  if (!art.schedule) throw new ArtifactError(`${file}: field "schedule" is missing: shrink needs the recorded schedule of a sched failure`);
  const t0 = performance.now();
  const budgetMs = (opts.budgetSeconds ?? 60) * 1000;
  const say = opts.progress ?? (() => {});
  const tester = new Tester(art.seed, art.signature, Infinity);
  const first = initialCase(art, tester);
  if (!first) throw new NotReproduced(`${file}: ${art.signature} did not recur when replayed (seed ${art.seed}); nothing to shrink`);
  const before = sizeOf(first);
  say(`start: ${fmt(before)}`);

  let c = first;
  let finished = true;
  const keep = (name: string, next: ShrinkCase): void => {
    if (next !== c) say(`${name.padEnd(16)} ${fmt(sizeOf(next))}`);
    c = next;
  };
  try {
    tester.deadline = t0 + budgetMs * MAIN_SHARE;
    // the first round, on the original case (long programs, where following the guide by op is
    // least exact), also replays it by CPU number
    let effort: Effort = FIRST;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const start = c;
      keep('cpus', tester.track(fewerCpus, c, effort));
      keep('processes', tester.track(fewerProcesses, c, effort));
      keep('ops', tester.track(removeOps, c, effort));
      keep('config', tester.track(smallerConfig, c, effort));
      keep('op sizes', tester.track(shrinkOps, c, effort));
      if (c === start) {
        if (effort === WIDE) break;
        effort = WIDE; // one more round, trying fresh schedules where the guide misses
      } else effort = GUIDE_ONLY;
    }
  } catch (e) {
    if (!(e instanceof OutOfTime)) throw e;
    finished = false;
    keep('(budget spent)', tester.best ?? c);
  }
  try {
    tester.deadline = t0 + budgetMs;
    keep('preemptions', tester.track((t, x) => fewerPreemptions(t, x), c, GUIDE_ONLY));
  } catch (e) {
    if (!(e instanceof OutOfTime)) throw e;
    finished = false;
    keep('(budget spent)', tester.best ?? c);
  }
  const others = tester.hitsByTry.slice(1).reduce((a, n) => a + (n ?? 0), 0);
  say(`${tester.runs} runs; candidates reproduced: ${tester.hitsByTry[0] ?? 0} following the guide, ${others} under other schedulers (preemption passes not counted)`);
  return finish(art, file, opts.out, c, {
    from: file, before, after: sizeOf(c), runs: tester.runs, seconds: Math.round((performance.now() - t0) / 100) / 10, finished,
  });
}

/**
 * A threads failure as a sched one: replayed in the sched engine along its recorded order (repro's
 * follow replay, its attempts); the run that brought the signature back, with the recorded
 * programs and the schedule it took, is the sched failure to shrink.
 */
export function schedFailureOf(art: Artifact, file: string): Artifact {
  if (!followRecording(art)) throw new ArtifactError(`${file}: a threads artifact without its recorded order (programs, opSeqs, opEventNos) cannot be shrunk`);
  const res = reproduce(art, { attempts: THREADS_ATTEMPTS });
  const hit = res.runs[res.runs.length - 1].hit;
  if (!hit) throw new NotReproduced(`${file}: ${art.signature} did not recur when replayed in the sched engine along its recorded order (${res.runs.length} attempts); nothing to shrink`);
  return makeArtifact({ ...art.config, engine: 'sched' }, { ...hit, programs: art.programs }, file);
}

/**
 * The case to shrink: the artifact replayed as `repro` does, with each CPU's ops made explicit (its
 * own lists, or its seeded streams cut after the ops it had started); null if it did not recur.
 */
export function initialCase(art: Artifact, tester: Tester): ShrinkCase | null {
  const cfg: Config = { ...art.config, engine: 'sched' };
  return tester.run(cfg, initialPrograms(art, cfg), new ReplayScheduler(art.schedule ?? [], art.seed));
}

function initialPrograms(art: Artifact, cfg: Config): Op[][] {
  if (art.programs) return art.programs.map((p) => [...p]);
  return Array.from({ length: cfg.cpus }, (_, i) => programPrefix(cfg, art.seed, i, art.opsStarted?.[i] ?? cfg.opsPerCpu));
}

/**
 * The shrunk artifact: replayed once more exactly as `repro` will (the recorded schedule, then a
 * seeded random fallback that is never reached), with an event log for the interleaving view.
 */
function finish(art: Artifact, file: string, out: string, c: ShrinkCase, record: ShrinkRecord): ShrinkOutcome {
  // opsPerCpu only sizes the seeded streams; with explicit programs it just states the longest
  const cfg: Config = { ...c.cfg, opsPerCpu: Math.max(1, ...c.programs.map((p) => p.length)) };
  const obs = new ObservedScheduler(new ReplayScheduler(c.schedule, art.seed));
  const log = new EventLog(obs);
  const r = runSched(cfg, art.seed, { scheduler: obs, programs: c.programs, onEvent: log.hook, onNote: log.hook });
  const v = r.violations.find((x) => x.signature === art.signature);
  if (!v) throw new Error(`shrink: the shrunk case of ${file} did not reproduce on its final replay (a determinism bug)`);
  const interleaving = renderInterleaving(log.events, v, cfg, { programs: c.programs });
  const artifact: Artifact = { ...makeArtifact(cfg, v, out), programs: c.programs, interleaving, shrunk: record };
  return { artifact, interleaving, record };
}

function fmt(s: ReturnType<typeof sizeOf>): string {
  return `${s.cpus} cpus, ${s.processes} processes, ${s.ops} ops, ${s.steps} steps, ${s.preemptions} preemptions`;
}
