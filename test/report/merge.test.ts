// foliostorm merge: N shards merged equal one unsharded run of the same seeds (sched), and bad
// input is refused naming the folder, file or field.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { renderJunit } from '../../src/report/junit.js';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../src/config/config.js';
import { EXIT_VIOLATIONS, runCampaign } from '../../src/campaign/coordinator.js';
import { mergeFolders } from '../../src/report/merge.js';
import { ResultsInputError } from '../../src/report/folder.js';
import { HistSet } from '../../src/machine/histograms.js';
import type { EncodedSeedGroups } from '../../src/report/seed-groups.js';
import type { Summary } from '../../src/report/summary.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'foliostorm-merge-'));
// a small sched run with a deviation switched on, so there are violations to deduplicate
// on two model variants, so what each seed ran (perSeed and violations carry it) must survive the merge
const cfg = parseConfig({ name: 'merge-test', cpus: 3, opsPerCpu: 20, workers: 1, seeds: 16, duration: 0, inject: ['fault-unaligned'], variants: [{ arch: 'generic' }, { arch: 'contpte' }] });
const SHARDS = 4;
let whole: { dir: string; summary: Summary };
const shardDirs: string[] = [];

const campaign = (out: string, shard?: { index: number; count: number }) =>
  runCampaign(cfg, { out: join(root, out), seedsGiven: true, quiet: true, version: 'test', shard });
const readJson = (f: string) => JSON.parse(readFileSync(f, 'utf8'));
const hists = (dir: string) => HistSet.decode(readJson(join(dir, 'histograms.json')));
const groupsOf = (dir: string) => readJson(join(dir, 'histograms.json')).seedGroups as EncodedSeedGroups;
const artifactsOf = (dir: string) => {
  const f = join(dir, 'failures');
  return existsSync(f) ? readdirSync(f, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => relative(f, join(e.parentPath, e.name))).sort() : [];
};

before(async () => {
  // the unsharded run and the shards at once, like N machines
  const [w, ...shards] = await Promise.all([campaign('whole'), ...Array.from({ length: SHARDS }, (_, i) => campaign('shards', { index: i + 1, count: SHARDS }))]);
  whole = w;
  shardDirs.push(...shards.map((r) => r.dir));
});

test('4 shards merged equal one unsharded sched run of the same 16 seeds: counts, histograms, signatures, traceHash', () => {
  const s = whole.summary;
  assert.ok(s.violations.length > 0 && s.signatures.length > 0, 'the deviation gives violations to merge');
  // each shard ran only its slice, and the slices differ
  const lists = shardDirs.map((d) => (readJson(join(d, 'summary.json')) as Summary).seeds.list);
  assert.deepEqual(lists[1], [2, 6, 10, 14]);
  assert.notEqual((readJson(join(shardDirs[0], 'summary.json')) as Summary).traceHash, s.traceHash);

  const out = join(root, 'merged');
  const r = mergeFolders(shardDirs, { out, version: 'test' });
  const m = r.summary;
  assert.equal(r.exitCode, EXIT_VIOLATIONS);
  assert.deepEqual(r.warnings, []);
  assert.deepEqual(readJson(join(out, 'summary.json')), JSON.parse(JSON.stringify(m)), 'what merge returns is what it wrote');
  // like a run's, the merged folder has junit.xml and report.html, made from the merged summary
  assert.equal(readFileSync(join(out, 'junit.xml'), 'utf8'), renderJunit(m));
  for (const g of m.signatures) assert.ok(readFileSync(join(out, 'report.html'), 'utf8').includes(g.signature.replace(/&/g, '&amp;').replace(/</g, '&lt;')), g.signature);
  for (const k of ['seeds', 'steps', 'ops', 'events', 'anonFault', 'folioOrders', 'tlb', 'latency', 'perSeed', 'pct', 'config', 'interrupted'] as const) assert.deepEqual(m[k], s[k], k);
  assert.equal(m.traceHash, s.traceHash);
  assert.deepEqual(new Set(m.perSeed.map((p) => p.variant)), new Set(['generic', 'contpte']), 'each seed keeps its variant');
  assert.ok(m.violations.every((v) => v.variant), 'each violation keeps its variant');
  assert.match(m.traceHash!, /^[0-9a-f]{16}$/);
  assert.ok(m.ops.touch > 0 && m.anonFault.faults > 0 && m.tlb.flushRange > 0);
  // violations and signatures: the same, in the same order; artifacts point into the merged folder
  const noArtifact = (vs: Summary['violations']) => vs.map(({ artifact: _a, ...v }) => v);
  assert.deepEqual(noArtifact(m.violations), noArtifact(s.violations));
  const sig = (g: Summary['signatures'][number]) => ({ ...g, artifacts: g.artifacts.length });
  assert.deepEqual(m.signatures.map(sig), s.signatures.map(sig));
  for (const a of m.signatures.flatMap((g) => g.artifacts)) assert.ok(a.includes('merged'), a);
  assert.deepEqual(artifactsOf(out), artifactsOf(whole.dir));
  const art = readJson(m.signatures[0].artifacts[0]);
  assert.equal(art.replay, `npx foliostorm repro ${m.signatures[0].artifacts[0]}`);
  assert.equal(art.signature, m.signatures[0].signature);
  // histograms: decoded, the same counts and percentiles; regenerated .hgrm files the same text
  const hw = hists(whole.dir), hm = hists(out);
  assert.deepEqual(hm.names(), hw.names());
  assert.ok(hw.names().includes('fault') && hw.names().includes('ptl.wait'));
  for (const n of hw.names()) {
    const a = hw.get(n)!, b = hm.get(n)!;
    assert.equal(b.totalCount, a.totalCount, n);
    for (const p of [1, 25, 50, 90, 99, 99.9, 100]) assert.equal(b.getValueAtPercentile(p), a.getValueAtPercentile(p), `${n} p${p}`);
    assert.equal(readFileSync(join(out, `${n}.hgrm`), 'utf8'), readFileSync(join(whole.dir, `${n}.hgrm`), 'utf8'), `${n}.hgrm`);
  }
  // the seed groups too, group by group: the same seeds, counts and histograms as the unsharded run's
  const gw = groupsOf(whole.dir), gm = groupsOf(out);
  assert.equal(gm.variants, 2);
  assert.equal(gm.groups.length, 16);
  assert.ok(gw.groups.filter((g) => g.seeds > 0).length >= 8, 'the 16 seeds fill several groups');
  for (const [i, a] of gw.groups.entries()) {
    const b = gm.groups[i];
    assert.deepEqual([b.seeds, b.ops, b.events], [a.seeds, a.ops, a.events], `group ${i}`);
    const ha = HistSet.decode({ unit: 'steps', h: a.h }), hb = HistSet.decode({ unit: 'steps', h: b.h });
    assert.deepEqual(hb.names(), ha.names(), `group ${i}`);
    for (const n of ha.names()) {
      assert.equal(hb.get(n)!.totalCount, ha.get(n)!.totalCount, `group ${i} ${n}`);
      for (const p of [1, 50, 99, 100]) assert.equal(hb.get(n)!.getValueAtPercentile(p), ha.get(n)!.getValueAtPercentile(p), `group ${i} ${n} p${p}`);
    }
  }
  // each shard holds only its own seeds' share of a group
  assert.ok(shardDirs.every((d) => groupsOf(d).groups.reduce((t, g) => t + g.seeds, 0) === 4));
  // the shards' histograms add up to the whole run's (what the merge relies on)
  assert.equal(shardDirs.map((d) => hists(d).summary('fault').count).reduce((a, b) => a + b, 0), hw.summary('fault').count);
  assert.deepEqual(m.merged.from.map((f) => f.shard), [1, 2, 3, 4].map((index) => ({ index, count: SHARDS })));
});

/** A copy of shard k's folder (1-based) with its summary.json changed by edit. */
const variant = (k: number, name: string, edit?: (s: Record<string, any>) => void): string => {
  const d = join(root, 'variants', name);
  cpSync(shardDirs[k - 1], d, { recursive: true });
  if (edit) {
    const s = readJson(join(d, 'summary.json'));
    edit(s);
    writeFileSync(join(d, 'summary.json'), JSON.stringify(s));
  }
  return d;
};
let outs = 0;
const fresh = () => join(root, 'out', String(++outs)); // a new merge destination each call
const refuses = (dirs: string[], msg: RegExp, out = fresh()) =>
  assert.throws(() => mergeFolders(dirs, { out, version: 'test' }), (e: Error) => e instanceof ResultsInputError && msg.test(e.message), String(msg));

test('merge refuses a missing folder, a folder without summary.json or histograms.json, naming it', () => {
  refuses([shardDirs[0], join(root, 'nope')], /nope: no such results folder/);
  const empty = join(root, 'variants', 'empty');
  mkdirSync(empty, { recursive: true });
  refuses([shardDirs[0], empty], /empty: no summary\.json/);
  const nohist = variant(2, 'nohist');
  rmSync(join(nohist, 'histograms.json'));
  refuses([shardDirs[0], nohist], /nohist: no histograms\.json/);
  const bad = variant(2, 'badfield', (s) => (s.perSeed[0].seed = 'two'));
  refuses([shardDirs[0], bad], /badfield.summary\.json: field "perSeed\.0\.seed"/);
});

test('merge refuses incompatible configs naming both folders and the field; seed, seeds, duration and shard may differ', () => {
  const other = variant(2, 'policy', (s) => (s.config.anonFallback = 'retry-lower'));
  refuses([shardDirs[0], other], new RegExp(`${shardDirs[0]} and .*policy cannot be merged: config field "anonFallback" is "refault" in one and "retry-lower" in the other`));
  const nested = variant(2, 'weights', (s) => (s.config.weights.touch = 1));
  refuses([shardDirs[0], nested], /config field "weights\.touch" is 60 in one and 1 in the other/);
  const threads = variant(2, 'threads', (s) => (s.engine = 'threads'));
  refuses([shardDirs[0], threads], /field "unit": "steps", but summary\.json says engine threads/);
  const free = variant(2, 'free', (s) => Object.assign(s.config, { seeds: 99, duration: 30, workers: 7 }));
  const r = mergeFolders([shardDirs[0], free], { out: fresh(), version: 'test' });
  assert.deepEqual(r.summary.seeds.list, [1, 2, 5, 6, 9, 10, 13, 14]);
  assert.equal(r.summary.config.seeds, 8, 'folders that disagree on seeds: the seeds merged');
});

test('merge refuses a seed in two folders and a non-empty --out; says which shards are missing', () => {
  refuses([shardDirs[0], shardDirs[1], shardDirs[0]], /both ran seed 1: overlapping folders/);
  const out = fresh();
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'x'), '');
  refuses([shardDirs[0]], /--out .*: already exists and is not empty/, out);
  const r = mergeFolders([shardDirs[0], shardDirs[2]], { out: fresh(), version: 'test' });
  assert.deepEqual(r.summary.merged.missingShards, [2, 4]);
  assert.match(r.warnings.join('\n'), /shards 2\/4, 4\/4 are missing/);
  assert.deepEqual(r.summary.seeds.list, [1, 3, 5, 7, 9, 11, 13, 15]);
});

test('merge of a folder without seed groups (written before them): merged, with a warning and no seed groups', () => {
  const old = variant(2, 'nogroups');
  const e = readJson(join(old, 'histograms.json'));
  delete e.seedGroups;
  writeFileSync(join(old, 'histograms.json'), JSON.stringify(e));
  const out = fresh();
  const r = mergeFolders([shardDirs[0], old], { out, version: 'test' });
  assert.match(r.warnings.join('\n'), /nogroups: it has no seed groups \(written before them\): the merged folder has no seed groups either/);
  assert.equal(readJson(join(out, 'histograms.json')).seedGroups, undefined);
  assert.equal(hists(out).summary('fault').count, hists(shardDirs[0]).summary('fault').count + hists(old).summary('fault').count);
  // groups made for another number of variants cannot be added group by group either
  const other = variant(2, 'othervariants');
  const o = readJson(join(other, 'histograms.json'));
  o.seedGroups.variants = 3;
  writeFileSync(join(other, 'histograms.json'), JSON.stringify(o));
  const r2 = mergeFolders([shardDirs[0], other], { out: fresh(), version: 'test' });
  assert.match(r2.warnings.join('\n'), /othervariants: its seed groups were made for 3 variant\(s\), the config has 2/);
  assert.equal(readJson(join(r2.dir, 'histograms.json')).seedGroups, undefined);
});

test('merge marks the result interrupted (exit 3) if an input was; the CLI exits 2 on bad input naming the folder', () => {
  const cut = variant(3, 'cut', (s) => (s.interrupted = true));
  const r = mergeFolders([shardDirs[0], shardDirs[1], cut, shardDirs[3]], { out: fresh(), version: 'test' });
  assert.equal(r.summary.interrupted, true);
  assert.equal(r.exitCode, 3);
  const p = spawnSync(process.execPath, [CLI, 'merge', shardDirs[0], join(root, 'missing-shard'), '--out', fresh()], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(p.status, 2, p.stderr);
  assert.match(p.stderr, /missing-shard: no such results folder/);
});
