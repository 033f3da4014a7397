// foliostorm compare BASE NEW: synthetic results folders (summary.json built from made-up runs)
// showing a pass, a p99 regression, a rate regression, new signatures, and bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../src/config/config.js';
import type { RunResult, ViolationRecord } from '../../src/engine/result.js';
import { Aggregate } from '../../src/report/aggregate.js';
import { HistSet } from '../../src/machine/histograms.js';
import { buildSummary } from '../../src/report/summary.js';
import { change, compareFolders, isDeviationFree, p99Bounds, rateZ, renderComparison } from '../../src/report/compare.js';
import { ResultsInputError } from '../../src/report/folder.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'foliostorm-compare-'));

interface Fake {
  engine?: 'sched' | 'threads';
  /** fault latencies: 1..1000 times this factor */
  faultScale?: number;
  refaults?: number;
  forkTlbi?: number;
  violations?: string[];
  fragmentation?: number;
  /** fork latencies: this many of the 200 made 500 steps (a tail two seeds can differ in by chance) */
  forkTail?: number;
  /** leave out histograms.json (a folder from before it existed) */
  noHistograms?: boolean;
}

/** A results folder whose summary.json is what a run of these made-up numbers would write. */
function folder(name: string, f: Fake = {}): string {
  const engine = f.engine ?? 'sched';
  const h = new HistSet(engine === 'sched' ? 'steps' : 'ns');
  for (let i = 1; i <= 1000; i++) h.record('fault', Math.round(i * (f.faultScale ?? 1)));
  for (let i = 0; i < 1000; i++) h.record('ptl.wait', i % 50);
  for (let i = 0; i < 200; i++) h.record('op.fork', i < (f.forkTail ?? 0) ? 500 : 100 + (i % 20));
  const violations = (f.violations ?? []).map((signature): ViolationRecord => ({ signature, invariant: signature.split('@')[0], path: 'quiescent', details: {}, cpu: 0, seed: 1, engine, step: 5, events: [] }));
  const r: RunResult = {
    seed: 1, engine, steps: 10_000, wallMs: 1,
    ops: { touch: 800, fork: 200 },
    events: { fault: 1000, 'fault.anon': 1000, 'anon.refault': f.refaults ?? 10, 'anon.recheckPteChanged': 20, 'cost.fork.tlbiRange': f.forkTlbi ?? 50, 'tlb.flushRange': 300 },
    hist: h.encode(), violations, traceHash: engine === 'sched' ? '0123456789abcdef' : undefined,
  };
  const agg = new Aggregate(h.unit);
  agg.add(r);
  const cfg = parseConfig({ name: 'cmp', engine, fragmentation: f.fragmentation ?? 0.05 });
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'summary.json'), JSON.stringify(buildSummary(cfg, agg, { runId: name, version: 'test', wallSeconds: 1, interrupted: false })));
  if (!f.noHistograms) writeFileSync(join(dir, 'histograms.json'), JSON.stringify(h.encode()));
  return dir;
}

const base = folder('base');

test('change() in percent; from zero it is null', () => {
  assert.equal(change(100, 150), 50);
  assert.equal(change(80, 60), -25);
  assert.equal(change(0, 0), 0);
  assert.equal(change(0, 3), null);
  assert.ok(isDeviationFree('mapcount-mismatch@quiescent'));
  assert.ok(!isDeviationFree('mapcount-mismatch@quiescent[fault-no-recheck]'));
});

test('two runs of the same numbers pass, and the table has every histogram and the rates', () => {
  const c = compareFolders(base, folder('same'), { maxRegression: 5 });
  assert.equal(c.pass, true);
  assert.deepEqual(c.regressions, []);
  assert.deepEqual(c.latency.map((r) => r.name), ['op.fork', 'fault', 'ptl.wait']);
  const fault = c.latency.find((r) => r.name === 'fault')!;
  assert.equal(fault.base!.count, 1000);
  assert.deepEqual(fault.change, { count: 0, p50: 0, p99: 0, max: 0 });
  const rates = Object.fromEntries(c.rates.map((r) => [r.name, r.base]));
  assert.equal(rates['refaults/fault'], 0.01);
  assert.equal(rates['recheck-changed/fault'], 0.02);
  assert.equal(rates['tlbi/op fork'], 0.25);
  assert.match(renderComparison(c), /PASS \(--max-regression 5%\)/);
});

test('a p99 worse by more than PCT fails the gate, naming the histogram; within PCT it passes', () => {
  const slow = folder('slow', { faultScale: 1.3 });
  const c = compareFolders(base, slow, { maxRegression: 10 });
  assert.equal(c.pass, false);
  const fault = c.latency.find((r) => r.name === 'fault')!;
  assert.equal(fault.regression, true);
  assert.ok(fault.change!.p99! > 25 && fault.change!.p99! < 35, String(fault.change!.p99));
  assert.equal(c.regressions.length, 1);
  assert.match(c.regressions[0], /^p99 of fault: \d+ -> \d+ steps \(\+\d+(\.\d)?% > 10%; p99 within \[\d+, \d+\] -> \[\d+, \d+\]\)$/);
  assert.match(renderComparison(c), /FAIL \(--max-regression 10%\): 1 regression/);
  // the same pair with a threshold above the change passes; without a threshold there is no gate
  assert.equal(compareFolders(base, slow, { maxRegression: 40 }).pass, true);
  const ungated = compareFolders(base, slow);
  assert.equal(ungated.pass, true);
  assert.equal(ungated.latency.find((r) => r.name === 'fault')!.regression, false);
  // a faster NEW is no regression
  assert.equal(compareFolders(slow, base, { maxRegression: 10 }).pass, true);
});

test('an event rate worse by more than PCT fails the gate: refaults per fault, TLB invalidations per fork', () => {
  const c = compareFolders(base, folder('refaulty', { refaults: 30, forkTlbi: 56 }), { maxRegression: 20 });
  assert.equal(c.pass, false);
  const r = Object.fromEntries(c.rates.map((x) => [x.name, x]));
  assert.equal(r['refaults/fault'].new, 0.03);
  assert.equal(r['refaults/fault'].change, 200);
  assert.equal(r['refaults/fault'].regression, true);
  assert.equal(r['tlbi/op fork'].change, 12);
  assert.equal(r['tlbi/op fork'].regression, false, '+12% is within 20%');
  assert.deepEqual(c.regressions, ['refaults/fault: 0.0100 -> 0.0300 (+200% > 20%, z 3.2)']);
  // a rate growing from zero is a regression at any threshold
  const z = compareFolders(folder('norefault', { refaults: 0 }), base, { maxRegression: 1000 });
  assert.deepEqual(z.regressions, ['refaults/fault: 0 -> 0.0100 (from 0, z 3.2)']);
});

test('sampling noise: a p99 or a rate worse by more than PCT but within chance does not fail the gate; without histograms.json the p99 is judged as it is', () => {
  // 3 of 200 forks took 500 steps instead of ~110: p99 +300%, but 200 samples cannot tell p99 from p98.5
  const tail = folder('tail', { forkTail: 3 });
  const c = compareFolders(base, tail, { maxRegression: 10 });
  const fork = c.latency.find((r) => r.name === 'op.fork')!;
  assert.ok(fork.change!.p99! > 100, String(fork.change!.p99));
  assert.equal(fork.significant, false);
  assert.equal(fork.regression, false);
  assert.ok(fork.p99Interval!.new[0] <= fork.p99Interval!.base[1], JSON.stringify(fork.p99Interval));
  assert.equal(c.noiseTest, true);
  assert.equal(c.pass, true, c.regressions.join('; '));
  assert.match(renderComparison(c), /op\.fork .*order stats  \(within noise: order statistics\)/);
  // the same tail in a fifth of the samples is real (20 of 200 is beyond any p99 interval of 200)
  const heavy = compareFolders(base, folder('heavy-tail', { forkTail: 20 }), { maxRegression: 10 });
  assert.equal(heavy.latency.find((r) => r.name === 'op.fork')!.regression, true);
  // folders without histograms.json: no interval, the p99 alone decides (as before the noise test)
  const old = compareFolders(folder('old-base', { noHistograms: true }), folder('old-tail', { forkTail: 3, noHistograms: true }), { maxRegression: 10 });
  assert.equal(old.noiseTest, false);
  assert.equal(old.latency.find((r) => r.name === 'op.fork')!.significant, undefined);
  assert.equal(old.pass, false);
  assert.match(renderComparison(old), /not tested here: a folder has no histograms\.json/);
  // refaults 10 -> 14 of 1000 faults: +40%, z 0.8
  const r = compareFolders(base, folder('refault14', { refaults: 14 }), { maxRegression: 20 });
  const rf = r.rates.find((x) => x.name === 'refaults/fault')!;
  assert.equal(rf.change, 40);
  assert.ok(rf.z! > 0.5 && rf.z! < 1, String(rf.z));
  assert.equal(rf.regression, false);
  assert.equal(r.pass, true);
});

test('p99Bounds and rateZ', () => {
  const [lo, hi] = p99Bounds(10_000);
  assert.ok(Math.abs(lo - 98.7015) < 1e-3 && Math.abs(hi - 99.2985) < 1e-3, `${lo} ${hi}`);
  assert.ok(Math.abs(p99Bounds(1)[0] - 69.15) < 0.01 && p99Bounds(1)[1] === 100);
  assert.equal(rateZ(0, 10, 0, 10), 0);
  assert.equal(rateZ(100, 1000, 100, 1000), 0);
  // 100 vs 200 events per 1000: (0.2 - 0.1) / sqrt(100/1e6 + 200/1e6)
  assert.ok(Math.abs(rateZ(100, 1000, 200, 1000) - 0.1 / Math.sqrt(3e-4)) < 1e-9);
  assert.ok(rateZ(200, 1000, 100, 1000) < 0);
});

test('new signatures are listed; a new deviation-free one fails the gate, one caused by an injected deviation does not', () => {
  const withBug = folder('bug', { violations: ['mapcount-mismatch@quiescent', 'rss-mismatch@quiescent[fault-no-recheck]'] });
  const c = compareFolders(base, withBug, { maxRegression: 10 });
  assert.deepEqual(c.newSignatures.map((g) => [g.signature, g.deviationFree, g.count, g.smallestSeed]), [
    ['mapcount-mismatch@quiescent', true, 1, 1],
    ['rss-mismatch@quiescent[fault-no-recheck]', false, 1, 1],
  ]);
  assert.equal(c.pass, false);
  assert.deepEqual(c.regressions, ['new deviation-free signature mapcount-mismatch@quiescent (x1, smallest seed 1)']);
  assert.match(renderComparison(c), /mapcount-mismatch@quiescent x1 \(smallest seed 1\): deviation-free: a REAL FINDING/);
  const injected = compareFolders(base, folder('injected', { violations: ['rss-mismatch@quiescent[fault-no-recheck]'] }), { maxRegression: 10 });
  assert.equal(injected.newSignatures.length, 1);
  assert.equal(injected.pass, true);
  // a signature both runs have is not new; one only BASE had is gone
  const back = compareFolders(withBug, base, { maxRegression: 10 });
  assert.deepEqual(back.newSignatures, []);
  assert.deepEqual(back.goneSignatures, ['mapcount-mismatch@quiescent', 'rss-mismatch@quiescent[fault-no-recheck]']);
  assert.equal(back.pass, true);
});

test('compare names the config fields that changed', () => {
  const c = compareFolders(base, folder('frag', { fragmentation: 0.5 }));
  assert.deepEqual(c.config, [{ field: 'fragmentation', a: 0.05, b: 0.5 }]);
  assert.match(renderComparison(c), /config changed: fragmentation 0\.05 -> 0\.5/);
});

test('bad input: a missing folder, a folder without summary.json, sched against threads', () => {
  const bad = (b: string, n: string, msg: RegExp) => assert.throws(() => compareFolders(b, n), (e: Error) => e instanceof ResultsInputError && msg.test(e.message));
  bad(base, join(root, 'nope'), /nope: no such results folder/);
  const empty = join(root, 'empty');
  mkdirSync(empty);
  bad(empty, base, /empty: no summary\.json/);
  bad(base, folder('threads', { engine: 'threads' }), /is a sched run \(latency in steps\) and .*threads a threads run \(latency in ns\): their latencies cannot be compared/);
  assert.throws(() => compareFolders(base, base, { maxRegression: -1 }), /--max-regression: must be a percentage >= 0/);
});

test('the CLI: exit 1 on a regression with --max-regression (--json), 2 on bad input', () => {
  const slow = folder('cli-slow', { faultScale: 2 });
  const cli = (args: string[]) => spawnSync(process.execPath, [CLI, 'compare', ...args], { encoding: 'utf8', timeout: 60_000 });
  const r = cli([base, slow, '--max-regression', '10', '--json']);
  assert.equal(r.status, 1, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.pass, false);
  assert.match(j.regressions[0], /^p99 of fault/);
  const m = cli([base, join(root, 'missing')]);
  assert.equal(m.status, 2, m.stderr);
  assert.match(m.stderr, /missing: no such results folder/);
  const n = cli([base, slow, '--max-regression', 'abc']);
  assert.equal(n.status, 2, n.stderr);
  assert.match(n.stderr, /--max-regression: must be a percentage >= 0, found something that is not a number/);
});

// Seed groups: folders whose 16 seed groups (seed g in group g) are made up directly, to show what
// the batch-means noise test measures that the independent-samples tests cannot.
interface Group {
  /** the group's fault latencies: 1000 samples, 960 spread over 1..50, then up to p97, p98, p99 and max */
  p97: number;
  p98: number;
  p99: number;
  max: number;
  /** refaults per 10000 anon faults */
  refaults: number;
  /** op.fork samples (all 100 steps) */
  forks?: number;
}

function groupedFolder(name: string, groups: Group[], opts: { noGroups?: boolean } = {}): string {
  const agg = new Aggregate('steps');
  for (const [seed, g] of groups.entries()) {
    const h = new HistSet('steps');
    const ramp = (from: number, to: number, n: number) => Array.from({ length: n }, (_, i) => from + ((to - from) * (i + 1)) / n);
    for (const v of [...ramp(0, 50, 960), ...ramp(50, g.p97, 10), ...ramp(g.p97, g.p98, 10), ...ramp(g.p98, g.p99, 10), ...ramp(g.p99, g.max, 10)]) h.record('fault', v);
    for (let i = 0; i < (g.forks ?? 0); i++) h.record('op.fork', 100);
    agg.add({ seed, engine: 'sched', steps: 1, wallMs: 1, ops: { touch: 1000, fork: g.forks ?? 0 }, events: { fault: 10_000, 'fault.anon': 10_000, 'anon.refault': g.refaults }, hist: h.encode(), violations: [] });
  }
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'summary.json'), JSON.stringify(buildSummary(parseConfig({ name: 'cmp' }), agg, { runId: name, version: 'test', wallSeconds: 1, interrupted: false })));
  writeFileSync(join(dir, 'histograms.json'), JSON.stringify({ ...agg.hist.encode(), ...(opts.noGroups ? {} : { seedGroups: agg.encodedGroups() }) }));
  return dir;
}

const G = Array.from({ length: 16 }, (_, g) => g);
// BASE: every group's p99 within 2 of 100, 100 refaults per 10000 faults
const steady = (g: number): Group => ({ p97: 90, p98: 95, p99: 100 + (g % 5) - 2, max: 110, refaults: 100, forks: 30 });
// NEW, correlated: the seeds of one group run alike, and half the groups are fast (p99 80, refaults
// 0.5%), half slow (p99 140, refaults 2%): overall p99 100 -> 120 and refaults 1% -> 1.25%, but
// 16 groups this far apart say the run's p99 and rate are known to +-8 and +-0.2%
const correlated = (g: number): Group => (g % 2 ? { p97: 110, p98: 120, p99: 140, max: 160, refaults: 200, forks: 30 } : { p97: 75, p98: 78, p99: 80, max: 85, refaults: 50, forks: 30 });

test('seed groups: a change the independent-samples tests call real but the groups show to be within their spread passes', () => {
  const base = groupedFolder('g-base', G.map(steady));
  const c = compareFolders(base, groupedFolder('g-correlated', G.map(correlated)), { maxRegression: 10 });
  assert.equal(c.seedGroups, true);
  const fault = c.latency.find((r) => r.name === 'fault')!;
  assert.ok(fault.change!.p99! > 15, String(fault.change!.p99));
  // the order-statistics intervals no longer overlap: the old test would have failed the gate
  assert.ok(fault.p99Interval!.new[0] > fault.p99Interval!.base[1], JSON.stringify(fault.p99Interval));
  assert.equal(fault.noise!.test, 'seed-groups');
  assert.deepEqual(fault.noise!.groups, { base: 16, new: 16 });
  assert.ok(fault.noise!.se!.new > 7 && fault.noise!.se!.new < 8.5, JSON.stringify(fault.noise)); // sd(80, 140, ...) / 4
  assert.ok(fault.noise!.z! > 1 && fault.noise!.z! < 3, JSON.stringify(fault.noise));
  assert.equal(fault.significant, false);
  assert.equal(fault.regression, false);
  // the same for the rate: Poisson z above 3, the groups' z below
  const rf = c.rates.find((r) => r.name === 'refaults/fault')!;
  assert.equal(rf.change, 25);
  assert.ok(rateZ(1600, 160_000, 2000, 160_000) > 3);
  assert.equal(rf.noise!.test, 'seed-groups');
  assert.ok(rf.z! > 0.5 && rf.z! < 3, JSON.stringify(rf.noise));
  assert.equal(rf.regression, false);
  assert.equal(c.pass, true, c.regressions.join('; '));
  const text = renderComparison(c);
  assert.match(text, /fault .* z \d\.\d, 16 groups +\(within noise: 16 seed groups\)/);
  assert.match(text, /refaults\/fault .* z \d\.\d, 16 groups +\(within noise: 16 seed groups\)/);
  assert.match(text, /measured between seed groups \(batch means\)/);
  // the same folders without seed groups: judged as before, and both changes fail the gate
  const old = compareFolders(groupedFolder('g-base-old', G.map(steady), { noGroups: true }), groupedFolder('g-correlated-old', G.map(correlated), { noGroups: true }), { maxRegression: 10 });
  assert.equal(old.seedGroups, false);
  assert.equal(old.latency.find((r) => r.name === 'fault')!.noise!.test, 'order-statistics');
  assert.equal(old.rates.find((r) => r.name === 'refaults/fault')!.noise!.test, 'poisson');
  assert.deepEqual(old.regressions.map((r) => r.split(':')[0]), ['p99 of fault', 'refaults/fault']);
  assert.match(renderComparison(old), /A folder has no seed groups\n   \(written before them\)/);
});

test('seed groups: a real shift (every group 30% slower, refaults up 30%, small spread) fails the gate', () => {
  const base = groupedFolder('g-base2', G.map(steady));
  const slower = (g: number): Group => ({ p97: 117, p98: 123.5, p99: 130 + (g % 5) - 2, max: 143, refaults: 130 + (g % 2 ? 1 : -1), forks: 30 });
  const c = compareFolders(base, groupedFolder('g-slower', G.map(slower)), { maxRegression: 10 });
  const fault = c.latency.find((r) => r.name === 'fault')!;
  assert.equal(fault.noise!.test, 'seed-groups');
  assert.ok(fault.noise!.z! > 10, JSON.stringify(fault.noise));
  assert.equal(fault.regression, true);
  const rf = c.rates.find((r) => r.name === 'refaults/fault')!;
  assert.ok(rf.z! > 3, JSON.stringify(rf.noise));
  assert.equal(rf.regression, true);
  assert.equal(c.pass, false);
  assert.match(c.regressions[0], /^p99 of fault: \d+ -> \d+ steps \(\+\d+(\.\d)?% > 10%; z \d+(\.\d)? over 16 seed groups\)$/);
  assert.match(c.regressions[1], /^refaults\/fault: 0\.0100 -> 0\.0130 \(\+30% > 10%, z \d+(\.\d)? over 16 seed groups\)$/);
});

test('seed groups: too few usable groups for a row (small groups pooled to 100 samples), or groups in one folder only: the independent-samples test, marked', () => {
  // 30 forks per group: pools of 4 groups, 4 pools, enough; 20 per group: pools of 5, 3 pools, too few
  const forks = (n: number) => (g: number): Group => ({ ...steady(g), forks: n });
  const four = compareFolders(groupedFolder('g-forks30', G.map(forks(30))), groupedFolder('g-forks30b', G.map(forks(30))), { maxRegression: 10 });
  assert.deepEqual(four.latency.find((r) => r.name === 'op.fork')!.noise!.groups, { base: 4, new: 4 });
  assert.equal(four.latency.find((r) => r.name === 'op.fork')!.noise!.test, 'seed-groups');
  const c = compareFolders(groupedFolder('g-forks20', G.map(forks(20))), groupedFolder('g-forks30c', G.map(forks(30))), { maxRegression: 10 });
  const fork = c.latency.find((r) => r.name === 'op.fork')!;
  assert.deepEqual(fork.noise, { test: 'order-statistics', groups: { base: 3, new: 4 } });
  assert.match(renderComparison(c), /op\.fork .* order stats, 3\|4 groups/);
  assert.equal(c.latency.find((r) => r.name === 'fault')!.noise!.test, 'seed-groups');
  // NEW without seed groups: every row falls back
  const half = compareFolders(groupedFolder('g-half-base', G.map(steady)), groupedFolder('g-half-new', G.map(correlated), { noGroups: true }), { maxRegression: 10 });
  assert.equal(half.seedGroups, false);
  assert.ok(half.latency.every((r) => r.noise?.test === 'order-statistics'));
  assert.ok(half.rates.every((r) => r.noise?.test === 'poisson'));
  assert.equal(half.pass, false);
});

test('the CLI --json carries each row\'s noise test: groups, standard errors, z', () => {
  const r = spawnSync(process.execPath, [CLI, 'compare', groupedFolder('g-json-base', G.map(steady)), groupedFolder('g-json-new', G.map(correlated)), '--max-regression', '10', '--json'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.seedGroups, true);
  const fault = j.latency.find((x: { name: string }) => x.name === 'fault');
  assert.equal(fault.noise.test, 'seed-groups');
  assert.deepEqual(Object.keys(fault.noise).sort(), ['groups', 'se', 'test', 'z']);
  assert.equal(typeof fault.noise.se.base, 'number');
  const rf = j.rates.find((x: { name: string }) => x.name === 'refaults/fault');
  assert.equal(rf.z, rf.noise.z);
});
