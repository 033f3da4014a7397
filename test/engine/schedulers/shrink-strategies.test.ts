// The strategies and the decorator the shrinker drives runs with: sticky (never preempts), guided
// (follows a schedule labelled by op, realigning), observed (counts preemptions, labels steps).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StickyScheduler } from '../../../src/engine/schedulers/sticky.js';
import { GuidedScheduler } from '../../../src/engine/schedulers/guided.js';
import { ObservedScheduler } from '../../../src/engine/schedulers/observed.js';
import { RandomScheduler } from '../../../src/engine/schedulers/random.js';
import { runSched } from '../../../src/engine/sched.js';
import { defaultConfig } from '../../../src/config/config.js';

const cfg = defaultConfig({ opsPerCpu: 12 });

test('sticky: keeps the CPU that ran last while it can run, else the lowest runnable', () => {
  const s = new StickyScheduler();
  s.start(3);
  assert.equal(s.pick([1, 2]), 1, 'nothing ran yet: the lowest');
  s.yielded(2, 5); // CPU 2 ran the last step (chosen by someone else, e.g. a replay)
  assert.equal(s.pick([0, 1, 2]), 2);
  assert.equal(s.pick([0, 1]), 0, 'CPU 2 blocked: the lowest runnable');
});

test('observed: a run under sticky has no preemption, one under random has many; labels count ops per CPU', () => {
  const sticky = new ObservedScheduler(new StickyScheduler(), true);
  const a = runSched(cfg, 3, { scheduler: sticky });
  assert.equal(sticky.preemptions, 0);
  assert.equal(sticky.labels!.length, a.steps);
  // sticky runs CPU 0's whole program first: its labels climb 0..11 (ops), 12 (pins released), 13 (end)
  const cpu0 = sticky.labels!.slice(0, sticky.labels!.indexOf(13) + 1);
  assert.deepEqual([...new Set(cpu0)], Array.from({ length: 14 }, (_, i) => i));
  const random = new ObservedScheduler(new RandomScheduler(3));
  runSched(cfg, 3, { scheduler: random });
  assert.ok(random.preemptions > 10, `random preempted ${random.preemptions} times`);
  assert.equal(random.labels, null, 'no labels unless asked for');
});

/** Logs the CPU of every step of the scheduler it wraps. */
class Logging extends ObservedScheduler {
  readonly cpus: number[] = [];
  override pick(runnable: readonly number[], step: number): number {
    const c = super.pick(runnable, step);
    this.cpus.push(c);
    return c;
  }
}

test('guided: following a run\'s own labelled schedule reproduces it; steps of ops already over are skipped', () => {
  const rec = new Logging(new RandomScheduler(5), true);
  const a = runSched(cfg, 5, { scheduler: rec });
  const b = runSched(cfg, 5, { scheduler: new GuidedScheduler(rec.cpus, rec.labels!, new StickyScheduler()) });
  assert.equal(b.traceHash, a.traceHash);
  // a recorded op 0 of CPU 0 that now ends after one step: its second recorded step is skipped
  // rather than handed to op 1
  const g = new GuidedScheduler([0, 0, 0, 1], [0, 0, 1, 0], new StickyScheduler());
  g.start(2);
  assert.equal(g.pick([0, 1], 0), 0);
  g.yielded(0, null); // CPU 0's op 0 ended
  assert.equal(g.pick([0, 1], 1), 0, 'op 1\'s recorded step');
  g.yielded(0, 3);
  assert.equal(g.pick([0, 1], 2), 1);
  g.yielded(1, 3);
  assert.equal(g.pick([0, 1], 3), 1, 'the guide is spent: the sticky fallback keeps the CPU that ran last');
  // a recorded CPU that cannot run now: its step is skipped
  const h = new GuidedScheduler([1, 0], [0, 0], new StickyScheduler());
  h.start(2);
  assert.equal(h.pick([0], 0), 0);
});
