// Which VMA a workload op targets.
import type { Cpu } from '../machine/cpu.js';
import type { Op } from './program.js';
import { vmas, type VmaView } from '../linux/mm/mmap.js';

/**
 * The VMA of mm an op targets (by its r1), or null: none mapped, or a torn read. The workload reads
 * VMAs without the mmap_lock, as a user program knows its own mappings, so a VMA being rewritten
 * can read with end <= start; such an op is skipped.
 */
export function pickVma(cpu: Cpu, mm: number, op: Op): VmaView | null {
  const list = vmas(cpu.machine, mm);
  if (!list.length) return null;
  const v = list[op.r1 % list.length];
  return v.end > v.start ? v : null;
}
