// The long synchronous work of repro, shrink and scenario, run on a worker thread (workers/
// command-task.ts) so that the main thread stays free for signals (issue #18): a signal handler
// runs only when the main thread's event loop gets a turn, and a replay, a shrink search (up to its
// budget, a minute by default) or a scenario file is one synchronous run. Ctrl-C or SIGTERM aborts
// the task: its thread is terminated at once, nothing is written, exit 3.
//
// What crosses the thread boundary is plain data: the artifact in, the text to print (or the shrunk
// artifact) out; an error the command reports as bad input or as "did not recur" comes back tagged,
// not thrown (a thrown error loses its class on the way).
import { ArtifactError, type Artifact } from '../report/artifact.js';
import { reproduce } from '../repro/repro.js';
import { renderRepro } from '../repro/render.js';
import { NotReproduced, type ShrinkOutcome, shrinkArtifact } from '../shrink/shrink.js';
import { runScenarioFile, type ScenarioResult } from '../scenario/runner.js';
import { withPool } from '../engine/pool.js';

export type CommandTask =
  | { kind: 'repro'; art: Artifact; file: string; attempts: number; json: boolean }
  | { kind: 'shrink'; art: Artifact; file: string; budgetSeconds: number; dest: string; progress: boolean }
  | { kind: 'scenario'; file: string; inject: string[] };

export type CommandTaskResult =
  | { kind: 'repro'; stdout: string; reproduced: boolean }
  | { kind: 'shrink'; outcome: ShrinkOutcome }
  | { kind: 'scenario'; result: ScenarioResult }
  | { kind: 'artifact-error'; message: string }
  | { kind: 'not-reproduced'; message: string };

/** On the worker thread: do the task. */
export function runCommandTask(t: CommandTask): CommandTaskResult {
  try {
    switch (t.kind) {
      case 'repro':
        return { kind: 'repro', ...reproText(t.art, t.file, t.attempts, t.json) };
      case 'shrink':
        return { kind: 'shrink', outcome: shrinkArtifact(t.art, t.file, { budgetSeconds: t.budgetSeconds, out: t.dest, progress: t.progress ? (l) => process.stderr.write(`[shrink] ${l}\n`) : undefined }) };
      case 'scenario':
        return { kind: 'scenario', result: runScenarioFile(t.file, { inject: t.inject }) };
    }
  } catch (e) {
    if (e instanceof ArtifactError) return { kind: 'artifact-error', message: e.message };
    if (e instanceof NotReproduced) return { kind: 'not-reproduced', message: e.message };
    throw e;
  }
}

/** repro of a sched or threads artifact: what it prints (text or JSON) and whether the signature recurred. */
function reproText(art: Artifact, file: string, attempts: number, json: boolean): { stdout: string; reproduced: boolean } {
  const res = reproduce(art, { attempts });
  const last = res.runs[res.runs.length - 1];
  if (!json) return { stdout: renderRepro(art, res) + '\n', reproduced: res.reproduced };
  const runs = res.runs.map((r) => ({ attempt: r.attempt, reproduced: !!r.hit, violations: r.result.violations.map((v) => v.signature), traceHash: r.result.traceHash, scheduler: r.result.scheduler }));
  return {
    stdout: JSON.stringify({ artifact: file, signature: art.signature, mode: res.mode, reproduced: res.reproduced, attempt: res.reproduced ? last.attempt : undefined,
      violations: last.result.violations.map((v) => v.signature), traceHash: last.result.traceHash, scheduler: last.result.scheduler, runs, events: last.hit?.events }, null, 2) + '\n',
    reproduced: res.reproduced,
  };
}

const TASK = new URL('../../workers/command-task.js', import.meta.url);

/**
 * On the main thread: run the tasks one after another on one worker thread, handing each result to
 * onResult as it comes. Resolves true when all ran, false when signal stopped them (the running
 * one's thread terminated, the rest never started).
 */
export async function runOffThread(tasks: readonly CommandTask[], signal: AbortSignal, onResult: (r: CommandTaskResult, i: number) => void): Promise<boolean> {
  if (signal.aborted) return false;
  return withPool({ filename: TASK, threads: 1 }, async (pool) => {
    for (const [i, t] of tasks.entries()) {
      if (signal.aborted) return false;
      let r: CommandTaskResult;
      try {
        r = await pool.run<CommandTaskResult>(t, { signal });
      } catch (e) {
        if (signal.aborted) return false;
        throw e;
      }
      onResult(r, i);
    }
    return true;
  });
}
