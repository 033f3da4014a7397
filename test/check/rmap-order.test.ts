// The move contract of mremap (src/check/rmap-order.ts, hook rmapMove): when move_ptes moves a file
// mapping's entries without the rmap locks while an rmap walk of the file is in flight, the walk
// must visit the old mapping before the new one (i_mmap slot order), or it can miss them; and both
// ranges must be in the i_mmap at all. Built by hand: the i_mmap entries and a reader of the file's
// i_mmap_rwsem (a walk in flight); the real race is test/inject/deviations.test.ts's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkRmapMove } from '../../src/check/rmap-order.js';
import { do_mmap, i_mmap_entries } from '../../src/linux/mm/mmap.js';
import { Violation } from '../../src/machine/cpu.js';
import { VM_READ, VM_SHARED, VM_WRITE } from '../../src/machine/machine.js';
import { pointEvent } from '../../src/check/points.js';
import { boot, type Harness, mapAnon, mapFile, run } from '../helpers/machine.js';

const B = 1024, D = 3072;

/** checkRmapMove of [B, B+8) -> D on CPU 0: the violation's invariant, or null. */
function judge(h: Harness, locked = false, from = B): string | null {
  try {
    checkRmapMove(h.cpus[0], 0, from, from + 8, D, locked);
    return null;
  } catch (e) {
    if (e instanceof Violation) return e.invariant;
    throw e;
  }
}

/** A walk of file 0 in flight: one reader of its i_mmap_rwsem (what folio_mkclean holds). */
function walking(h: Harness, on: boolean): void {
  Atomics.add(h.machine.m, h.machine.L.immapLock, on ? 1 : -1);
}

/** The old mapping at B (file pages 0..15) and the new one at D (pages 0..7), in the i_mmap in the order given. */
function setup(newFirst: boolean): Harness {
  const h = boot({ cpus: 2, files: { count: 1, pages: 64, orders: [0], writenotify: 'off' } });
  const flags = VM_READ | VM_WRITE | VM_SHARED;
  if (newFirst) run(h, 0, do_mmap(h.cpus[0], 0, 8, 1, D, flags, true, 0, 0));
  mapFile(h, B, 16, { pgoff: 0 });
  if (!newFirst) run(h, 0, do_mmap(h.cpus[0], 0, 8, 1, D, flags, true, 0, 0));
  assert.deepEqual(i_mmap_entries(h.machine, 0).map((e) => e.start), newFirst ? [D, B] : [B, D]);
  return h;
}

test('rmapMove: a walk in flight that visits the new range first, entries moved without the rmap locks: rmap-walk-order', () => {
  const h = setup(true);
  assert.equal(judge(h), null, 'no walk in flight: nothing can be missed');
  walking(h, true);
  assert.equal(judge(h), 'rmap-walk-order');
  assert.equal(judge(h, true), null, 'under the rmap locks');
  walking(h, false);
  assert.equal(h.cpus[0].counters[pointEvent('rmapMove')], 3, 'every file move is an evaluation');
});

test('rmapMove: the walk visits the old range first: no lock needed', () => {
  const h = setup(false);
  walking(h, true);
  assert.equal(judge(h), null);
  walking(h, false);
});

test('rmapMove: a range with no i_mmap entry at all is rmap-unlinked; anon moves are not judged', () => {
  const h = setup(false);
  // the new range's entry goes (as if copy_vma had not linked it)
  const m = h.machine.m;
  for (let s = 0; s < h.machine.L.imapSlots; s++) if (Atomics.load(m, h.machine.imapBase(0, s) + 1) === D) Atomics.store(m, h.machine.imapBase(0, s), 0);
  assert.equal(judge(h, true), 'rmap-unlinked', 'whatever the locks');
  mapAnon(h, B + 512, 16);
  const before = h.cpus[0].counters[pointEvent('rmapMove')];
  assert.equal(judge(h, false, B + 512), null);
  assert.equal(h.cpus[0].counters[pointEvent('rmapMove')], before, 'anon: not an evaluation');
});
