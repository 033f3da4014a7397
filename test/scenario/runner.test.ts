// The scenario runner: every file in configs/scenarios passes; a failing expect, an unexpected
// fault, an op the model lacks and each deviation a one-CPU scenario can catch are reported with
// the file, the step and the invariant; the pin bookkeeping (pin-read, pin-write) is exercised
// with a test double for GUP until the kernel's pin_user_pages is modelled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Gen } from '../../src/machine/gen.js';
import { MM } from '../../src/machine/layout.js';
import { MMF_HAS_PINNED } from '../../src/linux/mm/rmap.js';
import { folio_put_refs } from '../../src/linux/mm/swap.js';
import { parseScenario } from '../../src/scenario/format.js';
import { mprotectWith, op, OPS, pageState, pinWith, type PinUserPages, type Registry, unpinWith, type UnpinUserPages, Unsupported } from '../../src/scenario/ops.js';
import { runScenario, runScenarioFile, type ScenarioOptions, unsupportedSteps } from '../../src/scenario/runner.js';
import { folioOf } from '../../src/check/folio.js';

const SCENARIOS = fileURLToPath(new URL('../../../configs/scenarios/', import.meta.url));
const jsonIn = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : []);
const RUNNABLE = jsonIn(SCENARIOS);
const PENDING = jsonIn(join(SCENARIOS, 'pending'));

const mmap = (addr: number, len: number, proc = 'A') => ({ op: 'mmap', proc, addr: `0x${addr.toString(16)}`, len: `0x${len.toString(16)}`, prot: 'rw', kind: 'anon' });
const rw = (op: 'read' | 'write', addr: number, len: number, proc = 'A', extra: Record<string, unknown> = {}) => ({ op, proc, addr: `0x${addr.toString(16)}`, len: `0x${len.toString(16)}`, ...extra });
/** Parse and run an inline scenario. */
function run(steps: unknown[], config: Record<string, unknown> = { anonOrders: [0, 4] }, opts: ScenarioOptions = {}, file = 'inline.json') {
  return runScenario(parseScenario(JSON.stringify({ name: 'inline', config, steps }), file), opts);
}
const A = 0x400000;
const FOLIO = 0x10000; // 64 KiB: order 4

// ---- the shipped scenarios -----------------------------------------------------------------------

test('configs/scenarios holds the runnable families', () => {
  assert.ok(RUNNABLE.length >= 9, RUNNABLE.join(', '));
  for (const f of ['anon-write-whole-folio.json', 'anon-write-single-page.json', 'anon-read-zero-page.json', 'anon-dontneed-partial.json', 'anon-munmap-partial.json', 'anon-dontneed-refault.json', 'cow-fork.issue-example.json']) {
    assert.ok(RUNNABLE.includes(f), `missing ${f}`);
  }
});

for (const f of RUNNABLE) {
  test(`configs/scenarios/${f} passes`, () => {
    const r = runScenarioFile(join(SCENARIOS, f));
    assert.equal(r.status, 'pass', r.message);
    assert.equal(r.exitCode, 0);
    assert.ok(r.stepsRun > 0);
  });
}

test('the generator files a scenario under pending/ exactly when it needs an op the model lacks', () => {
  for (const f of RUNNABLE) assert.deepEqual(unsupportedSteps(parseScenario(readFileSync(join(SCENARIOS, f), 'utf8'), f)), [], `${f} is runnable`);
  for (const f of PENDING) assert.ok(unsupportedSteps(parseScenario(readFileSync(join(SCENARIOS, 'pending', f), 'utf8'), f)).length > 0, `${f} could move up`);
});

test('a scenario with an op the model lacks is refused with exit 2, naming the step and the op', () => {
  const dir = mkdtempSync(join(tmpdir(), 'foliostorm-scn-'));
  const f = join(dir, 'file-mapping.json');
  writeFileSync(f, JSON.stringify({ name: 'file', steps: [mmap(A, FOLIO), { op: 'mmap', proc: 'A', addr: '0x800000', len: '0x1000', prot: 'r', kind: 'file', file: 'f' }] }));
  // every op is modelled today: stand in an Unsupported for file mappings, as the registry had it
  const r = runScenarioFile(f, { ops: { ...OPS, 'mmap:file': new Unsupported('file mappings are not modelled (this test)') } });
  assert.equal(r.status, 'unsupported');
  assert.equal(r.exitCode, 2);
  assert.equal(r.stepsRun, 0);
  assert.equal(r.op, 'mmap');
  assert.match(r.message, /step 1: op 'mmap' \(kind "file"\) is not supported yet: /);
});

// ---- failures name the file, step and invariant ---------------------------------------------------

test('a failing expect exits 1 naming the file, the step, and expected vs actual', () => {
  const r = run([mmap(A, FOLIO), rw('write', A, FOLIO), { op: 'expect', proc: 'A', addr: '0x400000', len: '0x2000', folioOrder: 2, writable: true }, rw('read', A, FOLIO)]);
  assert.equal(r.status, 'fail');
  assert.equal(r.exitCode, 1);
  assert.equal(r.step, 2);
  assert.equal(r.op, 'expect');
  assert.equal(r.invariant, 'expect');
  assert.equal(r.stepsRun, 2);
  assert.match(r.message, /^inline\.json: step 2 \(op "expect"\): expect failed: A 0x400000 \(page 0 of 2\): folioOrder expected 2, actual 4 \[pte pfn=0x[0-9a-f]+ P W D Y\]; A 0x401000 \(page 1 of 2\): folioOrder expected 2, actual 4/);
});

test('expect: a page that is not present, and sameFolioAs across processes', () => {
  const r = run([mmap(A, FOLIO), { op: 'expect', proc: 'A', addr: '0x400000', present: true, folioOrder: 4 }]);
  assert.equal(r.invariant, 'expect');
  assert.match(r.message, /present expected true, actual false; folioOrder expected 4, actual none \(not present\) \[pte none\]/);
  const ok = run([mmap(A, FOLIO), rw('write', A, FOLIO), { op: 'fork', proc: 'A', child: 'B' }, { op: 'expect', proc: 'B', addr: '0x400000', len: '0x10000', sameFolioAs: { proc: 'A', addr: '0x40f000' }, writable: false }]);
  assert.equal(ok.status, 'pass', ok.message);
  const bad = run([mmap(A, FOLIO * 2), rw('write', A, FOLIO * 2), { op: 'expect', proc: 'A', addr: '0x40f000', len: '0x2000', sameFolioAs: { proc: 'A', addr: '0x400000' } }]);
  assert.equal(bad.status, 'fail');
  assert.match(bad.message, /A 0x410000 \(page 1 of 2\): same folio as A 0x400000 expected, actual folio 0x[0-9a-f]+ \(order 4\) vs 0x[0-9a-f]+ \(order 4\)/);
});

test('SIGSEGV fails a read or write step unless it says expectFault; expectFault needs every page to fault', () => {
  const segv = run([mmap(A, FOLIO), rw('write', A + FOLIO, 0x1000)]);
  assert.equal(segv.status, 'fail');
  assert.equal(segv.invariant, 'unexpected-fault');
  assert.match(segv.message, /step 1 \(op "write"\): store at A 0x410000: SIGSEGV/);
  assert.equal(run([mmap(A, FOLIO), rw('write', A + FOLIO, 0x1000, 'A', { expectFault: true }), rw('read', A + FOLIO, 0x1000, 'A', { expectFault: true })]).status, 'pass');
  const ro = run([{ ...mmap(A, FOLIO), prot: 'r' }, rw('read', A, FOLIO), rw('write', A, 0x1000, 'A', { expectFault: true })]);
  assert.equal(ro.status, 'pass', ro.message);
  const missing = run([mmap(A, FOLIO), rw('write', A, 0x2000, 'A', { expectFault: true })]);
  assert.equal(missing.invariant, 'missing-fault');
  assert.equal(missing.step, 1);
});

test('a failed mmap (the range is taken) fails the step', () => {
  const r = run([mmap(A, FOLIO), mmap(A + 0x1000, FOLIO)]);
  assert.equal(r.status, 'fail');
  assert.equal(r.invariant, 'syscall-failed');
  assert.match(r.message, /step 1 \(op "mmap"\): mmap 0x401000-0x411000 in A failed/);
});

test('an op the model lacks is refused before anything runs; plugging an executor in makes it run', () => {
  const steps = [mmap(A, FOLIO), rw('write', A, FOLIO), { op: 'mprotect', proc: 'A', addr: '0x400000', len: '0x10000', prot: 'r' }, rw('read', A, FOLIO)];
  // mprotect is modelled now: stand in a registry that lacks it
  const r = run(steps, undefined, { ops: { mprotect: new Unsupported('mprotect (this test) is not modelled') } });
  assert.equal(r.status, 'unsupported');
  assert.equal(r.exitCode, 2);
  assert.equal(r.step, 2);
  assert.match(r.message, /step 2: op 'mprotect' is not supported yet/);
  assert.ok(!(OPS.mprotect instanceof Unsupported));
  let calls = 0;
  const ops: Partial<Registry> = { mprotect: op(mprotectWith(function* () { calls++; return 0; })) };
  assert.equal(run(steps, undefined, { ops }).status, 'pass');
  assert.equal(calls, 1);
});

// ---- deviations a one-CPU scenario catches deterministically ----------------------------------------
// fault-no-recheck and zap-free-before-flush need a second CPU racing the path (a fault between the
// lockless scan and the PTL; an access through a stale TLB entry before the flush): with one CPU
// every step runs alone, so no scenario can catch them. They are covered by test/inject/.

const CAUGHT: { inject: string; file?: string; steps?: unknown[]; config?: Record<string, unknown>; step: number; op: string; invariant: string }[] = [
  // a 2-page VMA: no order-2 range fits, so only the deviation's order 1 is larger than 0
  { inject: 'fault-order1', steps: [mmap(A, 0x2000), rw('write', A, 0x2000)], config: { anonOrders: [0, 2, 4] }, step: 1, op: 'write', invariant: 'anon-order1' },
  { inject: 'fault-refcount-late', file: 'cow-fork.issue-example.json', step: 1, op: 'write', invariant: 'refcount-below-mapcount' },
  { inject: 'cow-reuse-shared', file: 'cow-fork.issue-example.json', step: 4, op: 'write', invariant: 'cow-reuse-shared' },
  { inject: 'fork-mapcount-before-ref', file: 'cow-fork.issue-example.json', step: 3, op: 'fork', invariant: 'refcount-below-mapcount' },
  { inject: 'fork-no-merge-write', file: 'fork-mixed-write-bits.json', step: 7, op: 'fork', invariant: 'writable-not-exclusive' },
  { inject: 'batch-past-folio-end', file: 'batch-adjacent-folios.json', step: 5, op: 'munmap', invariant: 'batch-bounds' },
];

for (const c of CAUGHT) {
  test(`--inject ${c.inject} is caught: exit 1 at step ${c.step} (${c.op}) with ${c.invariant}`, () => {
    const r = c.file ? runScenarioFile(join(SCENARIOS, c.file), { inject: [c.inject] }) : run(c.steps!, c.config, { inject: [c.inject] });
    assert.equal(r.status, 'fail', r.message);
    assert.equal(r.exitCode, 1);
    assert.equal(r.step, c.step, r.message);
    assert.equal(r.op, c.op);
    assert.equal(r.invariant, c.invariant, r.message);
    assert.match(r.message, new RegExp(`step ${c.step} \\(op "${c.op}"\\): invariant ${c.invariant} `));
    if (c.file) assert.ok(r.message.startsWith(join(SCENARIOS, c.file)), r.message);
  });
}

test('a deviation named in the file config is switched on too', () => {
  const r = run([mmap(A, 0x2000), rw('write', A, 0x2000)], { anonOrders: [0, 2], inject: ['fault-order1'] });
  assert.equal(r.invariant, 'anon-order1');
});

// fault-no-recheck and zap-free-before-flush need a second CPU racing the path, which a scenario
// (one CPU, each step to completion) cannot have: test/inject/deviations.test.ts catches them.

// ---- pins, with a test double for GUP -----------------------------------------------------------------
// The double pins what the page table maps, without faulting or unsharing: one reference and one
// pin per page, on large folios only (they keep an exact pin count; small folios use the refcount bias).

const fakePin: PinUserPages = function* (cpu, mm, vpn, nr, write): Gen<number[] | null> {
  const { machine } = cpu;
  const { m, L } = machine;
  const pfns: number[] = [];
  for (let i = 0; i < nr; i++) {
    const st = pageState(machine, mm, vpn + i);
    if (!st.present || (write && !st.writable) || !st.folioOrder) return null;
    Atomics.add(m, L.fRef + st.folio, 1);
    Atomics.add(m, L.fPin + st.folio, 1);
    cpu.noteFolio(st.folio);
    pfns.push(st.pfn);
  }
  Atomics.or(m, machine.mmWord(mm, MM.FLAGS), MMF_HAS_PINNED);
  return pfns;
};
const fakeUnpin: UnpinUserPages = function* (cpu, pfns) {
  const { machine } = cpu;
  for (const pfn of pfns) {
    const folio = folioOf(machine, pfn);
    Atomics.sub(machine.m, machine.L.fPin + folio, 1);
    yield* folio_put_refs(cpu, folio, 1);
  }
};
const GUP: Partial<Registry> = { pin: op(pinWith(fakePin)), unpin: op(unpinWith(fakeUnpin)) };
const pin = (mode: 'ro' | 'rw', id: string, len = FOLIO, proc = 'A') => ({ op: 'pin', proc, addr: '0x400000', len: `0x${len.toString(16)}`, mode, id });

test('pin-read sees the pinner\'s writes while it maps the page, and keeps the last one after it unmaps', () => {
  const r = run([
    mmap(A, FOLIO), rw('write', A, FOLIO),
    pin('ro', 'p'),
    { op: 'pin-read', id: 'p' },
    rw('write', A, 0x1000),
    { op: 'pin-read', id: 'p' },
    { op: 'munmap', proc: 'A', addr: '0x400000', len: '0x10000' },
    { op: 'pin-read', id: 'p' },
    { op: 'unpin', id: 'p' },
  ], undefined, { ops: GUP });
  assert.equal(r.status, 'pass', r.message);
});

test('pin-write: the pinner reads what the device wrote; a pin left at the end is released before the leak check', () => {
  const r = run([
    mmap(A, FOLIO), rw('write', A, FOLIO),
    pin('rw', 'q'),
    { op: 'pin-write', id: 'q' },
    rw('read', A, FOLIO),
    { op: 'pin-read', id: 'q' },
    { op: 'exit', proc: 'A' },
    { op: 'pin-read', id: 'q' },
  ], undefined, { ops: GUP });
  assert.equal(r.status, 'pass', r.message);
});

test('a R/O pin on a COW-shared page that GUP does not unshare is caught by pin-read (cow.c: R/O pin on shared page)', () => {
  const r = run([
    mmap(A, FOLIO), rw('write', A, FOLIO),
    { op: 'fork', proc: 'A', child: 'B' },
    pin('ro', 'p'),
    rw('write', A, 0x1000), // COW: the store lands in a copy, the pin keeps the shared page
    { op: 'pin-read', id: 'p' },
  ], undefined, { ops: GUP });
  assert.equal(r.status, 'fail');
  assert.equal(r.step, 5);
  assert.equal(r.op, 'pin-read');
  assert.equal(r.invariant, 'pin-data-mismatch');
  assert.match(r.message, /step 5 \(op "pin-read"\): invariant pin-data-mismatch in pin-read: \{"pin":"p","proc":"A","addr":"0x400000"/);
});
