// mprotect (mm/mprotect.c, per entry for now): downgrade to read-only write-protects and flushes,
// the write then faults; the upgrade back makes only AnonExclusive pages writable; errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boot, folioAt, mapAnon, newAccessOut, run, writePage } from '../helpers/machine.js';
import { do_mprotect } from '../../src/mm/mprotect.js';
import { dup_mm, process_exit } from '../../src/kernel/fork.js';
import { find_vma } from '../../src/mm/mmap.js';
import { user_access, ACCESS_OK, ACCESS_SEGV } from '../../src/hw/mmu.js';
import { tlb_lookup } from '../../src/hw/tlb.js';
import { checkQuiescent } from '../../src/check/invariants.js';
import { pte_write } from '../../src/model/pte.js';
import { VM_READ, VM_WRITE } from '../../src/model/machine.js';
import { EV } from '../../src/engine/events.js';

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
