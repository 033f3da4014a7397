// The workload's forkexit op (fork, then the child exits at once) and the spare process slot its
// children take.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boot, folioAt, mapAnon, pteAt, run, total, writePage } from '../helpers/machine.js';
import { run_op } from '../../src/workload/run-op.js';
import { type Op, OP_KINDS, Program } from '../../src/workload/program.js';
import { defaultConfig } from '../../src/config/config.js';
import { computeLayout, MM, MM_FREE, MM_LIVE } from '../../src/machine/layout.js';
import { checkQuiescent } from '../../src/check/invariants.js';
import { EV } from '../../src/machine/events.js';
import { pte_write } from '../../src/machine/pte.js';
import { PG_ANON_EXCLUSIVE } from '../../src/machine/machine.js';

const B = 1024;

test('forkexit op: appended to OP_KINDS after the kinds before it; its weight is optional (absent: 0), so configs without it draw the same ops and keep their trace hash', () => {
  assert.equal(OP_KINDS.indexOf('forkexit'), 14);
  assert.equal(defaultConfig({}).weights.forkexit, undefined);
  const kinds = (over: Parameters<typeof defaultConfig>[0]) => {
    const p = new Program(defaultConfig({ opsPerCpu: 300, ...over }), 5, 0);
    const out: string[] = [];
    for (let o = p.next(); o; o = p.next()) out.push(`${o.kind}/${o.proc}/${o.r1}`);
    return out;
  };
  assert.deepEqual(kinds({ weights: { forkexit: 0 } }), kinds({}));
  assert.ok(kinds({ weights: { forkexit: 10 } }).some((k) => k.startsWith('forkexit/')));
  // the trace hash mixes in the config's JSON text: absent, the weight is not in it
  assert.ok(!JSON.stringify(defaultConfig({})).includes('forkexit'));
});

test('forkexit op: its children take one spare process slot that ops never target; without the op the layout is unchanged', () => {
  const base = { memoryPages: 8192, vaSize: 32 << 20, processes: 3, maxVmas: 12, cpus: 2, tlbEntries: 16, ringSize: 64, files: defaultConfig({}).files };
  assert.equal(computeLayout({ ...base, weights: defaultConfig({}).weights }).maxMms, 3);
  assert.equal(computeLayout({ ...base, weights: defaultConfig({ weights: { forkexit: 0 } }).weights }).maxMms, 3);
  assert.equal(computeLayout({ ...base, weights: defaultConfig({ weights: { forkexit: 1 } }).weights }).maxMms, 4);
  const p = new Program(defaultConfig({ processes: 3, opsPerCpu: 500, weights: { forkexit: 5 } }), 1, 0);
  for (let o = p.next(); o; o = p.next()) assert.ok(o.proc < 3);
});

test('forkexit op: the parent keeps its folio, read-only and no longer AnonExclusive; its next write reuses the page in place; the slot is free again', () => {
  const h = boot({ cpus: 2, processes: 1, anonOrders: [0, 4], weights: { forkexit: 1 } });
  mapAnon(h, B, 16, { align: 16 });
  for (let v = B; v < B + 16; v++) writePage(h, v % 2, 0, v);
  const f = folioAt(h, 0, B)!;
  assert.equal(f.order, 4);
  const op: Op = { kind: 'forkexit', proc: 0, write: false, r1: 0, r2: 0, r3: 0 };
  run(h, 0, run_op(h.cpus[0], op));
  assert.equal(total(h, EV.FORK), 1);
  assert.equal(total(h, EV.EXIT), 1);
  assert.equal(Atomics.load(h.machine.m, h.machine.mmWord(1, MM.STATE)), MM_FREE, 'the child (spare slot 1) is gone');
  assert.equal(Atomics.load(h.machine.m, h.machine.mmWord(0, MM.STATE)), MM_LIVE);
  for (let v = B; v < B + 16; v++) {
    assert.ok(!pte_write(pteAt(h, 0, v)), 'write-protected by the fork');
    assert.equal(Atomics.load(h.machine.m, h.machine.L.pFlags + f.folio + (v - B)) & PG_ANON_EXCLUSIVE, 0, 'shared by the fork');
  }
  writePage(h, 1, 0, B + 3);
  assert.equal(folioAt(h, 0, B + 3)!.pfn, f.folio + 3, 'reused in place: the folio is the parent\'s alone again');
  assert.ok(Atomics.load(h.machine.m, h.machine.L.pFlags + f.folio + 3) & PG_ANON_EXCLUSIVE);
  assert.deepEqual(checkQuiescent(h.machine), []);
  // a second forkexit finds the spare slot free
  run(h, 0, run_op(h.cpus[0], op));
  assert.equal(total(h, EV.FORK), 2);
});
