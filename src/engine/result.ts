// What one run of one seed produces, in either engine; the coordinator merges these.
import type { EncodedHists } from '../report/histograms.js';
import type { RingEvent } from './cpu.js';

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
  artifact?: string;
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
}
