// Scripted scenarios: the JSON format, and a parser whose every error names the file, the step
// index (0-based, as in `steps[N]`) and the field. Parsing is static: it also checks that every
// process an op names exists at that point (created by its first mmap or as a fork child, gone
// after its exit) and that every pin id is held, so a scenario that parses can only fail at run
// time for a reason the kernel model gives.
import { basename } from 'node:path';
import { type Config, ConfigError, PMD_ORDER, parseConfig } from '../config.js';
import { DEVIATIONS } from '../inject/deviations.js';

export const PAGE_SIZE = 4096;
/** The data oracle's tokens carry 3 bits of mm: at most 8 process slots (also the config's max). */
export const MAX_PROCESSES = 8;

export const OP_NAMES = ['mmap', 'munmap', 'mprotect', 'madvise', 'mremap', 'read', 'write', 'fork', 'exit', 'pin', 'unpin', 'pin-write', 'pin-read', 'expect', 'writeback', 'sync'] as const;
export type OpName = (typeof OP_NAMES)[number];
export const PROTS = ['none', 'r', 'rw'] as const;
export type Prot = (typeof PROTS)[number];
export const ADVICES = ['dontneed', 'dontfork', 'dofork'] as const;
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
export type Step = MmapStep | RangeStep | MprotectStep | MadviseStep | MremapStep | AccessStep | ForkStep | ExitStep | PinStep | PinIdStep | ExpectStep | WritebackStep | SyncStep;

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
  ) {
    super(`${file}: ${step !== undefined ? `step ${step}${op ? ` (op "${op}")` : ''}: ` : ''}${field !== undefined ? `field "${field}": ` : ''}${detail}`);
    this.name = 'ScenarioFormatError';
  }
}

export const hexAddr = (n: number): string => '0x' + n.toString(16);

const COMMON = ['op', 'comment'];
/** Keys each op accepts (besides op and comment); the first group is required. */
const KEYS: Record<OpName, { required: string[]; optional: string[] }> = {
  mmap: { required: ['proc', 'addr', 'len', 'prot', 'kind'], optional: ['file', 'offset', 'shared', 'writenotify'] },
  writeback: { required: ['file'], optional: [] },
  sync: { required: [], optional: [] },
  munmap: { required: ['proc', 'addr', 'len'], optional: [] },
  mprotect: { required: ['proc', 'addr', 'len', 'prot'], optional: [] },
  madvise: { required: ['proc', 'addr', 'len', 'advice'], optional: [] },
  mremap: { required: ['proc', 'addr', 'len', 'newAddr'], optional: [] },
  read: { required: ['proc', 'addr', 'len'], optional: ['expectFault'] },
  write: { required: ['proc', 'addr', 'len'], optional: ['expectFault'] },
  fork: { required: ['proc', 'child'], optional: [] },
  exit: { required: ['proc'], optional: [] },
  pin: { required: ['proc', 'addr', 'len', 'mode', 'id'], optional: ['fast'] },
  unpin: { required: ['id'], optional: [] },
  'pin-write': { required: ['id'], optional: [] },
  'pin-read': { required: ['id'], optional: [] },
  expect: { required: ['proc', 'addr'], optional: ['len', ...EXPECT_FLAGS, 'folioOrder', 'sameFolioAs'] },
};
const TOP_KEYS = ['name', 'comment', 'config', 'steps'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => JSON.stringify(v) ?? String(v);

/** Read one step's fields; every error names the file, step, op and field. */
class StepReader {
  constructor(
    private readonly file: string,
    readonly index: number,
    readonly op: OpName,
    private readonly raw: Record<string, unknown>,
    private readonly vaSize: number,
  ) {}

  err(field: string | undefined, detail: string): never {
    throw new ScenarioFormatError(this.file, detail, this.index, this.op, field);
  }
  has(k: string): boolean {
    return this.raw[k] !== undefined;
  }
  private get(k: string, required: boolean): unknown {
    const v = this.raw[k];
    if (v === undefined && required) this.err(k, 'missing');
    return v;
  }
  str(k: string): string {
    const v = this.get(k, true);
    if (typeof v !== 'string' || v === '') this.err(k, `must be a non-empty string (got ${show(v)})`);
    return v;
  }
  bool(k: string, def: boolean): boolean {
    const v = this.get(k, false);
    if (v === undefined) return def;
    if (typeof v !== 'boolean') this.err(k, `must be true or false (got ${show(v)})`);
    return v;
  }
  oneOf<T extends string>(k: string, values: readonly T[]): T {
    const v = this.get(k, true);
    if (typeof v !== 'string' || !values.includes(v as T)) this.err(k, `must be one of ${values.map((x) => `"${x}"`).join(', ')} (got ${show(v)})`);
    return v as T;
  }
  /** A byte address or length: a number, or a hex string "0x...". */
  number(k: string, v: unknown = this.get(k, true)): number {
    let n: number;
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v) || v < 0) this.err(k, `${show(v)} is not a non-negative integer`);
      n = v;
    } else if (typeof v === 'string') {
      if (!/^0x[0-9a-f]+$/i.test(v.trim())) this.err(k, `"${v}" is not a hex number (write it as "0x400000", or as a plain number)`);
      n = parseInt(v.trim().slice(2), 16);
      if (!Number.isSafeInteger(n)) this.err(k, `"${v}" is too large`);
    } else {
      this.err(k, `must be a hex string such as "0x400000" or a number (got ${show(v)})`);
    }
    return n;
  }
  aligned(k: string, v?: unknown): number {
    const n = this.number(k, v ?? this.get(k, true));
    if (n % PAGE_SIZE !== 0) this.err(k, `${hexAddr(n)} is not a multiple of ${PAGE_SIZE}`);
    return n;
  }
  addr(k: string, v?: unknown): number {
    const n = this.aligned(k, v);
    if (n >= this.vaSize) this.err(k, `${hexAddr(n)} is beyond the address space (config vaSize ${hexAddr(this.vaSize)})`);
    return n;
  }
  len(k: string, addr: number, def?: number): number {
    if (def !== undefined && !this.has(k)) return def;
    const n = this.aligned(k);
    if (n === 0) this.err(k, `must be at least ${hexAddr(PAGE_SIZE)}`);
    if (addr + n > this.vaSize) this.err(k, `the range ${hexAddr(addr)}-${hexAddr(addr + n)} ends beyond the address space (config vaSize ${hexAddr(this.vaSize)})`);
    return n;
  }
  int(k: string, min: number, max: number): number {
    const v = this.get(k, true);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.err(k, `must be an integer from ${min} to ${max} (got ${show(v)})`);
    return v;
  }
}

/** Which processes and pins exist at each step (static). */
class World {
  readonly live = new Map<string, number>(); // name -> step that created it
  readonly dead = new Map<string, number>(); // name -> step that exited it
  readonly order: string[] = [];
  readonly pins = new Map<string, { step: number; mode: 'ro' | 'rw' }>(); // id -> the pin step
  readonly files = new Map<string, number>(); // file name -> index, in order of first use
  constructor(private readonly maxFiles: number) {}

  file(r: StepReader, field: string, name: string, mayCreate: boolean): number {
    const i = this.files.get(name);
    if (i !== undefined) return i;
    if (!mayCreate) r.err(field, `unknown file "${name}" (a file is named by the first mmap of kind "file" that maps it)`);
    if (this.files.size >= this.maxFiles) r.err(field, `too many files: the config has files.count ${this.maxFiles}`);
    this.files.set(name, this.files.size);
    return this.files.size - 1;
  }

  proc(r: StepReader, field: string, name: unknown): string {
    if (typeof name !== 'string' || name === '') r.err(field, `must be a process name such as "A" (got ${show(name)})`);
    if (this.live.has(name)) return name;
    if (this.dead.has(name)) r.err(field, `process "${name}" exited at step ${this.dead.get(name)}`);
    r.err(field, `unknown process "${name}" (a process is created by its first mmap, or as the child of a fork)`);
  }
  create(r: StepReader, field: string, name: string): void {
    if (this.live.has(name)) r.err(field, `process "${name}" already exists (created at step ${this.live.get(name)})`);
    if (this.dead.has(name)) r.err(field, `process "${name}" exited at step ${this.dead.get(name)}; a name is not reused`);
    if (this.order.length >= MAX_PROCESSES) r.err(field, `too many processes: at most ${MAX_PROCESSES} names per scenario`);
    this.live.set(name, r.index);
    this.order.push(name);
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
  if (!isObject(raw)) throw new ScenarioFormatError(file, 'a scenario must be a JSON object with "name", "config" and "steps"');
  for (const k of Object.keys(raw)) if (!TOP_KEYS.includes(k)) throw new ScenarioFormatError(file, `unknown key (a scenario has ${TOP_KEYS.map((x) => `"${x}"`).join(', ')})`, undefined, undefined, k);
  if (raw.name !== undefined && typeof raw.name !== 'string') throw new ScenarioFormatError(file, 'must be a string', undefined, undefined, 'name');
  if (raw.comment !== undefined && typeof raw.comment !== 'string') throw new ScenarioFormatError(file, 'must be a string', undefined, undefined, 'comment');
  const name = (raw.name as string | undefined) ?? basename(file).replace(/\.json$/, '');

  // config: the run config's schema, with the scenario runner's own fixed choices
  const rc = raw.config ?? {};
  if (!isObject(rc)) throw new ScenarioFormatError(file, 'must be an object with run-config keys (see configs/smoke.json)', undefined, undefined, 'config');
  if (rc.cpus !== undefined && rc.cpus !== 1) throw new ScenarioFormatError(file, `scenarios run on one simulated CPU, so the data oracle is exact (got ${show(rc.cpus)}; drop the key)`, undefined, undefined, 'config.cpus');
  let config: Config;
  try {
    // fragmentation 0 unless asked: a scenario states folio orders, so high orders must not fail
    config = parseConfig({ fragmentation: 0, ...rc, cpus: 1 }, `${file}: config`);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    throw new ScenarioFormatError(file, e.message.replace(`${file}: `, ''));
  }
  for (const n of config.inject) if (!DEVIATIONS.some((d) => d.name === n)) throw new ScenarioFormatError(file, `unknown deviation "${n}" (list them with: npx foliostorm bugs)`, undefined, undefined, 'config.inject');

  if (raw.steps === undefined) throw new ScenarioFormatError(file, 'missing', undefined, undefined, 'steps');
  if (!Array.isArray(raw.steps) || raw.steps.length === 0) throw new ScenarioFormatError(file, 'must be a non-empty array of steps', undefined, undefined, 'steps');
  const world = new World(config.files.count);
  const steps: Step[] = raw.steps.map((s: unknown, i: number) => parseStep(file, i, s, config, world));
  return { file, name, config: { ...config, processes: Math.max(1, world.order.length) }, steps, procs: world.order };
}

function parseStep(file: string, index: number, s: unknown, cfg: Config, world: World): Step {
  if (!isObject(s)) throw new ScenarioFormatError(file, `must be an object such as {"op": "write", ...} (got ${show(s)})`, index);
  if (s.op === undefined) throw new ScenarioFormatError(file, 'missing', index, undefined, 'op');
  if (typeof s.op !== 'string' || !(OP_NAMES as readonly string[]).includes(s.op)) {
    throw new ScenarioFormatError(file, `unknown op ${show(s.op)} (ops: ${OP_NAMES.join(', ')})`, index, undefined, 'op');
  }
  const op = s.op as OpName;
  const r: StepReader = new StepReader(file, index, op, s, cfg.vaSize);
  const keys = KEYS[op];
  const allowed = [...COMMON, ...keys.required, ...keys.optional];
  for (const k of Object.keys(s)) if (!allowed.includes(k)) r.err(k, `unknown key for op "${op}" (it takes: ${[...keys.required, ...keys.optional, 'comment'].join(', ')})`);
  for (const k of keys.required) if (s[k] === undefined) r.err(k, 'missing');
  if (s.comment !== undefined && typeof s.comment !== 'string') r.err('comment', 'must be a string');
  const base = { index, ...(s.comment !== undefined ? { comment: s.comment as string } : {}) };

  switch (op) {
    case 'mmap': {
      const addr = r.addr('addr');
      const len = r.len('len', addr);
      const prot = r.oneOf('prot', PROTS);
      const kind = r.oneOf('kind', ['anon', 'file'] as const);
      let file: string | undefined;
      let fileIndex: number | undefined;
      let offset = 0;
      let shared = false;
      let writenotify = false;
      if (kind === 'file') {
        file = r.str('file');
        fileIndex = world.file(r, 'file', file, true);
        if (r.has('offset')) offset = r.aligned('offset');
        shared = r.bool('shared', false);
        writenotify = r.bool('writenotify', false);
        const pages = cfg.files.pages;
        if ((offset + len) / PAGE_SIZE > pages) r.err('len', `the mapping ends at file page ${(offset + len) / PAGE_SIZE}, beyond the file (config files.pages ${pages})`);
      } else {
        for (const k of ['file', 'offset', 'writenotify']) if (r.has(k)) r.err(k, 'only for kind "file"');
        if (r.bool('shared', false)) r.err('shared', 'shared anonymous mappings (shmem) are not modelled; use kind "file" with shared true');
      }
      // the first mmap of a name creates the process
      if (typeof s.proc !== 'string' || s.proc === '') r.err('proc', `must be a process name such as "A" (got ${show(s.proc)})`);
      if (!world.live.has(s.proc)) world.create(r, 'proc', s.proc);
      return { ...base, op, proc: s.proc, addr, len, prot, kind, ...(file !== undefined ? { file, fileIndex } : {}), offset, shared, writenotify };
    }
    case 'writeback': {
      const file = r.str('file');
      return { ...base, op, file, fileIndex: world.file(r, 'file', file, false) };
    }
    case 'sync':
      return { ...base, op };
    case 'munmap': {
      const proc = world.proc(r, 'proc', s.proc);
      const addr = r.addr('addr');
      return { ...base, op, proc, addr, len: r.len('len', addr) };
    }
    case 'mprotect': {
      const proc = world.proc(r, 'proc', s.proc);
      const addr = r.addr('addr');
      return { ...base, op, proc, addr, len: r.len('len', addr), prot: r.oneOf('prot', PROTS) };
    }
    case 'madvise': {
      const proc = world.proc(r, 'proc', s.proc);
      const addr = r.addr('addr');
      return { ...base, op, proc, addr, len: r.len('len', addr), advice: r.oneOf('advice', ADVICES) };
    }
    case 'mremap': {
      const proc = world.proc(r, 'proc', s.proc);
      const addr = r.addr('addr');
      const len = r.len('len', addr);
      const newAddr = r.addr('newAddr');
      if (newAddr + len > cfg.vaSize) r.err('newAddr', `the range ${hexAddr(newAddr)}-${hexAddr(newAddr + len)} ends beyond the address space (config vaSize ${hexAddr(cfg.vaSize)})`);
      if (newAddr < addr + len && addr < newAddr + len) r.err('newAddr', `${hexAddr(newAddr)}-${hexAddr(newAddr + len)} overlaps the range being moved (mremap returns EINVAL)`);
      return { ...base, op, proc, addr, len, newAddr };
    }
    case 'read':
    case 'write': {
      const proc = world.proc(r, 'proc', s.proc);
      const addr = r.addr('addr');
      return { ...base, op, proc, addr, len: r.len('len', addr), expectFault: r.bool('expectFault', false) };
    }
    case 'fork': {
      const proc = world.proc(r, 'proc', s.proc);
      if (typeof s.child !== 'string' || s.child === '') r.err('child', `must be a process name such as "B" (got ${show(s.child)})`);
      world.create(r, 'child', s.child);
      return { ...base, op, proc, child: s.child };
    }
    case 'exit': {
      const proc = world.proc(r, 'proc', s.proc);
      world.live.delete(proc);
      world.dead.set(proc, index);
      return { ...base, op, proc };
    }
    case 'pin': {
      const proc = world.proc(r, 'proc', s.proc);
      const addr = r.addr('addr');
      const len = r.len('len', addr);
      const mode = r.oneOf('mode', ['ro', 'rw'] as const);
      const id = r.str('id');
      if (world.pins.has(id)) r.err('id', `pin "${id}" is already held (taken at step ${world.pins.get(id)!.step})`);
      world.pins.set(id, { step: index, mode });
      return { ...base, op, proc, addr, len, mode, id, fast: r.bool('fast', false) };
    }
    case 'unpin':
    case 'pin-write':
    case 'pin-read': {
      const id = r.str('id');
      const pin = world.pins.get(id);
      if (!pin) r.err('id', `unknown pin "${id}" (take it first with {"op": "pin", "id": "${id}", ...})`);
      if (op === 'pin-write' && pin.mode !== 'rw') r.err('id', `pin "${id}" is read-only (step ${pin.step} took it with mode "ro"); a device writes only through a "rw" pin`);
      if (op === 'unpin') world.pins.delete(id);
      return { ...base, op, id };
    }
    case 'expect': {
      const proc = world.proc(r, 'proc', s.proc);
      const addr = r.addr('addr');
      const len = r.len('len', addr, PAGE_SIZE);
      const out: ExpectStep = { ...base, op, proc, addr, len };
      let any = false;
      for (const k of EXPECT_FLAGS) {
        if (!r.has(k)) continue;
        out[k] = r.bool(k, false);
        any = true;
      }
      if (r.has('folioOrder')) {
        out.folioOrder = r.int('folioOrder', 0, PMD_ORDER);
        any = true;
      }
      if (r.has('sameFolioAs')) {
        const o = s.sameFolioAs;
        if (!isObject(o)) r.err('sameFolioAs', `must be an object {"proc": "B", "addr": "0x400000"} (got ${show(o)})`);
        for (const k of Object.keys(o)) if (k !== 'proc' && k !== 'addr') r.err(`sameFolioAs.${k}`, 'unknown key (sameFolioAs takes proc and addr)');
        if (o.proc === undefined) r.err('sameFolioAs.proc', 'missing');
        if (o.addr === undefined) r.err('sameFolioAs.addr', 'missing');
        const other = world.proc(r, 'sameFolioAs.proc', o.proc);
        out.sameFolioAs = { proc: other, addr: r.addr('sameFolioAs.addr', o.addr) };
        any = true;
      }
      if (!any) r.err(undefined, `states nothing: give at least one of ${[...EXPECT_FLAGS, 'folioOrder', 'sameFolioAs'].join(', ')}`);
      return out;
    }
  }
}
