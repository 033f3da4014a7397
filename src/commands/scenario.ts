// foliostorm scenario: scripted scenarios, step by step.
import { basename } from 'node:path';
import { EXIT_INTERRUPTED, EXIT_OK } from '../report/exit-codes.js';
import { formatResult, type ScenarioResult } from '../scenario/runner.js';
import { checkDeviations, type Command, interruptible } from './common.js';
import { runOffThread } from './offthread.js';

/**
 * Run scripted scenarios: one line per file; exit 2 if any file is malformed or needs an op not
 * modelled yet, else 1 if any failed. The files run on a worker thread, one after another (a file
 * is one synchronous run); Ctrl-C stops them: the files that ran are printed, exit 3.
 */
async function cmdScenario(files: string[], inject: string[], json: boolean, tap: boolean): Promise<number> {
  checkDeviations(inject);
  const results: ScenarioResult[] = [];
  if (tap) process.stdout.write(`TAP version 13\n1..${files.length}\n`);
  const all = await interruptible('the scenarios (the files that ran are printed)', json || tap, (signal) =>
    runOffThread(files.map((file) => ({ kind: 'scenario' as const, file, inject })), signal, (r) => {
      if (r.kind !== 'scenario') throw new Error(`scenario: unexpected result ${r.kind}`);
      results.push(r.result);
      if (tap) process.stdout.write(tapLines(r.result, results.length).join('\n') + '\n');
      else if (!json) process.stdout.write(formatResult(r.result) + '\n');
    }));
  const code = all ? Math.max(EXIT_OK, ...results.map((r) => r.exitCode)) : EXIT_INTERRUPTED;
  if (json) process.stdout.write(JSON.stringify({ exitCode: code, inject, results, ...(all ? {} : { interrupted: true, notRun: files.slice(results.length) }) }, null, 2) + '\n');
  return code;
}

/** One scenario as KTAP, the kernel selftests' output: `ok N name` or `not ok N name` and `# ` lines. */
export function tapLines(r: ScenarioResult, n: number): string[] {
  const name = basename(r.file).replace(/\.json$/, '');
  if (r.status === 'pass') return [`ok ${n} ${name}`];
  return [`not ok ${n} ${name}`, ...r.message.split('\n').map((l) => `# ${l}`)];
}

export const scenarioCommand: Command = {
  command: 'scenario <files..>',
  describe: 'run scripted scenarios (JSON step lists, e.g. configs/scenarios/*.json); exit 0 all pass, 1 a failure, 2 a malformed file',
  builder: (y) =>
    y
      .positional('files', { type: 'string', array: true, demandOption: true, describe: 'scenario files' })
      .option('inject', { type: 'string', array: true, nargs: 1, describe: 'switch on a named deviation (repeatable; see: bugs)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the results as JSON, nothing else' })
      .option('tap', { type: 'boolean', default: false, describe: 'print KTAP (TAP version 13), as kernel selftests do' }),
  run: (a) => cmdScenario(a.files as string[], (a.inject as string[] | undefined) ?? [], a.json as boolean, a.tap as boolean),
};
