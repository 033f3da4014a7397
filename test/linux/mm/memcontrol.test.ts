// mem_cgroup_charge() failing (config memcgFailRate): every caller unwinds as the kernel does, and
// the machine is left consistent (no leaked folio, reference or mapping).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkNoLeaks, checkQuiescent } from '../../../src/check/invariants.js';
import { dup_mm, process_exit } from '../../../src/linux/kernel/fork.js';
import { pin_user_page, unpin_user_page } from '../../../src/linux/mm/gup.js';
import { handle_mm_fault, VM_FAULT_OK, VM_FAULT_OOM } from '../../../src/linux/mm/memory.js';
import { mem_cgroup_charge } from '../../../src/linux/mm/memcontrol.js';
import { EV } from '../../../src/machine/events.js';
import { PMD_ORDER } from '../../../src/machine/params.js';
import { boot, cpuWithConfig, folioAt, mapAnon, mapFile, newAccessOut, pteAt, run, token, writePage } from '../../helpers/machine.js';
import { ACCESS_OOM, user_access } from '../../../src/workload/access.js';
import { vmas } from '../../../src/linux/mm/mmap.js';

const B = 1024;

test('mem_cgroup_charge: never fails (and draws nothing) without memcgFailRate; fails at about the rate, from a seeded stream', () => {
  const h = boot();
  for (let i = 0; i < 100; i++) assert.equal(mem_cgroup_charge(h.cpus[0], 1), 0);
  assert.equal(h.cpus[0].memcgFailRand, null, 'no stream made: the trace of a config without the knob is unchanged');
  const draw = (seed: number) => {
    const g = boot({ memcgFailRate: 0.25, seed });
    let fails = 0;
    const seq: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const r = mem_cgroup_charge(g.cpus[0], 1);
      if (r) fails++;
      if (i < 32) seq.push(r);
    }
    return { fails, seq, count: g.cpus[0].counters[EV.MEMCG_CHARGE_FAIL] };
  };
  const a = draw(7), b = draw(7);
  assert.deepEqual(a, b, 'the same seed: the same failures');
  assert.equal(a.count, a.fails);
  assert.ok(a.fails > 400 && a.fails < 600, `${a.fails} of 2000 failed at rate 0.25`);
  assert.ok(a.seq.every((r) => r === 0 || r === -12));
});

test('anon write fault: a failed charge of every order is VM_FAULT_OOM, nothing mapped or leaked; large orders fall back one by one', () => {
  const h = boot({ anonOrders: [0, 2, 4], memcgFailRate: 1 });
  mapAnon(h, B, 64);
  assert.equal(run(h, 0, handle_mm_fault(h.cpus[0], 0, B + 5, true)), VM_FAULT_OOM);
  assert.equal(pteAt(h, 0, B + 5), 0);
  assert.equal(h.cpus[0].counters[EV.ALLOC_FALLBACK + 4], 1);
  assert.equal(h.cpus[0].counters[EV.ALLOC_FALLBACK + 2], 1);
  assert.equal(h.cpus[0].counters[EV.MEMCG_CHARGE_FAIL], 3, 'orders 4, 2, then the order-0 folio_prealloc');
  assert.deepEqual(checkQuiescent(h.machine), []);
  // the THP path: a failed charge falls back to the PTE path (THP_FAULT_FALLBACK_CHARGE)
  const t = boot({ anonOrders: [0, 4, PMD_ORDER], memoryPages: 4096 });
  mapAnon(t, B, 512, { align: 512 });
  let n = 0;
  cpuWithConfig(t, 0, { memcgFailRate: 1 }).memcgFailRand = () => (n++ === 0 ? 0 : 1); // only the first charge fails
  assert.equal(run(t, 0, handle_mm_fault(t.cpus[0], 0, B + 9, true)), VM_FAULT_OK);
  assert.equal(t.cpus[0].counters[EV.ALLOC_FALLBACK + PMD_ORDER], 1);
  assert.equal(folioAt(t, 0, B + 9)?.order, 4, 'the PTE path mapped an order-4 folio');
  assert.deepEqual(checkQuiescent(t.machine), []);
});

test('COW fault: a failed charge is VM_FAULT_OOM; the shared page stays mapped read-only with its references', () => {
  const h = boot({ anonOrders: [0] });
  mapAnon(h, B, 4);
  writePage(h, 0, 0, B);
  const child = run(h, 0, dup_mm(h.cpus[0], 0));
  assert.ok(child > 0);
  const before = pteAt(h, 0, B);
  cpuWithConfig(h, 0, { memcgFailRate: 1 });
  assert.equal(run(h, 0, handle_mm_fault(h.cpus[0], 0, B, true)), VM_FAULT_OOM);
  assert.equal(pteAt(h, 0, B), before, 'the entry is as fork left it');
  assert.deepEqual(checkQuiescent(h.machine), []);
  assert.equal(run(h, 0, process_exit(h.cpus[0], child)), true);
});

test('fork: a failed charge of the copy of a pinned page fails fork with the child torn down; the parent keeps its pages and pin', () => {
  const h = boot({ anonOrders: [0] });
  mapAnon(h, B, 8);
  for (let i = 0; i < 8; i++) writePage(h, 0, 0, B + i);
  const pfn = run(h, 0, pin_user_page(h.cpus[0], 0, B + 3, true));
  assert.ok(pfn > 0);
  const parent = vmas(h.machine, 0).map((v) => [v.start, v.end]);
  cpuWithConfig(h, 0, { memcgFailRate: 1 });
  assert.equal(run(h, 0, dup_mm(h.cpus[0], 0)), -1);
  assert.equal(h.cpus[0].counters[EV.MEMCG_CHARGE_FAIL], 1);
  assert.deepEqual(vmas(h.machine, 0).map((v) => [v.start, v.end]), parent);
  assert.equal(pteAt(h, 0, B + 3) !== 0, true);
  assert.deepEqual(checkQuiescent(h.machine), []);
  run(h, 0, unpin_user_page(h.cpus[0], pfn));
  assert.equal(run(h, 0, process_exit(h.cpus[0], 0)), true);
  assert.deepEqual(checkNoLeaks(h.machine), []);
});

test('file fault: a failed charge of the page-cache folio is VM_FAULT_OOM, nothing cached or leaked', () => {
  const h = boot({ files: { count: 1, pages: 64, orders: [0, 2], writenotify: 'off' }, memcgFailRate: 1 });
  mapFile(h, B, 16);
  assert.equal(run(h, 0, handle_mm_fault(h.cpus[0], 0, B + 2, false)), VM_FAULT_OOM);
  assert.equal(pteAt(h, 0, B + 2), 0);
  assert.equal(h.cpus[0].counters[EV.MEMCG_CHARGE_FAIL], 2, 'order 2, then order 0');
  assert.deepEqual(checkQuiescent(h.machine), []);
});

test('a user access whose fault fails its charge ends in OOM, which the oom-without-allocation-failure check accepts', () => {
  const h = boot({ anonOrders: [0, 4], memcgFailRate: 1 });
  mapAnon(h, B, 16);
  const out = newAccessOut();
  run(h, 0, user_access(h.cpus[0], 0, B + 1, true, token(0, B + 1), out)); // a violation would throw here
  assert.equal(out.status, ACCESS_OOM);
  assert.equal(out.faults, 1);
});
