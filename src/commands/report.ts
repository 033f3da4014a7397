// foliostorm report: (re)write DIR/report.html from a results folder.
import { EXIT_OK } from '../report/exit-codes.js';
import { writeReportHtml } from '../report/html.js';
import { prepareOutputDir } from '../report/disk.js';
import { readSummary } from '../report/folder.js';
import type { Command } from './common.js';

/** Write DIR/report.html from the results folder DIR (checked first: a run summary, and a folder that takes new files). */
function cmdReport(dir: string): number {
  const summary = readSummary(dir); // a missing folder or summary: ResultsInputError, exit 2
  prepareOutputDir(dir, 'report');
  process.stdout.write(`${writeReportHtml(dir, summary)}\n`);
  return EXIT_OK;
}

export const reportCommand: Command = {
  command: 'report <dir>',
  describe: 'write DIR/report.html (plots, violations, replay commands) from a results folder; run writes it too',
  builder: (y) =>
    y.positional('dir', { type: 'string', demandOption: true, describe: 'results folder of one run (results/<run-id>)' }),
  run: (a) => cmdReport(a.dir as string),
};
