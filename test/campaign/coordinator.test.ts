// The coordinator on long runs: --max-failures stops early and says why; artifacts are written as
// seeds end (the smallest seeds of each signature kept, whatever order seeds end in).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig } from '../../src/config/config.js';
import { EXIT_VIOLATIONS, runCampaign } from '../../src/campaign/coordinator.js';
import { LiveArtifacts } from '../../src/report/live-artifacts.js';
import { ResultsWriter } from '../../src/report/results.js';
import type { ViolationRecord } from '../../src/engine/result.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'foliostorm-coord-'));

test('--max-failures 2: the run stops once 2 seeds have failed, exits 1 and says why in the summary', async () => {
  // fault-order1's provoking mix: most seeds detect it, each in a few ms
  const cfg = defaultConfig({ inject: ['fault-order1'], opsPerCpu: 100, seeds: 400, workers: 2 });
  const out = tmp();
  const r = await runCampaign(cfg, { out, seedsGiven: true, quiet: true, version: 't', maxFailures: 2 });
  assert.equal(r.exitCode, EXIT_VIOLATIONS);
  const s = JSON.parse(readFileSync(join(r.dir, 'summary.json'), 'utf8'));
  const failed = s.perSeed.filter((p: { violations: number }) => p.violations > 0).length;
  assert.deepEqual(s.stop, { reason: 'max-failures', detail: `--max-failures 2 reached (${failed} failed seeds)`, maxFailures: 2 });
  assert.equal(s.interrupted, false);
  assert.ok(failed >= 2, `${failed} failed seeds`);
  // one seed reports many violations (each folio its quiescent check flags): seeds are what count
  assert.ok(s.violations.length > failed);
  assert.ok(s.seeds.count < 400, `stopped early: ${s.seeds.count} seeds`);
  for (const v of s.violations) if (v.artifact) assert.ok(existsSync(v.artifact), v.artifact);
  assert.match(r.text, /stopped {3}early: --max-failures 2 reached/);
});

test('threads: a seed count far beyond the duration (nightly.json\'s 1e9, with --seed) is a bound, not a list of rounds', async () => {
  // the rounds used to be listed up front: 1e9 seeds ran the coordinator out of memory
  const cfg = defaultConfig({ engine: 'threads', seed: 7, seeds: 1e9, duration: 1, opsPerCpu: 50, workers: 2 });
  const r = await runCampaign(cfg, { out: tmp(), seedsGiven: true, quiet: true, version: 't' });
  assert.equal(r.exitCode, 0);
  assert.equal(r.summary.seeds.first, 7);
  assert.ok(r.summary.seeds.count >= 1);
  assert.equal(r.summary.stop?.reason, 'duration');
});

test('artifacts as seeds end: per signature the smallest 3 seeds are kept, a smaller seed displacing a larger one on disk', () => {
  const w = new ResultsWriter(tmp(), 'run');
  const cfg = defaultConfig();
  const live = new LiveArtifacts(w, () => cfg);
  const v = (seed: number, signature = 'a@b'): ViolationRecord => ({ invariant: 'a', path: 'b', signature, details: {}, cpu: 0, seed, engine: 'sched', step: 1, events: [] });
  const vs = [v(9), v(7), v(8), v(5), v(5), v(12), v(2, 'c@d'), v(1)];
  for (const x of vs) live.add(x);
  const files = (sig: string) => readdirSync(join(w.dir, 'failures', sig)).sort();
  assert.deepEqual(files('a_b'), ['seed-1.json', 'seed-5.json', 'seed-7.json']);
  assert.deepEqual(files('c_d'), ['seed-2.json']);
  // the records point at the files kept, and only those
  assert.deepEqual(vs.filter((x) => x.artifact).map((x) => x.seed).sort((a, b) => a - b), [1, 2, 5, 7]);
  for (const x of vs) if (x.artifact) assert.equal(JSON.parse(readFileSync(x.artifact, 'utf8')).seed, x.seed);
  assert.equal(vs[4].artifact, undefined, 'one artifact per seed and signature');
});
