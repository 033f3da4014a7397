// One observation model for both sides of `conform` (issue 16): per scenario step, what a process
// can see of its pages through /proc (present, the zero page, the folio: head, order, index,
// per-page mapcount), its RSS, and for a read the data it loaded, named by the write that stored
// it. The kernel side parses the executor's JSON lines into it (parseConsole); the model side
// records the same from the machine after each step (observeModel).
import type { Scenario, Step } from '../scenario/format.js';
import { PAGE_SIZE } from '../scenario/format.js';
import { runScenario, type ScenarioResult } from '../scenario/runner.js';
import type { Exec } from '../scenario/ops.js';
import { ZERO_PFN } from '../machine/machine.js';
import { MM } from '../machine/layout.js';
import { EV } from '../machine/events.js';
import { pte_pfn, pte_present, pte_special } from '../machine/pte.js';
import { liveAfter, observedRanges, observesAfter, writeTag } from './compile.js';
import type { KernelProfile } from '../machine/params.js';
import { folioOf } from '../check/folio.js';
import { FOLIO_ANON, FOLIO_DIRTY } from '../machine/machine.js';
import { find_vma_plain } from '../linux/mm/mmap.js';

/** The model's profile for a kernel release (`uname -r`): 6.12.x is "6.12", anything else mainline. */
export const profileOf = (release: string | undefined): KernelProfile => (release && /^6\.12(\.|$|-)/.test(release) ? '6.12' : 'mainline');

export interface PageObs {
  proc: string;
  addr: number;
  present: boolean;
  /** present only: */
  zero?: boolean;
  /** the folio's head, in the side's own numbering (a kernel PFN, a model pfn): compared as first-appearance ids */
  head?: number;
  order?: number;
  idx?: number;
  mapcount?: number;
  /** present, not the zero page: a page-cache (file or shmem) folio, not anon (pagemap PM_FILE) */
  file?: boolean;
  /** a file folio's dirty flag (KPF_DIRTY, PG_dirty); undefined for anon folios */
  dirty?: boolean;
  /** pagemap bit 55: the PTE's soft-dirty bit or the VMA's VM_SOFTDIRTY; false outside any VMA */
  softDirty?: boolean;
}
export interface RssObs {
  proc: string;
  anonKb: number;
  /** file and shmem pages (the model's files are tmpfs-like: the kernel counts them as RssShmem) */
  fileKb: number;
}
/** A read's value per page: "w<tag>.<page>" (the write of step tag - 1, page index in its range), "0", or null (faulted). */
export type ReadValue = string | null;
export interface StepObs {
  step: number;
  op: string;
  /** the kernel's syscall result (the model's is not compared: its ops report failures as step failures) */
  ret?: number;
  errno?: number;
  minflt?: number;
  values?: ReadValue[];
  /** anon folios of each mTHP order (2..9) the step's faults allocated (the kernel's anon_fault_alloc deltas) */
  anonAlloc?: Record<number, number>;
  pages: PageObs[];
  rss: RssObs[];
}
export interface ScenarioObs {
  steps: StepObs[];
  /** kernel side: what went wrong in the executor (an error line), if anything */
  error?: string;
  ms?: number;
}

/** The name of the value a read loaded: the executor's (tag << 32) | index, or 0. */
export function valueName(v: bigint): ReadValue {
  if (v === 0n) return '0';
  return `w${v >> 32n}.${v & 0xffffffffn}`;
}

/**
 * Run sc on the model and record, after every step the kernel side observes, the same fields as
 * the executor. The result of the run too: a model failure stops the recording there.
 */
export function observeModel(sc0: Scenario, inject: readonly string[] = [], kernel?: KernelProfile): { result: ScenarioResult; obs: ScenarioObs } {
  // the kernel's version decides the model's profile; the scenario's expects are its author's
  // claims about the model (the scenario command checks them), not observations: not run here
  const sc: Scenario = kernel ? { ...sc0, config: { ...sc0.config, kernel } } : sc0;
  const ranges = observedRanges(sc);
  const live = liveAfter(sc);
  const steps: StepObs[] = [];
  /** data token -> the write that stored it ("w<tag>.<index>") */
  const names = new Map<number, string>();
  // the model's faults and anon allocations per step: counter deltas between steps
  let lastFaults = 0;
  let lastAlloc: number[] = [];
  const afterStep = (step: Step, x: Exec): void => {
    const machine = x.machine;
    const { m, L } = machine;
    const c = x.cpu.counters;
    // faults that were handled: the kernel counts no minor fault for an access it refuses
    // (access_error() sends SIGSEGV before handle_mm_fault, mm_account_fault skips errors)
    const handled = c[EV.FAULT] - c[EV.FAULT_SEGV];
    const faults = handled - lastFaults;
    lastFaults = handled;
    const alloc: Record<number, number> = {};
    for (let o = 2; o <= 9; o++) {
      const d = c[EV.MAP_ANON + o] - (lastAlloc[o] ?? 0);
      if (d) alloc[o] = d;
      lastAlloc[o] = c[EV.MAP_ANON + o];
    }
    const pteOf = (mm: number, vpn: number): number => (Atomics.load(m, machine.pgdWord(machine.tableIndex(mm, vpn))) ? Atomics.load(m, machine.ptep(mm, vpn)) : 0);
    if (step.op === 'write' && !step.expectFault) {
      const mm = x.mm(step.proc);
      for (let i = 0; i < step.len / PAGE_SIZE; i++) {
        const pte = pteOf(mm, step.addr / PAGE_SIZE + i);
        if (pte_present(pte)) names.set(Atomics.load(m, L.pContent + pte_pfn(pte)), `w${writeTag(step.index)}.${i}`);
      }
    }
    if (!observesAfter(step)) return;
    const o: StepObs = { step: step.index, op: step.op, minflt: faults, anonAlloc: alloc, pages: [], rss: [] };
    if (step.op === 'read') {
      const mm = x.mm(step.proc);
      o.values = [];
      for (let i = 0; i < step.len / PAGE_SIZE; i++) {
        const pte = pteOf(mm, step.addr / PAGE_SIZE + i);
        if (!pte_present(pte)) {
          o.values.push(null);
          continue;
        }
        const c = pte_special(pte) ? 0 : Atomics.load(m, L.pContent + pte_pfn(pte));
        o.values.push(c === 0 ? '0' : (names.get(c) ?? `model-token-${c.toString(16)}`));
      }
    }
    for (const p of live[step.index]) {
      const mm = x.mm(p);
      for (const r of ranges) {
        for (let a = r.addr; a < r.addr + r.len; a += PAGE_SIZE) {
          const pte = pteOf(mm, a / PAGE_SIZE);
          // soft-dirty: every VMA has VM_SOFTDIRTY (mmap sets it on a new VMA, fork and mremap
          // copy it; only a clear_refs write of 4, which scenarios have not, clears it), and
          // pagemap reports it for every page of such a VMA, mapped or not (pte_to_pagemap_entry,
          // pagemap_pte_hole): the model's PTEs carry no soft-dirty bit of their own
          const softDirty = find_vma_plain(machine, mm, a / PAGE_SIZE) !== null;
          if (!pte_present(pte)) {
            o.pages.push({ proc: p, addr: a, present: false, softDirty });
            continue;
          }
          const pfn = pte_pfn(pte);
          if (pfn === ZERO_PFN && pte_special(pte)) {
            o.pages.push({ proc: p, addr: a, present: true, zero: true, softDirty });
            continue;
          }
          const head = folioOf(machine, pfn);
          const flags = Atomics.load(m, L.fFlags + head);
          const file = !(flags & FOLIO_ANON);
          o.pages.push({ proc: p, addr: a, present: true, zero: false, head, order: Atomics.load(m, L.fOrder + head), idx: pfn - head, mapcount: Atomics.load(m, L.pMapcount + pfn), file, ...(file ? { dirty: !!(flags & FOLIO_DIRTY) } : {}), softDirty });
        }
      }
      o.rss.push({ proc: p, anonKb: Atomics.load(m, machine.mmWord(mm, MM.RSS_ANON)) * 4, fileKb: Atomics.load(m, machine.mmWord(mm, MM.RSS_FILE)) * 4 });
    }
    steps.push(o);
  };
  const result = runScenario(sc, { inject, afterStep, ops: { expect: function* () {} } });
  return { result, obs: { steps } };
}

/** One JSON line of the executor (vm/README.md). */
type Line = Record<string, unknown> & { t: string };

/** The executor's console output: per scenario id, its observations; plus the boot line and anything malformed. */
export function parseConsole(text: string): { boot?: { uname: string }; done: boolean; scenarios: Map<number, ScenarioObs>; errors: string[]; missing: string[] } {
  const scenarios = new Map<number, ScenarioObs>();
  const errors: string[] = [];
  const missing: string[] = [];
  let boot: { uname: string } | undefined;
  let done = false;
  let current: number | undefined;
  /** per step, the absolute anon_fault_alloc per order of its last thp line */
  const thpAbs = new Map<StepObs, Record<number, number>>();
  const stepOf = (sid: number, step: number, op = ''): StepObs => {
    let sc = scenarios.get(sid);
    if (!sc) scenarios.set(sid, (sc = { steps: [] }));
    let s = sc.steps.find((x) => x.step === step);
    if (!s) sc.steps.push((s = { step, op, pages: [], rss: [] }));
    if (op && !s.op) s.op = op;
    return s;
  };
  for (const raw of text.split(/\r?\n/)) {
    const i = raw.indexOf('{"t":');
    if (i < 0) continue;
    let l: Line;
    try {
      l = JSON.parse(raw.slice(i)) as Line;
    } catch {
      continue; // a line the kernel's own output cut through
    }
    const sid = Number(l.sid), step = Number(l.step);
    switch (l.t) {
      case 'boot':
        boot = { uname: String(l.uname) };
        break;
      case 'done':
        done = true;
        break;
      case 'missing': // what the booted kernel lacks that the executor needs
        missing.push(`${String(l.what)} (${String(l.config)})`);
        break;
      case 'error': {
        // an error inside a scenario (between its begin and end lines) is that scenario's; any
        // other is the boot's (vm/README.md: the executor's own checks)
        const msg = `executor: ${l.line !== undefined ? `line ${String(l.line)}: ` : ''}${String(l.msg)}`;
        const sc = current !== undefined ? scenarios.get(current) : undefined;
        if (sc) sc.error ??= msg;
        else errors.push(msg);
        break;
      }
      case 'begin':
        if (!scenarios.has(sid)) scenarios.set(sid, { steps: [] });
        current = sid;
        break;
      case 'end': {
        const sc = scenarios.get(sid);
        if (sc) sc.ms = Number(l.ms);
        current = undefined;
        break;
      }
      case 'op': {
        const s = stepOf(sid, step, String(l.op));
        s.ret = Number(l.ret);
        s.errno = Number(l.errno);
        // every fault the step took: minor, and major (a file page read from disk: ext4 files)
        s.minflt = Number(l.minflt) + Number(l.majflt ?? 0);
        if (Array.isArray(l.values)) s.values = (l.values as string[]).map((v) => valueName(BigInt(v)));
        break;
      }
      case 'page': {
        const s = stepOf(sid, step);
        const present = Number(l.present) === 1;
        const addr = Number(l.addr);
        const softDirty = l.softdirty === undefined ? undefined : Number(l.softdirty) === 1;
        const file = Number(l.file) === 1;
        if (!present) s.pages.push({ proc: String(l.proc), addr, present, softDirty });
        else if (Number(l.zero) === 1) s.pages.push({ proc: String(l.proc), addr, present, zero: true, softDirty });
        else s.pages.push({ proc: String(l.proc), addr, present, zero: false, head: Number(l.head), order: Number(l.order), idx: Number(l.idx), mapcount: Number(l.mapcount), file, ...(file ? { dirty: Number(l.dirty) === 1 } : {}), softDirty });
        break;
      }
      case 'thp': {
        const s = stepOf(sid, step);
        const sizes = (l.sizes ?? {}) as Record<string, Record<string, number>>;
        const abs: Record<number, number> = {};
        for (const [kb, st] of Object.entries(sizes)) {
          const order = Math.log2((Number(kb) * 1024) / PAGE_SIZE);
          if (Number.isInteger(order) && order >= 2 && st.anon_fault_alloc !== undefined) abs[order] = st.anon_fault_alloc;
        }
        thpAbs.set(s, abs); // the last observe of the step wins
        break;
      }
      case 'rss':
        stepOf(sid, step).rss.push({ proc: String(l.proc), anonKb: Number(l.anon), fileKb: Number(l.file) + Number(l.shmem ?? 0) });
        break;
      default:
        break;
    }
  }
  // anon_fault_alloc is global and absolute: each step's delta from the step before (the first
  // observed step has no base and is not compared)
  for (const sc of scenarios.values()) {
    sc.steps.sort((a, b) => a.step - b.step);
    let prev: Record<number, number> | undefined;
    for (const st of sc.steps) {
      const abs = thpAbs.get(st);
      if (!abs) continue;
      if (prev) {
        const d: Record<number, number> = {};
        for (const [o, n] of Object.entries(abs)) if (n - (prev[Number(o)] ?? 0)) d[Number(o)] = n - (prev[Number(o)] ?? 0);
        st.anonAlloc = d;
      }
      prev = abs;
    }
  }
  return { boot, done, scenarios, errors, missing };
}
