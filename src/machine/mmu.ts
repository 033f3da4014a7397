// The MMU (hardware): translate one user access. It looks in the CPU's TLB, else walks the page
// table without any lock, sets young (and dirty on a store) with compare-and-swap on the one entry
// it uses, exactly where the kernel's batching must not lose those bits, and fills the TLB. The
// access around it (the load or store, the data oracle, the fault and retry) is the workload's
// (src/workload/access.ts).
import type { Cpu } from './cpu.js';
import { EV } from './events.js';
import { PTE_DIRTY, PTE_YOUNG, pte_dirty, pte_present, pte_write } from './pte.js';
import { tlb_fill, tlb_lookup } from './tlb.js';

/** mmu_translate: the entry changed between the walk's read and its a/d compare-and-swap (walk again). */
export const MMU_RETRY = -1; // a PTE never has the sign bit (machine/pte.ts)

/**
 * The entry the access goes through (with young, and dirty for a store, set), 0 when it must fault
 * (no entry, or a store to a read-only one), or MMU_RETRY. pgd and ptep: the words of the table's
 * presence and of the entry (machine.pgdWord, machine.ptep). cpu.tlbHit says whether a TLB entry served it.
 */
export function mmu_translate(cpu: Cpu, mm: number, vpn: number, write: boolean, pgd: number, ptep: number): number {
  const m = cpu.m;
  let pte = tlb_lookup(cpu, mm, vpn);
  if (pte && (!write || (pte_write(pte) && pte_dirty(pte)))) {
    cpu.counters[EV.TLB_HIT]++;
    cpu.tlbHit = true;
    return pte;
  }
  cpu.tlbHit = false;
  cpu.counters[EV.TLB_MISS]++;
  pte = Atomics.load(m, pgd) ? Atomics.load(m, ptep) : 0;
  if (!pte_present(pte) || (write && !pte_write(pte))) return 0;
  const npte = pte | PTE_YOUNG | (write ? PTE_DIRTY : 0);
  if (npte !== pte) {
    if (Atomics.compareExchange(m, ptep, pte, npte) !== pte) {
      cpu.counters[EV.HW_CAS_RETRY]++;
      return MMU_RETRY;
    }
    if (!(pte & PTE_YOUNG)) cpu.counters[EV.HW_YOUNG]++;
    if (write && !(pte & PTE_DIRTY)) cpu.counters[EV.HW_DIRTY]++;
  }
  tlb_fill(cpu, mm, vpn, npte);
  return npte;
}
