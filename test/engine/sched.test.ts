import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig } from '../../src/config/config.js';
import { runSched } from '../../src/engine/sched.js';

test('sched: same seed and config give the same trace hash; another seed gives another', () => {
  const cfg = defaultConfig({ opsPerCpu: 60 });
  const a = runSched(cfg, 42);
  const b = runSched(cfg, 42);
  const c = runSched(cfg, 43);
  assert.equal(a.traceHash, b.traceHash);
  assert.deepEqual(a.events, b.events);
  assert.notEqual(a.traceHash, c.traceHash);
  assert.equal(a.violations.length, 0, JSON.stringify(a.violations[0]?.details));
});

test('sched: a seed hashes the same whatever the run around it (seeds, duration, workers, name); a model field changes it', () => {
  const cfg = defaultConfig({ opsPerCpu: 40 });
  const a = runSched(cfg, 7);
  const b = runSched(defaultConfig({ opsPerCpu: 40, seed: 5, seeds: 5000, duration: '2h', workers: 8, name: 'nightly', comment: 'x', workerHangMs: 5000 }), 7);
  assert.equal(b.traceHash, a.traceHash);
  assert.deepEqual(b.events, a.events);
  assert.notEqual(runSched(defaultConfig({ opsPerCpu: 40, fragmentation: 0.3 }), 7).traceHash, a.traceHash);
  assert.notEqual(runSched(defaultConfig({ opsPerCpu: 40, batching: false }), 7).traceHash, a.traceHash);
});

test('sched: fault-no-recheck is caught within 60 seeds', () => {
  const cfg = defaultConfig({ inject: ['fault-no-recheck'] });
  let caught = 0;
  for (let s = 1; s <= 60 && !caught; s++) caught += runSched(cfg, s).violations.length;
  assert.ok(caught > 0);
});
