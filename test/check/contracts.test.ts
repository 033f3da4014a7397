// The kernel's contracts at the instant each must hold (src/check/contracts.ts, docs/checks.md):
// for each, the state the kernel promises first (no finding), then the bad state built by hand or
// by a named deviation, and the contract catching it at its point.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Violation } from '../../src/machine/cpu.js';
import { CPU, MM } from '../../src/machine/layout.js';
import { FOLIO_DIRTY, PG_ANON_EXCLUSIVE, PG_BUDDY, VM_WRITE, ZERO_PFN } from '../../src/machine/machine.js';
import { EV } from '../../src/machine/events.js';
import { PTE_DIRTY, PTE_WRITE, pfn_pte, pte_mkspecial, pte_pfn, pte_write } from '../../src/machine/pte.js';
import { tlb_fill, flush_tlb_range } from '../../src/machine/tlb.js';
import { allocFailures, checkAllocFailed, checkCowReuse, checkFolioCleaned, checkTlbSynced, pteBatchBegin, pteBatchEnd, storeEntryProblem, writebackBegin, writebackEnd } from '../../src/check/contracts.js';
import { spin_lock, spin_unlock } from '../../src/linux/kernel/locking/spinlock.js';
import { down_write, up_write } from '../../src/linux/kernel/locking/rwsem.js';
import { dup_mm } from '../../src/linux/kernel/fork.js';
import { madvise_dontneed } from '../../src/linux/mm/madvise.js';
import { vma_modify_flags } from '../../src/linux/mm/mmap.js';
import { write_cache_pages } from '../../src/linux/mm/page-writeback.js';
import { tlb_gather_mmu } from '../../src/linux/mm/mmu_gather.js';
import { alloc_folio } from '../../src/linux/mm/page_alloc.js';
import { do_munmap } from '../../src/linux/mm/mmap.js';
import { ACCESS_OOM, user_access } from '../../src/workload/access.js';
import { freeBegin } from '../../src/check/oracle.js';
import { boot, folioAt, type Harness, mapAnon, mapFile, newAccessOut, pteAt, run, stepper, token, writePage } from '../helpers/machine.js';
import { namedTests } from '../helpers/named-tests.js';

const B = 1024;

/** Contract names that have a test below (the first word of the test's title). */
const { tested: TESTED, namedTest: contractTest } = namedTests();

function violation(fn: () => unknown): Violation {
  try {
    fn();
  } catch (e) {
    if (e instanceof Violation) return e;
    throw e;
  }
  assert.fail('no violation');
}

/** mm 0 with an anon page at B written by CPU 1 (so CPU 1's TLB holds a writable entry for it). */
function written(): Harness {
  const h = boot({ cpus: 2 });
  mapAnon(h, B, 16);
  writePage(h, 1, 0, B);
  return h;
}

/**
 * Lock the PTL of (mm, vpn)'s table on cpu, note [vpn, vpn + 16) as written under it (as a kernel
 * path's PTE writes do), unlock: the per-table contract checks those entries at the unlock.
 */
function lockCycle(h: Harness, cpu: number, mm: number, vpn: number): void {
  const off = h.machine.ptlOf(h.machine.tableIndex(mm, vpn));
  run(h, cpu, spin_lock(h.cpus[cpu], off));
  h.cpus[cpu].notePteWrite(h.machine.ptep(mm, vpn), 16);
  spin_unlock(h.cpus[cpu], off);
}

test('the per-table contract looks at the entries written under the PTL: a bad entry elsewhere in the table waits for its own writer', () => {
  const h = written();
  Atomics.and(h.machine.m, h.machine.L.pFlags + folioAt(h, 0, B)!.pfn, ~PG_ANON_EXCLUSIVE);
  const off = h.machine.ptlOf(h.machine.tableIndex(0, B));
  run(h, 0, spin_lock(h.cpus[0], off));
  h.cpus[0].notePteWrite(h.machine.ptep(0, B + 8), 4); // other entries of the same table
  spin_unlock(h.cpus[0], off);
  assert.equal(h.cpus[0].pteHi, -1, 'the range starts afresh once no PTL is held');
  assert.equal(violation(() => lockCycle(h, 0, 0, B)).invariant, 'writable-not-exclusive');
});

// ---- TLB coherence ---------------------------------------------------------------------------

contractTest('tlb-stale: a TLB entry for an address whose PTE was cleared without a flush', () => {
  const h = written();
  checkTlbSynced(h.cpus[0], 0, B, B + 16, 'test'); // the entry matches the PTE
  Atomics.store(h.machine.m, h.machine.ptep(0, B), 0); // a zap that forgot the flush
  const v = violation(() => checkTlbSynced(h.cpus[0], 0, B, B + 16, 'test'));
  assert.equal(v.invariant, 'tlb-stale');
  assert.equal(v.details.tlbCpu, 1);
  // flushed, the contract holds again
  run(h, 0, flush_tlb_range(h.cpus[0], 0, B, B + 1));
  checkTlbSynced(h.cpus[0], 0, B, B + 16, 'test');
});

test('tlb-stale: a writable TLB entry for a PTE made read-only; another page in the TLB; entries held under another CPU\'s PTL or a pending flush are not judged', () => {
  const h = written();
  const m = h.machine.m;
  const ptep = h.machine.ptep(0, B);
  Atomics.and(m, ptep, ~PTE_WRITE);
  assert.equal(violation(() => checkTlbSynced(h.cpus[0], 0, B, B + 1, 'test')).details.why, 'the TLB entry is writable, the PTE is not');
  const pfn = pte_pfn(Atomics.load(m, ptep));
  Atomics.store(m, ptep, pfn_pte(pfn + 1, PTE_WRITE | PTE_DIRTY));
  assert.equal(violation(() => checkTlbSynced(h.cpus[0], 0, B, B + 1, 'test')).details.why, 'the TLB maps a page the PTE no longer maps');
  // another CPU mid-update under the table's PTL: its flush comes before its unlock
  const off = h.machine.ptlOf(h.machine.tableIndex(0, B));
  run(h, 1, spin_lock(h.cpus[1], off));
  checkTlbSynced(h.cpus[0], 0, B, B + 1, 'test');
  // a zap of this mm whose gather has not flushed yet (mm_tlb_flush_pending)
  Atomics.store(m, ptep, 0);
  Atomics.add(m, h.machine.mmWord(0, MM.TLB_FLUSH_PENDING), 1);
  checkTlbSynced(h.cpus[0], 0, B, B + 1, 'test');
});

test('tlb-stale: a writable, dirty TLB entry over a clean PTE (MADV_FREE without its flush): a store through it would set no dirty bit; a clean TLB entry is fine; under contpte the block\'s dirty bits count', () => {
  const h = written(); // CPU 1's TLB: B writable and dirty
  const m = h.machine.m;
  const ptep = h.machine.ptep(0, B);
  Atomics.and(m, ptep, ~PTE_DIRTY);
  const v = violation(() => checkTlbSynced(h.cpus[0], 0, B, B + 1, 'test'));
  assert.equal(v.details.why, 'the TLB entry is writable and dirty, the PTE is clean: a store through it would not set the dirty bit again');
  // a clean writable TLB entry: a store misses on it and walks, setting the bit
  tlb_fill(h.cpus[1], 0, B, Atomics.load(m, ptep));
  checkTlbSynced(h.cpus[0], 0, B, B + 1, 'test');
  // contpte: the dirty bit may be on any entry of the block (ptep_get ORs them)
  const c = boot({ cpus: 2, arch: 'contpte', anonOrders: [0, 4] });
  mapAnon(c, B, 16, { align: 16 });
  for (let i = 0; i < 16; i++) writePage(c, 1, 0, B + i);
  for (let i = 0; i < 16; i++) Atomics.and(c.machine.m, c.machine.ptep(0, B + i), ~PTE_DIRTY);
  Atomics.or(c.machine.m, c.machine.ptep(0, B + 9), PTE_DIRTY);
  checkTlbSynced(c.cpus[0], 0, B, B + 16, 'test');
  Atomics.and(c.machine.m, c.machine.ptep(0, B + 9), ~PTE_DIRTY);
  assert.equal(violation(() => checkTlbSynced(c.cpus[0], 0, B, B + 16, 'test')).invariant, 'tlb-stale');
});

contractTest('clear-young-dirty-outside-range: a batched young/dirty clear that writes an entry outside its range (or, under contpte, outside the blocks of its ends); the PTL hold\'s record is kept whole', () => {
  for (const arch of ['generic', 'contpte'] as const) {
    const h = boot({ cpus: 2, arch, anonOrders: [0, 4] });
    mapAnon(h, B, 32, { align: 16 });
    for (let i = 0; i < 32; i++) writePage(h, 0, 0, B + i);
    const cpu = h.cpus[0];
    const w = (vpn: number) => h.machine.ptep(0, vpn);
    cpu.notePteWrite(w(B + 30), 1); // written earlier under the same PTL hold
    pteBatchBegin(cpu);
    cpu.notePteWrite(w(B), 16);
    pteBatchEnd(cpu, 'test', w(B), 16);
    assert.equal(cpu.pteLo, w(B));
    assert.equal(cpu.pteHi, w(B + 30), 'merged back for the PTL release');
    // one entry asked for, the whole block written: allowed only for a cont entry
    pteBatchBegin(cpu);
    cpu.notePteWrite(w(B + 16), 16);
    if (arch === 'contpte') pteBatchEnd(cpu, 'test', w(B + 20), 1);
    else assert.equal(violation(() => pteBatchEnd(cpu, 'test', w(B + 20), 1)).invariant, 'clear-young-dirty-outside-range');
    // past the end: caught on both
    pteBatchBegin(cpu);
    cpu.notePteWrite(w(B), 17);
    const v = violation(() => pteBatchEnd(cpu, 'test', w(B), 16));
    assert.equal(`${v.invariant}@${v.path}`, 'clear-young-dirty-outside-range@test');
    assert.deepEqual(v.details.wrote, ['0x400000', '0x411000']);
  }
});

test('tlb-stale is asserted where the kernel relies on the flush: munmap, MADV_DONTNEED, mprotect return clean; writeback-no-flush is caught at page_vma_mkclean_one', () => {
  const h = written();
  assert.equal(run(h, 0, madvise_dontneed(h.cpus[0], 0, B, B + 16)), 0);
  writePage(h, 1, 0, B + 2);
  assert.equal(run(h, 0, do_munmap(h.cpus[0], 0, B, B + 16)), 0);
  // a write-notify shared file page written through CPU 1's TLB, then written back without the flush
  for (const inject of [[], ['writeback-no-flush']]) {
    const f = boot({ cpus: 2, inject, files: { count: 2, pages: 64, orders: [0], writenotify: 'on' } });
    mapFile(f, B, 16, { file: 1, writenotify: true });
    writePage(f, 1, 0, B + 3);
    if (!inject.length) run(f, 0, write_cache_pages(f.cpus[0], 1));
    else {
      const v = violation(() => run(f, 0, write_cache_pages(f.cpus[0], 1)));
      assert.equal(`${v.invariant}@${v.path}`, 'tlb-stale@page_vma_mkclean_one');
    }
  }
});

// ---- nested gathers: the kernel's answer to a flush another zap still owes -------------------

test('tlb_finish_mmu flushes the whole mm when another gather of it is in flight (mm_tlb_flush_nested), and the pending count returns to 0', () => {
  const h = written();
  const w = h.machine.mmWord(0, MM.TLB_FLUSH_PENDING);
  run(h, 0, madvise_dontneed(h.cpus[0], 0, B + 8, B + 16));
  assert.equal(h.cpus[0].counters[EV.TLB_FLUSH_MM], 0);
  assert.equal(Atomics.load(h.machine.m, w), 0);
  Atomics.add(h.machine.m, w, 1); // another MADV_DONTNEED between its zap and its flush
  run(h, 0, madvise_dontneed(h.cpus[0], 0, B + 8, B + 16));
  assert.equal(h.cpus[0].counters[EV.TLB_FLUSH_MM], 1);
  assert.equal(Atomics.load(h.machine.m, w), 1);
});

// ---- per-table invariants at every PTL release ------------------------------------------------

contractTest('writable-not-exclusive: at the PTL release, a writable anon entry on a page that is not AnonExclusive', () => {
  const h = written();
  lockCycle(h, 0, 0, B);
  const pfn = folioAt(h, 0, B)!.pfn;
  Atomics.and(h.machine.m, h.machine.L.pFlags + pfn, ~PG_ANON_EXCLUSIVE);
  const v = violation(() => lockCycle(h, 0, 0, B));
  assert.equal(`${v.invariant}@${v.path}`, 'writable-not-exclusive@ptl-release');
});

contractTest('exclusive-page-shared: at the PTL release, an AnonExclusive page with another mapping', () => {
  const h = written();
  const pfn = folioAt(h, 0, B)!.pfn;
  Atomics.add(h.machine.m, h.machine.L.pMapcount + pfn, 1);
  assert.equal(violation(() => lockCycle(h, 0, 0, B)).invariant, 'exclusive-page-shared');
});

contractTest('pte-maps-free-page: at the PTL release, an entry mapping a page in the buddy allocator', () => {
  const h = written();
  Atomics.or(h.machine.m, h.machine.L.pFlags + folioAt(h, 0, B)!.pfn, PG_BUDDY);
  assert.equal(violation(() => lockCycle(h, 0, 0, B)).invariant, 'pte-maps-free-page');
});

contractTest('mapcount-below-ptes: at the PTL release, a mapped page whose mapcount says unmapped', () => {
  const h = written();
  Atomics.store(h.machine.m, h.machine.L.pMapcount + folioAt(h, 0, B)!.pfn, 0);
  assert.equal(violation(() => lockCycle(h, 0, 0, B)).invariant, 'mapcount-below-ptes');
});

contractTest('pte-bad-pfn: at the PTL release, an entry beyond physical memory', () => {
  const h = written();
  Atomics.store(h.machine.m, h.machine.ptep(0, B + 5), pfn_pte(h.machine.L.pages + 3, 0));
  assert.equal(violation(() => lockCycle(h, 0, 0, B)).invariant, 'pte-bad-pfn');
});

contractTest('special-not-zero-page: at the PTL release, a special entry that is not the zero page', () => {
  const h = written();
  Atomics.store(h.machine.m, h.machine.ptep(0, B + 5), pte_mkspecial(pfn_pte(ZERO_PFN + 7, 0)));
  assert.equal(violation(() => lockCycle(h, 0, 0, B)).invariant, 'special-not-zero-page');
});

contractTest('zero-page-writable: at the PTL release, a writable zero-page entry', () => {
  const h = written();
  Atomics.store(h.machine.m, h.machine.ptep(0, B + 5), pte_mkspecial(pfn_pte(ZERO_PFN, PTE_WRITE)));
  assert.equal(violation(() => lockCycle(h, 0, 0, B)).invariant, 'zero-page-writable');
});

contractTest('writable-clean-writenotify: at the PTL release, a writable entry of a write-notify file on a clean folio (the filesystem was not told)', () => {
  const h = boot({ cpus: 2, files: { count: 2, pages: 64, orders: [0], writenotify: 'on' } });
  mapFile(h, B, 16, { file: 1, writenotify: true });
  writePage(h, 1, 0, B + 3);
  lockCycle(h, 0, 0, B); // the write fault dirtied the folio
  Atomics.and(h.machine.m, h.machine.L.fFlags + folioAt(h, 0, B + 3)!.folio, ~FOLIO_DIRTY);
  assert.equal(violation(() => lockCycle(h, 0, 0, B)).invariant, 'writable-clean-writenotify');
});

contractTest('anon-data-clean: at the PTL release, an anon page holding data mapped clean in a clean folio that the mm never MADV_FREEd (finding 1: a sharer\'s MADV_FREE would let reclaim drop it)', () => {
  /** A written page whose entry then loses its dirty bit, nothing else recording it; then fix(h). */
  const cleaned = (fix: (h: Harness, folio: number, pfn: number) => void): Harness => {
    const h = written();
    lockCycle(h, 0, 0, B); // written through a dirty entry: fine
    Atomics.and(h.machine.m, h.machine.ptep(0, B), ~PTE_DIRTY);
    const { folio, pfn } = folioAt(h, 0, B)!;
    fix(h, folio, pfn);
    return h;
  };
  const h = cleaned(() => {});
  assert.equal(violation(() => lockCycle(h, 0, 0, B)).invariant, 'anon-data-clean');
  // a dirty folio records it (madvise_free_pte_range then looks for other mappings): fine
  lockCycle(cleaned((g, folio) => Atomics.or(g.machine.m, g.machine.L.fFlags + folio, FOLIO_DIRTY)), 0, 0, B);
  // the mm declared the page disposable (MADV_FREE cleans its entries): fine
  lockCycle(cleaned((g) => freeBegin(g.machine, 0, B, B + 1)), 0, 0, B);
  // a page that holds nothing has nothing to lose
  lockCycle(cleaned((g, _f, pfn) => Atomics.store(g.machine.m, g.machine.L.pContent + pfn, 0)), 0, 0, B);
});

contractTest('pte-outside-vma: at the PTL release, an entry written where no VMA maps (a fault or a move that ignored the VMA)', () => {
  const h = written();
  lockCycle(h, 0, 0, B);
  const pte = pteAt(h, 0, B);
  Atomics.store(h.machine.m, h.machine.ptep(0, B + 100), pte); // beyond the 16-page VMA
  Atomics.add(h.machine.m, h.machine.L.pMapcount + pte_pfn(pte), 1);
  assert.equal(violation(() => lockCycle(h, 0, 0, B + 100)).invariant, 'pte-outside-vma');
  // while another CPU holds the mmap_lock for write (munmap detaches a VMA before its zap), the VMA checks wait
  const g = written();
  const ro = pteAt(g, 0, B) & ~PTE_WRITE; // the page shared read-only by the two entries
  Atomics.store(g.machine.m, g.machine.ptep(0, B), ro);
  Atomics.store(g.machine.m, g.machine.ptep(0, B + 100), ro);
  Atomics.and(g.machine.m, g.machine.L.pFlags + pte_pfn(ro), ~PG_ANON_EXCLUSIVE);
  Atomics.add(g.machine.m, g.machine.L.pMapcount + pte_pfn(ro), 1);
  run(g, 1, down_write(g.cpus[1], g.machine.mmWord(0, MM.MMAP_LOCK)));
  lockCycle(g, 0, 0, B + 100);
});

contractTest('pte-writable-vma-readonly: at the PTL release, a writable entry written in a read-only VMA (what mprotect promises, at the entry)', () => {
  const h = written();
  vma_modify_flags(h.machine, 0, B, B + 16, 0, VM_WRITE);
  assert.equal(violation(() => lockCycle(h, 0, 0, B)).invariant, 'pte-writable-vma-readonly');
  // mprotect's own transient: the CPU that holds the mmap_lock for write, inside its mmu_gather,
  // has changed the VMA and not yet reached this entry (a contpte unfold at the edge of the range
  // before rewrote it unchanged: threads seed 493 of the nightly). Not a finding there, but the
  // same entry is one once the gather is over.
  const g = written();
  vma_modify_flags(g.machine, 0, B, B + 16, 0, VM_WRITE);
  run(g, 0, down_write(g.cpus[0], g.machine.mmWord(0, MM.MMAP_LOCK)));
  tlb_gather_mmu(g.cpus[0], 0); // inc_tlb_flush_pending()
  lockCycle(g, 0, 0, B);
  Atomics.sub(g.machine.m, g.machine.mmWord(0, MM.TLB_FLUSH_PENDING), 1); // the gather's end (dec_tlb_flush_pending)
  assert.equal(violation(() => lockCycle(g, 0, 0, B)).invariant, 'pte-writable-vma-readonly');
});

contractTest('tlb-maps-freed-page: a folio freed while a CPU\'s TLB still maps it (deviation zap-free-before-flush)', () => {
  for (const inject of [[], ['zap-free-before-flush']]) {
    const h = boot({ cpus: 2, inject });
    mapAnon(h, B, 16);
    writePage(h, 1, 0, B); // CPU 1's TLB maps the page
    const zap = () => run(h, 0, madvise_dontneed(h.cpus[0], 0, B, B + 16));
    if (!inject.length) zap();
    else {
      const v = violation(zap);
      assert.equal(`${v.invariant}@${v.path}`, 'tlb-maps-freed-page@free_folio');
      assert.equal(v.details.tlbCpu, 1);
    }
  }
});

// ---- COW reuse ---------------------------------------------------------------------------------

contractTest('cow-reuse-shared: do_wp_page reusing a page the child of a fork still maps (deviation cow-reuse-shared)', () => {
  for (const inject of [[], ['cow-reuse-shared']]) {
    const h = boot({ cpus: 2, inject });
    mapAnon(h, B, 16);
    writePage(h, 0, 0, B);
    const child = run(h, 0, dup_mm(h.cpus[0], 0));
    assert.ok(child > 0);
    const out = newAccessOut();
    const store = () => run(h, 0, user_access(h.cpus[0], 0, B, true, token(0, B), out));
    if (!inject.length) store(); // the page is copied
    else {
      const v = violation(store);
      assert.equal(`${v.invariant}@${v.path}`, 'cow-reuse-shared@do_wp_page');
      assert.equal(v.details.why, 'the page has other mappings');
    }
  }
});

contractTest('cow-reuse-shared: another mm\'s TLB entry counts for an AnonExclusive page only when it reaches that page (a zap in flight elsewhere in the folio is not a reason)', () => {
  const h = boot({ cpus: 2, anonOrders: [0, 4] });
  mapAnon(h, B, 16, { align: 16 });
  for (let v = B; v < B + 16; v++) writePage(h, 0, 0, v);
  const { pfn, folio } = folioAt(h, 0, B + 5)!;
  assert.equal(folioAt(h, 0, B)!.order, 4);
  const pte = pteAt(h, 0, B + 3);
  // another mm (1), on CPU 1, still reaches page 3 of the folio through its TLB (its zap in flight)
  tlb_fill(h.cpus[1], 1, B + 3, pte);
  checkCowReuse(h.cpus[0], 0, B + 5, pfn, folio, true); // page 5 is AnonExclusive: clean
  // the same entry reaching the reused page itself is caught
  tlb_fill(h.cpus[1], 1, B + 5, pteAt(h, 0, B + 5));
  const v = violation(() => checkCowReuse(h.cpus[0], 0, B + 5, pfn, folio, true));
  assert.equal(`${v.invariant}@${v.path}`, 'cow-reuse-shared@do_wp_page');
  assert.match(String(v.details.why), /CPU 1's TLB reaches the folio for mm 1/);
  // a page that is not exclusive: any page of the folio counts
  const g = boot({ cpus: 2, anonOrders: [0, 4] });
  mapAnon(g, B, 16, { align: 16 });
  for (let v2 = B; v2 < B + 16; v2++) writePage(g, 0, 0, v2);
  const f = folioAt(g, 0, B + 5)!;
  tlb_fill(g.cpus[1], 1, B + 3, pteAt(g, 0, B + 3));
  assert.match(String(violation(() => checkCowReuse(g.cpus[0], 0, B + 5, f.pfn, f.folio, false)).details.why), /TLB reaches the folio/);
});

// ---- write notification: a cleaned folio is not writable through any TLB ---------------------

contractTest('tlb-writable-after-clean: a writable TLB entry to a write-notify folio writeback has just cleaned', () => {
  const h = boot({ cpus: 2, files: { count: 2, pages: 64, orders: [0], writenotify: 'on' } });
  mapFile(h, B, 16, { file: 1, writenotify: true });
  writePage(h, 1, 0, B + 3);
  const { folio } = folioAt(h, 0, B + 3)!;
  Atomics.and(h.machine.m, h.machine.L.fFlags + folio, ~FOLIO_DIRTY); // cleaned, but CPU 1's TLB entry is still writable
  const v = violation(() => checkFolioCleaned(h.cpus[0], folio));
  assert.equal(v.invariant, 'tlb-writable-after-clean');
  // a full writeback run cleans and flushes: clean
  const g = boot({ cpus: 2, files: { count: 2, pages: 64, orders: [0], writenotify: 'on' } });
  mapFile(g, B, 16, { file: 1, writenotify: true });
  writePage(g, 1, 0, B + 3);
  run(g, 0, write_cache_pages(g.cpus[0], 1));
  assert.equal(pte_write(pteAt(g, 0, B + 3)), false);
});

test('folio_lock: a write-notify write fault waits while writeback holds the folio between its clean and its copy', () => {
  const h = boot({ cpus: 2, files: { count: 2, pages: 64, orders: [0], writenotify: 'on' } });
  mapFile(h, B, 16, { file: 1, writenotify: true });
  writePage(h, 1, 0, B + 3);
  run(h, 0, write_cache_pages(h.cpus[0], 1)); // clean, read-only
  const { folio } = folioAt(h, 0, B + 3)!;
  const wb = stepper(h, 0, write_cache_pages(h.cpus[0], 1));
  wb.until(() => (Atomics.load(h.machine.m, h.machine.L.fFlags + folio) & (1 << 6)) !== 0, 'writeback holds the folio lock');
  const out = newAccessOut();
  const st = stepper(h, 1, user_access(h.cpus[1], 0, B + 3, true, token(0, B + 3), out));
  st.until(() => !st.runnable(), 'the write fault blocks on the folio lock');
  assert.equal(h.cpus[1].waitWhat, 'folio_lock');
  wb.finish();
  st.finish();
  assert.ok(Atomics.load(h.machine.m, h.machine.L.fFlags + folio) & FOLIO_DIRTY, 'dirtied after the writeback');
  assert.ok(pte_write(pteAt(h, 0, B + 3)));
});

// ---- user-visible semantics -----------------------------------------------------------------

contractTest('store-not-allowed: a store through a TLB entry after the VMA became read-only (no flush)', () => {
  const h = written();
  vma_modify_flags(h.machine, 0, B, B + 16, 0, VM_WRITE); // mprotect's VMA change, without its PTE change and flush
  const out = newAccessOut();
  const v = violation(() => run(h, 1, user_access(h.cpus[1], 0, B, true, token(0, B), out)));
  assert.equal(`${v.invariant}@${v.path}`, 'store-not-allowed@user store');
  // while the mmap_lock is held for write (an mprotect in flight) the same store is allowed
  const g = written();
  vma_modify_flags(g.machine, 0, B, B + 16, 0, VM_WRITE);
  run(g, 0, down_write(g.cpus[0], g.machine.mmWord(0, MM.MMAP_LOCK)));
  run(g, 1, user_access(g.cpus[1], 0, B, true, token(0, B), newAccessOut()));
  up_write(g.cpus[0], g.machine.mmWord(0, MM.MMAP_LOCK));
});

test('store-not-allowed: a probe (run-op after mprotect(PROT_READ) returned) is checked through a walk too; an ordinary access through a walk is left to the per-table contract', () => {
  const h = written();
  vma_modify_flags(h.machine, 0, B, B + 16, 0, VM_WRITE); // the VMA read-only, the entry still writable
  run(h, 0, flush_tlb_range(h.cpus[0], 0, B, B + 16)); // no TLB entry: the access walks
  const probe = { ...newAccessOut(), probe: true };
  const v = violation(() => run(h, 1, user_access(h.cpus[1], 0, B, true, token(0, B), probe)));
  assert.equal(`${v.invariant}@${v.path}`, 'store-not-allowed@user store');
  assert.ok('pte' in v.details, 'the walk, not the TLB, let it through');
});

contractTest('store-through-readonly-entry: the entry a store goes through must be writable and dirty (the MMU\'s own contract)', () => {
  const h = written();
  const pte = pteAt(h, 0, B); // the entry CPU 1's store went through
  assert.equal(storeEntryProblem(pte), null);
  assert.equal(storeEntryProblem(pte & ~PTE_WRITE), 'a store through a read-only entry');
  assert.equal(storeEntryProblem(pte & ~PTE_DIRTY), 'a store through a clean entry (no dirty bit set first)');
  // a healthy MMU never hands a store such an entry: a read-only TLB entry makes it walk and refill
  tlb_fill(h.cpus[1], 0, B, pte & ~PTE_WRITE);
  run(h, 1, user_access(h.cpus[1], 0, B, true, token(0, B), newAccessOut()));
});

contractTest('access-not-mapped: a load through a TLB entry where no VMA maps any more', () => {
  const h = boot({ cpus: 2 });
  mapAnon(h, B, 16);
  writePage(h, 1, 0, B);
  // the TLB keeps an entry for an address munmap removed (the VMA gone, no flush)
  const pte = pteAt(h, 0, B);
  vma_modify_flags(h.machine, 0, B, B + 16, 0, 0);
  const slot = [...Array(h.machine.L.maxVmas).keys()].find((s) => Atomics.load(h.machine.m, h.machine.vmaBase(0, s) + 2) !== 0)!;
  Atomics.store(h.machine.m, h.machine.vmaBase(0, slot) + 2, 0);
  tlb_fill(h.cpus[1], 0, B, pte);
  const v = violation(() => run(h, 1, user_access(h.cpus[1], 0, B, false, 0, newAccessOut())));
  assert.equal(`${v.invariant}@${v.path}`, 'access-not-mapped@user load');
});

// ---- data at every writeback ------------------------------------------------------------------

contractTest('writeback-lost-write: a store that completed before a writeback is not on the disk after it', () => {
  const h = boot({ cpus: 2, files: { count: 2, pages: 64, orders: [0], writenotify: 'off' } });
  mapFile(h, B, 16, { file: 0 });
  writePage(h, 1, 0, B + 2);
  run(h, 0, write_cache_pages(h.cpus[0], 0)); // on the disk: clean
  writePage(h, 1, 0, B + 2);
  // the record of that store lost: a clean read-only PTE (as if a PTE change dropped its dirty bit), no TLB entry, a clean folio
  const ptep = h.machine.ptep(0, B + 2);
  Atomics.and(h.machine.m, ptep, ~(PTE_DIRTY | PTE_WRITE));
  run(h, 0, flush_tlb_range(h.cpus[0], 0, B + 2, B + 3));
  Atomics.and(h.machine.m, h.machine.L.fFlags + folioAt(h, 0, B + 2)!.folio, ~FOLIO_DIRTY);
  const v = violation(() => run(h, 0, write_cache_pages(h.cpus[0], 0)));
  assert.equal(`${v.invariant}@${v.path}`, 'writeback-lost-write@write_cache_pages');
  assert.throws(() => writebackEnd(h.cpus[1], 0), /without writebackBegin/);
  writebackBegin(h.cpus[1], 1);
  writebackEnd(h.cpus[1], 1);
});

// ---- VM_FAULT_OOM only after a failed allocation ---------------------------------------------------

contractTest('oom-without-allocation-failure: a fault that returns VM_FAULT_OOM without an allocation of its own failing', () => {
  // every free page taken: the write fault's allocations fail, and OOM is the right answer
  const h = boot({ cpus: 2, memoryPages: 1024 });
  mapAnon(h, B, 16);
  while (run(h, 1, alloc_folio(h.cpus[1], 0)) >= 0);
  const out = newAccessOut();
  const before = allocFailures(h.machine, 0);
  run(h, 0, user_access(h.cpus[0], 0, B, true, token(0, B), out));
  assert.equal(out.status, ACCESS_OOM);
  assert.ok(allocFailures(h.machine, 0) > before, 'the failure was counted');
  // the bad state: the same OOM, but no allocation of this fault failed (take the count back as
  // the fault gives up, as a path that returns OOM without trying would leave it)
  const w = h.machine.cpuWord(0, CPU.ALLOC_FAILS);
  let atFault = -1;
  h.cpus[0].evHook = (_cpu, code) => {
    if (code === EV.FAULT) atFault = Atomics.load(h.machine.m, w);
    if (code === EV.ALLOC_OOM) Atomics.store(h.machine.m, w, atFault);
  };
  const v = violation(() => run(h, 0, user_access(h.cpus[0], 0, B + 1, true, token(0, B + 1), newAccessOut())));
  assert.equal(`${v.invariant}@${v.path}`, 'oom-without-allocation-failure@handle_mm_fault');
});

// ---- order-0 allocations fail only when memory is exhausted -------------------------------------

contractTest('order0-alloc-failed: an order-0 allocation that fails while a free block exists', () => {
  const h = boot({ cpus: 2, memoryPages: 1024, allocFailRate: 1 });
  const cpu = h.cpus[0];
  // the knob fails every order > 0 request, with memory free: allowed
  assert.equal(run(h, 0, alloc_folio(cpu, 2)), -1);
  assert.ok(allocFailures(h.machine, 0) > 0);
  // order 0 is never failed by the knob: it takes a page
  assert.ok(run(h, 0, alloc_folio(cpu, 0)) > 0);
  // the bad state: an order-0 failure reported while free blocks remain
  const v = violation(() => checkAllocFailed(cpu, 0));
  assert.equal(`${v.invariant}@${v.path}`, 'order0-alloc-failed@alloc_folio');
  // every free page taken: an order-0 failure is the right answer (the hook ran, found nothing)
  while (run(h, 1, alloc_folio(h.cpus[1], 0)) >= 0);
  checkAllocFailed(cpu, 0);
  assert.equal(run(h, 0, alloc_folio(cpu, 0)), -1);
});

test('every contract name in src/check/contracts.ts has a test here', () => {
  const text = readFileSync(new URL('../../../src/check/contracts.ts', import.meta.url), 'utf8');
  const names = new Set<string>();
  for (const m of text.matchAll(/'([a-z0-9]+(?:-[a-z0-9]+)+)'/g)) if (m[1] !== 'ptl-release' && m[1] !== 'user-store' && m[1] !== 'user-load') names.add(m[1]);
  assert.ok(names.size >= 14, `found ${names.size} names: ${[...names].join(' ')}`);
  assert.deepEqual([...names].filter((n) => !TESTED.has(n)).sort(), []);
});
