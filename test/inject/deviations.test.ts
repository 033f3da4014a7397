// Every named deviation (mutant) in DEVIATIONS is caught: a scripted scenario that shows the
// checker catching it deterministically, and a bounded sweep of runSched seeds; each paired with
// the same scenario / seeds without the deviation, which must stay clean.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ConfigInput, defaultConfig } from '../../src/config.js';
import { DEVIATIONS } from '../../src/inject/deviations.js';
import { runSched } from '../../src/engine/sched.js';
import { EV } from '../../src/engine/events.js';
import { Violation } from '../../src/engine/cpu.js';
import { checkQuiescent } from '../../src/check/invariants.js';
import { recordWrite, zapBegin, zapEnd } from '../../src/check/oracle.js';
import { handle_mm_fault, VM_FAULT_OK } from '../../src/mm/memory.js';
import { madvise_dontneed } from '../../src/mm/madvise.js';
import { user_access } from '../../src/hw/mmu.js';
import { tlb_lookup } from '../../src/hw/tlb.js';
import { boot, cpuWithConfig, folioAt, invariants, mapAnon, newAccessOut, run, stepper, token, writePage } from '../helpers/machine.js';

const B = 1024;

/** Run seeds [1, n] of a config; the distinct invariants of all violations, and how many seeds had any. */
function sweep(over: ConfigInput, n: number): { hits: number; invariants: string[] } {
  const cfg = defaultConfig(over);
  let hits = 0;
  const inv = new Set<string>();
  for (let s = 1; s <= n; s++) {
    const r = runSched(cfg, s);
    if (r.violations.length) hits++;
    for (const v of r.violations) inv.add(v.invariant);
  }
  return { hits, invariants: [...inv].sort() };
}

/** A scripted scenario with or without the deviation: the invariants it reports. */
type Scenario = (inject: string[]) => string[];

/**
 * The anon-fault race of seeds/004: CPU0's scan chose order 4, CPU1 then maps an order-2 folio at
 * [B+8, B+12) (its mTHP setting allows only [0, 2]), CPU0 takes the PTL and maps. Without the
 * recheck CPU0 overwrites CPU1's entries.
 */
function lostRaceLarge(inject: string[]): string[] {
  const h = boot({ anonOrders: [0, 2, 4], inject });
  mapAnon(h, B, 16, { align: 16 });
  const s0 = stepper(h, 0, handle_mm_fault(h.cpus[0], 0, B, true));
  s0.untilEvent(EV.SCAN_ORDER + 4);
  writePage(h, cpuWithConfig(h, 1, { anonOrders: [0, 2] }), 0, B + 8);
  assert.equal(s0.finish(), VM_FAULT_OK);
  return invariants([...checkQuiescent(h.machine), ...h.observed]);
}

/** Order 0: both CPUs fault the same page; without "pte changed" the loser maps over the winner. */
function lostRaceOrder0(inject: string[]): string[] {
  const h = boot({ anonOrders: [0], inject });
  mapAnon(h, B, 16, { align: 16 });
  const s0 = stepper(h, 0, handle_mm_fault(h.cpus[0], 0, B + 3, true));
  s0.untilEvent(EV.SCAN_ORDER + 0);
  writePage(h, 1, 0, B + 3);
  assert.equal(s0.finish(), VM_FAULT_OK);
  return invariants([...checkQuiescent(h.machine), ...h.observed]);
}

/** A write fault in a 2-page VMA: order 2 does not fit, so only order 1 or 0 can. */
function twoPageVma(inject: string[]): string[] {
  const h = boot({ anonOrders: [0, 2, 4], inject });
  mapAnon(h, B, 2, { align: 2 });
  writePage(h, 0, 0, B + 1);
  const order = folioAt(h, 0, B + 1)!.order;
  assert.equal(order, inject.includes('fault-order1') ? 1 : 0);
  return invariants([...checkQuiescent(h.machine), ...h.observed]);
}

/** An order-4 write fault, stepped, with the observer (refcount >= mapcount) after every step. */
function observedFault(inject: string[]): string[] {
  const h = boot({ anonOrders: [0, 2, 4], inject });
  mapAnon(h, B, 16, { align: 16 });
  writePage(h, 0, 0, B + 5);
  assert.equal(folioAt(h, 0, B + 5)!.order, 4);
  // the final state is consistent either way: only the observer sees the window
  assert.deepEqual(checkQuiescent(h.machine), []);
  return invariants(h.observed);
}

/**
 * CPU1 wrote a page (its TLB now holds a writable entry); CPU0 zaps the range (MADV_DONTNEED) and
 * is stopped as soon as the folio is back in the allocator; CPU1 stores through its TLB entry.
 * Freed after the flush (the kernel's order), CPU1's entry is gone and the store faults in a new page.
 */
function staleTlbStore(inject: string[]): string[] {
  const h = boot({ anonOrders: [0, 2, 4], inject });
  mapAnon(h, B, 16, { align: 16 });
  const [cpu0, cpu1] = h.cpus;
  const w = writePage(h, cpu1, 0, B + 3);
  const folio = h.machine.folioOf(w.pfn);
  assert.equal(h.machine.folioOrder(folio), 4);
  assert.notEqual(tlb_lookup(cpu1, 0, B + 3), 0, 'CPU1 has a TLB entry for the page');
  zapBegin(h.machine, 0, B, B + 16);
  const s0 = stepper(h, cpu0, madvise_dontneed(cpu0, 0, B, B + 16));
  s0.until(() => h.machine.isFree(folio), 'the zapped folio is freed');
  const stale = tlb_lookup(cpu1, 0, B + 3) !== 0;
  assert.equal(stale, inject.includes('zap-free-before-flush'), 'a TLB entry survives the free only under the deviation');
  const out = newAccessOut();
  const tok = token(0, B + 3);
  try {
    run(h, cpu1, user_access(cpu1, 0, B + 3, true, tok, out));
  } catch (e) {
    if (e instanceof Violation) return [e.invariant];
    throw e;
  }
  assert.equal(out.faults, 1, 'the store faulted: no stale entry (the new folio may reuse the freed pages)');
  assert.equal(h.machine.isFree(out.pfn), false);
  recordWrite(h.machine, 0, B + 3, tok, out.g1, out.g2);
  s0.finish();
  zapEnd(h.machine, 0, B, B + 16);
  return invariants([...checkQuiescent(h.machine), ...h.observed]);
}

interface Case {
  scenarios: [string, Scenario, string[]][]; // name, scenario, invariants expected with the deviation
  sweep: { over: ConfigInput; seeds: number; expect: string };
}

const CASES: Record<string, Case> = {
  'fault-no-recheck': {
    scenarios: [
      // CPU1's folio loses its PTEs (mapcount, RSS) and CPU1's write is lost (data-mismatch)
      ['large folio: range changed', lostRaceLarge, ['data-mismatch', 'mapcount-mismatch', 'rss-mismatch']],
      ['order 0: pte changed', lostRaceOrder0, ['data-mismatch', 'mapcount-mismatch', 'rss-mismatch']],
    ],
    sweep: { over: {}, seeds: 12, expect: 'rss-mismatch' },
  },
  'fault-order1': {
    scenarios: [['2-page VMA', twoPageVma, ['anon-order1']]],
    sweep: { over: { opsPerCpu: 100 }, seeds: 4, expect: 'anon-order1' },
  },
  'fault-refcount-late': {
    scenarios: [['observer during an order-4 fault', observedFault, ['refcount-below-mapcount']]],
    sweep: { over: { opsPerCpu: 100 }, seeds: 4, expect: 'refcount-below-mapcount' },
  },
  'zap-free-before-flush': {
    scenarios: [['store through a stale TLB entry', staleTlbStore, ['use-after-free']]],
    // a small, zap-heavy workload on one process with a large TLB, so stale entries get used
    sweep: {
      over: { processes: 1, tlbEntries: 64, mmapPages: { min: 4, max: 32 }, weights: { touch: 60, mmap: 4, munmap: 2, dontneed: 20, exit: 0 } },
      seeds: 10,
      expect: 'use-after-free',
    },
  },
};

test('deviations: every entry of DEVIATIONS has a test here', () => {
  assert.deepEqual(Object.keys(CASES).sort(), DEVIATIONS.map((d) => d.name).sort());
});

for (const d of DEVIATIONS) {
  const c = CASES[d.name];
  if (!c) continue; // reported by the test above
  for (const [name, scenario, expected] of c.scenarios) {
    test(`deviation ${d.name}: caught in a scripted scenario (${name}); clean without it`, () => {
      assert.deepEqual(scenario([]), [], 'control: the kernel algorithm passes');
      assert.deepEqual(scenario([d.name]), expected);
    });
  }
  test(`deviation ${d.name}: caught by runSched within ${c.sweep.seeds} seeds; the same seeds are clean without it`, () => {
    const bad = sweep({ ...c.sweep.over, inject: [d.name] }, c.sweep.seeds);
    assert.ok(bad.hits > 0, `no violation in ${c.sweep.seeds} seeds`);
    assert.ok(bad.invariants.includes(c.sweep.expect), `found ${bad.invariants.join(', ')}`);
    const good = sweep(c.sweep.over, c.sweep.seeds);
    assert.deepEqual(good, { hits: 0, invariants: [] });
  });
}

test('deviations: unknown names are rejected', () => {
  assert.throws(() => boot({ inject: ['no-such-bug'] }), /unknown deviation "no-such-bug"/);
});
