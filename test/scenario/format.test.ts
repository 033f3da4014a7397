// The scenario format: every malformed file is refused (exit 2) with a message that names the
// file, the step index and the field, what was expected and what was found; well-formed files
// parse into typed steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OP_NAMES, parseScenario, ScenarioFormatError, type Scenario } from '../../src/scenario/format.js';
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
  { what: 'unknown op', text: withStep({ op: 'frobnicate', proc: 'A' }), step: 1, field: 'op', detail: /expected one of "mmap", .*, found "frobnicate"$/ },
  { what: 'missing field', text: withStep({ op: 'write', proc: 'A', addr: '0x400000' }), step: 1, field: 'len', detail: /found nothing \(the field is missing\)/ },
  { what: 'unaligned length', text: withStep({ op: 'write', proc: 'A', addr: '0x400000', len: '0x1001' }), step: 1, field: 'len', detail: /expected a multiple of 4096 \(0x1000\), found "0x1001"/ },
  { what: 'unknown process', text: withStep({ op: 'read', proc: 'B', addr: '0x400000', len: '0x1000' }), step: 1, field: 'proc', detail: /expected a process that an earlier step created .*, found "B"/ },
  { what: 'bad hex', text: withStep({ op: 'write', proc: 'A', addr: '0x40000g', len: '0x1000' }), step: 1, field: 'addr', detail: /expected a hex string such as "0x400000" \(or a plain number\), found "0x40000g"/ },
  { what: 'unknown key in a step', text: withStep({ op: 'write', proc: 'A', addr: '0x400000', len: '0x1000', lenght: 1 }), step: 1, field: 'lenght', detail: /unknown key \(allowed: op, proc, addr, len, expectFault, mayFault, comment\)$/ },
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
  assert.equal(e.message, 'bad.json: step 1 (op "write"): field "len": expected a multiple of 4096 (0x1000), found "0x1001"');
});

// ---- exact messages: FILE: step N (op "..."): field "...": expected ..., found ... --------------------

/** The error parsing text as bad.json throws. */
function refusal(text: string): ScenarioFormatError {
  try {
    parseScenario(text, FILE);
  } catch (e) {
    assert.ok(e instanceof ScenarioFormatError, `expected a ScenarioFormatError, got ${String(e)}`);
    return e;
  }
  assert.fail(`accepted: ${text}`);
}
const jsonError = (text: string): string => {
  try {
    JSON.parse(text);
  } catch (e) {
    return (e as Error).message;
  }
  assert.fail('valid JSON');
};
const ops = OP_NAMES.map((o) => `"${o}"`).join(', ');

// what, the file's text, where (step, op, field of the error), the exact message
const EXACT: [string, string, { step?: number; op?: string; field?: string }, string][] = [
  ['wrong type (a boolean for a length)', withStep({ op: 'write', proc: 'A', addr: '0x400000', len: true }), { step: 1, op: 'write', field: 'len' },
    'bad.json: step 1 (op "write"): field "len": expected a byte length: a number or a hex string such as "0x10000", found true (a boolean)'],
  ['wrong type (a number for a process name)', withStep({ op: 'exit', proc: 5 }), { step: 1, op: 'exit', field: 'proc' },
    'bad.json: step 1 (op "exit"): field "proc": expected a process name such as "A", found 5'],
  ['wrong type (a top-level string)', JSON.stringify({ comment: ['a', 'b'], steps: [mmapA] }), { field: 'comment' },
    'bad.json: field "comment": expected a string, found ["a","b"] (an array)'],
  ['unknown top-level key, did you mean', JSON.stringify({ nmae: 'x', steps: [mmapA] }), { field: 'nmae' },
    'bad.json: field "nmae": unknown key (did you mean "name"?)'],
  ['unknown step key for an op, did you mean', withStep({ op: 'write', proc: 'A', addr: '0x400000', len: '0x1000', expectfault: true }), { step: 1, op: 'write', field: 'expectfault' },
    'bad.json: step 1 (op "write"): field "expectfault": unknown key (did you mean "expectFault"?)'],
  ['unknown step key for an op, the keys it takes', withStep({ op: 'munmap', proc: 'A', addr: '0x400000', len: '0x1000', newAddr: '0x800000' }), { step: 1, op: 'munmap', field: 'newAddr' },
    'bad.json: step 1 (op "munmap"): field "newAddr": unknown key (allowed: op, proc, addr, len, comment)'],
  ['missing required field', withStep({ op: 'fork', proc: 'A' }), { step: 1, op: 'fork', field: 'child' },
    'bad.json: step 1 (op "fork"): field "child": expected a process name such as "B", found nothing (the field is missing)'],
  ['missing required field of a nested object', withStep({ op: 'expect', proc: 'A', addr: '0x400000', sameFolioAs: { addr: '0x400000' } }), { step: 1, op: 'expect', field: 'sameFolioAs.proc' },
    'bad.json: step 1 (op "expect"): field "sameFolioAs.proc": expected a process name such as "A", found nothing (the field is missing)'],
  ['bad enum value', JSON.stringify({ steps: [{ ...mmapA, kind: 'shm' }] }), { step: 0, op: 'mmap', field: 'kind' },
    'bad.json: step 0 (op "mmap"): field "kind": expected one of "anon", "file", found "shm"'],
  ['bad enum value, did you mean', withStep({ op: 'pin', proc: 'A', addr: '0x400000', len: '0x1000', mode: 'RO', id: 'p' }), { step: 1, op: 'pin', field: 'mode' },
    'bad.json: step 1 (op "pin"): field "mode": expected one of "ro", "rw", found "RO" (did you mean "ro"?)'],
  ['unaligned address', withStep({ op: 'read', proc: 'A', addr: '0x400800', len: '0x1000' }), { step: 1, op: 'read', field: 'addr' },
    'bad.json: step 1 (op "read"): field "addr": expected a multiple of 4096 (0x1000), found "0x400800"'],
  ['unaligned address as a number', withStep({ op: 'read', proc: 'A', addr: 4196352, len: '0x1000' }), { step: 1, op: 'read', field: 'addr' },
    'bad.json: step 1 (op "read"): field "addr": expected a multiple of 4096 (0x1000), found 4196352'],
  ['negative length', withStep({ op: 'madvise', proc: 'A', addr: '0x400000', len: -4096, advice: 'dontneed' }), { step: 1, op: 'madvise', field: 'len' },
    'bad.json: step 1 (op "madvise"): field "len": expected a non-negative integer (or a hex string such as "0x10000"), found -4096'],
  ['fractional length', withStep({ op: 'write', proc: 'A', addr: '0x400000', len: 4096.5 }), { step: 1, op: 'write', field: 'len' },
    'bad.json: step 1 (op "write"): field "len": expected a non-negative integer (or a hex string such as "0x10000"), found 4096.5'],
  ['garbage length', withStep({ op: 'write', proc: 'A', addr: '0x400000', len: 'one page' }), { step: 1, op: 'write', field: 'len' },
    'bad.json: step 1 (op "write"): field "len": expected a hex string such as "0x10000" (or a plain number), found "one page"'],
  ['zero length', withStep({ op: 'write', proc: 'A', addr: '0x400000', len: '0x0' }), { step: 1, op: 'write', field: 'len' },
    'bad.json: step 1 (op "write"): field "len": expected at least 0x1000 (one page), found "0x0"'],
  ['hex garbage', withStep({ op: 'mremap', proc: 'A', addr: '0x400000', len: '0x1000', newAddr: '0x80000x' }), { step: 1, op: 'mremap', field: 'newAddr' },
    'bad.json: step 1 (op "mremap"): field "newAddr": expected a hex string such as "0x400000" (or a plain number), found "0x80000x"'],
  ['hex too large', withStep({ op: 'write', proc: 'A', addr: '0x400000', len: '0x1000000000000000' }), { step: 1, op: 'write', field: 'len' },
    'bad.json: step 1 (op "write"): field "len": expected at most 0x1fffffffffffff, found "0x1000000000000000"'],
  ['folioOrder out of range', withStep({ op: 'expect', proc: 'A', addr: '0x400000', folioOrder: 10 }), { step: 1, op: 'expect', field: 'folioOrder' },
    'bad.json: step 1 (op "expect"): field "folioOrder": expected at most 9, found 10'],
  ['folioOrder not an integer', withStep({ op: 'expect', proc: 'A', addr: '0x400000', folioOrder: 2.5 }), { step: 1, op: 'expect', field: 'folioOrder' },
    'bad.json: step 1 (op "expect"): field "folioOrder": expected an integer, found 2.5'],
  ['a step that is not an object', JSON.stringify({ steps: [mmapA, [1, 2]] }), { step: 1 },
    'bad.json: step 1: expected an object such as {"op": "write", ...}, found [1,2] (an array)'],
  ['an unknown op', withStep({ op: 'frobnicate', proc: 'A' }), { step: 1, field: 'op' },
    `bad.json: step 1: field "op": expected one of ${ops}, found "frobnicate"`],
  ['an unknown op, did you mean', withStep({ op: 'mmpa', proc: 'A' }), { step: 1, field: 'op' },
    `bad.json: step 1: field "op": expected one of ${ops}, found "mmpa" (did you mean "mmap"?)`],
  ['steps empty', JSON.stringify({ name: 't', steps: [] }), { field: 'steps' },
    'bad.json: field "steps": expected at least one step, found []'],
  ['steps missing', JSON.stringify({ name: 't' }), { field: 'steps' },
    'bad.json: field "steps": expected an array, found nothing (the field is missing)'],
  ['not an object', '"steps"', {},
    'bad.json: expected an object with "steps" (and optionally "name", "comment", "config"), found "steps" (a string)'],
  ['bad JSON', '{ "steps": [', {}, `bad.json: not valid JSON: ${jsonError('{ "steps": [')}`],
  ['a config field (the run-config schema, did you mean)', JSON.stringify({ config: { anonOrder: [0, 4] }, steps: [mmapA] }), { field: 'config.anonOrder' },
    'bad.json: field "config.anonOrder": unknown key (did you mean "anonOrders"?)'],
  ['a config field out of range', JSON.stringify({ config: { files: { count: 9 } }, steps: [mmapA] }), { field: 'config.files.count' },
    'bad.json: field "config.files.count": expected at most 8, found 9'],
  ['a process no step created (checked after the schema)', withStep({ op: 'write', proc: 'B', addr: '0x400000', len: '0x1000' }), { step: 1, op: 'write', field: 'proc' },
    'bad.json: step 1 (op "write"): field "proc": expected a process that an earlier step created (by its first mmap, or as a fork\'s child), found "B"'],
];

for (const [what, text, where, message] of EXACT) {
  test(`exact message: ${what}`, () => {
    const e = refusal(text);
    assert.equal(e.message, message);
    assert.deepEqual({ step: e.step, op: e.op, field: e.field }, { step: where.step, op: where.op, field: where.field });
    assert.equal(e.file, FILE);
  });
}

test('every problem the schema finds is reported, one line each (steps in order, unknown top-level keys last); the error names the first', () => {
  const text = JSON.stringify({ nmae: 'x', steps: [{ ...mmapA, len: '0x1001', prot: 'x' }, { op: 'read', proc: 'A', addr: 1, len: 4096, size: 1 }, 7] });
  const e = refusal(text);
  assert.deepEqual(e.message.split('\n'), [
    'bad.json: step 0 (op "mmap"): field "len": expected a multiple of 4096 (0x1000), found "0x1001"',
    'bad.json: step 0 (op "mmap"): field "prot": expected one of "none", "r", "rw", found "x"',
    'bad.json: step 1 (op "read"): field "addr": expected a multiple of 4096 (0x1000), found 1',
    'bad.json: step 1 (op "read"): field "size": unknown key (allowed: op, proc, addr, len, expectFault, mayFault, comment)',
    'bad.json: step 2: expected an object such as {"op": "write", ...}, found 7',
    'bad.json: field "nmae": unknown key (did you mean "name"?)',
  ]);
  assert.deepEqual({ step: e.step, op: e.op, field: e.field }, { step: 0, op: 'mmap', field: 'len' });
  assert.equal(e.more.length, 5);
});

test('the semantic checks run once the schema passes, and stop at the first problem', () => {
  // step 1 has a schema problem, step 0 a semantic one: the schema's is reported alone
  const e = refusal(JSON.stringify({ steps: [{ op: 'read', proc: 'Z', addr: '0x400000', len: '0x1000' }, { op: 'exit' }] }));
  assert.equal(e.message, 'bad.json: step 1 (op "exit"): field "proc": expected a process name such as "A", found nothing (the field is missing)');
});

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const readError = (f: string): string => {
  try {
    readFileSync(f, 'utf8');
  } catch (e) {
    return (e as Error).message;
  }
  assert.fail(`${f} is readable`);
};

test('CLI: a missing or unreadable file exits 2 naming the file and why; a malformed one prints one ERROR line per problem', () => {
  const dir = mkdtempSync(join(tmpdir(), 'foliostorm-scenario-format-'));
  const missing = join(dir, 'absent.json');
  const folder = join(dir, 'folder.json');
  mkdirSync(folder);
  for (const f of [missing, folder]) {
    const r = spawnSync(process.execPath, [CLI, 'scenario', f], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.equal(r.stdout, `ERROR ${f}: cannot read: ${readError(f)}\n`);
  }
  const two = join(dir, 'two.json');
  writeFileSync(two, JSON.stringify({ steps: [{ ...mmapA, prot: 'rwx' }], seeds: 3 }));
  const r = spawnSync(process.execPath, [CLI, 'scenario', two], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.equal(r.stdout, [
    `ERROR ${two}: step 0 (op "mmap"): field "prot": expected one of "none", "r", "rw", found "rwx" (did you mean "rw"?)`,
    `ERROR ${two}: field "seeds": unknown key (did you mean "steps"?)`,
    '',
  ].join('\n'));
});

// ---- more malformed files ------------------------------------------------------------------------

test('addresses: unaligned, not hex, negative, beyond the address space, wrong type', () => {
  refuses(withStep({ op: 'write', proc: 'A', addr: '0x400100', len: '0x1000' }), { step: 1, field: 'addr' }, /expected a multiple of 4096 \(0x1000\), found "0x400100"/);
  refuses(withStep({ op: 'write', proc: 'A', addr: '400000', len: '0x1000' }), { step: 1, field: 'addr' }, /found "400000"$/);
  refuses(withStep({ op: 'write', proc: 'A', addr: -4096, len: '0x1000' }), { step: 1, field: 'addr' }, /expected a non-negative integer .*, found -4096/);
  refuses(withStep({ op: 'write', proc: 'A', addr: true, len: '0x1000' }), { step: 1, field: 'addr' }, /hex string/);
  refuses(withStep({ op: 'write', proc: 'A', addr: '0x8000000', len: '0x1000' }), { step: 1, field: 'addr' }, /expected an address below the end of the address space \(config vaSize 0x2000000\), found 0x8000000/);
  refuses(withStep({ op: 'write', proc: 'A', addr: '0x1fff000', len: '0x2000' }), { step: 1, field: 'len' }, /expected a range that ends within the address space \(config vaSize 0x2000000\), found 0x1fff000-0x2001000/);
  refuses(withStep({ op: 'write', proc: 'A', addr: '0x400000', len: 0 }), { step: 1, field: 'len' }, /expected at least 0x1000 \(one page\), found 0/);
  refuses(withStep({ op: 'mremap', proc: 'A', addr: '0x400000', len: '0x8000', newAddr: '0x404000' }), { step: 1, field: 'newAddr' }, /expected a target apart from the range being moved, 0x400000-0x408000 .*, found 0x404000-0x40c000/);
  refuses(withStep({ op: 'mremap', proc: 'A', addr: '0x400000', len: '0x8000', newAddr: '0x1ffc000' }), { step: 1, field: 'newAddr' }, /found 0x1ffc000-0x2004000/);
});

test('enumerations and types: prot, kind, advice, mode, booleans, folioOrder', () => {
  refuses(withStep({ op: 'mprotect', proc: 'A', addr: '0x400000', len: '0x1000', prot: 'rwx' }), { step: 1, field: 'prot' }, /one of "none", "r", "rw", found "rwx" \(did you mean "rw"\?\)/);
  refuses(withStep({ op: 'madvise', proc: 'A', addr: '0x400000', len: '0x1000', advice: 'lazyfree' }), { step: 1, field: 'advice' }, /"dontneed", "dontfork", "dofork", "free", "cold", "pageout", found "lazyfree"/);
  refuses(withStep({ op: 'pin', proc: 'A', addr: '0x400000', len: '0x1000', mode: 'w', id: 'p' }), { step: 1, field: 'mode' }, /"ro", "rw"/);
  refuses(withStep({ op: 'read', proc: 'A', addr: '0x400000', len: '0x1000', expectFault: 'yes' }), { step: 1, field: 'expectFault' }, /expected true or false, found "yes" \(a string\)/);
  refuses(withStep({ op: 'expect', proc: 'A', addr: '0x400000', folioOrder: 12 }), { step: 1, field: 'folioOrder' }, /expected at most 9, found 12/);
  refuses(withStep({ op: 'expect', proc: 'A', addr: '0x400000', folioOrder: -1 }), { step: 1, field: 'folioOrder' }, /expected at least 0, found -1/);
  refuses(withStep({ op: 'expect', proc: 'A', addr: '0x400000', writable: 1 }), { step: 1, field: 'writable' }, /expected true or false, found 1/);
  refuses(JSON.stringify({ steps: [{ ...mmapA, kind: 'shm' }] }), { step: 0, field: 'kind' }, /"anon", "file"/);
});

test('mmap: file fields only for kind "file"; shared anon is refused; file mappings need a file name', () => {
  refuses(JSON.stringify({ steps: [{ ...mmapA, file: 'f' }] }), { step: 0, field: 'file' }, /expected kind "file" \(only a file mapping names a file\), found kind "anon"/);
  refuses(JSON.stringify({ steps: [{ ...mmapA, shared: true }] }), { step: 0, field: 'shared' }, /expected false with kind "anon" \(shared anonymous mappings, shmem, are not modelled.*\), found true/);
  refuses(JSON.stringify({ steps: [{ ...mmapA, kind: 'file' }] }), { step: 0, field: 'file' }, /expected a file name .*, found nothing \(the field is missing\)/);
  refuses(JSON.stringify({ steps: [{ ...mmapA, kind: 'file', file: 'f', offset: '0x10' }] }), { step: 0, field: 'offset' }, /expected a multiple of 4096 \(0x1000\), found "0x10"/);
  refuses(JSON.stringify({ steps: [{ ...mmapA, writenotify: false }] }), { step: 0, field: 'writenotify' }, /expected kind "file" \(only a file mapping has write notification\), found kind "anon"/);
  refuses(JSON.stringify({ steps: [{ ...mmapA, offset: 0 }] }), { step: 0, field: 'offset' }, /expected kind "file" \(only a file mapping has an offset\), found kind "anon"/);
  refuses(JSON.stringify({ steps: [{ ...mmapA, kind: 'file', file: 'f', offset: '0xff000' }] }), { step: 0, field: 'len' }, /expected a mapping that ends within the file \(config files.pages 256\), found one that ends at file page 271/);
  const sc = parseScenario(JSON.stringify({ steps: [{ ...mmapA, kind: 'file', file: 'data', offset: '0x2000', shared: true }] }), FILE);
  assert.deepEqual(sc.steps[0], { index: 0, op: 'mmap', proc: 'A', addr: 0x400000, len: 0x10000, prot: 'rw', kind: 'file', file: 'data', fileIndex: 0, offset: 0x2000, shared: true, writenotify: false });
});

test('files: named by their first mapping, at most config files.count; writeback names a mapped file; sync takes nothing', () => {
  const fileA = (name: string, addr: string) => ({ ...mmapA, addr, kind: 'file', file: name });
  refuses(JSON.stringify({ steps: [fileA('f', '0x400000'), { op: 'writeback', file: 'g' }] }), { step: 1, field: 'file' }, /expected a file that an earlier mmap of kind "file" named, found "g"/);
  refuses(JSON.stringify({ steps: [fileA('f', '0x400000'), fileA('g', '0x600000'), fileA('h', '0x800000')] }), { step: 2, field: 'file' }, /expected at most 2 files \(config files.count\), found a 3rd, "h"/);
  refuses(JSON.stringify({ steps: [fileA('f', '0x400000'), { op: 'sync', file: 'f' }] }), { step: 1, field: 'file' }, /unknown key \(allowed: op, comment\)/);
  const sc = parseScenario(JSON.stringify({ steps: [fileA('f', '0x400000'), fileA('g', '0x600000'), { op: 'writeback', file: 'g' }, { op: 'sync' }] }), FILE);
  assert.deepEqual(sc.steps[2], { index: 2, op: 'writeback', file: 'g', fileIndex: 1 });
  assert.deepEqual(sc.steps[3], { index: 3, op: 'sync' });
});

test('processes: created by mmap or fork, gone after exit, names not reused, at most 8', () => {
  const exitA = { op: 'exit', proc: 'A' };
  refuses(JSON.stringify({ steps: [mmapA, exitA, { op: 'read', proc: 'A', addr: '0x400000', len: '0x1000' }] }), { step: 2, field: 'proc' }, /expected a live process, found "A", which exited at step 1$/);
  refuses(JSON.stringify({ steps: [mmapA, exitA, mmapA] }), { step: 2, field: 'proc' }, /expected a new process name, found "A", which exited at step 1 \(a name is not reused\)/);
  refuses(withStep({ op: 'fork', proc: 'A', child: 'A' }), { step: 1, field: 'child' }, /expected a new process name, found "A", which already exists \(created at step 0\)/);
  refuses(withStep({ op: 'fork', proc: 'B', child: 'C' }), { step: 1, field: 'proc' }, /found "B"$/);
  refuses(withStep({ op: 'exit', proc: '' }), { step: 1, field: 'proc' }, /expected a process name such as "A", found ""/);
  const nine = 'ABCDEFGHI'.split('').map((p, i) => ({ ...mmapA, proc: p, addr: 0x400000 + i * 0x10000 }));
  refuses(JSON.stringify({ steps: nine }), { step: 8, field: 'proc' }, /expected at most 8 processes per scenario, found a 9th, "I"/);
  const forks = JSON.stringify({ steps: [mmapA, { op: 'fork', proc: 'A', child: 'B' }, { op: 'fork', proc: 'B', child: 'C' }, { op: 'exit', proc: 'B' }, { op: 'read', proc: 'C', addr: '0x400000', len: '0x1000' }] });
  const sc = parseScenario(forks, FILE);
  assert.deepEqual(sc.procs, ['A', 'B', 'C']);
  assert.equal(sc.config.processes, 3);
});

test('pins: an id is taken once, must be held to read, write or unpin, and pin-write needs a rw pin', () => {
  const pinP = { op: 'pin', proc: 'A', addr: '0x400000', len: '0x1000', mode: 'ro', id: 'p' };
  refuses(withStep({ op: 'pin-read', id: 'p' }), { step: 1, field: 'id' }, /expected the id of a held pin \(take it first with \{"op": "pin", "id": "p", ...\}\), found "p"$/);
  refuses(JSON.stringify({ steps: [mmapA, pinP, pinP] }), { step: 2, field: 'id' }, /expected an id that no held pin has, found "p", taken at step 1 and not unpinned/);
  refuses(JSON.stringify({ steps: [mmapA, pinP, { op: 'unpin', id: 'p' }, { op: 'pin-read', id: 'p' }] }), { step: 3, field: 'id' }, /found "p", unpinned at step 2$/);
  refuses(JSON.stringify({ steps: [mmapA, pinP, { op: 'pin-write', id: 'p' }] }), { step: 2, field: 'id' }, /expected a pin of mode "rw" .*, found "p", taken with mode "ro" at step 1/);
  refuses(JSON.stringify({ steps: [mmapA, pinP, { op: 'pin-read', id: 'p', proc: 'A' }] }), { step: 2, field: 'proc' }, /unknown key \(allowed: op, id, comment\)/);
  // a pin outlives its process
  parseScenario(JSON.stringify({ steps: [mmapA, pinP, { op: 'exit', proc: 'A' }, { op: 'pin-read', id: 'p' }, { op: 'unpin', id: 'p' }] }), FILE);
});

test('expect: must state something; sameFolioAs takes exactly proc and addr of a live process', () => {
  refuses(withStep({ op: 'expect', proc: 'A', addr: '0x400000' }), { step: 1 }, /expected at least one of present, writable, exclusive, dirty, young, cont, folioOrder, sameFolioAs, found none$/);
  refuses(withStep({ op: 'expect', proc: 'A', addr: '0x400000', sameFolioAs: 'A' }), { step: 1, field: 'sameFolioAs' }, /expected an object such as \{"proc": "B", "addr": "0x400000"\}, found "A" \(a string\)/);
  refuses(withStep({ op: 'expect', proc: 'A', addr: '0x400000', sameFolioAs: { proc: 'A', addr: '0x400000', len: 1 } }), { step: 1, field: 'sameFolioAs.len' }, /unknown key \(allowed: proc, addr\)/);
  refuses(withStep({ op: 'expect', proc: 'A', addr: '0x400000', sameFolioAs: { proc: 'Z', addr: '0x400000' } }), { step: 1, field: 'sameFolioAs.proc' }, /found "Z"$/);
  refuses(withStep({ op: 'expect', proc: 'A', addr: '0x400000', sameFolioAs: { proc: 'A' } }), { step: 1, field: 'sameFolioAs.addr' }, /found nothing \(the field is missing\)/);
  refuses(withStep({ op: 'expect', proc: 'A', addr: '0x400000', sameFolioAs: { proc: 'A', addr: '0x400800' } }), { step: 1, field: 'sameFolioAs.addr' }, /expected a multiple of 4096/);
});

test('top level: object, known keys, steps present and non-empty, each step an object with an op', () => {
  refuses('[]', {}, /expected an object with "steps" .*, found \[\] \(an array\)/);
  refuses(JSON.stringify({ steps: [mmapA], seed: 3 }), { field: 'seed' }, /unknown key \(allowed: name, comment, config, steps\)/);
  refuses(JSON.stringify({ name: 't' }), { field: 'steps' }, /expected an array, found nothing \(the field is missing\)/);
  refuses(JSON.stringify({ steps: [] }), { field: 'steps' }, /expected at least one step, found \[\]/);
  refuses(JSON.stringify({ steps: [mmapA, 'write'] }), { step: 1 }, /expected an object such as \{"op": "write", ...\}, found "write" \(a string\)/);
  refuses(JSON.stringify({ steps: [mmapA, { proc: 'A' }] }), { step: 1, field: 'op' }, /found nothing \(the field is missing\)/);
  refuses(JSON.stringify({ name: 3, steps: [mmapA] }), { field: 'name' }, /expected a string, found 3/);
});

test('config: validated by the run-config schema, its fields named config.X; cpus must be 1; inject names must exist', () => {
  const e = refuses(JSON.stringify({ config: { anonOrders: [0, 1] }, steps: [mmapA] }), { field: 'config.anonOrders' }, /order 1 is never used for anon folios/);
  assert.ok(e.message.startsWith('bad.json: field "config.anonOrders": '), e.message);
  refuses(JSON.stringify({ config: { anonFallback: 'sometimes' }, steps: [mmapA] }), { field: 'config.anonFallback' }, /expected one of "refault", "retry-lower", "preferred-or-0", found "sometimes"/);
  refuses(JSON.stringify({ config: { warp: 9 }, steps: [mmapA] }), { field: 'config.warp' }, /unknown key/);
  refuses(JSON.stringify({ config: { cpus: 2 }, steps: [mmapA] }), { field: 'config.cpus' }, /expected 1 or no key \(a scenario runs on one simulated CPU, so the data oracle is exact\), found 2/);
  refuses(JSON.stringify({ config: { inject: ['no-such-bug'] }, steps: [mmapA] }), { field: 'config.inject.0' }, /expected a deviation that `npx foliostorm bugs` lists, found "no-such-bug"/);
  refuses(JSON.stringify({ config: [], steps: [mmapA] }), { field: 'config' }, /expected an object, found \[\] \(an array\)/);
  // the length check uses the file's vaSize
  refuses(JSON.stringify({ config: { vaSize: 4 << 20 }, steps: [{ ...mmapA, addr: '0x400000' }] }), { step: 0, field: 'addr' }, /expected an address below the end of the address space \(config vaSize 0x400000\), found 0x400000/);
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
  // the whole parse, defaults included (the parse before the zod schema gave exactly this)
  assert.deepStrictEqual(sc.steps, [
    { index: 0, op: 'mmap', proc: 'A', addr: 0x400000, len: 0x10000, prot: 'rw', kind: 'anon', offset: 0, shared: false, writenotify: false },
    { index: 1, op: 'write', proc: 'A', addr: 0x400000, len: 0x10000, expectFault: false },
    { index: 2, op: 'expect', proc: 'A', addr: 0x400000, len: 0x1000, exclusive: true, writable: true, folioOrder: 4 },
    { index: 3, op: 'fork', proc: 'A', child: 'B' },
    { index: 4, op: 'write', proc: 'A', addr: 0x400000, len: 0x1000, expectFault: false },
    { index: 5, op: 'read', proc: 'B', addr: 0x400000, len: 0x10000, expectFault: false },
    { index: 6, op: 'exit', proc: 'B' },
  ]);
  assert.deepEqual(sc.procs, ['A', 'B']);
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

test('migrate, reclaim and madvise free/cold/pageout parse, also inside a concurrent block; bad values are named', () => {
  const sc = parseScenario(
    JSON.stringify({
      steps: [
        mmapA,
        { op: 'madvise', proc: 'A', addr: '0x400000', len: '0x1000', advice: 'free' },
        { op: 'madvise', proc: 'A', addr: '0x400000', len: '0x1000', advice: 'cold' },
        { op: 'madvise', proc: 'A', addr: '0x400000', len: '0x1000', advice: 'pageout' },
        { op: 'migrate', proc: 'A', addr: '0x401000' },
        { op: 'reclaim' },
        { op: 'concurrent', cpus: [[{ op: 'migrate', proc: 'A', addr: '0x400000' }], [{ op: 'reclaim' }, { op: 'madvise', proc: 'A', addr: '0x400000', len: '0x1000', advice: 'free' }]] },
      ],
    }),
    FILE,
  );
  assert.deepEqual(sc.steps.slice(1, 4).map((s) => (s.op === 'madvise' ? s.advice : '')), ['free', 'cold', 'pageout']);
  assert.deepEqual(sc.steps[4], { index: 4, op: 'migrate', proc: 'A', addr: 0x401000 });
  assert.deepEqual(sc.steps[5], { index: 5, op: 'reclaim' });
  const c = sc.steps[6];
  assert.ok(c.op === 'concurrent' && c.cpus[0][0].op === 'migrate' && c.cpus[1][0].op === 'reclaim');
  refuses(withStep({ op: 'migrate', proc: 'B', addr: '0x400000' }), { step: 1, field: 'proc' }, /expected a process that an earlier step created .*found "B"/);
  refuses(withStep({ op: 'migrate', proc: 'A', addr: '0x400001' }), { step: 1, field: 'addr' }, /page|0x1000/);
  refuses(withStep({ op: 'migrate', proc: 'A' }), { step: 1, field: 'addr' }, /./);
  refuses(withStep({ op: 'migrate', proc: 'A', addr: '0x400000', len: '0x1000' }), { step: 1, field: 'len' }, /unknown key \(allowed: op, proc, addr, comment\)/);
  refuses(withStep({ op: 'reclaim', proc: 'A' }), { step: 1, field: 'proc' }, /unknown key \(allowed: op, comment\)/);
  refuses(withStep({ op: 'concurrent', cpus: [[{ op: 'migrate', proc: 'A', addr: '0x400000' }], [{ op: 'migrate', proc: 'C', addr: '0x400000' }]] }), { step: 1, field: 'cpus.1.0.proc' }, /found "C"/);
});
