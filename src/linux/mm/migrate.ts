// Models mm/migrate.c for move_pages(2) of one page (MIGRATE_SYNC): the folio mapping the page is
// isolated under the mmap_lock (read), then migrated without it: locked, unmapped through the
// rmap into migration entries (try_to_migrate), its reference count checked, copied into a new
// folio of the same order, and the migration entries replaced by the new folio's pages
// (remove_migration_ptes). A fault or GUP that meets a migration entry waits for the folio lock
// (migration_entry_wait) and retries.
// Deliberate differences: anon folios only (a file folio is not isolated: -EACCES here; the kernel
// migrates page-cache folios too); no NUMA nodes (the target is any free block of the same order);
// a large folio whose copy cannot be allocated is not split (-ENOMEM); no retry passes
// (NR_MAX_MIGRATE_PAGES_RETRY): a folio with an unexpected reference fails with -EAGAIN at once.
import type { Cpu } from '../../machine/cpu.js';
import { type Gen, P } from '../../machine/gen.js';
import { EV } from '../../machine/events.js';
import { MM } from '../../machine/layout.js';
import { FOLIO_ANON, FOLIO_DIRTY, FOLIO_ISOLATED, FOLIO_LAZYFREE, FOLIO_LRU, FOLIO_REFERENCED } from '../../machine/machine.js';
import { pte_pfn, pte_present, pte_special } from '../../machine/pte.js';
import { is_migration_entry } from '../include/linux/swapops.js';
import { ptep_get } from '../include/linux/pgtable.js';
import { spin_lock, spin_unlock } from '../kernel/locking/spinlock.js';
import { down_read, up_read } from '../kernel/locking/rwsem.js';
import { find_vma } from './mmap.js';
import { alloc_folio } from './page_alloc.js';
import { folio_put, folio_ref_add } from './swap.js';
import { folio_lock, folio_trylock, folio_unlock, folio_wait_locked } from './filemap.js';
import { remove_migration_ptes, try_to_migrate } from './rmap.js';

export const MIGRATE_FAIL_NOT_ANON = 1;
export const MIGRATE_FAIL_BUSY = 2; // isolated by another migration already
export const MIGRATE_FAIL_NOMEM = 3;
export const MIGRATE_FAIL_UNMAP = 4; // an entry could not be replaced (a pinned exclusive page)
export const MIGRATE_FAIL_REFS = 5; // references beyond the migration's own (pins, GUP in flight)

const EFAULT = -14, ENOENT = -2, EACCES = -13, EBUSY = -16, ENOMEM = -12, EAGAIN = -11;

/**
 * folio_isolate_lru(): take the folio off the LRU for migration, with a reference; false if it is
 * isolated already (another migration has it). The model's LRU is this one flag.
 */
function folio_isolate_lru(cpu: Cpu, folio: number): boolean {
  const w = cpu.machine.L.fFlags + folio;
  // the reference first, then the flag that accounts for it (the checker's COW-reuse contract)
  folio_ref_add(cpu, folio, 1);
  if (!(Atomics.or(cpu.m, w, FOLIO_ISOLATED) & FOLIO_ISOLATED)) return true;
  Atomics.sub(cpu.m, cpu.machine.L.fRef + folio, 1); // another isolator has it (the mapping's reference stays)
  return false;
}

/** folio_putback_lru() / the end of a migration: back on the LRU, the isolation reference dropped. */
function* folio_putback(cpu: Cpu, folio: number): Gen<void> {
  Atomics.and(cpu.m, cpu.machine.L.fFlags + folio, ~FOLIO_ISOLATED);
  yield* folio_put(cpu, folio);
}

/**
 * do_pages_move() for the one page at vpn of mm (move_pages(2)): add_page_for_migration() finds and
 * isolates its folio under the mmap_lock (read) and the PTL, then migrate_pages() runs without the
 * mmap_lock. Returns 0, or a negative errno (as move_pages' status would say).
 */
export function* do_move_pages(cpu: Cpu, mm: number, vpn: number): Gen<number> {
  const machine = cpu.machine;
  const m = machine.m;
  const lw = machine.mmWord(mm, MM.MMAP_LOCK);
  yield* down_read(cpu, lw);
  const vma = find_vma(machine, mm, vpn);
  const table = machine.tableIndex(mm, vpn);
  if (!vma || !Atomics.load(m, machine.pgdWord(table))) {
    up_read(cpu, lw);
    return vma ? ENOENT : EFAULT;
  }
  // folio_walk_start(): the entry under its PTL, and a reference on the folio it maps
  const ptl = machine.ptlOf(table);
  yield* spin_lock(cpu, ptl);
  yield P.LOCKED;
  const pte = ptep_get(cpu, machine.ptep(mm, vpn));
  let folio = -1, ret = 0;
  if (!pte_present(pte) || pte_special(pte)) ret = ENOENT; // nothing there, the zero page, or a migration entry
  else {
    folio = Atomics.load(m, machine.L.pHead + pte_pfn(pte));
    if (!(Atomics.load(m, machine.L.fFlags + folio) & FOLIO_ANON)) ret = EACCES;
    else if (!folio_isolate_lru(cpu, folio)) ret = EBUSY;
  }
  spin_unlock(cpu, ptl);
  up_read(cpu, lw);
  if (ret < 0) {
    cpu.ev(EV.MIGRATE_FAIL, vpn, ret === EACCES ? MIGRATE_FAIL_NOT_ANON : MIGRATE_FAIL_BUSY);
    return ret;
  }
  ret = yield* migrate_folio_sync(cpu, folio, vpn);
  yield* folio_putback(cpu, folio);
  return ret;
}

/**
 * migrate_pages() of one isolated anon folio, MIGRATE_SYNC: migrate_folio_unmap() (allocate the
 * target, lock the source, try_to_migrate) then migrate_folio_move() (the reference check of
 * folio_migrate_mapping, the copy, remove_migration_ptes, unlock). On failure the migration
 * entries map the source again. The isolation reference stays the caller's.
 */
function* migrate_folio_sync(cpu: Cpu, src: number, vpn: number): Gen<number> {
  const { m, L } = cpu.machine;
  const order = Atomics.load(m, L.fOrder + src);
  const nr = 1 << order;
  // "The folio was freed from under us": only our reference is left, nothing to migrate
  if (Atomics.load(m, L.fRef + src) === 1) return 0;
  const dst = yield* alloc_folio(cpu, order); // get_new_folio(), before the source is locked
  if (dst < 0) {
    cpu.ev(EV.MIGRATE_FAIL, vpn, MIGRATE_FAIL_NOMEM);
    return ENOMEM;
  }
  // migrate_folio_unmap(): "Block others from accessing the new page when we get around to
  // establishing additional references": the new folio stays locked until its entries are all in
  // place (migrate_folio_move unlocks it after remove_migration_ptes), so a MADV_FREE or reclaim
  // that meets it mapped by the entries restored first leaves it alone (their folio_trylock fails)
  // instead of clearing the dirty flag the entries still to be restored take their dirty bit from.
  if (!folio_trylock(cpu, dst)) {
    yield* folio_put(cpu, dst); // (a new folio is never locked: the kernel's "goto out" all the same)
    return EAGAIN;
  }
  yield* folio_lock(cpu, src);
  if (!(yield* try_to_migrate(cpu, src)) || Atomics.load(m, L.fMapcount + src) > 0) {
    // some entry is still mapped (a pinned exclusive page): put the migration entries back
    yield* remove_migration_ptes(cpu, src, src);
    folio_unlock(cpu, src);
    folio_unlock(cpu, dst);
    yield* folio_put(cpu, dst);
    cpu.ev(EV.MIGRATE_FAIL, vpn, MIGRATE_FAIL_UNMAP);
    return EAGAIN;
  }
  yield P.RMAP;
  // folio_migrate_mapping(): an anon folio without a mapping expects exactly the migration's own
  // reference; any other (a pin, a GUP-fast grab in flight) may write the source behind the copy.
  // Deviation migrate-ignore-pins: the check is skipped (with try_to_migrate_one's pin check).
  if (Atomics.load(m, L.fRef + src) !== 1 && !cpu.inj.migrateIgnorePins) {
    yield* remove_migration_ptes(cpu, src, src);
    folio_unlock(cpu, src);
    folio_unlock(cpu, dst);
    yield* folio_put(cpu, dst);
    cpu.ev(EV.MIGRATE_FAIL, vpn, MIGRATE_FAIL_REFS);
    return EAGAIN;
  }
  // folio_migrate_copy(): the data, then folio_migrate_flags() (anon, dirty, referenced, swapbacked)
  // (page by page, as folio_copy() does with cond_resched(): a large folio's copy takes time, and
  // the entries stay migration entries all the while)
  for (let i = 0; i < nr; i++) {
    Atomics.store(m, L.pContent + dst + i, Atomics.load(m, L.pContent + src + i));
    yield P.IO;
  }
  Atomics.or(m, L.fFlags + dst, Atomics.load(m, L.fFlags + src) & (FOLIO_ANON | FOLIO_DIRTY | FOLIO_REFERENCED | FOLIO_LAZYFREE));
  yield P.RMAP;
  yield* remove_migration_ptes(cpu, src, dst);
  Atomics.or(m, L.fFlags + dst, FOLIO_LRU); // folio_putback_lru(dst)
  folio_unlock(cpu, dst); // migrate_folio_move(): the new folio first, then the old one
  folio_unlock(cpu, src);
  // the allocation's reference: the new folio lives on by its mappings (none left if they were zapped meanwhile)
  yield* folio_put(cpu, dst);
  cpu.ev(EV.MIGRATE, vpn, src, dst);
  return 0;
}

/**
 * migration_entry_wait() (with migration_entry_wait_on_locked): a fault met a migration entry.
 * Under the PTL, if the entry is still one, wait until its folio is unlocked (the migration ends
 * with remove_migration_ptes before folio_unlock), then return: the access retries.
 */
export function* migration_entry_wait(cpu: Cpu, mm: number, vpn: number): Gen<void> {
  const machine = cpu.machine;
  const m = machine.m;
  const ptl = machine.ptlOf(machine.tableIndex(mm, vpn));
  yield* spin_lock(cpu, ptl);
  yield P.LOCKED;
  const pte = ptep_get(cpu, machine.ptep(mm, vpn));
  if (!is_migration_entry(pte)) {
    spin_unlock(cpu, ptl);
    return;
  }
  const folio = Atomics.load(m, machine.L.pHead + pte_pfn(pte));
  cpu.ev(EV.MIGRATE_WAIT, vpn, folio);
  // The kernel queues on the folio's wait queue before it drops the PTL, so the unlock cannot be
  // missed; here the wait below re-reads the lock bit.
  spin_unlock(cpu, ptl);
  yield* folio_wait_locked(cpu, folio, 'migration_entry_wait');
}
