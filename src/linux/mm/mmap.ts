// Models mm/mmap.c and mm/vma.c: the VMA table of an mm (a fixed array of slots here, not a maple
// tree), mmap with get_unmapped_area, munmap with VMA splitting, and exit_mmap.
import type { Cpu } from '../../machine/cpu.js';
import { type Gen, P } from '../../machine/gen.js';
import { EV } from '../../machine/events.js';
import { Machine, VM_LIVE } from '../../machine/machine.js';
import { MM } from '../../machine/layout.js';
import { PTRS_PER_PTE } from '../../machine/params.js';
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
const ANON = { start: 0, file: -1, pgoff: 0 };
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
 * i_mmap (vma_link_file) under its i_mmap_rwsem, so the rmap walk of writeback finds it.
 */
export function* do_mmap(cpu: Cpu, mm: number, len: number, align: number, hint: number, flags: number, fixed = false, file = -1, pgoff = 0): Gen<number> {
  const machine = cpu.machine;
  const lw = machine.mmWord(mm, MM.MMAP_LOCK);
  yield* down_write(cpu, lw);
  yield P.VMA;
  let start = -1;
  const slot = freeSlot(machine, mm);
  if (slot >= 0 && fixed) {
    const fits = hint >= 0 && hint + len <= machine.L.vaPages && !vmas(machine, mm).some((v) => v.start < hint + len && hint < v.end);
    start = fits ? hint : -1;
  } else if (slot >= 0) start = get_unmapped_area(machine, mm, len, align, hint, file >= 0 ? (pgoff % align) : 0);
  if (start >= 0) {
    if (file >= 0) yield* i_mmap_insert(cpu, file, mm, start, start + len, pgoff);
    writeVma(machine, mm, slot, file >= 0 ? { start, file, pgoff } : ANON, start, start + len, flags);
    cpu.ev(EV.MMAP, start, len);
  } else cpu.ev(EV.MMAP_FAIL, len);
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
  const hit = vmas(machine, mm).filter((v) => v.start < end && start < v.end);
  const holes = hit.filter((v) => v.start < start && end < v.end).length;
  let free = 0;
  for (let s = 0; s < machine.L.maxVmas; s++) if (!readVma(machine, mm, s)) free++;
  if (holes > free) {
    up_write(cpu, lw);
    return -1;
  }
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
  cpu.ev(EV.MUNMAP, start, end - start);
  up_write(cpu, lw);
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
 * changed parts then merge with a neighbour of identical flags (vma_merge: a DOFORK after a
 * DONTFORK gives the VMA back whole; the model has no anon_vma or pgoff to tell VMAs apart).
 * Returns 0; -1 (ENOMEM) with nothing changed when the splits need more free slots than there
 * are; -1 (ENOMEM) after changing what is mapped when the range has holes, like madvise(2).
 */
export function vma_modify_flags(machine: Machine, mm: number, start: number, end: number, set: number, clear: number): number {
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
  if (change.length) vma_merge_around(machine, mm, start, end);
  let covered = 0;
  for (const v of hit) covered += Math.min(end, v.end) - Math.max(start, v.start);
  return covered === end - start ? 0 : -1;
}

/** Merge adjacent VMAs of identical flags whose common boundary lies in [start, end]. */
function vma_merge_around(machine: Machine, mm: number, start: number, end: number): void {
  for (;;) {
    const list = vmas(machine, mm);
    let merged = false;
    for (let i = 0; i + 1 < list.length && !merged; i++) {
      const a = list[i], b = list[i + 1];
      if (a.end !== b.start || a.flags !== b.flags || a.end < start || a.end > end) continue;
      // file VMAs merge only when they map the same file contiguously (is_mergeable_vma)
      if (a.file !== b.file || (a.file >= 0 && linear_page_index(a, a.end) !== b.pgoff)) continue;
      // grow a over b first, then drop b: a lockless reader sees an overlap, never a hole
      writeVma(machine, mm, a.slot, a, a.start, b.end, a.flags);
      clearVma(machine, mm, b.slot);
      merged = true;
    }
    if (!merged) return;
  }
}

/** copy_vma() for mremap: a new VMA [start, end) with flags in a free slot, or null (no slot). */
export function vma_insert(machine: Machine, mm: number, start: number, end: number, flags: number): VmaView | null {
  const slot = freeSlot(machine, mm);
  if (slot < 0) return null;
  writeVma(machine, mm, slot, ANON, start, end, flags);
  return { slot, start, end, flags: flags | VM_LIVE, file: -1, pgoff: 0 };
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
// One entry per mmap of a file: (mm, start, end, pgoff). Splits (munmap of a middle part, mprotect,
// madvise) leave the entry as it is, a superset of what is mapped; the rmap walk checks every PTE it
// finds against the folio anyway. An entry goes once no VMA of its mm maps the file there any more,
// after the zap (unlink_file_vma in free_pgtables), so a walker that takes a PTL of a range being
// zapped waits for the zap's flush instead of missing the mapping.

/** vma_link_file(): add mm's mapping of file pages [pgoff, pgoff + end - start) at [start, end). */
export function* i_mmap_insert(cpu: Cpu, file: number, mm: number, start: number, end: number, pgoff: number): Gen<void> {
  const machine = cpu.machine;
  const m = machine.m;
  const lw = machine.L.immapLock + file;
  yield* down_write(cpu, lw); // i_mmap_lock_write()
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
