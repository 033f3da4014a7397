// Seed groups: a run's seeds dealt into SEED_GROUPS groups, each keeping its own histograms and
// counts (histograms.json `seedGroups`), so compare can measure sampling noise between groups of
// seeds (batch means, src/report/batch-means.ts). The unit of independent sampling is the seed:
// one seed's workload and machine state drive hundreds of its operations, so they are correlated
// and a test that takes every operation as an independent sample understates the noise.
//
// The rule: seed s is in group floor(s / V) mod SEED_GROUPS, V the config's number of variants (1
// without). A variant is chosen by s mod V (src/engine/variants.ts), so every aligned block of V
// consecutive seeds holds one seed of each variant and goes to one group: each group runs the
// variants in equal shares (up to one partial block), and the groups differ by chance only, never
// by which variants they ran (s mod 16 with 8 variants would give each group one variant, and the
// variant differences would be measured as noise). The group depends on the seed and V alone: not
// on the first seed, the shard, the worker or the order seeds end, so shards' groups add up, group
// by group, to the unsharded run's (merge), and runs of one config on other seeds group alike.
import type { Config } from '../config/config.js';
import { type EncodedHists, HistSet, type Unit } from '../machine/histograms.js';

export const SEED_GROUPS = 16;

/** How compare and merge tell the rule a folder's groups were made by. */
export const SEED_GROUP_RULE = `seed s is in group floor(s / variants) mod ${SEED_GROUPS}`;

/** V: the config's number of variants, 1 without. */
export function variantCount(cfg: Pick<Config, 'variants'>): number {
  return cfg.variants?.length || 1;
}

/** The group (0 .. SEED_GROUPS-1) of seed in a run of `variants` variants: floor(seed / variants) mod SEED_GROUPS. */
export function seedGroup(seed: number, variants: number): number {
  const k = Math.floor(seed / Math.max(1, variants));
  return ((k % SEED_GROUPS) + SEED_GROUPS) % SEED_GROUPS;
}

/** One group's share of a run: its seeds, the ops and events they counted, their histograms. */
export interface GroupTotals {
  seeds: number;
  ops: Record<string, number>;
  events: Record<string, number>;
  hist: HistSet;
}

export function emptyGroups(unit: Unit): GroupTotals[] {
  return Array.from({ length: SEED_GROUPS }, () => ({ seeds: 0, ops: {}, events: {}, hist: new HistSet(unit) }));
}

/** histograms.json's `seedGroups`: the rule, V, and per group (in group order) its counts and encoded histograms (as the file's `h`). */
export interface EncodedSeedGroups {
  rule: string;
  variants: number;
  groups: { seeds: number; ops: Record<string, number>; events: Record<string, number>; h: EncodedHists['h'] }[];
}

export function encodeSeedGroups(groups: GroupTotals[], variants: number): EncodedSeedGroups {
  return { rule: SEED_GROUP_RULE, variants, groups: groups.map((g) => ({ seeds: g.seeds, ops: g.ops, events: g.events, h: g.hist.encode().h })) };
}

export function decodeSeedGroups(e: EncodedSeedGroups, unit: Unit): GroupTotals[] {
  return e.groups.map((g) => ({ seeds: g.seeds, ops: g.ops, events: g.events, hist: HistSet.decode({ unit, h: g.h }) }));
}

/**
 * Why a folder's groups cannot be added to a run of `variants` variants (made by another rule or
 * group count), or undefined when they can.
 */
export function groupsMismatch(e: EncodedSeedGroups, variants: number): string | undefined {
  if (e.rule !== SEED_GROUP_RULE || e.groups.length !== SEED_GROUPS) return `its seed groups follow "${e.rule}" (${e.groups.length} groups), not "${SEED_GROUP_RULE}"`;
  if (e.variants !== variants) return `its seed groups were made for ${e.variants} variant(s), the config has ${variants}`;
  return undefined;
}
