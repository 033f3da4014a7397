// move_pages(2) of one page (src/linux/mm/migrate.ts) and the migration entries every path meets:
// the folio moves with its data, mapcounts, references and AnonExclusive; a pinned folio stays; a
// fork copies a migration entry read-only; mprotect downgrades a writable one; a zap clears one;
// a fault waits for the migration; the checker reports an entry left behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkQuiescent } from '../../../src/check/invariants.js';
import { do_move_pages, migration_entry_wait } from '../../../src/linux/mm/migrate.js';
import { remove_migration_ptes, try_to_migrate } from '../../../src/linux/mm/rmap.js';
import { dup_mm } from '../../../src/linux/kernel/fork.js';
import { pin_user_page, unpin_user_page } from '../../../src/linux/mm/gup.js';
import { do_mprotect } from '../../../src/linux/mm/mprotect.js';
import { madvise_dontneed } from '../../../src/linux/mm/madvise.js';
import { folio_lock, folio_unlock } from '../../../src/linux/mm/filemap.js';
import { user_access } from '../../../src/workload/access.js';
import { folio_put, folio_ref_add } from '../../../src/linux/mm/swap.js';
import { WAIT } from '../../../src/machine/gen.js';
import { MM } from '../../../src/machine/layout.js';
import { FOLIO_LOCKED, PG_ANON_EXCLUSIVE, VM_READ } from '../../../src/machine/machine.js';
import { pte_pfn, pte_present, pte_write } from '../../../src/machine/pte.js';
import {
  is_migration_entry, is_readable_exclusive_migration_entry, is_readable_migration_entry, is_writable_migration_entry, make_writable_migration_entry,
} from '../../../src/linux/include/linux/swapops.js';
import { bigFolio, boot, folioAt, invariants, newAccessOut, pteAt, readPage, run, stepper } from '../../helpers/machine.js';

const B = 1024;

/** The reference migration holds from isolation to the end (folio_isolate_lru). */
function isolate(h: ReturnType<typeof boot>, folio: number): void {
  folio_ref_add(h.cpus[0], folio, 1);
}

function setup() {
  const h = boot({ anonOrders: [0, 4] });
  const tokens = bigFolio(h, B);
  return { h, tokens, src: folioAt(h, 0, B)!.folio };
}

test('move_pages: an order-4 folio moves whole: new pages, same data, entries writable and AnonExclusive, the source freed', () => {
  const { h, tokens, src } = setup();
  const m = h.machine.m, L = h.machine.L;
  assert.equal(run(h, 0, do_move_pages(h.cpus[0], 0, B + 5)), 0);
  const dst = folioAt(h, 0, B)!;
  assert.notEqual(dst.folio, src, 'the pages are new');
  assert.equal(dst.order, 4);
  for (let i = 0; i < 16; i++) {
    const pte = pteAt(h, 0, B + i);
    assert.ok(pte_present(pte) && pte_write(pte), `entry ${i} present and writable`);
    assert.equal(pte_pfn(pte), dst.folio + i, `entry ${i} maps page ${i} of the new folio`);
    assert.ok(Atomics.load(m, L.pFlags + dst.folio + i) & PG_ANON_EXCLUSIVE, `page ${i} AnonExclusive`);
    assert.equal(readPage(h, 0, 0, B + i).value, tokens[i], `page ${i} kept its data`);
  }
  assert.equal(Atomics.load(m, L.fRef + dst.folio), 16);
  assert.equal(Atomics.load(m, L.fMapcount + dst.folio), 16);
  assert.equal(Atomics.load(m, L.mm + 0 * MM.WORDS + MM.RSS_ANON), 16);
  assert.deepEqual(invariants([...checkQuiescent(h.machine), ...h.observed]), []);
});

test('move_pages: a long-term pin keeps the folio where it is (try_to_migrate backs off, the entries come back)', () => {
  const { h, tokens, src } = setup();
  const pfn = run(h, 0, pin_user_page(h.cpus[0], 0, B + 2, true));
  assert.equal(pfn, src + 2);
  assert.ok(run(h, 0, do_move_pages(h.cpus[0], 0, B)) < 0, 'EAGAIN');
  for (let i = 0; i < 16; i++) {
    assert.equal(pte_pfn(pteAt(h, 0, B + i)), src + i, `entry ${i} maps the source again`);
    assert.ok(pte_write(pteAt(h, 0, B + i)));
    assert.equal(readPage(h, 0, 0, B + i).value, tokens[i]);
  }
  assert.deepEqual(invariants([...checkQuiescent(h.machine), ...h.observed]), []);
  run(h, 0, unpin_user_page(h.cpus[0], pfn));
  assert.equal(run(h, 0, do_move_pages(h.cpus[0], 0, B)), 0, 'unpinned, it moves');
  assert.deepEqual(invariants([...checkQuiescent(h.machine), ...h.observed]), []);
});

test('migration entries: writable for a writable entry, readable-exclusive for a read-only exclusive page, readable after fork', () => {
  const { h, src } = setup();
  isolate(h, src);
  run(h, 0, folio_lock(h.cpus[0], src));
  assert.ok(run(h, 0, try_to_migrate(h.cpus[0], src)));
  assert.ok(is_writable_migration_entry(pteAt(h, 0, B)));
  assert.equal(Atomics.load(h.machine.m, h.machine.L.fMapcount + src), 0, 'the entries hold no mapcount');
  // mprotect R/O: "just be safe and disable write": readable-exclusive for an anon folio
  assert.equal(run(h, 0, do_mprotect(h.cpus[0], 0, B, B + 8, VM_READ)), 0);
  assert.ok(is_readable_exclusive_migration_entry(pteAt(h, 0, B)));
  assert.ok(is_writable_migration_entry(pteAt(h, 0, B + 8)));
  // fork: both parent and child get plain readable entries
  const child = run(h, 0, dup_mm(h.cpus[0], 0));
  assert.ok(child > 0);
  for (const v of [B, B + 8]) {
    assert.ok(is_readable_migration_entry(pteAt(h, 0, v)), `parent ${v} readable`);
    assert.ok(is_readable_migration_entry(pteAt(h, child, v)), `child ${v} readable`);
  }
  assert.equal(Atomics.load(h.machine.m, h.machine.mmWord(child, MM.RSS_ANON)), 16, 'the child counts the entries in RSS');
  // the migration fails: the source comes back in both, read-only and shared
  assert.equal(run(h, 0, remove_migration_ptes(h.cpus[0], src, src)), 32);
  folio_unlock(h.cpus[0], src);
  run(h, 0, folio_put(h.cpus[0], src)); // the isolation reference
  for (const mm of [0, child]) {
    const pte = pteAt(h, mm, B + 8);
    assert.ok(pte_present(pte) && !pte_write(pte) && pte_pfn(pte) === src + 8);
  }
  assert.equal(Atomics.load(h.machine.m, h.machine.L.pFlags + src + 8) & PG_ANON_EXCLUSIVE, 0, 'shared with the child: not exclusive');
  assert.deepEqual(invariants([...checkQuiescent(h.machine), ...h.observed]), []);
});

test('migration entries: a zap clears them and RSS drops; the migration then maps nothing', () => {
  const { h, src } = setup();
  isolate(h, src);
  run(h, 0, folio_lock(h.cpus[0], src));
  assert.ok(run(h, 0, try_to_migrate(h.cpus[0], src)));
  assert.equal(run(h, 0, madvise_dontneed(h.cpus[0], 0, B, B + 16)), 0);
  assert.equal(Atomics.load(h.machine.m, h.machine.mmWord(0, MM.RSS_ANON)), 0);
  assert.equal(run(h, 0, remove_migration_ptes(h.cpus[0], src, src)), 0);
  folio_unlock(h.cpus[0], src);
  run(h, 0, folio_put(h.cpus[0], src)); // the isolation reference
});

test('a fault on a migration entry waits for the migration, then retries and finds the page', () => {
  const { h, tokens, src } = setup();
  isolate(h, src);
  run(h, 0, folio_lock(h.cpus[0], src));
  assert.ok(run(h, 0, try_to_migrate(h.cpus[0], src)));
  const out = newAccessOut();
  const reader = stepper(h, 1, user_access(h.cpus[1], 0, B + 4, false, 0, out));
  reader.until(() => reader.last === WAIT, 'the reader blocks on the migration');
  assert.ok(is_migration_entry(pteAt(h, 0, B + 4)));
  assert.equal(run(h, 0, remove_migration_ptes(h.cpus[0], src, src)), 16);
  folio_unlock(h.cpus[0], src);
  run(h, 0, folio_put(h.cpus[0], src)); // the isolation reference
  reader.finish();
  assert.equal(out.value, tokens[4]);
});

test('migration_entry_wait returns at once when the entry is gone', () => {
  const { h } = setup();
  run(h, 0, migration_entry_wait(h.cpus[0], 0, B));
});

test('checker: a migration entry left at quiescence is migration-entry-left (and still counts in RSS)', () => {
  const { h, src } = setup();
  Atomics.store(h.machine.m, h.machine.ptep(0, B + 3), make_writable_migration_entry(src + 3));
  const found = invariants(checkQuiescent(h.machine));
  assert.ok(found.includes('migration-entry-left'), found.join(','));
  assert.ok(!found.includes('rss-mismatch'), 'the entry counts in RSS');
});

test('move_pages: the new folio stays locked until its last entry is restored (a MADV_FREE or reclaim meeting the entries restored first cannot take it), then is unlocked', () => {
  const { h, src } = setup();
  const child = run(h, 0, dup_mm(h.cpus[0], 0)); // two mms map the folio: the walk restores one, then the other
  assert.ok(child > 0);
  const s = stepper(h, 0, do_move_pages(h.cpus[0], 0, B));
  let dst = -1;
  let halfDone = 0;
  while (s.step()) {
    const p = pteAt(h, 0, B), c = pteAt(h, child, B);
    if (pte_present(p) && h.machine.m[h.machine.L.pHead + pte_pfn(p)] !== src && is_migration_entry(c)) {
      // the parent maps the new folio, the child still holds a migration entry
      dst = h.machine.m[h.machine.L.pHead + pte_pfn(p)];
      assert.ok(h.machine.m[h.machine.L.fFlags + dst] & FOLIO_LOCKED, 'the new folio is locked while migration entries remain');
      halfDone++;
    }
  }
  assert.equal(s.value, 0);
  assert.ok(halfDone > 0, 'the walk was seen half done');
  assert.equal(h.machine.m[h.machine.L.fFlags + dst] & FOLIO_LOCKED, 0, 'unlocked at the end');
  assert.deepEqual(invariants(checkQuiescent(h.machine)), []);
});
