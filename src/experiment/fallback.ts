// `foliostorm experiment fallback` (issue 7, deliverable 2): is retrying a lost anon-fault race
// with lower orders (retry-lower, the 2023 RFC) worth it over plainly refaulting (refault,
// upstream), and where does preferred-or-0 lose? Every policy x contention x high-order
// allocation failure rate runs the same fault-dominated workload over the same seeds in the sched
// engine (deterministic: the same seeds give the same numbers, byte for byte).
//
// Contention is the number of CPUs faulting one region (one process with one anon VMA) at once:
// low 1 (each CPU faults its own process), medium 2, high 4. The machine always has 4 CPUs and the
// same total work in every cell (a blocked CPU takes no steps, so latencies in steps still compare
// best within one contention level). A violation is reported with its seed, not as an artifact
// (setup ops are not recorded): runFallbackSeed replays it. The data
// oracle gives page p to CPU p mod 4 (only its owner writes it), so a CPU cannot write every page
// of a region: every level writes one page per 4-page group instead, the groups of a region dealt
// round-robin to the CPUs sharing it. Any aligned range of order >= 2 is whole groups, so every
// level presents the same pattern to the folio-order choice; only who writes which group (and so
// who races whom) differs.
import { createHash } from 'node:crypto';
import { withPool } from '../engine/pool.js';
import { ANON_FALLBACKS, type AnonFallback, type Config, parseConfig } from '../config/config.js';
import { runSched } from '../engine/sched.js';
import type { Machine } from '../machine/machine.js';
import { vmas } from '../linux/mm/mmap.js';
import { pte_pfn, pte_present, pte_special } from '../machine/pte.js';
import type { Op, OpKind } from '../workload/program.js';
import { type EncodedHists, HistSet } from '../machine/histograms.js';
import { type BarRow, barChart } from '../report/svg.js';
import { escapeXml } from '../report/escape.js';
import { sampleSd } from '../report/batch-means.js';
import { makeRunId, ResultsWriter } from '../report/results.js';
import { WriteError } from '../report/disk.js';
import { dirname } from 'node:path';
import { EXIT_INTERRUPTED, EXIT_OK, EXIT_VIOLATIONS } from '../report/exit-codes.js';
import { type ExperimentStop, interruptedStop, missingCells, partialNote, yieldToEventLoop } from './stop.js';
import { taskWindow } from './task-window.js';
import { folioOrder, folioOf } from '../check/folio.js';

export const CONTENTIONS = ['low', 'medium', 'high'] as const;
export type Contention = (typeof CONTENTIONS)[number];
/** CPUs faulting one region at once. */
export const CPUS_PER_REGION: Record<Contention, number> = { low: 1, medium: 2, high: 4 };
export const POLICIES: readonly AnonFallback[] = ANON_FALLBACKS;
export const FAIL_RATES = [0, 0.1, 0.5] as const;

/** The machine of every cell. */
export const CPUS = 4;
/** Enabled anon mTHP orders: 4K, 16K, 64K, 256K. */
export const ORDERS = [0, 2, 4, 6];
/** One written page per group of this many pages (the oracle's owners repeat every CPUS pages). */
export const GROUP = CPUS;
/** MADV_DONTNEED granule between the passes. */
export const ZAP_PAGES = 64;
/** Where every region starts (vpn; 2 MiB aligned, above the NULL guard table). */
export const REGION_START = 512;

export interface FallbackOptions {
  /** Seeds per cell: firstSeed, firstSeed + 1, ... (the same for every cell). */
  seeds: number;
  firstSeed: number;
  /** Pages each CPU writes per pass (a multiple of 16). */
  pagesPerCpu: number;
  /** Subsets of the grid (tests); default the whole grid. */
  policies?: readonly AnonFallback[];
  contentions?: readonly Contention[];
  failRates?: readonly number[];
}

export const DEFAULTS = { seeds: 32, firstSeed: 1, pagesPerCpu: 256 } as const;
export const QUICK = { seeds: 2, firstSeed: 1, pagesPerCpu: 32 } as const;

export interface Cell {
  contention: Contention;
  policy: AnonFallback;
  allocFailRate: number;
}

/** The grid in table order: contention, then failure rate, then policy. */
export function cells(o: Pick<FallbackOptions, 'policies' | 'contentions' | 'failRates'> = {}): Cell[] {
  const out: Cell[] = [];
  for (const contention of o.contentions ?? CONTENTIONS) {
    for (const allocFailRate of o.failRates ?? FAIL_RATES) for (const policy of o.policies ?? POLICIES) out.push({ contention, policy, allocFailRate });
  }
  return out;
}

const roundUp = (x: number, m: number): number => Math.ceil(x / m) * m;
const pow2AtLeast = (x: number): number => 2 ** Math.ceil(Math.log2(x));

/** Total pages of all regions (every level: CPUS CPUs x pagesPerCpu groups of GROUP pages). */
const totalRegionPages = (pagesPerCpu: number): number => CPUS * pagesPerCpu * GROUP;

/** The model config of a cell (contention lives in the workload, not the config). */
export function fallbackConfig(policy: AnonFallback, allocFailRate: number, o: Pick<FallbackOptions, 'pagesPerCpu' | 'firstSeed' | 'seeds'>): Config {
  const W = o.pagesPerCpu;
  const largest = totalRegionPages(W); // the high level's one region holds every group
  const vaPages = roundUp(REGION_START + largest, 512);
  const weights = { touch: 1, mmap: 0, munmap: 0, dontneed: 0, exit: 0, fork: 0, pin: 0, unpin: 0, pinio: 0, mremap: 0, dontfork: 0, mmapfile: 0, writeback: 0, mprotect: 0 };
  return parseConfig({
    name: `experiment-fallback/${policy}/allocfail${allocFailRate}`,
    comment: 'foliostorm experiment fallback: every CPU runs an explicit program (the workload in fallback.json); the mmaps run before the scheduler starts. weights, mmapPages, mmapAlign and opsPerCpu only describe those programs.',
    engine: 'sched',
    arch: 'generic',
    batching: true,
    cpus: CPUS,
    processes: CPUS,
    memoryPages: Math.max(8192, pow2AtLeast(4 * largest)),
    fragmentation: 0,
    allocFailRate,
    vaSize: vaPages * 4096,
    anonOrders: ORDERS,
    anonFallback: policy,
    opsPerCpu: 2 * W + W / 16,
    files: { count: 0 },
    weights,
    mmapPages: { min: 1, max: largest },
    mmapAlign: [512],
    touchRun: 1,
    writeRatio: 1,
    scheduler: 'random',
    seed: o.firstSeed,
    seeds: o.seeds,
  }, 'experiment fallback');
}

export interface Workload {
  contention: Contention;
  cpusPerRegion: number;
  regions: number;
  regionPages: number;
  /** run alone before the scheduler starts: one mmap per region */
  setup: Op[];
  /** per CPU: pass 1 (write its pages), MADV_DONTNEED of its share of the 64-page blocks, pass 2 */
  programs: Op[][];
  /** per CPU: pages it writes per pass */
  pagesPerCpu: number;
}

const op = (kind: OpKind, proc: number, r1: number, r2: number, r3: number, write = false): Op => ({ kind, proc, write, r1, r2, r3 });

/**
 * The programs of a contention level. Region g (process g, one VMA at REGION_START) is shared by
 * CPUs g*k .. g*k+k-1 (k CPUs per region). Its groups (GROUP pages each) go round-robin to them:
 * group j to the CPU of rank j mod k, which writes the one page of the group it owns (offset
 * GROUP*j + cpu). Each CPU writes its groups in ascending order (pass 1), then MADV_DONTNEEDs
 * the 64-page blocks of rank b mod k, then writes its groups again (pass 2). The CPUs of a region
 * start together, so at high contention four CPUs fault the same 64-page range at once.
 */
export function fallbackWorkload(contention: Contention, pagesPerCpu: number): Workload {
  const W = pagesPerCpu;
  if (!Number.isInteger(W) || W < 16 || W % 16) throw new Error(`pagesPerCpu: expected a multiple of 16, found ${W}`);
  const k = CPUS_PER_REGION[contention];
  const regions = CPUS / k;
  const regionPages = k * W * GROUP;
  // mmap: len = mmapPages.min (1) + r1, align = mmapAlign[0] (512), hint = r3
  const setup = Array.from({ length: regions }, (_, g) => op('mmap', g, regionPages - 1, 0, REGION_START));
  const programs: Op[][] = [];
  for (let cpu = 0; cpu < CPUS; cpu++) {
    const g = Math.floor(cpu / k), rank = cpu % k;
    const pass: Op[] = [];
    // touch: one page (r3 0: a run of 1) at offset r2 of the region's only VMA (r1 0)
    for (let j = rank; j < k * W; j += k) pass.push(op('touch', g, 0, GROUP * j + cpu, 0, true));
    const zaps: Op[] = [];
    // dontneed: r2 odd selects [start + (r2 >>> 1), + 1 + r3)
    for (let b = rank; b < regionPages / ZAP_PAGES; b += k) zaps.push(op('dontneed', g, 0, ((b * ZAP_PAGES) << 1) | 1, ZAP_PAGES - 1));
    programs.push([...pass, ...zaps, ...pass]);
  }
  return { contention, cpusPerRegion: k, regions, regionPages, setup, programs, pagesPerCpu: W };
}

/** What one seed of one cell measured. */
export interface SeedResult {
  seed: number;
  steps: number;
  traceHash: string;
  violations: string[];
  events: Record<string, number>;
  /** anon pages mapped when every program has ended, by the order of the folio mapping them */
  mappedAtEnd: Record<string, number>;
  hist: EncodedHists;
}

/** Anon pages mapped in every process, by folio order (the zero page and file pages not counted). */
export function mappedAnonPages(machine: Machine): Record<string, number> {
  const out: Record<string, number> = {};
  const m = machine.m;
  for (let mm = 0; mm < machine.cfg.processes; mm++) {
    for (const v of vmas(machine, mm)) {
      if (v.file >= 0) continue;
      for (let vpn = v.start; vpn < v.end; vpn++) {
        const pte = Atomics.load(m, machine.ptep(mm, vpn));
        if (!pte_present(pte) || pte_special(pte)) continue;
        const order = folioOrder(machine, folioOf(machine, pte_pfn(pte)));
        out[order] = (out[order] ?? 0) + 1;
      }
    }
  }
  return out;
}

/** One seed of one cell, in this thread (also the piscina task: workers/fallback-task.ts). */
export interface SeedTask {
  cell: Cell;
  seed: number;
  pagesPerCpu: number;
  firstSeed: number;
  seeds: number;
}

export function runFallbackSeed(t: SeedTask): SeedResult {
  const cfg = fallbackConfig(t.cell.policy, t.cell.allocFailRate, t);
  const wl = fallbackWorkload(t.cell.contention, t.pagesPerCpu);
  let mappedAtEnd: Record<string, number> = {};
  const r = runSched(cfg, t.seed, { setup: wl.setup, programs: wl.programs, record: false, beforeTeardown: (machine) => (mappedAtEnd = mappedAnonPages(machine)) });
  return { seed: t.seed, steps: r.steps, traceHash: r.traceHash ?? '', violations: r.violations.map((v) => v.signature), events: r.events, mappedAtEnd, hist: r.hist };
}

// ---- aggregation ---------------------------------------------------------------------------

export interface Latency {
  count: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

export interface CellResult extends Cell {
  cpusPerRegion: number;
  seeds: number[];
  /** Totals over the seeds. */
  totals: {
    /** handle_mm_fault entries: every page fault the accesses took (all on anon VMAs here), refaults included */
    faults: number;
    /** do_anonymous_page entries (fault.anon) */
    anonFaults: number;
    /** a fault that found its entry populated by another CPU (fault.spurious) */
    spuriousFaults: number;
    /** an access faulting again after a fault returned without mapping its page (anon.refault) */
    refaults: number;
    /** pages the faults mapped, sum over folios mapped of 2^order (a page zapped and faulted again counts twice) */
    populatedPages: number;
    populatedLargePages: number;
    /** folios mapped by anon faults, by order (anon.mapped.<o>) */
    foliosMapped: Record<string, number>;
    /** folios allocated, then freed unmapped because the recheck under the PTL failed (lost races), by order */
    freedUnused: Record<string, number>;
    freedUnusedTotal: number;
    /** anon folios allocated: mapped + freed unused */
    foliosAllocated: number;
    /** allocations of that order that failed, falling back to a lower one (anon.allocFallback.<o>) */
    allocFallback: Record<string, number>;
    /** retry-lower: retried at once at this order; preferred-or-0: retried at order 0 */
    retryLower: Record<string, number>;
    retryOrder0: number;
    /** lost race and the faulting PTE itself was populated meanwhile (anon.lostRaceExit) */
    lostRaceExit: number;
    /** anon pages mapped when the programs ended (after the zaps and pass 2), and by large folios */
    mappedAtEnd: number;
    mappedAtEndLarge: number;
    steps: number;
    violations: number;
  };
  /** The figures of the table (ratios of totals; counts per seed). */
  faultsPerPage: number;
  refaultsPerSeed: number;
  freedUnusedPerSeed: number;
  /** freed unused / allocated */
  wasteShare: number;
  /** pages mapped by order > 0 folios / all pages the faults mapped */
  largeShare: number;
  /** the same over the pages mapped at the end */
  largeShareAtEnd: number;
  /** one handle_mm_fault (the model's `fault` histogram), scheduler steps */
  faultLatency: Latency;
  /** one access that faulted, from the access to its completion, all its refaults included (`access.faulted`) */
  faultedAccessLatency: Latency;
  /** scheduler steps spent in faults (the `fault` histogram's sum) per page the faults mapped */
  faultStepsPerPage: number;
  /** per seed: min and max of the ratios (the spread the totals hide) */
  spread: { faultsPerPage: [number, number]; largeShare: [number, number] };
  perSeed: { seed: number; faultsPerPage: number; largeShare: number; freedUnused: number; refaults: number; faultStepsPerPage: number; steps: number; traceHash: string }[];
  violations: string[];
}

const r4 = (x: number): number => (Number.isFinite(x) ? Math.round(x * 1e4) / 1e4 : 0);
const byOrder = (ev: Record<string, number>, name: string): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(ev)) if (k.startsWith(name + '.') && v) out[k.slice(name.length + 1)] = v;
  return out;
};
const addInto = (a: Record<string, number>, b: Record<string, number>): void => {
  for (const [k, v] of Object.entries(b)) a[k] = (a[k] ?? 0) + v;
};
const pagesOf = (folios: Record<string, number>, large = false): number => Object.entries(folios).reduce((s, [o, n]) => s + (large && +o === 0 ? 0 : n << +o), 0);
const sumOf = (x: Record<string, number>): number => Object.values(x).reduce((a, b) => a + b, 0);

function latency(h: HistSet, name: string): Latency {
  const x = h.get(name);
  if (!x) return { count: 0, p50: 0, p99: 0, max: 0, mean: 0 };
  const s = h.summary(name);
  return { count: s.count, p50: s.p50, p99: s.p99, max: s.max, mean: r4(x.mean) };
}

/** Fold the seeds of one cell (in seed order) into its figures. */
export function aggregateCell(cell: Cell, results: readonly SeedResult[]): CellResult {
  const t: CellResult['totals'] = {
    faults: 0, anonFaults: 0, spuriousFaults: 0, refaults: 0, populatedPages: 0, populatedLargePages: 0, foliosMapped: {}, freedUnused: {}, freedUnusedTotal: 0,
    foliosAllocated: 0, allocFallback: {}, retryLower: {}, retryOrder0: 0, lostRaceExit: 0, mappedAtEnd: 0, mappedAtEndLarge: 0, steps: 0, violations: 0,
  };
  const hist = new HistSet('steps');
  const perSeed: CellResult['perSeed'] = [];
  const violations: string[] = [];
  for (const r of results) {
    const ev = r.events;
    const mapped = byOrder(ev, 'anon.mapped');
    // a folio freed unused: order 0 when "pte changed" under the PTL, large when the range was no
    // longer none (every write fault here allocates: no read faults, no zero page, in this workload)
    const freed = byOrder(ev, 'anon.recheckRangeChanged');
    if (ev['anon.recheckPteChanged']) freed['0'] = ev['anon.recheckPteChanged'];
    const faults = ev['fault'] ?? 0;
    const pages = pagesOf(mapped);
    const largePages = pagesOf(mapped, true);
    t.faults += faults;
    t.anonFaults += ev['fault.anon'] ?? 0;
    t.spuriousFaults += ev['fault.spurious'] ?? 0;
    t.refaults += ev['anon.refault'] ?? 0;
    t.populatedPages += pages;
    t.populatedLargePages += largePages;
    addInto(t.foliosMapped, mapped);
    addInto(t.freedUnused, freed);
    t.freedUnusedTotal += sumOf(freed);
    t.foliosAllocated += sumOf(mapped) + sumOf(freed);
    addInto(t.allocFallback, byOrder(ev, 'anon.allocFallback'));
    addInto(t.retryLower, byOrder(ev, 'anon.retryLower'));
    t.retryOrder0 += ev['anon.retryOrder0'] ?? 0;
    t.lostRaceExit += ev['anon.lostRaceExit'] ?? 0;
    t.mappedAtEnd += sumOf(r.mappedAtEnd);
    t.mappedAtEndLarge += sumOf(r.mappedAtEnd) - (r.mappedAtEnd['0'] ?? 0);
    t.steps += r.steps;
    t.violations += r.violations.length;
    violations.push(...r.violations.map((v) => `seed ${r.seed}: ${v}`));
    const h = HistSet.decode(r.hist);
    hist.add(h);
    const f = h.get('fault');
    const faultSteps = f ? f.mean * f.totalCount : 0;
    perSeed.push({
      seed: r.seed, faultsPerPage: r4(faults / pages), largeShare: r4(largePages / pages), freedUnused: sumOf(freed), refaults: ev['anon.refault'] ?? 0,
      faultStepsPerPage: r4(faultSteps / pages), steps: r.steps, traceHash: r.traceHash,
    });
  }
  const n = Math.max(1, results.length);
  const range = (xs: number[]): [number, number] => (xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 0]);
  return {
    ...cell,
    cpusPerRegion: CPUS_PER_REGION[cell.contention],
    seeds: results.map((r) => r.seed),
    totals: t,
    faultsPerPage: r4(t.faults / t.populatedPages),
    refaultsPerSeed: r4(t.refaults / n),
    freedUnusedPerSeed: r4(t.freedUnusedTotal / n),
    wasteShare: r4(t.freedUnusedTotal / t.foliosAllocated),
    largeShare: r4(t.populatedLargePages / t.populatedPages),
    largeShareAtEnd: r4(t.mappedAtEndLarge / t.mappedAtEnd),
    faultLatency: latency(hist, 'fault'),
    faultedAccessLatency: latency(hist, 'access.faulted'),
    faultStepsPerPage: r4(((hist.get('fault')?.mean ?? 0) * (hist.get('fault')?.totalCount ?? 0)) / t.populatedPages),
    spread: { faultsPerPage: range(perSeed.map((p) => p.faultsPerPage)), largeShare: range(perSeed.map((p) => p.largeShare)) },
    perSeed,
    violations,
  };
}

// ---- paired comparisons ----------------------------------------------------------------------

/** A difference policy - base over the seeds both ran (the same seed: the same alloc-failure draws to begin with). */
export interface Diff {
  /** mean of the per-seed differences */
  mean: number;
  /** its standard error (sd / sqrt(n)); 0 with one seed */
  se: number;
}

export interface Comparison {
  contention: Contention;
  allocFailRate: number;
  policy: AnonFallback;
  base: AnonFallback;
  seeds: number;
  /** faults per page mapped, and that difference relative to the base's mean (percent) */
  faultsPerPage: Diff;
  faultsPerPagePct: Diff;
  /** share of pages mapped by large folios, in percentage points */
  largeSharePp: Diff;
  freedUnusedPerSeed: Diff;
  faultStepsPerPagePct: Diff;
}

function diff(a: readonly number[], b: readonly number[], scale = 1): Diff {
  const d = a.map((x, i) => (x - b[i]) * scale);
  const n = d.length;
  if (!n) return { mean: 0, se: 0 };
  const mean = d.reduce((s, x) => s + x, 0) / n;
  const sd = n > 1 ? sampleSd(d) : 0;
  return { mean: r4(mean), se: r4(sd / Math.sqrt(n)) };
}

/** Every other policy against base, cell by cell, paired by seed. */
export function compareToBase(cellsRun: readonly CellResult[], base: AnonFallback = 'refault'): Comparison[] {
  const out: Comparison[] = [];
  for (const c of cellsRun) {
    if (c.policy === base) continue;
    const b = cellsRun.find((x) => x.policy === base && x.contention === c.contention && x.allocFailRate === c.allocFailRate);
    if (!b) continue;
    const seeds = c.perSeed.map((p) => p.seed).filter((s) => b.perSeed.some((q) => q.seed === s));
    const pick = (cell: CellResult, k: 'faultsPerPage' | 'largeShare' | 'freedUnused' | 'faultStepsPerPage'): number[] => seeds.map((s) => cell.perSeed.find((p) => p.seed === s)![k]);
    const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
    const fb = pick(b, 'faultsPerPage'), sb = pick(b, 'faultStepsPerPage');
    out.push({
      contention: c.contention,
      allocFailRate: c.allocFailRate,
      policy: c.policy,
      base,
      seeds: seeds.length,
      faultsPerPage: diff(pick(c, 'faultsPerPage'), fb),
      faultsPerPagePct: diff(pick(c, 'faultsPerPage'), fb, 100 / (mean(fb) || 1)),
      largeSharePp: diff(pick(c, 'largeShare'), pick(b, 'largeShare'), 100),
      freedUnusedPerSeed: diff(pick(c, 'freedUnused'), pick(b, 'freedUnused')),
      faultStepsPerPagePct: diff(pick(c, 'faultStepsPerPage'), sb, 100 / (mean(sb) || 1)),
    });
  }
  return out;
}

// ---- the run -------------------------------------------------------------------------------

export interface RunOptions extends FallbackOptions {
  /** Worker threads (piscina, workers/fallback-task.js); 1 or less: in this thread. */
  workers: number;
  /** Told after every cell (its index and the number of cells). */
  onCell?: (c: CellResult, i: number, n: number) => void;
  /** The piscina task file (tests); default workers/fallback-task.js. */
  taskFile?: URL;
  /**
   * Aborted (Ctrl-C, SIGTERM): start no more cells; the seeds handed to the pool are aborted (queued
   * ones dropped, running ones stopped) and the report holds the cells whose seeds had all run,
   * marked interrupted.
   */
  signal?: AbortSignal;
}

export interface FallbackReport {
  experiment: 'fallback';
  /** Present (true) only when a signal stopped the run before every cell ran; `cells` then holds those that did. */
  interrupted?: true;
  stop?: ExperimentStop;
  question: string;
  seeds: { first: number; count: number; list: number[] };
  pagesPerCpu: number;
  grid: { policies: AnonFallback[]; contentions: Record<string, number>; allocFailRates: number[] };
  definitions: Record<string, string>;
  workload: Record<string, WorkloadRecord>;
  /** The model config of each policy and failure rate ("refault/0.1"), exactly as runSched ran it. */
  configs: Record<string, Config>;
  cells: CellResult[];
  /** retry-lower and preferred-or-0 against refault (upstream), paired by seed */
  comparisons: Comparison[];
}

export interface WorkloadRecord {
  description: string;
  cpusPerRegion: number;
  regions: number;
  regionPages: number;
  setup: Op[];
  /** per CPU: ops by kind, and the first ops (the rest follow the rule in description) */
  programs: { cpu: number; process: number; ops: Record<string, number>; first: Op[] }[];
  /** sha256 of JSON.stringify(programs): what fallbackWorkload(contention, pagesPerCpu) must give */
  programsSha256: string;
}

export const QUESTION = 'Anon-fault order fallback (2023 mTHP series review): on a lost race, is retrying at once with lower orders (retry-lower) worth it, or is plainly refaulting (refault, upstream) simpler and as good? Where does preferred-or-0 lose?';

export const DEFINITIONS: Record<string, string> = {
  contention: 'CPUs faulting one region (one process, one anon VMA) at once: low 1 (each CPU its own process), medium 2, high 4; always 4 CPUs and the same total work per seed',
  allocFailRate: 'config allocFailRate: probability that an allocation of order > 0 fails (drawn per attempt); alloc_anon_folio then tries the next lower suitable order, as the kernel does',
  faultsPerPage: 'page faults (handle_mm_fault entries, refaults and spurious faults included) / pages the faults mapped (sum over anon folios mapped of 2^order)',
  refaultsPerSeed: 'accesses faulting again because a fault returned without mapping their page (anon.refault), per seed',
  freedUnusedPerSeed: 'anon folios allocated and then freed unmapped because the recheck under the PTL failed (lost races: anon.recheckPteChanged + anon.recheckRangeChanged.*), per seed; wasteShare: the same / folios allocated',
  largeShare: 'pages mapped by order > 0 folios / all pages the faults mapped; largeShareAtEnd: the same over the anon pages mapped when the programs ended',
  faultLatency: 'one handle_mm_fault, in scheduler steps of the 4-CPU machine (the model histogram `fault`)',
  faultedAccessLatency: 'one user access that faulted, from the access to its completion, every refault included, in scheduler steps (histogram `access.faulted`)',
  faultStepsPerPage: 'scheduler steps spent in faults (sum of the `fault` histogram) / pages the faults mapped',
};

function workloadRecord(wl: Workload): WorkloadRecord {
  const k = wl.cpusPerRegion;
  return {
    description:
      `${wl.regions} region(s) of ${wl.regionPages} pages (process g, one anon VMA at vpn ${REGION_START}, 2 MiB aligned), each shared by ${k} CPU(s) (CPUs g*${k} .. g*${k}+${k - 1}). ` +
      `Group j (pages ${GROUP}j .. ${GROUP}j+${GROUP - 1}) goes to the CPU of rank j mod ${k}, which writes page ${GROUP}j + cpu (the one it owns). ` +
      `Each CPU: pass 1 writes its ${wl.pagesPerCpu} pages in ascending order (one single-page touch each); then MADV_DONTNEED of the ${ZAP_PAGES}-page blocks b of its region with b mod ${k} = its rank; then pass 2 writes its pages again.`,
    cpusPerRegion: k,
    regions: wl.regions,
    regionPages: wl.regionPages,
    setup: wl.setup,
    programs: wl.programs.map((p, cpu) => {
      const ops: Record<string, number> = {};
      for (const o of p) ops[o.kind] = (ops[o.kind] ?? 0) + 1;
      return { cpu, process: p[0]?.proc ?? 0, ops, first: p.slice(0, 3) };
    }),
    programsSha256: createHash('sha256').update(JSON.stringify(wl.programs)).digest('hex'),
  };
}

const cfgKey = (policy: string, rate: number): string => `${policy}/${rate}`;

/** Run the grid: every cell over the same seeds; results in grid and seed order whatever the pool did. */
export async function runFallbackExperiment(o: RunOptions): Promise<FallbackReport> {
  const W = o.pagesPerCpu;
  const grid = cells(o);
  const seedList = Array.from({ length: o.seeds }, (_, i) => o.firstSeed + i);
  const policies = [...new Set(grid.map((c) => c.policy))];
  const rates = [...new Set(grid.map((c) => c.allocFailRate))];
  const contentions = [...new Set(grid.map((c) => c.contention))];
  const configs: Record<string, Config> = {};
  for (const p of policies) for (const r of rates) configs[cfgKey(p, r)] = fallbackConfig(p, r, o);
  const workload: Record<string, WorkloadRecord> = {};
  for (const c of contentions) workload[c] = workloadRecord(fallbackWorkload(c, W));

  const task = (cell: Cell, seed: number): SeedTask => ({ cell, seed, pagesPerCpu: W, firstSeed: o.firstSeed, seeds: o.seeds });
  const out = o.workers > 1 ? await runCellsOnPool(grid, seedList, task, o) : await runCellsHere(grid, seedList, task, o);
  const cellKey = (c: Cell): string => `${c.contention}/${c.allocFailRate}/${c.policy}`;
  const ran = new Set(out.map(cellKey));
  // a signal that came once every cell had run cost nothing: the report is whole, not interrupted
  const stop = out.length < grid.length ? interruptedStop(out.length, grid.length, missingCells(grid, (c) => ran.has(cellKey(c)), (c) => `${c.contention} ${pct(c.allocFailRate, 0)}`, (c) => c.policy)) : undefined;
  return {
    experiment: 'fallback',
    ...(stop ? { interrupted: true as const, stop } : {}),
    question: QUESTION,
    seeds: { first: o.firstSeed, count: o.seeds, list: seedList },
    pagesPerCpu: W,
    grid: { policies, contentions: Object.fromEntries(contentions.map((c) => [c, CPUS_PER_REGION[c]])), allocFailRates: rates },
    definitions: DEFINITIONS,
    workload,
    configs,
    cells: out,
    comparisons: compareToBase(out),
  };
}

/**
 * Every cell in this thread, in grid order. A seed runs synchronously, so before each one the
 * event loop gets a turn (a Ctrl-C handler aborts o.signal only then). A cell is all its seeds or
 * nothing (the comparisons pair cells seed by seed): one cut short is dropped.
 */
async function runCellsHere(grid: readonly Cell[], seedList: readonly number[], task: (c: Cell, seed: number) => SeedTask, o: RunOptions): Promise<CellResult[]> {
  const out: CellResult[] = [];
  for (const [i, cell] of grid.entries()) {
    const rs: SeedResult[] = [];
    for (const seed of seedList) {
      await yieldToEventLoop();
      if (o.signal?.aborted) return out;
      rs.push(runFallbackSeed(task(cell, seed)));
    }
    const c = aggregateCell(cell, rs);
    out.push(c);
    o.onCell?.(c, i, grid.length);
  }
  return out;
}

/** Seeds handed to the pool ahead per thread: enough that a thread never waits for its next one. */
const SEEDS_AHEAD_PER_THREAD = 2;

/**
 * Every cell over the piscina pool, its seeds handed over in grid and seed order a few at a time
 * (taskWindow), so both threads stay busy on the first unfinished cells; cells fold in grid order
 * whatever order the pool finished them in. On abort: seeds not handed over are never started, and
 * the ones handed over are aborted through piscina's per-task signal (as run's seeds are: piscina
 * drops a queued task and terminates the thread of a running one; destroying the pool under a
 * running task instead let its result arrive for a task piscina no longer knew, an uncaught
 * "Unexpected message from Worker"; the pool, src/engine/pool.ts, now drops such late results);
 * the cells whose seeds had all run, in grid order, are what the run has.
 */
async function runCellsOnPool(grid: readonly Cell[], seedList: readonly number[], task: (c: Cell, seed: number) => SeedTask, o: RunOptions): Promise<CellResult[]> {
  const out: CellResult[] = [];
  if (o.signal?.aborted) return out; // no pool to start for nothing
  const seedsOf: (SeedResult[] | undefined)[] = grid.map(() => undefined);
  let folded = 0;
  const handOver = taskWindow(SEEDS_AHEAD_PER_THREAD * o.workers, () => !!o.signal?.aborted);
  await withPool({ filename: o.taskFile ?? new URL('../../workers/fallback-task.js', import.meta.url), threads: o.workers }, async (pool) => {
    const pending = grid.map((cell, i) => {
      const p = Promise.all(seedList.map((seed) => handOver(() => pool.run<SeedResult>(task(cell, seed), { signal: o.signal }))));
      // record a cell as soon as its seeds are in (an abort keeps it even if an earlier cell is
      // unfinished); the empty handler also keeps a rejection from being unhandled: it surfaces
      // where its cell is awaited
      p.then((rs) => void (seedsOf[i] = rs), () => {});
      return p;
    });
    for (const [i, p] of pending.entries()) {
      let rs: SeedResult[];
      try {
        rs = await p;
      } catch (e) {
        // once aborted, a rejection is the abort's (a task failing at that very moment is lost with it)
        if (o.signal?.aborted) break;
        throw e;
      }
      const c = aggregateCell(grid[i], rs);
      out.push(c);
      folded = i + 1;
      o.onCell?.(c, i, grid.length);
    }
  });
  // after an abort: the later cells whose seeds had all run before the pool went (none otherwise)
  for (let i = folded + 1; i < grid.length; i++) {
    const rs = seedsOf[i];
    if (!rs) continue;
    const c = aggregateCell(grid[i], rs);
    out.push(c);
    o.onCell?.(c, i, grid.length);
  }
  return out;
}

// ---- outputs -------------------------------------------------------------------------------

const pct = (x: number, digits = 1): string => `${(x * 100).toFixed(digits)}%`;
const num = (x: number, digits = 3): string => (Number.isInteger(x) ? String(x) : x.toFixed(digits));

/** The table (Markdown: readable as text, and what docs/experiments.md embeds). */
export function renderFallbackTable(r: FallbackReport): string {
  const head = ['contention (CPUs/region)', 'high-order alloc fail', 'policy', 'faults/page', 'refaults/seed', 'freed unused/seed (of allocated)', 'large-folio share', 'fault p50/p99', 'faulting access p50/p99', 'fault steps/page'];
  const rows = r.cells.map((c) => [
    `${c.contention} (${c.cpusPerRegion})`,
    pct(c.allocFailRate, 0),
    c.policy,
    num(c.faultsPerPage, 4),
    num(c.refaultsPerSeed, 1),
    `${num(c.freedUnusedPerSeed, 1)} (${pct(c.wasteShare)})`,
    pct(c.largeShare),
    `${c.faultLatency.p50}/${c.faultLatency.p99}`,
    `${c.faultedAccessLatency.p50}/${c.faultedAccessLatency.p99}`,
    num(c.faultStepsPerPage, 2),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cols: string[]): string => `| ${cols.map((x, i) => (i < 3 ? x.padEnd(w[i]) : x.padStart(w[i]))).join(' | ')} |`;
  const sep = `|${w.map((n, i) => (i < 3 ? '-'.repeat(n + 2) : `${'-'.repeat(n + 1)}:`)).join('|')}|`;
  return [line(head), sep, ...rows.map(line)].join('\n');
}

/** The paired differences against refault, as a Markdown table (mean +- 2 standard errors over the seeds). */
export function renderComparisonTable(r: FallbackReport): string {
  const pm = (d: Diff, digits: number, unit = ''): string => `${d.mean >= 0 ? '+' : ''}${d.mean.toFixed(digits)}${unit} ±${(2 * d.se).toFixed(digits)}`;
  const head = ['contention (CPUs/region)', 'high-order alloc fail', 'policy vs refault', 'Δ faults/page', 'Δ large-folio share', 'Δ freed unused/seed', 'Δ fault steps/page'];
  const rows = r.comparisons.map((c) => [
    `${c.contention} (${CPUS_PER_REGION[c.contention]})`,
    pct(c.allocFailRate, 0),
    c.policy,
    pm(c.faultsPerPagePct, 1, '%'),
    pm(c.largeSharePp, 2, ' pp'),
    pm(c.freedUnusedPerSeed, 1),
    pm(c.faultStepsPerPagePct, 1, '%'),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cols: string[]): string => `| ${cols.map((x, i) => (i < 3 ? x.padEnd(w[i]) : x.padStart(w[i]))).join(' | ')} |`;
  const sep = `|${w.map((n, i) => (i < 3 ? '-'.repeat(n + 2) : `${'-'.repeat(n + 1)}:`)).join('|')}|`;
  return [line(head), sep, ...rows.map(line)].join('\n');
}

/** Every chart of the plot: one row per contention and failure rate, one bar per policy. */
export function renderFallbackSvg(r: FallbackReport): string {
  const keys = [...new Set(r.cells.map((c) => `${c.contention}|${c.allocFailRate}`))];
  const policies = r.grid.policies;
  const rowsOf = (f: (c: CellResult) => number, fmt: (x: number) => string): BarRow[] =>
    keys.map((key) => {
      const [contention, rate] = key.split('|');
      const cs = policies.map((p) => r.cells.find((c) => c.contention === contention && String(c.allocFailRate) === rate && c.policy === p));
      const parts = cs.map((c) => (c ? f(c) : 0));
      // a cell an interrupted run did not reach: a zero bar, and the note says it is missing
      return { label: `${contention} (${CPUS_PER_REGION[contention as Contention]}), fail ${pct(+rate, 0)}`, parts, note: parts.map((x, i) => (cs[i] ? fmt(x) : 'missing')).join(' / ') };
    });
  const charts = [
    barChart(rowsOf((c) => Math.round(c.largeShare * 1000) / 10, (x) => `${x}%`), { name: 'fallback-large-share', title: 'Share of mapped memory in large folios (%), higher is better', series: policies, grouped: true, width: 760 }),
    barChart(rowsOf((c) => c.faultsPerPage, (x) => num(x, 4)), { name: 'fallback-faults-per-page', title: 'Faults per page mapped (refaults included), lower is better', series: policies, grouped: true, width: 760 }),
    barChart(rowsOf((c) => c.freedUnusedPerSeed, (x) => num(x, 1)), { name: 'fallback-freed-unused', title: 'Folios allocated and freed unused (lost races) per seed, lower is better', series: policies, grouped: true, width: 760 }),
    barChart(rowsOf((c) => c.faultStepsPerPage, (x) => num(x, 2)), { name: 'fallback-fault-steps', title: 'Scheduler steps spent faulting per page mapped, lower is better', series: policies, grouped: true, width: 760 }),
    barChart(rowsOf((c) => c.faultedAccessLatency.p99, (x) => String(x)), { name: 'fallback-access-p99', title: 'p99 of a faulting access (steps, refaults included), lower is better', series: policies, grouped: true, width: 760 }),
  ];
  return svgDocument(charts, `foliostorm experiment fallback: ${r.seeds.count} seeds per cell (${r.seeds.first}..${r.seeds.first + r.seeds.count - 1}), ${r.pagesPerCpu} pages per CPU per pass${r.stop ? ` (partial: ${r.stop.detail})` : ''}`);
}

/** Stack inline charts (svg.ts) into one standalone SVG file, with the styles report.html gives them. */
export function svgDocument(charts: readonly string[], title: string): string {
  const size = (svg: string): [number, number] => {
    const m = /width="([\d.]+)" height="([\d.]+)"/.exec(svg);
    return m ? [+m[1], +m[2]] : [600, 200];
  };
  const gap = 14, top = 30;
  let y = top;
  let width = 0;
  const placed = charts.map((c) => {
    const [w, h] = size(c);
    const at = y;
    y += h + gap;
    width = Math.max(width, w);
    return c.replace('<svg ', `<svg x="0" y="${at}" `);
  });
  const style =
    'svg{font:11px system-ui,sans-serif}.grid{stroke:#e3e7eb;stroke-width:1}.frame{fill:none;stroke:#9aa5b1}.axisline{stroke:#9aa5b1}' +
    '.tick{fill:#3d4852}.axis{fill:#5a6570}.title{font-weight:600;font-size:13px;fill:#1d232a}.value{fill:#1d232a}.empty{fill:#9aa5b1;font-size:13px}.doctitle{font-weight:700;font-size:14px;fill:#1d232a}';
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}">`,
    `<style>${style}</style>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text class="doctitle" x="4" y="18">${escapeXml(title)}</text>`,
    ...placed,
    '</svg>',
    '',
  ].join('\n');
}

/** fallback.md: the question, the command, the table, the plot, the definitions. */
export function renderFallbackMarkdown(r: FallbackReport, command: string): string {
  return [
    '# foliostorm experiment fallback',
    '',
    ...(r.stop ? [partialNote(r.stop), ''] : []),
    r.question,
    '',
    `Reproduce: \`${command}\` (${r.seeds.count} seeds per cell, ${r.pagesPerCpu} pages per CPU per pass; deterministic: the same seeds give the same numbers).`,
    '',
    renderFallbackTable(r),
    '',
    `Paired by seed against refault (the same seed gives every policy the same schedule and allocation-failure streams to begin with): mean difference ± 2 standard errors over ${r.seeds.count} seeds; faults/page and fault steps/page relative to refault's mean.`,
    '',
    renderComparisonTable(r),
    '',
    '![fallback plot](fallback.svg)',
    '',
    '## Definitions',
    '',
    ...Object.entries(r.definitions).map(([k, v]) => `- **${k}**: ${v}`),
    '',
    '## Workload',
    '',
    ...Object.entries(r.workload).map(([k, w]) => `- **${k}**: ${w.description}`),
    '',
    'The model configs of every cell are in fallback.json (`configs`).',
    '',
  ].join('\n');
}

/** Write results/experiment-fallback-<id>/: fallback.json, fallback.md, fallback.svg. */
export function writeFallbackResults(r: FallbackReport, outRoot: string, meta: Record<string, unknown>, command: string): string {
  const w = new ResultsWriter(outRoot, `experiment-fallback-${makeRunId('sched', r.seeds.first)}`);
  w.json('fallback.json', { ...meta, ...r });
  w.text('fallback.md', renderFallbackMarkdown(r, command));
  w.text('fallback.svg', renderFallbackSvg(r));
  return w.dir;
}

// ---- the command ---------------------------------------------------------------------------

export interface FallbackArgs {
  seeds?: number;
  seed?: number;
  pagesPerCpu?: number;
  quick: boolean;
  workers?: number;
  out: string;
  json: boolean;
}

/** A bad flag value: the command line names it (exit 2). */
export class FallbackUsageError extends Error {}

/** The options the flags give (--quick: the small default for tests; flags given win). */
export function fallbackOptions(a: FallbackArgs): Omit<RunOptions, 'onCell'> {
  const base = a.quick ? QUICK : DEFAULTS;
  const o = { seeds: a.seeds ?? base.seeds, firstSeed: a.seed ?? base.firstSeed, pagesPerCpu: a.pagesPerCpu ?? base.pagesPerCpu, workers: a.workers ?? 2 };
  if (!Number.isInteger(o.seeds) || o.seeds < 1) throw new FallbackUsageError(`--seeds: expected an integer >= 1, found ${a.seeds}`);
  if (!Number.isInteger(o.firstSeed) || o.firstSeed < 0) throw new FallbackUsageError(`--seed: expected an integer >= 0, found ${a.seed}`);
  if (!Number.isInteger(o.pagesPerCpu) || o.pagesPerCpu < 16 || o.pagesPerCpu % 16 || o.pagesPerCpu > 4096) throw new FallbackUsageError(`--pages-per-cpu: expected a multiple of 16 from 16 to 4096, found ${a.pagesPerCpu}`);
  if (!Number.isInteger(o.workers) || o.workers < 1 || o.workers > 64) throw new FallbackUsageError(`--workers: expected an integer from 1 to 64, found ${a.workers}`);
  return o;
}

/** The command line that reproduces a run with these options (defaults left out). */
export function fallbackCommand(o: Pick<FallbackOptions, 'seeds' | 'firstSeed' | 'pagesPerCpu'>): string {
  const flags: string[] = [];
  if (o.seeds !== DEFAULTS.seeds) flags.push(`--seeds ${o.seeds}`);
  if (o.firstSeed !== DEFAULTS.firstSeed) flags.push(`--seed ${o.firstSeed}`);
  if (o.pagesPerCpu !== DEFAULTS.pagesPerCpu) flags.push(`--pages-per-cpu ${o.pagesPerCpu}`);
  return ['npx foliostorm experiment fallback', ...flags].join(' ');
}

/**
 * `foliostorm experiment fallback`: run the grid, write results/experiment-fallback-<id>/, print
 * the table (or, with --json, fallback.json only). Exit 0, or 1 if any seed found a violation
 * (the numbers of a model that broke an invariant are not to be trusted), or 3 if signal stopped
 * the run early (the cells that ran are written, marked interrupted).
 */
export async function cmdFallback(a: FallbackArgs, version: string, signal?: AbortSignal): Promise<number> {
  const o = fallbackOptions(a);
  const t0 = performance.now();
  const log = (s: string): void => {
    if (!a.json) process.stderr.write(s + '\n');
  };
  log(`[experiment fallback] ${cells().length} cells x ${o.seeds} seeds (from ${o.firstSeed}), ${o.pagesPerCpu} pages per CPU per pass, ${o.workers} worker(s)`);
  const r = await runFallbackExperiment({
    ...o,
    signal,
    onCell: (c, i, n) => log(`[experiment fallback] ${i + 1}/${n} ${c.contention} fail ${pct(c.allocFailRate, 0)} ${c.policy}: faults/page ${num(c.faultsPerPage, 4)}, large ${pct(c.largeShare)}${c.violations.length ? `, ${c.violations.length} VIOLATIONS` : ''}`),
  });
  const wallSeconds = Math.round((performance.now() - t0) / 10) / 100;
  const command = fallbackCommand(o);
  // a failed write (a full disk) loses the files, not the table: printed anyway, one line says which file, exit 3
  let dir: string, writeError: WriteError | undefined;
  try {
    dir = writeFallbackResults(r, a.out, { tool: 'foliostorm', version, command, workers: o.workers, wallSeconds }, command);
  } catch (e) {
    if (!(e instanceof WriteError)) throw e;
    writeError = e;
    dir = `${dirname(e.file)} (incomplete: ${e.message})`;
  }
  const violations = r.cells.flatMap((c) => c.violations.map((v) => `${c.contention}/${c.allocFailRate}/${c.policy} ${v}`));
  if (a.json) process.stdout.write(JSON.stringify({ tool: 'foliostorm', version, command, workers: o.workers, wallSeconds, ...r }, null, 2) + '\n');
  else {
    process.stdout.write(
      [
        `foliostorm experiment fallback: ${r.cells.length} cells x ${r.seeds.count} seeds, ${wallSeconds} s`,
        '',
        ...(r.stop ? [partialNote(r.stop), ''] : []),
        renderFallbackTable(r),
        '',
        'Against refault, paired by seed (mean ± 2 standard errors):',
        '',
        renderComparisonTable(r),
        '',
        ...(violations.length ? [`VIOLATIONS (the figures above are not to be trusted):`, ...violations.map((v) => `  ${v}`), ''] : []),
        `  results   ${dir}`,
        '',
      ].join('\n'),
    );
  }
  if (writeError) process.stderr.write(`foliostorm: ${writeError.message}\n`);
  // interrupted (or not written) wins: the figures are partial whatever they show
  return r.interrupted || writeError ? EXIT_INTERRUPTED : violations.length ? EXIT_VIOLATIONS : EXIT_OK;
}
