// foliostorm compare BASE NEW: two results folders side by side, for a nightly regression gate.
// Per histogram (operations, fault, locks) count and p50/p99/max in both with the change; event
// rates (refaults per fault, recheck-changed per fault, TLB invalidations and contpte unfolds per
// operation, ...); the signatures NEW found that BASE did not. With a threshold, the regressions:
// a p99 or a rate worse by more than it, or a new deviation-free signature (a real finding: no
// deviation was switched on to cause it). A p99 or a rate only counts as worse when the change
// is also beyond sampling noise (the runs' seeds are samples: two runs of one config on other
// seeds, or of different lengths, differ by chance). Seeds are the independent samples, so the
// noise is measured between the runs' seed groups (batch means: judgeP99, rateRows); a folder
// without seed groups, or a row with fewer than MIN_GROUPS usable groups, falls back to taking
// every operation or event as an independent sample (p99Interval, rateZ). Reads summary.json, and
// histograms.json for the p99 intervals and the seed groups.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { HistSet, type HistSummary, type Unit } from '../machine/histograms.js';
import { readHistograms, readSummary, ResultsInputError, unitOf } from './folder.js';
import { HISTOGRAMS_FILE } from './results.js';
import { countSections, type Counts, type OpCost, opsOf, type Summary } from './summary.js';
import { decodeSeedGroups, type GroupTotals } from './seed-groups.js';
import { MIN_GROUP_SAMPLES, MIN_GROUPS, p99BatchSe, rateBatchSe } from './batch-means.js';
import { configDifferences, type FieldDifference, shownValue } from './config-diff.js';

export interface RunInfo {
  dir: string;
  name: string;
  engine: Summary['engine'];
  seeds: number;
  interrupted: boolean;
}

/** A change in percent; null: BASE was 0 and NEW is not (no ratio; any growth from zero). */
export type Change = number | null;

/** Which noise test judged a row, and its numbers. */
export interface NoiseTest {
  /**
   * seed-groups: batch means over the runs' seed groups; order-statistics (a p99) or poisson (a
   * rate): every operation or event taken as an independent sample, because a folder has no seed
   * groups or a run has fewer than MIN_GROUPS usable ones for this row
   */
  test: 'seed-groups' | 'order-statistics' | 'poisson';
  /** usable seed groups per run (a p99: pools of >= MIN_GROUP_SAMPLES samples; a rate: groups with a denominator); absent without seed groups */
  groups?: { base: number; new: number };
  /** seed-groups: each run's standard error, the groups' spread (never below the independent-samples error) */
  se?: { base: number; new: number };
  /** (new - base) / sqrt(se_base^2 + se_new^2); a rate's also under poisson (rateZ); Infinity (null in JSON) when neither run varies at all and they differ */
  z?: number;
}

export interface LatencyRow {
  name: string;
  base?: HistSummary;
  new?: HistSummary;
  change?: { count: Change; p50: Change; p99: Change; max: Change };
  /**
   * The values between which each run's p99 lies with 99.7% confidence (order statistics: the
   * rank of the 99th percentile of n samples is 0.99n +- 3 sqrt(0.0099 n)); absent when a folder
   * has no histograms.json.
   */
  p99Interval?: { base: [number, number]; new: [number, number] };
  /** how the p99 change was judged against noise (absent: a folder has no histograms.json, judged on p99 alone) */
  noise?: NoiseTest;
  /** the change is beyond noise by noise.test: z > NOISE_Z, or NEW's p99 interval wholly above BASE's (undefined: no histograms.json) */
  significant?: boolean;
  /** p99 worse by more than the threshold and beyond noise (only when both runs have the histogram) */
  regression: boolean;
}

export interface RateRow {
  /** "refaults/fault", "tlbi/op fork" */
  name: string;
  /** what it counts, for the reader */
  what: string;
  /** undefined: the run has none of the denominator (no faults, no such operation) */
  base?: number;
  new?: number;
  change?: Change;
  /** (new - base) in standard errors: noise.z */
  z?: number;
  noise?: NoiseTest;
  regression: boolean;
}

export interface NewSignature {
  signature: string;
  count: number;
  smallestSeed: number;
  artifact?: string;
  /** no deviation switched on: a real finding (a signature "inv@path[dev+...]" names the deviations that cause it) */
  deviationFree: boolean;
}

export interface Comparison {
  base: RunInfo;
  new: RunInfo;
  unit: Unit;
  /** config fields that differ (what changed between the runs), seeds and duration included */
  config: FieldDifference[];
  latency: LatencyRow[];
  rates: RateRow[];
  newSignatures: NewSignature[];
  /** signatures BASE found and NEW did not */
  goneSignatures: string[];
  /** --max-regression PCT, if given */
  maxRegression?: number;
  /** both folders had histograms.json, so p99s were tested against sampling noise (rates always are) */
  noiseTest: boolean;
  /** both folders had seed groups, so the noise was measured between seed groups (where a row had MIN_GROUPS usable ones in each) */
  seedGroups: boolean;
  /** what worsened beyond maxRegression (empty without it) */
  regressions: string[];
  pass: boolean;
}

/** (new - base) / base in percent, one decimal; 0 when equal; null from a base of 0. */
export function change(base: number, now: number): Change {
  if (base === now) return 0;
  if (base === 0) return null;
  return Math.round(((now - base) / base) * 1000) / 10;
}

/** Worse (larger) by more than pct percent; from zero, any growth. */
function worse(base: number, now: number, pct: number): boolean {
  const c = change(base, now);
  return c === null ? now > base : c > pct;
}

/** z of a change the gate believes: about 1 in 740 for one row by chance (one-sided, normal). */
export const NOISE_Z = 3;

/** The percentiles bounding the 99th percentile of n samples at NOISE_Z (order statistics, normal approximation). */
export function p99Bounds(n: number): [number, number] {
  const half = NOISE_Z * Math.sqrt((0.99 * 0.01) / n);
  return [Math.max(0, 100 * (0.99 - half)), Math.min(100, 100 * (0.99 + half))];
}

/** The values between which a histogram's p99 lies (see p99Bounds). */
function p99Interval(h: HistSet, name: string): [number, number] | undefined {
  const x = h.get(name);
  if (!x || x.totalCount === 0) return undefined;
  const [lo, hi] = p99Bounds(x.totalCount);
  return [x.getValueAtPercentile(lo), hi >= 100 ? x.maxValue : x.getValueAtPercentile(hi)];
}

/**
 * How many standard errors rate b2/d2 lies above b1/d1, the event counts taken as Poisson
 * (variance of k/d is k/d^2). Events that come in bursts (an exit's many invalidations) vary more
 * than that, so this errs towards calling a change real. 0 when neither run counted any.
 */
export function rateZ(k1: number, d1: number, k2: number, d2: number): number {
  const v = k1 / (d1 * d1) + k2 / (d2 * d2);
  return v > 0 ? (k2 / d2 - k1 / d1) / Math.sqrt(v) : 0;
}

/** A signature with no "[deviation+...]" suffix: nothing was injected to cause it. */
export function isDeviationFree(signature: string): boolean {
  return !/\[[^\]]+\]$/.test(signature);
}

/** Histograms in reading order: operations, faults and accesses, then locks. */
function histRank(name: string): number {
  if (name.startsWith('op.')) return 0;
  if (name === 'fault' || name.startsWith('fault.')) return 1;
  if (name.startsWith('access.')) return 2;
  return 3;
}

/** diff / sqrt(a^2 + b^2), one decimal; +-Infinity when both errors are 0 and diff is not. */
function zOf(diff: number, a: number, b: number): number {
  const v = Math.sqrt(a * a + b * b);
  if (v === 0) return diff === 0 ? 0 : diff > 0 ? Infinity : -Infinity;
  return Math.round((diff / v) * 10) / 10;
}

const sig3 = (x: number): number => Number(x.toPrecision(3));

/**
 * Judge the p99 change of histogram name. With seed groups in both runs: each run's p99 has the
 * standard error of batch means, sd(pool p99s) / sqrt(pools) (p99BatchSe), never below the one of
 * independent samples (the order-statistics interval is +-NOISE_Z of those), and the change is
 * beyond noise when z = (p99 NEW - p99 BASE) / sqrt(se_b^2 + se_n^2) > NOISE_Z. Otherwise (or with
 * fewer than MIN_GROUPS pools in a run): NEW's order-statistics interval wholly above BASE's.
 */
function judgeP99(name: string, x: HistSummary, y: HistSummary, hb?: HistSet, hn?: HistSet, gb?: HistSet[], gn?: HistSet[]): Pick<LatencyRow, 'p99Interval' | 'significant' | 'noise'> {
  const ib = hb && p99Interval(hb, name), inew = hn && p99Interval(hn, name);
  const interval = ib && inew ? { base: ib, new: inew } : undefined;
  const orderStats = { p99Interval: interval, significant: interval ? interval.new[0] > interval.base[1] : undefined };
  if (!interval) return orderStats;
  if (!gb || !gn) return { ...orderStats, noise: { test: 'order-statistics' } };
  const sb = p99BatchSe(gb, name), sn = p99BatchSe(gn, name);
  const groups = { base: sb.groups, new: sn.groups };
  if (sb.se === undefined || sn.se === undefined) return { ...orderStats, noise: { test: 'order-statistics', groups } };
  const iid = (i: [number, number]) => (i[1] - i[0]) / (2 * NOISE_Z);
  const se = { base: Math.max(sb.se, iid(interval.base)), new: Math.max(sn.se, iid(interval.new)) };
  const z = zOf(y.p99 - x.p99, se.base, se.new);
  return { p99Interval: interval, significant: z > NOISE_Z, noise: { test: 'seed-groups', groups, se: { base: sig3(se.base), new: sig3(se.new) }, z } };
}

function latencyRows(b: Summary, n: Summary, hb: HistSet | undefined, hn: HistSet | undefined, gb: GroupTotals[] | undefined, gn: GroupTotals[] | undefined, pct: number | undefined): LatencyRow[] {
  const names = [...new Set([...Object.keys(b.latency), ...Object.keys(n.latency)])].sort((x, y) => histRank(x) - histRank(y) || x.localeCompare(y));
  const hists = (g?: GroupTotals[]) => g?.map((x) => x.hist);
  return names.map((name) => {
    const x = b.latency[name], y = n.latency[name];
    if (!x || !y) return { name, base: x, new: y, regression: false };
    const c = { count: change(x.count, y.count), p50: change(x.p50, y.p50), p99: change(x.p99, y.p99), max: change(x.max, y.max) };
    const j = judgeP99(name, x, y, hb, hn, hists(gb), hists(gn));
    return { name, base: x, new: y, change: c, ...j, regression: pct !== undefined && x.count > 0 && y.count > 0 && worse(x.p99, y.p99, pct) && j.significant !== false };
  });
}

/** What a rate is computed from: a run's summary, or one seed group's counts (rateInput). */
type RateInput = Counts & Pick<Summary, 'anonFault' | 'tlb'>;

const rateInput = (g: Counts): RateInput => ({ ops: g.ops, events: g.events, ...countSections(g) });

interface RateDef {
  name: string;
  what: string;
  /** [events, denominator]; undefined when the run (or group) has none of the denominator */
  of: (s: RateInput) => [number, number] | undefined;
}

const ratio = (num: number, den: number): [number, number] | undefined => (den > 0 ? [num, den] : undefined);
const sum = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);
const totalOps = (s: RateInput): number => sum(s.ops);

/** The event rates compared: each a count per fault or per operation (higher is worse). */
function rateDefs(b: Summary, n: Summary): RateDef[] {
  const defs: RateDef[] = [
    { name: 'refaults/fault', what: 'anon faults that returned to fault again (lost the race, refault policy)', of: (s) => ratio(s.anonFault.refaults, s.anonFault.faults) },
    { name: 'recheck-changed/fault', what: 'anon faults whose recheck under the PTL found the PTEs changed', of: (s) => ratio(s.anonFault.recheckChangedTotal, s.anonFault.faults) },
    { name: 'lost-race-exit/fault', what: 'anon faults that released their folio after losing the race', of: (s) => ratio(s.anonFault.lostRaceExit, s.anonFault.faults) },
    { name: 'alloc-fallback/fault', what: 'anon faults whose allocation fell back to a lower order', of: (s) => ratio(sum(s.anonFault.allocFallback), s.anonFault.faults) },
    { name: 'tlb-flushes/op', what: 'range and mm TLB flushes per workload operation', of: (s) => ratio(s.tlb.flushRange + s.tlb.flushMm, totalOps(s)) },
  ];
  // tlb.byOp leaves out an operation type without invalidations, folds or unfolds: there its rates are 0 (if it ran)
  const perOp = (s: RateInput, op: string, count: (c: OpCost) => number) => {
    const c = s.tlb.byOp[op];
    return c ? ratio(count(c), c.ops) : ratio(0, opsOf(s, op));
  };
  const ops = [...new Set([...Object.keys(b.tlb.byOp), ...Object.keys(n.tlb.byOp)])].sort();
  for (const op of ops) defs.push({ name: `tlbi/op ${op}`, what: `TLB invalidations (page, range, mm) per ${op}`, of: (s) => perOp(s, op, (c) => c.tlbiPage + c.tlbiRange + c.tlbiMm) });
  for (const op of ops) {
    if (!b.tlb.byOp[op]?.contUnfold && !n.tlb.byOp[op]?.contUnfold) continue;
    defs.push({ name: `unfold/op ${op}`, what: `contpte block unfolds per ${op}`, of: (s) => perOp(s, op, (c) => c.contUnfold) });
  }
  return defs;
}

/**
 * The rates of both runs, each judged against noise. With seed groups in both runs: each run's
 * rate has the batch-means standard error of its groups' rates (rateBatchSe, weighted by their
 * denominators), never below the Poisson one of its event count, and z = (NEW - BASE) /
 * sqrt(se_b^2 + se_n^2). Otherwise (or with fewer than MIN_GROUPS groups with a denominator in a
 * run): rateZ, the events taken as Poisson.
 */
function rateRows(b: Summary, n: Summary, gb: RateInput[] | undefined, gn: RateInput[] | undefined, pct: number | undefined): RateRow[] {
  // a rate neither run has (no such operation ran) is no row
  return rateDefs(b, n).filter((d) => d.of(b) !== undefined || d.of(n) !== undefined).map((d) => {
    const xb = d.of(b), xn = d.of(n);
    const x = xb && xb[0] / xb[1], y = xn && xn[0] / xn[1];
    if (!xb || !xn || x === undefined || y === undefined) return { name: d.name, what: d.what, base: x, new: y, regression: false };
    let noise: NoiseTest = { test: 'poisson', z: Math.round(rateZ(xb[0], xb[1], xn[0], xn[1]) * 10) / 10 };
    if (gb && gn) {
      const sb = rateBatchSe(gb.map((g) => d.of(g) ?? [0, 0])), sn = rateBatchSe(gn.map((g) => d.of(g) ?? [0, 0]));
      const groups = { base: sb.groups, new: sn.groups };
      if (sb.se === undefined || sn.se === undefined) noise = { ...noise, groups };
      else {
        const se = { base: Math.max(sb.se, Math.sqrt(xb[0]) / xb[1]), new: Math.max(sn.se, Math.sqrt(xn[0]) / xn[1]) };
        noise = { test: 'seed-groups', groups, se: { base: sig3(se.base), new: sig3(se.new) }, z: zOf(y - x, se.base, se.new) };
      }
    }
    return { name: d.name, what: d.what, base: x, new: y, change: change(x, y), z: noise.z, noise, regression: pct !== undefined && worse(x, y, pct) && noise.z! > NOISE_Z };
  });
}

const info = (dir: string, s: Summary): RunInfo => ({ dir, name: s.config.name, engine: s.engine, seeds: s.seeds.count, interrupted: s.interrupted });

/**
 * Compare the results folders base and cur. maxRegression (percent) turns on the gate. Throws
 * ResultsInputError for a missing folder or summary, or runs in different units (sched vs threads).
 */
export function compareFolders(baseDir: string, newDir: string, opts: { maxRegression?: number } = {}): Comparison {
  const pct = opts.maxRegression;
  if (pct !== undefined && !(Number.isFinite(pct) && pct >= 0)) throw new ResultsInputError(`--max-regression: must be a percentage >= 0, found ${Number.isNaN(pct) ? 'something that is not a number' : pct}`);
  const b = readSummary(baseDir), n = readSummary(newDir);
  if (unitOf(b) !== unitOf(n)) throw new ResultsInputError(`${baseDir} is a ${b.engine} run (latency in ${unitOf(b)}) and ${newDir} a ${n.engine} run (latency in ${unitOf(n)}): their latencies cannot be compared`);
  const hists = (dir: string, s: Summary) => {
    if (!existsSync(join(dir, HISTOGRAMS_FILE))) return {};
    const e = readHistograms(dir, s);
    return { h: HistSet.decode(e), groups: e.seedGroups && decodeSeedGroups(e.seedGroups, e.unit) };
  };
  const hb = hists(baseDir, b), hn = hists(newDir, n);
  // seed groups only count when both runs have them
  const [gb, gn] = hb.groups && hn.groups ? [hb.groups, hn.groups] : [undefined, undefined];
  const latency = latencyRows(b, n, hb.h, hn.h, gb, gn, pct);
  const rates = rateRows(b, n, gb?.map(rateInput), gn?.map(rateInput), pct);
  const known = new Set(b.signatures.map((g) => g.signature));
  const newSignatures = n.signatures.filter((g) => !known.has(g.signature)).map((g) => ({ signature: g.signature, count: g.count, smallestSeed: g.smallestSeed, artifact: g.artifacts[0], deviationFree: isDeviationFree(g.signature) }));
  const now = new Set(n.signatures.map((g) => g.signature));
  const goneSignatures = b.signatures.filter((g) => !now.has(g.signature)).map((g) => g.signature);
  const regressions: string[] = [];
  if (pct !== undefined) {
    const by = (c: Change | undefined) => (c === null ? 'from 0' : `${fmtChange(c)} > ${pct}%`);
    const range = (r: LatencyRow) => (r.noise?.test === 'seed-groups' ? `; z ${fmtZ(r.noise.z)} over ${groupCount(r.noise)} seed groups` : r.p99Interval ? `; p99 within [${r.p99Interval.base.join(', ')}] -> [${r.p99Interval.new.join(', ')}]` : '');
    for (const r of latency) if (r.regression) regressions.push(`p99 of ${r.name}: ${r.base!.p99} -> ${r.new!.p99} ${unitOf(b)} (${by(r.change!.p99)}${range(r)})`);
    for (const r of rates) if (r.regression) regressions.push(`${r.name}: ${fmtRate(r.base)} -> ${fmtRate(r.new)} (${by(r.change)}, z ${fmtZ(r.z)}${r.noise?.test === 'seed-groups' ? ` over ${groupCount(r.noise)} seed groups` : ''})`);
    for (const g of newSignatures) if (g.deviationFree) regressions.push(`new deviation-free signature ${g.signature} (x${g.count}, smallest seed ${g.smallestSeed})`);
  }
  return {
    base: info(baseDir, b), new: info(newDir, n), unit: unitOf(b),
    config: configDifferences(b.config, n.config),
    noiseTest: !!(hb.h && hn.h),
    seedGroups: !!gb,
    latency, rates, newSignatures, goneSignatures, maxRegression: pct, regressions, pass: regressions.length === 0,
  };
}

function fmtChange(c: Change | undefined): string {
  if (c === undefined) return '';
  if (c === null) return 'new';
  return `${c > 0 ? '+' : ''}${c}%`;
}

function fmtRate(x: number | undefined): string {
  if (x === undefined) return '-';
  return x === 0 ? '0' : x >= 100 ? x.toFixed(1) : x.toPrecision(3);
}

const fmtNum = (x: number | undefined): string => (x === undefined ? '-' : String(x));

const fmtZ = (z: number | undefined): string => (z === undefined ? '' : Number.isFinite(z) ? String(z) : z > 0 ? 'inf' : '-inf');

/** "16" when both runs had that many usable groups, else "BASE|NEW". */
const groupCount = (n: NoiseTest): string => (!n.groups ? '' : n.groups.base === n.groups.new ? String(n.groups.base) : `${n.groups.base}|${n.groups.new}`);

/** The noise column: the test that judged the row and its z ("z 1.2, 16 groups"; "order stats, 3|16 groups": too few usable groups). */
function noiseCell(n: NoiseTest | undefined): string {
  if (!n) return '';
  const groups = n.groups ? `, ${groupCount(n)} groups` : '';
  if (n.test === 'seed-groups') return `z ${fmtZ(n.z)}${groups}`;
  if (n.test === 'poisson') return `z ${fmtZ(n.z)} poisson${groups}`;
  return `order stats${groups}`;
}

/** "(within noise: 16 seed groups)", "(within noise: order statistics)" */
function withinNoise(n: NoiseTest | undefined): string {
  const by = !n ? '' : n.test === 'seed-groups' ? `: ${groupCount(n)} seed groups` : n.test === 'poisson' ? ': Poisson' : ': order statistics';
  return `(within noise${by})`;
}

/** "4064 -> 4100 (+0.9%)" */
function cell(a: number | undefined, b: number | undefined, c: Change | undefined): string {
  if (a === undefined || b === undefined) return `${fmtNum(a)} -> ${fmtNum(b)}`;
  return `${a} -> ${b} (${fmtChange(c)})`;
}

function table(rows: string[][]): string[] {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => ('  ' + r.map((x, i) => x.padEnd(w[i])).join('  ')).trimEnd());
}

/** The footnote: how changes were judged against sampling noise. */
function noiseNote(c: Comparison): string[] {
  if (c.seedGroups) {
    return [
      `  (a change counts only beyond sampling noise, measured between seed groups (batch means): a run's p99 or rate has`,
      `   standard error sd(its groups' values) / sqrt(groups), at least the independent-samples one; a change counts at`,
      `   z = (NEW - BASE) / sqrt(se_BASE^2 + se_NEW^2) > ${NOISE_Z}. "order stats" / "poisson": under ${MIN_GROUPS} usable groups in a run`,
      `   (a group p99 needs ${MIN_GROUP_SAMPLES} samples; smaller groups are pooled), so judged with every op or event independent:`,
      `   a p99 by NEW's 99.7% order-statistics interval above BASE's, a rate at Poisson z > ${NOISE_Z})`,
    ];
  }
  if (!c.noiseTest) return [`  (a change counts only beyond sampling noise: rates at z > ${NOISE_Z}, the events taken as Poisson; p99s not tested here: a folder has no histograms.json, so p99s are compared as they are)`];
  return [
    `  (a change counts only beyond sampling noise, here with every op or event taken as an independent sample: a p99 when`,
    `   NEW's 99.7% order-statistics interval lies above BASE's, a rate at Poisson z > ${NOISE_Z}. A folder has no seed groups`,
    `   (written before them), so the correlation of one seed's operations is not measured: a p99 may differ by chance)`,
  ];
}

/** What compare prints. */
export function renderComparison(c: Comparison): string {
  const L: string[] = [];
  const run = (r: RunInfo) => `${r.dir} (${r.engine} "${r.name}", ${r.seeds} seeds${r.interrupted ? ', INTERRUPTED' : ''})`;
  L.push(`foliostorm compare`);
  L.push(`  BASE  ${run(c.base)}`);
  L.push(`  NEW   ${run(c.new)}`);
  if (c.config.length) L.push(`  config changed: ${c.config.map((d) => `${d.field} ${shownValue(d.a)} -> ${shownValue(d.b)}`).join(', ')}`);
  L.push('', `latency (${c.unit}), BASE -> NEW:`);
  L.push(...table([
    ['histogram', 'count', 'p50', 'p99', 'max', 'noise', ''],
    ...c.latency.map((r) => [
      r.name,
      cell(r.base?.count, r.new?.count, r.change?.count),
      cell(r.base?.p50, r.new?.p50, r.change?.p50),
      cell(r.base?.p99, r.new?.p99, r.change?.p99),
      cell(r.base?.max, r.new?.max, r.change?.max),
      noiseCell(r.noise),
      r.regression ? 'REGRESSION' : !r.base ? '(only in NEW)' : !r.new ? '(only in BASE)' : c.maxRegression !== undefined && r.significant === false && worse(r.base.p99, r.new.p99, c.maxRegression) ? withinNoise(r.noise) : '',
    ]),
  ]));
  L.push('', 'event rates, BASE -> NEW:');
  L.push(...table(c.rates.map((r) => [r.name, `${fmtRate(r.base)} -> ${fmtRate(r.new)}`, r.change === undefined ? '' : `(${fmtChange(r.change)})`, noiseCell(r.noise), r.regression ? 'REGRESSION' : c.maxRegression !== undefined && r.base !== undefined && r.new !== undefined && worse(r.base, r.new, c.maxRegression) ? withinNoise(r.noise) : ''])));
  L.push(...noiseNote(c));
  L.push('');
  if (!c.newSignatures.length) L.push('new violations: none (no signature in NEW that BASE did not have)');
  else {
    L.push('new violations (signatures in NEW, not in BASE):');
    for (const g of c.newSignatures) {
      L.push(`  ${g.signature} x${g.count} (smallest seed ${g.smallestSeed}): ${g.deviationFree ? 'deviation-free: a REAL FINDING' : 'caused by the injected deviation(s) named in brackets'}`);
      if (g.artifact) L.push(`    replay: npx foliostorm repro ${g.artifact}`);
    }
  }
  if (c.goneSignatures.length) L.push(`gone (in BASE, not in NEW): ${c.goneSignatures.join(', ')}`);
  L.push('');
  if (c.maxRegression === undefined) L.push('no gate: give --max-regression PCT to fail on a p99 or rate worse by more than PCT% or a new deviation-free signature');
  else if (c.pass) L.push(`PASS (--max-regression ${c.maxRegression}%): no p99 or event rate worse by more than ${c.maxRegression}%, no new deviation-free signature`);
  else L.push(`FAIL (--max-regression ${c.maxRegression}%): ${c.regressions.length} regression(s)`, ...c.regressions.map((r) => `  ${r}`));
  return L.join('\n');
}
