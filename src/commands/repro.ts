// foliostorm repro: re-run a failure artifact; exit 0 if the same signature recurs.
import { EXIT_INTERRUPTED, EXIT_OK, EXIT_VIOLATIONS } from '../report/exit-codes.js';
import { ArtifactError, loadArtifact } from '../report/artifact.js';
import { isWorkerFault, renderWorkerRepro, reproduceWorkerFault } from '../repro/repro-worker.js';
import { type Command, interruptible, UsageError } from './common.js';
import { runOffThread } from './offthread.js';

async function cmdRepro(file: string, json: boolean, attempts: number): Promise<number> {
  if (!Number.isInteger(attempts) || attempts < 1) throw new UsageError(`--attempts: must be an integer >= 1 (got ${attempts})`);
  const art = loadArtifact(file);
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
