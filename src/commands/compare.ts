// foliostorm compare: regressions between two results folders.
import { EXIT_OK, EXIT_VIOLATIONS } from '../report/exit-codes.js';
import { compareFolders, renderComparison } from '../report/compare.js';
import { ResultsInputError } from '../report/folder.js';
import { asUsage, type Command } from './common.js';

/** Compare two results folders; with --max-regression, exit 1 on a regression. */
function cmdCompare(base: string, cur: string, maxRegression: number | undefined, json: boolean): number {
  const c = asUsage(ResultsInputError, () => compareFolders(base, cur, { maxRegression }));
  process.stdout.write((json ? JSON.stringify(c, null, 2) : renderComparison(c)) + '\n');
  return c.pass ? EXIT_OK : EXIT_VIOLATIONS;
}

export const compareCommand: Command = {
  command: 'compare <base> <new>',
  describe: 'compare two results folders: per histogram count and p50/p99/max, event rates, new signatures; with --max-regression PCT exit 1 when a p99 or a rate worsens by more than PCT% (and beyond sampling noise) or NEW has a deviation-free signature BASE had not',
  builder: (y) =>
    y
      .positional('base', { type: 'string', demandOption: true, describe: 'the baseline results folder' })
      .positional('new', { type: 'string', demandOption: true, describe: 'the results folder to judge' })
      .option('max-regression', { type: 'number', describe: 'percent: exit 1 when any p99 or event rate is worse by more than this (and beyond sampling noise), or a new deviation-free signature appears' })
      .option('json', { type: 'boolean', default: false, describe: 'print the comparison as JSON, nothing else' }),
  run: (a) => cmdCompare(a.base as string, a.new as string, a.maxRegression as number | undefined, a.json as boolean),
};
