import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseScenario } from '../../src/scenario/format.js';
import { compileScenario, fileSystems, liveAfter, needsExt4, observedRanges, runnable, thpSettings } from '../../src/conform/compile.js';

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
  // a concurrent block: its interleaving is explore's, a kernel run would give one nobody chose
  const conc = { op: 'concurrent', cpus: [[{ op: 'write', proc: 'A', addr: '0x400000', len: '0x1000' }], [{ op: 'read', proc: 'A', addr: '0x401000', len: '0x1000' }]] };
  assert.match(runnable(sc([...base, conc]))!.reason, /concurrent block/);
  // migrate and reclaim: model-only; MADV_FREE/COLD/PAGEOUT the executor's madvise takes
  assert.match(runnable(sc([...base, { op: 'migrate', proc: 'A', addr: '0x400000' }]))!.reason, /move_pages/);
  assert.match(runnable(sc([...base, { op: 'reclaim' }]))!.reason, /reclaim/);
  for (const advice of ['free', 'cold', 'pageout']) assert.equal(runnable(sc([...base, { op: 'madvise', proc: 'A', addr: '0x400000', len: '0x1000', advice }])), null);
  // writeback and sync: tmpfs has none
  const files = { files: { count: 2, pages: 64 } };
  const tm = { op: 'mmap', proc: 'A', addr: '0x400000', len: '0x10000', prot: 'rw', kind: 'file', file: 'f', shared: true };
  const wn = { op: 'mmap', proc: 'A', addr: '0x800000', len: '0x10000', prot: 'rw', kind: 'file', file: 'g', shared: true, writenotify: true };
  assert.match(runnable(sc([tm, { op: 'writeback', file: 'f' }], files))!.reason, /writeback of a file without write notify/);
  assert.match(runnable(sc([tm, wn, { op: 'sync' }], files))!.reason, /sync with a file without write notify/);
  assert.equal(runnable(sc([wn, { op: 'writeback', file: 'g' }, { op: 'sync' }], files)), null);
  // one file system per file
  const both = sc([wn, { ...tm, file: 'g', addr: '0x400000' }], files);
  assert.deepEqual(runnable(both), { step: 1, reason: 'a shared mapping without write notify of file "g", which another maps with it (a file is on one file system: ext4 or tmpfs)' });
  assert.throws(() => compileScenario(both, 0), /step 1: a shared mapping without write notify/);
});

test('compile: a file a shared mapping maps with write notify is on ext4 (its mmaps say so), the rest on tmpfs; writeback and sync run', () => {
  const s = sc([
    { op: 'mmap', proc: 'A', addr: '0x400000', len: '0x10000', prot: 'rw', kind: 'file', file: 'g', shared: false },
    { op: 'mmap', proc: 'A', addr: '0x800000', len: '0x10000', prot: 'rw', kind: 'file', file: 'g', shared: true, writenotify: true },
    { op: 'mmap', proc: 'A', addr: '0xc00000', len: '0x10000', prot: 'rw', kind: 'file', file: 'f', shared: false, writenotify: true },
    { op: 'write', proc: 'A', addr: '0x800000', len: '0x1000' },
    { op: 'writeback', file: 'g' },
  ], { files: { count: 2, pages: 64 } });
  assert.deepEqual([...fileSystems(s)], [['g', 'ext4'], ['f', 'tmpfs']], 'a private mapping\'s writenotify changes nothing');
  assert.ok(needsExt4(s));
  const lines = compileScenario(s, 0);
  assert.ok(lines.includes('mmap A 0x400000 0x10000 rw file g 0x0 0 ext4'), 'the private mapping of the ext4 file too');
  assert.ok(lines.includes('mmap A 0x800000 0x10000 rw file g 0x0 1 ext4'));
  assert.ok(lines.includes('mmap A 0xc00000 0x10000 rw file f 0x0 0'));
  assert.ok(lines.includes('writeback g'));
});

test('compile: THP settings follow anonOrders and files.orders, size by size', () => {
  const s = sc([{ op: 'mmap', proc: 'A', addr: '0x400000', len: '0x10000', prot: 'rw', kind: 'anon' }], { anonOrders: [0, 2, 9], files: { count: 1, pages: 64, orders: [0, 4] } });
  const t = thpSettings(s.config);
  assert.deepEqual(t.filter((x) => x.anon === 'always').map((x) => x.sizeKb), [16, 2048]);
  assert.deepEqual(t.filter((x) => x.shmem === 'always').map((x) => x.sizeKb), [64]);
});
