// The emulated mmap_lock: a reader/writer semaphore in one word (models kernel/locking/rwsem.c
// loosely): WRITER bit, a WAITING-writer bit that holds back new readers, and a reader count.
import { type Gen, P, WAIT } from '../../engine/gen.js';
import type { Cpu } from '../../engine/cpu.js';
import { G } from '../../model/layout.js';
import { Aborted } from './spinlock.js';

const WRITER = 1 << 30;
const WAITING = 1 << 29;
const READERS = WAITING - 1;

function block(cpu: Cpu, word: number, ok: () => boolean, what: string): Gen<void> | null {
  if (cpu.threaded) {
    const start = performance.now();
    for (let i = 0; ; i++) {
      if (ok()) return null;
      if (i > 100) Atomics.wait(cpu.m, word, Atomics.load(cpu.m, word), 20);
      if (Atomics.load(cpu.m, cpu.machine.L.global + G.STOP) === 2) throw new Aborted();
      if (performance.now() - start > cpu.cfg.lockWaitLimitMs) cpu.violation('lock-hang', what, { waiter: cpu.id, word: Atomics.load(cpu.m, word) });
    }
  }
  return (function* () {
    cpu.waitFor = ok;
    cpu.waitWhat = what;
    cpu.blockedSince = cpu.clock.step;
    yield WAIT;
  })();
}

/** mmap_read_lock() */
export function* down_read(cpu: Cpu, word: number, what = 'mmap_lock(read)'): Gen<void> {
  yield P.LOCK;
  const m = cpu.m;
  const t0 = cpu.now();
  for (;;) {
    const v = Atomics.load(m, word);
    if ((v & (WRITER | WAITING)) === 0) {
      if (Atomics.compareExchange(m, word, v, v + 1) === v) break;
      continue;
    }
    const g = block(cpu, word, () => (Atomics.load(m, word) & (WRITER | WAITING)) === 0, what);
    if (g) yield* g;
  }
  cpu.hist.record('mmap_lock.wait', cpu.now() - t0);
}

/** mmap_read_unlock() */
export function up_read(cpu: Cpu, word: number): void {
  const v = Atomics.sub(cpu.m, word, 1) - 1;
  if ((v & READERS) < 0 || (v & WRITER)) cpu.violation('rwsem-underflow', 'up_read', { word: v });
  if (cpu.threaded && (v & READERS) === 0) Atomics.notify(cpu.m, word);
}

/** mmap_write_lock() */
export function* down_write(cpu: Cpu, word: number, what = 'mmap_lock(write)'): Gen<void> {
  yield P.LOCK;
  const m = cpu.m;
  const t0 = cpu.now();
  for (;;) {
    const v = Atomics.load(m, word);
    if ((v & (WRITER | READERS)) === 0) {
      if (Atomics.compareExchange(m, word, v, WRITER) === v) break;
      continue;
    }
    if (!(v & WAITING)) Atomics.compareExchange(m, word, v, v | WAITING);
    const g = block(cpu, word, () => (Atomics.load(m, word) & (WRITER | READERS)) === 0, what);
    if (g) yield* g;
  }
  cpu.hist.record('mmap_lock.wait', cpu.now() - t0);
}

/** mmap_write_unlock(): clears WAITING too; a writer still waiting sets it again. */
export function up_write(cpu: Cpu, word: number): void {
  Atomics.store(cpu.m, word, 0);
  if (cpu.threaded) Atomics.notify(cpu.m, word);
}
