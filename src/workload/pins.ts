// Long-term pins in the random programs: a CPU pins pages it owns (so the data oracle stays exact),
// a "device" reads or writes through its pins, and it unpins them. While a pin is attached (the
// process is the same incarnation and no zap has touched the page since) the process must still
// map exactly the pinned page (pin-detached otherwise: fork shared it, or COW replaced it), and a
// device read must see what the process last wrote (pin-stale otherwise). Device accesses take
// the pinner's mmap_lock for read: a tool-side simplification that orders them with fork, munmap
// and mremap for the oracle (a real device takes no lock); zaps under the read lock still race it.
import { nextWriteVersion } from './run-op.js';
import type { Cpu } from '../machine/cpu.js';
import type { Gen } from '../machine/gen.js';
import { EV } from '../machine/events.js';
import type { Op } from './program.js';
import { MM, MM_LIVE } from '../machine/layout.js';
import { FOLIO_ANON, PG_ANON_EXCLUSIVE, PG_BUDDY, VM_WRITE } from '../machine/machine.js';
import { pte_pfn, pte_present } from '../machine/pte.js';
import { pickVma } from './target.js';
import { pin_user_page, unpin_user_page, unpin_user_page_dirty } from '../linux/mm/gup.js';
import { down_read, up_read } from '../linux/kernel/locking/rwsem.js';
import { spin_lock, spin_unlock } from '../linux/kernel/locking/spinlock.js';
import { mmget_not_zero, mmput } from '../linux/kernel/fork.js';
import { quietBegin, quietHeld, segAt } from '../check/maps.js';
import { allocFailures } from '../check/contracts.js';
import { expectAny, expectOwner, hex, makeToken, ownerOf, recordWrite, tokenBelongs, zapGen, zapInFlight } from '../check/oracle.js';

interface Pin {
  mm: number;
  gen: number; // the process incarnation pinned
  vpn: number;
  pfn: number;
  write: boolean;
  zap: number; // the page's zap word at pin time
}

const MAX_PINS = 8;
const pinsOf = new WeakMap<Cpu, Pin[]>();
function pins(cpu: Cpu): Pin[] {
  let p = pinsOf.get(cpu);
  if (!p) pinsOf.set(cpu, (p = []));
  return p;
}

/** pin: a page of one of mm's VMAs that this CPU owns, read-only or (writable VMA) read-write. */
export function* pin_op(cpu: Cpu, mm: number, op: Op): Gen<void> {
  const v = pickVma(cpu, mm, op);
  if (v && v.file >= 0) return; // GUP of file pages is not modelled
  if (!v) return;
  const len = v.end - v.start;
  let vpn = v.start + (op.r2 % len);
  vpn += (cpu.id - ownerOf(cpu.machine, vpn) + cpu.machine.L.cpus) % cpu.machine.L.cpus;
  if (vpn >= v.end) return;
  const my = pins(cpu);
  if (my.length >= MAX_PINS) yield* unpin(cpu, my.shift()!);
  const write = op.write && (v.flags & VM_WRITE) !== 0;
  const zap = zapGen(cpu.machine, mm, vpn);
  const q = quietBegin(cpu, mm);
  const fails = allocFailures(cpu.machine, cpu.id);
  const pfn = yield* pin_user_page(cpu, mm, vpn, write);
  if (pfn < 0) {
    // What pin_user_pages promises: a page of a VMA that allows the access can be pinned; it fails
    // only when the mapping goes or changes meanwhile (a call that changes the maps was in flight:
    // not judged), or memory runs out (an allocation of this CPU failed).
    const seg = segAt(q.maps, vpn);
    if (quietHeld(cpu, q) && seg && (!write || seg.flags & VM_WRITE) && allocFailures(cpu.machine, cpu.id) === fails) {
      cpu.violation('pin-failed', 'pin_user_page', { mm, vpn, addr: hex(vpn * 4096), write, vmaFlags: hex(seg.flags), op: cpu.curOp });
    }
    return;
  }
  const gen = Atomics.load(cpu.m, cpu.machine.mmWord(mm, MM.GEN));
  my.push({ mm, gen, vpn, pfn, write, zap });
}

export function* unpin_op(cpu: Cpu, op: Op): Gen<void> {
  const my = pins(cpu);
  if (!my.length) return;
  const [p] = my.splice(op.r1 % my.length, 1);
  yield* unpin(cpu, p);
}

function* unpin(cpu: Cpu, p: Pin): Gen<void> {
  // a read-write pin is released as drivers release them after DMA into it: dirty
  // (unpin_user_pages_dirty_lock with make_dirty), so writes through it reach the folio's state
  if (p.write) yield* unpin_user_page_dirty(cpu, p.pfn);
  else yield* unpin_user_page(cpu, p.pfn);
}

/** Release every pin this CPU holds (the end of its program). */
export function* release_pins(cpu: Cpu): Gen<void> {
  const my = pins(cpu);
  while (my.length) yield* unpin(cpu, my.pop()!);
}

/** A device reads or (read-write pin, write op) writes through one of this CPU's pins. */
export function* pinio_op(cpu: Cpu, op: Op): Gen<void> {
  const my = pins(cpu);
  if (!my.length) return;
  const p = my[op.r1 % my.length];
  const machine = cpu.machine;
  const m = cpu.m;
  const { L } = machine;
  cpu.ev(EV.PIN_IO, p.vpn, p.pfn);
  if (Atomics.load(m, L.pFlags + p.pfn) & PG_BUDDY) cpu.violation('pin-use-after-free', 'pin io', { mm: p.mm, vpn: p.vpn, pfn: p.pfn });
  const got = mmget_not_zero(cpu, p.mm);
  const lw = machine.mmWord(p.mm, MM.MMAP_LOCK);
  if (got) yield* down_read(cpu, lw);
  // attached: same process incarnation, and no zap of the page in flight at the pin or since.
  // MADV_DONTNEED runs under the mmap_lock for read too, so bracket the PTE read with the zap word.
  let attached = got && !zapInFlight(p.zap) && Atomics.load(m, machine.mmWord(p.mm, MM.STATE)) === MM_LIVE && Atomics.load(m, machine.mmWord(p.mm, MM.GEN)) === p.gen && zapGen(machine, p.mm, p.vpn) === p.zap;
  if (attached) {
    // "a pin always refers to the page the pinning process sees"
    const table = machine.tableIndex(p.mm, p.vpn);
    // Read the entry under its PTL: kernel paths may clear an entry for a moment while they hold the
    // PTL (arch contpte: an unfold or fold of the page's block for a zap, wp fault or mremap of a
    // neighbouring page, "break-before-make"; writeback's ptep_clear_flush), so a lockless read can
    // see none for a page still mapped. What the process sees is what a user access sees after it
    // faults and waits for that PTL.
    const ptl = Atomics.load(m, machine.pgdWord(table)) ? machine.ptlOf(table) : -1;
    if (ptl >= 0) yield* spin_lock(cpu, ptl);
    const pte = Atomics.load(m, machine.pgdWord(table)) ? Atomics.load(m, machine.ptep(p.mm, p.vpn)) : 0;
    if (ptl >= 0) spin_unlock(cpu, ptl);
    attached = zapGen(machine, p.mm, p.vpn) === p.zap; // a zap that began meanwhile may have cleared it
    if (attached && (!pte_present(pte) || pte_pfn(pte) !== p.pfn)) {
      cpu.violation('pin-detached', 'pin io', { mm: p.mm, vpn: p.vpn, addr: hex(p.vpn * 4096), pinned: p.pfn, mapped: pte_present(pte) ? pte_pfn(pte) : null });
    }
  }
  // a pinned anon page stays AnonExclusive at every instant (fork copies it rather than share it)
  const anon = (Atomics.load(m, L.fFlags + Atomics.load(m, L.pHead + p.pfn)) & FOLIO_ANON) !== 0;
  if (anon && !(Atomics.load(m, L.pFlags + p.pfn) & PG_ANON_EXCLUSIVE)) {
    cpu.violation('pinned-not-exclusive', 'pin io', { mm: p.mm, vpn: p.vpn, pfn: p.pfn });
  }
  if (p.write && op.write) {
    if (attached) {
      const token = makeToken(nextWriteVersion(cpu), p.mm, p.vpn);
      const g1 = zapGen(machine, p.mm, p.vpn);
      Atomics.store(m, L.pContent + p.pfn, token);
      recordWrite(machine, p.mm, p.vpn, token, g1, zapGen(machine, p.mm, p.vpn));
    }
  } else {
    const g1 = zapGen(machine, p.mm, p.vpn);
    const value = Atomics.load(m, L.pContent + p.pfn);
    const g2 = zapGen(machine, p.mm, p.vpn);
    if (attached && g1 === p.zap && g2 === p.zap) {
      // "a (read-only) pin sees the writes of the process that pinned"
      const allowed = expectOwner(machine, p.mm, p.vpn, g1, g2);
      const ok = allowed.includes(value) || (expectAny(machine, p.mm, p.vpn) && (value === 0 || tokenBelongs(machine, p.mm, p.vpn, value)));
      if (!ok) cpu.violation('pin-stale', 'pin io', { mm: p.mm, vpn: p.vpn, pfn: p.pfn, read: hex(value), expected: allowed.map(hex) });
    }
  }
  if (got) {
    up_read(cpu, lw);
    yield* mmput(cpu, p.mm);
  }
}
