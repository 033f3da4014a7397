// Models the generic batched PTE helpers of include/linux/pgtable.h (the per-entry loops an
// architecture without contpte gets). Every helper takes word indexes into the machine buffer.
import type { Cpu } from '../../engine/cpu.js';
import { type Gen, P } from '../../engine/gen.js';
import { PTE_DIRTY, PTE_WRITE, PTE_YOUNG, pte_advance_pfn } from '../../model/pte.js';

/** ptep_get(): one lockless read of a PTE. */
export function ptep_get(cpu: Cpu, ptep: number): number {
  return Atomics.load(cpu.m, ptep);
}

/** pte_range_none(): true if all nr entries from ptep read none (mm/memory.c helper). */
export function pte_range_none(cpu: Cpu, ptep: number, nr: number): boolean {
  for (let i = 0; i < nr; i++) if (Atomics.load(cpu.m, ptep + i) !== 0) return false;
  return true;
}

/**
 * set_ptes(): install nr consecutive entries, advancing the PFN. PTL held. The generic form is a
 * loop of set_pte(); we yield between entries because a lockless walker (the MMU, the unlocked
 * scan in alloc_anon_folio) can observe a half-populated range.
 */
export function* set_ptes(cpu: Cpu, ptep: number, pte: number, nr: number): Gen<void> {
  for (let i = 0; i < nr; i++) {
    Atomics.store(cpu.m, ptep + i, pte);
    pte = pte_advance_pfn(pte, 1);
    if (i + 1 < nr) yield P.SET_PTE;
  }
}

/** ptep_get_and_clear(): atomically clear one entry and return what it held (with any a/d bits). */
export function ptep_get_and_clear(cpu: Cpu, ptep: number): number {
  return Atomics.exchange(cpu.m, ptep, 0);
}

/**
 * get_and_clear_full_ptes(): clear nr entries and return the first with the young/dirty bits of
 * every entry ORed in, so a bit that hardware set on any entry of the batch is not lost.
 */
export function get_and_clear_full_ptes(cpu: Cpu, ptep: number, nr: number): number {
  let pte = ptep_get_and_clear(cpu, ptep);
  for (let i = 1; i < nr; i++) {
    const t = ptep_get_and_clear(cpu, ptep + i);
    pte |= t & (PTE_DIRTY | PTE_YOUNG);
  }
  return pte;
}

/** clear_full_ptes(): clear nr entries, discarding a/d bits (anon folios do not need them). */
export function clear_full_ptes(cpu: Cpu, ptep: number, nr: number): void {
  for (let i = 0; i < nr; i++) ptep_get_and_clear(cpu, ptep + i);
}

/**
 * wrprotect_ptes(): clear the write bit of nr entries, one atomic and-not each (ptep_set_wrprotect),
 * so a dirty or young bit that hardware sets at the same moment is kept.
 */
export function wrprotect_ptes(cpu: Cpu, ptep: number, nr: number): void {
  for (let i = 0; i < nr; i++) Atomics.and(cpu.m, ptep + i, ~PTE_WRITE);
}
