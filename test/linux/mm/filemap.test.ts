// File mappings: the page cache, read/write faults on shared and private mappings, the zap that
// moves PTE dirty bits to the folio, writeback that cleans PTEs before writing the disk, fork, and
// the final sync's disk check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { drive } from '../../../src/machine/gen.js';
import { Violation } from '../../../src/machine/cpu.js';
import { EV } from '../../../src/machine/events.js';
import { checkQuiescent, checkNoLeaks } from '../../../src/check/invariants.js';
import { checkDisk, fileExpected } from '../../../src/check/oracle.js';
import { FOLIO_ANON, FOLIO_DIRTY, FOLIO_LOCKED } from '../../../src/machine/machine.js';
import { MM } from '../../../src/machine/layout.js';
import { PTE_DIRTY, pte_dirty, pte_present, pte_write, pte_young } from '../../../src/machine/pte.js';
import { do_munmap } from '../../../src/linux/mm/mmap.js';
import { madvise_dontneed } from '../../../src/linux/mm/madvise.js';
import { write_cache_pages } from '../../../src/linux/mm/page-writeback.js';
import { handle_mm_fault, VM_FAULT_OK } from '../../../src/linux/mm/memory.js';
import { dup_mm, process_exit } from '../../../src/linux/kernel/fork.js';
import { final_sync } from '../../../src/engine/sched.js';
import { tlb_lookup } from '../../../src/machine/tlb.js';
import { boot, folioAt, type Harness, mapFile, pteAt, readPage, run, stepper, total, writePage, folioFlags, folioRef } from '../../helpers/machine.js';

const B = 1024;
const FILES = { count: 2, pages: 64, orders: [0, 2, 4] };

function fileBoot(over: Record<string, unknown> = {}): Harness {
  return boot({ cpus: 1, files: FILES, ...over });
}
const folioDirty = (h: Harness, folio: number): boolean => (folioFlags(h.machine, folio) & FOLIO_DIRTY) !== 0;
const clean = (h: Harness): void => assert.deepEqual(checkQuiescent(h.machine), []);

test('a read fault on a shared tmpfs-like mapping caches an order-4 folio and maps all 16 pages writable and clean', () => {
  const h = fileBoot();
  mapFile(h, B, 32);
  assert.equal(run(h, 0, handle_mm_fault(h.cpus[0], 0, B + 3, false)), VM_FAULT_OK);
  const f = folioAt(h, 0, B)!;
  assert.equal(f.order, 4);
  assert.equal(folioFlags(h.machine, f.folio) & FOLIO_ANON, 0);
  for (let i = 0; i < 16; i++) {
    const pte = pteAt(h, 0, B + i);
    assert.ok(pte_present(pte) && pte_write(pte) && !pte_dirty(pte), `entry ${i}`);
  }
  assert.equal(pteAt(h, 0, B + 16), 0, 'the next folio is not mapped');
  // the page cache holds 16 references, the mappings 16 more
  assert.equal(folioRef(h.machine, f.folio), 32);
  assert.equal(Atomics.load(h.machine.m, h.machine.mmWord(0, MM.RSS_FILE)), 16);
  clean(h);
});

test('a write-notify mapping maps read-only; the first write faults (wp_page_shared) and dirties the folio', () => {
  const h = fileBoot();
  mapFile(h, B, 16, { file: 1, writenotify: true });
  readPage(h, 0, 0, B);
  const f = folioAt(h, 0, B)!;
  assert.ok(!pte_write(pteAt(h, 0, B)));
  assert.ok(!folioDirty(h, f.folio));
  const w = writePage(h, 0, 0, B + 2);
  assert.equal(w.faults, 1);
  assert.equal(total(h, EV.WP_SHARED), 1);
  assert.ok(pte_write(pteAt(h, 0, B + 2)) && pte_dirty(pteAt(h, 0, B + 2)));
  assert.ok(!pte_write(pteAt(h, 0, B + 3)), 'only the written page became writable');
  assert.ok(folioDirty(h, f.folio));
  assert.equal(fileExpected(h.machine, h.machine.filePage(1, 2)), w.token);
  clean(h);
});

test('a write to a private file mapping copies the page into an anon page; the file is untouched', () => {
  const h = fileBoot();
  mapFile(h, B, 16, { shared: true, mm: 0 });
  const sharedWrite = writePage(h, 0, 0, B + 5); // the file page now holds a file token
  mapFile(h, B + 512, 16, { shared: false });
  const r = readPage(h, 0, 0, B + 512 + 5);
  assert.equal(r.value, sharedWrite.token, 'a private mapping reads the file until it writes');
  const w = writePage(h, 0, 0, B + 512 + 5);
  assert.equal(total(h, EV.WP_COPY), 1);
  const anon = folioAt(h, 0, B + 512 + 5)!;
  assert.ok(folioFlags(h.machine, anon.folio) & FOLIO_ANON);
  assert.notEqual(w.token, sharedWrite.token);
  assert.equal(readPage(h, 0, 0, B + 5).value, sharedWrite.token, 'the shared mapping still sees the file');
  assert.equal(Atomics.load(h.machine.m, h.machine.mmWord(0, MM.RSS_ANON)), 1);
  clean(h);
});

test('munmap of a folio whose entry 9 hardware dirtied marks the folio dirty (get_and_clear_full_ptes), and sync writes it', () => {
  const h = fileBoot();
  mapFile(h, B, 16);
  readPage(h, 0, 0, B);
  const f = folioAt(h, 0, B)!;
  const w = writePage(h, 0, 0, B + 9);
  assert.equal(w.faults, 0, 'writable from the read fault: the store only sets the dirty bit');
  assert.ok(pte_dirty(pteAt(h, 0, B + 9)) && !pte_dirty(pteAt(h, 0, B)));
  assert.ok(!folioDirty(h, f.folio), 'the PTE is the only record of the write');
  assert.equal(run(h, 0, do_munmap(h.cpus[0], 0, B, B + 16)), 0);
  assert.ok(folioDirty(h, f.folio));
  assert.equal(total(h, EV.ZAP_DIRTY), 1);
  assert.equal(run(h, 0, final_sync(h.cpus[0])), null);
  assert.equal(checkDisk(h.machine), null);
  assert.deepEqual(checkNoLeaks(h.machine), [], 'the page cache was truncated');
});

test('writeback cleans and write-protects every PTE and flushes; the next store faults and dirties the folio again', () => {
  const h = fileBoot();
  mapFile(h, B, 16);
  const w1 = writePage(h, 0, 0, B + 4);
  assert.ok(tlb_lookup(h.cpus[0], 0, B + 4), 'the store filled the TLB');
  run(h, 0, write_cache_pages(h.cpus[0], 0));
  const pte = pteAt(h, 0, B + 4);
  assert.ok(pte_present(pte) && !pte_write(pte) && !pte_dirty(pte));
  assert.equal(tlb_lookup(h.cpus[0], 0, B + 4), 0, 'flushed');
  assert.equal(Atomics.load(h.machine.m, h.machine.L.disk + h.machine.filePage(0, 4)), w1.token, 'on disk');
  const f = folioAt(h, 0, B)!;
  assert.ok(!folioDirty(h, f.folio));
  const w2 = writePage(h, 0, 0, B + 4);
  assert.equal(w2.faults, 1);
  assert.ok(folioDirty(h, f.folio));
  assert.equal(run(h, 0, final_sync(h.cpus[0])), null);
});

test('MADV_DONTNEED of a shared file page drops the mapping, not the data', () => {
  const h = fileBoot();
  mapFile(h, B, 16);
  const w = writePage(h, 0, 0, B + 1);
  run(h, 0, madvise_dontneed(h.cpus[0], 0, B, B + 16));
  assert.equal(pteAt(h, 0, B + 1), 0);
  assert.equal(readPage(h, 0, 0, B + 1).value, w.token);
  clean(h);
});

test('fork: a shared file VMA is not copied (the child faults from the page cache); a private one is, read-only', () => {
  const h = fileBoot();
  mapFile(h, B, 16);
  mapFile(h, B + 512, 16, { shared: false, file: 1 });
  const w = writePage(h, 0, 0, B + 2);
  readPage(h, 0, 0, B + 512 + 3);
  const child = run(h, 0, dup_mm(h.cpus[0], 0));
  assert.ok(child > 0);
  assert.equal(pteAt(h, child, B + 2), 0, 'shared: not copied');
  assert.ok(pte_present(pteAt(h, child, B + 512 + 3)), 'private: copied');
  assert.equal(readPage(h, 0, child, B + 2).value, w.token);
  // 16 copied private entries (the read fault mapped the whole order-4 folio) + 16 from the child's own fault
  assert.equal(Atomics.load(h.machine.m, h.machine.mmWord(child, MM.RSS_FILE)), 32);
  clean(h);
  run(h, 0, process_exit(h.cpus[0], child));
  clean(h);
});

test('two CPUs fault the same file page: one folio is cached, the loser drops its own', () => {
  const h = boot({ cpus: 2, files: FILES });
  mapFile(h, B, 16);
  const s0 = stepper(h, 0, handle_mm_fault(h.cpus[0], 0, B, false));
  s0.until(() => s0.cpu.counters[EV.FILE_FAULT] > 0 && s0.last === 9 /* P.ALLOC: about to insert */);
  readPage(h, 1, 0, B + 1); // CPU1 caches and maps the folio first
  assert.equal(s0.finish(), VM_FAULT_OK);
  assert.equal(total(h, EV.FILE_ADD_RACE), 1);
  clean(h);
});

test('a lost write is reported by the writeback that misses it (the final sync\'s, here)', () => {
  const h = fileBoot();
  mapFile(h, B, 16);
  readPage(h, 0, 0, B); // maps the folio writable and clean: the store below faults not
  writePage(h, 0, 0, B + 4);
  // the store's only record is the PTE dirty bit: clear it behind the kernel's back
  Atomics.and(h.machine.m, h.machine.ptep(0, B + 4), ~PTE_DIRTY);
  drive(process_exit(h.cpus[0], 0));
  assert.throws(() => drive(final_sync(h.cpus[0])), (e: unknown) => e instanceof Violation && e.invariant === 'writeback-lost-write' && e.details.pgoff === 4);
});

test('fault-around: a read fault maps the cached pages of its aligned 16-page window (not the uncached, not past the VMA); the faulting page cached: one fault', () => {
  for (const arch of ['generic', 'contpte'] as const) {
    const h = fileBoot({ arch, files: { count: 2, pages: 64, orders: [0] } });
    mapFile(h, B, 32, { mm: 0 });
    mapFile(h, B + 64, 12, { mm: 0, pgoff: 4 }); // a second mapping of pages 4..15, 12 pages long
    // pages 0..9 and 20 cached through the first mapping, then zapped from it
    for (const v of [...Array(10).keys(), 20]) readPage(h, 0, 0, B + v);
    run(h, 0, madvise_dontneed(h.cpus[0], 0, B, B + 32));
    // a read of page 5 through the second mapping (its vpn B+65): the window is its pages 4..15,
    // clamped to the VMA's 12; cached among them: 4..9
    const before = total(h, EV.FAULT);
    assert.equal(run(h, 0, handle_mm_fault(h.cpus[0], 0, B + 65, false)), VM_FAULT_OK);
    assert.equal(total(h, EV.FAULT_AROUND_HIT), 1, 'resolved by fault-around');
    for (let i = 0; i < 12; i++) {
      const pte = pteAt(h, 0, B + 64 + i);
      assert.equal(pte_present(pte), i < 6, `page ${4 + i}: mapped only if cached`);
      if (pte_present(pte)) {
        assert.ok(pte_write(pte) && !pte_dirty(pte), `page ${4 + i}: the VMA's protection, clean`);
        // arm64 maps the prefaulted pages old (arch_wants_old_prefaulted_pte), the faulting one young
        assert.equal(pte_young(pte), arch === 'generic' || i === 1, `${arch}: page ${4 + i} young`);
      }
    }
    assert.equal(total(h, EV.FAULT_AROUND), 5);
    assert.equal(total(h, EV.FAULT) - before, 1);
    clean(h);
    // the data reads back through the prefaulted entries without another fault
    for (let i = 0; i < 6; i++) readPage(h, 0, 0, B + 64 + i);
    assert.equal(total(h, EV.FAULT) - before, 1);
    run(h, 0, process_exit(h.cpus[0], 0));
    assert.equal(run(h, 0, final_sync(h.cpus[0])), null);
    assert.deepEqual(checkNoLeaks(h.machine), [], 'every reference fault-around took was dropped');
  }
});

test('fault-around skips a locked folio (no waiting) and still maps the rest; the faulting page uncached falls back to the read path', () => {
  const h = fileBoot({ files: { count: 2, pages: 64, orders: [0] } });
  mapFile(h, B, 16);
  for (let v = 0; v < 4; v++) readPage(h, 0, 0, B + v);
  run(h, 0, madvise_dontneed(h.cpus[0], 0, B, B + 16));
  // lock page 2's folio (writeback would hold it), then fault page 8 (not cached)
  const f2 = Atomics.load(h.machine.m, h.machine.L.pcache + h.machine.filePage(0, 2));
  Atomics.or(h.machine.m, h.machine.L.fFlags + f2, FOLIO_LOCKED);
  assert.equal(run(h, 0, handle_mm_fault(h.cpus[0], 0, B + 8, false)), VM_FAULT_OK);
  assert.equal(total(h, EV.FAULT_AROUND_HIT), 0, 'page 8 was not cached: the read path');
  assert.deepEqual([0, 1, 2, 3, 8].map((i) => pte_present(pteAt(h, 0, B + i))), [true, true, false, true, true]);
  Atomics.and(h.machine.m, h.machine.L.fFlags + f2, ~FOLIO_LOCKED);
  clean(h);
});
