// The interleaving points of the audit (docs/model.md, "Interleaving points (audit)"): at each one a
// kernel path has made the first of two shared updates and not the second, with no lock between
// them that keeps out the party named. Each test stops the path there with a Stepper, checks what
// that party sees, and where it can act, lets it act in the window and then finishes the path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { drive, P } from '../../../src/machine/gen.js';
import { alloc_folio } from '../../../src/linux/mm/page_alloc.js';
import { EV } from '../../../src/machine/events.js';
import { FOLIO_DIRTY, PG_ANON_EXCLUSIVE } from '../../../src/machine/machine.js';
import { pte_dirty, pte_pfn, pte_present, pte_write } from '../../../src/machine/pte.js';
import { checkQuiescent } from '../../../src/check/invariants.js';
import { handle_mm_fault, VM_FAULT_OK } from '../../../src/linux/mm/memory.js';
import { do_munmap } from '../../../src/linux/mm/mmap.js';
import { madvise_dontneed } from '../../../src/linux/mm/madvise.js';
import { gup_fast, pin_user_page, unpin_user_page } from '../../../src/linux/mm/gup.js';
import { write_cache_pages } from '../../../src/linux/mm/page-writeback.js';
import { dup_mm, process_exit } from '../../../src/linux/kernel/fork.js';
import { folio_maybe_dma_pinned } from '../../../src/linux/include/linux/mm.js';
import { checkDisk, ownerOf } from '../../../src/check/oracle.js';
import { bigFolio, boot, folioAt, type Harness, mapAnon, mapFile, pteAt, readPage, run, stepper, total, writePage, folioFlags, folioMapcount, folioRef, folioOrder, isFree } from '../../helpers/machine.js';

const B = 1024;
const FILES = { count: 2, pages: 64, orders: [0, 2, 4] };

const clean = (h: Harness): void => {
  assert.deepEqual(h.observed, [], 'the observer saw refcount >= mapcount throughout');
  assert.deepEqual(checkQuiescent(h.machine), []);
};
const folioDirty = (h: Harness, folio: number): boolean => (folioFlags(h.machine, folio) & FOLIO_DIRTY) !== 0;
const pins = (h: Harness, folio: number): number => Atomics.load(h.machine.m, h.machine.L.fPin + folio);

test('do_wp_page reuse: GUP-fast pins a page made AnonExclusive behind its still read-only entry', () => {
  const h = boot({ cpus: 2, anonOrders: [0] });
  mapAnon(h, B, 4);
  writePage(h, ownerOf(h.machine, B), 0, B);
  // a fork and the child's exit leave the page read-only, not AnonExclusive, and ours alone
  const child = run(h, 0, dup_mm(h.cpus[0], 0));
  run(h, 0, process_exit(h.cpus[0], child));
  const pfn = pte_pfn(pteAt(h, 0, B));
  assert.ok(!pte_write(pteAt(h, 0, B)) && !(h.machine.pageFlags(pfn) & PG_ANON_EXCLUSIVE));
  const s0 = stepper(h, 0, handle_mm_fault(h.cpus[0], 0, B, true));
  s0.until(() => (h.machine.pageFlags(pfn) & PG_ANON_EXCLUSIVE) !== 0, 'SetPageAnonExclusive');
  assert.equal(s0.last, P.RMAP);
  assert.ok(!pte_write(pteAt(h, 0, B)), 'the entry is still read-only');
  // a read-only GUP-fast pin needs no unshare fault now, and goes through the read-only entry
  assert.equal(run(h, 1, gup_fast(h.cpus[1], 0, B, false)), pfn);
  assert.equal(s0.finish(), VM_FAULT_OK);
  assert.equal(total(h, EV.WP_REUSE), 1);
  assert.ok(pte_write(pteAt(h, 0, B)));
  run(h, 1, unpin_user_page(h.cpus[1], pfn));
  clean(h);
});

test('wp_page_copy: the new entry is in place while the old folio still counts the mapping', () => {
  const h = boot({ cpus: 2, anonOrders: [0] });
  mapAnon(h, B, 4);
  writePage(h, ownerOf(h.machine, B), 0, B);
  const child = run(h, 0, dup_mm(h.cpus[0], 0));
  const old = pte_pfn(pteAt(h, 0, B));
  assert.equal(folioMapcount(h.machine, old), 2);
  const s0 = stepper(h, 0, handle_mm_fault(h.cpus[0], 0, B, true));
  s0.until(() => pte_present(pteAt(h, 0, B)) && pte_pfn(pteAt(h, 0, B)) !== old, 'the new entry');
  assert.equal(s0.last, P.RMAP);
  assert.equal(folioMapcount(h.machine, old), 2, 'the old folio still counts this mapping');
  assert.equal(s0.finish(), VM_FAULT_OK);
  assert.equal(folioMapcount(h.machine, old), 1);
  assert.equal(total(h, EV.WP_COPY), 1);
  clean(h);
  run(h, 0, process_exit(h.cpus[0], child));
  clean(h);
});

test('do_wp_page on a shared mapping without write notification: writeback runs between the writable entry and folio_mark_dirty', () => {
  const h = boot({ cpus: 2, files: FILES });
  mapFile(h, B, 16);
  readPage(h, 0, 0, B); // maps the folio writable and clean
  run(h, 0, write_cache_pages(h.cpus[0], 0)); // write-protects it: the next store faults
  const f = folioAt(h, 0, B)!.folio;
  assert.ok(!pte_write(pteAt(h, 0, B)) && !folioDirty(h, f));
  const s0 = stepper(h, 0, handle_mm_fault(h.cpus[0], 0, B, true));
  s0.untilPoint(P.UNLOCK);
  assert.ok(pte_write(pteAt(h, 0, B)) && pte_dirty(pteAt(h, 0, B)));
  assert.ok(!folioDirty(h, f), 'the folio is not dirty yet');
  // writeback finds the dirty entry, cleans and write-protects it, and writes the folio
  run(h, 1, write_cache_pages(h.cpus[1], 0));
  assert.ok(!pte_write(pteAt(h, 0, B)) && !pte_dirty(pteAt(h, 0, B)));
  assert.equal(s0.finish(), VM_FAULT_OK);
  assert.ok(folioDirty(h, f), 'fault_dirty_shared_page');
  clean(h);
});

test('zap of a dirty file entry: between get_and_clear_full_ptes and folio_mark_dirty the dirty bit is the zap\'s alone', () => {
  const h = boot({ cpus: 2, files: FILES });
  mapFile(h, B, 16);
  readPage(h, 0, 0, B);
  writePage(h, ownerOf(h.machine, B + 3), 0, B + 3); // sets the PTE dirty bit only
  const f = folioAt(h, 0, B)!.folio;
  assert.ok(!folioDirty(h, f));
  const s0 = stepper(h, 0, do_munmap(h.cpus[0], 0, B, B + 16));
  s0.until(() => pteAt(h, 0, B + 3) === 0, 'the batch cleared');
  assert.equal(s0.last, P.CLEAR_PTE);
  // what writeback's folio_clear_dirty_for_io would test and clear here (it holds the folio lock, not this PTL)
  assert.ok(!folioDirty(h, f), 'PG_dirty not set yet');
  assert.equal(s0.finish(), 0);
  assert.ok(folioDirty(h, f));
  assert.equal(total(h, EV.ZAP_DIRTY), 1);
  clean(h);
});

test('GUP-fast: fork sees the references taken and the pin not yet counted, shares the folio, and the pin backs off', () => {
  const h = boot({ cpus: 2, anonOrders: [0, 4] });
  bigFolio(h, B);
  const f = folioAt(h, 0, B)!.folio;
  const s1 = stepper(h, 1, gup_fast(h.cpus[1], 0, B, true));
  s1.until(() => folioRef(h.machine, f) > folioMapcount(h.machine, f), 'the references taken');
  assert.equal(s1.last, P.RMAP);
  assert.equal(pins(h, f), 0);
  assert.ok(!folio_maybe_dma_pinned(h.machine, f), 'a large folio counts its pins exactly: not pinned yet');
  // so fork shares the folio with the child (no copy) and write-protects the parent's entries
  const child = run(h, 0, dup_mm(h.cpus[0], 0));
  assert.equal(total(h, EV.FORK_COPY_PAGE), 0);
  assert.ok(!(h.machine.pageFlags(f) & PG_ANON_EXCLUSIVE));
  // the pin sees the entry changed (and the fork) and lets go
  assert.equal(s1.finish(), -1);
  assert.equal(pins(h, f), 0);
  clean(h);
  run(h, 0, process_exit(h.cpus[0], child));
  clean(h);
});

test('unpin_user_page: the pin is no longer counted while its references are still held', () => {
  const h = boot({ cpus: 2, anonOrders: [0, 4] });
  bigFolio(h, B);
  const f = folioAt(h, 0, B)!.folio;
  const pfn = run(h, 1, pin_user_page(h.cpus[1], 0, B, true));
  assert.equal(pfn, f);
  assert.equal(pins(h, f), 1);
  const s1 = stepper(h, 1, unpin_user_page(h.cpus[1], pfn));
  s1.until(() => pins(h, f) === 0, 'the pin count dropped');
  assert.equal(s1.last, P.FREE);
  assert.equal(folioRef(h.machine, f), folioMapcount(h.machine, f) + 1, 'the pin\'s reference is still held');
  assert.ok(!folio_maybe_dma_pinned(h.machine, f));
  s1.finish();
  assert.equal(folioRef(h.machine, f), folioMapcount(h.machine, f));
  clean(h);
});

test('folio_clear_dirty_for_io: a zap runs between the rmap walk and PG_dirty, and the write still reaches the disk', () => {
  const h = boot({ cpus: 2, files: FILES });
  mapFile(h, B, 16);
  readPage(h, 0, 0, B);
  const w = writePage(h, ownerOf(h.machine, B + 5), 0, B + 5); // the PTE dirty bit is the only record of the store
  const f = folioAt(h, 0, B)!.folio;
  const s1 = stepper(h, 1, write_cache_pages(h.cpus[1], 0));
  s1.until(() => !pte_dirty(pteAt(h, 0, B + 5)) && s1.last === P.RMAP, 'the rmap walk done');
  assert.ok(!pte_write(pteAt(h, 0, B + 5)), 'cleaned and write-protected');
  assert.ok(!folioDirty(h, f), 'the dirtiness the walk collected is not on the folio yet');
  // the zap takes only the PTL: it runs to the end here, and finds nothing dirty to move to the folio
  assert.equal(run(h, 0, madvise_dontneed(h.cpus[0], 0, B, B + 16)), 0);
  assert.equal(pteAt(h, 0, B + 5), 0);
  assert.equal(total(h, EV.ZAP_DIRTY), 0);
  s1.finish();
  assert.equal(Atomics.load(h.machine.m, h.machine.L.disk + h.machine.filePage(0, 5)), w.token, 'written back');
  assert.equal(checkDisk(h.machine), null);
  clean(h);
});

test('GUP-fast between its entry read and its grab: the folio freed and its pages reused as other folios; try_get_folio rechecks the page\'s folio and pins the right one', () => {
  const h = boot({ cpus: 2, anonOrders: [0, 2] });
  mapAnon(h, B, 4, { align: 4 });
  for (let v = B; v < B + 4; v++) writePage(h, ownerOf(h.machine, v), 0, v);
  const X = pte_pfn(pteAt(h, 0, B));
  assert.equal(folioOrder(h.machine, X), 2);
  const s1 = stepper(h, 1, gup_fast(h.cpus[1], 0, B + 1, true));
  s1.until(() => s1.last === P.PTE_READ && s1.steps >= 2, 'GUP-fast read the entry of X+1');
  assert.equal(run(h, 0, do_munmap(h.cpus[0], 0, B, B + 4)), 0);
  assert.ok(isFree(h.machine, X));
  const got: number[] = [];
  for (let i = 0; i < 64 && !(got.includes(X) && got.includes(X + 1)); i++) got.push(drive(alloc_folio(h.cpus[0], 0)));
  assert.ok(got.includes(X) && got.includes(X + 1), `X and X+1 reallocated as order-0 folios: ${got}`);
  const refX = folioRef(h.machine, X), refX1 = folioRef(h.machine, X + 1);
  assert.equal(s1.finish(), -1, 'the entry changed: GUP-fast gives up');
  assert.equal(folioRef(h.machine, X), refX, 'no reference left on the old head');
  assert.equal(folioRef(h.machine, X + 1), refX1, 'the page\'s own folio was pinned and unpinned');
  assert.deepEqual(h.observed, []);
});
