// Scripted scenarios: the JSON format, and a parser whose every error names the file, the step
// index (0-based, as in `steps[N]`), the field, what was expected and what was found. Two passes:
// a zod schema checks the structure (the top level, the run config, and each step as a strict
// object chosen by its op: types, enums, page-aligned byte values, integer ranges, defaults;
// unknown keys are errors) and reports every problem it finds, worded by src/config-issues.ts as
// run configs are. Then a static walk checks what needs context: every process an op names exists
// at that point (created by its first mmap or as a fork child, gone after its exit), every pin id
// is held, every file is known, ranges fit the config's address space and files. A scenario that
// parses can only fail at run time for a reason the kernel model gives.
import { basename } from 'node:path';
import { z } from 'zod';
import { type Config, ConfigSchema, PMD_ORDER } from '../config/config.js';
import { issueLines } from '../config/issues.js';
import { DEVIATIONS } from '../inject/deviations.js';

export const PAGE_SIZE = 4096;
/** The data oracle's tokens carry 3 bits of mm: at most 8 process slots (also the config's max). */
export const MAX_PROCESSES = 8;

export const OP_NAMES = ['mmap', 'munmap', 'mprotect', 'madvise', 'mremap', 'read', 'write', 'fork', 'exit', 'pin', 'unpin', 'pin-write', 'pin-read', 'expect', 'writeback', 'sync', 'observe', 'thp', 'migrate', 'reclaim', 'concurrent'] as const;
export type OpName = (typeof OP_NAMES)[number];
export const PROTS = ['none', 'r', 'rw'] as const;
export type Prot = (typeof PROTS)[number];
export const ADVICES = ['dontneed', 'dontfork', 'dofork', 'free', 'cold', 'pageout'] as const;
export type Advice = (typeof ADVICES)[number];
/** The PTE/page properties an `expect` step can state. */
export const EXPECT_FLAGS = ['present', 'writable', 'exclusive', 'dirty', 'young', 'cont'] as const;
export type ExpectFlag = (typeof EXPECT_FLAGS)[number];

interface StepBase {
  /** Index in the file's `steps` array. */
  index: number;
  comment?: string;
}
/** Addresses and lengths are in bytes (page aligned); the runner converts them to page numbers. */
export interface MmapStep extends StepBase {
  op: 'mmap';
  proc: string;
  addr: number;
  len: number;
  prot: Prot;
  kind: 'anon' | 'file';
  file?: string;
  /** file: the file's index in the run (names number 0, 1, ... in order of first use) */
  fileIndex?: number;
  offset: number;
  shared: boolean;
  /** file: write notification (a disk filesystem); false: tmpfs-like */
  writenotify: boolean;
}
/** Write back one file's dirty folios (cleaning their PTEs first). */
export interface WritebackStep extends StepBase {
  op: 'writeback';
  file: string;
  fileIndex: number;
}
/** sync(2): write back every file. */
export interface SyncStep extends StepBase {
  op: 'sync';
}
export interface RangeStep extends StepBase {
  op: 'munmap';
  proc: string;
  addr: number;
  len: number;
}
export interface MprotectStep extends StepBase {
  op: 'mprotect';
  proc: string;
  addr: number;
  len: number;
  prot: Prot;
}
export interface MadviseStep extends StepBase {
  op: 'madvise';
  proc: string;
  addr: number;
  len: number;
  advice: Advice;
}
export interface MremapStep extends StepBase {
  op: 'mremap';
  proc: string;
  addr: number;
  len: number;
  newAddr: number;
}
export interface AccessStep extends StepBase {
  op: 'read' | 'write';
  proc: string;
  addr: number;
  len: number;
  /** Every page of the range must raise SIGSEGV (else any SIGSEGV fails the step). */
  expectFault: boolean;
  /** A page may raise SIGSEGV or not (a race in a concurrent block decides; explore's outcome says which). */
  mayFault?: boolean;
}
export interface ForkStep extends StepBase {
  op: 'fork';
  proc: string;
  child: string;
}
export interface ExitStep extends StepBase {
  op: 'exit';
  proc: string;
}
export interface PinStep extends StepBase {
  op: 'pin';
  proc: string;
  addr: number;
  len: number;
  mode: 'ro' | 'rw';
  id: string;
  /** Try GUP-fast first (pin_user_pages_fast), as cow.c's "GUP-fast" variants. */
  fast: boolean;
}
export interface PinIdStep extends StepBase {
  op: 'unpin' | 'pin-write' | 'pin-read';
  id: string;
}
export interface ExpectStep extends StepBase {
  op: 'expect';
  proc: string;
  addr: number;
  /** Every page of [addr, addr + len) is checked; default one page. */
  len: number;
  present?: boolean;
  writable?: boolean;
  exclusive?: boolean;
  dirty?: boolean;
  young?: boolean;
  cont?: boolean;
  folioOrder?: number;
  /** Every page of the range belongs to the same folio as the one page at (sameFolioAs.proc, sameFolioAs.addr). */
  sameFolioAs?: { proc: string; addr: number };
}
/** move_pages(2) of the one page at addr: its folio moves to a new one (the data must follow). */
export interface MigrateStep extends StepBase {
  op: 'migrate';
  proc: string;
  addr: number;
}
/** Reclaim: shrink every reclaimable folio once (page-cache folios, lazyfree anon folios). */
export interface ReclaimStep extends StepBase {
  op: 'reclaim';
}
/** Record the observations (conform compares them after every step anyway): a no-op for the model. */
export interface ObserveStep extends StepBase {
  op: 'observe';
}
/** The mTHP sizes a `thp` step names, and their orders (16K: order 2 ... 2M: order 9, PMD size). */
export const THP_SIZES = { '16K': 2, '32K': 3, '64K': 4, '128K': 5, '256K': 6, '512K': 7, '1M': 8, '2M': 9 } as const;
export type ThpSize = keyof typeof THP_SIZES;
/** /sys/kernel/mm/transparent_hugepage/hugepages-<size>kB/enabled */
export const THP_ENABLED = ['always', 'inherit', 'madvise', 'never'] as const;
/** /sys/kernel/mm/transparent_hugepage/hugepages-<size>kB/shmem_enabled */
export const THP_SHMEM_ENABLED = ['always', 'inherit', 'within_size', 'advise', 'never'] as const;
/** The per-size mTHP policy from this step on (the sysfs files of that size). */
export interface ThpStep extends StepBase {
  op: 'thp';
  size: ThpSize;
  /** the size's anon order */
  order: number;
  enabled?: (typeof THP_ENABLED)[number];
  shmemEnabled?: (typeof THP_SHMEM_ENABLED)[number];
}
/** A step a CPU's list of a concurrent block may hold: any but expect and concurrent. */
export type CpuStep = MmapStep | RangeStep | MprotectStep | MadviseStep | MremapStep | AccessStep | ForkStep | ExitStep | PinStep | PinIdStep | WritebackStep | SyncStep | MigrateStep | ReclaimStep;
/**
 * A concurrent block: each list runs on its own simulated CPU (CPU i runs cpus[i]), its steps in
 * order, interleaved with the other lists at the kernel's yield points. Inner steps carry the
 * block's index; `cpu` and `pos` say where in the block they are.
 */
export interface ConcurrentStep extends StepBase {
  op: 'concurrent';
  cpus: (CpuStep & { cpu: number; pos: number })[][];
}
/** Most CPUs one concurrent block may have. */
export const MAX_CONCURRENT_CPUS = 4;
export type Step = MmapStep | RangeStep | MprotectStep | MadviseStep | MremapStep | AccessStep | ForkStep | ExitStep | PinStep | PinIdStep | ExpectStep | WritebackStep | SyncStep | ObserveStep | ThpStep | ConcurrentStep | MigrateStep | ReclaimStep;

export interface Scenario {
  file: string;
  name: string;
  /** The run config: the file's `config` validated by parseConfig, with cpus 1 and one process slot per name. */
  config: Config;
  steps: Step[];
  /** Every process name, in order of creation. */
  procs: string[];
}

/** A malformed scenario file: exit 2. */
export class ScenarioFormatError extends Error {
  constructor(
    readonly file: string,
    readonly detail: string,
    readonly step?: number,
    readonly op?: string,
    readonly field?: string,
    /** The other problems the schema found, one whole line each (`FILE: step 4 (op "read"): field "len": ...`). */
    readonly more: readonly string[] = [],
  ) {
    super([formatLine(file, detail, step, op, field), ...more].join('\n'));
    this.name = 'ScenarioFormatError';
  }
}

/** `FILE: step N (op "mmap"): field "len": detail`, leaving out what is not known. */
function formatLine(file: string, detail: string, step?: number, op?: string, field?: string): string {
  return `${file}: ${step !== undefined ? `step ${step}${op ? ` (op "${op}")` : ''}: ` : ''}${field !== undefined ? `field "${field}": ` : ''}${detail}`;
}

export const hexAddr = (n: number): string => '0x' + n.toString(16);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

// ---- the schema: structure only, no context ----------------------------------------------------

/**
 * A byte address, length or offset: a non-negative integer or a hex string "0x...", a multiple of
 * the page size (a length: at least one page). The output is the number.
 */
function bytes(what: string, example: string, nonZero = false) {
  return z.union([z.number(), z.string()], { error: `expected ${what}: a number or a hex string such as "${example}"` }).transform((v, ctx) => {
    const refuse = (message: string): never => {
      ctx.issues.push({ code: 'custom', input: v, message });
      return z.NEVER;
    };
    let n: number;
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v) || v < 0) return refuse(`expected a non-negative integer (or a hex string such as "${example}")`);
      n = v;
    } else {
      if (!/^0x[0-9a-f]+$/i.test(v.trim())) return refuse(`expected a hex string such as "${example}" (or a plain number)`);
      n = parseInt(v.trim().slice(2), 16);
      if (!Number.isSafeInteger(n)) return refuse(`expected at most ${hexAddr(Number.MAX_SAFE_INTEGER)}`);
    }
    if (n % PAGE_SIZE !== 0) return refuse(`expected a multiple of ${PAGE_SIZE} (${hexAddr(PAGE_SIZE)})`);
    if (nonZero && n === 0) return refuse(`expected at least ${hexAddr(PAGE_SIZE)} (one page)`);
    return n;
  });
}
const ADDR = bytes('a byte address', '0x400000');
const LEN = bytes('a byte length', '0x10000', true);
const OFFSET = bytes('a byte offset in the file', '0x2000');

/** A non-empty name: a process, a pin id, a file. */
const named = (what: string) => z.string({ error: `expected ${what}` }).min(1, { error: `expected ${what}` });
const PROC = named('a process name such as "A"');
const PIN_ID = named('a pin id such as "p"');
const FILE_NAME = named('a file name such as "data"');
const COMMENT = z.string().optional();
const FLAG = z.boolean().optional();

const MMAP = z
  .strictObject({
    op: z.literal('mmap'),
    proc: PROC,
    addr: ADDR,
    len: LEN,
    prot: z.enum(PROTS),
    kind: z.enum(['anon', 'file']),
    /** kind "file": the file's name (files number 0, 1, ... in order of first use) */
    file: FILE_NAME.optional(),
    /** kind "file": byte offset in the file (default 0) */
    offset: OFFSET.optional(),
    /** kind "file": MAP_SHARED (default false: private) */
    shared: FLAG,
    /** kind "file": write notification, a disk filesystem (default false: tmpfs-like) */
    writenotify: FLAG,
    comment: COMMENT,
  })
  .superRefine((s, ctx) => {
    if (s.kind === 'file') {
      if (s.file === undefined) ctx.addIssue({ code: 'custom', path: ['file'], input: undefined, message: 'expected a file name such as "data" (kind "file" maps a file)' });
      return;
    }
    const only = { file: 'names a file', offset: 'has an offset', writenotify: 'has write notification' } as const;
    for (const k of ['file', 'offset', 'writenotify'] as const) {
      if (s[k] !== undefined) ctx.addIssue({ code: 'custom', path: [k], input: s[k], message: `expected kind "file" (only a file mapping ${only[k]})`, params: { found: `kind "${s.kind}"` } });
    }
    if (s.shared) ctx.addIssue({ code: 'custom', path: ['shared'], input: s.shared, message: 'expected false with kind "anon" (shared anonymous mappings, shmem, are not modelled: use kind "file" with shared true)' });
  })
  .transform((s) => ({ ...s, offset: s.offset ?? 0, shared: s.shared ?? false, writenotify: s.writenotify ?? false }));
const RANGE = { proc: PROC, addr: ADDR, len: LEN };
const EXPECTS = [...EXPECT_FLAGS, 'folioOrder', 'sameFolioAs'] as const;
const EXPECT = z
  .strictObject({
    op: z.literal('expect'),
    proc: PROC,
    addr: ADDR,
    /** Every page of [addr, addr + len) is checked. */
    len: LEN.default(PAGE_SIZE),
    present: FLAG,
    writable: FLAG,
    exclusive: FLAG,
    dirty: FLAG,
    young: FLAG,
    cont: FLAG,
    folioOrder: z.number().int().min(0).max(PMD_ORDER).optional(),
    sameFolioAs: z.strictObject({ proc: PROC, addr: ADDR }, { error: 'expected an object such as {"proc": "B", "addr": "0x400000"}' }).optional(),
    comment: COMMENT,
  })
  .superRefine((s, ctx) => {
    if (!EXPECTS.some((k) => s[k] !== undefined)) ctx.addIssue({ code: 'custom', path: [], input: undefined, message: `expected at least one of ${EXPECTS.join(', ')}`, params: { found: 'none' } });
  });

const OBSERVE = z.strictObject({ op: z.literal('observe'), comment: COMMENT });

const THP = z
  .strictObject({
    op: z.literal('thp'),
    size: z.enum(Object.keys(THP_SIZES) as [ThpSize, ...ThpSize[]]),
    enabled: z.enum(THP_ENABLED).optional(),
    shmemEnabled: z.enum(THP_SHMEM_ENABLED).optional(),
    comment: COMMENT,
  })
  .superRefine((s, ctx) => {
    if (s.enabled === undefined && s.shmemEnabled === undefined) ctx.addIssue({ code: 'custom', path: [], input: undefined, message: 'expected at least one of enabled, shmemEnabled', params: { found: 'none' } });
  });

/** One step: a strict object per op (listed in OP_NAMES order, so an unknown op's message lists them so). */
const STEP_OPTIONS = [
    MMAP,
    z.strictObject({ op: z.literal('munmap'), ...RANGE, comment: COMMENT }),
    z.strictObject({ op: z.literal('mprotect'), ...RANGE, prot: z.enum(PROTS), comment: COMMENT }),
    z.strictObject({ op: z.literal('madvise'), ...RANGE, advice: z.enum(ADVICES), comment: COMMENT }),
    z.strictObject({ op: z.literal('mremap'), ...RANGE, newAddr: ADDR, comment: COMMENT }),
    z.strictObject({ op: z.enum(['read', 'write']), ...RANGE, expectFault: z.boolean().default(false), mayFault: FLAG, comment: COMMENT }),
    z.strictObject({ op: z.literal('fork'), proc: PROC, child: named('a process name such as "B"'), comment: COMMENT }),
    z.strictObject({ op: z.literal('exit'), proc: PROC, comment: COMMENT }),
    z.strictObject({ op: z.literal('pin'), ...RANGE, mode: z.enum(['ro', 'rw']), id: PIN_ID, fast: z.boolean().default(false), comment: COMMENT }),
    z.strictObject({ op: z.enum(['unpin', 'pin-write', 'pin-read']), id: PIN_ID, comment: COMMENT }),
    EXPECT,
    z.strictObject({ op: z.literal('writeback'), file: FILE_NAME, comment: COMMENT }),
    z.strictObject({ op: z.literal('sync'), comment: COMMENT }),
    OBSERVE,
    THP,
    z.strictObject({ op: z.literal('migrate'), proc: PROC, addr: ADDR, comment: COMMENT }),
    z.strictObject({ op: z.literal('reclaim'), comment: COMMENT }),
] as const;
// (zod types this union's issues as invalid_union only; a step that is not an object is invalid_type)
const STEP_ERROR = { error: (issue: { code: string }) => (issue.code === 'invalid_type' ? 'expected an object such as {"op": "write", ...}' : undefined) };
/** A step of one CPU's list in a concurrent block: every op but expect (a check of the outcome goes after the block), observe and thp (whole-scenario steps) and concurrent. */
const CPU_STEP = z.discriminatedUnion('op', STEP_OPTIONS.filter((o) => o !== EXPECT && o !== OBSERVE && o !== THP) as unknown as [typeof MMAP, ...typeof STEP_OPTIONS[number][]], STEP_ERROR as never);
const CONCURRENT = z.strictObject({
  op: z.literal('concurrent'),
  /** One list of steps per simulated CPU (2..4 lists, each non-empty). */
  cpus: z
    .array(z.array(CPU_STEP, { error: 'expected a list of steps for one CPU, such as [{"op": "write", ...}]' }).min(1, { error: 'expected at least one step for each CPU' }), {
      error: 'expected a list of per-CPU step lists, such as [[{"op": "write", ...}], [{"op": "madvise", ...}]]',
    })
    .min(2, { error: 'expected at least 2 CPU lists (a concurrent block races CPUs)' })
    .max(MAX_CONCURRENT_CPUS, { error: `expected at most ${MAX_CONCURRENT_CPUS} CPU lists` }),
  comment: COMMENT,
});
const STEP = z.discriminatedUnion('op', [...STEP_OPTIONS, CONCURRENT], STEP_ERROR as never);
type ParsedStep = z.output<typeof STEP>;

/** The run config: the run-config schema, with the scenario runner's own fixed choices. */
const SCENARIO_CONFIG = z
  .preprocess((rc, ctx) => {
    if (!isObject(rc)) return rc; // the run-config schema says "expected an object"
    if (rc.cpus !== undefined && rc.cpus !== 1) ctx.addIssue({ code: 'custom', path: ['cpus'], input: rc.cpus, message: 'expected 1 or no key (a scenario runs on one simulated CPU, so the data oracle is exact)' });
    // fragmentation 0 unless asked: a scenario states folio orders, so high orders must not fail
    return { fragmentation: 0, ...rc, cpus: 1 };
  }, ConfigSchema)
  .prefault({});

export const ScenarioSchema = z.strictObject(
  {
    /** Default: the file name without .json. */
    name: z.string().optional(),
    comment: COMMENT,
    config: SCENARIO_CONFIG,
    steps: z.array(STEP).min(1, { error: 'expected at least one step' }),
  },
  { error: (issue) => (issue.code === 'invalid_type' ? 'expected an object with "steps" (and optionally "name", "comment", "config")' : undefined) },
);

/** Every schema problem, one line each; the first names the error's step, op and field. */
function schemaError(file: string, raw: unknown, issues: readonly z.core.$ZodIssue[]): ScenarioFormatError {
  const steps = isObject(raw) && Array.isArray(raw.steps) ? raw.steps : [];
  const problems = issues.flatMap((issue) => issueLines(issue, ScenarioSchema, raw)).map(({ path, text }) => {
    const p = path.map(String);
    if (p[0] === 'steps' && typeof path[1] === 'number') {
      const s: unknown = steps[path[1]];
      const op = isObject(s) && (OP_NAMES as readonly unknown[]).includes(s.op) ? (s.op as string) : undefined;
      return { step: path[1], op, field: p.length > 2 ? p.slice(2).join('.') : undefined, text };
    }
    return { step: undefined, op: undefined, field: p.length ? p.join('.') : undefined, text };
  });
  const [first, ...rest] = problems;
  return new ScenarioFormatError(file, first.text, first.step, first.op, first.field, rest.map((x) => formatLine(file, x.text, x.step, x.op, x.field)));
}

// ---- the static walk: what needs context --------------------------------------------------------

type At = { index: number; op: OpName };
const ordinal = (n: number): string => `${n}${n % 100 >= 11 && n % 100 <= 13 ? 'th' : ['th', 'st', 'nd', 'rd'][n % 10] ?? 'th'}`;

/** Which processes, pins and files exist at each step, and the config's bounds. */
class World {
  readonly live = new Map<string, number>(); // name -> step that created it
  readonly dead = new Map<string, number>(); // name -> step that exited it
  readonly order: string[] = [];
  readonly pins = new Map<string, { step: number; mode: 'ro' | 'rw' }>(); // id -> the pin step
  readonly unpinned = new Map<string, number>(); // id -> the unpin step
  readonly files = new Map<string, number>(); // file name -> index, in order of first use
  constructor(
    private readonly path: string,
    readonly config: Config,
  ) {}

  err(at: At | undefined, field: string | undefined, detail: string): never {
    throw new ScenarioFormatError(this.path, detail, at?.index, at?.op, field);
  }

  file(at: At, field: string, name: string, mayCreate: boolean): number {
    const i = this.files.get(name);
    if (i !== undefined) return i;
    if (!mayCreate) this.err(at, field, `expected a file that an earlier mmap of kind "file" named, found "${name}"`);
    const max = this.config.files.count;
    if (this.files.size >= max) this.err(at, field, `expected at most ${max} file${max === 1 ? '' : 's'} (config files.count), found a ${ordinal(this.files.size + 1)}, "${name}"`);
    this.files.set(name, this.files.size);
    return this.files.size - 1;
  }

  proc(at: At, field: string, name: string): string {
    if (this.live.has(name)) return name;
    if (this.dead.has(name)) this.err(at, field, `expected a live process, found "${name}", which exited at step ${this.dead.get(name)}`);
    this.err(at, field, `expected a process that an earlier step created (by its first mmap, or as a fork's child), found "${name}"`);
  }
  create(at: At, field: string, name: string): void {
    if (this.live.has(name)) this.err(at, field, `expected a new process name, found "${name}", which already exists (created at step ${this.live.get(name)})`);
    if (this.dead.has(name)) this.err(at, field, `expected a new process name, found "${name}", which exited at step ${this.dead.get(name)} (a name is not reused)`);
    if (this.order.length >= MAX_PROCESSES) this.err(at, field, `expected at most ${MAX_PROCESSES} processes per scenario, found a ${ordinal(this.order.length + 1)}, "${name}"`);
    this.live.set(name, at.index);
    this.order.push(name);
  }

  /** An address inside the address space. */
  addr(at: At, field: string, addr: number): number {
    const va = this.config.vaSize;
    if (addr >= va) this.err(at, field, `expected an address below the end of the address space (config vaSize ${hexAddr(va)}), found ${hexAddr(addr)}`);
    return addr;
  }
  /** A range [addr, addr + len) inside the address space; field names what moves its end. */
  range(at: At, field: string, addr: number, len: number): number {
    const va = this.config.vaSize;
    if (addr + len > va) this.err(at, field, `expected a range that ends within the address space (config vaSize ${hexAddr(va)}), found ${hexAddr(addr)}-${hexAddr(addr + len)}`);
    return len;
  }
  /** The step's process, address and range checked in that order (the fields proc, addr, len). */
  procRange(at: At, s: { proc: string; addr: number; len: number }): { proc: string; addr: number; len: number } {
    const proc = this.proc(at, 'proc', s.proc);
    const addr = this.addr(at, 'addr', s.addr);
    return { proc, addr, len: this.range(at, 'len', addr, s.len) };
  }
}

/** Parse a scenario from its text; throws ScenarioFormatError. */
export function parseScenario(text: string, file: string): Scenario {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ScenarioFormatError(file, `not valid JSON: ${(e as Error).message}`);
  }
  const r = ScenarioSchema.safeParse(raw, { reportInput: true });
  if (!r.success) throw schemaError(file, raw, r.error.issues);
  const { config } = r.data;
  const world = new World(file, config);
  for (const [i, n] of config.inject.entries()) {
    if (!DEVIATIONS.some((d) => d.name === n)) world.err(undefined, `config.inject.${i}`, `expected a deviation that \`npx foliostorm bugs\` lists, found "${n}"`);
  }
  const steps = r.data.steps.map((s, index) => checkStep(world, index, s));
  const name = r.data.name ?? basename(file).replace(/\.json$/, '');
  // cpus: 1, or the most CPU lists of a concurrent block (each list runs on its own simulated CPU)
  return { file, name, config: { ...config, processes: Math.max(1, world.order.length), cpus: scenarioCpus(steps) }, steps, procs: world.order };
}

/** The step as the runner takes it, once its processes, pins, files and ranges check out. */
function checkStep(world: World, index: number, s: ParsedStep): Step {
  const at: At = { index, op: s.op };
  const base = { index, ...(s.comment !== undefined ? { comment: s.comment } : {}) };
  switch (s.op) {
    case 'mmap': {
      const { op, prot, kind, offset, shared, writenotify } = s;
      const addr = world.addr(at, 'addr', s.addr);
      const len = world.range(at, 'len', addr, s.len);
      let file: { file: string; fileIndex: number } | undefined;
      if (kind === 'file') {
        file = { file: s.file!, fileIndex: world.file(at, 'file', s.file!, true) };
        const pages = world.config.files.pages;
        const end = (offset + len) / PAGE_SIZE;
        if (end > pages) world.err(at, 'len', `expected a mapping that ends within the file (config files.pages ${pages}), found one that ends at file page ${end}`);
      }
      // the first mmap of a name creates the process
      if (!world.live.has(s.proc)) world.create(at, 'proc', s.proc);
      return { ...base, op, proc: s.proc, addr, len, prot, kind, ...file, offset, shared, writenotify };
    }
    case 'writeback':
      return { ...base, op: s.op, file: s.file, fileIndex: world.file(at, 'file', s.file, false) };
    case 'sync':
      return { ...base, op: s.op };
    case 'observe':
      return { ...base, op: s.op };
    case 'thp':
      return { ...base, op: s.op, size: s.size, order: THP_SIZES[s.size], ...(s.enabled ? { enabled: s.enabled } : {}), ...(s.shmemEnabled ? { shmemEnabled: s.shmemEnabled } : {}) };
    case 'munmap':
      return { ...base, op: s.op, ...world.procRange(at, s) };
    case 'mprotect':
      return { ...base, op: s.op, ...world.procRange(at, s), prot: s.prot };
    case 'madvise':
      return { ...base, op: s.op, ...world.procRange(at, s), advice: s.advice };
    case 'mremap': {
      const { proc, addr, len } = world.procRange(at, s);
      const newAddr = world.addr(at, 'newAddr', s.newAddr);
      world.range(at, 'newAddr', newAddr, len);
      if (newAddr < addr + len && addr < newAddr + len) {
        world.err(at, 'newAddr', `expected a target apart from the range being moved, ${hexAddr(addr)}-${hexAddr(addr + len)} (on an overlap mremap returns EINVAL), found ${hexAddr(newAddr)}-${hexAddr(newAddr + len)}`);
      }
      return { ...base, op: s.op, proc, addr, len, newAddr };
    }
    case 'read':
    case 'write':
      if (s.mayFault && s.expectFault) world.err(at, 'mayFault', 'expected mayFault or expectFault, not both (expectFault: every page faults; mayFault: a page may fault)');
      return { ...base, op: s.op, ...world.procRange(at, s), expectFault: s.expectFault, ...(s.mayFault ? { mayFault: true } : {}) };
    case 'fork': {
      const proc = world.proc(at, 'proc', s.proc);
      world.create(at, 'child', s.child);
      return { ...base, op: s.op, proc, child: s.child };
    }
    case 'exit': {
      const proc = world.proc(at, 'proc', s.proc);
      world.live.delete(proc);
      world.dead.set(proc, index);
      return { ...base, op: s.op, proc };
    }
    case 'pin': {
      const { proc, addr, len } = world.procRange(at, s);
      const { mode, id } = s;
      const held = world.pins.get(id);
      if (held) world.err(at, 'id', `expected an id that no held pin has, found "${id}", taken at step ${held.step} and not unpinned`);
      world.pins.set(id, { step: index, mode });
      world.unpinned.delete(id);
      return { ...base, op: s.op, proc, addr, len, mode, id, fast: s.fast };
    }
    case 'unpin':
    case 'pin-write':
    case 'pin-read': {
      const { op, id } = s;
      const pin = world.pins.get(id);
      if (!pin) {
        const gone = world.unpinned.get(id);
        world.err(at, 'id', `expected the id of a held pin (take it first with {"op": "pin", "id": "${id}", ...}), found "${id}"${gone !== undefined ? `, unpinned at step ${gone}` : ''}`);
      }
      if (op === 'pin-write' && pin.mode !== 'rw') world.err(at, 'id', `expected a pin of mode "rw" (a device writes only through one), found "${id}", taken with mode "ro" at step ${pin.step}`);
      if (op === 'unpin') {
        world.pins.delete(id);
        world.unpinned.set(id, index);
      }
      return { ...base, op, id };
    }
    case 'expect': {
      const out: ExpectStep = { ...base, op: s.op, ...world.procRange(at, s) };
      for (const k of EXPECT_FLAGS) if (s[k] !== undefined) out[k] = s[k];
      if (s.folioOrder !== undefined) out.folioOrder = s.folioOrder;
      if (s.sameFolioAs !== undefined) {
        const other = world.proc(at, 'sameFolioAs.proc', s.sameFolioAs.proc);
        out.sameFolioAs = { proc: other, addr: world.addr(at, 'sameFolioAs.addr', s.sameFolioAs.addr) };
      }
      return out;
    }
    case 'concurrent':
      return checkConcurrent(world, index, s);
    case 'migrate':
      return { ...base, op: s.op, proc: world.proc(at, 'proc', s.proc), addr: world.addr(at, 'addr', s.addr) };
    case 'reclaim':
      return { ...base, op: s.op };
  }
}

/**
 * A concurrent block: each CPU's list is checked in order against the world (a list sees what the
 * steps before the block made, and its own earlier steps). What one list creates, exits or pins is
 * its own: another list may not name it (the lists run in no fixed order, so such a step would
 * depend on the schedule for its very meaning). Problems name the block's step, op "concurrent"
 * and the field inside it (`cpus.1.0.len`).
 */
function checkConcurrent(world: World, index: number, s: Extract<ParsedStep, { op: 'concurrent' }>): ConcurrentStep {
  const before = new Set(world.live.keys());
  const owner = new Map<string, number>(); // process created or exited in the block -> its list
  const pinOwner = new Map<string, number>(); // pin id named in the block -> its list
  const named = new Map<string, Set<number>>(); // process -> the lists naming it
  const cpus = s.cpus.map((list, c) =>
    list.map((inner, pos) => {
      const field = (f: string | undefined) => `cpus.${c}.${pos}${f ? `.${f}` : ''}`;
      const at: At = { index, op: 'concurrent' };
      const names: [string, string][] = [];
      if ('proc' in inner) names.push(['proc', inner.proc]);
      if (inner.op === 'fork') names.push(['child', inner.child]);
      for (const [f, n] of names) {
        (named.get(n) ?? named.set(n, new Set()).get(n)!).add(c);
        const o = owner.get(n);
        if (o !== undefined && o !== c) world.err(at, field(f), `expected a process that no other CPU's list of this block creates or exits, found "${n}" (CPU ${o}'s list does)`);
      }
      if ('id' in inner) {
        const o = pinOwner.get(inner.id);
        if (o !== undefined && o !== c) world.err(at, field('id'), `expected a pin id that no other CPU's list of this block names, found "${inner.id}" (CPU ${o}'s list names it)`);
        pinOwner.set(inner.id, c);
      }
      let out: Step;
      try {
        out = checkStep(world, index, inner);
      } catch (e) {
        if (!(e instanceof ScenarioFormatError) || e.step !== index) throw e;
        world.err(at, field(e.field), `${e.detail} (op "${inner.op}")`);
      }
      if (inner.op === 'mmap' && !before.has(inner.proc)) owner.set(inner.proc, c);
      if (inner.op === 'fork') owner.set(inner.child, c);
      if (inner.op === 'exit') {
        const other = [...named.get(inner.proc)!].find((o) => o !== c);
        if (other !== undefined) world.err(at, field('proc'), `expected a process that no other CPU's list of this block names, found "${inner.proc}" (CPU ${other}'s list names it; an exit would race its steps)`);
        owner.set(inner.proc, c);
      }
      return { ...(out as CpuStep), cpu: c, pos };
    }),
  );
  return { index, ...(s.comment !== undefined ? { comment: s.comment } : {}), op: 'concurrent', cpus };
}

/** The most CPUs a scenario's concurrent blocks use (1 without any). */
export function scenarioCpus(steps: readonly Step[]): number {
  return Math.max(1, ...steps.map((s) => (s.op === 'concurrent' ? s.cpus.length : 1)));
}
