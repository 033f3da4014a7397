// foliostorm shrink: minimise a sched failure, keeping its signature.
import { EXIT_INTERRUPTED, EXIT_OK, EXIT_VIOLATIONS } from '../report/exit-codes.js';
import { ArtifactError, loadArtifact } from '../report/artifact.js';
import { writeAtomic } from '../report/results.js';
import { checkOutputFile } from '../report/disk.js';
import type { ShrinkOutcome } from '../shrink/shrink.js';
import { type Command, interruptible, parseDuration, UsageError } from './common.js';
import { runOffThread } from './offthread.js';
import { isScenarioArtifact, reproduceScenario, type ScenarioArtifact } from '../explore/artifact.js';
import { shrinkScenarioArtifact } from '../explore/shrink.js';

/**
 * An explore artifact: cut steps out of its scenario while the explorer, bounded by the artifact's
 * preemptions, still finds a schedule failing with the same invariant (src/explore/shrink.ts).
 * Ctrl-C or the budget ends the search with the smallest scenario found so far, which is written.
 */
async function shrinkScenario(art: ScenarioArtifact, file: string, dest: string, seconds: number, json: boolean): Promise<number> {
  const r = reproduceScenario(art);
  if (!r.reproduced) {
    process.stderr.write(`foliostorm: ${file}: the failure did not recur along its schedule: nothing to shrink (${r.result.message})\n`);
    return EXIT_VIOLATIONS;
  }
  let stopped: AbortSignal | undefined;
  const out = await interruptible('the shrink (the smallest scenario found so far is written)', json, (signal) =>
    shrinkScenarioArtifact(art, dest, {
      budgetMs: seconds * 1000,
      signal: (stopped = signal),
      onProgress: json ? undefined : (s, runs) => process.stderr.write(`[foliostorm shrink] ${s.steps} steps, ${s.preemptions} preemption(s) (${runs} explorations)\n`),
    }));
  if (!out && stopped?.aborted) return EXIT_INTERRUPTED;
  if (!out) {
    process.stderr.write(`foliostorm: ${file}: the explorer finds no schedule failing with ${art.invariant} within ${art.scenario.preemptions} preemption(s): nothing to shrink\n`);
    return EXIT_VIOLATIONS;
  }
  const size = (s: { steps: number; cpus: number; preemptions: number }) => ({ cpus: s.cpus, processes: art.config.processes, ops: 0, steps: s.steps, preemptions: s.preemptions });
  const shrunk = { ...out.artifact, shrunk: { from: file, before: size(out.before), after: size(out.after), runs: out.runs, seconds: out.seconds, finished: out.finished } };
  writeAtomic(dest, JSON.stringify(shrunk, null, 1) + '\n');
  if (json) {
    process.stdout.write(JSON.stringify({ artifact: dest, signature: shrunk.signature, shrunk: shrunk.shrunk }, null, 2) + '\n');
    return EXIT_OK;
  }
  process.stdout.write([
    `shrunk ${art.signature} (an explore artifact) in ${out.seconds} s (${out.runs} explorations${out.finished ? '' : ', stopped before a pass found nothing more to cut'}):`,
    `  cpus         ${String(out.before.cpus).padStart(7)} -> ${out.after.cpus}`,
    `  steps        ${String(out.before.steps).padStart(7)} -> ${out.after.steps}`,
    `  preemptions  ${String(out.before.preemptions).padStart(7)} -> ${out.after.preemptions}`,
    '',
    `wrote ${dest} (its scenario: the artifact's scenario.text); replay: ${shrunk.replay}`,
  ].join('\n') + '\n');
  return EXIT_OK;
}

/** Shrink a sched failure artifact; write the shrunk artifact and print its interleaving. */
async function cmdShrink(file: string, budget: string | number | undefined, out: string | undefined, json: boolean): Promise<number> {
  const seconds = budget !== undefined ? parseDuration(budget, '--budget') : 60;
  if (!(seconds > 0)) throw new UsageError(`--budget: must be more than 0 seconds (got ${budget})`);
  const art = loadArtifact(file);
  const dest = out ?? file.replace(/(\.json)?$/, '.shrunk.json');
  checkOutputFile(dest, out !== undefined ? '--out' : 'shrink: the shrunk artifact'); // before the search, not after it
  if (isScenarioArtifact(art)) return shrinkScenario(art, file, dest, seconds, json);
  // the search is synchronous for up to its budget: on a worker thread, so Ctrl-C stops it at once
  let r: ShrinkOutcome | undefined;
  const ran = await interruptible('the shrink (nothing is written)', json, (signal) =>
    runOffThread([{ kind: 'shrink', art, file, budgetSeconds: seconds, dest, progress: !json }], signal, (x) => {
      if (x.kind === 'artifact-error') throw new ArtifactError(x.message);
      if (x.kind === 'not-reproduced') {
        process.stderr.write(`foliostorm: ${x.message}\n`);
        return;
      }
      if (x.kind !== 'shrink') throw new Error(`shrink: unexpected result ${x.kind}`);
      r = x.outcome;
    }));
  if (!ran) return EXIT_INTERRUPTED;
  if (!r) return EXIT_VIOLATIONS; // the failure did not recur: nothing to shrink
  writeAtomic(dest, JSON.stringify(r.artifact, null, 1) + '\n');
  if (json) {
    process.stdout.write(JSON.stringify({ artifact: dest, signature: art.signature, shrunk: r.record, interleaving: r.interleaving }, null, 2) + '\n');
    return EXIT_OK;
  }
  const { before: b, after: a } = r.record;
  const row = (k: keyof typeof a) => `  ${k.padEnd(12)} ${String(b[k]).padStart(7)} -> ${a[k]}`;
  process.stdout.write([
    `shrunk ${art.signature} in ${r.record.seconds} s (${r.record.runs} runs${r.record.finished ? '' : ', budget spent before the last pass ended'}):`,
    ...(['cpus', 'processes', 'ops', 'steps', 'preemptions'] as const).map(row),
    '',
    ...r.interleaving,
    '',
    `wrote ${dest}; replay: ${r.artifact.replay}`,
  ].join('\n') + '\n');
  return EXIT_OK;
}

export const shrinkCommand: Command = {
  command: 'shrink <artifact>',
  describe: 'minimise a sched failure (fewer CPUs, processes, ops, smaller sizes, fewer preemptions), keeping its signature; write the shrunk artifact and print its interleaving',
  builder: (y) =>
    y
      .positional('artifact', { type: 'string', demandOption: true })
      .option('budget', { type: 'string', describe: 'wall-clock budget for the search: 60 (seconds, the default), 90s, 5m' })
      .option('out', { type: 'string', describe: 'where to write the shrunk artifact (default: ARTIFACT.shrunk.json)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the result as JSON, nothing else' }),
  run: (a) => cmdShrink(a.artifact as string, a.budget as string | undefined, a.out as string | undefined, a.json as boolean),
};
