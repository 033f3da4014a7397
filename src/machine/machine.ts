// The machine: one SharedArrayBuffer holding struct pages/folios, the buddy allocator, mms with
// their VMAs and PTE tables, the PTLs, per-CPU TLBs and flight recorders, and the data oracle.
// Every worker thread wraps the same buffer in a Machine; all shared words go through Atomics.
import type { MachineConfig } from './params.js';
import { PTRS_PER_PTE } from './params.js';
import { computeLayout, type Layout, LOCK_WORDS, MM, VMA_WORDS, CPU, IMAP_WORDS } from './layout.js';

// struct page flags (per pfn)
export const PG_HEAD = 1 << 0;
export const PG_TAIL = 1 << 1;
export const PG_ANON_EXCLUSIVE = 1 << 2;
export const PG_BUDDY = 1 << 3; // free, in the buddy allocator (poisoned)
export const PG_RESERVED = 1 << 4; // zero page, or held back at boot to fragment memory

// folio flags (at the head pfn)
export const FOLIO_ANON = 1 << 0;
export const FOLIO_DIRTY = 1 << 1;
export const FOLIO_UPTODATE = 1 << 2;
export const FOLIO_LARGE = 1 << 4;
export const FOLIO_REFERENCED = 1 << 5;
export const FOLIO_LOCKED = 1 << 6; // PG_locked: folio_lock() (mm/filemap.c)
export const FOLIO_ISOLATED = 1 << 8; // taken off the LRU by migration or reclaim (folio_isolate_lru): one at a time
/**
 * PG_reclaim of a page-cache folio (the kernel's PG_readahead is the same bit): reclaim outside
 * kswapd met it dirty and left it for writeback (folio_set_reclaim in shrink_folio_list). Fault-
 * around skips such a folio as a readahead marker (next_uptodate_folio's folio_test_readahead); a
 * fault that finds it clears it (page_cache_async_ra), and so does the end of its writeback.
 */
export const FOLIO_RECLAIM = 1 << 10;
export const FOLIO_LRU = 1 << 9; // PG_lru of a page-cache folio: set once it is published (folio_add_lru), what reclaim's scan may take
/**
 * An anon folio MADV_FREE made lazyfree: the kernel's !folio_test_swapbacked() of an anon folio
 * (set by folio_mark_lazyfree, mm/madvise.ts). Reclaim may discard such a folio while it is still
 * clean instead of swapping it; it clears the flag again (folio_set_swapbacked) when it finds the
 * folio redirtied. alloc_folio/free_folio reset every flag, so a reallocated folio is swapbacked.
 */
export const FOLIO_LAZYFREE = 1 << 7;

// VMA flags
export const VM_READ = 1 << 0;
export const VM_WRITE = 1 << 1;
export const VM_ANON = 1 << 2;
export const VM_SHARED = 1 << 3;
export const VM_LIVE = 1 << 4; // slot in use
export const VM_DONTFORK = 1 << 5;
/** vma_wants_writenotify(): a shared file mapping whose clean PTEs stay read-only (disk filesystems). */
export const VM_WRITENOTIFY = 1 << 6;

/**
 * What the tool makes of an operation name (src/diag/op-codes.ts): the counter index of the first
 * kind of its cost bucket (COST_BASE + bucket * COST_KINDS.length), and its CPU.OP code (0: none).
 */
export interface OpCodes {
  readonly cost: number;
  readonly op: number;
}

/** Content word of a freed page: a read or write through a stale mapping finds it. */
export const POISON = 0x6badf00d;
/** The shared zero page. */
export const ZERO_PFN = 0;

export class Machine {
  readonly sab: SharedArrayBuffer;
  readonly m: Int32Array;
  readonly L: Layout;
  readonly cfg: MachineConfig;

  constructor(
    cfg: MachineConfig,
    /** The codes of an operation name, looked up by a Cpu as its curOp is set (the tool's, given by buildMachine). */
    readonly opCodes: (name: string) => OpCodes,
    sab?: SharedArrayBuffer,
  ) {
    this.cfg = cfg;
    this.L = computeLayout(cfg);
    this.sab = sab ?? new SharedArrayBuffer(this.L.words * 4);
    if (this.sab.byteLength !== this.L.words * 4) throw new Error('machine buffer does not match the config layout');
    this.m = new Int32Array(this.sab);
  }

  // ---- mm / VMA / page-table addressing -------------------------------------------------
  mmWord(mm: number, field: number): number {
    return this.L.mm + mm * MM.WORDS + field;
  }
  vmaBase(mm: number, slot: number): number {
    return this.L.vma + (mm * this.L.maxVmas + slot) * VMA_WORDS;
  }
  /** Index of the PTE table covering vpn in mm (tables are preassigned; pgd says populated). */
  tableIndex(mm: number, vpn: number): number {
    return mm * this.L.tablesPerMm + (vpn >>> 9);
  }
  pgdWord(table: number): number {
    return this.L.pgd + table;
  }
  /** Word index of the PTE for vpn in mm. */
  ptep(mm: number, vpn: number): number {
    return this.L.pte + mm * this.L.tablesPerMm * PTRS_PER_PTE + vpn;
  }
  ptlOf(table: number): number {
    return this.L.ptl + table * LOCK_WORDS;
  }
  oracleIndex(mm: number, vpn: number): number {
    return mm * this.L.vaPages + vpn;
  }
  cpuWord(cpu: number, field: number): number {
    return this.L.cpu + cpu * CPU.WORDS + field;
  }
  tlbBase(cpu: number): number {
    return this.L.tlb + cpu * this.L.tlbStride;
  }

  // ---- struct page / folio plain reads (for checkers and reports) ------------------------
  pageFlags(pfn: number): number {
    return Atomics.load(this.m, this.L.pFlags + pfn);
  }

  // ---- files ------------------------------------------------------------------------------
  /**
   * Each file's kind when set (true: a disk filesystem), over the config's files.writenotify: a
   * scenario says it per file by how its shared mappings are made (the executor puts a file with a
   * write-notify shared mapping on ext4, the others on tmpfs: src/conform/compile.ts).
   */
  fileKinds: readonly boolean[] | null = null;
  /** Does file f want write notification (disk filesystem) or not (tmpfs-like)? */
  fileWritenotify(f: number): boolean {
    if (this.fileKinds) return this.fileKinds[f] === true;
    const w = this.cfg.files.writenotify;
    return w === 'on' || (w === 'both' && (f & 1) === 1);
  }
  /** Global index of page pgoff of file f (page cache, disk and file oracle arrays). */
  filePage(f: number, pgoff: number): number {
    return f * this.L.filePages + pgoff;
  }
  /** The file page a physical page caches, or -1 (anon, free, zero page). */
  filePageOfPfn(pfn: number): number {
    const folio = Atomics.load(this.m, this.L.pHead + pfn);
    const mapping = Atomics.load(this.m, this.L.fMapping + folio);
    if (!mapping) return -1;
    return this.filePage(mapping - 1, Atomics.load(this.m, this.L.fIndex + folio) + (pfn - folio));
  }
  imapBase(f: number, slot: number): number {
    return this.L.imap + (f * this.L.imapSlots + slot) * IMAP_WORDS;
  }
}
