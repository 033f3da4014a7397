// The concurrent step: validation (2..4 lists of ordinary steps; what a list creates, exits or pins
// is its own) with messages naming the step, op and field, and runs that interleave the lists on
// their own CPUs under the random scheduler seeded by the file's seed (the same schedule twice).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseScenario, ScenarioFormatError } from '../../src/scenario/format.js';
import { runScenario } from '../../src/scenario/runner.js';

const mmapA = { op: 'mmap', proc: 'A', addr: '0x400000', len: '0x10000', prot: 'rw', kind: 'anon' };
const w = (addr: string, proc = 'A') => ({ op: 'write', proc, addr, len: '0x1000' });
const doc = (steps: unknown[], config: Record<string, unknown> = {}) => JSON.stringify({ name: 't', config, steps });

function refuses(steps: unknown[], field: string, detail: RegExp): void {
  let err: unknown;
  try {
    parseScenario(doc(steps), 'c.json');
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ScenarioFormatError, String(err));
  assert.equal(err.step, 1, err.message);
  assert.equal(err.op, 'concurrent', err.message);
  assert.equal(err.field, field, err.message);
  assert.ok(err.message.startsWith('c.json: step 1 (op "concurrent"): field "' + field + '": '), err.message);
  assert.match(err.message, detail);
}

test('concurrent: fewer than 2 or more than 4 CPU lists, an empty list, an expect or a nested block are refused', () => {
  refuses([mmapA, { op: 'concurrent', cpus: [[w('0x400000')]] }], 'cpus', /at least 2 CPU lists/);
  refuses([mmapA, { op: 'concurrent', cpus: Array.from({ length: 5 }, () => [w('0x400000')]) }], 'cpus', /at most 4 CPU lists/);
  refuses([mmapA, { op: 'concurrent', cpus: [[w('0x400000')], []] }], 'cpus.1', /at least one step/);
  refuses([mmapA, { op: 'concurrent', cpus: [[w('0x400000')], [{ op: 'expect', proc: 'A', addr: '0x400000', present: true }]] }], 'cpus.1.0.op', /expected one of .*found "expect"/);
  refuses([mmapA, { op: 'concurrent', cpus: [[w('0x400000')], [{ op: 'concurrent', cpus: [] }]] }], 'cpus.1.0.op', /found "concurrent"/);
  refuses([mmapA, { op: 'concurrent', cpus: [[w('0x400000')], [{ op: 'write', proc: 'A', addr: '0x400001', len: '0x1000' }]] }], 'cpus.1.0.addr', /multiple of 4096/);
  refuses([mmapA, { op: 'concurrent', cpus: [[w('0x400000')], [{ ...w('0x400000'), bogus: 1 }]] }], 'cpus.1.0.bogus', /unknown key/);
});

test('concurrent: a list may not name what another list of the block creates, exits or pins', () => {
  refuses([mmapA, { op: 'concurrent', cpus: [[{ op: 'fork', proc: 'A', child: 'B' }], [w('0x400000', 'B')]] }], 'cpus.1.0.proc', /no other CPU's list of this block creates or exits, found "B" \(CPU 0's list does\)/);
  refuses([mmapA, { op: 'concurrent', cpus: [[w('0x400000')], [{ op: 'exit', proc: 'A' }]] }], 'cpus.1.0.proc', /an exit would race/);
  refuses([mmapA, { op: 'concurrent', cpus: [[{ op: 'pin', proc: 'A', addr: '0x400000', len: '0x1000', mode: 'ro', id: 'p' }], [{ op: 'unpin', id: 'p' }]] }], 'cpus.1.0.id', /CPU 0's list names it/);
  refuses([mmapA, { op: 'concurrent', cpus: [[w('0x400000', 'Z')], [w('0x400000')]] }], 'cpus.0.0.proc', /earlier step created.*"Z" \(op "write"\)/);
});

test('concurrent: the config gets one CPU per list; a block runs on those CPUs and the same seed gives the same schedule', () => {
  const text = doc([mmapA, { op: 'concurrent', cpus: [[w('0x400000')], [w('0x408000')], [{ op: 'read', proc: 'A', addr: '0x404000', len: '0x1000' }]] }, { op: 'read', proc: 'A', addr: '0x400000', len: '0x10000' }], { anonOrders: [0, 2, 4], seed: 7 });
  const sc = parseScenario(text, 'c.json');
  assert.equal(sc.config.cpus, 3);
  const a = runScenario(sc), b = runScenario(sc);
  assert.equal(a.status, 'pass', a.message);
  assert.ok(a.schedule && a.schedule.length > 2, 'the block switched CPUs');
  assert.ok(new Set(a.schedule!.filter((_, i) => i % 2 === 0)).size === 3, 'every CPU ran');
  assert.deepEqual(a.schedule, b.schedule);
  const c = runScenario(parseScenario(text.replace('"seed":7', '"seed":8'), 'c.json'));
  assert.equal(c.status, 'pass', c.message);
});

test('concurrent: a failing step in a list names its CPU and place', () => {
  const sc = parseScenario(doc([mmapA, { op: 'concurrent', cpus: [[w('0x400000')], [{ op: 'write', proc: 'A', addr: '0x500000', len: '0x1000' }]] }]), 'c.json');
  const r = runScenario(sc);
  assert.equal(r.status, 'fail');
  assert.equal(r.invariant, 'unexpected-fault');
  assert.match(r.message, /step 1 \(op "concurrent"\): cpu 1 step 0 \(op "write"\): store at A 0x500000: SIGSEGV/);
});
