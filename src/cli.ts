#!/usr/bin/env node
// The foliostorm command line: wires the commands (src/commands/, one file each) into yargs and
// turns errors into exit codes (2: bad input or output path, named; 3: a failed write or an
// internal error, one line).
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ConfigError } from './config/config.js';
import { EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE } from './report/exit-codes.js';
import { ArtifactError } from './report/artifact.js';
import { ResultsInputError } from './report/folder.js';
import { OutputPathError, WriteError } from './report/disk.js';
import { type Command, interruptibleRunning, UsageError, VERSION } from './commands/common.js';
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
import { conformCommand } from './commands/conform.js';
import { exploreCommand } from './commands/explore.js';

export { DEFAULT_CONFIG, parseDuration } from './commands/common.js';
export { EXPERIMENTS } from './commands/experiment.js';

const COMMANDS: readonly Command[] = [runCommand, huntCommand, bugsCommand, reproCommand, shrinkCommand, scenarioCommand, mergeCommand, compareCommand, experimentCommand, reportCommand, conformCommand, exploreCommand];

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
    .demandCommand(1, 'name a command: run, hunt, bugs, repro, shrink, scenario, conform, explore, report, merge, compare or experiment')
    .strict()
    .fail((msg, err) => {
      throw err ?? new UsageError(msg);
    })
    .option('verbose', { type: 'boolean', global: true, describe: 'on an internal error, print its stack (as FOLIOSTORM_DEBUG=1 does)' })
    .help()
    .version(VERSION);
  await y.parseAsync();
  return code;
}

/** --verbose anywhere on the command line, or FOLIOSTORM_DEBUG=1: stacks and debug lines on stderr. */
export function verboseWanted(argv: readonly string[]): boolean {
  return argv.includes('--verbose') || process.env.FOLIOSTORM_DEBUG === '1';
}

/**
 * What an error ends the process with: bad input is 2 and its message; anything else is an
 * internal error, 3, in one line (the stack too when verbose). Never 1, which means "violations".
 */
export function failureOf(e: unknown, verbose: boolean): { code: number; text: string } {
  if (e instanceof ConfigError || e instanceof UsageError || e instanceof ArtifactError || e instanceof ResultsInputError || e instanceof OutputPathError) return { code: EXIT_USAGE, text: `foliostorm: ${e.message}\n` };
  // a write that failed mid-way (a full disk): the file and the errno, no stack
  if (e instanceof WriteError) return { code: EXIT_INTERRUPTED, text: `foliostorm: ${e.message}\n` };
  const err = e instanceof Error ? e : new Error(String(e));
  const line = err.message.split('\n')[0] || err.name;
  return { code: EXIT_INTERRUPTED, text: verbose ? `foliostorm: internal error: ${err.stack ?? line}\n` : `foliostorm: internal error: ${line} (the stack: --verbose or FOLIOSTORM_DEBUG=1)\n` };
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === (await import('node:fs')).realpathSync(process.argv[1]);
if (isMain) {
  const args = hideBin(process.argv);
  const verbose = verboseWanted(args);
  if (verbose) process.env.FOLIOSTORM_DEBUG = '1'; // worker threads read it too
  const fail = (e: unknown): void => {
    const f = failureOf(e, verbose);
    process.stderr.write(f.text);
    process.exit(f.code);
  };
  // whatever escapes (an error event with no listener, a rejection nobody awaited) is an internal
  // error: exit 3 with one line, not Node's exit 1 and a stack (1 means "violations found")
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  // Ctrl-C and SIGTERM end every command with 3: a long one (run, hunt, experiment, repro, shrink,
  // scenario) stops through interruptible(), writing what it has, under a watchdog; any other
  // (short) command, or one still checking its input, exits at once
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (interruptibleRunning()) return;
      process.stderr.write(`\nfoliostorm: ${sig}: stopped\n`);
      process.exit(EXIT_INTERRUPTED);
    });
  }
  // exit only once stdout has drained: a large --json summary on a pipe is written asynchronously
  const exit = (code: number): void => {
    process.stdout.write('', () => process.exit(code));
  };
  main(args).then((code) => exit(code), fail);
}
