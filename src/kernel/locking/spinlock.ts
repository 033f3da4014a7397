// The emulated kernel spinlock (models a ticket spinlock, arch_spinlock_t): fair FIFO order,
// bounded spinning then Atomics.wait in the threads engine, a WAIT yield in the sched engine.
// It records wait and hold time and its holder, so a hang can name who holds what since when.
// One implementation serves every lock: each PTE table's PTL (split ptlock) and the zone lock.
import { type Gen, P, WAIT } from '../../engine/gen.js';
import type { Cpu } from '../../engine/cpu.js';
import { G } from '../../model/layout.js';
import { EV } from '../../engine/events.js';

const NEXT = 0, OWNER = 1, HOLDER = 2, HOLD_START = 3;
const SPINS = 200;

/** spin_lock(): take a ticket and wait until it is served. */
export function* spin_lock(cpu: Cpu, off: number, name: string): Gen<void> {
  yield P.LOCK;
  const m = cpu.m;
  const t0 = cpu.now();
  const ticket = Atomics.add(m, off + NEXT, 1);
  if (Atomics.load(m, off + OWNER) !== ticket) {
    cpu.counters[EV.PTL_CONTENDED]++;
    if (cpu.threaded) {
      waitTicketThreaded(cpu, off, ticket, name);
    } else {
      cpu.waitFor = () => Atomics.load(m, off + OWNER) === ticket;
      cpu.waitWhat = `${name}`;
      cpu.blockedSince = cpu.clock.step;
      yield WAIT;
    }
  }
  const at = cpu.now();
  cpu.hist.record('lock.wait', at - t0);
  Atomics.store(m, off + HOLDER, cpu.id + 1);
  Atomics.store(m, off + HOLD_START, cpu.threaded ? 0 : cpu.clock.step);
  cpu.held.push({ off, name, at });
}

/** spin_trylock(): take the lock only if it is free right now. */
export function spin_trylock(cpu: Cpu, off: number, name: string): boolean {
  const m = cpu.m;
  const owner = Atomics.load(m, off + OWNER);
  if (Atomics.compareExchange(m, off + NEXT, owner, owner + 1) !== owner) return false;
  Atomics.store(m, off + HOLDER, cpu.id + 1);
  Atomics.store(m, off + HOLD_START, cpu.threaded ? 0 : cpu.clock.step);
  cpu.held.push({ off, name, at: cpu.now() });
  return true;
}

/** spin_unlock(): serve the next ticket. */
export function spin_unlock(cpu: Cpu, off: number): void {
  const m = cpu.m;
  const i = cpu.held.findIndex((h) => h.off === off);
  if (i < 0) cpu.violation('lock-not-held', 'spin_unlock', { lock: off });
  const h = cpu.held[i];
  cpu.held.splice(i, 1);
  cpu.hist.record('lock.hold', cpu.now() - h.at);
  Atomics.store(m, off + HOLDER, 0);
  Atomics.add(m, off + OWNER, 1);
  if (cpu.threaded) Atomics.notify(m, off + OWNER);
}

/** Who holds the lock at off: cpu id or -1. */
export function lockHolder(m: Int32Array, off: number): number {
  return Atomics.load(m, off + HOLDER) - 1;
}
export function lockHoldStart(m: Int32Array, off: number): number {
  return Atomics.load(m, off + HOLD_START);
}
export function lockIsHeld(m: Int32Array, off: number): boolean {
  return Atomics.load(m, off + NEXT) !== Atomics.load(m, off + OWNER);
}

function waitTicketThreaded(cpu: Cpu, off: number, ticket: number, name: string): void {
  const m = cpu.m;
  for (let i = 0; i < SPINS; i++) if (Atomics.load(m, off + OWNER) === ticket) return;
  const start = performance.now();
  for (;;) {
    const cur = Atomics.load(m, off + OWNER);
    if (cur === ticket) return;
    Atomics.wait(m, off + OWNER, cur, 20);
    if (Atomics.load(m, cpu.machine.L.global + G.STOP) === 2) return abortWait(cpu, name);
    if (performance.now() - start > cpu.cfg.lockWaitLimitMs) {
      const holder = lockHolder(m, off);
      cpu.violation('lock-hang', name, { waiter: cpu.id, holder, waitedMs: Math.round(performance.now() - start), lock: name });
    }
  }
}

/** The run is being torn down after a violation elsewhere: stop waiting. */
export class Aborted extends Error {
  constructor() {
    super('aborted');
  }
}
function abortWait(_cpu: Cpu, _name: string): never {
  throw new Aborted();
}
