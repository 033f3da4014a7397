// Merge per-seed RunResults into one run: counts add, histograms add (HdrHistogram addition),
// violations are grouped by signature, and the sched trace hash covers every seed in seed order.
import type { RunResult, ViolationRecord } from '../engine/result.js';
import { HistSet, type Unit } from './histograms.js';
import { TraceHash } from '../engine/trace.js';

export class Aggregate {
  readonly results: RunResult[] = [];
  readonly ops: Record<string, number> = {};
  readonly events: Record<string, number> = {};
  readonly hist: HistSet;
  steps = 0;
  constructor(readonly unit: Unit) {
    this.hist = new HistSet(unit);
  }
  add(r: RunResult): void {
    this.results.push(r);
    this.steps += r.steps;
    addCounts(this.ops, r.ops);
    addCounts(this.events, r.events);
    this.hist.addEncoded(r.hist);
  }
  /**
   * Counts and histograms of seeds aggregated elsewhere (a results folder being merged): the seeds
   * themselves come through add() with empty counts, so results, steps and traceHash stay per seed.
   */
  addTotals(t: { ops: Record<string, number>; events: Record<string, number>; hist: HistSet }): void {
    addCounts(this.ops, t.ops);
    addCounts(this.events, t.events);
    this.hist.add(t.hist);
  }
  get violations(): ViolationRecord[] {
    return this.sorted().flatMap((r) => r.violations);
  }
  sorted(): RunResult[] {
    return [...this.results].sort((a, b) => a.seed - b.seed);
  }
  /** One hash over every seed's trace hash, in seed order (sched only). */
  traceHash(): string | undefined {
    const rs = this.sorted();
    if (!rs.length || rs.some((r) => !r.traceHash)) return undefined;
    if (rs.length === 1) return rs[0].traceHash;
    const h = new TraceHash();
    for (const r of rs) {
      h.mix(r.seed);
      h.mixString(r.traceHash!);
    }
    return h.hex();
  }
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

export interface SignatureGroup {
  signature: string;
  invariant: string;
  path: string;
  count: number;
  smallestSeed: number;
  artifacts: string[];
}

export function groupBySignature(vs: ViolationRecord[]): SignatureGroup[] {
  const m = new Map<string, SignatureGroup>();
  for (const v of vs) {
    let g = m.get(v.signature);
    if (!g) m.set(v.signature, (g = { signature: v.signature, invariant: v.invariant, path: v.path, count: 0, smallestSeed: v.seed, artifacts: [] }));
    g.count++;
    g.smallestSeed = Math.min(g.smallestSeed, v.seed);
    if (v.artifact) g.artifacts.push(v.artifact);
  }
  return [...m.values()].sort((a, b) => b.count - a.count || a.signature.localeCompare(b.signature));
}
