// The anon-fault order fallback race (seeds/004): CPU0's lockless scan in alloc_anon_folio picks
// order 4, CPU1 then maps a smaller folio inside the same 16-page range, CPU0 takes the PTL and its
// recheck ("range still none") fails while its own PTE is still none. What happens next is the
// anonFallback policy: refault (upstream: release, return, the access faults again), retry-lower
// (the 2023 RFC: order-- in the same fault), preferred-or-0 (retry once with order 0).
//
// CPU1 gets a smaller folio because it runs with different enabled orders (as if the mTHP sysfs
// `enabled` files changed between the two faults); the last test gets the same race from the
// allocator instead (CPU1's order-4 allocation fails), with one config for both CPUs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AnonFallback } from '../../../src/config/config.js';
import { P, drive } from '../../../src/machine/gen.js';
import { EV } from '../../../src/machine/events.js';
import type { Cpu } from '../../../src/machine/cpu.js';
import { user_access } from '../../../src/workload/access.js';
import { handle_mm_fault, VM_FAULT_OK } from '../../../src/linux/mm/memory.js';
import { alloc_folio, freePages } from '../../../src/linux/mm/page_alloc.js';
import { folio_put } from '../../../src/linux/mm/swap.js';
import { recordWrite } from '../../../src/check/oracle.js';
import { checkQuiescent } from '../../../src/check/invariants.js';
import { pte_pfn } from '../../../src/machine/pte.js';
import { boot, cpuWithConfig, folioAt, type Harness, mapAnon, newAccessOut, pteAt, stepper, type Stepper, token, total, writePage } from '../../helpers/machine.js';

const B = 1024; // 16-aligned start of the VMA
const POLICIES: AnonFallback[] = ['refault', 'retry-lower', 'preferred-or-0'];

interface Race {
  h: Harness;
  cpu0: Cpu;
  s0: Stepper<void>;
  out0: ReturnType<typeof newAccessOut>;
  tok0: number;
  /** Free pages after CPU1's fault completed (CPU0 has not allocated yet). */
  freeAfterCpu1: number;
}

/**
 * CPU0 write-accesses x and is stopped right after its lockless scan chose order `scan`; each of
 * `others` ([vpn, enabled orders]) then completes a whole write fault on its own CPU.
 */
function race(policy: AnonFallback, x: number, others: [number, number[]][], scan = 4, anonOrders = [0, 2, 4]): Race {
  const h = boot({ anonOrders, anonFallback: policy, cpus: 3 });
  mapAnon(h, B, 32, { align: 16 });
  const cpu0 = h.cpus[0];
  const out0 = newAccessOut();
  const tok0 = token(0, x);
  const s0 = stepper(h, cpu0, user_access(cpu0, 0, x, true, tok0, out0));
  const free = freePages(h.machine);
  s0.untilEvent(EV.SCAN_ORDER + scan);
  assert.equal(s0.last, P.ALLOC, 'stopped right after the scan, before allocating');
  assert.equal(freePages(h.machine), free, 'CPU0 has not allocated yet');
  others.forEach(([vpn, orders], i) => {
    const c = cpuWithConfig(h, i + 1, { anonOrders: orders });
    writePage(h, c, 0, vpn);
  });
  return { h, cpu0, s0, out0, tok0, freeAfterCpu1: freePages(h.machine) };
}

function finishAndCheck(r: Race, x: number): void {
  r.s0.finish();
  recordWrite(r.h.machine, 0, x, r.tok0, r.out0.g1, r.out0.g2);
  assert.equal(r.h.machine.m[r.h.machine.L.pContent + pte_pfn(pteAt(r.h, 0, x))], r.tok0, 'CPU0 stored through its mapping');
  assert.deepEqual(checkQuiescent(r.h.machine), []);
  assert.deepEqual(r.h.observed, []);
}

test('fallback refault: the lost race releases the folio and returns; the access faults again', () => {
  const x = B;
  const r = race('refault', x, [[B + 8, [0, 2]]]);
  const { h, cpu0 } = r;
  assert.equal(folioAt(h, 0, B + 8)?.order, 2, 'CPU1 mapped an order-2 folio at [B+8, B+12)');
  // run CPU0 until its access is about to fault a second time
  r.s0.untilEvent(EV.REFAULT);
  assert.equal(cpu0.counters[EV.RECHECK_RANGE_CHANGED + 4], 1);
  assert.equal(cpu0.counters[EV.LOST_RACE_EXIT], 0, 'its own PTE was still none');
  assert.equal(pteAt(h, 0, x), 0, 'the first fault returned without mapping x');
  assert.equal(freePages(h.machine), r.freeAfterCpu1, 'the order-4 folio was released');
  assert.equal(cpu0.counters[EV.FOLIO_FREE + 4], 1);
  assert.equal(total(h, EV.RETRY_LOWER + 2) + total(h, EV.RETRY_ORDER0), 0, 'no retry inside the fault');
  // the second fault scans again and now fits order 2 at [B, B+4)
  finishAndCheck(r, x);
  assert.equal(r.out0.faults, 2);
  assert.equal(cpu0.counters[EV.REFAULT], 1);
  assert.equal(cpu0.counters[EV.SCAN_ORDER + 2], 1);
  assert.equal(folioAt(h, 0, x)?.order, 2);
});

test('fallback retry-lower: retries with order 2 in the same fault and maps x', () => {
  const x = B;
  const r = race('retry-lower', x, [[B + 8, [0, 2]]]);
  const { h, cpu0 } = r;
  finishAndCheck(r, x);
  assert.equal(cpu0.counters[EV.RECHECK_RANGE_CHANGED + 4], 1);
  assert.equal(cpu0.counters[EV.RETRY_LOWER + 2], 1);
  assert.equal(cpu0.counters[EV.RETRY_LOWER + 3], 0, 'order 3 is not enabled: no retry at 3');
  assert.equal(cpu0.counters[EV.RETRY_ORDER0], 0);
  assert.equal(cpu0.counters[EV.REFAULT], 0);
  assert.equal(r.out0.faults, 1, 'x mapped within the one fault');
  assert.equal(cpu0.counters[EV.MAP_ANON + 2], 1);
  assert.equal(folioAt(h, 0, x)?.order, 2);
  assert.equal(freePages(h.machine), r.freeAfterCpu1 - 4, 'only the order-2 folio stays allocated');
});

test('fallback retry-lower: when the order-2 range is taken too, the retry scan falls to order 0', () => {
  const x = B;
  const r = race('retry-lower', x, [[B + 1, [0]]]);
  const { h, cpu0 } = r;
  finishAndCheck(r, x);
  assert.equal(cpu0.counters[EV.RECHECK_RANGE_CHANGED + 4], 1);
  assert.equal(cpu0.counters[EV.RETRY_LOWER + 2], 1);
  assert.equal(cpu0.counters[EV.SCAN_ORDER + 0], 1, 'the retry scan refused order 2');
  assert.equal(r.out0.faults, 1);
  assert.equal(folioAt(h, 0, x)?.order, 0);
  assert.equal(cpu0.counters[EV.MAP_ANON + 0], 1);
});

test('fallback retry-lower: losing twice (at order 4, then at order 2) ends at order 0 in the same fault', () => {
  const x = B;
  const r = race('retry-lower', x, [[B + 8, [0, 2]]]);
  const { h, cpu0 } = r;
  r.s0.untilEvent(EV.SCAN_ORDER + 2); // the retry's scan chose order 2: [B, B+4) still none
  assert.equal(cpu0.counters[EV.RETRY_LOWER + 2], 1);
  const c2 = cpuWithConfig(h, 2, { anonOrders: [0] });
  writePage(h, c2, 0, B + 1);
  finishAndCheck(r, x);
  assert.equal(cpu0.counters[EV.RECHECK_RANGE_CHANGED + 4], 1);
  assert.equal(cpu0.counters[EV.RECHECK_RANGE_CHANGED + 2], 1);
  assert.equal(cpu0.counters[EV.RETRY_LOWER + 0], 1);
  assert.equal(r.out0.faults, 1);
  assert.equal(folioAt(h, 0, x)?.order, 0);
});

test('fallback preferred-or-0: retries directly with order 0 and maps x', () => {
  const x = B;
  const r = race('preferred-or-0', x, [[B + 8, [0, 2]]]);
  const { h, cpu0 } = r;
  finishAndCheck(r, x);
  assert.equal(cpu0.counters[EV.RECHECK_RANGE_CHANGED + 4], 1);
  assert.equal(cpu0.counters[EV.RETRY_ORDER0], 1);
  for (let o = 0; o < 5; o++) assert.equal(cpu0.counters[EV.RETRY_LOWER + o], 0);
  assert.equal(cpu0.counters[EV.REFAULT], 0);
  assert.equal(r.out0.faults, 1);
  assert.equal(folioAt(h, 0, x)?.order, 0, 'order 0 even though [B, B+4) is free');
  assert.equal(pteAt(h, 0, x + 1), 0);
  assert.equal(freePages(h.machine), r.freeAfterCpu1 - 1);
});

for (const policy of POLICIES) {
  test(`fallback ${policy}: order 0, both CPUs fault the same page; the loser sees "pte changed" and releases its folio`, () => {
    const x = B + 5;
    const r = race(policy, x, [[x, [0]]], 0, [0]);
    const { h, cpu0 } = r;
    const theirs = folioAt(h, 0, x);
    assert.ok(theirs);
    r.s0.untilEvent(EV.RECHECK_PTE_CHANGED);
    assert.equal(freePages(h.machine), r.freeAfterCpu1 - 1, 'the loser holds its folio at the recheck');
    finishAndCheck(r, x);
    assert.equal(freePages(h.machine), r.freeAfterCpu1, 'the loser released its folio');
    assert.equal(cpu0.counters[EV.FOLIO_FREE + 0], 1);
    assert.equal(folioAt(h, 0, x)?.folio, theirs.folio, 'the winner stays mapped');
    assert.equal(r.out0.faults, 1, 'the access found the page present after the fault');
    assert.equal(total(h, EV.RETRY_ORDER0) + total(h, EV.RETRY_LOWER + 0), 0);
    assert.equal(cpu0.counters[EV.MAP_ANON + 0], 0);
  });

  test(`fallback ${policy}: order 4, CPU1 mapped the faulting page itself: release and exit, no retry`, () => {
    const x = B + 3;
    const r = race(policy, x, [[B + 9, [0, 2, 4]]]);
    const { h, cpu0 } = r;
    const theirs = folioAt(h, 0, x);
    assert.equal(theirs?.order, 4, 'CPU1 mapped the whole 16-page range');
    finishAndCheck(r, x);
    assert.equal(cpu0.counters[EV.RECHECK_RANGE_CHANGED + 4], 1);
    assert.equal(cpu0.counters[EV.LOST_RACE_EXIT], 1);
    assert.equal(total(h, EV.RETRY_ORDER0) + total(h, EV.RETRY_LOWER + 2), 0);
    assert.equal(folioAt(h, 0, x)?.folio, theirs.folio);
    assert.equal(freePages(h.machine), r.freeAfterCpu1);
    assert.equal(r.out0.faults, 1);
  });
}

test('fallback refault: the same race arises from the allocator (CPU1 gets order 2 when order 4 fails)', () => {
  // One config for both CPUs. All memory is held in order-2 chunks except one order-4 block; CPU0
  // (stopped after it allocated that block) owns it, so CPU1's order-4 allocation fails.
  const h = boot({ anonOrders: [0, 2, 4], anonFallback: 'refault', memoryPages: 1024 });
  mapAnon(h, B, 16, { align: 16 });
  const [cpu0, cpu1] = h.cpus;
  const hog: number[] = [];
  for (let p; (p = drive(alloc_folio(cpu0, 2))) >= 0; ) hog.push(p);
  const block = hog.filter((p) => p % 16 === 0).find((p) => [4, 8, 12].every((d) => hog.includes(p + d)))!;
  for (const d of [0, 4, 8, 12]) drive(folio_put(cpu0, block + d));
  hog.splice(0, hog.length, ...hog.filter((p) => p < block || p >= block + 16));
  assert.equal(h.machine.m[h.machine.L.freeCount + 4], 1, 'exactly one free order-4 block');
  const out0 = newAccessOut();
  const tok0 = token(0, B);
  const s0 = stepper(h, cpu0, user_access(cpu0, 0, B, true, tok0, out0));
  s0.untilEvent(EV.SCAN_ORDER + 4).until(() => h.machine.m[h.machine.L.freeCount + 4] === 0, 'CPU0 allocated the order-4 block');
  assert.equal(s0.last, P.LOCK, 'about to take the PTL');
  drive(folio_put(cpu0, hog.pop()!)); // room for CPU1's order-2 folio (one block: nothing merges to order 4)
  assert.equal(h.machine.m[h.machine.L.freeCount + 4], 0);
  writePage(h, cpu1, 0, B + 8);
  assert.equal(cpu1.counters[EV.SCAN_ORDER + 4], 1);
  assert.equal(cpu1.counters[EV.ALLOC_FALLBACK + 4], 1);
  assert.equal(folioAt(h, 0, B + 8)?.order, 2);
  s0.finish();
  recordWrite(h.machine, 0, B, tok0, out0.g1, out0.g2);
  assert.equal(cpu0.counters[EV.RECHECK_RANGE_CHANGED + 4], 1);
  assert.equal(cpu0.counters[EV.REFAULT], 1);
  assert.equal(out0.faults, 2);
  assert.equal(folioAt(h, 0, B)?.order, 2, 'the refault found order 2 free at [B, B+4)');
  for (const p of hog) drive(folio_put(cpu0, p));
  assert.deepEqual(checkQuiescent(h.machine), []);
  assert.deepEqual(h.observed, []);
});

for (const [policy, expected] of [['refault', 2], ['retry-lower', 2], ['preferred-or-0', 0]] as const) {
  test(`fallback ${policy}: the first scan, when the preferred range is not none, tries ${expected === 0 ? 'only order 0' : 'the next order'}`, () => {
    // preferred-or-0 considers only the preferred (highest suitable) order and order 0, never an
    // intermediate one; the other policies scan down through the enabled orders.
    const h = boot({ anonOrders: [0, 2, 4], anonFallback: policy });
    mapAnon(h, B, 32, { align: 16 });
    const cpu0 = h.cpus[0];
    drive(handle_mm_fault(cpu0, 0, B + 15, false)); // zero page inside [B, B+16)
    assert.equal(drive(handle_mm_fault(cpu0, 0, B + 1, true)), VM_FAULT_OK);
    assert.equal(cpu0.counters[EV.SCAN_ORDER + expected], 1);
    assert.equal(folioAt(h, 0, B + 1)?.order, expected);
    assert.equal(total(h, EV.RECHECK_RANGE_CHANGED + 4) + total(h, EV.RETRY_ORDER0), 0, 'no race involved');
    assert.deepEqual(checkQuiescent(h.machine), []);
  });
}
