// taskWindow (src/experiment/task-window.ts): at most `width` at once, started in the order given;
// once stopped, the rest reject without running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { taskWindow, WindowStopped } from '../../src/experiment/task-window.js';

test('taskWindow runs at most width at once, in the order given, and starts none once stopped', async () => {
  let stop = false;
  const gate = taskWindow(2, () => stop);
  const started: number[] = [];
  let running = 0, most = 0;
  const finish: (() => void)[] = [];
  const calls = Array.from({ length: 6 }, (_, i) => gate(() => {
    started.push(i);
    most = Math.max(most, ++running);
    return new Promise<number>((resolve) => finish.push(() => (running--, resolve(i))));
  }));
  const tick = () => new Promise((r) => setImmediate(r));
  await tick();
  assert.deepEqual(started, [0, 1]);
  finish.shift()!(); // 0 ends: 2 starts
  await tick();
  assert.deepEqual(started, [0, 1, 2]);
  finish.shift()!();
  finish.shift()!();
  await tick();
  assert.deepEqual(started, [0, 1, 2, 3, 4]);
  stop = true;
  finish.shift()!();
  finish.shift()!();
  const settled = await Promise.allSettled(calls);
  assert.deepEqual(started, [0, 1, 2, 3, 4], 'the last never started');
  assert.equal(most, 2);
  assert.deepEqual(settled.slice(0, 5).map((s) => s.status === 'fulfilled' && s.value), [0, 1, 2, 3, 4]);
  assert.ok(settled[5].status === 'rejected' && settled[5].reason instanceof WindowStopped);
});
