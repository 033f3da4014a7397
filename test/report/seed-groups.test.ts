// Seed groups: seed s is in group floor(s / V) mod 16 (V variants), whatever the first seed, the
// order seeds end or the engine; a run's histograms.json holds each group's seeds, counts and
// histograms, and they add up to the run's totals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigFile, parseConfig } from '../../src/config/config.js';
import { runCampaign } from '../../src/campaign/coordinator.js';
import type { RunResult } from '../../src/engine/result.js';
import { variantIndex } from '../../src/engine/variants.js';
import { Aggregate } from '../../src/report/aggregate.js';
import { HistSet } from '../../src/machine/histograms.js';
import { decodeSeedGroups, type EncodedSeedGroups, SEED_GROUPS, seedGroup, variantCount } from '../../src/report/seed-groups.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'foliostorm-groups-'));
const readJson = (f: string) => JSON.parse(readFileSync(f, 'utf8'));

test('seedGroup: floor(seed / V) mod 16; blocks of V consecutive seeds, one of every variant, share a group', () => {
  assert.deepEqual(Array.from({ length: 18 }, (_, s) => seedGroup(s, 1)), [...Array.from({ length: 16 }, (_, i) => i), 0, 1]);
  assert.deepEqual([0, 7, 8, 15, 16, 127, 128, 1001].map((s) => seedGroup(s, 8)), [0, 0, 1, 1, 2, 15, 0, 13]);
  // with the nightly's 8 variants, every group runs every variant equally often (variant = s mod 8)
  const nightly = loadConfigFile(fileURLToPath(new URL('../../../configs/nightly.json', import.meta.url)));
  const V = variantCount(nightly);
  assert.equal(V, 8);
  const perGroup = Array.from({ length: SEED_GROUPS }, () => Array<number>(V).fill(0));
  for (let s = 1; s <= 1024 * 8; s++) perGroup[seedGroup(s, V)][variantIndex(nightly, s)!]++;
  for (const g of perGroup) assert.deepEqual(g, Array(V).fill(64), 'each group holds each variant 64 times');
  assert.equal(variantCount(parseConfig({})), 1);
});

/** A made-up seed result: n samples of value v in "fault", one op and one event per sample. */
const result = (seed: number, n: number, v: number): RunResult => {
  const h = new HistSet('steps');
  for (let i = 0; i < n; i++) h.record('fault', v);
  return { seed, engine: 'sched', steps: 1, ops: { touch: n }, events: { fault: n }, hist: h.encode(), violations: [], wallMs: 0 };
};

test('Aggregate: each seed counts in its group only; the groups add up to the totals; the order seeds end in does not matter', () => {
  const seeds = Array.from({ length: 40 }, (_, i) => 5 + i);
  const a = new Aggregate('steps', 2), b = new Aggregate('steps', 2);
  for (const s of seeds) a.add(result(s, s, s));
  for (const s of [...seeds].reverse()) b.add(result(s, s, s));
  const ea = a.encodedGroups()!;
  assert.deepEqual(ea, b.encodedGroups());
  assert.equal(ea.variants, 2);
  assert.equal(ea.groups.length, SEED_GROUPS);
  const groups = decodeSeedGroups(ea, 'steps');
  for (const [g, x] of groups.entries()) {
    const mine = seeds.filter((s) => seedGroup(s, 2) === g);
    assert.equal(x.seeds, mine.length, `group ${g} seeds`);
    assert.equal(x.ops.touch ?? 0, mine.reduce((t, s) => t + s, 0), `group ${g} ops`);
    assert.equal(x.hist.get('fault')?.totalCount ?? 0, mine.reduce((t, s) => t + s, 0), `group ${g} samples`);
    // every sample of a group is one of its own seeds' values
    if (mine.length) assert.deepEqual([x.hist.get('fault')!.minNonZeroValue, x.hist.get('fault')!.maxValue], [Math.min(...mine), Math.max(...mine)]);
  }
  const sum = new HistSet('steps');
  for (const x of groups) sum.add(x.hist);
  assert.deepEqual(sum.summaries(), a.hist.summaries());
});

test('a run writes its seed groups into histograms.json (sched and threads): seeds by the rule, histograms adding up to the totals', async () => {
  for (const engine of ['sched', 'threads'] as const) {
    const cfg = parseConfig({ name: `groups-${engine}`, engine, cpus: 2, workers: 2, opsPerCpu: 20, seed: 3, seeds: 6, duration: 0, variants: [{ arch: 'generic' }, { arch: 'contpte' }] });
    const r = await runCampaign(cfg, { out: tmp(), seedsGiven: true, quiet: true, version: 't' });
    const e = readJson(join(r.dir, 'histograms.json')) as { unit: 'steps' | 'ns'; h: Record<string, string>; seedGroups: EncodedSeedGroups };
    assert.equal(e.unit, engine === 'sched' ? 'steps' : 'ns');
    assert.equal(e.seedGroups.variants, 2);
    // seeds 3..8 with 2 variants: groups 1, 2, 2, 3, 3, 4
    assert.deepEqual(e.seedGroups.groups.map((g) => g.seeds), [0, 1, 2, 2, 1, ...Array(11).fill(0)], engine);
    const groups = decodeSeedGroups(e.seedGroups, e.unit);
    const sum = new HistSet(e.unit);
    for (const g of groups) sum.add(g.hist);
    assert.deepEqual(sum.summaries(), HistSet.decode(e).summaries(), engine);
    const ops = groups.reduce((t, g) => t + (g.ops.touch ?? 0), 0);
    assert.equal(ops, r.summary.ops.touch, engine);
    assert.equal(groups.reduce((t, g) => t + (g.events.fault ?? 0), 0), r.summary.events.fault, engine);
  }
});
