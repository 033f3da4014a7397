// Shrinking the programs: fewer CPUs (their ops dropped or merged into another CPU's), fewer ops
// (chunk removal, halving the chunk down to single ops), and smaller ops (shorter touch runs,
// smaller mmaps). Each pass keeps a candidate only if it reproduces the signature; the schedule it
// then reproduced under becomes the current one.
import type { Op } from '../workload/program.js';
import type { Candidate, Effort, Tester } from './attempt.js';
import { cutGuide, type Guide, guideOf, opsOf, type ShrinkCase } from './case.js';

/**
 * Fewer CPUs: CPU k goes, its ops dropped or moved onto another CPU j (merged in the order the ops
 * started), the CPUs above k renumbered. Only a page's owner CPU (vpn % cpus) writes it, and the
 * owners change with the number of CPUs: a touch that writes moves by the fewest pages that keep
 * its first page owned by the CPU it now runs on.
 */
export function fewerCpus(t: Tester, c: ShrinkCase, effort: Effort): ShrinkCase {
  for (let k = c.cfg.cpus - 1; k >= 0 && c.cfg.cpus > 1; k--) {
    const targets = [-1, ...(c.programs[k].length ? c.programs.map((_, j) => j).filter((j) => j !== k) : [])];
    for (const into of targets) {
      const hit = t.attempt(withoutCpu(c, k, into), effort);
      if (hit) {
        c = t.accept(hit);
        break;
      }
    }
  }
  return c;
}

/** The candidate without CPU k, its ops dropped (into < 0) or merged into CPU `into`. */
function withoutCpu(c: ShrinkCase, k: number, into: number): Candidate {
  const g = guideOf(c);
  const cpus = c.cfg.cpus - 1;
  const newId = (cpu: number) => (cpu > k ? cpu - 1 : cpu);
  // the first step of each op, to merge two programs in the order their ops started
  const first = new Map<string, number>();
  for (let i = g.cpus.length - 1; i >= 0; i--) first.set(`${g.cpus[i]}/${g.labels[i]}`, i);
  const merged = into < 0 ? [] : [into, k].flatMap((cpu) => c.programs[cpu].map((_, op) => ({ cpu, op })))
    .sort((x, y) => (first.get(`${x.cpu}/${x.op}`) ?? Infinity) - (first.get(`${y.cpu}/${y.op}`) ?? Infinity));
  const mergedIndex = new Map(merged.map((x, i) => [`${x.cpu}/${x.op}`, i]));
  const sources = c.programs.map((p, cpu) => (cpu === into ? merged : p.map((_, op) => ({ cpu, op })))).filter((_, cpu) => cpu !== k);
  const programs = sources.map((list, id) => list.map(({ cpu, op }) => keepOwner(c.programs[cpu][op], c.touchFirst[cpu]?.[op], id, cpus)));
  const guide: Guide = { cpus: [], labels: [] };
  for (let i = 0; i < g.cpus.length; i++) {
    const cpu = g.cpus[i];
    const label = g.labels[i];
    let to = newId(cpu), l = label;
    if (cpu === k || cpu === into) {
      if (into < 0) continue; // k's steps go with its ops
      const len = c.programs[cpu].length;
      if (label < len) l = mergedIndex.get(`${cpu}/${label}`)!;
      else if (cpu === k) continue; // k's end of program: the merged CPU has one, its own
      else l = label - len + merged.length;
      to = newId(into);
    }
    guide.cpus.push(to);
    guide.labels.push(l);
  }
  return { cfg: { ...c.cfg, cpus }, programs, guide };
}

/** A touch that writes, moved by the fewest pages that make its first page (f) owned by CPU id of cpus. */
function keepOwner(op: Op, f: number | undefined, id: number, cpus: number): Op {
  if (op.kind !== 'touch' || !op.write || f === undefined || f % cpus === id) return op;
  const up = (((id - f) % cpus) + cpus) % cpus;
  const d = up <= cpus - up ? up : up - cpus;
  return { ...op, r2: (op.r2 + d) >>> 0 };
}

/**
 * Remove ops in chunks, ddmin style: chunks of half the longest program, then a quarter, ... down
 * to single ops, from each program's end backwards (a removal there shifts no later op of that CPU);
 * then every run of 2 and 3 adjacent ops (ops that only make sense together, as an mmap and the
 * munmap of it, straddle chunk borders).
 */
export function removeOps(t: Tester, c: ShrinkCase, effort: Effort): ShrinkCase {
  const longest = Math.max(...c.programs.map((p) => p.length));
  for (let size = Math.max(1, Math.ceil(longest / 2)); size >= 1; size = size === 1 ? 0 : Math.ceil(size / 2)) {
    for (let cpu = 0; cpu < c.programs.length; cpu++) {
      for (let end = c.programs[cpu].length; end > 0; end -= size) {
        const hit = tryRemove(t, c, cpu, Math.max(0, end - size), end, effort);
        if (hit) {
          c = hit;
          end = Math.min(end, c.programs[cpu].length + size); // it may also have been cut after the violation
        }
      }
    }
  }
  for (const size of [2, 3]) {
    for (let cpu = 0; cpu < c.programs.length; cpu++) {
      for (let end = c.programs[cpu].length; end - size >= 0; end--) {
        const hit = tryRemove(t, c, cpu, end - size, end, effort);
        if (hit) {
          c = hit;
          end = Math.min(end - size + 1, c.programs[cpu].length + 1);
        }
      }
    }
  }
  return c;
}

/** Ops [start, end) of cpu's program taken out, if that still fails. */
function tryRemove(t: Tester, c: ShrinkCase, cpu: number, start: number, end: number, effort: Effort): ShrinkCase | null {
  const gone = new Set<number>();
  for (let i = start; i < end; i++) gone.add(i);
  const removed = c.programs.map((_, i) => (i === cpu ? gone : new Set<number>()));
  const programs = c.programs.map((p, i) => (i === cpu ? p.filter((_, j) => !gone.has(j)) : p));
  const hit = t.attempt({ cfg: c.cfg, programs, guide: cutGuide(c, removed) }, effort);
  return hit && opsOf(hit.programs) < opsOf(c.programs) ? t.accept(hit) : null;
}

/** The integers from lo up to below cur (the smaller settings of a size, smallest first). */
export function below(lo: number, cur: number): number[] {
  return Array.from({ length: Math.max(0, cur - lo) }, (_, i) => lo + i);
}

/**
 * The smallest of `smaller` (ascending; the current setting, just above the last, is known to
 * reproduce) that still reproduces, by bisection: log2 of their number of runs, as if reproducing
 * were monotonic in the size (when it is not, a local boundary is found).
 */
export function bisect<T>(smaller: readonly T[], test: (x: T) => ShrinkCase | null): ShrinkCase | null {
  let lo = -1, hi = smaller.length, best: ShrinkCase | null = null;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    const hit = test(smaller[mid]);
    if (hit) {
      hi = mid;
      best = hit;
    } else lo = mid;
  }
  return best;
}

/**
 * Make single ops smaller: a touch of fewer pages, an mmap of fewer pages (the op fields that only
 * size the op, so the op still targets what it did).
 */
export function shrinkOps(t: Tester, c: ShrinkCase, effort: Effort): ShrinkCase {
  for (let cpu = 0; cpu < c.programs.length; cpu++) {
    for (let j = 0; j < c.programs[cpu].length; j++) {
      for (const family of smallerOps(c, c.programs[cpu][j])) {
        const cur = c;
        const hit = bisect(family, ({ op, trimFront }) => {
          const programs = cur.programs.map((p, i) => (i === cpu ? p.map((o, k) => (k === j ? op : o)) : p));
          // the guide follows an op's steps from its start: an op cut at the front loses its first steps
          const guide = trimFront ? trimOpSteps(guideOf(cur), cpu, j, trimFront) : guideOf(cur);
          return t.attempt({ cfg: cur.cfg, programs, guide }, effort);
        });
        if (hit) c = t.accept(hit); // op j is smaller now (or gone: the run failed before it started)
        if (j >= c.programs[cpu].length) break;
      }
    }
  }
  return c;
}

/** g without the given share of the steps op j of cpu ran, taken just after the op began. */
function trimOpSteps(g: Guide, cpu: number, j: number, share: number): Guide {
  const steps = g.cpus.flatMap((x, i) => (x === cpu && g.labels[i] === j ? [i] : []));
  const BEGIN = 2; // the op's first steps (it starts, takes its process) stay
  const gone = new Set(steps.slice(BEGIN, BEGIN + Math.round(share * Math.max(0, steps.length - BEGIN))));
  return { cpus: g.cpus.filter((_, i) => !gone.has(i)), labels: g.labels.filter((_, i) => !gone.has(i)) };
}

/** Smaller forms of op: families of them, each smallest first, with the share of its work cut at the front. */
function smallerOps(c: ShrinkCase, op: Op): { op: Op; trimFront: number }[][] {
  const cfg = c.cfg;
  if (op.kind === 'touch') {
    // pages touched: 1 + r3 % touchRun from the page r2 picks; fewer from the end, or from the
    // start (the same last page: r2 moves up)
    const n = 1 + (op.r3 % cfg.touchRun);
    const fewer = below(1, n);
    return [
      fewer.map((k) => ({ op: { ...op, r3: k - 1 }, trimFront: 0 })),
      fewer.map((k) => ({ op: { ...op, r2: (op.r2 + n - k) >>> 0, r3: k - 1 }, trimFront: (n - k) / n })),
    ];
  }
  if (op.kind === 'mmap') {
    // length: mmapPages.min + r1 % span (r1 only sizes an anon mmap)
    const span = cfg.mmapPages.max - cfg.mmapPages.min + 1;
    return [below(0, op.r1 % span).map((k) => ({ op: { ...op, r1: k }, trimFront: 0 }))];
  }
  return [];
}
