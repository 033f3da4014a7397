// Kernel paths of the bench, uncontended, on the threads engine's code path: one simulated CPU
// built as a threads CPU task builds it (new Cpu(machine, id, threaded = true)), each path's
// generator run to completion with drive(), in this process (no piscina: one CPU, no contention).
// A rig owns one machine per path; a batch is `calls` calls of the path on fresh folios, with the
// untimed setup before it (map the folios the call needs) and the untimed reset after it.
import { type ConfigInput, defaultConfig } from '../src/config/config.js';
import { Machine, VM_ANON, VM_READ, VM_WRITE } from '../src/machine/machine.js';
import { Cpu } from '../src/machine/cpu.js';
import { drive, setInterleaveSpins } from '../src/machine/gen.js';
import { mem_init } from '../src/linux/mm/page_alloc.js';
import { rng } from '../src/workload/program.js';
import { mm_alloc } from '../src/linux/kernel/fork.js';
import { copyVma, do_mmap, find_vma, type VmaView } from '../src/linux/mm/mmap.js';
import { copy_page_range, handle_mm_fault, unmap_page_range, VM_FAULT_OK } from '../src/linux/mm/memory.js';
import { madvise_dontneed } from '../src/linux/mm/madvise.js';
import { do_mprotect } from '../src/linux/mm/mprotect.js';
import { tlb_finish_mmu, tlb_gather_mmu } from '../src/linux/mm/mmu_gather.js';
import { pte_pfn, pte_present } from '../src/machine/pte.js';
import { buildMachine } from '../src/check/machine.js';

/** The largest anon mTHP order the model enables: PMD_ORDER - 1 (order 8, 1 MiB). */
export const LARGEST_ORDER = 8;

export interface PathSpec {
  /** Key in bench.json (e.g. "fault.order4"). */
  id: string;
  /** What one call is, for the table. */
  label: string;
  /** The kernel entry point one call runs. */
  entry: string;
  /** Calls per timed batch. */
  calls: number;
  /** Config of the rig's machine (on top of the rig defaults). */
  cfg: ConfigInput;
}

/** A machine with one threads-engine CPU and two processes (mm 0: the caller; mm 1: a fork child). */
export class PathRig {
  readonly machine: Machine;
  readonly cpu: Cpu;
  /** The VMAs the path's calls act on, one per call (or one shared by all calls). */
  readonly vmas: VmaView[] = [];
  /** vpn of each call's folio. */
  readonly at: number[] = [];
  readonly nr: number;

  constructor(readonly spec: PathSpec) {
    const cfg = defaultConfig({
      engine: 'threads', cpus: 1, processes: 2, memoryPages: 1 << 16, fragmentation: 0, vaSize: 32 << 20, maxVmas: 12,
      files: { count: 0 }, ...spec.cfg,
    });
    this.machine = buildMachine(cfg);
    mem_init(this.machine, rng(1, 'boot'));
    // as workers/cpu-task.ts builds a CPU of the threads engine
    setInterleaveSpins(cfg.interleaveSpins ?? 0);
    this.cpu = new Cpu(this.machine, 0, true, { step: 0 }, cfg);
    if (!mm_alloc(this.cpu, 0) || !mm_alloc(this.cpu, 1)) throw new Error('bench: mm_alloc failed');
    this.nr = 1 << Math.max(...cfg.anonOrders);
    const rw = VM_READ | VM_WRITE | VM_ANON;
    const base = 2048; // vpn: PTE table 4 of 16
    if (spec.id.startsWith('fork') || spec.id.startsWith('mprotect')) {
      // one VMA per call (copy_page_range and mprotect act on a whole VMA), a gap between them so they never merge
      for (let k = 0; k < spec.calls; k++) {
        const start = base + k * 2 * this.nr;
        const got = drive(do_mmap(this.cpu, 0, this.nr, this.nr, start, rw, true));
        if (got !== start) throw new Error(`bench: mmap at ${start} gave ${got}`);
        this.vmas.push(find_vma(this.machine, 0, start)!);
        this.at.push(start);
        // the child has the VMA before its entries are copied, as dup_mmap gives it (copyVma)
        if (spec.id.startsWith('fork')) copyVma(this.machine, 1, this.vmas[k]);
      }
    } else {
      // faults and zaps: one VMA, a naturally aligned folio per call
      const len = spec.calls * this.nr;
      const got = drive(do_mmap(this.cpu, 0, len, Math.min(this.nr, 512), base, rw, true));
      if (got !== base) throw new Error(`bench: mmap at ${base} gave ${got}`);
      const v = find_vma(this.machine, 0, base)!;
      for (let k = 0; k < spec.calls; k++) {
        this.vmas.push(v);
        this.at.push(base + k * this.nr);
      }
    }
    this.cpu.curOp = spec.id.startsWith('fault') ? 'touch' : spec.id.split('.')[0];
  }

  /** Write-fault every call's folio in (the caller's side of the fork, zap and mprotect paths). */
  populate(): void {
    for (const vpn of this.at) {
      if (drive(handle_mm_fault(this.cpu, 0, vpn, true)) !== VM_FAULT_OK) throw new Error(`bench: fault at ${vpn} failed`);
    }
  }

  /** Zap [start, end) of mm, as zap_page_range_single does (tlb gather, unmap, finish). */
  zap(mm: number, v: VmaView, start: number, end: number): void {
    const tlb = tlb_gather_mmu(this.cpu, mm);
    drive(unmap_page_range(this.cpu, tlb, v, start, end));
    drive(tlb_finish_mmu(this.cpu, tlb));
  }

  /** Zap every call's range in mm (0: the caller, 1: the fork child). */
  zapAll(mm: number): void {
    for (let k = 0; k < this.at.length; k++) this.zap(mm, this.vmas[k], this.at[k], this.at[k] + this.nr);
  }

  /** The order of the folio mapped at vpn of mm 0 (-1: none). */
  orderAt(vpn: number): number {
    const { m, L } = this.machine;
    const pte = Atomics.load(m, this.machine.ptep(0, vpn));
    if (!pte_present(pte)) return -1;
    return Atomics.load(m, L.fOrder + Atomics.load(m, L.pHead + pte_pfn(pte)));
  }
}

/** One path: how to set a batch up, run call k of it, and put the machine back. */
export interface PathOps {
  setup(r: PathRig): void;
  call(r: PathRig, k: number): void;
  reset(r: PathRig): void;
}

const faultOps: PathOps = {
  setup: () => {},
  call: (r, k) => {
    drive(handle_mm_fault(r.cpu, 0, r.at[k], true));
  },
  reset: (r) => r.zapAll(0),
};

export const PATHS: { spec: PathSpec; ops: PathOps }[] = [
  {
    spec: { id: 'fault.order0', label: 'anon write fault, order 0', entry: 'handle_mm_fault', calls: 64, cfg: { anonOrders: [0] } },
    ops: faultOps,
  },
  {
    spec: { id: 'fault.order4', label: 'anon write fault, order 4 (64 KiB)', entry: 'handle_mm_fault', calls: 32, cfg: { anonOrders: [0, 2, 4] } },
    ops: faultOps,
  },
  {
    spec: { id: `fault.order${LARGEST_ORDER}`, label: `anon write fault, order ${LARGEST_ORDER} (largest, 1 MiB)`, entry: 'handle_mm_fault', calls: 8, cfg: { anonOrders: [0, 2, 4, LARGEST_ORDER] } },
    ops: faultOps,
  },
  {
    spec: { id: 'fork.order4', label: 'fork copy of a 64 KiB folio', entry: 'copy_page_range', calls: 8, cfg: { anonOrders: [0, 2, 4] } },
    ops: {
      setup: (r) => r.populate(),
      call: (r, k) => {
        drive(copy_page_range(r.cpu, 1, 0, r.vmas[k]));
      },
      reset: (r) => {
        r.zapAll(1);
        r.zapAll(0);
      },
    },
  },
  {
    spec: { id: 'zap.order4', label: 'zap of a 64 KiB folio (MADV_DONTNEED)', entry: 'madvise_dontneed', calls: 32, cfg: { anonOrders: [0, 2, 4] } },
    ops: {
      setup: (r) => r.populate(),
      call: (r, k) => {
        drive(madvise_dontneed(r.cpu, 0, r.at[k], r.at[k] + r.nr));
      },
      reset: () => {},
    },
  },
  {
    spec: { id: 'mprotect.order4', label: 'mprotect(PROT_READ) of a 64 KiB folio', entry: 'do_mprotect', calls: 8, cfg: { anonOrders: [0, 2, 4] } },
    ops: {
      setup: (r) => {
        if (r.orderAt(r.at[0]) < 0) r.populate();
      },
      call: (r, k) => {
        drive(do_mprotect(r.cpu, 0, r.at[k], r.at[k] + r.nr, VM_READ));
      },
      // back to read-write: exclusive anon entries are made writable again, as the fault left them
      reset: (r) => {
        for (let k = 0; k < r.at.length; k++) drive(do_mprotect(r.cpu, 0, r.at[k], r.at[k] + r.nr, VM_READ | VM_WRITE));
      },
    },
  },
];

/** Run one timed batch: setup, the calls (timed), reset. Returns nanoseconds for the calls. */
export function runBatch(r: PathRig, ops: PathOps): number {
  ops.setup(r);
  const n = r.spec.calls;
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < n; k++) ops.call(r, k);
  const t = Number(process.hrtime.bigint() - t0);
  ops.reset(r);
  return t;
}

/** Check that a batch did what the path says (a folio of the expected order per call, or none after a zap). */
export function checkBatch(r: PathRig, ops: PathOps): string | null {
  ops.setup(r);
  for (let k = 0; k < r.spec.calls; k++) ops.call(r, k);
  const id = r.spec.id;
  const want = id.startsWith('zap') ? -1 : Math.log2(r.nr);
  for (const vpn of r.at) {
    const o = r.orderAt(vpn);
    if (o !== want) return `${id}: vpn ${vpn} maps order ${o}, expected ${want}`;
  }
  if (id.startsWith('fork')) {
    const { m } = r.machine;
    for (const vpn of r.at) if (!pte_present(Atomics.load(m, r.machine.ptep(1, vpn)))) return `${id}: child has no entry at ${vpn}`;
  }
  ops.reset(r);
  return null;
}
