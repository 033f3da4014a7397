// The raw PTE accessors every architecture builds on (the kernel's __ptep_get, __set_ptes, ...:
// arm64 defines them in arch/arm64/include/asm/pgtable.h, other arches get READ_ONCE/WRITE_ONCE
// forms through include/linux/pgtable.h), and the (mm, vpn) of an entry word. A module of their
// own so that include/linux/pgtable.ts (which dispatches to arm64) and the arm64 layer (which
// builds on them) both import them without a cycle. Every PTE write of kernel code goes through
// these (or notes itself with cpu.notePteWrite), so the checker knows which entries a PTL hold changed.
import type { Cpu } from '../../../machine/cpu.js';
import { type Gen, P } from '../../../machine/gen.js';
import type { Machine } from '../../../machine/machine.js';
import { PTRS_PER_PTE } from '../../../machine/params.js';
import { PTE_WRITE, PTE_YOUNG, pte_advance_pfn } from '../../../machine/pte.js';

/** cydp_t (include/linux/pgtable.h): what clear_young_dirty_ptes() clears. */
export const CYDP_CLEAR_YOUNG = 1;
export const CYDP_CLEAR_DIRTY = 2;

/** The (mm, vpn) an entry word belongs to. */
export function ptepAddr(machine: Machine, ptep: number): { mm: number; vpn: number } {
  const i = ptep - machine.L.pte;
  const per = machine.L.tablesPerMm * PTRS_PER_PTE;
  return { mm: Math.floor(i / per), vpn: i % per };
}

/** __ptep_get(): one lockless read of one entry, exactly as stored. */
export function __ptep_get(cpu: Cpu, ptep: number): number {
  return Atomics.load(cpu.m, ptep);
}
/** __set_ptes(): store nr consecutive entries, advancing the PFN; yields between entries. */
export function* __set_ptes(cpu: Cpu, ptep: number, pte: number, nr: number): Gen<void> {
  cpu.notePteWrite(ptep, nr);
  for (let i = 0; i < nr; i++) {
    Atomics.store(cpu.m, ptep + i, pte);
    pte = pte_advance_pfn(pte, 1);
    if (i + 1 < nr) yield P.SET_PTE;
  }
}
/** __ptep_get_and_clear(): atomically clear one entry, returning it with any a/d bits hardware set. */
export function __ptep_get_and_clear(cpu: Cpu, ptep: number): number {
  cpu.notePteWrite(ptep, 1);
  return Atomics.exchange(cpu.m, ptep, 0);
}
/** __ptep_set_wrprotect(): one atomic and-not, so a/d bits hardware sets meanwhile are kept. */
export function __ptep_set_wrprotect(cpu: Cpu, ptep: number): void {
  cpu.notePteWrite(ptep, 1);
  Atomics.and(cpu.m, ptep, ~PTE_WRITE);
}
/**
 * __ptep_test_and_clear_young(): clear one entry's young bit with one atomic and-not and say whether
 * it was set. Atomic as on every architecture whose hardware sets the access and dirty bits (x86's
 * test_and_clear_bit, arm64's cmpxchg loop): a dirty bit the MMU sets meanwhile is kept. (The C
 * fallback in include/linux/pgtable.h reads and rewrites the entry, which only architectures
 * without hardware a/d updates may use.)
 */
export function __ptep_test_and_clear_young(cpu: Cpu, ptep: number): boolean {
  cpu.notePteWrite(ptep, 1);
  return (Atomics.and(cpu.m, ptep, ~PTE_YOUNG) & PTE_YOUNG) !== 0;
}
