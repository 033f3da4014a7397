// Models mm/rmap.c: per-page mapcount, the folio's total mapcount, AnonExclusive, and the
// CONFIG_MM_ID bookkeeping (two per-folio slots: which mm maps how many pages, and the "maybe mapped
// shared" bit) that lets a write fault tell whether a large anon folio is mapped by this mm alone; for
// file folios the rmap add/dup and folio_mkclean(), the rmap walk writeback uses to write-protect and
// clean every PTE of a folio.
import type { Cpu } from '../../machine/cpu.js';
import type { Machine } from '../../machine/machine.js';
import { FOLIO_ANON, PG_ANON_EXCLUSIVE } from '../../machine/machine.js';
import { G, MM } from '../../machine/layout.js';
import { folio_maybe_dma_pinned } from '../include/linux/mm.js';
import { type Gen, P } from '../../machine/gen.js';
import { EV } from '../../machine/events.js';
import { PTRS_PER_PTE } from '../../machine/params.js';
import { pte_dirty, pte_mkclean, pte_pfn, pte_present, pte_wrprotect, pte_write } from '../../machine/pte.js';
import { ptep_clear_flush, ptep_get, ptep_get_and_clear, set_pte_at } from '../include/linux/pgtable.js';
import { Aborted, spin_lock, spin_unlock } from '../kernel/locking/spinlock.js';
import { down_read, up_read } from '../kernel/locking/rwsem.js';
import { i_mmap_entries } from './mmap.js';
import { MMDEBUG } from '../include/linux/mmdebug.js';

// CONFIG_MM_ID (include/linux/rmap.h): two slots per folio, fMmId + folio * 2 + s, each (mm + 1) <<
// MMID_SHIFT | the mappings of the folio that mm has (0: a free slot, the kernel's MM_ID_DUMMY with
// mapcount -1). As in the kernel's folio->_mm_ids, the top bit of slot 0 is the bit spinlock that
// serialises every change of the slots and the total (folio_lock_large_mapcount), and the top bit
// of slot 1 says "maybe mapped shared": set when a second mm takes a slot or the mappings of a third
// go unaccounted, cleared on unmap once one slot holds every mapping.
export const MMID_SHIFT = 20;
export const MMID_COUNT = (1 << MMID_SHIFT) - 1;
/** The mm field of a slot word (bits 20..30), after >>> MMID_SHIFT. */
export const MMID_MM = 0x7ff;
/** FOLIO_MM_IDS_LOCK_BIT: top bit of slot 0. */
export const FOLIO_MM_IDS_LOCK_BIT = 1 << 31;
/** FOLIO_MM_IDS_SHARED_BIT: top bit of slot 1. */
export const FOLIO_MM_IDS_SHARED_BIT = 1 << 31;

/**
 * folio_lock_large_mapcount(): the bit spinlock in slot 0. The critical sections never yield, so a
 * sched CPU never finds it held; threaded CPUs spin (a few instructions at most).
 */
function folio_lock_large_mapcount(cpu: Cpu, folio: number): void {
  const m = cpu.m, w0 = cpu.machine.L.fMmId + folio * 2;
  for (;;) {
    const v = Atomics.load(m, w0);
    if (!(v & FOLIO_MM_IDS_LOCK_BIT)) {
      if (Atomics.compareExchange(m, w0, v, v | FOLIO_MM_IDS_LOCK_BIT) === v) return;
    } else if (!cpu.threaded) {
      cpu.violation('folio-mapcount-lock-held', 'folio_lock_large_mapcount', { folio, slot0: v }); // no other CPU runs: it would never be released
    } else if (Atomics.load(m, cpu.machine.L.global + G.STOP) === 2) {
      throw new Aborted(); // a violation elsewhere (perhaps raised by the holder, under the lock)
    }
  }
}

/** folio_unlock_large_mapcount(). */
function folio_unlock_large_mapcount(cpu: Cpu, folio: number): void {
  Atomics.and(cpu.m, cpu.machine.L.fMmId + folio * 2, ~FOLIO_MM_IDS_LOCK_BIT);
}

/**
 * folio_add_return_large_mapcount(): nr more mappings of folio by mm, under the folio's mapcount
 * lock: the total, and mm's slot (its own, or a free one it takes; none if both belong to other
 * mms: those mappings go unaccounted, and the shared bit is set already). Returns the new total.
 */
function folio_add_return_large_mapcount(cpu: Cpu, folio: number, nr: number, mm: number): number {
  const { m, L } = cpu.machine;
  const w0 = L.fMmId + folio * 2, w1 = w0 + 1;
  const id = (mm + 1) << MMID_SHIFT;
  folio_lock_large_mapcount(cpu, folio);
  MMDEBUG.mmIdChange(cpu, folio, 'folio_add_return_large_mapcount');
  const total = Atomics.add(m, L.fMapcount + folio, nr) + nr;
  const s0 = Atomics.load(m, w0) & ~FOLIO_MM_IDS_LOCK_BIT, s1 = Atomics.load(m, w1) & ~FOLIO_MM_IDS_SHARED_BIT;
  if ((s0 & ~MMID_COUNT) === id) Atomics.add(m, w0, nr);
  else if ((s1 & ~MMID_COUNT) === id) Atomics.add(m, w1, nr);
  else if (s0 === 0) {
    Atomics.store(m, w0, FOLIO_MM_IDS_LOCK_BIT | id | nr);
    if (total !== nr) Atomics.or(m, w1, FOLIO_MM_IDS_SHARED_BIT); // we might have other mappings already
  } else if (s1 === 0) {
    Atomics.or(m, w1, id | nr | FOLIO_MM_IDS_SHARED_BIT); // slot 0 certainly has mappings as well
  }
  folio_unlock_large_mapcount(cpu, folio);
  return total;
}

/**
 * folio_sub_return_large_mapcount(): nr mappings of folio by mm gone, under the folio's mapcount
 * lock. mm's slot gives them back (freed once it would count none); if mm has no slot left and one
 * slot now holds every mapping (or none is left), the folio is mapped exclusively again. Returns
 * the new total.
 */
function folio_sub_return_large_mapcount(cpu: Cpu, folio: number, nr: number, mm: number): number {
  const { m, L } = cpu.machine;
  const w0 = L.fMmId + folio * 2, w1 = w0 + 1;
  const id = (mm + 1) << MMID_SHIFT;
  folio_lock_large_mapcount(cpu, folio);
  MMDEBUG.mmIdChange(cpu, folio, 'folio_sub_return_large_mapcount');
  const total = Atomics.sub(m, L.fMapcount + folio, nr) - nr;
  let s0 = Atomics.load(m, w0) & ~FOLIO_MM_IDS_LOCK_BIT, s1 = Atomics.load(m, w1) & ~FOLIO_MM_IDS_SHARED_BIT;
  let kept = false; // mm's slot still counts some of its mappings
  if ((s0 & ~MMID_COUNT) === id) {
    kept = (s0 & MMID_COUNT) > nr;
    if (kept) Atomics.sub(m, w0, nr);
    else {
      Atomics.store(m, w0, FOLIO_MM_IDS_LOCK_BIT);
      s0 = 0;
    }
  } else if ((s1 & ~MMID_COUNT) === id) {
    kept = (s1 & MMID_COUNT) > nr;
    if (kept) Atomics.sub(m, w1, nr);
    else {
      Atomics.and(m, w1, FOLIO_MM_IDS_SHARED_BIT);
      s1 = 0;
    }
  }
  // one slot owns all mappings (a free slot counts 0: an unmapped folio is exclusive too)
  if (!kept && ((s0 & MMID_COUNT) === total || (s1 & MMID_COUNT) === total)) Atomics.and(m, w1, ~FOLIO_MM_IDS_SHARED_BIT);
  folio_unlock_large_mapcount(cpu, folio);
  return total;
}

/** Pages of folio mapped by mm, per its CONFIG_MM_ID slot (0 if mm has no slot). */
export function folio_mm_mapcount(machine: Machine, folio: number, mm: number): number {
  for (let s = 0; s < 2; s++) {
    const v = Atomics.load(machine.m, machine.L.fMmId + folio * 2 + s);
    if (((v >>> MMID_SHIFT) & MMID_MM) === mm + 1) return v & MMID_COUNT;
  }
  return 0;
}

/** folio_add_new_anon_rmap(): map nr pages of a new exclusive anon folio starting at page. */
export function folio_add_new_anon_rmap(cpu: Cpu, folio: number, page: number, nr: number, mm: number): void {
  const { m, L } = cpu.machine;
  Atomics.or(m, L.fFlags + folio, FOLIO_ANON);
  for (let i = 0; i < nr; i++) {
    Atomics.add(m, L.pMapcount + page + i, 1);
    Atomics.or(m, L.pFlags + page + i, PG_ANON_EXCLUSIVE);
  }
  folio_add_return_large_mapcount(cpu, folio, nr, mm);
  cpu.noteFolio(folio);
}

/** folio_add_file_rmap_ptes(): map nr pages of a file folio starting at page (no exclusivity, no mm id). */
export function folio_add_file_rmap_ptes(cpu: Cpu, folio: number, page: number, nr: number): void {
  const { m, L } = cpu.machine;
  for (let i = 0; i < nr; i++) Atomics.add(m, L.pMapcount + page + i, 1);
  Atomics.add(m, L.fMapcount + folio, nr);
  cpu.noteFolio(folio);
}

/** folio_dup_file_rmap_ptes(): fork maps nr pages of a file folio into the child too. */
export const folio_dup_file_rmap_ptes = folio_add_file_rmap_ptes;

/** folio_remove_rmap_ptes(): unmap nr pages of folio starting at page, mapped by mm. */
export function folio_remove_rmap_ptes(cpu: Cpu, folio: number, page: number, nr: number, mm: number): void {
  const { m, L } = cpu.machine;
  for (let i = 0; i < nr; i++) {
    // deviation rmap-remove-off-by-one: the per-page walk lags one page behind from its second step,
    // so a range of two or more pages drops its first page's mapcount twice and its last page's not
    // at all (the folio's total, below, still drops by nr)
    const pg = cpu.inj.rmapRemoveOffByOne && i > 0 ? page + i - 1 : page + i;
    const v = Atomics.sub(m, L.pMapcount + pg, 1) - 1;
    if (v < 0) cpu.violation('mapcount-underflow', 'folio_remove_rmap_ptes', { folio, page: pg, mapcount: v });
  }
  const anon = (Atomics.load(m, L.fFlags + folio) & FOLIO_ANON) !== 0;
  const t = anon ? folio_sub_return_large_mapcount(cpu, folio, nr, mm) : Atomics.sub(m, L.fMapcount + folio, nr) - nr;
  if (t < 0) cpu.violation('mapcount-underflow', 'folio_remove_rmap_ptes', { folio, totalMapcount: t });
  cpu.noteFolio(folio);
}

export const EBUSY = -16;

/**
 * folio_try_dup_anon_rmap_ptes(): fork duplicates nr PTE mappings of folio (pages from page) into
 * the child dst. All or nothing: if the parent mm has pinned pages and the folio may be pinned
 * and any page of the batch is AnonExclusive, nothing is changed and -EBUSY tells the caller to
 * copy instead; otherwise AnonExclusive is cleared on every page and the mapcounts go up.
 */
export function folio_try_dup_anon_rmap_ptes(cpu: Cpu, folio: number, page: number, nr: number, src: number, dst: number): number {
  const machine = cpu.machine;
  const { m, L } = machine;
  const hasPinned = (Atomics.load(m, machine.mmWord(src, MM.FLAGS)) & MMF_HAS_PINNED) !== 0;
  const maybePinned = !cpu.inj.forkDupPinned && hasPinned && folio_maybe_dma_pinned(machine, folio);
  if (maybePinned) {
    for (let i = 0; i < nr; i++) if (Atomics.load(m, L.pFlags + page + i) & PG_ANON_EXCLUSIVE) return EBUSY;
  }
  for (let i = 0; i < nr; i++) {
    Atomics.and(m, L.pFlags + page + i, ~PG_ANON_EXCLUSIVE);
    Atomics.add(m, L.pMapcount + page + i, 1);
  }
  folio_add_return_large_mapcount(cpu, folio, nr, dst);
  cpu.noteFolio(folio);
  return 0;
}

/** MMF_HAS_PINNED: this mm has had pages pinned (set by GUP, never cleared). */
export const MMF_HAS_PINNED = 1 << 0;

// ---- folio_mkclean: the rmap walk of writeback ---------------------------------------------------

/**
 * folio_mkclean(): write-protect and clean every PTE that maps file folio, found through the file's
 * i_mmap under i_mmap_rwsem (read); returns how many entries were dirty or writable (the caller marks
 * the folio dirty if any). Each mapping's entries are visited under its PTL (PVMW_SYNC), so a zap
 * holding the PTL finishes its flush first.
 */
export function* folio_mkclean(cpu: Cpu, folio: number): Gen<number> {
  const machine = cpu.machine;
  const { m, L } = machine;
  const file = Atomics.load(m, L.fMapping + folio) - 1;
  if (file < 0) return 0;
  const index = Atomics.load(m, L.fIndex + folio);
  const nr = 1 << Atomics.load(m, L.fOrder + folio);
  const lw = L.immapLock + file;
  yield* down_read(cpu, lw); // i_mmap_lock_read()
  let cleaned = 0;
  for (const e of i_mmap_entries(machine, file)) {
    // the pages of the folio this mapping covers (vma_address() for each end)
    const lo = Math.max(index, e.pgoff), hi = Math.min(index + nr, e.pgoff + (e.end - e.start));
    if (lo >= hi) continue;
    cleaned += yield* page_vma_mkclean_one(cpu, e.mm, e.start + (lo - e.pgoff), hi - lo, folio, nr);
  }
  up_read(cpu, lw);
  return cleaned;
}

/**
 * page_vma_mkclean_one(): entries [vpn, vpn + n) of mm, per PTE table under its PTL: each one that
 * maps the folio and is dirty or writable is cleared and flushed (ptep_clear_flush: no CPU may
 * keep storing through a writable TLB entry once the folio is written back as clean), then set
 * again write-protected and clean. The deviation writeback-no-flush skips the flush.
 */
function* page_vma_mkclean_one(cpu: Cpu, mm: number, vpn: number, n: number, folio: number, nr: number): Gen<number> {
  const machine = cpu.machine;
  let cleaned = 0;
  for (let s = vpn, end = vpn + n; s < end; ) {
    const e = Math.min(end, (s & ~(PTRS_PER_PTE - 1)) + PTRS_PER_PTE);
    const table = machine.tableIndex(mm, s);
    if (Atomics.load(machine.m, machine.pgdWord(table))) {
      const ptl = machine.ptlOf(table);
      yield* spin_lock(cpu, ptl);
      yield P.LOCKED;
      for (let v = s; v < e; v++) {
        const ptep = machine.ptep(mm, v);
        const pte = ptep_get(cpu, ptep);
        if (!pte_present(pte) || pte_pfn(pte) < folio || pte_pfn(pte) >= folio + nr) continue;
        if (!pte_dirty(pte) && !pte_write(pte)) continue;
        const old = cpu.inj.writebackNoFlush ? yield* ptep_get_and_clear(cpu, ptep) : yield* ptep_clear_flush(cpu, ptep);
        yield* set_pte_at(cpu, ptep, pte_mkclean(pte_wrprotect(old)));
        MMDEBUG.tlbSynced(cpu, mm, v, v + 1, 'page_vma_mkclean_one'); // flushed before the PTL is dropped
        cleaned++;
      }
      spin_unlock(cpu, ptl);
    }
    s = e;
  }
  cpu.counters[EV.MKCLEAN_PTES] += cleaned;
  return cleaned;
}
