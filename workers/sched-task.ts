// Piscina task: run one seed of the sched engine on this worker thread.
import type { Config } from '../src/config.js';
import { runSched } from '../src/engine/sched.js';
import type { RunResult } from '../src/engine/result.js';

export default function schedTask(task: { cfg: Config; seed: number }): RunResult {
  return runSched(task.cfg, task.seed);
}
