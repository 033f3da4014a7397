// The emulated mmap_lock: a reader/writer semaphore in one word (models kernel/locking/rwsem.c
// loosely): WRITER bit, a WAITING-writer bit that holds back new readers, and a reader count.
// The same serves i_mmap_rwsem and the per-file writeback lock. The word has no room for its
// holders: for hang reports each CPU records the semaphores it holds (its RW_HELD slots) and the
// one it waits for (WAIT_ON), see src/diag/hang.ts. A threaded wait past lockWaitLimitMs is told
// to the checker (MMDEBUG.lockWaitLimit), which raises lock-hang.
import { type Gen, P, WAIT } from '../../../machine/gen.js';
import type { Cpu } from '../../../machine/cpu.js';
import { CPU, G, RW_SLOTS } from '../../../machine/layout.js';
import { Aborted } from './spinlock.js';
import { MMDEBUG } from '../../include/linux/mmdebug.js';

const WRITER = 1 << 30;
const WAITING = 1 << 29;
const READERS = WAITING - 1;

/** rwsem_is_locked() for write: is the semaphore at word held by a writer? */
export function rwsem_is_write_locked(m: Int32Array, word: number): boolean {
  return (Atomics.load(m, word) & WRITER) !== 0;
}

/** rwsem_is_contended() for readers: does any reader hold the semaphore at word (for the checker)? */
export function rwsem_has_readers(m: Int32Array, word: number): boolean {
  return (Atomics.load(m, word) & READERS) !== 0;
}

function block(cpu: Cpu, word: number, ok: () => boolean, write: boolean): Gen<void> | null {
  const m = cpu.m;
  const waitW = cpu.machine.cpuWord(cpu.id, CPU.WAIT_ON);
  if (Atomics.load(m, waitW) !== word + 1) {
    Atomics.store(m, waitW + 1, cpu.stamp()); // WAIT_SINCE: when this wait for the semaphore began
    Atomics.store(m, waitW, word + 1);
  }
  if (cpu.threaded) {
    const start = performance.now();
    for (let i = 0; ; i++) {
      if (ok()) return null;
      if (i > 100) Atomics.wait(m, word, Atomics.load(m, word), 20);
      if (Atomics.load(m, cpu.machine.L.global + G.STOP) === 2) throw new Aborted();
      const waited = performance.now() - start;
      if (waited > cpu.cfg.lockWaitLimitMs) MMDEBUG.lockWaitLimit(cpu, word, Math.round(waited), write ? 'write' : 'read');
    }
  }
  return (function* () {
    cpu.waitFor = ok;
    cpu.waitOff = word;
    cpu.waitWrite = write;
    cpu.blockedSince = cpu.clock.step;
    yield WAIT;
  })();
}

/** The semaphore at word is now held by cpu (mode write or read): record it in a free RW_HELD slot. */
function noteHeld(cpu: Cpu, word: number, write: boolean): void {
  const m = cpu.m;
  const w0 = cpu.machine.cpuWord(cpu.id, CPU.WAIT_ON);
  if (Atomics.load(m, w0) === word + 1) Atomics.store(m, w0, 0); // the wait is over
  const base = cpu.machine.cpuWord(cpu.id, CPU.RW_HELD);
  for (let k = 0; k < RW_SLOTS; k++) {
    if (Atomics.load(m, base + 2 * k) !== 0) continue;
    Atomics.store(m, base + 2 * k + 1, cpu.stamp());
    Atomics.store(m, base + 2 * k, ((word + 1) << 1) | (write ? 1 : 0));
    cpu.rwOwn[k] = cpu.steps;
    return;
  }
}

/** The semaphore at word is released by cpu: free its RW_HELD slot (the latest, for nested reads). */
function noteReleased(cpu: Cpu, word: number): void {
  const m = cpu.m;
  const base = cpu.machine.cpuWord(cpu.id, CPU.RW_HELD);
  for (let k = RW_SLOTS - 1; k >= 0; k--) {
    const v = Atomics.load(m, base + 2 * k);
    if (v !== 0 && (v >>> 1) === word + 1) {
      Atomics.store(m, base + 2 * k, 0);
      return;
    }
  }
}

/** mmap_read_lock() */
export function* down_read(cpu: Cpu, word: number): Gen<void> {
  yield P.LOCK;
  const m = cpu.m;
  // timed from the first failed try (no clock read when the first try succeeds; sched: the same
  // step as at the P.LOCK yield either way)
  let t0 = -1;
  for (;;) {
    const v = Atomics.load(m, word);
    if ((v & (WRITER | WAITING)) === 0) {
      if (Atomics.compareExchange(m, word, v, v + 1) === v) break;
      if (t0 < 0) t0 = cpu.now();
      continue;
    }
    if (t0 < 0) t0 = cpu.now();
    const g = block(cpu, word, () => (Atomics.load(m, word) & (WRITER | WAITING)) === 0, false);
    if (g) yield* g;
  }
  noteHeld(cpu, word, false);
  cpu.hist.record('mmap_lock.wait', t0 < 0 ? 0 : cpu.now() - t0);
}

/** mmap_read_unlock() */
export function up_read(cpu: Cpu, word: number): void {
  noteReleased(cpu, word);
  const v = Atomics.sub(cpu.m, word, 1) - 1;
  if ((v & READERS) < 0 || (v & WRITER)) cpu.violation('rwsem-underflow', 'up_read', { word: v });
  if (cpu.threaded && (v & READERS) === 0) Atomics.notify(cpu.m, word);
}

/** mmap_write_lock() */
export function* down_write(cpu: Cpu, word: number): Gen<void> {
  yield P.LOCK;
  const m = cpu.m;
  let t0 = -1; // as in down_read
  for (;;) {
    const v = Atomics.load(m, word);
    if ((v & (WRITER | READERS)) === 0) {
      if (Atomics.compareExchange(m, word, v, WRITER) === v) break;
      if (t0 < 0) t0 = cpu.now();
      continue;
    }
    if (t0 < 0) t0 = cpu.now();
    if (!(v & WAITING)) Atomics.compareExchange(m, word, v, v | WAITING);
    const g = block(cpu, word, () => (Atomics.load(m, word) & (WRITER | READERS)) === 0, true);
    if (g) yield* g;
  }
  noteHeld(cpu, word, true);
  cpu.hist.record('mmap_lock.wait', t0 < 0 ? 0 : cpu.now() - t0);
}

/** mmap_write_unlock(): clears WAITING too; a writer still waiting sets it again. */
export function up_write(cpu: Cpu, word: number): void {
  noteReleased(cpu, word);
  Atomics.store(cpu.m, word, 0);
  if (cpu.threaded) Atomics.notify(cpu.m, word);
}
