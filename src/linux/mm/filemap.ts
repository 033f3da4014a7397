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
import { FOLIO_LOCKED, FOLIO_LRU, FOLIO_UPTODATE } from '../../machine/machine.js';
import { Aborted } from '../kernel/locking/spinlock.js';
import { spin_lock, spin_unlock } from '../kernel/locking/spinlock.js';
import { alloc_folio } from './page_alloc.js';
import { folio_put, folio_put_refs, folio_ref_add } from './swap.js';

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
    if (hit >= 0) return hit;
    if (hit === FILEMAP_RETRY) continue;
    // page_cache_ra_order(): the largest order whose aligned range fits the file and is not cached
    let folio = -1, order = 0, base = pgoff;
    for (const o of fileOrders(cpu)) {
      const b = pgoff & ~((1 << o) - 1);
      if (b + (1 << o) > L.filePages || !cacheRangeEmpty(cpu, file, b, 1 << o)) continue;
      folio = yield* alloc_folio(cpu, o);
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
