// mremap and the rmap walk (issue #15): the contract move_ptes states, checked where entries of a
// file mapping move. "When need_rmap_locks is false, ... new_vma is often known to be placed after
// vma in rmap traversal order. This ensures rmap will always observe either the old pte, or the new
// pte, or both (the page table locks serialize access to individual ptes, but only rmap traversal
// order guarantees that we won't miss both the old and new ptes)." The model's rmap walk of a file
// (folio_mkclean, and later reclaim's) holds the file's i_mmap_rwsem for read across the walk and
// visits the i_mmap entries in slot order. So when entries move without the rmap locks while such
// a walk is in flight, some entry mapping the old range must come before some entry mapping the new
// range; otherwise the walk can look at the new range before the entry arrives and at the old one
// after it left, and miss it (a dirty entry writeback never cleans: the write is lost on reclaim).
import type { Cpu } from '../machine/cpu.js';
import { find_vma, i_mmap_slots, linear_page_index } from '../linux/mm/mmap.js';
import { rwsem_has_readers } from '../linux/kernel/locking/rwsem.js';
import { hex } from './oracle.js';
import { countPoint } from './points.js';

/**
 * rmapMove: move_ptes moved present entries of [oldStart, oldEnd) of mm to newStart.. (both PTLs
 * held, the mmap_lock held for write: the VMAs and mm's i_mmap entries are settled). Raises
 * rmap-walk-order when a walk of the file is in flight, the rmap locks were not taken, and the walk
 * visits every entry of the new range before every entry of the old one; rmap-unlinked when either
 * range has no i_mmap entry at all (a walk cannot find those entries whatever the order).
 */
export function checkRmapMove(cpu: Cpu, mm: number, oldStart: number, oldEnd: number, newStart: number, rmapLocked: boolean): void {
  const machine = cpu.machine;
  const v = find_vma(machine, mm, oldStart);
  if (!v || v.file < 0) return; // anon: the model's anon rmap walk has no i_mmap order
  countPoint(cpu, 'rmapMove', '');
  const lin = linear_page_index(v, oldStart) - oldStart; // pgoff - vpn of the old mapping
  const newEnd = newStart + (oldEnd - oldStart);
  const olds = i_mmap_slots(machine, v.file, mm, oldStart, oldEnd, lin);
  const news = i_mmap_slots(machine, v.file, mm, newStart, newEnd, lin + oldStart - newStart);
  const where = { mm, file: v.file, from: hex(oldStart * 4096), to: hex(newStart * 4096), pages: oldEnd - oldStart, oldSlots: olds, newSlots: news, op: cpu.curOp };
  if (!olds.length || !news.length) {
    cpu.violation('rmap-unlinked', 'move_ptes', { ...where, why: `the ${olds.length ? 'new' : 'old'} range of a moving file mapping is not in the file's i_mmap: an rmap walk cannot find its entries` });
    return;
  }
  if (rmapLocked || !rwsem_has_readers(machine.m, machine.L.immapLock + v.file)) return;
  if (Math.min(...olds) < Math.max(...news)) return;
  cpu.violation('rmap-walk-order', 'move_ptes', { ...where, why: 'file entries moved without the rmap locks while an rmap walk of the file was in flight, and the walk visits the new range before the old one: it can miss them (need_rmap_locks)' });
}
