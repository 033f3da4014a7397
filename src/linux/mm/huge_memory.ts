// Models the part of mm/huge_memory.c the model needs for PTE-mapped THPs: a PMD_ORDER (2 MiB)
// anon folio mapped by the 512 PTEs of one table. The model has no PMD entries, so the THP fault
// here maps the folio straight with PTEs: the state the kernel reaches after
// do_huge_pmd_anonymous_page() and then __split_huge_pmd_locked() (a "PTE-mapped THP": every page
// AnonExclusive, the entries writable, dirty and young; on arm64 they come back cont, since
// "mm: thp: batch-collapse PMD with set_ptes()" splits with set_ptes). The workload's fault path
// never calls it (alloc_anon_folio keeps to orders below PMD_ORDER, as the kernel's PTE path
// does); the batching experiment populates its 2 MiB cells with it, which is what the kernel's
// own fork/munmap benchmarks of PTE-mapped THP measure.
import type { Cpu } from '../../machine/cpu.js';
import { type Gen, P } from '../../machine/gen.js';
import { EV } from '../../machine/events.js';
import { PMD_ORDER, PTRS_PER_PTE } from '../../machine/params.js';
import { MM } from '../../machine/layout.js';
import { VM_ANON, VM_WRITE } from '../../machine/machine.js';
import { PTE_DIRTY, PTE_WRITE, PTE_YOUNG, pfn_pte, pte_advance_pfn } from '../../machine/pte.js';
import { down_read, up_read } from '../kernel/locking/rwsem.js';
import { spin_lock, spin_unlock } from '../kernel/locking/spinlock.js';
import { pte_range_none, set_pte_at, set_ptes } from '../include/linux/pgtable.js';
import { find_vma } from './mmap.js';
import { alloc_folio } from './page_alloc.js';
import { folio_add_new_anon_rmap } from './rmap.js';
import { folio_put, folio_ref_add } from './swap.js';
import { VM_FAULT_OK, VM_FAULT_OOM, VM_FAULT_SIGSEGV } from './memory.js';

/** The THP could not be mapped because its table is not empty (the PMD was populated already). */
export const VM_FAULT_FALLBACK = 3;

/**
 * do_huge_pmd_anonymous_page() + __split_huge_pmd_locked() (see the header): a write fault at vpn
 * of mm maps a new PMD_ORDER folio over the whole PTE table around vpn, which must lie inside one
 * writable anon VMA and read none. References before mapcounts, as every mapping path. With
 * batching the split installs the entries with one set_ptes(); without it (the kernel before
 * set_ptes in the split) one set_pte_at() each, with a reference and an rmap per page, as the
 * per-entry form of do_anonymous_page. Returns VM_FAULT_OK, VM_FAULT_SIGSEGV (no suitable VMA),
 * VM_FAULT_OOM (no free PMD_ORDER block) or VM_FAULT_FALLBACK (the table is not empty).
 */
export function* do_huge_pmd_anonymous_page(cpu: Cpu, mm: number, vpn: number): Gen<number> {
  const machine = cpu.machine;
  const m = machine.m;
  const nr = PTRS_PER_PTE;
  const base = vpn & ~(nr - 1);
  const lockw = machine.mmWord(mm, MM.MMAP_LOCK);
  yield* down_read(cpu, lockw);
  try {
    cpu.ev(EV.FAULT, vpn, 1);
    const vma = find_vma(machine, mm, vpn);
    // thp_vma_suitable_order(): the aligned 2 MiB range inside one writable anon VMA
    if (!vma || !(vma.flags & VM_ANON) || !(vma.flags & VM_WRITE) || base < vma.start || base + nr > vma.end) return VM_FAULT_SIGSEGV;
    const table = machine.tableIndex(mm, base);
    Atomics.compareExchange(m, machine.pgdWord(table), 0, 1); // the PMD now points to a PTE table (the split's pgtable)
    const folio = yield* alloc_folio(cpu, PMD_ORDER);
    if (folio < 0) {
      cpu.ev(EV.ALLOC_FALLBACK + PMD_ORDER, vpn);
      return VM_FAULT_OOM;
    }
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
  } finally {
    up_read(cpu, lockw);
  }
}
