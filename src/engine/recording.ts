// What a threads failure records so that it can be replayed in the sched engine (issue #5 item 3):
// each CPU's op stream, the global sequence number and the CPU's event number at which each op
// started, and the flight recorder (already in every violation). The threads engine attaches the
// op part to its violations; the follow scheduler (schedulers/follow.ts) replays from all three.
import type { Config } from '../config/config.js';
import type { OpLog } from '../machine/cpu.js';
import { type Op, programPrefix } from '../workload/program.js';

export interface OpRecording {
  /** Per CPU: the ops it started before the violation was detected (a prefix of its seeded stream). */
  programs: Op[][];
  /** Per CPU, per op: the global sequence number of its OP_START (ascending). */
  opSeqs: number[][];
  /** Per CPU, per op: the CPU's event number of its OP_START (the numbering of RingEvent.n). */
  opEventNos: number[][];
}

/**
 * The ops of a threads round up to the detection of a violation at global sequence number step:
 * per CPU, the ops whose OP_START came before step (the CPUs run on for a moment after a
 * detection: those ops are no part of the failure). The ops themselves are regenerated from the
 * seed, so the CPU threads only log two numbers per op.
 */
export function recordOps(cfg: Config, seed: number, logs: readonly OpLog[], step: number): OpRecording {
  const rec: OpRecording = { programs: [], opSeqs: [], opEventNos: [] };
  logs.forEach((log, cpu) => {
    let k = 0;
    while (k < log.seqs.length && log.seqs[k] < step) k++;
    rec.programs.push(programPrefix(cfg, seed, cpu, k));
    rec.opSeqs.push(log.seqs.slice(0, k));
    rec.opEventNos.push(log.eventNos.slice(0, k));
  });
  return rec;
}
