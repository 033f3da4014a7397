// The test case the shrinker minimises: a config, each CPU's explicit op list and the schedule (RLE,
// up to the violation) under which they fail; plus what a run of it measured. And the surgery on
// schedules that keeps a recorded interleaving when ops or CPUs are taken out.
import type { Config } from '../config/config.js';
import type { CaseSize } from '../report/artifact.js';
import type { ViolationRecord } from '../engine/result.js';
import type { Op } from '../workload/program.js';

export interface ShrinkCase {
  cfg: Config;
  /** Per CPU, the ops it runs (cut after the last op started before the violation). */
  programs: Op[][];
  /** Run-length encoded CPU choices up to the violation ([cpu, count, ...]). */
  schedule: number[];
  /** Per step of the schedule: the op index (ops ended so far) of the CPU that ran it. */
  labels: number[];
  steps: number;
  preemptions: number;
  /** Per CPU, per op: the first page (vpn) a touch op touched, when it got that far. */
  touchFirst: number[][];
  violation: ViolationRecord;
}


export const opsOf = (programs: readonly (readonly Op[])[]): number => programs.reduce((n, p) => n + p.length, 0);

export function sizeOf(c: ShrinkCase): CaseSize {
  return { cpus: c.cfg.cpus, processes: c.cfg.processes, ops: opsOf(c.programs), steps: c.steps, preemptions: c.preemptions };
}

/** [cpu, count, ...] -> one CPU per step. */
export function expandSchedule(rle: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < rle.length; i += 2) for (let k = 0; k < rle[i + 1]; k++) out.push(rle[i]);
  return out;
}

/** One CPU per step -> [cpu, count, ...]. */
export function encodeSchedule(steps: readonly number[]): number[] {
  const out: number[] = [];
  for (const c of steps) {
    if (out.length && out[out.length - 2] === c) out[out.length - 1]++;
    else out.push(c, 1);
  }
  return out;
}

/** A schedule to follow: per step, the CPU that ran it and the op it was in (see GuidedScheduler). */
export interface Guide {
  cpus: number[];
  labels: number[];
}

export const guideOf = (c: ShrinkCase): Guide => ({ cpus: expandSchedule(c.schedule), labels: c.labels });

/**
 * c's schedule with the steps of some ops taken out: removed[cpu] holds the op indices gone from
 * that CPU's program (with `dropCpu`, that whole CPU goes and the CPUs above it are renumbered).
 * The other steps keep their order and are relabelled for the ops' new indices, so what remains of
 * the interleaving is tried first.
 */
export function cutGuide(c: ShrinkCase, removed: ReadonlySet<number>[], dropCpu = -1): Guide {
  const g = guideOf(c);
  const out: Guide = { cpus: [], labels: [] };
  // below[cpu][label]: how many removed ops of cpu come before op `label`
  const below = c.programs.map((p, cpu) => {
    const n = new Array<number>(p.length + 3).fill(0);
    for (let l = 1; l < n.length; l++) n[l] = n[l - 1] + (removed[cpu]?.has(l - 1) ? 1 : 0);
    return n;
  });
  for (let i = 0; i < g.cpus.length; i++) {
    const cpu = g.cpus[i];
    const label = g.labels[i];
    if (cpu === dropCpu || removed[cpu]?.has(label)) continue;
    out.cpus.push(dropCpu >= 0 && cpu > dropCpu ? cpu - 1 : cpu);
    out.labels.push(label - (below[cpu]?.[Math.min(label, below[cpu].length - 1)] ?? 0));
  }
  return out;
}

/**
 * g with the preemptions after the given step indices taken out (each: the step after which a CPU
 * was switched away in the middle of an op): the steps that CPU later ran in that same op move up
 * to right after it, so the op runs to its end (or until it blocks) unpreempted. Later points are
 * undone first, so the indices of earlier ones still hold.
 */
export function unpreempt(g: Guide, points: readonly number[]): Guide {
  // Undoing a later point first and an earlier one after gives, per op, this: every step of that op
  // after its earliest point follows that point directly. One pass over the steps builds it.
  const key = (i: number) => `${g.cpus[i]}/${g.labels[i]}`;
  const earliest = new Map<string, number>();
  for (const at of points) if (!(earliest.get(key(at))! <= at)) earliest.set(key(at), at);
  const later = new Map<string, number[]>(); // the steps after the earliest point of each op
  for (let i = 0; i < g.cpus.length; i++) {
    const e = earliest.get(key(i));
    if (e !== undefined && i > e) (later.get(key(i)) ?? later.set(key(i), []).get(key(i))!).push(i);
  }
  const out: Guide = { cpus: [], labels: [] };
  const emit = (i: number) => (out.cpus.push(g.cpus[i]), out.labels.push(g.labels[i]));
  for (let i = 0; i < g.cpus.length; i++) {
    const e = earliest.get(key(i));
    if (e !== undefined && i > e) continue; // moved up already
    emit(i);
    if (e === i) for (const j of later.get(key(i)) ?? []) emit(j);
  }
  return out;
}

/**
 * g with the preemption after step index `at` taken out the other way: what ran between it and the
 * preempted CPU's next run is postponed until after that run, so the CPU's two runs join.
 */
export function postpone(g: Guide, at: number): Guide {
  const cpu = g.cpus[at];
  let k = at + 1;
  while (k < g.cpus.length && g.cpus[k] !== cpu) k++;
  let m = k;
  while (m < g.cpus.length && g.cpus[m] === cpu) m++;
  const order = [...range(0, at + 1), ...range(k, m), ...range(at + 1, k), ...range(m, g.cpus.length)];
  return { cpus: order.map((i) => g.cpus[i]), labels: order.map((i) => g.labels[i]) };
}

const range = (a: number, b: number): number[] => Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);

/**
 * The step indices (0-based) after which a preemption happened in g: the CPU switched away from
 * was in the middle of an op (its next step carries the same op label). Whether it could still
 * run there is not known from the schedule alone; a candidate run measures the real count.
 */
export function preemptionPoints(g: Guide): number[] {
  const { cpus, labels } = g;
  const next = new Map<number, number>(); // cpu -> label of its next step, scanning backwards
  const nextLabel: number[] = new Array(cpus.length).fill(-1);
  for (let i = cpus.length - 1; i >= 0; i--) {
    nextLabel[i] = next.get(cpus[i]) ?? -1;
    next.set(cpus[i], labels[i]);
  }
  const out: number[] = [];
  for (let i = 0; i + 1 < cpus.length; i++) if (cpus[i + 1] !== cpus[i] && nextLabel[i] === labels[i]) out.push(i);
  return out;
}
