// The executors of scenario steps, and the registry that maps each op to its executor. An op whose
// kernel code is not modelled yet is registered as Unsupported with the reason; once the kernel
// function exists it is plugged in with one line (see the *With factories below), e.g.
//   mprotect: op(mprotectWith(do_mprotect)),
// Executors run on the scenario's one CPU inside the sched engine's loop (so the refcount observer
// runs at every yield); they bracket zaps for the data oracle exactly as the workload does
// (src/workload/run-op.ts) and keep the tool-side record of what each pin must see.
import { do_mprotect } from '../linux/mm/mprotect.js';
import { gup_slow, pin_user_page, unpin_user_page } from '../linux/mm/gup.js';
import type { Cpu } from '../machine/cpu.js';
import type { Gen } from '../machine/gen.js';
import { MM, MM_FREE } from '../machine/layout.js';
import { Machine, PG_ANON_EXCLUSIVE, PG_BUDDY, VM_ANON, VM_READ, VM_SHARED, VM_WRITE, VM_WRITENOTIFY } from '../machine/machine.js';
import { pte_cont, pte_dirty, pte_pfn, pte_present, pte_special, pte_write, pte_young, pteToString } from '../machine/pte.js';
import { dup_mm, mm_alloc, mmget_not_zero, mmput, process_exit } from '../linux/kernel/fork.js';
import { do_mmap, do_munmap, find_vma, linear_page_index } from '../linux/mm/mmap.js';
import { ksys_sync, write_cache_pages } from '../linux/mm/page-writeback.js';
import { madvise_cold, madvise_dontfork, madvise_dontneed, madvise_free, madvise_pageout } from '../linux/mm/madvise.js';
import { do_move_pages } from '../linux/mm/migrate.js';
import { shrink_folios } from '../linux/mm/vmscan.js';
import { do_mremap } from '../linux/mm/mremap.js';
import { ACCESS_OK, ACCESS_SEGV, type AccessOut, user_access } from '../workload/access.js';
import { checkRead, collapse, expectOwner, freeBegin, freeEnd, hex, makeToken, recordForkRace, recordWrite, zapAbort, zapBegin, zapEnd, zapGen } from '../check/oracle.js';
import { folioOrder, folioOf } from '../check/folio.js';
import {
  type AccessStep, type ConcurrentStep, type ExpectStep, EXPECT_FLAGS, type ExitStep, type ForkStep, hexAddr, type MadviseStep, type MigrateStep, type MmapStep, type MprotectStep,
  type MremapStep, PAGE_SIZE, type PinIdStep, type PinStep, type Prot, type RangeStep, type Step, type WritebackStep,
  type ThpStep,
} from './format.js';
import { thpsize_enabled_store } from '../linux/mm/memory.js';

/** A step did not do what the scenario says (exit 1); `invariant` names what failed. */
export class StepFailure extends Error {
  constructor(
    readonly invariant: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'StepFailure';
  }
}

/** One pinned page: where the pinner maps it, and what a device reading through the pin may see. */
export interface PinnedPage {
  vpn: number;
  pfn: number;
  /** The pinner still maps this address (not unmapped, zapped or exited since the pin). */
  live: boolean;
  /** Values a device may read: what the pinner held at pin time, then its later writes there. */
  expect: number[];
}
export interface PinRecord {
  id: string;
  proc: string;
  mm: number;
  write: boolean;
  pages: PinnedPage[];
}

/** The state a scenario's steps share: the machine, its one CPU, process names and pins. */
export class Exec {
  /** Live processes: name -> mm slot. */
  readonly procs = new Map<string, number>();
  readonly pins = new Map<string, PinRecord>();
  /** Per (mm, vpn) write count: consecutive writes to a page always store different tokens. */
  private readonly versions = new Map<number, number>();
  readonly out: AccessOut = { status: 0, value: 0, pfn: 0, g1: 0, g2: 0, faults: 0, forkRaced: false, forkChild: -1 };

  constructor(
    readonly machine: Machine,
    readonly cpu: Cpu,
  ) {}

  mm(name: string): number {
    const mm = this.procs.get(name);
    if (mm === undefined) throw new StepFailure('unknown-process', `process "${name}" does not exist`);
    return mm;
  }

  /** A fresh write token for (mm, vpn). */
  token(mm: number, vpn: number): number {
    const k = mm * this.machine.L.vaPages + vpn;
    const v = (this.versions.get(k) ?? 0) + 1;
    this.versions.set(k, v);
    const t = makeToken(v, mm, vpn);
    this.writers?.set(t, this.cpu.curOp);
    return t;
  }

  /** When a caller wants them (explore): each token written -> the step that wrote it (its CPU's curOp). Shared by the per-CPU views. */
  writers: Map<number, string> | null = null;

  fail(invariant: string, message: string, details: Record<string, unknown> = {}): never {
    throw new StepFailure(invariant, message, details);
  }

  /**
   * Loads of read steps, in order, when a caller wants them (explore: the values read are part of
   * a concurrent block's outcome); null: not kept. Shared by the per-CPU views (onCpu).
   */
  reads: { cpu: number; at: string; proc: string; vpn: number; value: number }[] | null = null;

  /**
   * The same scenario state (processes, pins, write versions, reads) seen from another CPU: a
   * concurrent block's list runs its steps through it. Only the CPU and its access scratch differ.
   */
  onCpu(cpu: Cpu): Exec {
    const view = Object.create(this) as Exec;
    Object.defineProperty(view, 'cpu', { value: cpu });
    Object.defineProperty(view, 'out', { value: { ...this.out } });
    return view;
  }

  /** The pinner (mm) stored token at vpn through its mapping: a pin of that page must see it. */
  notePinnerWrite(mm: number, vpn: number, token: number): void {
    for (const p of this.pins.values()) {
      if (p.mm !== mm) continue;
      for (const pg of p.pages) if (pg.live && pg.vpn === vpn) pg.expect = [token];
    }
  }

  /** The pinner's mapping of [start, end) is gone (munmap, MADV_DONTNEED, exit): the pin keeps what it had. */
  pinnerUnmapped(mm: number, start: number, end: number): void {
    for (const p of this.pins.values()) {
      if (p.mm !== mm) continue;
      for (const pg of p.pages) if (pg.vpn >= start && pg.vpn < end) pg.live = false;
    }
  }

  /** mremap moved the pinner's [start, start + nr) to newStart. */
  pinnerMoved(mm: number, start: number, nr: number, newStart: number): void {
    for (const p of this.pins.values()) {
      if (p.mm !== mm) continue;
      for (const pg of p.pages) if (pg.live && pg.vpn >= start && pg.vpn < start + nr) pg.vpn += newStart - start;
    }
  }
}

/** In Exec.reads: the access raised SIGSEGV (a mayFault step), or a mayFault store went through. */
export const SEGV_READ = -0x5e6f, STORE_DONE = -0x570e;

export type Executor<S extends Step = Step> = (x: Exec, s: S) => Gen<void>;
/** A registered op the kernel model cannot run yet. */
export class Unsupported {
  constructor(readonly reason: string) {}
}

/** The registry key of a step: the op, refined where support differs by a field. */
export type OpKey =
  | 'mmap' | 'mmap:file' | 'munmap' | 'mprotect' | 'madvise:dontneed' | 'madvise:dontfork' | 'madvise:dofork' | 'mremap'
  | 'read' | 'write' | 'fork' | 'exit' | 'pin' | 'unpin' | 'pin-write' | 'pin-read' | 'expect' | 'writeback' | 'sync' | 'observe' | 'thp'
  | 'madvise:free' | 'madvise:cold' | 'madvise:pageout' | 'migrate' | 'reclaim';
export function opKey(s: Exclude<Step, ConcurrentStep>): OpKey {
  if (s.op === 'mmap' && s.kind === 'file') return 'mmap:file';
  if (s.op === 'madvise') return `madvise:${s.advice}`;
  return s.op;
}
/** How a step's op is named in messages: `madvise` (advice "dontfork"). */
export function opLabel(s: Exclude<Step, ConcurrentStep>): string {
  if (s.op === 'mmap' && s.kind === 'file') return `op 'mmap' (kind "file")`;
  if (s.op === 'madvise') return `op 'madvise' (advice "${s.advice}")`;
  return `op '${s.op}'`;
}

/** Register a typed executor (the registry holds them by key; opKey guarantees the step type). */
export const op = <S extends Step>(f: Executor<S>): Executor => f as unknown as Executor;

export type Registry = Record<OpKey, Executor | Unsupported>;

// ---- helpers ---------------------------------------------------------------------------------

const vpnOf = (addr: number): number => addr / PAGE_SIZE;
const pagesOf = (len: number): number => len / PAGE_SIZE;
const range = (s: { addr: number; len: number }): string => `${hexAddr(s.addr)}-${hexAddr(s.addr + s.len)}`;

/** Run body with a user reference on the named process (mmget_not_zero / mmput), as run_op does. */
function* withMm(x: Exec, proc: string, body: (mm: number) => Gen<void>): Gen<void> {
  const mm = x.mm(proc);
  if (!mmget_not_zero(x.cpu, mm)) x.fail('process-gone', `process "${proc}" (mm ${mm}) is not alive`);
  yield* body(mm);
  yield* mmput(x.cpu, mm);
}

export function vmFlagsOf(prot: Prot): number {
  return prot === 'rw' ? VM_READ | VM_WRITE : prot === 'r' ? VM_READ : 0;
}

// ---- executors of what the model has today ---------------------------------------------------

/** mmap(MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE); the first mmap of a name creates the process. */
function* mmapAnon(x: Exec, s: MmapStep): Gen<void> {
  yield* mmapWith(x, s, VM_ANON | vmFlagsOf(s.prot), -1, 0);
}

/** mmap(MAP_SHARED or MAP_PRIVATE | MAP_FIXED_NOREPLACE) of a file at its byte offset. */
function* mmapFile(x: Exec, s: MmapStep): Gen<void> {
  const flags = vmFlagsOf(s.prot) | (s.shared ? VM_SHARED | (s.writenotify ? VM_WRITENOTIFY : 0) : 0);
  yield* mmapWith(x, s, flags, s.fileIndex!, s.offset / PAGE_SIZE);
}

function* mmapWith(x: Exec, s: MmapStep, flags: number, file: number, pgoff: number): Gen<void> {
  if (!x.procs.has(s.proc)) {
    const { machine } = x;
    let slot = -1;
    for (let mm = 0; mm < machine.L.maxMms && slot < 0; mm++) if (Atomics.load(machine.m, machine.mmWord(mm, MM.STATE)) === MM_FREE && mm_alloc(x.cpu, mm)) slot = mm;
    if (slot < 0) x.fail('no-process-slot', `no free process slot for "${s.proc}" (all ${machine.L.maxMms} in use)`);
    x.procs.set(s.proc, slot);
  }
  yield* withMm(x, s.proc, function* (mm) {
    const r = yield* do_mmap(x.cpu, mm, pagesOf(s.len), 1, vpnOf(s.addr), flags, true, file, pgoff);
    if (r < 0) x.fail('syscall-failed', `mmap ${range(s)} in ${s.proc} failed: the range overlaps a mapping, or all ${x.machine.L.maxVmas} VMA slots are used (config maxVmas)`);
  });
}

/** A zap (munmap, MADV_DONTNEED) bracketed for the data oracle as the workload does it. */
function* zap(x: Exec, s: { proc: string; addr: number; len: number }, what: string, fn: (mm: number, start: number, end: number) => Gen<number>): Gen<void> {
  yield* withMm(x, s.proc, function* (mm) {
    const start = vpnOf(s.addr), end = start + pagesOf(s.len);
    zapBegin(x.machine, mm, start, end);
    const r = yield* fn(mm, start, end);
    if (r < 0) {
      // a failed munmap zapped nothing; MADV_DONTNEED's -ENOMEM (a hole) zapped the mapped parts
      if (what === 'munmap') zapAbort(x.machine, mm, start, end);
      x.fail('syscall-failed', `${what} ${range(s)} in ${s.proc} failed (${r})`);
    }
    zapEnd(x.machine, mm, start, end);
    x.pinnerUnmapped(mm, start, end);
  });
}

function* munmap(x: Exec, s: RangeStep): Gen<void> {
  yield* zap(x, s, 'munmap', (mm, a, b) => do_munmap(x.cpu, mm, a, b));
}

function* dontneed(x: Exec, s: MadviseStep): Gen<void> {
  yield* zap(x, s, 'madvise(MADV_DONTNEED)', (mm, a, b) => madvise_dontneed(x.cpu, mm, a, b));
}

/**
 * madvise(MADV_FREE / MADV_COLD / MADV_PAGEOUT), as the workload's cold/free/pageout ops: after
 * MADV_FREE reclaim may discard a clean lazyfree folio, so the data oracle's free window is opened
 * before the call and closed after it (freeBegin/freeEnd, exactly as run-op.ts), allowing 0 on
 * those pages until the owner writes them again. COLD and PAGEOUT change no data.
 */
function* madviseLru(x: Exec, s: MadviseStep): Gen<void> {
  yield* withMm(x, s.proc, function* (mm) {
    const start = vpnOf(s.addr), end = start + pagesOf(s.len);
    let r = 0;
    if (s.advice === 'cold') r = yield* madvise_cold(x.cpu, mm, start, end);
    else if (s.advice === 'pageout') r = yield* madvise_pageout(x.cpu, mm, start, end);
    else {
      freeBegin(x.machine, mm, start, end);
      r = yield* madvise_free(x.cpu, mm, start, end);
      freeEnd(x.machine, mm, start, end);
    }
    if (r < 0) x.fail('syscall-failed', `madvise ${range(s)} ${s.advice} in ${s.proc} failed (${r})`);
  });
}

/** move_pages(2) of the one page at addr (do_move_pages): as the workload's migrate op, the result is not checked (a busy or pinned folio stays). */
function* migrate(x: Exec, s: MigrateStep): Gen<void> {
  yield* withMm(x, s.proc, function* (mm) {
    yield* do_move_pages(x.cpu, mm, vpnOf(s.addr));
  });
}

/** Reclaim: every reclaimable folio of memory isolated and shrunk once (shrink_folios over all pfns). */
function* reclaim(x: Exec): Gen<void> {
  yield* shrink_folios(x.cpu, 0, x.machine.L.pages);
}

/** User loads or stores through the MMU, one per page, as the workload's touch: stores record a fresh token, loads are checked by the oracle. */
function* access(x: Exec, s: AccessStep): Gen<void> {
  const write = s.op === 'write';
  yield* withMm(x, s.proc, function* (mm) {
    const out = x.out;
    const first = vpnOf(s.addr);
    for (let vpn = first; vpn < first + pagesOf(s.len); vpn++) {
      const token = write ? x.token(mm, vpn) : 0;
      yield* user_access(x.cpu, mm, vpn, write, token, out);
      const at = `${s.proc} ${hexAddr(vpn * PAGE_SIZE)}`;
      if (out.status === ACCESS_SEGV) {
        if (s.mayFault) x.reads?.push({ cpu: x.cpu.id, at: x.cpu.curOp, proc: s.proc, vpn, value: SEGV_READ });
        if (s.expectFault || s.mayFault) continue;
        x.fail('unexpected-fault', `${write ? 'store' : 'load'} at ${at}: SIGSEGV (add "expectFault": true if that is intended)`, { addr: hexAddr(vpn * PAGE_SIZE) });
      }
      if (out.status !== ACCESS_OK) x.fail('oom', `${write ? 'store' : 'load'} at ${at}: the fault ran out of memory (config memoryPages ${x.machine.L.pages})`);
      if (s.expectFault) x.fail('missing-fault', `${write ? 'store' : 'load'} at ${at} succeeded, but the step expects SIGSEGV`, { addr: hexAddr(vpn * PAGE_SIZE), pfn: hex(out.pfn) });
      if (write && s.mayFault) x.reads?.push({ cpu: x.cpu.id, at: x.cpu.curOp, proc: s.proc, vpn, value: STORE_DONE });
      if (write) {
        // a store into a page cache page was recorded in the file oracle by the MMU (a file token)
        if (out.fp !== undefined && out.fp >= 0) continue;
        recordWrite(x.machine, mm, vpn, token, out.g1, out.g2);
        if (out.forkRaced && out.forkChild >= 0) recordForkRace(x.machine, out.forkChild, vpn, token); // never with steps in sequence; as touch does
        x.notePinnerWrite(mm, vpn, token);
      } else {
        const v = find_vma(x.machine, mm, vpn);
        checkRead(x.cpu, mm, vpn, out.value, out.g1, out.g2, out.pfn, out.tag, out.fp, v && v.file >= 0 ? x.machine.filePage(v.file, linear_page_index(v, vpn)) : -1);
        x.reads?.push({ cpu: x.cpu.id, at: x.cpu.curOp, proc: s.proc, vpn, value: out.value });
      }
    }
  });
}

/** The process exits (its own reference drops; the last user tears the mm down). */
function* exit(x: Exec, s: ExitStep): Gen<void> {
  yield* withMm(x, s.proc, function* (mm) {
    yield* process_exit(x.cpu, mm);
  });
  const mm = x.mm(s.proc);
  x.procs.delete(s.proc);
  x.pinnerUnmapped(mm, 0, x.machine.L.vaPages);
}

/** What the page table says about one page. */
export interface PageState {
  pte: number;
  present: boolean;
  writable: boolean;
  exclusive: boolean;
  dirty: boolean;
  young: boolean;
  cont: boolean;
  pfn: number;
  folio: number;
  folioOrder: number | null;
}
export function pageState(machine: Machine, mm: number, vpn: number): PageState {
  const { m } = machine;
  const pte = Atomics.load(m, machine.pgdWord(machine.tableIndex(mm, vpn))) ? Atomics.load(m, machine.ptep(mm, vpn)) : 0;
  const present = pte_present(pte);
  const pfn = present ? pte_pfn(pte) : -1;
  const folio = present ? folioOf(machine, pfn) : -1;
  return {
    pte, present, pfn, folio,
    writable: present && pte_write(pte),
    exclusive: present && !pte_special(pte) && (machine.pageFlags(pfn) & PG_ANON_EXCLUSIVE) !== 0,
    dirty: present && pte_dirty(pte),
    young: present && pte_young(pte),
    cont: present && pte_cont(pte),
    folioOrder: present ? folioOrder(machine, folio) : null,
  };
}

/** expect: compare every page of the range with what the step states; report expected vs actual. */
function* expect(x: Exec, s: ExpectStep): Gen<void> {
  const { machine } = x;
  const mm = x.mm(s.proc);
  const ref = s.sameFolioAs ? { at: `${s.sameFolioAs.proc} ${hexAddr(s.sameFolioAs.addr)}`, st: pageState(machine, x.mm(s.sameFolioAs.proc), vpnOf(s.sameFolioAs.addr)) } : null;
  const bad: string[] = [];
  let badPages = 0;
  const n = pagesOf(s.len);
  for (let i = 0; i < n; i++) {
    const vpn = vpnOf(s.addr) + i;
    const st = pageState(machine, mm, vpn);
    const diffs: string[] = [];
    for (const k of EXPECT_FLAGS) if (s[k] !== undefined && s[k] !== st[k]) diffs.push(`${k} expected ${s[k]}, actual ${st[k]}`);
    if (s.folioOrder !== undefined && s.folioOrder !== st.folioOrder) diffs.push(`folioOrder expected ${s.folioOrder}, actual ${st.folioOrder ?? 'none (not present)'}`);
    if (ref && (!st.present || !ref.st.present || st.folio !== ref.st.folio)) {
      const actual = !st.present ? 'this page is not present' : !ref.st.present ? `${ref.at} is not present` : `folio ${hex(st.folio)} (order ${st.folioOrder}) vs ${hex(ref.st.folio)} (order ${ref.st.folioOrder})`;
      diffs.push(`same folio as ${ref.at} expected, actual ${actual}`);
    }
    if (!diffs.length) continue;
    if (++badPages <= 4) bad.push(`${s.proc} ${hexAddr(vpn * PAGE_SIZE)}${n > 1 ? ` (page ${i} of ${n})` : ''}: ${diffs.join('; ')} [pte ${pteToString(st.pte)}]`);
  }
  if (badPages) {
    if (badPages > 4) bad.push(`and ${badPages - 4} more pages`);
    x.fail('expect', `expect failed: ${bad.join('; ')}`, { pages: badPages });
  }
}

/** A device reads through the pin: it must see what the pinner last had there (DESIGN: "a pin sees the writes of the process that pinned"). */
function* pinRead(x: Exec, s: PinIdStep): Gen<void> {
  const p = x.pins.get(s.id);
  if (!p) return x.fail('unknown-pin', `pin "${s.id}" is not held`);
  const { m, L } = x.machine;
  for (const pg of p.pages) {
    const at = { pin: p.id, proc: p.proc, addr: hexAddr(pg.vpn * PAGE_SIZE), pfn: hex(pg.pfn) };
    if (Atomics.load(m, L.pFlags + pg.pfn) & PG_BUDDY) x.cpu.violation('pin-use-after-free', 'pin-read', at);
    const value = Atomics.load(m, L.pContent + pg.pfn);
    if (!pg.expect.includes(value)) {
      x.cpu.violation('pin-data-mismatch', 'pin-read', { ...at, read: hex(value), expected: pg.expect.map(hex), pinnerStillMaps: pg.live });
    }
  }
}

/** A device writes fresh data through a R/W pin: the pinner, if it still maps the page, must read it. */
function* pinWrite(x: Exec, s: PinIdStep): Gen<void> {
  const p = x.pins.get(s.id);
  if (!p) return x.fail('unknown-pin', `pin "${s.id}" is not held`);
  const { machine } = x;
  for (const pg of p.pages) {
    if (machine.pageFlags(pg.pfn) & PG_BUDDY) x.cpu.violation('pin-use-after-free', 'pin-write', { pin: p.id, proc: p.proc, addr: hexAddr(pg.vpn * PAGE_SIZE), pfn: hex(pg.pfn) });
    const token = x.token(p.mm, pg.vpn);
    Atomics.store(machine.m, machine.L.pContent + pg.pfn, token);
    pg.expect = [token];
    if (pg.live) {
      const g = zapGen(machine, p.mm, pg.vpn);
      recordWrite(machine, p.mm, pg.vpn, token, g, g);
    }
  }
}

// ---- factories for ops whose kernel code is not modelled yet -----------------------------------

/** fork(): dup_mm(cpu, parent) returns the child's mm slot or -1; it sets up the child's oracle record. */
export type DupMm = (cpu: Cpu, parent: number) => Gen<number>;
export function forkWith(dupMm: DupMm): Executor<ForkStep> {
  return function* (x, s) {
    let child = -1;
    yield* withMm(x, s.proc, function* (mm) {
      child = yield* dupMm(x.cpu, mm);
    });
    if (child < 0) x.fail('syscall-failed', `fork of ${s.proc} failed (no free process slot or out of memory)`);
    x.procs.set(s.child, child);
  };
}

/** mprotect(): change [start, end) of mm to the VM_READ/VM_WRITE bits given; returns 0 or < 0. */
export type Mprotect = (cpu: Cpu, mm: number, start: number, end: number, vmFlags: number) => Gen<number>;
export function mprotectWith(fn: Mprotect): Executor<MprotectStep> {
  return function* (x, s) {
    yield* withMm(x, s.proc, function* (mm) {
      const r = yield* fn(x.cpu, mm, vpnOf(s.addr), vpnOf(s.addr + s.len), vmFlagsOf(s.prot));
      if (r < 0) x.fail('syscall-failed', `mprotect ${range(s)} ${s.prot} in ${s.proc} failed (${r})`);
    });
  };
}

/** madvise(MADV_DONTFORK / MADV_DOFORK): set or clear VM_DONTFORK on [start, end); returns 0 or < 0. */
export type MadviseFork = (cpu: Cpu, mm: number, start: number, end: number, dontfork: boolean) => Gen<number>;
export function madviseForkWith(fn: MadviseFork): Executor<MadviseStep> {
  return function* (x, s) {
    yield* withMm(x, s.proc, function* (mm) {
      const r = yield* fn(x.cpu, mm, vpnOf(s.addr), vpnOf(s.addr + s.len), s.advice === 'dontfork');
      if (r < 0) x.fail('syscall-failed', `madvise ${range(s)} ${s.advice} in ${s.proc} failed (${r})`);
    });
  };
}

/**
 * mremap(MREMAP_MAYMOVE | MREMAP_FIXED): move nr pages at start to newStart (what is mapped there
 * goes); returns newStart or < 0. The data moves with the mapping: so does the oracle's record.
 */
export type Mremap = (cpu: Cpu, mm: number, start: number, nr: number, newStart: number) => Gen<number>;
export function mremapWith(fn: Mremap): Executor<MremapStep> {
  return function* (x, s) {
    const { machine } = x;
    yield* withMm(x, s.proc, function* (mm) {
      const start = vpnOf(s.addr), nr = pagesOf(s.len), to = vpnOf(s.newAddr);
      const held: number[] = [];
      for (let i = 0; i < nr; i++) {
        const g = zapGen(machine, mm, start + i);
        held.push(expectOwner(machine, mm, start + i, g, g)[0]);
      }
      const r = yield* fn(x.cpu, mm, start, nr, to);
      if (r < 0) x.fail('syscall-failed', `mremap ${range(s)} -> ${hexAddr(s.newAddr)} in ${s.proc} failed (${r})`);
      for (let i = 0; i < nr; i++) {
        collapse(machine, mm, start + i, 0, zapGen(machine, mm, start + i));
        collapse(machine, mm, to + i, held[i], zapGen(machine, mm, to + i));
      }
      x.pinnerMoved(mm, start, nr, to);
    });
  };
}

/**
 * pin_user_pages(FOLL_PIN | FOLL_LONGTERM [| FOLL_WRITE]), or the _fast variant: pin nr pages
 * from vpn of mm, faulting them in (and unsharing for a R/O pin) as GUP does. Returns the pinned
 * pfns in order, or null when it fails.
 */
export type PinUserPages = (cpu: Cpu, mm: number, vpn: number, nr: number, write: boolean, fast: boolean) => Gen<number[] | null>;
export function pinWith(pin: PinUserPages): Executor<PinStep> {
  return function* (x, s) {
    const { machine } = x;
    yield* withMm(x, s.proc, function* (mm) {
      const first = vpnOf(s.addr), nr = pagesOf(s.len);
      const pfns = yield* pin(x.cpu, mm, first, nr, s.mode === 'rw', s.fast);
      if (!pfns || pfns.length !== nr) return x.fail('syscall-failed', `pin (${s.mode}${s.fast ? ', fast' : ''}) of ${range(s)} in ${s.proc} failed`);
      const pages: PinnedPage[] = pfns.map((pfn, i) => {
        const g = zapGen(machine, mm, first + i);
        return { vpn: first + i, pfn, live: true, expect: expectOwner(machine, mm, first + i, g, g) };
      });
      x.pins.set(s.id, { id: s.id, proc: s.proc, mm, write: s.mode === 'rw', pages });
    });
  };
}

/** unpin_user_pages(): drop the pins on these pfns (one per page). */
export type UnpinUserPages = (cpu: Cpu, pfns: readonly number[]) => Gen<void>;
export function unpinWith(unpin: UnpinUserPages): Executor<PinIdStep> {
  return function* (x, s) {
    const p = x.pins.get(s.id);
    if (!p) return x.fail('unknown-pin', `pin "${s.id}" is not held`);
    yield* unpin(x.cpu, p.pages.map((pg) => pg.pfn));
    x.pins.delete(s.id);
  };
}

/** pin_user_pages(_fast)() of nr pages, FOLL_LONGTERM; all or nothing (a partial pin is undone). */
function* pinPages(cpu: Cpu, mm: number, first: number, nr: number, write: boolean, fast: boolean): Gen<number[] | null> {
  const pfns: number[] = [];
  for (let i = 0; i < nr; i++) {
    const pfn = fast ? yield* pin_user_page(cpu, mm, first + i, write) : yield* gup_slow(cpu, mm, first + i, write);
    if (pfn < 0) {
      for (const p of pfns) yield* unpin_user_page(cpu, p);
      return null;
    }
    pfns.push(pfn);
  }
  return pfns;
}

function* unpinPages(cpu: Cpu, pfns: readonly number[]): Gen<void> {
  for (const p of pfns) yield* unpin_user_page(cpu, p);
}

// ---- the registry ------------------------------------------------------------------------------

const NOT_YET = 'is not modelled yet';
/** Every op -> its executor. To plug in a kernel op, replace its Unsupported with the factory line. */
export const OPS: Registry = {
  mmap: op(mmapAnon),
  'mmap:file': op(mmapFile),
  writeback: op(function* (x: Exec, s: WritebackStep) {
    yield* write_cache_pages(x.cpu, s.fileIndex);
  }),
  sync: op(function* (x: Exec) {
    yield* ksys_sync(x.cpu);
  }),
  munmap: op(munmap),
  // mprotect: op(mprotectWith(<mprotect_fixup/change_protection driver>)),
  mprotect: op(mprotectWith(do_mprotect)),
  'madvise:dontneed': op(dontneed),
  'madvise:dontfork': op(madviseForkWith(madvise_dontfork)),
  'madvise:dofork': op(madviseForkWith(madvise_dontfork)),
  mremap: op(mremapWith(do_mremap)),
  read: op(access),
  write: op(access),
  fork: op(forkWith(dup_mm)),
  exit: op(exit),
  // pin: op(pinWith(<pin_user_pages>)), unpin: op(unpinWith(<unpin_user_pages>)),
  pin: op(pinWith(pinPages)),
  unpin: op(unpinWith(unpinPages)),
  'pin-write': op(pinWrite),
  'pin-read': op(pinRead),
  expect: op(expect),
  // conform records the observations after every step: nothing to do
  observe: op(function* () {}),
  // the per-size policy: the anon orders later faults choose from (the model's files are tmpfs
  // files, whose folios no per-size shmem_enabled governs: shmemEnabled is the kernel's only)
  thp: op(function* (x: Exec, s: ThpStep) {
    if (s.enabled !== undefined) thpsize_enabled_store(x.cpu, s.order, s.enabled === 'always');
  }),
  'madvise:free': op(madviseLru),
  'madvise:cold': op(madviseLru),
  'madvise:pageout': op(madviseLru),
  migrate: op(migrate),
  reclaim: op(reclaim),
};
