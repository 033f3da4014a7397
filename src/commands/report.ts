// foliostorm report: (re)write DIR/report.html from a results folder.
import { EXIT_OK } from '../report/exit-codes.js';
import { writeReportHtml } from '../report/html.js';
import type { Command } from './common.js';

/** Write DIR/report.html from the results folder DIR. */
function cmdReport(dir: string): number {
  process.stdout.write(`${writeReportHtml(dir)}\n`);
  return EXIT_OK;
}

export const reportCommand: Command = {
  command: 'report <dir>',
  describe: 'write DIR/report.html (plots, violations, replay commands) from a results folder; run writes it too',
  builder: (y) =>
    y.positional('dir', { type: 'string', demandOption: true, describe: 'results folder of one run (results/<run-id>)' }),
  run: (a) => cmdReport(a.dir as string),
};
