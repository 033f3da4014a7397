// Schedule surgery: what remains of an interleaving when ops, CPUs or preemptions are taken out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cutGuide, encodeSchedule, expandSchedule, guideOf, postpone, preemptionPoints, type ShrinkCase, unpreempt } from '../../src/shrink/case.js';
import { defaultConfig } from '../../src/config/config.js';
import type { ViolationRecord } from '../../src/engine/result.js';

/** A case with just a schedule: cpus and labels per step. */
function caseOf(cpus: number[], labels: number[]): ShrinkCase {
  return {
    cfg: defaultConfig({ cpus: 3 }), programs: [[], [], []], schedule: encodeSchedule(cpus), labels, steps: cpus.length, preemptions: 0, touchFirst: [],
    violation: {} as ViolationRecord,
  };
}

test('schedules: run-length encoding round trips', () => {
  const steps = [0, 0, 1, 2, 2, 2, 0];
  assert.deepEqual(encodeSchedule(steps), [0, 2, 1, 1, 2, 3, 0, 1]);
  assert.deepEqual(expandSchedule(encodeSchedule(steps)), steps);
});

test('cutGuide: the steps of removed ops go, later ops of that CPU are relabelled; a dropped CPU renumbers those above', () => {
  //            CPU 0 ops 0,0,1,1,2 ; CPU 1 op 0 ; CPU 2 ops 0,1
  const c = caseOf([0, 1, 0, 0, 2, 0, 2, 0], [0, 0, 0, 1, 0, 1, 1, 2]);
  const g = cutGuide(c, [new Set([1]), new Set(), new Set()]);
  assert.deepEqual(g.cpus, [0, 1, 0, 2, 2, 0]);
  assert.deepEqual(g.labels, [0, 0, 0, 0, 1, 1], "CPU 0's op 2 is op 1 now");
  const d = cutGuide(c, [], 1);
  assert.deepEqual(d.cpus, [0, 0, 0, 1, 0, 1, 0], 'CPU 2 is CPU 1 now');
  assert.deepEqual(d.labels, [0, 0, 1, 0, 1, 1, 2]);
});

test('preemptions: found where a CPU is switched away from inside an op; unpreempt lets that op run on; postpone delays the interloper', () => {
  // CPU 0 op 0 runs 2 steps, CPU 1 op 0 runs 2 steps (preempting CPU 0), CPU 0 finishes op 0, then op 1
  const c = caseOf([0, 0, 1, 1, 0, 0, 1], [0, 0, 0, 0, 0, 1, 0]);
  assert.deepEqual(preemptionPoints(guideOf(c)), [1, 3], 'after step 1 (CPU 0 in op 0) and step 3 (CPU 1 in op 0)');
  const u = unpreempt(guideOf(c), [1]);
  assert.deepEqual(u.cpus, [0, 0, 0, 1, 1, 0, 1]);
  assert.deepEqual(u.labels, [0, 0, 0, 0, 0, 1, 0]);
  assert.deepEqual(preemptionPoints(u), [4], 'only CPU 1 is preempted now (by CPU 0\'s op 1)');
  const p = postpone(guideOf(c), 1);
  assert.deepEqual(p.cpus, [0, 0, 0, 0, 1, 1, 1], "CPU 1's run waits until after CPU 0's next run");
  assert.deepEqual(preemptionPoints(p), []);
  // several at once: later points are undone first, so earlier indices still hold
  const both = unpreempt(guideOf(c), [1, 3]);
  assert.deepEqual(both.cpus, [0, 0, 0, 1, 1, 1, 0]);
});
