// VMA merging (src/linux/mm/mmap.ts: vma_mergeable, vma_merge_plan, commit_merge; the i_mmap's
// coalescing insert): a new mapping next to a compatible VMA extends it instead of taking a slot
// (anon: the same flags; file: the same file, flags and contiguous pages), one between two
// compatible VMAs joins them, and anything else gets its own VMA. The i_mmap keeps one entry per
// mapping of a linear offset, so writeback's rmap walk still finds every entry of a merged VMA.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkNoLeaks, checkQuiescent } from '../../../src/check/invariants.js';
import { do_mmap, i_mmap_entries, vma_maps_folio_out_of_order, vma_mergeable, vmas } from '../../../src/linux/mm/mmap.js';
import { do_mprotect } from '../../../src/linux/mm/mprotect.js';
import { process_exit } from '../../../src/linux/kernel/fork.js';
import { write_cache_pages } from '../../../src/linux/mm/page-writeback.js';
import { VM_ANON, VM_DONTFORK, VM_LIVE, VM_READ, VM_SHARED, VM_WRITE } from '../../../src/machine/machine.js';
import { EV } from '../../../src/machine/events.js';
import { boot, type Harness, mapAnon, mapFile, readPage, run, total, writePage } from '../../helpers/machine.js';

const B = 1024;
const RW_ANON = VM_READ | VM_WRITE | VM_ANON;
const layout = (h: Harness, mm = 0) => vmas(h.machine, mm).map((v) => (v.file >= 0 ? [v.start, v.end, v.file, v.pgoff] : [v.start, v.end]));
const mmapAt = (h: Harness, start: number, len: number, flags = RW_ANON, file = -1, pgoff = 0) => run(h, 0, do_mmap(h.cpus[0], 0, len, 1, start, flags, true, file, pgoff));

test('vma_mergeable: adjacent, the same flags and file, and for a file contiguous pages', () => {
  const a = { start: 10, end: 20, flags: RW_ANON | VM_LIVE, file: -1, pgoff: 0 };
  assert.ok(vma_mergeable(a, { ...a, start: 20, end: 30 }));
  assert.ok(!vma_mergeable(a, { ...a, start: 21, end: 30 }), 'a gap');
  assert.ok(!vma_mergeable(a, { ...a, start: 20, end: 30, flags: a.flags | VM_DONTFORK }), 'other flags');
  assert.ok(!vma_mergeable(a, { ...a, start: 20, end: 30, flags: VM_READ | VM_ANON | VM_LIVE }), 'read-only next to read-write');
  const f = { start: 10, end: 20, flags: VM_READ | VM_WRITE | VM_SHARED | VM_LIVE, file: 1, pgoff: 5 };
  assert.ok(vma_mergeable(f, { ...f, start: 20, end: 30, pgoff: 15 }), 'the file pages go on');
  assert.ok(!vma_mergeable(f, { ...f, start: 20, end: 30, pgoff: 16 }), 'a jump in the file');
  assert.ok(!vma_mergeable(f, { ...f, start: 20, end: 30, pgoff: 15, file: 0 }), 'another file');
  assert.ok(!vma_mergeable(f, { ...f, start: 20, end: 30, pgoff: 15, file: -1, flags: RW_ANON | VM_LIVE }), 'anon next to a file');
  assert.ok(vma_mergeable(f, { ...f, start: 20, end: 30, pgoff: 16 }, { vmaMergePgoff: true } as never), 'deviation vma-merge-pgoff: no pgoff test');
});

test('mmap next to a compatible anon VMA extends it: after, before, and between two (which it joins)', () => {
  const h = boot({ maxVmas: 2 });
  mapAnon(h, B, 16);
  assert.equal(mmapAt(h, B + 16, 8), B + 16, 'after');
  assert.deepEqual(layout(h), [[B, B + 24]]);
  assert.equal(mmapAt(h, B - 8, 8), B - 8, 'before');
  assert.deepEqual(layout(h), [[B - 8, B + 24]]);
  assert.equal(mmapAt(h, B + 40, 8), B + 40, 'apart: its own slot');
  assert.deepEqual(layout(h), [[B - 8, B + 24], [B + 40, B + 48]]);
  // both slots taken: a new mapping that merges needs none; one between the two joins them
  assert.equal(mmapAt(h, B + 24, 16), B + 24);
  assert.deepEqual(layout(h), [[B - 8, B + 48]]);
  assert.equal(total(h, EV.VMA_MERGE), 3);
  assert.deepEqual(checkQuiescent(h.machine), []);
});

test('mmap without a free slot merges when it can and fails (ENOMEM) when it cannot', () => {
  const h = boot({ maxVmas: 2 });
  mapAnon(h, B, 16);
  mapAnon(h, B + 64, 16);
  assert.equal(mmapAt(h, B + 32, 8), -1, 'no slot, nothing to merge with');
  assert.equal(mmapAt(h, B + 16, 8), B + 16, 'no slot, but it merges');
  assert.equal(mmapAt(h, B + 24, 8, VM_READ | VM_ANON), -1, 'other flags do not merge');
  assert.deepEqual(layout(h), [[B, B + 24], [B + 64, B + 80]]);
});

test('mmap: VMAs of other flags stay apart, and mprotect back to the same flags merges them again', () => {
  const h = boot();
  mapAnon(h, B, 16);
  assert.equal(run(h, 0, do_mprotect(h.cpus[0], 0, B, B + 16, VM_READ)), 0);
  assert.equal(mmapAt(h, B + 16, 16), B + 16);
  assert.deepEqual(layout(h), [[B, B + 16], [B + 16, B + 32]]);
  assert.equal(run(h, 0, do_mprotect(h.cpus[0], 0, B, B + 16, VM_READ | VM_WRITE)), 0);
  assert.deepEqual(layout(h), [[B, B + 32]], 'vma_modify_flags merged them');
});

test('mmap of a file: contiguous pages of the same file merge; a jump in the file, another file or anon do not', () => {
  const h = boot({ files: { count: 2, pages: 256, orders: [0], writenotify: 'off' } });
  mapFile(h, B, 16, { pgoff: 32 });
  const FLAGS = VM_READ | VM_WRITE | VM_SHARED;
  assert.equal(mmapAt(h, B + 16, 16, FLAGS, 0, 48), B + 16, 'pages 48.. right after 32..47');
  assert.deepEqual(layout(h), [[B, B + 32, 0, 32]]);
  assert.equal(mmapAt(h, B - 16, 16, FLAGS, 0, 0), B - 16, 'pages 0..15 before 32..: a jump');
  assert.equal(mmapAt(h, B + 32, 16, FLAGS, 1, 64), B + 32, 'another file');
  assert.equal(mmapAt(h, B + 48, 16), B + 48, 'anon');
  assert.deepEqual(layout(h), [[B - 16, B, 0, 0], [B, B + 32, 0, 32], [B + 32, B + 48, 1, 64], [B + 48, B + 64]]);
  assert.deepEqual(checkQuiescent(h.machine), []);
});

test('mmap of a file next to its own mapping: the i_mmap entry grows (one entry per linear offset), and writeback finds every entry of the merged VMA', () => {
  const h = boot({ cpus: 2, files: { count: 1, pages: 256, orders: [0, 2], writenotify: 'off' } });
  mapFile(h, B, 16, { pgoff: 0 });
  assert.equal(mmapAt(h, B + 16, 16, VM_READ | VM_WRITE | VM_SHARED, 0, 16), B + 16);
  assert.deepEqual(layout(h), [[B, B + 32, 0, 0]]);
  assert.deepEqual(i_mmap_entries(h.machine, 0), [{ mm: 0, start: B, end: B + 32, pgoff: 0 }], 'one entry, grown over the new range');
  // tmpfs-like: a store's only record is its PTE's dirty bit, which only the rmap walk finds
  const tokens = [B + 3, B + 20, B + 31].map((v) => writePage(h, v % 2, 0, v).token);
  run(h, 0, write_cache_pages(h.cpus[0], 0));
  assert.deepEqual([3, 20, 31].map((p) => Atomics.load(h.machine.m, h.machine.L.disk + h.machine.filePage(0, p))), tokens, 'every store is on the disk');
  assert.deepEqual(checkQuiescent(h.machine), []);
  for (const v of [B + 3, B + 20, B + 31]) readPage(h, v % 2, 0, v);
});

test('vma_maps_folio_out_of_order: order-0 pages never count; a large folio counts only when a later address maps a lower page', () => {
  const h = boot({ anonOrders: [0, 4] });
  mapAnon(h, B, 16, { align: 16 });
  for (let v = B; v < B + 16; v++) writePage(h, v % 2, 0, v);
  assert.equal(vma_maps_folio_out_of_order(h.machine, 0, B, B + 16), false, 'in order');
  // swap two entries by hand (no kernel path does this to one VMA: the check only reads)
  const m = h.machine.m, a = h.machine.ptep(0, B + 2), b = h.machine.ptep(0, B + 9);
  const pa = Atomics.load(m, a), pb = Atomics.load(m, b);
  Atomics.store(m, a, pb);
  Atomics.store(m, b, pa);
  assert.equal(vma_maps_folio_out_of_order(h.machine, 0, B, B + 16), true);
  assert.equal(vma_maps_folio_out_of_order(h.machine, 0, B + 10, B + 16), false, 'the range decides');
  Atomics.store(m, a, pa);
  Atomics.store(m, b, pb);
  run(h, 0, process_exit(h.cpus[0], 0));
  assert.deepEqual(checkNoLeaks(h.machine), []);
});
