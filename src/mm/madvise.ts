// Models mm/madvise.c: MADV_DONTNEED zaps the range under the mmap_lock held for read, so it races
// page faults and hardware accesses on the same mm.
import type { Cpu } from '../engine/cpu.js';
import type { Gen } from '../engine/gen.js';
import { EV } from '../engine/events.js';
import { MM } from '../model/layout.js';
import { down_read, up_read } from '../kernel/locking/rwsem.js';
import { vmas } from './mmap.js';
import { tlb_finish_mmu, tlb_gather_mmu } from './mmu_gather.js';
import { unmap_page_range } from './memory.js';

/** madvise_dontneed_single_vma() over every VMA in [start, end); returns 0 or -1 (ENOMEM: hole). */
export function* madvise_dontneed(cpu: Cpu, mm: number, start: number, end: number): Gen<number> {
  const machine = cpu.machine;
  const lw = machine.mmWord(mm, MM.MMAP_LOCK);
  yield* down_read(cpu, lw);
  const hit = vmas(machine, mm).filter((v) => v.start < end && start < v.end);
  const tlb = tlb_gather_mmu(mm);
  for (const v of hit) yield* unmap_page_range(cpu, tlb, v, start, end);
  yield* tlb_finish_mmu(cpu, tlb);
  cpu.ev(EV.DONTNEED, start, end - start);
  up_read(cpu, lw);
  return hit.length ? 0 : -1;
}
