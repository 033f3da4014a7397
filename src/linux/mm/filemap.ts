// Models mm/filemap.c: the page cache of each file. filemap_fault() finds the folio caching a file
// page or reads it from the modelled disk into a new folio and inserts it (__filemap_add_folio under
// the i_pages lock); folios are naturally aligned in the file, of the largest config order whose
// range fits the file and whose cache slots are empty (page_cache_ra_order, simplified: no
// readahead window). The page cache holds one reference per page of a folio, as the kernel does.
// Folios stay cached until reclaim removes a clean one (src/linux/mm/vmscan.ts, __remove_mapping)
// or truncate_inode_pages() at the end of a run.
import type { Cpu } from '../../machine/cpu.js';
import { type Gen, P, WAIT } from '../../machine/gen.js';
import { EV } from '../../machine/events.js';
import { G, LOCK_WORDS } from '../../machine/layout.js';
import { FOLIO_LOCKED, FOLIO_LRU, FOLIO_RECLAIM, FOLIO_UPTODATE } from '../../machine/machine.js';
import { Aborted } from '../kernel/locking/spinlock.js';
import { spin_lock, spin_unlock } from '../kernel/locking/spinlock.js';
import { alloc_folio } from './page_alloc.js';
import { mem_cgroup_charge } from './memcontrol.js';
import { folio_put, folio_put_refs, folio_ref_add } from './swap.js';
import { MM } from '../../machine/layout.js';
import { PTRS_PER_PTE } from '../../machine/params.js';
import { VM_SHARED, VM_WRITE, VM_WRITENOTIFY } from '../../machine/machine.js';
import { PTE_WRITE, PTE_YOUNG, pfn_pte, pte_advance_pfn, pte_none } from '../../machine/pte.js';
import { ptep_get, set_pte_at, set_ptes } from '../include/linux/pgtable.js';
import { folio_add_file_rmap_ptes } from './rmap.js';
import type { VmaView } from './mmap.js';

/**
 * The page-cache orders of the config, highest first. Kernel 6.12: order 0 only. Neither of the
 * filesystems the model's files stand for had large folios then: tmpfs files (without a huge=
 * mount, PMD only) got them with "mm: shmem: add large folio support for tmpfs" (Baolin Wang,
 * v6.14), ext4 with "ext4: enable large folio for regular file" (Zhang Yi, v6.16); conform saw
 * order-0 tmpfs folios on 6.12 (issue 16 measured ext4's).
 */
function fileOrders(cpu: Cpu): number[] {
  if (cpu.cfg.kernel === '6.12') return [0];
  return [...new Set([0, ...cpu.cfg.files.orders])].sort((a, b) => b - a);
}

/** filemap_get_folio() raced a removal or a reuse of the folio it found: look again. */
export const FILEMAP_RETRY = -2;

/**
 * filemap_get_folio() (filemap_get_entry): the folio caching page pgoff of file with a reference
 * taken, -1 when none is cached, or FILEMAP_RETRY. As the kernel's lookup does: the slot, then
 * folio_try_get() (a count reclaim froze at 0 while it removes the folio is not taken), then the
 * slot again: the folio may have been removed, freed and its pages reused meanwhile ("goto repeat").
 */
export function* filemap_get_folio(cpu: Cpu, file: number, pgoff: number): Gen<number> {
  const { m, L } = cpu.machine;
  const slot = L.pcache + cpu.machine.filePage(file, pgoff);
  const pfn = Atomics.load(m, slot);
  if (!pfn) return -1;
  const folio = Atomics.load(m, L.pHead + pfn);
  if (!folio_try_get(cpu, folio)) return FILEMAP_RETRY;
  if (Atomics.load(m, slot) !== pfn || Atomics.load(m, L.pHead + pfn) !== folio) {
    // not the folio the slot holds (freed and reused since we read the slot): folio_put, which
    // frees it if its new owner has dropped its reference meanwhile
    yield* folio_put(cpu, folio);
    return FILEMAP_RETRY;
  }
  return folio;
}

/** folio_try_get(): take a reference unless the count is 0 (free, or frozen by __remove_mapping). */
export function folio_try_get(cpu: Cpu, folio: number): boolean {
  const { m, L } = cpu.machine;
  for (;;) {
    const r = Atomics.load(m, L.fRef + folio);
    if (r <= 0) return false;
    if (Atomics.compareExchange(m, L.fRef + folio, r, r + 1) === r) {
      cpu.noteFolio(folio);
      return true;
    }
  }
}

/**
 * filemap_fault(): the folio caching page pgoff of file, with a reference for the caller; read from
 * disk on a miss. Returns -1 when no folio can be allocated (OOM).
 */
export function* filemap_fault(cpu: Cpu, file: number, pgoff: number): Gen<number> {
  const machine = cpu.machine;
  const { m, L } = machine;
  for (;;) {
    yield P.PTE_READ;
    const hit: number = yield* filemap_get_folio(cpu, file, pgoff);
    if (hit >= 0) {
      // do_async_mmap_readahead(): a hit on a readahead marker starts the next readahead
      // (page_cache_async_ra), which clears the mark first; the model reads nothing ahead
      if (Atomics.load(m, L.fFlags + hit) & FOLIO_RECLAIM) Atomics.and(m, L.fFlags + hit, ~FOLIO_RECLAIM);
      return hit;
    }
    if (hit === FILEMAP_RETRY) continue;
    // page_cache_ra_order(): the largest order whose aligned range fits the file and is not cached
    let folio = -1, order = 0, base = pgoff;
    for (const o of fileOrders(cpu)) {
      const b = pgoff & ~((1 << o) - 1);
      if (b + (1 << o) > L.filePages || !cacheRangeEmpty(cpu, file, b, 1 << o)) continue;
      folio = yield* alloc_folio(cpu, o);
      // filemap_add_folio() charges the new folio: a failed charge is -ENOMEM, and the readahead
      // falls back to a lower order (page_cache_ra_order, then order 0 by __filemap_get_folio)
      if (folio >= 0 && mem_cgroup_charge(cpu, folio)) {
        yield* folio_put(cpu, folio);
        folio = -1;
      }
      if (folio >= 0) {
        order = o;
        base = b;
        break;
      }
      cpu.ev(EV.FILE_ALLOC_FALLBACK, pgoff, o);
    }
    if (folio < 0) {
      // Another CPU cached the page itself since the lookup (every range holding it is no longer
      // empty, so no order was tried): look it up again, as filemap_fault retries the lookup when
      // adding its own folio fails with -EEXIST. Only a failed allocation is OOM.
      if (!cacheRangeEmpty(cpu, file, pgoff, 1)) continue;
      return -1;
    }
    const nr = 1 << order;
    // read_pages(): fill from disk, then the folio's identity, all before it is published
    for (let i = 0; i < nr; i++) Atomics.store(m, L.pContent + folio + i, Atomics.load(m, L.disk + machine.filePage(file, base + i)));
    Atomics.store(m, L.fMapping + folio, file + 1);
    Atomics.store(m, L.fIndex + folio, base);
    Atomics.or(m, L.fFlags + folio, FOLIO_UPTODATE);
    yield P.ALLOC;
    const lock = L.xaLock + file * LOCK_WORDS;
    yield* spin_lock(cpu, lock);
    if (cacheRangeEmpty(cpu, file, base, nr)) {
      // __filemap_add_folio(): the page cache's references first, then the slots that publish it
      folio_ref_add(cpu, folio, nr);
      for (let i = 0; i < nr; i++) Atomics.store(m, L.pcache + machine.filePage(file, base + i), folio + i);
      spin_unlock(cpu, lock);
      // folio_add_lru(): only now may reclaim's scan take it (not while we fill and publish it)
      Atomics.or(m, L.fFlags + folio, FOLIO_LRU);
      cpu.ev(EV.FILE_CACHED + order, base, order);
      return folio; // our allocation reference is the caller's
    }
    // another CPU cached (part of) the range first: drop ours and look again
    spin_unlock(cpu, lock);
    Atomics.store(m, L.fMapping + folio, 0);
    yield* folio_put(cpu, folio);
    cpu.ev(EV.FILE_ADD_RACE, pgoff);
  }
}

function cacheRangeEmpty(cpu: Cpu, file: number, base: number, nr: number): boolean {
  const { m, L } = cpu.machine;
  const w = L.pcache + cpu.machine.filePage(file, base);
  for (let i = 0; i < nr; i++) if (Atomics.load(m, w + i)) return false;
  return true;
}

/**
 * truncate_inode_pages() of the whole file at the end of a run (every mapping is gone): remove
 * each folio from the page cache and drop the cache's references, which frees it.
 */
export function* truncate_inode_pages(cpu: Cpu, file: number): Gen<void> {
  const machine = cpu.machine;
  const { m, L } = machine;
  const lock = L.xaLock + file * LOCK_WORDS;
  for (let p = 0; p < L.filePages; ) {
    const w = L.pcache + machine.filePage(file, p);
    const pfn = Atomics.load(m, w);
    if (!pfn) {
      p++;
      continue;
    }
    const folio = Atomics.load(m, L.pHead + pfn);
    const nr = 1 << Atomics.load(m, L.fOrder + folio);
    yield* spin_lock(cpu, lock);
    for (let i = 0; i < nr; i++) Atomics.store(m, w + i, 0);
    spin_unlock(cpu, lock);
    Atomics.store(m, L.fMapping + folio, 0);
    yield* folio_put_refs(cpu, folio, nr);
    p += nr;
  }
}

/**
 * folio_lock() (__folio_lock): take PG_locked, sleeping while another holds it. Writeback holds it
 * from folio_clear_dirty_for_io() to the copy, a write-notify write fault from page_mkwrite() to
 * the PTE becoming writable, so neither can run inside the other: a folio cleaned for writeback is
 * never made writable again without being dirtied after the clean.
 */
export function* folio_lock(cpu: Cpu, folio: number): Gen<void> {
  yield P.LOCK;
  yield* folio_wait_bit_common(cpu, folio, true, 'folio_lock', 'the lock');
}

/**
 * folio_wait_bit(PG_locked) without taking it: sleep until the folio is unlocked
 * (migration_entry_wait_on_locked: a migration holds the lock until its entries are replaced).
 */
export function folio_wait_locked(cpu: Cpu, folio: number, path: string): Gen<void> {
  return folio_wait_bit_common(cpu, folio, false, path, 'the unlock');
}

/**
 * folio_wait_bit_common() for PG_locked: sleep while it is set, then take it (EXCLUSIVE, as
 * folio_lock does) or just return (SHARED). A threaded CPU spins (Atomics.wait after a while) and
 * reports a wait past lockWaitLimitMs as lock-hang at path; a sched CPU blocks (WAIT).
 */
function* folio_wait_bit_common(cpu: Cpu, folio: number, take: boolean, path: string, what: string): Gen<void> {
  const m = cpu.m;
  const w = cpu.machine.L.fFlags + folio;
  const start = cpu.threaded ? performance.now() : 0;
  for (let i = 0; ; i++) {
    const v = Atomics.load(m, w);
    if (!(v & FOLIO_LOCKED)) {
      if (!take || Atomics.compareExchange(m, w, v, v | FOLIO_LOCKED) === v) return;
      continue;
    }
    if (cpu.threaded) {
      if (i > 100) Atomics.wait(m, w, v, 5);
      if (Atomics.load(m, cpu.machine.L.global + G.STOP) === 2) throw new Aborted();
      const waited = performance.now() - start;
      if (waited > cpu.cfg.lockWaitLimitMs) cpu.violation('lock-hang', path, { why: `CPU ${cpu.id} waited ${Math.round(waited)} ms (lockWaitLimitMs ${cpu.cfg.lockWaitLimitMs}) for ${what} of folio ${folio}`, waiter: cpu.id, folio, op: cpu.curOp });
      continue;
    }
    cpu.waitFor = () => (Atomics.load(m, w) & FOLIO_LOCKED) === 0;
    cpu.waitWhat = path;
    cpu.waitOff = -1;
    cpu.blockedSince = cpu.clock.step;
    yield WAIT;
  }
}

/** folio_trylock(): take PG_locked if it is free; false if another holds it. */
export function folio_trylock(cpu: Cpu, folio: number): boolean {
  return (Atomics.or(cpu.m, cpu.machine.L.fFlags + folio, FOLIO_LOCKED) & FOLIO_LOCKED) === 0;
}

/** folio_unlock(): clear PG_locked and wake the waiters. */
export function folio_unlock(cpu: Cpu, folio: number): void {
  const w = cpu.machine.L.fFlags + folio;
  if (!(Atomics.and(cpu.m, w, ~FOLIO_LOCKED) & FOLIO_LOCKED)) cpu.violation('folio-unlock-not-locked', 'folio_unlock', { folio, op: cpu.curOp });
  if (cpu.threaded) Atomics.notify(cpu.m, w);
}

// ---- fault-around -------------------------------------------------------------------------

/** fault_around_bytes (64 KiB, the default) in pages. */
export const FAULT_AROUND_PAGES = 16;

/** What the fault path hands filemap_map_pages (the parts of struct vm_fault it reads). */
export interface FaultAroundVmf {
  mm: number;
  vma: VmaView;
  vpn: number;
  ptep: number;
  ptl: number;
}

/**
 * next_uptodate_folio(): the next folio caching a page in [pgoff, end] of file, referenced and
 * locked, and the page offset it was found at; null when none is left. As the kernel's: a locked
 * folio is skipped (no sleeping here), the reference is taken with folio_try_get, the slot read
 * again (the folio may have left the cache meanwhile), then uptodate, the trylock and the
 * mapping are checked; anything that fails is skipped, not waited for.
 */
function* next_uptodate_folio(cpu: Cpu, file: number, pgoff: number, end: number): Gen<{ folio: number; pgoff: number } | null> {
  const machine = cpu.machine;
  const { m, L } = machine;
  for (; pgoff <= end; pgoff++) {
    const slot = L.pcache + machine.filePage(file, pgoff);
    const pfn = Atomics.load(m, slot);
    if (!pfn) continue;
    const folio = Atomics.load(m, L.pHead + pfn);
    if (Atomics.load(m, L.fFlags + folio) & FOLIO_LOCKED) continue;
    if (!folio_try_get(cpu, folio)) continue;
    if (Atomics.load(m, slot) !== pfn || Atomics.load(m, L.pHead + pfn) !== folio || (Atomics.load(m, L.fFlags + folio) & (FOLIO_UPTODATE | FOLIO_RECLAIM)) !== FOLIO_UPTODATE) {
      // xas_reload() found another folio, or not uptodate, or a readahead marker (PG_readahead,
      // which is PG_reclaim: a folio reclaim left dirty): skip
      yield* folio_put(cpu, folio);
      continue;
    }
    if (!folio_trylock(cpu, folio)) {
      yield* folio_put(cpu, folio);
      continue;
    }
    if (Atomics.load(m, L.fMapping + folio) !== file + 1) {
      folio_unlock(cpu, folio);
      yield* folio_put(cpu, folio);
      continue;
    }
    return { folio, pgoff };
  }
  return null;
}

/**
 * filemap_map_pages(): fault-around (do_fault_around's ->map_pages): map the pages of [start,
 * end] of the file (the VMA's window around the fault, clamped to the file's size) that are
 * already cached and uptodate, where the entry reads none, under the PTL, without waiting for
 * anything (locked or stale folios are skipped). The entries get the VMA's protection (writable
 * for a shared mapping without write notification), clean; young, except on arm64
 * (arch_wants_old_prefaulted_pte: contpte here), where the pages besides the faulting one are
 * mapped old. Returns true (VM_FAULT_NOPAGE) when the faulting page got mapped.
 * Deliberate difference: references before mapcounts, as every mapping path of the model; the
 * kernel adds the run's references after set_pte_range(), covered by the lookup's reference and
 * the page cache's.
 */
export function* filemap_map_pages(cpu: Cpu, vmf: FaultAroundVmf, start: number, end: number): Gen<boolean> {
  const machine = cpu.machine;
  const { m, L } = machine;
  const vma = vmf.vma;
  const file = vma.file;
  if (end > L.filePages - 1) end = L.filePages - 1; // file_end
  let next = yield* next_uptodate_folio(cpu, file, start, end);
  if (!next) return false;
  const shared = (vma.flags & VM_SHARED) !== 0;
  const writable = shared && !(vma.flags & VM_WRITENOTIFY) && (vma.flags & VM_WRITE) !== 0;
  const vpnOf = (pgoff: number): number => vma.start + (pgoff - vma.pgoff);
  const oldPrefault = cpu.cfg.arch === 'contpte'; // arch_wants_old_prefaulted_pte()
  yield* spin_lock(cpu, vmf.ptl);
  yield P.LOCKED;
  let hit = false, mapped = 0;
  const rss = machine.mmWord(vmf.mm, MM.RSS_FILE);
  while (next) {
    const { folio } = next;
    const index = Atomics.load(m, L.fIndex + folio);
    const last = Math.min(index + (1 << Atomics.load(m, L.fOrder + folio)) - 1, end);
    // filemap_map_folio_range(): runs of none entries, each mapped with one set_pte_range()
    for (let pg = next.pgoff; pg <= last; ) {
      const vpn = vpnOf(pg);
      const ptep = vmf.ptep + (vpn - vmf.vpn);
      if (!pte_none(ptep_get(cpu, ptep))) {
        pg++;
        continue;
      }
      let count = 1;
      while (pg + count <= last && pte_none(ptep_get(cpu, ptep + count))) count++;
      const page = folio + (pg - index);
      const prefault = !(vmf.vpn >= vpn && vmf.vpn < vpn + count);
      const entry = pfn_pte(page, (prefault && oldPrefault ? 0 : PTE_YOUNG) | (writable ? PTE_WRITE : 0));
      if (cpu.cfg.batching || count === 1) {
        folio_ref_add(cpu, folio, count);
        folio_add_file_rmap_ptes(cpu, folio, page, count);
        Atomics.add(m, rss, count);
        yield P.RMAP;
        yield* set_ptes(cpu, ptep, entry, count);
      } else {
        for (let i = 0; i < count; i++) {
          if (i > 0) yield P.SET_PTE;
          folio_ref_add(cpu, folio, 1);
          folio_add_file_rmap_ptes(cpu, folio, page + i, 1);
          Atomics.add(m, rss, 1);
          yield* set_pte_at(cpu, ptep + i, pte_advance_pfn(entry, i));
        }
      }
      cpu.counters[EV.FILE_MAPPED] += count;
      if (!prefault) hit = true;
      mapped += prefault ? count : count - 1;
      pg += count;
    }
    folio_unlock(cpu, folio);
    yield* folio_put(cpu, folio);
    next = last < end ? yield* next_uptodate_folio(cpu, file, last + 1, end) : null;
  }
  spin_unlock(cpu, vmf.ptl);
  if (mapped) cpu.counters[EV.FAULT_AROUND] += mapped;
  return hit;
}

/** do_fault_around(): the window of FAULT_AROUND_PAGES entries around the fault, aligned, clamped to the VMA and the PTE table. */
export function* do_fault_around(cpu: Cpu, vmf: FaultAroundVmf, pgoff: number): Gen<boolean> {
  const vma = vmf.vma;
  const pteOff = vmf.vpn % PTRS_PER_PTE, vmaOff = vmf.vpn - vma.start;
  const fromPte = Math.max(pteOff & ~(FAULT_AROUND_PAGES - 1), pteOff - Math.min(pteOff, vmaOff));
  const toPte = Math.min(fromPte + FAULT_AROUND_PAGES, PTRS_PER_PTE, pteOff + (vma.end - vma.start) - vmaOff) - 1;
  return yield* filemap_map_pages(cpu, vmf, pgoff + fromPte - pteOff, pgoff + toPte - pteOff);
}
