// Batch means: the standard error of a run's p99 or event rate from the spread between its seed
// groups (src/report/seed-groups.ts). Seeds are independent, a seed's operations are not (they
// share its workload and machine state). A group is a sample of whole seeds, so the groups' values
// vary as independent estimates do, the correlation inside seeds included, and their spread gives
// the error of the whole run's value: se = sd(group values) / sqrt(groups).
import type * as hdr from 'hdr-histogram-js';
import { type HistSet, newHist } from '../machine/histograms.js';

/** The sum of the histograms called name in sets (HdrHistogram addition); undefined when none has it. Moved from src/machine/histograms.ts (the tool's, not the model's). */
export function sumOf(sets: HistSet[], name: string): hdr.Histogram | undefined {
  const parts = sets.flatMap((s) => s.get(name) ?? []);
  if (parts.length <= 1) return parts[0];
  const x = newHist();
  for (const p of parts) x.add(p);
  return x;
}

/** Fewer usable groups than this in a run: their spread says too little, compare falls back to the independent-samples test. */
export const MIN_GROUPS = 4;

/**
 * A group with fewer samples of a histogram than this has no p99 of its own (of 100 samples the
 * p99 is already the second largest): consecutive groups are pooled until each pool has this many.
 */
export const MIN_GROUP_SAMPLES = 100;

/** How many usable groups (pools) a run has, and, with at least MIN_GROUPS, the standard error their spread gives. */
export interface BatchSe {
  groups: number;
  se?: number;
}

/**
 * The groups (by index, in group order) pooled so that each pool has at least min samples: a pool
 * takes groups until it reaches min; a remainder under min joins the last pool (or is the only
 * pool). Groups without samples are left out.
 */
export function poolGroups(counts: readonly number[], min: number): number[][] {
  const pools: number[][] = [];
  let cur: number[] = [], n = 0;
  for (const [i, c] of counts.entries()) {
    if (!c) continue;
    cur.push(i);
    n += c;
    if (n >= min) {
      pools.push(cur);
      cur = [];
      n = 0;
    }
  }
  if (cur.length) {
    if (pools.length) pools[pools.length - 1].push(...cur);
    else pools.push(cur);
  }
  return pools;
}

/** Sample standard deviation (n - 1). */
export function sampleSd(xs: readonly number[]): number {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

/** The standard error of the p99 of histogram name over a run's groups: sd of the pools' p99s / sqrt(pools). */
export function p99BatchSe(groups: readonly HistSet[], name: string): BatchSe {
  const pools = poolGroups(groups.map((g) => g.get(name)?.totalCount ?? 0), MIN_GROUP_SAMPLES);
  if (pools.length < MIN_GROUPS) return { groups: pools.length };
  const p99s = pools.map((p) => sumOf(p.map((i) => groups[i]), name)!.getValueAtPercentile(99));
  return { groups: pools.length, se: sampleSd(p99s) / Math.sqrt(pools.length) };
}

/**
 * The standard error of the rate K/D (K events over D operations or faults in all) from its
 * groups' shares [k_g, d_g]: the ratio estimator's batch-means variance over the B groups with
 * d_g > 0, se^2 = B/(B-1) * sum_g (k_g - d_g K/D)^2 / D^2, i.e. each group's rate k_g/d_g weighted
 * by its share of the denominator (equal shares: sd(group rates)^2 / B).
 */
export function rateBatchSe(parts: readonly (readonly [number, number])[]): BatchSe {
  const used = parts.filter(([, d]) => d > 0);
  const B = used.length;
  if (B < MIN_GROUPS) return { groups: B };
  const K = used.reduce((a, [k]) => a + k, 0), D = used.reduce((a, [, d]) => a + d, 0);
  const ss = used.reduce((a, [k, d]) => a + (k - (d * K) / D) ** 2, 0);
  return { groups: B, se: Math.sqrt((B / (B - 1)) * ss) / D };
}
