// `foliostorm experiment batching` (issue #7, deliverable 3): what PTE batching saves in the model.
// For fork, munmap and mprotect of one anonymous region (1 GiB by default) populated with folios
// of one size (4 KiB .. 2 MiB), on the generic and the contpte layer, each operation runs once
// with the batched kernel paths and once with their per-PTE reference forms (config `batching`),
// on one simulated CPU of the sched engine with nothing else running: a scripted, uncontended
// measurement. Measured per operation: TLB invalidations issued (flush_tlb_page/range/mm calls),
// contpte unfolds and folds, PTL holds and their length in scheduler steps (the ptl.hold
// histogram), the operation's scheduler steps, the folio refcount/mapcount updates it made, and
// the wall-clock nanoseconds the model took in this process (the one figure that is not
// deterministic; it is reported, never used to decide anything).
//
// Each (arch, folio size, batching) gets one machine: the region is mapped and faulted in with
// write faults (order 9, a PTE-mapped THP, by do_huge_pmd_anonymous_page), and each operation then
// runs on its own copy of that machine's buffer, so all three start from the same populated state;
// the batched and the per-PTE run of an operation take turns (--reps), so a change in the load of
// the machine the experiment runs on falls on both.
// After each run a digest of the kernel-visible state (PTEs without PTE_CONT, struct pages and
// folios, RSS, VMAs, free pages per order) is taken: batched and per-PTE must end the same.
import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type Config, defaultConfig, PMD_ORDER, PTRS_PER_PTE, runConfig } from '../config/config.js';
import { Machine, VM_ANON, VM_READ, VM_WRITE } from '../machine/machine.js';
import { computeLayout, MM } from '../machine/layout.js';
import { PTE_CONT } from '../machine/pte.js';
import { mem_init } from '../linux/mm/page_alloc.js';
import { Cpu, type Clock } from '../machine/cpu.js';
import type { Gen } from '../machine/gen.js';
import { SchedLoop } from '../engine/sched.js';
import { makeScheduler } from '../engine/scheduler.js';
import { COST, COST_BASE, COST_KINDS, COST_OPS, EV } from '../machine/events.js';
import { rng } from '../workload/program.js';
import { dup_mm, mm_alloc } from '../linux/kernel/fork.js';
import { do_mmap, do_munmap } from '../linux/mm/mmap.js';
import { do_mprotect } from '../linux/mm/mprotect.js';
import { handle_mm_fault, VM_FAULT_OK } from '../linux/mm/memory.js';
import { checkQuiescent } from '../check/invariants.js';
import { type LineSeries, lineChart, standaloneSvg } from '../report/linechart.js';
import { makeRunId, ResultsWriter } from '../report/results.js';
import { WriteError } from '../report/disk.js';
import { EXIT_INTERRUPTED, EXIT_OK, EXIT_VIOLATIONS } from '../report/exit-codes.js';
import { type ExperimentStop, interruptedStop, missingCells, partialNote, yieldToEventLoop } from './stop.js';
import { buildMachine } from '../check/machine.js';

export const BATCHING_OPS = ['fork', 'munmap', 'mprotect'] as const;
export type BatchingOp = (typeof BATCHING_OPS)[number];
export const BATCHING_ARCHES = ['generic', 'contpte'] as const;
export type BatchingArch = (typeof BATCHING_ARCHES)[number];
/** 4 KiB .. 2 MiB: every anon folio order (order 1 is never an anon folio; 9 is the PTE-mapped THP). */
export const BATCHING_ORDERS = [0, 2, 3, 4, 5, 6, 7, 8, 9] as const;
/** --quick: the sizes the published figures name (4K, 16K, 64K, 2M) on a 16 MiB region. */
export const QUICK_ORDERS = [0, 2, 4, 9] as const;
export const QUICK_BYTES = 16 << 20;
export const DEFAULT_BYTES = 1 << 30;
export const MAX_BYTES = 1 << 30;

export interface BatchingOptions {
  /** Size of the region in bytes: a multiple of 2 MiB, at most 1 GiB. */
  bytes: number;
  orders?: readonly number[];
  arches?: readonly BatchingArch[];
  ops?: readonly BatchingOp[];
  /** Runs of each measured operation (each on a fresh copy); wall time is their median. Default 1. */
  reps?: number;
  /** Before measuring, run the matrix once on 4 MiB and discard it (warms the JIT for the wall times). Default true. */
  warmup?: boolean;
  /** Run the quiescent checker after each operation (slow at 1 GiB; the tests use it). */
  check?: boolean;
  /** One line per finished (arch, size, batching) machine. */
  progress?: (line: string) => void;
  /**
   * Aborted (Ctrl-C, SIGTERM): run no more cells (a cell is one operation on one arch and folio
   * size, both designs); the result holds those that ran, marked interrupted.
   */
  signal?: AbortSignal;
}

/** What one operation cost in one design. */
export interface Measure {
  /** TLB invalidations issued: flush_tlb_page + flush_tlb_range + flush_tlb_mm calls (one shootdown each) */
  tlbi: number;
  tlbiPage: number;
  tlbiRange: number;
  tlbiMm: number;
  contUnfold: number;
  contFold: number;
  /** PTL acquisitions */
  ptlHolds: number;
  /** total PTL hold in scheduler steps: count x mean of the ptl.hold histogram (HdrHistogram, 3 significant digits) */
  ptlHoldSteps: number;
  ptlHoldMean: number;
  ptlHoldMax: number;
  /** scheduler steps of the operation (the model's time) */
  steps: number;
  /** refcount/mapcount updates of struct folio (folio_ref_*, folio_put*, the rmap add/dup/remove calls) */
  folioUpdates: number;
  /** entries with PTE_CONT in any mm after the operation */
  contPtes: number;
  /** wall-clock nanoseconds of the operation in this process (median over reps; not deterministic) */
  wallNs: number;
  /** CPU nanoseconds this process spent on it (user + system; median over reps; not deterministic, but blind to other processes' load) */
  cpuNs: number;
  /** sha256 (16 hex) of the kernel-visible state after the operation, PTE_CONT masked */
  state: string;
}

export interface Cell {
  op: BatchingOp;
  arch: BatchingArch;
  order: number;
  folioKiB: number;
  batched: Measure;
  perPte: Measure;
  /** per-PTE / batched (how many times the per-PTE form costs the batched one); null where batched is 0 and per-PTE is not */
  perPteOverBatched: { tlbi: number | null; contUnfold: number | null; ptlHoldSteps: number | null; steps: number | null; folioUpdates: number | null; wallNs: number | null; cpuNs: number | null };
  /** batched and per-PTE ended in the same kernel-visible state (PTE_CONT aside) */
  sameState: boolean;
}

export interface BatchingResult {
  experiment: 'batching';
  /** Present (true) only when a signal stopped the run before every cell ran; `cells` then holds those that did. */
  interrupted?: true;
  stop?: ExperimentStop;
  bytes: number;
  pages: number;
  orders: number[];
  arches: BatchingArch[];
  ops: BatchingOp[];
  reps: number;
  /** the machine each cell ran on (one CPU, sched engine) */
  machine: { cpus: 1; memoryPages: number; tlbEntries: number; scheduler: string; seed: number };
  /** the batched and the per-PTE populate of each (arch, order) ended in the same state (PTE_CONT aside) */
  populateSame: { arch: BatchingArch; order: number; same: boolean; contPtesBatched: number; contPtesPerPte: number }[];
  cells: Cell[];
  wallSeconds: number;
}

const PAGE = 4096;

/** The run config of one experiment machine: one CPU, two process slots (the parent and fork's child), no files, no fragmentation. */
export function experimentConfig(pages: number, arch: BatchingArch, batching: boolean, order: number): Config {
  let memoryPages = 1024;
  while (memoryPages < pages + 1024) memoryPages *= 2; // the region, the zero page and slack; fork shares (COW), it does not copy
  return defaultConfig({
    name: `experiment-batching-${arch}-${kib(order)}-${batching ? 'batched' : 'per-pte'}`,
    cpus: 1,
    processes: 2,
    arch,
    batching,
    memoryPages,
    vaSize: pages * PAGE,
    fragmentation: 0,
    maxVmas: 4,
    files: { count: 0 },
    // the PTE fault path allocates `order` (orders < PMD_ORDER); order 9 is mapped by the THP fault
    // (the 2 MiB-aligned cells' tables are untouched when their first fault comes)
    anonOrders: order > 0 ? [0, order] : [0],
    // one operation over 1 GiB runs millions of steps and holds the mmap_lock throughout
    stepLimit: 2 ** 31 - 1,
    lockHoldLimitSteps: 2 ** 31 - 1,
    seed: 1,
  });
}

/** g, counting the struct folio refcount/mapcount updates each of its steps makes (cpu.touched, which the loop clears after every step). */
function* countingFolioUpdates(cpu: Cpu, g: Gen<void>, acc: { n: number }): Gen<void> {
  for (;;) {
    const r = g.next();
    acc.n += cpu.touched.length;
    if (r.done) return;
    yield r.value;
  }
}

/** Run one kernel-path generator to completion on the machine's one CPU (the sched engine's loop, observer included); returns its steps. */
function runToCompletion(machine: Machine, cpu: Cpu, clock: Clock, g: Gen<void>): number {
  let given = false;
  const cfg = runConfig(machine.cfg);
  const sched = makeScheduler('random', cfg.seed, { pctDepth: cfg.pctDepth, pctSteps: 1 });
  const before = clock.step;
  new SchedLoop(machine, [cpu], [() => (given ? null : ((given = true), g))], sched, clock, null, false).run();
  return clock.step - before;
}

/** Faults per chunk of a populate (order 0 at 1 GiB: 16 chunks of about 0.18 s). */
const POPULATE_CHUNK = 16384;

/**
 * A fresh machine of cfg with the region [0, pages) mapped in mm 0 and every page faulted in with
 * folios of order; on sab (zeroed first) when given, so a long run does not allocate a machine per
 * cell (the garbage collector would then run in the middle of the timed operations). Between
 * chunks of faults it awaits stopRequested: true stops it (null).
 */
export async function populate(cfg: Config, pages: number, order: number, sab?: SharedArrayBuffer, stopRequested?: () => Promise<boolean>): Promise<Machine | null> {
  if (sab) new Int32Array(sab).fill(0);
  const machine = buildMachine(cfg, sab);
  mem_init(machine, rng(cfg.seed, 'boot'));
  const clock: Clock = { step: 0 };
  const cpu = new Cpu(machine, 0, false, clock, cfg);
  cpu.curOp = 'populate';
  const nr = 1 << order;
  runToCompletion(machine, cpu, clock, (function* () {
    if (!mm_alloc(cpu, 0)) throw new Error('populate: mm slot 0 is not free');
    const start = yield* do_mmap(cpu, 0, pages, PTRS_PER_PTE, 0, VM_ANON | VM_READ | VM_WRITE, true);
    if (start !== 0) throw new Error(`populate: mmap of ${pages} pages failed`);
  })());
  // the faults a chunk at a time, the event loop getting a turn between chunks (a signal handler
  // runs only then): 1 GiB of order-0 faults is 2.8 s of work. On one CPU the chunks run the same
  // steps as one run would, so the populated state is the same
  for (let from = 0; from < pages; from += POPULATE_CHUNK * nr) {
    if (from > 0 && (await stopRequested?.())) return null;
    const to = Math.min(pages, from + POPULATE_CHUNK * nr);
    runToCompletion(machine, cpu, clock, (function* () {
      for (let vpn = from; vpn < to; vpn += nr) {
        const r = yield* handle_mm_fault(cpu, 0, vpn, true);
        if (r !== VM_FAULT_OK) throw new Error(`populate: write fault at vpn ${vpn} returned ${r}`);
      }
    })());
  }
  // every folio must have the order asked for (no fallback: memory is ample and unfragmented)
  const mapped = cpu.counters[EV.MAP_ANON + order];
  if (mapped !== pages / nr) throw new Error(`populate: ${mapped} order-${order} folios mapped, expected ${pages / nr} (allocation fell back)`);
  return machine;
}

/** A copy of machine (the populated state each operation starts from), on sab when given, else on a buffer of its own. */
function cloneMachine(machine: Machine, cfg: Config, sab?: SharedArrayBuffer): Machine {
  sab ??= new SharedArrayBuffer(machine.sab.byteLength);
  new Int32Array(sab).set(machine.m);
  return buildMachine(cfg, sab);
}

/** Entries with PTE_CONT over every mm. */
export function contPtes(machine: Machine): number {
  const { m, L } = machine;
  let n = 0;
  const end = L.pte + L.maxMms * L.tablesPerMm * PTRS_PER_PTE;
  for (let i = L.pte; i < end; i++) if (m[i] & PTE_CONT) n++;
  return n;
}

/**
 * sha256 (first 16 hex digits) of what the kernel would see: per mm its state, users, RSS, VMAs,
 * PMD and PTE words (PTE_CONT masked: it is arm64's TLB hint, and the per-PTE paths leave blocks
 * unfolded where the batched ones keep them cont; contPtes() counts them); per page its flags,
 * mapcount, folio head, pins and content; per folio its order, refcount, mapcount, pins, flags
 * and mm-id slots; the free pages per order. Left out: TLBs, flight recorders, lock words
 * (tickets count acquisitions) and the buddy list links.
 */
export function stateDigest(machine: Machine): string {
  const { m, L } = machine;
  const h = createHash('sha256');
  const put = (from: number, n: number, mask = -1) => {
    const a = m.slice(from, from + n);
    if (mask !== -1) for (let i = 0; i < a.length; i++) a[i] &= mask;
    h.update(new Uint8Array(a.buffer));
  };
  for (let mm = 0; mm < L.maxMms; mm++) {
    const w = machine.mmWord(mm, 0);
    put(w + MM.STATE, 2); // STATE, USERS
    put(w + MM.RSS_ANON, 2); // RSS_ANON, RSS_FILE
    put(machine.vmaBase(mm, 0), L.maxVmas * 6);
    put(L.pgd + mm * L.tablesPerMm, L.tablesPerMm);
    put(machine.ptep(mm, 0), L.tablesPerMm * PTRS_PER_PTE, ~PTE_CONT);
  }
  for (const off of [L.pFlags, L.pMapcount, L.pHead, L.pPin, L.pContent, L.fOrder, L.fRef, L.fMapcount, L.fPin, L.fFlags]) put(off, L.pages);
  put(L.fMmId, L.pages * 2);
  put(L.freeCount, L.maxOrder + 1);
  return h.digest('hex').slice(0, 16);
}

/** The generator of one measured operation on the populated region [0, pages) of mm 0. */
function opGen(cpu: Cpu, op: BatchingOp, pages: number): Gen<void> {
  return (function* () {
    let r: number;
    if (op === 'fork') r = yield* dup_mm(cpu, 0, [0, 2]);
    else if (op === 'munmap') r = yield* do_munmap(cpu, 0, 0, pages);
    else r = yield* do_mprotect(cpu, 0, 0, pages, VM_READ); // PROT_READ: every writable entry is write-protected
    if (r < 0) throw new Error(`${op} failed (${r})`);
  })();
}

/** Run op once on a copy of the populated machine and measure it. */
function measureOnce(populated: Machine, cfg: Config, op: BatchingOp, pages: number, check: boolean, sab?: SharedArrayBuffer): Measure {
  const machine = cloneMachine(populated, cfg, sab);
  const clock: Clock = { step: 0 };
  const cpu = new Cpu(machine, 0, false, clock, cfg);
  cpu.curOp = op;
  const updates = { n: 0 };
  const g = countingFolioUpdates(cpu, opGen(cpu, op, pages), updates);
  collectGarbage(); // the populate's and the last operation's garbage, not in this operation's time
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const steps = runToCompletion(machine, cpu, clock, g);
  const wallNs = Math.round((performance.now() - t0) * 1e6);
  const cu = process.cpuUsage(c0);
  const cpuNs = (cu.user + cu.system) * 1000;
  if (check) {
    const found = checkQuiescent(machine);
    if (found.length) throw new Error(`${cfg.name} ${op}: the quiescent check found ${found[0].invariant}: ${JSON.stringify(found[0].details)}`);
  }
  const cost = (kind: number): number => {
    let n = 0;
    for (let o = 0; o < COST_OPS.length; o++) n += cpu.counters[COST_BASE + o * COST_KINDS.length + kind];
    return n;
  };
  const hold = cpu.hist.get('ptl.hold');
  const holds = hold ? hold.totalCount : 0;
  const mean = hold ? hold.mean : 0;
  const tlbiPage = cost(COST.TLBI_PAGE), tlbiRange = cost(COST.TLBI_RANGE), tlbiMm = cost(COST.TLBI_MM);
  return {
    tlbi: tlbiPage + tlbiRange + tlbiMm, tlbiPage, tlbiRange, tlbiMm,
    contUnfold: cost(COST.CONT_UNFOLD), contFold: cost(COST.CONT_FOLD),
    ptlHolds: holds, ptlHoldSteps: Math.round(mean * holds), ptlHoldMean: Math.round(mean * 100) / 100, ptlHoldMax: hold ? hold.maxValue : 0,
    steps, folioUpdates: updates.n, contPtes: contPtes(machine), wallNs, cpuNs, state: stateDigest(machine),
  };
}

/** Runs of one operation on one design: the deterministic figures must agree; the times are their medians. */
function combine(runs: readonly Measure[], what: string): Measure {
  const strip = ({ wallNs: _w, cpuNs: _c, ...rest }: Measure) => JSON.stringify(rest);
  for (const x of runs.slice(1)) if (strip(x) !== strip(runs[0])) throw new Error(`${what}: two runs of the same operation differ: ${strip(runs[0])} vs ${strip(x)}`);
  const median = (k: 'wallNs' | 'cpuNs') => runs.map((x) => x[k]).sort((a, b) => a - b)[Math.floor((runs.length - 1) / 2)];
  return { ...runs[0], wallNs: median('wallNs'), cpuNs: median('cpuNs') };
}

/** reps runs of op, each on a fresh copy (on sab when given), combined (see combine). */
export function measureOp(populated: Machine, cfg: Config, op: BatchingOp, pages: number, reps = 1, check = false, sab?: SharedArrayBuffer): Measure {
  const runs: Measure[] = [];
  for (let r = 0; r < reps; r++) runs.push(measureOnce(populated, cfg, op, pages, check && r === 0, sab));
  return combine(runs, `${cfg.name} ${op}`);
}

/**
 * A full garbage collection, when V8 lets us have one (--expose-gc set at run time, gc taken from
 * a fresh context, on first use: importing this module changes nothing); a no-op otherwise. Only
 * the CPU and wall times depend on it.
 */
let gcFn: (() => void) | null = null;
function collectGarbage(): void {
  if (!gcFn) {
    gcFn = () => {};
    try {
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as unknown;
      if (typeof gc === 'function') gcFn = () => void gc();
    } catch {
      // no gc: the times may include a collection
    }
  }
  gcFn();
}

/** a / b rounded to 4 decimals; 1 when both are 0; null when only b is 0. */
const over = (a: number, b: number): number | null => (b === 0 ? (a === 0 ? 1 : null) : Math.round((a / b) * 10000) / 10000);

export async function runBatchingExperiment(o: BatchingOptions): Promise<BatchingResult> {
  const t0 = performance.now();
  if (!(o.bytes >= 2 << 20 && o.bytes <= MAX_BYTES && o.bytes % (2 << 20) === 0)) throw new RangeError(`size: expected a multiple of 2 MiB from 2 MiB to 1 GiB, found ${o.bytes} bytes`);
  const orders = [...(o.orders ?? BATCHING_ORDERS)];
  for (const k of orders) if (!(Number.isInteger(k) && k >= 0 && k <= PMD_ORDER && k !== 1)) throw new RangeError(`orders: expected 0 or 2 to ${PMD_ORDER} (order 1 is never an anon folio), found ${k}`);
  const arches = [...(o.arches ?? BATCHING_ARCHES)];
  const ops = [...(o.ops ?? BATCHING_OPS)];
  const reps = o.reps ?? 1;
  if (!(Number.isInteger(reps) && reps >= 1)) throw new RangeError(`reps: expected an integer >= 1, found ${reps}`);
  if (o.warmup ?? true) await runBatchingExperiment({ bytes: 4 << 20, orders: orders.filter((k) => [0, 4, 9].includes(k)), arches, ops, warmup: false, signal: o.signal });
  const pages = o.bytes / PAGE;
  const cells: Cell[] = [];
  const populateSame: BatchingResult['populateSame'] = [];
  // the same for every (arch, order, batching): it depends on the region's size only
  const memoryPages = experimentConfig(pages, arches[0], true, orders[0]).memoryPages;
  // three buffers for the whole run: the two populated machines (batched, per-PTE) and the copy
  // each operation runs on (every cell's config has the same layout: arch, batching and orders do
  // not change it)
  const bytesOf = computeLayout(experimentConfig(pages, arches[0], true, orders[0])).words * 4;
  const popSab = [new SharedArrayBuffer(bytesOf), new SharedArrayBuffer(bytesOf)], opSab = new SharedArrayBuffer(bytesOf);
  // a measured run is synchronous: before each one, and between the chunks of the populate the
  // cells of a folio size share, the event loop gets a turn (a Ctrl-C handler aborts o.signal only
  // then), and an aborted run starts nothing more
  const stopRequested = async (): Promise<boolean> => {
    await yieldToEventLoop();
    return !!o.signal?.aborted;
  };
  run: for (const arch of arches) {
    for (const order of orders) {
      if (await stopRequested()) break run;
      o.progress?.(`populate ${arch} ${kib(order)}: ${bytesLabel(o.bytes)} faulted in, batched and per-PTE`);
      const designs: { cfg: Config; populated: Machine; state: string; cont: number }[] = [];
      for (const [i, batching] of [true, false].entries()) {
        const cfg = experimentConfig(pages, arch, batching, order);
        const populated = await populate(cfg, pages, order, popSab[i], stopRequested);
        if (!populated || (await stopRequested())) break run; // a folio size stopped in its populate is left out whole
        designs.push({ cfg, populated, state: stateDigest(populated), cont: contPtes(populated) });
      }
      // the two designs take turns, run by run, so a change in the machine's load falls on both;
      // which goes first alternates (batched first, then per-PTE first, ...)
      const per: Record<'batched' | 'perPte', Measure[]> = { batched: [], perPte: [] };
      let stopped = false;
      for (const op of ops) {
        if ((stopped = await stopRequested())) break;
        const runs: Measure[][] = [[], []];
        // every measured run is its own turn (one is up to half a second at 1 GiB); a cell stopped
        // before its last run is left out
        let first = true;
        reps: for (let r = 0; r < reps; r++) {
          for (const i of r % 2 ? [1, 0] : [0, 1]) {
            if (!first && (stopped = await stopRequested())) break reps;
            first = false;
            runs[i].push(measureOnce(designs[i].populated, designs[i].cfg, op, pages, !!o.check && r === 0, opSab));
          }
        }
        if (stopped) break;
        const b = combine(runs[0], `${designs[0].cfg.name} ${op}`), p = combine(runs[1], `${designs[1].cfg.name} ${op}`);
        per.batched.push(b);
        per.perPte.push(p);
        cells.push({
          op, arch, order, folioKiB: 4 << order, batched: b, perPte: p,
          perPteOverBatched: {
            tlbi: over(p.tlbi, b.tlbi), contUnfold: over(p.contUnfold, b.contUnfold), ptlHoldSteps: over(p.ptlHoldSteps, b.ptlHoldSteps),
            steps: over(p.steps, b.steps), folioUpdates: over(p.folioUpdates, b.folioUpdates), wallNs: over(p.wallNs, b.wallNs), cpuNs: over(p.cpuNs, b.cpuNs),
          },
          sameState: b.state === p.state,
        });
      }
      // a folio size stopped before its first cell is missing whole, its populate included
      if (per.batched.length) {
        o.progress?.(`${arch} ${kib(order)}: ${per.batched.map((b, i) => `${ops[i]} ${b.steps} / ${per.perPte[i].steps} steps, ${fmtMs(b.cpuNs)} / ${fmtMs(per.perPte[i].cpuNs)} CPU`).join('; ')} (batched / per-PTE)`);
        populateSame.push({ arch, order, same: designs[0].state === designs[1].state, contPtesBatched: designs[0].cont, contPtesPerPte: designs[1].cont });
      }
      if (stopped) break run;
    }
  }
  const ran = new Set(cells.map((c) => `${c.arch}/${c.order}/${c.op}`));
  const grid = arches.flatMap((arch) => orders.flatMap((order) => ops.map((op) => ({ arch, order, op }))));
  // a signal that came once every cell had run cost nothing: the result is whole, not interrupted
  const stop = cells.length < grid.length ? interruptedStop(cells.length, grid.length, missingCells(grid, (c) => ran.has(`${c.arch}/${c.order}/${c.op}`), (c) => `${c.arch} ${kib(c.order)}`, (c) => c.op)) : undefined;
  return {
    experiment: 'batching', ...(stop ? { interrupted: true as const, stop } : {}), bytes: o.bytes, pages, orders, arches, ops, reps,
    machine: { cpus: 1, memoryPages, tlbEntries: defaultConfig().tlbEntries, scheduler: 'random (one CPU: every step is its own)', seed: 1 },
    populateSame, cells, wallSeconds: Math.round((performance.now() - t0) / 10) / 100,
  };
}

// ---- the published kernel figures the results are set against ---------------------------------

export interface PublishedSeries {
  op: BatchingOp;
  /** the layer the figures are closest to in the model */
  arch: BatchingArch;
  label: string;
  /** what was compared, and on what */
  what: string;
  source: string;
  /** order -> [time without batching, time with batching] (seconds, or percent of a baseline + 100) */
  points: Record<number, readonly [number, number]>;
}

/**
 * The kernel's own measurements (from the patch series' cover letters; docs/experiments.md gives
 * the links). Each point is [without, with]; without/with is the speedup batching gave.
 */
export const PUBLISHED: readonly PublishedSeries[] = [
  {
    op: 'fork', arch: 'generic', label: 'kernel x86 (fork)',
    what: 'fork() with 1 GiB of PTE-mapped folios of one size, Intel Xeon Silver 4210R, seconds: v6.8-rc1 (per PTE) vs the series (batched)',
    source: 'David Hildenbrand, "[PATCH v2 00/15] mm/memory: optimize fork() with PTE-mapped THP", 2024-01-25, <20240125193227.444072-1-david@redhat.com> (same table in v3, <20240129124649.189745-1-david@redhat.com>)',
    points: { 0: [0.014328, 0.014035], 2: [0.014263, 0.01196], 3: [0.014334, 0.01094], 4: [0.014046, 0.010444], 5: [0.014011, 0.010063], 6: [0.013993, 0.009938], 7: [0.013983, 0.00985], 8: [0.013986, 0.00982], 9: [0.014305, 0.010076] },
  },
  {
    op: 'munmap', arch: 'generic', label: 'kernel x86 (munmap)',
    what: 'munmap() of a 1 GiB VMA of PTE-mapped folios of one size, Intel Xeon Silver 4210R, seconds: mm-unstable (per PTE) vs the series (batched)',
    source: 'David Hildenbrand, "[PATCH v1 0/9] mm/memory: optimize unmap/zap with PTE-mapped THP", 2024-01-29, <20240129143221.263763-1-david@redhat.com> (v3, <20240214204435.167852-1-david@redhat.com>, reuses the v1 figures)',
    points: { 0: [0.05811, 0.057715], 2: [0.044198, 0.035469], 3: [0.034216, 0.023522], 4: [0.029207, 0.018434], 5: [0.026579, 0.014026], 6: [0.02513, 0.011756], 7: [0.024292, 0.010703], 8: [0.023812, 0.010294], 9: [0.023785, 0.00991] },
  },
  {
    op: 'fork', arch: 'contpte', label: 'kernel arm64 contpte (fork)',
    what: 'fork() of PTE-mapped memory, Ampere Altra, % of a baseline without contpte: contpte-basic (arch helpers per PTE: every wrprotect unfolds) vs contpte-batch (batched arch helpers)',
    source: 'Ryan Roberts, "[PATCH v5 00/25] Transparent Contiguous PTEs for User Mappings", 2024-02-02, <20240202080756.1453939-1-ryan.roberts@arm.com>',
    points: { 0: [106.3, 107.6], 9: [2048.7, 98.1] },
  },
  {
    op: 'munmap', arch: 'contpte', label: 'kernel arm64 contpte (munmap)',
    what: 'munmap() of PTE-mapped memory, Ampere Altra, % of a baseline without contpte: contpte-basic vs contpte-batch',
    source: 'Ryan Roberts, "[PATCH v5 00/25] Transparent Contiguous PTEs for User Mappings", 2024-02-02, <20240202080756.1453939-1-ryan.roberts@arm.com>',
    points: { 0: [101.8, 99.7], 9: [1204.8, 102.7] },
  },
  {
    op: 'mprotect', arch: 'contpte', label: 'kernel arm64 M3 (mprotect)',
    what: 'mprotect(PROT_READ) then mprotect(PROT_READ|PROT_WRITE) of 1 GiB and a memset of it, 40 times, Apple M3, seconds: before vs after the series',
    source: 'Dev Jain, "[PATCH v4 0/4] Optimize mprotect() for large folios", 2025-06-28, <20250628113435.46678-1-dev.jain@arm.com>',
    points: { 0: [4.2, 4.3], 4: [7.9, 2.2], 9: [7.9, 2.1] },
  },
];

/** without / with of a published point. */
export const publishedSpeedup = (p: readonly [number, number]): number => p[0] / p[1];

// ---- rendering -----------------------------------------------------------------------------------

/** "4K", "64K", "2M" */
export function kib(order: number): string {
  const k = 4 << order;
  return k >= 1024 ? `${k / 1024}M` : `${k}K`;
}
function fmtMs(ns: number): string {
  const ms = ns / 1e6;
  return `${ms >= 100 ? Math.round(ms) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2)} ms`;
}
/** 3 significant digits; "n/a" for null. */
export function fmtRatio(r: number | null): string {
  if (r === null) return 'n/a';
  return r >= 100 ? String(Math.round(r)) : Number(r.toPrecision(3)).toString();
}
const bp = (b: number, p: number): string => `${b} / ${p}`;
function bytesLabel(n: number): string {
  return n >= 1 << 30 ? `${n / (1 << 30)} GiB` : `${n / (1 << 20)} MiB`;
}

/** The tables of batching.md (and of the command's output): one per operation, then the comparison with the published figures. */
export function renderBatchingTables(r: BatchingResult): string {
  const out: string[] = [];
  out.push(`Region ${bytesLabel(r.bytes)} (${r.pages} pages) of private anonymous memory, one simulated CPU, nothing else running. Each cell: batched / per-PTE, and per-PTE divided by batched (x: how many times the per-PTE form costs the batched one).`);
  out.push('');
  for (const op of r.ops) {
    out.push(`### ${op}`);
    out.push('');
    out.push('| arch | folio | TLBIs b / p | contpte unfolds b / p | folds b / p | PTL holds | PTL hold steps b / p (x) | steps b / p (x) | folio updates b / p (x) | CPU ms b / p (x) | wall ms b / p (x) | same state |');
    out.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
    for (const c of r.cells.filter((x) => x.op === op)) {
      const b = c.batched, p = c.perPte, x = c.perPteOverBatched;
      out.push(`| ${c.arch} | ${kib(c.order)} | ${bp(b.tlbi, p.tlbi)} | ${bp(b.contUnfold, p.contUnfold)} | ${bp(b.contFold, p.contFold)} | ${b.ptlHolds === p.ptlHolds ? b.ptlHolds : bp(b.ptlHolds, p.ptlHolds)} | ${bp(b.ptlHoldSteps, p.ptlHoldSteps)} (${fmtRatio(x.ptlHoldSteps)}) | ${bp(b.steps, p.steps)} (${fmtRatio(x.steps)}) | ${bp(b.folioUpdates, p.folioUpdates)} (${fmtRatio(x.folioUpdates)}) | ${(b.cpuNs / 1e6).toFixed(1)} / ${(p.cpuNs / 1e6).toFixed(1)} (${fmtRatio(x.cpuNs)}) | ${(b.wallNs / 1e6).toFixed(1)} / ${(p.wallNs / 1e6).toFixed(1)} (${fmtRatio(x.wallNs)}) | ${c.sameState ? 'yes' : 'NO'}${c.arch === 'contpte' && b.contPtes !== p.contPtes ? `; cont PTEs ${b.contPtes} / ${p.contPtes}` : ''} |`);
    }
    out.push('');
  }
  out.push('### Against the published figures');
  out.push('');
  out.push('Speedup from batching = time without / time with (kernel), per-PTE / batched (model).');
  out.push('');
  out.push('| op | folio | kernel | kernel speedup | model arch | model steps | model CPU | model wall |');
  out.push('| --- | --- | --- | ---: | --- | ---: | ---: | ---: |');
  for (const s of PUBLISHED) {
    for (const [k, pt] of Object.entries(s.points)) {
      const c = r.cells.find((x) => x.op === s.op && x.arch === s.arch && x.order === Number(k));
      if (!c) continue;
      out.push(`| ${s.op} | ${kib(Number(k))} | ${s.label.replace(/ \(\w+\)$/, '')} | ${fmtRatio(publishedSpeedup(pt))} | ${s.arch} | ${fmtRatio(c.perPteOverBatched.steps)} | ${fmtRatio(c.perPteOverBatched.cpuNs)} | ${fmtRatio(c.perPteOverBatched.wallNs)} |`);
    }
  }
  out.push('');
  const popBad = r.populateSame.filter((x) => !x.same);
  out.push(popBad.length ? `Populate: the batched and per-PTE fault-in ended in different states for ${popBad.map((x) => `${x.arch} ${kib(x.order)}`).join(', ')}.` : `Populate: the batched and the per-PTE fault-in ended in the same state for every arch and folio size${r.stop ? ' that ran' : ''}.`);
  return out.join('\n');
}

/** batching.md: what ran, the tables, the sources of the published figures. */
export function renderBatchingMarkdown(r: BatchingResult, o: { command: string; version: string; runId: string }): string {
  return [
    `# Batching experiment (${o.runId})`,
    '',
    ...(r.stop ? [partialNote(r.stop), ''] : []),
    `\`${o.command}\` (foliostorm ${o.version}): ${r.ops.join(', ')} of ${bytesLabel(r.bytes)} on ${r.arches.join(' and ')} with folios of ${r.orders.map(kib).join(', ')}; ${r.reps} run(s) per operation; ${r.wallSeconds} s.`,
    'b = batched (config batching: true), p = per-PTE reference form (batching: false). TLBIs: flush_tlb_page/range/mm calls. PTL hold steps: ptl.hold histogram count x mean. Steps, CPU ms and wall ms: the whole operation (CPU: this process\'s user + system time; wall: elapsed). Folio updates: struct folio refcount/mapcount updates. Same state: batched and per-PTE ended in the same kernel-visible state (PTE_CONT aside). Everything but the CPU and wall times is deterministic.',
    '',
    renderBatchingTables(r),
    '',
    '## Sources of the published figures',
    '',
    ...PUBLISHED.map((s) => `- ${s.label}: ${s.what}. ${s.source}.`),
    '',
    '![batching](batching.svg)',
    '',
  ].join('\n');
}

/** batching.svg: per operation, per-PTE / batched by folio size (log scale), model steps and wall time per arch, and the kernel's published speedups. */
export function renderBatchingSvg(r: BatchingResult): string {
  const cats = r.orders.map(kib);
  const charts = r.ops.map((op) => {
    const series: LineSeries[] = [];
    r.arches.forEach((arch, ai) => {
      const cells = r.orders.map((k) => r.cells.find((c) => c.op === op && c.arch === arch && c.order === k));
      series.push({ name: `model steps, ${arch}`, values: cells.map((c) => c?.perPteOverBatched.steps ?? null), color: ai });
      series.push({ name: `model CPU time, ${arch}`, values: cells.map((c) => c?.perPteOverBatched.cpuNs ?? null), color: ai, dashed: true });
    });
    for (const s of PUBLISHED.filter((x) => x.op === op)) {
      series.push({ name: s.label.replace(` (${op})`, ''), values: r.orders.map((k) => (s.points[k] ? publishedSpeedup(s.points[k]) : null)), color: s.arch === 'generic' ? 2 : 3, pointsOnly: Object.keys(s.points).length < 4 });
    }
    return lineChart(cats, series, { name: `batching-${op}`, title: `${op}: per-PTE / batched`, yLabel: 'times (log scale)', log: true, ref: 1, width: 420 });
  });
  return standaloneSvg(charts, {
    heading: `foliostorm experiment batching: ${bytesLabel(r.bytes)}, one CPU; above 1: batching is cheaper${r.stop ? ` (partial: ${r.stop.detail})` : ''}`,
    notes: [
      'Model: scheduler steps and the CPU time this process spent on the whole operation, per-PTE form / batched form. Kernel: time without / with batching, from the series cover letters (docs/experiments.md).',
      'x86: David Hildenbrand, fork and unmap/zap batching (2024). arm64 contpte: Ryan Roberts, contpte v5 (2024), contpte-basic / contpte-batch. M3: Dev Jain, mprotect batching v4 (2025).',
    ],
  });
}

// ---- the command ---------------------------------------------------------------------------------

/** A bad flag of `experiment batching` (the CLI exits 2 with the message). */
export class BatchingUsageError extends Error {}

export interface BatchingArgs {
  size?: string;
  quick?: boolean;
  orders?: string;
  reps?: number;
  check?: boolean;
  out: string;
  json: boolean;
}

/** "1G", "1GiB", "256M", "16m", "2097152": bytes. */
export function parseSize(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?\s*$/i.exec(s);
  if (!m) throw new BatchingUsageError(`--size: expected a size such as 1G, 256M or 16M, found "${s}"`);
  const mult = { '': 1, k: 1 << 10, m: 1 << 20, g: 1 << 30 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
  const bytes = Math.round(Number(m[1]) * mult);
  if (!(bytes >= 2 << 20 && bytes <= MAX_BYTES && bytes % (2 << 20) === 0)) throw new BatchingUsageError(`--size: expected a multiple of 2M from 2M to 1G, found "${s}" (${bytes} bytes)`);
  return bytes;
}

/**
 * `foliostorm experiment batching`: run, write results/experiment-batching-<id>/ (batching.json,
 * batching.md, batching.svg), and return what to print (the tables, or with json the JSON only).
 * Exit 0; 1 if a batched and a per-PTE run ended in different states; 3 if meta.signal stopped the
 * run early (the cells that ran are written, marked interrupted).
 */
export async function experimentBatching(a: BatchingArgs, meta: { version: string; command: string; progress?: (line: string) => void; signal?: AbortSignal }): Promise<{ exitCode: number; stdout: string; dir: string; writeError?: WriteError }> {
  const bytes = a.size !== undefined ? parseSize(a.size) : a.quick ? QUICK_BYTES : DEFAULT_BYTES;
  let orders: number[] = [...(a.quick ? QUICK_ORDERS : BATCHING_ORDERS)];
  if (a.orders !== undefined) {
    orders = a.orders.split(',').map((x) => Number(x.trim()));
    if (!orders.length || orders.some((k) => !(Number.isInteger(k) && k >= 0 && k <= PMD_ORDER && k !== 1))) throw new BatchingUsageError(`--orders: expected a comma-separated list of folio orders 0 and 2 to ${PMD_ORDER} (0 = 4K, 4 = 64K, 9 = 2M), found "${a.orders}"`);
  }
  const reps = a.reps ?? 1;
  if (!(Number.isInteger(reps) && reps >= 1 && reps <= 100)) throw new BatchingUsageError(`--reps: expected an integer from 1 to 100, found ${a.reps}`);
  const r = await runBatchingExperiment({ bytes, orders, reps, warmup: !a.quick, check: a.check, progress: meta.progress, signal: meta.signal });
  const w = new ResultsWriter(a.out, `experiment-batching-${makeRunId('sched', 1)}`);
  const runId = w.dir.split(/[\\/]/).pop()!;
  const json = { ...r, version: meta.version, command: meta.command, runId, published: PUBLISHED };
  // a failed write (a full disk) loses the files, not the tables: they are printed anyway, exit 3
  let writeError: WriteError | undefined;
  try {
    w.json('batching.json', json);
    w.text('batching.md', renderBatchingMarkdown(r, { command: meta.command, version: meta.version, runId }));
    w.text('batching.svg', renderBatchingSvg(r));
  } catch (e) {
    if (!(e instanceof WriteError)) throw e;
    writeError = e;
  }
  const bad = r.cells.filter((c) => !c.sameState).length + r.populateSame.filter((p) => !p.same).length;
  const stdout = a.json ? JSON.stringify(json, null, 2) : `${r.stop ? `${partialNote(r.stop)}\n\n` : ''}${renderBatchingTables(r)}\n\n  results   ${w.dir}${writeError ? ` (incomplete: ${writeError.message})` : ''}\n  time      ${r.wallSeconds} s${bad ? `\n  WARNING   ${bad} cell(s) where batched and per-PTE ended in different states` : ''}`;
  // interrupted (or not written) wins: the tables are partial whatever they show
  return { exitCode: r.interrupted || writeError ? EXIT_INTERRUPTED : bad ? EXIT_VIOLATIONS : EXIT_OK, stdout, dir: w.dir, ...(writeError ? { writeError } : {}) };
}
