// The "pos" strategy: partial order sampling (Yuan, Yang, Gu, CAV 2018). Every CPU's pending step
// has a random priority and the highest runs; after a step, the priorities of the steps it
// conflicts with are drawn again (and the CPU that ran gets a fresh one for its next step), so the
// order of conflicting steps is resampled while independent ones keep theirs: interleavings that
// differ only in the order of independent steps stop diluting the sample, which PCT's fixed change
// points and random's uniform picks both suffer from on this model.
// Conflicts come from the same footprints the explorer uses (src/engine/footprint.ts: the words of
// the machine each step reads and writes, by wrapping Atomics while the run lasts). A pending step's
// footprint is not known before it runs: its CPU's previous step stands for it (the same kernel
// path, usually the same PTEs, folio and locks), an approximation POS tolerates (it only changes
// which priorities are redrawn, never which CPUs may run).
import type { Machine } from '../../machine/machine.js';
import { rng } from '../../workload/program.js';
import { AccessTracker, type Footprint, independent } from '../footprint.js';
import type { Scheduler } from '../scheduler.js';

export class PosScheduler implements Scheduler {
  readonly name = 'pos';
  private rand: () => number;
  private prio: number[] = [];
  /** Per CPU: the footprint of its last step, the estimate of its pending one (null: none yet). */
  private est: (Footprint | null)[] = [];
  private last = -1;
  private tracker: AccessTracker | null = null;

  constructor(private readonly seed: number) {
    this.rand = rng(seed, 'pos');
  }

  /** Watch the machine's words (from the first step to detach()). */
  attach(machine: Machine): void {
    this.tracker = new AccessTracker();
    this.tracker.attach(machine);
    this.tracker.install();
    this.tracker.recording(true);
  }

  detach(): void {
    this.tracker?.uninstall();
    this.tracker = null;
  }

  start(ncpus: number): void {
    this.rand = rng(this.seed, 'pos');
    this.prio = Array.from({ length: ncpus }, () => this.rand());
    this.est = new Array(ncpus).fill(null);
    this.last = -1;
  }

  pick(runnable: readonly number[], _step: number): number {
    if (this.last >= 0) {
      const fp = this.tracker?.take() ?? null;
      const ran = this.last;
      this.prio[ran] = this.rand(); // its step is done: its next one is a new event
      if (fp) {
        this.est[ran] = fp;
        for (let c = 0; c < this.prio.length; c++) {
          const e = this.est[c];
          if (c !== ran && e && !independent(e, fp)) {
            this.prio[c] = this.rand();
          }
        }
      }
    }
    let best = runnable[0];
    for (const c of runnable) if (this.prio[c] > this.prio[best]) best = c;
    this.last = best;
    return best;
  }

  random(): number {
    return this.rand();
  }
}
