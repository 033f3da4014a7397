// The hunt's outputs: the table a person reads and hunt.json a machine reads.
import type { CellResult, HuntResult } from './hunt.js';

const cellName = (c: CellResult): string => c.deviation ?? '(control: no deviation)';

/** One row per cell: deviation, scheduler, engine, detected, seeds and seconds to first detection, signature. */
export function renderHuntTable(h: HuntResult): string {
  const rows: string[][] = [['deviation', 'scheduler', 'engine', 'detected', 'seeds', 'seconds', 'signature']];
  for (const c of [...h.cells, ...h.controls]) {
    const control = c.deviation === null;
    rows.push([
      cellName(c),
      c.scheduler,
      c.engine,
      control ? (c.detected ? 'FALSE POSITIVE' : 'clean') : c.detected ? 'yes' : 'no',
      control ? `${c.seedsRun} run` : c.detected ? String(c.seedsToDetection) : `>${c.seedsRun}`,
      control ? String(c.seconds) : c.detected ? String(c.secondsToDetection) : `>${c.seconds}`,
      control ? c.signatures.join(', ') || '-' : (c.violation?.signature ?? '-'),
    ]);
  }
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((x, i) => (i === r.length - 1 ? x : x.padEnd(w[i]))).join('  ').trimEnd();
  const out = [line(rows[0]), line(w.map((n) => '-'.repeat(n))), ...rows.slice(1).map(line)];
  out.push('', ...comparison(h));
  const verdict = h.interrupted
    ? 'INTERRUPTED'
    : h.pass
      ? `PASS: every deviation detected (${h.cells.filter((c) => c.detected).length}/${h.cells.length} cells), controls clean`
      : `FAIL: ${[
          h.undetected.length ? `undetected: ${h.undetected.join(', ')}` : '',
          h.controls.some((c) => c.detected) ? 'a control found violations (false positives)' : '',
          h.controls.length ? '' : 'no control ran',
        ].filter(Boolean).join('; ')}`;
  out.push(verdict);
  return out.join('\n');
}

/** Per scheduler/engine: deviations detected and the median seeds to detection (pct against random, say). */
export function comparison(h: HuntResult): string[] {
  const modes = [...new Set(h.cells.map((c) => `${c.scheduler}/${c.engine}`))];
  return modes.map((m) => {
    const cs = h.cells.filter((c) => `${c.scheduler}/${c.engine}` === m);
    const hit = cs.filter((c) => c.detected).map((c) => c.seedsToDetection!).sort((a, b) => a - b);
    const med = hit.length ? hit[(hit.length - 1) >> 1] : null;
    const sum = hit.reduce((a, b) => a + b, 0);
    return `${m.padEnd(16)} detected ${hit.length}/${cs.length}   seeds to detection: median ${med ?? '-'}, total ${sum}`;
  });
}

/** hunt.json: the table's data, each cell's config and first violation (with its artifact). */
export function huntJson(h: HuntResult, meta: Record<string, unknown>): unknown {
  const cell = (c: CellResult) => ({
    deviation: c.deviation, scheduler: c.scheduler, engine: c.engine, detected: c.detected, seedsRun: c.seedsRun,
    seedsToDetection: c.seedsToDetection, secondsToDetection: c.secondsToDetection, seconds: c.seconds,
    seed: c.violation?.seed ?? null, signature: c.violation?.signature ?? null, signatures: c.signatures,
    artifact: c.violation?.artifact ?? null, interrupted: c.interrupted, config: c.config,
  });
  return {
    tool: 'foliostorm', kind: 'hunt', ...meta, pass: h.pass, interrupted: h.interrupted, undetected: h.undetected,
    comparison: comparison(h), cells: h.cells.map(cell), controls: h.controls.map(cell),
  };
}
