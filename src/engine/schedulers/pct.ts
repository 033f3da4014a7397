// The "pct" strategy: Probabilistic Concurrency Testing (Burckhardt, Kothari, Musuvathi, Nagarakatte,
// "A Randomized Scheduler with Probabilistic Guarantees of Finding Bugs", ASPLOS 2010). Each CPU
// gets a distinct random priority in d..d+n-1; d-1 change points are drawn uniformly in [1, k],
// k an estimate of the run's step count. At every step the highest-priority runnable CPU runs;
// when the i-th change point is reached, the CPU that just ran drops to priority d-i, below every
// initial priority. A bug of depth d (d ordering constraints) is then found by one run with
// probability at least 1/(n*k^(d-1)), whatever the program: the guarantee pctGuarantee() prints.
import { rng } from '../../workload/program.js';
import type { Scheduler } from '../scheduler.js';

export class PctScheduler implements Scheduler {
  readonly name = 'pct';
  private rand: () => number;
  private prio: number[] = [];
  /** change point step (1-based count of picks) -> the priority the running CPU drops to */
  private changes = new Map<number, number>();
  private count = 0;
  constructor(
    private readonly seed: number,
    readonly depth: number,
    readonly steps: number,
  ) {
    if (!(depth >= 1) || !Number.isInteger(depth)) throw new Error(`pct: depth must be an integer >= 1 (got ${depth})`);
    if (!(steps >= 1)) throw new Error(`pct: the step estimate must be >= 1 (got ${steps})`);
    this.rand = rng(seed, 'sched');
  }
  start(ncpus: number): void {
    const d = this.depth;
    this.rand = rng(this.seed, 'sched');
    this.count = 0;
    // initial priorities d..d+n-1 in a random order (Fisher-Yates)
    this.prio = Array.from({ length: ncpus }, (_, i) => d + i);
    for (let i = ncpus - 1; i > 0; i--) {
      const j = Math.floor(this.rand() * (i + 1));
      [this.prio[i], this.prio[j]] = [this.prio[j], this.prio[i]];
    }
    // d-1 change points, distinct when the estimate leaves room for them
    this.changes = new Map();
    const k = Math.max(1, Math.floor(this.steps));
    for (let i = 1; i < d; i++) {
      let at = 1 + Math.floor(this.rand() * k);
      for (let tries = 0; this.changes.has(at) && tries < 8 && k >= d; tries++) at = 1 + Math.floor(this.rand() * k);
      if (!this.changes.has(at)) this.changes.set(at, d - i);
    }
  }
  pick(runnable: readonly number[], _step = 0): number {
    let best = runnable[0];
    for (let i = 1; i < runnable.length; i++) if (this.prio[runnable[i]] > this.prio[best]) best = runnable[i];
    this.count++;
    const drop = this.changes.get(this.count);
    if (drop !== undefined) this.prio[best] = drop; // it runs this step, then loses its priority
    return best;
  }
  random(): number {
    return this.rand();
  }
  /** The change points, for reports and tests: step -> new priority. */
  changePoints(): [number, number][] {
    return [...this.changes.entries()].sort((a, b) => a[0] - b[0]);
  }
}

export interface PctGuarantee {
  depth: number;
  cpus: number;
  steps: number;
  /** lower bound of the probability that one run finds a given bug of this depth: 1/(n*k^(d-1)) */
  probability: number;
  /** runs needed for 99% confidence of finding it: ln(0.01)/ln(1-p) */
  runsFor99: number;
}

/** The PCT bound for n CPUs, k steps and depth d. */
export function pctGuarantee(depth: number, cpus: number, steps: number): PctGuarantee {
  const k = Math.max(1, steps);
  const p = 1 / (Math.max(1, cpus) * Math.pow(k, depth - 1));
  // -log1p(-p) keeps precision for tiny p (ln(1-p) ~ -p)
  const runs = p >= 1 ? 1 : Math.ceil(-Math.log(0.01) / -Math.log1p(-p));
  return { depth, cpus, steps: k, probability: p, runsFor99: runs };
}
