// Reading .hgrm files back: the HdrHistogram percentile distribution text that ResultsWriter writes
// (src/report/histograms.ts hgrm()), for the plots of report.html.

/** One row of a percentile distribution: the value at this percentile and the samples at or below it. */
export interface HgrmRow {
  value: number;
  /** 0..1 */
  percentile: number;
  totalCount: number;
}

export interface Hgrm {
  name: string;
  /** from the "# name, unit: U" line that ResultsWriter puts first, if present */
  unit?: string;
  rows: HgrmRow[];
}

const ROW = /^\s*(\d+(?:\.\d+)?)\s+(\d+(?:\.\d+)?)\s+(\d+)(?:\s+(?:\d+(?:\.\d+)?|Infinity))?\s*$/;

/** The rows of an .hgrm text, in file order; header, blank and "#[Mean ...]" footer lines are skipped. */
export function parseHgrm(name: string, text: string): Hgrm {
  const rows: HgrmRow[] = [];
  let unit: string | undefined;
  for (const line of text.split('\n')) {
    const u = /^#\s.*,\s*unit:\s*(\S+)\s*$/.exec(line);
    if (u) unit = u[1];
    const m = ROW.exec(line);
    if (m) rows.push({ value: Number(m[1]), percentile: Number(m[2]), totalCount: Number(m[3]) });
  }
  return { name, unit, rows };
}
