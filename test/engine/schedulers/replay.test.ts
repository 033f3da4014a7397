import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplayScheduler } from '../../../src/engine/schedulers/replay.js';
import { RandomScheduler } from '../../../src/engine/schedulers/random.js';
import { runSched } from '../../../src/engine/sched.js';
import { defaultConfig } from '../../../src/config/config.js';

const cfg = defaultConfig({ opsPerCpu: 40 });

/** The full schedule of a random run of seed, recorded through a replay-free run. */
function recorded(seed: number): { schedule: number[]; traceHash: string } {
  const schedule: number[] = [];
  // a run records its schedule only for violations; a scheduler that logs its own picks gives the whole of it
  const inner = new RandomScheduler(seed);
  const picks: number[] = [];
  const logging = {
    name: 'random',
    start: (n: number) => inner.start(n),
    pick: (r: readonly number[], s: number) => {
      const c = inner.pick(r, s);
      picks.push(c);
      return c;
    },
    random: () => inner.random(),
  };
  const r = runSched(cfg, seed, { scheduler: logging });
  for (let i = 0; i < picks.length; ) {
    let j = i;
    while (j < picks.length && picks[j] === picks[i]) j++;
    schedule.push(picks[i], j - i);
    i = j;
  }
  return { schedule, traceHash: r.traceHash! };
}

test('replay: following a recorded schedule reproduces the run byte for byte, without divergence', () => {
  for (const seed of [1, 2, 3]) {
    const rec = recorded(seed);
    const r = runSched(cfg, seed, { scheduler: new ReplayScheduler(rec.schedule, seed) });
    assert.equal(r.traceHash, rec.traceHash, `seed ${seed}`);
    assert.equal(r.scheduler?.name, 'replay');
    assert.equal(r.scheduler?.divergedAt, undefined);
    assert.equal(r.scheduler?.followed, r.steps);
  }
});

test('replay: a schedule that names a CPU which cannot run diverges at that step and the run goes on', () => {
  const rec = recorded(4);
  // CPU 7 does not exist: the replay diverges at the first step of the bad run
  const bad = [...rec.schedule.slice(0, 20), 7, 5, ...rec.schedule.slice(20)];
  const followed = rec.schedule.slice(0, 20).filter((_, i) => i % 2 === 1).reduce((a, b) => a + b, 0);
  const r = runSched(cfg, 4, { scheduler: new ReplayScheduler(bad, 4) });
  assert.equal(r.scheduler?.divergedAt, followed);
  assert.equal(r.scheduler?.followed, followed);
  assert.match(String(r.scheduler?.reason), /recorded CPU 7 cannot run/);
  assert.equal(r.violations.length, 0, 'the fallback finished the run');
  assert.ok(r.steps > followed);
});

test('replay: a schedule that ends early says so and the fallback finishes the run', () => {
  const rec = recorded(5);
  const r = runSched(cfg, 5, { scheduler: new ReplayScheduler(rec.schedule.slice(0, 10), 5) });
  assert.match(String(r.scheduler?.reason), /ended after \d+ steps/);
  assert.equal(r.scheduler?.divergedAt, r.scheduler?.followed);
  assert.equal(r.violations.length, 0);
  // the fallback is seeded: diverging twice the same way gives the same run
  const again = runSched(cfg, 5, { scheduler: new ReplayScheduler(rec.schedule.slice(0, 10), 5) });
  assert.equal(again.traceHash, r.traceHash);
});

test('replay: an odd-length schedule is refused', () => {
  assert.throws(() => new ReplayScheduler([0, 1, 2], 1), /pairs/);
});
