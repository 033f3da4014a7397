// The explorer's scheduler and its depth-first search over the choice points of a scenario's
// concurrent blocks (stateless model checking, as CHESS and loom do): every schedule re-runs the
// scenario on a fresh machine; the scheduler follows the choices of a prefix, then a default
// continuation (keep running the CPU that ran last; when it cannot run, the next one in order).
// A choice point is a scheduler step with two or more CPUs that can run; a preemption is a
// switch away from a CPU that could still run. Schedules with more than `bound` preemptions are
// not explored (context bounding: the explorer runs bound = 0, 1, 2, ... so each violation is
// found first at its minimal preemption count).
//
// Reduction (sleep sets, Godefroid 1996), made sound under the preemption bound: at a choice point
// whose previous CPU p can still run, once the continuation (p's next step t) has been explored,
// each later sibling explores with t asleep: t stays asleep down that branch until a step that
// conflicts with t (its footprint, footprint.ts) runs, and a schedule that would run t while it
// sleeps is not explored. Such a schedule n.u.w.t.rest (w independent of t) is equivalent to
// n.t.u.w.rest, which was explored under t and has no more preemptions: t continues p at n (no
// switch there), and dropping t from between w and rest removes up to two switches while adding at
// most the one from t to u. Only the continuation is put to sleep: putting a preempting sibling
// there could hide a schedule whose explored equivalent needs one preemption more, past the bound
// (the known problem of sleep sets under context bounding, Coons, Musuvathi, McKinley 2013).
import type { Scheduler } from '../engine/scheduler.js';
import { type AccessTracker, type Footprint, independent } from '../engine/footprint.js';

/** One choice point of the current schedule. */
export interface Node {
  /** CPUs that could run here (ascending). */
  runnable: number[];
  /** The CPU that ran the step before (-1: none in this block). */
  prev: number;
  /** prev can still run here: choosing another CPU is a preemption. */
  prevLive: boolean;
  /** Preemptions before this point. */
  cost: number;
  /** Steps asleep on arrival: CPU -> the footprint of its next step. */
  sleep: Map<number, Footprint>;
  /** The choice of the current schedule. */
  choice: number;
  /** Choices explored here, in order, with the footprint of the step each ran (null: not known yet). */
  tried: Map<number, Footprint | null>;
}

/** Thrown by pick() when every CPU that could run is asleep, or only past the bound: the schedule is pruned. */
export class Pruned extends Error {
  constructor() {
    super('schedule pruned');
  }
}

/** The candidate order at a choice point: the continuation first, then the CPUs after prev in cyclic order. */
function order(node: Pick<Node, 'runnable' | 'prev' | 'prevLive'>): number[] {
  const r = node.runnable;
  const after = r.filter((c) => c > node.prev), before = r.filter((c) => c < node.prev);
  return node.prevLive ? [node.prev, ...after, ...before] : [...after, ...before];
}

const costOf = (node: Node, t: number): number => node.cost + (node.prevLive && t !== node.prev ? 1 : 0);

/** Whether t may be chosen at node under the bound (and, reducing, is not asleep). */
const eligible = (node: Node, t: number, bound: number, reduce: boolean): boolean => costOf(node, t) <= bound && !(reduce && node.sleep.has(t));

/**
 * The scheduler of one explored schedule. nodes holds the prefix to follow (the search's stack,
 * extended in place with the new choice points of this run). Each CPU that has ended its list in
 * a block is picked at once (the sched loop's step that finds it done, no choice and no cost).
 */
export class ExploreScheduler implements Scheduler {
  readonly name = 'explore';
  private depth = 0;
  private prev = -1;
  private cost = 0;
  private sleep = new Map<number, Footprint>();
  private ended = new Set<number>();
  /** The node whose choice ran the last step (its footprint is taken at the next pick). */
  private last: Node | null = null;
  /** The CPU that ran the last step (-1: a forced end step, or none yet). */
  private ran = -1;
  pruned = false;
  /** Preemptions of this schedule so far. */
  get preemptions(): number {
    return this.cost;
  }

  constructor(
    readonly nodes: Node[],
    private readonly bound: number,
    private readonly reduce: boolean,
    private readonly tracker: AccessTracker,
  ) {}

  start(_ncpus: number): void {}

  /** A concurrent block begins: what ran before it (sequential steps) conflicts with everything, so nothing sleeps. */
  block(): void {
    this.finishStep();
    this.sleep.clear();
    this.ended.clear();
    this.prev = -1;
  }

  /** The footprint of the step that ran last: to its node, and wake the sleepers it conflicts with. */
  finishStep(): void {
    const fp = this.tracker.take();
    if (this.last) {
      this.last.tried.set(this.last.choice, fp);
      this.last = null;
    }
    if (this.ran >= 0) {
      this.sleep.delete(this.ran);
      for (const [u, f] of this.sleep) if (!independent(f, fp)) this.sleep.delete(u);
    }
    this.ran = -1;
  }

  pick(runnable: readonly number[], _step: number): number {
    this.finishStep();
    for (const c of runnable) if (this.ended.has(c)) return c; // the step that finds its list done
    if (runnable.length === 1) {
      const c = runnable[0];
      if (this.reduce && this.sleep.has(c)) this.prune();
      // the only CPU that can run: no choice, and no preemption (prev cannot run)
      this.prev = this.ran = c;
      return c;
    }
    let node: Node;
    if (this.depth < this.nodes.length) {
      node = this.nodes[this.depth];
      if (node.runnable.length !== runnable.length || node.runnable.some((c, i) => c !== runnable[i]) || node.prev !== this.prev) {
        throw new Error(`explore: the scenario is not deterministic: at choice point ${this.depth} CPUs ${runnable.join(',')} could run after CPU ${this.prev}, in an earlier run ${node.runnable.join(',')} after CPU ${node.prev}`);
      }
    } else {
      const prevLive = runnable.includes(this.prev);
      node = { runnable: [...runnable], prev: this.prev, prevLive, cost: this.cost, sleep: new Map(this.sleep), choice: -1, tried: new Map() };
      const t = order(node).find((c) => eligible(node, c, this.bound, this.reduce));
      if (t === undefined) this.prune();
      node.choice = t;
      node.tried.set(t, null);
      this.nodes.push(node);
    }
    this.depth++;
    const t = node.choice;
    // the sleep set below this choice: what slept here, and the continuation once explored (see the header)
    this.sleep = new Map(node.sleep);
    if (this.reduce && node.prevLive && t !== node.prev) {
      const fp = node.tried.get(node.prev);
      if (fp) this.sleep.set(node.prev, fp);
    }
    this.cost = costOf(node, t);
    this.prev = this.ran = t;
    this.last = node;
    return t;
  }

  /** The loop tells of each CPU whose kernel path ended: in a block, its whole list. */
  yielded(cpu: number, point: number | null): void {
    if (point === null) this.ended.add(cpu);
  }

  random(): number {
    return 0;
  }

  private prune(): never {
    this.pruned = true;
    throw new Pruned();
  }
}

/**
 * Move the search to its next schedule: the deepest choice point with an untried choice within the
 * bound (and not asleep there) takes it; the points below it are dropped. false: the search is over.
 */
export function backtrack(nodes: Node[], bound: number, reduce: boolean): boolean {
  while (nodes.length) {
    const node = nodes[nodes.length - 1];
    const t = order(node).find((c) => !node.tried.has(c) && eligible(node, c, bound, reduce));
    if (t !== undefined) {
      node.choice = t;
      node.tried.set(t, null);
      return true;
    }
    nodes.pop();
  }
  return false;
}
