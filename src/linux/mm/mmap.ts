// Models mm/mmap.c and mm/vma.c: the VMA table of an mm (a fixed array of slots here, not a maple
// tree), mmap with get_unmapped_area, munmap with VMA splitting, VMA merging (vma_merge_new_range on
// mmap and mremap's copy_vma, the merge after vma_modify_flags on mprotect and madvise), and
// exit_mmap. Compatibility is the kernel's is_mergeable_vma() and can_vma_merge_before/after(): the
// same flags and file, and for a file the pages contiguous in it (vm_pgoff). The model has no
// anon_vma and no anon vm_pgoff, so anon VMAs merge on equal flags and adjacency alone (the kernel
// also wants is_mergeable_anon_vma() and a contiguous vm_pgoff; docs/model.md, "VMAs").
import type { Cpu } from '../../machine/cpu.js';
import type { Injections } from '../../machine/deviations.js';
import { type Gen, P } from '../../machine/gen.js';
import { EV } from '../../machine/events.js';
import { Machine, VM_LIVE } from '../../machine/machine.js';
import { MM } from '../../machine/layout.js';
import { PTRS_PER_PTE } from '../../machine/params.js';
import { pte_pfn, pte_present, pte_special } from '../../machine/pte.js';
import { down_write, up_write } from '../kernel/locking/rwsem.js';
import { tlb_finish_mmu, tlb_gather_mmu } from './mmu_gather.js';
import { unmap_page_range } from './memory.js';
import { flush_tlb_mm } from '../../machine/tlb.js';
import { MMDEBUG } from '../include/linux/mmdebug.js';

export interface VmaView {
  slot: number;
  start: number; // vpn
  end: number; // vpn, exclusive
  flags: number;
  /** vm_file: the file mapped, or -1 for anonymous memory */
  file: number;
  /** vm_pgoff: the file page mapped at start (0 for anon) */
  pgoff: number;
}

export function readVma(machine: Machine, mm: number, slot: number): VmaView | null {
  const b = machine.vmaBase(mm, slot);
  const flags = Atomics.load(machine.m, b + 2);
  if (!(flags & VM_LIVE)) return null;
  const m = machine.m;
  return { slot, start: Atomics.load(m, b), end: Atomics.load(m, b + 1), flags, file: Atomics.load(m, b + 3) - 1, pgoff: Atomics.load(m, b + 4) };
}

/** The file page vpn maps in file VMA v (linear_page_index()). */
export const linear_page_index = (v: VmaView, vpn: number): number => v.pgoff + (vpn - v.start);

/** All live VMAs of mm, sorted by start. */
export function vmas(machine: Machine, mm: number): VmaView[] {
  const out: VmaView[] = [];
  for (let s = 0; s < machine.L.maxVmas; s++) {
    const v = readVma(machine, mm, s);
    if (!v) continue;
    // insertion by start, after any equal start (the order a stable sort gives; a dozen slots:
    // cheaper than Array.prototype.sort calling back a comparator)
    let i = out.length;
    out.push(v);
    while (i > 0 && out[i - 1].start > v.start) {
      out[i] = out[i - 1];
      i--;
    }
    out[i] = v;
  }
  return out;
}

/** find_vma() with the containment check of vma_lookup(): the VMA containing vpn, or null. */
export function find_vma(machine: Machine, mm: number, vpn: number): VmaView | null {
  const m = machine.m;
  for (let s = 0; s < machine.L.maxVmas; s++) {
    // readVma's loads in readVma's order, but a view is made only for the VMA that contains vpn
    const b = machine.vmaBase(mm, s);
    const flags = Atomics.load(m, b + 2);
    if (!(flags & VM_LIVE)) continue;
    const start = Atomics.load(m, b), end = Atomics.load(m, b + 1);
    if (vpn >= start && vpn < end) return { slot: s, start, end, flags, file: Atomics.load(m, b + 3) - 1, pgoff: Atomics.load(m, b + 4) };
  }
  return null;
}

/**
 * find_vma() with plain reads, for the checker at a PTL release (the VMAs are settled there, and
 * it runs at every release: no Atomics cost). The start, end and flags of the VMA containing vpn.
 */
export function find_vma_plain(machine: Machine, mm: number, vpn: number): { start: number; end: number; flags: number } | null {
  const m = machine.m;
  for (let s = 0; s < machine.L.maxVmas; s++) {
    const b = machine.vmaBase(mm, s);
    const flags = m[b + 2];
    if (flags & VM_LIVE && vpn >= m[b] && vpn < m[b + 1]) return { start: m[b], end: m[b + 1], flags };
  }
  return null;
}

/**
 * Write slot as the part [start, end) of VMA v (same file; the page offset follows start), with
 * flags. FLAGS is cleared first and set last, so a lockless reader never sees a half-written VMA live.
 */
function writeVma(machine: Machine, mm: number, slot: number, v: Pick<VmaView, 'start' | 'file' | 'pgoff'>, start: number, end: number, flags: number): void {
  const b = machine.vmaBase(mm, slot);
  const m = machine.m;
  Atomics.store(m, b + 2, 0);
  Atomics.store(m, b, start);
  Atomics.store(m, b + 1, end);
  Atomics.store(m, b + 3, v.file + 1);
  Atomics.store(m, b + 4, v.file >= 0 ? v.pgoff + (start - v.start) : 0);
  Atomics.store(m, b + 2, flags | VM_LIVE);
}
/** vm_area_dup() for fork: the child gets the same VMA in the same slot. */
export function copyVma(machine: Machine, child: number, v: VmaView): void {
  writeVma(machine, child, v.slot, v, v.start, v.end, v.flags);
}
function clearVma(machine: Machine, mm: number, slot: number): void {
  Atomics.store(machine.m, machine.vmaBase(mm, slot) + 2, 0);
}
function freeSlot(machine: Machine, mm: number): number {
  for (let s = 0; s < machine.L.maxVmas; s++) if (!readVma(machine, mm, s)) return s;
  return -1;
}

/**
 * get_unmapped_area(): the first gap at or after hint (wrapping once) that fits len pages at the
 * given alignment. Page 0..PTRS_PER_PTE-1 stays unmapped (the NULL guard). Returns vpn or -1.
 */
export function get_unmapped_area(machine: Machine, mm: number, len: number, align: number, hint: number, alignOff = 0): number {
  const top = machine.L.vaPages;
  const list = vmas(machine, mm);
  // the first vpn >= x that is alignOff past a multiple of align
  const up = (x: number): number => Math.ceil((x - alignOff) / align) * align + alignOff;
  const tryFrom = (from: number, limit: number): number => {
    let start = up(Math.max(PTRS_PER_PTE, from));
    for (;;) {
      if (start + len > limit) return -1;
      const clash = list.find((v) => v.start < start + len && start < v.end);
      if (!clash) return start;
      start = up(clash.end);
    }
  };
  const a = tryFrom(hint, top);
  return a >= 0 ? a : tryFrom(0, top);
}

/**
 * do_mmap(): an anonymous private mapping, or (file >= 0) a mapping of file pages [pgoff,
 * pgoff + len), shared (VM_SHARED) or private; returns the start vpn or -1 (ENOMEM, or EEXIST for
 * a fixed mapping). fixed models MAP_FIXED_NOREPLACE: exactly at hint, or fail if anything is
 * there. A file mapping is placed so that start - pgoff is a multiple of align (as
 * thp_get_unmapped_area aligns file mappings for large folios), and is linked into the file's
 * i_mmap (vma_link_file) under its i_mmap_rwsem, so the rmap walk of writeback finds it. A new
 * range next to a compatible VMA extends it (__mmap_region -> vma_merge_new_range) instead of
 * taking a slot, so ENOMEM for want of a slot comes only when it merges with nothing.
 */
export function* do_mmap(cpu: Cpu, mm: number, len: number, align: number, hint: number, flags: number, fixed = false, file = -1, pgoff = 0): Gen<number> {
  const machine = cpu.machine;
  const lw = machine.mmWord(mm, MM.MMAP_LOCK);
  yield* down_write(cpu, lw);
  yield P.VMA;
  let start = -1;
  if (fixed) {
    const fits = hint >= 0 && hint + len <= machine.L.vaPages && !vmas(machine, mm).some((v) => v.start < hint + len && hint < v.end);
    start = fits ? hint : -1;
  } else start = get_unmapped_area(machine, mm, len, align, hint, file >= 0 ? (pgoff % align) : 0);
  if (start >= 0) {
    const r: VmaRange = { start, end: start + len, flags: flags | VM_LIVE, file, pgoff: file >= 0 ? pgoff : 0 };
    const plan = vma_merge_plan(machine, mm, r, cpu.inj);
    const slot = plan ? -1 : freeSlot(machine, mm);
    if (plan || slot >= 0) {
      if (file >= 0) yield* i_mmap_insert(cpu, file, mm, start, start + len, pgoff);
      if (plan) commit_merge(cpu, mm, r, plan, true);
      else writeVma(machine, mm, slot, r, start, start + len, flags);
      cpu.ev(EV.MMAP, start, len);
    } else start = -1; // ENOMEM: no VMA slot (the model's map_count limit) and nothing to merge with
  }
  if (start < 0) cpu.ev(EV.MMAP_FAIL, len);
  up_write(cpu, lw);
  return start;
}

/**
 * do_munmap(): detach [start, end) from every VMA it overlaps (splitting when it punches a hole),
 * then zap the range. Returns 0, or -1 when a split needs a VMA slot and none is free (ENOMEM).
 */
export function* do_munmap(cpu: Cpu, mm: number, start: number, end: number): Gen<number> {
  const machine = cpu.machine;
  const lw = machine.mmWord(mm, MM.MMAP_LOCK);
  yield* down_write(cpu, lw);
  yield P.VMA;
  const r: number = yield* do_vmi_munmap(cpu, mm, start, end);
  if (r === 0) cpu.ev(EV.MUNMAP, start, end - start);
  up_write(cpu, lw);
  return r;
}

/**
 * do_vmi_munmap() with the mmap_lock held for write (do_munmap, and mremap's MREMAP_FIXED unmap of
 * its target): detach, zap, flush, and only then unlink the file mappings from their i_mmap.
 * Returns 0, or -1 (ENOMEM, nothing changed) when the holes it punches need more free slots than
 * there are.
 */
export function* do_vmi_munmap(cpu: Cpu, mm: number, start: number, end: number): Gen<number> {
  const machine = cpu.machine;
  const hit = vmas(machine, mm).filter((v) => v.start < end && start < v.end);
  const holes = hit.filter((v) => v.start < start && end < v.end).length;
  if (holes > freeVmaSlots(machine, mm)) return -1;
  const tlb = tlb_gather_mmu(cpu, mm);
  for (const v of hit) {
    // vms_gather_munmap_vmas(): detach first, then unmap_region() zaps what was detached.
    if (v.start < start && end < v.end) {
      writeVma(machine, mm, v.slot, v, v.start, start, v.flags);
      writeVma(machine, mm, freeSlot(machine, mm), v, end, v.end, v.flags);
    } else if (v.start < start) writeVma(machine, mm, v.slot, v, v.start, start, v.flags);
    else if (end < v.end) writeVma(machine, mm, v.slot, v, end, v.end, v.flags);
    else clearVma(machine, mm, v.slot);
    yield* unmap_page_range(cpu, tlb, v, start, end);
  }
  yield* tlb_finish_mmu(cpu, tlb);
  MMDEBUG.tlbSynced(cpu, mm, start, end, 'do_munmap');
  // free_pgtables() -> unlink_file_vma(): only now, after the zap, does the rmap forget the mapping
  if (hit.some((v) => v.file >= 0)) yield* i_mmap_prune(cpu, mm);
  return 0;
}

/** exit_mmap(): the last mmput() tears down every mapping and page table of the mm. */
export function* exit_mmap(cpu: Cpu, mm: number): Gen<void> {
  const machine = cpu.machine;
  const lw = machine.mmWord(mm, MM.MMAP_LOCK);
  yield* down_write(cpu, lw);
  const tlb = tlb_gather_mmu(cpu, mm, true);
  for (const v of vmas(machine, mm)) {
    yield* unmap_page_range(cpu, tlb, v, v.start, v.end);
    clearVma(machine, mm, v.slot);
  }
  yield* tlb_finish_mmu(cpu, tlb);
  yield* flush_tlb_mm(cpu, mm);
  MMDEBUG.tlbSynced(cpu, mm, 0, machine.L.vaPages, 'exit_mmap');
  yield* i_mmap_prune(cpu, mm); // unlink_file_vma() of every file VMA, after the zap
  // free_pgtables(): every table must be empty now
  for (let t = 0; t < machine.L.tablesPerMm; t++) {
    const table = mm * machine.L.tablesPerMm + t;
    Atomics.store(machine.m, machine.pgdWord(table), 0);
  }
  up_write(cpu, lw);
}


// ---- VMA splitting and flag changes (madvise, mremap) -------------------------------------------

/** Free VMA slots of mm (the model's mm->map_count limit is maxVmas). */
export function freeVmaSlots(machine: Machine, mm: number): number {
  let free = 0;
  for (let s = 0; s < machine.L.maxVmas; s++) if (!readVma(machine, mm, s)) free++;
  return free;
}

/**
 * split_vma() (mmap_lock held for write): split v at vpn at (v.start < at < v.end). v's slot keeps
 * [v.start, at), a new slot gets [at, v.end) with the same flags; returns that upper part, or null
 * (ENOMEM: no free slot) with nothing changed. The upper part is written before the lower one
 * shrinks, so a lockless reader of the VMA table (the workload picks ranges without the lock) sees
 * an overlap for an instant, never a hole. A large folio may straddle at: it is then mapped by two
 * VMAs, and every batch (zap, fork) stops at the VMA end.
 */
export function split_vma(machine: Machine, mm: number, v: VmaView, at: number): VmaView | null {
  if (at <= v.start || at >= v.end) throw new Error(`split_vma: ${at} is not inside [${v.start}, ${v.end})`);
  const slot = freeSlot(machine, mm);
  if (slot < 0) return null;
  writeVma(machine, mm, slot, v, at, v.end, v.flags);
  writeVma(machine, mm, v.slot, v, v.start, at, v.flags);
  return { slot, start: at, end: v.end, flags: v.flags, file: v.file, pgoff: v.file >= 0 ? linear_page_index(v, at) : 0 };
}

/**
 * vma_modify_flags() over [start, end) (mmap_lock held for write): every VMA part inside the range
 * gets (flags | set) & ~clear. A VMA whose flags change and that sticks out of the range is split
 * at the range edges first (a VMA whose flags stay is left alone, as madvise_update_vma does);
 * changed parts then merge with compatible neighbours (vma_mergeable: a DOFORK after a DONTFORK
 * gives the VMA back whole). Deliberate difference: the kernel's vma_merge_existing_range() moves
 * a range at a VMA's edge into a compatible neighbour without splitting first, so at the slot
 * limit the model returns ENOMEM where the kernel succeeds; the VMAs it leaves are the same.
 * Returns 0; -1 (ENOMEM) with nothing changed when the splits need more free slots than there
 * are; -1 (ENOMEM) after changing what is mapped when the range has holes, like madvise(2).
 * cpu (optional): the deviations the merge obeys and the CPU the merge events are counted on.
 */
export function vma_modify_flags(machine: Machine, mm: number, start: number, end: number, set: number, clear: number, cpu?: Cpu): number {
  const hit = vmas(machine, mm).filter((v) => v.start < end && start < v.end);
  const newFlags = (v: VmaView): number => ((v.flags | set) & ~clear) | VM_LIVE;
  const change = hit.filter((v) => newFlags(v) !== v.flags);
  let need = 0;
  for (const v of change) need += (v.start < start ? 1 : 0) + (end < v.end ? 1 : 0);
  if (need > freeVmaSlots(machine, mm)) return -1;
  for (const v of change) {
    let cur: VmaView = v;
    if (cur.start < start) cur = split_vma(machine, mm, cur, start)!;
    if (end < cur.end) {
      split_vma(machine, mm, cur, end);
      cur = { ...cur, end };
    }
    writeVma(machine, mm, cur.slot, cur, cur.start, cur.end, newFlags(cur));
  }
  if (change.length) vma_merge_around(machine, mm, start, end, cpu);
  let covered = 0;
  for (const v of hit) covered += Math.min(end, v.end) - Math.max(start, v.start);
  return covered === end - start ? 0 : -1;
}

/** Merge adjacent compatible VMAs whose common boundary lies in [start, end]. */
function vma_merge_around(machine: Machine, mm: number, start: number, end: number, cpu?: Cpu): void {
  const grown = new Set<number>();
  for (;;) {
    const list = vmas(machine, mm);
    let merged = false;
    for (let i = 0; i + 1 < list.length && !merged; i++) {
      const a = list[i], b = list[i + 1];
      if (a.end < start || a.end > end || !vma_mergeable(a, b, cpu?.inj)) continue;
      // grow a over b first, then drop b: a lockless reader sees an overlap, never a hole
      writeVma(machine, mm, a.slot, a, a.start, b.end, a.flags);
      clearVma(machine, mm, b.slot);
      grown.add(a.slot);
      grown.delete(b.slot);
      merged = true;
    }
    if (!merged) break;
  }
  if (!cpu) return;
  for (const slot of grown) {
    const v = readVma(machine, mm, slot)!;
    vma_merged(cpu, mm, v);
  }
}

// ---- VMA merging (mm/vma.c) --------------------------------------------------------------------

/** A VMA or a range about to become one: where, with what flags, mapping what. */
export type VmaRange = Pick<VmaView, 'start' | 'end' | 'flags' | 'file' | 'pgoff'>;

/**
 * May a and b (a just below b: a.end === b.start) be one VMA? is_mergeable_vma() (the same flags
 * and file) with can_vma_merge_after()/can_vma_merge_before()'s vm_pgoff test for a file: b's first
 * page is the file page right after a's last. Anon VMAs: the model has no anon_vma, and its anon
 * rmap walk finds mappings by scanning the anon VMAs, not through vm_pgoff, so equal flags and
 * adjacency are enough (the kernel also wants compatible anon_vmas and a contiguous vm_pgoff; so it
 * never merges the two halves of a faulted anon range moved apart in swapped order, which the
 * model does: docs/model.md, "VMAs"). Deviation vma-merge-pgoff leaves out the vm_pgoff test.
 */
export function vma_mergeable(a: VmaRange, b: VmaRange, inj?: Injections): boolean {
  if (a.end !== b.start || (a.flags | VM_LIVE) !== (b.flags | VM_LIVE) || a.file !== b.file) return false;
  if (a.file < 0 || inj?.vmaMergePgoff) return true;
  return a.pgoff + (a.end - a.start) === b.pgoff;
}

/** The neighbours a new range [r.start, r.end) merges with (vma_merge_new_range's can_vma_merge_left/right). */
export interface MergePlan {
  prev: VmaView | null;
  next: VmaView | null;
}

/**
 * vma_merge_new_range()'s decision for a new range r (nothing mapped there): the VMA ending at
 * r.start and the one starting at r.end it can merge with, or null (a new VMA is needed).
 */
export function vma_merge_plan(machine: Machine, mm: number, r: VmaRange, inj?: Injections): MergePlan | null {
  let prev: VmaView | null = null, next: VmaView | null = null;
  for (const v of vmas(machine, mm)) {
    if (v.end === r.start && vma_mergeable(v, r, inj)) prev = v;
    else if (v.start === r.end && vma_mergeable(r, v, inj)) next = v;
  }
  return prev || next ? { prev, next } : null;
}

/**
 * vma_merge_new_range()'s commit (vma_expand / the next VMA's start moved down): r becomes part of
 * prev, of next, or of both (prev grows over r and next, next goes). Returns the merged VMA. The
 * grown VMA is written before the one it swallows goes (an overlap, never a hole, for a lockless
 * reader; next moving down is rewritten in place: the workload's lockless pick may miss it for an
 * instant, every kernel reader holds the mmap_lock).
 */
function commit_merge(cpu: Cpu, mm: number, r: VmaRange, plan: MergePlan, scan: boolean): VmaView {
  const machine = cpu.machine;
  const { prev, next } = plan;
  let slot: number;
  if (prev && next) {
    writeVma(machine, mm, prev.slot, prev, prev.start, next.end, prev.flags);
    clearVma(machine, mm, next.slot);
    slot = prev.slot;
  } else if (prev) {
    writeVma(machine, mm, prev.slot, prev, prev.start, r.end, prev.flags);
    slot = prev.slot;
  } else {
    // next's start moves down to r.start, and its vm_pgoff with it: r's own (the offset fix of
    // "mm/mmap: Fix vma_merge() offset when expanding the next vma")
    writeVma(machine, mm, next!.slot, r, r.start, next!.end, next!.flags);
    slot = next!.slot;
  }
  const v = readVma(machine, mm, slot)!;
  // scan: two VMAs joined by the new range, whose pages may now sit out of order in one VMA (a
  // range merged alone adds no entry; mremap scans once its entries have moved in)
  vma_merged(cpu, mm, v, scan && !!(prev && next));
  return v;
}

/**
 * A merge produced v: count it (count), and (check) count vma.ooo if v now maps a folio's pages
 * out of order. Counted only (no cpu.ev): the trace hash does not see these.
 */
export function vma_merged(cpu: Cpu, mm: number, v: VmaView, check = true, count = true): void {
  if (count) cpu.counters[EV.VMA_MERGE]++;
  if (check && vma_maps_folio_out_of_order(cpu.machine, mm, v.start, v.end)) cpu.counters[EV.VMA_OOO]++;
}

/**
 * Do the present entries of [start, end) of mm map two pages of one folio in the opposite order to
 * their addresses (a higher address mapping a lower page of the folio)? The check behind the
 * vma.ooo event, run on one VMA where a merge produced it: reads only (the entries and struct page
 * words, with no lock: the merge holds the mmap_lock alone, and an entry an rmap walker changes
 * meanwhile can at worst make it miss or see one such state). Order-0 folios cannot count.
 */
export function vma_maps_folio_out_of_order(machine: Machine, mm: number, start: number, end: number): boolean {
  const { m, L } = machine;
  const highest = new Map<number, number>(); // folio -> the highest page of it mapped so far
  for (let vpn = start; vpn < end; ) {
    const tableEnd = Math.min(end, (vpn & ~(PTRS_PER_PTE - 1)) + PTRS_PER_PTE);
    if (!Atomics.load(m, machine.pgdWord(machine.tableIndex(mm, vpn)))) {
      vpn = tableEnd;
      continue;
    }
    for (; vpn < tableEnd; vpn++) {
      const pte = Atomics.load(m, machine.ptep(mm, vpn));
      if (!pte_present(pte) || pte_special(pte)) continue;
      const pfn = pte_pfn(pte);
      if (pfn >= L.pages) continue;
      const folio = Atomics.load(m, L.pHead + pfn);
      const h = highest.get(folio);
      if (h !== undefined && pfn < h) return true;
      if (h === undefined || pfn > h) highest.set(folio, pfn);
    }
  }
  return false;
}

/** The new VMA copy_vma() made for an mremap, and whether it merged with a neighbour. */
export interface CopiedVma {
  vma: VmaView;
  merged: boolean;
}

/**
 * copy_vma() for mremap (mmap_lock held for write, nothing mapped at [newStart, newStart + nr)):
 * the range [start, start + nr) of v gets a VMA at newStart with v's flags and file, its vm_pgoff
 * following (linear_page_index of start), merged with compatible neighbours (vma_merge_new_range)
 * or in a new slot; a file mapping is linked into its i_mmap first (vma_link_file; a merge
 * re-inserts the grown VMA under i_mmap_rwsem, which the model's coalescing i_mmap_insert stands
 * for). Returns null (ENOMEM) with nothing changed when it merges with nothing and no slot is free.
 * An anon range may merge with v itself (the model merges anon VMAs on flags alone); the kernel
 * allows that only for a VMA never faulted, whose vm_pgoff it resets to the new address.
 */
export function* copy_vma(cpu: Cpu, mm: number, v: VmaView, start: number, nr: number, newStart: number): Gen<CopiedVma | null> {
  const machine = cpu.machine;
  const r: VmaRange = { start: newStart, end: newStart + nr, flags: v.flags, file: v.file, pgoff: v.file >= 0 ? linear_page_index(v, start) : 0 };
  const plan = vma_merge_plan(machine, mm, r, cpu.inj);
  const slot = plan ? -1 : freeSlot(machine, mm);
  if (!plan && slot < 0) return null;
  if (r.file >= 0) yield* i_mmap_insert(cpu, r.file, mm, r.start, r.end, r.pgoff);
  if (plan) return { vma: commit_merge(cpu, mm, r, plan, false), merged: true };
  writeVma(machine, mm, slot, r, r.start, r.end, r.flags);
  return { vma: readVma(machine, mm, slot)!, merged: false };
}

/**
 * Detach [start, end) from v, which contains it (the VMA part of do_vmi_munmap): shrink, split
 * (needs a free slot: returns false with nothing changed if none) or remove v. No PTEs are zapped.
 */
export function vma_detach_range(machine: Machine, mm: number, v: VmaView, start: number, end: number): boolean {
  if (v.start < start && end < v.end) {
    const upper = split_vma(machine, mm, v, end);
    if (!upper) return false;
    writeVma(machine, mm, v.slot, v, v.start, start, v.flags);
  } else if (v.start < start) writeVma(machine, mm, v.slot, v, v.start, start, v.flags);
  else if (end < v.end) writeVma(machine, mm, v.slot, v, end, v.end, v.flags);
  else clearVma(machine, mm, v.slot);
  return true;
}


// ---- i_mmap: the mappings of each file (struct address_space's interval tree) -------------------
// One entry per mapping of a file: (mm, start, end, pgoff), the linear offset pgoff - start saying
// which file page each address maps. Splits (munmap of a middle part, mprotect, madvise, mremap's
// source) leave the entry as it is, a superset of what is mapped; the rmap walk checks every PTE it
// finds against the folio anyway. A new mapping next to or over an entry of the same mm with the
// same linear offset grows that entry instead of taking a slot (the kernel re-inserts a merged VMA
// with its new range), so every file VMA overlaps exactly one entry of its linear offset and the
// entries are never more than the file VMAs. An entry goes once no VMA of its mm maps the file there
// any more, after the zap (unlink_file_vma in free_pgtables), so a walker that takes a PTL of a
// range being zapped waits for the zap's flush instead of missing the mapping. The rmap walk visits
// the entries in slot order, the model's stand-in for the interval tree's order (mremap's
// need_rmap_locks is decided on it).

/**
 * vma_link_file(): add mm's mapping of file pages [pgoff, pgoff + end - start) at [start, end),
 * growing the entries of mm with the same linear offset that overlap or touch it into one (the
 * lowest slot of them keeps it).
 */
export function* i_mmap_insert(cpu: Cpu, file: number, mm: number, start: number, end: number, pgoff: number): Gen<void> {
  const machine = cpu.machine;
  const m = machine.m;
  const lw = machine.L.immapLock + file;
  yield* down_write(cpu, lw); // i_mmap_lock_write()
  const lin = pgoff - start;
  let lo = start, hi = end, keep = -1;
  for (let grew = true; grew; ) {
    grew = false;
    for (let s = 0; s < machine.L.imapSlots; s++) {
      const b = machine.imapBase(file, s);
      if (s === keep || Atomics.load(m, b) !== mm + 1) continue;
      const es = Atomics.load(m, b + 1), ee = Atomics.load(m, b + 2);
      if (Atomics.load(m, b + 3) - es !== lin || ee < lo || hi < es) continue;
      lo = Math.min(lo, es);
      hi = Math.max(hi, ee);
      grew = true;
      if (keep < 0 || s < keep) {
        if (keep >= 0) Atomics.store(m, machine.imapBase(file, keep), 0);
        keep = s;
      } else Atomics.store(m, b, 0);
    }
  }
  if (keep >= 0) {
    const b = machine.imapBase(file, keep);
    Atomics.store(m, b + 1, lo);
    Atomics.store(m, b + 2, hi);
    Atomics.store(m, b + 3, lin + lo);
    up_write(cpu, lw);
    return;
  }
  for (let s = 0; s < machine.L.imapSlots; s++) {
    const b = machine.imapBase(file, s);
    if (Atomics.load(m, b) !== 0) continue;
    Atomics.store(m, b + 1, start);
    Atomics.store(m, b + 2, end);
    Atomics.store(m, b + 3, pgoff);
    Atomics.store(m, b, mm + 1);
    up_write(cpu, lw);
    return;
  }
  up_write(cpu, lw);
  // cannot happen: live entries are at most the live file VMAs of all mms (slots = maxMms * maxVmas)
  throw new Error(`i_mmap of file ${file} is full`);
}

/**
 * The slots of mm's i_mmap entries of file that map some of [start, end) with linear offset lin
 * (pgoff - vpn), in walk order. Read without i_mmap_rwsem by the holder of mm's mmap_lock for
 * write: only mm's own mmap, mremap, munmap and exit change mm's entries.
 */
export function i_mmap_slots(machine: Machine, file: number, mm: number, start: number, end: number, lin: number): number[] {
  const m = machine.m;
  const out: number[] = [];
  for (let s = 0; s < machine.L.imapSlots; s++) {
    const b = machine.imapBase(file, s);
    if (Atomics.load(m, b) !== mm + 1) continue;
    const es = Atomics.load(m, b + 1), ee = Atomics.load(m, b + 2);
    if (Atomics.load(m, b + 3) - es === lin && es < end && start < ee) out.push(s);
  }
  return out;
}

/** unlink_file_vma() for every entry of mm no VMA of mm still backs (after the zap that unmapped it). */
export function* i_mmap_prune(cpu: Cpu, mm: number): Gen<void> {
  const machine = cpu.machine;
  const m = machine.m;
  const live = vmas(machine, mm).filter((v) => v.file >= 0);
  for (let f = 0; f < machine.L.files; f++) {
    const lw = machine.L.immapLock + f;
    yield* down_write(cpu, lw);
    for (let s = 0; s < machine.L.imapSlots; s++) {
      const b = machine.imapBase(f, s);
      if (Atomics.load(m, b) !== mm + 1) continue;
      const start = Atomics.load(m, b + 1), end = Atomics.load(m, b + 2), pgoff = Atomics.load(m, b + 3);
      const backed = live.some((v) => v.file === f && v.start < end && start < v.end && v.pgoff - v.start === pgoff - start);
      if (!backed) Atomics.store(m, b, 0);
    }
    up_write(cpu, lw);
  }
}

/** An i_mmap entry as the rmap walk reads it (i_mmap_rwsem held for read). */
export interface ImapEntry {
  mm: number;
  start: number;
  end: number;
  pgoff: number;
}
export function i_mmap_entries(machine: Machine, file: number): ImapEntry[] {
  const m = machine.m;
  const out: ImapEntry[] = [];
  for (let s = 0; s < machine.L.imapSlots; s++) {
    const b = machine.imapBase(file, s);
    const w = Atomics.load(m, b);
    if (w) out.push({ mm: w - 1, start: Atomics.load(m, b + 1), end: Atomics.load(m, b + 2), pgoff: Atomics.load(m, b + 3) });
  }
  return out;
}
