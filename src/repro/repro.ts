// Re-running a failure artifact in the sched engine (foliostorm repro). A sched artifact follows
// its recorded schedule (replay scheduler) and explicit programs; a threads artifact runs each CPU's
// recorded ops along the recorded global order (follow scheduler), with up to `attempts` tries that
// differ only where the recording is silent. Deterministic: the same artifact and attempts give
// the same runs, byte for byte.
import type { Artifact } from '../report/artifact.js';
import type { RunResult, ViolationRecord } from '../engine/result.js';
import { runSched } from '../engine/sched.js';
import type { Scheduler } from '../engine/scheduler.js';
import { FollowScheduler, type FollowRecording } from '../engine/schedulers/follow.js';
import { ReplayScheduler } from '../engine/schedulers/replay.js';
import { ObservedScheduler } from '../engine/schedulers/observed.js';
import { EventLog } from '../report/interleaving.js';

export interface ReproRun {
  attempt: number;
  result: RunResult;
  /** the violation with the artifact's signature, if it recurred */
  hit?: ViolationRecord;
  /** artifacts with explicit programs (a shrunk failure): the run's event log, for the interleaving */
  log?: EventLog;
}

export interface ReproResult {
  /** how the artifact was replayed */
  mode: 'schedule' | 'follow' | 'seed';
  reproduced: boolean;
  /** every run made, the last one the one that reproduced (if any) */
  runs: ReproRun[];
}

/** A threads artifact's recording of the global order, or null if it has none (older artifacts). */
export function followRecording(art: Artifact): FollowRecording | null {
  if (art.engine !== 'threads' || !art.programs || !art.opSeqs || !art.opEventNos) return null;
  return { opSeqs: art.opSeqs, opEventNos: art.opEventNos, events: art.events, endSeq: art.step };
}

export function reproduce(art: Artifact, opts: { attempts?: number } = {}): ReproResult {
  const cfg = { ...art.config, engine: 'sched' as const };
  const rec = followRecording(art);
  const attempts = rec ? Math.max(1, opts.attempts ?? 1) : 1;
  const mode = rec ? 'follow' : art.engine === 'sched' && art.schedule ? 'schedule' : 'seed';
  const runs: ReproRun[] = [];
  for (let attempt = 0; attempt < attempts; attempt++) {
    // a sched artifact's recorded schedule is followed step by step (the seed alone would give the
    // same run, but a shrunk artifact's schedule is not the seed's)
    let scheduler: Scheduler | undefined = rec ? new FollowScheduler(rec, art.seed, attempt)
      : mode === 'schedule' ? new ReplayScheduler(art.schedule!, art.seed) : undefined;
    // explicit programs of a sched artifact (a shrunk failure): small enough to log every event
    // and show the interleaving, op by op
    let log: EventLog | undefined;
    if (mode === 'schedule' && art.programs) {
      const obs = new ObservedScheduler(scheduler!);
      log = new EventLog(obs);
      scheduler = obs;
    }
    const result = runSched(cfg, art.seed, { scheduler, programs: art.programs, onEvent: log?.hook, onNote: log?.hook });
    const hit = result.violations.find((v) => v.signature === art.signature);
    runs.push({ attempt, result, hit, log });
    if (hit) break;
  }
  return { mode, reproduced: !!runs[runs.length - 1].hit, runs };
}
