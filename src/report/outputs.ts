// What every results folder ends with, written in one place for a run and for a merge: summary.json,
// then from it junit.xml (CI) and report.html (people). The histograms and artifacts come first.
import { writeReportHtml } from './html.js';
import { JUNIT_FILE, renderJunit } from './junit.js';
import type { ResultsWriter } from './results.js';
import type { Summary } from './summary.js';

/** html false: leave report.html out (a checkpoint during a run; `foliostorm report DIR` makes it). */
export function writeSummaryOutputs(w: ResultsWriter, summary: Summary, opts: { html?: boolean } = {}): void {
  w.json('summary.json', summary);
  w.text(JUNIT_FILE, renderJunit(summary));
  if (opts.html !== false) writeReportHtml(w.dir, summary);
}
