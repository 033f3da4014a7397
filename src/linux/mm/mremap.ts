// Models mm/mremap.c for mremap(addr, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, new_addr):
// mremap_to -> move_vma -> copy_vma, move_page_tables -> move_ptes, then the old range's VMA part
// goes. The page-table entries move; the folios do not: mapcounts, refcounts, AnonExclusive and
// RSS stay as they are (rmap is by folio, and a move is not an unmap). Moving part of a large folio
// leaves it mapped at two ranges of one mm.
// Deliberate differences: the destination must be unmapped (the kernel's MREMAP_FIXED first
// unmaps whatever is there); no resize, no merge of the new VMA with its neighbours; one entry at
// a time (the kernel's mremap_folio_pte_batch batching of large folios is not modelled).
// Tool side: the data oracle's records move with the entries inside do_mremap (callers bracket
// nothing), and a page's owner CPU (vpn % cpus) must stay the same, so moves must be by a multiple
// of cpus pages (anything else throws, before any change).
import type { Cpu } from '../../machine/cpu.js';
import { type Gen, P } from '../../machine/gen.js';
import { EV } from '../../machine/events.js';
import { PTRS_PER_PTE } from '../../machine/params.js';
import { MM } from '../../machine/layout.js';
import { pte_none, pte_present, pteToString } from '../../machine/pte.js';
import { down_write, up_write } from '../kernel/locking/rwsem.js';
import { spin_lock, spin_unlock } from '../kernel/locking/spinlock.js';
import { ptep_get, ptep_get_and_clear, set_pte_at } from '../include/linux/pgtable.js';
import { flush_tlb_range } from '../../machine/tlb.js';
import { find_vma, freeVmaSlots, type VmaView, vma_detach_range, vma_insert, vmas } from './mmap.js';
import { MMDEBUG } from '../include/linux/mmdebug.js';
import { anon_vma_lock } from './rmap.js';
import { VM_SHARED } from '../../machine/machine.js';

/**
 * mremap() of nr pages at start to newStart (MREMAP_MAYMOVE | MREMAP_FIXED, same size) under the
 * mmap_lock held for write. Returns newStart, or -1: nr < 1, the source not inside one VMA
 * (EFAULT), the destination overlapping the source (EINVAL), outside the address space, or not
 * unmapped (the model's simplification of MREMAP_FIXED), or no free VMA slot (ENOMEM), or a file
 * mapping (not modelled yet). A failure changes nothing.
 */
export function* do_mremap(cpu: Cpu, mm: number, start: number, nr: number, newStart: number): Gen<number> {
  const machine = cpu.machine;
  const lw = machine.mmWord(mm, MM.MMAP_LOCK);
  yield* down_write(cpu, lw);
  yield P.VMA;
  const r: number = yield* mremap_to(cpu, mm, start, nr, newStart);
  if (r < 0) cpu.ev(EV.MREMAP_FAIL, start, nr);
  up_write(cpu, lw);
  return r;
}

/** mremap_to(): the checks, then move_vma(). */
function* mremap_to(cpu: Cpu, mm: number, start: number, nr: number, newStart: number): Gen<number> {
  const machine = cpu.machine;
  const end = start + nr, newEnd = newStart + nr;
  if (!(nr >= 1) || newStart < 0 || newEnd > machine.L.vaPages) return -1;
  if (newStart < end && start < newEnd) return -1; // EINVAL: the ranges overlap
  const v = find_vma(machine, mm, start); // vma_lookup(addr)
  if (!v || end > v.end) return -1; // EFAULT: the old range is not inside one VMA
  // Moving a file mapping is not modelled (it would move its i_mmap entry and the rmap walk with it).
  if (v.file >= 0) return -1;
  if (vmas(machine, mm).some((w) => w.start < newEnd && newStart < w.end)) return -1;
  // move_vma(): "We'd prefer to avoid failure later on in do_munmap": the new VMA takes a slot, and
  // detaching the middle of v another one. Check both now, so a move never fails half way.
  const need = 1 + (v.start < start && end < v.end ? 1 : 0);
  if (need > freeVmaSlots(machine, mm)) return -1;
  yield* move_vma(cpu, mm, v, start, end, newStart);
  return newStart;
}

/**
 * move_vma(): copy_vma() creates the new VMA (same flags), move_page_tables() moves the entries,
 * and the old range's part of the VMA goes (do_vmi_munmap: no entries are left there to zap).
 * The data oracle's records move with the entries (the checker's mremapBegin/End hooks, src/check/oracle.ts mremapOracleBegin).
 */
function* move_vma(cpu: Cpu, mm: number, v: VmaView, start: number, end: number, newStart: number): Gen<void> {
  const machine = cpu.machine;
  MMDEBUG.mremapBegin(machine, mm, start, newStart, end - start); // first: it refuses a move the oracle cannot follow
  vma_insert(machine, mm, newStart, newStart + (end - start), v.flags);
  // need_rmap_locks / take_rmap_locks(): the anon rmap walk visits an mm's entries by address,
  // so entries moving down could pass a walk going up (found at neither place): then the move
  // holds the anon_vma lock for write, and no walk runs meanwhile (the kernel decides by the
  // anon_vma interval tree's order, copy_vma: new_vma->vm_pgoff <= vma->vm_pgoff)
  const rmapLocks = newStart < start && !(v.flags & VM_SHARED);
  if (rmapLocks) yield* down_write(cpu, anon_vma_lock(machine));
  yield* move_page_tables(cpu, mm, start, end, newStart);
  if (rmapLocks) up_write(cpu, anon_vma_lock(machine));
  yield P.VMA; // the entries are gone from the old range and flushed; the VMA is still there
  vma_detach_range(machine, mm, v, start, end);
  MMDEBUG.mremapEnd(machine, mm, start, end - start);
  // the moved entries were flushed from the old range (move_ptes flushes before its PTL is dropped)
  MMDEBUG.tlbSynced(cpu, mm, start, end, 'move_vma');
  MMDEBUG.tlbSynced(cpu, mm, newStart, newStart + (end - start), 'move_vma');
  cpu.ev(EV.MREMAP, start, newStart, end - start);
}

/**
 * move_page_tables(): in extents that stay inside one old and one new PTE table (the kernel's
 * get_extent(): the next PMD boundary of either address ends an extent).
 */
export function* move_page_tables(cpu: Cpu, mm: number, start: number, end: number, newStart: number): Gen<void> {
  for (let old = start, nw = newStart; old < end; ) {
    const extent = Math.min(end - old, PTRS_PER_PTE - (old % PTRS_PER_PTE), PTRS_PER_PTE - (nw % PTRS_PER_PTE));
    yield* move_ptes(cpu, mm, old, old + extent, nw);
    old += extent;
    nw += extent;
  }
}

/**
 * move_ptes(): move the entries of [old, oldEnd) (one PTE table) to newStart.. (one PTE table).
 * Each old entry is taken with ptep_get_and_clear(), so a young or dirty bit that the MMU sets at
 * the same moment (a compare-and-swap on the entry) is either in the value we move or its CAS
 * fails and it walks again and faults; the entry is installed unchanged at the new address.
 */
function* move_ptes(cpu: Cpu, mm: number, old: number, oldEnd: number, newStart: number): Gen<void> {
  const machine = cpu.machine;
  const m = cpu.m;
  const otable = machine.tableIndex(mm, old), ntable = machine.tableIndex(mm, newStart);
  if (!Atomics.load(m, machine.pgdWord(otable))) return; // get_old_pmd(): nothing mapped there
  Atomics.compareExchange(m, machine.pgdWord(ntable), 0, 1); // alloc_new_pmd() / pte_alloc()
  const oldPtl = machine.ptlOf(otable), newPtl = machine.ptlOf(ntable);
  // The old PTL first, then the new one nested when it is another lock (spin_lock_nested), as the
  // kernel does. "Both old and new PTL matter: the old one for racing with folio_mkclean(), the new
  // one to make sure the physical page stays valid until the TLB entry for the old mapping has been
  // flushed" (move_ptes): whoever takes the old PTL finds each entry either still there or moved,
  // and nothing that takes the new PTL can unmap the page from its new address and free it while a
  // CPU can still store to it through the old address. The order of the two cannot deadlock: "the
  // exclusive mmap_lock prevents deadlock", no other mover of this mm runs, and no other path takes
  // two PTLs of one mm (fork's pair is child then parent).
  yield* spin_lock(cpu, oldPtl);
  if (newPtl !== oldPtl) yield* spin_lock(cpu, newPtl);
  yield P.LOCKED;
  let forceFlush = false;
  let moved = 0;
  for (let vpn = old, nvpn = newStart; vpn < oldEnd; vpn++, nvpn++) {
    const optep = machine.ptep(mm, vpn), nptep = machine.ptep(mm, nvpn);
    const cur = ptep_get(cpu, nptep);
    if (!pte_none(cur)) cpu.violation('mremap-target-not-none', 'move_ptes', { mm, vpn: nvpn, pte: pteToString(cur) }); // VM_WARN_ON_ONCE
    if (pte_none(ptep_get(cpu, optep))) continue;
    const pte = yield* ptep_get_and_clear(cpu, optep);
    if (pte_none(pte)) continue;
    // a present entry moved: some CPU may still hold it in its TLB (and store through it)
    if (pte_present(pte)) forceFlush = true;
    yield* set_pte_at(cpu, nptep, pte); // young and dirty kept
    moved++;
    if (vpn + 1 < oldEnd) yield P.SET_PTE;
  }
  cpu.counters[EV.MREMAP_PTES] += moved;
  // Flush before dropping the PTLs (the kernel flushes here whenever it moved a present entry):
  // once the PTLs are dropped, a path holding only the new PTL (in the kernel, reclaim or migration
  // through the rmap, without the mmap_lock) could unmap and free the page while a CPU still writes
  // it through a TLB entry for the old address. In the model every such path needs the mmap_lock,
  // so the flush just has to happen before mremap returns; a store between the move and this flush
  // reaches the moved page, and the data oracle allows for it (mremapRace). Without the flush, stale
  // entries outlive the move and the oracle reports the stores lost at the new address.
  if (forceFlush) yield* flush_tlb_range(cpu, mm, old, oldEnd);
  if (newPtl !== oldPtl) spin_unlock(cpu, newPtl);
  spin_unlock(cpu, oldPtl);
}
