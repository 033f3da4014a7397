#!/usr/bin/env node
// Generates the scenario files in this folder: the anon fault/zap families for folio orders 0, 2,
// 4 and 8, and the COW families of the kernel's tools/testing/selftests/mm/cow.c (anon_test_cases
// crossed with its run types). A file whose ops the model can run today goes here; one that needs
// an op not modelled yet (see OPS in src/scenario/ops.ts) goes to pending/.
// Usage: node configs/scenarios/generate.mjs   (rewrites the generated files; edit here, not there)
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const PENDING = join(HERE, 'pending');
/** Ops (registry keys) the scenario runner can execute today: mirror of OPS in src/scenario/ops.ts. */
const RUNNABLE = new Set(['mmap', 'mmap:file', 'mprotect', 'munmap', 'madvise:dontneed', 'read', 'write', 'fork', 'exit', 'expect', 'pin', 'unpin', 'pin-read', 'pin-write', 'mremap', 'madvise:dontfork', 'madvise:dofork', 'writeback', 'sync']);

const P = 0x1000;
const hx = (n) => '0x' + n.toString(16);
const key = (s) => (s.op === 'madvise' ? `madvise:${s.advice}` : s.op === 'mmap' && s.kind === 'file' ? 'mmap:file' : s.op);

// ---- step builders ---------------------------------------------------------------------------
const mmap = (proc, addr, len, prot = 'rw', comment) => ({ op: 'mmap', proc, addr: hx(addr), len: hx(len), prot, kind: 'anon', ...(comment ? { comment } : {}) });
/** mmap of file pages [offset, offset + len) of the named file: shared unless opts.shared false; tmpfs-like unless opts.writenotify. */
const mmapFile = (proc, addr, len, file, opts = {}) => ({ op: 'mmap', proc, addr: hx(addr), len: hx(len), prot: opts.prot ?? 'rw', kind: 'file', file, offset: hx(opts.offset ?? 0), shared: opts.shared ?? true, ...(opts.writenotify ? { writenotify: true } : {}), ...(opts.comment ? { comment: opts.comment } : {}) });
const writeback = (file, comment) => ({ op: 'writeback', file, ...(comment ? { comment } : {}) });
const sync = () => ({ op: 'sync' });
const rangeOp = (op) => (proc, addr, len, extra = {}) => ({ op, proc, addr: hx(addr), len: hx(len), ...extra });
const write = rangeOp('write');
const read = rangeOp('read');
const munmap = rangeOp('munmap');
const dontneed = (proc, addr, len, extra = {}) => ({ op: 'madvise', proc, addr: hx(addr), len: hx(len), advice: 'dontneed', ...extra });
const madvise = (proc, addr, len, advice) => ({ op: 'madvise', proc, addr: hx(addr), len: hx(len), advice });
const mprotect = (proc, addr, len, prot) => ({ op: 'mprotect', proc, addr: hx(addr), len: hx(len), prot });
const mremap = (proc, addr, len, newAddr) => ({ op: 'mremap', proc, addr: hx(addr), len: hx(len), newAddr: hx(newAddr) });
const fork = (proc, child, comment) => ({ op: 'fork', proc, child, ...(comment ? { comment } : {}) });
const exit = (proc) => ({ op: 'exit', proc });
const pin = (proc, addr, len, mode, id, fast) => ({ op: 'pin', proc, addr: hx(addr), len: hx(len), mode, id, ...(fast ? { fast: true } : {}) });
const unpin = (id) => ({ op: 'unpin', id });
const pinRead = (id, comment) => ({ op: 'pin-read', id, ...(comment ? { comment } : {}) });
/** expect over [addr, addr + len) (len omitted: one page); sameFolioAs as [proc, addr]. */
const expect = (proc, addr, len, props, comment) => {
  const s = { op: 'expect', proc, addr: hx(addr) };
  if (len !== P) s.len = hx(len);
  for (const [k, v] of Object.entries(props)) s[k] = k === 'sameFolioAs' ? { proc: v[0], addr: hx(v[1]) } : v;
  if (comment) s.comment = comment;
  return s;
};
const MAPPED = { present: true, writable: true, exclusive: true, dirty: true, young: true };

// ---- output ----------------------------------------------------------------------------------
/** JSON with one step per line, so a failing step index is easy to find. */
function render(sc) {
  const top = Object.entries(sc).filter(([k]) => k !== 'steps').map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
  const steps = sc.steps.map((s, i) => `    ${JSON.stringify(s)}${i < sc.steps.length - 1 ? ',' : ''}`);
  return `{\n${top.join(',\n')},\n  "steps": [\n${steps.join('\n')}\n  ]\n}\n`;
}
const written = { runnable: [], pending: [] };
function emit(file, sc) {
  const runnable = sc.steps.every((s) => RUNNABLE.has(key(s)));
  const path = join(runnable ? HERE : PENDING, file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, render(sc));
  written[runnable ? 'runnable' : 'pending'].push(file);
}

// ---- anon fault and zap families, folio orders 0, 2, 4 and 8 -----------------------------------
// Each order gets its own 2 MiB region (its own PTE table). The VMA of order k is 2^k pages,
// naturally aligned, so k is the highest enabled order whose aligned range fits the VMA.
// Order 0 uses a 3-page VMA: no aligned order-2 range fits in it.
const M0 = 0x400000;
const ORDERS = [0, 2, 4, 8];
const ANON_CONFIG = { anonOrders: [0, 2, 4, 8], arch: 'generic', batching: true };
const regionOf = (k) => 0x400000 + ORDERS.indexOf(k) * 0x200000;
const vmaPages = (k) => (k === 0 ? 3 : 1 << k);
const kb = (k) => `${(4 << k)} KiB`;

function anonFamily(file, name, comment, perOrder) {
  const steps = [];
  for (const k of ORDERS) steps.push(...perOrder(k, regionOf(k), vmaPages(k)));
  emit(file, { name, comment, config: ANON_CONFIG, steps });
}

anonFamily('anon-write-whole-folio.json', 'write a whole folio: one fault maps it at the highest order that fits',
  'Orders 0, 2, 4, 8: the first store faults in a folio of the highest enabled order whose aligned range fits the VMA; do_anonymous_page maps all of it, writable, dirty, young and AnonExclusive.',
  (k, a, n) => [
    mmap('A', a, n * P),
    write('A', a, n * P),
    expect('A', a, n * P, { ...MAPPED, cont: false, folioOrder: k, ...(k ? { sameFolioAs: ['A', a] } : {}) }),
    read('A', a, n * P),
  ]);

anonFamily('anon-write-single-page.json', 'write one page: the fault maps the whole folio around it',
  'A store to the last page of the VMA faults in the whole naturally aligned folio; its other pages read zero. Order 8 also in a 2 MiB VMA: the folio covers only the aligned 1 MiB half holding the page.',
  (k, a, n) => {
    const last = a + (n - 1) * P;
    const steps = [
      mmap('A', a, n * P),
      write('A', last, P),
      expect('A', last, P, { ...MAPPED, folioOrder: k }),
    ];
    if (k === 0) steps.push(expect('A', a, last - a, { present: false }, 'order 0: only the written page is mapped'));
    else steps.push(expect('A', a, n * P, { present: true, writable: true, exclusive: true, folioOrder: k, sameFolioAs: ['A', last] }));
    steps.push(read('A', a, n * P));
    if (k === 8) {
      const b = 0xc00000, page = b + 0x123000;
      steps.push(
        mmap('A', b, 0x200000, 'rw', 'a 2 MiB VMA: order 8 is still the highest enabled order'),
        write('A', page, P),
        expect('A', page, P, { ...MAPPED, folioOrder: 8 }),
        expect('A', b + 0x100000, 0x100000, { present: true, folioOrder: 8, sameFolioAs: ['A', page] }),
        expect('A', b, 0x100000, { present: false }, 'the other aligned 1 MiB is not faulted in'),
        read('A', b + 0x100000, 0x100000),
      );
    }
    return steps;
  });

anonFamily('anon-read-zero-page.json', 'a read fault maps the shared zero page; a store then copies it into an order-0 folio',
  'do_anonymous_page maps the zero page for a load (special, read-only, one PTE per fault). A store to it is a write-protect fault: wp_page_copy allocates an order-0 folio, so reading first forfeits the large folio.',
  (k, a, n) => [
    mmap('A', a, n * P),
    read('A', a, n * P),
    expect('A', a, n * P, { present: true, writable: false, exclusive: false }),
    write('A', a, P),
    expect('A', a, P, { ...MAPPED, folioOrder: 0 }),
    ...(n > 1 ? [expect('A', a + P, (n - 1) * P, { present: true, writable: false, exclusive: false }, 'the other pages still map the zero page')] : []),
    read('A', a, n * P),
  ]);

/** The part of an order-k folio the zap families discard: a middle quarter (order 0: the middle page). */
const quarter = (k, a, n) => (k === 0 ? { at: a + P, len: P } : { at: a + (n / 4) * P, len: (n / 4) * P });

anonFamily('anon-dontneed-partial.json', 'MADV_DONTNEED of part of a large folio: those pages read zero, the rest is intact',
  'zap_present_ptes batches only the zapped PTEs; the rest of the folio stays mapped with its data. A load of a zapped page maps the zero page and reads 0.',
  (k, a, n) => {
    const q = quarter(k, a, n);
    return [
      mmap('A', a, n * P),
      write('A', a, n * P),
      expect('A', a, n * P, { folioOrder: k }),
      dontneed('A', q.at, q.len),
      expect('A', q.at, q.len, { present: false }),
      expect('A', a, q.at - a, { ...MAPPED, folioOrder: k }),
      expect('A', q.at + q.len, a + n * P - (q.at + q.len), { ...MAPPED, folioOrder: k }),
      read('A', a, n * P),
      expect('A', q.at, q.len, { present: true, writable: false, exclusive: false }, 'the loads mapped the zero page'),
    ];
  });

anonFamily('anon-munmap-partial.json', 'munmap of part of a large folio: the rest stays mapped and intact, the hole faults',
  'munmap splits the VMA and zaps only the unmapped PTEs; the partially mapped folio keeps its order (the kernel defers the split). A middle hole splits the VMA in two.',
  (k, a, n) => {
    const q = quarter(k, a, n);
    const steps = [
      mmap('A', a, n * P),
      write('A', a, n * P),
      munmap('A', q.at, q.len),
      expect('A', a, q.at - a, { ...MAPPED, folioOrder: k }),
      expect('A', q.at + q.len, a + n * P - (q.at + q.len), { ...MAPPED, folioOrder: k }),
      read('A', a, q.at - a),
      read('A', q.at + q.len, a + n * P - (q.at + q.len)),
      read('A', q.at, q.len, { expectFault: true }),
      write('A', q.at, q.len, { expectFault: true }),
      // then the tail: only the head of the VMA remains
      munmap('A', q.at + q.len, a + n * P - (q.at + q.len)),
      expect('A', a, q.at - a, { ...MAPPED, folioOrder: k }),
      read('A', a, q.at - a),
      read('A', q.at + q.len, P, { expectFault: true }),
    ];
    return steps;
  });

/** Pages zapped at the head of an order-k folio, and the order a store there then faults in. */
const refaultHead = { 0: 1, 2: 2, 4: 4, 8: 16 };
const refaultOrder = { 0: 0, 2: 0, 4: 2, 8: 4 };
anonFamily('anon-dontneed-refault.json', 'a store after MADV_DONTNEED refaults a new folio of the highest order whose range is empty again',
  'After zapping the head of a large folio (order 8: 16 pages, 4: 4 pages, 2: 2 pages), a store there allocates the highest enabled order whose aligned range reads none (8 -> 4, 4 -> 2, 2 -> 0); after zapping the whole folio, the same order as before.',
  (k, a, n) => {
    const head = refaultHead[k] * P; // order 2: half the folio, and no order-1 anon folio exists
    const o = refaultOrder[k];
    return [
      mmap('A', a, n * P),
      write('A', a, n * P),
      dontneed('A', a, head),
      write('A', a, P),
      expect('A', a, P, { ...MAPPED, folioOrder: o }),
      ...(k ? [expect('A', a + head, n * P - head, { ...MAPPED, folioOrder: k }, 'the rest still maps the first folio')] : []),
      read('A', a, n * P),
      dontneed('A', a, n * P),
      expect('A', a, n * P, { present: false }),
      write('A', a + (n - 1) * P, P),
      k ? expect('A', a, n * P, { present: true, writable: true, folioOrder: k, sameFolioAs: ['A', a + (n - 1) * P] }, 'the whole range is empty again: the same order as the first fault')
        : expect('A', a + (n - 1) * P, P, { present: true, writable: true, folioOrder: 0 }),
      read('A', a, n * P),
    ];
  });

// ---- batch boundaries ------------------------------------------------------------------------
emit('batch-adjacent-folios.json', {
  name: 'two physically adjacent order-2 folios mapped back to back: a zap batch stops at the folio end',
  comment: 'The buddy allocator hands out the two folios at consecutive pfns, so their PTEs look like one run; folio_pte_batch must still stop at the end of each folio (catches --inject batch-past-folio-end).',
  config: { anonOrders: [0, 2], arch: 'generic', batching: true },
  steps: [
    mmap('A', M0, 8 * P),
    write('A', M0, 8 * P),
    expect('A', M0, 4 * P, { ...MAPPED, folioOrder: 2, sameFolioAs: ['A', M0] }),
    expect('A', M0 + 4 * P, 4 * P, { ...MAPPED, folioOrder: 2, sameFolioAs: ['A', M0 + 4 * P] }),
    read('A', M0, 8 * P),
    munmap('A', M0, 8 * P),
    read('A', M0, 8 * P, { expectFault: true }),
  ],
});

emit('fork-mixed-write-bits.json', {
  name: 'fork of a large folio whose PTEs differ in the write bit write-protects all of them',
  comment: 'After a fork and the child exit the folio is mapped R/O by the parent alone; a store reuses it (wp_can_reuse_anon_folio: exclusively mapped by this mm, CONFIG_MM_ID) and makes one PTE writable. A second fork must write-protect every PTE of the batch, not decide from the first one (catches --inject fork-no-merge-write).',
  config: { anonOrders: [0, 4], arch: 'generic', batching: true },
  steps: [
    mmap('A', M0, 16 * P),
    write('A', M0, 16 * P),
    fork('A', 'B'),
    exit('B'),
    write('A', M0 + P, P),
    expect('A', M0, P, { present: true, writable: false }),
    expect('A', M0 + P, P, { present: true, writable: true, exclusive: true, folioOrder: 4 }, 'the folio was reused, not copied'),
    fork('A', 'C'),
    expect('A', M0, 16 * P, { present: true, writable: false, exclusive: false }, 'fork write-protects the whole batch'),
    expect('C', M0, 16 * P, { present: true, writable: false, sameFolioAs: ['A', M0] }),
    write('A', M0 + P, P),
    read('C', M0, 16 * P, { comment: 'the child never sees the parent\'s store' }),
    read('A', M0, 16 * P),
    exit('C'),
  ],
});

// ---- file mappings -----------------------------------------------------------------------------
// The page cache holds folios of orders 0, 2 and 4; a tmpfs-like file (no write notification) is
// mapped writable from the first read fault, so a store's only record is the PTE dirty bit until a
// zap, mprotect or writeback collects it. Every scenario ends (teardown) with a final sync and a
// check that the disk holds the last write of every file page.
const FILE_CONFIG = { files: { count: 2, pages: 64, orders: [0, 2, 4] }, arch: 'generic', batching: true };

emit('file-shared-dirty-bit-zap.json', {
  name: 'tmpfs-like shared mapping: a store dirties one PTE of a 64 KiB folio; munmap must move that dirty bit to the folio',
  comment: 'The read fault maps the whole order-4 folio writable and clean (finish_fault); the store to page 9 sets only that entry\'s dirty bit. zap_present_ptes clears the batch of 16 with get_and_clear_full_ptes, whose result ORs every entry\'s dirty bit, and marks the folio dirty: the final sync writes it (catches --inject zap-first-pte-dirty and zap-clear-without-get).',
  config: FILE_CONFIG,
  steps: [
    mmapFile('A', M0, 16 * P, 'f'),
    read('A', M0, P),
    expect('A', M0, 16 * P, { present: true, writable: true, dirty: false, folioOrder: 4, sameFolioAs: ['A', M0] }),
    write('A', M0 + 9 * P, P),
    expect('A', M0 + 9 * P, P, { dirty: true }),
    expect('A', M0 + 8 * P, P, { dirty: false }),
    munmap('A', M0, 16 * P),
    mmapFile('A', M0, 16 * P, 'f'),
    read('A', M0, 16 * P, { comment: 'the page cache still holds the write' }),
  ],
});

emit('file-writenotify-writeback.json', {
  name: 'write-notify shared mapping: writeback cleans and write-protects the PTE, the next store faults and dirties the folio again',
  comment: 'A disk filesystem: clean PTEs are read-only, the first store faults (wp_page_shared) and dirties the folio. writeback write-protects and cleans every PTE of the folio under its PTL and flushes the TLBs before copying the folio to disk; the next store must fault again, or it would go unrecorded (catches --inject writeback-no-flush).',
  config: FILE_CONFIG,
  steps: [
    mmapFile('A', M0, 16 * P, 'g', { writenotify: true }),
    read('A', M0, 16 * P),
    expect('A', M0, 16 * P, { present: true, writable: false, dirty: false }),
    write('A', M0 + 4 * P, P),
    expect('A', M0 + 4 * P, P, { writable: true, dirty: true }),
    expect('A', M0 + 5 * P, P, { writable: false }),
    writeback('g'),
    expect('A', M0 + 4 * P, P, { present: true, writable: false, dirty: false }),
    write('A', M0 + 4 * P, P),
    expect('A', M0 + 4 * P, P, { writable: true, dirty: true }),
  ],
});

emit('file-private-cow.json', {
  name: 'private file mapping: a store copies the page into an anon page; the file and a shared mapping of it are untouched',
  comment: 'do_cow_fault / wp_page_copy: the private mapping reads the page cache until it writes; its store goes to a new exclusive anon page, never to the file.',
  config: FILE_CONFIG,
  steps: [
    mmapFile('A', M0, 16 * P, 'f'),
    write('A', M0, 16 * P),
    mmapFile('A', M0 + 0x200000, 16 * P, 'f', { shared: false }),
    read('A', M0 + 0x200000, 16 * P),
    expect('A', M0 + 0x200000, 16 * P, { present: true, writable: false, exclusive: false, sameFolioAs: ['A', M0] }),
    write('A', M0 + 0x200000 + 3 * P, P),
    expect('A', M0 + 0x200000 + 3 * P, P, { present: true, writable: true, exclusive: true, folioOrder: 0 }),
    read('A', M0, 16 * P, { comment: 'the shared mapping still sees the file' }),
    read('A', M0 + 0x200000, 16 * P),
  ],
});

emit('file-shared-fork.json', {
  name: 'fork with a shared file mapping: the child faults the same page cache pages; writes by either reach the file',
  comment: 'vma_needs_copy(): a shared file VMA is not copied at fork; the child maps the page cache folio on its first access and sees the parent\'s writes and the parent sees its own.',
  config: FILE_CONFIG,
  steps: [
    mmapFile('A', M0, 16 * P, 'f'),
    write('A', M0, 16 * P),
    fork('A', 'B'),
    expect('B', M0, P, { present: false }),
    read('B', M0, 16 * P),
    expect('B', M0, 16 * P, { present: true, sameFolioAs: ['A', M0] }),
    write('B', M0 + 2 * P, P),
    read('A', M0, 16 * P),
    exit('B'),
    sync(),
  ],
});

// ---- cow.c: anon_test_cases x run types ---------------------------------------------------------
// cow.c populates with memset(mem, 1, size) and then runs each test on (mem, size). Process A is the
// test, B the child a test forks, C the short-lived child of the partial-shared run. Each pin is
// taken on A's or B's pages as the test does with vmsplice(), io_uring fixed buffers or the
// gup_test PIN_LONGTERM_TEST ioctls (R/O or R/W, GUP or GUP-fast).
const M = 0x400000; // mem: 2 MiB aligned
const N = 0x800000; // where partial-mremap moves the second half

const RUNS = {
  'base-page': {
    desc: 'base page',
    config: { anonOrders: [0], arch: 'generic', batching: true },
    setup: () => ({ steps: [mmap('A', M, P), write('A', M, P), expect('A', M, P, { ...MAPPED, folioOrder: 0 })], size: P }),
  },
  ...thpRuns(2),
  ...thpRuns(4),
  ...thpRuns(8), // the largest enabled anon order (PMD_ORDER - 1)
};

/** The cow.c THP run types for a folio of order k (cow.c uses the PMD size; mTHP runs use each enabled size). */
function thpRuns(k) {
  const THP = (1 << k) * P;
  const kib = (1 << k) * 4;
  return {
  [`whole-folio-o${k}`]: {
    desc: `${kib} KiB mTHP (order ${k}), PTE-mapped (cow.c THP_RUN_PTE)`,
    config: { anonOrders: [0, k], arch: 'generic', batching: true },
    setup: () => ({
      steps: [
        mmap('A', M, THP), write('A', M, THP),
        expect('A', M, THP, { ...MAPPED, folioOrder: k, sameFolioAs: ['A', M] }),
        // "Trigger PTE-mapping the THP by temporarily mapping a single subpage R/O."
        mprotect('A', M + P, P, 'r'), mprotect('A', M + P, P, 'rw'),
        expect('A', M, THP, { present: true, folioOrder: k, sameFolioAs: ['A', M] }),
      ],
      size: THP,
    }),
  },
  [`single-pte-o${k}`]: {
    desc: `single PTE of a ${kib} KiB mTHP (order ${k}) (cow.c THP_RUN_SINGLE_PTE)`,
    config: { anonOrders: [0, k], arch: 'generic', batching: true },
    setup: () => ({
      steps: [
        mmap('A', M, THP), write('A', M, THP), expect('A', M, THP, { ...MAPPED, folioOrder: k }),
        // "Discard all but a single subpage of that PTE-mapped THP."
        dontneed('A', M + P, THP - P),
        expect('A', M, P, { ...MAPPED, folioOrder: k }), expect('A', M + P, THP - P, { present: false }),
      ],
      size: P,
    }),
  },
  [`partial-mremap-o${k}`]: {
    desc: `partially mremapped ${kib} KiB mTHP (order ${k}) (cow.c THP_RUN_PARTIAL_MREMAP)`,
    config: { anonOrders: [0, k], arch: 'generic', batching: true },
    setup: () => ({
      steps: [
        mmap('A', M, THP), write('A', M, THP), expect('A', M, THP, { ...MAPPED, folioOrder: k }),
        // "Remap half of the THP. We need some new memory location for that."
        mmap('A', N, THP / 2, 'none'),
        // mremap(MREMAP_FIXED) unmaps whatever is mapped at the target; the model's mremap wants
        // an empty target (and fails otherwise), so the reservation is unmapped explicitly.
        munmap('A', N, THP / 2),
        mremap('A', M + THP / 2, THP / 2, N),
        expect('A', N, THP / 2, { present: true, folioOrder: k, sameFolioAs: ['A', M] }, 'the moved half still maps the same folio'),
        read('A', N, THP / 2), read('A', M, THP / 2),
      ],
      size: THP / 2,
    }),
  },
  [`partial-shared-o${k}`]: {
    desc: `partially shared ${kib} KiB mTHP (order ${k}) (cow.c THP_RUN_PARTIAL_SHARED)`,
    config: { anonOrders: [0, k], arch: 'generic', batching: true },
    setup: () => ({
      steps: [
        mmap('A', M, THP), write('A', M, THP), expect('A', M, THP, { ...MAPPED, folioOrder: k }),
        // "Share the first page of the THP with a child and quit the child."
        madvise('A', M + P, THP - P, 'dontfork'),
        fork('A', 'C'),
        expect('C', M, P, { present: true, writable: false, sameFolioAs: ['A', M] }),
        exit('C'),
        madvise('A', M + P, THP - P, 'dofork'),
        expect('A', M, P, { present: true, writable: false, exclusive: false }, 'the page that was shared stays R/O and not exclusive'),
        expect('A', M + P, THP - P, { ...MAPPED, folioOrder: k }, 'the pages never shared stay exclusive and writable'),
      ],
      size: THP,
    }),
  },
  };
}

/** Each family: (mem, size, fast) -> steps after the run's setup. Comments quote the guarantee cow.c checks. */
const FAMILIES = {
  fork: {
    test: 'Basic COW after fork()',
    fn: (m, size) => [
      fork('A', 'B'),
      expect('A', m, size, { present: true, writable: false }, 'fork write-protects the parent'),
      expect('B', m, size, { present: true, writable: false, sameFolioAs: ['A', m] }, 'the child shares the folio'),
      write('A', m, size, { comment: 'the parent modifies the pages' }),
      read('B', m, size, { comment: 'No leak from parent into child: the child still reads the old data' }),
      read('A', m, size),
      expect('A', m, size, { present: true, writable: true, exclusive: true }),
      exit('B'),
    ],
  },
  'fork-mprotect': {
    test: 'Basic COW after fork() with mprotect() optimization',
    fn: (m, size) => [
      fork('A', 'B'),
      mprotect('A', m, size, 'r'),
      mprotect('A', m, size, 'rw'),
      expect('A', m, size, { present: true, writable: false }, 'mprotect(PROT_WRITE) must not map shared anon pages writable'),
      write('A', m, size),
      read('B', m, size, { comment: 'No leak from parent into child' }),
      read('A', m, size),
      exit('B'),
    ],
  },
  'vmsplice-in-child': {
    test: 'vmsplice() + unmap in child (CVE-2020-29374)',
    fn: (m, size) => [
      fork('A', 'B'),
      pin('B', m, size, 'ro', 'p'),
      expect('B', m, size, { present: true, writable: false, exclusive: true }, 'a R/O pin of a shared anon page unshares it: pinned anon pages are AnonExclusive'),
      munmap('B', m, size),
      write('A', m, size),
      pinRead('p', 'No leak from parent into child: the pipe still holds what the child had'),
      unpin('p'),
      read('A', m, size),
      exit('B'),
    ],
  },
  'vmsplice-before-fork': {
    test: 'vmsplice() before fork(), unmap in parent after fork()',
    fn: (m, size) => [
      pin('A', m, size, 'ro', 'p'),
      fork('A', 'B'),
      expect('A', m, size, { present: true, exclusive: true }, 'a pinned page stays AnonExclusive in the parent: fork copies it for the child'),
      expect('B', m, size, { present: true }),
      munmap('A', m, size),
      write('B', m, size, { comment: 'the child modifies the pages' }),
      exit('B'),
      pinRead('p', 'No leak from child into parent: the pipe still holds the old data'),
      unpin('p'),
    ],
  },
  'vmsplice-after-fork': {
    test: 'vmsplice() + unmap in parent after fork()',
    fn: (m, size) => [
      fork('A', 'B'),
      pin('A', m, size, 'ro', 'p'),
      expect('A', m, size, { present: true, writable: false, exclusive: true }, 'a R/O pin of a shared anon page unshares it'),
      munmap('A', m, size),
      write('B', m, size),
      exit('B'),
      pinRead('p', 'No leak from child into parent'),
      unpin('p'),
    ],
  },
  'rw-pin-ro-mapping': {
    test: 'R/O-mapping a page registered as iouring fixed buffer',
    fn: (m, size) => [
      pin('A', m, size, 'rw', 'p'),
      expect('A', m, size, { present: true, exclusive: true }),
      mprotect('A', m, size, 'r'),
      mprotect('A', m, size, 'rw'),
      write('A', m, size, { comment: 'the write fault must reuse the pinned page, never copy it' }),
      pinRead('p', 'Longterm R/W pin is reliable: the pin sees the write'),
      expect('A', m, size, { present: true, writable: true, exclusive: true }),
      read('A', m, size),
      unpin('p'),
    ],
  },
  'rw-pin-fork': {
    test: 'fork() with an iouring fixed buffer',
    fn: (m, size) => [
      pin('A', m, size, 'rw', 'p'),
      fork('A', 'B'),
      expect('A', m, size, { present: true, writable: true, exclusive: true }, 'the pinned page is not shared with the child'),
      expect('B', m, size, { present: true, exclusive: true }, 'the child got its own copy'),
      write('A', m, size),
      pinRead('p', 'Longterm R/W pin is reliable'),
      read('B', m, size, { comment: 'the child keeps the old data' }),
      read('A', m, size),
      unpin('p'),
      exit('B'),
    ],
  },
  'ro-pin-on-shared': {
    test: 'R/O GUP pin on R/O-mapped shared page',
    fast: 'R/O GUP-fast pin on R/O-mapped shared page',
    fn: (m, size, fast) => [
      fork('A', 'B'),
      pin('A', m, size, 'ro', 'p', fast),
      expect('A', m, size, { present: true, writable: false, exclusive: true }, 'taking a R/O pin unshares the page'),
      write('A', m, size),
      pinRead('p', 'Longterm R/O pin is reliable: the pin sees the modification'),
      read('B', m, size, { comment: 'the child keeps the old data' }),
      read('A', m, size),
      unpin('p'),
      exit('B'),
    ],
  },
  'ro-pin-on-ro-previously-shared': {
    test: 'R/O GUP pin on R/O-mapped previously-shared page',
    fast: 'R/O GUP-fast pin on R/O-mapped previously-shared page',
    fn: (m, size, fast) => [
      fork('A', 'B'),
      exit('B'),
      expect('A', m, size, { present: true, writable: false, exclusive: false }, 'mapped R/O, no longer shared, not yet known exclusive'),
      pin('A', m, size, 'ro', 'p', fast),
      expect('A', m, size, { present: true, exclusive: true }, 'taking a R/O pin marks the page exclusive (reuse, no copy needed)'),
      write('A', m, size),
      pinRead('p', 'Longterm R/O pin is reliable'),
      read('A', m, size),
      unpin('p'),
    ],
  },
  'ro-pin-on-ro-exclusive': {
    test: 'R/O GUP pin on R/O-mapped exclusive page',
    fast: 'R/O GUP-fast pin on R/O-mapped exclusive page',
    fn: (m, size, fast) => [
      // cow.c also clears soft-dirty here so the page stays R/O after mprotect(PROT_WRITE); soft-dirty
      // tracking is not modelled, so the page may be mapped writable again (the pin is then on a R/W PTE).
      mprotect('A', m, size, 'r'),
      mprotect('A', m, size, 'rw'),
      pin('A', m, size, 'ro', 'p', fast),
      expect('A', m, size, { present: true, exclusive: true }),
      write('A', m, size),
      pinRead('p', 'Longterm R/O pin is reliable'),
      read('A', m, size),
      unpin('p'),
    ],
  },
};

// The example of the scenario issue, verbatim: basic COW after fork with a 64 KiB folio.
emit('cow-fork.issue-example.json', {
  name: 'basic COW after fork, 64K folios',
  config: { anonOrders: [0, 4], arch: 'generic', batching: true },
  steps: [
    { op: 'mmap', proc: 'A', addr: '0x400000', len: '0x10000', prot: 'rw', kind: 'anon' },
    { op: 'write', proc: 'A', addr: '0x400000', len: '0x10000' },
    { op: 'expect', proc: 'A', addr: '0x400000', folioOrder: 4, exclusive: true, writable: true },
    { op: 'fork', proc: 'A', child: 'B' },
    { op: 'write', proc: 'A', addr: '0x400000', len: '0x1000' },
    { op: 'read', proc: 'B', addr: '0x400000', len: '0x10000' },
    { op: 'exit', proc: 'B' },
  ],
});

for (const [fam, f] of Object.entries(FAMILIES)) {
  for (const fast of f.fast ? [false, true] : [false]) {
    for (const [run, r] of Object.entries(RUNS)) {
      const { steps, size } = r.setup();
      const name = `cow.c: ${fast ? f.fast : f.test} -- ${r.desc}`;
      const file = `cow-${fam}${fast ? '-fast' : ''}.${run}.json`;
      emit(file, { name, config: r.config, steps: [...steps, ...f.fn(M, size, fast)] });
    }
  }
}

process.stdout.write(`runnable (${written.runnable.length}): ${written.runnable.join(', ')}\npending (${written.pending.length}) in pending/\n`);
