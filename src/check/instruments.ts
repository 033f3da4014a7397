// The instruments check themselves at the end of each seed (issue 14): no verdict depends on the
// latency histograms or the flight recorder, so a fault in them would go unseen; these rules are
// exact on a correct model, and a mismatch is a violation, instrument-mismatch@<instrument>.
//
// - flight-recorder: each CPU's ring holds exactly the last min(N, ringSize) events recorded on it
//   (N: its event count, CPU.RING_POS), oldest first, with the code, arguments and (sched) step
//   each was recorded with, and ascending sequence numbers. A shadow (CpuShadow, the CPU's event
//   hook: the tool's copy, told of each event as Cpu.ev records it) is what it is compared with.
// - event-sequence: the CPUs' event counts add up to the global sequence G.SEQ (every event takes
//   one number).
// - op-events: a CPU recorded one op.start and one op.end per op it was handed.
// - op-histogram: per op kind, the op.<kind> latency histogram counts exactly the ops of that kind
//   that ran to their end (op.end 1; an op whose process could not be made records none).
// - lock-histogram: per spinlock kind, as many holds as waits once no spinlock is held.
// - histogram-merge (threads): the round's histograms, the sum of the CPUs', count every op the
//   CPUs completed.
// - lock-state: with no CPU in the kernel, the lock bookkeeping says so: every CPU's WAIT_ON word
//   is 0 and its RW_HELD slots are free (the hang reports' source, which no verdict reads
//   otherwise), every spinlock (each PTL, the zone lock, each page-cache lock) has served its last
//   ticket and names no holder, every semaphore word (each mm's mmap_lock, each file's
//   i_mmap_rwsem and writeback lock) is 0, and (where the Cpu objects are seen: each CPU at its end)
//   each CPU's held list is empty.
// - ptl-unlock: the checker's ptlUnlock hook (src/check/machine.ts), which spin_unlock calls for
//   each PTL it releases, checks at each call that the word is a PTE table's lock word held by the
//   releasing CPU, and counts the calls per CPU; at the end the count equals the ptl.hold histogram's
//   (spin_unlock records one hold per PTL release): per CPU in threads, summed over the CPUs in sched.
// - event-counts: every event counter of each CPU is a whole number, never below 0.
// Not checked, because not exact on the clean model: access.read/access.write against the READ and
// WRITE counters (an access that ends in SIGSEGV or OOM is timed but not counted; the probes after
// munmap and mprotect count but are not timed), fault against the FAULT events (GUP's slow path and
// the PMD fault record the event without the histogram), mmap_lock.wait (no hold histogram to pair).
import type { Machine } from '../machine/machine.js';
import type { Clock, Cpu, EventHook } from '../machine/cpu.js';
import type { HistSet } from '../machine/histograms.js';
import { CPU, G, LOCK_WORDS, MM, RING_WORDS, RW_SLOTS } from '../machine/layout.js';
import { EV, EV_NAMES } from '../machine/events.js';
import { SPIN_LOCK_HISTS } from '../linux/kernel/locking/spinlock.js';
import { lockName } from '../diag/hang.js';
import type { Finding } from './invariants.js';

export const INSTRUMENT_MISMATCH = 'instrument-mismatch';

/** Words per shadow slot: code, a, b, c, step. */
const SLOT = 5;

/**
 * The tool's copy of what one CPU's flight recorder must hold (the last ringSize events recorded
 * under its id), and the ops it completed per kind. hook goes on the CPU as its event hook; a
 * helper CPU that records under the same id (sched: setup ops, on CPU 0's ring) gets ringHook,
 * which keeps the copy but counts no op (its ops are not in the run's histograms).
 */
export class CpuShadow {
  private readonly slots: Int32Array;
  /** events recorded under this id */
  count = 0;
  /** the kind of the op the CPU runs: the engine sets it as it hands the op out */
  kind = '';
  /** ops that ran to their end (op.end 1), per kind */
  readonly completed: Record<string, number> = {};
  readonly hook: EventHook;
  readonly ringHook: EventHook;

  constructor(
    readonly size: number,
    /** sched: the clock whose step each event records; threads: none (the ring records 0) */
    private readonly clock: Clock | null,
  ) {
    this.slots = new Int32Array(size * SLOT);
    this.ringHook = (_cpu, code, a, b, c) => this.record(code, a, b, c);
    this.hook = (_cpu, code, a, b, c) => {
      this.record(code, a, b, c);
      if (code === EV.OP_END && a === 1) this.completed[this.kind] = (this.completed[this.kind] ?? 0) + 1;
    };
  }

  private record(code: number, a: number, b: number, c: number): void {
    const s = (this.count % this.size) * SLOT;
    const w = this.slots;
    w[s] = code;
    w[s + 1] = a;
    w[s + 2] = b;
    w[s + 3] = c;
    w[s + 4] = this.clock ? this.clock.step : 0;
    this.count++;
  }

  /** The shadow's copy of event n: code, a, b, c, step. */
  event(n: number): number[] {
    const s = (n % this.size) * SLOT;
    return Array.from(this.slots.subarray(s, s + SLOT));
  }
}

/** A hook that tells first and then second (either may be absent). */
export function bothHooks(first: EventHook | null | undefined, second: EventHook): EventHook {
  return first ? (id, code, a, b, c) => (first(id, code, a, b, c), second(id, code, a, b, c)) : second;
}

const mismatch = (path: string, details: Record<string, unknown>): Finding => ({ invariant: INSTRUMENT_MISMATCH, path, details });
const FIELDS = ['code', 'a', 'b', 'c', 'step'];
const eventName = (code: number): string => EV_NAMES[code] ?? String(code);

/** flight-recorder: CPU id's ring against its shadow (null when they agree). */
export function checkRing(machine: Machine, id: number, shadow: CpuShadow): Finding | null {
  const { m, L } = machine;
  const n = m[machine.cpuWord(id, CPU.RING_POS)];
  if (n !== shadow.count) {
    return mismatch('flight-recorder', { cpu: id, summary: `CPU ${id}'s flight recorder counts ${n} events; ${shadow.count} were recorded on it`, ringPos: n, recorded: shadow.count });
  }
  let lastSeq = -1;
  for (let e = Math.max(0, n - L.ringSize); e < n; e++) {
    const r = L.ring + (id * L.ringSize + (e % L.ringSize)) * RING_WORDS;
    const found = [m[r + 1], m[r + 2], m[r + 3], m[r + 4], m[r + 5]];
    const want = shadow.event(e);
    const f = found.findIndex((v, i) => v !== want[i]);
    if (f >= 0) {
      return mismatch('flight-recorder', {
        cpu: id, event: e, field: FIELDS[f], found: found[f], recorded: want[f],
        summary: `CPU ${id}'s flight recorder, event ${e} (${eventName(want[0])}): ${FIELDS[f]} ${found[f]}, recorded ${want[f]}`,
      });
    }
    const seq = m[r];
    if (seq <= lastSeq || seq >= Atomics.load(m, L.global + G.SEQ)) {
      return mismatch('flight-recorder', { cpu: id, event: e, seq, previous: lastSeq, summary: `CPU ${id}'s flight recorder, event ${e}: sequence number ${seq} after ${lastSeq} (G.SEQ ${Atomics.load(m, L.global + G.SEQ)})` });
    }
    lastSeq = seq;
  }
  return null;
}

/** event-sequence: every CPU's event count adds up to G.SEQ (null when it does). */
export function checkEventSequence(machine: Machine): Finding | null {
  const { m, L } = machine;
  let sum = 0;
  const counts: number[] = [];
  for (let c = 0; c < L.cpus; c++) sum += counts[c] = m[machine.cpuWord(c, CPU.RING_POS)];
  const seq = Atomics.load(m, L.global + G.SEQ);
  return sum === seq ? null : mismatch('event-sequence', { summary: `the CPUs' event counts (${counts.join(' + ')}) add up to ${sum}; G.SEQ is ${seq}`, counts, seq });
}

/** op-events: cpu recorded one op.start and one op.end per op it was handed (null when it did). */
export function checkOpEvents(cpu: Cpu, handed: number): Finding | null {
  const start = cpu.counters[EV.OP_START], end = cpu.counters[EV.OP_END];
  if (start === handed && end === handed) return null;
  return mismatch('op-events', { cpu: cpu.id, summary: `CPU ${cpu.id} ran ${handed} ops and recorded ${start} op.start and ${end} op.end events`, handed, opStart: start, opEnd: end });
}

/** Spinlock words (kernel/locking/spinlock.ts): the next ticket, the ticket served, the holder's id + 1. */
const NEXT = 0, OWNER = 1, HOLDER = 2;
/** lock-state findings reported at most (a fault in the lock code can leave every lock stale). */
const MAX_LOCK_STATE = 10;

/** Every spinlock's word offset: each PTE table's PTL, the zone lock, each file's page-cache (xa) lock. */
export function spinlockWords(machine: Machine): number[] {
  const L = machine.L;
  const out: number[] = [];
  for (let t = 0; t < L.maxMms * L.tablesPerMm; t++) out.push(machine.ptlOf(t));
  out.push(L.zoneLock);
  for (let f = 0; f < L.files; f++) out.push(L.xaLock + f * LOCK_WORDS);
  return out;
}

/** Every reader/writer semaphore's word: each mm slot's mmap_lock, each file's i_mmap_rwsem and writeback lock. */
export function rwsemWords(machine: Machine): number[] {
  const L = machine.L;
  const out: number[] = [];
  for (let mm = 0; mm < L.maxMms; mm++) out.push(machine.mmWord(mm, MM.MMAP_LOCK));
  for (let f = 0; f < L.files; f++) out.push(L.immapLock + f, L.wbLock + f);
  return out;
}

/**
 * lock-state: with no CPU in the kernel, no lock is held or waited for, in the words the locks
 * keep (src/linux/kernel/locking/): every CPU's WAIT_ON is 0 and its RW_HELD slots are free, every
 * spinlock has served its last ticket (NEXT === OWNER) and names no holder, every semaphore word
 * is 0 (no reader, no writer, no writer waiting). Empty when all hold.
 */
export function checkLockState(machine: Machine): Finding[] {
  const { m, L } = machine;
  const out: Finding[] = [];
  const add = (details: Record<string, unknown> & { summary: string }) => {
    if (out.length < MAX_LOCK_STATE) out.push(mismatch('lock-state', details));
  };
  for (let c = 0; c < L.cpus; c++) {
    const w = Atomics.load(m, machine.cpuWord(c, CPU.WAIT_ON));
    if (w !== 0) add({ cpu: c, word: 'WAIT_ON', value: w, lock: lockName(machine, w - 1), summary: `CPU ${c} is idle and its WAIT_ON word still names ${lockName(machine, w - 1)} (${w})` });
    for (let k = 0; k < RW_SLOTS; k++) {
      const v = Atomics.load(m, machine.cpuWord(c, CPU.RW_HELD + 2 * k));
      if (v === 0) continue;
      const lock = lockName(machine, (v >>> 1) - 1), mode = v & 1 ? 'write' : 'read';
      add({ cpu: c, word: `RW_HELD[${k}]`, value: v, lock, mode, summary: `CPU ${c} is idle and its RW_HELD slot ${k} still records ${lock} held for ${mode}` });
    }
  }
  for (const off of spinlockWords(machine)) {
    const next = Atomics.load(m, off + NEXT), owner = Atomics.load(m, off + OWNER), holder = Atomics.load(m, off + HOLDER);
    if (next === owner && holder === 0) continue;
    const lock = lockName(machine, off);
    add({
      lock, word: off, next, owner, holder,
      summary: next !== owner
        ? `${lock} with no CPU in the kernel: ticket ${owner} served, ${next} taken${holder ? `, holder CPU ${holder - 1}` : ''}`
        : `${lock} with no CPU in the kernel: free (ticket ${owner}) but its HOLDER word names CPU ${holder - 1}`,
    });
  }
  for (const off of rwsemWords(machine)) {
    const v = Atomics.load(m, off);
    if (v !== 0) add({ lock: lockName(machine, off), word: off, value: v, summary: `${lockName(machine, off)} with no CPU in the kernel: its word is 0x${(v >>> 0).toString(16)}, not 0` });
  }
  return out;
}

/** PTL releases per CPU, as the checker's ptlUnlock hook (src/check/machine.ts) was told of them. */
const ptlUnlocks = new WeakMap<Cpu, number>();

/** The PTL releases cpu told the ptlUnlock hook of (0 before its first). */
export function ptlUnlockCount(cpu: Cpu): number {
  return ptlUnlocks.get(cpu) ?? 0;
}

/**
 * ptl-unlock, at the hook itself (spin_unlock of a lock it took for a PTL, before the release):
 * count the call, and check that off is a PTE table's lock word (in [L.ptl, L.ptl + tables *
 * LOCK_WORDS), at a multiple of LOCK_WORDS) held by cpu (its HOLDER word is cpu.id + 1). Null when so.
 */
export function checkPtlUnlock(cpu: Cpu, off: number): Finding | null {
  ptlUnlocks.set(cpu, ptlUnlockCount(cpu) + 1);
  const { m, L } = cpu.machine;
  const tables = L.maxMms * L.tablesPerMm;
  const rel = off - L.ptl;
  if (rel < 0 || rel >= tables * LOCK_WORDS || rel % LOCK_WORDS !== 0) {
    const lock = lockName(cpu.machine, off);
    return mismatch('ptl-unlock', { cpu: cpu.id, word: off, lock, summary: `CPU ${cpu.id} released ${lock} as a PTL: not the lock word of one of the ${tables} PTE tables` });
  }
  const holder = Atomics.load(m, off + HOLDER);
  if (holder === cpu.id + 1) return null;
  return mismatch('ptl-unlock', {
    cpu: cpu.id, word: off, lock: lockName(cpu.machine, off), holder: holder - 1,
    summary: `CPU ${cpu.id} released ${lockName(cpu.machine, off)}, ${holder ? `held by CPU ${holder - 1}` : 'held by no CPU'}`,
  });
}

/**
 * ptl-unlock, counted: the PTL releases the hook was told of (unlocks) against the ptl.hold
 * histogram of hist (spin_unlock records one per PTL release). Null when equal. who: the CPUs.
 */
export function checkPtlUnlockCount(hist: HistSet, unlocks: number, who: string): Finding | null {
  const holds = countOf(hist, 'ptl.hold');
  if (holds === unlocks) return null;
  return mismatch('ptl-unlock', { unlocks, holds, summary: `${who} told the ptlUnlock hook of ${unlocks} PTL releases; ptl.hold counts ${holds}` });
}

/** lock-state, the CPU's own list: cpu, idle, holds no spinlock (Cpu.held is empty; null when so). */
export function checkHeldList(cpu: Cpu): Finding | null {
  if (cpu.held.length === 0) return null;
  const locks = cpu.held.map((h) => lockName(cpu.machine, h.off));
  return mismatch('lock-state', { cpu: cpu.id, word: 'held', locks, summary: `CPU ${cpu.id} is idle and its held list still has ${locks.join(', ')}` });
}

/** The count of histogram name in hist (0 when absent). */
const countOf = (hist: HistSet, name: string): number => hist.get(name)?.totalCount ?? 0;

/**
 * op-histogram and lock-histogram: hist (the histograms of CPUs that are all idle) against the
 * ops they completed per kind (completed), and its spinlock waits against its holds.
 */
export function checkHistograms(hist: HistSet, completed: Record<string, number>, path = 'op-histogram'): Finding[] {
  const out: Finding[] = [];
  const kinds = new Set([...Object.keys(completed), ...hist.names().filter((k) => k.startsWith('op.')).map((k) => k.slice(3))]);
  for (const k of [...kinds].sort()) {
    const n = countOf(hist, `op.${k}`), want = completed[k] ?? 0;
    if (n !== want) out.push(mismatch(path, { kind: k, summary: `the op.${k} histogram counts ${n} ops; ${want} ${k} ops ran to their end`, histogram: n, completed: want }));
  }
  for (const h of SPIN_LOCK_HISTS) {
    const waits = countOf(hist, h.wait), holds = countOf(hist, h.hold);
    if (waits !== holds) out.push(mismatch('lock-histogram', { lock: h.kind, summary: `${h.wait} counts ${waits} acquisitions, ${h.hold} ${holds} releases, with no ${h.kind} held`, waits, holds }));
  }
  return out;
}

/** The ops completed per kind, summed over shadows. */
export function completedOps(shadows: readonly { completed: Record<string, number> }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of shadows) for (const [k, v] of Object.entries(s.completed)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/**
 * event-counts: every event counter of the CPU (what the summary, the reach floor and the cost
 * comparison add up) is a whole number of events, never below 0: a count decremented or handed a
 * fraction is an instrument fault (null when all are).
 */
export function checkEventCounts(cpu: Cpu): Finding | null {
  const c = cpu.counters;
  for (let i = 0; i < c.length; i++) {
    if (c[i] >= 0 && Number.isInteger(c[i])) continue;
    return mismatch('event-counts', { cpu: cpu.id, event: eventName(i), count: c[i], summary: `CPU ${cpu.id} counted ${c[i]} ${eventName(i)} events: a count is a whole number, never below 0` });
  }
  return null;
}

/**
 * Every instrument check of one CPU at its end (threads: each CPU's task, on its own histograms):
 * its ring, its op events, its held list (lock-state), and its histograms against the ops it
 * completed, and its PTL releases against its ptl.hold count (ptl-unlock). shared: hist is every
 * CPU's (sched), so its histograms are checked once for all by the caller instead.
 */
export function checkCpuInstruments(machine: Machine, cpu: Cpu, shadow: CpuShadow, handed: number, shared = false): Finding[] {
  const out: Finding[] = [];
  const ring = checkRing(machine, cpu.id, shadow);
  if (ring) out.push(ring);
  const ops = checkOpEvents(cpu, handed);
  if (ops) out.push(ops);
  const held = checkHeldList(cpu);
  if (held) out.push(held);
  const counts = checkEventCounts(cpu);
  if (counts) out.push(counts);
  if (!shared) {
    out.push(...checkHistograms(cpu.hist, shadow.completed));
    const ptl = checkPtlUnlockCount(cpu.hist, ptlUnlockCount(cpu), `CPU ${cpu.id}`);
    if (ptl) out.push(ptl);
  }
  return out;
}

/**
 * Every instrument check of a machine whose CPUs (cpus, with their shadows and the ops handed to
 * each) are all idle and record into one histogram set hist (sched): each CPU's ring, op events
 * and held list, the event sequence, the histograms against the ops completed, the CPUs' PTL
 * releases against ptl.hold, and the lock words.
 */
export function checkInstruments(machine: Machine, cpus: readonly Cpu[], shadows: readonly CpuShadow[], handed: readonly number[], hist: HistSet): Finding[] {
  const out: Finding[] = [];
  for (let i = 0; i < cpus.length; i++) out.push(...checkCpuInstruments(machine, cpus[i], shadows[i], handed[i], true));
  const seq = checkEventSequence(machine);
  if (seq) out.push(seq);
  out.push(...checkHistograms(hist, completedOps(shadows)));
  const ptl = checkPtlUnlockCount(hist, cpus.reduce((n, c) => n + ptlUnlockCount(c), 0), 'the CPUs');
  if (ptl) out.push(ptl);
  out.push(...checkLockState(machine));
  return out;
}

/**
 * threads: the round's instruments once every CPU's task has returned clean (each checked its own
 * ring, op events and histograms): the event sequence, and the round's histograms (the sum of the
 * CPUs', as the engine merged them) against the ops the CPUs completed (histogram-merge), and the
 * lock words (lock-state).
 */
export function checkRoundInstruments(machine: Machine, hist: HistSet, completed: Record<string, number>): Finding[] {
  const out: Finding[] = [];
  const seq = checkEventSequence(machine);
  if (seq) out.push(seq);
  out.push(...checkHistograms(hist, completed, 'histogram-merge'));
  out.push(...checkLockState(machine));
  return out;
}
