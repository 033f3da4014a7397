// What every results folder ends with, written in one place for a run and for a merge: summary.json,
// then from it junit.xml (CI) and report.html (people). The artifacts come first (a run writes
// summary.json before the histograms: on a full disk, the run's record before the detail).
import { REPORT_FILE, renderReportHtml } from './html.js';
import { readHgrms } from './folder.js';
import { JUNIT_FILE, renderJunit } from './junit.js';
import type { ResultsWriter } from './results.js';
import type { Summary } from './summary.js';

/**
 * html false: leave report.html out (a checkpoint during a run; `foliostorm report DIR` makes it);
 * summary false: summary.json was written already.
 */
export function writeSummaryOutputs(w: ResultsWriter, summary: Summary, opts: { html?: boolean; summary?: boolean } = {}): void {
  if (opts.summary !== false) w.json('summary.json', summary);
  w.text(JUNIT_FILE, renderJunit(summary));
  if (opts.html !== false) w.text(REPORT_FILE, renderReportHtml(summary, readHgrms(w.dir)));
}
