// Shrinking the config: fewer processes (the ops' process numbers folded onto fewer slots), and
// smaller sizes (memory, address space, mmap lengths, touch runs, VMA and TLB slots, files, the
// enabled mTHP orders and mmap alignments). Each knob bisects its smaller settings for the
// smallest that still reproduces.
import { type Config, type ConfigInput, parseConfig } from '../config/config.js';
import type { Effort, Tester } from './attempt.js';
import { below, bisect } from './programs.js';
import { cutGuide, guideOf, type ShrinkCase } from './case.js';

/** A smaller config, or null when the schema refuses it. */
function valid(cfg: Config, over: ConfigInput): Config | null {
  try {
    return parseConfig({ ...cfg, ...over }, 'shrink candidate');
  } catch {
    return null;
  }
}

/**
 * Fewer processes: first fold them all onto one slot (the processes the ops name, renumbered in
 * order of first use, taken modulo k, for k from 1 up: slots left over serve fork children); then,
 * one process at a time from the last, its ops dropped or moved onto another process (the ones
 * above it renumbered).
 */
export function fewerProcesses(t: Tester, c: ShrinkCase, effort: Effort): ShrinkCase {
  const remap = (cur: ShrinkCase, k: number, to: (proc: number) => number): ShrinkCase | null => {
    const cfg = valid(cur.cfg, { processes: k });
    if (!cfg) return null;
    const programs = cur.programs.map((p) => p.filter((op) => to(op.proc) >= 0).map((op) => ({ ...op, proc: to(op.proc) })));
    const removed = cur.programs.map((p) => new Set(p.flatMap((op, i) => (to(op.proc) < 0 ? [i] : []))));
    return t.attempt({ cfg, programs, guide: cutGuide(cur, removed) }, effort);
  };
  for (let k = 1; k < c.cfg.processes; k++) {
    const order = new Map<number, number>();
    for (const p of c.programs) for (const op of p) if (!order.has(op.proc)) order.set(op.proc, order.size);
    const hit = remap(c, k, (proc) => order.get(proc)! % k);
    if (hit) return t.accept(hit);
  }
  for (let p = c.cfg.processes - 1; p >= 0 && c.cfg.processes > 1; p--) {
    const above = (proc: number) => (proc > p ? proc - 1 : proc);
    for (const into of [-1, ...Array.from({ length: c.cfg.processes }, (_, q) => q).filter((q) => q !== p)]) {
      const hit = remap(c, c.cfg.processes - 1, (proc) => (proc === p ? (into < 0 ? -1 : above(into)) : above(proc)));
      if (hit) {
        c = t.accept(hit);
        break;
      }
    }
  }
  return c;
}

/** The config's size knobs: each gives its smaller settings, smallest first. */
const KNOBS: { name: string; smaller: (cfg: Config, c: ShrinkCase) => ConfigInput[]; unordered?: true }[] = [
  { name: 'memoryPages', smaller: (cfg) => pow2Below(1024, cfg.memoryPages).map((memoryPages) => ({ memoryPages })) },
  { name: 'vaSize', smaller: (cfg) => pow2Below(1, cfg.vaSize >>> 21).map((n) => ({ vaSize: n << 21 })) },
  { name: 'mmapPages.max', smaller: (cfg) => below(cfg.mmapPages.min, cfg.mmapPages.max).map((max) => ({ mmapPages: { ...cfg.mmapPages, max } })) },
  { name: 'mmapPages.min', smaller: (cfg) => below(1, cfg.mmapPages.min).map((min) => ({ mmapPages: { ...cfg.mmapPages, min } })) },
  { name: 'touchRun', smaller: (cfg) => below(1, cfg.touchRun).map((touchRun) => ({ touchRun })) },
  { name: 'maxVmas', smaller: (cfg) => below(2, cfg.maxVmas).map((maxVmas) => ({ maxVmas })) },
  { name: 'tlbEntries', smaller: (cfg) => below(1, cfg.tlbEntries).map((tlbEntries) => ({ tlbEntries })) },
  {
    name: 'files.count',
    // no file op left: no files (else fewer of them)
    smaller: (cfg, c) => (c.programs.some((p) => p.some((op) => op.kind === 'mmapfile' || op.kind === 'writeback')) ? below(1, cfg.files.count) : below(0, cfg.files.count)).map((count) => ({ files: { ...cfg.files, count } })),
  },
  { name: 'files.pages', smaller: (cfg) => (cfg.files.count ? below(16, cfg.files.pages).map((pages) => ({ files: { ...cfg.files, pages } })) : []) },
  // fewer mTHP orders: drop one (order 0 always stays)
  { name: 'anonOrders', smaller: (cfg) => cfg.anonOrders.filter((o) => o > 0).map((o) => ({ anonOrders: cfg.anonOrders.filter((x) => x !== o) })), unordered: true },
  // fewer alignments: one alone, smallest first
  { name: 'mmapAlign', smaller: (cfg) => (cfg.mmapAlign.length > 1 ? [...cfg.mmapAlign].sort((a, b) => a - b).map((a) => ({ mmapAlign: [a] })) : []), unordered: true },
  { name: 'fragmentation', smaller: (cfg) => (cfg.fragmentation > 0 ? [{ fragmentation: 0 }] : []) },
  { name: 'allocFailRate', smaller: (cfg) => (cfg.allocFailRate ? [{ allocFailRate: 0 }] : []) },
  { name: 'memcgFailRate', smaller: (cfg) => (cfg.memcgFailRate ? [{ memcgFailRate: 0 }] : []) },
];

export function smallerConfig(t: Tester, c: ShrinkCase, effort: Effort): ShrinkCase {
  for (const knob of KNOBS) {
    const cur = c;
    const test = (over: ConfigInput) => {
      const cfg = valid(cur.cfg, over);
      return cfg ? t.attempt({ cfg, programs: cur.programs, guide: guideOf(cur) }, effort) : null;
    };
    const smaller = knob.smaller(cur.cfg, cur);
    const hit = knob.unordered ? firstHit(smaller, test) : bisect(smaller, test);
    if (hit) c = t.accept(hit);
  }
  return c;
}

/** The first of the candidates (in their order) that reproduces. */
function firstHit<T>(xs: readonly T[], test: (x: T) => ShrinkCase | null): ShrinkCase | null {
  for (const x of xs) {
    const hit = test(x);
    if (hit) return hit;
  }
  return null;
}

/** Powers of two from lo (a power of two) up to below cur. */
function pow2Below(lo: number, cur: number): number[] {
  const out: number[] = [];
  for (let v = lo; v < cur; v *= 2) out.push(v);
  return out;
}
