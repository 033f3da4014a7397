// What one run of one seed produces, in either engine; the coordinator merges these.
import type { EncodedHists } from '../machine/histograms.js';
import type { RingEvent } from '../diag/flight-recorder.js';
import type { Op } from '../workload/program.js';

export interface ViolationRecord {
  invariant: string;
  path: string;
  signature: string;
  details: Record<string, unknown>;
  cpu: number;
  seed: number;
  engine: 'sched' | 'threads';
  step: number;
  /** Last events of every CPU (flight recorder), oldest first. */
  events: RingEvent[][];
  /** sched: the run-length encoded schedule up to the violation. */
  schedule?: number[];
  /** The ops each CPU had started, per CPU (its stream is a function of the seed, or the run's explicit programs). */
  opsStarted?: number[];
  /**
   * threads: the ops each CPU started before the violation was detected (a prefix of its seeded
   * stream), and per op the global sequence number and the CPU's event number (RingEvent.n) of its
   * OP_START: what repro needs to replay the failure in the sched engine in the recorded order.
   */
  programs?: Op[][];
  opSeqs?: number[][];
  opEventNos?: number[][];
  artifact?: string;
  /** A config with variants: the label of the one this seed ran (its artifact records that variant's config). */
  variant?: string;
}

export interface RunResult {
  seed: number;
  engine: 'sched' | 'threads';
  steps: number;
  ops: Record<string, number>;
  events: Record<string, number>;
  hist: EncodedHists;
  violations: ViolationRecord[];
  /** sched only: hash over every scheduling choice and event. */
  traceHash?: string;
  wallMs: number;
  /** sched: how the scheduler fared, when it says (replay: where it diverged). */
  scheduler?: { name: string } & Record<string, unknown>;
  /** A config with variants: the label of the one this seed ran. */
  variant?: string;
  /** threads: the ops each CPU started (at least opsPerCpu unless the round was stopped: a CPU runs on past its budget until every CPU's is spent). */
  opsStarted?: number[];
}
