// Test harness: a booted machine with process mm 0, anon VMAs placed by the real do_mmap, several
// CPUs, and a Stepper that advances one CPU's kernel path to its next yield, so a test can script
// an exact interleaving (CPU0 runs alloc_anon_folio's lockless scan, CPU1 completes a whole fault,
// CPU0 takes the PTL and rechecks). After every step the stepper runs the continuous observer
// (refcount >= mapcount for the folios that step touched), as the sched engine does.
import assert from 'node:assert/strict';
import { type Config, type ConfigInput, defaultConfig } from '../../src/config/config.js';
import { Machine, PG_BUDDY, VM_ANON, VM_READ, VM_SHARED, VM_WRITE, VM_WRITENOTIFY } from '../../src/machine/machine.js';
import { mem_init, freePages } from '../../src/linux/mm/page_alloc.js';
import { Cpu, type Clock, Violation } from '../../src/machine/cpu.js';
import { type Gen, WAIT, drive } from '../../src/machine/gen.js';
import { rng } from '../../src/workload/program.js';
import { mm_alloc } from '../../src/linux/kernel/fork.js';
import { do_mmap, find_vma, type VmaView } from '../../src/linux/mm/mmap.js';
import type { VmFault } from '../../src/linux/mm/memory.js';
import { type AccessOut, ACCESS_OK, user_access } from '../../src/workload/access.js';
import { checkRead, makeToken, ownerOf, recordWrite } from '../../src/check/oracle.js';
import { checkRefVsMap, type Finding } from '../../src/check/invariants.js';
import { pte_pfn, pte_present } from '../../src/machine/pte.js';
import { buildMachine } from '../../src/check/machine.js';
import { waitName } from '../../src/diag/hang.js';
import { folioOrder, folioOf } from '../../src/check/folio.js';

// Plain reads of struct page / folio words that only tests make (the tool reads them where it
// needs them; kept out of src/machine so no mutant lands in code no run executes).
/** The folio's order (the tool's read, src/check/folio.ts). */
export { folioOrder };
/** The folio's reference count (folio_ref_count). */
export const folioRef = (machine: Machine, head: number): number => Atomics.load(machine.m, machine.L.fRef + head);
/** The folio's mapcount (folio_mapcount). */
export const folioMapcount = (machine: Machine, head: number): number => Atomics.load(machine.m, machine.L.fMapcount + head);
/** Page pfn's own mapcount (page_mapcount). */
export const pageMapcount = (machine: Machine, pfn: number): number => Atomics.load(machine.m, machine.L.pMapcount + pfn);
/** The folio's flags (FOLIO_*). */
export const folioFlags = (machine: Machine, head: number): number => Atomics.load(machine.m, machine.L.fFlags + head);
/** Is page pfn free, in the buddy allocator (PageBuddy)? */
export const isFree = (machine: Machine, pfn: number): boolean => (machine.pageFlags(pfn) & PG_BUDDY) !== 0;

export interface Harness {
  machine: Machine;
  cfg: Config;
  clock: Clock;
  cpus: Cpu[];
  /** Findings of the continuous observer, collected by every Stepper of this harness. */
  observed: Finding[];
  /** Free pages right after boot. */
  bootFree: number;
}

export interface BootOptions {
  /** Create process mm 0 (default true). */
  process?: boolean;
}

/** A booted machine (fragmentation 0 unless the overrides say otherwise) with cfg.cpus CPUs. */
export function boot(over: ConfigInput = {}, opts: BootOptions = {}): Harness {
  const cfg = defaultConfig({ fragmentation: 0, ...over });
  const machine = buildMachine(cfg);
  mem_init(machine, rng(1, 'boot'));
  const clock: Clock = { step: 0 };
  const cpus: Cpu[] = [];
  for (let i = 0; i < cfg.cpus; i++) cpus.push(new Cpu(machine, i, false, clock, cfg));
  const h: Harness = { machine, cfg, clock, cpus, observed: [], bootFree: freePages(machine) };
  if (opts.process !== false) assert.ok(mm_alloc(cpus[0], 0), 'mm_alloc(0) on a fresh machine');
  return h;
}

/**
 * Replace CPU id with one that runs under a different config (same machine). Models a per-CPU
 * difference such as the mTHP sysfs `enabled` files being changed between two faults.
 */
export function cpuWithConfig(h: Harness, id: number, over: Partial<Config>): Cpu {
  const cfg: Config = { ...h.cfg, ...over };
  const cpu = new Cpu(h.machine, id, false, h.clock, cfg);
  h.cpus[id] = cpu;
  return cpu;
}

/**
 * Map an anonymous private read/write VMA of len pages at exactly vpn start, through the real
 * do_mmap (hint = start, align as given, which must divide start), and assert it landed there.
 */
export function mapAnon(h: Harness, start: number, len: number, opts: { mm?: number; align?: number; flags?: number } = {}): VmaView {
  const mm = opts.mm ?? 0;
  const align = opts.align ?? 1;
  assert.equal(start % align, 0, 'mapAnon: start must be aligned');
  const got = drive(do_mmap(h.cpus[0], mm, len, align, start, opts.flags ?? VM_READ | VM_WRITE | VM_ANON));
  assert.equal(got, start, `do_mmap landed at ${got}, wanted ${start}`);
  const v = find_vma(h.machine, mm, start);
  assert.ok(v && v.start === start && v.end === start + len);
  return v;
}

/**
 * Map file pages [pgoff, pgoff + len) of file at exactly vpn start through the real do_mmap: shared
 * (default) or private, read/write, write notification as asked (default off: tmpfs-like).
 */
export function mapFile(h: Harness, start: number, len: number, opts: { mm?: number; file?: number; pgoff?: number; shared?: boolean; writenotify?: boolean } = {}): VmaView {
  const mm = opts.mm ?? 0;
  const shared = opts.shared ?? true;
  const flags = VM_READ | VM_WRITE | (shared ? VM_SHARED | (opts.writenotify ? VM_WRITENOTIFY : 0) : 0);
  const pgoff = opts.pgoff ?? 0;
  const got = drive(do_mmap(h.cpus[0], mm, len, 1, start, flags, true, opts.file ?? 0, pgoff));
  assert.equal(got, start, `do_mmap(file) landed at ${got}, wanted ${start}`);
  const v = find_vma(h.machine, mm, start)!;
  assert.equal(v.file, opts.file ?? 0);
  return v;
}

/** struct vm_fault for (mm, vpn, write), built the way handle_mm_fault builds it (populates the table). */
export function makeVmf(h: Harness, mm: number, vpn: number, write: boolean): VmFault {
  const machine = h.machine;
  const vma = find_vma(machine, mm, vpn);
  assert.ok(vma, `no VMA at vpn ${vpn}`);
  const table = machine.tableIndex(mm, vpn);
  Atomics.compareExchange(machine.m, machine.pgdWord(table), 0, 1);
  return { mm, vma, vpn, write, table, ptep: machine.ptep(mm, vpn), ptl: machine.ptlOf(table), orig: 0 };
}

/** Advance one CPU's kernel path yield by yield. */
export class Stepper<T> {
  done = false;
  value: T | undefined;
  /** The point id of the last yield (see P in engine/gen.ts). */
  last = 0;
  steps = 0;
  constructor(readonly h: Harness, readonly cpu: Cpu, private readonly gen: Gen<T>) {}

  /** Can this CPU advance now (not finished, not blocked on a lock)? */
  runnable(): boolean {
    return !this.done && (this.cpu.waitFor === null || this.cpu.waitFor());
  }

  /** Run to the next yield (or the end). Throws if the CPU is blocked. Returns false once done. */
  step(): boolean {
    if (this.done) return false;
    if (this.cpu.waitFor !== null && !this.cpu.waitFor()) throw new Error(`CPU ${this.cpu.id} is blocked on ${waitName(this.cpu.machine, this.cpu)}`);
    this.cpu.waitFor = null;
    this.h.clock.step++;
    this.steps++;
    const r = this.gen.next();
    const t = this.cpu.touched;
    for (const f of t) {
      const found = checkRefVsMap(this.h.machine, f);
      if (found) this.h.observed.push(found);
    }
    t.length = 0;
    if (r.done) {
      this.done = true;
      this.value = r.value;
      return false;
    }
    this.last = r.value;
    return true;
  }

  /** Step until pred() holds (checked after each step). Fails if the path ends or blocks first. */
  until(pred: () => boolean, what = 'condition', limit = 100_000): this {
    for (let i = 0; i < limit; i++) {
      if (pred()) return this;
      if (!this.step()) {
        if (pred()) return this;
        throw new Error(`CPU ${this.cpu.id} finished before ${what}`);
      }
    }
    throw new Error(`CPU ${this.cpu.id}: ${what} not reached in ${limit} steps`);
  }

  /** Step until the CPU's counter for event code ev reaches at least n. */
  untilEvent(ev: number, n = 1): this {
    return this.until(() => this.cpu.counters[ev] >= n, `event ${ev} x${n}`);
  }

  /** Step until the last yield was point p. */
  untilPoint(p: number): this {
    return this.until(() => !this.done && this.last === p && this.steps > 0, `yield point ${p}`);
  }

  /** Run to completion (fails if blocked, i.e. it needs another CPU to move first). */
  finish(): T {
    while (this.step()) {
      /* next */
    }
    return this.value as T;
  }
}

export function stepper<T>(h: Harness, cpu: number | Cpu, gen: Gen<T>): Stepper<T> {
  const c = typeof cpu === 'number' ? h.cpus[cpu] : cpu;
  return new Stepper(h, c, gen);
}

/** Run a path alone to completion through a Stepper (so the observer runs); asserts it never blocks. */
export function run<T>(h: Harness, cpu: number | Cpu, gen: Gen<T>): T {
  return stepper(h, cpu, gen).finish();
}

/** Is the generator's current yield a WAIT? (helper for scripted lock scenarios) */
export const isWait = (s: Stepper<unknown>): boolean => s.last === WAIT;

export function newAccessOut(): AccessOut {
  return { status: 0, value: 0, pfn: 0, g1: 0, g2: 0, faults: 0, forkRaced: false, forkChild: -1 };
}

let version = 0;
/** A fresh write token for (mm, vpn). */
export function token(mm: number, vpn: number): number {
  return makeToken(++version, mm, vpn);
}

/**
 * A user store of a fresh token through the MMU, as the workload's touch does, recording it in
 * the data oracle afterwards. Returns the AccessOut (pfn written, faults taken).
 */
export function writePage(h: Harness, cpu: number | Cpu, mm: number, vpn: number): AccessOut & { token: number } {
  const out = newAccessOut();
  const tok = token(mm, vpn);
  run(h, cpu, user_access(typeof cpu === 'number' ? h.cpus[cpu] : cpu, mm, vpn, true, tok, out));
  assert.equal(out.status, ACCESS_OK, `write at vpn ${vpn}`);
  // a store into a page cache page was recorded in the file oracle by the MMU, with a file token
  if (!(out.fp !== undefined && out.fp >= 0)) recordWrite(h.machine, mm, vpn, tok, out.g1, out.g2);
  return { ...out, token: out.value };
}

/** A user load through the MMU, checked by the data oracle as the workload's touch checks it. */
export function readPage(h: Harness, cpu: number | Cpu, mm: number, vpn: number): AccessOut {
  const c = typeof cpu === 'number' ? h.cpus[cpu] : cpu;
  const out = newAccessOut();
  run(h, c, user_access(c, mm, vpn, false, 0, out));
  assert.equal(out.status, ACCESS_OK, `read at vpn ${vpn}`);
  const v = find_vma(h.machine, mm, vpn)!;
  checkRead(c, mm, vpn, out.value, out.g1, out.g2, out.pfn, out.tag, out.fp, v.file >= 0 ? h.machine.filePage(v.file, v.pgoff + vpn - v.start) : -1);
  return out;
}

/** The PTE word at (mm, vpn) (0 when its table is not populated). */
export function pteAt(h: Harness, mm: number, vpn: number): number {
  const machine = h.machine;
  if (!Atomics.load(machine.m, machine.pgdWord(machine.tableIndex(mm, vpn)))) return 0;
  return Atomics.load(machine.m, machine.ptep(mm, vpn));
}

/** Head pfn and order of the folio mapped at (mm, vpn), or null if the PTE is not present. */
export function folioAt(h: Harness, mm: number, vpn: number): { pfn: number; folio: number; order: number } | null {
  const pte = pteAt(h, mm, vpn);
  if (!pte_present(pte)) return null;
  const pfn = pte_pfn(pte);
  const folio = folioOf(h.machine, pfn);
  return { pfn, folio, order: folioOrder(h.machine, folio) };
}

/** Sum of one event over every CPU of the harness. */
export function total(h: Harness, ev: number): number {
  return h.cpus.reduce((s, c) => s + c.counters[ev], 0);
}

/** Sorted distinct invariant names of a list of findings. */
export function invariants(found: readonly { invariant: string }[]): string[] {
  return [...new Set(found.map((f) => f.invariant))].sort();
}

/** An order-4 folio mapped at [start, start+16) of mm 0 (one VMA), every page written by its owner CPU; the tokens. */
export function bigFolio(h: Harness, start = 1024): number[] {
  mapAnon(h, start, 16, { align: 16 });
  const tokens: number[] = [];
  for (let v = start; v < start + 16; v++) tokens.push(writePage(h, ownerOf(h.machine, v), 0, v).token);
  assert.equal(folioAt(h, 0, start)!.order, 4);
  return tokens;
}

/** The Violation fn throws (any other exception passes through; no exception fails the test). */
export function violationOf(fn: () => unknown): Violation {
  try {
    fn();
  } catch (e) {
    if (e instanceof Violation) return e;
    throw e;
  }
  assert.fail('expected a Violation');
}
