// Seeded programs: a CPU's op stream is a pure function of (seed, cpu); its budget (opsPerCpu)
// ends it, unless the caller runs on past the budget (a threads CPU does, until every CPU's is spent).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig } from '../../src/config/config.js';
import { Program, programPrefix } from '../../src/workload/program.js';

test('Program: null at the budget; next(true) goes on with the same stream a larger budget gives', () => {
  const small = new Program(defaultConfig({ opsPerCpu: 5 }), 7, 1);
  const large = new Program(defaultConfig({ opsPerCpu: 50 }), 7, 1);
  for (let i = 0; i < 5; i++) assert.deepEqual(small.next(), large.next());
  assert.equal(small.next(), null);
  for (let i = 0; i < 20; i++) assert.deepEqual(small.next(true), large.next());
});

test('programPrefix: the first n ops of the stream, past the budget when n is larger (what a threads CPU that ran on started)', () => {
  const cfg = defaultConfig({ opsPerCpu: 5 });
  const ref = programPrefix(defaultConfig({ opsPerCpu: 100 }), 3, 0, 12);
  assert.equal(ref.length, 12);
  assert.deepEqual(programPrefix(cfg, 3, 0, 12), ref);
  assert.deepEqual(programPrefix(cfg, 3, 0, 4), ref.slice(0, 4));
  assert.notDeepEqual(programPrefix(cfg, 3, 1, 12), ref, 'another CPU, another stream');
});
