// Merge per-seed RunResults into one run: counts add, histograms add (HdrHistogram addition),
// violations are grouped by signature, and the sched trace hash covers every seed in seed order.
// Besides the totals, each seed's counts and histograms add into its seed group's
// (src/report/seed-groups.ts), for compare's noise test, and its events into its model variant's
// (the reach floor, src/check/reach.ts): per variant two seed counts and an event map, whatever
// the number of seeds.
import type { RunResult, ViolationRecord } from '../engine/result.js';
import { HistSet, type Unit } from '../machine/histograms.js';
import { TraceHash } from '../machine/trace.js';
import { mixString, traceHex } from '../engine/trace-hash.js';
import { emptyGroups, type EncodedSeedGroups, encodeSeedGroups, type GroupTotals, seedGroup } from './seed-groups.js';

export class Aggregate {
  readonly results: RunResult[] = [];
  readonly ops: Record<string, number> = {};
  readonly events: Record<string, number> = {};
  readonly hist: HistSet;
  /** The seed groups' shares of the totals; null once totals without groups were added (merge of a folder written before seed groups). */
  groups: GroupTotals[] | null;
  /**
   * Per model variant (index: seed mod variants, as variantIndex; one without variants) its seeds
   * and their events; null once totals without that split were added (merge).
   */
  variantTotals: VariantTotals[] | null;
  steps = 0;
  /** variants: the config's number of variants (1 without), which the seed groups depend on (seedGroup). */
  constructor(readonly unit: Unit, readonly variants = 1) {
    this.hist = new HistSet(unit);
    this.groups = emptyGroups(unit);
    this.variantTotals = Array.from({ length: Math.max(1, variants) }, () => ({ seeds: 0, cleanSeeds: 0, events: {} }));
  }
  add(r: RunResult): void {
    this.results.push(r);
    this.steps += r.steps;
    addCounts(this.ops, r.ops);
    addCounts(this.events, r.events);
    const vt = this.variantTotals?.[variantSlot(r.seed, this.variants)];
    if (vt) {
      vt.seeds++;
      if (!r.violations.length) vt.cleanSeeds++;
      addCounts(vt.events, r.events);
    }
    const g = this.groups?.[seedGroup(r.seed, this.variants)];
    if (!g) {
      this.hist.addEncoded(r.hist);
      return;
    }
    g.seeds++;
    addCounts(g.ops, r.ops);
    addCounts(g.events, r.events);
    this.hist.addEncoded(r.hist, g.hist);
  }
  /**
   * Counts and histograms of seeds aggregated elsewhere (a results folder being merged): the seeds
   * themselves come through add() with empty counts, so results, steps, traceHash and the groups'
   * seed counts stay per seed. groups: the folder's seed groups, added group by group; without
   * them (an older folder) this run's groups no longer cover its seeds and are dropped.
   */
  addTotals(t: { ops: Record<string, number>; events: Record<string, number>; hist: HistSet; groups?: GroupTotals[] }): void {
    addCounts(this.ops, t.ops);
    addCounts(this.events, t.events);
    this.hist.add(t.hist);
    // counts of seeds whose variants are not known here: the per-variant sums no longer cover the run
    if (Object.keys(t.ops).length || Object.keys(t.events).length) this.variantTotals = null;
    if (!this.groups) return;
    if (!t.groups || t.groups.length !== this.groups.length) {
      this.groups = null;
      return;
    }
    for (const [i, g] of this.groups.entries()) {
      addCounts(g.ops, t.groups[i].ops);
      addCounts(g.events, t.groups[i].events);
      g.hist.add(t.groups[i].hist);
    }
  }
  /** histograms.json's seedGroups, or undefined when the groups were dropped. */
  encodedGroups(): EncodedSeedGroups | undefined {
    return this.groups ? encodeSeedGroups(this.groups, this.variants) : undefined;
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
      mixString(h, r.traceHash!);
    }
    return traceHex(h);
  }
}

/** One model variant's share of a run: its seeds, those that had no violation, and the events they counted. */
export interface VariantTotals {
  seeds: number;
  cleanSeeds: number;
  events: Record<string, number>;
}

/** The variant slot of seed among `variants` (seed mod variants, as variantIndex; 0 without variants). */
export function variantSlot(seed: number, variants: number): number {
  const n = Math.max(1, variants);
  return ((seed % n) + n) % n;
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
