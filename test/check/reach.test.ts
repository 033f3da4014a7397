// The reach floor: per-variant event sums that miss each rule give the finding, a clean sum
// passes, the per-PTE variants must not batch, and too few seeds (or too few expected ops of a
// rare path) judge nothing. The run wiring: a model that does nothing fails the run (exit 1, the
// finding in summary.json, the text and junit.xml), --no-reach passes it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Config, defaultConfig, loadConfigFile } from '../../src/config/config.js';
import { configForSeed, variantOf } from '../../src/engine/variants.js';
import { evalExpr, expectedOps, judgeReach, REACH_INVARIANT, REACH_RULES, type ReachRule, rulesFor, type VariantCounts } from '../../src/check/reach.js';
import { EV_NAMES } from '../../src/machine/events.js';
import { Aggregate } from '../../src/report/aggregate.js';
import { buildSummary, renderSummary } from '../../src/report/summary.js';
import { renderJunit } from '../../src/report/junit.js';
import { renderReportHtml, runStatus } from '../../src/report/html.js';
import { EXIT_OK, EXIT_VIOLATIONS, judgeRunReach, runCampaign } from '../../src/campaign/coordinator.js';
import type { RunResult } from '../../src/engine/result.js';
import { findAll, parseXml } from '../helpers/xml.js';

const NIGHTLY = loadConfigFile(new URL('../../../configs/nightly.json', import.meta.url).pathname);
/** Enough seeds that every rule of a nightly variant is judged (vma-ooo: 7500 mremaps, 18 a seed; migrate-zap: 15000 migrates, 22 a seed). */
const MANY = 800;

/** An event name a term of an expression matches ("anon.mapped.>0" -> "anon.mapped.2", "cost.*.contFold" -> "cost.fault.contFold"). */
function nameFor(term: string): string {
  let name = term.replace('{k}', 'touch').replace('.>0', '.2').replace('.*.', '.fault.');
  if (name.endsWith('.*')) name = EV_NAMES.find((n) => n.startsWith(name.slice(0, -1))) ?? name;
  assert.ok(EV_NAMES.includes(name), `${term} -> ${name}: not an event name`);
  return name;
}

/** Events that meet every floor of config c and keep every must-be-0 at 0. */
function cleanEvents(c: Config): Record<string, number> {
  const ev: Record<string, number> = {};
  for (const r of rulesFor(c)) if (r.need === 'floor') for (const t of r.expr.split('+')) ev[nameFor(t.trim())] = 5;
  return ev;
}

/** The nightly's variants, each with MANY seeds and clean sums. */
function nightlyCounts(seeds = MANY): VariantCounts[] {
  return NIGHTLY.variants!.map((_, i) => {
    const config = configForSeed(NIGHTLY, i);
    return { variant: variantOf(NIGHTLY, i), config, seeds, events: cleanEvents(config) };
  });
}

test('every expression names events the model counts, and every rule has its reason and condition', () => {
  for (const r of REACH_RULES) {
    assert.ok(r.why && r.when, r.rule);
    for (const t of r.expr.replace('{o}', '2').split('+')) nameFor(t.trim());
    if (r.need === 'floor') assert.ok(r.ops?.length || r.kinds, `${r.rule}: a floor names the ops that drive it`);
  }
  const names = REACH_RULES.map((r) => r.rule);
  assert.equal(new Set(names).size, names.length, 'rule names are unique');
});

test('expressions: exact names, * for one part, >0 for the orders above 0, the terms summed', () => {
  const ev = { 'anon.mapped.0': 7, 'anon.mapped.2': 3, 'anon.mapped.10': 1, 'anon.mappedX': 100, 'cost.fault.contFold': 2, 'cost.fork.contFold': 4, 'cost.fork.contUnfold': 50, 'fork': 9 };
  assert.equal(evalExpr('anon.mapped.>0', ev).value, 4);
  assert.equal(evalExpr('anon.mapped.*', ev).value, 11);
  assert.equal(evalExpr('cost.*.contFold', ev).value, 6);
  assert.deepEqual(evalExpr('fork + cost.*.contFold', ev), { value: 15, terms: { fork: 9, 'cost.*.contFold': 6 } });
  assert.equal(evalExpr('fork.batch', ev).value, 0);
});

test('a clean sum passes: every variant of nightly.json judged, every rule held', () => {
  const r = judgeReach(nightlyCounts());
  assert.equal(r.judged, true);
  assert.deepEqual(r.findings, []);
  assert.equal(r.variants.length, 8);
  for (const v of r.variants) {
    assert.equal(v.judged, true, v.variant);
    assert.deepEqual(v.notJudged, [], `${v.variant}: with \d+ seeds every rule is judged`);
    assert.ok(v.rules.length >= 30, `${v.variant}: ${v.rules.length} rules`);
    assert.ok(v.rules.every((x) => x.ok));
  }
});

test('each floor: a sum that misses it gives the finding (invariant reach-floor, path = the rule, the variant)', () => {
  for (const [i, vc] of nightlyCounts().entries()) {
    for (const rule of rulesFor(vc.config).filter((x) => x.need === 'floor')) {
      const events = { ...vc.events };
      for (const [name, n] of Object.entries(events)) if (n && evalExpr(rule.expr, { [name]: n }).value) delete events[name];
      const r = judgeReach([{ ...vc, events }]);
      const f = r.findings.find((x) => x.path === rule.rule);
      assert.ok(f, `${vc.variant}: ${rule.rule} not reported (${JSON.stringify(r.findings.map((x) => x.path))})`);
      assert.equal(f.invariant, REACH_INVARIANT);
      assert.equal(f.signature, `reach-floor@${rule.rule}`);
      assert.equal(f.variant, variantOf(NIGHTLY, i));
      assert.equal(f.details.value, 0);
      assert.equal(f.details.need, '> 0');
      assert.equal(f.details.seeds, MANY);
    }
  }
});

test('the motivating mutants: no accesses at all, every fault OOM, pins that fail, no large folio', () => {
  const vc = nightlyCounts()[1]; // contpte+refault+thp
  const without = (...names: string[]) => ({ ...vc, events: Object.fromEntries(Object.entries(vc.events).filter(([k]) => !names.some((n) => k.startsWith(n)))) });
  const paths = (x: VariantCounts) => judgeReach([x]).findings.map((f) => f.path);
  // every VMA slot looks free: nothing happens at all
  const idle = paths({ ...vc, events: {} });
  for (const p of ['accesses', 'faults-mapped', 'mmap', 'fork', 'pin', 'anon-large', 'batch-anon', 'contpte-block']) assert.ok(idle.includes(p), `${p} in ${idle}`);
  assert.deepEqual(paths(without('anon.mapped.')).filter((p) => p.startsWith('anon')), ['anon-write-fault', 'anon-large', 'anon-order-2', 'anon-order-4', 'anon-order-5', 'anon-order-9']);
  assert.deepEqual(paths(without('gup.fast', 'gup.slow')), ['pin', 'gup-fast']);
  // GUP-fast never pins (every pin takes the slow path): the lockless walk goes untested
  assert.deepEqual(paths(without('gup.fast')), ['gup-fast']);
  // pte_range_none() always false: order 0 only, no batched anon mapping
  // (the THP fault rechecks its table with it too: no order 9 either)
  assert.deepEqual(paths(without('anon.mapped.2', 'anon.mapped.4', 'anon.mapped.5', 'anon.mapped.9', 'anon.batched')), ['anon-large', 'anon-order-2', 'anon-order-4', 'anon-order-5', 'anon-order-9', 'batch-anon']);
});

test('batching false: any batched count fails the per-PTE variant (a hard rule), the batched variant takes it', () => {
  const counts = nightlyCounts();
  const perPte = counts.find((v) => v.variant === 'generic+per-pte+thp')!;
  const batched = counts.find((v) => v.variant === 'generic+refault+thp')!;
  for (const [rule, name] of [['per-pte-anon', 'anon.batched'], ['per-pte-file', 'file.batched'], ['per-pte-zap', 'zap.batched'], ['per-pte-fork', 'fork.batch'], ['per-pte-mprotect', 'mprotect.batched']]) {
    const r = judgeReach([{ ...perPte, events: { ...perPte.events, [name]: 1 } }]);
    assert.deepEqual(r.findings.map((f) => f.path), [rule]);
    assert.equal(r.findings[0].details.need, '= 0');
    assert.equal(r.findings[0].details.value, 1);
    assert.deepEqual(judgeReach([{ ...batched, events: { ...batched.events, [name]: 1 } }]).findings, []);
  }
  // and the per-PTE variants have no batching floors
  assert.ok(!rulesFor(perPte.config).some((r) => r.rule.startsWith('batch-')));
});

test('arch and fallback policy: contpte entries under generic, and a policy\'s own retries under another policy, fail', () => {
  const counts = nightlyCounts();
  const generic = counts.find((v) => v.variant === 'generic+refault+thp')!;
  for (const name of ['cost.fault.contFold', 'cost.munmap.contUnfold', 'contpte.blocks']) {
    assert.deepEqual(judgeReach([{ ...generic, events: { ...generic.events, [name]: 3 } }]).findings.map((f) => f.path), ['generic-no-cont']);
  }
  assert.deepEqual(judgeReach([{ ...generic, events: { ...generic.events, 'anon.retryLower.2': 1 } }]).findings.map((f) => f.path), ['policy-retry-lower']);
  assert.deepEqual(judgeReach([{ ...generic, events: { ...generic.events, 'anon.retryOrder0': 1 } }]).findings.map((f) => f.path), ['policy-preferred-or-0']);
  const retryLower = counts.find((v) => v.variant === 'generic+retry-lower+allocfail+thp')!;
  assert.deepEqual(judgeReach([{ ...retryLower, events: { ...retryLower.events, 'anon.retryLower.2': 1 } }]).findings, []);
});

test('too few seeds judge nothing, and say so; rare paths wait for enough expected ops', () => {
  const counts = nightlyCounts(3).map((v) => ({ ...v, events: {} }));
  const r = judgeReach(counts);
  assert.deepEqual(r.findings, []);
  for (const v of r.variants) {
    assert.equal(v.judged, false);
    assert.equal(v.why, '3 seeds, fewer than 4');
    assert.deepEqual(v.rules, []);
  }
  assert.match(renderSummaryOf(r).join('\n'), /0 of 8 variant\(s\) judged .*not judged: generic\+refault\+thp \(3 seeds, fewer than 4\), contpte\+refault\+thp \(3 seeds, fewer than 4\)/);
  // minSeeds is a parameter
  assert.equal(judgeReach(counts, { minSeeds: 2 }).findings.length > 0, true);
  // seeds that stopped at a violation did not run their ops: only the others count
  const stopped = judgeReach([{ ...counts[0], seeds: 10, cleanSeeds: 3 }]).variants[0];
  assert.equal(stopped.judged, false);
  assert.equal(stopped.why, '3 of its 10 seeds ran to their end without a violation, fewer than 4');
  // 4 seeds of a nightly variant: the common floors are judged, the per-order ones (10000 touches) not yet
  const four = judgeReach([{ ...nightlyCounts(4)[1], events: {} }]);
  const v = four.variants[0];
  assert.ok(v.judged && four.findings.some((f) => f.path === 'accesses'));
  assert.ok(v.notJudged.some((x) => x.rule === 'anon-order-5' && /touch ops expected, fewer than 10000/.test(x.why)), JSON.stringify(v.notJudged));
  assert.ok(!four.findings.some((f) => f.path === 'anon-order-5'));
});

/** The reach lines of a text summary of a run judged r. */
function renderSummaryOf(r: ReturnType<typeof judgeReach>): string[] {
  const s = buildSummary(NIGHTLY, new Aggregate('steps', 8), { runId: 'x', version: 't', wallSeconds: 1, interrupted: false, reach: r });
  return renderSummary(s, '/tmp/x').split('\n').filter((l) => /reach|UNREACHED|^ {12}/.test(l));
}

test('the rules follow the config: no op weight, no file, no large order, no rule', () => {
  const has = (c: Config, rule: string) => rulesFor(c).some((r: ReachRule) => r.rule === rule);
  const base = defaultConfig();
  for (const rule of ['pin', 'pin-io', 'fork', 'cow-reuse', 'file-fault', 'file-large', 'anon-large', 'anon-order-2', 'anon-order-4', 'mremap', 'writeback-folios', 'batch-fork']) assert.ok(has(base, rule), rule);
  assert.ok(!has(defaultConfig({ weights: { pin: 0 } }), 'pin'));
  assert.ok(!has(defaultConfig({ weights: { pinio: 0 } }), 'pin-io'));
  assert.ok(!has(defaultConfig({ weights: { fork: 0 } }), 'fork'));
  assert.ok(!has(defaultConfig({ weights: { fork: 0 } }), 'cow-reuse'));
  assert.ok(has(defaultConfig({ weights: { fork: 0, forkexit: 1 } }), 'fork'));
  const noFiles = defaultConfig({ files: { count: 0 } });
  // (op-mmapfile and op-writeback stay: the ops are drawn and begin, and find no file)
  assert.ok(!rulesFor(noFiles).some((r) => !r.rule.startsWith('op-') && /file|writeback|wp-shared/.test(r.rule)), rulesFor(noFiles).map((r) => r.rule).join());
  const order0 = defaultConfig({ anonOrders: [0], files: { orders: [0] } });
  assert.ok(!rulesFor(order0).some((r) => /large|order|batch-/.test(r.rule)));
  assert.ok(!has(defaultConfig({ writeRatio: 0 }), 'anon-large'), 'large anon folios come from write faults');
  assert.ok(!has(defaultConfig({ mmapPages: { min: 4, max: 8 } }), 'anon-order-4'), 'an order larger than every mmap');
  assert.ok(!has(defaultConfig({ fragmentation: 0.5 }), 'anon-large'), 'outside the measured range');
  assert.ok(!has(defaultConfig({ files: { writenotify: 'off' } }), 'wp-shared'));
  assert.ok(!has(defaultConfig({ files: { writenotify: 'off' } }), 'check-folio-cleaned'), 'only write-notify folios are judged at their clean');
  assert.ok(has(defaultConfig({ files: { writenotify: 'both' } }), 'check-folio-cleaned'));
  // contpte: blocks with batching, folds entry by entry (per-PTE anon, or file mappings)
  const cost = defaultConfig({ arch: 'contpte', anonOrders: [0, 4], files: { count: 0 } });
  assert.ok(has(cost, 'contpte-block') && !has(cost, 'contpte-fold') && !has(cost, 'generic-no-cont'));
  assert.ok(has({ ...cost, batching: false }, 'contpte-fold') && !has({ ...cost, batching: false }, 'contpte-block'));
  assert.ok(has(defaultConfig({ arch: 'contpte', files: { orders: [0, 4] } }), 'contpte-fold'));
});

test('the VMA merge and mremap floors (issue #15): vma-ooo needs mremap and large anon folios, the file mremap rules file mappings', () => {
  const has = (c: Config, rule: string) => rulesFor(c).some((r: ReachRule) => r.rule === rule);
  const base = defaultConfig();
  for (const rule of ['vma-merge', 'vma-ooo', 'mremap-fixed-unmap', 'mremap-file', 'mremap-rmap-locks', 'check-rmap-move']) assert.ok(has(base, rule), rule);
  assert.ok(!has(defaultConfig({ weights: { mremap: 0 } }), 'vma-ooo'));
  assert.ok(!has(defaultConfig({ weights: { mremap: 0 } }), 'mremap-fixed-unmap'));
  assert.ok(!has(defaultConfig({ anonOrders: [0] }), 'vma-ooo'), 'order-0 folios cannot be mapped out of order');
  const noFiles = defaultConfig({ files: { count: 0 } });
  assert.ok(has(noFiles, 'vma-ooo') && !has(noFiles, 'mremap-file') && !has(noFiles, 'mremap-rmap-locks') && !has(noFiles, 'check-rmap-move'));
  // a nightly variant whose merges never leave a folio out of order fails vma-ooo, with enough mremaps
  const vc = nightlyCounts()[3];
  delete vc.events['vma.ooo'];
  assert.deepEqual(judgeReach([vc]).findings.map((f) => f.path), ['vma-ooo']);
  const short = judgeReach([{ ...vc, seeds: 100 }]).variants[0];
  assert.ok(short.notJudged.some((x) => x.rule === 'vma-ooo' && /mremap ops expected, fewer than 7500/.test(x.why)), 'too few mremaps to judge');
});

test('expected ops: seeds x cpus x opsPerCpu x the share of the weights', () => {
  const c = defaultConfig({ cpus: 2, opsPerCpu: 100, weights: { touch: 3, mmap: 1, munmap: 0, dontneed: 0, exit: 0, fork: 0, pin: 0, unpin: 0, pinio: 0, mremap: 0, dontfork: 0, mmapfile: 0, writeback: 0, mprotect: 0 } });
  assert.equal(expectedOps(c, 10, ['touch']), 1500);
  assert.equal(expectedOps(c, 10, ['touch', 'mmap']), 2000);
});

/** A seed's result with the given events, for the coordinator's wiring. */
const result = (seed: number, events: Record<string, number>): RunResult => ({ seed, engine: 'sched', steps: 1, ops: {}, events, hist: { unit: 'steps', h: {} }, violations: [], wallMs: 1, variant: variantOf(NIGHTLY, seed) });

test('the run: per-variant sums from the aggregate, judged per variant (seed s runs variant s mod 8)', () => {
  const agg = new Aggregate('steps', 8);
  const clean = nightlyCounts();
  for (let seed = 1; seed <= 8 * MANY; seed++) {
    const i = seed % 8;
    // contpte+refault+thp (variant 1) maps no large anon folio in any seed
    const events = i === 1 ? Object.fromEntries(Object.entries(clean[i].events).filter(([k]) => !/^anon\.(mapped\.[1-9]|batched)/.test(k))) : clean[i].events;
    agg.add(result(seed, events));
  }
  const r = judgeRunReach(NIGHTLY, agg, {}, false);
  assert.deepEqual(r.findings.map((f) => `${f.variant} ${f.path}`), ['contpte+refault+thp anon-large', 'contpte+refault+thp anon-order-2', 'contpte+refault+thp anon-order-4', 'contpte+refault+thp anon-order-5', 'contpte+refault+thp anon-order-9', 'contpte+refault+thp batch-anon']);
  assert.equal(r.variants[1].seeds, MANY);
  assert.equal(judgeRunReach(NIGHTLY, agg, { noReach: true }, false).judged, false);
  assert.match(judgeRunReach(NIGHTLY, agg, {}, true).why!, /interrupted/);
  // the summary: FAIL with the finding; the variant and junit say so too
  const s = buildSummary(NIGHTLY, agg, { runId: '20260101-000000-x', version: 't', wallSeconds: 1, interrupted: false, reach: r });
  const text = renderSummary(s, '/tmp/x');
  assert.match(text, /FAIL: 6 reach rule\(s\) not met$/m);
  assert.match(text, /UNREACHED reach-floor@anon-large x1: anon\.mapped\.>0 must be > 0 \(.*\); was contpte\+refault\+thp 0$/m);
  assert.match(text, new RegExp(`contpte\\+refault\\+thp \\(${MANY} seeds\\): .*; 6 NOT MET$`, 'm'));
  assert.match(text, new RegExp(`contpte\\+refault\\+thp ${MANY} seeds \\(6 unreached\\)`));
  const junit = renderJunit(s);
  assert.match(junit, /<testcase classname="foliostorm\.reach" name="reach-floor@anon-large"[^>]*>\s*<failure type="reach-floor"[^>]*>[^<]*contpte\+refault\+thp: 0 over \d+ seed\(s\)/);
  assert.match(junit, /classname="foliostorm\.config"[^>]*>\s*<failure type="reach-floor"/);
  assert.match(junit, /<testsuites name="foliostorm" tests="15" failures="8"/, 'config + 8 variants + 6 reach cases; failures: 6 + config + the variant');
  // well-formed, and the counts agree with the cases
  const cases = findAll(parseXml(junit), 'testcase');
  assert.equal(cases.length, 15);
  assert.equal(cases.filter((c) => c.children.some((x) => x.name === 'failure')).length, 8);
  assert.equal(cases.filter((c) => c.attrs.classname === 'foliostorm.reach').length, 6);
  // report.html: FAIL, the rules with the violations
  assert.equal(runStatus(s), 'FAIL');
  const html = renderReportHtml(s, new Map());
  assert.match(html, /<p>6 reach rule\(s\) not met<\/p>/);
  assert.match(html, /<div class="sig" data-signature="reach-floor@anon-large">[\s\S]*?was contpte\+refault\+thp 0\./);
  // one rule failed in several variants: one line, one junit case, each variant's count
  const two = new Aggregate('steps', 8);
  for (let seed = 1; seed <= 8 * MANY; seed++) two.add(result(seed, seed % 8 === 6 || seed % 8 === 7 ? { ...clean[seed % 8].events, 'fork.batch': seed % 8 } : clean[seed % 8].events));
  const s2 = buildSummary(NIGHTLY, two, { runId: 'y', version: 't', wallSeconds: 1, interrupted: false, reach: judgeRunReach(NIGHTLY, two, {}, false) });
  assert.match(renderSummary(s2, '/tmp/y'), new RegExp(`FAIL: 1 reach rule\\(s\\) not met \\(2 in all variants\\)[\\s\\S]*UNREACHED reach-floor@per-pte-fork x2: fork\\.batch must be = 0 .*; was generic\\+per-pte\\+thp ${6 * MANY}, contpte\\+per-pte\\+thp ${7 * MANY}$`, 'm'));
  assert.equal(renderJunit(s2).match(/classname="foliostorm\.reach"/g)?.length, 1);
});

test('runCampaign: a model that counts nothing fails the run (exit 1, summary.json reach.findings); --no-reach passes it', async () => {
  // events: fault.anon only; a violation in every 4th seed, so seeds 1..3 are clean
  const task = new URL('../helpers/quick-sched-task.js', import.meta.url);
  const cfg = defaultConfig({ seed: 1, seeds: 3, workers: 1, opsPerCpu: 200 });
  const out = mkdtempSync(join(tmpdir(), 'foliostorm-reach-'));
  const r = await runCampaign(cfg, { out, seedsGiven: true, quiet: true, version: 't', schedTask: task, reachMinSeeds: 3 });
  assert.equal(r.summary.violations.length, 0);
  assert.equal(r.exitCode, EXIT_VIOLATIONS);
  const s = JSON.parse(readFileSync(join(r.dir, 'summary.json'), 'utf8'));
  assert.ok(s.reach.findings.some((f: { path: string }) => f.path === 'accesses'), JSON.stringify(s.reach.findings.map((f: { path: string }) => f.path)));
  assert.equal(s.reach.variants[0].seeds, 3);
  assert.match(readFileSync(join(r.dir, 'junit.xml'), 'utf8'), /classname="foliostorm\.reach" name="reach-floor@accesses"/);
  assert.match(r.text, /FAIL: \d+ reach rule\(s\) not met/);
  // the default minimum of 4 seeds: 3 judge nothing
  const few = await runCampaign(cfg, { out, seedsGiven: true, quiet: true, version: 't', schedTask: task });
  assert.equal(few.exitCode, EXIT_OK);
  assert.equal(few.summary.reach?.variants[0].why, '3 seeds, fewer than 4');
  const off = await runCampaign(cfg, { out, seedsGiven: true, quiet: true, version: 't', schedTask: task, noReach: true, reachMinSeeds: 3 });
  assert.equal(off.exitCode, EXIT_OK);
  assert.deepEqual(off.summary.reach, { judged: false, why: 'switched off (--no-reach)', minSeeds: 3, variants: [], findings: [] });
  assert.match(off.text, /reach {5}not judged: switched off \(--no-reach\)/);
});

test('op-<kind>: every kind the weights name must begin; a kind the op table lost is missed', () => {
  const c = configForSeed(NIGHTLY, 0);
  const kinds = rulesFor(c).filter((r) => r.rule.startsWith('op-')).map((r) => r.rule);
  assert.deepEqual(kinds.sort(), Object.keys(c.weights).filter((k) => (c.weights as Record<string, number>)[k] > 0).map((k) => `op-${k}`).sort());
  const vc: VariantCounts = { variant: 'v', config: c, seeds: MANY, events: cleanEvents(c) };
  delete vc.events['ops.forkexit'];
  assert.deepEqual(judgeReach([vc]).findings.map((f) => f.path), ['op-forkexit']);
});

test('check points: a contract point the config drives but nothing evaluated is a finding', () => {
  const c = configForSeed(NIGHTLY, 1); // contpte+refault+thp
  for (const [point, rule] of [['check.tlbSynced.dup_mmap', 'check-tlb-fork'], ['check.ptlUnlock.entries', 'check-ptl-entries'], ['check.ptlUnlock.contBlocks', 'check-contpte-blocks'], ['check.protCommit.modify_prot_commit_ptes', 'check-prot-commit-batch']]) {
    const vc: VariantCounts = { variant: 'v', config: c, seeds: MANY, events: cleanEvents(c) };
    assert.ok(vc.events[point], point);
    delete vc.events[point];
    assert.ok(judgeReach([vc]).findings.some((f) => f.path === rule), `${point} -> ${rule}`);
  }
  // the batched commit's point is arm64's: generic commits entry by entry
  assert.ok(!rulesFor(configForSeed(NIGHTLY, 0)).some((r) => r.rule === 'check-prot-commit-batch'));
});

test('pooled: a floor too rare for any one variant is judged over the variants it applies to', () => {
  // 30 seeds per variant: fork (1000 fork/forkexit ops) is not judged in one variant, but over 8 it is
  const few = nightlyCounts(30);
  const one = judgeReach([few[0]]).variants[0];
  assert.ok(one.notJudged.some((x) => x.rule === 'fork'), JSON.stringify(one.notJudged));
  const clean = judgeReach(few);
  assert.deepEqual(clean.findings, []);
  const pooled = clean.variants.find((v) => v.variant === 'all variants (pooled)')!;
  assert.ok(pooled.rules.some((x) => x.rule === 'fork' && x.ok && x.value === 5 * 8), JSON.stringify(pooled.rules));
  const noFork = few.map((v) => ({ ...v, events: Object.fromEntries(Object.entries(v.events).filter(([k]) => k !== 'fork')) }));
  const f = judgeReach(noFork).findings.filter((x) => x.path === 'fork');
  assert.equal(f.length, 1);
  assert.equal(f[0].variant, 'all variants (pooled)');
  assert.equal((f[0].details.variants as string[]).length, 8);
  // one variant forks, the rest do not: the pooled floor holds (a per-variant bug needs per-variant seeds)
  const oneForks = noFork.map((v, i) => (i === 0 ? few[0] : v));
  assert.ok(!judgeReach(oneForks).findings.some((x) => x.path === 'fork'));
  // too few seeds for any variant: nothing is pooled
  assert.deepEqual(judgeReach(nightlyCounts(3).map((v) => ({ ...v, events: {} }))).findings, []);
});
