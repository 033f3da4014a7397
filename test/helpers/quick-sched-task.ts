// A sched piscina task for the worker pool tests (test/engine/pool.test.ts) that stands in for
// workers/sched-task.ts without loading the model (a thread starts in a tenth of the time): it
// spins SPIN_MS and returns a seed result with one violation when seed % FAIL_EVERY is 0, so a run
// with --max-failures 1 stops while the other seeds are running or have just posted their results.
import type { RunResult } from '../../src/engine/result.js';
import type { SchedTask } from '../../src/engine/worker-watch.js';

export const SPIN_MS = 3, FAIL_EVERY = 4;

export default function quickSchedTask(task: SchedTask): RunResult {
  if (task.started) Atomics.store(new Int32Array(task.started), 0, 1);
  const end = performance.now() + SPIN_MS;
  while (performance.now() < end);
  const fails = task.seed % FAIL_EVERY === 0;
  return {
    seed: task.seed, engine: 'sched', steps: 10, ops: { touch: 1 }, events: { 'fault.anon': 1 }, hist: { unit: 'steps', h: {} }, wallMs: SPIN_MS, traceHash: '0',
    violations: fails ? [{ invariant: 'test-invariant', path: 'test_path', signature: 'test-invariant@test_path', details: { seed: task.seed }, cpu: 0, seed: task.seed, engine: 'sched', step: 5, events: [[]], schedule: [0, 5] }] : [],
  };
}
