// The workload's mprotect op, and touch meeting a VMA made read-only under it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boot, mapAnon, run, stepper, writePage } from '../helpers/machine.js';
import { run_op } from '../../src/workload/run-op.js';
import { type Op, OP_KINDS, Program } from '../../src/workload/program.js';
import { defaultConfig } from '../../src/config/config.js';
import { do_mprotect } from '../../src/linux/mm/mprotect.js';
import { find_vma } from '../../src/linux/mm/mmap.js';
import { checkQuiescent } from '../../src/check/invariants.js';
import { EV } from '../../src/machine/events.js';
import { P } from '../../src/machine/gen.js';
import { pte_write } from '../../src/machine/pte.js';
import { VM_READ, VM_WRITE } from '../../src/machine/machine.js';

const B = 1024;

test('mprotect op: appended to OP_KINDS after the kinds before it (they keep their cumulative weights), weight 2 by default, never drawn at weight 0', () => {
  assert.equal(OP_KINDS.indexOf('mprotect'), 13);
  assert.equal(defaultConfig({}).weights.mprotect, 2);
  const kinds = (mprotect: number) => {
    const p = new Program(defaultConfig({ weights: { mprotect }, opsPerCpu: 300 }), 5, 0);
    const out: string[] = [];
    for (let o = p.next(); o; o = p.next()) out.push(o.kind);
    return out;
  };
  const without = kinds(0);
  assert.ok(!without.includes('mprotect'));
  assert.ok(kinds(10).includes('mprotect'));
});

test('mprotect op: a read-only op (write bit clear) write-protects a whole VMA; a write op makes it read-write again', () => {
  const h = boot({ cpus: 1, anonOrders: [0, 4] });
  mapAnon(h, B, 16, { align: 16 });
  for (let v = B; v < B + 16; v++) writePage(h, 0, 0, v);
  const op = (write: boolean): Op => ({ kind: 'mprotect', proc: 0, write, r1: 0, r2: 0, r3: 0 });
  run(h, 0, run_op(h.cpus[0], op(false)));
  assert.equal(find_vma(h.machine, 0, B)!.flags & VM_WRITE, 0);
  for (let v = B; v < B + 16; v++) assert.ok(!pte_write(Atomics.load(h.machine.m, h.machine.ptep(0, v))));
  run(h, 0, run_op(h.cpus[0], op(true)));
  assert.equal(find_vma(h.machine, 0, B)!.flags & VM_WRITE, VM_WRITE);
  for (let v = B; v < B + 16; v++) assert.ok(pte_write(Atomics.load(h.machine.m, h.machine.ptep(0, v))), 'exclusive: upgraded');
  assert.equal(h.cpus[0].counters[EV.MPROTECT], 2);
  assert.deepEqual(checkQuiescent(h.machine), []);
});

test('touch: a write to a VMA made read-only since the op looked faults SIGSEGV; the op ends, nothing recorded', () => {
  const h = boot({ cpus: 2, anonOrders: [0] });
  mapAnon(h, B, 16, { align: 16 });
  // CPU 0 owns the even pages: a write touch of B+2 (r2 = 2, one page)
  const touch: Op = { kind: 'touch', proc: 0, write: true, r1: 0, r2: 2, r3: 0 };
  const s = stepper(h, 0, run_op(h.cpus[0], touch));
  s.untilPoint(P.ACCESS); // the op chose to write: the VMA was writable when it looked
  assert.equal(run(h, 1, do_mprotect(h.cpus[1], 0, B, B + 16, VM_READ)), 0);
  s.finish();
  assert.equal(h.cpus[0].counters[EV.FAULT_SEGV], 1);
  assert.equal(h.cpus[0].counters[EV.WRITE], 0);
  assert.equal(Atomics.load(h.machine.m, h.machine.ptep(0, B + 2)), 0, 'nothing mapped');
  assert.deepEqual(checkQuiescent(h.machine), []);
});
