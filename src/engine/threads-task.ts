// The threads engine's task of one simulated CPU (workers/cpu-task.ts runs it): what the
// coordinator hands the worker thread, and what it gets back.
import type { Config } from '../config/config.js';
import type { OpLog } from '../machine/cpu.js';
import type { EncodedHists } from '../machine/histograms.js';
import type { ViolationRecord } from './result.js';

export interface CpuTask {
  sab: SharedArrayBuffer;
  cfg: Config;
  seed: number;
  cpu: number;
  /** Int32 word per CPU: set to 1 when this CPU's task starts running (before: queued or its thread starting, not hanging). */
  started?: SharedArrayBuffer;
}

/** Tell the coordinator's watchdog this CPU's task runs (src/engine/worker-watch.ts). */
export function markStarted(task: CpuTask): void {
  if (task.started) Atomics.store(new Int32Array(task.started), task.cpu, 1);
}

export interface CpuTaskResult {
  cpu: number;
  counters: Record<string, number>;
  hist: EncodedHists;
  opsStarted: number;
  /** Per op started: the global sequence number and this CPU's event number of its OP_START (Cpu.evOpStart). */
  opLog: OpLog;
  /** The ops this CPU ran to their end, per kind (the round's histograms must count them: src/check/instruments.ts). */
  completed?: Record<string, number>;
  /** Without opsStarted: the coordinator adds every CPU's count. */
  violation?: ViolationRecord;
}

