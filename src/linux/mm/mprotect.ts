// Models mm/mprotect.c: do_mprotect_pkey -> mprotect_fixup (split the VMAs, set the new flags) ->
// change_protection -> change_pte_range. With `batching` (the kernel since "mm: optimize
// mprotect() by PTE batching") a present entry starts a batch of the PTEs that map the same large
// folio (mprotect_folio_pte_batch), changed in one modify_prot_start_ptes/modify_prot_commit_ptes
// transaction, with writable upgrades decided per AnonExclusive sub-batch; without it, the
// pre-batching kernel: one ptep_modify_prot_start/commit per entry, each with its own decision.
// Deliberate differences: PROT_NONE is refused (-EINVAL: the PTE model has no protnone bit), and
// there is no NUMA hinting, uffd-wp, soft-dirty tracking or swap entry to handle.
import type { Cpu } from '../../machine/cpu.js';
import { type Gen, P } from '../../machine/gen.js';
import { EV } from '../../machine/events.js';
import { PTRS_PER_PTE } from '../../machine/params.js';
import { MM } from '../../machine/layout.js';
import { FOLIO_ANON, PG_ANON_EXCLUSIVE, VM_READ, VM_SHARED, VM_WRITE, VM_WRITENOTIFY } from '../../machine/machine.js';
import { PTE_WRITE, pte_advance_pfn, pte_dirty, pte_mkwrite, pte_modify, pte_pfn, pte_present, pte_special, pte_write } from '../../machine/pte.js';
import { down_write, up_write } from '../kernel/locking/rwsem.js';
import { spin_lock, spin_unlock } from '../kernel/locking/spinlock.js';
import {
  modify_prot_commit_ptes, modify_prot_start_ptes, ptep_get, ptep_modify_prot_commit, ptep_modify_prot_start, set_pte_at,
} from '../include/linux/pgtable.js';
import { pte_needs_flush } from '../arch/x86/include/asm/tlbflush.js';
import { vma_modify_flags, vmas, type VmaView } from './mmap.js';
import { FPB_IGNORE_DIRTY, FPB_RESPECT_WRITE, folio_pte_batch } from './internal.js';
import { checkBatchBounds } from './memory.js';
import { type MmuGather, tlb_finish_mmu, tlb_flush_mmu_tlbonly, tlb_gather_mmu, tlb_remove_tlb_entries } from './mmu_gather.js';
import { MMDEBUG } from '../include/linux/mmdebug.js';
import { is_writable_migration_entry, migration_entry_mkreadable, SWP_MIGRATION_EXCLUSIVE } from '../include/linux/swapops.js';

const ENOMEM = -12;
const EINVAL = -22;

/** MM_CP_TRY_CHANGE_WRITABLE: change_protection may make entries writable without a write fault. */
const MM_CP_TRY_CHANGE_WRITABLE = 1;

/**
 * vma_wants_writenotify() (mm/mmap.c): does a shared writable mapping need a write fault before
 * each clean page is written (a filesystem's page_mkwrite, dirty accounting)? do_mmap records the
 * answer for file mappings in VM_WRITENOTIFY (a disk filesystem: yes; tmpfs-like: no).
 */
export function vma_wants_writenotify(vma: VmaView): boolean {
  return (vma.flags & VM_SHARED) !== 0 && (vma.flags & VM_WRITENOTIFY) !== 0;
}

/**
 * vm_get_page_prot() / vma_set_page_prot(): the pgprot new entries of vma get (only the write bit
 * is modelled). A private writable mapping is mapped read-only (COW decides each write); a shared
 * one writable unless it wants write notifications.
 */
export function vm_get_page_prot(vma: VmaView): number {
  return vma.flags & VM_SHARED && vma.flags & VM_WRITE && !vma_wants_writenotify(vma) ? PTE_WRITE : 0;
}

/** vma_wants_manual_pte_write_upgrade() (include/linux/mm.h): may entries be upgraded one by one? */
function vma_wants_manual_pte_write_upgrade(vma: VmaView): boolean {
  if (vma.flags & VM_SHARED) return vma_wants_writenotify(vma);
  return (vma.flags & VM_WRITE) !== 0;
}

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
  const changed: [number, number][] = [];
  for (const v of vmas(machine, mm)) {
    if (!(v.start < end && start < v.end)) continue;
    covered += Math.min(end, v.end) - Math.max(start, v.start);
    // mprotect_fixup() returns early for a VMA whose flags stay: no page-table walk, no flush
    if ((v.flags & (VM_READ | VM_WRITE)) !== prot) changed.push([Math.max(start, v.start), Math.min(end, v.end)]);
  }
  let ret = covered === end - start ? vma_modify_flags(machine, mm, start, end, prot, (VM_READ | VM_WRITE) & ~prot, cpu) : ENOMEM;
  if (ret === 0) {
    const tlb = tlb_gather_mmu(cpu, mm);
    for (const [s, e] of changed) {
      for (const v of vmas(machine, mm)) {
        if (v.end <= s || e <= v.start) continue;
        const cpFlags = vma_wants_manual_pte_write_upgrade(v) ? MM_CP_TRY_CHANGE_WRITABLE : 0;
        yield* change_protection(cpu, tlb, v, Math.max(s, v.start), Math.min(e, v.end), cpFlags);
      }
    }
    yield* tlb_finish_mmu(cpu, tlb);
    cpu.ev(EV.MPROTECT, start, end - start);
    MMDEBUG.tlbSynced(cpu, mm, start, end, 'do_mprotect');
  } else ret = ENOMEM;
  up_write(cpu, lw);
  return ret;
}

/**
 * change_protection() over one VMA's part, a PTE table at a time; then tlb_end_vma(): flush the
 * range the entries that needed it gathered (tlb_finish_mmu, in do_mprotect, ends the gather). A CPU may still write through a TLB entry made
 * before a downgrade until this flush; the mmap_lock (held for write) keeps faults out meanwhile.
 */
function* change_protection(cpu: Cpu, tlb: MmuGather, vma: VmaView, start: number, end: number, cpFlags: number): Gen<void> {
  const newprot = vm_get_page_prot(vma);
  for (let s = start; s < end; ) {
    const e = Math.min(end, (s & ~(PTRS_PER_PTE - 1)) + PTRS_PER_PTE);
    yield* change_pte_range(cpu, tlb, vma, s, e, newprot, cpFlags);
    s = e;
  }
  yield* tlb_flush_mmu_tlbonly(cpu, tlb); // tlb_end_vma()
}

/** change_pte_range(): [start, end) of one PTE table under its PTL; returns the entries changed. */
function* change_pte_range(cpu: Cpu, tlb: MmuGather, vma: VmaView, start: number, end: number, newprot: number, cpFlags: number): Gen<number> {
  const machine = cpu.machine;
  const { m, L } = machine;
  const mm = tlb.mm;
  const table = machine.tableIndex(mm, start);
  if (!Atomics.load(m, machine.pgdWord(table))) return 0;
  const ptl = machine.ptlOf(table);
  let pages = 0;
  yield* spin_lock(cpu, ptl);
  yield P.LOCKED;
  for (let vpn = start; vpn < end; ) {
    const ptep = machine.ptep(mm, vpn);
    const oldpte = ptep_get(cpu, ptep);
    if (!pte_present(oldpte)) {
      // a migration entry: "A protection check is difficult so just be safe and disable write"
      // (whatever the new protection): a writable one becomes readable-exclusive for an anon
      // folio (the kernel: readable for a file folio; only anon folios migrate in the model),
      // keeping its a/d bits
      if (is_writable_migration_entry(oldpte)) {
        yield* set_pte_at(cpu, ptep, migration_entry_mkreadable(oldpte) | SWP_MIGRATION_EXCLUSIVE);
        pages++;
      }
      vpn++;
      continue;
    }
    if (!cpu.cfg.batching) {
      yield* change_pte_one(cpu, tlb, vma, vpn, ptep, newprot, cpFlags);
      vpn++;
      pages++;
      continue;
    }
    // vm_normal_page(): none for the zero page (special), which is never batched nor upgraded
    const page = pte_special(oldpte) ? -1 : pte_pfn(oldpte);
    const folio = page < 0 ? -1 : Atomics.load(m, L.pHead + page);
    const nr = mprotect_folio_pte_batch(cpu, folio, ptep, oldpte, end - vpn);
    if (folio >= 0) checkBatchBounds(cpu, 'change_pte_range', page, nr, folio, 1 << Atomics.load(m, L.fOrder + folio), vpn, vma);
    yield* change_present_ptes(cpu, tlb, vma, vpn, ptep, nr, newprot, folio, page, cpFlags);
    if (nr > 1) cpu.counters[EV.MPROTECT_BATCHED]++;
    vpn += nr;
    pages += nr;
  }
  spin_unlock(cpu, ptl);
  return pages;
}

/**
 * mprotect_folio_pte_batch(): the entries from ptep that map consecutive pages of one large folio
 * with the same write and soft-dirty bits (FPB_RESPECT_WRITE | FPB_RESPECT_SOFT_DIRTY; young and
 * dirty are ignored: modify_prot_start_ptes gathers them), capped at max_nr and the folio end.
 */
function mprotect_folio_pte_batch(cpu: Cpu, folio: number, ptep: number, pte: number, max_nr: number): number {
  if (folio < 0) return 1; // no underlying folio: cannot batch
  const order = Atomics.load(cpu.m, cpu.machine.L.fOrder + folio);
  if (order === 0) return 1;
  return folio_pte_batch(cpu, folio, 1 << order, ptep, pte, max_nr, FPB_IGNORE_DIRTY | FPB_RESPECT_WRITE).nr;
}

/**
 * change_present_ptes(): one start/commit transaction over the nr entries from ptep. The new
 * entry is pte_modify(oldpte, newprot) of the gathered old one (a/d of every entry); a writable
 * upgrade is decided by set_write_prot_commit_flush_ptes when the VMA allows manual upgrades.
 */
function* change_present_ptes(cpu: Cpu, tlb: MmuGather, vma: VmaView, vpn: number, ptep: number, nr: number, newprot: number, folio: number, page: number, cpFlags: number): Gen<void> {
  const oldpte = yield* modify_prot_start_ptes(cpu, ptep, nr);
  // Every entry of the batch is clear now: the MMU faults on them (and the fault waits for our
  // mmap_lock), so no a/d bit can be set between start and commit.
  yield P.CLEAR_PTE;
  const ptent = pte_modify(oldpte, newprot);
  if (cpFlags & MM_CP_TRY_CHANGE_WRITABLE && !pte_write(ptent)) yield* set_write_prot_commit_flush_ptes(cpu, tlb, vma, folio, page, vpn, ptep, oldpte, ptent, nr);
  else yield* prot_commit_flush_ptes(cpu, tlb, vpn, ptep, oldpte, ptent, nr, 0, false);
}

/**
 * prot_commit_flush_ptes(): commit nr entries from index idx of the batch (both templates advanced
 * by idx), writable if set_write, and gather their range for the flush if pte_needs_flush says so.
 */
function* prot_commit_flush_ptes(cpu: Cpu, tlb: MmuGather, vpn: number, ptep: number, oldpte: number, ptent: number, nr: number, idx: number, setWrite: boolean): Gen<void> {
  vpn += idx;
  ptep += idx;
  oldpte = pte_advance_pfn(oldpte, idx);
  ptent = pte_advance_pfn(ptent, idx);
  if (setWrite) ptent = pte_mkwrite(ptent);
  yield* modify_prot_commit_ptes(cpu, ptep, oldpte, ptent, nr);
  if (pte_needs_flush(oldpte, ptent)) tlb_remove_tlb_entries(tlb, vpn, nr); // tlb_flush_pte_range()
}

/** PageAnonExclusive() */
function pageAnonExclusive(cpu: Cpu, page: number): boolean {
  return (Atomics.load(cpu.m, cpu.machine.L.pFlags + page) & PG_ANON_EXCLUSIVE) !== 0;
}

/** page_anon_exclusive_sub_batch(): how many pages from start_idx share first_page+start_idx's AnonExclusive. */
function page_anon_exclusive_sub_batch(cpu: Cpu, startIdx: number, maxLen: number, firstPage: number, expected: boolean): number {
  let idx = startIdx + 1;
  while (idx < startIdx + maxLen && pageAnonExclusive(cpu, firstPage + idx) === expected) idx++;
  return idx - startIdx;
}

/**
 * commit_anon_folio_batch(): the AnonExclusive bit of the batch's first page says nothing of the
 * others, so commit sub-batches of equal exclusivity, each made writable only if exclusive.
 * first_page is the page the batch's first entry maps (the upstream fix of cac1db8c3aad: not
 * the folio's head). Under prot-exclusive-from-head, the head page decides for the whole batch.
 */
function* commit_anon_folio_batch(cpu: Cpu, tlb: MmuGather, folio: number, firstPage: number, vpn: number, ptep: number, oldpte: number, ptent: number, nr: number): Gen<void> {
  if (cpu.inj.protExclusiveFromHead) {
    yield* prot_commit_flush_ptes(cpu, tlb, vpn, ptep, oldpte, ptent, nr, 0, pageAnonExclusive(cpu, folio));
    return;
  }
  for (let idx = 0; idx < nr; ) {
    const expected = pageAnonExclusive(cpu, firstPage + idx);
    const len = page_anon_exclusive_sub_batch(cpu, idx, nr - idx, firstPage, expected);
    yield* prot_commit_flush_ptes(cpu, tlb, vpn, ptep, oldpte, ptent, len, idx, expected);
    idx += len;
  }
}

/**
 * set_write_prot_commit_flush_ptes(): a shared mapping upgrades the whole batch if its (gathered)
 * dirty bit says the filesystem was notified; a private one only an anon folio's AnonExclusive
 * sub-batches (COW must see every write to a shared page).
 */
function* set_write_prot_commit_flush_ptes(cpu: Cpu, tlb: MmuGather, vma: VmaView, folio: number, page: number, vpn: number, ptep: number, oldpte: number, ptent: number, nr: number): Gen<void> {
  if (vma.flags & VM_SHARED) {
    yield* prot_commit_flush_ptes(cpu, tlb, vpn, ptep, oldpte, ptent, nr, 0, can_change_shared_pte_writable(vma, ptent));
    return;
  }
  const setWrite = maybe_change_pte_writable(vma, ptent) && folio >= 0 && (Atomics.load(cpu.m, cpu.machine.L.fFlags + folio) & FOLIO_ANON) !== 0;
  if (!setWrite) {
    yield* prot_commit_flush_ptes(cpu, tlb, vpn, ptep, oldpte, ptent, nr, 0, false);
    return;
  }
  yield* commit_anon_folio_batch(cpu, tlb, folio, page, vpn, ptep, oldpte, ptent, nr);
}

/**
 * maybe_change_pte_writable(): the checks common to shared and private mappings. The model has
 * no protnone, soft-dirty tracking or uffd-wp VMAs, so only VM_WRITE remains to check.
 */
function maybe_change_pte_writable(vma: VmaView, _pte: number): boolean {
  return (vma.flags & VM_WRITE) !== 0;
}

/** can_change_shared_pte_writable(): "dirty" means the filesystem was already notified. */
function can_change_shared_pte_writable(vma: VmaView, pte: number): boolean {
  return maybe_change_pte_writable(vma, pte) && pte_dirty(pte);
}

/**
 * can_change_pte_writable(): private mappings upgrade only an exclusive anon page (a shared one
 * must be copied first: the write fault would do that); shared ones a dirty entry.
 */
export function can_change_pte_writable(cpu: Cpu, vma: VmaView, pte: number): boolean {
  if (!(vma.flags & VM_SHARED)) {
    if (!maybe_change_pte_writable(vma, pte) || pte_special(pte)) return false; // vm_normal_page(): none for the zero page
    const { m, L } = cpu.machine;
    const pfn = pte_pfn(pte);
    const folio = Atomics.load(m, L.pHead + pfn);
    return (Atomics.load(m, L.fFlags + folio) & FOLIO_ANON) !== 0 && pageAnonExclusive(cpu, pfn);
  }
  return can_change_shared_pte_writable(vma, pte);
}

/**
 * The per-entry body of change_pte_range() before batching (batching: false): its own start and
 * commit, its own upgrade decision, its own flush decision.
 */
function* change_pte_one(cpu: Cpu, tlb: MmuGather, vma: VmaView, vpn: number, ptep: number, newprot: number, cpFlags: number): Gen<void> {
  const oldpte = yield* ptep_modify_prot_start(cpu, ptep);
  yield P.CLEAR_PTE;
  let ptent = pte_modify(oldpte, newprot);
  if (cpFlags & MM_CP_TRY_CHANGE_WRITABLE && !pte_write(ptent) && can_change_pte_writable(cpu, vma, ptent)) ptent = pte_mkwrite(ptent);
  yield* ptep_modify_prot_commit(cpu, ptep, oldpte, ptent);
  if (pte_needs_flush(oldpte, ptent)) tlb_remove_tlb_entries(tlb, vpn, 1); // tlb_flush_pte_range()
}
