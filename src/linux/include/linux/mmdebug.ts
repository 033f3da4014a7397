// include/linux/mmdebug.h: the debug checks kernel code triggers (VM_WARN_ON, VM_BUG_ON_PAGE, ...)
// and the points where the tool watching the kernel must be told something. The kernel layer never
// imports the tool: it calls these hooks, and the checker installs them when it builds a machine
// (src/check/machine.ts). Until then every hook throws, so a machine built without the checker
// cannot run with its checks silently off.
import type { Cpu } from '../../../machine/cpu.js';
import type { Machine } from '../../../machine/machine.js';

export interface MmDebugHooks {
  /**
   * spin_unlock of the PTL at off, while it is still held: the invariants of that PTE table that
   * must hold whenever its lock is free (and arch contpte: the blocks changed under it are
   * consistent). Raises a violation.
   */
  ptlUnlock(cpu: Cpu, off: number): void;
  /**
   * The point where the kernel relies on [start, end) of mm having no stale TLB entry anywhere:
   * the flush of an unmap, write-protect, move or replacement is done (path: the kernel function).
   */
  tlbSynced(cpu: Cpu, mm: number, start: number, end: number, path: string): void;
  /**
   * alloc_folio found no block for an order-`order` request (the zone lock still held): an order-0
   * request fails only when memory is exhausted ("too small to fail"). Raises a violation.
   */
  allocFailed(cpu: Cpu, order: number): void;
  /** free_folio: the folio [head, head + nr) goes back to the allocator (its last reference dropped). */
  folioFree(cpu: Cpu, head: number, nr: number): void;
  /**
   * do_wp_page is about to reuse page pfn of folio in place for a write by mm at vpn
   * (wp_page_reuse); exclusive: the page was AnonExclusive (else wp_can_reuse_anon_folio said yes).
   */
  cowReuse(cpu: Cpu, mm: number, vpn: number, pfn: number, folio: number, exclusive: boolean): void;
  /** writeback cleaned folio (folio_clear_dirty_for_io said dirty) and is about to copy it to the disk. */
  folioCleaned(cpu: Cpu, folio: number): void;
  /** write_cache_pages of file begins (its writeback lock held). */
  writebackBegin(cpu: Cpu, file: number): void;
  /** write_cache_pages of file ends (its writeback lock still held). */
  writebackEnd(cpu: Cpu, file: number): void;
  /**
   * ptep_modify_prot_commit's contract (path: the kernel function): old_pte is this slot's value
   * before ptep_modify_prot_start, so it maps the page pte maps. Raises a violation.
   */
  protCommit(cpu: Cpu, path: string, ptep: number, oldPte: number, pte: number): void;
  /**
   * threads: cpu has waited waitedMs (whole ms) for the lock at off, past lockWaitLimitMs (mode:
   * what a semaphore was asked for; null: a spinlock). Raises lock-hang, naming the lock, its
   * holders and its waiters.
   */
  lockWaitLimit(cpu: Cpu, off: number, waitedMs: number, mode: 'read' | 'write' | null): void;
  /**
   * folio_add/sub_return_large_mapcount (path) is about to change folio's CONFIG_MM_ID slots and
   * total mapcount, its mapcount lock held: they obey the MM_ID rules. Raises a violation.
   */
  mmIdChange(cpu: Cpu, folio: number, path: string): void;
  /**
   * A batched PTE helper (clear_young_dirty_ptes) begins, PTL held: the entries it writes from here
   * to pteBatchEnd are noted apart from the rest of the PTL hold's.
   */
  pteBatchBegin(cpu: Cpu): void;
  /**
   * ... and ends (path: the helper): it was asked for [ptep, ptep + nr) and must have written no
   * entry outside it (arm64 contpte: outside the blocks of its first and last entries). Raises a violation.
   */
  pteBatchEnd(cpu: Cpu, path: string, ptep: number, nr: number): void;
  /** dup_mmap copied the VMA [start, end) of parent to child (the data oracle copies its records). */
  forkCopied(machine: Machine, parent: number, child: number, start: number, end: number): void;
  /** move_vma is about to move [from, from + len) of mm to `to` (the data oracle moves its records; it may refuse). */
  mremapBegin(machine: Machine, mm: number, from: number, to: number, len: number): void;
  /** move_vma has moved the entries and dropped the old range. */
  mremapEnd(machine: Machine, mm: number, from: number, len: number): void;
  /**
   * move_ptes moved present entries of [oldStart, oldEnd) of mm to newStart.. (both PTLs still
   * held), rmapLocked: under the rmap locks. For a file mapping, an rmap walk of the file in flight
   * must find each of them: "only rmap traversal order guarantees that we won't miss both the old
   * and new ptes" (move_ptes), so without the locks the walk must visit the old mapping first.
   * Raises a violation.
   */
  rmapMove(cpu: Cpu, mm: number, oldStart: number, oldEnd: number, newStart: number, rmapLocked: boolean): void;
}

const notInstalled = (): never => {
  throw new Error('mmdebug hooks not installed: build machines with the checker (src/check/machine.ts buildMachine)');
};

/** The installed hooks: kernel code calls MMDEBUG.x(...). */
export const MMDEBUG: MmDebugHooks = {
  ptlUnlock: notInstalled,
  tlbSynced: notInstalled,
  cowReuse: notInstalled,
  folioFree: notInstalled,
  allocFailed: notInstalled,
  folioCleaned: notInstalled,
  writebackBegin: notInstalled,
  writebackEnd: notInstalled,
  protCommit: notInstalled,
  lockWaitLimit: notInstalled,
  mmIdChange: notInstalled,
  pteBatchBegin: notInstalled,
  pteBatchEnd: notInstalled,
  forkCopied: notInstalled,
  mremapBegin: notInstalled,
  mremapEnd: notInstalled,
  rmapMove: notInstalled,
};

/** Install the checker's hooks (idempotent: the same functions every time). */
export function installMmDebugHooks(hooks: MmDebugHooks): void {
  Object.assign(MMDEBUG, hooks);
}
