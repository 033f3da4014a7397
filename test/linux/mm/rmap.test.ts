// CONFIG_MM_ID in the model (src/linux/mm/rmap.ts): the two slots and the "maybe mapped shared" bit
// through fork, a third mm whose mappings no slot counts, COW and exit, as the kernel's
// folio_add/sub_return_large_mapcount keep them; and the reuse decision that reads them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkQuiescent } from '../../../src/check/invariants.js';
import { dup_mm, process_exit } from '../../../src/linux/kernel/fork.js';
import { madvise_dontneed } from '../../../src/linux/mm/madvise.js';
import { FOLIO_MM_IDS_LOCK_BIT, FOLIO_MM_IDS_SHARED_BIT, MMID_SHIFT, folio_mm_mapcount } from '../../../src/linux/mm/rmap.js';
import { Violation } from '../../../src/machine/cpu.js';
import { boot, folioAt, mapAnon, run, writePage } from '../../helpers/machine.js';

const B = 1024;
const word = (mm: number, count: number): number => ((mm + 1) << MMID_SHIFT) | count;

test('MM_ID: two forks (a third mm no slot counts), COW, exits: slots, the shared bit and the reuse decision', () => {
  const h = boot({ anonOrders: [0, 4], cpus: 2, processes: 3 });
  const { m, L } = h.machine;
  mapAnon(h, B, 16, { align: 16 });
  writePage(h, 0, 0, B + 1);
  const folio = folioAt(h, 0, B + 1)!.folio;
  const slot = (s: number) => Atomics.load(m, L.fMmId + folio * 2 + s);
  const shared = () => (slot(1) & FOLIO_MM_IDS_SHARED_BIT) !== 0;
  const c1 = run(h, 0, dup_mm(h.cpus[0], 0));
  const c2 = run(h, 0, dup_mm(h.cpus[0], 0));
  assert.ok(c1 > 0 && c2 > 0 && c1 !== c2);
  assert.equal(slot(0), word(0, 16));
  assert.equal(slot(1), word(c1, 16) | FOLIO_MM_IDS_SHARED_BIT, 'the first child takes slot 1: maybe shared');
  assert.equal(folio_mm_mapcount(h.machine, folio, c2), 0, 'the second child\'s 16 mappings go unaccounted');
  assert.equal(Atomics.load(m, L.fMapcount + folio), 48);
  assert.deepEqual(checkQuiescent(h.machine), []);
  // the first child exits: its slot is freed; slot 0 does not hold every mapping (c2's): still shared
  assert.equal(run(h, 0, process_exit(h.cpus[0], c1)), true);
  assert.equal(slot(1) & ~FOLIO_MM_IDS_SHARED_BIT, 0);
  assert.ok(shared());
  assert.deepEqual(checkQuiescent(h.machine), []);
  // the parent writes: 16 of 32 mappings are its own, so it copies
  writePage(h, 0, 0, B + 5);
  assert.notEqual(folioAt(h, 0, B + 5)!.folio, folio, 'copied');
  assert.equal(slot(0), word(0, 15));
  assert.deepEqual(checkQuiescent(h.machine), []);
  // the second child exits: slot 0 now holds all 15 mappings, the folio is the parent's alone
  assert.equal(run(h, 0, process_exit(h.cpus[0], c2)), true);
  assert.equal(slot(1), 0, 'the shared bit cleared');
  assert.deepEqual(checkQuiescent(h.machine), []);
  // and a write reuses the page in place (the reference the exited children held is gone too)
  const pfn6 = folioAt(h, 0, B + 6)!.pfn;
  writePage(h, 0, 0, B + 6);
  assert.equal(folioAt(h, 0, B + 6)!.pfn, pfn6, 'reused');
  assert.deepEqual(checkQuiescent(h.machine), []);
  // the whole folio unmapped: both slots free
  assert.equal(run(h, 0, madvise_dontneed(h.cpus[0], 0, B, B + 16)), 0);
  assert.deepEqual([slot(0), slot(1)], [0, 0]);
});

test('folio-mapcount-lock-held: a sched CPU that finds the folio\'s mapcount lock held (it never yields inside, so nothing would release it)', () => {
  const h = boot({ anonOrders: [0, 4], cpus: 1 });
  mapAnon(h, B, 16, { align: 16 });
  writePage(h, 0, 0, B + 1);
  const folio = folioAt(h, 0, B + 1)!.folio;
  Atomics.or(h.machine.m, h.machine.L.fMmId + folio * 2, FOLIO_MM_IDS_LOCK_BIT);
  assert.throws(() => run(h, 0, madvise_dontneed(h.cpus[0], 0, B, B + 1)), (e: unknown) => e instanceof Violation && e.invariant === 'folio-mapcount-lock-held' && e.details.folio === folio);
});
