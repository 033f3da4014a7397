// The emulated kernel spinlock (models a ticket spinlock, arch_spinlock_t): fair FIFO order,
// bounded spinning then Atomics.wait in the threads engine, a WAIT yield in the sched engine.
// It records wait and hold time and its holder (HOLDER, HOLD_START: the scheduler step in sched,
// G.SEQ in threads), and a waiting CPU records the lock in its WAIT_ON word, so a hang report can
// name who holds what since when and who waits (the tool's, src/diag/hang.ts). A threaded wait past
// lockWaitLimitMs is told to the checker (MMDEBUG.lockWaitLimit), which raises lock-hang.
// One implementation serves every lock: each PTE table's PTL (split ptlock) and the zone lock.
import { type Gen, P, WAIT } from '../../../machine/gen.js';
import type { Cpu } from '../../../machine/cpu.js';
import { CPU, G, LOCK_WORDS } from '../../../machine/layout.js';
import type { Machine } from '../../../machine/machine.js';
import { EV, NOTE_LOCK_PTL, NOTE_LOCK_XA, NOTE_LOCK_ZONE } from '../../../machine/events.js';
import { MMDEBUG } from '../../include/linux/mmdebug.js';

const NEXT = 0, OWNER = 1, HOLDER = 2, HOLD_START = 3;
const SPINS = 200;

/** Tell an observer (the interleaving view) which lock was taken or released: its kind and index. */
function noteLock(cpu: Cpu, code: number, off: number): void {
  const L = cpu.machine.L;
  if (off === L.zoneLock) cpu.note(code, NOTE_LOCK_ZONE, 0);
  else if (off >= L.xaLock && off < L.xaLock + L.files * LOCK_WORDS) cpu.note(code, NOTE_LOCK_XA, (off - L.xaLock) / LOCK_WORDS);
  else cpu.note(code, NOTE_LOCK_PTL, (off - L.ptl) / LOCK_WORDS);
}

/** A kind of lock and the names of its wait and hold histograms (made once, not per acquisition). */
export interface LockHists {
  kind: string;
  wait: string;
  hold: string;
}
const lockHists = (kind: string): LockHists => ({ kind, wait: `${kind}.wait`, hold: `${kind}.hold` });
const ZONE_LOCK = lockHists('zone_lock'), XA_LOCK = lockHists('xa_lock'), PTL = lockHists('ptl');
/**
 * Every spinlock's wait and hold histograms. Each hold begins with spin_lock, which records one
 * wait, and ends with spin_unlock, which records one hold: once no spinlock is held the two counts
 * are equal (the instrument check, src/check/instruments.ts).
 */
export const SPIN_LOCK_HISTS: readonly LockHists[] = [PTL, ZONE_LOCK, XA_LOCK];

/** Histogram prefix of the lock at off: the PTLs, the zone lock and the page-cache locks are reported apart. */
function lockKind(machine: Machine, off: number): LockHists {
  if (off === machine.L.zoneLock) return ZONE_LOCK;
  if (off >= machine.L.xaLock && off < machine.L.xaLock + machine.L.files * LOCK_WORDS) return XA_LOCK;
  return PTL;
}

/** spin_lock(): take a ticket and wait until it is served. */
export function* spin_lock(cpu: Cpu, off: number): Gen<void> {
  yield P.LOCK;
  const m = cpu.m;
  // The wait is timed only when there is one: a free lock records 0 without reading the clock
  // (sched: the same step as at the P.LOCK yield either way, so the same histogram).
  let waited = 0;
  const ticket = Atomics.add(m, off + NEXT, 1);
  if (Atomics.load(m, off + OWNER) !== ticket) {
    const t0 = cpu.now();
    cpu.counters[EV.PTL_CONTENDED]++;
    const waitW = cpu.machine.cpuWord(cpu.id, CPU.WAIT_ON);
    Atomics.store(m, waitW + 1, cpu.stamp()); // WAIT_SINCE, before WAIT_ON names the lock
    Atomics.store(m, waitW, off + 1);
    if (cpu.threaded) {
      waitTicketThreaded(cpu, off, ticket);
    } else {
      cpu.waitFor = () => Atomics.load(m, off + OWNER) === ticket;
      cpu.waitOff = off;
      cpu.blockedSince = cpu.clock.step;
      yield WAIT;
    }
    Atomics.store(m, waitW, 0);
    waited = cpu.now() - t0;
  }
  const at = cpu.now();
  const hists = lockKind(cpu.machine, off);
  cpu.hist.record(hists.wait, waited);
  Atomics.store(m, off + HOLDER, cpu.id + 1);
  Atomics.store(m, off + HOLD_START, cpu.stamp());
  cpu.held.push({ off, kind: hists.kind, hold: hists.hold, at, own: cpu.steps });
  if (cpu.noteHook !== null) noteLock(cpu, EV.NOTE_LOCK, off);
}

/** spin_unlock(): serve the next ticket. */
export function spin_unlock(cpu: Cpu, off: number): void {
  const m = cpu.m;
  const held = cpu.held;
  let i = held.length - 1; // locks are mostly released last taken first (a lock is never held twice)
  while (i >= 0 && held[i].off !== off) i--;
  if (i < 0) cpu.violation('lock-not-held', 'spin_unlock', { lock: off });
  const h = held[i];
  // a PTE table's invariants (and arch contpte: the blocks changed under this PTL) must hold by the
  // time its lock is released: checked while still held, so no other path is changing them
  if (h.kind === 'ptl') MMDEBUG.ptlUnlock(cpu, off);
  if (i === held.length - 1) held.pop();
  else held.splice(i, 1);
  cpu.hist.record(h.hold, cpu.now() - h.at);
  Atomics.store(m, off + HOLDER, 0);
  const owner = Atomics.add(m, off + OWNER, 1) + 1;
  if (cpu.noteHook !== null) noteLock(cpu, EV.NOTE_UNLOCK, off);
  // Wake waiters only if there are any: a CPU takes its ticket before it waits, so a ticket taken
  // after this read is the one just served and never waits (and a wait times out after 20 ms).
  if (cpu.threaded && Atomics.load(m, off + NEXT) !== owner) Atomics.notify(m, off + OWNER);
}

/** Who holds the lock at off: cpu id or -1. */
export function lockHolder(m: Int32Array, off: number): number {
  return Atomics.load(m, off + HOLDER) - 1;
}
export function lockIsHeld(m: Int32Array, off: number): boolean {
  return Atomics.load(m, off + NEXT) !== Atomics.load(m, off + OWNER);
}

function waitTicketThreaded(cpu: Cpu, off: number, ticket: number): void {
  const m = cpu.m;
  for (let i = 0; i < SPINS; i++) if (Atomics.load(m, off + OWNER) === ticket) return;
  const start = performance.now();
  for (;;) {
    const cur = Atomics.load(m, off + OWNER);
    if (cur === ticket) return;
    Atomics.wait(m, off + OWNER, cur, 20);
    if (Atomics.load(m, cpu.machine.L.global + G.STOP) === 2) throw new Aborted();
    if (performance.now() - start > cpu.cfg.lockWaitLimitMs) MMDEBUG.lockWaitLimit(cpu, off, Math.round(performance.now() - start), null);
  }
}

/** The run is being torn down after a violation elsewhere: stop waiting. */
export class Aborted extends Error {
  constructor() {
    super('aborted');
  }
}
