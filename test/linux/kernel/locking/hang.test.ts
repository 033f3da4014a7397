// Lock-hang reports of the threads engine: a CPU (threaded, spinning then Atomics.wait) waits past
// lockWaitLimitMs for a lock another CPU holds. The report names the lock, its holder, the op the
// holder runs and when its hold began, and every waiter since when, in G.SEQ values (the global
// event sequence), read from the machine's words as another worker thread would. One thread plays
// both CPUs: the holder takes the lock and simply never releases it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig } from '../../../../src/config/config.js';
import { Cpu, Violation } from '../../../../src/machine/cpu.js';
import { drive } from '../../../../src/machine/gen.js';
import { EV } from '../../../../src/machine/events.js';
import { CPU, G, MM } from '../../../../src/machine/layout.js';
import { spin_lock, spin_unlock } from '../../../../src/linux/kernel/locking/spinlock.js';
import { down_read, down_write, up_read, up_write } from '../../../../src/linux/kernel/locking/rwsem.js';
import { violationOf } from '../../../helpers/machine.js';
import { buildMachine } from '../../../../src/check/machine.js';

function threadedPair() {
  const cfg = defaultConfig({ cpus: 3, lockWaitLimitMs: 10 });
  const machine = buildMachine(cfg);
  const cpus = [0, 1, 2].map((i) => new Cpu(machine, i, true, { step: 0 }, cfg));
  return { machine, cpus, seq: () => Atomics.load(machine.m, machine.L.global + G.SEQ) };
}

test('lock-hang (threads): a PTL waited for past lockWaitLimitMs names the holder, its op, the G.SEQ its hold began, and the waiter since when', () => {
  const { machine, cpus, seq } = threadedPair();
  const [a, b] = cpus;
  const ptl = machine.ptlOf(7);
  a.curOp = 'munmap';
  b.curOp = 'touch';
  a.ev(EV.FAULT); // some events first, so the sequence numbers are not all zero
  drive(spin_lock(a, ptl));
  const holdSeq = seq();
  a.ev(EV.FAULT);
  b.ev(EV.FAULT);
  const waitSeq = seq();
  const v = violationOf(() => drive(spin_lock(b, ptl)));
  assert.equal(`${v.invariant}@${v.path}`, 'lock-hang@ptl');
  const d = v.details;
  assert.equal(d.lock, 'ptl[7]');
  assert.equal(d.unit, 'event sequence number (G.SEQ)');
  assert.deepEqual(d.holder, { cpu: 0, op: 'munmap', since: holdSeq });
  assert.equal(d.holdStart, holdSeq);
  assert.deepEqual(d.waiters, [{ cpu: 1, op: 'touch', since: waitSeq }]);
  assert.equal(d.waiter, 1);
  assert.ok((d.waitedMs as number) >= 10);
  assert.match(d.summary as string, new RegExp(`^ptl\\[7\\]: CPU 1 waited \\d+ ms \\(lockWaitLimitMs 10\\); held by CPU 0 \\(munmap\\) since seq ${holdSeq}; waiters: CPU 1 \\(touch\\) since seq ${waitSeq}$`));
  assert.deepEqual(d.held, [`ptl[7] held by CPU 0 (munmap) since seq ${holdSeq}`]);
  // control (a fresh machine: the waiter that gave up still holds its ticket): a lock taken and
  // released is then taken at once
  const f = threadedPair();
  drive(spin_lock(f.cpus[0], ptl));
  spin_unlock(f.cpus[0], ptl);
  drive(spin_lock(f.cpus[1], ptl));
  spin_unlock(f.cpus[1], ptl);
});

test('lock-hang (threads): an mmap_lock held for write while a reader waits past lockWaitLimitMs names the writer (from its RW_HELD slot) and the reader', () => {
  const { machine, cpus, seq } = threadedPair();
  const [a, b] = cpus;
  const w = machine.mmWord(1, MM.MMAP_LOCK);
  a.curOp = 'fork';
  b.curOp = 'pin';
  drive(down_write(a, w));
  const holdSeq = seq();
  b.ev(EV.FAULT);
  const waitSeq = seq();
  const v = violationOf(() => drive(down_read(b, w)));
  assert.equal(`${v.invariant}@${v.path}`, 'lock-hang@mmap_lock(read)');
  assert.equal(v.details.lock, 'mmap_lock[mm 1]');
  assert.deepEqual(v.details.holders, [{ cpu: 0, op: 'fork', since: holdSeq, mode: 'write' }]);
  assert.deepEqual(v.details.waiters, [{ cpu: 1, op: 'pin', since: waitSeq }]);
  // control: released, the reader gets it at once; a released hold leaves no RW_HELD record
  up_write(a, w);
  const c = cpus[2];
  drive(down_read(c, w));
  up_read(c, w);
  assert.deepEqual(
    [0, 1, 2].map((i) => Atomics.load(machine.m, machine.cpuWord(i, CPU.RW_HELD))),
    [0, 0, 0],
  );
});
