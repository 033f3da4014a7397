// The explorer's failure artifact: a sched artifact (src/report/artifact.ts) whose run is a
// scenario, not a workload. It carries the scenario's text (so it replays without the file), the
// deviations switched on, and the schedule of its concurrent blocks (every pick, run-length
// encoded, as ScheduleRecorder writes it); `repro` re-runs the scenario with the replay scheduler
// following that schedule (explore's runs make no choice outside the blocks, so it is the whole run).
import { ARTIFACT_VERSION, type Artifact } from '../report/artifact.js';
import { signatureOf } from '../machine/cpu.js';
import { ReplayScheduler } from '../engine/schedulers/replay.js';
import { parseScenario, ScenarioFormatError } from '../scenario/format.js';
import { runScenario, type ScenarioResult } from '../scenario/runner.js';
import type { FoundViolation } from './explore.js';
import type { Scenario } from '../scenario/format.js';

/** What a scenario artifact adds to an Artifact. */
export interface ScenarioRecord {
  file: string;
  text: string;
  inject: string[];
  /** the preemptions of the recorded schedule (its violation's minimal K) */
  preemptions: number;
}

export type ScenarioArtifact = Artifact & { scenario: ScenarioRecord };

export function isScenarioArtifact(a: Artifact): a is ScenarioArtifact {
  const s = (a as Partial<ScenarioArtifact>).scenario;
  return typeof s === 'object' && s !== null && typeof s.text === 'string' && Array.isArray(s.inject);
}

export function makeScenarioArtifact(sc: Scenario, text: string, inject: readonly string[], v: FoundViolation, dest: string): ScenarioArtifact {
  const inj = [...new Set([...sc.config.inject, ...inject])];
  const r = v.result;
  return {
    version: ARTIFACT_VERSION, tool: 'foliostorm', engine: 'sched', seed: sc.config.seed, config: { ...sc.config, inject: inj },
    invariant: v.invariant, path: 'explore', signature: signatureOf(v.invariant, 'explore', inj), details: { ...(r.details ?? {}), message: r.message, step: r.step, op: r.op },
    cpu: typeof r.details?.cpu === 'number' ? r.details.cpu : -1, step: r.step ?? -1, schedule: v.schedule, events: [],
    replay: `npx foliostorm repro ${dest}`,
    scenario: { file: sc.file, text, inject: [...inject], preemptions: v.minK },
  };
}

/** Re-run an explorer artifact's scenario along its schedule; reproduced when it fails with the same invariant at the same step. */
export function reproduceScenario(art: ScenarioArtifact): { reproduced: boolean; result: ScenarioResult; replay: object | undefined } {
  let sc: Scenario;
  try {
    sc = parseScenario(art.scenario.text, art.scenario.file);
  } catch (e) {
    if (e instanceof ScenarioFormatError) throw new Error(`the artifact's scenario does not parse: ${e.message}`);
    throw e;
  }
  const sched = new ReplayScheduler(art.schedule ?? [], art.seed);
  const result = runScenario(sc, { inject: art.scenario.inject, scheduler: sched });
  const reproduced = result.status === 'fail' && result.invariant === art.invariant && (art.step < 0 || result.step === art.step);
  return { reproduced, result, replay: sched.outcome() };
}
