// Models the PTE helpers of include/linux/pgtable.h: the generic batched helpers (per-entry loops,
// what an architecture without contpte gets) and the single-entry ones they loop over. Every
// helper takes word indexes into the machine buffer; the (mm, vpn) of an entry follows from its
// word (ptepAddr). With `arch: "contpte"` each helper dispatches to the arm64 contpte form
// (arch/arm64/include/asm/pgtable.h, arch/arm64/mm/contpte.c), as the kernel's arch overrides do.
// Every kernel path writes PTEs only through these helpers; the MMU (hardware) sets young/dirty
// with its own compare-and-swap on the one entry it uses.
import type { Cpu } from '../../../machine/cpu.js';
import { type Gen, P } from '../../../machine/gen.js';
import type { Machine } from '../../../machine/machine.js';
import { PTRS_PER_PTE } from '../../../machine/params.js';
import { PTE_CONT, PTE_DIRTY, PTE_WRITE, PTE_YOUNG, pte_advance_pfn } from '../../../machine/pte.js';
import { flush_tlb_range } from '../../../machine/tlb.js';
import * as arm64 from '../../arch/arm64/include/asm/pgtable.js';
import {
  CYDP_CLEAR_DIRTY, CYDP_CLEAR_YOUNG, __ptep_get, __ptep_get_and_clear, __ptep_set_wrprotect, __ptep_test_and_clear_young, __set_ptes, ptepAddr,
} from '../asm-generic/pgtable.js';

export { CYDP_CLEAR_DIRTY, CYDP_CLEAR_YOUNG, __ptep_get, __ptep_get_and_clear, __ptep_set_wrprotect, __set_ptes, ptepAddr };
import { MMDEBUG } from './mmdebug.js';

const contpte = (cpu: Cpu): boolean => cpu.cfg.arch === 'contpte';

// ---- the helpers the core kernel paths use ---------------------------------------------------

/** ptep_get(): one lockless read (contpte: a cont entry reads with its block's young/dirty ORed in). */
export function ptep_get(cpu: Cpu, ptep: number): number {
  if (contpte(cpu)) return arm64.ptep_get(cpu, ptep);
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
  if (contpte(cpu)) return yield* arm64.set_ptes(cpu, ptep, pte, nr);
  yield* __set_ptes(cpu, ptep, pte, nr);
}

/** set_pte_at(): install one entry. */
export function set_pte_at(cpu: Cpu, ptep: number, pte: number): Gen<void> {
  return set_ptes(cpu, ptep, pte, 1);
}

/** ptep_get_and_clear(): clear one entry and return what it held (with any a/d bits). */
export function* ptep_get_and_clear(cpu: Cpu, ptep: number): Gen<number> {
  if (contpte(cpu)) return yield* arm64.ptep_get_and_clear(cpu, ptep);
  return __ptep_get_and_clear(cpu, ptep);
}

/** ptep_clear_flush(): clear one entry and flush its TLB entries everywhere; returns the old entry. */
export function* ptep_clear_flush(cpu: Cpu, ptep: number): Gen<number> {
  const pte = yield* ptep_get_and_clear(cpu, ptep);
  const { mm, vpn } = ptepAddr(cpu.machine, ptep);
  yield* flush_tlb_range(cpu, mm, vpn, vpn + 1);
  return pte;
}

/**
 * get_and_clear_full_ptes(): clear nr entries and return the first with the young/dirty bits of
 * every entry ORed in, so a bit that hardware set on any entry of the batch is not lost.
 */
export function* get_and_clear_full_ptes(cpu: Cpu, ptep: number, nr: number, full: boolean): Gen<number> {
  if (contpte(cpu)) return yield* arm64.get_and_clear_full_ptes(cpu, ptep, nr, full);
  let pte = __ptep_get_and_clear(cpu, ptep);
  for (let i = 1; i < nr; i++) {
    const t = __ptep_get_and_clear(cpu, ptep + i);
    pte |= t & (PTE_DIRTY | PTE_YOUNG);
  }
  return pte;
}

/** clear_full_ptes(): clear nr entries, discarding a/d bits (anon folios do not need them). */
export function* clear_full_ptes(cpu: Cpu, ptep: number, nr: number, full: boolean): Gen<void> {
  if (contpte(cpu)) return yield* arm64.clear_full_ptes(cpu, ptep, nr, full);
  for (let i = 0; i < nr; i++) __ptep_get_and_clear(cpu, ptep + i);
}

/**
 * wrprotect_ptes(): clear the write bit of nr entries, one atomic and-not each (ptep_set_wrprotect),
 * so a dirty or young bit that hardware sets at the same moment is kept.
 */
export function* wrprotect_ptes(cpu: Cpu, ptep: number, nr: number): Gen<void> {
  if (contpte(cpu)) return yield* arm64.wrprotect_ptes(cpu, ptep, nr);
  for (let i = 0; i < nr; i++) __ptep_set_wrprotect(cpu, ptep + i);
}

/**
 * ptep_set_access_flags(): make one present entry more permissive (write, young, dirty: a write
 * fault that reuses the page). The generic form stores the new entry when it differs; an upgrade
 * needs no TLB flush. Returns whether the entry changed.
 */
export function* ptep_set_access_flags(cpu: Cpu, ptep: number, entry: number): Gen<boolean> {
  if (contpte(cpu)) return yield* arm64.ptep_set_access_flags(cpu, ptep, entry);
  for (;;) {
    const old = Atomics.load(cpu.m, ptep);
    // keep a young/dirty bit hardware set since the caller read the entry
    const nw = entry | (old & (PTE_DIRTY | PTE_YOUNG));
    if (old === nw) return false;
    cpu.notePteWrite(ptep, 1);
    if (Atomics.compareExchange(cpu.m, ptep, old, nw) === old) return true;
  }
}

/**
 * ptep_test_and_clear_young(): clear one entry's young bit, atomically (a dirty bit the MMU sets
 * meanwhile stays); whether it was young. contpte: a cont entry clears its whole block.
 */
export function ptep_test_and_clear_young(cpu: Cpu, ptep: number): boolean {
  if (contpte(cpu)) return arm64.ptep_test_and_clear_young(cpu, ptep);
  return __ptep_test_and_clear_young(cpu, ptep);
}

/**
 * clear_young_dirty_ptes(): mark nr entries that map consecutive pages of one folio old
 * (CYDP_CLEAR_YOUNG) and/or clean (CYDP_CLEAR_DIRTY), PTL held (MADV_COLD: young; MADV_FREE: both).
 * The generic form, per entry: young alone by ptep_test_and_clear_young (atomic: a dirty bit the MMU
 * sets meanwhile stays); otherwise ptep_get_and_clear, pte_mkold/pte_mkclean, set_pte_at, the entry
 * none in between (the MMU faults and waits for our PTL; GUP-fast and the lockless scan see none:
 * we yield there). The caller flushes the TLB (tlb_remove_tlb_entries), so that a CPU cannot keep
 * storing through a dirty writable TLB entry without setting the dirty bit again. The checker
 * asserts the API's contract through MMDEBUG.pteBatch*: the entries written are [ptep, ptep + nr),
 * on arm64 widened to the contpte blocks of the first and last entries
 * (clear-young-dirty-outside-range).
 */
export function* clear_young_dirty_ptes(cpu: Cpu, ptep: number, nr: number, flags: number): Gen<void> {
  MMDEBUG.pteBatchBegin(cpu);
  if (contpte(cpu)) yield* arm64.clear_young_dirty_ptes(cpu, ptep, nr, flags);
  else {
    for (let i = 0; i < nr; i++) {
      if (flags === CYDP_CLEAR_YOUNG) {
        __ptep_test_and_clear_young(cpu, ptep + i);
        continue;
      }
      let pte = __ptep_get_and_clear(cpu, ptep + i);
      yield P.CLEAR_PTE;
      if (flags & CYDP_CLEAR_YOUNG) pte &= ~PTE_YOUNG; // pte_mkold()
      if (flags & CYDP_CLEAR_DIRTY) pte &= ~PTE_DIRTY; // pte_mkclean()
      yield* __set_ptes(cpu, ptep + i, pte, 1);
    }
  }
  MMDEBUG.pteBatchEnd(cpu, 'clear_young_dirty_ptes', ptep, nr);
}

// ---- the protection read-modify-write transaction (mprotect) ---------------------------------
// arm64 overrides modify_prot_start_ptes/modify_prot_commit_ptes (contpte: get_and_clear_ptes and
// set_ptes over the batch, so only partly covered blocks unfold; arch/arm64/mm/mmu.c).

/**
 * ptep_modify_prot_start(): begin a protection change of one entry: clear it (so hardware cannot
 * set young/dirty on it behind our back) and return what it held, with every a/d bit set so far.
 */
export function ptep_modify_prot_start(cpu: Cpu, ptep: number): Gen<number> {
  return ptep_get_and_clear(cpu, ptep);
}

/**
 * ptep_modify_prot_commit(): finish it: install pte. old_pte is the slot's value before start
 * (powerpc radix compares the two to decide a flush on a write upgrade). The checker asserts
 * that contract through MMDEBUG: old_pte must map the page pte maps (prot-commit-old-mismatch).
 */
export function* ptep_modify_prot_commit(cpu: Cpu, ptep: number, oldPte: number, pte: number): Gen<void> {
  MMDEBUG.protCommit(cpu, 'ptep_modify_prot_commit', ptep, oldPte, pte);
  yield* set_pte_at(cpu, ptep, pte);
}

/**
 * modify_prot_start_ptes(): ptep_modify_prot_start over nr entries of one folio, returning the
 * first entry with the young/dirty bits of every entry ORed in. We yield between entries: the PTL
 * does not stop the MMU, which may set dirty on an entry not cleared yet; that bit must reach the
 * result (seeds/003: "start gathers a/d of every entry").
 */
export function* modify_prot_start_ptes(cpu: Cpu, ptep: number, nr: number): Gen<number> {
  // (under the deviation the generic loop runs on contpte too: it is where the bug lives)
  if (contpte(cpu) && !cpu.inj.protStartFirstOnly) return yield* arm64.modify_prot_start_ptes(cpu, ptep, nr);
  let pte = yield* ptep_modify_prot_start(cpu, ptep);
  for (let i = 1; i < nr; i++) {
    yield P.CLEAR_PTE;
    const t = yield* ptep_modify_prot_start(cpu, ptep + i);
    // deviation prot-start-first-only: the a/d bits of entries 1..nr-1 are dropped
    if (!cpu.inj.protStartFirstOnly) pte |= t & (PTE_DIRTY | PTE_YOUNG);
  }
  return pte;
}

/**
 * modify_prot_commit_ptes(): ptep_modify_prot_commit per entry, advancing the PFN of BOTH old_pte
 * and pte: old_pte is not "the previous entry" but this slot's value before start, so it must map
 * this slot's page (seeds/003). Yields between entries (a lockless walker sees a partial commit).
 */
export function* modify_prot_commit_ptes(cpu: Cpu, ptep: number, oldPte: number, pte: number, nr: number): Gen<void> {
  if (contpte(cpu)) {
    // arm64 does not read old_pte, but the caller's contract is the same on every architecture
    for (let i = 0, o = oldPte, p = pte; i < nr; i++) {
      MMDEBUG.protCommit(cpu, 'modify_prot_commit_ptes', ptep + i, o, p);
      if (!cpu.inj.protCommitStaleOld) o = pte_advance_pfn(o, 1);
      p = pte_advance_pfn(p, 1);
    }
    return yield* arm64.modify_prot_commit_ptes(cpu, ptep, oldPte, pte, nr);
  }
  for (let i = 0; i < nr; i++) {
    if (i > 0) yield P.SET_PTE;
    yield* ptep_modify_prot_commit(cpu, ptep + i, oldPte, pte);
    // deviation prot-commit-stale-old: every entry is handed the first entry's old PTE
    if (!cpu.inj.protCommitStaleOld) oldPte = pte_advance_pfn(oldPte, 1);
    pte = pte_advance_pfn(pte, 1);
  }
}

// ---- young-bit aging (reclaim's folio_referenced) ----------------------------------------------

/**
 * ptep_clear_flush_young(): ptep_test_and_clear_young() and, if the entry was young, a flush, so the
 * MMU sets it again on the next access (contpte: contpte_ptep_clear_flush_young, the block's young
 * bits cleared and the block flushed). Returns whether it was young.
 */
export function* ptep_clear_flush_young(cpu: Cpu, ptep: number): Gen<boolean> {
  const span = (Atomics.load(cpu.m, ptep) & PTE_CONT) !== 0 ? 16 : 1; // only the contpte layer sets PTE_CONT
  const young = ptep_test_and_clear_young(cpu, ptep);
  if (young) {
    const { mm, vpn } = ptepAddr(cpu.machine, ptep);
    const v0 = vpn - (vpn % span);
    yield* flush_tlb_range(cpu, mm, v0, v0 + span);
  }
  return young;
}
