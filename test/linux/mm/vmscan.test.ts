// Page-cache reclaim (src/linux/mm/vmscan.ts): young entries keep a folio, a mapped folio is
// unmapped through the rmap, a dirty one is written first, a clean unmapped one is dropped from
// the page cache and freed, and the next access reads the disk; a folio someone holds a reference
// to stays; the page-cache lookup does not take a folio whose count reclaim froze.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkQuiescent } from '../../../src/check/invariants.js';
import { shrink_folios } from '../../../src/linux/mm/vmscan.js';
import { FILEMAP_RETRY, filemap_get_folio } from '../../../src/linux/mm/filemap.js';
import { folio_put, folio_ref_add } from '../../../src/linux/mm/swap.js';
import { MM } from '../../../src/machine/layout.js';
import { pte_none, pte_present } from '../../../src/machine/pte.js';
import { EV } from '../../../src/machine/events.js';
import { FOLIO_DIRTY, FOLIO_RECLAIM } from '../../../src/machine/machine.js';
import { madvise_pageout } from '../../../src/linux/mm/madvise.js';
import { write_cache_pages } from '../../../src/linux/mm/page-writeback.js';
import { boot, folioAt, invariants, mapFile, pteAt, readPage, run, total, writePage } from '../../helpers/machine.js';

const B = 1024;
const files = { count: 1, pages: 64, orders: [0, 4] };

/** One whole reclaim pass over memory (every page-cache folio is looked at once). */
function pass(h: ReturnType<typeof boot>): number {
  return run(h, 0, shrink_folios(h.cpus[0], 0, h.machine.L.pages));
}
const cached = (h: ReturnType<typeof boot>, pgoff: number): boolean => Atomics.load(h.machine.m, h.machine.L.pcache + h.machine.filePage(0, pgoff)) !== 0;

test('reclaim: a young mapping keeps the folio; the next pass unmaps and frees it; a read faults it back from the disk', () => {
  const h = boot({ cpus: 1, files });
  mapFile(h, B, 16);
  const before = readPage(h, 0, 0, B + 3).value;
  assert.equal(folioAt(h, 0, B)!.order, 4);
  assert.equal(pass(h), 0, 'the entries were young: kept (and made old)');
  assert.ok(total(h, EV.RECLAIM_REFERENCED) >= 1);
  assert.equal(pass(h), 1, 'old now: unmapped and freed');
  for (let i = 0; i < 16; i++) assert.ok(pte_none(pteAt(h, 0, B + i)), `entry ${i} unmapped`);
  assert.equal(Atomics.load(h.machine.m, h.machine.mmWord(0, MM.RSS_FILE)), 0);
  assert.ok(!cached(h, 0), 'out of the page cache');
  assert.equal(readPage(h, 0, 0, B + 3).value, before, 'the same data, from the disk');
  assert.ok(pte_present(pteAt(h, 0, B + 3)));
  assert.deepEqual(invariants([...checkQuiescent(h.machine), ...h.observed]), []);
});

test('reclaim: a store seen only in a PTE dirty bit (tmpfs-like shared mapping) is written back before the folio goes', () => {
  const h = boot({ cpus: 1, files });
  mapFile(h, B, 16, { writenotify: false });
  readPage(h, 0, 0, B); // maps the folio writable and clean
  const w = writePage(h, 0, 0, B + 5); // hardware sets the dirty bit of entry 5 only
  pass(h); // young: kept
  assert.equal(pass(h), 0, 'unmapped; dirty (from the entry): written, not freed');
  assert.ok(total(h, EV.RECLAIM_PAGEOUT) >= 1);
  assert.equal(Atomics.load(h.machine.m, h.machine.L.disk + h.machine.filePage(0, 5)), w.token, 'the store is on the disk');
  assert.equal(pass(h), 1, 'clean now: freed');
  assert.equal(readPage(h, 0, 0, B + 5).value, w.token);
  assert.deepEqual(invariants([...checkQuiescent(h.machine), ...h.observed]), []);
});

test('reclaim: a folio somebody holds a reference to is not freed (__remove_mapping cannot freeze it)', () => {
  const h = boot({ cpus: 1, files });
  mapFile(h, B, 16);
  readPage(h, 0, 0, B);
  const folio = folioAt(h, 0, B)!.folio;
  folio_ref_add(h.cpus[0], folio, 1);
  pass(h);
  assert.equal(pass(h), 0, 'kept');
  assert.ok(total(h, EV.RECLAIM_BUSY) >= 1);
  assert.ok(cached(h, 0));
  run(h, 0, folio_put(h.cpus[0], folio));
  assert.equal(pass(h), 1, 'the reference gone: freed');
});

test('filemap_get_folio: a folio whose count reclaim froze is not taken (FILEMAP_RETRY)', () => {
  const h = boot({ cpus: 1, files });
  mapFile(h, B, 16);
  readPage(h, 0, 0, B);
  const folio = folioAt(h, 0, B)!.folio;
  const m = h.machine.m, L = h.machine.L;
  const ref = Atomics.load(m, L.fRef + folio);
  Atomics.store(m, L.fRef + folio, 0); // frozen
  assert.equal(run(h, 0, filemap_get_folio(h.cpus[0], 0, 2)), FILEMAP_RETRY);
  Atomics.store(m, L.fRef + folio, ref);
  assert.equal(run(h, 0, filemap_get_folio(h.cpus[0], 0, 2)), folio);
  run(h, 0, folio_put(h.cpus[0], folio));
});

test('MADV_PAGEOUT of dirty page-cache folios (not kswapd): unmapped, kept dirty and not written; a disk file\'s are marked PG_reclaim, which fault-around skips until a fault or writeback clears it', () => {
  for (const disk of [true, false]) {
    const h = boot({ cpus: 1, files: { count: 1, pages: 64, orders: [0], writenotify: disk ? 'on' : 'off' } });
    mapFile(h, B, 16, { writenotify: disk });
    const tokens = [0, 1, 2, 3].map((i) => writePage(h, 0, 0, B + i).token);
    assert.equal(run(h, 0, madvise_pageout(h.cpus[0], 0, B, B + 4)), 0);
    const { m, L } = h.machine;
    const folioOf = (i: number) => Atomics.load(m, L.pcache + h.machine.filePage(0, i));
    for (let i = 0; i < 4; i++) {
      assert.ok(pte_none(pteAt(h, 0, B + i)), `${disk}: entry ${i} unmapped`);
      assert.ok(cached(h, i), `${disk}: page ${i} still cached`);
      const f = Atomics.load(m, L.fFlags + folioOf(i));
      assert.ok(f & FOLIO_DIRTY, `${disk}: page ${i} still dirty`);
      assert.equal((f & FOLIO_RECLAIM) !== 0, disk, `${disk}: PG_reclaim on page ${i}`);
      assert.notEqual(Atomics.load(m, L.disk + h.machine.filePage(0, i)), tokens[i], `${disk}: page ${i} not written`);
    }
    assert.equal(total(h, EV.RECLAIM_PAGEOUT), 0, 'no pageout() outside kswapd');
    assert.equal(readPage(h, 0, 0, B + 1).value, tokens[1]);
    assert.equal((Atomics.load(m, L.fFlags + folioOf(1)) & FOLIO_RECLAIM) !== 0, false, 'the fault cleared the mark of its page');
    assert.equal(pte_none(pteAt(h, 0, B + 2)), disk, disk ? 'fault-around skipped the marked folios' : 'fault-around mapped the unmarked folios');
    run(h, 0, write_cache_pages(h.cpus[0], 0));
    assert.equal(Atomics.load(m, L.fFlags + folioOf(2)) & (FOLIO_RECLAIM | FOLIO_DIRTY), 0, 'writeback cleans and unmarks');
    assert.equal(Atomics.load(m, L.disk + h.machine.filePage(0, 2)), tokens[2]);
    assert.deepEqual(invariants([...checkQuiescent(h.machine), ...h.observed]), []);
  }
});
