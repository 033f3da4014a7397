// The per-CPU TLB (hardware, tool side): a small direct-mapped cache of (mm, vpn) -> PTE. A store
// through a stale writable entry is how a missing or late flush turns into lost or leaked data.
// flush_tlb_range() models the IPI shootdown: invalidate on every CPU, wait for any user access in
// flight there to finish (the IPI is only acknowledged between instructions), invalidate again to
// drop entries such an access filled from a walk that predates the PTE change.
import type { Cpu } from './cpu.js';
import { type Gen, P } from './gen.js';
import { COST, EV } from './events.js';
import { CPU, G } from './layout.js';

const key = (mm: number, vpn: number): number => ((mm + 1) << 19) | vpn;
/** The mm and vpn of a TLB entry's key word (non-zero). */
export const tlbEntryMm = (k: number): number => (k >>> 19) - 1;
export const tlbEntryVpn = (k: number): number => k & ((1 << 19) - 1);

export function tlb_lookup(cpu: Cpu, mm: number, vpn: number): number {
  const m = cpu.m;
  const base = cpu.machine.tlbBase(cpu.id) + (vpn % cpu.machine.L.tlbEntries) * 2;
  if (Atomics.load(m, base) !== key(mm, vpn)) return 0;
  const pte = Atomics.load(m, base + 1);
  // re-check the key: an invalidation between the two loads must not hand out a torn entry
  if (Atomics.load(m, base) !== key(mm, vpn)) return 0;
  return pte;
}

export function tlb_fill(cpu: Cpu, mm: number, vpn: number, pte: number): void {
  const m = cpu.m;
  const base = cpu.machine.tlbBase(cpu.id) + (vpn % cpu.machine.L.tlbEntries) * 2;
  Atomics.store(m, base, 0);
  Atomics.store(m, base + 1, pte);
  Atomics.store(m, base, key(mm, vpn));
}

function invalidate(cpu: Cpu, target: number, mm: number, start: number, end: number): number {
  const m = cpu.m;
  const n = cpu.machine.L.tlbEntries;
  const base = cpu.machine.tlbBase(target);
  let dropped = 0;
  for (let i = 0; i < n; i++) {
    const k = Atomics.load(m, base + i * 2);
    if (k === 0) continue;
    const kmm = tlbEntryMm(k), kvpn = tlbEntryVpn(k);
    if (kmm === mm && kvpn >= start && kvpn < end) {
      if (Atomics.compareExchange(m, base + i * 2, k, 0) === k) dropped++;
    }
  }
  return dropped;
}

/** flush_tlb_range(): every CPU drops its entries for [start, end) of mm (one page: flush_tlb_page). */
export function* flush_tlb_range(cpu: Cpu, mm: number, start: number, end: number): Gen<void> {
  cpu.cost(end - start === 1 ? COST.TLBI_PAGE : COST.TLBI_RANGE);
  yield* shootdown(cpu, mm, start, end);
  cpu.ev(EV.TLB_FLUSH, start, end - start);
}

/** The IPI shootdown behind every flush. */
function* shootdown(cpu: Cpu, mm: number, start: number, end: number): Gen<void> {
  yield P.TLB_FLUSH;
  const machine = cpu.machine;
  const stopW = machine.L.global + G.STOP;
  let dropped = 0;
  for (let c = 0; c < machine.L.cpus; c++) {
    dropped += invalidate(cpu, c, mm, start, end);
    if (cpu.threaded && c !== cpu.id) {
      // wait for an access in flight on CPU c (odd sequence) to complete
      const w = machine.cpuWord(c, CPU.ACCESS_SEQ);
      const s = Atomics.load(cpu.m, w);
      // an access is a few instructions; the STOP check only guards against a CPU that died mid-access
      if (s & 1) while (Atomics.load(cpu.m, w) === s && Atomics.load(cpu.m, stopW) !== 2) { /* spin */ }
      dropped += invalidate(cpu, c, mm, start, end);
    }
  }
  if (dropped) cpu.counters[EV.TLB_INVALIDATE] += dropped;
}

/** flush_tlb_mm(): drop every entry of mm on every CPU. */
export function* flush_tlb_mm(cpu: Cpu, mm: number): Gen<void> {
  cpu.ev(EV.TLB_FLUSH_MM, mm);
  cpu.cost(COST.TLBI_MM);
  yield* shootdown(cpu, mm, 0, 1 << 19);
}
