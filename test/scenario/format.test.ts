// The scenario format: every malformed file is refused (exit 2) with a message that names the
// file, the step index and the field; well-formed files parse into typed steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseScenario, ScenarioFormatError, type Scenario } from '../../src/scenario/format.js';
import { runScenarioFile } from '../../src/scenario/runner.js';

const SCENARIOS = fileURLToPath(new URL('../../../configs/scenarios/', import.meta.url));
const FILE = 'bad.json';

const mmapA = { op: 'mmap', proc: 'A', addr: '0x400000', len: '0x10000', prot: 'rw', kind: 'anon' };
/** A scenario whose step 1 is `step` (step 0 maps A). */
const withStep = (step: unknown, extra: Record<string, unknown> = {}) => JSON.stringify({ name: 't', steps: [mmapA, step], ...extra });

/** Parsing text must fail with exactly this step and field, and a message naming the file, step and field. */
function refuses(text: string, where: { step?: number; field?: string }, detail: RegExp): ScenarioFormatError {
  let err: unknown;
  try {
    parseScenario(text, FILE);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ScenarioFormatError, `expected a ScenarioFormatError, got ${String(err)}`);
  assert.equal(err.file, FILE);
  assert.equal(err.step, where.step, err.message);
  assert.equal(err.field, where.field, err.message);
  assert.ok(err.message.startsWith(`${FILE}: `), err.message);
  if (where.step !== undefined) assert.match(err.message, new RegExp(`step ${where.step}[ :]`));
  if (where.field !== undefined) assert.ok(err.message.includes(`field "${where.field}"`), err.message);
  assert.match(err.message, detail);
  return err;
}

// ---- the malformed cases the issue names; each also through the file runner (exit 2) ---------------

const CASES: { what: string; text: string; step?: number; field?: string; detail: RegExp }[] = [
  { what: 'bad JSON', text: '{ "steps": [ { "op": "mmap", ', detail: /not valid JSON/ },
  { what: 'unknown op', text: withStep({ op: 'frobnicate', proc: 'A' }), step: 1, field: 'op', detail: /unknown op "frobnicate"/ },
  { what: 'missing field', text: withStep({ op: 'write', proc: 'A', addr: '0x400000' }), step: 1, field: 'len', detail: /missing/ },
  { what: 'unaligned length', text: withStep({ op: 'write', proc: 'A', addr: '0x400000', len: '0x1001' }), step: 1, field: 'len', detail: /0x1001 is not a multiple of 4096/ },
  { what: 'unknown process', text: withStep({ op: 'read', proc: 'B', addr: '0x400000', len: '0x1000' }), step: 1, field: 'proc', detail: /unknown process "B"/ },
  { what: 'bad hex', text: withStep({ op: 'write', proc: 'A', addr: '0x40000g', len: '0x1000' }), step: 1, field: 'addr', detail: /"0x40000g" is not a hex number/ },
  { what: 'unknown key in a step', text: withStep({ op: 'write', proc: 'A', addr: '0x400000', len: '0x1000', lenght: 1 }), step: 1, field: 'lenght', detail: /unknown key for op "write"/ },
];

for (const c of CASES) {
  test(`malformed: ${c.what} -> refused naming file, step and field`, () => {
    refuses(c.text, { step: c.step, field: c.field }, c.detail);
  });
  test(`malformed: ${c.what} -> runScenarioFile exits 2`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'foliostorm-scenario-'));
    const f = join(dir, 'case.json');
    writeFileSync(f, c.text);
    const r = runScenarioFile(f);
    assert.equal(r.status, 'malformed');
    assert.equal(r.exitCode, 2);
    assert.equal(r.step, c.step);
    assert.equal(r.field, c.field);
    assert.ok(r.message.startsWith(`${f}: `), r.message);
    assert.match(r.message, c.detail);
  });
}

test('the message reads FILE: step N (op "..."): field "...": detail', () => {
  const e = refuses(withStep({ op: 'write', proc: 'A', addr: '0x400000', len: '0x1001' }), { step: 1, field: 'len' }, /./);
  assert.equal(e.message, 'bad.json: step 1 (op "write"): field "len": 0x1001 is not a multiple of 4096');
});

// ---- more malformed files ------------------------------------------------------------------------

test('addresses: unaligned, not hex, negative, beyond the address space, wrong type', () => {
  refuses(withStep({ op: 'write', proc: 'A', addr: '0x400100', len: '0x1000' }), { step: 1, field: 'addr' }, /0x400100 is not a multiple of 4096/);
  refuses(withStep({ op: 'write', proc: 'A', addr: '400000', len: '0x1000' }), { step: 1, field: 'addr' }, /"400000" is not a hex number/);
  refuses(withStep({ op: 'write', proc: 'A', addr: -4096, len: '0x1000' }), { step: 1, field: 'addr' }, /not a non-negative integer/);
  refuses(withStep({ op: 'write', proc: 'A', addr: true, len: '0x1000' }), { step: 1, field: 'addr' }, /hex string/);
  refuses(withStep({ op: 'write', proc: 'A', addr: '0x8000000', len: '0x1000' }), { step: 1, field: 'addr' }, /beyond the address space/);
  refuses(withStep({ op: 'write', proc: 'A', addr: '0x1fff000', len: '0x2000' }), { step: 1, field: 'len' }, /ends beyond the address space/);
  refuses(withStep({ op: 'write', proc: 'A', addr: '0x400000', len: 0 }), { step: 1, field: 'len' }, /at least 0x1000/);
  refuses(withStep({ op: 'mremap', proc: 'A', addr: '0x400000', len: '0x8000', newAddr: '0x404000' }), { step: 1, field: 'newAddr' }, /overlaps the range being moved/);
});

test('enumerations and types: prot, kind, advice, mode, booleans, folioOrder', () => {
  refuses(withStep({ op: 'mprotect', proc: 'A', addr: '0x400000', len: '0x1000', prot: 'rwx' }), { step: 1, field: 'prot' }, /one of "none", "r", "rw"/);
  refuses(withStep({ op: 'madvise', proc: 'A', addr: '0x400000', len: '0x1000', advice: 'free' }), { step: 1, field: 'advice' }, /"dontneed", "dontfork", "dofork"/);
  refuses(withStep({ op: 'pin', proc: 'A', addr: '0x400000', len: '0x1000', mode: 'w', id: 'p' }), { step: 1, field: 'mode' }, /"ro", "rw"/);
  refuses(withStep({ op: 'read', proc: 'A', addr: '0x400000', len: '0x1000', expectFault: 'yes' }), { step: 1, field: 'expectFault' }, /true or false/);
  refuses(withStep({ op: 'expect', proc: 'A', addr: '0x400000', folioOrder: 12 }), { step: 1, field: 'folioOrder' }, /integer from 0 to 9/);
  refuses(withStep({ op: 'expect', proc: 'A', addr: '0x400000', writable: 1 }), { step: 1, field: 'writable' }, /true or false/);
  refuses(JSON.stringify({ steps: [{ ...mmapA, kind: 'shm' }] }), { step: 0, field: 'kind' }, /"anon", "file"/);
});

test('mmap: file fields only for kind "file"; shared anon is refused; file mappings need a file name', () => {
  refuses(JSON.stringify({ steps: [{ ...mmapA, file: 'f' }] }), { step: 0, field: 'file' }, /only for kind "file"/);
  refuses(JSON.stringify({ steps: [{ ...mmapA, shared: true }] }), { step: 0, field: 'shared' }, /shared anonymous/);
  refuses(JSON.stringify({ steps: [{ ...mmapA, kind: 'file' }] }), { step: 0, field: 'file' }, /missing/);
  refuses(JSON.stringify({ steps: [{ ...mmapA, kind: 'file', file: 'f', offset: '0x10' }] }), { step: 0, field: 'offset' }, /not a multiple of 4096/);
  refuses(JSON.stringify({ steps: [{ ...mmapA, writenotify: true }] }), { step: 0, field: 'writenotify' }, /only for kind "file"/);
  refuses(JSON.stringify({ steps: [{ ...mmapA, kind: 'file', file: 'f', offset: '0xff000' }] }), { step: 0, field: 'len' }, /beyond the file \(config files.pages 256\)/);
  const sc = parseScenario(JSON.stringify({ steps: [{ ...mmapA, kind: 'file', file: 'data', offset: '0x2000', shared: true }] }), FILE);
  assert.deepEqual(sc.steps[0], { index: 0, op: 'mmap', proc: 'A', addr: 0x400000, len: 0x10000, prot: 'rw', kind: 'file', file: 'data', fileIndex: 0, offset: 0x2000, shared: true, writenotify: false });
});

test('files: named by their first mapping, at most config files.count; writeback names a mapped file; sync takes nothing', () => {
  const fileA = (name: string, addr: string) => ({ ...mmapA, addr, kind: 'file', file: name });
  refuses(JSON.stringify({ steps: [fileA('f', '0x400000'), { op: 'writeback', file: 'g' }] }), { step: 1, field: 'file' }, /unknown file "g"/);
  refuses(JSON.stringify({ steps: [fileA('f', '0x400000'), fileA('g', '0x600000'), fileA('h', '0x800000')] }), { step: 2, field: 'file' }, /too many files: the config has files.count 2/);
  refuses(JSON.stringify({ steps: [fileA('f', '0x400000'), { op: 'sync', file: 'f' }] }), { step: 1, field: 'file' }, /unknown key/);
  const sc = parseScenario(JSON.stringify({ steps: [fileA('f', '0x400000'), fileA('g', '0x600000'), { op: 'writeback', file: 'g' }, { op: 'sync' }] }), FILE);
  assert.deepEqual(sc.steps[2], { index: 2, op: 'writeback', file: 'g', fileIndex: 1 });
  assert.deepEqual(sc.steps[3], { index: 3, op: 'sync' });
});

test('processes: created by mmap or fork, gone after exit, names not reused, at most 8', () => {
  const exitA = { op: 'exit', proc: 'A' };
  refuses(JSON.stringify({ steps: [mmapA, exitA, { op: 'read', proc: 'A', addr: '0x400000', len: '0x1000' }] }), { step: 2, field: 'proc' }, /process "A" exited at step 1/);
  refuses(JSON.stringify({ steps: [mmapA, exitA, mmapA] }), { step: 2, field: 'proc' }, /exited at step 1; a name is not reused/);
  refuses(withStep({ op: 'fork', proc: 'A', child: 'A' }), { step: 1, field: 'child' }, /process "A" already exists/);
  refuses(withStep({ op: 'fork', proc: 'B', child: 'C' }), { step: 1, field: 'proc' }, /unknown process "B"/);
  refuses(withStep({ op: 'exit', proc: '' }), { step: 1, field: 'proc' }, /process name/);
  const nine = 'ABCDEFGHI'.split('').map((p, i) => ({ ...mmapA, proc: p, addr: 0x400000 + i * 0x10000 }));
  refuses(JSON.stringify({ steps: nine }), { step: 8, field: 'proc' }, /at most 8/);
  const forks = JSON.stringify({ steps: [mmapA, { op: 'fork', proc: 'A', child: 'B' }, { op: 'fork', proc: 'B', child: 'C' }, { op: 'exit', proc: 'B' }, { op: 'read', proc: 'C', addr: '0x400000', len: '0x1000' }] });
  const sc = parseScenario(forks, FILE);
  assert.deepEqual(sc.procs, ['A', 'B', 'C']);
  assert.equal(sc.config.processes, 3);
});

test('pins: an id is taken once, must be held to read, write or unpin, and pin-write needs a rw pin', () => {
  const pinP = { op: 'pin', proc: 'A', addr: '0x400000', len: '0x1000', mode: 'ro', id: 'p' };
  refuses(withStep({ op: 'pin-read', id: 'p' }), { step: 1, field: 'id' }, /unknown pin "p"/);
  refuses(JSON.stringify({ steps: [mmapA, pinP, pinP] }), { step: 2, field: 'id' }, /already held \(taken at step 1\)/);
  refuses(JSON.stringify({ steps: [mmapA, pinP, { op: 'unpin', id: 'p' }, { op: 'pin-read', id: 'p' }] }), { step: 3, field: 'id' }, /unknown pin "p"/);
  refuses(JSON.stringify({ steps: [mmapA, pinP, { op: 'pin-write', id: 'p' }] }), { step: 2, field: 'id' }, /read-only/);
  refuses(JSON.stringify({ steps: [mmapA, pinP, { op: 'pin-read', id: 'p', proc: 'A' }] }), { step: 2, field: 'proc' }, /unknown key for op "pin-read"/);
  // a pin outlives its process
  parseScenario(JSON.stringify({ steps: [mmapA, pinP, { op: 'exit', proc: 'A' }, { op: 'pin-read', id: 'p' }, { op: 'unpin', id: 'p' }] }), FILE);
});

test('expect: must state something; sameFolioAs takes exactly proc and addr of a live process', () => {
  refuses(withStep({ op: 'expect', proc: 'A', addr: '0x400000' }), { step: 1 }, /states nothing/);
  refuses(withStep({ op: 'expect', proc: 'A', addr: '0x400000', sameFolioAs: 'A' }), { step: 1, field: 'sameFolioAs' }, /must be an object/);
  refuses(withStep({ op: 'expect', proc: 'A', addr: '0x400000', sameFolioAs: { proc: 'A', addr: '0x400000', len: 1 } }), { step: 1, field: 'sameFolioAs.len' }, /unknown key/);
  refuses(withStep({ op: 'expect', proc: 'A', addr: '0x400000', sameFolioAs: { proc: 'Z', addr: '0x400000' } }), { step: 1, field: 'sameFolioAs.proc' }, /unknown process "Z"/);
  refuses(withStep({ op: 'expect', proc: 'A', addr: '0x400000', sameFolioAs: { proc: 'A' } }), { step: 1, field: 'sameFolioAs.addr' }, /missing/);
  refuses(withStep({ op: 'expect', proc: 'A', addr: '0x400000', sameFolioAs: { proc: 'A', addr: '0x400800' } }), { step: 1, field: 'sameFolioAs.addr' }, /not a multiple/);
});

test('top level: object, known keys, steps present and non-empty, each step an object with an op', () => {
  refuses('[]', {}, /must be a JSON object/);
  refuses(JSON.stringify({ steps: [mmapA], seed: 3 }), { field: 'seed' }, /unknown key/);
  refuses(JSON.stringify({ name: 't' }), { field: 'steps' }, /missing/);
  refuses(JSON.stringify({ steps: [] }), { field: 'steps' }, /non-empty array/);
  refuses(JSON.stringify({ steps: [mmapA, 'write'] }), { step: 1 }, /must be an object/);
  refuses(JSON.stringify({ steps: [mmapA, { proc: 'A' }] }), { step: 1, field: 'op' }, /missing/);
  refuses(JSON.stringify({ name: 3, steps: [mmapA] }), { field: 'name' }, /string/);
});

test('config: validated as a run config; cpus must be 1; inject names must exist', () => {
  const e = refuses(JSON.stringify({ config: { anonOrders: [0, 1] }, steps: [mmapA] }), { field: undefined }, /config: field "anonOrders": order 1/);
  assert.ok(e.message.startsWith('bad.json: config: field "anonOrders"'), e.message);
  refuses(JSON.stringify({ config: { anonFallback: 'sometimes' }, steps: [mmapA] }), {}, /config: field "anonFallback"/);
  refuses(JSON.stringify({ config: { warp: 9 }, steps: [mmapA] }), {}, /config: field "\(top level\)"|warp/);
  refuses(JSON.stringify({ config: { cpus: 2 }, steps: [mmapA] }), { field: 'config.cpus' }, /one simulated CPU/);
  refuses(JSON.stringify({ config: { inject: ['no-such-bug'] }, steps: [mmapA] }), { field: 'config.inject' }, /unknown deviation "no-such-bug"/);
  refuses(JSON.stringify({ config: [], steps: [mmapA] }), { field: 'config' }, /must be an object/);
  // the length check uses the file's vaSize
  refuses(JSON.stringify({ config: { vaSize: 4 << 20 }, steps: [{ ...mmapA, addr: '0x400000' }] }), { step: 0, field: 'addr' }, /beyond the address space \(config vaSize 0x400000\)/);
});

// ---- well-formed files ------------------------------------------------------------------------------

test('the issue example parses: hex strings and numbers, one CPU, one slot per process, fragmentation 0', () => {
  const text = readFileSync(join(SCENARIOS, 'cow-fork.issue-example.json'), 'utf8');
  const sc: Scenario = parseScenario(text, 'x.json');
  assert.equal(sc.name, 'basic COW after fork, 64K folios');
  assert.equal(sc.config.cpus, 1);
  assert.equal(sc.config.processes, 2);
  assert.equal(sc.config.fragmentation, 0);
  assert.deepEqual(sc.config.anonOrders, [0, 4]);
  assert.deepEqual(sc.steps.map((s) => s.op), ['mmap', 'write', 'expect', 'fork', 'write', 'read', 'exit']);
  assert.deepEqual(sc.steps[2], { index: 2, op: 'expect', proc: 'A', addr: 0x400000, len: 0x1000, folioOrder: 4, exclusive: true, writable: true });
  const num = parseScenario(JSON.stringify({ steps: [{ ...mmapA, addr: 0x400000, len: 65536 }] }), 'n.json');
  assert.equal(num.name, 'n');
  assert.equal((num.steps[0] as { len: number }).len, 0x10000);
});

test('every scenario file in configs/scenarios and configs/scenarios/pending parses', () => {
  let n = 0;
  for (const dir of [SCENARIOS, join(SCENARIOS, 'pending')]) {
    for (const f of existsSync(dir) ? readdirSync(dir).filter((x) => x.endsWith('.json')) : []) {
      parseScenario(readFileSync(join(dir, f), 'utf8'), f);
      n++;
    }
  }
  assert.ok(n >= 60, `only ${n} scenario files`);
});
