// Models the part of mm/huge_memory.c the model needs for PTE-mapped THPs: a PMD_ORDER (2 MiB)
// anon folio mapped by the 512 PTEs of one table. The model has no PMD entries, so the THP fault
// here maps the folio straight with PTEs: the state the kernel reaches after
// do_huge_pmd_anonymous_page() and then __split_huge_pmd_locked() (a "PTE-mapped THP": every page
// AnonExclusive, the entries writable, dirty and young; on arm64 they come back cont, since
// "mm: thp: batch-collapse PMD with set_ptes()" splits with set_ptes). handle_mm_fault_locked
// calls it, as __handle_mm_fault() calls create_huge_pmd(), when the PMD is none (the model: the
// table is not populated) and PMD_ORDER is among the enabled anon orders (the kernel's
// hugepages-2048kB/enabled); the PTE fault path keeps to orders below PMD_ORDER, as the kernel's does.
import type { Cpu } from '../../machine/cpu.js';
import { type Gen, P } from '../../machine/gen.js';
import { EV } from '../../machine/events.js';
import { PMD_ORDER, PTRS_PER_PTE } from '../../machine/params.js';
import { MM } from '../../machine/layout.js';
import { VM_ANON } from '../../machine/machine.js';
import { PTE_DIRTY, PTE_WRITE, PTE_YOUNG, pfn_pte, pte_advance_pfn } from '../../machine/pte.js';
import { spin_lock, spin_unlock } from '../kernel/locking/spinlock.js';
import { pte_range_none, set_pte_at, set_ptes } from '../include/linux/pgtable.js';
import type { VmaView } from './mmap.js';
import { alloc_folio } from './page_alloc.js';
import { mem_cgroup_charge } from './memcontrol.js';
import { folio_add_new_anon_rmap } from './rmap.js';
import { folio_put, folio_ref_add } from './swap.js';
import { VM_FAULT_OK } from './memory.js';

/** VM_FAULT_FALLBACK: no THP here; the fault goes on down the PTE path. */
export const VM_FAULT_FALLBACK = 3;

/**
 * do_huge_pmd_anonymous_page() + __split_huge_pmd_locked() (see the header), with the mmap_lock
 * held: a write fault at vpn of mm in the anon VMA vma maps a new PMD_ORDER folio over the whole
 * PTE table around vpn, which must lie inside vma and read none. References before mapcounts, as
 * every mapping path. With batching the split installs the entries with one set_ptes(); without
 * it (the kernel before set_ptes in the split) one set_pte_at() each, with a reference and an rmap
 * per page, as the per-entry form of do_anonymous_page. Returns VM_FAULT_OK or VM_FAULT_FALLBACK:
 * the range is not inside the VMA (thp_vma_suitable_order), no free PMD_ORDER block
 * (THP_FAULT_FALLBACK), or the table was populated meanwhile (the kernel finds the PMD no longer
 * none under the PMD lock, drops the folio and returns 0, and the retried fault takes the PTE
 * path: the model goes down the PTE path at once). Deliberate difference: a read fault falls back
 * too (the kernel maps the huge zero page with a PMD, which the model does not have; a write there
 * later splits it to PTEs of the zero page and faults again, as the model's 4 KiB zero page does).
 */
export function* do_huge_pmd_anonymous_page(cpu: Cpu, mm: number, vma: VmaView, vpn: number, write: boolean): Gen<number> {
  const machine = cpu.machine;
  const m = machine.m;
  const nr = PTRS_PER_PTE;
  const base = vpn & ~(nr - 1);
  // thp_vma_suitable_order(): the aligned 2 MiB range inside the (anon) VMA
  if (!write || !(vma.flags & VM_ANON) || base < vma.start || base + nr > vma.end) return VM_FAULT_FALLBACK;
  const table = machine.tableIndex(mm, base);
  const folio = yield* alloc_folio(cpu, PMD_ORDER);
  if (folio < 0) {
    cpu.ev(EV.ALLOC_FALLBACK + PMD_ORDER, vpn); // count_vm_event(THP_FAULT_FALLBACK)
    return VM_FAULT_FALLBACK;
  }
  // __do_huge_pmd_anonymous_page(): a failed charge puts the folio back and falls back too
  // (count_vm_event(THP_FAULT_FALLBACK_CHARGE))
  if (mem_cgroup_charge(cpu, folio)) {
    yield* folio_put(cpu, folio);
    cpu.ev(EV.ALLOC_FALLBACK + PMD_ORDER, vpn);
    return VM_FAULT_FALLBACK;
  }
  // pte_alloc_one() + pmd_populate() under the PMD lock: the table is published here, after the
  // allocation, so a racing fault sees pmd_none until now (the model's pgd word; a table another
  // fault populated meanwhile keeps its entries and the recheck below fails)
  Atomics.compareExchange(m, machine.pgdWord(table), 0, 1);
  const ptep0 = machine.ptep(mm, base);
  const ptl = machine.ptlOf(table);
  yield* spin_lock(cpu, ptl);
  yield P.LOCKED;
  if (!pte_range_none(cpu, ptep0, nr)) {
    spin_unlock(cpu, ptl);
    yield* folio_put(cpu, folio);
    return VM_FAULT_FALLBACK;
  }
  const entry = pfn_pte(folio, PTE_YOUNG | PTE_DIRTY | PTE_WRITE);
  const rss = machine.mmWord(mm, MM.RSS_ANON);
  if (cpu.cfg.batching) {
    folio_ref_add(cpu, folio, nr - 1);
    Atomics.add(m, rss, nr);
    folio_add_new_anon_rmap(cpu, folio, folio, nr, mm);
    yield P.RMAP;
    yield* set_ptes(cpu, ptep0, entry, nr);
    cpu.counters[EV.ANON_BATCHED]++;
  } else {
    for (let i = 0; i < nr; i++) {
      if (i > 0) {
        yield P.SET_PTE;
        folio_ref_add(cpu, folio, 1);
      }
      Atomics.add(m, rss, 1);
      folio_add_new_anon_rmap(cpu, folio, folio + i, 1, mm);
      yield* set_pte_at(cpu, ptep0 + i, pte_advance_pfn(entry, i));
    }
  }
  cpu.ev(EV.MAP_ANON + PMD_ORDER, base, PMD_ORDER, folio);
  spin_unlock(cpu, ptl);
  return VM_FAULT_OK;
}
