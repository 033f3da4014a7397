// The instruments' own check (src/check/instruments.ts): each rule on a state built bad next to the
// same state left alone, then the engine's wiring: a sched run whose flight recorder is written
// over, whose histograms drop an op, or which leaves a lock word stale, ends with
// instrument-mismatch; a clean run, and a clean threads round, have none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig } from '../../src/config/config.js';
import { Cpu, Violation } from '../../src/machine/cpu.js';
import { EV } from '../../src/machine/events.js';
import { CPU, G, LOCK_WORDS, MM, RING_WORDS } from '../../src/machine/layout.js';
import { HistSet } from '../../src/machine/histograms.js';
import type { Machine } from '../../src/machine/machine.js';
import { buildMachine } from '../../src/check/machine.js';
import { runSched } from '../../src/engine/sched.js';
import { runThreads } from '../../src/engine/threads.js';
import { drive } from '../../src/machine/gen.js';
import { spin_lock, spin_unlock } from '../../src/linux/kernel/locking/spinlock.js';
import { down_read, down_write, up_read, up_write } from '../../src/linux/kernel/locking/rwsem.js';
import {
  checkCpuInstruments, checkEventCounts, checkEventSequence, checkHeldList, checkHistograms, checkInstruments, checkLockState, checkOpEvents, checkPtlUnlock, checkPtlUnlockCount,
  checkRing, checkRoundInstruments, completedOps, CpuShadow, ptlUnlockCount, rwsemWords, spinlockWords,
} from '../../src/check/instruments.js';

/** A machine with CPUs whose event hooks keep shadows, as the engines set them up. */
function machineWithShadows(cpus = 2, ringSize = 16) {
  const cfg = defaultConfig({ cpus, ringSize });
  const machine = buildMachine(cfg);
  const clock = { step: 0 };
  const hist = new HistSet('steps');
  const cs = Array.from({ length: cpus }, (_, i) => new Cpu(machine, i, false, clock, cfg, hist));
  const shadows = cs.map((c) => {
    const s = new CpuShadow(machine.L.ringSize, clock);
    c.evHook = s.hook;
    return s;
  });
  return { machine, clock, hist, cpus: cs, shadows };
}

/** runSched of seed with every histogram record of the named histograms dropped (an instrument that loses records). */
function runSchedDropping(cfg: Parameters<typeof runSched>[0], seed: number, names: readonly string[]): ReturnType<typeof runSched> {
  const record = HistSet.prototype.record;
  HistSet.prototype.record = function (this: HistSet, name: string, value: number) {
    if (!names.includes(name)) record.call(this, name, value);
  };
  try {
    return runSched(cfg, seed);
  } finally {
    HistSet.prototype.record = record;
  }
}

/** The ring slot (its first word) of CPU cpu's event n. */
const slot = (machine: Machine, cpu: number, n: number): number => machine.L.ring + (cpu * machine.L.ringSize + (n % machine.L.ringSize)) * RING_WORDS;

test('flight-recorder: a ring holding the last ringSize events recorded is clean, wrapped or not; a word written over, a lost event count, a sequence out of order are caught', () => {
  const w = machineWithShadows();
  const [a, b] = w.cpus;
  for (let i = 0; i < 5; i++) {
    w.clock.step++;
    a.ev(EV.FAULT, i, 2 * i, 3 * i);
  }
  assert.equal(checkRing(w.machine, 0, w.shadows[0]), null, 'not wrapped');
  for (let i = 5; i < 40; i++) {
    w.clock.step++;
    a.ev(EV.FAULT, i, 2 * i, 3 * i);
    b.ev(EV.MMAP, i);
  }
  assert.equal(checkRing(w.machine, 0, w.shadows[0]), null, 'wrapped');
  assert.equal(checkRing(w.machine, 1, w.shadows[1]), null);
  assert.equal(checkEventSequence(w.machine), null);

  // the c word of event 30 written over (a stray write: the mutant that stored c 4 words early)
  const m = w.machine.m;
  const r = slot(w.machine, 0, 30);
  m[r + 4]++;
  const f = checkRing(w.machine, 0, w.shadows[0]);
  assert.equal(f?.invariant, 'instrument-mismatch');
  assert.equal(f?.path, 'flight-recorder');
  assert.deepEqual([f?.details.event, f?.details.field, f?.details.found, f?.details.recorded], [30, 'c', 91, 90]);
  assert.match(f!.details.summary as string, /^CPU 0's flight recorder, event 30 \(fault\): c 91, recorded 90$/);
  m[r + 4]--;
  // the step the event was recorded at
  m[r + 5] = 0;
  assert.equal(checkRing(w.machine, 0, w.shadows[0])?.details.field, 'step');
  m[r + 5] = 31;
  assert.equal(checkRing(w.machine, 0, w.shadows[0]), null, 'restored');
  // two events' sequence numbers swapped
  const r2 = slot(w.machine, 0, 31);
  [m[r], m[r2]] = [m[r2], m[r]];
  assert.match(checkRing(w.machine, 0, w.shadows[0])?.details.summary as string, /event 31: sequence number \d+ after \d+/);
  [m[r], m[r2]] = [m[r2], m[r]];
  // an event the ring did not count
  m[w.machine.cpuWord(1, CPU.RING_POS)]--;
  assert.match(checkRing(w.machine, 1, w.shadows[1])?.details.summary as string, /^CPU 1's flight recorder counts 34 events; 35 were recorded on it$/);
  // and the counts no longer add up to G.SEQ
  const s = checkEventSequence(w.machine);
  assert.equal(s?.path, 'event-sequence');
  assert.match(s!.details.summary as string, /^the CPUs' event counts \(40 \+ 34\) add up to 74; G\.SEQ is 75$/);
});

test('event-sequence: a sequence number taken without an event recorded is caught', () => {
  const w = machineWithShadows();
  w.cpus[0].ev(EV.FAULT);
  assert.equal(checkEventSequence(w.machine), null);
  Atomics.add(w.machine.m, w.machine.L.global + G.SEQ, 1);
  assert.equal(checkEventSequence(w.machine)?.details.seq, 2);
});

test('event-counts: whole counts of 0 or more are clean; a count decremented below 0 or a fraction is caught, in the CPU\'s end check', () => {
  const w = machineWithShadows();
  const a = w.cpus[0];
  a.counters[EV.FORK_BATCH] += 3;
  a.counters[EV.FORK_BATCH]--;
  assert.equal(checkEventCounts(a), null);
  a.counters[EV.MPROTECT_BATCHED]--; // a counted-only event counted down (a ++ turned into --)
  const f = checkEventCounts(a);
  assert.equal(f?.path, 'event-counts');
  assert.equal(f?.details.event, 'mprotect.batched');
  assert.match(f!.details.summary as string, /^CPU 0 counted -1 mprotect\.batched events/);
  assert.ok(checkCpuInstruments(w.machine, a, w.shadows[0], 0, true).some((x) => x.path === 'event-counts'));
  a.counters[EV.MPROTECT_BATCHED] = 0.5;
  assert.equal(checkEventCounts(a)?.details.count, 0.5);
});

test('op-events: one op.start and one op.end per op handed out; an op without its op.start is caught', () => {
  const w = machineWithShadows();
  const a = w.cpus[0];
  for (let i = 0; i < 3; i++) {
    a.evOpStart(0, i);
    a.ev(EV.OP_END, i === 1 ? 0 : 1);
  }
  assert.equal(checkOpEvents(a, 3), null);
  const f = checkOpEvents(a, 4);
  assert.equal(f?.path, 'op-events');
  assert.match(f!.details.summary as string, /^CPU 0 ran 4 ops and recorded 3 op\.start and 3 op\.end events$/);
});

test('op-histogram and lock-histogram: counts equal to the ops completed and the acquisitions are clean; a missing record, one too many, an unreleased count are caught', () => {
  const w = machineWithShadows();
  const [a, b] = w.cpus;
  // CPU 0 completes 2 touches and an mmap whose process could not be made (op.end 0: no histogram); CPU 1 a touch
  const op = (cpu: Cpu, shadow: CpuShadow, kind: string, done: boolean) => {
    shadow.kind = kind;
    cpu.evOpStart(0, 0);
    cpu.ev(EV.OP_END, done ? 1 : 0);
    if (done) w.hist.record(`op.${kind}`, 3);
  };
  op(a, w.shadows[0], 'touch', true);
  op(a, w.shadows[0], 'touch', true);
  op(a, w.shadows[0], 'mmap', false);
  op(b, w.shadows[1], 'touch', true);
  // four PTL holds taken and released by the kernel's own calls: a ptl.wait and a ptl.hold each,
  // and each release told to the checker's ptlUnlock hook (the ptl-unlock count)
  for (let i = 0; i < 4; i++) {
    drive(spin_lock(w.cpus[i % 2], w.machine.ptlOf(i)));
    spin_unlock(w.cpus[i % 2], w.machine.ptlOf(i));
  }
  w.hist.record('mmap_lock.wait', 1); // no hold histogram to pair with: not checked
  const completed = completedOps(w.shadows);
  assert.deepEqual(completed, { touch: 3 });
  assert.deepEqual(checkHistograms(w.hist, completed), []);
  assert.deepEqual(checkInstruments(w.machine, w.cpus, w.shadows, [3, 1], w.hist), []);

  const touchOne = { ...completed, touch: 4 };
  assert.deepEqual(checkHistograms(w.hist, touchOne).map((f) => [f.path, f.details.summary]), [['op-histogram', 'the op.touch histogram counts 3 ops; 4 touch ops ran to their end']]);
  w.hist.record('op.fork', 1);
  w.hist.record('ptl.wait', 1);
  assert.deepEqual(checkHistograms(w.hist, completed).map((f) => [f.path, f.details.summary]), [
    ['op-histogram', 'the op.fork histogram counts 1 ops; 0 fork ops ran to their end'],
    ['lock-histogram', 'ptl.wait counts 5 acquisitions, ptl.hold 4 releases, with no ptl held'],
  ]);
  // the round's histograms (threads): the same rule on the merged set, named for the merge
  assert.deepEqual(checkRoundInstruments(w.machine, w.hist, { touch: 3, fork: 1 }).map((f) => f.path), ['lock-histogram']);
  assert.deepEqual(checkRoundInstruments(w.machine, new HistSet('ns'), { touch: 3 }).map((f) => f.path), ['histogram-merge']);
});

test('sched: a clean run has no instrument-mismatch; a run whose ring is written over or whose histograms drop an op ends with one', () => {
  const cfg = defaultConfig({ opsPerCpu: 60 });
  const clean = runSched(cfg, 3);
  assert.deepEqual(clean.violations.map((v) => v.signature), []);

  // every event writes over the previous event's c word on its CPU's ring (the stray write of a
  // flight-recorder fault), from an event hook that runs before the shadow's
  const sab = new SharedArrayBuffer(buildMachine(cfg).sab.byteLength);
  const view = buildMachine(cfg, sab);
  const stray = runSched(cfg, 3, {
    sab,
    onEvent: (id) => {
      const n = view.m[view.cpuWord(id, CPU.RING_POS)] - 2;
      if (n >= 0) view.m[slot(view, id, n) + 4] = 0x5eed;
    },
  });
  const v = stray.violations.find((x) => x.invariant === 'instrument-mismatch');
  assert.ok(v, `no instrument-mismatch: ${stray.violations.map((x) => x.signature).join(', ')}`);
  assert.equal(v.signature, 'instrument-mismatch@flight-recorder');
  assert.equal(v.details.field, 'c');

  // the op histogram of munmap loses its records
  const lost = runSchedDropping(cfg, 3, ['op.munmap']);
  assert.deepEqual(lost.violations.map((x) => x.signature), ['instrument-mismatch@op-histogram']);
  assert.match(lost.violations[0].details.summary as string, /^the op\.munmap histogram counts 0 ops; \d+ munmap ops ran to their end$/);
  assert.equal(clean.traceHash, runSched(cfg, 3).traceHash, 'the check changes no trace hash');
});

test('threads: clean rounds have no instrument-mismatch (each CPU checks its own instruments, the round the merged histograms)', async () => {
  const rs = await runThreads(defaultConfig({ engine: 'threads', opsPerCpu: 100 }), { seeds: [1, 2], durationSec: 0, workers: 2 });
  assert.deepEqual(rs.flatMap((r) => r.violations.map((v) => v.signature)), []);
  assert.ok(rs.every((r) => Object.values(r.ops).reduce((x, y) => x + y, 0) > 0));
});

/** The lock-state findings of w's machine as [word, summary] pairs. */
const lockState = (machine: Machine) => checkLockState(machine).map((f) => {
  assert.equal(f.invariant, 'instrument-mismatch');
  assert.equal(f.path, 'lock-state');
  return [f.details.word, f.details.summary];
});

test('lock-state: a machine whose locks were all taken and released is clean; a stale WAIT_ON, a stale RW_HELD slot, a held spinlock, a locked semaphore word, a held list not empty are caught', () => {
  const w = machineWithShadows(2);
  const { machine } = w;
  const { m, L } = machine;
  const [a, b] = w.cpus;
  assert.equal(L.files, 2);
  assert.equal(spinlockWords(machine).length, L.maxMms * L.tablesPerMm + 1 + L.files);
  assert.equal(rwsemWords(machine).length, L.maxMms + 2 * L.files);
  assert.deepEqual(lockState(machine), [], 'a fresh machine');

  // every kind of lock taken and released by the kernel's own code: clean
  const ptl = machine.ptlOf(3), xa = L.xaLock + LOCK_WORDS, mmap = machine.mmWord(1, MM.MMAP_LOCK);
  for (const off of [ptl, L.zoneLock, xa]) {
    drive(spin_lock(a, off));
    spin_unlock(a, off);
  }
  drive(down_read(a, mmap));
  drive(down_read(b, mmap));
  drive(down_write(a, L.immapLock + 1));
  up_write(a, L.immapLock + 1);
  up_read(b, mmap);
  up_read(a, mmap);
  drive(down_write(b, L.wbLock));
  up_write(b, L.wbLock);
  assert.deepEqual(lockState(machine), [], 'every lock released');
  assert.equal(checkHeldList(a), null);
  assert.deepEqual([m[ptl], m[ptl + 1]], [1, 1], 'the PTL took one ticket and served it');

  // a stale WAIT_ON (the rwsem block() mutant that stored word - 1: noteHeld never cleared it)
  const waitOn = machine.cpuWord(1, CPU.WAIT_ON);
  m[waitOn] = mmap + 1;
  assert.deepEqual(lockState(machine), [['WAIT_ON', `CPU 1 is idle and its WAIT_ON word still names mmap_lock[mm 1] (${mmap + 1})`]]);
  assert.equal(checkLockState(machine)[0].details.cpu, 1);
  m[waitOn] = 0;

  // a stale RW_HELD slot (noteReleased that never frees a slot)
  const slot1 = machine.cpuWord(0, CPU.RW_HELD + 2);
  m[slot1] = ((L.immapLock + 1 + 1) << 1) | 1;
  assert.deepEqual(lockState(machine), [['RW_HELD[1]', 'CPU 0 is idle and its RW_HELD slot 1 still records i_mmap_rwsem[file 1] held for write']]);
  m[slot1] = 0;

  // a spinlock still held, taken by the kernel's spin_lock and never released: its tickets, its
  // holder, and the CPU's own held list
  drive(spin_lock(b, xa));
  assert.deepEqual(lockState(machine), [[xa, 'i_pages[file 1] with no CPU in the kernel: ticket 1 served, 2 taken, holder CPU 1']]);
  const held = checkHeldList(b);
  assert.equal(held?.path, 'lock-state');
  assert.equal(held?.details.summary, 'CPU 1 is idle and its held list still has i_pages[file 1]');
  assert.deepEqual(checkCpuInstruments(machine, b, w.shadows[1], 0, true).map((f) => f.path), ['lock-state']);
  spin_unlock(b, xa);
  assert.deepEqual(lockState(machine), []);
  assert.equal(checkHeldList(b), null);
  // a free spinlock whose HOLDER word names a CPU (the store of 0 at unlock lost)
  m[L.zoneLock + 2] = 1;
  assert.deepEqual(lockState(machine), [[L.zoneLock, 'zone->lock with no CPU in the kernel: free (ticket 1) but its HOLDER word names CPU 0']]);
  m[L.zoneLock + 2] = 0;

  // a semaphore still held for write by the kernel's down_write: its word and the holder's slot
  drive(down_write(a, mmap));
  assert.deepEqual(lockState(machine), [
    ['RW_HELD[0]', 'CPU 0 is idle and its RW_HELD slot 0 still records mmap_lock[mm 1] held for write'],
    [mmap, 'mmap_lock[mm 1] with no CPU in the kernel: its word is 0x40000000, not 0'],
  ]);
  up_write(a, mmap);
  // a reader count left behind on the writeback lock
  m[L.wbLock + 1] = 1;
  assert.deepEqual(lockState(machine), [[L.wbLock + 1, 'writeback[file 1] with no CPU in the kernel: its word is 0x1, not 0']]);
  // both round checks run the rule (sched: checkInstruments, threads: checkRoundInstruments)
  assert.deepEqual(checkInstruments(machine, w.cpus, w.shadows, [0, 0], w.hist).map((f) => f.path), ['lock-state']);
  assert.deepEqual(checkRoundInstruments(machine, w.hist, {}).map((f) => f.path), ['lock-state']);
  m[L.wbLock + 1] = 0;
  assert.deepEqual(checkInstruments(machine, w.cpus, w.shadows, [0, 0], w.hist), []);

  // at most ten findings however many locks are stale
  for (let t = 0; t < 20; t++) m[machine.ptlOf(t)]++;
  assert.equal(checkLockState(machine).length, 10);
});

test('sched: a run that leaves a CPU\'s WAIT_ON word stale ends with instrument-mismatch@lock-state', () => {
  const cfg = defaultConfig({ opsPerCpu: 60 });
  const sab = new SharedArrayBuffer(buildMachine(cfg).sab.byteLength);
  const view = buildMachine(cfg, sab);
  // at each op's end CPU 1's WAIT_ON names the zone lock; the next wait of CPU 1 for a spinlock clears it
  const r = runSched(cfg, 3, {
    sab,
    onEvent: (id, code) => {
      if (id === 1 && code === EV.OP_END) view.m[view.cpuWord(1, CPU.WAIT_ON)] = view.L.zoneLock + 1;
    },
  });
  assert.deepEqual(r.violations.map((v) => v.signature), ['instrument-mismatch@lock-state']);
  assert.equal(r.violations[0].details.summary, `CPU 1 is idle and its WAIT_ON word still names zone->lock (${view.L.zoneLock + 1})`);
});

test('ptl-unlock at the hook: a PTE table\'s lock word held by the releasing CPU is clean and counted; a word outside the PTLs, a misaligned one, one past the last table, a PTL held by another CPU or by none are caught', () => {
  const w = machineWithShadows(2);
  const { machine } = w;
  const { m, L } = machine;
  const [a, b] = w.cpus;
  const tables = L.maxMms * L.tablesPerMm;
  const last = machine.ptlOf(tables - 1);
  drive(spin_lock(a, last));
  assert.equal(ptlUnlockCount(a), 0);
  assert.equal(checkPtlUnlock(a, last), null);
  assert.equal(ptlUnlockCount(a), 1, 'counted');
  const caught = (cpu: Cpu, off: number) => {
    const f = checkPtlUnlock(cpu, off);
    assert.equal(f?.invariant, 'instrument-mismatch');
    assert.equal(f?.path, 'ptl-unlock');
    return f!.details.summary;
  };
  // held by another CPU, by none
  assert.equal(caught(b, last), `CPU 1 released ptl[${tables - 1}], held by CPU 0`);
  spin_unlock(a, last);
  assert.equal(caught(a, last), `CPU 0 released ptl[${tables - 1}], held by no CPU`);
  // not a PTE table's lock word: the page-cache lock (lockKind's xa bound mutated: an i_pages lock taken as a PTL), the zone lock, a word inside a PTL, the word after the last PTL
  const xa = L.xaLock + LOCK_WORDS;
  drive(spin_lock(a, xa));
  assert.equal(caught(a, xa), `CPU 0 released i_pages[file 1] as a PTL: not the lock word of one of the ${tables} PTE tables`);
  assert.match(caught(a, L.zoneLock) as string, /^CPU 0 released zone->lock as a PTL: not the lock word/);
  m[machine.ptlOf(2) + 1 + 2] = 1; // as if the misaligned word were a holder's
  assert.match(caught(a, machine.ptlOf(2) + 1) as string, /as a PTL: not the lock word/);
  m[machine.ptlOf(2) + 1 + 2] = 0;
  assert.match(caught(a, last + LOCK_WORDS) as string, /as a PTL: not the lock word/);
  assert.match(caught(a, L.ptl - LOCK_WORDS) as string, /as a PTL: not the lock word/);
  assert.equal(ptlUnlockCount(a), 8, 'every call counted, caught or not');
  assert.equal(ptlUnlockCount(b), 1);

  // through the hook buildMachine installs: spin_unlock of the i_pages lock filed as a PTL raises it
  a.held[a.held.length - 1].kind = 'ptl';
  assert.throws(() => spin_unlock(a, xa), (e: unknown) => e instanceof Violation && e.invariant === 'instrument-mismatch' && e.path === 'ptl-unlock');
});

test('ptl-unlock counted: the PTL releases told to the hook equal the ptl.hold count, per CPU (threads: each CPU\'s own histograms) and summed (sched: one set); a release the hook missed, or a hold recorded twice, is caught', () => {
  const cfg = defaultConfig({ cpus: 2 });
  const machine = buildMachine(cfg);
  const clock = { step: 0 };
  // threads: each CPU with histograms of its own
  const own = [0, 1].map((i) => new Cpu(machine, i, true, clock, cfg));
  const shadows = own.map((c) => {
    const s = new CpuShadow(machine.L.ringSize, null);
    c.evHook = s.hook;
    return s;
  });
  for (let t = 0; t < 3; t++) {
    drive(spin_lock(own[0], machine.ptlOf(t)));
    spin_unlock(own[0], machine.ptlOf(t));
  }
  drive(spin_lock(own[1], machine.ptlOf(5)));
  spin_unlock(own[1], machine.ptlOf(5));
  assert.deepEqual(own.map((c) => ptlUnlockCount(c)), [3, 1]);
  assert.deepEqual(own.flatMap((c, i) => checkCpuInstruments(machine, c, shadows[i], 0)), []);
  own[1].hist.record('ptl.hold', 1);
  own[1].hist.record('ptl.wait', 0); // waits and holds still pair: only the count can tell
  const f = checkCpuInstruments(machine, own[1], shadows[1], 0);
  assert.deepEqual(f.map((x) => [x.path, x.details.summary]), [['ptl-unlock', 'CPU 1 told the ptlUnlock hook of 1 PTL releases; ptl.hold counts 2']]);
  assert.equal(checkPtlUnlockCount(own[0].hist, 3, 'CPU 0'), null);
  assert.equal(checkPtlUnlockCount(own[0].hist, 4, 'CPU 0')?.details.summary, 'CPU 0 told the ptlUnlock hook of 4 PTL releases; ptl.hold counts 3');

  // sched: one histogram set, compared with the CPUs' sum
  const w = machineWithShadows(2);
  for (let t = 0; t < 4; t++) {
    drive(spin_lock(w.cpus[t % 2], w.machine.ptlOf(t)));
    spin_unlock(w.cpus[t % 2], w.machine.ptlOf(t));
  }
  assert.deepEqual(checkInstruments(w.machine, w.cpus, w.shadows, [0, 0], w.hist), []);
  w.hist.record('ptl.wait', 0);
  w.hist.record('ptl.hold', 0);
  assert.deepEqual(checkInstruments(w.machine, w.cpus, w.shadows, [0, 0], w.hist).map((x) => [x.path, x.details.summary]), [['ptl-unlock', 'the CPUs told the ptlUnlock hook of 4 PTL releases; ptl.hold counts 5']]);
});

test('sched: a run whose PTL histograms go unrecorded (waits and holds alike, so they still pair) ends with instrument-mismatch@ptl-unlock', () => {
  const cfg = defaultConfig({ opsPerCpu: 60 });
  const r = runSchedDropping(cfg, 3, ['ptl.hold', 'ptl.wait']);
  assert.deepEqual(r.violations.map((v) => v.signature), ['instrument-mismatch@ptl-unlock']);
  assert.match(r.violations[0].details.summary as string, /^the CPUs told the ptlUnlock hook of \d+ PTL releases; ptl\.hold counts 0$/);
});
