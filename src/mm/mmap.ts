// Models mm/mmap.c and mm/vma.c: the VMA table of an mm (a fixed array of slots here, not a maple
// tree), mmap with get_unmapped_area, munmap with VMA splitting, and exit_mmap.
import type { Cpu } from '../engine/cpu.js';
import { type Gen, P } from '../engine/gen.js';
import { EV } from '../engine/events.js';
import { Machine, VM_LIVE } from '../model/machine.js';
import { MM } from '../model/layout.js';
import { PTRS_PER_PTE } from '../config.js';
import { down_write, up_write } from '../kernel/locking/rwsem.js';
import { tlb_finish_mmu, tlb_gather_mmu } from './mmu_gather.js';
import { unmap_page_range } from './memory.js';
import { flush_tlb_mm } from '../hw/tlb.js';

export interface VmaView {
  slot: number;
  start: number; // vpn
  end: number; // vpn, exclusive
  flags: number;
}

export function readVma(machine: Machine, mm: number, slot: number): VmaView | null {
  const b = machine.vmaBase(mm, slot);
  const flags = Atomics.load(machine.m, b + 2);
  if (!(flags & VM_LIVE)) return null;
  return { slot, start: Atomics.load(machine.m, b), end: Atomics.load(machine.m, b + 1), flags };
}

/** All live VMAs of mm, sorted by start. */
export function vmas(machine: Machine, mm: number): VmaView[] {
  const out: VmaView[] = [];
  for (let s = 0; s < machine.L.maxVmas; s++) {
    const v = readVma(machine, mm, s);
    if (v) out.push(v);
  }
  return out.sort((a, b) => a.start - b.start);
}

/** find_vma() with the containment check of vma_lookup(): the VMA containing vpn, or null. */
export function find_vma(machine: Machine, mm: number, vpn: number): VmaView | null {
  for (let s = 0; s < machine.L.maxVmas; s++) {
    const v = readVma(machine, mm, s);
    if (v && vpn >= v.start && vpn < v.end) return v;
  }
  return null;
}

function writeVma(machine: Machine, mm: number, slot: number, start: number, end: number, flags: number): void {
  const b = machine.vmaBase(mm, slot);
  Atomics.store(machine.m, b + 2, 0);
  Atomics.store(machine.m, b, start);
  Atomics.store(machine.m, b + 1, end);
  Atomics.store(machine.m, b + 2, flags | VM_LIVE);
}
/** vm_area_dup() for fork: the child gets the same VMA in the same slot. */
export function copyVma(machine: Machine, child: number, v: VmaView): void {
  writeVma(machine, child, v.slot, v.start, v.end, v.flags);
}
function clearVma(machine: Machine, mm: number, slot: number): void {
  Atomics.store(machine.m, machine.vmaBase(mm, slot) + 2, 0);
}
function freeSlot(machine: Machine, mm: number): number {
  for (let s = 0; s < machine.L.maxVmas; s++) if (!readVma(machine, mm, s)) return s;
  return -1;
}

/**
 * get_unmapped_area(): the first gap at or after hint (wrapping once) that fits len pages at the
 * given alignment. Page 0..PTRS_PER_PTE-1 stays unmapped (the NULL guard). Returns vpn or -1.
 */
export function get_unmapped_area(machine: Machine, mm: number, len: number, align: number, hint: number): number {
  const top = machine.L.vaPages;
  const list = vmas(machine, mm);
  const tryFrom = (from: number, limit: number): number => {
    let start = Math.max(PTRS_PER_PTE, Math.ceil(from / align) * align);
    for (;;) {
      if (start + len > limit) return -1;
      const clash = list.find((v) => v.start < start + len && start < v.end);
      if (!clash) return start;
      start = Math.ceil(clash.end / align) * align;
    }
  };
  const a = tryFrom(hint, top);
  return a >= 0 ? a : tryFrom(0, top);
}

/**
 * do_mmap() of an anonymous private mapping; returns the start vpn or -1 (ENOMEM, or EEXIST for a
 * fixed mapping). fixed models MAP_FIXED_NOREPLACE: exactly at hint, or fail if anything is there.
 */
export function* do_mmap(cpu: Cpu, mm: number, len: number, align: number, hint: number, flags: number, fixed = false): Gen<number> {
  const machine = cpu.machine;
  const lw = machine.mmWord(mm, MM.MMAP_LOCK);
  yield* down_write(cpu, lw);
  yield P.VMA;
  let start = -1;
  const slot = freeSlot(machine, mm);
  if (slot >= 0 && fixed) {
    const fits = hint >= 0 && hint + len <= machine.L.vaPages && !vmas(machine, mm).some((v) => v.start < hint + len && hint < v.end);
    start = fits ? hint : -1;
  } else if (slot >= 0) start = get_unmapped_area(machine, mm, len, align, hint);
  if (start >= 0) {
    writeVma(machine, mm, slot, start, start + len, flags);
    cpu.ev(EV.MMAP, start, len);
  } else cpu.ev(EV.MMAP_FAIL, len);
  up_write(cpu, lw);
  return start;
}

/**
 * do_munmap(): detach [start, end) from every VMA it overlaps (splitting when it punches a hole),
 * then zap the range. Returns 0, or -1 when a split needs a VMA slot and none is free (ENOMEM).
 */
export function* do_munmap(cpu: Cpu, mm: number, start: number, end: number): Gen<number> {
  const machine = cpu.machine;
  const lw = machine.mmWord(mm, MM.MMAP_LOCK);
  yield* down_write(cpu, lw);
  yield P.VMA;
  const hit = vmas(machine, mm).filter((v) => v.start < end && start < v.end);
  const holes = hit.filter((v) => v.start < start && end < v.end).length;
  let free = 0;
  for (let s = 0; s < machine.L.maxVmas; s++) if (!readVma(machine, mm, s)) free++;
  if (holes > free) {
    up_write(cpu, lw);
    return -1;
  }
  const tlb = tlb_gather_mmu(mm);
  for (const v of hit) {
    // vms_gather_munmap_vmas(): detach first, then unmap_region() zaps what was detached.
    if (v.start < start && end < v.end) {
      writeVma(machine, mm, v.slot, v.start, start, v.flags);
      writeVma(machine, mm, freeSlot(machine, mm), end, v.end, v.flags);
    } else if (v.start < start) writeVma(machine, mm, v.slot, v.start, start, v.flags);
    else if (end < v.end) writeVma(machine, mm, v.slot, end, v.end, v.flags);
    else clearVma(machine, mm, v.slot);
    yield* unmap_page_range(cpu, tlb, v, start, end);
  }
  yield* tlb_finish_mmu(cpu, tlb);
  cpu.ev(EV.MUNMAP, start, end - start);
  up_write(cpu, lw);
  return 0;
}

/** exit_mmap(): the last mmput() tears down every mapping and page table of the mm. */
export function* exit_mmap(cpu: Cpu, mm: number): Gen<void> {
  const machine = cpu.machine;
  const lw = machine.mmWord(mm, MM.MMAP_LOCK);
  yield* down_write(cpu, lw);
  const tlb = tlb_gather_mmu(mm, true);
  for (const v of vmas(machine, mm)) {
    yield* unmap_page_range(cpu, tlb, v, v.start, v.end);
    clearVma(machine, mm, v.slot);
  }
  yield* tlb_finish_mmu(cpu, tlb);
  yield* flush_tlb_mm(cpu, mm);
  // free_pgtables(): every table must be empty now
  for (let t = 0; t < machine.L.tablesPerMm; t++) {
    const table = mm * machine.L.tablesPerMm + t;
    Atomics.store(machine.m, machine.pgdWord(table), 0);
  }
  up_write(cpu, lw);
}

