#!/usr/bin/env node
// Writes the generated part of the conformance set (issue 16): configs/conformance/gen-*.json.
// Each family is a small scenario the kernel and the model both run; `conform` compares what a
// process sees after every step. Run: node scripts/gen-conformance.mjs (rewrites the gen-* files).
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = join(process.cwd(), 'configs', 'conformance');
mkdirSync(dir, { recursive: true });
for (const f of readdirSync(dir)) if (f.startsWith('gen-')) rmSync(join(dir, f));
const hex = (n) => `0x${n.toString(16)}`;
const P = 4096;
const files = [];
const put = (name, title, config, steps) => {
  files.push(name);
  writeFileSync(join(dir, `gen-${name}.json`), JSON.stringify({ name: title, config, steps }, null, 1) + '\n');
};
const mmap = (proc, addr, len, prot = 'rw') => ({ op: 'mmap', proc, addr: hex(addr), len: hex(len), prot, kind: 'anon' });
const acc = (op, proc, addr, len, extra = {}) => ({ op, proc, addr: hex(addr), len: hex(len), ...extra });
const KB = (o) => (P << o) / 1024;
const ORDERS = [2, 3, 4, 5, 6, 7, 8, 9];
// a base far enough up for order 9 alignment (2 MiB) and below the default 32 MiB address space
const BASE = 0x800000;

// 1. The anon fault's order choice, size by size: alignment, VMA edges, a PTE in the range.
for (const o of ORDERS) {
  const F = P << o;
  const cfg = { anonOrders: [0, o] };
  put(`order${o}-aligned`, `anon write fault in a VMA of one aligned ${KB(o)} KiB range: order ${o}`, cfg, [mmap('A', BASE, F), acc('write', 'A', BASE, P), acc('write', 'A', BASE + F - P, P)]);
  put(`order${o}-unaligned-start`, `anon write fault in a ${KB(o)} KiB VMA that starts half a folio off alignment: no aligned range fits, order 0`, cfg, [mmap('A', BASE + F / 2, F), acc('write', 'A', BASE + F / 2, P), acc('write', 'A', BASE + F - P, P)]);
  put(`order${o}-vma-tail`, `anon write faults in a VMA of 1.5 aligned ${KB(o)} KiB ranges: order ${o} in the first, order 0 in the tail that crosses the VMA end`, cfg, [mmap('A', BASE, F + F / 2), acc('write', 'A', BASE + F + P, P), acc('write', 'A', BASE, P)]);
  put(`order${o}-pte-in-range`, `anon write fault in an aligned ${KB(o)} KiB range that already holds an entry (the zero page, by a read): order 0`, cfg, [mmap('A', BASE, 2 * F), acc('read', 'A', BASE + 3 * P, P), acc('write', 'A', BASE, P), acc('write', 'A', BASE + F + P, P)]);
  put(`order${o}-read-zero`, `anon read faults map the zero page whatever the ${KB(o)} KiB setting; a write then maps a folio (order ${o} only where the range holds no entry)`, cfg, [mmap('A', BASE, 2 * F), acc('read', 'A', BASE, P), acc('write', 'A', BASE, P), acc('write', 'A', BASE + F, P)]);
}
// several sizes at once: the largest that fits is chosen
const MULTI = [[0, 2, 4], [0, 2, 4, 9], [0, 3, 5, 7], [0, 2, 3, 4, 5]];
for (const orders of MULTI) {
  const name = orders.slice(1).join('-');
  const cfg = { anonOrders: orders };
  const top = Math.max(...orders);
  const F = P << top;
  put(`multi${name}-fits`, `anon write fault with sizes ${orders.slice(1).map(KB).join(', ')} KiB enabled, a VMA of one aligned ${KB(top)} KiB range: the largest`, cfg, [mmap('A', BASE, F), acc('write', 'A', BASE, P)]);
  put(`multi${name}-short-vma`, `sizes ${orders.slice(1).map(KB).join(', ')} KiB enabled, a VMA of 3/4 of the largest: the next that fits`, cfg, [mmap('A', BASE, (F * 3) / 4), acc('write', 'A', BASE, P), acc('write', 'A', BASE + (F * 3) / 4 - P, P)]);
  put(`multi${name}-pte-in-range`, `sizes ${orders.slice(1).map(KB).join(', ')} KiB enabled, a read in the middle of the largest range first: smaller folios around it`, cfg, [mmap('A', BASE, F), acc('read', 'A', BASE + F / 2, P), acc('write', 'A', BASE, P), acc('write', 'A', BASE + F - P, P)]);
}

// 2. fork, COW and pins, orders 0, 2, 4 and 9
for (const o of [0, 2, 3, 4, 5, 9]) {
  const F = P << o, cfg = { anonOrders: o ? [0, o] : [0] };
  const N = Math.max(F, 4 * P);
  const setup = [mmap('A', BASE, N), acc('write', 'A', BASE, N)];
  put(`fork-o${o}-parent-writes`, `order ${o}: fork, the parent writes one page (a copy), both read`, cfg, [...setup, { op: 'fork', proc: 'A', child: 'B' }, acc('write', 'A', BASE + P, P), acc('read', 'B', BASE, N), acc('read', 'A', BASE, N)]);
  put(`fork-o${o}-child-writes`, `order ${o}: fork, the child writes one page, then exits; the parent writes the same page`, cfg, [...setup, { op: 'fork', proc: 'A', child: 'B' }, acc('write', 'B', BASE + 2 * P, P), acc('read', 'A', BASE, N), { op: 'exit', proc: 'B' }, acc('write', 'A', BASE + 2 * P, P), acc('write', 'A', BASE, P)]);
  put(`fork-o${o}-child-exits`, `order ${o}: fork, the child exits at once; the parent writes each page (6.12 reuses only AnonExclusive pages: it copies)`, cfg, [...setup, { op: 'fork', proc: 'A', child: 'B' }, { op: 'exit', proc: 'B' }, acc('write', 'A', BASE, N), acc('read', 'A', BASE, N)]);
  put(`fork-o${o}-pin`, `order ${o}: a long-term R/W pin on page 1, fork: the child gets a copy of the pinned folio, the parent keeps it`, cfg, [...setup, { op: 'pin', proc: 'A', addr: hex(BASE + P), len: hex(P), mode: 'rw', id: 'p' }, { op: 'fork', proc: 'A', child: 'B' }, acc('read', 'B', BASE, N), acc('write', 'A', BASE + P, P), acc('read', 'B', BASE + P, P), { op: 'unpin', id: 'p' }, { op: 'exit', proc: 'B' }]);
}

// 3. partial MADV_DONTNEED, mprotect splits, mremap, MADV_DONTFORK, munmap
for (const o of [2, 3, 4, 5, 9]) {
  const F = P << o, cfg = { anonOrders: [0, o] };
  const setup = [mmap('A', BASE, F), acc('write', 'A', BASE, F)];
  put(`dontneed-o${o}-half`, `order ${o}: MADV_DONTNEED of the second half: partly mapped, the rest intact; a read there maps the zero page`, cfg, [...setup, acc('madvise', 'A', BASE + F / 2, F / 2, { advice: 'dontneed' }), acc('read', 'A', BASE, F), acc('write', 'A', BASE + F / 2, P)]);
  put(`dontneed-o${o}-one`, `order ${o}: MADV_DONTNEED of one page in the middle, then a write there`, cfg, [...setup, acc('madvise', 'A', BASE + 2 * P, P, { advice: 'dontneed' }), acc('write', 'A', BASE + 2 * P, P), acc('read', 'A', BASE, F)]);
  put(`mprotect-o${o}-middle`, `order ${o}: mprotect(PROT_READ) of the middle half splits the VMA; a write there faults; rw again and the write goes through`, cfg, [...setup, acc('mprotect', 'A', BASE + F / 4, F / 2, { prot: 'r' }), acc('write', 'A', BASE + F / 4, P, { expectFault: true }), acc('read', 'A', BASE, F), acc('mprotect', 'A', BASE + F / 4, F / 2, { prot: 'rw' }), acc('write', 'A', BASE + F / 4, P)]);
  put(`mprotect-o${o}-fork`, `order ${o}: fork, mprotect(PROT_READ) and back in the parent, then the parent writes (COW still)`, cfg, [...setup, { op: 'fork', proc: 'A', child: 'B' }, acc('mprotect', 'A', BASE, F, { prot: 'r' }), acc('mprotect', 'A', BASE, F, { prot: 'rw' }), acc('write', 'A', BASE, P), acc('read', 'B', BASE, F)]);
  const DEST = 0x1400000;
  put(`mremap-o${o}-half`, `order ${o}: mremap the second half of the folio elsewhere: one folio, two places; writes there`, cfg, [...setup, acc('mremap', 'A', BASE + F / 2, F / 2, { newAddr: hex(DEST) }), acc('read', 'A', DEST, F / 2), acc('write', 'A', DEST, P), acc('write', 'A', BASE, P)]);
  put(`mremap-o${o}-fork`, `order ${o}: fork, then the parent moves the whole folio; the child keeps it in place`, cfg, [...setup, { op: 'fork', proc: 'A', child: 'B' }, acc('mremap', 'A', BASE, F, { newAddr: hex(DEST) }), acc('write', 'A', DEST, P), acc('read', 'B', BASE, F)]);
  put(`munmap-o${o}-half`, `order ${o}: munmap of the first half of the folio: the rest stays mapped with its data; a write in the gap faults`, cfg, [...setup, acc('munmap', 'A', BASE, F / 2), acc('read', 'A', BASE + F / 2, F / 2), acc('write', 'A', BASE, P, { expectFault: true }), acc('write', 'A', BASE + F / 2, P)]);
  put(`dontfork-o${o}`, `order ${o}: MADV_DONTFORK of the first half, fork: the child has only the second half; DOFORK and fork again`, cfg, [...setup, acc('madvise', 'A', BASE, F / 2, { advice: 'dontfork' }), { op: 'fork', proc: 'A', child: 'B' }, acc('read', 'B', BASE + F / 2, F / 2), acc('madvise', 'A', BASE, F / 2, { advice: 'dofork' }), { op: 'fork', proc: 'A', child: 'C' }, acc('read', 'C', BASE, F)]);
}

// 4. tmpfs file mappings (order 0 page cache: tmpfs mounts without huge=)
const fcfg = { anonOrders: [0, 4], files: { count: 1, pages: 64, orders: [0] } };
const fmap = (proc, addr, len, shared, offset = 0, prot = 'rw') => ({ op: 'mmap', proc, addr: hex(addr), len: hex(len), prot, kind: 'file', file: 'f', offset: hex(offset), shared });
put('file-shared-write-read', 'a shared tmpfs mapping: writes, a second process maps it and reads them', fcfg, [fmap('A', BASE, 16 * P, true), acc('write', 'A', BASE, 8 * P), fmap('B', BASE, 16 * P, true), acc('read', 'B', BASE, 16 * P)]);
put('file-private-cow', 'a private tmpfs mapping: a read maps the page cache page, a write copies it (anon)', fcfg, [fmap('A', BASE, 16 * P, true), acc('write', 'A', BASE, 4 * P), fmap('B', 0x1000000, 16 * P, false), acc('read', 'B', 0x1000000, 4 * P), acc('write', 'B', 0x1000000 + P, P), acc('read', 'A', BASE, 4 * P)]);
put('file-shared-fork', 'a shared tmpfs mapping across fork: the child writes, the parent reads it', fcfg, [fmap('A', BASE, 16 * P, true), acc('write', 'A', BASE, 2 * P), { op: 'fork', proc: 'A', child: 'B' }, acc('write', 'B', BASE + P, P), acc('read', 'A', BASE, 2 * P)]);
put('file-shared-dontneed', 'MADV_DONTNEED of a shared tmpfs mapping: the pages stay in the file', fcfg, [fmap('A', BASE, 16 * P, true), acc('write', 'A', BASE, 4 * P), acc('madvise', 'A', BASE, 4 * P, { advice: 'dontneed' }), acc('read', 'A', BASE, 4 * P)]);
put('file-shared-offset', 'a shared tmpfs mapping at a file offset sees the pages another mapping wrote there', fcfg, [fmap('A', BASE, 16 * P, true), acc('write', 'A', BASE + 4 * P, 4 * P), fmap('A', 0x1000000, 8 * P, true, 4 * P), acc('read', 'A', 0x1000000, 8 * P)]);
put('file-shared-mprotect', 'mprotect(PROT_READ) of a shared tmpfs mapping: a write faults; rw again and it goes through', fcfg, [fmap('A', BASE, 16 * P, true), acc('write', 'A', BASE, 2 * P), acc('mprotect', 'A', BASE, 16 * P, { prot: 'r' }), acc('write', 'A', BASE, P, { expectFault: true }), acc('mprotect', 'A', BASE, 16 * P, { prot: 'rw' }), acc('write', 'A', BASE, P), acc('read', 'A', BASE, 2 * P)]);
// fault-around: read faults near pages another mapping cached, the window clamped by the VMA
put('file-faultaround-window', 'fault-around: one read maps the cached pages of its aligned 16-page window', fcfg, [fmap('A', BASE, 32 * P, true), acc('write', 'A', BASE, 32 * P), fmap('B', BASE, 32 * P, true), acc('read', 'B', BASE + 5 * P, P), acc('read', 'B', BASE + 20 * P, P), acc('read', 'B', BASE, 32 * P)]);
put('file-faultaround-vma-edge', 'fault-around clamped by the VMA: a 6-page mapping at file offset 3 maps only its own pages', fcfg, [fmap('A', BASE, 32 * P, true), acc('write', 'A', BASE, 32 * P), fmap('B', 0x1000000, 6 * P, true, 3 * P), acc('read', 'B', 0x1000000 + 2 * P, P), acc('read', 'B', 0x1000000, 6 * P)]);
put('file-faultaround-partial-cache', 'fault-around maps only cached pages: half the file written, a read of the other half faults each', fcfg, [fmap('A', BASE, 32 * P, true), acc('write', 'A', BASE, 8 * P), fmap('B', BASE, 32 * P, true), acc('read', 'B', BASE + 2 * P, P), acc('read', 'B', BASE + 12 * P, 4 * P), acc('read', 'B', BASE, 16 * P)]);
put('file-faultaround-private', 'fault-around in a private mapping maps the cached pages read-only; a write copies one', fcfg, [fmap('A', BASE, 16 * P, true), acc('write', 'A', BASE, 16 * P), fmap('B', 0x1000000, 16 * P, false), acc('read', 'B', 0x1000000 + 3 * P, P), acc('write', 'B', 0x1000000 + 4 * P, P), acc('read', 'B', 0x1000000, 16 * P), acc('read', 'A', BASE, 16 * P)]);
// 5. the per-size mTHP policy changed mid-scenario (`thp` steps): each size on, then off
const SIZES = { 2: '16K', 3: '32K', 4: '64K', 5: '128K', 6: '256K', 7: '512K', 8: '1M', 9: '2M' };
for (const o of ORDERS) {
  const F = P << o, size = SIZES[o];
  put(`thp-${size}-always-never`, `thp step: ${size} "always" mid-scenario, a write maps an order-${o} folio; "never" again, the next range gets order 0`, { anonOrders: [0] }, [
    mmap('A', BASE, 2 * F), acc('write', 'A', BASE + F - P, P), { op: 'thp', size, enabled: 'always' }, acc('write', 'A', BASE, P), { op: 'observe' },
    { op: 'thp', size, enabled: 'never', shmemEnabled: 'never' }, acc('write', 'A', BASE + F, P)]);
}
put('thp-inherit-madvise', 'thp step: 64K "inherit" with the top level "never", then "madvise" without MADV_HUGEPAGE: order 0 both times; "always" again: order 4', { anonOrders: [0, 4] }, [
  mmap('A', BASE, 0x40000), { op: 'thp', size: '64K', enabled: 'inherit' }, acc('write', 'A', BASE, P), { op: 'thp', size: '64K', enabled: 'madvise' },
  acc('write', 'A', BASE + 0x10000, P), { op: 'thp', size: '64K', enabled: 'always' }, acc('write', 'A', BASE + 0x20000, P)]);
put('thp-switch-sizes', 'thp steps: 64K off and 16K on between two faults: the largest enabled size that fits, order 4 then 2; the order-4 folio stays', { anonOrders: [0, 4] }, [
  mmap('A', BASE, 0x40000), acc('write', 'A', BASE, P), { op: 'thp', size: '64K', enabled: 'never' }, { op: 'thp', size: '16K', enabled: 'always' },
  acc('write', 'A', BASE + 0x10000, P), acc('read', 'A', BASE, 0x20000), { op: 'fork', proc: 'A', child: 'B' }, acc('write', 'B', BASE + 0x20000, P)]);

// 6. write-notify files: ext4 over a loop device (the file families above, shared mappings with
// write notification), and writeback: folio_mkclean write-protects, the next store faults again
const wmap = (proc, addr, len, shared, offset = 0, prot = 'rw') => ({ ...fmap(proc, addr, len, shared, offset, prot), ...(shared ? { writenotify: true } : {}) });
put('ext4-shared-write-read', 'ext4 (write notify): writes through a shared mapping, a second process maps it and reads them', fcfg, [wmap('A', BASE, 16 * P, true), acc('write', 'A', BASE, 8 * P), wmap('B', BASE, 16 * P, true), acc('read', 'B', BASE, 16 * P)]);
put('ext4-read-then-write', 'ext4: a read fault maps the page read-only (write notify), the first store faults again (page_mkwrite) and dirties the folio', fcfg, [wmap('A', BASE, 16 * P, true), acc('read', 'A', BASE, 4 * P), acc('write', 'A', BASE, 2 * P), acc('read', 'A', BASE, 4 * P)]);
put('ext4-private-cow', 'ext4: a private mapping of a written file: a read maps the page cache page, a write copies it (anon)', fcfg, [wmap('A', BASE, 16 * P, true), acc('write', 'A', BASE, 4 * P), wmap('B', 0x1000000, 16 * P, false), acc('read', 'B', 0x1000000, 4 * P), acc('write', 'B', 0x1000000 + P, P), acc('read', 'A', BASE, 4 * P)]);
put('ext4-shared-fork', 'ext4: a shared write-notify mapping across fork: the child writes, the parent reads it', fcfg, [wmap('A', BASE, 16 * P, true), acc('write', 'A', BASE, 2 * P), { op: 'fork', proc: 'A', child: 'B' }, acc('write', 'B', BASE + P, P), acc('read', 'A', BASE, 2 * P)]);
put('ext4-shared-dontneed', 'ext4: MADV_DONTNEED of a shared mapping: the pages stay in the file, dirty', fcfg, [wmap('A', BASE, 16 * P, true), acc('write', 'A', BASE, 4 * P), acc('madvise', 'A', BASE, 4 * P, { advice: 'dontneed' }), acc('read', 'A', BASE, 4 * P)]);
put('ext4-shared-mprotect', 'ext4: mprotect(PROT_READ) and back of a write-notify mapping: clean pages stay read-only, a write faults', fcfg, [wmap('A', BASE, 16 * P, true), acc('write', 'A', BASE, 2 * P), acc('read', 'A', BASE + 2 * P, 2 * P), acc('mprotect', 'A', BASE, 16 * P, { prot: 'r' }), acc('write', 'A', BASE, P, { expectFault: true }), acc('mprotect', 'A', BASE, 16 * P, { prot: 'rw' }), acc('write', 'A', BASE, P), acc('write', 'A', BASE + 2 * P, P), acc('read', 'A', BASE, 4 * P)]);
put('ext4-faultaround-window', 'ext4: fault-around maps the cached pages of the aligned 16-page window, read-only', fcfg, [wmap('A', BASE, 32 * P, true), acc('write', 'A', BASE, 32 * P), wmap('B', BASE, 32 * P, true), acc('read', 'B', BASE + 5 * P, P), acc('write', 'B', BASE + 6 * P, P), acc('read', 'B', BASE, 32 * P)]);
put('ext4-writeback', 'ext4: writeback cleans the folios and write-protects their PTEs; the next store faults and dirties the folio again', fcfg, [wmap('A', BASE, 16 * P, true), acc('write', 'A', BASE, 4 * P), { op: 'writeback', file: 'f' }, acc('read', 'A', BASE, 4 * P), acc('write', 'A', BASE + P, P), { op: 'writeback', file: 'f' }, acc('write', 'A', BASE + P, 2 * P)]);
put('ext4-writeback-fork', 'ext4: two processes share dirty pages; writeback cleans both mappings; each store faults again', fcfg, [wmap('A', BASE, 16 * P, true), acc('write', 'A', BASE, 4 * P), { op: 'fork', proc: 'A', child: 'B' }, acc('read', 'B', BASE, 4 * P), { op: 'writeback', file: 'f' }, acc('write', 'B', BASE + 2 * P, P), acc('write', 'A', BASE + 2 * P, 2 * P), acc('read', 'B', BASE, 4 * P)]);
put('ext4-sync-private', 'ext4: sync(2) cleans the file; a private mapping still maps the clean page cache pages, a write copies', fcfg, [wmap('A', BASE, 16 * P, true), acc('write', 'A', BASE, 4 * P), wmap('B', 0x1000000, 16 * P, false), acc('read', 'B', 0x1000000, 4 * P), { op: 'sync' }, acc('write', 'B', 0x1000000, P), acc('write', 'A', BASE + P, P), acc('read', 'B', 0x1000000, 4 * P)]);

// 7. MADV_FREE, MADV_COLD and MADV_PAGEOUT without memory pressure (no swap in the guest): nothing
// anon is discarded or paged out; clean page-cache folios are dropped by PAGEOUT
for (const o of [2, 4, 9]) {
  const F = P << o;
  const cfg = { anonOrders: [0, o] };
  const setup = [mmap('A', BASE, F), acc('write', 'A', BASE, F)];
  put(`free-o${o}-whole`, `order ${o}: MADV_FREE of the whole folio: still mapped with its data (no reclaim ran); a store dirties it again`, cfg, [...setup, acc('madvise', 'A', BASE, F, { advice: 'free' }), acc('read', 'A', BASE, F), acc('write', 'A', BASE + P, P), acc('read', 'A', BASE, 2 * P)]);
  put(`cold-o${o}-whole`, `order ${o}: MADV_COLD of the whole folio: nothing a process sees changes`, cfg, [...setup, acc('madvise', 'A', BASE, F, { advice: 'cold' }), acc('read', 'A', BASE, F), acc('write', 'A', BASE, P)]);
  put(`pageout-o${o}-whole`, `order ${o}: MADV_PAGEOUT of the whole anon folio with no swap: it stays mapped with its data`, cfg, [...setup, acc('madvise', 'A', BASE, F, { advice: 'pageout' }), acc('read', 'A', BASE, F), acc('write', 'A', BASE, P)]);
  put(`free-o${o}-fork`, `order ${o}: fork, then the parent's MADV_FREE: a folio mapped by two processes is left alone`, cfg, [...setup, { op: 'fork', proc: 'A', child: 'B' }, acc('madvise', 'A', BASE, F, { advice: 'free' }), acc('read', 'A', BASE, F), acc('read', 'B', BASE, F)]);
}
put('file-private-cold', 'MADV_COLD of a private tmpfs mapping that maps page-cache pages: nothing a process sees changes', fcfg, [fmap('A', BASE, 16 * P, true), acc('write', 'A', BASE, 4 * P), fmap('B', 0x1000000, 16 * P, false), acc('read', 'B', 0x1000000, 4 * P), acc('madvise', 'B', 0x1000000, 4 * P, { advice: 'cold' }), acc('read', 'B', 0x1000000, 4 * P)]);
put('file-shared-pageout', 'MADV_PAGEOUT of a shared tmpfs mapping with no swap: the pages stay in the file and mapped', fcfg, [fmap('A', BASE, 16 * P, true), acc('write', 'A', BASE, 4 * P), acc('madvise', 'A', BASE, 4 * P, { advice: 'pageout' }), acc('read', 'A', BASE, 4 * P)]);
put('ext4-read-pageout', 'ext4: MADV_PAGEOUT of clean page-cache pages mapped once: dropped from the cache and unmapped; a read faults them in again', fcfg, [wmap('A', BASE, 16 * P, true), acc('write', 'A', BASE, 4 * P), { op: 'sync' }, wmap('B', 0x1000000, 16 * P, false), acc('read', 'B', 0x1000000, 4 * P), acc('madvise', 'B', 0x1000000, 4 * P, { advice: 'pageout' }), { op: 'observe' }, acc('read', 'B', 0x1000000, 4 * P)]);
put('ext4-shared-pageout-dirty', 'ext4: MADV_PAGEOUT of dirty pages of a shared mapping', fcfg, [wmap('A', BASE, 16 * P, true), acc('write', 'A', BASE, 4 * P), acc('madvise', 'A', BASE, 4 * P, { advice: 'pageout' }), { op: 'observe' }, acc('read', 'A', BASE, 4 * P)]);
console.log(`wrote ${files.length} files to ${dir}`);
