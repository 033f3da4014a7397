// Event codes: counted in the summary, written to the flight recorder, and mixed into the trace
// hash of a sched run. Per-order events occupy MAX_ORDERS consecutive codes starting at the base.
import { OP_KINDS } from './ops.js';

export const MAX_ORDERS = 11;

const names: string[] = [];
function ev(name: string): number {
  names.push(name);
  return names.length - 1;
}
function evList(prefix: string, list: readonly string[]): number {
  const base = names.length;
  for (const n of list) names.push(`${prefix}.${n}`);
  return base;
}
/**
 * The checker's contract points, each counted once per evaluation (event `check.<point>`): the
 * kernel functions that tell it their TLB flush is done (tlbSynced), the PTE entries and contpte
 * blocks looked at when a PTL is released, the prot-commit and MM_ID contracts per caller, and the
 * points of COW reuse, folio free, writeback and mremap's moves of file entries (rmapMove).
 * src/check/points.ts maps each hook call to its point (a path not listed is an
 * instrument-mismatch) and the reach floor requires each point the config drives to have been
 * evaluated.
 */
export const CHECK_POINTS = [
  'tlbSynced.do_munmap', 'tlbSynced.madvise_dontneed', 'tlbSynced.do_mprotect', 'tlbSynced.move_vma', 'tlbSynced.wp_page_copy',
  'tlbSynced.page_vma_mkclean_one', 'tlbSynced.exit_mmap', 'tlbSynced.dup_mmap',
  'ptlUnlock.entries', 'ptlUnlock.contBlocks',
  'protCommit.ptep_modify_prot_commit', 'protCommit.modify_prot_commit_ptes',
  'mmIdChange.folio_add_return_large_mapcount', 'mmIdChange.folio_sub_return_large_mapcount',
  'cowReuse', 'folioFree', 'folioCleaned', 'writeback', 'rmapMove',
  'tlbSynced.try_to_migrate_one', 'tlbSynced.try_to_unmap_one',
  'tlbSynced.madvise_cold', 'tlbSynced.madvise_free', 'pteBatch.clear_young_dirty_ptes',
] as const;
export type CheckPoint = (typeof CHECK_POINTS)[number];
function evOrders(name: string): number {
  const base = names.length;
  for (let o = 0; o < MAX_ORDERS; o++) names.push(`${name}.${o}`);
  return base;
}

export const EV = {
  OP_START: ev('op.start'),
  OP_END: ev('op.end'),
  FAULT: ev('fault'),
  FAULT_SEGV: ev('fault.segv'),
  FAULT_ANON: ev('fault.anon'),
  FAULT_ZERO: ev('fault.zeroPage'),
  FAULT_SPURIOUS: ev('fault.spurious'),
  /** order picked by the lockless scan in alloc_anon_folio */
  SCAN_ORDER: evOrders('anon.scanOrder'),
  /** allocation of this order failed; fell back to a lower one */
  ALLOC_FALLBACK: evOrders('anon.allocFallback'),
  ALLOC_OOM: ev('anon.oom'),
  /** order-0 recheck under the PTL: vmf_pte_changed */
  RECHECK_PTE_CHANGED: ev('anon.recheckPteChanged'),
  /** large-folio recheck under the PTL: range no longer none */
  RECHECK_RANGE_CHANGED: evOrders('anon.recheckRangeChanged'),
  /** lost race and the faulting PTE itself was populated: release and return */
  LOST_RACE_EXIT: ev('anon.lostRaceExit'),
  RETRY_LOWER: evOrders('anon.retryLower'),
  RETRY_ORDER0: ev('anon.retryOrder0'),
  REFAULT: ev('anon.refault'),
  MAP_ANON: evOrders('anon.mapped'),
  MAP_ZERO: ev('anon.mapZeroPage'),
  WP_REUSE: ev('wp.reuse'),
  WP_COPY: ev('wp.copy'),
  FORK: ev('fork'),
  FORK_FAIL: ev('fork.fail'),
  /**
   * copy_present_ptes() copied a run of more than one entry at once (batching); counted only
   * (cpu.counters, not cpu.ev: no flight-recorder entry, no trace hash), for the reach floor.
   */
  FORK_BATCH: ev('fork.batch'),
  FORK_COPY_PAGE: ev('fork.copyPage'),
  GUP_FAST: ev('gup.fast'),
  GUP_SLOW: ev('gup.slow'),
  GUP_FAST_FORK_RACE: ev('gup.fastForkRace'),
  UNPIN: ev('gup.unpin'),
  PIN_IO: ev('gup.pinIo'),
  MPROTECT: ev('mprotect'),
  ZAP_BATCH: ev('zap.batch'),
  ZAP_PTES: ev('zap.ptes'),
  TLB_FLUSH: ev('tlb.flushRange'),
  TLB_FLUSH_MM: ev('tlb.flushMm'),
  TLB_INVALIDATE: ev('tlb.entriesInvalidated'),
  TLB_HIT: ev('tlb.hit'),
  TLB_MISS: ev('tlb.miss'),
  HW_YOUNG: ev('hw.setYoung'),
  HW_DIRTY: ev('hw.setDirty'),
  HW_CAS_RETRY: ev('hw.casRetry'),
  FOLIO_FREE: evOrders('folio.freed'),
  PTL_CONTENDED: ev('ptl.contended'),
  MMAP: ev('mmap'),
  MMAP_FAIL: ev('mmap.fail'),
  MUNMAP: ev('munmap'),
  DONTNEED: ev('madvise.dontneed'),
  DONTFORK: ev('madvise.dontfork'),
  DOFORK: ev('madvise.dofork'),
  MREMAP: ev('mremap'),
  MREMAP_FAIL: ev('mremap.fail'),
  MREMAP_PTES: ev('mremap.ptes'),
  EXIT: ev('exit'),
  SPAWN: ev('spawn'),
  FILE_FAULT: ev('file.fault'),
  FILE_CACHED: evOrders('file.cached'),
  FILE_ALLOC_FALLBACK: ev('file.allocFallback'),
  FILE_ADD_RACE: ev('file.addRace'),
  FILE_MAPPED: ev('file.mappedPtes'),
  FILE_COW: ev('file.cowFault'),
  WP_SHARED: ev('wp.shared'),
  ZAP_DIRTY: ev('zap.folioDirtied'),
  WRITEBACK: ev('writeback'),
  WRITEBACK_FOLIOS: ev('writeback.folios'),
  MKCLEAN_PTES: ev('writeback.ptesCleaned'),
  READ: ev('access.read'),
  WRITE: ev('access.write'),
  VIOLATION: ev('violation'),
  // The batched forms of the paths `batching` switches, each counted once per batch of more than
  // one entry, for the reach floor (src/check/reach.ts): with batching off they stay 0. Counted
  // only (cpu.counters, never cpu.ev), like FORK_BATCH above: never in the flight recorder or
  // the trace hash, so appending them moved no recorded code and changed no trace hash.
  /** do_anonymous_page() (and the THP split) mapped a large folio with one set_ptes() */
  ANON_BATCHED: ev('anon.batched'),
  /** finish_fault() mapped a run of a large file folio with one set_ptes() */
  FILE_BATCHED: ev('file.batched'),
  /** zap_present_ptes() zapped a run of more than one entry at once (zap.batch counts every call) */
  ZAP_BATCHED: ev('zap.batched'),
  /** change_pte_range() changed a run of more than one entry in one start/commit transaction */
  MPROTECT_BATCHED: ev('mprotect.batched'),
  /** arch contpte: contpte_set_ptes() mapped a whole 16-entry block with PTE_CONT at once */
  CONT_BLOCKS: ev('contpte.blocks'),
  // Notes: told to an event hook only (the interleaving view), never counted, recorded in the
  // flight recorder or mixed into the trace hash; appended here so no recorded code moves.
  /** a spinlock was taken: a = lock kind (NOTE_LOCK_PTL, _ZONE, _XA), b = index (PTE table, file) */
  NOTE_LOCK: ev('note.lock'),
  /** a spinlock was released: a, b as NOTE_LOCK */
  NOTE_UNLOCK: ev('note.unlock'),
  /** a touch op resolved its run: a = first vpn, b = pages, c = 1 for a write */
  NOTE_TOUCH: ev('note.touch'),
  // Counted only, for the reach floor (src/check/reach.ts), appended so no recorded code moves:
  /** an op of each kind began (index: OP_KINDS), counted by the workload: the mix ran every kind it weighs */
  OPS: evList('ops', OP_KINDS),
  /** the checker evaluated each contract point (index: CHECK_POINTS; src/check/points.ts counts them) */
  CHECK: evList('check', CHECK_POINTS),
  // Migration (move_pages(2) of one page: src/linux/mm/migrate.ts), appended so no recorded code moves:
  /** a folio was migrated: a = vpn asked, b = source folio, c = the new one */
  MIGRATE: ev('migrate'),
  /** a migration gave up: a = vpn, b = why (MIGRATE_FAIL_*) */
  MIGRATE_FAIL: ev('migrate.fail'),
  /** try_to_migrate met a pinned AnonExclusive page and put its entry back */
  MIGRATE_PINNED: ev('migrate.pinned'),
  /** entries try_to_migrate replaced with migration entries (counted only) */
  MIGRATE_PTES: ev('migrate.ptes'),
  /** a fault or GUP met a migration entry and waited for the migration (migration_entry_wait) */
  MIGRATE_WAIT: ev('migrate.wait'),
  /** zap_nonpresent_ptes() cleared a migration entry */
  ZAP_MIGRATION: ev('zap.migrationEntry'),
  /** copy_nonpresent_pte() copied a migration entry to a fork child */
  FORK_MIGRATION: ev('fork.migrationEntry'),
  // Reclaim (src/linux/mm/vmscan.ts):
  /** folios reclaim looked at (isolated) */
  RECLAIM_SCANNED: ev('reclaim.scanned'),
  /** folios reclaim kept because an entry mapping them was young (folio_referenced) */
  RECLAIM_REFERENCED: ev('reclaim.referenced'),
  /** entries try_to_unmap removed (counted only) */
  RECLAIM_UNMAPPED: ev('reclaim.unmapped'),
  /** dirty page-cache folios reclaim wrote back (pageout) */
  RECLAIM_PAGEOUT: ev('reclaim.pageout'),
  /** folios reclaim freed: a = folio, b = order */
  RECLAIM_FREED: ev('reclaim.freed'),
  /** __remove_mapping could not freeze the reference count (someone holds a reference) */
  RECLAIM_BUSY: ev('reclaim.busy'),
  /** reclaim discarded a clean lazyfree anon folio: a = folio, b = order */
  LAZYFREE_DISCARDED: ev('reclaim.lazyfreeDiscarded'),
  /** reclaim found a lazyfree folio redirtied or referenced and made it swapbacked again */
  LAZYFREE_REDIRTIED: ev('reclaim.lazyfreeRedirtied'),
  /** madvise(MADV_PAGEOUT) returned: a = start, b = pages */
  PAGEOUT: ev('madvise.pageout'),
  // MADV_COLD and MADV_FREE (mm/madvise.ts), appended so no recorded code moves:
  /** madvise(MADV_COLD) returned: a = start, b = pages */
  COLD: ev('madvise.cold'),
  /** madvise(MADV_FREE) returned: a = start, b = pages */
  FREE: ev('madvise.free'),
  // counted only (cpu.counters, never cpu.ev), for the reach floor:
  /** madvise_cold_or_pageout_pte_range() handled a large folio as one batch of more than one entry */
  COLD_BATCHED: ev('madvise.cold.batched'),
  /** madvise_free_pte_range() handled a large folio as one batch of more than one entry */
  FREE_BATCHED: ev('madvise.free.batched'),
  /** MADV_FREE marked a folio lazyfree (folio_mark_lazyfree) */
  LAZYFREE: ev('madvise.free.lazyfree'),
  /** a large folio only partly inside the range and this mm's alone: the kernel splits it, the model leaves it (no split) */
  MADV_SPLIT_SKIPPED: ev('madvise.splitSkipped'),
  /** arm64 contpte: clear_young_dirty_ptes() cleared a cont block in place, without unfolding it */
  CONT_CYD_BLOCKS: ev('contpte.clearYoungDirty'),
  // VMA merging and mremap's later paths (issue #15), counted only (cpu.counters, never cpu.ev), for
  // the summary and the reach floor; appended so no recorded code moves:
  /** a merge joined a VMA range with a compatible neighbour (mmap, mprotect, madvise, mremap's copy_vma) */
  VMA_MERGE: ev('vma.merge'),
  /**
   * a merge left one VMA in which two present entries map pages of one folio in the opposite order
   * to their addresses (the model merges anon VMAs on flags and adjacency alone: docs/model.md)
   */
  VMA_OOO: ev('vma.ooo'),
  /** mremap(MREMAP_FIXED) found the target range mapped and unmapped it first */
  MREMAP_UNMAP_TARGET: ev('mremap.unmapTarget'),
  /** mremap moved (part of) a file mapping */
  MREMAP_FILE: ev('mremap.file'),
  /** mremap of a file mapping moved its entries under the rmap locks (need_rmap_locks) */
  MREMAP_RMAP_LOCKS: ev('mremap.rmapLocks'),
  /** a read fault's fault-around (filemap_map_pages) mapped this many cached pages besides the faulting one */
  FAULT_AROUND: ev('file.faultAround'),
  /** a read fault was resolved by fault-around alone (VM_FAULT_NOPAGE: its page was cached) */
  FAULT_AROUND_HIT: ev('file.faultAroundHit'),
  /** mem_cgroup_charge() failed (config memcgFailRate), counted only; appended so no recorded code moves */
  MEMCG_CHARGE_FAIL: ev('memcg.chargeFail'),
} as const;

export const NOTE_LOCK_PTL = 0;
export const NOTE_LOCK_ZONE = 1;
export const NOTE_LOCK_XA = 2;

/**
 * Cost accounting (issue #4): TLB invalidations by kind and contpte folds/unfolds, counted per
 * operation type so the batched and per-PTE designs can be compared. Event `cost.<op>.<kind>`.
 * Which bucket an operation name goes to is the tool's (src/diag/op-codes.ts).
 */
export const COST_OPS = ['fault', 'fork', 'munmap', 'dontneed', 'exit', 'mprotect', 'mremap', 'writeback', 'gup', 'other'] as const;
export const COST_KINDS = ['tlbiPage', 'tlbiRange', 'tlbiMm', 'contFold', 'contUnfold'] as const;
export type CostKind = (typeof COST_KINDS)[number];
export const COST = { TLBI_PAGE: 0, TLBI_RANGE: 1, TLBI_MM: 2, CONT_FOLD: 3, CONT_UNFOLD: 4 } as const;
export const COST_BASE = names.length;
for (const op of COST_OPS) for (const k of COST_KINDS) names.push(`cost.${op}.${k}`);

export const EV_NAMES: readonly string[] = names;
export const EV_COUNT = names.length;
