// A sched-engine piscina task that misbehaves on purpose, for the worker hang and crash tests only:
// seed 3 hangs (spins without yielding after its 50th event, like a kernel path that loops
// forever), seed 5 throws an error that is not a Violation (a bug in the tool), seed 7's thread
// exits. Every other seed runs as workers/sched-task.ts runs it.
import { runSched } from '../../src/engine/sched.js';
import type { RunResult } from '../../src/engine/result.js';
import type { SchedTask } from '../../src/engine/worker-watch.js';
import schedTask from '../../workers/sched-task.js';

export const HANG_SEED = 3, CRASH_SEED = 5, EXIT_SEED = 7;

export default function faultySchedTask(task: SchedTask): RunResult {
  if (task.seed === HANG_SEED) {
    if (task.started) Atomics.store(new Int32Array(task.started), 0, 1);
    let n = 0;
    return runSched(task.cfg, task.seed, {
      sab: task.sab,
      onEvent: () => {
        if (++n === 50) for (;;);
      },
    });
  }
  if (task.seed === CRASH_SEED) throw new TypeError('deliberate crash in the test task');
  if (task.seed === EXIT_SEED) process.exit(7); // in a worker thread: only this thread ends
  return schedTask(task);
}
