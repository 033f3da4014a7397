// A line chart over categories (x) with a linear or log y axis, and a wrapper that makes one
// self-contained SVG file out of several charts (its own stylesheet, no script, no link), for the
// plots experiments write next to their tables. Same look and escaping as svg.ts.
import { escapeXml as esc } from './escape.js';
import { fmtNum, PALETTE } from './svg.js';

const f1 = (n: number): string => (Math.round(n * 10) / 10).toString();

/** The stylesheet report.html gives its plots, for an SVG file that stands alone. */
export const SVG_STYLE = [
  'svg.plot{background:#fff;font:11px system-ui,sans-serif}',
  '.grid{stroke:#e3e7eb;stroke-width:1}.frame{fill:none;stroke:#9aa5b1}.axisline{stroke:#9aa5b1}.ref{stroke:#5a6570;stroke-dasharray:2 3}',
  '.tick{fill:#3d4852;font:11px system-ui,sans-serif}.axis{fill:#5a6570;font:11px system-ui,sans-serif}',
  '.title{font:600 13px system-ui,sans-serif;fill:#1d232a}.value{fill:#1d232a}.empty{fill:#9aa5b1;font-size:13px}',
  '.heading{font:600 15px system-ui,sans-serif;fill:#1d232a}.note{font:11px system-ui,sans-serif;fill:#5a6570}',
].join('');

export interface LineSeries {
  name: string;
  /** one value per category; null: no point there */
  values: readonly (number | null)[];
  /** index into PALETTE */
  color?: number;
  dashed?: boolean;
  /** markers only, no line (sparse reference points) */
  pointsOnly?: boolean;
}

export interface LineChartOptions {
  name: string;
  title: string;
  yLabel: string;
  /** log10 y axis (every value must be > 0) */
  log?: boolean;
  /** a dotted horizontal reference line at this value (e.g. 1 for ratios) */
  ref?: number;
  width?: number;
  height?: number;
}

/** Log axis ticks: 1, 2 and 5 times the powers of ten in [lo, hi]. */
function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(Number(v.toPrecision(6)));
    }
  }
  return out;
}

/** Lines over categories, with a legend above the plot; points carry a <title> with their value. */
export function lineChart(categories: readonly string[], series: readonly LineSeries[], o: LineChartOptions): string {
  const W = o.width ?? 420, L = 52, R = 12;
  const legendRows = Math.ceil(series.length / 2);
  const T = 26 + legendRows * 14 + 8, B = 40;
  const H = o.height ?? T + 220 + B;
  const pw = W - L - R, ph = H - T - B;
  const vals = series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v) && (!o.log || v > 0)));
  if (o.ref !== undefined) vals.push(o.ref);
  let lo = Math.min(...vals), hi = Math.max(...vals);
  if (!vals.length) (lo = o.log ? 1 : 0), (hi = o.log ? 10 : 1);
  let yOf: (v: number) => number;
  let ticks: number[];
  if (o.log) {
    const a = 10 ** Math.floor(Math.log10(lo) + 1e-9), b = 10 ** Math.ceil(Math.log10(hi) - 1e-9);
    const la = Math.log10(a), lb = Math.log10(b === a ? a * 10 : b);
    yOf = (v) => T + ph - (ph * (Math.log10(v) - la)) / (lb - la);
    ticks = logTicks(a, 10 ** lb);
  } else {
    const top = hi > 0 ? hi * 1.05 : 1, bottom = Math.min(0, lo);
    yOf = (v) => T + ph - (ph * (v - bottom)) / (top - bottom);
    ticks = [0, 0.25, 0.5, 0.75, 1].map((k) => Number((bottom + k * (top - bottom)).toPrecision(3)));
  }
  const slot = pw / Math.max(1, categories.length);
  const xOf = (i: number): number => L + slot * (i + 0.5);
  const out: string[] = [];
  out.push(`<svg class="plot" data-plot="lines" data-chart="${esc(o.name)}" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(o.title)}">`);
  out.push(`<title>${esc(o.title)}</title><text class="title" x="4" y="16">${esc(o.title)}</text>`);
  series.forEach((s, i) => {
    const x = 4 + (i % 2) * (W / 2), y = 26 + Math.floor(i / 2) * 14;
    const c = PALETTE[(s.color ?? i) % PALETTE.length];
    out.push(s.pointsOnly
      ? `<rect x="${x + 5}" y="${y + 2}" width="8" height="8" fill="${c}"/>`
      : `<line x1="${x}" y1="${y + 6}" x2="${x + 18}" y2="${y + 6}" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
    out.push(`<text class="tick" x="${x + 22}" y="${y + 10}">${esc(s.name)}</text>`);
  });
  for (const v of ticks) {
    const y = f1(yOf(v));
    out.push(`<line class="grid" x1="${L}" y1="${y}" x2="${L + pw}" y2="${y}"/><text class="tick" x="${L - 5}" y="${y}" dy="0.32em" text-anchor="end">${esc(fmtNum(v))}</text>`);
  }
  categories.forEach((c, i) => out.push(`<text class="tick" x="${f1(xOf(i))}" y="${T + ph + 14}" text-anchor="middle">${esc(c)}</text>`));
  out.push(`<rect class="frame" x="${L}" y="${T}" width="${pw}" height="${ph}"/>`);
  out.push(`<text class="axis" transform="translate(13 ${T + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  if (o.ref !== undefined) out.push(`<line class="ref" x1="${L}" y1="${f1(yOf(o.ref))}" x2="${L + pw}" y2="${f1(yOf(o.ref))}"/>`);
  series.forEach((s, i) => {
    const c = PALETTE[(s.color ?? i) % PALETTE.length];
    const pts = s.values.map((v, k) => (v !== null && Number.isFinite(v) && (!o.log || v > 0) ? [xOf(k), yOf(v), v] as const : null));
    if (!s.pointsOnly) {
      let d = '', pen = false;
      for (const p of pts) {
        if (!p) {
          pen = false;
          continue;
        }
        d += `${pen ? 'L' : 'M'}${f1(p[0])} ${f1(p[1])}`;
        pen = true;
      }
      if (d) out.push(`<path class="line" d="${d}" fill="none" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
    }
    pts.forEach((p, k) => {
      if (!p) return;
      const tip = `<title>${esc(`${s.name}, ${categories[k]}: ${fmtNum(p[2])}`)}</title>`;
      out.push(s.pointsOnly
        ? `<rect class="mark" x="${f1(p[0] - 4)}" y="${f1(p[1] - 4)}" width="8" height="8" fill="${c}">${tip}</rect>`
        : `<circle class="mark" cx="${f1(p[0])}" cy="${f1(p[1])}" r="3" fill="${c}">${tip}</circle>`);
    });
  });
  out.push('</svg>');
  return out.join('');
}

/**
 * One SVG document (xmlns, its own stylesheet) holding charts side by side, a heading above and
 * note lines below: a file a browser, an <img> or a Markdown viewer shows as it is.
 */
export function standaloneSvg(charts: readonly string[], o: { heading: string; notes?: readonly string[]; gap?: number }): string {
  const gap = o.gap ?? 12;
  const size = (svg: string): { w: number; h: number } => {
    const m = /^<svg[^>]*\swidth="([\d.]+)"[^>]*\sheight="([\d.]+)"/.exec(svg);
    return { w: m ? Number(m[1]) : 400, h: m ? Number(m[2]) : 300 };
  };
  const sizes = charts.map(size);
  const top = 30, notes = o.notes ?? [];
  const W = sizes.reduce((a, s) => a + s.w, 0) + gap * (charts.length + 1);
  const H = top + Math.max(0, ...sizes.map((s) => s.h)) + 10 + notes.length * 15;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`);
  out.push(`<style>${SVG_STYLE}</style><rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text class="heading" x="${gap}" y="20">${esc(o.heading)}</text>`);
  let x = gap;
  charts.forEach((c, i) => {
    out.push(c.replace(/^<svg /, `<svg x="${x}" y="${top}" `));
    x += sizes[i].w + gap;
  });
  const ny = top + Math.max(0, ...sizes.map((s) => s.h)) + 14;
  notes.forEach((n, i) => out.push(`<text class="note" x="${gap}" y="${ny + i * 15}">${esc(n)}</text>`));
  out.push('</svg>');
  return out.join('') + '\n';
}
