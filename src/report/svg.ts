// Inline SVG charts for report.html, generated as text (no script, no dependency, no network): the
// HdrHistogram-style percentile plot, column charts and (stacked) horizontal bar charts. Every text
// they embed goes through escapeXml.
import { escapeXml as esc } from './escape.js';
import type { HgrmRow } from './hgrm.js';

export const PALETTE = ['#1f6fb4', '#e07b1a', '#2a9d4a', '#c0392b', '#8e5bb5', '#7f7f7f'];
const LINE = PALETTE[0];

const f1 = (n: number): string => (Math.round(n * 10) / 10).toString();

/** 1234 -> "1234", 12345 -> "12.3k", 1.5e6 -> "1.50M"; fractions keep up to 3 decimals. */
export function fmtNum(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  if (Number.isInteger(n)) return String(n);
  return String(Math.round(n * 1000) / 1000);
}

/** A 1, 2 or 5 times a power of ten, at least x (x > 0). */
function niceStep(x: number): number {
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

/** Axis top and tick step for values up to max, about `ticks` ticks, integers only when integral. */
function linearAxis(max: number, ticks = 4, integral = true): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 1 };
  let step = niceStep(max / ticks);
  if (integral && step < 1) step = 1;
  return { top: Math.ceil(max / step - 1e-9) * step, step };
}

/** Percentile labels of the log axis: decade k is 1 - 10^-k: 0%, 90%, 99%, 99.9%, ... */
export function decadeLabel(k: number): string {
  if (k === 0) return '0%';
  if (k === 1) return '90%';
  return `99${k > 2 ? `.${'9'.repeat(k - 2)}` : ''}%`;
}

/** ns values are shown in ns, us or ms, whichever keeps the axis short. */
function displayUnit(unit: string, max: number): { unit: string; div: number } {
  if (unit !== 'ns') return { unit, div: 1 };
  if (max >= 1e6) return { unit: 'ms', div: 1e6 };
  if (max >= 1e4) return { unit: 'us', div: 1e3 };
  return { unit, div: 1 };
}

export interface PercentilePlotOptions {
  /** histogram name, also the data-histogram attribute (tests and the browser check look for it) */
  name: string;
  unit: string;
  /** marked on the curve when given */
  marks?: { p50: number; p99: number; max: number };
  width?: number;
  height?: number;
}

/**
 * The HdrHistogram percentile plot: x = 1/(1-percentile) on a log scale (labelled 0%, 90%, 99%,
 * 99.9%, ... up to the decade the samples reach, at least 99%), y = the value at that percentile,
 * linear from 0. The 100% row (the max) is drawn at the right edge.
 */
export function percentilePlot(rows: readonly HgrmRow[], o: PercentilePlotOptions): string {
  const W = o.width ?? 400, H = o.height ?? 240, L = 58, R = 28, T = 28;
  const pw = W - L - R;
  const finite = rows.filter((r) => r.percentile < 1);
  const maxInv = Math.max(1, ...finite.map((r) => 1 / (1 - r.percentile)));
  const decades = Math.min(9, Math.max(2, Math.ceil(Math.log10(maxInv) - 1e-9)));
  // labels such as "99.9999%" need about 50 px: closer than that, every other one goes a line lower
  const staggered = pw / decades < 60;
  const B = staggered ? 52 : 42;
  const ph = H - T - B;
  const xOfP = (p: number): number => L + (pw * (p >= 1 ? decades : Math.min(decades, Math.log10(1 / (1 - p))))) / decades;
  const vmax = Math.max(0, ...rows.map((r) => r.value), o.marks?.max ?? 0);
  const u = displayUnit(o.unit, vmax);
  const ax = linearAxis(vmax / u.div, 4, u.div === 1);
  const yOf = (v: number): number => T + ph - (ph * (v / u.div)) / ax.top;
  const out: string[] = [];
  out.push(`<svg class="plot" data-plot="percentile" data-histogram="${esc(o.name)}" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(`${o.name}: value by percentile`)}">`);
  out.push(`<title>${esc(`${o.name}: ${u.unit} by percentile`)}</title>`);
  out.push(`<text class="title" x="${L}" y="16">${esc(o.name)}</text>`);
  // grid and axes
  for (let k = 0; k <= decades; k++) {
    const x = f1(L + (pw * k) / decades);
    out.push(`<line class="grid" x1="${x}" y1="${T}" x2="${x}" y2="${T + ph}"/>`);
    out.push(`<text class="tick" x="${x}" y="${T + ph + 14 + (staggered && k % 2 ? 11 : 0)}" text-anchor="middle">${decadeLabel(k)}</text>`);
  }
  for (let v = 0; v <= ax.top + 1e-9; v += ax.step) {
    const y = f1(T + ph - (ph * v) / ax.top);
    out.push(`<line class="grid" x1="${L}" y1="${y}" x2="${L + pw}" y2="${y}"/>`);
    out.push(`<text class="tick" x="${L - 5}" y="${y}" dy="0.32em" text-anchor="end">${esc(fmtNum(Math.round(v * 1000) / 1000))}</text>`);
  }
  out.push(`<rect class="frame" x="${L}" y="${T}" width="${pw}" height="${ph}"/>`);
  out.push(`<text class="axis" x="${L + pw / 2}" y="${H - 6}" text-anchor="middle">percentile (log scale of 1/(1-p))</text>`);
  out.push(`<text class="axis" transform="translate(13 ${T + ph / 2}) rotate(-90)" text-anchor="middle">${esc(u.unit)}</text>`);
  if (!rows.length) {
    out.push(`<text class="empty" x="${L + pw / 2}" y="${T + ph / 2}" text-anchor="middle">no samples</text>`);
  } else {
    const d = rows.map((r, i) => `${i ? 'L' : 'M'}${f1(xOfP(r.percentile))} ${f1(yOf(r.value))}`).join('');
    out.push(`<path class="line" d="${d}" fill="none" stroke="${LINE}" stroke-width="2"/>`);
    if (o.marks) {
      const m = o.marks;
      for (const [label, p, v] of [['p50', 0.5, m.p50], ['p99', 0.99, m.p99], ['max', 1, m.max]] as const) {
        out.push(`<circle class="mark" cx="${f1(xOfP(p))}" cy="${f1(yOf(v))}" r="3.5" fill="${LINE}"><title>${esc(`${label} ${fmtNum(v)} ${o.unit}`)}</title></circle>`);
      }
    }
  }
  out.push('</svg>');
  return out.join('');
}

export interface Column {
  label: string;
  value: number;
}

/** Vertical bars with their value on top (a distribution over a few categories, e.g. folio orders). */
export function columnChart(cols: readonly Column[], o: { name: string; title: string; yLabel: string; width?: number; height?: number }): string {
  const W = o.width ?? Math.max(260, 70 + cols.length * 56), H = o.height ?? 240, L = 58, R = 12, T = 28, B = 40;
  const pw = W - L - R, ph = H - T - B;
  const ax = linearAxis(Math.max(0, ...cols.map((c) => c.value)));
  const out: string[] = [];
  out.push(`<svg class="plot" data-plot="columns" data-chart="${esc(o.name)}" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(o.title)}">`);
  out.push(`<title>${esc(o.title)}</title><text class="title" x="${L}" y="16">${esc(o.title)}</text>`);
  for (let v = 0; v <= ax.top + 1e-9; v += ax.step) {
    const y = f1(T + ph - (ph * v) / ax.top);
    out.push(`<line class="grid" x1="${L}" y1="${y}" x2="${L + pw}" y2="${y}"/><text class="tick" x="${L - 5}" y="${y}" dy="0.32em" text-anchor="end">${esc(fmtNum(v))}</text>`);
  }
  out.push(`<text class="axis" transform="translate(13 ${T + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  if (!cols.length) out.push(`<text class="empty" x="${L + pw / 2}" y="${T + ph / 2}" text-anchor="middle">none</text>`);
  const slot = pw / Math.max(1, cols.length);
  cols.forEach((c, i) => {
    const h = (ph * c.value) / ax.top;
    const x = L + i * slot + slot * 0.15;
    out.push(`<rect class="bar" x="${f1(x)}" y="${f1(T + ph - h)}" width="${f1(slot * 0.7)}" height="${f1(h)}" fill="${LINE}"><title>${esc(`${c.label}: ${c.value}`)}</title></rect>`);
    out.push(`<text class="value" x="${f1(x + slot * 0.35)}" y="${f1(T + ph - h - 4)}" text-anchor="middle">${esc(fmtNum(c.value))}</text>`);
    out.push(`<text class="tick" x="${f1(x + slot * 0.35)}" y="${T + ph + 14}" text-anchor="middle">${esc(c.label)}</text>`);
  });
  out.push(`<line class="axisline" x1="${L}" y1="${T + ph}" x2="${L + pw}" y2="${T + ph}"/>`);
  out.push('</svg>');
  return out.join('');
}

export interface BarRow {
  label: string;
  /** one value per series (stacked left to right) */
  parts: number[];
  /** shown after the bar instead of the total */
  note?: string;
}

/**
 * Horizontal bars, one per row; with several series they stack (parts that add up to the row's
 * total) or, with grouped, stand one under the other (counts that do not add up). A legend names
 * the series.
 */
export function barChart(rows: readonly BarRow[], o: { name: string; title: string; series: readonly string[]; grouped?: boolean; width?: number }): string {
  const labelW = Math.min(260, 12 + 6.6 * Math.max(4, ...rows.map((r) => r.label.length)));
  const sum = (r: BarRow): number => r.parts.reduce((a, b) => a + b, 0);
  const noteOf = (r: BarRow): string => r.note ?? (o.grouped ? r.parts.map(fmtNum).join(' / ') : fmtNum(sum(r)));
  const R = 14 + 6.6 * Math.max(4, ...rows.map((r) => noteOf(r).length));
  const W = o.width ?? Math.max(560, labelW + R + 200), T = o.series.length > 1 ? 46 : 28, rowH = 20;
  const H = T + Math.max(1, rows.length) * rowH + 10;
  const L = labelW, pw = W - L - R;
  const max = Math.max(0, ...rows.map((r) => (o.grouped ? Math.max(0, ...r.parts) : sum(r))));
  const n = o.grouped ? Math.max(1, o.series.length) : 1;
  const out: string[] = [];
  out.push(`<svg class="plot" data-plot="bars" data-chart="${esc(o.name)}" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(o.title)}">`);
  out.push(`<title>${esc(o.title)}</title><text class="title" x="4" y="16">${esc(o.title)}</text>`);
  if (o.series.length > 1) {
    let x = 4;
    o.series.forEach((s, i) => {
      out.push(`<rect x="${x}" y="25" width="10" height="10" fill="${PALETTE[i % PALETTE.length]}"/><text class="tick" x="${x + 14}" y="34">${esc(s)}</text>`);
      x += 24 + 6.6 * s.length;
    });
  }
  if (!rows.length) out.push(`<text class="empty" x="${L}" y="${T + 14}">none</text>`);
  rows.forEach((r, i) => {
    const y = T + i * rowH;
    out.push(`<text class="tick" x="${L - 6}" y="${y + rowH / 2}" dy="0.32em" text-anchor="end">${esc(r.label)}</text>`);
    let x = L, end = L;
    r.parts.forEach((v, k) => {
      const w = max ? (pw * v) / max : 0;
      const bh = (rowH - 6) / n, by = y + 3 + (o.grouped ? k * bh : 0);
      if (v > 0) out.push(`<rect class="bar" x="${f1(x)}" y="${f1(by)}" width="${f1(Math.max(w, 1))}" height="${f1(bh)}" fill="${PALETTE[k % PALETTE.length]}"><title>${esc(`${r.label}: ${o.series[k] ?? ''} ${v}`)}</title></rect>`);
      end = Math.max(end, x + w);
      if (!o.grouped) x += w;
    });
    out.push(`<text class="value" x="${f1(end + 5)}" y="${y + rowH / 2}" dy="0.32em">${esc(noteOf(r))}</text>`);
  });
  out.push(`<line class="axisline" x1="${L}" y1="${T}" x2="${L}" y2="${T + Math.max(1, rows.length) * rowH}"/>`);
  out.push('</svg>');
  return out.join('');
}
