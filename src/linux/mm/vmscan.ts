// Models mm/vmscan.c for page-cache folios and lazyfree anon folios: a slice of reclaim (kswapd's
// shrink_folio_list over the folios an LRU scan isolated), and reclaim_pages() for MADV_PAGEOUT. Each folio is locked; folio_referenced() makes its mapped
// entries old through the rmap walk and keeps it if one was young; a mapped folio is unmapped by
// try_to_unmap() (the rmap walk, holding only each PTL: no mmap_lock); a dirty one is written back
// (pageout, kswapd only: MADV_PAGEOUT keeps it dirty) and kept for a later pass; a clean, unmapped one leaves the page cache
// (__remove_mapping: its reference count frozen at what the page cache and reclaim hold) and is
// freed. The next access faults it in from the disk. A lazyfree anon folio (MADV_FREE) that is
// still clean and referenced by nobody else is discarded: its entries go, and the next access
// faults in a zero page or a new folio.
// Deliberate differences: no LRU lists: the scan walks physical memory from a point (as
// compaction's isolate_migratepages_block does) and takes every page-cache or lazyfree folio it
// meets (on the LRU: published); no anon reclaim beyond lazyfree folios (no swap device: see
// docs/model.md); no TTU_BATCH_FLUSH (each entry is flushed as it is unmapped).
import type { Cpu } from '../../machine/cpu.js';
import { type Gen, P } from '../../machine/gen.js';
import { EV } from '../../machine/events.js';
import { LOCK_WORDS } from '../../machine/layout.js';
import { FOLIO_ANON, FOLIO_DIRTY, FOLIO_ISOLATED, FOLIO_LAZYFREE, FOLIO_LOCKED, FOLIO_LRU, FOLIO_RECLAIM, FOLIO_REFERENCED, PG_BUDDY, PG_HEAD, PG_RESERVED } from '../../machine/machine.js';
import { spin_lock, spin_unlock } from '../kernel/locking/spinlock.js';
import { folio_trylock, folio_try_get, folio_unlock } from './filemap.js';
import { pageout } from './page-writeback.js';
import { free_folio } from './page_alloc.js';
import { folio_referenced, try_to_unmap } from './rmap.js';
import { folio_put } from './swap.js';

/**
 * Reclaim a slice: from pfn start (wrapping), isolate up to `scan` page-cache folios and shrink
 * each (isolate_lru_folios then shrink_folio_list). Returns the folios freed.
 */
export function* shrink_folios(cpu: Cpu, start: number, scan: number): Gen<number> {
  const { m, L } = cpu.machine;
  let freed = 0;
  for (let n = 0, pfn = start % L.pages, seen = 0; n < scan && seen < L.pages; ) {
    const flags = Atomics.load(m, L.pFlags + pfn);
    const order = flags & PG_HEAD ? Atomics.load(m, L.fOrder + pfn) : 0;
    const step = flags & PG_HEAD ? 1 << order : 1;
    if (flags & PG_HEAD && !(flags & (PG_BUDDY | PG_RESERVED)) && reclaimable(Atomics.load(m, L.fFlags + pfn), Atomics.load(m, L.fMapping + pfn)) && (yield* folio_isolate(cpu, pfn))) {
      n++;
      cpu.ev(EV.RECLAIM_SCANNED, pfn, order);
      if (yield* shrink_folio(cpu, pfn, false, true)) freed++;
      else yield* folio_putback(cpu, pfn);
      yield P.SCAN;
    }
    seen += step;
    pfn = (pfn + step) % L.pages;
  }
  return freed;
}

/** On the LRU, and a page-cache folio or a lazyfree anon one (no swap: other anon folios stay). */
const reclaimable = (flags: number, mapping: number): boolean => (flags & FOLIO_LRU) !== 0 && (mapping !== 0 || (flags & (FOLIO_ANON | FOLIO_LAZYFREE)) === (FOLIO_ANON | FOLIO_LAZYFREE));

/**
 * Isolate a page-cache folio met by a physical scan (isolate_migratepages_block's way): a
 * reference unless it is free or frozen, then check it is still that folio and still cached, then
 * take it off the LRU (FOLIO_ISOLATED: a migration may have it already).
 */
function* folio_isolate(cpu: Cpu, folio: number): Gen<boolean> {
  const { m, L } = cpu.machine;
  if (!folio_try_get(cpu, folio)) return false;
  // Off the LRU at once (the kernel's TestClearPageLRU): FOLIO_ISOLATED accounts for our reference
  // (the checker's COW-reuse contract allows an isolator's). Our reference keeps the folio from
  // being freed meanwhile, so the flag is ours to clear again if it is not one to reclaim.
  if (Atomics.or(m, L.fFlags + folio, FOLIO_ISOLATED) & FOLIO_ISOLATED) {
    yield* folio_put(cpu, folio); // isolated by another
    return false;
  }
  // on the LRU: a folio published by filemap_add_folio or its first mapping (never one being filled)
  const ok = Atomics.load(m, L.pHead + folio) === folio && (Atomics.load(m, L.pFlags + folio) & PG_HEAD) !== 0 && reclaimable(Atomics.load(m, L.fFlags + folio), Atomics.load(m, L.fMapping + folio));
  if (ok) return true;
  // not ours to reclaim: drop the flag and the reference (a folio_put: its owner may have dropped
  // its last one meanwhile, and then ours frees it)
  Atomics.and(m, L.fFlags + folio, ~FOLIO_ISOLATED);
  yield* folio_put(cpu, folio);
  return false;
}

/** folio_putback_lru(): back on the LRU, the isolation reference dropped. */
function* folio_putback(cpu: Cpu, folio: number): Gen<void> {
  Atomics.and(cpu.m, cpu.machine.L.fFlags + folio, ~FOLIO_ISOLATED);
  yield* folio_put(cpu, folio);
}

/**
 * shrink_folio_list() for one isolated folio (a page-cache or lazyfree one; for MADV_PAGEOUT any
 * folio, ignoreReferences); true if it was freed. kswapd: the caller is kswapd (the reclaim op),
 * the only reclaimer that writes dirty file folios back; MADV_PAGEOUT's reclaim_pages runs in the
 * caller's context and keeps them dirty (set for reclaim and activated), unmapped.
 */
function* shrink_folio(cpu: Cpu, folio: number, ignoreReferences: boolean, kswapd: boolean): Gen<boolean> {
  const { m, L } = cpu.machine;
  if (!folio_trylock(cpu, folio)) return false;
  if (!ignoreReferences) {
    // folio_check_references(): a young mapping keeps the folio (activated or kept for another pass)
    const young = yield* folio_referenced(cpu, folio);
    Atomics.and(m, L.fFlags + folio, ~FOLIO_REFERENCED);
    if (young > 0) {
      cpu.ev(EV.RECLAIM_REFERENCED, folio, young);
      folio_unlock(cpu, folio);
      return false;
    }
  }
  const file = Atomics.load(m, L.fMapping + folio) !== 0;
  if (!file && !(Atomics.load(m, L.fFlags + folio) & FOLIO_LAZYFREE)) {
    folio_unlock(cpu, folio); // an anon folio would be added to the swap cache: no swap here
    return false;
  }
  if (Atomics.load(m, L.fMapcount + folio) > 0) {
    // try_to_unmap(): entries can be added back meanwhile (a fault maps the folio again): keep it
    if (!(yield* try_to_unmap(cpu, folio)) || Atomics.load(m, L.fMapcount + folio) > 0) {
      folio_unlock(cpu, folio);
      return false;
    }
  }
  if (!file) {
    // a lazyfree folio: "follow __remove_mapping for reference": only reclaim's own reference is
    // left, or it stays; redirtied meanwhile (a GUP write), it stays too
    if (Atomics.compareExchange(m, L.fRef + folio, 1, 0) !== 1) {
      folio_unlock(cpu, folio);
      cpu.ev(EV.RECLAIM_BUSY, folio);
      return false;
    }
    if (Atomics.load(m, L.fFlags + folio) & FOLIO_DIRTY) {
      Atomics.store(m, L.fRef + folio, 1); // folio_ref_unfreeze()
      folio_unlock(cpu, folio);
      return false;
    }
    cpu.ev(EV.LAZYFREE_DISCARDED, folio, Atomics.load(m, L.fOrder + folio));
  } else if (Atomics.load(m, L.fFlags + folio) & FOLIO_DIRTY) {
    // "Only kswapd can writeback filesystem folios" (shrink_folio_list): anyone else sets the
    // folio for reclaim and activates it, dirty (Linux 6.12 checked by conform:
    // gen-ext4-shared-pageout-dirty, gen-file-shared-pageout). Deliberate difference: kswapd
    // writes it at once, without waiting to meet it again with PG_reclaim set and the node's
    // PGDAT_DIRTY; a tmpfs-like file has a disk here, where shmem would need swap.
    if (!kswapd) {
      // a disk file's folio: folio_set_reclaim(), then activate_locked. A tmpfs-like one is swap-
      // backed, not file LRU: pageout() sets PG_reclaim, shmem_writepage (no swap) redirties it
      // and asks for activation, and pageout() clears PG_reclaim again: dirty, no mark
      if (cpu.machine.fileWritenotify(Atomics.load(m, L.fMapping + folio) - 1)) Atomics.or(m, L.fFlags + folio, FOLIO_RECLAIM);
      folio_unlock(cpu, folio);
      return false;
    }
    folio_unlock(cpu, folio);
    // pageout(): write it now, reclaim it on a later pass once clean
    yield* pageout(cpu, folio);
    cpu.ev(EV.RECLAIM_PAGEOUT, folio);
    return false;
  } else if (!(yield* __remove_mapping(cpu, folio))) {
    folio_unlock(cpu, folio);
    return false;
  }
  // __folio_clear_locked() and free: the count is 0, nobody can find the folio any more
  Atomics.and(m, L.fFlags + folio, ~(FOLIO_LOCKED | FOLIO_ISOLATED));
  cpu.ev(EV.RECLAIM_FREED, folio, Atomics.load(m, L.fOrder + folio));
  yield* free_folio(cpu, folio);
  return true;
}

/**
 * reclaim_pages() for MADV_PAGEOUT: each folio the walk isolated (holding the reference it took)
 * is shrunk without the reference check (ignore_references); a folio another migration or reclaim
 * has isolated already is left to it. Returns the folios freed.
 */
export function* reclaim_pages(cpu: Cpu, folios: readonly number[]): Gen<number> {
  const { m, L } = cpu.machine;
  let freed = 0;
  for (const folio of folios) {
    if (Atomics.or(m, L.fFlags + folio, FOLIO_ISOLATED) & FOLIO_ISOLATED) {
      yield* folio_put(cpu, folio);
      continue;
    }
    cpu.ev(EV.RECLAIM_SCANNED, folio, Atomics.load(m, L.fOrder + folio));
    if (yield* shrink_folio(cpu, folio, true, false)) freed++;
    else yield* folio_putback(cpu, folio);
  }
  return freed;
}

/**
 * __remove_mapping(): under the file's i_pages lock, freeze the reference count at what the page
 * cache (one per page) and reclaim's isolation hold; a reference anybody else holds (a lookup, a
 * GUP, a mapping made since the unmap) fails the freeze. "The folio may have been dirtied" after
 * the check above (a mapping made and gone meanwhile): a dirty folio is unfrozen and kept.
 */
function* __remove_mapping(cpu: Cpu, folio: number): Gen<boolean> {
  const machine = cpu.machine;
  const { m, L } = machine;
  const file = Atomics.load(m, L.fMapping + folio) - 1;
  const nr = 1 << Atomics.load(m, L.fOrder + folio);
  const lock = L.xaLock + file * LOCK_WORDS;
  yield* spin_lock(cpu, lock);
  const expected = 1 + nr;
  if (Atomics.compareExchange(m, L.fRef + folio, expected, 0) !== expected) {
    spin_unlock(cpu, lock);
    cpu.ev(EV.RECLAIM_BUSY, folio);
    return false;
  }
  if (Atomics.load(m, L.fFlags + folio) & FOLIO_DIRTY) {
    Atomics.store(m, L.fRef + folio, expected); // folio_ref_unfreeze()
    spin_unlock(cpu, lock);
    return false;
  }
  // __filemap_remove_folio(): the slots go, then the folio's identity
  const index = Atomics.load(m, L.fIndex + folio);
  for (let i = 0; i < nr; i++) Atomics.store(m, L.pcache + machine.filePage(file, index + i), 0);
  Atomics.store(m, L.fMapping + folio, 0);
  spin_unlock(cpu, lock);
  return true;
}
