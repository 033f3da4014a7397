// `foliostorm experiment fallback` on a tiny budget: the workload each contention level runs, every
// cell present and self-consistent, the same seeds giving the same JSON (in this thread and over the
// pool), the allocation-failure knob driving fallbacks, and the command line. No wall-clock checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CONTENTIONS, CPUS, CPUS_PER_REGION, FAIL_RATES, GROUP, POLICIES, REGION_START, ZAP_PAGES, type CellResult, type FallbackReport, cells, fallbackConfig, fallbackWorkload,
  renderFallbackSvg, renderFallbackTable, runFallbackExperiment, runFallbackSeed,
} from '../../src/experiment/fallback.js';

const TINY = { seeds: 2, firstSeed: 1, pagesPerCpu: 16 };

let tiny: Promise<FallbackReport> | null = null;
/** The whole grid on the tiny budget, in this thread (shared by the tests below). */
const tinyReport = (): Promise<FallbackReport> => (tiny ??= runFallbackExperiment({ ...TINY, workers: 1 }));
const cellOf = (r: FallbackReport, contention: string, rate: number, policy: string): CellResult => {
  const c = r.cells.find((x) => x.contention === contention && x.allocFailRate === rate && x.policy === policy);
  assert.ok(c, `cell ${contention}/${rate}/${policy}`);
  return c;
};

test('experiment fallback: each level deals every 4-page group of its regions to one CPU, which writes the page it owns', () => {
  const W = 32;
  const lengths = new Set<number>();
  for (const contention of CONTENTIONS) {
    const k = CPUS_PER_REGION[contention];
    const wl = fallbackWorkload(contention, W);
    assert.equal(wl.regions * k, CPUS);
    assert.equal(wl.regions * wl.regionPages, CPUS * W * GROUP, 'the same pages in all, at every level');
    assert.equal(wl.setup.length, wl.regions);
    assert.ok(wl.setup.every((op, g) => op.kind === 'mmap' && op.proc === g && op.r1 + 1 === wl.regionPages && op.r3 === REGION_START));
    for (let g = 0; g < wl.regions; g++) {
      const cpus = wl.programs.map((p, cpu) => ({ p, cpu })).filter(({ p }) => p[0].proc === g);
      assert.equal(cpus.length, k, `${contention}: ${k} CPU(s) on region ${g}`);
      const written = new Map<number, number>(); // group -> cpu, pass 1
      const zapped = new Set<number>();
      for (const { p, cpu } of cpus) {
        assert.ok(p.every((op) => op.proc === g), 'a CPU stays in its region');
        const touches = p.filter((op) => op.kind === 'touch');
        assert.equal(touches.length, 2 * W, 'two passes of W pages');
        assert.deepEqual(touches.slice(0, W), touches.slice(W), 'pass 2 repeats pass 1');
        for (const op of touches.slice(0, W)) {
          assert.ok(op.write && op.r3 === 0 && op.r1 === 0, 'one-page writes');
          assert.equal(op.r2 % GROUP, cpu, 'the page its CPU owns (vpn mod 4, regions 2 MiB aligned)');
          const group = Math.floor(op.r2 / GROUP);
          assert.ok(!written.has(group), `group ${group} written once`);
          written.set(group, cpu);
        }
        const offsets = touches.slice(0, W).map((op) => op.r2);
        assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b), 'ascending');
        for (const op of p.filter((op) => op.kind === 'dontneed')) {
          assert.equal(op.r2 & 1, 1);
          const start = op.r2 >>> 1;
          assert.equal(start % ZAP_PAGES, 0);
          assert.equal(op.r3, ZAP_PAGES - 1);
          assert.ok(!zapped.has(start));
          zapped.add(start);
        }
        lengths.add(p.length);
      }
      assert.equal(written.size, wl.regionPages / GROUP, 'every group of the region written');
      assert.equal(zapped.size, wl.regionPages / ZAP_PAGES, 'every 64-page block zapped once');
    }
  }
  assert.equal(lengths.size, 1, 'every CPU runs the same number of ops at every level');
  assert.throws(() => fallbackWorkload('low', 24), /multiple of 16/);
});

test('experiment fallback: the cell configs differ only in policy and failure rate, and keep high orders from failing by fragmentation', () => {
  const a = fallbackConfig('refault', 0, TINY), b = fallbackConfig('retry-lower', 0.5, TINY);
  assert.equal(a.fragmentation, 0);
  assert.equal(a.cpus, CPUS);
  assert.deepEqual(a.anonOrders, [0, 2, 4, 6]);
  const { name: _an, anonFallback: _ap, allocFailRate: _ar, ...restA } = a;
  const { name: _bn, anonFallback: bp, allocFailRate: br, ...restB } = b;
  assert.deepEqual(restA, restB);
  assert.equal(bp, 'retry-lower');
  assert.equal(br, 0.5);
});

test('experiment fallback: a tiny run has every cell, with consistent numbers and no violations', async () => {
  const r = await tinyReport();
  assert.equal(r.cells.length, POLICIES.length * CONTENTIONS.length * FAIL_RATES.length);
  assert.deepEqual(r.cells.map(({ contention, policy, allocFailRate }) => ({ contention, policy, allocFailRate })), cells());
  assert.deepEqual(r.seeds.list, [1, 2]);
  assert.equal(Object.keys(r.configs).length, POLICIES.length * FAIL_RATES.length);
  assert.deepEqual(Object.keys(r.workload), [...CONTENTIONS]);
  for (const c of r.cells) {
    const t = c.totals;
    const at = `${c.contention}/${c.allocFailRate}/${c.policy}`;
    assert.deepEqual(c.violations, [], at);
    assert.deepEqual(c.seeds, [1, 2]);
    const foliosMapped = Object.values(t.foliosMapped).reduce((a, b) => a + b, 0);
    const retries = Object.values(t.retryLower).reduce((a, b) => a + b, 0) + t.retryOrder0;
    assert.ok(foliosMapped > 0, at);
    // every fault here is an anon write fault or a spurious one (no reads, wp faults or GUP)
    assert.equal(t.faults, t.anonFaults + t.spuriousFaults, at);
    // every do_anonymous_page allocates one folio, and one more per immediate retry
    assert.equal(t.foliosAllocated, t.anonFaults + retries, at);
    assert.equal(t.foliosAllocated, foliosMapped + t.freedUnusedTotal, at);
    assert.ok(t.faults >= foliosMapped, `${at}: a fault per folio mapped at least`);
    assert.ok(t.populatedPages >= foliosMapped && t.populatedPages >= t.populatedLargePages, at);
    assert.ok(t.mappedAtEnd > 0 && t.mappedAtEnd <= t.populatedPages, at);
    for (const x of [c.largeShare, c.largeShareAtEnd, c.wasteShare]) assert.ok(x >= 0 && x <= 1, `${at}: share ${x}`);
    assert.ok(c.faultsPerPage > 0 && c.faultsPerPage <= 1 + t.refaults / t.populatedPages + t.spuriousFaults / t.populatedPages, at);
    assert.equal(c.faultLatency.count, t.faults, `${at}: one fault histogram sample per fault`);
    assert.ok(c.faultLatency.p50 <= c.faultLatency.p99 && c.faultLatency.p99 <= c.faultLatency.max, at);
    assert.ok(c.faultedAccessLatency.count > 0 && c.faultedAccessLatency.count <= t.faults, at);
    if (c.policy === 'refault') assert.equal(retries, 0, at);
    if (c.policy !== 'retry-lower') assert.deepEqual(t.retryLower, {}, at);
    if (c.policy !== 'preferred-or-0') assert.equal(t.retryOrder0, 0, at);
    if (c.contention === 'low') {
      // one CPU per process: nobody to race with
      assert.equal(t.freedUnusedTotal, 0, at);
      assert.equal(t.refaults, 0, at);
    }
    if (c.allocFailRate === 0) {
      assert.deepEqual(t.allocFallback, {}, `${at}: no allocation fails without the knob`);
      assert.equal(c.largeShare, 1, `${at}: every write fault maps a large folio`);
    }
  }
  // a race needs a second CPU on the region: medium and high lose some
  assert.ok(cellOf(r, 'high', 0, 'refault').totals.freedUnusedTotal > 0);
  assert.ok(cellOf(r, 'medium', 0, 'refault').totals.freedUnusedTotal > 0);
  // the comparisons: every non-refault cell against refault, over both seeds
  assert.equal(r.comparisons.length, (POLICIES.length - 1) * CONTENTIONS.length * FAIL_RATES.length);
  assert.ok(r.comparisons.every((c) => c.base === 'refault' && c.policy !== 'refault' && c.seeds === 2));
  // the outputs render every cell
  const table = renderFallbackTable(r).split('\n');
  assert.equal(table.length, 2 + r.cells.length);
  const svg = renderFallbackSvg(r);
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.doesNotMatch(svg, /https?:\/\/(?!www\.w3\.org\/2000\/svg)/, 'self-contained');
  assert.equal((svg.match(/data-plot="bars"/g) ?? []).length, 5);
});

test('experiment fallback: the allocation-failure knob makes high orders fall back, fewer large folios, more faults', async () => {
  const r = await tinyReport();
  for (const contention of CONTENTIONS) {
    for (const policy of POLICIES) {
      const none = cellOf(r, contention, 0, policy), half = cellOf(r, contention, 0.5, policy);
      const fallbacks = Object.values(half.totals.allocFallback).reduce((a, b) => a + b, 0);
      const at = `${contention}/${policy}`;
      assert.ok(fallbacks > 0, `${at}: allocations fail at 50%`);
      assert.ok(half.largeShare < none.largeShare, `${at}: large share ${half.largeShare} < ${none.largeShare}`);
      assert.ok(half.faultsPerPage > none.faultsPerPage, `${at}: faults/page ${half.faultsPerPage} > ${none.faultsPerPage}`);
      assert.ok((half.totals.foliosMapped['0'] ?? 0) > (none.totals.foliosMapped['0'] ?? 0), `${at}: more order-0 folios`);
    }
  }
  // one seed, directly: at 50% the order-6 allocations that fail are about half of those tried
  const seed = runFallbackSeed({ cell: { contention: 'low', policy: 'refault', allocFailRate: 0.5 }, seed: 3, pagesPerCpu: 64, firstSeed: 3, seeds: 1 });
  const failed6 = seed.events['anon.allocFallback.6'] ?? 0, mapped6 = seed.events['anon.mapped.6'] ?? 0;
  assert.ok(failed6 > 0.3 * (failed6 + mapped6) && failed6 < 0.7 * (failed6 + mapped6), `order 6: ${failed6} failed, ${mapped6} mapped`);
});

test('experiment fallback: the same seeds give identical JSON, in this thread or over the worker pool', async () => {
  const sub = { ...TINY, contentions: ['high'] as const, failRates: [0.5] };
  const a = await runFallbackExperiment({ ...sub, workers: 1 });
  const b = await runFallbackExperiment({ ...sub, workers: 2 });
  assert.equal(JSON.stringify(a), JSON.stringify(b));
  const full = await tinyReport();
  const again = await runFallbackExperiment({ ...TINY, workers: 1 });
  assert.equal(JSON.stringify(again), JSON.stringify(full));
  // and a different seed set gives different numbers
  const other = await runFallbackExperiment({ ...sub, firstSeed: 7, workers: 1 });
  assert.notEqual(JSON.stringify(other.cells), JSON.stringify(a.cells));
});

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });

test('experiment fallback (CLI): --json prints the results JSON only and writes fallback.json, .md and .svg; bad flags exit 2', () => {
  const out = mkdtempSync(join(tmpdir(), 'foliostorm-exp-'));
  const r = cli(['experiment', 'fallback', '--seeds', '1', '--pages-per-cpu', '16', '--workers', '1', '--out', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.experiment, 'fallback');
  assert.equal(j.cells.length, 27);
  assert.equal(j.command, 'npx foliostorm experiment fallback --seeds 1 --pages-per-cpu 16');
  const dirs = readdirSync(out);
  assert.equal(dirs.length, 1);
  assert.match(dirs[0], /^experiment-fallback-/);
  const dir = join(out, dirs[0]);
  for (const f of ['fallback.json', 'fallback.md', 'fallback.svg']) assert.ok(existsSync(join(dir, f)), f);
  const saved = JSON.parse(readFileSync(join(dir, 'fallback.json'), 'utf8'));
  assert.deepEqual(saved.cells, j.cells);
  assert.deepEqual(Object.keys(saved.configs).sort(), Object.keys(j.configs).sort());
  const md = readFileSync(join(dir, 'fallback.md'), 'utf8');
  assert.match(md, /\| high \(4\) +\| 50% +\| preferred-or-0 /);
  assert.match(md, /npx foliostorm experiment fallback --seeds 1 --pages-per-cpu 16/);
  for (const bad of [['--pages-per-cpu', '20'], ['--seeds', '0'], ['--workers', '0'], ['--size', '64M'], ['--reps', '2']]) {
    const e = cli(['experiment', 'fallback', ...bad, '--out', out]);
    assert.equal(e.status, 2, `${bad.join(' ')}: ${e.stderr}`);
    assert.match(e.stderr, new RegExp(bad[0]));
  }
  const unknown = cli(['experiment', 'nosuch', '--out', out]);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /fallback/);
});
