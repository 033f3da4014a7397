// The tool's classification of operation names (src/diag/op-codes.ts): the cost bucket of each,
// its CPU.OP code for hang reports, and the Cpu taking both from the machine buildMachine made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COST, COST_BASE, COST_KINDS, COST_OPS } from '../../src/machine/events.js';
import { OP_KINDS } from '../../src/machine/ops.js';
import { CPU } from '../../src/machine/layout.js';
import { Cpu } from '../../src/machine/cpu.js';
import { defaultConfig } from '../../src/config/config.js';
import { buildMachine } from '../../src/check/machine.js';
import { costOpIndex, OP_NAMES, opCode, opCodesOf } from '../../src/diag/op-codes.js';
import { opOf } from '../../src/diag/hang.js';

test('cost buckets: workload op kinds, scenario labels and teardown map to their operation type', () => {
  const name = (s: string) => COST_OPS[costOpIndex(s)];
  assert.equal(name('touch'), 'fault');
  assert.equal(name('fork'), 'fork');
  assert.equal(name('scenario step 3 (munmap)'), 'munmap');
  assert.equal(name('scenario teardown'), 'exit');
  assert.equal(name('pinio'), 'gup');
  assert.equal(name('no such op'), 'other');
  assert.deepEqual(['access', 'read', 'write', 'pin', 'unpin', 'sync', 'teardown', 'mprotect', 'dontneed', ''].map(name), ['fault', 'fault', 'fault', 'gup', 'gup', 'writeback', 'exit', 'mprotect', 'dontneed', 'other']);
});

test('op codes: every workload op kind and teardown by its index + 1, forkexit\'s phases and scenario labels by the op they name, anything else 0', () => {
  assert.deepEqual(OP_NAMES, [...OP_KINDS, 'teardown']);
  OP_NAMES.forEach((n, i) => assert.equal(opCode(n), i + 1, n));
  assert.equal(opCode('touch'), 1);
  assert.equal(opCode('forkexit(fork)'), OP_KINDS.indexOf('forkexit') + 1);
  assert.equal(opCode('forkexit(exit)'), OP_KINDS.indexOf('forkexit') + 1);
  assert.equal(opCode('scenario step 2 (munmap)'), OP_KINDS.indexOf('munmap') + 1);
  assert.equal(opCode(''), 0);
  assert.equal(opCode('populate'), 0);
  assert.equal(opCode('scenario step 4 (expect)'), 0);
});

test('opCodesOf: the counter index of the bucket\'s first cost kind and the op code, computed once per name', () => {
  assert.deepEqual(opCodesOf('mprotect'), { cost: COST_BASE + COST_OPS.indexOf('mprotect') * COST_KINDS.length, op: OP_KINDS.indexOf('mprotect') + 1 });
  assert.deepEqual(opCodesOf(''), { cost: COST_BASE + (COST_OPS.length - 1) * COST_KINDS.length, op: 0 });
  assert.equal(opCodesOf('touch'), opCodesOf('touch'));
});

test('a Cpu takes its op\'s codes from the machine buildMachine made: cost() counts into the bucket, CPU.OP names the op for hang reports', () => {
  const machine = buildMachine(defaultConfig({ cpus: 2 }));
  assert.equal(machine.opCodes, opCodesOf);
  const cpu = new Cpu(machine, 1, false, { step: 0 });
  const at = (op: string, k: number) => cpu.counters[COST_BASE + COST_OPS.indexOf(op as never) * COST_KINDS.length + k];
  cpu.cost(COST.TLBI_MM); // before any op: the "other" bucket
  assert.equal(at('other', COST.TLBI_MM), 1);
  assert.equal(opOf(machine, 1), '');
  cpu.curOp = 'forkexit(exit)';
  cpu.cost(COST.TLBI_RANGE, 3);
  assert.equal(at('exit', COST.TLBI_RANGE), 3, 'forkexit(exit) counts as its label names it');
  assert.equal(at('other', COST.TLBI_RANGE), 0);
  cpu.curOp = 'pinio';
  cpu.cost(COST.CONT_UNFOLD);
  assert.equal(at('gup', COST.CONT_UNFOLD), 1);
  assert.equal(Atomics.load(machine.m, machine.cpuWord(1, CPU.OP)), OP_KINDS.indexOf('pinio') + 1);
  assert.equal(opOf(machine, 1), 'pinio');
  cpu.curOp = 'teardown';
  assert.equal(opOf(machine, 1), 'teardown');
  cpu.curOp = '';
  assert.equal(opOf(machine, 1), '');
});
