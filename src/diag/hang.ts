// Hang reports (tool side), the same in both engines: a lock waited for or held past its deadline,
// and a deadlock, name the lock, its holders (CPU, the op it runs, when the hold began) and every
// waiter (CPU, op, when the wait began). Holds and waits are read from the machine itself (the
// lock's HOLDER/HOLD_START words, each CPU's WAIT_ON/WAIT_SINCE/RW_HELD/OP words), so a report
// built in any thread sees every CPU. Times are scheduler steps (sched) or values of the global
// event sequence G.SEQ (threads), as `unit` says. The machine and the kernel's locks only record
// (the CPU.OP code, src/diag/op-codes.ts; src/linux/kernel/locking/*.ts: the words); a threaded
// wait past lockWaitLimitMs reaches lockWaitHang through the MMDEBUG.lockWaitLimit hook.
import type { Machine } from '../machine/machine.js';
import type { Cpu } from '../machine/cpu.js';
import { CPU, G, LOCK_WORDS, MM, RW_SLOTS } from '../machine/layout.js';
import { OP_NAMES } from './op-codes.js';

/** The unit of hang-report times in the sched engine. Moved from src/machine/hang.ts. */
export const UNIT_STEP = 'scheduler step';
/** The unit of hang-report times in the threads engine. Moved from src/machine/hang.ts. */
export const UNIT_SEQ = 'event sequence number (G.SEQ)';

/** The op CPU cpu runs, as its CPU.OP word says ("" when none). */
export function opOf(machine: Machine, cpu: number): string {
  const c = Atomics.load(machine.m, machine.cpuWord(cpu, CPU.OP));
  return c > 0 ? (OP_NAMES[c - 1] ?? `op ${c}`) : '';
}

/** Which kind of lock the word at off is. */
export function lockClass(machine: Machine, off: number): 'spin' | 'rwsem' {
  const L = machine.L;
  if (off >= L.ptl && off < L.ptl + L.maxMms * L.tablesPerMm * LOCK_WORDS) return 'spin';
  if (off === L.zoneLock) return 'spin';
  if (off >= L.xaLock && off < L.xaLock + L.files * LOCK_WORDS) return 'spin';
  return 'rwsem';
}

/**
 * The lock at off as a person reads it: "ptl[17]" (the PTL of PTE table 17), "zone->lock",
 * "i_pages[file 0]", "mmap_lock[mm 2]", "i_mmap_rwsem[file 1]", "writeback[file 0]".
 */
export function lockName(machine: Machine, off: number): string {
  const L = machine.L;
  if (off === L.zoneLock) return 'zone->lock';
  if (off >= L.xaLock && off < L.xaLock + L.files * LOCK_WORDS) return `i_pages[file ${(off - L.xaLock) / LOCK_WORDS}]`;
  if (off >= L.ptl && off < L.ptl + L.maxMms * L.tablesPerMm * LOCK_WORDS) return `ptl[${(off - L.ptl) / LOCK_WORDS}]`;
  if (off >= L.mm && off < L.mm + L.maxMms * MM.WORDS && (off - L.mm) % MM.WORDS === MM.MMAP_LOCK) return `mmap_lock[mm ${(off - L.mm - MM.MMAP_LOCK) / MM.WORDS}]`;
  if (off >= L.immapLock && off < L.immapLock + L.files) return `i_mmap_rwsem[file ${off - L.immapLock}]`;
  if (off >= L.wbLock && off < L.wbLock + L.files) return `writeback[file ${off - L.wbLock}]`;
  if (off === L.global + G.ANON_VMA_LOCK) return 'anon_vma->root->rwsem';
  return `lock@${off}`;
}

/** The lock's kind, for signatures: its name without the instance ("ptl", "mmap_lock", ...). */
export function lockKind(name: string): string {
  return name.replace(/\[[^\]]*\]$/, '');
}

/**
 * What a blocked CPU waits for, as reports name it: a spinlock by name ("ptl[7]"), a semaphore by
 * kind and the mode asked for ("mmap_lock(read)"), a wait not on a lock word as the kernel path
 * says (Cpu.waitWhat: "folio_lock").
 */
export function waitName(machine: Machine, cpu: Pick<Cpu, 'waitOff' | 'waitWrite' | 'waitWhat'>): string {
  const off = cpu.waitOff;
  if (off < 0) return cpu.waitWhat;
  const name = lockName(machine, off);
  return lockClass(machine, off) === 'spin' ? name : `${lockKind(name)}(${cpu.waitWrite ? 'write' : 'read'})`;
}

/** The signature path of a hang of a CPU blocked on a lock: the lock's kind, and for a semaphore the mode asked for. */
export function waitSignature(machine: Machine, cpu: Pick<Cpu, 'waitOff' | 'waitWrite' | 'waitWhat'>): string {
  return cpu.waitOff >= 0 && lockClass(machine, cpu.waitOff) === 'spin' ? lockKind(lockName(machine, cpu.waitOff)) : waitName(machine, cpu);
}

export interface LockParty {
  cpu: number;
  /** the op the CPU runs ("" when none) */
  op: string;
  /** when its hold or wait began (see unit) */
  since: number;
  /** rwsem holds: "read" or "write" */
  mode?: string;
}

const HOLDER = 2, HOLD_START = 3; // spinlock words (kernel/locking/spinlock.ts)

/** Who holds the lock at off: the spinlock's holder, or every CPU with the rwsem in a RW_HELD slot. */
export function holdersOf(machine: Machine, off: number): LockParty[] {
  const m = machine.m;
  if (lockClass(machine, off) === 'spin') {
    const h = Atomics.load(m, off + HOLDER) - 1;
    return h < 0 ? [] : [{ cpu: h, op: opOf(machine, h), since: Atomics.load(m, off + HOLD_START) }];
  }
  const out: LockParty[] = [];
  for (let c = 0; c < machine.L.cpus; c++) {
    for (let k = 0; k < RW_SLOTS; k++) {
      const w = Atomics.load(m, machine.cpuWord(c, CPU.RW_HELD + 2 * k));
      if (w === 0 || (w >>> 1) - 1 !== off) continue;
      out.push({ cpu: c, op: opOf(machine, c), since: Atomics.load(m, machine.cpuWord(c, CPU.RW_HELD + 2 * k + 1)), mode: w & 1 ? 'write' : 'read' });
    }
  }
  return out;
}

/** Every CPU whose WAIT_ON word names the lock at off (all waiting CPUs when off < 0). */
export function waitersOf(machine: Machine, off: number): (LockParty & { lock: string })[] {
  const m = machine.m;
  const out: (LockParty & { lock: string })[] = [];
  for (let c = 0; c < machine.L.cpus; c++) {
    const w = Atomics.load(m, machine.cpuWord(c, CPU.WAIT_ON)) - 1;
    if (w < 0 || (off >= 0 && w !== off)) continue;
    out.push({ cpu: c, op: opOf(machine, c), since: Atomics.load(m, machine.cpuWord(c, CPU.WAIT_SINCE)), lock: lockName(machine, w) });
  }
  return out;
}

/** Every lock held right now, one line each: "ptl[3] held by CPU 0 (touch) since step 12". */
export function heldLocks(machine: Machine, unit: string): string[] {
  const { m, L } = machine;
  const at = unit === UNIT_STEP ? 'step' : 'seq';
  const out: string[] = [];
  const line = (off: number) => {
    for (const h of holdersOf(machine, off)) out.push(`${lockName(machine, off)}${h.mode ? `(${h.mode})` : ''} held by CPU ${h.cpu}${h.op ? ` (${h.op})` : ''} since ${at} ${h.since}`);
  };
  for (let t = 0; t < L.maxMms * L.tablesPerMm; t++) if (Atomics.load(m, machine.ptlOf(t) + HOLDER)) line(machine.ptlOf(t));
  line(L.zoneLock);
  for (let f = 0; f < L.files; f++) line(L.xaLock + f * LOCK_WORDS);
  const rw = new Set<number>();
  for (let c = 0; c < L.cpus; c++) {
    for (let k = 0; k < RW_SLOTS; k++) {
      const w = Atomics.load(m, machine.cpuWord(c, CPU.RW_HELD + 2 * k));
      if (w) rw.add((w >>> 1) - 1);
    }
  }
  for (const off of [...rw].sort((a, b) => a - b)) line(off);
  return out;
}

/** One party as a person reads it: "CPU 1 (munmap) since step 14". */
export function partyText(p: LockParty, unit: string): string {
  return `CPU ${p.cpu}${p.op ? ` (${p.op})` : ''}${p.mode ? ` [${p.mode}]` : ''} since ${unit === UNIT_STEP ? 'step' : 'seq'} ${p.since}`;
}

/**
 * The details of a lock-hang violation: the lock, why (a wait or a hold past the deadline), its
 * holders and waiters with the op each runs and when its hold or wait began, every other lock held
 * at the moment, and a one-line summary.
 */
export function lockHangDetails(machine: Machine, off: number, why: string, now: number, unit: string, limit: number): Record<string, unknown> {
  const lock = lockName(machine, off);
  const holders = holdersOf(machine, off);
  const waiters = waitersOf(machine, off).map(({ lock: _l, ...w }) => w);
  const summary =
    `${lock}: ${why}; ` +
    (holders.length ? `held by ${holders.map((h) => partyText(h, unit)).join(', ')}` : 'no holder recorded') +
    (waiters.length ? `; waiters: ${waiters.map((w) => partyText(w, unit)).join(', ')}` : '; no waiter');
  return { lock, why, summary, holders, holder: holders[0] ?? null, holdStart: holders[0]?.since ?? null, waiters, now, unit, limit, held: heldLocks(machine, unit) };
}

/**
 * threads: the lock-hang of cpu, which has waited waitedMs (whole ms) past lockWaitLimitMs for the
 * lock at off (mode: what a semaphore was asked for; null: a spinlock): the signature path (the
 * lock's kind, and a semaphore's mode) and the details, with the G.SEQ of the moment.
 */
export function lockWaitHang(cpu: Cpu, off: number, waitedMs: number, mode: 'read' | 'write' | null): { path: string; details: Record<string, unknown> } {
  const machine = cpu.machine;
  const limit = cpu.cfg.lockWaitLimitMs;
  const why = `CPU ${cpu.id} waited ${waitedMs} ms (lockWaitLimitMs ${limit})${mode === null ? '' : ` for ${mode}`}`;
  const d = lockHangDetails(machine, off, why, cpu.stamp(), UNIT_SEQ, limit);
  const kind = lockKind(lockName(machine, off));
  if (mode === null) return { path: kind, details: { ...d, waiter: cpu.id, waitedMs } };
  return { path: `${kind}(${mode})`, details: { ...d, waiter: cpu.id, waitedMs, word: Atomics.load(machine.m, off) } };
}
