// The runtime detectors of the engine and kernel paths, each shown catching a hand-built bad state
// next to a control that passes: deadlock, lock-hang, step-limit, fault-livelock, lock-not-held,
// mapcount/refcount/rwsem/mm-users underflow, batch-bounds, zero-page-written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boot, mapAnon, newAccessOut, run, writePage, type Harness } from '../helpers/machine.js';
import { SchedLoop, type GenSource } from '../../src/engine/sched.js';
import type { Scheduler } from '../../src/engine/scheduler.js';
import { Violation, type Cpu } from '../../src/engine/cpu.js';
import { type Gen, drive } from '../../src/engine/gen.js';
import { spin_lock, spin_unlock } from '../../src/kernel/locking/spinlock.js';
import { down_read, up_read } from '../../src/kernel/locking/rwsem.js';
import { folio_remove_rmap_ptes } from '../../src/mm/rmap.js';
import { folio_put_refs } from '../../src/mm/swap.js';
import { alloc_folio } from '../../src/mm/page_alloc.js';
import { mmput } from '../../src/kernel/fork.js';
import { zap_pte_range } from '../../src/mm/memory.js';
import { tlb_gather_mmu } from '../../src/mm/mmu_gather.js';
import { user_access, ACCESS_OK } from '../../src/hw/mmu.js';
import { MM } from '../../src/model/layout.js';
import { PTE_PRESENT, PTE_SPECIAL, PTE_WRITE, PTE_YOUNG, pfn_pte } from '../../src/model/pte.js';
import { ZERO_PFN } from '../../src/model/machine.js';
import { checkQuiescent } from '../../src/check/invariants.js';
import { zapBegin, zapEnd } from '../../src/check/oracle.js';
import { pin_user_page, unpin_user_page } from '../../src/mm/gup.js';

/** Round robin over the runnable CPUs: a fixed, readable interleaving for scripted scenarios. */
class RoundRobin implements Scheduler {
  readonly name = 'round-robin';
  start(): void {}
  pick(runnable: readonly number[], step: number): number {
    return runnable[step % runnable.length];
  }
  random(): number {
    return 0;
  }
}

function once(g: () => Gen<void>): GenSource {
  let used = false;
  return () => (used ? null : ((used = true), g()));
}

function loop(h: Harness, scripts: ((cpu: Cpu) => Gen<void>)[]): () => void {
  const cpus = scripts.map((_, i) => h.cpus[i]);
  const l = new SchedLoop(h.machine, cpus, scripts.map((s, i) => once(() => s(cpus[i]))), new RoundRobin(), h.clock, null);
  return () => l.run();
}

function violationOf(fn: () => unknown): Violation {
  try {
    fn();
  } catch (e) {
    if (e instanceof Violation) return e;
    throw e;
  }
  assert.fail('expected a Violation');
}

const ptl = (h: Harness, t: number) => h.machine.ptlOf(t);

test('deadlock: two CPUs taking two PTLs in opposite orders are reported with the waits and holders', () => {
  const h = boot({ cpus: 2 });
  const ab = (h: Harness, a: number, b: number) => function* (cpu: Cpu): Gen<void> {
    yield* spin_lock(cpu, ptl(h, a));
    yield 0;
    yield* spin_lock(cpu, ptl(h, b));
    spin_unlock(cpu, ptl(h, b));
    spin_unlock(cpu, ptl(h, a));
  };
  const v = violationOf(loop(h, [ab(h, 1, 2), ab(h, 2, 1)]));
  assert.equal(v.invariant, 'deadlock');
  const waits = (v.details.waits as string[]).join('\n');
  assert.match(waits, /CPU 0 waits for ptl\[2\]/);
  assert.match(waits, /CPU 1 waits for ptl\[1\]/);
  assert.match((v.details.holders as string[]).join('\n'), /ptl\[1\] held by CPU 0 since step \d+/);
  // control: the same locks in the same order on both CPUs
  const h2 = boot({ cpus: 2 });
  assert.doesNotThrow(loop(h2, [ab(h2, 1, 2), ab(h2, 1, 2)]));
});

test('lock-hang: a PTL held past lockHoldLimitSteps names the waiter, the holder and since when', () => {
  const script = (h: Harness, steps: number) => [
    function* (cpu: Cpu): Gen<void> {
      yield* spin_lock(cpu, ptl(h, 3));
      for (let i = 0; i < steps; i++) yield 0;
      spin_unlock(cpu, ptl(h, 3));
    },
    function* (cpu: Cpu): Gen<void> {
      yield 0;
      yield* spin_lock(cpu, ptl(h, 3));
      spin_unlock(cpu, ptl(h, 3));
    },
  ];
  const h = boot({ cpus: 2, lockHoldLimitSteps: 100 });
  const v = violationOf(loop(h, script(h, 1000)));
  assert.equal(v.invariant, 'lock-hang');
  assert.equal(v.path, 'ptl');
  assert.equal(v.details.waiter, 1);
  assert.match((v.details.holders as string[]).join('\n'), /ptl\[3\] held by CPU 0 since step \d+/);
  const h2 = boot({ cpus: 2, lockHoldLimitSteps: 100 });
  assert.doesNotThrow(loop(h2, script(h2, 50)));
});

test('step-limit: a run past cfg.stepLimit is stopped and reported', () => {
  const spin = (n: number) => function* (): Gen<void> {
    for (let i = 0; i < n; i++) yield 0;
  };
  const h = boot({ cpus: 1, stepLimit: 1000 });
  assert.equal(violationOf(loop(h, [spin(5000)])).invariant, 'step-limit');
  const h2 = boot({ cpus: 1, stepLimit: 1000 });
  assert.doesNotThrow(loop(h2, [spin(500)]));
});

test('fault-livelock: an access whose fault never makes the page present is reported', () => {
  const h = boot({ cpus: 1, refaultLimit: 20 });
  mapAnon(h, 1024, 16, { align: 16 });
  writePage(h, 0, 0, 1024); // control: an ordinary write fault makes the page present at once
  // bad state: an entry that is not present but carries the write bit; the fault handler finds
  // it "writable" (spurious) and returns without mapping anything, forever
  Atomics.store(h.machine.m, h.machine.ptep(0, 1025), PTE_WRITE);
  const out = newAccessOut();
  const v = violationOf(() => run(h, 0, user_access(h.cpus[0], 0, 1025, true, 7, out)));
  assert.equal(v.invariant, 'fault-livelock');
  assert.equal(v.details.vpn, 1025);
});

test('lock-not-held: spin_unlock of a lock this CPU does not hold', () => {
  const h = boot({ cpus: 2 });
  drive(spin_lock(h.cpus[0], ptl(h, 1)));
  spin_unlock(h.cpus[0], ptl(h, 1)); // control
  assert.equal(violationOf(() => spin_unlock(h.cpus[1], ptl(h, 1))).invariant, 'lock-not-held');
});

test('mapcount-underflow: removing the rmap of a page that is not mapped', () => {
  const h = boot({ cpus: 1 });
  mapAnon(h, 1024, 16, { align: 16 });
  const { pfn } = writePage(h, 0, 0, 1024);
  const folio = h.machine.folioOf(pfn);
  folio_remove_rmap_ptes(h.cpus[0], folio, pfn, 1, 0); // control: the one mapping goes
  assert.equal(violationOf(() => folio_remove_rmap_ptes(h.cpus[0], folio, pfn, 1, 0)).invariant, 'mapcount-underflow');
});

test('refcount-underflow: dropping more references than the folio has', () => {
  const h = boot({ cpus: 1 });
  const f = drive(alloc_folio(h.cpus[0], 2));
  drive(folio_put_refs(h.cpus[0], f, 1)); // control: the allocation's reference frees it
  const g = drive(alloc_folio(h.cpus[0], 2));
  assert.equal(violationOf(() => drive(folio_put_refs(h.cpus[0], g, 2))).invariant, 'refcount-underflow');
});

test('rwsem-underflow: mmap_read_unlock without the lock', () => {
  const h = boot({ cpus: 1 });
  const w = h.machine.mmWord(0, MM.MMAP_LOCK);
  drive(down_read(h.cpus[0], w));
  up_read(h.cpus[0], w); // control
  assert.equal(violationOf(() => up_read(h.cpus[0], w)).invariant, 'rwsem-underflow');
});

test('mm-users-underflow: mmput with no user reference left', () => {
  const h = boot({ cpus: 1 });
  drive(mmput(h.cpus[0], 0)); // control: the process's own reference, which tears it down
  assert.equal(violationOf(() => drive(mmput(h.cpus[0], 0))).invariant, 'mm-users-underflow');
});

test('batch-bounds: a zap whose caller passes a range past the VMA end is caught in the batch', () => {
  const mk = () => {
    const h = boot({ cpus: 1, anonOrders: [0, 4] });
    const vma = mapAnon(h, 1024, 16, { align: 16 });
    writePage(h, 0, 0, 1024); // maps one order-4 folio over the whole VMA
    return { h, vma };
  };
  const a = mk();
  zapBegin(a.h.machine, 0, 1024, 1040); // tell the data oracle, as the workload does around a zap
  drive(zap_pte_range(a.h.cpus[0], tlb_gather_mmu(0), a.vma, 1024, 1040)); // control: exactly the VMA
  zapEnd(a.h.machine, 0, 1024, 1040);
  assert.deepEqual(checkQuiescent(a.h.machine), []);
  const b = mk();
  const narrow = { ...b.vma, end: 1028 }; // a caller that believes the VMA ends 4 pages in
  const v = violationOf(() => drive(zap_pte_range(b.h.cpus[0], tlb_gather_mmu(0), narrow, 1024, 1040)));
  assert.equal(v.invariant, 'batch-bounds');
  assert.equal(v.path, 'zap_present_ptes');
  const c = mk();
  assert.equal(violationOf(() => drive(zap_pte_range(c.h.cpus[0], tlb_gather_mmu(0), c.vma, 1020, 1030))).invariant, 'batch-bounds'); // crosses a PTE table
});

test('zero-page-written: a store through a writable zero-page entry', () => {
  const h = boot({ cpus: 1 });
  mapAnon(h, 1024, 16, { align: 16 });
  const out = newAccessOut();
  run(h, 0, user_access(h.cpus[0], 0, 1024, false, 0, out)); // read fault maps the zero page read-only
  run(h, 0, user_access(h.cpus[0], 0, 1024, true, 99, out)); // control: the write copies it (wp fault)
  assert.equal(out.status, ACCESS_OK);
  assert.notEqual(out.pfn, ZERO_PFN);
  Atomics.store(h.machine.m, h.machine.ptep(0, 1025), pfn_pte(ZERO_PFN, PTE_PRESENT | PTE_SPECIAL | PTE_YOUNG | PTE_WRITE));
  assert.equal(violationOf(() => run(h, 0, user_access(h.cpus[0], 0, 1025, true, 5, out))).invariant, 'zero-page-written');
});

test('pin-underflow: unpinning a page that holds no pin', () => {
  const h = boot({ cpus: 1, anonOrders: [0, 4] });
  mapAnon(h, 1024, 16, { align: 16 });
  writePage(h, 0, 0, 1024);
  const pfn = run(h, 0, pin_user_page(h.cpus[0], 0, 1024, false));
  assert.ok(pfn > 0);
  run(h, 0, unpin_user_page(h.cpus[0], pfn)); // control: the pin we took
  assert.equal(violationOf(() => run(h, 0, unpin_user_page(h.cpus[0], pfn))).invariant, 'pin-underflow');
});
