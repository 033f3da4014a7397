// pos (partial order sampling): the highest priority runs; after a step, the CPUs whose last step
// conflicts with it draw new priorities and the CPU that ran draws one for its next step; footprints
// come from the machine's words (src/engine/footprint.ts) while the run lasts. Deterministic per
// seed, clean on the unmodified model, and it finds a cross-CPU race.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PosScheduler } from '../../../src/engine/schedulers/pos.js';
import { runSched } from '../../../src/engine/sched.js';
import { defaultConfig } from '../../../src/config/config.js';

test('pos: without footprints (no machine attached) each pick is the highest priority, and the CPU that ran draws a new one', () => {
  const s = new PosScheduler(3);
  s.start(3);
  const all = [0, 1, 2];
  const picks = Array.from({ length: 200 }, (_, i) => s.pick(all, i));
  assert.equal(new Set(picks).size, 3, 'every CPU runs sometimes');
  const again = new PosScheduler(3);
  again.start(3);
  assert.deepEqual(Array.from({ length: 200 }, (_, i) => again.pick(all, i)), picks, 'the same seed, the same picks');
  assert.deepEqual(s.pick([1], 200), 1, 'only runnable CPUs are picked');
});

test('pos: runs are deterministic per seed, clean on the unmodified model, and the Atomics wrapping is gone after the run', () => {
  const cfg = defaultConfig({ scheduler: 'pos', opsPerCpu: 60 });
  const load = Atomics.load;
  const a = runSched(cfg, 5), b = runSched(cfg, 5), r = runSched({ ...cfg, scheduler: 'random' }, 5);
  assert.equal(Atomics.load, load, 'detached: Atomics restored');
  assert.deepEqual(a.violations, []);
  assert.equal(a.traceHash, b.traceHash);
  assert.notEqual(a.traceHash, r.traceHash, 'not the random schedule');
});

test('pos: finds the anon-fault recheck race (fault-no-recheck) on its provoking mix within a few seeds', () => {
  const cfg = defaultConfig({ scheduler: 'pos', inject: ['fault-no-recheck'], weights: { mmapfile: 0, writeback: 0, mprotect: 0 } });
  let found = 0;
  for (let seed = 1; seed <= 12 && !found; seed++) if (runSched(cfg, seed).violations.length) found = seed;
  assert.ok(found > 0, 'detected within 12 seeds');
});
