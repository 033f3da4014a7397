// Models mm/mprotect.c: do_mprotect_pkey -> mprotect_fixup (split the VMAs, set the new flags) ->
// change_protection -> change_pte_range. Per entry for now: ptep_modify_prot_start clears the
// entry (so hardware cannot set a/d bits on it meanwhile) and hands back its a/d bits, commit
// installs the new one. The batched modify_prot_start_ptes/commit_ptes form is issue #4.
// PROT_NONE is refused (-EINVAL): the PTE model has no protnone bit yet.
import type { Cpu } from '../engine/cpu.js';
import { type Gen, P } from '../engine/gen.js';
import { EV } from '../engine/events.js';
import { PTRS_PER_PTE } from '../config.js';
import { MM } from '../model/layout.js';
import { FOLIO_ANON, PG_ANON_EXCLUSIVE, VM_READ, VM_WRITE } from '../model/machine.js';
import { PTE_WRITE, pte_none, pte_pfn, pte_present, pte_special, pte_write } from '../model/pte.js';
import { down_write, up_write } from '../kernel/locking/rwsem.js';
import { spin_lock, spin_unlock } from '../kernel/locking/spinlock.js';
import { ptep_get, ptep_get_and_clear, set_pte_at } from '../include/linux/pgtable.js';
import { flush_tlb_range } from '../hw/tlb.js';
import { vma_modify_flags, vmas, type VmaView } from './mmap.js';

const ENOMEM = -12;
const EINVAL = -22;

/** do_mprotect_pkey(): [start, end) of mm gets the VM_READ/VM_WRITE bits in vmFlags. */
export function* do_mprotect(cpu: Cpu, mm: number, start: number, end: number, vmFlags: number): Gen<number> {
  const machine = cpu.machine;
  const prot = vmFlags & (VM_READ | VM_WRITE);
  if (!prot) return EINVAL; // PROT_NONE: not modelled yet
  const lw = machine.mmWord(mm, MM.MMAP_LOCK);
  yield* down_write(cpu, lw);
  yield P.VMA;
  // the whole range must be mapped (-ENOMEM otherwise, nothing changed)
  let covered = 0;
  for (const v of vmas(machine, mm)) if (v.start < end && start < v.end) covered += Math.min(end, v.end) - Math.max(start, v.start);
  let ret = covered === end - start ? vma_modify_flags(machine, mm, start, end, prot, (VM_READ | VM_WRITE) & ~prot) : ENOMEM;
  if (ret === 0) {
    for (const v of vmas(machine, mm)) {
      if (v.end <= start || end <= v.start) continue;
      yield* change_protection(cpu, mm, v, Math.max(start, v.start), Math.min(end, v.end));
    }
    cpu.ev(EV.MPROTECT, start, end - start);
  } else ret = ENOMEM;
  up_write(cpu, lw);
  return ret;
}

/** change_protection() over one VMA's part, a PTE table at a time; flush if any entry lost write. */
function* change_protection(cpu: Cpu, mm: number, vma: VmaView, start: number, end: number): Gen<void> {
  let downgraded = false;
  for (let s = start; s < end; ) {
    const e = Math.min(end, (s & ~(PTRS_PER_PTE - 1)) + PTRS_PER_PTE);
    if (yield* change_pte_range(cpu, mm, vma, s, e)) downgraded = true;
    s = e;
  }
  // a CPU may still write through a TLB entry made before the downgrade until this flush
  if (downgraded) yield* flush_tlb_range(cpu, mm, start, end);
}

/** change_pte_range(): returns whether an entry lost its write permission. */
function* change_pte_range(cpu: Cpu, mm: number, vma: VmaView, start: number, end: number): Gen<boolean> {
  const machine = cpu.machine;
  const m = cpu.m;
  const table = machine.tableIndex(mm, start);
  if (!Atomics.load(m, machine.pgdWord(table))) return false;
  const ptl = machine.ptlOf(table);
  let downgraded = false;
  yield* spin_lock(cpu, ptl);
  yield P.LOCKED;
  for (let vpn = start; vpn < end; vpn++) {
    const ptep = machine.ptep(mm, vpn);
    const pte = ptep_get(cpu, ptep);
    if (pte_none(pte) || !pte_present(pte)) continue;
    // ptep_modify_prot_start(): clear it, keeping the young/dirty bits hardware set until now
    const old = yield* ptep_get_and_clear(cpu, ptep);
    yield P.CLEAR_PTE;
    let nw = old & ~PTE_WRITE;
    if (vma.flags & VM_WRITE && !pte_special(old) && can_change_pte_writable(cpu, old)) nw |= PTE_WRITE;
    if (pte_write(old) && !(nw & PTE_WRITE)) downgraded = true;
    yield* set_pte_at(cpu, ptep, nw); // ptep_modify_prot_commit()
  }
  spin_unlock(cpu, ptl);
  return downgraded;
}

/**
 * can_change_pte_writable() for a private anon mapping: only an AnonExclusive page may become
 * writable without a write fault (a shared one must be copied first).
 */
function can_change_pte_writable(cpu: Cpu, pte: number): boolean {
  const { m, L } = cpu.machine;
  const pfn = pte_pfn(pte);
  const folio = Atomics.load(m, L.pHead + pfn);
  return (Atomics.load(m, L.fFlags + folio) & FOLIO_ANON) !== 0 && (Atomics.load(m, L.pFlags + pfn) & PG_ANON_EXCLUSIVE) !== 0;
}
