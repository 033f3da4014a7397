// The checker's contract points: every hook call the kernel makes is counted per point
// (check.<point> events), and a hook told a path that is no point of it is an instrument-mismatch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Violation } from '../../src/machine/cpu.js';
import { CHECK_POINTS, EV, EV_NAMES } from '../../src/machine/events.js';
import { countPoint, pointEvent } from '../../src/check/points.js';
import { MMDEBUG } from '../../src/linux/include/linux/mmdebug.js';
import { madvise_dontneed } from '../../src/linux/mm/madvise.js';
import { do_munmap } from '../../src/linux/mm/mmap.js';
import { boot, mapAnon, run, writePage } from '../helpers/machine.js';

const B = 0x1000; // a vpn inside the first PTE tables of mm 0

test('every point has its event, named check.<point>', () => {
  CHECK_POINTS.forEach((p, i) => {
    assert.equal(pointEvent(p), EV.CHECK + i);
    assert.equal(EV_NAMES[EV.CHECK + i], `check.${p}`);
  });
  assert.throws(() => pointEvent('nope' as never), /unknown check point/);
});

test('countPoint counts a known point n times, and a path no point names is instrument-mismatch@<hook>', () => {
  const h = boot({ cpus: 1 });
  const cpu = h.cpus[0];
  const e = pointEvent('tlbSynced.do_munmap');
  countPoint(cpu, 'tlbSynced', 'do_munmap');
  countPoint(cpu, 'ptlUnlock', 'entries', 5);
  countPoint(cpu, 'cowReuse', '');
  assert.equal(cpu.counters[e], 1);
  assert.equal(cpu.counters[pointEvent('ptlUnlock.entries')], 5);
  assert.equal(cpu.counters[pointEvent('cowReuse')], 1);
  for (const [hook, path] of [['tlbSynced', ''], ['tlbSynced', 'do_mun'], ['protCommit', 'dup_mmap'], ['cowReuse', 'x']]) {
    assert.throws(() => countPoint(cpu, hook, path), (x: unknown) => x instanceof Violation && x.invariant === 'instrument-mismatch' && x.path === hook, `${hook} ${path}`);
  }
  // through the installed hook: a kernel function that names itself wrongly is caught at once
  assert.throws(() => MMDEBUG.tlbSynced(cpu, 0, B, B + 1, ''), (x: unknown) => x instanceof Violation && x.invariant === 'instrument-mismatch');
});

test('the kernel paths count their points: munmap and MADV_DONTNEED tell tlbSynced, a PTL release counts the entries written under it', () => {
  const h = boot({ cpus: 2 });
  mapAnon(h, B, 16);
  writePage(h, 1, 0, B);
  const c = h.cpus[0];
  const before = (p: Parameters<typeof pointEvent>[0]) => c.counters[pointEvent(p)];
  const entries0 = before('ptlUnlock.entries');
  run(h, 0, madvise_dontneed(c, 0, B, B + 16));
  assert.equal(before('tlbSynced.madvise_dontneed'), 1);
  assert.ok(before('ptlUnlock.entries') > entries0, 'the zap wrote entries under the PTL and its release looked at them');
  run(h, 0, do_munmap(c, 0, B, B + 16));
  assert.equal(before('tlbSynced.do_munmap'), 1);
});
