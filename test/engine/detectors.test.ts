// The runtime detectors of the engine and kernel paths, each shown catching a hand-built bad state
// next to a control that passes: deadlock, lock-hang, step-limit, fault-livelock, lock-not-held,
// mapcount/refcount/rwsem/mm-users underflow, batch-bounds, zero-page-written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boot, mapAnon, newAccessOut, run, violationOf, writePage, type Harness } from '../helpers/machine.js';
import { SchedLoop, type GenSource } from '../../src/engine/sched.js';
import type { Scheduler } from '../../src/engine/scheduler.js';
import { Violation, type Cpu } from '../../src/machine/cpu.js';
import { type Gen, drive } from '../../src/machine/gen.js';
import { spin_lock, spin_unlock } from '../../src/linux/kernel/locking/spinlock.js';
import { down_read, down_write, up_read, up_write } from '../../src/linux/kernel/locking/rwsem.js';
import { folio_remove_rmap_ptes } from '../../src/linux/mm/rmap.js';
import { folio_put_refs } from '../../src/linux/mm/swap.js';
import { alloc_folio } from '../../src/linux/mm/page_alloc.js';
import { mmput } from '../../src/linux/kernel/fork.js';
import { zap_pte_range } from '../../src/linux/mm/memory.js';
import { tlb_gather_mmu } from '../../src/linux/mm/mmu_gather.js';
import { user_access, ACCESS_OK } from '../../src/workload/access.js';
import { MM } from '../../src/machine/layout.js';
import { PTE_PRESENT, PTE_SPECIAL, PTE_WRITE, PTE_YOUNG, pfn_pte, pte_pfn, pteToString } from '../../src/machine/pte.js';
import { make_readable_migration_entry } from '../../src/linux/include/linux/swapops.js';
import { ZERO_PFN } from '../../src/machine/machine.js';
import { checkQuiescent } from '../../src/check/invariants.js';
import { zapBegin, zapEnd } from '../../src/check/oracle.js';
import { pin_user_page, unpin_user_page } from '../../src/linux/mm/gup.js';
import { folioOf } from '../../src/check/folio.js';

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

const ptl = (h: Harness, t: number) => h.machine.ptlOf(t);

interface Party {
  cpu: number;
  op: string;
  since: number;
  mode?: string;
}

test('deadlock: two CPUs taking two PTLs in opposite orders are reported with each waiter, the lock it waits for, its holder and the steps', () => {
  const h = boot({ cpus: 2 });
  const took: number[] = [];
  const ab = (h: Harness, a: number, b: number, op: string) => function* (cpu: Cpu): Gen<void> {
    cpu.curOp = op;
    yield* spin_lock(cpu, ptl(h, a));
    took[cpu.id] = h.clock.step;
    yield 0;
    yield* spin_lock(cpu, ptl(h, b));
    spin_unlock(cpu, ptl(h, b));
    spin_unlock(cpu, ptl(h, a));
  };
  const v = violationOf(loop(h, [ab(h, 1, 2, 'fork'), ab(h, 2, 1, 'munmap')]));
  assert.equal(v.invariant, 'deadlock');
  assert.equal(`${v.invariant}@${v.path}`, 'deadlock@sched');
  const waits = (v.details.waits as string[]).join('\n');
  assert.match(waits, new RegExp(`CPU 0 \\(fork\\) waits for ptl\\[2\\] since step ${h.cpus[0].blockedSince}, held by CPU 1`));
  assert.match(waits, new RegExp(`CPU 1 \\(munmap\\) waits for ptl\\[1\\] since step ${h.cpus[1].blockedSince}, held by CPU 0`));
  const waiters = v.details.waiters as { cpu: number; op: string; waitingOn: string; heldBy: number[] }[];
  assert.deepEqual(waiters.map((w) => [w.cpu, w.op, w.waitingOn, w.heldBy]), [[0, 'fork', 'ptl[2]', [1]], [1, 'munmap', 'ptl[1]', [0]]]);
  const held = (v.details.holders as string[]).join('\n');
  assert.match(held, new RegExp(`ptl\\[1\\] held by CPU 0 \\(fork\\) since step ${took[0]}`));
  assert.match(held, new RegExp(`ptl\\[2\\] held by CPU 1 \\(munmap\\) since step ${took[1]}`));
  // control: the same locks in the same order on both CPUs
  const h2 = boot({ cpus: 2 });
  assert.doesNotThrow(loop(h2, [ab(h2, 1, 2, 'fork'), ab(h2, 1, 2, 'munmap')]));
});

test('lock-hang (wait): a CPU waiting on a PTL past lockHoldLimitSteps: the report names the lock, its holder, the op it runs, the step its hold began, and every waiter since when', () => {
  let took = -1;
  const script = (h: Harness, steps: number) => [
    function* (cpu: Cpu): Gen<void> {
      cpu.curOp = 'mprotect';
      yield* spin_lock(cpu, ptl(h, 3));
      took = h.clock.step;
      for (let i = 0; i < steps; i++) yield 0;
      spin_unlock(cpu, ptl(h, 3));
    },
    function* (cpu: Cpu): Gen<void> {
      cpu.curOp = 'touch';
      yield 0;
      yield* spin_lock(cpu, ptl(h, 3));
      spin_unlock(cpu, ptl(h, 3));
    },
  ];
  const h = boot({ cpus: 2, lockHoldLimitSteps: 100 });
  const v = violationOf(loop(h, script(h, 1000)));
  assert.equal(`${v.invariant}@${v.path}`, 'lock-hang@ptl');
  assert.equal(v.details.lock, 'ptl[3]');
  assert.equal(v.details.waiter, 1);
  assert.equal(v.details.unit, 'scheduler step');
  assert.deepEqual(v.details.holder, { cpu: 0, op: 'mprotect', since: took });
  assert.equal(v.details.holdStart, took);
  const since = h.cpus[1].blockedSince;
  assert.ok(since > took);
  assert.deepEqual(v.details.waiters, [{ cpu: 1, op: 'touch', since }]);
  assert.match(v.details.why as string, new RegExp(`CPU 1 waited more than lockHoldLimitSteps \\(100 steps\\) since step ${since}`));
  assert.equal(v.details.summary, `ptl[3]: ${v.details.why}; held by CPU 0 (mprotect) since step ${took}; waiters: CPU 1 (touch) since step ${since}`);
  assert.ok((v.details.now as number) - since > 100);
  const h2 = boot({ cpus: 2, lockHoldLimitSteps: 100 });
  assert.doesNotThrow(loop(h2, script(h2, 50)));
});

test('lock-hang (hold): a PTL held past lockHoldLimitSteps of its holder\'s own steps is reported while its waiter is still within its deadline, and with no waiter at all', () => {
  let took = -1;
  const script = (h: Harness, holdSteps: number, waiter: boolean) => [
    function* (cpu: Cpu): Gen<void> {
      cpu.curOp = 'fork';
      yield* spin_lock(cpu, ptl(h, 5));
      took = h.clock.step;
      for (let i = 0; i < holdSteps; i++) yield 0;
      spin_unlock(cpu, ptl(h, 5));
    },
    function* (cpu: Cpu): Gen<void> {
      cpu.curOp = 'dontneed';
      for (let i = 0; i < 900; i++) yield 0; // about global step 1800: 250 steps before the check at 2048
      if (waiter) {
        yield* spin_lock(cpu, ptl(h, 5));
        spin_unlock(cpu, ptl(h, 5));
      }
    },
  ];
  for (const waiter of [true, false]) {
    const h = boot({ cpus: 2, lockHoldLimitSteps: 1000 });
    const v = violationOf(loop(h, script(h, 3000, waiter)));
    assert.equal(`${v.invariant}@${v.path}`, 'lock-hang@ptl');
    assert.equal(v.details.holdsTooLong, 0);
    assert.deepEqual(v.details.holder, { cpu: 0, op: 'fork', since: took });
    assert.match(v.details.why as string, new RegExp(`CPU 0 held it for \\d+ of its own steps \\(lockHoldLimitSteps 1000\\) since step ${took}`));
    const waiters = v.details.waiters as Party[];
    if (waiter) {
      assert.deepEqual(waiters.map((w) => [w.cpu, w.op]), [[1, 'dontneed']]);
      assert.ok((v.details.now as number) - waiters[0].since <= 1000, 'the waiter is still within its own deadline');
    } else assert.deepEqual(waiters, []);
    // control: a hold of 500 own steps
    const h2 = boot({ cpus: 2, lockHoldLimitSteps: 1000 });
    assert.doesNotThrow(loop(h2, script(h2, 500, waiter)));
  }
});

test('lock-hang (hold): the deadline counts the holder\'s own steps, so a holder the scheduler starves is not reported', () => {
  const h = boot({ cpus: 2, lockHoldLimitSteps: 1000 });
  // CPU 0 runs first and takes the PTL; from then on the scheduler picks CPU 1 whenever it can, so
  // CPU 0 holds the lock for 5000 scheduler steps having run only a handful of its own
  const starve0: Scheduler = { name: 'starve-0', start() {}, pick: (r, step) => (step < 3 || !r.includes(1) ? r[0] : 1), random: () => 0 };
  const cpus = [h.cpus[0], h.cpus[1]];
  const scripts = [
    function* (cpu: Cpu): Gen<void> {
      yield* spin_lock(cpu, ptl(h, 5));
      yield 0;
      spin_unlock(cpu, ptl(h, 5));
    },
    function* (): Gen<void> {
      for (let i = 0; i < 5000; i++) yield 0;
    },
  ];
  const l = new SchedLoop(h.machine, cpus, scripts.map((s, i) => once(() => s(cpus[i]))), starve0, h.clock, null);
  assert.doesNotThrow(() => l.run());
  assert.ok(h.clock.step > 5000);
  assert.ok(h.cpus[0].steps < 10);
});

test('lock-hang (hold): an mmap_lock held for write past the deadline names its holder and a reader waiting for it', () => {
  let took = -1;
  const h = boot({ cpus: 2, lockHoldLimitSteps: 1000 });
  const w = h.machine.mmWord(0, MM.MMAP_LOCK);
  const v = violationOf(
    loop(h, [
      function* (cpu: Cpu): Gen<void> {
        cpu.curOp = 'mremap';
        yield* down_write(cpu, w);
        took = h.clock.step;
        for (let i = 0; i < 3000; i++) yield 0;
        up_write(cpu, w);
      },
      function* (cpu: Cpu): Gen<void> {
        cpu.curOp = 'touch';
        for (let i = 0; i < 900; i++) yield 0;
        yield* down_read(cpu, w);
        up_read(cpu, w);
      },
    ]),
  );
  assert.equal(`${v.invariant}@${v.path}`, 'lock-hang@mmap_lock(write)');
  assert.equal(v.details.lock, 'mmap_lock[mm 0]');
  assert.deepEqual(v.details.holders, [{ cpu: 0, op: 'mremap', since: took, mode: 'write' }]);
  assert.deepEqual((v.details.waiters as Party[]).map((p) => [p.cpu, p.op]), [[1, 'touch']]);
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

test('fault-livelock: an access whose fault never makes the page present is reported with the address, the faults, the step of the first and why the last one gave up', () => {
  const h = boot({ cpus: 1, refaultLimit: 20 });
  mapAnon(h, 1024, 16, { align: 16 });
  writePage(h, 0, 0, 1024); // control: an ordinary write fault makes the page present at once
  // bad state: a migration entry left behind by a migration that has ended (its folio unlocked):
  // every fault waits for it (migration_entry_wait returns at once) and retries, forever
  const bad = make_readable_migration_entry(pte_pfn(Atomics.load(h.machine.m, h.machine.ptep(0, 1024))) + 1);
  Atomics.store(h.machine.m, h.machine.ptep(0, 1025), bad);
  const out = newAccessOut();
  const before = h.clock.step;
  h.cpus[0].curOp = 'touch';
  const v = violationOf(() => run(h, 0, user_access(h.cpus[0], 0, 1025, true, 7, out)));
  assert.equal(`${v.invariant}@${v.path}`, 'fault-livelock@handle_mm_fault');
  const d = v.details;
  assert.deepEqual([d.mm, d.vpn, d.addr, d.write, d.faults, d.refaults, d.unit, d.op], [0, 1025, '0x401000', true, 21, 20, 'scheduler step', 'touch']);
  assert.ok((d.firstFault as number) > before && (d.firstFault as number) < (d.now as number));
  assert.match(d.lastMiss as string, /^do_swap_page: waited for a migration/);
  assert.deepEqual(d.found, { vpn: 1025, addr: '0x401000', pte: pteToString(bad) });
  assert.match(d.summary as string, /^CPU 0 \(touch\): a write of mm 0 0x401000 faulted 21 times \(refaultLimit 20\) since step \d+; the last fault: do_swap_page: waited for a migration/);
});

test('fault-livelock: the last reason names the recheck that failed and the entry it found (fault-unaligned: the unaligned range holds a present entry)', () => {
  const h = boot({ cpus: 2, anonOrders: [0, 4], refaultLimit: 30, inject: ['fault-unaligned'] });
  mapAnon(h, 1024, 48, { align: 16 }); // room for the unaligned folio inside the VMA (else pte-outside-vma stops the first fault)
  writePage(h, 0, 0, 1024 + 20); // an order-4 folio at [1044, 1060) (mapped unaligned too)
  const out = newAccessOut();
  const v = violationOf(() => run(h, 1, user_access(h.cpus[1], 0, 1024 + 5, true, 9, out)));
  assert.equal(v.invariant, 'fault-livelock');
  assert.equal(v.details.lastMiss, 'do_anonymous_page: vpns [1029, 1045) of an order-4 folio were not all none under the PTL');
  assert.equal((v.details.found as { vpn: number }).vpn, 1044, 'the first present entry of the range');
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
  const folio = folioOf(h.machine, pfn);
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
  drive(zap_pte_range(a.h.cpus[0], tlb_gather_mmu(a.h.cpus[0], 0), a.vma, 1024, 1040)); // control: exactly the VMA
  zapEnd(a.h.machine, 0, 1024, 1040);
  assert.deepEqual(checkQuiescent(a.h.machine), []);
  const b = mk();
  const narrow = { ...b.vma, end: 1028 }; // a caller that believes the VMA ends 4 pages in
  const v = violationOf(() => drive(zap_pte_range(b.h.cpus[0], tlb_gather_mmu(b.h.cpus[0], 0), narrow, 1024, 1040)));
  assert.equal(v.invariant, 'batch-bounds');
  assert.equal(v.path, 'zap_present_ptes');
  const c = mk();
  assert.equal(violationOf(() => drive(zap_pte_range(c.h.cpus[0], tlb_gather_mmu(c.h.cpus[0], 0), c.vma, 1020, 1030))).invariant, 'batch-bounds'); // crosses a PTE table
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

test('lock-hang (wait): a waiter whose lock holder the scheduler starves is not reported; a wait in a cycle of some CPUs while another runs is', () => {
  const limit = 1000;
  // CPU 0 takes the PTL, CPU 1 blocks on it, then the scheduler runs CPU 2 whenever it can: CPU 1
  // waits 5000 scheduler steps while its holder runs a handful of its own
  const h = boot({ cpus: 3, lockHoldLimitSteps: limit });
  const prefer: Scheduler = {
    name: 'starve-holder', start() {}, random: () => 0,
    pick: (r) => (!h.cpus[0].held.length && r.includes(0) ? 0 : h.cpus[1].waitOff < 0 && r.includes(1) && !h.cpus[1].held.length ? 1 : r.includes(2) ? 2 : r[0]),
  };
  const scripts = [
    function* (cpu: Cpu): Gen<void> {
      yield* spin_lock(cpu, ptl(h, 5));
      for (let i = 0; i < 5; i++) yield 0;
      spin_unlock(cpu, ptl(h, 5));
    },
    function* (cpu: Cpu): Gen<void> {
      yield* spin_lock(cpu, ptl(h, 5));
      spin_unlock(cpu, ptl(h, 5));
    },
    function* (): Gen<void> {
      for (let i = 0; i < 5000; i++) yield 0;
    },
  ];
  const cpus = [h.cpus[0], h.cpus[1], h.cpus[2]];
  const l = new SchedLoop(h.machine, cpus, scripts.map((s, i) => once(() => s(cpus[i]))), prefer, h.clock, null);
  assert.doesNotThrow(() => l.run());
  assert.ok(h.clock.step > 5000 && h.cpus[0].steps < 20, `${h.clock.step} steps, the holder ran ${h.cpus[0].steps}`);

  // CPUs 0 and 1 take two PTLs in opposite orders and wait for each other; CPU 2 keeps running, so
  // no step finds every CPU blocked: the wait past the deadline is the report
  const h2 = boot({ cpus: 3, lockHoldLimitSteps: limit });
  const ab = (a: number, b: number) => function* (cpu: Cpu): Gen<void> {
    yield* spin_lock(cpu, ptl(h2, a));
    yield 0;
    yield* spin_lock(cpu, ptl(h2, b));
    spin_unlock(cpu, ptl(h2, b));
    spin_unlock(cpu, ptl(h2, a));
  };
  const spinner = function* (): Gen<void> {
    for (let i = 0; i < 5000; i++) yield 0;
  };
  const v = violationOf(loop(h2, [ab(1, 2), ab(2, 1), spinner]));
  assert.equal(`${v.invariant}@${v.path}`, 'lock-hang@ptl');
  assert.match(v.details.why as string, new RegExp(`waited more than lockHoldLimitSteps \\(${limit} steps\\)`));
});
