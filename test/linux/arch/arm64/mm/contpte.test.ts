// The arm64 contpte layer (src/arch/arm64/mm/contpte.ts behind src/arch/arm64/include/asm/pgtable.ts):
// which mappings get PTE_CONT, that ptep_get ORs young/dirty over a block, that a single-entry
// change unfolds (one unfold, one 16-page flush) while a batch unfolds only the blocks it covers
// in part, fold on a block's last entry, and that hardware a/d bits survive fold and unfold; the
// young/dirty clearing of MADV_COLD/MADV_FREE (clear_young_dirty_ptes) works on whole blocks in place.
// Driven through the kernel paths where one exists (fault, zap, fork, wp fault, mremap), and
// through the pgtable.h helpers under the PTL where a test needs an exact PTE state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Cpu } from '../../../../../src/machine/cpu.js';
import type { Gen } from '../../../../../src/machine/gen.js';
import { EV } from '../../../../../src/machine/events.js';
import { defaultConfig } from '../../../../../src/config/config.js';
import { runSched } from '../../../../../src/engine/sched.js';
import { checkQuiescent } from '../../../../../src/check/invariants.js';
import { contpteBlockProblem } from '../../../../../src/check/contpte.js';
import { freeBegin, ownerOf, recordWrite, zapBegin, zapEnd } from '../../../../../src/check/oracle.js';
import { spin_lock, spin_unlock } from '../../../../../src/linux/kernel/locking/spinlock.js';
import { dup_mm } from '../../../../../src/linux/kernel/fork.js';
import { madvise_dontneed } from '../../../../../src/linux/mm/madvise.js';
import { handle_mm_fault, VM_FAULT_OK } from '../../../../../src/linux/mm/memory.js';
import { do_mmap, do_munmap, find_vma } from '../../../../../src/linux/mm/mmap.js';
import { VM_ANON, VM_READ, VM_WRITE } from '../../../../../src/machine/machine.js';
import { do_mremap } from '../../../../../src/linux/mm/mremap.js';
import { alloc_folio } from '../../../../../src/linux/mm/page_alloc.js';
import { FPB_IGNORE_DIRTY, folio_pte_batch } from '../../../../../src/linux/mm/internal.js';
import { user_access } from '../../../../../src/workload/access.js';
import { flush_tlb_range, tlb_lookup } from '../../../../../src/machine/tlb.js';
import {
  PTE_CONT, PTE_DIRTY, PTE_WRITE, PTE_YOUNG, pfn_pte, pte_cont, pte_dirty, pte_none, pte_pfn, pte_mkspecial, pte_present, pte_special, pte_young,
} from '../../../../../src/machine/pte.js';
import {
  CYDP_CLEAR_DIRTY, CYDP_CLEAR_YOUNG, clear_young_dirty_ptes, ptep_get, ptep_get_and_clear, ptep_test_and_clear_young, set_pte_at, set_ptes, wrprotect_ptes,
} from '../../../../../src/linux/include/linux/pgtable.js';
import { Violation } from '../../../../../src/machine/cpu.js';
import * as arm64 from '../../../../../src/linux/arch/arm64/include/asm/pgtable.js';
import { boot, folioAt, folioOrder, type Harness, mapAnon, newAccessOut, pteAt, run, stepper, token, total, writePage } from '../../../../helpers/machine.js';

const B = 1024; // PTE table 2 of mm 0, 16- and 32-aligned
const D = 3072; // PTE table 6

function contBoot(anonOrders = [0, 2, 4, 5]): Harness {
  return boot({ arch: 'contpte', anonOrders, cpus: 2 });
}

/** Sum over every CPU of the cost counters of one kind (tlbiPage, tlbiRange, contFold, contUnfold). */
function cost(h: Harness, kind: string): number {
  let n = 0;
  for (const c of h.cpus) for (const [k, v] of Object.entries(c.counterMap())) if (k.startsWith('cost.') && k.endsWith(`.${kind}`)) n += v;
  return n;
}
/** Raw PTE_CONT bits of [start, start+n) as a string of C/. */
function contMap(h: Harness, start: number, n: number): string {
  let s = '';
  for (let v = start; v < start + n; v++) s += pte_cont(pteAt(h, 0, v)) ? 'C' : pte_present(pteAt(h, 0, v)) ? '.' : '_';
  return s;
}
const ALL_C = 'C'.repeat(16);
const NONE_C = '.'.repeat(16);

function clean(h: Harness): void {
  assert.deepEqual(checkQuiescent(h.machine), []);
  assert.deepEqual(h.observed, []);
}
function dontneed(h: Harness, cpu: number, s: number, e: number): void {
  zapBegin(h.machine, 0, s, e);
  run(h, cpu, madvise_dontneed(h.cpus[cpu], 0, s, e));
  zapEnd(h.machine, 0, s, e);
}
/**
 * Run g with the PTL of vpn's table held (the populated table), as the kernel calls these helpers.
 * A table no VMA covers yet gets one over all of it: the entries a test writes lie in a VMA, as
 * the per-table contract at the PTL release requires.
 */
function* locked<T>(cpu: Cpu, vpn: number, g: Gen<T>): Gen<T> {
  const table = cpu.machine.tableIndex(0, vpn);
  const t0 = vpn & ~511;
  if (!find_vma(cpu.machine, 0, vpn)) assert.equal(yield* do_mmap(cpu, 0, 512, 512, t0, VM_READ | VM_WRITE | VM_ANON, true), t0);
  Atomics.store(cpu.m, cpu.machine.pgdWord(table), 1);
  yield* spin_lock(cpu, cpu.machine.ptlOf(table));
  const r = yield* g;
  spin_unlock(cpu, cpu.machine.ptlOf(table));
  return r;
}
/**
 * A fresh folio of order for tests that look at PTE bits only: no rmap or reference accounting
 * beyond a mapcount of 1 per page, so the per-table contract at each PTL release (a mapped page
 * has a mapcount) holds wherever a test maps a page once.
 */
function folio(h: Harness, order: number): number {
  const f = run(h, 0, alloc_folio(h.cpus[0], order));
  assert.ok(f >= 0 && folioOrder(h.machine, f) === order);
  for (let i = 0; i < 1 << order; i++) Atomics.store(h.machine.m, h.machine.L.pMapcount + f + i, 1);
  return f;
}
const ptep = (h: Harness, vpn: number) => h.machine.ptep(0, vpn);

test('contpte: a write fault mapping a whole aligned order-4 folio writes PTE_CONT on all 16 entries', () => {
  const h = contBoot();
  mapAnon(h, B, 16, { align: 16 });
  writePage(h, 0, 0, B + 3);
  assert.equal(folioAt(h, 0, B)!.order, 4);
  assert.equal(contMap(h, B, 16), ALL_C);
  assert.equal(cost(h, 'contFold'), 0, 'set_ptes writes the cont bit directly, no fold');
  assert.equal(contpteBlockProblem(h.machine, ptep(h, B)), null);
  clean(h);
});

test('contpte: an order-5 folio gets two cont blocks; order 2 and the zero page get none', () => {
  const h = contBoot();
  mapAnon(h, B, 64, { align: 32 });
  writePage(h, 0, 0, B + 1);
  assert.equal(folioAt(h, 0, B)!.order, 5);
  assert.equal(contMap(h, B, 32), ALL_C + ALL_C);
  const h2 = contBoot([0, 2]);
  mapAnon(h2, B, 16, { align: 16 });
  for (let v = B; v < B + 16; v += 4) writePage(h2, 0, 0, v);
  assert.equal(contMap(h2, B, 16), NONE_C, 'four order-2 folios: not one folio, no cont');
  // read faults map the shared zero page, one special entry at a time: never cont
  mapAnon(h2, B + 64, 16, { align: 16 });
  for (let v = B + 64; v < B + 80; v++) assert.equal(run(h2, 0, handle_mm_fault(h2.cpus[0], 0, v, false)), VM_FAULT_OK);
  assert.equal(contMap(h2, B + 64, 16), NONE_C);
  assert.ok(pte_special(pteAt(h2, 0, B + 79)));
  clean(h);
  clean(h2);
});

test('contpte: set_ptes gives no cont to a partial block or to a misaligned VA or PFN', () => {
  const h = contBoot();
  const f = folio(h, 4);
  const cpu = h.cpus[0];
  run(h, cpu, locked(cpu, B, set_ptes(cpu, ptep(h, B), pfn_pte(f, PTE_WRITE | PTE_YOUNG | PTE_DIRTY), 8)));
  assert.equal(contMap(h, B, 16), '.'.repeat(8) + '_'.repeat(8), 'half a block: no cont');
  const g = folio(h, 4);
  run(h, cpu, locked(cpu, B + 40, set_ptes(cpu, ptep(h, B + 40), pfn_pte(g, PTE_WRITE), 16)));
  assert.equal(contMap(h, B + 32, 32), '_'.repeat(8) + NONE_C + '_'.repeat(8), 'VA misaligned by 8: no cont');
  const k = folio(h, 5);
  run(h, cpu, locked(cpu, B + 64, set_ptes(cpu, ptep(h, B + 64), pfn_pte(k + 8, PTE_WRITE), 16)));
  assert.equal(contMap(h, B + 64, 16), NONE_C, 'PFN misaligned by 8: no cont');
  const l = folio(h, 5);
  run(h, cpu, locked(cpu, B + 96, set_ptes(cpu, ptep(h, B + 96), pfn_pte(l, PTE_WRITE | PTE_CONT), 32)));
  assert.equal(contMap(h, B + 96, 32), ALL_C + ALL_C, 'control: aligned VA and PFN, whole blocks (a cont bit passed in is ignored)');
  for (let v = B; v < B + 128; v += 16) assert.equal(contpteBlockProblem(h.machine, ptep(h, v)), null);
});

test('contpte: an order-4 folio moved by mremap to a VA misaligned by 8 loses its cont bits', () => {
  const h = contBoot();
  mapAnon(h, B, 16, { align: 16 });
  for (let v = B; v < B + 16; v++) writePage(h, ownerOf(h.machine, v), 0, v);
  assert.equal(contMap(h, B, 16), ALL_C);
  assert.equal(run(h, 0, do_mremap(h.cpus[0], 0, B, 16, D + 8)), D + 8);
  assert.equal(contMap(h, D, 32), '_'.repeat(8) + '.'.repeat(16) + '_'.repeat(8));
  assert.equal(cost(h, 'contUnfold'), 1, 'the first ptep_get_and_clear unfolds the source block once');
  assert.equal(cost(h, 'contFold'), 0);
  clean(h);
});

test('contpte: ptep_get of a cont entry ORs young/dirty of its block; of a non-cont entry it does not', () => {
  const h = contBoot();
  const cpu = h.cpus[0];
  const f = folio(h, 4);
  run(h, cpu, locked(cpu, B, set_ptes(cpu, ptep(h, B), pfn_pte(f, PTE_WRITE), 16)));
  assert.equal(contMap(h, B, 16), ALL_C);
  assert.ok(!pte_young(ptep_get(cpu, ptep(h, B))) && !pte_dirty(ptep_get(cpu, ptep(h, B))));
  Atomics.or(h.machine.m, ptep(h, B + 5), PTE_YOUNG); // as the MMU does, on the entry it used
  Atomics.or(h.machine.m, ptep(h, B + 12), PTE_DIRTY);
  for (const v of [B, B + 5, B + 15]) {
    const pte = ptep_get(cpu, ptep(h, v));
    assert.ok(pte_young(pte) && pte_dirty(pte), `vpn ${v - B} reads the block's young and dirty`);
    assert.equal(pte_pfn(pte), f + v - B);
  }
  assert.ok(!pte_young(pteAt(h, 0, B)), 'the raw entry itself is unchanged');
  // a non-cont neighbour block: each entry reads alone
  const g = folio(h, 4);
  run(h, cpu, locked(cpu, B + 16, set_ptes(cpu, ptep(h, B + 16), pfn_pte(g, PTE_WRITE), 8)));
  Atomics.or(h.machine.m, ptep(h, B + 17), PTE_DIRTY);
  assert.ok(!pte_dirty(ptep_get(cpu, ptep(h, B + 16))));
  assert.ok(pte_dirty(ptep_get(cpu, ptep(h, B + 17))));
});

test('contpte: MADV_DONTNEED of one page of a cont block unfolds once, with one 16-page range flush', () => {
  const h = contBoot();
  mapAnon(h, B, 16, { align: 16 });
  writePage(h, 0, 0, B);
  const ranges0 = h.cpus.reduce((s, c) => s + c.counters[EV.TLB_FLUSH], 0);
  const r0 = cost(h, 'tlbiRange');
  dontneed(h, 1, B + 6, B + 7);
  assert.equal(cost(h, 'contUnfold'), 1);
  assert.equal(cost(h, 'tlbiRange') - r0, 1, 'the unfold flushes the block as one range');
  assert.equal(h.cpus.reduce((s, c) => s + c.counters[EV.TLB_FLUSH], 0) - ranges0, 2, 'the unfold, then the zap\'s own one-page flush');
  assert.equal(contMap(h, B, 16), '......_.........');
  clean(h);
});

test('contpte: a wp fault on one page of a cont block (after fork) unfolds that block only', () => {
  const h = contBoot();
  mapAnon(h, B, 32, { align: 32 });
  for (let v = B; v < B + 32; v++) writePage(h, ownerOf(h.machine, v), 0, v);
  assert.equal(folioAt(h, 0, B)!.order, 5);
  const child = run(h, 0, dup_mm(h.cpus[0], 0));
  assert.ok(child > 0);
  assert.equal(cost(h, 'contUnfold'), 0, 'fork write-protects whole cont blocks in place');
  assert.equal(contMap(h, B, 32), ALL_C + ALL_C, 'the parent keeps its cont blocks, now read-only');
  assert.ok(!(pteAt(h, 0, B) & PTE_WRITE));
  const fu = cost(h, 'contUnfold');
  writePage(h, ownerOf(h.machine, B + 20), 0, B + 20); // wp fault: shared with the child -> copy -> ptep_clear_flush
  assert.equal(cost(h, 'contUnfold') - fu, 1);
  assert.equal(contMap(h, B, 32), ALL_C + NONE_C);
  assert.notEqual(folioAt(h, 0, B + 20)!.order, 5, 'the written page is a copy now');
  clean(h);
});

test('contpte: ptep_get_and_clear on one cont entry unfolds the block and keeps the other 15', () => {
  const h = contBoot();
  const cpu = h.cpus[0];
  const f = folio(h, 4);
  run(h, cpu, locked(cpu, B, set_ptes(cpu, ptep(h, B), pfn_pte(f, PTE_WRITE), 16)));
  Atomics.or(h.machine.m, ptep(h, B + 9), PTE_DIRTY);
  const old = run(h, cpu, locked(cpu, B, ptep_get_and_clear(cpu, ptep(h, B + 3))));
  assert.equal(pte_cont(old), false, 'the value handed back is non-cont');
  assert.ok(pte_dirty(old), 'and carries the block\'s dirty bit (gathered by the unfold)');
  assert.equal(contMap(h, B, 16), '..._............');
  assert.equal(cost(h, 'contUnfold'), 1);
  assert.equal(cost(h, 'tlbiRange'), 1);
  for (let v = B; v < B + 16; v++) if (v !== B + 3) assert.ok(pte_dirty(pteAt(h, 0, v)), 'the gathered dirty bit is on every entry');
});

test('contpte: zap of a range covering blocks in part unfolds only the partial first/last blocks', () => {
  // [B+8, B+32) of an order-5 folio: the first block in part (unfold), the second whole (cleared as is)
  const h = contBoot();
  mapAnon(h, B, 32, { align: 32 });
  writePage(h, 0, 0, B);
  assert.equal(contMap(h, B, 32), ALL_C + ALL_C);
  dontneed(h, 1, B + 8, B + 32);
  assert.equal(cost(h, 'contUnfold'), 1);
  assert.equal(contMap(h, B, 32), '.'.repeat(8) + '_'.repeat(24));
  clean(h);
  // [B+4, B+20): both blocks in part: two unfolds
  const h2 = contBoot();
  mapAnon(h2, B, 32, { align: 32 });
  writePage(h2, 0, 0, B);
  dontneed(h2, 1, B + 4, B + 20);
  assert.equal(cost(h2, 'contUnfold'), 2);
  assert.equal(contMap(h2, B, 32), '....' + '_'.repeat(16) + '.'.repeat(12));
  clean(h2);
  // munmap of the whole folio: no unfold at all
  const h3 = contBoot();
  mapAnon(h3, B, 32, { align: 32 });
  writePage(h3, 0, 0, B);
  zapBegin(h3.machine, 0, B, B + 32);
  assert.equal(run(h3, 1, do_munmap(h3.cpus[1], 0, B, B + 32)), 0);
  zapEnd(h3.machine, 0, B, B + 32);
  assert.equal(cost(h3, 'contUnfold'), 0);
  clean(h3);
});

test('contpte: entries written one by one fold on the block\'s last entry; not when one entry differs', () => {
  const h = contBoot();
  const cpu = h.cpus[0];
  const f = folio(h, 4);
  for (let i = 0; i < 15; i++) run(h, cpu, locked(cpu, B, set_pte_at(cpu, ptep(h, B + i), pfn_pte(f + i, PTE_WRITE | (i === 4 ? PTE_DIRTY : 0)))));
  assert.equal(contMap(h, B, 16), '.'.repeat(15) + '_');
  assert.equal(cost(h, 'contFold'), 0);
  run(h, cpu, locked(cpu, B, set_pte_at(cpu, ptep(h, B + 15), pfn_pte(f + 15, PTE_WRITE | PTE_YOUNG))));
  assert.equal(contMap(h, B, 16), ALL_C, 'young/dirty differences do not stop a fold');
  assert.equal(cost(h, 'contFold'), 1);
  assert.equal(cost(h, 'tlbiRange'), 1, 'the fold flushes the block once');
  // one entry read-only: no fold
  const g = folio(h, 4);
  for (let i = 0; i < 16; i++) run(h, cpu, locked(cpu, B + 16, set_pte_at(cpu, ptep(h, B + 16 + i), pfn_pte(g + i, i === 7 ? 0 : PTE_WRITE))));
  assert.equal(contMap(h, B + 16, 16), NONE_C);
  // one entry of another folio: no fold (the PFNs are contiguous only within g)
  const k = folio(h, 4);
  for (let i = 0; i < 16; i++) run(h, cpu, locked(cpu, B + 32, set_pte_at(cpu, ptep(h, B + 32 + i), pfn_pte(i === 7 ? g + 7 : k + i, PTE_WRITE))));
  assert.equal(contMap(h, B + 32, 16), NONE_C);
  // two order-3 buddies: 16 contiguous, aligned PFNs, same prot, but two folios: no fold
  const q = Array.from({ length: 8 }, () => folio(h, 3));
  const lo = q.find((a) => (a & 15) === 0 && q.includes(a + 8));
  assert.ok(lo !== undefined, `a pair of order-3 buddies among ${q}`);
  for (let i = 0; i < 16; i++) run(h, cpu, locked(cpu, B + 48, set_pte_at(cpu, ptep(h, B + 48 + i), pfn_pte(lo + i, PTE_WRITE))));
  assert.equal(contMap(h, B + 48, 16), NONE_C, 'two folios');
  // special entries (no folio behind them) never fold, even with aligned, contiguous PFNs of one folio
  // (a special entry on a folio's page is no state the kernel leaves behind: the per-table contract
  // would stop it at the PTL release, so the entries are written and cleared under one hold)
  const sp = folio(h, 4);
  let special = '';
  run(h, cpu, locked(cpu, B + 64, (function* () {
    for (let i = 0; i < 16; i++) yield* set_pte_at(cpu, ptep(h, B + 64 + i), pte_mkspecial(pfn_pte(sp + i, PTE_YOUNG)));
    special = contMap(h, B + 64, 16);
    for (let i = 0; i < 16; i++) Atomics.store(h.machine.m, ptep(h, B + 64 + i), 0);
  })()));
  assert.equal(special, NONE_C, 'special');
  assert.equal(cost(h, 'contFold'), 1);
});

test('contpte: mremap of a cont block to an aligned VA unfolds the source and folds the destination', () => {
  const h = contBoot();
  mapAnon(h, B, 16, { align: 16 });
  for (let v = B; v < B + 16; v++) writePage(h, ownerOf(h.machine, v), 0, v);
  assert.equal(run(h, 0, do_mremap(h.cpus[0], 0, B, 16, D)), D);
  assert.equal(contMap(h, D, 16), ALL_C);
  assert.equal(cost(h, 'contUnfold'), 1);
  assert.equal(cost(h, 'contFold'), 1);
  clean(h);
});

test('contpte: a hardware dirty bit on entry 7 is seen through entry 0 and kept through unfold and fold', () => {
  const h = contBoot();
  const cpu = h.cpus[0];
  const f = folio(h, 4);
  run(h, cpu, locked(cpu, B, set_ptes(cpu, ptep(h, B), pfn_pte(f, PTE_WRITE), 16)));
  assert.equal(contMap(h, B, 16), ALL_C);
  // a user store through the MMU: it sets young and dirty on entry 7 only
  const out = newAccessOut();
  run(h, 1, user_access(h.cpus[1], 0, B + 7, true, token(0, B + 7), out));
  assert.equal(out.faults, 0);
  assert.ok(pte_dirty(pteAt(h, 0, B + 7)) && !pte_dirty(pteAt(h, 0, B)), 'hardware set dirty on the entry it used');
  assert.ok(pte_dirty(ptep_get(cpu, ptep(h, B))), 'ptep_get on entry 0 sees it');
  // unfold (a single-entry wrprotect of entry 0): the dirty bit is gathered onto all 16
  run(h, cpu, locked(cpu, B, wrprotect_ptes(cpu, ptep(h, B), 1)));
  assert.equal(contMap(h, B, 16), NONE_C);
  for (let v = B; v < B + 16; v++) assert.ok(pte_dirty(pteAt(h, 0, v)), `entry ${v - B} dirty after the unfold`);
  // write entry 0 back writable and clean, and refold by rewriting the last entry clean too
  run(h, cpu, locked(cpu, B, set_pte_at(cpu, ptep(h, B), pfn_pte(f, PTE_WRITE))));
  run(h, cpu, locked(cpu, B, set_pte_at(cpu, ptep(h, B + 15), pfn_pte(f + 15, PTE_WRITE))));
  assert.equal(contMap(h, B, 16), ALL_C);
  assert.equal(cost(h, 'contFold'), 1);
  for (let v = B; v < B + 16; v++) assert.ok(pte_dirty(pteAt(h, 0, v)), `entry ${v - B} dirty after the fold`);
  assert.ok(pte_dirty(ptep_get(cpu, ptep(h, B + 3))));
});

test('contpte: folio_pte_batch reads through ptep_get, so a cont block batches whole though hardware dirtied one entry', () => {
  const h = contBoot();
  const cpu = h.cpus[0];
  const f = folio(h, 5);
  run(h, cpu, locked(cpu, B, set_ptes(cpu, ptep(h, B), pfn_pte(f, PTE_WRITE), 32)));
  Atomics.or(h.machine.m, ptep(h, B + 7), PTE_DIRTY); // the MMU's store on entry 7
  // dirty respected (fork's flags): the raw entries differ at 7, the block's reads do not
  const b = folio_pte_batch(cpu, f, 32, ptep(h, B), ptep_get(cpu, ptep(h, B)), 32, 0);
  assert.equal(b.nr, 16, 'the first block batches whole; the second block is clean, so the batch stops there');
  assert.ok(b.anyDirty);
  const b2 = folio_pte_batch(cpu, f, 32, ptep(h, B), ptep_get(cpu, ptep(h, B)), 32, FPB_IGNORE_DIRTY);
  assert.equal(b2.nr, 32);
});

test('contpte: arm64 modify_prot_start_ptes/commit_ptes (for batched mprotect): clear with a/d gathered, partial blocks unfolded; commit refolds whole blocks', () => {
  const h = contBoot();
  const cpu = h.cpus[0];
  const f = folio(h, 5);
  run(h, cpu, locked(cpu, B, set_ptes(cpu, ptep(h, B), pfn_pte(f, PTE_WRITE), 32)));
  Atomics.or(h.machine.m, ptep(h, B + 20), PTE_DIRTY);
  // [B+8, B+32): the first block in part (one unfold), the second whole (cleared as it is)
  const old = run(h, cpu, locked(cpu, B, arm64.modify_prot_start_ptes(cpu, ptep(h, B + 8), 24)));
  assert.equal(cost(h, 'contUnfold'), 1);
  assert.ok(pte_dirty(old), 'the dirty bit of entry 20 is in the returned entry');
  assert.equal(pte_pfn(old), f + 8);
  assert.equal(contMap(h, B, 32), '.'.repeat(8) + '_'.repeat(24));
  // commit read-only: the whole second block comes back cont, the first block's half does not
  run(h, cpu, locked(cpu, B, arm64.modify_prot_commit_ptes(cpu, ptep(h, B + 8), old, old & ~PTE_WRITE, 24)));
  assert.equal(contMap(h, B, 32), NONE_C + ALL_C);
  assert.ok(!(pteAt(h, 0, B + 20) & PTE_WRITE) && pte_pfn(pteAt(h, 0, B + 31)) === f + 31);
  // a single entry: start unfolds its block, commit (set_ptes of 1) refolds it when it is the last
  const o15 = run(h, cpu, locked(cpu, B, arm64.modify_prot_start_ptes(cpu, ptep(h, B + 31), 1)));
  assert.equal(contMap(h, B + 16, 16), '.'.repeat(15) + '_');
  run(h, cpu, locked(cpu, B, arm64.modify_prot_commit_ptes(cpu, ptep(h, B + 31), o15, o15, 1)));
  assert.equal(contMap(h, B + 16, 16), ALL_C);
  assert.equal(cost(h, 'contFold'), 1);
});

test('contpte: a store that finds its block cleared mid-unfold faults, waits for the PTL, and lands in the folio', () => {
  const h = contBoot();
  mapAnon(h, B, 16, { align: 16 });
  for (let v = B; v < B + 16; v++) writePage(h, ownerOf(h.machine, v), 0, v);
  const folio0 = folioAt(h, 0, B)!.folio;
  const w = ownerOf(h.machine, B + 9), z = 1 - w;
  // CPU w must walk the table (a TLB hit would store without looking at the entry, as hardware does)
  run(h, w, flush_tlb_range(h.cpus[w], 0, B, B + 16));
  assert.equal(tlb_lookup(h.cpus[w], 0, B + 9), 0);
  // CPU z zaps one page: the unfold clears all 16 entries, flushes, rewrites them, under the PTL
  zapBegin(h.machine, 0, B + 2, B + 3);
  const sz = stepper(h, z, madvise_dontneed(h.cpus[z], 0, B + 2, B + 3));
  sz.until(() => pte_none(pteAt(h, 0, B + 9)), 'the unfold cleared the block');
  // CPU w stores to B+9 now: no entry, so it faults and blocks on the PTL
  const out = newAccessOut();
  const tok = token(0, B + 9);
  const sw = stepper(h, w, user_access(h.cpus[w], 0, B + 9, true, tok, out));
  sw.until(() => !sw.runnable(), 'the store blocks on the PTL');
  sz.finish();
  zapEnd(h.machine, 0, B + 2, B + 3);
  sw.finish();
  recordWrite(h.machine, 0, B + 9, tok, out.g1, out.g2);
  assert.ok(out.faults >= 1, 'the store faulted');
  assert.equal(out.pfn, folio0 + 9, 'and landed in the original folio once the block was back');
  assert.equal(contMap(h, B, 16), '.._.............');
  clean(h);
});

/** Young and dirty of [start, start+n) as a string: D dirty and young, d dirty, y young, . neither, _ none. */
function adMap(h: Harness, start: number, n: number): string {
  let s = '';
  for (let v = start; v < start + n; v++) {
    const pte = pteAt(h, 0, v);
    s += !pte_present(pte) ? '_' : pte_dirty(pte) && pte_young(pte) ? 'D' : pte_dirty(pte) ? 'd' : pte_young(pte) ? 'y' : '.';
  }
  return s;
}

test('contpte: clear_young_dirty_ptes widens a range that starts or ends inside a cont block to the whole block, clears in place (no unfold, no flush), and a non-cont entry alone', () => {
  const h = contBoot();
  const cpu = h.cpus[0];
  const f = folio(h, 5);
  run(h, cpu, locked(cpu, B, set_ptes(cpu, ptep(h, B), pfn_pte(f, PTE_WRITE | PTE_DIRTY | PTE_YOUNG), 32)));
  const g = folio(h, 0);
  run(h, cpu, locked(cpu, B, set_pte_at(cpu, ptep(h, B + 40), pfn_pte(g, PTE_WRITE | PTE_DIRTY | PTE_YOUNG))));
  assert.equal(contMap(h, B, 32), 'C'.repeat(32));
  // [B+3, B+20): the first block from its entry 3, the second to its entry 3: both blocks whole
  run(h, cpu, locked(cpu, B, clear_young_dirty_ptes(cpu, ptep(h, B + 3), 17, CYDP_CLEAR_YOUNG | CYDP_CLEAR_DIRTY)));
  assert.equal(adMap(h, B, 32), '.'.repeat(32));
  assert.equal(contMap(h, B, 32), 'C'.repeat(32), 'still cont');
  assert.equal(cost(h, 'contUnfold'), 0);
  assert.equal(cost(h, 'tlbiRange') + cost(h, 'tlbiPage'), 0, 'the caller flushes (tlb_remove_tlb_entries)');
  // young only keeps the dirty bits hardware set (the compare-and-swap form)
  Atomics.or(h.machine.m, ptep(h, B + 7), PTE_DIRTY | PTE_YOUNG);
  run(h, cpu, locked(cpu, B, clear_young_dirty_ptes(cpu, ptep(h, B + 7), 1, CYDP_CLEAR_YOUNG)));
  assert.equal(adMap(h, B, 16), '.......d........', 'one cont entry: its block (young gone, dirty kept)');
  // a non-cont entry alone: only it
  run(h, cpu, locked(cpu, B, clear_young_dirty_ptes(cpu, ptep(h, B + 40), 1, CYDP_CLEAR_DIRTY)));
  assert.equal(adMap(h, B + 40, 1), 'y');
  assert.ok(total(h, EV.CONT_CYD_BLOCKS) >= 2);
});

test('contpte: ptep_test_and_clear_young clears its whole block (no unfold) and says whether any entry was young', () => {
  const h = contBoot();
  const cpu = h.cpus[0];
  const f = folio(h, 4);
  run(h, cpu, locked(cpu, B, set_ptes(cpu, ptep(h, B), pfn_pte(f, PTE_WRITE), 16)));
  Atomics.or(h.machine.m, ptep(h, B + 12), PTE_YOUNG | PTE_DIRTY);
  assert.equal(run(h, cpu, locked(cpu, B, (function* () { return ptep_test_and_clear_young(cpu, ptep(h, B + 2)); })())), true);
  assert.equal(adMap(h, B, 16), '............d...');
  assert.equal(run(h, cpu, locked(cpu, B, (function* () { return ptep_test_and_clear_young(cpu, ptep(h, B + 2)); })())), false);
  assert.equal(contMap(h, B, 16), ALL_C);
  assert.equal(cost(h, 'contUnfold'), 0);
});

test('contpte: deviation cyd-length-bytes (a byte length for a page count) clears young and dirty from the block start to the end of the PTE table (clamped there), other VMAs included; the contract catches it', () => {
  for (const inject of [[], ['cyd-length-bytes']]) {
    const h = boot({ arch: 'contpte', anonOrders: [0, 4], cpus: 2, inject });
    mapAnon(h, B, 16, { align: 16 });
    for (let v = B; v < B + 16; v++) writePage(h, ownerOf(h.machine, v), 0, v);
    mapAnon(h, B + 100, 4);
    writePage(h, ownerOf(h.machine, B + 101), 0, B + 101);
    mapAnon(h, B + 512, 4); // the next table
    writePage(h, ownerOf(h.machine, B + 513), 0, B + 513);
    const cpu = h.cpus[0];
    freeBegin(h.machine, 0, B, B + 16); // MADV_FREE's range, declared disposable (the data oracle's free window)
    const off = h.machine.ptlOf(h.machine.tableIndex(0, B));
    run(h, cpu, spin_lock(cpu, off));
    const ok = (() => {
      try {
        run(h, cpu, clear_young_dirty_ptes(cpu, ptep(h, B), 16, CYDP_CLEAR_YOUNG | CYDP_CLEAR_DIRTY));
        return true;
      } catch (e) {
        assert.ok(e instanceof Violation);
        assert.equal(`${e.invariant}@${e.path}`, 'clear-young-dirty-outside-range@clear_young_dirty_ptes');
        return false;
      }
    })();
    assert.equal(ok, inject.length === 0);
    assert.equal(adMap(h, B, 16), '.'.repeat(16));
    assert.equal(adMap(h, B + 101, 1), inject.length ? '.' : 'D', 'another VMA of the table');
    assert.equal(adMap(h, B + 513, 1), 'D', 'never past the table');
    if (ok) spin_unlock(cpu, off);
  }
});

test('contpte: runSched with anonOrders [0, 2, 4, 5] is clean over 30 seeds, folds and unfolds happen', () => {
  const cfg = defaultConfig({ arch: 'contpte', anonOrders: [0, 2, 4, 5] });
  let unfolds = 0, folds = 0;
  for (let s = 1; s <= 30; s++) {
    const r = runSched(cfg, s);
    assert.deepEqual(r.violations.map((v) => `${v.signature} ${JSON.stringify(v.details)}`), [], `seed ${s}`);
    for (const [k, v] of Object.entries(r.events)) {
      if (k.endsWith('.contUnfold')) unfolds += v;
      if (k.endsWith('.contFold')) folds += v;
    }
  }
  assert.ok(unfolds > 0, 'unfolds happened');
  assert.ok(folds > 0, 'folds happened');
});
