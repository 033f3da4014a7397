// Piscina task: run one seed of the sched engine on this worker thread, on the machine buffer the
// coordinator watches (src/engine/worker-watch.ts).
import { runSched } from '../src/engine/sched.js';
import type { RunResult } from '../src/engine/result.js';
import type { SchedTask } from '../src/engine/worker-watch.js';

export default function schedTask(task: SchedTask): RunResult {
  if (task.started) Atomics.store(new Int32Array(task.started), 0, 1); // running, not queued
  return runSched(task.cfg, task.seed, { sab: task.sab });
}
