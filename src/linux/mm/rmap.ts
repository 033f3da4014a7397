// Models mm/rmap.c: per-page mapcount, the folio's total mapcount, AnonExclusive, and the
// CONFIG_MM_ID bookkeeping (two per-folio slots: which mm maps how many pages, and the "maybe mapped
// shared" bit) that lets a write fault tell whether a large anon folio is mapped by this mm alone; for
// file folios the rmap add/dup and folio_mkclean(), the rmap walk writeback uses to write-protect and
// clean every PTE of a folio.
import type { Cpu } from '../../machine/cpu.js';
import type { Machine } from '../../machine/machine.js';
import { FOLIO_ANON, FOLIO_DIRTY, FOLIO_LAZYFREE, FOLIO_LRU, PG_ANON_EXCLUSIVE } from '../../machine/machine.js';
import { G, MM } from '../../machine/layout.js';
import { folio_maybe_dma_pinned } from '../include/linux/mm.js';
import { type Gen, P } from '../../machine/gen.js';
import { EV } from '../../machine/events.js';
import { PTRS_PER_PTE } from '../../machine/params.js';
import { PTE_DIRTY, PTE_WRITE, PTE_YOUNG, pfn_pte, pte_dirty, pte_mkclean, pte_pfn, pte_present, pte_special, pte_wrprotect, pte_write, pte_young } from '../../machine/pte.js';
import {
  is_migration_entry, is_migration_entry_dirty, is_migration_entry_young, is_readable_exclusive_migration_entry, is_writable_migration_entry,
  make_migration_entry_dirty, make_migration_entry_young, make_readable_exclusive_migration_entry, make_readable_migration_entry,
  make_writable_migration_entry,
} from '../include/linux/swapops.js';
import { folio_put, folio_ref_add } from './swap.js';
import { ptep_clear_flush, ptep_clear_flush_young, ptep_get, ptep_get_and_clear, set_pte_at } from '../include/linux/pgtable.js';
import { Aborted, spin_lock, spin_unlock } from '../kernel/locking/spinlock.js';
import { down_read, down_write, up_read, up_write } from '../kernel/locking/rwsem.js';
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
  // folio_add_lru_vma(): on the LRU from its first mapping (where reclaim's scan may find it)
  Atomics.or(m, L.fFlags + folio, FOLIO_LRU);
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

/**
 * folio_add_anon_rmap_ptes(): map nr pages (from page) of an anon folio that is already anon (a
 * migration target taking over its source's mappings, remove_migration_pte), AnonExclusive when
 * exclusive (RMAP_EXCLUSIVE).
 */
export function folio_add_anon_rmap_ptes(cpu: Cpu, folio: number, page: number, nr: number, mm: number, exclusive: boolean): void {
  const { m, L } = cpu.machine;
  for (let i = 0; i < nr; i++) {
    Atomics.add(m, L.pMapcount + page + i, 1);
    if (exclusive) Atomics.or(m, L.pFlags + page + i, PG_ANON_EXCLUSIVE);
  }
  folio_add_return_large_mapcount(cpu, folio, nr, mm);
  cpu.noteFolio(folio);
}

// ---- the anon rmap walk: anon_vma ---------------------------------------------------------------
// Simplified, as docs/model.md says: the model has one anon_vma root for every anon folio, locked
// by G.ANON_VMA_LOCK (anon_vma_lock_read / anon_vma_lock_write), and no folio->index / vm_pgoff
// for anon memory. rmap_walk_anon() therefore visits every entry of every populated PTE table of
// every mm linked to the anon_vma, and keeps those that map a page of the folio: the entries of
// every VMA the kernel's interval tree gives, and no other can map it. The order is the kernel's:
// mms in the order they were linked (MM.BIRTH: anon_vma_fork links a child after its parent, so a
// walk meets a parent's entry before the copy fork makes of it), each mm by address. The lock is held across the whole walk, as
// rmap_walk_anon holds the anon_vma lock: fork links a child (anon_vma_fork) and exit unlinks an
// mm (unlink_anon_vmas) under it for write, so the set of mms cannot change during a walk, and
// mremap holds it for write while it moves entries against the walk's order (need_rmap_locks).

/** The anon_vma root lock word (an rwsem). */
export const anon_vma_lock = (machine: Machine): number => machine.L.global + G.ANON_VMA_LOCK;

/**
 * anon_vma_fork() / the first anon_vma_prepare() of an mm, as far as the walk cares: link mm to the
 * anon_vma (give it the next birth number) under the anon_vma lock held for write.
 */
export function* anon_vma_link(cpu: Cpu, mm: number): Gen<void> {
  const { m } = cpu.machine;
  const lw = anon_vma_lock(cpu.machine);
  yield* down_write(cpu, lw);
  Atomics.store(m, cpu.machine.mmWord(mm, MM.BIRTH), Atomics.add(m, cpu.machine.L.global + G.MM_BIRTH, 1) + 1);
  up_write(cpu, lw);
}

/** unlink_anon_vmas() for a whole mm (exit, after the last zap): no walk visits it from here on. */
export function* anon_vma_unlink(cpu: Cpu, mm: number): Gen<void> {
  const lw = anon_vma_lock(cpu.machine);
  yield* down_write(cpu, lw);
  Atomics.store(cpu.m, cpu.machine.mmWord(mm, MM.BIRTH), 0);
  up_write(cpu, lw);
}

/** The linked mms in birth order (the anon_vma lock held). */
function anon_vma_mms(machine: Machine): number[] {
  const out: number[] = [];
  const birth = (mm: number): number => Atomics.load(machine.m, machine.mmWord(mm, MM.BIRTH));
  for (let mm = 0; mm < machine.L.maxMms; mm++) if (birth(mm) > 0) out.push(mm);
  // a handful of mms: insertion sort by birth
  for (let i = 1; i < out.length; i++) {
    const x = out[i];
    let j = i;
    while (j > 0 && birth(out[j - 1]) > birth(x)) out[j] = out[--j];
    out[j] = x;
  }
  return out;
}

/** What an rmap walk does with each entry that maps the folio (the kernel's rwc->rmap_one). */
export const RMAP_MIGRATE = 0; // try_to_migrate_one
export const RMAP_REMOVE_MIGRATION = 1; // remove_migration_pte
export const RMAP_UNMAP = 2; // try_to_unmap_one
export const RMAP_REFERENCED = 3; // folio_referenced_one
export type RmapOne = typeof RMAP_MIGRATE | typeof RMAP_REMOVE_MIGRATION | typeof RMAP_UNMAP | typeof RMAP_REFERENCED;

/** An rmap walk's state: the folio, its pages, the target of remove_migration_ptes, and the outcome. */
export interface RmapWalk {
  kind: RmapOne;
  folio: number;
  nr: number;
  /** remove_migration_ptes: the folio whose pages replace the entries (the source itself on failure) */
  dst: number;
  /** try_to_migrate: false once an entry could not be unmapped (the walk stops: rwc->done) */
  ok: boolean;
  /** entries handled */
  n: number;
}

/**
 * rmap_walk_anon(): the walk above, per PTE table under its PTL. An entry "maps the folio" when it
 * is present and maps one of its pages (try_to_migrate), or is a migration entry for one of its
 * pages (remove_migration_ptes: the kernel's page_vma_mapped_walk with PVMW_MIGRATION).
 */
export function* rmap_walk_anon(cpu: Cpu, w: RmapWalk): Gen<void> {
  const machine = cpu.machine;
  const m = machine.m;
  const L = machine.L;
  const lw = anon_vma_lock(machine);
  yield* down_read(cpu, lw); // anon_vma_lock_read()
  yield P.RMAP;
  for (const mm of anon_vma_mms(machine)) {
    // Every populated PTE table of the mm, not the VMA table: munmap detaches a VMA before it
    // zaps, and the kernel's walk still finds a detached VMA on the anon_vma until free_pgtables
    // unlinks it after the zap. The tables hold exactly the entries of the mm's linked VMAs.
    for (let t = 0; t < L.tablesPerMm && w.ok; t++) {
      const table = mm * L.tablesPerMm + t;
      if (!Atomics.load(m, machine.pgdWord(table))) continue;
      if (yield* rmap_walk_table(cpu, w, mm, t * PTRS_PER_PTE, (t + 1) * PTRS_PER_PTE, table)) {
        // a match was handled (the PTL dropped): another CPU may run before the next table
        yield P.RMAP;
      }
    }
    if (!w.ok) break;
  }
  up_read(cpu, lw);
}

/** The entries [s, e) of one PTE table: a plain pre-scan, then the PTL only if one may match. */
function* rmap_walk_table(cpu: Cpu, w: RmapWalk, mm: number, s: number, e: number, table: number): Gen<boolean> {
  const machine = cpu.machine;
  const m = machine.m;
  const match = (pte: number): boolean => {
    if (w.kind === RMAP_REMOVE_MIGRATION ? !is_migration_entry(pte) : !pte_present(pte) || pte_special(pte)) return false;
    const pfn = pte_pfn(pte);
    return pfn >= w.folio && pfn < w.folio + w.nr;
  };
  // page_vma_mapped_walk() finds the entry with lockless reads (pte_offset_map) and then takes the
  // PTL (map_pte: "pvmw->ptl = pte_lockptr"); the entry is checked again under the lock
  let any = false;
  for (let vpn = s; vpn < e && !any; vpn++) any = match(Atomics.load(m, machine.ptep(mm, vpn)));
  if (!any) return false;
  const ptl = machine.ptlOf(table);
  yield* spin_lock(cpu, ptl);
  yield P.LOCKED;
  for (let vpn = s; vpn < e && w.ok; vpn++) {
    const ptep = machine.ptep(mm, vpn);
    const pte = ptep_get(cpu, ptep);
    if (!match(pte)) continue;
    if (w.kind === RMAP_MIGRATE) w.ok = yield* try_to_migrate_one(cpu, w, mm, vpn, ptep, pte);
    else if (w.kind === RMAP_REMOVE_MIGRATION) yield* remove_migration_pte(cpu, w, mm, vpn, ptep, pte);
    else if (w.kind === RMAP_UNMAP) w.ok = yield* try_to_unmap_one(cpu, w, mm, vpn, ptep);
    else yield* folio_referenced_one(cpu, w, ptep);
    w.n++;
  }
  spin_unlock(cpu, ptl);
  return true;
}

/**
 * try_to_migrate_one() for one entry, PTL held (MIGRATE_SYNC: no TTU_BATCH_FLUSH, so each entry is
 * flushed at once with ptep_clear_flush, before the PTL is dropped). The dirty bit moves to the
 * folio; an AnonExclusive page is made shared first (folio_try_share_anon_rmap_pte), which fails
 * if the folio may be pinned: the entry is put back and the walk stops. The migration entry is
 * writable, readable-exclusive or readable, and keeps the young/dirty bits; the
 * mapping's mapcount and reference go (the migration's own reference keeps the folio).
 * Deviation migrate-no-flush: the entry is cleared without the flush. Deviation migrate-ignore-pins:
 * a pinned AnonExclusive page is made shared and unmapped anyway.
 */
function* try_to_migrate_one(cpu: Cpu, w: RmapWalk, mm: number, vpn: number, ptep: number, pte: number): Gen<boolean> {
  const { m, L } = cpu.machine;
  const pfn = pte_pfn(pte);
  const pteval: number = cpu.inj.migrateNoFlush ? yield* ptep_get_and_clear(cpu, ptep) : yield* ptep_clear_flush(cpu, ptep);
  // the flush is done: no CPU may keep storing to the page through the old entry (the copy follows)
  MMDEBUG.tlbSynced(cpu, mm, vpn, vpn + 1, 'try_to_migrate_one');
  if (pte_dirty(pteval)) Atomics.or(m, L.fFlags + w.folio, FOLIO_DIRTY); // folio_mark_dirty()
  const anon = (Atomics.load(m, L.fFlags + w.folio) & FOLIO_ANON) !== 0;
  const anonExclusive = anon && (Atomics.load(m, L.pFlags + pfn) & PG_ANON_EXCLUSIVE) !== 0;
  if (anonExclusive) {
    // folio_try_share_anon_rmap_pte(): a pinned exclusive page must stay exclusive and mapped
    // (deviation migrate-ignore-pins: a pinned page is unmapped and shared like any other)
    if (folio_maybe_dma_pinned(cpu.machine, w.folio) && !cpu.inj.migrateIgnorePins) {
      yield* set_pte_at(cpu, ptep, pteval);
      cpu.ev(EV.MIGRATE_PINNED, vpn, pfn);
      return false;
    }
    Atomics.and(m, L.pFlags + pfn, ~PG_ANON_EXCLUSIVE);
  }
  let entry = pte_write(pteval) ? make_writable_migration_entry(pfn) : anonExclusive ? make_readable_exclusive_migration_entry(pfn) : make_readable_migration_entry(pfn);
  if (pte_young(pteval)) entry = make_migration_entry_young(entry);
  if (pte_dirty(pteval)) entry = make_migration_entry_dirty(entry);
  // (no soft-dirty tracking in the model: pte_swp_mksoft_dirty has nothing to carry)
  yield* set_pte_at(cpu, ptep, entry);
  folio_remove_rmap_ptes(cpu, w.folio, pfn, 1, mm);
  yield* folio_put(cpu, w.folio);
  return true;
}

/**
 * try_to_migrate(): replace every entry mapping folio with a migration entry (the anon rmap walk;
 * file folios are not migrated in the model). Returns false if an entry could not be (a pinned
 * AnonExclusive page); folio_mapped() then says some entries are still there.
 */
export function* try_to_migrate(cpu: Cpu, folio: number): Gen<boolean> {
  const w: RmapWalk = { kind: RMAP_MIGRATE, folio, nr: 1 << Atomics.load(cpu.m, cpu.machine.L.fOrder + folio), dst: -1, ok: true, n: 0 };
  yield* rmap_walk_anon(cpu, w);
  cpu.counters[EV.MIGRATE_PTES] += w.n;
  return w.ok;
}

/**
 * remove_migration_pte() for one migration entry of src's page, PTL held: map the page of dst at
 * the same offset (dst is src itself when the migration failed), writable if the entry was,
 * AnonExclusive if it was writable or readable-exclusive, old unless the entry was young, dirty
 * if it was and the folio is; a reference and a mapcount per entry.
 */
function* remove_migration_pte(cpu: Cpu, w: RmapWalk, mm: number, vpn: number, ptep: number, entry: number): Gen<void> {
  const { m, L } = cpu.machine;
  const page = w.dst + (pte_pfn(entry) - w.folio);
  folio_ref_add(cpu, w.dst, 1); // folio_get()
  let pte = pfn_pte(page, PTE_YOUNG);
  if (is_writable_migration_entry(entry)) pte |= PTE_WRITE;
  if (!is_migration_entry_young(entry)) pte &= ~PTE_YOUNG;
  if (is_migration_entry_dirty(entry) && Atomics.load(m, L.fFlags + w.dst) & FOLIO_DIRTY) pte |= PTE_DIRTY;
  const exclusive = is_writable_migration_entry(entry) || is_readable_exclusive_migration_entry(entry);
  folio_add_anon_rmap_ptes(cpu, w.dst, page, 1, mm, exclusive);
  yield* set_pte_at(cpu, ptep, pte);
}

/** remove_migration_ptes(): every migration entry for src's pages maps dst's instead (or src's again). */
export function* remove_migration_ptes(cpu: Cpu, src: number, dst: number): Gen<number> {
  const w: RmapWalk = { kind: RMAP_REMOVE_MIGRATION, folio: src, nr: 1 << Atomics.load(cpu.m, cpu.machine.L.fOrder + src), dst, ok: true, n: 0 };
  yield* rmap_walk_anon(cpu, w);
  return w.n;
}

// ---- reclaim's rmap walks: folio_referenced, try_to_unmap ----------------------------------------

/**
 * rmap_walk_file(): every PTE of the folio's file pages in each mapping on the file's i_mmap,
 * under i_mmap_rwsem (read), per PTE table under its PTL (the walk folio_mkclean does, for
 * another rmap_one).
 */
function* rmap_walk_file(cpu: Cpu, w: RmapWalk, file: number): Gen<void> {
  const machine = cpu.machine;
  const { m, L } = machine;
  const index = Atomics.load(m, L.fIndex + w.folio);
  const lw = L.immapLock + file;
  yield* down_read(cpu, lw); // i_mmap_lock_read()
  for (const e of i_mmap_entries(machine, file)) {
    const lo = Math.max(index, e.pgoff), hi = Math.min(index + w.nr, e.pgoff + (e.end - e.start));
    if (lo >= hi) continue;
    // (every entry of a page-cache folio can be unmapped: try_to_unmap_one stops a walk only for an anon folio)
    for (let s = e.start + (lo - e.pgoff), end = s + (hi - lo); s < end; ) {
      const t = Math.min(end, (s & ~(PTRS_PER_PTE - 1)) + PTRS_PER_PTE);
      const table = machine.tableIndex(e.mm, s);
      if (Atomics.load(m, machine.pgdWord(table)) && (yield* rmap_walk_table(cpu, w, e.mm, s, t, table))) yield P.RMAP;
      s = t;
    }
  }
  up_read(cpu, lw);
}

/** rmap_walk(): the file's i_mmap for a page-cache folio, the anon_vma for an anon one. */
export function* rmap_walk(cpu: Cpu, w: RmapWalk): Gen<void> {
  const { m, L } = cpu.machine;
  const file = Atomics.load(m, L.fMapping + w.folio) - 1;
  if (file >= 0) yield* rmap_walk_file(cpu, w, file);
  else yield* rmap_walk_anon(cpu, w);
}

/**
 * folio_referenced_one() for one entry: ptep_clear_flush_young_notify(); a young entry counts as
 * a reference (w.n counts the entries looked at, w.dst the young ones).
 */
function* folio_referenced_one(cpu: Cpu, w: RmapWalk, ptep: number): Gen<void> {
  if (yield* ptep_clear_flush_young(cpu, ptep)) w.dst++;
}

/**
 * folio_referenced(): how many of the entries mapping the folio were young (each is made old),
 * through the rmap walk; the caller holds the folio lock.
 */
export function* folio_referenced(cpu: Cpu, folio: number): Gen<number> {
  const w: RmapWalk = { kind: RMAP_REFERENCED, folio, nr: 1 << Atomics.load(cpu.m, cpu.machine.L.fOrder + folio), dst: 0, ok: true, n: 0 };
  yield* rmap_walk(cpu, w);
  return w.dst;
}

/**
 * try_to_unmap_one() for one entry, PTL held, for reclaim (no TTU_BATCH_FLUSH: each entry is
 * cleared and flushed at once, ptep_clear_flush). The entry's dirty bit moves to the folio. A
 * page-cache entry goes: the RSS counter drops, the mapping's mapcount and reference go. A lazyfree
 * anon folio ("MADV_FREE page check") is discarded only while nobody else holds a reference
 * (ref_count == 1 + map_count: reclaim's own and the mappings') and it is still clean; otherwise
 * the entry is put back, the folio is swapbacked again and the walk stops. Any other anon folio
 * would go to swap, which the model does not have: the entry is put back and the walk stops.
 * Deviation reclaim-unmap-no-dirty: the dirty bit is not moved to the folio. Deviation
 * lazyfree-ignore-refs: the reference check is skipped.
 */
function* try_to_unmap_one(cpu: Cpu, w: RmapWalk, mm: number, vpn: number, ptep: number): Gen<boolean> {
  const { m, L } = cpu.machine;
  const pteval: number = yield* ptep_clear_flush(cpu, ptep);
  MMDEBUG.tlbSynced(cpu, mm, vpn, vpn + 1, 'try_to_unmap_one');
  // "Set the dirty flag on the folio now the pte is gone" (deviation reclaim-unmap-no-dirty: not)
  if (pte_dirty(pteval) && !cpu.inj.reclaimUnmapNoDirty) Atomics.or(m, L.fFlags + w.folio, FOLIO_DIRTY);
  const flags = Atomics.load(m, L.fFlags + w.folio);
  if (flags & FOLIO_ANON) {
    const refs = Atomics.load(m, L.fRef + w.folio), mapcount = Atomics.load(m, L.fMapcount + w.folio);
    if (!(flags & FOLIO_LAZYFREE) || ((refs !== 1 + mapcount && !cpu.inj.lazyfreeIgnoreRefs) || flags & FOLIO_DIRTY)) {
      // redirtied, or referenced by someone (GUP, a pin): remap the page to page table
      yield* set_pte_at(cpu, ptep, pteval);
      if (flags & FOLIO_LAZYFREE) {
        Atomics.and(m, L.fFlags + w.folio, ~FOLIO_LAZYFREE); // folio_set_swapbacked()
        cpu.ev(EV.LAZYFREE_REDIRTIED, vpn, w.folio);
      }
      return false;
    }
    Atomics.sub(m, cpu.machine.mmWord(mm, MM.RSS_ANON), 1); // dec_mm_counter(mm, MM_ANONPAGES): discard
  } else Atomics.sub(m, cpu.machine.mmWord(mm, MM.RSS_FILE), 1); // dec_mm_counter(mm, mm_counter_file(folio))
  folio_remove_rmap_ptes(cpu, w.folio, pte_pfn(pteval), 1, mm);
  yield* folio_put(cpu, w.folio);
  return true;
}

/** try_to_unmap(): unmap every entry of the folio through the rmap walk; false if one stayed. */
export function* try_to_unmap(cpu: Cpu, folio: number): Gen<boolean> {
  const w: RmapWalk = { kind: RMAP_UNMAP, folio, nr: 1 << Atomics.load(cpu.m, cpu.machine.L.fOrder + folio), dst: -1, ok: true, n: 0 };
  yield* rmap_walk(cpu, w);
  cpu.counters[EV.RECLAIM_UNMAPPED] += w.n;
  return w.ok;
}
