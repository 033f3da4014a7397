// The catalogue of named deviations from the kernel algorithm (mutants). `--inject NAME` switches
// one on; each must be caught by the checker (see test/inject/). Kernel paths read the flags below.
import type { ConfigInput } from '../config/config.js';

export interface Deviation {
  name: string;
  path: string;
  description: string;
  /**
   * The provoking config ("hunt profile"): overrides on top of the defaults (src/config.ts) under
   * which runSched with the random scheduler detects the deviation within a few seeds, while the
   * same config without it stays clean. The hunt and test/inject/deviations.test.ts both run it.
   */
  provoke: ConfigInput;
  /** The invariants a detection under `provoke` trips (a detection reports at least one of them). */
  expect: readonly string[];
}

/** A file-heavy mix: tmpfs-like and write-notify files, shared and private mappings, writeback. */
const FILE_MIX: ConfigInput = {
  cpus: 3,
  memoryPages: 4096,
  fragmentation: 0.2,
  files: { count: 2, pages: 128, orders: [0, 2, 4], writenotify: 'both' },
  weights: { touch: 60, mmap: 2, munmap: 4, dontneed: 4, exit: 1, fork: 1, pin: 0, unpin: 0, pinio: 0, mremap: 0, dontfork: 0, mmapfile: 10, writeback: 6 },
};

/**
 * Anon folios made shared for a moment and the parent's again: fork + the child's exit at once
 * (forkexit), so later writes reuse pages one by one (wp_can_reuse_anon_folio) and a folio ends
 * up with exclusive, writable pages next to read-only shared ones. Two processes, one region of
 * 16-aligned VMAs of 16..48 pages (order-4 folios), touch writes by two CPUs (CPU 0 writes the
 * even pages, CPU 1 the odd ones), no mprotect, munmap or file ops.
 */
const FORKEXIT_MIX: ConfigInput = {
  processes: 2,
  vaSize: 4 << 20,
  anonOrders: [0, 4],
  mmapPages: { min: 16, max: 48 },
  mmapAlign: [16],
  touchRun: 16,
  opsPerCpu: 100,
  writeRatio: 0.7,
  weights: { touch: 40, mmap: 3, munmap: 0, dontneed: 0, exit: 0, fork: 0, pin: 0, unpin: 0, pinio: 0, mremap: 0, dontfork: 0, mmapfile: 0, writeback: 0, mprotect: 0, forkexit: 10 },
};

export const DEVIATIONS: readonly Deviation[] = [
  {
    name: 'fault-no-recheck',
    path: 'do_anonymous_page',
    description: 'trust the lockless scan: no pte_range_none/vmf_pte_changed recheck under the PTL',
    // measured (runSched, random scheduler, seeds 1-100): first detection at seed 1, 23 of 100 seeds detect it, ~118 ms/seed on a loaded 2-core machine; without it: 0 violations in 300 seeds
    provoke: { weights: { mmapfile: 0, writeback: 0, mprotect: 0 } },
    expect: ['rss-mismatch', 'mapcount-mismatch', 'data-mismatch'],
  },
  {
    name: 'fault-order1',
    path: 'alloc_anon_folio',
    description: 'allow order-1 anon folios',
    // measured (runSched, random scheduler, seeds 1-100): first detection at seed 1, 90 of 100 seeds detect it, ~83 ms/seed on a loaded 2-core machine; without it: 0 violations in 300 seeds
    provoke: { opsPerCpu: 100 },
    expect: ['anon-order1'],
  },
  {
    name: 'fault-unaligned',
    path: 'do_anonymous_page',
    description:
      'map the folio at the faulting address instead of ALIGN_DOWN(addr, nr_pages * PAGE_SIZE) (the one line in do_anonymous_page that aligns the range): ' +
      "alloc_anon_folio's suitability checks (thp_vma_suitable_orders, the pte_range_none scan) still judged the aligned range, but the PTL recheck and " +
      'set_ptes use the unaligned one, so the folio can run past the VMA end (or the PTE table), and a range overlapping a present entry fails the recheck on every refault',
    // measured (runSched, random scheduler, seeds 1-100): first detection at seed 1, 94 of 100 seeds detect it, ~480 ms/seed on a loaded 2-core machine; without it: 0 violations in 300 seeds
    provoke: {},
    expect: ['pte-outside-vma', 'rss-mismatch', 'fault-livelock', 'batch-bounds'],
  },
  {
    name: 'fault-past-vma',
    path: 'alloc_anon_folio',
    description: 'thp_vma_suitable_orders without the VMA check: an order whose aligned range runs past the VMA start or end is chosen, and the folio is mapped partly outside the VMA',
    // measured (runSched, random scheduler, seeds 1-100): first detection at seed 1, 100 of 100 seeds detect it, ~33 ms/seed on a loaded 2-core machine; without it: 0 violations in 300 seeds
    provoke: {},
    expect: ['pte-outside-vma', 'rss-mismatch'],
  },
  {
    name: 'fault-refcount-late',
    path: 'do_anonymous_page',
    description: 'raise mapcounts and set PTEs before taking the extra folio references',
    // measured (runSched, random scheduler, seeds 1-100): first detection at seed 1, 100 of 100 seeds detect it, ~16 ms/seed on a loaded 2-core machine; without it: 0 violations in 300 seeds
    provoke: { opsPerCpu: 100 },
    expect: ['refcount-below-mapcount'],
  },
  {
    name: 'zap-free-before-flush',
    path: 'zap_pte_range',
    description: 'drop folio references before the TLB flush',
    // a small, zap-heavy workload on one process with a large TLB, so stale entries get used
    // measured (runSched, random scheduler, seeds 1-100): first detection at seed 4, 31 of 100 seeds detect it, ~39 ms/seed on a loaded 2-core machine; without it: 0 violations in 300 seeds
    provoke: { processes: 1, tlbEntries: 64, mmapPages: { min: 4, max: 32 }, weights: { touch: 60, mmap: 4, munmap: 2, dontneed: 20, exit: 0, mmapfile: 0, writeback: 0 } },
    expect: ['tlb-maps-freed-page', 'use-after-free'],
  },
  {
    name: 'fork-mapcount-before-ref',
    path: 'copy_present_ptes',
    description: 'raise mapcounts before taking the folio references',
    // measured (runSched, random scheduler, seeds 1-100): first detection at seed 3, 25 of 100 seeds detect it, ~106 ms/seed on a loaded 2-core machine; without it: 0 violations in 300 seeds
    provoke: { weights: { touch: 60, mmap: 8, munmap: 4, dontneed: 6, exit: 2, fork: 4 } },
    expect: ['refcount-below-mapcount'],
  },
  {
    name: 'fork-dup-pinned',
    path: 'folio_try_dup_anon_rmap_ptes',
    description: 'share a maybe-pinned batch with the child instead of backing off to copying',
    // a fork- and pin-heavy mix: pinned pages must stay exclusive to the parent
    // measured (runSched, random scheduler, seeds 1-100): first detection at seed 2, 18 of 100 seeds detect it, ~84 ms/seed on a loaded 2-core machine; without it: 0 violations in 300 seeds
    provoke: { weights: { touch: 40, mmap: 8, munmap: 2, dontneed: 2, exit: 3, fork: 6, pin: 6, unpin: 1, pinio: 6 } },
    expect: ['pinned-not-exclusive'],
  },
  {
    name: 'fork-no-merge-write',
    path: 'copy_present_ptes',
    description: 'decide write-protection from the first PTE of the batch only',
    // forkexit leaves folios whose pages later writes reuse one by one: a batch whose first entry is
    // read-only and a later one writable, which the next fork must write-protect as a whole
    // measured (runSched, random scheduler, seeds 1-100): first detection at seed 1, 98 of 100 seeds detect it, ~48 ms/seed on a loaded 2-core machine; without it: 0 violations in seeds 1-2300
    provoke: FORKEXIT_MIX,
    expect: ['writable-not-exclusive', 'data-mismatch'],
  },
  {
    name: 'batch-past-folio-end',
    path: 'folio_pte_batch',
    description: "no cap at the folio's last page",
    // no fragmentation: the allocator hands out buddies, so neighbouring large folios are physically adjacent
    // measured (runSched, random scheduler, seeds 1-100): first detection at seed 1, 100 of 100 seeds detect it, ~77 ms/seed on a loaded 2-core machine; without it: 0 violations in 300 seeds
    provoke: { fragmentation: 0, anonOrders: [0, 2, 4] },
    expect: ['batch-bounds'],
  },
  {
    name: 'batch-past-table',
    path: 'zap_present_ptes/copy_present_ptes',
    description: 'no cap at the PTE table or VMA end',
    // measured (runSched, random scheduler, seeds 1-100): first detection at seed 1, 67 of 100 seeds detect it, ~98 ms/seed on a loaded 2-core machine; without it: 0 violations in 300 seeds
    provoke: { weights: { mprotect: 0 } },
    expect: ['batch-bounds', 'data-lost', 'data-mismatch'],
  },
  {
    name: 'contpte-fold-first-only',
    path: '__contpte_try_fold',
    description: 'fold a contpte block after checking only its first entry (not all 16)',
    // caught by its consequence: the fold rewrites the block as 16 contiguous entries, so an entry that
    // was none (or mapped another folio) now maps a page nobody accounted for (mapcount, RSS)
    // measured (runSched, random scheduler, seeds 1-100): first detection at seed 1, 15 of 100 seeds detect it, ~92 ms/seed on a loaded 2-core machine; without it: 0 violations in 300 seeds
    provoke: { arch: 'contpte' },
    expect: ['mapcount-mismatch', 'rss-mismatch', 'mapcount-underflow', 'data-mismatch', 'mapcount-below-ptes'],
  },
  {
    name: 'contpte-no-unfold',
    path: 'set_ptes/ptep_get_and_clear/clear_full_ptes/wrprotect_ptes/ptep_set_access_flags',
    description: 'change a single entry of a contpte block without unfolding the block first',
    // measured (runSched, random scheduler, seeds 1-100): first detection at seed 1, 100 of 100 seeds detect it, ~22 ms/seed on a loaded 2-core machine; without it: 0 violations in 300 seeds
    provoke: { arch: 'contpte', anonOrders: [0, 2, 4, 5] },
    expect: ['contpte-inconsistent'],
  },
  {
    name: 'cow-reuse-shared',
    path: 'do_wp_page',
    description: "reuse a page that is not AnonExclusive (nor provably this mm's alone)",
    // measured (runSched, random scheduler, seeds 1-100): first detection at seed 1, 23 of 100 seeds detect it, ~80 ms/seed on a loaded 2-core machine; without it: 0 violations in 300 seeds
    provoke: { weights: { touch: 60, mmap: 8, munmap: 4, dontneed: 6, exit: 2, fork: 4, mmapfile: 0, writeback: 0, mprotect: 0 } },
    expect: ['cow-reuse-shared', 'data-foreign', 'data-mismatch', 'exclusive-page-shared'],
  },
  {
    name: 'zap-first-pte-dirty',
    path: 'zap_present_ptes',
    description: 'for a file folio, take dirty/young from the first entry of the batch only',
    // measured (runSched, random scheduler, seeds 1-100): first detection at seed 3, 61 of 100 seeds detect it, ~288 ms/seed on a loaded 2-core machine; without it: 0 violations in 300 seeds
    provoke: FILE_MIX,
    expect: ['writeback-lost-write', 'lost-write'],
  },
  {
    name: 'zap-clear-without-get',
    path: 'zap_present_ptes',
    description: 'clear file PTEs without reading their dirty/young bits (clear_full_ptes, as for anon)',
    // measured (runSched, random scheduler, seeds 1-100): first detection at seed 3, 63 of 100 seeds detect it, ~169 ms/seed on a loaded 2-core machine; without it: 0 violations in 300 seeds
    provoke: FILE_MIX,
    expect: ['writeback-lost-write', 'lost-write'],
  },
  {
    name: 'writeback-no-flush',
    path: 'page_vma_mkclean_one',
    description: 'write-protect and clean PTEs without flushing the TLBs',
    // a 64-entry TLB keeps the writable entry writeback did not flush until its owner stores again;
    // one process, writeback-heavy
    // measured (runSched, random scheduler, seeds 1-100): first detection at seed 2, 60 of 100 seeds detect it, ~182 ms/seed on a loaded 2-core machine; without it: 0 violations in 300 seeds
    provoke: {
      ...FILE_MIX,
      processes: 1,
      tlbEntries: 64,
      touchRun: 16,
      writeRatio: 0.9,
      opsPerCpu: 100,
      weights: { ...FILE_MIX.weights, munmap: 0, dontneed: 0, exit: 0, mmapfile: 20, writeback: 24 },
    },
    expect: ['tlb-stale', 'tlb-writable-after-clean', 'writeback-lost-write', 'lost-write'],
  },
  {
    name: 'prot-start-first-only',
    path: 'modify_prot_start_ptes',
    description: 'return the young/dirty bits of the first entry only, not of every entry of the batch',
    // no exits: since an exited slot is refilled by a fork, exits spread the file mappings over
    // more processes and the mix found it at seed 17 (7 of seeds 1-60); without them 13 of 60
    // measured (runSched, random scheduler, seeds 1-60, respawn by fork): first detection at seed 2, 13 of 60 seeds detect it
    provoke: { ...FILE_MIX, weights: { ...FILE_MIX.weights, mprotect: 8, exit: 0, fork: 0 } },
    expect: ['writeback-lost-write', 'lost-write'],
  },
  {
    name: 'prot-commit-stale-old',
    path: 'modify_prot_commit_ptes',
    description: "hand every entry the first entry's old PTE (old_pte's PFN not advanced)",
    // an mprotect-heavy mix: any batch of two or more entries trips the commit contract
    // measured (runSched, random scheduler, seeds 1-100): first detection at seed 1, 96 of 100 seeds detect it, ~34 ms/seed on a loaded 2-core machine; without it: 0 violations in 300 seeds
    provoke: { weights: { touch: 60, mmap: 8, munmap: 4, dontneed: 6, exit: 2, fork: 4, mprotect: 8 } },
    expect: ['prot-commit-old-mismatch'],
  },
  {
    name: 'prot-exclusive-from-head',
    path: 'commit_anon_folio_batch',
    description: "decide the writable upgrade of the whole batch from the folio's head page, not per AnonExclusive sub-batch",
    // forkexit, then a write reuses the pages it touches (CPU 0 owns the head), then mprotect R/O and
    // R/W: the upgrade must skip the pages still shared. The bad state (a writable page that is not
    // AnonExclusive) is harmless to data once the child is gone and is checked at quiescence only;
    // the next mprotect R/O or fork of the range erases it. Counted in the model (seeds 1-200): the
    // deviation upgrades a mixed batch in 20 seeds, and the state survives to the end in 9 of them.
    // measured (runSched, random scheduler, seeds 1-100): first detection at seed 13, 6 of 100 seeds detect it, ~70 ms/seed on a loaded 2-core machine; without it: 0 violations in seeds 1-2300
    provoke: {
      ...FORKEXIT_MIX,
      opsPerCpu: 200,
      writeRatio: 0.9,
      anonOrders: [0, 4, 5],
      mmapPages: { min: 16, max: 32 },
      weights: { ...FORKEXIT_MIX.weights, touch: 20, mprotect: 60, forkexit: 2 },
    },
    expect: ['writable-not-exclusive'],
  },
  {
    name: 'rmap-remove-off-by-one',
    path: 'folio_remove_rmap_ptes',
    description:
      "an off-by-one in the per-page walk of a batched rmap removal (the kernel's __folio_remove_rmap decrements each page's _mapcount in a " +
      'do/while over nr_pages): the walk lags one page behind from its second step, so a range of two or more pages drops its first ' +
      "page's mapcount twice and its last page's not at all, while the folio's total still drops by nr. The class of a batch's page " +
      'index or length computed wrong (pages for bytes, the batch start for the folio start) once rmap works on PTE batches',
    // The first page of a zapped batch goes from 1 to -1 at once, and only the per-page
    // mapcount-underflow assertion sees it there (the folio's total stays right, the page's PTE is
    // gone): the canary misses this deviation when that assertion is broken. No fork and no file
    // mappings: every page is then mapped once in its folio's life and the walk takes it at most one
    // below zero, so a weakened assertion that fires only further down (the mutation test's
    // `- 1 -> + 1` of its line fires at -3) cannot catch it either. With forks or page cache folios a
    // page can start a zapped batch several times over (in seeds 1-300 of the defaults one page
    // reached -3 once). With the assertion broken the run ends in mapcount-mismatch at quiescence.
    // measured (runSched, random scheduler, seeds 1-100): first detection at seed 1, 100 of 100 seeds detect it (all with mapcount-underflow), ~8 ms/seed on a loaded 2-core machine; without it: 0 violations in 300 seeds
    provoke: { weights: { fork: 0, mmapfile: 0 } },
    expect: ['mapcount-underflow'],
  },
  {
    name: 'zap-batch-not-reset',
    path: 'tlb_batch_pages_flush',
    description:
      "free a gather's batch of folio references without emptying it (the batch's nr left as it was), so the gather's next flush " +
      '(the next PTE table, tlb_finish_mmu) puts every folio of it again: a double folio_put, the class of a reference dropped while ' +
      'the pointer to it is kept (an error path that puts a folio and falls through to a common exit that puts it again)',
    // A folio the zap unmapped whole is freed by the first put; the second takes its refcount
    // below zero at once, which only folio_put_refs' refcount-underflow assertion reports. A folio
    // still mapped elsewhere (a partial zap, a forked sharer) or freed and reallocated in between
    // fails other checks first (refcount-below-mapcount, free-mapped-folio, pte-maps-free-page):
    // 15 seeds in 100; the first detection is the underflow. With that assertion removed, seeds
    // 1-300 end in those other invariants only (none reaches folio_ref_sub's refcount-underflow).
    // measured (runSched, random scheduler, seeds 1-100): first detection at seed 1, 100 of 100 seeds detect it (85 with refcount-underflow), ~20 ms/seed on a loaded 2-core machine; without it: 0 violations in 300 seeds
    provoke: {},
    expect: ['refcount-underflow'],
  },
  {
    name: 'migrate-no-flush',
    path: 'try_to_migrate_one',
    description:
      'replace a mapped entry with a migration entry by ptep_get_and_clear without the TLB flush (ptep_clear_flush): a CPU that still ' +
      'holds the old translation keeps storing into the source folio after the copy, and the store is lost with it; the class of a ' +
      'deferred or missing flush in the rmap unmap paths (3ea277194daa "mm, mprotect: flush TLB if potentially racing with a parallel ' +
      'reclaim leaving stale TLB entries"; the TTU_BATCH_FLUSH flush that must precede the copy in migrate_pages_batch)',
    // a migrate- and write-heavy anon mix on 3 CPUs with large TLBs, so other CPUs hold the translations migration replaces
    provoke: { cpus: 3, tlbEntries: 64, mmapPages: { min: 8, max: 64 }, weights: { touch: 60, mmap: 4, munmap: 1, dontneed: 1, exit: 0, fork: 0, pin: 0, unpin: 0, pinio: 0, mremap: 0, dontfork: 0, mmapfile: 0, writeback: 0, mprotect: 0, migrate: 10 } },
    expect: ['tlb-stale', 'data-mismatch'],
  },
  {
    name: 'migrate-ignore-pins',
    path: 'try_to_migrate_one',
    description:
      "migrate a folio with a long-term pin: try_to_migrate_one's folio_try_share_anon_rmap_pte does not back off for a maybe-pinned " +
      "folio and folio_migrate_mapping's reference check is skipped, so the process maps a copy while the device keeps the pinned " +
      'source (the class of FOLL_LONGTERM pins left in migratable memory, fixed by migrating before pinning: 9a4e9f3b2d73 ' +
      '"mm: update get_user_pages_longterm to migrate pages allocated from CMA region" and the later movable-zone rules)',
    provoke: { cpus: 3, mmapPages: { min: 8, max: 64 }, weights: { touch: 40, mmap: 4, munmap: 1, dontneed: 1, exit: 0, fork: 0, pin: 8, unpin: 2, pinio: 8, mremap: 0, dontfork: 0, mmapfile: 0, writeback: 0, mprotect: 0, migrate: 10 } },
    expect: ['pin-detached', 'pinned-not-exclusive'],
  },
  {
    name: 'fork-migration-writable',
    path: 'copy_nonpresent_pte',
    description:
      'copy a writable (or readable-exclusive) migration entry to the fork child as it is, without making it readable in parent and ' +
      'child ("COW mappings require pages in both parent and child to be set to read"): when the migration ends, both map the new ' +
      'page writable and AnonExclusive, and one sees the other\'s writes (the class of fork mishandling a non-present entry: ' +
      '8f34f1eac382 "mm/userfaultfd: fix uffd-wp special cases for fork()")',
    // a fork must copy the entries while a migration has them (between try_to_migrate and remove_migration_ptes) and the child
    // must live until the migration ends: exits free process slots for forks (a dead slot is respawned by the next op on it)
    // measured (runSched, random scheduler, seeds 1-60): first detection at seed 9, 4 of 60 seeds detect it; the untuned nightly misses it in 60 s
    provoke: { cpus: 3, processes: 4, anonOrders: [0, 2, 4], mmapPages: { min: 8, max: 64 }, weights: { touch: 50, mmap: 4, munmap: 1, dontneed: 1, exit: 6, fork: 10, pin: 0, unpin: 0, pinio: 0, mremap: 0, dontfork: 0, mmapfile: 0, writeback: 0, mprotect: 0, migrate: 12 } },
    expect: ['exclusive-page-shared', 'writable-not-exclusive', 'data-mismatch'],
  },
  {
    name: 'reclaim-unmap-no-dirty',
    path: 'try_to_unmap_one',
    description:
      "reclaim's try_to_unmap_one clears a page-cache entry without moving its dirty bit to the folio (folio_mark_dirty): a store " +
      'recorded only in that bit (a shared mapping without write notification, as tmpfs has) is dropped with the folio, and the next ' +
      'read finds the old data on the disk; the class of a/d bits lost when an rmap walk clears an entry holding only the PTL',
    // a file-heavy mix with tmpfs-like shared mappings, writes, and reclaim racing them
    provoke: { ...FILE_MIX, files: { count: 2, pages: 128, orders: [0, 2, 4], writenotify: 'off' }, weights: { ...FILE_MIX.weights, writeback: 1, reclaim: 10 } },
    expect: ['data-mismatch', 'writeback-lost-write', 'lost-write'],
  },
  {
    name: 'cyd-length-bytes',
    path: 'contpte_clear_young_dirty_ptes',
    description:
      'arm64 contpte_clear_young_dirty_ptes computes the end of its range as addr + nr and clears end - start entries: a length in bytes where a ' +
      'number of pages was meant. Harmless unless the first or last entry is cont; then the range is aligned to CONT_PTE_SIZE in bytes and some ' +
      '65536 entries are cleared from the block start (the model stops at the PTE table end): young and dirty bits of other folios and other ' +
      'VMAs go, unflushed. The bug as 89e86854fb0a ("mm/arm64: override clear_young_dirty_ptes() batch helper") merged it in v6.10-rc1, fixed by ' +
      '"mm: arm64: fix the out-of-bounds issue in contpte_clear_young_dirty_ptes" (Barry Song, May 2024) after syzkaller crashes in MADV_FREE',
    // every MADV_COLD or MADV_FREE batch of a cont-mapped folio trips the contract at once
    // measured (runSched, random scheduler, seeds 1-100): first detection at seed 1, 97 of 100 seeds detect it, ~55 ms/seed on a loaded 2-core machine; without it: 0 violations in 300 seeds
    provoke: { arch: 'contpte', anonOrders: [0, 2, 4, 5], weights: { cold: 4, free: 6 } },
    expect: ['clear-young-dirty-outside-range'],
  },
  {
    name: 'free-tlb-one-entry',
    path: 'madvise_free_pte_range',
    description:
      'MADV_FREE gathers only the first entry of a batch for the TLB flush (tlb_remove_tlb_entry() where tlb_remove_tlb_entries(nr) was ' +
      'needed once clear_young_dirty_ptes cleans nr entries): the rest of the last batch keeps dirty, writable TLB entries, through which a ' +
      'store after MADV_FREE returned sets no PTE dirty bit, so reclaim would discard that store with the clean lazyfree folio. The class ' +
      'of a per-entry TLB helper left in a path that became batched (tlb_remove_tlb_entries() came with the batched zap, 2024)',
    // anon only (MADV_FREE of a file VMA is -EINVAL), a TLB large enough to keep the writers' entries
    // measured (runSched, random scheduler, seeds 1-100): first detection at seed 2, 79 of 100 seeds detect it, ~27 ms/seed on a loaded 2-core machine; without it: 0 violations in 300 seeds
    provoke: { anonOrders: [0, 2, 4], tlbEntries: 64, weights: { free: 8, mmapfile: 0, writeback: 0 } },
    expect: ['tlb-stale'],
  },
  {
    name: 'lazyfree-ignore-refs',
    path: 'try_to_unmap_one',
    description:
      "reclaim discards a clean lazyfree (MADV_FREE) folio without try_to_unmap_one's reference check (ref_count == 1 + map_count): a " +
      'device writing into it through a pin or a direct-I/O GUP reference sets no PTE dirty bit, so the write is thrown away with the ' +
      'folio and the process reads zeros; the bug 6c8e2a256915 ("mm: fix race between MADV_FREE reclaim and blkdev direct IO read") fixed',
    // anon memory made lazyfree, pinned and written through the pins, reclaimed
    provoke: { cpus: 3, mmapPages: { min: 8, max: 64 }, weights: { touch: 40, mmap: 4, munmap: 1, dontneed: 0, exit: 0, fork: 0, pin: 8, unpin: 2, pinio: 10, mremap: 0, dontfork: 0, mmapfile: 0, writeback: 0, mprotect: 0, free: 8, reclaim: 8, pageout: 4 } },
    expect: ['data-mismatch', 'pin-detached', 'pin-stale'],
  },
  {
    name: 'mremap-rmap-unlocked',
    path: 'move_ptes',
    description:
      "mremap moves a file mapping's page-table entries without the rmap locks even when the rmap walk visits the new mapping before " +
      "the old one (copy_vma's need_rmap_locks always false): a walker holding only i_mmap_rwsem for read (writeback's folio_mkclean) " +
      'looks at the new range before the entry arrives and at the old one after it left, and misses a dirty writable entry. The class ' +
      'of 948f017b093a ("mremap: enforce rmap src/dst vma ordering in case of vma_merge() succeeding in copy_vma()": a merged new VMA ' +
      'came first in the anon_vma list and migration missed PTEs), which 38a76013ad80 turned into need_rmap_locks and 97113eb39fa7 ' +
      '("mm/mremap: hold the rmap lock in write mode when moving page table entries") extended to the PMD-level moves',
    // One tmpfs-like file, mremap and writeback of it at once. The move contract (rmapMove: without
    // the locks, a walk in flight must visit the old mapping first) reports it as soon as such a
    // move meets a walk; the data symptom needs the walk to pass the new range just before the entry
    // arrives and the old one just after, on a page whose store only its PTE's dirty bit records:
    // the folio stays clean and the store is not on the disk when that writeback ends (the
    // per-writeback disk oracle; scripted in test/inject/deviations.test.ts).
    // measured (runSched, random scheduler, seeds 1-100): first detection at seed 4, 46 of 100 seeds detect it (all with rmap-walk-order), ~74 ms/seed on a loaded 2-core machine; without it: 0 violations in 300 seeds
    provoke: {
      ...FILE_MIX,
      files: { count: 1, pages: 128, orders: [0, 2, 4], writenotify: 'off' },
      weights: { ...FILE_MIX.weights, mremap: 10, mmapfile: 10, writeback: 10, dontneed: 0, munmap: 2 },
    },
    expect: ['rmap-walk-order', 'writeback-lost-write', 'tlb-writable-after-clean', 'lost-write'],
  },
  {
    name: 'vma-merge-pgoff',
    path: 'vma_mergeable',
    description:
      'merge a file VMA with an adjacent one of the same file and flags whose pages do not follow on in the file (no vm_pgoff test in ' +
      'can_vma_merge_before/after): the merged VMA maps the wrong file pages over part of its range. The class of "mm/mmap: Fix ' +
      'vma_merge() offset when expanding the next vma" (Liam R. Howlett, 2023: vma_merge case 8 took the next VMA\'s vm_pgoff for the ' +
      'range it grew over), a merge that gets the merged VMA\'s vm_pgoff wrong',
    // File mappings placed next to each other (alignment 1, many of them): the maps checker sees the
    // merged VMA's file offset at mmap's return; entries faulted under the wrong offset escape the
    // rmap walk (their i_mmap entry has the right one) and their stores never reach the disk
    // measured (runSched, random scheduler, seeds 1-100): first detection at seed 3, 66 of 100 seeds detect it (all with maps-mismatch), ~78 ms/seed on a loaded 2-core machine; without it: 0 violations in 300 seeds
    provoke: {
      ...FILE_MIX,
      mmapAlign: [1],
      weights: { ...FILE_MIX.weights, mmapfile: 20, mmap: 1 },
    },
    expect: ['maps-mismatch', 'pte-wrong-file-page', 'rmap-unlinked', 'writeback-lost-write', 'lost-write', 'tlb-writable-after-clean'],
  },
  {
    name: 'unshare-copy-clean',
    path: 'wp_page_copy',
    description:
      "upstream's own behaviour (Linux 6.12.118, reproduced in qemu; mm/memory.c unchanged at 002d46a68e4a): a GUP unshare " +
      '(a read-only FOLL_PIN of a page shared after fork: O_DIRECT write(2), process_vm_readv) maps the parent\'s copy with a clean ' +
      'PTE and a clean folio; after a later fork a child\'s MADV_FREE marks it lazyfree (madvise_free_pte_range looks for other ' +
      'mappings only on dirty folios) and reclaim discards the parent\'s data, which it never freed. The class of anon data whose ' +
      'only dirty record is lost (the reason do_swap_page and UFFDIO_COPY set the dirty bit). The model marks an unshare copy dirty',
    // Read-only pins unshare pages shared after fork; exits respawn slots by fork; children
    // MADV_FREE what they inherited; reclaim discards lazyfree folios whose entries are all clean.
    // Small VMAs and memory (reclaim's slices cover it), rare exits and long runs: the parent must
    // live through the second fork and the discard to read its page back.
    // measured (runSched, random scheduler, seeds 1-40): first detection at seed 1, 8 of 40 seeds detect it (data-lost,
    // data-mismatch), ~125 ms/seed; the untuned nightly found it first (seed 8, before the model carried the fix)
    provoke: {
      cpus: 3,
      processes: 3,
      memoryPages: 1024,
      anonOrders: [0],
      writeRatio: 0.5,
      mmapPages: { min: 4, max: 8 },
      opsPerCpu: 1000,
      weights: { touch: 10, mmap: 2, munmap: 0, dontneed: 0, exit: 1, fork: 0, pin: 10, unpin: 10, pinio: 0, mremap: 0, dontfork: 0, mmapfile: 0, writeback: 0, mprotect: 0, free: 8, reclaim: 15 },
    },
    // anon-data-clean: the contract the kernel's MADV_FREE relies on, broken when the copy is mapped
    // (untuned nightly: 5 of 103 seeds, first at seed 8); data-lost/mismatch: the loss it leads to
    expect: ['anon-data-clean', 'data-lost', 'data-mismatch'],
  },
];
