import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseScenario } from '../../src/scenario/format.js';
import { compileScenario, liveAfter, observedRanges, runnable, thpSettings } from '../../src/conform/compile.js';

const sc = (steps: unknown[], config: unknown = { anonOrders: [0, 4] }) => parseScenario(JSON.stringify({ config, steps }), 't.json');

test('compile: ops become executor lines, each step observed over every mapped range of every live process', () => {
  const s = sc([
    { op: 'mmap', proc: 'A', addr: '0x400000', len: '0x10000', prot: 'rw', kind: 'anon' },
    { op: 'write', proc: 'A', addr: '0x400000', len: '0x2000' },
    { op: 'fork', proc: 'A', child: 'B' },
    { op: 'expect', proc: 'B', addr: '0x400000', present: true },
    { op: 'mremap', proc: 'A', addr: '0x400000', len: '0x1000', newAddr: '0x800000' },
    { op: 'exit', proc: 'B' },
  ]);
  const lines = compileScenario(s, 7);
  assert.equal(lines[0], 'scenario 7');
  assert.ok(lines.includes('thp 64 always') && lines.includes('thp 16 never') && lines.includes('thp 2048 never'));
  assert.ok(lines.includes('thp-top never'));
  assert.ok(lines.includes('write A 0x400000 0x2000 2'), 'the write tag is the step index + 1');
  assert.ok(lines.includes('fork A B'));
  assert.ok(lines.includes('mremap A 0x400000 0x1000 0x800000'));
  assert.equal(lines[lines.length - 1], 'end');
  // after the fork both processes are observed over both ranges; after the expect nothing is
  const at = (k: number) => lines.slice(lines.indexOf(`step ${k}`) + 1, lines.indexOf(`step ${k + 1}`) < 0 ? lines.length - 1 : lines.indexOf(`step ${k + 1}`));
  assert.deepEqual(at(2).filter((l) => l.startsWith('observe')), ['observe A 0x400000 0x10000', 'observe A 0x800000 0x1000', 'observe B 0x400000 0x10000', 'observe B 0x800000 0x1000']);
  assert.deepEqual(at(3), []);
  assert.deepEqual(at(5).filter((l) => l.startsWith('observe')), ['observe A 0x400000 0x10000', 'observe A 0x800000 0x1000']);
  assert.deepEqual(observedRanges(s), [{ addr: 0x400000, len: 0x10000 }, { addr: 0x800000, len: 0x1000 }]);
  assert.deepEqual(liveAfter(s).map((l) => l.join('')), ['A', 'A', 'AB', 'AB', 'AB', 'A']);
});

test('compile: steps only the model can take make a scenario model-only, with the reason', () => {
  const base = [{ op: 'mmap', proc: 'A', addr: '0x400000', len: '0x10000', prot: 'rw', kind: 'anon' }];
  assert.equal(runnable(sc(base)), null);
  assert.match(runnable(sc([...base, { op: 'pin', proc: 'A', addr: '0x400000', len: '0x1000', mode: 'ro', id: 'p' }]))!.reason, /read-only long-term pin/);
  assert.equal(runnable(sc([...base, { op: 'pin', proc: 'A', addr: '0x400000', len: '0x1000', mode: 'rw', id: 'p' }])), null);
  const wn = sc([{ op: 'mmap', proc: 'A', addr: '0x400000', len: '0x10000', prot: 'rw', kind: 'file', file: 'f', shared: true, writenotify: true }], { files: { count: 1, pages: 64 } });
  assert.deepEqual(runnable(wn), { step: 0, reason: 'a write-notify file (needs a disk filesystem; the executor has tmpfs only)' });
  assert.throws(() => compileScenario(wn, 0), /step 0: a write-notify file/);
});

test('compile: THP settings follow anonOrders and files.orders, size by size', () => {
  const s = sc([{ op: 'mmap', proc: 'A', addr: '0x400000', len: '0x10000', prot: 'rw', kind: 'anon' }], { anonOrders: [0, 2, 9], files: { count: 1, pages: 64, orders: [0, 4] } });
  const t = thpSettings(s.config);
  assert.deepEqual(t.filter((x) => x.anon === 'always').map((x) => x.sizeKb), [16, 2048]);
  assert.deepEqual(t.filter((x) => x.shmem === 'always').map((x) => x.sizeKb), [64]);
});
