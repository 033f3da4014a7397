// foliostorm merge: results folders of one config (the shards of a nightly run, or runs of other
// seeds) combined into one results folder, as if one run had run every seed: counts add,
// histograms add (HdrHistogram addition of histograms.json, never percentile averaging), the
// per-seed records are concatenated and traceHash recomputed over them in seed order, violations
// are grouped by signature again and the smallest seeds' artifacts copied. The seed groups of
// histograms.json add group by group (a seed's group depends only on it and the config).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Config } from '../config/config.js';
import { configDifferences, shownValue } from './config-diff.js';
import type { RunResult, ViolationRecord } from '../engine/result.js';
import { EXIT_INTERRUPTED, EXIT_OK, EXIT_VIOLATIONS } from './exit-codes.js';
import { type Shard, shardLabel } from '../engine/shard.js';
import { Aggregate } from './aggregate.js';
import { HistSet } from '../machine/histograms.js';
import { readHistograms, readSummary, ResultsInputError, unitOf } from './folder.js';
import { decodeSeedGroups, type GroupTotals, groupsMismatch, variantCount } from './seed-groups.js';
import { writeSummaryOutputs } from './outputs.js';
import { ResultsWriter, signatureId } from './results.js';
import { buildSummary, renderSummary, type Summary } from './summary.js';

/** Config fields that may differ between the folders merged: which seeds ran, and for how long. */
export const MERGE_FREE_FIELDS = ['seed', 'seeds', 'duration', 'workers'] as const;

/** What a merged summary.json adds: the folders it came from. */
export interface MergeRecord {
  from: { dir: string; runId: unknown; shard?: Shard; seeds: number; interrupted: boolean; wallSeconds: number; version: string }[];
  /** every input was a shard of N: the shard indices (1-based) none of them ran */
  missingShards?: number[];
}

export type MergedSummary = Summary & { merged: MergeRecord };

export interface MergeResult {
  summary: MergedSummary;
  dir: string;
  text: string;
  exitCode: number;
  /** things worth saying that do not stop the merge (a missing shard, different tool versions) */
  warnings: string[];
}

interface Input {
  dir: string;
  summary: Summary;
  hist: HistSet;
  /** its seed groups (undefined: written before seed groups, or by another rule) */
  groups?: GroupTotals[];
}

/** Every input must come from the same config, apart from MERGE_FREE_FIELDS; errors name both folders and the field. */
function checkCompatible(inputs: Input[]): void {
  const [a] = inputs;
  for (const b of inputs.slice(1)) {
    if (a.summary.engine !== b.summary.engine) throw new ResultsInputError(`${a.dir} and ${b.dir} cannot be merged: field "engine" is "${a.summary.engine}" in one and "${b.summary.engine}" in the other (histograms in ${unitOf(a.summary)} and ${unitOf(b.summary)})`);
    const [d] = configDifferences(a.summary.config, b.summary.config, MERGE_FREE_FIELDS);
    if (d) throw new ResultsInputError(`${a.dir} and ${b.dir} cannot be merged: config field "${d.field}" is ${shownValue(d.a)} in one and ${shownValue(d.b)} in the other (only ${MERGE_FREE_FIELDS.join(', ')} and the shard may differ)`);
  }
}

/** Per seed of an input: its record with empty counts (the input's totals are added once, whole). */
function seedResults(inp: Input): RunResult[] {
  const s = inp.summary;
  const empty = new HistSet(unitOf(s)).encode();
  return s.perSeed.map((p) => {
    // the summary's fields of each violation; cpu, step and events live in its artifact, copied as is
    const violations: ViolationRecord[] = s.violations.filter((v) => v.seed === p.seed).map((v) => ({ ...v, engine: s.engine, cpu: -1, step: -1, events: [] }));
    if (violations.length !== p.violations) throw new ResultsInputError(`${join(inp.dir, 'summary.json')}: field "perSeed": seed ${p.seed} has ${p.violations} violation(s), field "violations" lists ${violations.length}`);
    return { seed: p.seed, engine: s.engine, steps: p.steps, ops: {}, events: {}, hist: empty, violations, traceHash: p.traceHash, wallMs: 0, ...(p.variant ? { variant: p.variant } : {}) };
  });
}

/** The input's copy of a violation's artifact, if it kept one. */
function inputArtifact(inp: Input, v: ViolationRecord): string | undefined {
  const dir = join(inp.dir, 'failures', signatureId(v.signature));
  const names = [...(v.artifact ? [basename(v.artifact)] : []), `seed-${v.seed}.json`];
  return names.map((n) => join(dir, n)).find((f) => existsSync(f));
}

/**
 * Merge the results folders dirs into the folder out (created; it must not exist or be empty).
 * Throws ResultsInputError for bad input (missing folder or file, incompatible configs, a seed
 * in two folders, out not empty).
 */
export function mergeFolders(dirs: string[], opts: { out: string; version: string }): MergeResult {
  if (!dirs.length) throw new ResultsInputError('merge: name at least one results folder');
  const warnings: string[] = [];
  const inputs: Input[] = dirs.map((dir) => {
    const summary = readSummary(dir);
    const e = readHistograms(dir, summary);
    // groups made by another rule cannot be added group by group
    const why = e.seedGroups ? groupsMismatch(e.seedGroups, variantCount(summary.config)) : `it has no seed groups (written before them)`;
    if (why) warnings.push(`${dir}: ${why}: the merged folder has no seed groups either (compare falls back to its independent-samples noise test)`);
    return { dir, summary, hist: HistSet.decode(e), groups: why ? undefined : decodeSeedGroups(e.seedGroups!, e.unit) };
  });
  checkCompatible(inputs);
  const out = resolve(opts.out);
  if (existsSync(out) && readdirSync(out).length) throw new ResultsInputError(`--out ${opts.out}: already exists and is not empty (merge writes a new results folder)`);

  // every seed once: a seed in two folders would be counted twice
  const owner = new Map<number, string>();
  for (const inp of inputs) {
    for (const p of inp.summary.perSeed) {
      const other = owner.get(p.seed);
      if (other !== undefined) throw new ResultsInputError(`${other} and ${inp.dir} both ran seed ${p.seed}: overlapping folders (the same shard twice?) would count it twice`);
      owner.set(p.seed, inp.dir);
    }
  }

  const counts = new Set(inputs.map((i) => i.summary.shard?.count));
  let missingShards: number[] | undefined;
  if (counts.size === 1 && [...counts][0] !== undefined) {
    const n = [...counts][0]!;
    const have = new Set(inputs.map((i) => i.summary.shard!.index));
    missingShards = Array.from({ length: n }, (_, i) => i + 1).filter((k) => !have.has(k));
    if (missingShards.length) warnings.push(`shards ${missingShards.map((k) => `${k}/${n}`).join(', ')} are missing: the merged folder does not cover the whole run`);
  }
  const versions = [...new Set(inputs.map((i) => i.summary.version))];
  if (versions.length > 1) warnings.push(`the folders come from foliostorm versions ${versions.join(', ')}: a seed may not run the same in each`);

  const unit = unitOf(inputs[0].summary);
  // the configs agree on variants (checkCompatible), hence on every seed's group
  const agg = new Aggregate(unit, variantCount(inputs[0].summary.config));
  for (const inp of inputs) {
    for (const r of seedResults(inp)) agg.add(r);
    agg.addTotals({ ops: inp.summary.ops, events: inp.summary.events, hist: inp.hist, groups: inp.groups });
  }

  const cfg = mergedConfig(inputs.map((i) => i.summary.config), agg.results.length);
  const w = new ResultsWriter(dirname(out), basename(out), { label: '--out' });
  // artifacts in seed order (agg.violations is), so the smallest seeds of each signature are kept
  const from = new Map(inputs.flatMap((inp) => inp.summary.perSeed.map((p) => [p.seed, inp] as const)));
  // one artifact per signature and seed, like the run's (LiveArtifacts): a seed that broke an
  // invariant twice shows it once
  const placed = new Set<string>();
  for (const v of agg.violations) {
    const key = `${v.signature}\0${v.seed}`;
    if (placed.has(key)) {
      v.artifact = undefined;
      continue;
    }
    placed.add(key);
    const src = inputArtifact(from.get(v.seed)!, v);
    v.artifact = src ? w.placeArtifact(v.signature, basename(src), (shownAs) => ({ ...(JSON.parse(readFileSync(src, 'utf8')) as object), replay: `npx foliostorm repro ${shownAs}` })) : undefined;
  }
  w.histograms(agg.hist, agg.encodedGroups());
  const interrupted = inputs.some((i) => i.summary.interrupted);
  const wallSeconds = Math.max(...inputs.map((i) => i.summary.wallSeconds));
  const summary: MergedSummary = {
    ...buildSummary(cfg, agg, { runId: basename(out), version: opts.version, wallSeconds, interrupted }),
    merged: {
      from: inputs.map((i) => ({ dir: i.dir, runId: (i.summary as unknown as { runId?: unknown }).runId, shard: i.summary.shard, seeds: i.summary.seeds.count, interrupted: i.summary.interrupted, wallSeconds: i.summary.wallSeconds, version: i.summary.version })),
      missingShards,
    },
  };
  writeSummaryOutputs(w, summary);
  const exitCode = interrupted ? EXIT_INTERRUPTED : summary.violations.length ? EXIT_VIOLATIONS : EXIT_OK;
  const shards = inputs.filter((i) => i.summary.shard).map((i) => shardLabel(i.summary.shard!));
  const text = `${renderSummary(summary, w.dir)}\n  merged    ${inputs.length} folder(s)${shards.length ? ` (shards ${shards.join(', ')})` : ''}${warnings.map((x) => `\n  WARNING   ${x}`).join('')}`;
  return { summary, dir: w.dir, text, exitCode, warnings };
}

/**
 * The merged run's config: the first folder's, with seed the smallest first seed; seeds and
 * duration kept when every folder agrees (shards of one run do), else seeds = the seeds merged and
 * duration the longest.
 */
function mergedConfig(cfgs: Config[], seedsMerged: number): Config {
  const same = <K extends keyof Config>(k: K) => cfgs.every((c) => c[k] === cfgs[0][k]);
  return {
    ...cfgs[0],
    seed: Math.min(...cfgs.map((c) => c.seed)),
    seeds: same('seeds') ? cfgs[0].seeds : seedsMerged,
    duration: same('duration') ? cfgs[0].duration : Math.max(...cfgs.map((c) => c.duration)),
  };
}
