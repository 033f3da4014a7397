// Layout of the machine inside one SharedArrayBuffer: every shared word is an Int32 at a fixed
// offset computed here from the config, so every worker thread maps the same machine.
import { type MachineConfig, PTRS_PER_PTE } from './params.js';

/** Words in a 64-byte cache line. */
export const LINE_WORDS = 16;

/** Words of one emulated spinlock (see kernel/locking/spinlock.ts). */
export const LOCK_WORDS = 4; // NEXT ticket, OWNER ticket, HOLDER cpu+1, HOLD_START (step)

/** Words of one VMA slot. */
export const VMA_WORDS = 6; // START vpn, END vpn (exclusive), FLAGS, FILE (file + 1, 0: anon), PGOFF (file page at START), spare
/** Words of one i_mmap entry: MM + 1 (0: free slot), START, END, PGOFF. */
export const IMAP_WORDS = 4;
/** Per-mm scalar words. */
export const MM = {
  STATE: 0, // MM_FREE / MM_CREATING / MM_LIVE / MM_DYING
  USERS: 1, // mm_users
  MMAP_LOCK: 2, // rwsem word: WRITER bit | reader count
  RSS_ANON: 3, // MM_ANONPAGES
  RSS_FILE: 4, // MM_FILEPAGES
  FLAGS: 5, // MMF_* bits
  GEN: 6, // generation: bumped every time the slot is reused
  WRITE_PROTECT_SEQ: 7, // seqcount: odd while fork write-protects a COW VMA (GUP-fast checks it)
  FORK_SEQ: 8, // tool side: odd while dup_mmap runs on this mm (the data oracle's fork window)
  FORK_CHILD: 9, // tool side: the child mm slot of the fork in flight (or last)
  LINEAGE: 10, // tool side: bitmask of mm slots whose tokens this mm may hold (itself and ancestors)
  MREMAP_SEQ: 11, // tool side: odd while mremap moves page-table entries of this mm (the data oracle's move window)
  MREMAP_FROM: 12, // tool side: the move in flight (or last): source vpn, destination vpn, pages
  MREMAP_TO: 13,
  MREMAP_LEN: 14,
  TLB_FLUSH_PENDING: 15, // mm->tlb_flush_pending: operations that changed PTEs and have not flushed yet (mmu_gather)
  BIRTH: 16, // when this mm joined the anon rmap (anon_vma_fork / the first anon_vma), 0: not linked; the walk visits mms in this order
  FREE_GEN: 17, // tool side: MADV_FREE calls of this mm begun (high 16 bits) and in flight (low 16 bits): the data oracle's lazyfree window
  WORDS: 18,
} as const;
export const MM_FREE = 0, MM_CREATING = 3, MM_LIVE = 1, MM_DYING = 2;

/** Per-CPU scalar words. */
export const CPU = {
  ACCESS_SEQ: 0, // odd while a user access is in flight (TLB shootdown waits for it)
  RING_POS: 1, // the CPU's events recorded so far (its next event's number); the slot is this mod ringSize
  // For hang reports, readable from every thread: the lock this CPU waits for (its word offset
  // + 1; 0 while it waits for none) and since when (sched: scheduler step; threads: G.SEQ), and
  // the workload op it runs (OP_KINDS index + 1; 0: none or not a workload op).
  WAIT_ON: 2,
  WAIT_SINCE: 3,
  OP: 4,
  // RW_SLOTS pairs: a reader/writer semaphore this CPU holds ((word + 1) << 1 | 1 if for write;
  // 0: free slot) and since when (as WAIT_SINCE). A CPU holds at most two at once (fork: the
  // parent's mmap_lock, then a file's i_mmap_rwsem); a third hold would go unrecorded.
  RW_HELD: 5,
  /**
   * Allocations that failed on this CPU (alloc_folio found no free block, any order): a per-CPU
   * event counter as the kernel's vm_event_states, read by the tool (a fault may return
   * VM_FAULT_OOM only after one of its allocations failed).
   */
  ALLOC_FAILS: 11,
  /** 12 used; 16 = one 64-byte cache line per CPU (two CPUs' words in one line would bounce it between their cores). */
  WORDS: 16,
} as const;
export const RW_SLOTS = 3;
export const RING_WORDS = 6; // seq, code, a, b, c, time

/** Global words. */
export const G = {
  SEQ: 0, // global event sequence (flight recorder order)
  STOP: 1, // non-zero: every CPU stops at its next op boundary
  VIOLATIONS: 2, // number of violations recorded
  STEP: 3, // sched: current global step (for lock hold starts)
  READY: 4, // threads: CPUs that have started
  SPENT: 5, // threads: CPUs whose op budget (opsPerCpu) is spent; each runs on until all are
  ANON_VMA_LOCK: 6, // rwsem: the model's one anon_vma root lock (anon_vma_lock_read/write), src/linux/mm/rmap.ts
  MM_BIRTH: 7, // the last mm birth number given out (MM.BIRTH): the anon rmap walk's order
  WORDS: 16,
} as const;

export interface Layout {
  pages: number;
  vaPages: number;
  tablesPerMm: number;
  maxMms: number;
  maxVmas: number;
  cpus: number;
  tlbEntries: number;
  ringSize: number;
  maxOrder: number;
  // offsets (Int32 index)
  global: number;
  // struct page (per pfn)
  pFlags: number;
  pMapcount: number;
  pContent: number;
  pHead: number;
  pPin: number; // pins of this very page (the folio's pin count sums them)
  // struct folio (meaningful at the head pfn)
  fOrder: number;
  fRef: number;
  fMapcount: number;
  fPin: number;
  fFlags: number;
  fMmId: number; // 2 words per folio (at head): CONFIG_MM_ID slots, (mm+1) << 20 | mapcount of that mm
  fMapping: number; // file folios: file + 1 (folio->mapping); 0 for anon and free folios
  fIndex: number; // file folios: the file page of the head (folio->index)

  // buddy allocator
  buddyNext: number;
  buddyPrev: number;
  freeHead: number; // per order
  freeCount: number; // per order
  zoneLock: number;
  // mms
  mm: number; // maxMms * MM.WORDS
  vma: number; // maxMms * maxVmas * VMA_WORDS
  pgd: number; // maxMms * tablesPerMm: 1 if the PTE table is populated
  pte: number; // maxMms * tablesPerMm * PTRS_PER_PTE
  ptl: number; // maxMms * tablesPerMm * LOCK_WORDS
  // files (struct address_space): page cache, locks, i_mmap, and the modelled disk
  files: number;
  filePages: number;
  pcache: number; // files * filePages: pfn of the page caching each file page (0: not cached; pfn 0 is the zero page)
  disk: number; // files * filePages: the content word on disk
  xaLock: number; // files * LOCK_WORDS: mapping->i_pages lock (page cache insertion)
  immapLock: number; // files: i_mmap_rwsem
  wbLock: number; // files: writeback of the file in progress (tool: stands for the folio lock + PG_writeback)
  imap: number; // files * maxMms * maxVmas * IMAP_WORDS: i_mmap, the mappings of each file
  imapSlots: number; // per file
  // data oracle (per mm, per virtual page)
  oExp: number;
  oAlt: number;
  oAltOk: number;
  oWgen: number;
  oZapGen: number;
  oTag: number; // the vpn the page's current token was written at (mremap moved it here); 0 = this very vpn
  oFile: number; // files * filePages: the last token written to each file page (through any shared mapping)
  oSys: number; // maxMms * OSYS_WORDS: the system calls changing each mm's maps in flight (src/check/maps.ts)
  // cpus
  cpu: number;
  tlb: number; // cpus * tlbStride: tlbEntries * 2 (key, pte) per CPU, from a cache line of its own
  tlbStride: number;
  ring: number; // cpus * ringSize * RING_WORDS
  words: number;
}

/** Words per mm of the maps checker's bookkeeping (L.oSys): calls in flight, and a sequence. */
export const OSYS_WORDS = 2;

export function computeLayout(c: Pick<MachineConfig, 'memoryPages' | 'vaSize' | 'processes' | 'maxVmas' | 'cpus' | 'tlbEntries' | 'ringSize' | 'files' | 'weights'>): Layout {
  const pages = c.memoryPages;
  const vaPages = c.vaSize >>> 12;
  const tablesPerMm = vaPages / PTRS_PER_PTE;
  // the process slots ops target, and with the forkexit op one more that only its short-lived
  // children take (ops would respawn a free slot among the targeted ones at once, and a fork
  // needs a free slot)
  const maxMms = c.processes + (c.weights.forkexit ? 1 : 0);
  const maxOrder = Math.min(10, Math.log2(pages));
  const files = c.files.count, filePages = c.files.pages;
  const imapSlots = maxMms * c.maxVmas;
  let off = 0;
  const take = (n: number): number => {
    const o = off;
    off += n;
    return o;
  };
  /** take() from the next 64-byte cache line: regions that CPUs write apart (per mm, per table, per CPU) share no line with what precedes them. */
  const line = (n: number): number => {
    off = Math.ceil(off / LINE_WORDS) * LINE_WORDS;
    return take(n);
  };
  const tlbStride = Math.ceil((c.tlbEntries * 2) / LINE_WORDS) * LINE_WORDS;
  const L: Layout = {
    pages, vaPages, tablesPerMm, maxMms, maxVmas: c.maxVmas, cpus: c.cpus, tlbEntries: c.tlbEntries, ringSize: c.ringSize, maxOrder,
    global: take(G.WORDS),
    pFlags: take(pages), pMapcount: take(pages), pContent: take(pages), pHead: take(pages), pPin: take(pages),
    fOrder: take(pages), fRef: take(pages), fMapcount: take(pages), fPin: take(pages), fFlags: take(pages), fMmId: take(pages * 2),
    fMapping: take(pages), fIndex: take(pages),
    buddyNext: take(pages), buddyPrev: take(pages), freeHead: take(maxOrder + 1), freeCount: take(maxOrder + 1), zoneLock: take(LOCK_WORDS),
    mm: line(maxMms * MM.WORDS),
    vma: take(maxMms * c.maxVmas * VMA_WORDS),
    pgd: take(maxMms * tablesPerMm),
    pte: take(maxMms * tablesPerMm * PTRS_PER_PTE),
    ptl: line(maxMms * tablesPerMm * LOCK_WORDS),
    files, filePages, imapSlots,
    pcache: take(files * filePages), disk: take(files * filePages), xaLock: take(files * LOCK_WORDS), immapLock: take(files), wbLock: take(files),
    imap: take(files * imapSlots * IMAP_WORDS),
    oExp: take(maxMms * vaPages), oAlt: take(maxMms * vaPages), oAltOk: take(maxMms * vaPages), oWgen: take(maxMms * vaPages), oZapGen: take(maxMms * vaPages),
    oTag: take(maxMms * vaPages),
    oFile: take(files * filePages),
    oSys: take(maxMms * OSYS_WORDS),
    cpu: line(c.cpus * CPU.WORDS),
    tlb: line(c.cpus * tlbStride),
    tlbStride,
    ring: line(c.cpus * c.ringSize * RING_WORDS),
    words: 0,
  };
  L.words = off;
  return L;
}
