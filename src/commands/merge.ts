// foliostorm merge: combine results folders (shards) into one.
import { mergeFolders } from '../report/merge.js';
import { ResultsInputError } from '../report/folder.js';
import { checkNewOutputDir } from '../report/disk.js';
import { asUsage, type Command, VERSION } from './common.js';

/** Merge results folders (shards) into --out; exit as a run with the merged results would. */
function cmdMerge(dirs: string[], out: string, json: boolean): number {
  checkNewOutputDir(out, '--out'); // its parent takes new folders, and it is not a file
  const r = asUsage(ResultsInputError, () => mergeFolders(dirs, { out, version: VERSION }));
  for (const w of r.warnings) process.stderr.write(`foliostorm merge: warning: ${w}\n`);
  process.stdout.write((json ? JSON.stringify(r.summary, null, 2) : r.text) + '\n');
  return r.exitCode;
}

export const mergeCommand: Command = {
  command: 'merge <dirs..>',
  describe: 'combine results folders of one config (the shards of a run) into one results folder: counts and histograms add, violations group by signature; exit 0 clean, 1 violations, 3 an input was interrupted, 2 bad input',
  builder: (y) =>
    y
      .positional('dirs', { type: 'string', array: true, demandOption: true, describe: 'results folders (each with summary.json and histograms.json)' })
      .option('out', { type: 'string', demandOption: true, describe: 'the merged results folder to create (must not exist, or be empty)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the merged summary.json, nothing else' }),
  run: (a) => cmdMerge(a.dirs as string[], a.out as string, a.json as boolean),
};
