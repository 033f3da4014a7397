// Run configuration: the schema (zod), defaults, and a loader whose errors name the file and field.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseDuration } from './duration.js';
import { issueLines } from './issues.js';

import { ANON_FALLBACKS, ARCHES, KERNEL_PROFILES, type MachineConfig, PMD_ORDER, WRITENOTIFY } from '../machine/params.js';
export { ANON_FALLBACKS, type AnonFallback, PMD_ORDER, PTRS_PER_PTE } from '../machine/params.js';

/** The schedulers a sched run can name (src/engine/schedulers/, one file each). */
export const SCHEDULERS = ['random', 'pct', 'ops', 'pos'] as const;
export type SchedulerName = (typeof SCHEDULERS)[number];

const weights = z
  .object({
    touch: z.number().min(0).default(60),
    mmap: z.number().min(0).default(8),
    munmap: z.number().min(0).default(4),
    dontneed: z.number().min(0).default(6),
    exit: z.number().min(0).default(1),
    fork: z.number().min(0).default(1),
    pin: z.number().min(0).default(2),
    unpin: z.number().min(0).default(1),
    pinio: z.number().min(0).default(3),
    mremap: z.number().min(0).default(2),
    dontfork: z.number().min(0).default(1),
    /** mmap of a file (shared or private), see `files` */
    mmapfile: z.number().min(0).default(4),
    /** writeback of one file: clean the PTEs of its folios, write them to the disk */
    writeback: z.number().min(0).default(2),
    mprotect: z.number().min(0).default(2),
    /**
     * fork, and the child exits at once (fork then _exit or exec): the parent's anon folios were
     * shared for a moment and are its own again, read-only and no longer AnonExclusive until a
     * write reuses them. Optional (absent = 0): a config without it keeps its trace hash.
     */
    forkexit: z.number().min(0).optional(),
    /**
     * move_pages(2) of one page of a VMA: its anon folio is isolated, unmapped through the rmap
     * into migration entries, copied to a new folio and mapped again, without the mmap_lock,
     * racing every other op (src/linux/mm/migrate.ts). Optional (absent = 0).
     */
    migrate: z.number().min(0).optional(),
    /**
     * a slice of page-cache reclaim: isolate up to 16 page-cache folios from a random point of
     * physical memory, age their mappings (folio_referenced), unmap them through the rmap
     * (try_to_unmap), write back the dirty ones and free the clean ones (src/linux/mm/vmscan.ts).
     * Optional (absent = 0).
     */
    reclaim: z.number().min(0).optional(),
    /** madvise(MADV_COLD) of a VMA or part of it (young bits cleared, batched per folio). Optional (absent = 0). */
    cold: z.number().min(0).optional(),
    /** madvise(MADV_FREE) of a VMA or part of it: anon folios made lazyfree, young and dirty bits cleared. Optional (absent = 0). */
    free: z.number().min(0).optional(),
    /** madvise(MADV_PAGEOUT) of a VMA or part of it: the folios mapped only there reclaimed at once (page-cache ones written or dropped, lazyfree ones discarded). Optional (absent = 0). */
    pageout: z.number().min(0).optional(),
  })
  .strict();

const files = z
  .object({
    /** Files with a page cache (0: no file mappings). */
    count: z.number().int().min(0).max(8).default(2),
    /** Pages per file. */
    pages: z.number().int().min(16).max(1 << 14).default(256),
    /** Page-cache folio orders (a fault allocates the largest that fits the file and the empty cache slots). */
    orders: z.array(z.number().int().min(0).max(PMD_ORDER - 1)).default([0, 2, 4]),
    /**
     * Write notification: "on" like disk filesystems (clean PTEs are read-only; the first write
     * faults and dirties the folio), "off" like tmpfs (a shared writable mapping is writable from
     * the first fault; until zap or writeback collects it, the PTE's dirty bit is the only record
     * of a write), "both": odd files on, even files off.
     */
    writenotify: z.enum(WRITENOTIFY).default('both'),
  })
  .strict();

const ARCH = z.enum(ARCHES);
const FRAGMENTATION = z.number().min(0).max(0.9);
const ALLOC_FAIL_RATE = z.number().min(0).max(1);
/** Anon orders: 0 up to PMD_ORDER (9, a PMD-size THP, taken by the THP fault of an untouched 2 MiB range; the PTE fault path allocates the orders below it). */
const ANON_ORDERS = z.array(z.number().int().min(0).max(PMD_ORDER));
/** mmap sizes in pages: chosen uniformly in [min, max]. */
const MMAP_PAGES = z.object({ min: z.number().int().min(1), max: z.number().int().min(1) }).strict();

/**
 * One model variant of a config with `variants`: the fields it sets replace the config's for the
 * seeds it runs (seed s runs variant s mod the number of variants; src/engine/variants.ts).
 */
const variant = z
  .object({
    /** Shown in summaries, progress and artifact config names (default: its values, e.g. "contpte+retry-lower"). */
    name: z.string().regex(/^[\w.+-]+$/, 'expected letters, digits and . + - _ only').optional(),
    arch: ARCH.optional(),
    anonFallback: z.enum(ANON_FALLBACKS).optional(),
    /** The kernel version the variant's model follows (KERNEL_PROFILES). */
    kernel: z.enum(KERNEL_PROFILES).optional(),
    batching: z.boolean().optional(),
    anonOrders: ANON_ORDERS.optional(),
    fragmentation: FRAGMENTATION.optional(),
    allocFailRate: ALLOC_FAIL_RATE.optional(),
    memcgFailRate: ALLOC_FAIL_RATE.optional(),
    mmapPages: MMAP_PAGES.optional(),
  })
  .strict();
export type Variant = z.output<typeof variant>;

export const ConfigSchema = z
  .object({
    name: z.string().default('unnamed'),
    /** Free text for the reader of a config file. */
    comment: z.string().optional(),
    engine: z.enum(['sched', 'threads']).default('sched'),
    /** PTE layer: generic per-entry helpers, or arm64's contpte (16-entry blocks, fold/unfold). */
    arch: ARCH.default('generic'),
    batching: z.boolean().default(true),
    /** Simulated CPUs per machine (sched); threads engine uses one worker thread per CPU. */
    cpus: z.number().int().min(1).max(16).default(2),
    /** Process slots (mm structs) that ops target; several CPUs act on one mm at once. */
    processes: z.number().int().min(1).max(8).default(3),
    /**
     * Each CPU's ops target process cpu mod processes instead of one drawn at random: with processes
     * >= cpus and no forks (a child takes any free slot) no two CPUs share an mm (low contention,
     * configs/bench-lowcontention.json). Optional
     * (absent = random): a config without it keeps its trace hash.
     */
    processPerCpu: z.boolean().optional(),
    /** Physical memory in 4 KiB pages (pfn 0 is the shared zero page). */
    memoryPages: z.number().int().min(1024).max(1 << 22).default(8192),
    /** Fraction of order-0 pages held back at boot, scattered, to fragment high orders. */
    fragmentation: FRAGMENTATION.default(0.05),
    /**
     * Probability that an allocation of order > 0 (anon or page cache) fails, drawn per attempt
     * from the CPU's own seeded stream: a direct "high orders fail at this rate" knob, where
     * fragmentation is a boot-time scatter whose failure rate depends on the order and the run.
     * Optional (absent = 0, no draw): a config without it keeps its trace hash.
     */
    allocFailRate: ALLOC_FAIL_RATE.optional(),
    /**
     * Probability that a memory cgroup charge of a new folio fails (mem_cgroup_charge: the cgroup
     * at its limit), drawn per charge from the CPU's own seeded stream. The one way an order-0
     * allocation of a fault, a COW copy, the page cache or fork fails with memory free: the fault
     * returns VM_FAULT_OOM, fork -ENOMEM half way; a large anon or page-cache folio falls back to
     * a lower order. Optional (absent = 0, no draw): a config without it keeps its trace hash.
     */
    memcgFailRate: ALLOC_FAIL_RATE.optional(),
    /** Virtual address space per mm in bytes (multiple of 2 MiB). */
    vaSize: z.number().int().min(2 << 20).max(1 << 30).default(32 << 20),
    maxVmas: z.number().int().min(2).max(64).default(12),
    tlbEntries: z.number().int().min(1).max(256).default(16),
    /** Enabled anon mTHP orders (0 is always the last resort; 1 is rejected as the kernel does). */
    anonOrders: ANON_ORDERS.default([0, 2, 4]),
    anonFallback: z.enum(ANON_FALLBACKS).default('refault'),
    /** The kernel version the model follows where versions differ (src/machine/params.ts KERNEL_PROFILES); absent: mainline. */
    kernel: z.enum(KERNEL_PROFILES).optional(),
    /** Operations each CPU runs per seed. */
    opsPerCpu: z.number().int().min(1).default(200),
    weights: weights.prefault({}),
    files: files.prefault({}),
    /** mmap sizes in pages: chosen uniformly in [min, max]. */
    mmapPages: MMAP_PAGES.default({ min: 4, max: 256 }),
    /** mmap alignments in pages, one chosen at random per mmap. */
    mmapAlign: z.array(z.number().int().min(1)).default([1, 4, 16, 512]),
    /** Pages touched by one touch op: uniform in [1, max]. */
    touchRun: z.number().int().min(1).default(32),
    /** Probability that a touch writes its own pages (else reads). */
    writeRatio: z.number().min(0).max(1).default(0.7),
    /** Refaults on one access before the checker calls it a livelock. */
    refaultLimit: z.number().int().min(2).default(10000),
    /** sched: steps a lock may be held, or a run may take, before it is a hang. */
    stepLimit: z.number().int().min(1000).default(20_000_000),
    lockHoldLimitSteps: z.number().int().min(100).default(200_000),
    /**
     * threads: which code the CPUs run. "generators" (the default): the kernel paths as written,
     * generators driven to completion. "stripped": the threads build (dist/threads, made by npm run
     * build), the same paths with the generator plumbing stripped: 1.5x to 2.7x faster per path
     * (npm run bench), but the generators' round trips at every yield also widened the windows in
     * which another CPU can see a path half done, and without them a race whose window is one
     * yield (fault-refcount-late) is caught about 10x less often; interleaveSpins puts a pause
     * back at those points. Optional (absent: generators), so configs keep their trace hashes.
     */
    threadsCode: z.enum(['generators', 'stripped']).optional(),
    /**
     * threads, stripped code: atomic loads spun at every interleaving point of a kernel path (where
     * the sched engine would yield; gen.ts interleave()), a few nanoseconds each, to widen the race
     * windows there (delay injection). Optional (absent: 0).
     */
    interleaveSpins: z.number().int().min(0).max(100_000).optional(),
    /**
     * The canary (src/campaign/canary.ts): before its seeds, a sched run runs every named
     * deviation's provoking mix, seeds 1..canarySeeds under the random scheduler, and fails unless
     * each is caught with one of its expected invariants: the checker still catches the bugs it
     * was built for. Optional (absent or 0: no canary); a run field, outside the trace hash.
     */
    canarySeeds: z.number().int().min(0).max(1000).optional(),
    /** threads: milliseconds a lock wait may take before it is reported as a hang. */
    lockWaitLimitMs: z.number().int().min(10).default(10_000),
    /**
     * Milliseconds a worker thread may go without recording an event before it is reported as
     * worker-hang and replaced (sched: the seed's machine; threads: each CPU). Optional, so configs
     * without it keep their trace hashes; absent: 60 s, or twice lockWaitLimitMs if that is longer.
     */
    workerHangMs: z.number().int().min(100).optional(),
    /**
     * Scheduler of the sched engine. random: any runnable CPU at every step; pct: probabilistic
     * concurrency testing (priorities with pctDepth-1 change points over pctSteps steps); ops: one
     * whole workload op at a time, the next CPU chosen at random (the interleaving of ops only, as
     * the batching-equivalence test needs).
     */
    scheduler: z.enum(SCHEDULERS).default('random'),
    /** pct: the bug depth d (d-1 priority change points per run). */
    pctDepth: z.number().int().min(1).max(10).default(3),
    /** pct: the estimate k of a run's steps the change points are drawn from; 0 = measure it (a random-scheduler run of seed 0). */
    pctSteps: z.number().int().min(0).default(0),
    /** Named deviations from the kernel algorithm to switch on (see `foliostorm bugs`). */
    inject: z.array(z.string()).default([]),
    seed: z.number().int().min(0).default(1),
    seeds: z.number().int().min(1).default(1),
    /** Wall-clock budget for the whole run (0 = run all seeds): seconds, or "90s", "30m", "2h". */
    duration: z
      .union([z.number(), z.string()])
      .transform((v, ctx) => {
        try {
          return parseDuration(v);
        } catch {
          ctx.issues.push({ code: 'custom', input: v, message: 'expected seconds (a number >= 0) or a duration such as "90s", "30m", "2h"' });
          return z.NEVER;
        }
      })
      .default(0),
    workers: z.number().int().min(1).max(64).default(2),
    ringSize: z.number().int().min(16).max(4096).default(64),
    /**
     * Model variants the run rotates through, seed by seed: seed s runs the config with variant
     * s mod V laid over it (arch, anonFallback, batching, anonOrders, fragmentation, allocFailRate,
     * memcgFailRate, mmapPages). Absent: one
     * model. A seed's run, its summary entry and its artifact carry the variant it ran.
     */
    variants: z.array(variant).min(1).max(64).optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.vaSize % (2 << 20) !== 0) ctx.addIssue({ code: 'custom', path: ['vaSize'], input: c.vaSize, message: 'expected a multiple of 2 MiB (2097152)' });
    const noOrder1 = (orders: number[], path: (string | number)[]) => {
      if (orders.includes(1)) ctx.addIssue({ code: 'custom', path, input: orders, message: 'order 1 is never used for anon folios (THP needs order >= 2): expected orders 0 and 2 to 9' });
    };
    noOrder1(c.anonOrders, ['anonOrders']);
    for (const [i, v] of (c.variants ?? []).entries()) if (v.anonOrders) noOrder1(v.anonOrders, ['variants', i, 'anonOrders']);
    if (c.mmapPages.min > c.mmapPages.max) ctx.addIssue({ code: 'custom', path: ['mmapPages', 'min'], input: c.mmapPages.min, message: `expected at most mmapPages.max (${c.mmapPages.max})` });
    for (const [i, v] of (c.variants ?? []).entries()) {
      if (v.mmapPages && v.mmapPages.min > v.mmapPages.max) ctx.addIssue({ code: 'custom', path: ['variants', i, 'mmapPages', 'min'], input: v.mmapPages.min, message: `expected at most mmapPages.max (${v.mmapPages.max})` });
    }
    if (c.memoryPages > 0 && c.memoryPages & (c.memoryPages - 1)) ctx.addIssue({ code: 'custom', path: ['memoryPages'], input: c.memoryPages, message: 'expected a power of two' });
    for (const [i, a] of c.mmapAlign.entries()) if (a > 0 && a & (a - 1)) ctx.addIssue({ code: 'custom', path: ['mmapAlign', i], input: a, message: 'expected a power of two' });
    if (c.files.count * c.files.pages > 1 << 20) ctx.addIssue({ code: 'custom', path: ['files', 'pages'], input: c.files.pages, message: `expected files.count * files.pages at most 1048576 (the data oracle's file tokens carry 20 bits of file page; files.count is ${c.files.count})` });
  });

export type Config = z.output<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
/** The machine and the kernel layer read a Config as a MachineConfig: a compile-time check that it is one. */
export const asMachineConfig = (c: Config): MachineConfig => c;

/**
 * The whole Config of a machine or CPU the tool built (the workload reads mmapPages, touchRun, ...).
 * Every machine is built from a parsed Config (the kernel layer sees it as a MachineConfig); a
 * config object without the tool's fields is a bug of the caller, named here.
 */
export function runConfig(cfg: MachineConfig): Config {
  if (!('weights' in cfg && 'engine' in cfg && 'mmapPages' in cfg)) throw new Error('runConfig: a machine built without a parsed Config (defaultConfig/parseConfig)');
  return cfg as Config;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * Validate a plain object; `source` names the file in every error, with the field's path inside it,
 * what was expected and what was found (`smoke.json: field "weights.touch": expected at least 0,
 * found -1`). A field given by a command-line flag (flagKeys) is named as the flag.
 */
export function parseConfig(raw: unknown, source = 'config', flagKeys: readonly string[] = []): Config {
  const r = ConfigSchema.safeParse(raw, { reportInput: true });
  if (!r.success) {
    const lines = r.error.issues.flatMap((issue) => issueLines(issue, ConfigSchema)).map(({ path, text }) => {
      if (path.length && flagKeys.includes(String(path[0]))) return `--${String(path[0]).replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}: ${text}`;
      return path.length ? `${source}: field "${path.join('.')}": ${text}` : `${source}: ${text}`;
    });
    throw new ConfigError(lines.join('\n'));
  }
  return r.data;
}

export function loadConfigFile(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`${path}: cannot read config file: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${path}: not valid JSON: ${(e as Error).message}`);
  }
  return parseConfig(raw, path);
}

export function defaultConfig(over: ConfigInput = {}): Config {
  return parseConfig(over, 'defaults');
}
