// foliostorm scenario: scripted scenarios, step by step.
import { EXIT_OK } from '../report/exit-codes.js';
import { formatResult, runScenarioFile } from '../scenario/runner.js';
import { checkDeviations, type Command } from './common.js';

/** Run scripted scenarios: one line per file; exit 2 if any file is malformed or needs an op not modelled yet, else 1 if any failed. */
function cmdScenario(files: string[], inject: string[], json: boolean): number {
  checkDeviations(inject);
  const results = files.map((f) => runScenarioFile(f, { inject }));
  const code = Math.max(EXIT_OK, ...results.map((r) => r.exitCode));
  if (json) process.stdout.write(JSON.stringify({ exitCode: code, inject, results }, null, 2) + '\n');
  else for (const r of results) process.stdout.write(formatResult(r) + '\n');
  return code;
}

export const scenarioCommand: Command = {
  command: 'scenario <files..>',
  describe: 'run scripted scenarios (JSON step lists, e.g. configs/scenarios/*.json); exit 0 all pass, 1 a failure, 2 a malformed file',
  builder: (y) =>
    y
      .positional('files', { type: 'string', array: true, demandOption: true, describe: 'scenario files' })
      .option('inject', { type: 'string', array: true, nargs: 1, describe: 'switch on a named deviation (repeatable; see: bugs)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the results as JSON, nothing else' }),
  run: (a) => cmdScenario(a.files as string[], (a.inject as string[] | undefined) ?? [], a.json as boolean),
};
