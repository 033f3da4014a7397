// Models mm/mremap.c for mremap(addr, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, new_addr):
// mremap_to -> (MREMAP_FIXED) do_munmap of the target -> move_vma -> copy_vma (a new VMA, or a merge
// with the target's neighbours), move_page_tables -> move_ptes, then the old range's VMA part goes.
// The page-table entries move; the folios do not: mapcounts, refcounts, AnonExclusive and RSS stay
// as they are (rmap is by folio, and a move is not an unmap). Moving part of a large folio leaves it
// mapped at two ranges of one mm, and after a merge one VMA may map its pages out of order.
// File mappings (shared and private) move too: the new VMA keeps the file and its page offset, is
// linked into the file's i_mmap before any entry moves, and the old range is unlinked after; an
// rmap walker (writeback's folio_mkclean) never misses a moving entry, because it visits the new
// mapping after the old one, or because move_ptes holds the rmap locks (need_rmap_locks).
// Deliberate differences: no resize and no MREMAP_DONTUNMAP; one entry at a time (the kernel's
// mremap_folio_pte_batch batching of large folios is not modelled); every check, the VMA slots the
// move may need included, is made before anything changes (the kernel may have unmapped the target
// when it finds the source invalid or the map count too high).
// Tool side: the data oracle's records move with the entries inside do_mremap (callers bracket
// nothing), and a page's owner CPU (vpn % cpus) must stay the same, so moves must be by a multiple
// of cpus pages (anything else throws, before anything changes unless the target was mapped).
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
import {
  copy_vma, do_vmi_munmap, find_vma, freeVmaSlots, i_mmap_prune, i_mmap_slots, type VmaView, vma_detach_range, vma_merged, vmas,
} from './mmap.js';
import { MMDEBUG } from '../include/linux/mmdebug.js';
import { anon_vma_lock } from './rmap.js';
import { VM_SHARED } from '../../machine/machine.js';

/**
 * mremap() of nr pages at start to newStart (MREMAP_MAYMOVE | MREMAP_FIXED, same size) under the
 * mmap_lock held for write. Returns newStart, or -1 with nothing changed: nr < 1, the destination
 * outside the address space or overlapping the source (EINVAL), the source not inside one VMA
 * (EFAULT), or fewer free VMA slots than the move may need (ENOMEM: see mremap_to).
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

/**
 * The VMA slots a move of [start, end) to [newStart, newEnd) may take, from the VMAs before it:
 * one for a hole the target's unmap punches in a VMA, one for the new VMA (none if it merges), one
 * for the split when the source is the middle of its VMA. An upper bound (a merge saves a slot, and
 * the target's unmap may free some), as the kernel's check_mremap_params() / prep_move_vma() check
 * the map count against the worst case before they start.
 */
export function mremapSlotsNeeded(list: readonly Pick<VmaView, 'start' | 'end'>[], start: number, end: number, newStart: number, newEnd: number): number {
  const v = list.find((w) => w.start <= start && start < w.end);
  const targetHole = list.some((w) => w.start < newStart && newEnd < w.end) ? 1 : 0;
  return targetHole + 1 + (v && v.start < start && end < v.end ? 1 : 0);
}

/** mremap_to(): the checks, MREMAP_FIXED's unmap of whatever is at the target, then move_vma(). */
function* mremap_to(cpu: Cpu, mm: number, start: number, nr: number, newStart: number): Gen<number> {
  const machine = cpu.machine;
  const end = start + nr, newEnd = newStart + nr;
  if (!(nr >= 1) || newStart < 0 || newEnd > machine.L.vaPages) return -1;
  if (newStart < end && start < newEnd) return -1; // EINVAL: the ranges overlap
  const list = vmas(machine, mm);
  let v = find_vma(machine, mm, start); // vma_lookup(addr)
  if (!v || end > v.end) return -1; // EFAULT: the old range is not inside one VMA
  // check_mremap_params() / prep_move_vma(): "We'd prefer to avoid failure later on in do_munmap"
  if (mremapSlotsNeeded(list, start, end, newStart, newEnd) > freeVmaSlots(machine, mm)) return -1;
  if (list.some((w) => w.start < newEnd && newStart < w.end)) {
    // MREMAP_FIXED: "VMA is moved to dst address, and munmap dst first", under the same mmap_lock:
    // the target's entries are zapped and flushed and its file mappings unlinked, as by munmap
    const r: number = yield* do_vmi_munmap(cpu, mm, newStart, newEnd);
    if (r < 0) throw new Error('mremap_to: the target unmap failed after the slot check'); // cannot happen
    cpu.counters[EV.MREMAP_UNMAP_TARGET]++;
    // "If we remap a portion of a VMA elsewhere in the same VMA, this can invalidate the old VMA.
    // Reset." The target's unmap may have split v.
    v = find_vma(machine, mm, start)!;
  }
  yield* move_vma(cpu, mm, v, start, end, newStart);
  return newStart;
}

/**
 * move_vma() -> copy_vma_and_data(): copy_vma() creates the new VMA (or merges the range into a
 * neighbour), move_page_tables() moves the entries, and the old range's part of the VMA goes
 * (do_vmi_munmap: no entries are left there to zap), then its file mapping's i_mmap entry if no
 * VMA backs it any more. The data oracle's records move with the entries (the checker's
 * mremapBegin/End hooks, src/check/oracle.ts mremapOracleBegin).
 */
function* move_vma(cpu: Cpu, mm: number, v: VmaView, start: number, end: number, newStart: number): Gen<void> {
  const machine = cpu.machine;
  const nr = end - start;
  MMDEBUG.mremapBegin(machine, mm, start, newStart, nr); // first: it refuses a move the oracle cannot follow
  const copied = (yield* copy_vma(cpu, mm, v, start, nr, newStart))!; // cannot fail: slots checked in mremap_to
  const needRmapLocks = v.file >= 0 && need_rmap_locks(cpu, mm, v, start, end, newStart);
  if (v.file >= 0) cpu.counters[EV.MREMAP_FILE]++;
  if (needRmapLocks) cpu.counters[EV.MREMAP_RMAP_LOCKS]++;
  // the anon rmap walk visits an mm's entries by address, so entries of a private mapping moving
  // down could pass a walk going up (found at neither place): then the move holds the anon_vma
  // lock for write, and no anon walk runs meanwhile (need_rmap_locks / take_rmap_locks for the
  // anon_vma; the kernel decides by the interval tree's order, copy_vma: new_vma->vm_pgoff <= vma->vm_pgoff)
  const anonRmapLocks = newStart < start && !(v.flags & VM_SHARED);
  if (anonRmapLocks) yield* down_write(cpu, anon_vma_lock(machine));
  yield* move_page_tables(cpu, mm, start, end, newStart, needRmapLocks ? v.file : -1);
  if (anonRmapLocks) up_write(cpu, anon_vma_lock(machine));
  yield P.VMA; // the entries are gone from the old range and flushed; the VMA is still there
  // the VMA that holds the old range now: v, or (anon) the VMA copy_vma merged the new range into
  vma_detach_range(machine, mm, find_vma(machine, mm, start)!, start, end);
  if (v.file >= 0) yield* i_mmap_prune(cpu, mm); // unlink_file_vma(), once the old range is empty
  MMDEBUG.mremapEnd(machine, mm, start, nr);
  // the moved entries were flushed from the old range (move_ptes flushes before its PTL is dropped)
  MMDEBUG.tlbSynced(cpu, mm, start, end, 'move_vma');
  MMDEBUG.tlbSynced(cpu, mm, newStart, newStart + nr, 'move_vma');
  // a merge is judged once the entries are in: one VMA may now map a folio's pages out of order
  if (copied.merged) {
    const w = find_vma(machine, mm, newStart);
    if (w) vma_merged(cpu, mm, w, true, false);
  }
  cpu.ev(EV.MREMAP, start, newStart, nr);
}

/**
 * copy_vma()'s need_rmap_locks for a file mapping: must move_ptes take the rmap locks
 * (i_mmap_rwsem for write) around each extent? An rmap walk holding i_mmap_rwsem for read visits
 * the mappings in one order and each mapping's entries under their PTL; it finds an entry that
 * moves "either the old pte, or the new pte, or both" only if it visits the old mapping before the
 * new one (move_ptes' comment). The kernel knows the order from vm_pgoff (the interval tree's key:
 * a new VMA comes after the old one, a merged one may not: *need_rmap_locks = new_vma->vm_pgoff <=
 * vma->vm_pgoff); the model's walk order is the i_mmap slot order, so the locks are needed unless
 * an entry mapping the old range comes before one mapping the new range. Deviation
 * mremap-rmap-unlocked trusts the order always (never takes the locks), the class of 948f017b093a.
 */
function need_rmap_locks(cpu: Cpu, mm: number, v: VmaView, start: number, end: number, newStart: number): boolean {
  if (cpu.inj.mremapRmapUnlocked) return false;
  const lin = v.pgoff - v.start; // pgoff - vpn of the old mapping
  const newLin = lin + start - newStart;
  const olds = i_mmap_slots(cpu.machine, v.file, mm, start, end, lin);
  const news = i_mmap_slots(cpu.machine, v.file, mm, newStart, newStart + (end - start), newLin);
  return !(olds.length && news.length && Math.min(...olds) < Math.max(...news));
}

/**
 * move_page_tables(): in extents that stay inside one old and one new PTE table (the kernel's
 * get_extent(): the next PMD boundary of either address ends an extent). rmapFile >= 0: take that
 * file's rmap lock around each extent (need_rmap_locks).
 */
export function* move_page_tables(cpu: Cpu, mm: number, start: number, end: number, newStart: number, rmapFile = -1): Gen<void> {
  for (let old = start, nw = newStart; old < end; ) {
    const extent = Math.min(end - old, PTRS_PER_PTE - (old % PTRS_PER_PTE), PTRS_PER_PTE - (nw % PTRS_PER_PTE));
    yield* move_ptes(cpu, mm, old, old + extent, nw, rmapFile);
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
function* move_ptes(cpu: Cpu, mm: number, old: number, oldEnd: number, newStart: number, rmapFile: number): Gen<void> {
  const machine = cpu.machine;
  const m = cpu.m;
  const otable = machine.tableIndex(mm, old), ntable = machine.tableIndex(mm, newStart);
  if (!Atomics.load(m, machine.pgdWord(otable))) return; // get_old_pmd(): nothing mapped there
  // take_rmap_locks(): with the file's i_mmap_rwsem held for write no rmap walk of the file runs
  // meanwhile, so none can see this extent half moved (taken before the PTLs, as the kernel does)
  const rmapLock = rmapFile >= 0 ? machine.L.immapLock + rmapFile : -1;
  if (rmapLock >= 0) yield* down_write(cpu, rmapLock);
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
  // a file mapping's rmap walk must find every moved entry: under the rmap locks, or in walk order
  if (moved) MMDEBUG.rmapMove(cpu, mm, old, oldEnd, newStart, rmapLock >= 0);
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
  if (rmapLock >= 0) up_write(cpu, rmapLock); // drop_rmap_locks()
}
