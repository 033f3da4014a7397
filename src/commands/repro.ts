// foliostorm repro: re-run a failure artifact; exit 0 if the same signature recurs.
import { EXIT_INTERRUPTED, EXIT_OK, EXIT_VIOLATIONS } from '../report/exit-codes.js';
import { ArtifactError, loadArtifact } from '../report/artifact.js';
import { isWorkerFault, renderWorkerRepro, reproduceWorkerFault } from '../repro/repro-worker.js';
import { type Command, interruptible, UsageError } from './common.js';
import { runOffThread } from './offthread.js';
import { isScenarioArtifact, reproduceScenario, type ScenarioArtifact } from '../explore/artifact.js';

/** An explore artifact: its scenario along its schedule (one short synchronous run). */
function reproScenario(art: ScenarioArtifact, file: string, json: boolean): number {
  let r;
  try {
    r = reproduceScenario(art);
  } catch (e) {
    throw new ArtifactError(`${file}: ${(e as Error).message}`);
  }
  const { reproduced, result, replay } = r;
  if (json) process.stdout.write(JSON.stringify({ artifact: file, signature: art.signature, mode: 'scenario-schedule', reproduced, status: result.status, invariant: result.invariant, message: result.message, replay }, null, 2) + '\n');
  else {
    const inj = art.scenario.inject.length ? ` --inject ${art.scenario.inject.join(' --inject ')}` : '';
    process.stdout.write([
      `replaying ${art.scenario.file}${inj} along its explored schedule (${art.scenario.preemptions} preemption${art.scenario.preemptions === 1 ? '' : 's'})`,
      `  ${result.status === 'pass' ? 'PASS' : 'FAIL'} ${result.message}`,
      reproduced ? `reproduced: ${art.signature}` : `NOT reproduced: expected ${art.invariant} at step ${art.step}`,
    ].join('\n') + '\n');
  }
  return reproduced ? EXIT_OK : EXIT_VIOLATIONS;
}

async function cmdRepro(file: string, json: boolean, attempts: number): Promise<number> {
  if (!Number.isInteger(attempts) || attempts < 1) throw new UsageError(`--attempts: must be an integer >= 1 (got ${attempts})`);
  const art = loadArtifact(file);
  if (isScenarioArtifact(art)) return reproScenario(art, file, json);
  return interruptible('the replay (nothing is written)', json, async (signal) => {
    if (isWorkerFault(art)) {
      // a worker that hung or died: its seed again, in a watched worker (never in this thread)
      let w;
      try {
        w = await reproduceWorkerFault(art, { signal });
      } catch (e) {
        if (signal.aborted) return EXIT_INTERRUPTED;
        throw e;
      }
      if (signal.aborted) return EXIT_INTERRUPTED;
      if (json) process.stdout.write(JSON.stringify({ artifact: file, signature: art.signature, mode: 'worker', reproduced: w.reproduced, violations: w.result.violations.map((v) => v.signature), details: w.result.violations.find((v) => v.signature === art.signature)?.details }, null, 2) + '\n');
      else process.stdout.write(renderWorkerRepro(art, file, w) + '\n');
      return w.reproduced ? EXIT_OK : EXIT_VIOLATIONS;
    }
    // a replay is one synchronous run (attempts of them for a threads artifact): on a worker thread
    let code = EXIT_INTERRUPTED;
    await runOffThread([{ kind: 'repro', art, file, attempts, json }], signal, (r) => {
      if (r.kind === 'artifact-error') throw new ArtifactError(r.message);
      if (r.kind !== 'repro') throw new Error(`repro: unexpected result ${r.kind}`);
      process.stdout.write(r.stdout);
      code = r.reproduced ? EXIT_OK : EXIT_VIOLATIONS;
    });
    return code;
  });
}

export const reproCommand: Command = {
  command: 'repro <artifact>',
  describe: 're-run a failure artifact; exit 0 if the same signature recurs',
  builder: (y) =>
    y
      .positional('artifact', { type: 'string', demandOption: true })
      .option('attempts', { type: 'number', default: 5, describe: 'threads artifacts: at most this many seeded tries (the first follows the recording as it is; the others differ only where it is silent)' })
      .option('json', { type: 'boolean', default: false }),
  run: (a) => cmdRepro(a.artifact as string, a.json as boolean, a.attempts as number),
};
