// Models mm/madvise.c: MADV_DONTNEED zaps the range under the mmap_lock held for read, so it races
// page faults and hardware accesses on the same mm. MADV_DONTFORK / MADV_DOFORK change VM_DONTFORK
// under the mmap_lock held for write (madvise_need_mmap_write), splitting VMAs at the range edges.
import type { Cpu } from '../../machine/cpu.js';
import { type Gen, P } from '../../machine/gen.js';
import { EV } from '../../machine/events.js';
import { MM } from '../../machine/layout.js';
import { VM_DONTFORK } from '../../machine/machine.js';
import { down_read, down_write, up_read, up_write } from '../kernel/locking/rwsem.js';
import { vma_modify_flags, vmas } from './mmap.js';
import { tlb_finish_mmu, tlb_gather_mmu } from './mmu_gather.js';
import { unmap_page_range } from './memory.js';
import { MMDEBUG } from '../include/linux/mmdebug.js';

/** madvise_dontneed_single_vma() over every VMA in [start, end); returns 0 or -1 (ENOMEM: hole). */
export function* madvise_dontneed(cpu: Cpu, mm: number, start: number, end: number): Gen<number> {
  const machine = cpu.machine;
  const lw = machine.mmWord(mm, MM.MMAP_LOCK);
  yield* down_read(cpu, lw);
  const hit = vmas(machine, mm).filter((v) => v.start < end && start < v.end);
  const tlb = tlb_gather_mmu(cpu, mm);
  for (const v of hit) yield* unmap_page_range(cpu, tlb, v, start, end);
  yield* tlb_finish_mmu(cpu, tlb);
  cpu.ev(EV.DONTNEED, start, end - start);
  MMDEBUG.tlbSynced(cpu, mm, start, end, 'madvise_dontneed');
  up_read(cpu, lw);
  return hit.length ? 0 : -1;
}

/**
 * madvise(MADV_DONTFORK) (dontfork) or madvise(MADV_DOFORK): madvise_vma_behavior() over every VMA
 * in [start, end), under the mmap_lock held for write. Returns 0, or -1 (ENOMEM): no free VMA slot
 * for a split (nothing changed), or a hole in the range (the mapped parts are changed, as the
 * kernel's madvise_walk_vmas does). dup_mmap leaves VM_DONTFORK VMAs out of the child.
 */
export function* madvise_dontfork(cpu: Cpu, mm: number, start: number, end: number, dontfork: boolean): Gen<number> {
  const machine = cpu.machine;
  const lw = machine.mmWord(mm, MM.MMAP_LOCK);
  yield* down_write(cpu, lw);
  yield P.VMA;
  const r = madvise_vma_behavior(cpu, mm, start, end, dontfork);
  up_write(cpu, lw);
  return r;
}

/** madvise_vma_behavior() for MADV_DONTFORK / MADV_DOFORK: set or clear VM_DONTFORK (madvise_update_vma). */
function madvise_vma_behavior(cpu: Cpu, mm: number, start: number, end: number, dontfork: boolean): number {
  const r = vma_modify_flags(cpu.machine, mm, start, end, dontfork ? VM_DONTFORK : 0, dontfork ? 0 : VM_DONTFORK);
  cpu.ev(dontfork ? EV.DONTFORK : EV.DOFORK, start, end - start);
  return r;
}
