// Models mm/madvise.c: MADV_DONTNEED zaps the range under the mmap_lock held for read, so it races
// page faults and hardware accesses on the same mm. MADV_DONTFORK / MADV_DOFORK change VM_DONTFORK
// under the mmap_lock held for write (madvise_need_mmap_write), splitting VMAs at the range edges.
// MADV_COLD and MADV_FREE (mmap_lock held for read) walk the range a PTE table at a time under its
// PTL, a large folio as one batch (folio_pte_batch), and clear the young bits (COLD) or the young
// and dirty bits (FREE) with clear_young_dirty_ptes(), flushing the TLB entries of what they
// cleared; MADV_FREE makes each anon folio lazyfree (FOLIO_LAZYFREE), which reclaim may discard
// while it stays clean. Deliberate differences: no folio split (a large folio only partly inside the
// range is left as it is, as when the kernel's split_folio() fails), no LRU (folio_deactivate and
// the lru_add_drain/folio batches are not modelled: the lazyfree flag is set at once), no swap
// entries or swap cache, no PMD-mapped THP (madvise_free_huge_pmd and the pmd_trans_huge branch of
// madvise_cold_or_pageout_pte_range), no need_resched restart of the walk, no VM_LOCKED/VM_PFNMAP/
// hugetlb VMAs (can_madv_lru_vma is always true).
import type { Cpu } from '../../machine/cpu.js';
import { type Gen, P } from '../../machine/gen.js';
import { EV } from '../../machine/events.js';
import { MM } from '../../machine/layout.js';
import { PTRS_PER_PTE } from '../../machine/params.js';
import { FOLIO_ANON, FOLIO_DIRTY, FOLIO_LAZYFREE, FOLIO_REFERENCED, VM_DONTFORK } from '../../machine/machine.js';
import { PTE_DIRTY, PTE_YOUNG, pte_dirty, pte_none, pte_pfn, pte_present, pte_special, pte_young } from '../../machine/pte.js';
import { down_read, down_write, up_read, up_write } from '../kernel/locking/rwsem.js';
import { spin_lock, spin_unlock } from '../kernel/locking/spinlock.js';
import { CYDP_CLEAR_DIRTY, CYDP_CLEAR_YOUNG, clear_young_dirty_ptes, ptep_get } from '../include/linux/pgtable.js';
import { vma_modify_flags, vmas, type VmaView } from './mmap.js';
import { type MmuGather, tlb_finish_mmu, tlb_flush_mmu_tlbonly, tlb_gather_mmu, tlb_remove_tlb_entries } from './mmu_gather.js';
import { checkBatchBounds, unmap_page_range } from './memory.js';
import { FPB_IGNORE_DIRTY, FPB_IGNORE_SOFT_DIRTY, folio_pte_batch } from './internal.js';
import { FOLIO_MM_IDS_SHARED_BIT } from './rmap.js';
import { folio_trylock, folio_unlock } from './filemap.js';
import { folio_ref_add } from './swap.js';
import { MMDEBUG } from '../include/linux/mmdebug.js';
import { reclaim_pages } from './vmscan.js';

const ENOMEM = -12;
const EINVAL = -22;

/**
 * madvise(MADV_DONTNEED): madvise_dontneed_single_vma() over every VMA in [start, end), the mmap_lock
 * held for read. Returns 0, or -ENOMEM when part of the range is not mapped: as madvise_walk_vmas(),
 * the mapped parts are zapped all the same. Deliberate difference: one mmu_gather for the whole
 * range (the kernel's zap_page_range_single gathers per VMA); the flush comes before the return
 * either way.
 */
export function* madvise_dontneed(cpu: Cpu, mm: number, start: number, end: number): Gen<number> {
  const machine = cpu.machine;
  const lw = machine.mmWord(mm, MM.MMAP_LOCK);
  yield* down_read(cpu, lw);
  const hit = vmas(machine, mm).filter((v) => v.start < end && start < v.end);
  const tlb = tlb_gather_mmu(cpu, mm);
  let covered = 0;
  for (const v of hit) {
    yield* unmap_page_range(cpu, tlb, v, start, end);
    covered += Math.min(end, v.end) - Math.max(start, v.start);
  }
  yield* tlb_finish_mmu(cpu, tlb);
  cpu.ev(EV.DONTNEED, start, end - start);
  MMDEBUG.tlbSynced(cpu, mm, start, end, 'madvise_dontneed');
  up_read(cpu, lw);
  return covered === end - start ? 0 : ENOMEM;
}

/**
 * madvise(MADV_DONTFORK) (dontfork) or madvise(MADV_DOFORK): madvise_vma_behavior() over every VMA
 * in [start, end), under the mmap_lock held for write. Returns 0, or -1 (ENOMEM): no free VMA slot
 * for a split (nothing changed), or a hole in the range (the mapped parts are changed, as the
 * kernel's madvise_walk_vmas does). dup_mmap leaves VM_DONTFORK VMAs out of the child.
 */
export function* madvise_dontfork(cpu: Cpu, mm: number, start: number, end: number, dontfork: boolean): Gen<number> {
  const machine = cpu.machine;
  const lw = machine.mmWord(mm, MM.MMAP_LOCK);
  yield* down_write(cpu, lw);
  yield P.VMA;
  const r = madvise_vma_behavior(cpu, mm, start, end, dontfork);
  up_write(cpu, lw);
  return r;
}

/** madvise_vma_behavior() for MADV_DONTFORK / MADV_DOFORK: set or clear VM_DONTFORK (madvise_update_vma). */
function madvise_vma_behavior(cpu: Cpu, mm: number, start: number, end: number, dontfork: boolean): number {
  const r = vma_modify_flags(cpu.machine, mm, start, end, dontfork ? VM_DONTFORK : 0, dontfork ? 0 : VM_DONTFORK, cpu);
  cpu.ev(dontfork ? EV.DONTFORK : EV.DOFORK, start, end - start);
  return r;
}

// ---- MADV_COLD and MADV_FREE --------------------------------------------------------------------

/**
 * madvise(MADV_COLD): madvise_cold() over every VMA in [start, end), the mmap_lock held for read.
 * Returns 0, -ENOMEM for a hole in the range (the mapped parts done, as madvise_walk_vmas does).
 * No data changes: only young bits and the referenced flag go.
 */
export function madvise_cold(cpu: Cpu, mm: number, start: number, end: number): Gen<number> {
  return madvise_cold_or_free(cpu, mm, start, end, false);
}

/**
 * madvise(MADV_FREE): madvise_free_single_vma() over every VMA in [start, end), the mmap_lock held
 * for read. Returns 0, -EINVAL at the first VMA that is not anonymous (vma_is_anonymous(): a file
 * mapping, private ones too; the VMAs before it are done), or -ENOMEM for a hole. No data changes
 * until reclaim discards a lazyfree folio that is still clean; a store after the return sets the
 * PTE dirty bit again (the flush left no dirty writable TLB entry behind: tlb-stale checks it here).
 */
export function madvise_free(cpu: Cpu, mm: number, start: number, end: number): Gen<number> {
  return madvise_cold_or_free(cpu, mm, start, end, true);
}

/** do_madvise() for MADV_COLD (free false) or MADV_FREE: the walk under the mmap_lock (read), then the TLB contract. */
function* madvise_cold_or_free(cpu: Cpu, mm: number, start: number, end: number, free: boolean): Gen<number> {
  const lw = cpu.machine.mmWord(mm, MM.MMAP_LOCK);
  yield* down_read(cpu, lw);
  const r = yield* madvise_walk_vmas(cpu, mm, start, end, free);
  cpu.ev(free ? EV.FREE : EV.COLD, start, end - start);
  MMDEBUG.tlbSynced(cpu, mm, start, end, free ? 'madvise_free' : 'madvise_cold');
  up_read(cpu, lw);
  return r;
}

/**
 * madvise(MADV_PAGEOUT): madvise_pageout() over every VMA in [start, end), the mmap_lock held for
 * read: the walk isolates the folios mapped only here, and reclaim_pages() reclaims them at once
 * (clean page-cache folios dropped, dirty ones unmapped and kept dirty: only kswapd writes file
 * folios back; lazyfree ones discarded if clean; other anon folios stay: no swap, and no split). Returns 0, -ENOMEM for a hole in the range. Deliberate difference: the kernel
 * pages out a file folio only for a caller that could write the file (can_do_file_pageout); every
 * caller can here.
 */
export function* madvise_pageout(cpu: Cpu, mm: number, start: number, end: number): Gen<number> {
  const lw = cpu.machine.mmWord(mm, MM.MMAP_LOCK);
  yield* down_read(cpu, lw);
  let at = start, r = 0;
  for (const v of vmas(cpu.machine, mm)) {
    if (v.end <= at) continue;
    if (v.start >= end) break;
    if (v.start > at) r = ENOMEM;
    const s = Math.max(at, v.start), e = Math.min(end, v.end);
    const tlb = tlb_gather_mmu(cpu, mm);
    const folios = yield* madvise_pageout_page_range(cpu, tlb, v, s, e);
    yield* tlb_finish_mmu(cpu, tlb);
    yield* reclaim_pages(cpu, folios);
    at = e;
  }
  cpu.ev(EV.PAGEOUT, start, end - start);
  up_read(cpu, lw);
  return at < end ? ENOMEM : r;
}

/**
 * madvise_walk_vmas(): each VMA of [start, end) in address order gets its part of the range
 * (madvise_cold or madvise_free_single_vma); an error ends the walk with it, a hole makes the
 * result -ENOMEM once the mapped parts are done. The VMAs cannot change: the mmap_lock is held.
 */
function* madvise_walk_vmas(cpu: Cpu, mm: number, start: number, end: number, free: boolean): Gen<number> {
  let unmapped = 0;
  let at = start;
  for (const v of vmas(cpu.machine, mm)) {
    if (v.end <= at) continue;
    if (v.start >= end) break;
    if (v.start > at) unmapped = ENOMEM;
    const s = Math.max(at, v.start), e = Math.min(end, v.end);
    const r = free ? yield* madvise_free_single_vma(cpu, mm, v, s, e) : yield* madvise_cold_vma(cpu, mm, v, s, e);
    if (r) return r;
    at = e;
  }
  return at < end ? ENOMEM : unmapped;
}

/** madvise_cold(): one VMA's part, in its own mmu_gather (tlb_gather_mmu ... tlb_finish_mmu). */
function* madvise_cold_vma(cpu: Cpu, mm: number, v: VmaView, start: number, end: number): Gen<number> {
  const tlb = tlb_gather_mmu(cpu, mm);
  yield* madvise_cold_page_range(cpu, tlb, v, start, end, false, null);
  yield* tlb_finish_mmu(cpu, tlb);
  return 0;
}

/**
 * madvise_cold_page_range() (pageout false) and madvise_pageout_page_range() (pageout true): the
 * walk over [start, end) of VMA v a PTE table at a time, then tlb_end_vma(): flush what the walk
 * gathered. With pageout, isolated collects the folios to reclaim (see madvise_pageout_page_range).
 */
function* madvise_cold_page_range(cpu: Cpu, tlb: MmuGather, v: VmaView, start: number, end: number, pageout: boolean, isolated: number[] | null): Gen<void> {
  for (let s = start; s < end; ) {
    const e = Math.min(end, (s & ~(PTRS_PER_PTE - 1)) + PTRS_PER_PTE);
    yield* madvise_cold_or_pageout_pte_range(cpu, tlb, v, s, e, pageout, isolated);
    s = e;
  }
  yield* tlb_flush_mmu_tlbonly(cpu, tlb); // tlb_end_vma()
}

/**
 * madvise_pageout_page_range(), for MADV_PAGEOUT (madvise_pageout() holds the mmap_lock for read and
 * its own mmu_gather): the MADV_COLD walk with pageout set, which clears no young bit and, for each
 * folio that passes the walk's checks, isolates it from the LRU (folio_isolate_lru(): one reference
 * taken) instead of deactivating it. Returns those folios, each with that reference, for
 * reclaim_pages() (mm/vmscan.c) to reclaim and put. The LRU is not modelled: every folio is isolated.
 */
export function* madvise_pageout_page_range(cpu: Cpu, tlb: MmuGather, v: VmaView, start: number, end: number): Gen<number[]> {
  const isolated: number[] = [];
  yield* madvise_cold_page_range(cpu, tlb, v, start, end, true, isolated);
  return isolated;
}

/**
 * folio_maybe_mapped_shared() (include/linux/mm.h, CONFIG_MM_ID): a small folio mapped more than
 * once; a large anon folio whose MM_ID "maybe mapped shared" bit is set. (A large file folio has no
 * MM_ID slots in the model: more mappings than pages counts as shared.) Linux 6.12's walk asked
 * folio_likely_mapped_shared(), an estimate from the first page's mapcount; the MM_ID form came
 * with 6.15. In the model only a counter depends on the answer (no split either way).
 */
function folio_maybe_mapped_shared(cpu: Cpu, folio: number, folioNr: number): boolean {
  const { m, L } = cpu.machine;
  const mapcount = Atomics.load(m, L.fMapcount + folio);
  if (folioNr === 1) return mapcount > 1;
  if (mapcount <= 1) return false;
  if (!(Atomics.load(m, L.fFlags + folio) & FOLIO_ANON)) return mapcount > folioNr;
  return (Atomics.load(m, L.fMmId + folio * 2 + 1) & FOLIO_MM_IDS_SHARED_BIT) !== 0;
}

/**
 * The batch a present entry starts (madvise_folio_pte_batch: folio_pte_batch() ignoring dirty and
 * soft-dirty, capped at max_nr = the range's end in this table, with the young and dirty bits of
 * the batch merged into the entry), and whether the walk may go on with it: a large folio not
 * wholly inside the batch (partly outside the range, or its entries not consecutive) is left alone.
 * The kernel skips it if folio_maybe_mapped_shared() and otherwise splits it and looks at the
 * entries again; the model has no split, so it advances past the batch as after a failed split.
 * Both forms (batching true or false) decide on the whole folio: the per-PTE form differs in
 * clearing and flushing one entry at a time.
 */
function madvise_folio_batch(cpu: Cpu, folio: number, folioNr: number, ptep: number, ptent: number, max_nr: number): { nr: number; ptent: number; whole: boolean } {
  if (folioNr === 1) return { nr: 1, ptent, whole: true };
  const b = folio_pte_batch(cpu, folio, folioNr, ptep, ptent, max_nr, FPB_IGNORE_DIRTY | FPB_IGNORE_SOFT_DIRTY);
  if (b.anyYoung) ptent |= PTE_YOUNG;
  if (b.anyDirty) ptent |= PTE_DIRTY;
  if (b.nr < folioNr && !folio_maybe_mapped_shared(cpu, folio, folioNr)) cpu.counters[EV.MADV_SPLIT_SKIPPED]++; // split_folio(): not modelled
  return { nr: b.nr, ptent, whole: b.nr === folioNr };
}

/**
 * Clear young (and dirty: flags) of the batch's nr entries and gather them for the TLB flush
 * (tlb_remove_tlb_entries), as one batch, or in the per-PTE form (batching false) entry by entry.
 * Deviation free-tlb-one-entry: a batch gathers only its first entry (tlb_remove_tlb_entry() where
 * tlb_remove_tlb_entries(nr) was needed), so the rest of the batch may keep dirty, writable TLB
 * entries after MADV_FREE returns.
 */
function* clear_and_gather(cpu: Cpu, tlb: MmuGather, ptep: number, vpn: number, nr: number, flags: number): Gen<void> {
  if (cpu.cfg.batching) {
    yield* clear_young_dirty_ptes(cpu, ptep, nr, flags);
    tlb_remove_tlb_entries(tlb, vpn, flags & CYDP_CLEAR_DIRTY && cpu.inj.freeTlbOneEntry ? 1 : nr);
    return;
  }
  for (let i = 0; i < nr; i++) {
    yield* clear_young_dirty_ptes(cpu, ptep + i, 1, flags);
    tlb_remove_tlb_entries(tlb, vpn + i, 1);
  }
}

/**
 * madvise_cold_or_pageout_pte_range(): [start, end) of one PTE table under its PTL. For each present
 * entry of a normal folio (not the zero page): a large folio is one batch (madvise_folio_batch);
 * a folio mapped by other mappings than these entries (folio_mapcount() != folio_nr_pages(): not
 * this mapping's alone) is left alone. MADV_COLD clears the batch's young bits if any was set and
 * gathers them for the flush, then folio_clear_referenced(); folio_test_clear_young (idle page
 * tracking) and folio_deactivate (the LRU) are not modelled. MADV_PAGEOUT isolates the folio instead.
 * Non-present entries (migration, swap) are skipped.
 */
function* madvise_cold_or_pageout_pte_range(cpu: Cpu, tlb: MmuGather, v: VmaView, start: number, end: number, pageout: boolean, isolated: number[] | null): Gen<void> {
  const { m, L } = cpu.machine;
  yield* madvise_walk_folios(cpu, tlb, v, start, end, 'madvise_cold_or_pageout_pte_range', function* (ptep, vpn, nr, folio, folioNr, ptent) {
    // "Do not interfere with other mappings of this folio": the folio is wholly mapped here, so
    // its mapcount equals its pages only if this is its one mapping (folio_test_lru: every folio)
    if (Atomics.load(m, L.fMapcount + folio) !== folioNr) return;
    if (!pageout && pte_young(ptent)) yield* clear_and_gather(cpu, tlb, ptep, vpn, nr, CYDP_CLEAR_YOUNG);
    if (cpu.cfg.batching && nr > 1) cpu.counters[EV.COLD_BATCHED]++;
    Atomics.and(m, L.fFlags + folio, ~FOLIO_REFERENCED); // folio_clear_referenced()
    if (pageout && isolated) {
      folio_ref_add(cpu, folio, 1); // folio_isolate_lru()'s reference
      isolated.push(folio);
    }
  });
}

/** What a madvise PTE walk does with one whole folio batch: entries [vpn, vpn + nr) at ptep, their merged a/d bits in ptent. */
type FolioVisit = (ptep: number, vpn: number, nr: number, folio: number, folioNr: number, ptent: number) => Gen<void>;

/**
 * The PTE-table walk MADV_COLD, MADV_PAGEOUT and MADV_FREE share (their *_pte_range bodies up to
 * the per-folio work): [start, end) of one PTE table under its PTL; each present entry of a normal
 * folio (not the zero page) starts a batch (madvise_folio_batch); a batch that is not the whole
 * folio is skipped (no split: docs/model.md), a whole one goes to visit. Non-present entries
 * (migration; swap is not modelled) are skipped.
 */
function* madvise_walk_folios(cpu: Cpu, tlb: MmuGather, v: VmaView, start: number, end: number, fn: string, visit: FolioVisit): Gen<void> {
  const machine = cpu.machine;
  const { m, L } = machine;
  const mm = tlb.mm;
  const table = machine.tableIndex(mm, start);
  if (!Atomics.load(m, machine.pgdWord(table))) return; // pte_offset_map_lock(): no table
  const ptl = machine.ptlOf(table);
  yield* spin_lock(cpu, ptl);
  yield P.LOCKED;
  for (let vpn = start, nr = 1; vpn < end; vpn += nr) {
    nr = 1;
    const ptep = machine.ptep(mm, vpn);
    const pte = ptep_get(cpu, ptep);
    if (pte_none(pte) || !pte_present(pte) || pte_special(pte)) continue; // vm_normal_folio(): none for the zero page
    const pfn = pte_pfn(pte);
    const folio = Atomics.load(m, L.pHead + pfn);
    const folioNr = 1 << Atomics.load(m, L.fOrder + folio);
    const b = madvise_folio_batch(cpu, folio, folioNr, ptep, pte, end - vpn);
    nr = b.nr;
    checkBatchBounds(cpu, fn, pfn, nr, folio, folioNr, vpn, v);
    if (!b.whole) continue;
    yield* visit(ptep, vpn, nr, folio, folioNr, b.ptent);
  }
  spin_unlock(cpu, ptl);
}

/**
 * madvise_free_single_vma(): an anon VMA's part in its own mmu_gather, a PTE table at a time, then
 * tlb_end_vma() flushes what was gathered and tlb_finish_mmu() ends it (with an mm-wide flush when
 * another gather of the mm is in flight: two MADV_FREEs of one range, commit 99baac21e458).
 */
function* madvise_free_single_vma(cpu: Cpu, mm: number, v: VmaView, start: number, end: number): Gen<number> {
  if (v.file >= 0) return EINVAL; // "MADV_FREE works for only anon vma at the moment"
  const tlb = tlb_gather_mmu(cpu, mm);
  for (let s = start; s < end; ) {
    const e = Math.min(end, (s & ~(PTRS_PER_PTE - 1)) + PTRS_PER_PTE);
    yield* madvise_free_pte_range(cpu, tlb, v, s, e);
    s = e;
  }
  yield* tlb_flush_mmu_tlbonly(cpu, tlb); // tlb_end_vma()
  yield* tlb_finish_mmu(cpu, tlb);
  return 0;
}

/**
 * folio_mark_lazyfree() (mm/swap.c): an anon, swapbacked folio becomes lazyfree (lru_lazyfree_fn:
 * active and referenced cleared, swapbacked cleared: FOLIO_LAZYFREE set). The kernel moves it
 * through a per-CPU folio batch to the inactive file LRU; the model has no LRU and sets the flag at
 * once. (Not a swap-cache or unevictable folio: neither is modelled.)
 */
export function folio_mark_lazyfree(cpu: Cpu, folio: number): void {
  const { m, L } = cpu.machine;
  const w = L.fFlags + folio;
  const flags = Atomics.load(m, w);
  if (!(flags & FOLIO_ANON) || flags & FOLIO_LAZYFREE) return;
  Atomics.and(m, w, ~FOLIO_REFERENCED);
  Atomics.or(m, w, FOLIO_LAZYFREE);
  cpu.counters[EV.LAZYFREE]++;
}

/**
 * madvise_free_pte_range(): [start, end) of one PTE table under its PTL. For each present entry of
 * a normal folio: a large folio is one batch (madvise_folio_batch, as in the COLD walk). A dirty
 * folio (PG_dirty: reclaim may have moved a PTE dirty bit there) is cleaned only if this mapping is
 * its only one (folio_trylock; folio_mapcount() == folio_nr_pages()): a folio shared after fork keeps
 * the other mm's record of its writes. If the batch has a young or dirty bit, clear both on every
 * entry (clear_young_dirty_ptes) and gather the entries for the flush (tlb_remove_tlb_entries): a
 * CPU must not keep a dirty, writable TLB entry, through which a later store would not set the
 * dirty bit again, or reclaim would discard that store with the folio. Then folio_mark_lazyfree().
 * Non-present entries are skipped (the kernel frees swap entries here: none are modelled).
 */
function* madvise_free_pte_range(cpu: Cpu, tlb: MmuGather, v: VmaView, start: number, end: number): Gen<void> {
  const { m, L } = cpu.machine;
  yield* madvise_walk_folios(cpu, tlb, v, start, end, 'madvise_free_pte_range', function* (ptep, vpn, nr, folio, folioNr, ptent) {
    if (Atomics.load(m, L.fFlags + folio) & FOLIO_DIRTY) { // folio_test_swapcache(): no swap cache modelled
      if (!folio_trylock(cpu, folio)) return;
      // a large folio is wholly mapped here: mapcount == pages only if this is its one mapping
      if (Atomics.load(m, L.fMapcount + folio) !== folioNr) {
        folio_unlock(cpu, folio);
        return;
      }
      Atomics.and(m, L.fFlags + folio, ~FOLIO_DIRTY); // folio_clear_dirty()
      folio_unlock(cpu, folio);
    }
    if (pte_young(ptent) || pte_dirty(ptent)) yield* clear_and_gather(cpu, tlb, ptep, vpn, nr, CYDP_CLEAR_YOUNG | CYDP_CLEAR_DIRTY);
    if (cpu.cfg.batching && nr > 1) cpu.counters[EV.FREE_BATCHED]++;
    folio_mark_lazyfree(cpu, folio);
  });
}
