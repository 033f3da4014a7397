#!/usr/bin/env node
// The foliostorm command line: wires the commands (src/commands/, one file each) into yargs and
// turns errors into exit codes (2: bad input, named; 3: internal error).
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ConfigError } from './config/config.js';
import { EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE } from './report/exit-codes.js';
import { ArtifactError } from './report/artifact.js';
import { ResultsInputError } from './report/folder.js';
import { type Command, UsageError, VERSION } from './commands/common.js';
import { runCommand } from './commands/run.js';
import { huntCommand } from './commands/hunt.js';
import { bugsCommand } from './commands/bugs.js';
import { reproCommand } from './commands/repro.js';
import { shrinkCommand } from './commands/shrink.js';
import { scenarioCommand } from './commands/scenario.js';
import { mergeCommand } from './commands/merge.js';
import { compareCommand } from './commands/compare.js';
import { experimentCommand } from './commands/experiment.js';
import { reportCommand } from './commands/report.js';

export { DEFAULT_CONFIG, parseDuration } from './commands/common.js';
export { EXPERIMENTS } from './commands/experiment.js';

const COMMANDS: readonly Command[] = [runCommand, huntCommand, bugsCommand, reproCommand, shrinkCommand, scenarioCommand, mergeCommand, compareCommand, experimentCommand, reportCommand];

export async function main(argv: string[]): Promise<number> {
  let code = EXIT_OK;
  let y = yargs(argv)
    .scriptName('foliostorm')
    .usage('$0 <command> [options]\n\nStress tester for the Linux kernel large-folio page-table paths.');
  for (const c of COMMANDS) {
    y = y.command(c.command, c.describe, c.builder, async (a) => {
      code = await c.run(a as Record<string, unknown>, argv);
    });
  }
  y = y
    .demandCommand(1, 'name a command: run, hunt, bugs, repro, shrink, scenario, report, merge, compare or experiment')
    .strict()
    .fail((msg, err) => {
      throw err ?? new UsageError(msg);
    })
    .help()
    .version(VERSION);
  await y.parseAsync();
  return code;
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === (await import('node:fs')).realpathSync(process.argv[1]);
if (isMain) {
  // exit only once stdout has drained: a large --json summary on a pipe is written asynchronously
  const exit = (code: number): void => {
    process.stdout.write('', () => process.exit(code));
  };
  main(hideBin(process.argv)).then(
    (code) => exit(code),
    (e) => {
      if (e instanceof ConfigError || e instanceof UsageError || e instanceof ArtifactError || e instanceof ResultsInputError) {
        process.stderr.write(`foliostorm: ${e.message}\n`);
        process.exit(EXIT_USAGE);
      }
      process.stderr.write(`foliostorm: internal error: ${(e as Error).stack ?? e}\n`);
      process.exit(EXIT_INTERRUPTED);
    },
  );
}
