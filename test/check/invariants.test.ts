// Every invariant the checkers can report: a correct state first (no findings), then exactly one
// thing corrupted by hand, and the finding named. One test per invariant, named after it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { drive } from '../../src/machine/gen.js';
import { flush_tlb_mm } from '../../src/machine/tlb.js';
import { Violation } from '../../src/machine/cpu.js';
import { checkNoLeaks, checkProtCommit, checkQuiescent, checkRefVsMap } from '../../src/check/invariants.js';
import { ptep_modify_prot_commit } from '../../src/linux/include/linux/pgtable.js';
import { checkDisk, checkRead, ownerOf, zapBegin, zapEnd } from '../../src/check/oracle.js';
import { MM } from '../../src/machine/layout.js';
import { FOLIO_ANON, FOLIO_DIRTY, PG_ANON_EXCLUSIVE, PG_TAIL, POISON } from '../../src/machine/machine.js';
import { PTE_CONT, PTE_DIRTY, PTE_SPECIAL, PTE_WRITE, PTE_YOUNG, pfn_pte, pte_cont, pte_mkspecial, pte_pfn, pte_special } from '../../src/machine/pte.js';
import { handle_mm_fault, VM_FAULT_OK } from '../../src/linux/mm/memory.js';
import { madvise_dontneed } from '../../src/linux/mm/madvise.js';
import { alloc_folio, free_folio } from '../../src/linux/mm/page_alloc.js';
import { MMID_SHIFT } from '../../src/linux/mm/rmap.js';
import { user_access } from '../../src/workload/access.js';
import { process_exit } from '../../src/linux/kernel/fork.js';
import { spin_lock, spin_unlock } from '../../src/linux/kernel/locking/spinlock.js';
import { contpteBlockProblem } from '../../src/check/contpte.js';
import { find_vma } from '../../src/linux/mm/mmap.js';
import { boot, cpuWithConfig, folioAt, type Harness, invariants, isFree, mapAnon, mapFile, newAccessOut, readPage, run, token, writePage } from '../helpers/machine.js';
import { final_sync } from '../../src/engine/sched.js';
import { namedTests } from '../helpers/named-tests.js';
import { make_readable_exclusive_migration_entry } from '../../src/linux/include/linux/swapops.js';

const B = 1024;

/** Invariant names that have a test below (the first word of the test's title). */
const { tested: TESTED, namedTest: invTest } = namedTests();

interface World {
  h: Harness;
  m: Int32Array;
  /** Order-4 anon folio mapped at [B, B+16), B+1 written by its owner. */
  big: number;
  /** Order-0 anon folio mapped at B+24, written. */
  small: number;
  /** A read fault mapped the shared zero page here. */
  zeroVpn: number;
  ptep: (vpn: number) => number;
}

/** A correct state: one VMA [B, B+32) holding an order-4 folio, an order-0 folio and a zero-page entry. */
function world(): World {
  const h = boot({ anonOrders: [0, 2, 4], cpus: 2 });
  mapAnon(h, B, 32, { align: 16 });
  writePage(h, 0, 0, B + 1);
  const zeroVpn = B + 20;
  assert.equal(run(h, 0, handle_mm_fault(h.cpus[0], 0, zeroVpn, false)), VM_FAULT_OK);
  writePage(h, cpuWithConfig(h, 1, { anonOrders: [0] }), 0, B + 24);
  const big = folioAt(h, 0, B + 1)!;
  const small = folioAt(h, 0, B + 24)!;
  assert.equal(big.order, 4);
  assert.equal(small.order, 0);
  assert.ok(pte_special(Atomics.load(h.machine.m, h.machine.ptep(0, zeroVpn))));
  const w: World = { h, m: h.machine.m, big: big.folio, small: small.folio, zeroVpn, ptep: (vpn) => h.machine.ptep(0, vpn) };
  clean(w);
  return w;
}

function clean(w: World): void {
  assert.deepEqual(checkQuiescent(w.h.machine), [], 'the correct state has no findings');
  assert.deepEqual(w.h.observed, []);
}

/** The findings name exactly these invariants. */
function expectFindings(w: World, names: string[]): ReturnType<typeof checkQuiescent> {
  const found = checkQuiescent(w.h.machine);
  assert.deepEqual(invariants(found), [...names].sort(), JSON.stringify(found));
  return found;
}

// ---- checkQuiescent ------------------------------------------------------------------------

invTest('exclusive-page-shared: an AnonExclusive page mapped by a second PTE', () => {
  const w = world();
  // map the exclusive (never written) page B+2 a second time, at B+30, with the accounting kept
  // right, so only the exclusivity is wrong
  const pte = Atomics.load(w.m, w.ptep(B + 2));
  const pfn = pte_pfn(pte);
  Atomics.store(w.m, w.ptep(B + 30), pte);
  Atomics.add(w.m, w.h.machine.L.pMapcount + pfn, 1);
  Atomics.add(w.m, w.h.machine.L.fMapcount + w.big, 1);
  Atomics.add(w.m, w.h.machine.L.fRef + w.big, 1);
  Atomics.add(w.m, w.h.machine.mmWord(0, MM.RSS_ANON), 1);
  Atomics.add(w.m, w.h.machine.L.fMmId + w.big * 2, 1); // mm 0's MM_ID slot counts it too
  expectFindings(w, ['exclusive-page-shared']);
});

invTest('migration-entry-left: a migration entry at quiescence (a migration that ended without restoring it); it still counts in RSS', () => {
  const w = world();
  // the order-0 folio's entry replaced by a migration entry for its page, as try_to_migrate_one
  // leaves it: the mapping's mapcount and reference gone (the migration's own reference kept)
  Atomics.store(w.m, w.ptep(B + 24), make_readable_exclusive_migration_entry(w.small));
  Atomics.sub(w.m, w.h.machine.L.pMapcount + w.small, 1);
  Atomics.sub(w.m, w.h.machine.L.fMapcount + w.small, 1);
  Atomics.store(w.m, w.h.machine.L.fMmId + w.small * 2, 0);
  const found = invariants(checkQuiescent(w.h.machine));
  assert.ok(found.includes('migration-entry-left'), found.join(', '));
  assert.ok(!found.includes('rss-mismatch'), 'the entry counts in the RSS it was counted in');
});

invTest('pte-bad-swap-entry: a non-present entry that is not a migration entry', () => {
  const w = world();
  Atomics.store(w.m, w.ptep(B + 21), PTE_WRITE); // garbage: not present, not none, no migration type
  const found = invariants(checkQuiescent(w.h.machine));
  assert.ok(found.includes('pte-bad-swap-entry'), found.join(', '));
});

invTest('pinned-not-exclusive: a pinned anon page that lost AnonExclusive', () => {
  const w = world();
  const pfn = pte_pfn(Atomics.load(w.m, w.ptep(B + 1)));
  // a correct long-term pin of B+1 (one reference and one pin on the large folio); its PTE made
  // read-only, which an exclusive page may be
  Atomics.add(w.m, w.h.machine.L.fRef + w.big, 1);
  Atomics.add(w.m, w.h.machine.L.fPin + w.big, 1);
  Atomics.add(w.m, w.h.machine.L.pPin + pfn, 1);
  Atomics.and(w.m, w.ptep(B + 1), ~PTE_WRITE);
  clean(w);
  // what fork must never do to a maybe-pinned page: clear its exclusivity
  Atomics.and(w.m, w.h.machine.L.pFlags + pfn, ~PG_ANON_EXCLUSIVE);
  expectFindings(w, ['pinned-not-exclusive']);
});

invTest('lock-held-at-quiescence: a PTL left held', () => {
  const w = world();
  const table = w.h.machine.tableIndex(0, B);
  drive(spin_lock(w.h.cpus[1], w.h.machine.ptlOf(table)));
  const [f] = expectFindings(w, ['lock-held-at-quiescence']);
  assert.equal(f.details.table, table);
  assert.equal(f.details.holder, 1);
});

invTest('pte-outside-vma: a present PTE no VMA covers', () => {
  const w = world();
  const v = find_vma(w.h.machine, 0, B)!;
  Atomics.store(w.m, w.h.machine.vmaBase(0, v.slot) + 1, B + 24); // the VMA now ends before the order-0 folio
  const [f] = expectFindings(w, ['pte-outside-vma']);
  assert.equal(f.details.vpn, B + 24);
});

invTest('pte-bad-pfn: a PTE whose pfn lies beyond physical memory', () => {
  const w = world();
  Atomics.store(w.m, w.ptep(B + 25), pfn_pte(w.h.machine.L.pages + 5, PTE_YOUNG));
  const [f] = expectFindings(w, ['pte-bad-pfn']);
  assert.equal(f.details.vpn, B + 25);
});

invTest('special-not-zero-page: a special PTE that maps a page other than the zero page', () => {
  const w = world();
  Atomics.store(w.m, w.ptep(w.zeroVpn), pte_mkspecial(pfn_pte(w.big + 5, PTE_YOUNG)));
  expectFindings(w, ['special-not-zero-page']);
});

invTest('zero-page-writable: the shared zero page mapped writable', () => {
  const w = world();
  Atomics.or(w.m, w.ptep(w.zeroVpn), PTE_WRITE);
  expectFindings(w, ['zero-page-writable']);
});

invTest('pte-maps-free-page: a PTE left mapping a freed page', () => {
  const w = world();
  drive(flush_tlb_mm(w.h.cpus[0], 0)); // no TLB reaches it (else the free itself is caught: tlb-maps-freed-page)
  drive(free_folio(w.h.cpus[0], w.small)); // freed behind the mapping's back
  // its MM_ID slot still names mm 0 (the kernel's free_pages_prepare: "nonzero mm mapcount")
  const found = expectFindings(w, ['mm-id-stale', 'pte-maps-free-page']);
  assert.equal(found.find((f) => f.invariant === 'pte-maps-free-page')!.details.pfn, w.small);
});

invTest('pte-maps-reserved-page: the zero page mapped as a normal page (special bit lost)', () => {
  const w = world();
  Atomics.and(w.m, w.ptep(w.zeroVpn), ~PTE_SPECIAL);
  // a normal mapping is also counted in RSS, which the corruption did not raise
  expectFindings(w, ['pte-maps-reserved-page', 'rss-mismatch']);
});

invTest('writable-not-exclusive: a writable anon PTE on a page without PG_ANON_EXCLUSIVE', () => {
  const w = world();
  Atomics.and(w.m, w.h.machine.L.pFlags + w.big + 3, ~PG_ANON_EXCLUSIVE);
  const [f] = expectFindings(w, ['writable-not-exclusive']);
  assert.equal(f.details.pfn, w.big + 3);
});

invTest('rss-mismatch: the mm counter disagrees with the PTEs', () => {
  const w = world();
  Atomics.add(w.m, w.h.machine.mmWord(0, MM.RSS_ANON), 1);
  const [f] = expectFindings(w, ['rss-mismatch']);
  assert.deepEqual([f.details.rssAnon, f.details.ptes], [18, 17]);
});

invTest('zap-in-flight-at-quiescence: a zap begun and never ended', () => {
  const w = world();
  zapBegin(w.h.machine, 0, B + 1, B + 2);
  expectFindings(w, ['zap-in-flight-at-quiescence']);
});

invTest('data-lost: the oracle says a token was written, but the PTE is gone (a zap it was not told of)', () => {
  const w = world();
  // control: the same zap, announced to the oracle, leaves a legal zero
  const c = world();
  zapBegin(c.h.machine, 0, B + 24, B + 25);
  assert.equal(run(c.h, 0, madvise_dontneed(c.h.cpus[0], 0, B + 24, B + 25)), 0);
  zapEnd(c.h.machine, 0, B + 24, B + 25);
  clean(c);
  // the corruption: the page's data vanished without a zap the oracle knows of
  assert.equal(run(w.h, 0, madvise_dontneed(w.h.cpus[0], 0, B + 24, B + 25)), 0);
  const [f] = expectFindings(w, ['data-lost']);
  assert.equal(f.details.vpn, B + 24);
});

invTest('data-mismatch: a mapped page holds something other than its last write', () => {
  const w = world();
  Atomics.store(w.m, w.h.machine.L.pContent + w.big + 1, token(0, B + 1));
  const [f] = expectFindings(w, ['data-mismatch']);
  assert.equal(f.details.vpn, B + 1);
});

invTest('mapcount-on-free-page: a free page with a mapcount', () => {
  const w = world();
  const free = w.small + 1;
  assert.ok(isFree(w.h.machine, free));
  Atomics.store(w.m, w.h.machine.L.pMapcount + free, 1);
  const [f] = expectFindings(w, ['mapcount-on-free-page']);
  assert.equal(f.details.pfn, free);
});

invTest('orphan-tail-page: a tail page that belongs to no folio', () => {
  const w = world();
  const free = w.small + 1;
  Atomics.store(w.m, w.h.machine.L.pFlags + free, PG_TAIL);
  // the page is on a free list too, where it should be PG_BUDDY
  const found = expectFindings(w, ['buddy-page-state', 'orphan-tail-page']);
  assert.equal(found.find((f) => f.invariant === 'orphan-tail-page')!.details.pfn, free);
});

invTest('mapcount-mismatch: a page mapcount disagrees with the PTEs that map it', () => {
  const w = world();
  // B+3 now maps page 2 of the folio instead of page 3: page 2 has two PTEs (so its exclusivity
  // is broken too), page 3 none
  Atomics.store(w.m, w.ptep(B + 3), pfn_pte(w.big + 2, PTE_YOUNG | PTE_WRITE));
  const found = expectFindings(w, ['exclusive-page-shared', 'mapcount-mismatch']);
  assert.deepEqual(found.filter((f) => f.invariant === 'mapcount-mismatch').map((f) => f.details.pfn).sort(), [w.big + 2, w.big + 3]);
});

invTest('folio-mapcount-mismatch: the folio total is not the sum of its pages', () => {
  const w = world();
  Atomics.sub(w.m, w.h.machine.L.fMapcount + w.big, 1);
  const [f] = expectFindings(w, ['folio-mapcount-mismatch']);
  assert.deepEqual([f.details.folioMapcount, f.details.sumOfPages], [15, 16]);
});

invTest('refcount-below-mapcount: a reference dropped from a mapped folio', () => {
  const w = world();
  Atomics.sub(w.m, w.h.machine.L.fRef + w.big, 1);
  const [f] = expectFindings(w, ['refcount-below-mapcount']);
  assert.equal(f.details.folio, w.big);
});

invTest('refcount-mismatch (leaked reference): one reference too many', () => {
  const w = world();
  Atomics.add(w.m, w.h.machine.L.fRef + w.big, 1);
  const [f] = expectFindings(w, ['refcount-mismatch']);
  assert.equal(f.details.why, 'leaked reference');
});

invTest('refcount-mismatch (missing reference): a pinned folio lost the pin\'s reference', () => {
  const w = world();
  const { L } = w.h.machine;
  Atomics.add(w.m, L.fPin + w.big, 1); // a pin holds a reference of its own
  Atomics.add(w.m, L.fRef + w.big, 1);
  clean(w);
  Atomics.sub(w.m, L.fRef + w.big, 1);
  const [f] = expectFindings(w, ['refcount-mismatch']);
  assert.equal(f.details.why, 'missing reference');
});

invTest('anon-order1: an anon folio of order 1', () => {
  const w = world();
  const { m, h } = w;
  const { L } = h.machine;
  // a correct order-1 mapping of a non-anon (e.g. page cache) folio at [B+26, B+28), read-only
  const f = drive(alloc_folio(h.cpus[0], 1));
  for (let i = 0; i < 2; i++) {
    Atomics.store(m, w.ptep(B + 26 + i), pfn_pte(f + i, PTE_YOUNG));
    Atomics.store(m, L.pMapcount + f + i, 1);
  }
  Atomics.store(m, L.fMapcount + f, 2);
  Atomics.store(m, L.fRef + f, 2);
  Atomics.add(m, h.machine.mmWord(0, MM.RSS_ANON), 2);
  clean(w);
  Atomics.or(m, L.fFlags + f, FOLIO_ANON); // the corruption: it is anon
  Atomics.store(m, L.fMmId + f * 2, (0 + 1) << MMID_SHIFT | 2); // with mm 0's MM_ID slot as an anon folio has it
  const [x] = expectFindings(w, ['anon-order1']);
  assert.equal(x.details.folio, f);
});

invTest('folio-misaligned: a folio whose head is not aligned to its order', () => {
  const w = world();
  assert.notEqual(w.small % 4, 0, 'precondition: the order-0 folio sits at a pfn not aligned to 4');
  for (let i = 1; i < 4; i++) assert.ok(isFree(w.h.machine, w.small + i), 'precondition: the pages after it are free');
  Atomics.store(w.m, w.h.machine.L.fOrder + w.small, 2);
  // its pages now include free ones
  const found = expectFindings(w, ['folio-misaligned', 'page-accounting']);
  assert.equal(found.find((f) => f.invariant === 'folio-misaligned')!.details.folio, w.small);
});

// ---- checkProtCommit (the ptep_modify_prot_commit contract) ----------------------------------

/** For the commit tests: a world, the slot of B+3, the old entries of B+3 and B+2, and CPU 0. */
function commitWorld() {
  const w = world();
  const ptep = w.ptep(B + 3);
  return { w, ptep, old3: Atomics.load(w.m, ptep), old2: Atomics.load(w.m, w.ptep(B + 2)), c: w.h.cpus[0] };
}

invTest('prot-commit-old-mismatch: a commit handed an old_pte that maps another page than its new pte', () => {
  const { w, ptep, old3, old2, c } = commitWorld();
  // control: old_pte of this very slot (as modify_prot_commit_ptes advances it), made read-only,
  // committed into the slot ptep_modify_prot_start cleared
  assert.equal(checkProtCommit(old3, old3 & ~PTE_WRITE, 0), null);
  Atomics.store(w.m, ptep, 0);
  drive(ptep_modify_prot_commit(c, ptep, old3, old3 & ~PTE_WRITE));
  assert.equal(Atomics.load(w.m, ptep), old3 & ~PTE_WRITE);
  // the previous slot's old PTE (its PFN not advanced) is another page's entry
  assert.equal(checkProtCommit(old2, old3, 0)?.invariant, 'prot-commit-old-mismatch');
  Atomics.store(w.m, ptep, 0);
  assert.throws(() => drive(ptep_modify_prot_commit(c, ptep, old2, old3)), (e: unknown) => e instanceof Violation && e.invariant === 'prot-commit-old-mismatch' && e.path === 'ptep_modify_prot_commit');
});

invTest('prot-commit-slot-not-cleared: a commit into a slot ptep_modify_prot_start did not clear (a commit at the wrong address)', () => {
  const { w, ptep, old3, old2, c } = commitWorld();
  assert.equal(checkProtCommit(old3, old3 & ~PTE_WRITE, 0), null);
  // the slot still holds an entry: the commit was aimed at a slot start never cleared
  assert.equal(checkProtCommit(old3, old3 & ~PTE_WRITE, old3)?.invariant, 'prot-commit-slot-not-cleared');
  assert.throws(() => drive(ptep_modify_prot_commit(c, w.ptep(B + 2), old2, old2 & ~PTE_WRITE)), (e: unknown) => e instanceof Violation && e.invariant === 'prot-commit-slot-not-cleared' && e.path === 'ptep_modify_prot_commit');
});

// ---- checkRefVsMap (the continuous observer) -------------------------------------------------

invTest('refcount-below-mapcount (observer): checkRefVsMap on one folio', () => {
  const w = world();
  assert.equal(checkRefVsMap(w.h.machine, w.big), null);
  assert.equal(checkRefVsMap(w.h.machine, w.small), null);
  Atomics.sub(w.m, w.h.machine.L.fRef + w.big, 1);
  const f = checkRefVsMap(w.h.machine, w.big);
  assert.equal(f?.invariant, 'refcount-below-mapcount');
  assert.equal(f?.path, 'observer');
  assert.equal(checkRefVsMap(w.h.machine, w.small), null, 'other folios unaffected');
});

// ---- checkNoLeaks ---------------------------------------------------------------------------

invTest('leaked-folio: a folio still allocated after every process exited', () => {
  const exitAll = (w: World) => assert.equal(run(w.h, 0, process_exit(w.h.cpus[0], 0)), true);
  const ok = world();
  exitAll(ok);
  assert.deepEqual(checkNoLeaks(ok.h.machine), [], 'control: everything returns to the allocator');
  const w = world();
  Atomics.add(w.m, w.h.machine.L.fRef + w.big, 1); // a reference nobody drops
  exitAll(w);
  const found = checkNoLeaks(w.h.machine);
  assert.deepEqual(invariants(found), ['leaked-folio']);
  assert.equal(found[0].details.leakedPages, 16);
});

// ---- contpte (arch: "contpte") ----------------------------------------------------------------

/** The world of world(), under arch contpte: [B, B+16) is one cont block, B+24 an order-0 page. */
function contWorld(): World {
  const h = boot({ arch: 'contpte', anonOrders: [0, 2, 4], cpus: 2 });
  mapAnon(h, B, 32, { align: 16 });
  writePage(h, 0, 0, B + 1);
  writePage(h, cpuWithConfig(h, 1, { anonOrders: [0] }), 0, B + 24);
  const big = folioAt(h, 0, B + 1)!;
  assert.equal(big.order, 4);
  const w: World = { h, m: h.machine.m, big: big.folio, small: folioAt(h, 0, B + 24)!.folio, zeroVpn: -1, ptep: (vpn) => h.machine.ptep(0, vpn) };
  for (let v = B; v < B + 16; v++) assert.ok(pte_cont(Atomics.load(w.m, w.ptep(v))), 'the order-4 folio is mapped cont');
  assert.ok(!pte_cont(Atomics.load(w.m, w.ptep(B + 24))));
  clean(w);
  return w;
}

invTest('contpte-inconsistent: PTE_CONT on part of a block, on mixed permissions, on a block of small folios', () => {
  // hardware young/dirty may differ between the entries of a block: still consistent
  const ok = contWorld();
  Atomics.and(ok.m, ok.ptep(B + 3), ~(PTE_YOUNG | PTE_DIRTY));
  Atomics.and(ok.m, ok.ptep(B + 11), ~PTE_DIRTY);
  clean(ok);
  // one entry lost its cont bit: the other 15 claim a block that is not whole
  const a = contWorld();
  Atomics.and(a.m, a.ptep(B + 5), ~PTE_CONT);
  expectFindings(a, ['contpte-inconsistent']);
  // one entry read-only inside a cont block (a single-entry wrprotect that did not unfold)
  const b = contWorld();
  Atomics.and(b.m, b.ptep(B + 9), ~PTE_WRITE);
  const found = expectFindings(b, ['contpte-inconsistent']);
  assert.match(String(found[0].details.why), /entry 9 has other permissions/);
  // a cont bit on the order-0 page's entry: its block is mostly none
  const c = contWorld();
  Atomics.or(c.m, c.ptep(B + 24), PTE_CONT);
  expectFindings(c, ['contpte-inconsistent']);
  // under arch generic the quiescent check leaves cont bits alone (it never writes them)
  const g = world();
  Atomics.or(g.m, g.ptep(B + 24), PTE_CONT);
  clean(g);
});

invTest('contpte-inconsistent (contpteBlockProblem): misaligned PFN, non-contiguous PFNs, two folios, special entries', () => {
  const w = contWorld();
  const m = w.m;
  const D = B + 256; // an unused part of the same table
  const fill = (pfn: (i: number) => number, flags = PTE_WRITE | PTE_CONT) => {
    for (let i = 0; i < 16; i++) Atomics.store(m, w.ptep(D + i), pfn_pte(pfn(i), flags));
    return contpteBlockProblem(w.h.machine, w.ptep(D));
  };
  const f = w.big;
  assert.equal(fill((i) => f + i), null, 'control: the big folio\'s 16 pages');
  assert.equal(fill((i) => f + i, PTE_WRITE), null, 'control: no cont bit, nothing to check');
  assert.match(String(fill((i) => (i === 7 ? f + 8 : f + i))), /not physically contiguous/);
  assert.match(String(fill((i) => f + 8 + i)), /not 16-aligned/);
  assert.match(String(fill((i) => f + i, PTE_CONT | PTE_SPECIAL)), /special/);
  // the same 16 pages, but the folio said to be order 3: they span two folios' worth
  const L = w.h.machine.L;
  Atomics.store(m, L.fOrder + f, 3);
  assert.match(String(fill((i) => f + i)), /not inside one folio/);
  Atomics.store(m, L.fOrder + f, 4);
  for (let i = 0; i < 16; i++) Atomics.store(m, w.ptep(D + i), 0);
});

invTest('contpte-inconsistent (spin_unlock): the blocks around the entries written under a PTL are checked when it is released', () => {
  const w = contWorld();
  const cpu = w.h.cpus[0];
  const table = w.h.machine.tableIndex(0, B);
  const ptl = w.h.machine.ptlOf(table);
  const other = w.h.machine.ptep(0, 4 * 512); // an entry of another table (its own PTL)
  // control: a consistent block written under the lock passes
  run(w.h, cpu, spin_lock(cpu, ptl));
  cpu.notePteWrite(w.ptep(B + 3), 1);
  spin_unlock(cpu, ptl);
  assert.equal(cpu.pteHi, -1, 'the record is dropped with the last lock');
  // a single-entry change without unfolding (entry 2), written under the lock, is caught at the release
  run(w.h, cpu, spin_lock(cpu, ptl));
  Atomics.and(w.m, w.ptep(B + 2), ~PTE_WRITE);
  cpu.notePteWrite(w.ptep(B + 2), 1);
  assert.throws(() => spin_unlock(cpu, ptl), (e: unknown) => e instanceof Violation && e.invariant === 'contpte-inconsistent' && e.details.vpn === B);
  // the same broken block, but the entry written lies in another table: not this PTL's to judge
  const w2 = contWorld();
  const c2 = w2.h.cpus[0];
  Atomics.and(w2.m, w2.ptep(B + 2), ~PTE_WRITE);
  run(w2.h, c2, spin_lock(c2, ptl));
  c2.notePteWrite(other, 1);
  spin_unlock(c2, ptl);
  // and an entry written in the next block of this table: only that block is judged
  run(w2.h, c2, spin_lock(c2, ptl));
  c2.notePteWrite(w2.ptep(B + 16), 1);
  spin_unlock(c2, ptl);
});

// ---- checkRead (the data oracle on every user read) ----------------------------------------

/** A user load by CPU cpu at vpn, checked by the oracle as the workload does. Returns the violation, if any. */
function readAs(w: World, cpu: number, vpn: number): Violation | null {
  const c = w.h.cpus[cpu];
  const out = newAccessOut();
  run(w.h, c, user_access(c, 0, vpn, false, 0, out));
  try {
    checkRead(c, 0, vpn, out.value, out.g1, out.g2, out.pfn);
    return null;
  } catch (e) {
    if (e instanceof Violation) return e;
    throw e;
  }
}

invTest('data-poison (checkRead): a read returns the poison of a freed page', () => {
  const w = world();
  const owner = ownerOf(w.h.machine, B + 1);
  assert.equal(readAs(w, owner, B + 1), null, 'control: the owner reads its write');
  Atomics.store(w.m, w.h.machine.L.pContent + w.big + 1, POISON);
  assert.equal(readAs(w, owner, B + 1)?.invariant, 'data-poison');
});

invTest('data-mismatch (checkRead): the owner reads something other than its last write', () => {
  const w = world();
  const owner = ownerOf(w.h.machine, B + 1);
  assert.equal(readAs(w, owner, B + 1), null);
  Atomics.store(w.m, w.h.machine.L.pContent + w.big + 1, token(0, B + 1));
  assert.equal(readAs(w, owner, B + 1)?.invariant, 'data-mismatch');
});

invTest('data-foreign (checkRead): a non-owner reads a token written for another page', () => {
  const w = world();
  const other = 1 - ownerOf(w.h.machine, B + 2);
  assert.equal(readAs(w, other, B + 2), null, 'control: zero is fine');
  Atomics.store(w.m, w.h.machine.L.pContent + w.big + 2, token(0, B + 2));
  assert.equal(readAs(w, other, B + 2), null, 'control: a token of this very page is fine');
  Atomics.store(w.m, w.h.machine.L.pContent + w.big + 2, token(0, B + 1));
  assert.equal(readAs(w, other, B + 2)?.invariant, 'data-foreign');
});

// ---- file mappings -----------------------------------------------------------------------------

/** A correct state with file mappings: a shared mapping of file 0 [0, 16) at B and a private one of file 1 at B+512, both faulted. */
function fileWorld(): World & { shared: number; priv: number } {
  const h = boot({ cpus: 1, files: { count: 2, pages: 64, orders: [0, 2, 4] } });
  mapFile(h, B, 16);
  mapFile(h, B + 512, 16, { file: 1, shared: false });
  writePage(h, 0, 0, B + 1);
  readPage(h, 0, 0, B + 512);
  const w = { h, m: h.machine.m, big: 0, small: 0, zeroVpn: 0, ptep: (vpn: number) => h.machine.ptep(0, vpn), shared: folioAt(h, 0, B)!.folio, priv: folioAt(h, 0, B + 512)!.folio };
  clean(w);
  return w;
}

invTest('pte-wrong-file-page: a PTE of a file VMA maps another page of the file', () => {
  const w = fileWorld();
  const pte = Atomics.load(w.m, w.ptep(B + 3));
  Atomics.store(w.m, w.ptep(B + 3), pfn_pte(pte_pfn(pte) + 1, pte & 0xff)); // maps file page 4 at vpn B+3
  // page 4 is now mapped twice and page 3 not at all
  expectFindings(w, ['mapcount-mismatch', 'pte-wrong-file-page']);
});

invTest('private-file-page-writable: a private file mapping maps the page cache page writable', () => {
  const w = fileWorld();
  Atomics.or(w.m, w.ptep(B + 512 + 2), PTE_WRITE);
  expectFindings(w, ['private-file-page-writable']);
});

invTest('pagecache-mismatch: a page cache slot points at a page that caches another file page', () => {
  const w = fileWorld();
  const L = w.h.machine.L;
  const slot = L.pcache + w.h.machine.filePage(0, 5);
  Atomics.store(w.m, slot, Atomics.load(w.m, slot) + 1);
  expectFindings(w, ['pagecache-mismatch']);
});

invTest('lost-write (final sync): the disk misses the last write of a file page', () => {
  const w = fileWorld();
  drive(process_exit(w.h.cpus[0], 0));
  assert.equal(drive(final_sync(w.h.cpus[0])), null, 'control: the sync writes every page');
  const w2 = fileWorld();
  drive(process_exit(w2.h.cpus[0], 0));
  // the write reached the file page but its folio is clean: no record that it must be written;
  // the final sync's writeback of the file is the first to miss it (the per-writeback contract)
  Atomics.and(w2.m, w2.h.machine.L.fFlags + w2.shared, ~FOLIO_DIRTY);
  assert.throws(() => drive(final_sync(w2.h.cpus[0])), (e: unknown) => e instanceof Violation && e.invariant === 'writeback-lost-write');
  // the disk check after the sync, the backstop: a file page whose disk copy is not its last write
  const w3 = fileWorld();
  drive(process_exit(w3.h.cpus[0], 0));
  assert.equal(drive(final_sync(w3.h.cpus[0])), null);
  const fp = [...Array(w3.h.machine.L.filePages).keys()].find((p) => Atomics.load(w3.m, w3.h.machine.L.oFile + p) !== 0)!;
  Atomics.store(w3.m, w3.h.machine.L.disk + fp, 0);
  assert.equal(checkDisk(w3.h.machine)?.invariant, 'lost-write');
});

invTest('data-misdirected (MMU): a store lands in a file page another CPU owns', () => {
  const h = boot({ cpus: 2, files: { count: 1, pages: 64, orders: [0] } });
  mapFile(h, B, 16);
  readPage(h, 0, 0, B); // CPU0 owns the even pages
  // point the entry of B (owned by CPU0) at file page 1 (owned by CPU1)
  const pte = Atomics.load(h.machine.m, h.machine.ptep(0, B));
  const other = folioAt(h, 0, B + 1);
  assert.equal(other, null, 'order 0: B+1 is not mapped yet');
  readPage(h, 1, 0, B + 1);
  const p1 = pte_pfn(Atomics.load(h.machine.m, h.machine.ptep(0, B + 1)));
  Atomics.store(h.machine.m, h.machine.ptep(0, B), pfn_pte(p1, pte & 0xff));
  const out = newAccessOut();
  assert.throws(() => run(h, 0, user_access(h.cpus[0], 0, B, true, token(0, B), out)), (e: unknown) => e instanceof Violation && e.invariant === 'data-misdirected');
});

// ---- coverage --------------------------------------------------------------------------------

test('every invariant name in src/check/invariants.ts, oracle.ts and contpte.ts has a test here', () => {
  const names = new Set<string>();
  for (const f of ['invariants.ts', 'oracle.ts', 'contpte.ts']) {
    const text = readFileSync(new URL(`../../../src/check/${f}`, import.meta.url), 'utf8');
    for (const m of text.matchAll(/'([a-z0-9]+(?:-[a-z0-9]+)+)'/g)) names.add(m[1]);
  }
  assert.ok(names.size >= 23, `found ${names.size} names`);
  assert.deepEqual([...names].filter((n) => !TESTED.has(n)).sort(), []);
});
