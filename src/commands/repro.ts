// foliostorm repro: re-run a failure artifact; exit 0 if the same signature recurs.
import { EXIT_OK, EXIT_VIOLATIONS } from '../report/exit-codes.js';
import { loadArtifact } from '../report/artifact.js';
import { reproduce } from '../repro/repro.js';
import { isWorkerFault, renderWorkerRepro, reproduceWorkerFault } from '../repro/repro-worker.js';
import { renderRepro } from '../repro/render.js';
import { type Command, UsageError } from './common.js';

async function cmdRepro(file: string, json: boolean, attempts: number): Promise<number> {
  if (!Number.isInteger(attempts) || attempts < 1) throw new UsageError(`--attempts: must be an integer >= 1 (got ${attempts})`);
  const art = loadArtifact(file);
  if (isWorkerFault(art)) {
    // a worker that hung or died: its seed again, in a watched worker (never in this thread)
    const w = await reproduceWorkerFault(art);
    if (json) process.stdout.write(JSON.stringify({ artifact: file, signature: art.signature, mode: 'worker', reproduced: w.reproduced, violations: w.result.violations.map((v) => v.signature), details: w.result.violations.find((v) => v.signature === art.signature)?.details }, null, 2) + '\n');
    else process.stdout.write(renderWorkerRepro(art, file, w) + '\n');
    return w.reproduced ? EXIT_OK : EXIT_VIOLATIONS;
  }
  const res = reproduce(art, { attempts });
  const last = res.runs[res.runs.length - 1];
  if (json) {
    const runs = res.runs.map((r) => ({ attempt: r.attempt, reproduced: !!r.hit, violations: r.result.violations.map((v) => v.signature), traceHash: r.result.traceHash, scheduler: r.result.scheduler }));
    process.stdout.write(JSON.stringify({ artifact: file, signature: art.signature, mode: res.mode, reproduced: res.reproduced, attempt: res.reproduced ? last.attempt : undefined,
      violations: last.result.violations.map((v) => v.signature), traceHash: last.result.traceHash, scheduler: last.result.scheduler, runs, events: last.hit?.events }, null, 2) + '\n');
  } else process.stdout.write(renderRepro(art, res) + '\n');
  return res.reproduced ? EXIT_OK : EXIT_VIOLATIONS;
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
