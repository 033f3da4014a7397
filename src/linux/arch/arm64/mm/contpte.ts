// Models arch/arm64/mm/contpte.c: the contiguous-PTE ("contpte") layer. A block is CONT_PTES = 16
// consecutive entries, 16-aligned within a PTE table (a 64 KiB virtual range), that map 16
// physically contiguous, 16-aligned pages of one folio with the same permissions; with PTE_CONT set
// on all 16 the TLB may hold the block as one entry. Hardware sets young/dirty on whichever entry
// it used, so a cont entry's young/dirty is the OR over its block (contpte_ptep_get). Folding and
// unfolding go through contpte_convert(): clear all 16 entries (gathering young/dirty), flush the
// block's TLB entries, write them back with or without PTE_CONT ("break-before-make").
// Every function here runs with the table's PTL held, like the kernel's; the entries they write
// are noted by the raw PTE writers (cpu.notePteWrite), and the blocks around them are checked when
// that PTL is released (check/contpte.ts).
// The model has no init_mm or EFI mm, so mm_is_user() is always true and is left out.
import type { Cpu } from '../../../../machine/cpu.js';
import { type Gen, P } from '../../../../machine/gen.js';
import { COST, EV } from '../../../../machine/events.js';
import type { Machine } from '../../../../machine/machine.js';
import {
  PTE_CONT, PTE_DIRTY, PTE_FLAG_MASK, PTE_WRITE, PTE_YOUNG, PFN_SHIFT, pte_advance_pfn, pte_cont, pte_pfn, pte_present, pte_special,
} from '../../../../machine/pte.js';
import { flush_tlb_range } from '../../../../machine/tlb.js';
import { PTRS_PER_PTE } from '../../../../machine/params.js';
import {
  CYDP_CLEAR_DIRTY, CYDP_CLEAR_YOUNG, __ptep_get, __ptep_get_and_clear, __ptep_set_wrprotect, __ptep_test_and_clear_young, __set_ptes, ptepAddr,
} from '../../../include/asm-generic/pgtable.js';

export const CONT_PTES = 16;
const CONT_MASK = CONT_PTES - 1;
/** The bits whose difference does not stop a fold: hardware sets them per entry. */
const AD = PTE_YOUNG | PTE_DIRTY;

/** contpte_align_down(): the first entry of ptep's block (blocks are aligned within a table). */
export function contpte_align_down(machine: Machine, ptep: number): number {
  return ptep - ((ptep - machine.L.pte) & CONT_MASK);
}
/** Index of ptep within its block (the (addr >> PAGE_SHIFT) & contmask of the kernel). */
export const contpte_index = (machine: Machine, ptep: number): number => (ptep - machine.L.pte) & CONT_MASK;
/** pte_valid_cont() */
export const pte_valid_cont = (pte: number): boolean => pte_present(pte) && pte_cont(pte);
/** pte_mkcont() / pte_mknoncont() */
export const pte_mkcont = (pte: number): number => pte | PTE_CONT;
export const pte_mknoncont = (pte: number): number => pte & ~PTE_CONT;
/** pfn_pte(pfn, pte_pgprot(pte)): the same flags for another pfn. */
const with_pfn = (pte: number, pfn: number): number => ((pfn << PFN_SHIFT) | (pte & PTE_FLAG_MASK)) | 0;

/**
 * contpte_convert(): rewrite ptep's whole block as pte (PFN aligned down to the block, young/dirty
 * gathered from all 16 entries), with PTE_CONT if pte has it (fold) or without (unfold).
 */
export function* contpte_convert(cpu: Cpu, ptep: number, pte: number): Gen<void> {
  const machine = cpu.machine;
  const start = contpte_align_down(machine, ptep);
  pte = with_pfn(pte, pte_pfn(pte) & ~CONT_MASK);
  // Break: clear every entry with an atomic exchange, so a young/dirty bit the MMU sets on an
  // entry up to the instant it is cleared is in the value we gather; once cleared, an access
  // faults (and waits for our PTL) instead of setting bits we would lose. No interleaving point
  // between the clears: each exchange is atomic, so a yield there would add nothing.
  for (let i = 0; i < CONT_PTES; i++) pte |= __ptep_get_and_clear(cpu, start + i) & AD;
  // Every CPU must drop the old translations (a TLB may hold the block as one entry, or the
  // per-page ones) before the new entries exist: mixing the two would be a TLB conflict.
  const { mm, vpn } = ptepAddr(machine, start);
  yield* flush_tlb_range(cpu, mm, vpn, vpn + CONT_PTES);
  // Make: the same young/dirty on all 16 (the OR of the block; per folio, not per page).
  yield* __set_ptes(cpu, start, pte, CONT_PTES);
}

/**
 * __contpte_try_fold(): fold ptep's block if the whole aligned block lies inside pte's folio and all
 * 16 entries are present with contiguous PFNs and the same prot (ignoring young/dirty). The
 * caller (contpte_try_fold) checked the alignment and that pte is valid, not cont, not special.
 * Deviation contpte-fold-first-only: compare only the block's first entry.
 */
export function* __contpte_try_fold(cpu: Cpu, ptep: number, pte: number): Gen<void> {
  const { m, L } = cpu.machine;
  const pfn = pte_pfn(pte);
  const folio = Atomics.load(m, L.pHead + pfn);
  const folioNr = 1 << Atomics.load(m, L.fOrder + folio);
  // folio_start/folio_end against cont_start/cont_end, in pages of the folio: the block's first
  // page is pfn - idx (virtual and physical alignment agree, checked by the caller)
  const idx = contpte_index(cpu.machine, ptep);
  const contFirstPfn = pfn - idx;
  if (contFirstPfn < folio || contFirstPfn + CONT_PTES > folio + folioNr) return;
  let expected = with_pfn(pte & ~AD, contFirstPfn);
  const start = ptep - idx;
  const n = cpu.inj.contpteFoldFirstOnly ? 1 : CONT_PTES;
  for (let i = 0; i < n; i++) {
    const subpte = __ptep_get(cpu, start + i) & ~AD;
    if (subpte !== expected) return;
    expected = pte_advance_pfn(expected, 1);
  }
  cpu.cost(COST.CONT_FOLD);
  yield* contpte_convert(cpu, ptep, pte_mkcont(pte));
}

/** contpte_try_fold(): only on the last entry of an aligned block whose PFN is the block's last too. */
export function* contpte_try_fold(cpu: Cpu, ptep: number, pte: number): Gen<void> {
  // The core code mostly writes ranges low to high, so the last entry is the time to try.
  if (contpte_index(cpu.machine, ptep) !== CONT_MASK) return;
  if ((pte_pfn(pte) & CONT_MASK) !== CONT_MASK) return;
  if (pte_present(pte) && !pte_cont(pte) && !pte_special(pte)) yield* __contpte_try_fold(cpu, ptep, pte);
}

/** __contpte_try_unfold(): rewrite ptep's cont block without PTE_CONT (one unfold, one 16-page flush). */
export function* __contpte_try_unfold(cpu: Cpu, ptep: number, pte: number): Gen<void> {
  cpu.cost(COST.CONT_UNFOLD);
  yield* contpte_convert(cpu, ptep, pte_mknoncont(pte));
}

/** contpte_try_unfold(): unfold ptep's block if pte (the value read there) is a valid cont entry. */
export function* contpte_try_unfold(cpu: Cpu, ptep: number, pte: number): Gen<void> {
  if (pte_valid_cont(pte)) yield* __contpte_try_unfold(cpu, ptep, pte);
}

/**
 * contpte_ptep_get(): a cont entry reads with the young/dirty of every entry of its block ORed in
 * (hardware may have set them on any of the 16). The kernel calls it with the PTL held; the model's
 * lockless callers (handle_pte_fault's first read) may see a/d bits of a block being converted,
 * which only ever adds young/dirty to a value they recheck under the PTL.
 */
export function contpte_ptep_get(cpu: Cpu, ptep: number, orig: number): number {
  const start = contpte_align_down(cpu.machine, ptep);
  for (let i = 0; i < CONT_PTES; i++) orig |= __ptep_get(cpu, start + i) & AD;
  return orig;
}

/**
 * contpte_set_ptes(): nr > 1 entries, all none before (the set_ptes() contract), so nothing to
 * unfold. Each piece up to a block boundary gets PTE_CONT when it covers the whole block and its
 * PFN is block-aligned (set_ptes maps pages of one folio, so that is the folio check too).
 */
export function* contpte_set_ptes(cpu: Cpu, ptep: number, pte: number, nr: number): Gen<void> {
  const machine = cpu.machine;
  const end = ptep + nr;
  let pfn = pte_pfn(pte);
  while (ptep !== end) {
    // pte_cont_addr_end(): the next block boundary, or the end
    const next = Math.min(contpte_align_down(machine, ptep) + CONT_PTES, end);
    const n = next - ptep;
    let p = with_pfn(pte, pfn);
    if (n === CONT_PTES && ((pfn & CONT_MASK) === 0)) {
      p = pte_mkcont(p); // ptep is then block-aligned
      cpu.counters[EV.CONT_BLOCKS]++;
    } else p = pte_mknoncont(p);
    yield* __set_ptes(cpu, ptep, p, n);
    ptep = next;
    pfn += n;
  }
}

/** contpte_try_unfold_partial(): unfold the first and last blocks if the range covers them only in part. */
export function* contpte_try_unfold_partial(cpu: Cpu, ptep: number, nr: number): Gen<void> {
  const machine = cpu.machine;
  if (ptep !== contpte_align_down(machine, ptep) || nr < CONT_PTES) yield* contpte_try_unfold(cpu, ptep, __ptep_get(cpu, ptep));
  if (ptep + nr !== contpte_align_down(machine, ptep + nr)) {
    const last = ptep + nr - 1;
    yield* contpte_try_unfold(cpu, last, __ptep_get(cpu, last));
  }
}

/** __clear_full_ptes() */
function __clear_full_ptes(cpu: Cpu, ptep: number, nr: number): void {
  for (let i = 0; i < nr; i++) __ptep_get_and_clear(cpu, ptep + i);
}
/** __get_and_clear_full_ptes(): the first entry with every entry's young/dirty ORed in. */
function __get_and_clear_full_ptes(cpu: Cpu, ptep: number, nr: number): number {
  let pte = __ptep_get_and_clear(cpu, ptep);
  for (let i = 1; i < nr; i++) pte |= __ptep_get_and_clear(cpu, ptep + i) & AD;
  return pte;
}

/**
 * contpte_clear_full_ptes(): unfold only partly covered first/last blocks, then clear. A wholly
 * covered cont block is cleared as it is: every entry goes, so no block is left half cont.
 */
export function* contpte_clear_full_ptes(cpu: Cpu, ptep: number, nr: number, _full: boolean): Gen<void> {
  yield* contpte_try_unfold_partial(cpu, ptep, nr);
  __clear_full_ptes(cpu, ptep, nr);
}

/** contpte_get_and_clear_full_ptes(): as contpte_clear_full_ptes, returning the gathered entry. */
export function* contpte_get_and_clear_full_ptes(cpu: Cpu, ptep: number, nr: number, _full: boolean): Gen<number> {
  yield* contpte_try_unfold_partial(cpu, ptep, nr);
  return __get_and_clear_full_ptes(cpu, ptep, nr);
}

/**
 * contpte_wrprotect_ptes(): unfold partly covered first/last blocks; a wholly covered cont block
 * is write-protected in place (the caller's later flush makes it take effect everywhere; until
 * then a CPU may still write through the old TLB entry, as for any wrprotect).
 */
export function* contpte_wrprotect_ptes(cpu: Cpu, ptep: number, nr: number): Gen<void> {
  yield* contpte_try_unfold_partial(cpu, ptep, nr);
  for (let i = 0; i < nr; i++) __ptep_set_wrprotect(cpu, ptep + i); // __wrprotect_ptes()
}

/**
 * __ptep_set_access_flags() (arch/arm64/mm/fault.c): OR the access flags and write permission of
 * entry into the one entry with a compare-and-swap loop (the MMU may set young/dirty meanwhile);
 * the entry's other bits, PTE_CONT among them, stay. Returns whether it changed anything.
 * Deliberate difference: no flush_tlb_page() for `dirty`: the model's TLB misses on a store
 * through a read-only or clean entry and walks again, so a stale read-only entry cannot be used.
 */
export function __ptep_set_access_flags(cpu: Cpu, ptep: number, entry: number): boolean {
  if (Atomics.load(cpu.m, ptep) === entry) return false; // pte_same()
  // only the access flags and the write permission of entry are consumed
  const add = entry & (PTE_YOUNG | PTE_DIRTY | PTE_WRITE);
  cpu.notePteWrite(ptep, 1);
  for (;;) {
    const old = Atomics.load(cpu.m, ptep);
    if (Atomics.compareExchange(cpu.m, ptep, old, old | add) === old) return true;
  }
}

/**
 * contpte_ptep_set_access_flags(): nothing to do if the block's gathered entry already equals
 * entry; young/dirty alone are set on all 16 entries without unfolding (then one 16-page flush,
 * the kernel's `dirty` case: every caller here passes dirty); a write-permission change unfolds
 * first and then sets the one entry.
 */
export function* contpte_ptep_set_access_flags(cpu: Cpu, ptep: number, entry: number): Gen<boolean> {
  const orig = pte_mknoncont(contpte_ptep_get(cpu, ptep, __ptep_get(cpu, ptep)));
  if (orig === entry) return false;
  if ((orig & PTE_WRITE) === (entry & PTE_WRITE)) {
    const start = contpte_align_down(cpu.machine, ptep);
    for (let i = 0; i < CONT_PTES; i++) __ptep_set_access_flags(cpu, start + i, entry);
    const { mm, vpn } = ptepAddr(cpu.machine, start);
    yield* flush_tlb_range(cpu, mm, vpn, vpn + CONT_PTES);
  } else {
    yield* __contpte_try_unfold(cpu, ptep, orig);
    __ptep_set_access_flags(cpu, ptep, entry);
  }
  return true;
}

// ---- young/dirty without unfolding: MADV_COLD and MADV_FREE (clear_young_dirty_ptes) -------------

const PAGE_SIZE = 4096;
const CONT_PTE_SIZE = CONT_PTES * PAGE_SIZE;

/**
 * __clear_young_dirty_pte() (arch/arm64/include/asm/pgtable.h): take young and/or dirty off one
 * entry by compare-and-swap (the kernel's cmpxchg loop; one atomic and-not here), so a bit the MMU
 * sets meanwhile and that is not being cleared (a store's dirty bit, when only young goes) is kept.
 */
function __clear_young_dirty_pte(cpu: Cpu, ptep: number, flags: number): void {
  const clear = (flags & CYDP_CLEAR_YOUNG ? PTE_YOUNG : 0) | (flags & CYDP_CLEAR_DIRTY ? PTE_DIRTY : 0);
  Atomics.and(cpu.m, ptep, ~clear);
}

/**
 * __clear_young_dirty_ptes() (arch/arm64/include/asm/pgtable.h): nr entries one by one. Clearing
 * both young and dirty (MADV_FREE) is a plain read and store, __set_pte(pte_mkclean(pte_mkold(pte))),
 * not a compare-and-swap: a bit the MMU sets between the two is lost, which MADV_FREE accepts (a
 * store that races it is one the folio may be discarded with; the TLB flush that follows makes every
 * later store set the dirty bit again). The model yields there, where the MMU can come in. Clearing
 * young alone (MADV_COLD) goes through __clear_young_dirty_pte, keeping dirty bits. The store keeps
 * PTE_CONT: a cont block stays folded. (On arm64 pte_mkclean() sets PTE_RDONLY, so the kernel's
 * store turns a none entry into a non-zero invalid one; the model has no such bit and stores 0 back.)
 */
export function* __clear_young_dirty_ptes(cpu: Cpu, ptep: number, nr: number, flags: number): Gen<void> {
  cpu.notePteWrite(ptep, nr);
  for (let i = 0; i < nr; i++) {
    if (flags === (CYDP_CLEAR_YOUNG | CYDP_CLEAR_DIRTY)) {
      const pte = __ptep_get(cpu, ptep + i);
      yield P.CLEAR_PTE;
      Atomics.store(cpu.m, ptep + i, pte & ~AD);
    } else __clear_young_dirty_pte(cpu, ptep + i, flags);
  }
}

/**
 * contpte_clear_young_dirty_ptes(): no unfold. A range that starts or ends inside a cont block is
 * widened to the whole block (access/dirty are tracked per folio and a block lies inside one folio),
 * and every entry of it is cleared in place. Computed in byte addresses as the kernel does
 * (start = addr, end = addr + nr * PAGE_SIZE, aligned to CONT_PTE_SIZE, then (end - start) / PAGE_SIZE).
 * Deviation cyd-length-bytes: the code as 89e86854fb0a ("mm/arm64: override clear_young_dirty_ptes()
 * batch helper") merged it, before "mm: arm64: fix the out-of-bounds issue in
 * contpte_clear_young_dirty_ptes" (Barry Song, v6.10-rc): end = addr + nr and a count of end - start,
 * a length in bytes where a number of pages was meant. Harmless when neither end entry is cont (the
 * count is nr); otherwise about CONT_PTE_SIZE = 65536 entries from the block's start, which ran off
 * the PTE table page in the kernel (syzkaller crashes in MADV_FREE). The model clamps the count at
 * the table's last entry so it never writes outside the table: it clears young (and dirty) of every
 * later entry of the table instead, other folios and other VMAs included.
 */
export function* contpte_clear_young_dirty_ptes(cpu: Cpu, ptep: number, nr: number, flags: number): Gen<void> {
  const machine = cpu.machine;
  const bytes = cpu.inj.cydLengthBytes;
  let start = ptepAddr(machine, ptep).vpn * PAGE_SIZE;
  let end = start + (bytes ? nr : nr * PAGE_SIZE);
  const lastCont = pte_cont(__ptep_get(cpu, ptep + nr - 1));
  const firstCont = pte_cont(__ptep_get(cpu, ptep));
  if (lastCont) end = Math.ceil(end / CONT_PTE_SIZE) * CONT_PTE_SIZE; // ALIGN(end, CONT_PTE_SIZE)
  if (firstCont) {
    start -= start % CONT_PTE_SIZE; // ALIGN_DOWN(start, CONT_PTE_SIZE)
    ptep = contpte_align_down(machine, ptep);
  }
  let n = bytes ? end - start : (end - start) / PAGE_SIZE;
  n = Math.min(n, PTRS_PER_PTE - ((ptep - machine.L.pte) % PTRS_PER_PTE)); // (only the deviation's count reaches past the table)
  if (firstCont || lastCont) cpu.counters[EV.CONT_CYD_BLOCKS]++;
  yield* __clear_young_dirty_ptes(cpu, ptep, n, flags);
}

/**
 * contpte_ptep_test_and_clear_young(): clear young on every entry of ptep's block, without
 * unfolding (the core code tracks access per folio and a block lies inside one); young if any was.
 */
export function contpte_ptep_test_and_clear_young(cpu: Cpu, ptep: number): boolean {
  const start = contpte_align_down(cpu.machine, ptep);
  let young = false;
  for (let i = 0; i < CONT_PTES; i++) if (__ptep_test_and_clear_young(cpu, start + i)) young = true;
  return young;
}
