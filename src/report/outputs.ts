// What every results folder ends with, written in one place for a run and for a merge: summary.json,
// then from it junit.xml (CI) and report.html (people). The histograms and artifacts come first.
import { writeReportHtml } from './html.js';
import { JUNIT_FILE, renderJunit } from './junit.js';
import type { ResultsWriter } from './results.js';
import type { Summary } from './summary.js';

export function writeSummaryOutputs(w: ResultsWriter, summary: Summary): void {
  w.json('summary.json', summary);
  w.text(JUNIT_FILE, renderJunit(summary));
  writeReportHtml(w.dir, summary);
}
