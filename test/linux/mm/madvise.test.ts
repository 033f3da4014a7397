// MADV_COLD and MADV_FREE at the end of the file (their batched young/dirty clearing, lazyfree).
// MADV_DONTFORK / MADV_DOFORK (src/mm/madvise.ts, split_vma and vma_modify_flags in src/mm/mmap.ts):
// VM_DONTFORK on a range, splitting VMAs at its edges (ENOMEM without a free slot, nothing changed;
// ENOMEM after changing the mapped parts for a range with holes). A split inside a large folio
// leaves it mapped by two VMAs: fork leaves the DONTFORK part out of the child, and every zap and
// fork batch stays inside its VMA (with the deviation batch-past-table it does not: batch-bounds).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Violation } from '../../../src/machine/cpu.js';
import { checkNoLeaks, checkQuiescent } from '../../../src/check/invariants.js';
import { checkRead, freeBegin, freeEnd, ownerOf, recordWrite, zapBegin, zapEnd } from '../../../src/check/oracle.js';
import { dup_mm, process_exit } from '../../../src/linux/kernel/fork.js';
import { madvise_cold, madvise_dontfork, madvise_dontneed, madvise_free, madvise_pageout_page_range } from '../../../src/linux/mm/madvise.js';
import { tlb_finish_mmu, tlb_gather_mmu } from '../../../src/linux/mm/mmu_gather.js';
import { folio_put } from '../../../src/linux/mm/swap.js';
import { down_read, up_read } from '../../../src/linux/kernel/locking/rwsem.js';
import { ptep_get } from '../../../src/linux/include/linux/pgtable.js';
import { flush_tlb_range, tlb_lookup } from '../../../src/machine/tlb.js';
import { MM } from '../../../src/machine/layout.js';
import { pte_cont, pte_dirty, pte_present, pte_write, pte_young } from '../../../src/machine/pte.js';
import { do_munmap, split_vma, vmas } from '../../../src/linux/mm/mmap.js';
import { ACCESS_OK, user_access } from '../../../src/workload/access.js';
import { CHECK_POINTS, EV, EV_NAMES } from '../../../src/machine/events.js';
import { FOLIO_DIRTY, FOLIO_LAZYFREE, FOLIO_LOCKED, FOLIO_REFERENCED, VM_DONTFORK } from '../../../src/machine/machine.js';
import {
  bigFolio, boot, folioAt, folioFlags, type Harness, invariants, mapAnon, mapFile, newAccessOut, pteAt, readPage, run, stepper, token, total, writePage, folioMapcount, folioRef, pageMapcount,
} from '../../helpers/machine.js';

const B = 1024;

const layout = (h: Harness, mm = 0) => vmas(h.machine, mm).map((v) => [v.start, v.end, (v.flags & VM_DONTFORK) !== 0]);
const dontfork = (h: Harness, start: number, end: number, on = true, mm = 0) => run(h, 0, madvise_dontfork(h.cpus[0], mm, start, end, on));

/** A load by cpu at (mm, vpn), checked by the oracle; returns the value. */
function load(h: Harness, cpu: number, mm: number, vpn: number): number {
  const out = newAccessOut();
  run(h, cpu, user_access(h.cpus[cpu], mm, vpn, false, 0, out));
  assert.equal(out.status, ACCESS_OK);
  checkRead(h.cpus[cpu], mm, vpn, out.value, out.g1, out.g2, out.pfn);
  return out.value;
}

test('MADV_DONTFORK splits the VMA at the range edges; MADV_DOFORK clears the flag and the VMA is whole again', () => {
  const h = boot({ anonOrders: [0, 4] });
  mapAnon(h, B, 64);
  assert.equal(dontfork(h, B + 16, B + 32), 0);
  assert.deepEqual(layout(h), [[B, B + 16, false], [B + 16, B + 32, true], [B + 32, B + 64, false]]);
  assert.equal(dontfork(h, B + 8, B + 40), 0, 'overlapping the first range');
  assert.deepEqual(layout(h), [[B, B + 8, false], [B + 8, B + 40, true], [B + 40, B + 64, false]], 'the changed parts merge');
  assert.equal(dontfork(h, B + 8, B + 40, false), 0);
  assert.deepEqual(layout(h), [[B, B + 64, false]]);
  assert.equal(dontfork(h, B + 8, B + 40, false), 0, 'MADV_DOFORK where the flag is clear: nothing to do');
  assert.deepEqual(layout(h), [[B, B + 64, false]], 'and no split');
  assert.equal(total(h, EV.DONTFORK), 2);
  assert.equal(total(h, EV.DOFORK), 2);
});

test('MADV_DONTFORK over a hole: ENOMEM after changing what is mapped (like the kernel)', () => {
  const h = boot({ anonOrders: [0, 4] });
  mapAnon(h, B, 16);
  mapAnon(h, B + 32, 16);
  assert.equal(dontfork(h, B + 8, B + 40), -1);
  assert.deepEqual(layout(h), [[B, B + 8, false], [B + 8, B + 16, true], [B + 32, B + 40, true], [B + 40, B + 48, false]]);
  assert.equal(dontfork(h, B + 100, B + 110), -1, 'nothing mapped at all');
});

test('MADV_DONTFORK: ENOMEM without a free VMA slot for a split, and nothing changed', () => {
  const h = boot({ anonOrders: [0, 4], maxVmas: 2 });
  mapAnon(h, B, 16);
  assert.equal(dontfork(h, B + 4, B + 8), -1, 'the middle needs two new slots, one is free');
  assert.deepEqual(layout(h), [[B, B + 16, false]]);
  assert.equal(dontfork(h, B, B + 8), 0, 'the head needs one');
  assert.deepEqual(layout(h), [[B, B + 8, true], [B + 8, B + 16, false]]);
  assert.equal(dontfork(h, B + 12, B + 16), -1, 'no slot left');
  assert.deepEqual(layout(h), [[B, B + 8, true], [B + 8, B + 16, false]]);
  assert.equal(dontfork(h, B + 8, B + 16), 0, 'a whole VMA needs no split (and merges with its neighbour)');
  assert.deepEqual(layout(h), [[B, B + 16, true]]);
  // split_vma itself
  const v = vmas(h.machine, 0)[0];
  assert.ok(split_vma(h.machine, 0, v, B + 4));
  assert.equal(split_vma(h.machine, 0, vmas(h.machine, 0)[0], B + 2), null, 'ENOMEM');
  assert.deepEqual(layout(h), [[B, B + 4, true], [B + 4, B + 16, true]]);
});

test('DONTFORK inside a large folio, then fork: the child lacks that range; the folio is mapped by two VMAs', () => {
  const h = boot({ anonOrders: [0, 4] });
  const tokens = bigFolio(h);
  const f = folioAt(h, 0, B)!;
  assert.equal(dontfork(h, B + 4, B + 16), 0);
  assert.deepEqual(layout(h), [[B, B + 4, false], [B + 4, B + 16, true]]);
  assert.deepEqual(checkQuiescent(h.machine), []);
  const child = run(h, 0, dup_mm(h.cpus[0], 0));
  assert.ok(child > 0);
  assert.deepEqual(layout(h, child), [[B, B + 4, false]]);
  for (let i = 0; i < 16; i++) {
    assert.equal(pageMapcount(h.machine, f.folio + i), i < 4 ? 2 : 1, `page ${i}`);
    if (i >= 4) assert.equal(pteAt(h, child, B + i), 0, 'the child has nothing there');
  }
  assert.equal(folioMapcount(h.machine, f.folio), 20);
  assert.equal(folioRef(h.machine, f.folio), 20);
  assert.deepEqual(checkQuiescent(h.machine), []);
  for (let i = 0; i < 4; i++) assert.equal(load(h, i % 2, child, B + i), tokens[i], 'the child reads the shared part');
  // COW still separates them; the DONTFORK part stays writable and exclusive in the parent
  const w = writePage(h, 0, 0, B);
  assert.equal(load(h, 1, child, B), tokens[0]);
  assert.equal(load(h, 0, 0, B), w.token);
  for (let i = 4; i < 16; i++) assert.equal(load(h, i % 2, 0, B + i), tokens[i]);
  assert.deepEqual(checkQuiescent(h.machine), []);
  run(h, 0, process_exit(h.cpus[0], child));
  run(h, 0, process_exit(h.cpus[0], 0));
  assert.deepEqual(checkNoLeaks(h.machine), []);
});

test('DONTFORK split inside a large folio: a zap of one VMA does not touch the other', () => {
  for (const which of ['first', 'second'] as const) {
    const h = boot({ anonOrders: [0, 4] });
    const tokens = bigFolio(h);
    const f = folioAt(h, 0, B)!;
    assert.equal(dontfork(h, B + 4, B + 16), 0);
    const [s, e] = which === 'first' ? [B, B + 4] : [B + 4, B + 16];
    zapBegin(h.machine, 0, s, e);
    assert.equal(run(h, 1, do_munmap(h.cpus[1], 0, s, e)), 0);
    zapEnd(h.machine, 0, s, e);
    assert.deepEqual(checkQuiescent(h.machine), []);
    for (let i = 0; i < 16; i++) {
      const inZap = B + i >= s && B + i < e;
      assert.equal(pageMapcount(h.machine, f.folio + i), inZap ? 0 : 1, `${which}: page ${i}`);
      if (!inZap) assert.equal(load(h, i % 2, 0, B + i), tokens[i]);
    }
    assert.equal(folioRef(h.machine, f.folio), which === 'first' ? 12 : 4);
  }
});

/**
 * batch-past-table (no cap at the PTE table or VMA end): after a DONTFORK split at B+4 inside an
 * order-4 folio, a zap of the first VMA, or a fork (which copies only the first VMA), batches the
 * whole folio and crosses into the other VMA: batch-bounds. Clean without the deviation.
 */
function splitThen(inject: string[], what: 'dontneed' | 'munmap' | 'fork'): string[] {
  const h = boot({ anonOrders: [0, 4], inject });
  bigFolio(h);
  assert.equal(dontfork(h, B + 4, B + 16), 0);
  try {
    if (what === 'fork') assert.ok(run(h, 0, dup_mm(h.cpus[0], 0)) > 0);
    else {
      zapBegin(h.machine, 0, B, B + 4);
      run(h, 1, what === 'munmap' ? do_munmap(h.cpus[1], 0, B, B + 4) : madvise_dontneed(h.cpus[1], 0, B, B + 4));
      zapEnd(h.machine, 0, B, B + 4);
    }
  } catch (e) {
    if (!(e instanceof Violation)) throw e;
    return invariants([{ invariant: e.invariant }, ...h.observed]);
  }
  return invariants([...checkQuiescent(h.machine), ...h.observed]);
}

for (const what of ['dontneed', 'munmap', 'fork'] as const) {
  test(`deviation batch-past-table: caught after a DONTFORK split inside a large folio (${what} of the first VMA); clean without it`, () => {
    assert.deepEqual(splitThen([], what), [], 'control: the kernel algorithm passes');
    assert.deepEqual(splitThen(['batch-past-table'], what), ['batch-bounds']);
  });
}

// ---- MADV_COLD and MADV_FREE -------------------------------------------------------------------

/** Every entry of [start, end) of mm 0: present, and whether dirty / young. */
function bits(h: Harness, start: number, end: number): { dirty: number; young: number; present: number } {
  let dirty = 0, young = 0, present = 0;
  for (let v = start; v < end; v++) {
    const pte = pteAt(h, 0, v);
    if (!pte_present(pte)) continue;
    present++;
    if (pte_dirty(pte)) dirty++;
    if (pte_young(pte)) young++;
  }
  return { dirty, young, present };
}

/** Does any CPU's TLB hold an entry for (mm 0, vpn)? */
const inTlb = (h: Harness, vpn: number): boolean => h.cpus.some((c) => tlb_lookup(c, 0, vpn) !== 0);
const lazyfree = (h: Harness, folio: number): boolean => (folioFlags(h.machine, folio) & FOLIO_LAZYFREE) !== 0;
/** MADV_FREE as the workload calls it: inside the data oracle's free window (the range declared disposable). */
const free = (h: Harness, start: number, end: number, cpu = 0, mm = 0): number => {
  freeBegin(h.machine, mm, start, end);
  const r = run(h, cpu, madvise_free(h.cpus[cpu], mm, start, end));
  freeEnd(h.machine, mm, start, end);
  return r;
};
const cold = (h: Harness, start: number, end: number, cpu = 0, mm = 0) => run(h, cpu, madvise_cold(h.cpus[cpu], mm, start, end));

for (const batching of [true, false]) {
  test(`MADV_FREE (${batching ? 'batched' : 'per-PTE form'}): a whole order-4 folio: every entry clean and old, the folio lazyfree, no TLB entry left; the next store dirties its entry again, the data is intact`, () => {
    const h = boot({ anonOrders: [0, 4], batching });
    const tokens = bigFolio(h);
    const f = folioAt(h, 0, B)!.folio;
    assert.deepEqual(bits(h, B, B + 16), { dirty: 16, young: 16, present: 16 });
    assert.ok([...Array(16).keys()].some((i) => inTlb(h, B + i)), 'the writers hold TLB entries');
    assert.equal(free(h, B, B + 16), 0);
    assert.deepEqual(bits(h, B, B + 16), { dirty: 0, young: 0, present: 16 }, 'clean and old, still mapped');
    assert.ok(pte_write(pteAt(h, 0, B + 3)), 'the write bit stays');
    assert.ok(lazyfree(h, f));
    for (let v = B; v < B + 16; v++) assert.ok(!inTlb(h, v), `no TLB entry left for ${v - B}`);
    assert.equal(total(h, EV.LAZYFREE), 1);
    assert.equal(total(h, EV.FREE_BATCHED), batching ? 1 : 0, 'the per-PTE form never batches');
    assert.equal(total(h, EV.CHECK + CHECK_POINTS.indexOf('pteBatch.clear_young_dirty_ptes')), batching ? 1 : 16, 'one clear_young_dirty_ptes per batch, or per entry');
    // a store walks (no TLB entry) and sets the dirty bit again; the data is what was written
    writePage(h, ownerOf(h.machine, B + 5), 0, B + 5);
    assert.ok(pte_dirty(pteAt(h, 0, B + 5)));
    assert.equal(readPage(h, 0, 0, B + 6).value, tokens[6]);
    assert.deepEqual(checkQuiescent(h.machine), []);
  });
}

test('MADV_FREE: -EINVAL at a file mapping (the anon VMA before it done), -ENOMEM over a hole (the mapped parts done)', () => {
  const h = boot({ anonOrders: [0, 4], files: { count: 1, pages: 64, orders: [0] } });
  bigFolio(h);
  mapFile(h, B + 16, 16, { shared: false });
  readPage(h, 0, 0, B + 16);
  assert.equal(free(h, B, B + 32), -22);
  assert.ok(lazyfree(h, folioAt(h, 0, B)!.folio), 'the anon VMA before it was done');
  mapAnon(h, B + 64, 4);
  writePage(h, 0, 0, B + 64);
  assert.equal(free(h, B + 48, B + 68), -12, 'a hole before the VMA');
  assert.ok(lazyfree(h, folioAt(h, 0, B + 64)!.folio));
  assert.equal(free(h, B + 200, B + 210), -12, 'nothing mapped');
  assert.equal(cold(h, B, B + 32), 0, 'MADV_COLD takes file mappings');
});

test('MADV_FREE leaves a large folio only partly inside the range as it is (the kernel would split it; the model has no split)', () => {
  const h = boot({ anonOrders: [0, 4] });
  bigFolio(h);
  assert.equal(free(h, B + 4, B + 8), 0);
  assert.deepEqual(bits(h, B, B + 16), { dirty: 16, young: 16, present: 16 });
  assert.ok(!lazyfree(h, folioAt(h, 0, B)!.folio));
  assert.equal(total(h, EV.MADV_SPLIT_SKIPPED), 1);
  // mapped by a second mm after fork: folio_maybe_mapped_shared(), left alone without a split to skip
  assert.ok(run(h, 0, dup_mm(h.cpus[0], 0)) > 0);
  assert.equal(free(h, B + 4, B + 8), 0);
  assert.equal(total(h, EV.MADV_SPLIT_SKIPPED), 1, 'a shared folio is not one the kernel would split');
});

test('MADV_FREE: a PG_dirty folio is cleaned only when this mapping is its only one; a folio shared after fork keeps the other mm\'s record', () => {
  for (const fork of [false, true]) {
    const h = boot({ anonOrders: [0, 4] });
    bigFolio(h);
    const f = folioAt(h, 0, B)!.folio;
    if (fork) assert.ok(run(h, 0, dup_mm(h.cpus[0], 0)) > 0);
    Atomics.or(h.machine.m, h.machine.L.fFlags + f, FOLIO_DIRTY); // as reclaim leaves a folio it found redirtied
    assert.equal(free(h, B, B + 16), 0);
    const flags = folioFlags(h.machine, f);
    assert.equal((flags & FOLIO_DIRTY) !== 0, fork, fork ? 'shared: PG_dirty stays' : 'exclusive: cleaned');
    assert.equal((flags & FOLIO_LAZYFREE) !== 0, !fork);
    assert.equal(flags & FOLIO_LOCKED, 0, 'folio_trylock was paired with folio_unlock');
    assert.equal(bits(h, B, B + 16).dirty, fork ? 16 : 0);
    assert.deepEqual(checkQuiescent(h.machine), []);
  }
});

test('MADV_DONTNEED over a hole: the mapped parts on both sides are zapped, and the call returns -ENOMEM (madvise_walk_vmas)', () => {
  const h = boot({ anonOrders: [0] });
  mapAnon(h, B, 4);
  mapAnon(h, B + 8, 4);
  writePage(h, 0, 0, B + 3);
  writePage(h, 0, 0, B + 8);
  zapBegin(h.machine, 0, B + 2, B + 10);
  assert.equal(run(h, 0, madvise_dontneed(h.cpus[0], 0, B + 2, B + 10)), -12);
  zapEnd(h.machine, 0, B + 2, B + 10);
  assert.equal(pteAt(h, 0, B + 3), 0, 'before the hole: zapped');
  assert.equal(pteAt(h, 0, B + 8), 0, 'after the hole: zapped');
  assert.equal(run(h, 0, madvise_dontneed(h.cpus[0], 0, B, B + 4)), 0, 'no hole: 0');
  assert.equal(run(h, 0, madvise_dontneed(h.cpus[0], 0, B + 16, B + 20)), -12, 'nothing mapped: -ENOMEM');
});

test('MADV_FREE: a freed lazyfree folio comes back swapbacked (alloc and free reset the folio flags)', () => {
  const h = boot({ anonOrders: [0] });
  mapAnon(h, B, 4);
  const w = writePage(h, 0, 0, B);
  assert.equal(free(h, B, B + 4), 0);
  assert.ok(lazyfree(h, w.pfn));
  zapBegin(h.machine, 0, B, B + 4);
  assert.equal(run(h, 0, madvise_dontneed(h.cpus[0], 0, B, B + 4)), 0);
  zapEnd(h.machine, 0, B, B + 4);
  assert.equal(folioFlags(h.machine, w.pfn) & FOLIO_LAZYFREE, 0, 'freed: no flag left');
  const again = writePage(h, 0, 0, B + 1);
  assert.equal(folioFlags(h.machine, again.pfn) & FOLIO_LAZYFREE, 0);
});

test('MADV_COLD: young bits cleared, dirty bits kept, the referenced flag cleared, nothing lazyfree; a folio another mm maps is left alone', () => {
  for (const batching of [true, false]) {
    const h = boot({ anonOrders: [0, 4], batching });
    const tokens = bigFolio(h);
    const f = folioAt(h, 0, B)!.folio;
    Atomics.or(h.machine.m, h.machine.L.fFlags + f, FOLIO_REFERENCED);
    assert.equal(cold(h, B, B + 16), 0);
    assert.deepEqual(bits(h, B, B + 16), { dirty: 16, young: 0, present: 16 });
    assert.equal(folioFlags(h.machine, f) & (FOLIO_REFERENCED | FOLIO_LAZYFREE), 0);
    assert.equal(total(h, EV.COLD_BATCHED), batching ? 1 : 0);
    assert.equal(readPage(h, 0, 0, B + 7).value, tokens[7]);
    // after fork the folio has two mappings: folio_mapcount() != folio_nr_pages()
    readPage(h, 0, 0, B + 2); // young again
    assert.ok(run(h, 0, dup_mm(h.cpus[0], 0)) > 0);
    const young = bits(h, B, B + 16).young;
    assert.ok(young > 0);
    assert.equal(cold(h, B, B + 16), 0);
    assert.equal(bits(h, B, B + 16).young, young, 'left alone');
    assert.deepEqual(checkQuiescent(h.machine), []);
  }
});

test('contpte: MADV_FREE and MADV_COLD clear the block in place (still cont, no unfold); a store to any entry dirties the block again (ptep_get ORs it)', () => {
  for (const batching of [true, false]) {
    const h = boot({ anonOrders: [0, 4], arch: 'contpte', batching });
    bigFolio(h);
    for (let v = B; v < B + 16; v++) assert.ok(pte_cont(pteAt(h, 0, v)));
    const unfolds = () => h.cpus.reduce((s, c) => s + c.counters.reduce((a, n, i) => a + (EV_NAMES[i].endsWith('.contUnfold') ? n : 0), 0), 0);
    const before = unfolds();
    assert.equal(cold(h, B, B + 16), 0);
    assert.deepEqual(bits(h, B, B + 16), { dirty: 16, young: 0, present: 16 });
    assert.equal(free(h, B, B + 16), 0);
    assert.deepEqual(bits(h, B, B + 16), { dirty: 0, young: 0, present: 16 });
    for (let v = B; v < B + 16; v++) assert.ok(pte_cont(pteAt(h, 0, v)), 'still cont');
    assert.equal(unfolds(), before, 'no unfold');
    assert.ok(total(h, EV.CONT_CYD_BLOCKS) >= 2);
    writePage(h, ownerOf(h.machine, B + 9), 0, B + 9);
    assert.ok(pte_dirty(pteAt(h, 0, B + 9)), 'hardware dirtied the entry it used');
    assert.ok(!pte_dirty(pteAt(h, 0, B + 3)));
    assert.ok(pte_dirty(ptep_get(h.cpus[0], h.machine.ptep(0, B + 3))), 'ptep_get: the block is dirty');
    assert.deepEqual(checkQuiescent(h.machine), []);
  }
});

test('generic clear_young_dirty_ptes: the entry is none between its clear and its set; a store there faults, waits for the PTL, and dirties the entry after MADV_FREE', () => {
  const h = boot({ anonOrders: [0] });
  mapAnon(h, B, 4);
  const w = writePage(h, 0, 0, B);
  run(h, 0, flush_tlb_range(h.cpus[0], 0, B, B + 4)); // the store must walk
  freeBegin(h.machine, 0, B, B + 4); // the data oracle's free window, as the workload opens it
  const s0 = stepper(h, 0, madvise_free(h.cpus[0], 0, B, B + 4));
  s0.until(() => pteAt(h, 0, B) === 0, 'the entry cleared');
  const out = newAccessOut();
  const tok = token(0, B);
  const s1 = stepper(h, 1, user_access(h.cpus[1], 0, B, true, tok, out));
  s1.until(() => !s1.runnable(), 'the fault waits for the PTL');
  assert.equal(s0.finish(), 0);
  freeEnd(h.machine, 0, B, B + 4);
  assert.ok(lazyfree(h, w.pfn));
  s1.finish();
  assert.equal(out.status, 0);
  assert.equal(out.pfn, w.pfn, 'the same page: the fault found the entry back and retried');
  assert.ok(pte_dirty(pteAt(h, 0, B)), 'the store dirtied it again');
  recordWrite(h.machine, 0, B, tok, out.g1, out.g2);
  assert.deepEqual(checkQuiescent(h.machine), []);
});

test('madvise_pageout_page_range (for MADV_PAGEOUT): the folios that pass the checks, isolated with a reference each; young bits stay', () => {
  const h = boot({ anonOrders: [0, 4] });
  bigFolio(h);
  const f = folioAt(h, 0, B)!.folio;
  const ref = folioRef(h.machine, f);
  const cpu = h.cpus[0];
  const lw = h.machine.mmWord(0, MM.MMAP_LOCK);
  run(h, 0, down_read(cpu, lw));
  const tlb = tlb_gather_mmu(cpu, 0);
  const list = run(h, 0, madvise_pageout_page_range(cpu, tlb, vmas(h.machine, 0)[0], B, B + 16));
  run(h, 0, tlb_finish_mmu(cpu, tlb));
  up_read(cpu, lw);
  assert.deepEqual(list, [f]);
  assert.equal(folioRef(h.machine, f), ref + 1);
  assert.equal(bits(h, B, B + 16).young, 16);
  run(h, 0, folio_put(cpu, f));
  assert.deepEqual(checkQuiescent(h.machine), []);
});
