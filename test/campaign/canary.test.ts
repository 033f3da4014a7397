// The canary: every named deviation on its provoking mix must be caught with one of its expected
// invariants before the run's seeds; a deviation it misses fails the run (canary-missed@<name>).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig, loadConfigFile } from '../../src/config/config.js';
import { EXIT_OK, runCampaign } from '../../src/campaign/coordinator.js';
import { runCanary } from '../../src/campaign/canary.js';
import { CANARY_CONTROL_INVARIANT, CANARY_INVARIANT, canaryFindings } from '../../src/check/canary.js';
import { WorkerPool } from '../../src/engine/pool.js';
import { DEVIATIONS } from '../../src/inject/deviations.js';
import { buildSummary, failed, renderSummary, statusLine } from '../../src/report/summary.js';
import { Aggregate } from '../../src/report/aggregate.js';
import { reachNotJudged } from '../../src/check/reach.js';

const TASK = new URL('../../workers/sched-task.js', import.meta.url);
const dev = (name: string) => DEVIATIONS.find((d) => d.name === name)!;

test('runCanary: deviations caught on their provoking mix with an expected invariant, at the smallest seed', async () => {
  const pool = new WorkerPool({ filename: TASK, threads: 2 });
  try {
    const c = await runCanary(pool, 4, 2, undefined, [dev('fault-order1'), dev('zap-free-before-flush')]);
    assert.equal(c.complete, true);
    assert.deepEqual(c.deviations.map((d) => [d.name, d.caught, d.seed]), [['fault-order1', true, 1], ['zap-free-before-flush', true, 1]]);
    assert.match(c.deviations[0].signature!, /^anon-order1@.*\[fault-order1\]$/);
    assert.deepEqual(canaryFindings(c), []);
    // a deviation whose expected invariant never comes: missed after all its seeds, with what was seen instead
    const wrong = { ...dev('fault-order1'), expect: ['no-such-invariant'] };
    const m = await runCanary(pool, 3, 2, undefined, [wrong]);
    assert.deepEqual(m.deviations.map((d) => [d.caught, d.seedsRun]), [[false, 3]]);
    assert.ok(m.deviations[0].other.some((s) => s.startsWith('anon-order1@')), m.deviations[0].other.join());
    const f = canaryFindings(m);
    assert.equal(f.length, 1);
    assert.equal(f[0].signature, `${CANARY_INVARIANT}@fault-order1`);
    assert.deepEqual(f[0].details.expect, ['no-such-invariant']);
    // stopped at once: nothing ran, nothing reported, not complete
    const ac = new AbortController();
    ac.abort();
    const s = await runCanary(pool, 3, 2, ac.signal, [dev('fault-order1')]);
    assert.equal(s.complete, false);
    assert.deepEqual(s.deviations, []);
  } finally {
    await pool.close();
  }
});

test('runCanary controls: each provoking mix runs without its deviation on the seeds that ran for it, and must stay clean', async () => {
  const pool = new WorkerPool({ filename: TASK, threads: 2 });
  try {
    // clean controls: fault-order1 is caught at seed 1, so its control runs seed 1 alone
    const c = await runCanary(pool, 4, 2, undefined, [dev('fault-order1')]);
    assert.deepEqual(c.deviations[0].control, { seeds: 1 });
    // a mix on which the clean model itself fails (a step limit no seed can keep): the control
    // reports the violation at its smallest seed, with the config it ran (no deviation in it)
    const broken = { ...dev('fault-order1'), name: 'broken-mix', expect: ['step-limit'], provoke: { ...dev('fault-order1').provoke, stepLimit: 1000 } };
    const seen: { dev: string; inject: readonly string[]; sig: string }[] = [];
    const b = await runCanary(pool, 3, 2, undefined, [broken], (d, cfg, v) => {
      seen.push({ dev: d, inject: cfg.inject, sig: v.signature });
      v.artifact = 'failures/x/seed-1-canary-control-broken-mix.json';
    });
    // (not caught: the control runs every seed that ran, 1..3, all started at once over the lanes)
    assert.deepEqual(b.deviations[0].control, { seeds: 3, violation: { seed: 1, signature: 'step-limit@sched', artifact: 'failures/x/seed-1-canary-control-broken-mix.json' } });
    // (told of each smaller seed's violation as it comes: seeds finish out of order)
    assert.ok(seen.length >= 1);
    for (const x of seen) assert.deepEqual(x, { dev: 'broken-mix', inject: [], sig: 'step-limit@sched' });
    const f = canaryFindings(b).filter((x) => x.invariant === CANARY_CONTROL_INVARIANT);
    assert.deepEqual(canaryFindings(b).map((x) => x.signature), [`${CANARY_INVARIANT}@broken-mix`, `${CANARY_CONTROL_INVARIANT}@broken-mix`]);
    assert.equal(f[0].details.replay, 'npx foliostorm repro failures/x/seed-1-canary-control-broken-mix.json');
    // the summary: FAIL, a NOT CLEAN line with the replay command, no UNREACHED line
    const reach = reachNotJudged('switched off (--no-reach)');
    reach.findings.push(...f);
    const s = buildSummary(defaultConfig(), new Aggregate('steps'), { runId: 'x', version: 't', wallSeconds: 1, interrupted: false, reach, canary: b });
    assert.equal(statusLine(s), 'FAIL: 1 canary control(s) not clean');
    const text = renderSummary(s, '/tmp/x');
    assert.match(text, /controls: 0 of 1 provoking mix\(es\) clean without their deviation \(3 seeds\)/);
    assert.match(text, /NOT CLEAN canary-control@broken-mix: without the deviation, seed 1 found step-limit@sched\n {12}replay: npx foliostorm repro failures\/x\/seed-1-canary-control-broken-mix\.json/);
    assert.doesNotMatch(text, /UNREACHED/);
  } finally {
    await pool.close();
  }
});

test('a missed deviation fails the run: status, text and failed()', () => {
  const cfg = defaultConfig();
  const canary = { seeds: 3, seconds: 1, complete: true, deviations: [{ name: 'fault-order1', caught: false, seedsRun: 3, expect: ['anon-order1'], other: ['x@y'] }, { name: 'fault-past-vma', caught: true, seed: 1, signature: 'pte-outside-vma@ptl-release[fault-past-vma]', seedsRun: 1, expect: ['pte-outside-vma'], other: [] }] };
  const reach = reachNotJudged('switched off (--no-reach)');
  reach.findings.push(...canaryFindings(canary));
  const s = buildSummary(cfg, new Aggregate('steps'), { runId: 'x', version: 't', wallSeconds: 1, interrupted: false, reach, canary });
  assert.equal(failed(s), true);
  assert.equal(statusLine(s), 'FAIL: 1 canary deviation(s) missed');
  const text = renderSummary(s, '/tmp/x');
  assert.match(text, /canary {4}1 of 2 named deviation\(s\) caught as expected/);
  assert.match(text, /MISSED {4}canary-missed@fault-order1: 3 seed\(s\), none tripped anon-order1; seen instead: x@y/);
  assert.doesNotMatch(text, /UNREACHED/);
});

test('the nightly config runs the canary; a run with it passes and records it (and the duration counts its time)', async () => {
  const nightly = loadConfigFile(new URL('../../../configs/nightly.json', import.meta.url).pathname);
  assert.ok((nightly.canarySeeds ?? 0) >= 16, 'nightly.json runs the canary');
  const cfg = defaultConfig({ canarySeeds: 2, opsPerCpu: 50, seeds: 4, workers: 2 });
  const out = mkdtempSync(join(tmpdir(), 'foliostorm-canary-'));
  const r = await runCampaign(cfg, { out, seedsGiven: true, quiet: true, version: 't', noReach: true });
  const s = JSON.parse(readFileSync(join(r.dir, 'summary.json'), 'utf8'));
  // seeds 1..2 catch all but the rare ones: the run fails on exactly those, and says which
  const missed = s.canary.deviations.filter((d: { caught: boolean }) => !d.caught).map((d: { name: string }) => d.name);
  assert.equal(s.canary.deviations.length, DEVIATIONS.length);
  assert.deepEqual(s.reach.findings.map((f: { path: string }) => f.path), missed);
  assert.equal(r.exitCode === EXIT_OK, missed.length === 0);
  assert.equal(s.seeds.count, 4, 'the run\'s own seeds still ran');
});
