import { test } from 'node:test';
import assert from 'node:assert/strict';
import { drive } from '../../../src/machine/gen.js';
import { alloc_folio, free_one_page, freePages, reservedPages } from '../../../src/linux/mm/page_alloc.js';
import { EV, NOTE_LOCK_ZONE } from '../../../src/machine/events.js';
import { checkBuddy } from '../../../src/check/buddy.js';
import { folio_put } from '../../../src/linux/mm/swap.js';
import { FOLIO_LARGE, PG_BUDDY, PG_HEAD, PG_RESERVED, PG_TAIL, POISON, ZERO_PFN } from '../../../src/machine/machine.js';
import { rng } from '../../../src/workload/program.js';
import { Violation } from '../../../src/machine/cpu.js';
import { boot, type Harness, folioFlags, folioMapcount, folioRef, folioOrder, isFree, pageMapcount } from '../../helpers/machine.js';
import { folioOf } from '../../../src/check/folio.js';

/** Allocate random orders (seeded) until an order-0 allocation fails; returns [pfn, order] pairs. */
function allocAll(h: Harness, seed: number): [number, number][] {
  const cpu = h.cpus[0];
  const rand = rng(seed, 'alloc');
  const got: [number, number][] = [];
  for (;;) {
    const order = [0, 0, 2, 3, 4, 5, 9, 10][Math.floor(rand() * 8)];
    const pfn = drive(alloc_folio(cpu, order));
    if (pfn >= 0) got.push([pfn, order]);
    else if (order === 0) return got;
  }
}

test('page_alloc: boot with fragmentation 0 frees every page but the zero page', () => {
  const h = boot({}, { process: false });
  const { L } = h.machine;
  assert.equal(reservedPages(h.machine), 1);
  assert.equal(h.machine.pageFlags(ZERO_PFN) & PG_RESERVED, PG_RESERVED);
  assert.equal(freePages(h.machine), L.pages - 1);
  // every max-order block but the one holding the zero page is free and merged
  assert.equal(h.machine.m[L.freeCount + L.maxOrder], L.pages / (1 << L.maxOrder) - 1);
});

test('page_alloc: allocations are naturally aligned, non-overlapping, zeroed, refcount 1', () => {
  const h = boot({}, { process: false });
  const { m, L } = h.machine;
  const owner = new Int32Array(L.pages).fill(-1);
  const got = allocAll(h, 1);
  assert.ok(got.length > 50);
  assert.ok(got.some(([, o]) => o >= 4), 'some large orders succeeded');
  for (const [pfn, order] of got) {
    const nr = 1 << order;
    assert.equal(pfn % nr, 0, `pfn ${pfn} of order ${order} is naturally aligned`);
    assert.ok(pfn + nr <= L.pages);
    assert.equal(folioRef(h.machine, pfn), 1, 'refcount 1 on allocation');
    assert.equal(folioOrder(h.machine, pfn), order);
    assert.equal(folioMapcount(h.machine, pfn), 0);
    assert.equal(folioFlags(h.machine, pfn), order > 0 ? FOLIO_LARGE : 0);
    for (let i = 0; i < nr; i++) {
      assert.equal(owner[pfn + i], -1, `page ${pfn + i} handed out twice`);
      owner[pfn + i] = pfn;
      assert.equal(h.machine.pageFlags(pfn + i), i === 0 ? PG_HEAD : PG_TAIL);
      assert.equal(folioOf(h.machine, pfn + i), pfn);
      assert.equal(m[L.pContent + pfn + i], 0, 'zeroed');
      assert.notEqual(pfn + i, ZERO_PFN);
    }
  }
  // memory is exhausted: all but the zero page handed out
  assert.equal(freePages(h.machine), 0);
  assert.equal(got.reduce((s, [, o]) => s + (1 << o), 0), L.pages - 1);
});

test('page_alloc: freeing everything merges back to the boot state; a max-order allocation succeeds again', () => {
  const h = boot({}, { process: false });
  const { m, L } = h.machine;
  const bootCounts = Array.from({ length: L.maxOrder + 1 }, (_, o) => m[L.freeCount + o]);
  const got = allocAll(h, 2);
  assert.equal(drive(alloc_folio(h.cpus[0], L.maxOrder)), -1, 'exhausted');
  // free in a scrambled order so merging has to find buddies freed out of order
  const rand = rng(2, 'free');
  const order = got.map((_, i) => i).sort(() => rand() - 0.5);
  for (const i of order) drive(folio_put(h.cpus[0], got[i][0]));
  assert.equal(freePages(h.machine), h.bootFree);
  assert.deepEqual(Array.from({ length: L.maxOrder + 1 }, (_, o) => m[L.freeCount + o]), bootCounts, 'free lists as at boot');
  const big = drive(alloc_folio(h.cpus[0], L.maxOrder));
  assert.ok(big >= 0, 'max-order allocation succeeds after the merge');
  assert.equal(big % (1 << L.maxOrder), 0);
});

test('page_alloc: freed pages are poisoned and marked PG_BUDDY, mapcount 0', () => {
  const h = boot({}, { process: false });
  const { m, L } = h.machine;
  const cpu = h.cpus[0];
  const pfn = drive(alloc_folio(cpu, 4));
  for (let i = 0; i < 16; i++) m[L.pContent + pfn + i] = 0x1234 + i;
  const before = freePages(h.machine);
  drive(folio_put(cpu, pfn));
  assert.equal(freePages(h.machine), before + 16);
  for (let i = 0; i < 16; i++) {
    assert.equal(m[L.pContent + pfn + i], POISON, `page ${i} poisoned`);
    assert.ok(isFree(h.machine, pfn + i), `page ${i} PG_BUDDY`);
    assert.equal(h.machine.pageFlags(pfn + i) & (PG_TAIL | PG_RESERVED), 0);
    assert.equal(pageMapcount(h.machine, pfn + i), 0);
  }
  // control: a page still allocated is not poisoned
  const other = drive(alloc_folio(cpu, 0));
  assert.equal(m[L.pContent + other], 0);
  assert.equal(isFree(h.machine, other), false);
  assert.equal(h.machine.pageFlags(other) & PG_BUDDY, 0);
});

test('page_alloc: a folio is freed only when its last reference goes', () => {
  const h = boot({}, { process: false });
  const cpu = h.cpus[0];
  const pfn = drive(alloc_folio(cpu, 2));
  Atomics.add(h.machine.m, h.machine.L.fRef + pfn, 1);
  drive(folio_put(cpu, pfn));
  assert.equal(isFree(h.machine, pfn), false, 'one reference left');
  drive(folio_put(cpu, pfn));
  assert.equal(isFree(h.machine, pfn), true);
});

test('page_alloc: dropping the last reference of a still-mapped folio is a violation', () => {
  const h = boot({}, { process: false });
  const cpu = h.cpus[0];
  const pfn = drive(alloc_folio(cpu, 0));
  Atomics.store(h.machine.m, h.machine.L.fMapcount + pfn, 1);
  assert.throws(() => drive(folio_put(cpu, pfn)), (e: unknown) => e instanceof Violation && e.invariant === 'free-mapped-folio');
  const ok = drive(alloc_folio(cpu, 0));
  assert.doesNotThrow(() => drive(folio_put(cpu, ok)));
});

test('page_alloc: with fragmentation 0.3 high orders fail while order 0 still succeeds', () => {
  const h = boot({ fragmentation: 0.3 }, { process: false });
  const { m, L } = h.machine;
  const cpu = h.cpus[0];
  const reserved = reservedPages(h.machine);
  assert.ok(reserved > L.pages * 0.25 && reserved < L.pages * 0.35, `about 30% held back (${reserved})`);
  assert.equal(freePages(h.machine) + reserved, L.pages);
  for (let o = 5; o <= L.maxOrder; o++) {
    assert.equal(m[L.freeCount + o], 0, `no free block of order ${o}`);
    assert.equal(drive(alloc_folio(cpu, o)), -1, `order ${o} fails`);
  }
  for (let i = 0; i < 100; i++) assert.ok(drive(alloc_folio(cpu, 0)) >= 0, 'order 0 succeeds');
  // control: the same machine unfragmented grants the same high orders
  const clean = boot({}, { process: false });
  for (let o = 5; o <= clean.machine.L.maxOrder; o++) assert.ok(drive(alloc_folio(clean.cpus[0], o)) >= 0, `unfragmented order ${o}`);
});

test('page_alloc: allocFailRate fails order > 0 at about that rate, never order 0, from a seeded stream', () => {
  const tries = 400;
  const failures = (rate: number | undefined, order: number): number => {
    const h = boot(rate === undefined ? {} : { allocFailRate: rate }, { process: false });
    const cpu = h.cpus[0];
    let failed = 0;
    for (let i = 0; i < tries; i++) {
      const pfn = drive(alloc_folio(cpu, order));
      if (pfn < 0) failed++;
      else drive(folio_put(cpu, pfn));
    }
    return failed;
  };
  assert.equal(failures(undefined, 4), 0, 'absent: high orders succeed while memory lasts');
  assert.equal(failures(0, 4), 0);
  assert.equal(failures(1, 4), tries, 'rate 1: every order-4 request fails');
  assert.equal(failures(1, 0), 0, 'order 0 never fails by the knob');
  const half = failures(0.5, 2);
  assert.ok(half > tries * 0.4 && half < tries * 0.6, `rate 0.5: ${half} of ${tries} failed`);
  assert.equal(failures(0.5, 2), half, 'the same seed draws the same failures');
});

test('page_alloc: the block __rmqueue_smallest takes is no buddy head once the zone lock is released: a free of its buddy before prep_new_page does not merge with it', () => {
  const h = boot({}, { process: false });
  const cpu = h.cpus[0];
  const { m, L } = h.machine;
  // an order-4 folio a whose buddy is the first block on the order-4 list (a split gave it back)
  let a = -1;
  for (let i = 0; i < 64 && (a < 0 || m[L.freeHead + 4] !== (a ^ 16)); i++) a = drive(alloc_folio(cpu, 4));
  assert.equal(m[L.freeHead + 4], a ^ 16, 'precondition');
  // the next order-4 allocation takes that buddy; another CPU frees a (free_folio's locked part)
  // right when the allocation releases the zone lock, before its prep_new_page
  let atUnlock = -1;
  cpu.noteHook = (_cpu, code, kind) => {
    if (code !== EV.NOTE_UNLOCK || kind !== NOTE_LOCK_ZONE || atUnlock >= 0) return;
    atUnlock = m[L.pFlags + (a ^ 16)];
    free_one_page(h.machine, a, 4);
  };
  const b = drive(alloc_folio(cpu, 4));
  cpu.noteHook = null;
  assert.equal(b, a ^ 16);
  // the allocator is sound: a is free on its own, not merged with the new folio b
  const found: string[] = [];
  checkBuddy(h.machine, (inv) => found.push(inv));
  assert.deepEqual(found, []);
  assert.ok(isFree(h.machine, a) && m[L.fOrder + a] === 4);
  assert.equal(m[L.pFlags + b], PG_HEAD);
  assert.equal(atUnlock & PG_BUDDY, 0, 'the taken block was no longer PG_BUDDY when the lock was released');
});
