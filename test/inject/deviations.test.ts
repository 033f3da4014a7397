// Every named deviation (mutant) in DEVIATIONS is caught: a scripted scenario that shows the
// checker catching it deterministically, and runSched over seeds of its catalogue profile
// (`provoke`, the mix the hunt runs) until the first detection; each paired with the same scenario
// / seeds without the deviation, which must stay clean.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ConfigInput, defaultConfig } from '../../src/config/config.js';
import { DEVIATIONS } from '../../src/inject/deviations.js';
import { runSched } from '../../src/engine/sched.js';
import { EV } from '../../src/machine/events.js';
import { Violation } from '../../src/machine/cpu.js';
import { checkQuiescent } from '../../src/check/invariants.js';
import { checkRead, freeBegin, freeEnd, ownerOf, recordWrite, zapBegin, zapEnd, zapGen } from '../../src/check/oracle.js';
import { do_mremap } from '../../src/linux/mm/mremap.js';
import { pte_cont } from '../../src/machine/pte.js';
import { dup_mm, process_exit } from '../../src/linux/kernel/fork.js';
import { pin_user_page, unpin_user_page } from '../../src/linux/mm/gup.js';
import { handle_mm_fault, VM_FAULT_OK } from '../../src/linux/mm/memory.js';
import { madvise_dontneed, madvise_free } from '../../src/linux/mm/madvise.js';
import { MMDEBUG } from '../../src/linux/include/linux/mmdebug.js';
import { user_access } from '../../src/workload/access.js';
import { flush_tlb_range, tlb_lookup } from '../../src/machine/tlb.js';
import { do_mprotect } from '../../src/linux/mm/mprotect.js';
import { drive } from '../../src/machine/gen.js';
import { PTE_DIRTY, pte_dirty } from '../../src/machine/pte.js';
import { VM_READ, VM_SHARED, VM_WRITE } from '../../src/machine/machine.js';
import { boot, cpuWithConfig, folioAt, folioOrder, invariants, isFree, mapAnon, mapFile, newAccessOut, pteAt, readPage, run, stepper, token, total, writePage } from '../helpers/machine.js';
import { do_mmap, do_munmap, i_mmap_entries } from '../../src/linux/mm/mmap.js';
import { sysBegin, sysEnd } from '../../src/check/maps.js';
import { write_cache_pages } from '../../src/linux/mm/page-writeback.js';
import { final_sync } from '../../src/engine/sched.js';
import { do_move_pages } from '../../src/linux/mm/migrate.js';
import { shrink_folios } from '../../src/linux/mm/vmscan.js';
import { remove_migration_ptes, try_to_migrate } from '../../src/linux/mm/rmap.js';
import { folio_lock, folio_unlock } from '../../src/linux/mm/filemap.js';
import { folio_put, folio_ref_add } from '../../src/linux/mm/swap.js';
import { folioOf } from '../../src/check/folio.js';

const B = 1024;
/** The control runs at least this many seeds of a profile (the seeds to the first detection, if more). */
const CONTROL_SEEDS = 3;

/** Run seeds [1, n] of a config; the distinct invariants of all violations, and how many seeds had any. */
function sweep(over: ConfigInput, n: number): { hits: number; invariants: string[] } {
  const cfg = defaultConfig(over);
  let hits = 0;
  const inv = new Set<string>();
  for (let s = 1; s <= n; s++) {
    const r = runSched(cfg, s, { record: false });
    if (r.violations.length) hits++;
    for (const v of r.violations) inv.add(v.invariant);
  }
  return { hits, invariants: [...inv].sort() };
}

/** Run seeds 1, 2, ... of a config until one has a violation (at most n): that seed and its invariants (seed -1: none). */
function firstDetection(over: ConfigInput, n: number): { seed: number; invariants: string[] } {
  const cfg = defaultConfig(over);
  for (let s = 1; s <= n; s++) {
    const r = runSched(cfg, s, { record: false });
    if (r.violations.length) return { seed: s, invariants: [...new Set(r.violations.map((v) => v.invariant))].sort() };
  }
  return { seed: -1, invariants: [] };
}

/** A scripted scenario with or without the deviation: the invariants it reports. */
type Scenario = (inject: string[]) => string[];

/**
 * The anon-fault race of seeds/004: CPU0's scan chose order 4, CPU1 then maps an order-2 folio at
 * [B+8, B+12) (its mTHP setting allows only [0, 2]), CPU0 takes the PTL and maps. Without the
 * recheck CPU0 overwrites CPU1's entries.
 */
function lostRaceLarge(inject: string[]): string[] {
  const h = boot({ anonOrders: [0, 2, 4], inject });
  mapAnon(h, B, 16, { align: 16 });
  const s0 = stepper(h, 0, handle_mm_fault(h.cpus[0], 0, B, true));
  s0.untilEvent(EV.SCAN_ORDER + 4);
  writePage(h, cpuWithConfig(h, 1, { anonOrders: [0, 2] }), 0, B + 8);
  assert.equal(s0.finish(), VM_FAULT_OK);
  return invariants([...checkQuiescent(h.machine), ...h.observed]);
}

/** Order 0: both CPUs fault the same page; without "pte changed" the loser maps over the winner. */
function lostRaceOrder0(inject: string[]): string[] {
  const h = boot({ anonOrders: [0], inject });
  mapAnon(h, B, 16, { align: 16 });
  const s0 = stepper(h, 0, handle_mm_fault(h.cpus[0], 0, B + 3, true));
  s0.untilEvent(EV.SCAN_ORDER + 0);
  writePage(h, 1, 0, B + 3);
  assert.equal(s0.finish(), VM_FAULT_OK);
  return invariants([...checkQuiescent(h.machine), ...h.observed]);
}

/** A write fault in a 2-page VMA: order 2 does not fit, so only order 1 or 0 can. */
function twoPageVma(inject: string[]): string[] {
  const h = boot({ anonOrders: [0, 2, 4], inject });
  mapAnon(h, B, 2, { align: 2 });
  writePage(h, 0, 0, B + 1);
  const order = folioAt(h, 0, B + 1)!.order;
  assert.equal(order, inject.includes('fault-order1') ? 1 : 0);
  return invariants([...checkQuiescent(h.machine), ...h.observed]);
}

/** An order-4 write fault, stepped, with the observer (refcount >= mapcount) after every step. */
function observedFault(inject: string[]): string[] {
  const h = boot({ anonOrders: [0, 2, 4], inject });
  mapAnon(h, B, 16, { align: 16 });
  writePage(h, 0, 0, B + 5);
  assert.equal(folioAt(h, 0, B + 5)!.order, 4);
  // the final state is consistent either way: only the observer sees the window
  assert.deepEqual(checkQuiescent(h.machine), []);
  return invariants(h.observed);
}

/**
 * CPU1 wrote a page (its TLB now holds a writable entry); CPU0 zaps the range (MADV_DONTNEED) and
 * is stopped as soon as the folio is back in the allocator; CPU1 stores through its TLB entry.
 * Freed after the flush (the kernel's order), CPU1's entry is gone and the store faults in a new page.
 */
function staleTlbStore(inject: string[]): string[] {
  const h = boot({ anonOrders: [0, 2, 4], inject });
  mapAnon(h, B, 16, { align: 16 });
  const [cpu0, cpu1] = h.cpus;
  const w = writePage(h, cpu1, 0, B + 3);
  const folio = folioOf(h.machine, w.pfn);
  assert.equal(folioOrder(h.machine, folio), 4);
  assert.notEqual(tlb_lookup(cpu1, 0, B + 3), 0, 'CPU1 has a TLB entry for the page');
  zapBegin(h.machine, 0, B, B + 16);
  const s0 = stepper(h, cpu0, madvise_dontneed(cpu0, 0, B, B + 16));
  try {
    s0.until(() => isFree(h.machine, folio), 'the zapped folio is freed');
  } catch (e) {
    if (e instanceof Violation) return [e.invariant]; // the free itself, while CPU1's TLB reaches the folio
    throw e;
  }
  const stale = tlb_lookup(cpu1, 0, B + 3) !== 0;
  assert.equal(stale, inject.includes('zap-free-before-flush'), 'a TLB entry survives the free only under the deviation');
  const out = newAccessOut();
  const tok = token(0, B + 3);
  try {
    run(h, cpu1, user_access(cpu1, 0, B + 3, true, tok, out));
  } catch (e) {
    if (e instanceof Violation) return [e.invariant];
    throw e;
  }
  assert.equal(out.faults, 1, 'the store faulted: no stale entry (the new folio may reuse the freed pages)');
  assert.equal(isFree(h.machine, out.pfn), false);
  recordWrite(h.machine, 0, B + 3, tok, out.g1, out.g2);
  s0.finish();
  zapEnd(h.machine, 0, B, B + 16);
  return invariants([...checkQuiescent(h.machine), ...h.observed]);
}

/** migrate-no-flush: CPU1 holds TLB entries of the folio's odd pages; move_pages on CPU0 must flush them. */
function migrateStaleTlb(inject: string[]): string[] {
  const h = bigFolio(inject);
  assert.notEqual(tlb_lookup(h.cpus[1], 0, B + 3), 0, 'CPU1 has a TLB entry for the page');
  return caught(h, () => assert.equal(run(h, 0, do_move_pages(h.cpus[0], 0, B)), 0));
}

/** migrate-ignore-pins: a R/W long-term pin on page 2, then move_pages: the folio must stay. */
function migratePinned(inject: string[]): string[] {
  const h = bigFolio(inject);
  assert.ok(run(h, 0, pin_user_page(h.cpus[0], 0, B + 2, true)) > 0);
  return caught(h, () => run(h, 0, do_move_pages(h.cpus[0], 0, B)));
}

/** fork-migration-writable: fork while the folio's entries are writable migration entries, then the migration ends. */
function forkDuringMigration(inject: string[]): string[] {
  const h = bigFolio(inject);
  const src = folioAt(h, 0, B)!.folio;
  return caught(h, () => {
    folio_ref_add(h.cpus[0], src, 1); // the migration's own reference (folio_isolate_lru)
    run(h, 0, folio_lock(h.cpus[0], src));
    assert.ok(run(h, 0, try_to_migrate(h.cpus[0], src)));
    assert.ok(run(h, 0, dup_mm(h.cpus[0], 0)) > 0);
    run(h, 0, remove_migration_ptes(h.cpus[0], src, src));
    folio_unlock(h.cpus[0], src);
    run(h, 0, folio_put(h.cpus[0], src));
  });
}

/** reclaim-unmap-no-dirty: a store seen only in a PTE dirty bit, then two reclaim passes (the first finds the entries young). */
function reclaimDirtyBit(inject: string[]): string[] {
  const h = boot({ cpus: 1, files: { count: 1, pages: 64, orders: [0, 2, 4] }, inject });
  mapFile(h, B, 16);
  readPage(h, 0, 0, B);
  writePage(h, 0, 0, B + 5);
  const early = caught(h, () => {
    for (let i = 0; i < 3; i++) run(h, 0, shrink_folios(h.cpus[0], 0, h.machine.L.pages));
  });
  if (early.length) return early;
  run(h, 0, process_exit(h.cpus[0], 0));
  return syncFindings(h);
}

/**
 * lazyfree-ignore-refs: MADV_FREE of an order-4 folio, a R/W pin of page 3 and a device write
 * through it (no PTE dirty bit), then reclaim: the folio must stay, and the owner must read the
 * device's data.
 */
function lazyfreePinned(inject: string[]): string[] {
  const h = bigFolio(inject);
  const m = h.machine.m, L = h.machine.L;
  freeBegin(h.machine, 0, B, B + 16);
  assert.equal(run(h, 0, madvise_free(h.cpus[0], 0, B, B + 16)), 0);
  freeEnd(h.machine, 0, B, B + 16);
  const owner = ownerOf(h.machine, B + 3);
  const pfn = run(h, owner, pin_user_page(h.cpus[owner], 0, B + 3, true));
  assert.ok(pfn > 0);
  // the device writes through the pin (pinio_op's store and record)
  const tok = token(0, B + 3);
  const g = zapGen(h.machine, 0, B + 3);
  Atomics.store(m, L.pContent + pfn, tok);
  recordWrite(h.machine, 0, B + 3, tok, g, g);
  return caught(h, () => {
    for (let i = 0; i < 2; i++) run(h, 0, shrink_folios(h.cpus[0], 0, L.pages));
    const out = newAccessOut();
    run(h, owner, user_access(h.cpus[owner], 0, B + 3, false, 0, out));
    checkRead(h.cpus[owner], 0, B + 3, out.value, out.g1, out.g2, out.pfn);
  });
}

/**
 * unshare-copy-clean (upstream's behaviour): the parent writes a page and forks; a read-only pin
 * unshares the page (the parent gets a copy); the pin goes, the child exits; a second child
 * MADV_FREEs what it inherited and exits; reclaim. The parent never freed the page: it must read
 * its data back (the qemu reproduction, vm/findings/unshare-madv-free.c, reads zeros on 6.12).
 */
function unshareThenChildFree(inject: string[]): string[] {
  const h = boot({ anonOrders: [0], inject });
  mapAnon(h, B, 4);
  writePage(h, 0, 0, B);
  const c1 = run(h, 0, dup_mm(h.cpus[0], 0));
  assert.ok(c1 > 0);
  const before = folioAt(h, 0, B)!.pfn;
  // the anon-data-clean contract catches the clean copy when it is mapped (the PTL release)
  const early = caught(h, () => {
    const pfn = run(h, 0, pin_user_page(h.cpus[0], 0, B, false));
    assert.ok(pfn > 0 && pfn !== before, 'the read-only pin unshared the page');
    run(h, 0, unpin_user_page(h.cpus[0], pfn));
  });
  if (early.length) return early;
  run(h, 0, process_exit(h.cpus[0], c1));
  const c2 = run(h, 0, dup_mm(h.cpus[0], 0));
  assert.ok(c2 > 0);
  freeBegin(h.machine, c2, B, B + 4);
  assert.equal(run(h, 0, madvise_free(h.cpus[0], c2, B, B + 4)), 0);
  freeEnd(h.machine, c2, B, B + 4);
  run(h, 0, process_exit(h.cpus[0], c2));
  return caught(h, () => {
    for (let i = 0; i < 3; i++) run(h, 0, shrink_folios(h.cpus[0], 0, h.machine.L.pages));
    const out = newAccessOut();
    run(h, 0, user_access(h.cpus[0], 0, B, false, 0, out));
    checkRead(h.cpus[0], 0, B, out.value, out.g1, out.g2, out.pfn);
  });
}

interface Case {
  scenarios: [string, Scenario, string[]][]; // name, scenario, invariants expected with the deviation
  /**
   * At most this many seeds of the deviation's `provoke` profile until the first detection (the
   * run is deterministic: the bound leaves room above the seed measured today, noted alongside).
   */
  seeds: number;
}

/**
 * The invariants caught while running fn: a thrown violation (then, as in the engines, no
 * quiescent check of the half-done state), else the quiescent findings; plus the observer's.
 */
function caught(h: ReturnType<typeof boot>, fn: () => void): string[] {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof Violation)) throw e;
    return invariants([{ invariant: e.invariant }, ...h.observed]);
  }
  return invariants([...checkQuiescent(h.machine), ...h.observed]);
}

/**
 * The final sync and what it finds: a violation one of its writebacks raises (the per-writeback
 * data contract), else the disk check's, and the quiescent checker's and the observer's findings.
 */
function syncFindings(h: ReturnType<typeof boot>): string[] {
  let lost: { invariant: string } | null;
  try {
    lost = run(h, 0, final_sync(h.cpus[0]));
  } catch (e) {
    if (!(e instanceof Violation)) throw e;
    return invariants([{ invariant: e.invariant }, ...h.observed]);
  }
  return invariants([...(lost ? [lost] : []), ...checkQuiescent(h.machine), ...h.observed]);
}

/** An order-4 folio at [B, B+16), every page written by its owner CPU. */
function bigFolio(inject: string[], over: ConfigInput = {}) {
  const h = boot({ anonOrders: [0, 4], inject, ...over });
  mapAnon(h, B, 16, { align: 16 });
  for (let v = B; v < B + 16; v++) writePage(h, v % h.cfg.cpus, 0, v);
  assert.equal(folioAt(h, 0, B)!.order, 4);
  return h;
}

/** fork-mapcount-before-ref: the observer sees refcount < mapcount while fork dups the batch. */
function forkObserved(inject: string[]): string[] {
  const h = bigFolio(inject);
  return caught(h, () => assert.ok(run(h, 0, dup_mm(h.cpus[0], 0)) > 0));
}

/** fork-dup-pinned: a R/W long-term pin, then fork: the pinned page must stay exclusive to the parent. */
function pinThenFork(inject: string[]): string[] {
  const h = bigFolio(inject);
  const pfn = run(h, 0, pin_user_page(h.cpus[0], 0, B + 2, true));
  assert.ok(pfn > 0);
  return caught(h, () => assert.ok(run(h, 0, dup_mm(h.cpus[0], 0)) > 0));
}

/** cow-reuse-shared: after fork the parent's write must copy; reusing lets the child see it. */
function cowAfterFork(inject: string[]): string[] {
  const h = bigFolio(inject);
  const child = run(h, 0, dup_mm(h.cpus[0], 0));
  return caught(h, () => {
    writePage(h, 0, 0, B);
    const out = newAccessOut();
    run(h, 0, user_access(h.cpus[0], child, B, false, 0, out));
    checkRead(h.cpus[0], child, B, out.value, out.g1, out.g2, out.pfn);
  });
}

/**
 * fork-no-merge-write: fork, the child exits, the parent writes B+5 (reused in place: the folio is
 * its alone again, so only that PTE becomes writable), fork again. The batch's first PTE is
 * read-only; only merging the write bit over the batch write-protects B+5 for the second child.
 */
function mixedWriteBits(inject: string[]): string[] {
  const h = bigFolio(inject);
  const c1 = run(h, 0, dup_mm(h.cpus[0], 0));
  run(h, 0, process_exit(h.cpus[0], c1));
  writePage(h, 1, 0, B + 5);
  assert.ok(total(h, EV.WP_REUSE) >= 1, 'the write reused the page in place');
  return caught(h, () => assert.ok(run(h, 0, dup_mm(h.cpus[0], 0)) > 0));
}

/** batch-past-folio-end: two order-2 folios, physically adjacent, mapped at [B, B+8): zap B..B+8. */
function adjacentFolios(inject: string[]): string[] {
  const h = boot({ anonOrders: [0, 2], inject });
  mapAnon(h, B, 8, { align: 4 });
  writePage(h, 0, 0, B);
  writePage(h, 0, 0, B + 4);
  const a = folioAt(h, 0, B)!, b = folioAt(h, 0, B + 4)!;
  assert.equal(b.folio, a.folio + 4, 'the allocator handed out buddies');
  return caught(h, () => {
    zapBegin(h.machine, 0, B, B + 8);
    run(h, 1, madvise_dontneed(h.cpus[1], 0, B, B + 8));
    zapEnd(h.machine, 0, B, B + 8);
  });
}

/** batch-past-table: MADV_DONTNEED of the first 4 pages of an order-4 folio must keep the other 12. */
function partialZap(inject: string[]): string[] {
  const h = bigFolio(inject);
  return caught(h, () => {
    zapBegin(h.machine, 0, B, B + 4);
    run(h, 1, madvise_dontneed(h.cpus[1], 0, B, B + 4));
    zapEnd(h.machine, 0, B, B + 4);
  });
}

/**
 * A tmpfs-like shared file mapping: a read fault maps the order-4 folio writable and clean, a store
 * to page 9 sets only that entry's dirty bit (the folio stays clean: the PTE is the only record of
 * the write), munmap zaps the batch of 16, the process exits and the final sync checks the disk.
 */
function zapDirtyBit(inject: string[]): string[] {
  const h = boot({ cpus: 1, files: { count: 1, pages: 64, orders: [0, 2, 4] }, inject });
  mapFile(h, B, 16);
  readPage(h, 0, 0, B);
  writePage(h, 0, 0, B + 9);
  assert.equal(run(h, 0, do_munmap(h.cpus[0], 0, B, B + 16)), 0);
  run(h, 0, process_exit(h.cpus[0], 0));
  return syncFindings(h);
}

/**
 * Writeback cleans the PTE of a page its owner just wrote; the owner writes again. With the flush
 * the store misses the TLB, faults (wp_page_shared) and dirties the folio; without it, the store
 * goes through the stale writable, dirty TLB entry: the folio stays clean and the write is lost.
 */
function writebackStaleTlb(inject: string[]): string[] {
  const h = boot({ cpus: 1, files: { count: 1, pages: 64, orders: [0, 2, 4] }, inject });
  mapFile(h, B, 16);
  readPage(h, 0, 0, B);
  writePage(h, 0, 0, B + 4);
  // the writeback's own contract: its flush is done before the PTL is dropped (tlb-stale)
  const early = caught(h, () => run(h, 0, write_cache_pages(h.cpus[0], 0)));
  if (early.length) return early;
  writePage(h, 0, 0, B + 4);
  run(h, 0, process_exit(h.cpus[0], 0));
  return syncFindings(h);
}

/**
 * prot-start-first-only, end to end: a tmpfs-like shared mapping of an order-4 folio, mapped
 * writable and clean by a read fault; a store sets the dirty bit of entry 5 only (the folio stays
 * clean); mprotect R/O must carry that bit through modify_prot_start_ptes; munmap then moves it to
 * the folio and the final sync writes it. Without it the write never reaches the disk.
 */
function dirtyBitThroughMprotect(inject: string[]): string[] {
  const h = boot({ cpus: 1, files: { count: 1, pages: 64, orders: [0, 2, 4] }, inject });
  mapFile(h, B, 16);
  readPage(h, 0, 0, B);
  writePage(h, 0, 0, B + 5);
  assert.ok(pte_dirty(Atomics.load(h.machine.m, h.machine.ptep(0, B + 5))), 'hardware dirtied entry 5');
  assert.equal(run(h, 0, do_mprotect(h.cpus[0], 0, B, B + 16, VM_READ)), 0);
  assert.equal(run(h, 0, do_munmap(h.cpus[0], 0, B, B + 16)), 0);
  run(h, 0, process_exit(h.cpus[0], 0));
  return syncFindings(h);
}

/**
 * mremap-rmap-unlocked: writeback of a tmpfs-like file walks the rmap of page 2's folio while mremap
 * moves the mapping of it. The moving mapping's new i_mmap entry takes slot 0 (freed by a munmap),
 * before the old one's (slot 1): only the rmap lock keeps the walk from looking at the new range
 * first (D's table, populated by the unmapped mapping) and at the old one after the entry left it.
 * The store to page 2 is recorded in its PTE's dirty bit only. The walk is stopped between the two
 * ranges, then the mover runs as far as it can: with the lock it waits for the walk to end. With
 * moveContract false the checker's rmapMove hook is switched off, to show what the walk then misses.
 */
function mremapDuringWriteback(inject: string[], moveContract = true): string[] {
  const h = boot({ cpus: 2, files: { count: 1, pages: 64, orders: [0], writenotify: 'off' }, inject });
  const D = 3072;
  mapFile(h, D + 256, 8, { pgoff: 32 }); // i_mmap slot 0
  mapFile(h, B, 16, { pgoff: 0 }); // slot 1
  readPage(h, 0, 0, D + 256);
  zapBegin(h.machine, 0, D + 256, D + 264);
  assert.equal(run(h, 0, do_munmap(h.cpus[0], 0, D + 256, D + 264)), 0);
  zapEnd(h.machine, 0, D + 256, D + 264);
  readPage(h, 0, 0, B + 2);
  writePage(h, 0, 0, B + 2);
  const s0 = stepper(h, 0, do_mremap(h.cpus[0], 0, B, 16, D));
  s0.until(() => i_mmap_entries(h.machine, 0).length === 2, 'the new mapping linked');
  assert.equal(i_mmap_entries(h.machine, 0)[0].start, D, 'the new mapping first in the walk');
  const s1 = stepper(h, 1, write_cache_pages(h.cpus[1], 0));
  const ptlD = h.machine.ptlOf(h.machine.tableIndex(0, D));
  const walkAtD = () => h.cpus[1].held.some((l) => l.off === ptlD);
  s1.until(walkAtD, 'the walk at the new range');
  s1.until(() => !walkAtD(), 'the walk past the new range');
  const saved = MMDEBUG.rmapMove;
  if (!moveContract) MMDEBUG.rmapMove = () => {};
  try {
    return caught(h, () => {
      while (!s0.done && s0.runnable()) s0.step(); // the mover, until done or waiting for the walk
      // then the walk first whenever it can run (the mover, waiting for i_mmap_rwsem, holds back its
      // later readers: the two take turns)
      while (!s0.done || !s1.done) {
        if (!s1.done && s1.runnable()) s1.step();
        else if (!s0.done && s0.runnable()) s0.step();
        else throw new Error('both CPUs wait');
      }
    });
  } finally {
    MMDEBUG.rmapMove = saved;
  }
}

/**
 * vma-merge-pgoff: a shared mapping of file pages 0..15 at B, then one of pages 100..115 right
 * after it (MAP_FIXED_NOREPLACE): two VMAs. Merged without the vm_pgoff test, the second range maps
 * file pages 16..31 through the first VMA's offset. The maps checker judges the mmap (sysBegin /
 * sysEnd, as the workload calls them); without it, a store there escapes writeback (the new range's
 * i_mmap entry has the right offset, so the rmap walk of page 20 finds no mapping of it).
 */
function fileMergeJump(inject: string[], judged: boolean): string[] {
  const h = boot({ cpus: 1, files: { count: 1, pages: 128, orders: [0], writenotify: 'off' }, inject });
  mapFile(h, B, 16, { pgoff: 0 });
  const flags = VM_READ | VM_WRITE | VM_SHARED;
  return caught(h, () => {
    const t = sysBegin(h.cpus[0], 0);
    const ret = run(h, 0, do_mmap(h.cpus[0], 0, 16, 1, B + 16, flags, true, 0, 100));
    if (judged) sysEnd(h.cpus[0], t, { op: 'mmap', len: 16, align: 1, flags, file: 0, pgoff: 100, ret });
    readPage(h, 0, 0, B + 20);
    writePage(h, 0, 0, B + 20);
    run(h, 0, write_cache_pages(h.cpus[0], 0));
  });
}

/** prot-commit-stale-old: mprotect R/O of a whole order-4 folio (one batch of 16). */
function mprotectBatch(inject: string[]): string[] {
  const h = bigFolio(inject);
  return caught(h, () => assert.equal(run(h, 0, do_mprotect(h.cpus[0], 0, B, B + 16, VM_READ)), 0));
}

/**
 * prot-exclusive-from-head: fork, the child exits, the parent writes page 0 (reused in place: page
 * 0 AnonExclusive, pages 1..15 not), mprotect R/O then R/W: only page 0 may become writable.
 */
function upgradeAfterReuse(inject: string[]): string[] {
  const h = bigFolio(inject);
  const c1 = run(h, 0, dup_mm(h.cpus[0], 0));
  run(h, 0, process_exit(h.cpus[0], c1));
  writePage(h, 0, 0, B);
  assert.ok(total(h, EV.WP_REUSE) >= 1, 'the write reused page 0 in place');
  return caught(h, () => {
    assert.equal(run(h, 0, do_mprotect(h.cpus[0], 0, B, B + 16, VM_READ)), 0);
    assert.equal(run(h, 0, do_mprotect(h.cpus[0], 0, B, B + 16, VM_READ | VM_WRITE)), 0);
  });
}

/** arch contpte: an order-4 folio at [B, B+16), every page written: one cont block. */
function contBlock(inject: string[]) {
  const h = bigFolio(inject, { arch: 'contpte' });
  for (let v = B; v < B + 16; v++) assert.ok(pte_cont(pteAt(h, 0, v)), 'mapped cont');
  return h;
}

/** contpte-no-unfold: MADV_DONTNEED of one page of a cont block must unfold it first. */
function contDontneedOne(inject: string[]): string[] {
  const h = contBlock(inject);
  return caught(h, () => {
    zapBegin(h.machine, 0, B + 6, B + 7);
    run(h, 1, madvise_dontneed(h.cpus[1], 0, B + 6, B + 7));
    zapEnd(h.machine, 0, B + 6, B + 7);
  });
}

/** contpte-no-unfold: after fork the parent's write to one page copies it (ptep_clear_flush on one cont entry). */
function contWpFault(inject: string[]): string[] {
  const h = contBlock(inject);
  assert.ok(run(h, 0, dup_mm(h.cpus[0], 0)) > 0);
  return caught(h, () => writePage(h, ownerOf(h.machine, B + 3), 0, B + 3));
}

/**
 * contpte-fold-first-only: MADV_DONTNEED of B+5 (the block unfolds; B+5 none), then mremap of the 16
 * pages to D, one entry at a time: the last set_pte_at tries to fold D's block. Entry D+5 is none,
 * so the block must not fold; folding anyway maps page 5 again from nowhere.
 */
function contFoldHole(inject: string[]): string[] {
  const h = contBlock(inject);
  const D = 3072;
  return caught(h, () => {
    zapBegin(h.machine, 0, B + 5, B + 6);
    run(h, 1, madvise_dontneed(h.cpus[1], 0, B + 5, B + 6));
    zapEnd(h.machine, 0, B + 5, B + 6);
    assert.equal(run(h, 0, do_mremap(h.cpus[0], 0, B, 16, D)), D);
    assert.equal(pte_cont(pteAt(h, 0, D)), inject.includes('contpte-fold-first-only'), 'folded only under the deviation');
  });
}

/**
 * fault-unaligned: a write fault 5 pages into a 16-page VMA. The order-4 range the suitability
 * checks judged, [B, B+16), fits; mapped at the faulting address, the folio covers [B+5, B+21).
 */
function unalignedAtVmaEnd(inject: string[]): string[] {
  const h = boot({ anonOrders: [0, 4], inject });
  mapAnon(h, B, 16, { align: 16 });
  return caught(h, () => {
    writePage(h, 1, 0, B + 5);
    assert.equal(folioAt(h, 0, B + 5)!.order, 4);
    assert.equal(folioAt(h, 0, B + 5)!.pfn & 15, inject.length ? 0 : 5, 'the faulting page is the head only when mapped unaligned');
  });
}

/**
 * fault-unaligned: a write fault 12 pages before the end of a PTE table (the VMA goes on into the
 * next table): the unaligned order-4 range would run 4 entries past the table's last one.
 */
function unalignedAtTableEnd(inject: string[]): string[] {
  const h = boot({ anonOrders: [0, 4], inject });
  mapAnon(h, B, 1024, { align: 16 });
  const next = h.machine.ptep(0, B + 512);
  const r = caught(h, () => writePage(h, 0, 0, B + 500));
  assert.equal(Atomics.load(h.machine.m, next), 0, 'nothing written in the next table');
  return r;
}

/**
 * fault-unaligned: CPU 0 wrote B+20 (an order-4 folio at [B+16, B+32)); CPU 1 then writes B+5.
 * The scan finds [B, B+16) none and picks order 4; the recheck looks at [B+5, B+21), which holds
 * B+16..B+20, and gives up; the access faults again, forever (the refault policy).
 */
function unalignedOverlap(inject: string[]): string[] {
  const h = boot({ anonOrders: [0, 4], inject, refaultLimit: 50 });
  mapAnon(h, B, 48, { align: 16 }); // the unaligned folio [B+20, B+36) stays inside the VMA (past its end is unalignedAtVmaEnd)
  return caught(h, () => {
    writePage(h, 0, 0, B + 20);
    writePage(h, 1, 0, B + 5);
  });
}

/**
 * fault-past-vma: a write fault in a 12-page VMA [B+2, B+14): the only order whose aligned range
 * fits is 2 ([B+4, B+8)); without the VMA check order 4 maps [B, B+16), 4 pages outside the VMA.
 */
function pastVma(inject: string[]): string[] {
  const h = boot({ anonOrders: [0, 2, 4], inject });
  mapAnon(h, B + 2, 12, { align: 2 });
  return caught(h, () => {
    writePage(h, 1, 0, B + 5);
    assert.equal(folioAt(h, 0, B + 5)!.order, inject.length ? 4 : 2);
  });
}

/**
 * MADV_DONTNEED of a whole order-4 folio mapped once: one zap batch of 16 entries, then the folio's
 * 16 references go after the flush and free it. rmap-remove-off-by-one: page 0's mapcount goes from
 * 1 to -1 in that batch's rmap removal. zap-batch-not-reset: the gather's last flush
 * (tlb_finish_mmu's) puts the 16 references again, after the first put freed the folio.
 */
function dontneedWholeFolio(inject: string[]): string[] {
  const h = bigFolio(inject);
  const folio = folioAt(h, 0, B)!.pfn;
  return caught(h, () => {
    zapBegin(h.machine, 0, B, B + 16);
    run(h, 1, madvise_dontneed(h.cpus[1], 0, B, B + 16));
    zapEnd(h.machine, 0, B, B + 16);
    assert.ok(isFree(h.machine, folio), 'the folio went back to the allocator');
  });
}

/**
 * arch contpte: an order-4 anon folio at [B, B+16), cont-mapped, and a tmpfs-like shared file
 * mapping later in the same PTE table whose page 9 a store dirtied (the PTE is the only record of
 * it). MADV_FREE of the anon folio (one batch of 16, cont at both ends): under cyd-length-bytes the
 * clear runs to the table's end. With contract: the clear-young-dirty-outside-range contract at the
 * helper's end; without (the hook made a no-op here), what it costs: munmap finds the file entry
 * clean, the folio is never dirtied, the final sync leaves the store off the disk.
 */
function cydPastRange(inject: string[], contract: boolean): string[] {
  const h = boot({ cpus: 1, arch: 'contpte', anonOrders: [0, 4], files: { count: 1, pages: 64, orders: [0, 2, 4] }, inject });
  mapAnon(h, B, 16, { align: 16 });
  for (let v = B; v < B + 16; v++) writePage(h, 0, 0, v);
  assert.ok(pte_cont(pteAt(h, 0, B)));
  mapFile(h, B + 64, 16);
  readPage(h, 0, 0, B + 64);
  writePage(h, 0, 0, B + 73);
  assert.ok(pte_dirty(pteAt(h, 0, B + 73)), 'hardware dirtied the file entry');
  const hook = MMDEBUG.pteBatchEnd;
  if (!contract) MMDEBUG.pteBatchEnd = () => {};
  try {
    freeBegin(h.machine, 0, B, B + 16); // the oracle's MADV_FREE window, as the workload opens it
    const early = caught(h, () => {
      assert.equal(run(h, 0, madvise_free(h.cpus[0], 0, B, B + 16)), 0);
      freeEnd(h.machine, 0, B, B + 16);
    });
    if (early.length) return early;
  } finally {
    MMDEBUG.pteBatchEnd = hook;
  }
  assert.equal(run(h, 0, do_munmap(h.cpus[0], 0, B + 64, B + 80)), 0);
  run(h, 0, process_exit(h.cpus[0], 0));
  return syncFindings(h);
}

/**
 * An order-4 folio at [B, B+16), every page written by its owner CPU (their TLBs hold writable,
 * dirty entries); MADV_FREE of it: one batch of 16. Under free-tlb-one-entry only B is flushed, and
 * at the return the TLBs still hold dirty writable entries over clean PTEs (tlb-stale).
 */
function freeWholeFolio(inject: string[]): string[] {
  const h = bigFolio(inject);
  freeBegin(h.machine, 0, B, B + 16); // the oracle's MADV_FREE window, as the workload opens it
  return caught(h, () => {
    assert.equal(run(h, 0, madvise_free(h.cpus[0], 0, B, B + 16)), 0);
    freeEnd(h.machine, 0, B, B + 16);
  });
}

const CASES: Record<string, Case> = {
  'fault-unaligned': {
    scenarios: [
      ['write fault 5 pages into a 16-page VMA', unalignedAtVmaEnd, ['pte-outside-vma']],
      ['write fault 12 pages before the end of a PTE table', unalignedAtTableEnd, ['batch-bounds']],
      ['the unaligned range holds a present entry: the recheck fails on every refault', unalignedOverlap, ['fault-livelock']],
    ],
    seeds: 10, // first detection today: seed 1
  },
  'fault-past-vma': {
    scenarios: [['write fault in a 12-page VMA not aligned to 16', pastVma, ['pte-outside-vma']]],
    seeds: 10, // first detection today: seed 1
  },
  'zap-first-pte-dirty': {
    scenarios: [['munmap of a folio dirtied by hardware on entry 9', zapDirtyBit, ['writeback-lost-write']]],
    seeds: 10, // first detection today: seed 3
  },
  'zap-clear-without-get': {
    scenarios: [['munmap of a folio dirtied by hardware on entry 9', zapDirtyBit, ['writeback-lost-write']]],
    seeds: 10, // first detection today: seed 3
  },
  'writeback-no-flush': {
    scenarios: [['store through the TLB entry writeback did not flush', writebackStaleTlb, ['tlb-stale']]],
    seeds: 10, // first detection today: seed 2
  },
  'prot-start-first-only': {
    scenarios: [['a tmpfs-like folio dirtied by hardware on entry 5, mprotect R/O, munmap', dirtyBitThroughMprotect, ['writeback-lost-write']]],
    seeds: 15, // first detection today: seed 2 (13 of seeds 1-60)
  },
  'prot-commit-stale-old': {
    scenarios: [['mprotect R/O of an order-4 folio', mprotectBatch, ['prot-commit-old-mismatch']]],
    seeds: 10, // first detection today: seed 1
  },
  'prot-exclusive-from-head': {
    scenarios: [['mprotect R/O then R/W after an in-place reuse of page 0', upgradeAfterReuse, ['writable-not-exclusive']]],
    seeds: 60, // first detection today: seed 13
  },
  'fork-mapcount-before-ref': {
    scenarios: [['observer during fork of an order-4 folio', forkObserved, ['refcount-below-mapcount']]],
    seeds: 10, // first detection today: seed 3
  },
  'fork-dup-pinned': {
    scenarios: [['R/W pin then fork', pinThenFork, ['pinned-not-exclusive']]],
    seeds: 25, // first detection today: seed 14 (seed 2 before VMAs merged: 9 of seeds 1-60 detect it, 12 before)
  },
  'fork-no-merge-write': {
    scenarios: [['fork after an in-place reuse of one page', mixedWriteBits, ['writable-not-exclusive']]],
    seeds: 10, // first detection today: seed 1
  },
  'batch-past-folio-end': {
    scenarios: [['zap of two adjacent order-2 folios', adjacentFolios, ['batch-bounds']]],
    seeds: 10, // first detection today: seed 1
  },
  'batch-past-table': {
    scenarios: [['MADV_DONTNEED of part of a large folio', partialZap, ['data-lost']]],
    seeds: 10, // first detection today: seed 1
  },
  'cow-reuse-shared': {
    scenarios: [['parent write after fork, child read', cowAfterFork, ['cow-reuse-shared']]],
    seeds: 10, // first detection today: seed 1
  },
  'contpte-no-unfold': {
    scenarios: [
      ['MADV_DONTNEED of one page of a cont block', contDontneedOne, ['contpte-inconsistent']],
      ['wp fault (copy) on one page of a cont block after fork', contWpFault, ['contpte-inconsistent']],
    ],
    seeds: 10, // first detection today: seed 1
  },
  'contpte-fold-first-only': {
    scenarios: [['mremap one entry at a time of a cont block with a hole', contFoldHole, ['mapcount-below-ptes']]],
    seeds: 20, // first detection today: seed 1
  },
  'fault-no-recheck': {
    scenarios: [
      // CPU1's folio loses its PTEs (mapcount, RSS, its MM_ID slot still counts them) and CPU1's
      // write is lost (data-mismatch)
      ['large folio: range changed', lostRaceLarge, ['data-mismatch', 'mapcount-mismatch', 'mm-id-mismatch', 'rss-mismatch']],
      ['order 0: pte changed', lostRaceOrder0, ['data-mismatch', 'mapcount-mismatch', 'mm-id-mismatch', 'rss-mismatch']],
    ],
    seeds: 10, // first detection today: seed 1
  },
  'fault-order1': {
    scenarios: [['2-page VMA', twoPageVma, ['anon-order1']]],
    seeds: 10, // first detection today: seed 1
  },
  'fault-refcount-late': {
    scenarios: [['observer during an order-4 fault', observedFault, ['refcount-below-mapcount']]],
    seeds: 10, // first detection today: seed 1
  },
  'zap-free-before-flush': {
    scenarios: [['store through a stale TLB entry', staleTlbStore, ['tlb-maps-freed-page']]],
    seeds: 15, // first detection today: seed 4
  },
  'rmap-remove-off-by-one': {
    scenarios: [['MADV_DONTNEED of a whole order-4 folio', dontneedWholeFolio, ['mapcount-underflow']]],
    seeds: 10, // first detection today: seed 1
  },
  'migrate-no-flush': {
    scenarios: [['move_pages while another CPU holds TLB entries of the folio', migrateStaleTlb, ['tlb-stale']]],
    seeds: 10, // first detection today: seed 1
  },
  'migrate-ignore-pins': {
    scenarios: [['move_pages of a folio with a R/W long-term pin', migratePinned, ['pinned-not-exclusive']]],
    seeds: 10, // first detection today: seed 1
  },
  'fork-migration-writable': {
    scenarios: [['fork while the entries are writable migration entries', forkDuringMigration, ['exclusive-page-shared']]],
    seeds: 20, // first detection today: seed 9
  },
  'reclaim-unmap-no-dirty': {
    scenarios: [['reclaim of a tmpfs-like folio dirtied by hardware on entry 5', reclaimDirtyBit, ['writeback-lost-write']]],
    seeds: 10, // first detection today: seed 1
  },
  'lazyfree-ignore-refs': {
    scenarios: [['a device write through a pin into a lazyfree folio, then reclaim', lazyfreePinned, ['data-mismatch']]],
    seeds: 10, // first detection today: seed 1
  },
  'zap-batch-not-reset': {
    scenarios: [['MADV_DONTNEED of a whole order-4 folio', dontneedWholeFolio, ['refcount-underflow']]],
    seeds: 10, // first detection today: seed 1
  },
  'cyd-length-bytes': {
    scenarios: [
      ['MADV_FREE of a cont-mapped folio, a dirty tmpfs page later in the table', (inject) => cydPastRange(inject, true), ['clear-young-dirty-outside-range']],
      ['the same without the helper\'s contract: the file store never reaches the disk', (inject) => cydPastRange(inject, false), ['writeback-lost-write']],
    ],
    seeds: 10, // first detection today: seed 1
  },
  'free-tlb-one-entry': {
    scenarios: [['MADV_FREE of a whole order-4 folio its writers hold in their TLBs', freeWholeFolio, ['tlb-stale']]],
    seeds: 10, // first detection today: seed 2
  },
  'mremap-rmap-unlocked': {
    scenarios: [
      ['writeback walks while a file mapping moves, its new mapping first in the walk', (inject) => mremapDuringWriteback(inject), ['rmap-walk-order']],
      ['the same without the move contract: the walk misses the dirty entry, the store is not on the disk', (inject) => mremapDuringWriteback(inject, false), ['writeback-lost-write']],
    ],
    seeds: 15, // first detection today: seed 4
  },
  'vma-merge-pgoff': {
    scenarios: [
      ['mmap of file pages 100.. right after a mapping of pages 0..15', (inject) => fileMergeJump(inject, true), ['maps-mismatch']],
      ['the same unjudged, a store in the merged range, writeback', (inject) => fileMergeJump(inject, false), ['writeback-lost-write']],
    ],
    seeds: 10, // first detection today: seed 3
  },
  'unshare-copy-clean': {
    scenarios: [['R/O pin unshares after fork, a second child MADV_FREEs, reclaim', unshareThenChildFree, ['anon-data-clean']]],
    seeds: 15, // first detection today: seed 1 (8 of seeds 1-40)
  },
};

test('deviations: every entry of DEVIATIONS has a test here', () => {
  assert.deepEqual(Object.keys(CASES).sort(), DEVIATIONS.map((d) => d.name).sort());
});

for (const d of DEVIATIONS) {
  const c = CASES[d.name];
  if (!c) continue; // reported by the test above
  for (const [name, scenario, expected] of c.scenarios) {
    test(`deviation ${d.name}: caught in a scripted scenario (${name}); clean without it`, () => {
      assert.deepEqual(scenario([]), [], 'control: the kernel algorithm passes');
      assert.deepEqual(scenario([d.name]), expected);
    });
  }
  test(`deviation ${d.name}: caught by runSched on its provoke profile within ${c.seeds} seeds (${d.expect.join(' or ')}); the same seeds are clean without it`, () => {
    const bad = firstDetection({ ...d.provoke, inject: [d.name] }, c.seeds);
    assert.ok(bad.seed > 0, `no violation in ${c.seeds} seeds`);
    assert.ok(bad.invariants.some((i) => d.expect.includes(i)), `seed ${bad.seed} found ${bad.invariants.join(', ')}, expected one of ${d.expect.join(', ')}`);
    assert.deepEqual(sweep(d.provoke, Math.max(bad.seed, CONTROL_SEEDS)), { hits: 0, invariants: [] });
  });
}

test('deviations: unknown names are rejected', () => {
  assert.throws(() => boot({ inject: ['no-such-bug'] }), /unknown deviation "no-such-bug"/);
});
