// What the hang reports call the wait of a blocked CPU (src/diag/hang.ts), rendered from what the
// kernel's locks record (the lock word, the mode a semaphore was asked for) rather than from a
// string the kernel formats: a spinlock by name, a semaphore by kind and mode, a wait not on a
// lock word as the kernel path names it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boot, stepper } from '../helpers/machine.js';
import { spin_lock } from '../../src/linux/kernel/locking/spinlock.js';
import { down_read, down_write } from '../../src/linux/kernel/locking/rwsem.js';
import { MM } from '../../src/machine/layout.js';
import { lockName, waitName, waitSignature } from '../../src/diag/hang.js';

test('waitName and waitSignature: a PTL by name and kind, an mmap_lock by kind and the mode asked for, folio_lock as the kernel names it', () => {
  const h = boot({ cpus: 3 });
  const [a, b, c] = h.cpus;
  const ptl = h.machine.ptlOf(3);
  stepper(h, a, spin_lock(a, ptl)).finish();
  const sb = stepper(h, b, spin_lock(b, ptl));
  sb.step();
  sb.step();
  assert.equal(sb.runnable(), false, 'precondition: CPU 1 waits for the PTL');
  assert.equal(waitName(h.machine, b), 'ptl[3]');
  assert.equal(waitSignature(h.machine, b), 'ptl');

  const w = h.machine.mmWord(0, MM.MMAP_LOCK);
  stepper(h, c, down_write(c, w)).finish();
  const h2 = boot({ cpus: 3 });
  const w2 = h2.machine.mmWord(1, MM.MMAP_LOCK);
  stepper(h2, h2.cpus[0], down_write(h2.cpus[0], w2)).finish();
  for (const [cpu, write, want] of [[1, false, 'mmap_lock(read)'], [2, true, 'mmap_lock(write)']] as const) {
    const s = stepper(h2, cpu, (write ? down_write : down_read)(h2.cpus[cpu], w2));
    s.step();
    s.step();
    assert.equal(s.runnable(), false, `precondition: CPU ${cpu} waits for the mmap_lock`);
    assert.equal(lockName(h2.machine, h2.cpus[cpu].waitOff), 'mmap_lock[mm 1]');
    assert.equal(waitName(h2.machine, h2.cpus[cpu]), want);
    assert.equal(waitSignature(h2.machine, h2.cpus[cpu]), want);
  }

  // a wait not on a lock word names itself
  const fake = { waitOff: -1, waitWrite: false, waitWhat: 'folio_lock' };
  assert.equal(waitName(h.machine, fake), 'folio_lock');
  assert.equal(waitSignature(h.machine, fake), 'folio_lock');
});
