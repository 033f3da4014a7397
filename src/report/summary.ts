// summary.json: what a machine reads; and the few lines a person reads at a glance.
import type { Config } from '../config/config.js';
import type { HistSummary } from '../machine/histograms.js';
import { type Aggregate, groupBySignature, type SignatureGroup } from './aggregate.js';
import { COST_KINDS, COST_OPS, MAX_ORDERS } from '../machine/events.js';
import { type PctGuarantee, pctGuarantee } from '../engine/schedulers/pct.js';
import type { Shard } from '../engine/shard.js';
import type { StopInfo } from '../engine/stop.js';
import { POOLED, type ReachSummary } from '../check/reach.js';
import { CANARY_CONTROL_INVARIANT, CANARY_INVARIANT, type CanarySummary } from '../check/canary.js';

/** TLB invalidations and contpte folds/unfolds of one operation type, in total and per operation. */
export interface OpCost {
  ops: number;
  tlbiPage: number;
  tlbiRange: number;
  tlbiMm: number;
  contFold: number;
  contUnfold: number;
  tlbiPerOp: number;
  unfoldPerOp: number;
}

export interface Summary {
  tool: 'foliostorm';
  version: string;
  runId: string;
  engine: 'sched' | 'threads';
  interrupted: boolean;
  /** Why the run ended (every seed ran, the duration ran out, --max-failures, a signal). */
  stop?: StopInfo;
  config: Config;
  /** --shard K/N: this folder holds shard `index` (1-based) of `count`: seeds s with (s - config.seed) mod count = index - 1 */
  shard?: Shard;
  seeds: { first: number; count: number; list: number[] };
  wallSeconds: number;
  steps?: number;
  ops: Record<string, number>;
  events: Record<string, number>;
  anonFault: {
    faults: number;
    scanOrder: Record<string, number>;
    allocFallback: Record<string, number>;
    oom: number;
    recheckPteChanged: number;
    recheckRangeChanged: Record<string, number>;
    recheckChangedTotal: number;
    lostRaceExit: number;
    retryLower: Record<string, number>;
    retryOrder0: number;
    refaults: number;
  };
  folioOrders: Record<string, number>;
  tlb: { flushRange: number; flushMm: number; entriesInvalidated: number; byOp: Record<string, OpCost> };
  latency: Record<string, HistSummary>;
  violations: { signature: string; invariant: string; path: string; seed: number; variant?: string; artifact?: string; details: Record<string, unknown> }[];
  signatures: SignatureGroup[];
  /**
   * The reach floor (src/check/reach.ts): per variant the rules judged and their counts, and the
   * rules that failed (`findings`: run-level, shaped like violations without seed or artifact;
   * each fails the run as a violation does). Absent in summaries written before it.
   */
  reach?: ReachSummary;
  /**
   * The canary (src/campaign/canary.ts): each named deviation run on its provoking mix before the
   * run's seeds, and whether it was caught; its misses are run-level findings in reach.findings
   * (invariant canary-missed). Absent: no canary (canarySeeds absent or 0, or the threads engine).
   */
  canary?: CanarySummary;
  traceHash?: string;
  /** sched: the PCT bound for the observed CPUs and steps (the largest run's), at the configured depth. */
  pct?: PctGuarantee & { scheduler: string };
  perSeed: { seed: number; steps: number; violations: number; traceHash?: string; variant?: string }[];
}

export function buildSummary(cfg: Config, agg: Aggregate, meta: { runId: string; version: string; wallSeconds: number; interrupted: boolean; shard?: Shard; stop?: StopInfo; reach?: ReachSummary; canary?: CanarySummary }): Summary {
  const rs = agg.sorted();
  const vs = agg.violations;
  const engine = cfg.engine;
  return {
    tool: 'foliostorm',
    version: meta.version,
    runId: meta.runId,
    engine,
    interrupted: meta.interrupted,
    stop: meta.stop,
    config: cfg,
    shard: meta.shard,
    seeds: { first: rs.length ? rs[0].seed : cfg.seed, count: rs.length, list: rs.map((r) => r.seed) },
    wallSeconds: Math.round(meta.wallSeconds * 100) / 100,
    steps: engine === 'sched' ? agg.steps : undefined,
    ops: agg.ops,
    events: agg.events,
    ...countSections(agg),
    latency: agg.hist.summaries(),
    violations: vs.map((v) => ({ signature: v.signature, invariant: v.invariant, path: v.path, seed: v.seed, variant: v.variant, artifact: v.artifact, details: v.details })),
    signatures: groupBySignature(vs),
    ...(meta.reach ? { reach: meta.reach } : {}),
    ...(meta.canary ? { canary: meta.canary } : {}),
    traceHash: agg.traceHash(),
    pct: engine === 'sched' && rs.length ? { scheduler: cfg.scheduler, ...pctGuarantee(cfg.pctDepth, cfg.cpus, Math.max(...rs.map((r) => r.steps))) } : undefined,
    perSeed: rs.map((r) => ({ seed: r.seed, steps: r.steps, violations: r.violations.length, traceHash: r.traceHash, variant: r.variant })),
  };
}

/** Operations of each cost bucket: faults for "fault", the workload's op counts for the rest (of a run, or of a summary). */
export function opsOf(c: Counts, op: string): number {
  switch (op) {
    case 'fault': return c.events.fault ?? 0;
    case 'gup': return (c.ops.pin ?? 0) + (c.ops.unpin ?? 0) + (c.ops.pinio ?? 0);
    case 'writeback': return (c.ops.writeback ?? 0) + (c.ops.sync ?? 0);
    default: return c.ops[op] ?? 0;
  }
}

/** Counts of a run or of one of its seed groups: ops per type, events by name. */
export interface Counts {
  ops: Record<string, number>;
  events: Record<string, number>;
}

const ev = (c: Counts, name: string): number => c.events[name] ?? 0;

/** Per order (of those counted), the events prefix.<order>. */
function byOrder(c: Counts, prefix: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (let o = 0; o < MAX_ORDERS; o++) {
    const v = ev(c, `${prefix}.${o}`);
    if (v) out[String(o)] = v;
  }
  return out;
}

const sumOrders = (c: Counts, prefix: string): number => Object.values(byOrder(c, prefix)).reduce((a, b) => a + b, 0);

/**
 * The sections of summary.json computed from the counts (anon fault outcomes, folio orders, TLB
 * costs): for the summary, and for compare's event rates per seed group.
 */
export function countSections(c: Counts): Pick<Summary, 'anonFault' | 'folioOrders' | 'tlb'> {
  return {
    anonFault: {
      faults: ev(c, 'fault.anon'),
      scanOrder: byOrder(c, 'anon.scanOrder'),
      allocFallback: byOrder(c, 'anon.allocFallback'),
      oom: ev(c, 'anon.oom'),
      recheckPteChanged: ev(c, 'anon.recheckPteChanged'),
      recheckRangeChanged: byOrder(c, 'anon.recheckRangeChanged'),
      recheckChangedTotal: ev(c, 'anon.recheckPteChanged') + sumOrders(c, 'anon.recheckRangeChanged'),
      lostRaceExit: ev(c, 'anon.lostRaceExit'),
      retryLower: byOrder(c, 'anon.retryLower'),
      retryOrder0: ev(c, 'anon.retryOrder0'),
      refaults: ev(c, 'anon.refault'),
    },
    folioOrders: byOrder(c, 'anon.mapped'),
    tlb: { flushRange: ev(c, 'tlb.flushRange'), flushMm: ev(c, 'tlb.flushMm'), entriesInvalidated: ev(c, 'tlb.entriesInvalidated'), byOp: costByOp(c) },
  };
}

function costByOp(counts: Counts): Record<string, OpCost> {
  const out: Record<string, OpCost> = {};
  for (const op of COST_OPS) {
    const c = Object.fromEntries(COST_KINDS.map((k) => [k, ev(counts, `cost.${op}.${k}`)])) as Record<(typeof COST_KINDS)[number], number>;
    const tlbi = c.tlbiPage + c.tlbiRange + c.tlbiMm;
    if (!tlbi && !c.contFold && !c.contUnfold) continue;
    const ops = opsOf(counts, op);
    const per = (n: number): number => (ops ? Math.round((n / ops) * 1000) / 1000 : 0);
    out[op] = { ops, ...c, tlbiPerOp: per(tlbi), unfoldPerOp: per(c.contUnfold) };
  }
  return out;
}

/** "pct d=3: ..." : the PCT bound, and what it means for this run's scheduler. */
export function renderPct(p: PctGuarantee & { scheduler: string }): string {
  const runs = p.runsFor99 >= 1e7 ? p.runsFor99.toExponential(2) : fmt(p.runsFor99);
  const note = p.scheduler === 'pct' ? '' : ` (this run used ${p.scheduler}; the bound holds for --scheduler pct)`;
  return `pct       depth ${p.depth}, ${p.cpus} cpus, k=${fmt(p.steps)} steps: a depth-${p.depth} bug is found per run with p >= 1/(n*k^(d-1)) = ${p.probability.toExponential(2)}; 99% confidence needs ${runs} runs${note}`;
}

const fmt = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(1)}k` : String(Math.round(n)));
const orders = (r: Record<string, number>): string => Object.entries(r).map(([o, n]) => `o${o}:${fmt(n)}`).join(' ') || '-';

/**
 * Per variant the seeds ran (in the order of their first seeds): its seed count, its violations by
 * signature (count, smallest seed), and the reach rules it failed.
 */
export interface VariantStats {
  seeds: number;
  violations: number;
  bySignature: Map<string, { count: number; smallestSeed: number }>;
  /** the signatures of the reach floor's findings for this variant */
  unreached: string[];
}

export function variantStats(s: Summary): Map<string, VariantStats> {
  const out = new Map<string, VariantStats>();
  for (const p of s.perSeed) if (p.variant) (out.get(p.variant) ?? out.set(p.variant, { seeds: 0, violations: 0, bySignature: new Map(), unreached: [] }).get(p.variant)!).seeds++;
  for (const v of s.violations) {
    const x = v.variant ? out.get(v.variant) : undefined;
    if (!x) continue;
    x.violations++;
    const g = x.bySignature.get(v.signature);
    x.bySignature.set(v.signature, { count: (g?.count ?? 0) + 1, smallestSeed: Math.min(g?.smallestSeed ?? v.seed, v.seed) });
  }
  for (const f of reachFindings(s)) if (f.variant) out.get(f.variant)?.unreached.push(f.signature);
  return out;
}

/** The reach floor's findings (none in a summary without it). */
export function reachFindings(s: Pick<Summary, 'reach'>): ReachSummary['findings'] {
  return s.reach?.findings ?? [];
}

/** Does the run fail: a violation in a seed, or a reach floor not met. */
export function failed(s: Pick<Summary, 'violations' | 'reach'>): boolean {
  return s.violations.length > 0 || reachFindings(s).length > 0;
}

/** "FAIL: 2 violation(s), 1 signature(s), 3 reach rule(s) not met (5 in all variants)" or "PASS: no violations". */
export function statusLine(s: Pick<Summary, 'violations' | 'signatures' | 'reach'>): string {
  if (!failed(s)) return 'PASS: no violations';
  const canary = reachFindings(s).filter((f) => f.invariant === CANARY_INVARIANT).length;
  const control = reachFindings(s).filter((f) => f.invariant === CANARY_CONTROL_INVARIANT).length;
  const nr = reachFindings(s).length - canary - control;
  const ng = reachGroups(s).length - canary - control;
  const parts = s.violations.length ? [`${s.violations.length} violation(s)`, `${s.signatures.length} signature(s)`] : [];
  if (nr) parts.push(`${ng} reach rule(s) not met${nr > ng ? ` (${nr} in all variants)` : ''}`);
  if (canary) parts.push(`${canary} canary deviation(s) missed`);
  if (control) parts.push(`${control} canary control(s) not clean`);
  return `FAIL: ${parts.join(', ')}`;
}

/** The reach findings grouped by signature (one rule, the variants that failed it), in table order. */
export interface ReachGroup {
  signature: string;
  invariant: string;
  path: string;
  findings: ReachSummary['findings'];
}

export function reachGroups(s: Pick<Summary, 'reach'>): ReachGroup[] {
  const m = new Map<string, ReachGroup>();
  for (const f of reachFindings(s)) {
    let g = m.get(f.signature);
    if (!g) m.set(f.signature, (g = { signature: f.signature, invariant: f.invariant, path: f.path, findings: [] }));
    g.findings.push(f);
  }
  return [...m.values()];
}

/** "generic+refault 0, contpte+refault 0" (the first few): which variants a reach group's rule failed in, with the count. */
export function reachWhere(g: ReachGroup, max = 4): string {
  const parts = g.findings.map((f) => `${f.variant ?? 'all seeds'} ${fmt(Number(f.details.value))}`);
  return parts.length > max ? `${parts.slice(0, max).join(', ')} and ${parts.length - max} more` : parts.join(', ');
}

/** The reach floor's lines of the text summary: what was judged, per variant the lowest floors, and each rule not met. */
export function renderReach(r: ReachSummary | undefined): string[] {
  if (!r) return [];
  if (!r.judged) return [`  reach     not judged: ${r.why}`];
  const L: string[] = [];
  const judged = r.variants.filter((v) => v.judged);
  const rules = judged.reduce((a, v) => a + v.rules.length, 0);
  const held = judged.reduce((a, v) => a + v.rules.filter((x) => x.ok).length, 0);
  const skipped = r.variants.filter((v) => !v.judged);
  const real = r.variants.filter((v) => v.variant !== POOLED); // the pooled floors are no variant of their own
  L.push(`  reach     ${real.filter((v) => v.judged).length} of ${real.length} variant(s) judged (at least ${r.minSeeds} seeds), ${held} of ${rules} rule(s) held${skipped.length ? `; not judged: ${skipped.map((v) => `${v.variant ?? 'the config'} (${v.why})`).join(', ')}` : ''}`);
  for (const v of judged) {
    const floors = v.rules.filter((x) => x.need === '>0' && x.ok).sort((a, b) => a.value - b.value);
    const zeros = v.rules.filter((x) => x.need === '=0' && x.ok).length;
    const lowest = floors.slice(0, 3).map((x) => `${x.rule} ${fmt(x.value)}`).join(', ');
    const bad = v.rules.filter((x) => !x.ok).length;
    L.push(`            ${v.variant ?? 'all seeds'} (${v.seeds} seeds${v.cleanSeeds !== undefined ? `, ${v.cleanSeeds} without a violation` : ''}): ${floors.length} floor(s) held, lowest ${lowest || '-'}; ${zeros} must-be-0 held${v.notJudged.length ? `; ${v.notJudged.length} too rare to judge` : ''}${bad ? `; ${bad} NOT MET` : ''}`);
  }
  const groups = reachGroups({ reach: r }).filter((g) => g.invariant !== CANARY_INVARIANT && g.invariant !== CANARY_CONTROL_INVARIANT);
  for (const g of groups.slice(0, 10)) {
    const d = g.findings[0].details;
    L.push(`  UNREACHED ${g.signature} x${g.findings.length}: ${d.expr} must be ${d.need} (${d.why}); was ${reachWhere(g)}`);
  }
  if (groups.length > 10) L.push(`  UNREACHED and ${groups.length - 10} more rule(s): summary.json reach.findings`);
  return L;
}

/** The canary's lines of the text summary: what it ran, and each deviation it missed. */
export function renderCanary(s: Pick<Summary, 'canary' | 'reach'>): string[] {
  const c = s.canary;
  if (!c) return [];
  const caught = c.deviations.filter((d) => d.caught);
  const slowest = [...caught].sort((a, b) => (b.seed ?? 0) - (a.seed ?? 0))[0];
  const ctl = c.deviations.filter((d) => d.control);
  const ctlSeeds = ctl.reduce((n, d) => n + d.control!.seeds, 0);
  const ctlClean = ctl.filter((d) => !d.control!.violation).length;
  const L = [`  canary    ${caught.length} of ${c.deviations.length} named deviation(s) caught as expected (seeds 1..${c.seeds} each, ${c.seconds}s${slowest ? `; the latest at seed ${slowest.seed}: ${slowest.name}` : ''})${c.complete ? '' : '; stopped before every deviation ran'}`];
  if (ctl.length) L.push(`            controls: ${ctlClean} of ${ctl.length} provoking mix(es) clean without their deviation (${ctlSeeds} seeds)`);
  for (const f of reachFindings(s).filter((x) => x.invariant === CANARY_INVARIANT)) {
    const d = f.details;
    L.push(`  MISSED    ${f.signature}: ${d.seeds} seed(s), none tripped ${(d.expect as string[]).join(' or ')}${(d.seen as string[]).length ? `; seen instead: ${(d.seen as string[]).join(', ')}` : ''}`);
  }
  for (const f of reachFindings(s).filter((x) => x.invariant === CANARY_CONTROL_INVARIANT)) {
    const d = f.details;
    L.push(`  NOT CLEAN ${f.signature}: without the deviation, seed ${d.seed} found ${d.found}`);
    if (d.replay) L.push(`            replay: ${d.replay}`);
  }
  return L;
}

/** "contpte+refault 12 seeds (2 violations)" per variant that ran (in the order of their first seeds). */
export function variantCounts(s: Summary): string[] {
  return [...variantStats(s)].map(([name, x]) => {
    const bad = [x.violations ? `${x.violations} violation${x.violations === 1 ? '' : 's'}` : '', x.unreached.length ? `${x.unreached.length} unreached` : ''].filter(Boolean);
    return `${name} ${x.seeds} seed${x.seeds === 1 ? '' : 's'}${bad.length ? ` (${bad.join(', ')})` : ''}`;
  });
}

/** The human summary printed at the end of a run. */
export function renderSummary(s: Summary, dir: string): string {
  const a = s.anonFault;
  const L: string[] = [];
  const status = statusLine(s);
  L.push(`foliostorm ${s.engine} run "${s.config.name}"${s.interrupted ? ' (INTERRUPTED)' : ''}: ${status}`);
  if (s.stop && (s.stop.reason === 'max-failures' || s.stop.reason === 'interrupted' || s.stop.reason === 'write-error')) L.push(`  stopped   early: ${s.stop.detail}`);
  L.push(`  seeds     ${s.seeds.count} (${s.shard ? `shard ${s.shard.index}/${s.shard.count}: ${[0, 1, 2].map((i) => s.config.seed + s.shard!.index - 1 + i * s.shard!.count).join(', ')}, ...` : `from ${s.seeds.first}`})   wall ${s.wallSeconds}s${s.steps !== undefined ? `   steps ${fmt(s.steps)}` : ''}   cpus ${s.config.cpus}   policy ${s.config.variants ? 'per variant' : s.config.anonFallback}${s.config.inject.length ? `   inject ${s.config.inject.join(',')}` : ''}`);
  if (s.config.variants) L.push(`  variants  ${variantCounts(s).join('  ')}   (seed s runs variant s mod ${s.config.variants.length})`);
  L.push(`  ops       ${Object.entries(s.ops).map(([k, v]) => `${k}:${fmt(v)}`).join(' ')}`);
  L.push(`  anon      faults ${fmt(a.faults)}  scan-chose ${orders(a.scanOrder)}  alloc-fallback ${orders(a.allocFallback)}`);
  L.push(`  races     recheck-changed ${fmt(a.recheckChangedTotal)} (pte ${fmt(a.recheckPteChanged)}, range ${orders(a.recheckRangeChanged)})  lost-race-exit ${fmt(a.lostRaceExit)}  retry-lower ${orders(a.retryLower)}  retry-order0 ${fmt(a.retryOrder0)}  refaults ${fmt(a.refaults)}`);
  L.push(`  folios    mapped ${orders(s.folioOrders)}`);
  L.push(`  tlb       range-flushes ${fmt(s.tlb.flushRange)}  mm-flushes ${fmt(s.tlb.flushMm)}  entries-invalidated ${fmt(s.tlb.entriesInvalidated)}`);
  const costs = Object.entries(s.tlb.byOp).map(([op, c]) => `${op} ${c.tlbiPerOp}${c.contUnfold ? `/${c.unfoldPerOp}u` : ''}`);
  if (costs.length) L.push(`  tlbi/op   ${costs.join('  ')}${Object.values(s.tlb.byOp).some((c) => c.contUnfold) ? '   (u: contpte unfolds per op)' : ''}`);
  const lat = (k: string) => {
    const h = s.latency[k];
    return h ? `${k} p50 ${fmt(h.p50)} p99 ${fmt(h.p99)} max ${fmt(h.max)}` : '';
  };
  const unit = s.engine === 'sched' ? 'steps' : 'ns';
  L.push(`  latency   (${unit}) ${[lat('fault'), lat('ptl.wait'), lat('ptl.hold')].filter(Boolean).join(' | ')}`);
  if (s.pct) L.push(`  ${renderPct(s.pct)}`);
  L.push(...renderReach(s.reach));
  L.push(...renderCanary(s));
  if (s.traceHash) L.push(`  traceHash ${s.traceHash}`);
  for (const g of s.signatures.slice(0, 10)) {
    L.push(`  VIOLATION ${g.signature} x${g.count} (smallest seed ${g.smallestSeed})`);
    if (g.artifacts[0]) L.push(`            replay: npx foliostorm repro ${g.artifacts[0]}`);
    else if (s.stop?.reason === 'write-error') L.push(`            no artifact: it could not be written (seed ${g.smallestSeed} runs it again)`);
  }
  L.push(`  results   ${dir}`);
  return L.join('\n');
}
