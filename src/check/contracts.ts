// The kernel's contracts, asserted at the instant each must hold (docs/checks.md, "Contracts"), by
// looking at the machine itself: every CPU's TLB, the PTEs, struct page/folio words. Kernel code
// reaches them through the mmdebug hooks (src/linux/include/linux/mmdebug.ts; installed by
// check/machine.ts); the workload's accesses call checkAccessAllowed directly. Each check scans
// only what its point concerns: the CPUs' TLBs (tlbEntries words each), one PTE table, one folio.
import type { Cpu } from '../machine/cpu.js';
import type { Machine } from '../machine/machine.js';
import { contpte_check_unlock } from './contpte.js';
import { FOLIO_ANON, FOLIO_DIRTY, FOLIO_ISOLATED, PG_ANON_EXCLUSIVE, PG_BUDDY, POISON, VM_WRITE, ZERO_PFN } from '../machine/machine.js';
import { CPU, MM, RW_SLOTS } from '../machine/layout.js';
import { PTRS_PER_PTE } from '../machine/params.js';
import { pte_cont, pte_dirty, pte_pfn, pte_present, pte_special, pte_write, pteToString } from '../machine/pte.js';
import { CONT_PTES, contpte_align_down } from '../linux/arch/arm64/mm/contpte.js';
import { ptepAddr } from '../linux/include/asm-generic/pgtable.js';
import { tlbEntryMm, tlbEntryVpn } from '../machine/tlb.js';
import { lockHolder, lockIsHeld } from '../linux/kernel/locking/spinlock.js';
import { rwsem_is_write_locked } from '../linux/kernel/locking/rwsem.js';
import { find_vma_plain } from '../linux/mm/mmap.js';
import { freeMarked, hex } from './oracle.js';
import { pointEvent } from './points.js';

const ENTRIES_CHECKED = pointEvent('ptlUnlock.entries');
const FOLIOS_CLEANED_CHECKED = pointEvent('folioCleaned');

/**
 * A TLB entry's translation is allowed by the page tables now: the entry is present and maps the
 * same page, and a writable TLB entry needs a writable PTE (a read-only stale entry is harmless:
 * a store through it walks the table and faults). A writable and dirty TLB entry also needs a
 * dirty PTE (pteDirty: under arm64 contpte the OR over its block): the MMU stores through such an
 * entry without walking, so after MADV_FREE cleaned the PTE a store through it would not set the
 * dirty bit again, and reclaim would discard the data as clean. (A clean TLB entry is harmless: a
 * store misses on it and walks, setting the bit.)
 */
function tlbAllowed(tlbPte: number, pte: number, pteDirty: boolean): boolean {
  return pte_present(pte) && pte_pfn(pte) === pte_pfn(tlbPte) && (!pte_write(tlbPte) || pte_write(pte)) && (!(pte_write(tlbPte) && pte_dirty(tlbPte)) || pteDirty);
}

/** Is the entry pte of (mm, vpn) dirty, as ptep_get() reads it: under arm64 contpte a cont entry with the dirty bits of its block ORed in. */
function ptepDirty(machine: Machine, mm: number, vpn: number, pte: number): boolean {
  if (pte_dirty(pte)) return true;
  if (machine.cfg.arch !== 'contpte' || !pte_cont(pte)) return false;
  const start = contpte_align_down(machine, machine.ptep(mm, vpn));
  for (let i = 0; i < CONT_PTES; i++) if (pte_dirty(Atomics.load(machine.m, start + i))) return true;
  return false;
}

/** The current PTE of (mm, vpn), 0 when its table is not there. */
function currentPte(machine: Machine, mm: number, vpn: number): number {
  const m = machine.m;
  return Atomics.load(m, machine.pgdWord(machine.tableIndex(mm, vpn))) ? Atomics.load(m, machine.ptep(mm, vpn)) : 0;
}
/** currentPte with plain reads, for scans (a finding is confirmed with currentPte). */
function currentPtePlain(machine: Machine, mm: number, vpn: number): number {
  const m = machine.m;
  return m[machine.pgdWord(machine.tableIndex(mm, vpn))] ? m[machine.ptep(mm, vpn)] : 0;
}

/** Is the PTL of (mm, vpn)'s table held by a CPU other than self (a path mid-update, which flushes before it unlocks)? */
function ptlHeldByOther(machine: Machine, mm: number, vpn: number, self: number): boolean {
  const off = machine.ptlOf(machine.tableIndex(mm, vpn));
  return lockIsHeld(machine.m, off) && lockHolder(machine.m, off) !== self;
}

/** Does cpu hold the semaphore at word for write (its RW_HELD slots, machine/layout.ts)? */
function holdsForWrite(cpu: Cpu, word: number): boolean {
  const m = cpu.m;
  const base = cpu.machine.cpuWord(cpu.id, CPU.RW_HELD);
  for (let k = 0; k < RW_SLOTS; k++) if (m[base + 2 * k] === (((word + 1) << 1) | 1)) return true;
  return false;
}

/** mm_tlb_flush_pending(): an operation of mm has changed PTEs and not flushed them yet (mmu_gather). */
export function tlbFlushPending(machine: Machine, mm: number): boolean {
  return Atomics.load(machine.m, machine.mmWord(mm, MM.TLB_FLUSH_PENDING)) > 0;
}

/**
 * TLB coherence: once an unmap, write-protect, move or replacement of [start, end) of mm has
 * reached the point the kernel relies on (its flush is done: a PTL release after a flush before
 * unlock, or the syscall's return), no CPU's TLB may let an access through that the page tables no
 * longer allow. Entries of a table whose PTL another CPU holds are that path's to flush; while
 * another operation of mm has a flush pending (mm_tlb_flush_pending), stale entries may be its own.
 */
export function checkTlbSynced(cpu: Cpu, mm: number, start: number, end: number, path: string): void {
  const machine = cpu.machine;
  const m = machine.m;
  if (tlbFlushPending(machine, mm)) return;
  const n = machine.L.tlbEntries;
  for (let c = 0; c < machine.L.cpus; c++) {
    const base = machine.tlbBase(c);
    for (let i = 0; i < n; i++) {
      const k = m[base + i * 2]; // plain reads while scanning; a mismatch is confirmed with Atomics below
      if (k === 0 || tlbEntryMm(k) !== mm) continue;
      const vpn = tlbEntryVpn(k);
      if (vpn < start || vpn >= end) continue;
      const tlbPte = m[base + i * 2 + 1];
      if (m[base + i * 2] !== k) continue; // replaced meanwhile (threads)
      const pte = currentPtePlain(machine, mm, vpn);
      if (tlbAllowed(tlbPte, pte, ptepDirty(machine, mm, vpn, pte)) || ptlHeldByOther(machine, mm, vpn, cpu.id)) continue;
      // threads: confirm against a path that changed the entry while this scan read it (it raised
      // mm_tlb_flush_pending before its change, or its flush already dropped the TLB entry)
      if (tlbFlushPending(machine, mm) || Atomics.load(m, base + i * 2) !== k || Atomics.load(m, base + i * 2 + 1) !== tlbPte || currentPte(machine, mm, vpn) !== pte || ptlHeldByOther(machine, mm, vpn, cpu.id)) continue;
      cpu.violation('tlb-stale', path, {
        mm, vpn, addr: hex(vpn * 4096), tlbCpu: c, tlb: pteToString(tlbPte), pte: pteToString(pte), range: [hex(start * 4096), hex(end * 4096)], op: cpu.curOp,
        why: !pte_present(pte) ? 'the TLB maps an address whose PTE is gone'
          : pte_pfn(pte) !== pte_pfn(tlbPte) ? 'the TLB maps a page the PTE no longer maps'
          : pte_write(tlbPte) && !pte_write(pte) ? 'the TLB entry is writable, the PTE is not'
          : 'the TLB entry is writable and dirty, the PTE is clean: a store through it would not set the dirty bit again',
      });
    }
  }
}

/**
 * Per-table invariants at a PTL release (the lock still held, so no kernel path is changing this
 * table), over the entries the releasing CPU changed under it: each present entry lies in a VMA,
 * writable only in a writable one (what mprotect and munmap promise, at the entry), and maps a page that is not free; a special entry is the zero page,
 * read-only; a mapped page has a mapcount; a writable anon entry maps an AnonExclusive page, and an
 * AnonExclusive page has exactly one mapping; a writable entry of a write-notify file maps a dirty
 * folio (the write fault ran: the filesystem was told). Plain reads: the entries cannot change but
 * for hardware a/d bits, and this runs at every PTL release (a third of the Atomics cost per table).
 */
export function checkTableAtUnlock(cpu: Cpu, table: number): void {
  const machine = cpu.machine;
  const { m, L } = machine;
  const mm = Math.floor(table / L.tablesPerMm);
  const vpn0 = (table % L.tablesPerMm) * PTRS_PER_PTE;
  const p0 = machine.ptep(mm, vpn0);
  // the entries this CPU wrote while it held PTLs (see Cpu.pteLo): those inside this table
  const lo = Math.max(cpu.pteLo - p0, 0), hi = Math.min(cpu.pteHi - p0, PTRS_PER_PTE - 1);
  if (cpu.held.length === 1) {
    cpu.pteLo = Infinity; // the last PTL (or lock) this CPU holds: start afresh
    cpu.pteHi = -1;
  }
  if (lo > hi || !m[machine.pgdWord(table)]) return;
  cpu.counters[ENTRIES_CHECKED] += hi - lo + 1;
  // arm64 contpte: the blocks around the written entries (only that arch ever sets PTE_CONT)
  if (cpu.cfg.arch === 'contpte') contpte_check_unlock(cpu, p0, lo, hi);
  // another CPU holding the mmap_lock for write is changing this mm's VMAs (munmap detaches a VMA
  // before it zaps, and an rmap walker may write an entry of it meanwhile): the VMA checks wait
  const lw = machine.mmWord(mm, MM.MMAP_LOCK);
  const ownWrite = holdsForWrite(cpu, lw);
  const vmaSettled = !rwsem_is_write_locked(m, lw) || ownWrite;
  // This CPU changes the VMAs' protection and has not reached every entry yet: mprotect sets the
  // VMA flags, then write-protects the entries table by table inside its mmu_gather, and a
  // contpte unfold at one range's edge rewrites (unchanged) entries of the next VMA, which it has
  // yet to reach. With the mmap_lock held for write by this CPU, a gather pending on the mm is its
  // own. (A writable entry left behind is still caught once the call returned: by the next PTL
  // release that writes it, the probe store after mprotect, and the maps checker.)
  const protPending = ownWrite && tlbFlushPending(machine, mm);
  let vmaStart = 0, vmaEnd = 0, vmaFlags = -1;
  for (let i = lo; i <= hi; i++) {
    const pte = m[p0 + i];
    if (!pte_present(pte)) continue;
    const pfn = pte_pfn(pte);
    const where = (): Record<string, unknown> => ({ mm, vpn: vpn0 + i, addr: hex((vpn0 + i) * 4096), pte: pteToString(pte), pfn, op: cpu.curOp });
    if (pfn >= L.pages) cpu.violation('pte-bad-pfn', 'ptl-release', where());
    if (pte_special(pte)) {
      if (pfn !== ZERO_PFN || pte_write(pte)) cpu.violation(pfn !== ZERO_PFN ? 'special-not-zero-page' : 'zero-page-writable', 'ptl-release', where());
      continue;
    }
    // the VMA allows the entry: it exists, and a writable entry has a writable VMA (one lookup per VMA)
    const vpn = vpn0 + i;
    if (!vmaSettled) {
      // (no VMA check)
    } else if (vpn < vmaStart || vpn >= vmaEnd) {
      const v = find_vma_plain(machine, mm, vpn);
      vmaStart = v ? v.start : vpn;
      vmaEnd = v ? v.end : vpn + 1;
      vmaFlags = v ? v.flags : -1;
    }
    // A finding against the VMA table is judged again against the mmap_lock: a path that holds no
    // mmap_lock (an rmap walker: migration, reclaim) can release its PTL while a munmap or mprotect
    // that took the lock for write after our first look detaches the VMA or write-protects it;
    // that writer must still take this PTL for the entry (zap, change_pte_range), so it holds the
    // lock now (threads engine: the sched engine runs no other CPU within this check)
    const settledStill = (): boolean => ownWrite || !rwsem_is_write_locked(m, lw);
    if (vmaSettled && vmaFlags < 0 && settledStill()) cpu.violation('pte-outside-vma', 'ptl-release', where());
    if (vmaSettled && !protPending && pte_write(pte) && !(vmaFlags & VM_WRITE) && settledStill()) cpu.violation('pte-writable-vma-readonly', 'ptl-release', { ...where(), vma: [hex(vmaStart * 4096), hex(vmaEnd * 4096)] });
    const flags = m[L.pFlags + pfn];
    if (flags & PG_BUDDY) cpu.violation('pte-maps-free-page', 'ptl-release', where());
    const mapcount = m[L.pMapcount + pfn];
    if (mapcount < 1) cpu.violation('mapcount-below-ptes', 'ptl-release', { ...where(), mapcount });
    const folio = m[L.pHead + pfn];
    const fflags = m[L.fFlags + folio];
    if (fflags & FOLIO_ANON) {
      if (pte_write(pte) && !(flags & PG_ANON_EXCLUSIVE)) cpu.violation('writable-not-exclusive', 'ptl-release', { ...where(), folio });
      if (flags & PG_ANON_EXCLUSIVE && mapcount !== 1) cpu.violation('exclusive-page-shared', 'ptl-release', { ...where(), folio, mapcount });
      if (!pte_dirty(pte) && !(fflags & FOLIO_DIRTY)) checkAnonDataClean(cpu, mm, vpn, pte, pfn, folio, where);
    } else if (pte_write(pte)) {
      const mapping = m[L.fMapping + folio];
      if (mapping && machine.fileWritenotify(mapping - 1) && !(fflags & FOLIO_DIRTY)) {
        cpu.violation('writable-clean-writenotify', 'ptl-release', { ...where(), folio, file: mapping - 1 });
      }
    }
  }
}

/**
 * anon-data-clean: an anon page that holds data (a non-zero word) is mapped by a clean entry (under
 * arm64 contpte: no dirty bit in its block either) while its folio is clean (no PG_dirty), and this
 * mm has not declared the page disposable (MADV_FREE: the oracle's free mark). Then no dirty bit
 * anywhere says the data exists only in memory. The kernel relies on one: madvise_free_pte_range()
 * checks that nobody else maps a folio only when the folio is dirty (or in the swap cache), and
 * try_to_unmap_one() discards a lazyfree folio's entries one by one while no dirty bit was seen, so
 * a MADV_FREE by any process sharing the folio (a fork child) lets reclaim drop this mm's data. The
 * kernel's own paths map written anon pages dirty (do_anonymous_page, wp_page_copy, fork's copies,
 * remove_migration_pte with the migration entry's dirty bit); finding 1 (docs/findings.md) is the
 * upstream path that does not. Checked when the entry is written (at the PTL release), so the bad
 * state is caught when it is made, not only when a later fork, MADV_FREE and reclaim turn it into a
 * lost write. A pinned page is left alone (see below). The free mark is read before and after the entry (threads: a MADV_FREE sets the mark
 * before it cleans entries, and a write clears it only after the MMU set the dirty bit).
 */
function checkAnonDataClean(cpu: Cpu, mm: number, vpn: number, pte: number, pfn: number, folio: number, where: () => Record<string, unknown>): void {
  const machine = cpu.machine;
  const { m, L } = machine;
  const content = m[L.pContent + pfn];
  if (content === 0 || content === POISON) return; // nothing to lose
  // a pinned page: a device may write it (no dirty bit), unpin_user_pages_dirty_lock() marks the
  // folio dirty, and meanwhile reclaim's reference check keeps a lazyfree folio
  if (m[L.pPin + pfn] > 0) return;
  if (freeMarked(machine, mm, vpn)) return;
  const now = Atomics.load(m, machine.ptep(mm, vpn));
  if (pte_pfn(now) !== pfn || ptepDirty(machine, mm, vpn, now) || Atomics.load(m, L.fFlags + folio) & FOLIO_DIRTY || freeMarked(machine, mm, vpn)) return;
  cpu.violation('anon-data-clean', 'ptl-release', {
    ...where(), folio, content: hex(content),
    why: 'anon data mapped by a clean entry of a clean folio: a MADV_FREE by any process sharing the folio lets reclaim discard it',
  });
}

/** pteBatchBegin's record per CPU: the entries the PTL hold had written before the helper began. */
const batchOuter = new WeakMap<Cpu, { lo: number; hi: number }>();

/** A batched PTE helper begins: note its writes apart (Cpu.pteLo/pteHi start afresh; the outer record is kept here). */
export function pteBatchBegin(cpu: Cpu): void {
  let o = batchOuter.get(cpu);
  if (!o) batchOuter.set(cpu, (o = { lo: 0, hi: 0 }));
  o.lo = cpu.pteLo;
  o.hi = cpu.pteHi;
  cpu.pteLo = Infinity;
  cpu.pteHi = -1;
}

/**
 * The batched helper path(ptep, nr) ends: the entries it wrote (the raw PTE writers' record since
 * pteBatchBegin) lie in [ptep, ptep + nr), or under arm64 contpte in the blocks of its first and
 * last entries when those are cont (contpte_clear_young_dirty_ptes widens to whole blocks, which lie
 * inside the caller's folio). An entry written outside had its young or dirty bit cleared without
 * its caller asking: another folio's, perhaps another VMA's, never flushed from any TLB. The record
 * is then merged back, for the PTL release's checks.
 */
export function pteBatchEnd(cpu: Cpu, path: string, ptep: number, nr: number): void {
  const machine = cpu.machine;
  const lo = cpu.pteLo, hi = cpu.pteHi;
  const o = batchOuter.get(cpu);
  if (o) {
    cpu.pteLo = Math.min(o.lo, lo);
    cpu.pteHi = Math.max(o.hi, hi);
  }
  if (lo > hi) return;
  let okLo = ptep, okHi = ptep + nr - 1;
  if (cpu.cfg.arch === 'contpte') {
    if (pte_cont(Atomics.load(machine.m, okLo))) okLo = contpte_align_down(machine, okLo);
    if (pte_cont(Atomics.load(machine.m, okHi))) okHi = contpte_align_down(machine, okHi) + CONT_PTES - 1;
  }
  if (lo >= okLo && hi <= okHi) return;
  const at = ptepAddr(machine, ptep);
  const vpnOf = (w: number): number => ptepAddr(machine, w).vpn;
  cpu.violation('clear-young-dirty-outside-range', path, {
    mm: at.mm, vpn: at.vpn, addr: hex(at.vpn * 4096), nr, op: cpu.curOp,
    allowed: [hex(vpnOf(okLo) * 4096), hex((vpnOf(okHi) + 1) * 4096)], wrote: [hex(vpnOf(lo) * 4096), hex((vpnOf(hi) + 1) * 4096)],
    why: `asked to clear ${nr} entr${nr === 1 ? 'y' : 'ies'}, it wrote entries ${lo < okLo ? `from ${okLo - lo} before` : ''}${lo < okLo && hi > okHi ? ' and ' : ''}${hi > okHi ? `to ${hi - okHi} after` : ''} the range${cpu.cfg.arch === 'contpte' ? ' (and the contpte blocks of its ends)' : ''}`,
  });
}

/**
 * COW reuse (do_wp_page -> wp_page_reuse): a page reused for write in place is this mapping's
 * alone: its only mapping is this one, no TLB entry of another mm reaches it (nor, unless it is
 * AnonExclusive, any page of its folio), and, unless the page is AnonExclusive (whose pins are its
 * owner's), the folio holds no reference beyond its mappings (no pin, no GUP, no zap or copy in
 * flight).
 */
export function checkCowReuse(cpu: Cpu, mm: number, vpn: number, pfn: number, folio: number, exclusive: boolean): void {
  const machine = cpu.machine;
  const { m, L } = machine;
  const mapcount = Atomics.load(m, L.pMapcount + pfn);
  const ref = Atomics.load(m, L.fRef + folio), folioMap = Atomics.load(m, L.fMapcount + folio);
  const where = { mm, vpn, addr: hex(vpn * 4096), pfn, folio, mapcount, refcount: ref, folioMapcount: folioMap, op: cpu.curOp };
  if (mapcount !== 1) cpu.violation('cow-reuse-shared', 'do_wp_page', { ...where, why: 'the page has other mappings' });
  // an AnonExclusive page is reused even when pinned: the pin and the mapping are one owner's. A
  // folio isolated by reclaim or migration carries the isolator's reference, which may be taken
  // after the reuse decision (a physical scan's speculative folio_try_get): it is not a GUP
  const isolator = Atomics.load(m, L.fFlags + folio) & FOLIO_ISOLATED ? 1 : 0;
  if (!exclusive && ref - isolator !== folioMap) cpu.violation('cow-reuse-shared', 'do_wp_page', { ...where, why: ref > folioMap ? 'the folio holds references beyond its mappings (a pin, GUP, a zap or copy in flight)' : 'refcount below mapcount' });
  // Another mm's TLB entry: for an AnonExclusive page, only one reaching this page counts. Its
  // other pages may still be reached by a zap in flight in another mm (entries cleared, mapcount
  // dropped, the flush pending and the gathered reference held, as zap_pte_range leaves them until
  // tlb_finish_mmu), which the kernel's reuse of an exclusive page does not look at and which
  // cannot see this page's data. Reusing a page that is not exclusive needs the whole folio to be
  // this mm's (the reference check): then no other mm may reach any of its pages.
  const nr = 1 << Atomics.load(m, L.fOrder + folio);
  const other = exclusive ? tlbHolderOf(machine, pfn, 1, mm) : tlbHolderOf(machine, folio, nr, mm);
  if (other) cpu.violation('cow-reuse-shared', 'do_wp_page', { ...where, why: `CPU ${other.cpu}'s TLB reaches the folio for mm ${other.mm}`, tlb: other });
}

/**
 * An allocation failed (zone lock held): an order-0 request ("too small to fail": the kernel
 * reclaims or OOM-kills rather than fail it) fails only with every free list empty. Higher orders
 * may fail with memory free (fragmentation, the allocFailRate knob).
 */
export function checkAllocFailed(cpu: Cpu, order: number): void {
  if (order !== 0) return;
  const { m, L } = cpu.machine;
  for (let o = 0; o <= L.maxOrder; o++) {
    if (m[L.freeHead + o] >= 0) cpu.violation('order0-alloc-failed', 'alloc_folio', { freeOrder: o, op: cpu.curOp });
  }
}

/**
 * TLB coherence at the free: a folio going back to the allocator is reachable through no CPU's TLB
 * (mmu_gather flushes before it drops the references; a path that frees first lets a CPU read or
 * write a page that is free, or already someone else's).
 */
export function checkFolioFree(cpu: Cpu, head: number, nr: number): void {
  const t = tlbHolderOf(cpu.machine, head, nr, -1);
  if (t) cpu.violation('tlb-maps-freed-page', 'free_folio', { folio: head, pages: nr, tlbCpu: t.cpu, mm: t.mm, vpn: t.vpn, addr: hex(t.vpn * 4096), tlb: t.pte, op: cpu.curOp });
}

/** A TLB entry (any CPU) of an mm other than mm (-1: of any mm) that maps a page of [folio, folio + nr), or null. */
function tlbHolderOf(machine: Machine, folio: number, nr: number, mm: number): { cpu: number; mm: number; vpn: number; pte: string } | null {
  const m = machine.m;
  for (let c = 0; c < machine.L.cpus; c++) {
    const base = machine.tlbBase(c);
    for (let i = 0; i < machine.L.tlbEntries; i++) {
      const k = m[base + i * 2]; // plain reads while scanning, the hit confirmed with Atomics
      if (k === 0 || tlbEntryMm(k) === mm) continue;
      const pte = m[base + i * 2 + 1];
      const p = pte_pfn(pte);
      if (p >= folio && p < folio + nr && Atomics.load(m, base + i * 2) === k && Atomics.load(m, base + i * 2 + 1) === pte) return { cpu: c, mm: tlbEntryMm(k), vpn: tlbEntryVpn(k), pte: pteToString(pte) };
    }
  }
  return null;
}

/**
 * Write notification: once writeback has cleaned a folio of a write-notify file (folio_clear_dirty_for_io said it was
 * dirty and the copy to the disk begins), no CPU's TLB holds a writable entry to any of its pages:
 * a store must fault (and dirty the folio again) or it is lost to the next writeback.
 */
export function checkFolioCleaned(cpu: Cpu, folio: number): void {
  const machine = cpu.machine;
  const m = machine.m;
  // a file without write notification (tmpfs-like) keeps writable entries on purpose: their dirty
  // bits are its record of a write, which the next writeback collects
  const mapping = Atomics.load(m, machine.L.fMapping + folio);
  if (!mapping || !machine.fileWritenotify(mapping - 1)) return;
  cpu.counters[FOLIOS_CLEANED_CHECKED]++; // the contract is evaluated: a folio of a write-notify file (the reach floor wants some)
  const dirty = (): boolean => (Atomics.load(m, machine.L.fFlags + folio) & FOLIO_DIRTY) !== 0;
  if (dirty()) return; // threads: a write fault dirtied it again already (and may have made an entry writable)
  const nr = 1 << Atomics.load(m, machine.L.fOrder + folio);
  for (let c = 0; c < machine.L.cpus; c++) {
    const base = machine.tlbBase(c);
    for (let i = 0; i < machine.L.tlbEntries; i++) {
      const k = m[base + i * 2]; // plain reads while scanning, the hit confirmed with Atomics
      if (k === 0) continue;
      const pte = m[base + i * 2 + 1];
      const p = pte_pfn(pte);
      if (!pte_write(pte) || p < folio || p >= folio + nr || Atomics.load(m, base + i * 2) !== k || Atomics.load(m, base + i * 2 + 1) !== pte || dirty()) continue;
      cpu.violation('tlb-writable-after-clean', 'folio_clear_dirty_for_io', { folio, pfn: p, tlbCpu: c, mm: tlbEntryMm(k), vpn: tlbEntryVpn(k), addr: hex(tlbEntryVpn(k) * 4096), tlb: pteToString(pte), op: cpu.curOp });
    }
  }
}

/**
 * The MMU's own contract at every store (store-through-readonly-entry): the entry it stores through
 * is writable and dirty (hardware sets dirty before the store), else a store went on without a
 * fault, or without the record writeback and zap rely on. What is wrong, or null.
 */
/** The allocations that failed on CPU cpu so far (alloc_folio's per-CPU counter, CPU.ALLOC_FAILS). */
export function allocFailures(machine: Machine, cpu: number): number {
  return Atomics.load(machine.m, machine.cpuWord(cpu, CPU.ALLOC_FAILS));
}

export function storeEntryProblem(pte: number): string | null {
  if (!pte_write(pte)) return 'a store through a read-only entry';
  if (!pte_dirty(pte)) return 'a store through a clean entry (no dirty bit set first)';
  return null;
}

/**
 * User-visible semantics at every access the MMU let through, by a TLB entry or a walk (null: allowed): the
 * process's VMA must allow it (a load needs a VMA, a store a writable one), unless a change of the
 * mm's VMAs is in flight (mmap_lock held for write: munmap, mprotect, mremap, exit flush before
 * they return, and accesses meanwhile may still go through). After munmap or mprotect(PROT_READ)
 * returns, a store or load that should fault and does not is this violation. Checked before and
 * after the VMA read with the lock word: a writer that starts meanwhile cannot finish (its flush
 * waits for this access), so a writer-free read on both sides saw a settled VMA.
 */
export function accessNotAllowed(machine: Machine, mm: number, vpn: number, write: boolean, pte: number, tlbHit: boolean): { invariant: string; details: Record<string, unknown> } | null {
  const lw = machine.mmWord(mm, MM.MMAP_LOCK);
  if (rwsem_is_write_locked(machine.m, lw)) return null;
  // plain reads: the lock word's Atomics load orders them after the last writer's VMA changes
  const v = find_vma_plain(machine, mm, vpn);
  if (v && (!write || v.flags & VM_WRITE)) return null;
  if (rwsem_is_write_locked(machine.m, lw)) return null;
  return {
    invariant: v ? 'store-not-allowed' : 'access-not-mapped',
    details: {
      mm, vpn, addr: hex(vpn * 4096), [tlbHit ? 'tlb' : 'pte']: pteToString(pte), vma: v ? { start: hex(v.start * 4096), end: hex(v.end * 4096), writable: false } : null,
      why: `${v ? 'a store went through' : 'an access went through'} ${tlbHit ? 'a TLB entry' : 'a page-table entry'} ${v ? 'of a read-only VMA (after mprotect returned)' : 'where no VMA maps (after munmap returned)'}`,
    },
  };
}

/** writebackBegin's snapshot per CPU: the file and each of its pages' last recorded store. */
const wbStart = new WeakMap<Cpu, { file: number; last: Int32Array }>();

/** write_cache_pages of file begins: note each file page's last recorded store (the data oracle's file record). */
export function writebackBegin(cpu: Cpu, file: number): void {
  const machine = cpu.machine;
  const { m, L } = machine;
  let s = wbStart.get(cpu);
  if (!s || s.last.length !== L.filePages) wbStart.set(cpu, (s = { file, last: new Int32Array(L.filePages) }));
  s.file = file;
  for (let p = 0; p < L.filePages; p++) s.last[p] = Atomics.load(m, L.oFile + machine.filePage(file, p));
}

/**
 * Data, at every writeback: when write_cache_pages of file ends, every page whose last store
 * completed before it began (the record has not moved since writebackBegin) is on the disk. A store
 * that went on without dirtying anything (a stale writable TLB entry after an earlier writeback, a
 * dirty bit lost by a zap or a PTE change) is caught here, at the writeback that missed it.
 */
export function writebackEnd(cpu: Cpu, file: number): void {
  const machine = cpu.machine;
  const { m, L } = machine;
  const s = wbStart.get(cpu);
  if (!s || s.file !== file) throw new Error(`writebackEnd(file ${file}) without writebackBegin`);
  for (let p = 0; p < L.filePages; p++) {
    const fp = machine.filePage(file, p);
    const exp = Atomics.load(m, L.oFile + fp);
    if (exp !== s.last[p]) continue; // stored to during this writeback: the next one owes it
    const got = Atomics.load(m, L.disk + fp);
    if (got !== exp) cpu.violation('writeback-lost-write', 'write_cache_pages', { file, pgoff: p, disk: hex(got), expected: hex(exp), op: cpu.curOp, why: 'a store that completed before this writeback began is not on the disk after it' });
  }
}
