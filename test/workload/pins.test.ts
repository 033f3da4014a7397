// The pin checks of the random workload, each on a hand-built bad state next to a clean control:
// pin-detached, pin-stale, pin-use-after-free, pinned-not-exclusive (at pin I/O).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boot, mapAnon, pteAt, run, stepper, writePage, type Harness } from '../helpers/machine.js';
import { madvise_dontneed } from '../../src/linux/mm/madvise.js';
import { pin_op, pinio_op, release_pins } from '../../src/workload/pins.js';
import type { Op } from '../../src/workload/program.js';
import { Violation } from '../../src/machine/cpu.js';
import { PG_ANON_EXCLUSIVE, PG_BUDDY, VM_WRITE } from '../../src/machine/machine.js';
import { sysBegin } from '../../src/check/maps.js';
import { PTE_WRITE, pte_cont, pte_pfn } from '../../src/machine/pte.js';
import { makeToken, ownerOf, recordWrite, zapBegin, zapEnd } from '../../src/check/oracle.js';
import { checkNoLeaks } from '../../src/check/invariants.js';
import { process_exit } from '../../src/linux/kernel/fork.js';

const B = 1024;
const op = (write: boolean, r2 = 0): Op => ({ kind: 'pin', proc: 0, write, r1: 0, r2, r3: 0 });

/** One CPU, an order-4 folio at [B, B+16) written, B+2 pinned by CPU 0 (read-write). */
function pinned(): { h: Harness; pfn: number } {
  const h = boot({ cpus: 1, anonOrders: [0, 4] });
  mapAnon(h, B, 16, { align: 16 });
  for (let v = B; v < B + 16; v++) writePage(h, 0, 0, v);
  run(h, 0, pin_op(h.cpus[0], 0, op(true, 2)));
  const pfn = pte_pfn(Atomics.load(h.machine.m, h.machine.ptep(0, B + 2)));
  assert.equal(Atomics.load(h.machine.m, h.machine.L.pPin + pfn), 1, 'B+2 is pinned');
  // control: device reads and writes through the pin are fine, the pinner sees the device's write
  run(h, 0, pinio_op(h.cpus[0], op(false)));
  run(h, 0, pinio_op(h.cpus[0], op(true)));
  run(h, 0, pinio_op(h.cpus[0], op(false)));
  return { h, pfn };
}

function caught(fn: () => void): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof Violation) return e.invariant;
    throw e;
  }
  return 'none';
}

test('pins: release_pins drops every pin and nothing leaks at teardown (a pin left behind would)', () => {
  const { h } = pinned();
  const kept = pinned();
  run(kept.h, 0, process_exit(kept.h.cpus[0], 0));
  assert.equal(checkNoLeaks(kept.h.machine).length, 1, 'control: an unreleased pin leaks its folio');
  run(h, 0, release_pins(h.cpus[0]));
  const { m, L } = h.machine;
  for (let pfn = 0; pfn < L.pages; pfn++) assert.equal(Atomics.load(m, L.pPin + pfn), 0);
  run(h, 0, process_exit(h.cpus[0], 0));
  assert.deepEqual(checkNoLeaks(h.machine), []);
});

test('pin-detached: the process maps another page than the one pinned', () => {
  const { h, pfn } = pinned();
  const m = h.machine.m;
  Atomics.store(m, h.machine.ptep(0, B + 2), Atomics.load(m, h.machine.ptep(0, B + 3)));
  assert.notEqual(pte_pfn(Atomics.load(m, h.machine.ptep(0, B + 2))), pfn);
  assert.equal(caught(() => run(h, 0, pinio_op(h.cpus[0], op(false)))), 'pin-detached');
});

test('pin-stale: a device read through the pin does not see what the process wrote', () => {
  const { h } = pinned();
  // the oracle says the process wrote a new token at B+2, but the page holds the old one
  recordWrite(h.machine, 0, B + 2, makeToken(77, 0, B + 2), 0, 0);
  assert.equal(caught(() => run(h, 0, pinio_op(h.cpus[0], op(false)))), 'pin-stale');
});

test('pin-use-after-free: the pinned page was freed under the pin', () => {
  const { h, pfn } = pinned();
  Atomics.or(h.machine.m, h.machine.L.pFlags + pfn, PG_BUDDY);
  assert.equal(caught(() => run(h, 0, pinio_op(h.cpus[0], op(false)))), 'pin-use-after-free');
});

test('pinned-not-exclusive (pin io): a pinned anon page lost AnonExclusive', () => {
  const { h, pfn } = pinned();
  Atomics.and(h.machine.m, h.machine.L.pFlags + pfn, ~PG_ANON_EXCLUSIVE);
  // read-only too: a writable entry on a page that is not AnonExclusive is caught first, at the PTL release
  Atomics.and(h.machine.m, h.machine.ptep(0, B + 2), ~PTE_WRITE);
  assert.equal(caught(() => run(h, 0, pinio_op(h.cpus[0], op(false)))), 'pinned-not-exclusive');
});

test('pin-detached is not raised while a neighbour\'s zap unfolds the pinned page\'s contpte block (the entry is none only under the PTL)', () => {
  const h = boot({ cpus: 2, arch: 'contpte', anonOrders: [0, 4] });
  mapAnon(h, B, 16, { align: 16 });
  for (let v = B; v < B + 16; v++) writePage(h, ownerOf(h.machine, v), 0, v);
  const [c0, c1] = h.cpus;
  run(h, c0, pin_op(c0, 0, op(true, 2)));
  const vpn = [...Array(16).keys()].map((i) => B + i).find((v) => Atomics.load(h.machine.m, h.machine.L.pPin + pte_pfn(pteAt(h, 0, v))) === 1)!;
  assert.ok(vpn !== undefined && pte_cont(pteAt(h, 0, vpn)), 'a page of the cont block is pinned');
  const other = vpn === B + 9 ? B + 10 : B + 9;
  zapBegin(h.machine, 0, other, other + 1);
  const z = stepper(h, c1, madvise_dontneed(c1, 0, other, other + 1));
  z.until(() => pteAt(h, 0, vpn) === 0, 'the unfold cleared the pinned page\'s entry for a moment');
  const io = stepper(h, c0, pinio_op(c0, op(false)));
  io.until(() => !io.runnable(), 'the pin check waits for the PTL');
  z.finish();
  zapEnd(h.machine, 0, other, other + 1);
  assert.equal(caught(() => io.finish()), 'none');
  assert.equal(pte_pfn(pteAt(h, 0, vpn)), pte_pfn(pteAt(h, 0, B)) + vpn - B);
});

test('pin-failed: a pin of a page the maps allow fails only while they change or when memory runs out', () => {
  // control: an unpopulated writable anon page: GUP-fast gives up, the slow path faults it in and pins
  const h = boot({ cpus: 1, anonOrders: [0] });
  const v = mapAnon(h, B, 16);
  run(h, 0, pin_op(h.cpus[0], 0, op(true, 2)));
  assert.equal(Atomics.load(h.machine.m, h.machine.L.pPin + pte_pfn(Atomics.load(h.machine.m, h.machine.ptep(0, B + 2)))), 1);
  // the bad state: the kernel refuses a write pin of a page in a writable VMA (here: VM_WRITE taken
  // from the VMA behind the user's back, no call in flight, so the slow path gives up), and no
  // allocation failed
  const s = stepper(h, 0, pin_op(h.cpus[0], 0, op(true, 4)));
  s.step(); // pin_op has read the maps and GUP-fast is under way
  Atomics.and(h.machine.m, h.machine.vmaBase(0, v.slot) + 2, ~VM_WRITE);
  assert.equal(caught(() => s.finish()), 'pin-failed');
  // the same refusal while a call that changes the maps is in flight on the mm (as a racing
  // mprotect would): not judged
  Atomics.or(h.machine.m, h.machine.vmaBase(0, v.slot) + 2, VM_WRITE);
  sysBegin(h.cpus[0], 0); // in flight until the end of the test
  const s2 = stepper(h, 0, pin_op(h.cpus[0], 0, op(true, 6)));
  s2.step();
  Atomics.and(h.machine.m, h.machine.vmaBase(0, v.slot) + 2, ~VM_WRITE);
  s2.finish();
  assert.equal(Atomics.load(h.machine.m, h.machine.ptep(0, B + 6)), 0, 'the pin failed: nothing faulted in');
});
