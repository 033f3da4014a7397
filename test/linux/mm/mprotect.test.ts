// mprotect (mm/mprotect.c): downgrade to read-only write-protects and flushes, the write then
// faults; the upgrade back makes only AnonExclusive pages writable; errors. Batched (one
// modify_prot_start_ptes/commit_ptes over a folio's entries, a/d of every entry kept, upgrades per
// AnonExclusive sub-batch) and per entry (batching: false); flushes only when pte_needs_flush.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boot, folioAt, type Harness, mapAnon, newAccessOut, run, stepper, writePage } from '../../helpers/machine.js';
import { do_mprotect } from '../../../src/linux/mm/mprotect.js';
import { dup_mm, process_exit } from '../../../src/linux/kernel/fork.js';
import { find_vma } from '../../../src/linux/mm/mmap.js';
import { user_access, ACCESS_OK, ACCESS_SEGV } from '../../../src/workload/access.js';
import { flush_tlb_range, tlb_lookup } from '../../../src/machine/tlb.js';
import { checkQuiescent } from '../../../src/check/invariants.js';
import { freeBegin, freeEnd } from '../../../src/check/oracle.js';
import { Violation } from '../../../src/machine/cpu.js';
import { PTE_DIRTY, pte_dirty, pte_pfn, pte_write } from '../../../src/machine/pte.js';
import { VM_READ, VM_WRITE } from '../../../src/machine/machine.js';
import { COST, COST_BASE, COST_KINDS, EV } from '../../../src/machine/events.js';
import { costOpIndex } from '../../../src/diag/op-codes.js';
import { drive } from '../../../src/machine/gen.js';
import type { Cpu } from '../../../src/machine/cpu.js';

const B = 1024;
const pte = (h: ReturnType<typeof boot>, vpn: number, mm = 0) => Atomics.load(h.machine.m, h.machine.ptep(mm, vpn));

test('mprotect R/O: every entry loses write, stale TLB entries are flushed, a write faults (SIGSEGV)', () => {
  const h = boot({ cpus: 1, anonOrders: [0, 4] });
  mapAnon(h, B, 16, { align: 16 });
  for (let v = B; v < B + 16; v++) writePage(h, 0, 0, v);
  assert.ok(tlb_lookup(h.cpus[0], 0, B + 15), 'a TLB entry from the writes');
  assert.equal(run(h, 0, do_mprotect(h.cpus[0], 0, B, B + 8, VM_READ)), 0);
  for (let v = B; v < B + 8; v++) assert.ok(!pte_write(pte(h, v)));
  for (let v = B + 8; v < B + 16; v++) assert.ok(pte_write(pte(h, v)), 'outside the range: untouched');
  assert.equal(find_vma(h.machine, 0, B)!.end, B + 8, 'the VMA was split');
  assert.equal(tlb_lookup(h.cpus[0], 0, B + 3), 0, 'flushed');
  const out = newAccessOut();
  run(h, 0, user_access(h.cpus[0], 0, B + 3, true, 5, out));
  assert.equal(out.status, ACCESS_SEGV);
  assert.deepEqual(checkQuiescent(h.machine), []);
});

test('mprotect R/O then R/W: exclusive pages become writable again without a fault', () => {
  const h = boot({ cpus: 1, anonOrders: [0, 4] });
  mapAnon(h, B, 16, { align: 16 });
  writePage(h, 0, 0, B);
  run(h, 0, do_mprotect(h.cpus[0], 0, B, B + 16, VM_READ));
  run(h, 0, do_mprotect(h.cpus[0], 0, B, B + 16, VM_READ | VM_WRITE));
  for (let v = B; v < B + 16; v++) assert.ok(pte_write(pte(h, v)), `B+${v - B} writable again`);
  assert.equal(find_vma(h.machine, 0, B)!.end, B + 16, 'merged back');
  const faults = h.cpus[0].counters[EV.FAULT];
  writePage(h, 0, 0, B + 1);
  assert.equal(h.cpus[0].counters[EV.FAULT], faults, 'no fault');
  assert.deepEqual(checkQuiescent(h.machine), []);
});

test('mprotect R/W after fork: shared pages stay read-only (COW still needed); the child is unaffected', () => {
  const h = boot({ cpus: 1, anonOrders: [0, 4] });
  mapAnon(h, B, 16, { align: 16 });
  for (let v = B; v < B + 16; v++) writePage(h, 0, 0, v);
  const child = run(h, 0, dup_mm(h.cpus[0], 0));
  run(h, 0, do_mprotect(h.cpus[0], 0, B, B + 16, VM_READ));
  run(h, 0, do_mprotect(h.cpus[0], 0, B, B + 16, VM_READ | VM_WRITE));
  for (let v = B; v < B + 16; v++) assert.ok(!pte_write(pte(h, v)), 'not AnonExclusive: stays read-only');
  const before = folioAt(h, child, B)!.pfn;
  writePage(h, 0, 0, B); // COW
  assert.notEqual(folioAt(h, 0, B)!.pfn, before);
  assert.equal(folioAt(h, child, B)!.pfn, before);
  const out = newAccessOut();
  run(h, 0, user_access(h.cpus[0], child, B, false, 0, out));
  assert.equal(out.status, ACCESS_OK);
  run(h, 0, process_exit(h.cpus[0], child));
  assert.deepEqual(checkQuiescent(h.machine), []);
});

test('mprotect errors: a hole in the range is ENOMEM with nothing changed; PROT_NONE is refused', () => {
  const h = boot({ cpus: 1 });
  mapAnon(h, B, 16, { align: 16 });
  writePage(h, 0, 0, B);
  assert.equal(run(h, 0, do_mprotect(h.cpus[0], 0, B, B + 32, VM_READ)), -12);
  assert.ok(pte_write(pte(h, B)));
  assert.equal(find_vma(h.machine, 0, B)!.flags & VM_WRITE, VM_WRITE);
  assert.equal(run(h, 0, do_mprotect(h.cpus[0], 0, B, B + 16, 0)), -22);
});

// ---- batching ----------------------------------------------------------------------------------

const BATCHING = [true, false] as const;
const mode = (b: boolean) => (b ? 'batched' : 'per entry');

/** An order-4 folio at [B, B+16) of mm 0, every page written by CPU 0. */
function written(batching: boolean, inject: string[] = []): Harness {
  const h = boot({ cpus: 2, anonOrders: [0, 4], batching, inject });
  mapAnon(h, B, 16, { align: 16 });
  for (let v = B; v < B + 16; v++) writePage(h, 0, 0, v);
  assert.equal(folioAt(h, 0, B)!.order, 4);
  return h;
}

/** Run do_mprotect on CPU 0 step by step; the most entries of [B, B+16) that were clear at once. */
function mostClearAtOnce(h: Harness, prot: number): number {
  const s = stepper(h, 0, do_mprotect(h.cpus[0], 0, B, B + 16, prot));
  let most = 0;
  while (s.step()) {
    let clear = 0;
    for (let v = B; v < B + 16; v++) if (pte(h, v) === 0) clear++;
    most = Math.max(most, clear);
  }
  assert.equal(s.value, 0);
  return most;
}

for (const batching of BATCHING) {
  test(`mprotect ${mode(batching)}: ${batching ? 'one start/commit transaction over the 16 entries of an order-4 folio' : 'one entry at a time'}`, () => {
    const h = written(batching);
    const pfn0 = pte_pfn(pte(h, B));
    assert.equal(mostClearAtOnce(h, VM_READ), batching ? 16 : 1);
    for (let v = B; v < B + 16; v++) {
      assert.ok(!pte_write(pte(h, v)) && pte_dirty(pte(h, v)), `B+${v - B}: read-only, still dirty`);
      assert.equal(pte_pfn(pte(h, v)), pfn0 + v - B, 'each entry keeps its own page (PFN advanced)');
    }
    assert.deepEqual(checkQuiescent(h.machine), []);
  });
}

/**
 * The a/d bits of every entry survive: the 16 entries made clean by hand (as page_mkclean would for
 * a file folio; nothing cleans anon entries in the model), then CPU1's store to B+9 sets its dirty
 * bit in hardware while CPU0's modify_prot_start_ptes has cleared entries 0..8 but not yet 9.
 */
function dirtyDuringStart(inject: string[]): { dirty: number[]; violation: string | null } {
  const h = written(true, inject);
  // clean entries over written pages: what a MADV_FREE of the range leaves (the oracle's free
  // window opened and closed around it, so the clean entries are declared disposable)
  freeBegin(h.machine, 0, B, B + 16);
  for (let v = B; v < B + 16; v++) Atomics.and(h.machine.m, h.machine.ptep(0, v), ~PTE_DIRTY);
  drive(flush_tlb_range(h.cpus[0], 0, B, B + 16)); // the clean entries must not hit a dirty TLB entry
  freeEnd(h.machine, 0, B, B + 16);
  const s = stepper(h, 0, do_mprotect(h.cpus[0], 0, B, B + 16, VM_READ));
  s.until(() => pte(h, B + 8) === 0, 'entry 8 cleared by start');
  assert.notEqual(pte(h, B + 9), 0, 'entry 9 not cleared yet');
  const faults = h.cpus[1].counters[EV.FAULT];
  writePage(h, 1, 0, B + 9); // new data in page 9: its only dirty record is the bit hardware sets
  assert.equal(h.cpus[1].counters[EV.FAULT], faults, 'the store went through without a fault');
  assert.equal(h.cpus[1].counters[EV.HW_DIRTY], 1, 'hardware set the dirty bit of entry 9');
  let violation: string | null = null;
  try {
    assert.equal(s.finish(), 0);
    assert.deepEqual(checkQuiescent(h.machine), []);
  } catch (e) {
    if (!(e instanceof Violation)) throw e;
    violation = e.invariant; // raised at the PTL release, after the commit: the entries are final
  }
  const dirty: number[] = [];
  for (let v = B; v < B + 16; v++) if (pte_dirty(pte(h, v))) dirty.push(v - B);
  return { dirty, violation };
}

test('mprotect batched: a dirty bit hardware sets on entry 9 between start entries is gathered, not lost', () => {
  // modify_prot_start_ptes ORs it into the template, so every entry of the batch commits dirty
  assert.deepEqual(dirtyDuringStart([]), { dirty: [...Array(16).keys()], violation: null });
  // the deviation keeps only entry 0's bits: the dirty bit is gone from every entry, and page 9's
  // new data is mapped clean in a clean folio: anon-data-clean at the PTL release
  assert.deepEqual(dirtyDuringStart(['prot-start-first-only']), { dirty: [], violation: 'anon-data-clean' });
});

/**
 * Fork, the child exits, the parent writes B+5: the folio is the parent's alone again, so the
 * write fault reuses page 5 in place (AnonExclusive); pages 0..4 and 6..15 stay shared-marked.
 */
function reusedPage5(batching: boolean): Harness {
  const h = written(batching);
  const child = run(h, 0, dup_mm(h.cpus[0], 0));
  assert.ok(child > 0);
  run(h, 0, process_exit(h.cpus[0], child));
  writePage(h, 0, 0, B + 5);
  assert.ok(h.cpus[0].counters[EV.WP_REUSE] >= 1, 'reused in place');
  return h;
}

for (const batching of BATCHING) {
  test(`mprotect ${mode(batching)} R/O then R/W: only the AnonExclusive page becomes writable`, () => {
    const h = reusedPage5(batching);
    assert.equal(run(h, 0, do_mprotect(h.cpus[0], 0, B, B + 16, VM_READ)), 0);
    assert.equal(run(h, 0, do_mprotect(h.cpus[0], 0, B, B + 16, VM_READ | VM_WRITE)), 0);
    for (let v = B; v < B + 16; v++) assert.equal(pte_write(pte(h, v)), v === B + 5, `B+${v - B}`);
    assert.deepEqual(checkQuiescent(h.machine), []);
    // a write to a page left read-only reuses it too (the folio is still this mm's alone)
    const reuse = h.cpus[0].counters[EV.WP_REUSE];
    writePage(h, 0, 0, B + 6);
    assert.equal(h.cpus[0].counters[EV.WP_REUSE], reuse + 1);
    assert.deepEqual(checkQuiescent(h.machine), []);
  });
}

/** TLB invalidations (one page or a range) counted against mprotect on this CPU. */
const rangeFlushes = (cpu: Cpu): number => {
  const row = COST_BASE + costOpIndex('mprotect') * COST_KINDS.length;
  return cpu.counters[row + COST.TLBI_PAGE] + cpu.counters[row + COST.TLBI_RANGE];
};

for (const batching of BATCHING) {
  test(`mprotect ${mode(batching)}: a TLB flush (counted) only when pte_needs_flush says so`, () => {
    const h = reusedPage5(batching);
    const cpu = h.cpus[0];
    cpu.curOp = 'mprotect';
    const flushes = (fn: () => void): number => {
      const before = rangeFlushes(cpu);
      fn();
      return rangeFlushes(cpu) - before;
    };
    const mp = (start: number, end: number, prot: number) => () => assert.equal(run(h, 0, do_mprotect(cpu, 0, start, end, prot)), 0);
    // R/O over entries that are all read-only already (the shared pages after the fork): no flush
    assert.equal(flushes(mp(B + 8, B + 16, VM_READ)), 0);
    // R/W where nothing may become writable (not AnonExclusive): the entries do not change
    assert.equal(flushes(mp(B + 8, B + 16, VM_READ | VM_WRITE)), 0);
    // the same flags again: mprotect_fixup has nothing to do
    assert.equal(flushes(mp(B, B + 16, VM_READ | VM_WRITE)), 0);
    // R/O over the writable B+5: a write downgrade flushes, only the gathered range (that one page)
    assert.ok(tlb_lookup(cpu, 0, B + 5), 'a TLB entry from the write');
    const pages = cpu.counters[COST_BASE + costOpIndex('mprotect') * COST_KINDS.length + COST.TLBI_PAGE];
    assert.equal(flushes(mp(B, B + 16, VM_READ)), 1);
    assert.equal(cpu.counters[COST_BASE + costOpIndex('mprotect') * COST_KINDS.length + COST.TLBI_PAGE], pages + 1, 'a one-page flush');
    assert.equal(tlb_lookup(cpu, 0, B + 5), 0, 'flushed');
    // R/W: B+5 is upgraded; x86's pte_needs_flush flushes on any change of RW, an upgrade too
    assert.equal(flushes(mp(B, B + 16, VM_READ | VM_WRITE)), 1);
    assert.ok(pte_write(pte(h, B + 5)));
    assert.deepEqual(checkQuiescent(h.machine), []);
  });
}
