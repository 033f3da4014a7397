// Models mm/page-writeback.c: the folio dirty flag, folio_clear_dirty_for_io() and the writeback of
// a file's folios to the modelled disk (write_cache_pages, ksys_sync). A folio is written only after
// folio_mkclean() has write-protected and cleaned every PTE mapping it, so a later store faults and
// dirties the folio again (or, on a tmpfs-like file, sets a PTE dirty bit the next writeback finds).
// Deliberate difference: every cached folio is visited, not only those tagged dirty, because on a
// file without write notification the only record of a write can be a PTE dirty bit (what reclaim's
// try_to_unmap would collect); for a write-notify file the outcome is the same.
import type { Cpu } from '../../machine/cpu.js';
import { type Gen, P } from '../../machine/gen.js';
import { EV } from '../../machine/events.js';
import { FOLIO_DIRTY, FOLIO_RECLAIM } from '../../machine/machine.js';
import { down_write, up_write } from '../kernel/locking/rwsem.js';
import { folio_mkclean } from './rmap.js';
import { folio_put } from './swap.js';
import { FILEMAP_RETRY, filemap_get_folio, folio_lock, folio_unlock } from './filemap.js';
import { MMDEBUG } from '../include/linux/mmdebug.js';

/** folio_mark_dirty() */
export function folio_mark_dirty(cpu: Cpu, folio: number): void {
  Atomics.or(cpu.m, cpu.machine.L.fFlags + folio, FOLIO_DIRTY);
}

/**
 * folio_clear_dirty_for_io(): clean the PTEs first (their dirty bits move to the folio), then test
 * and clear the folio's dirty flag. Returns whether the folio must be written.
 */
export function* folio_clear_dirty_for_io(cpu: Cpu, folio: number): Gen<boolean> {
  const cleaned = yield* folio_mkclean(cpu, folio);
  // a zap (PTL only, no folio lock) can mark PG_dirty here from a PTE dirty bit: every entry is
  // clean and write-protected, the dirtiness the walk collected not yet on the folio
  yield P.RMAP;
  if (cleaned > 0) folio_mark_dirty(cpu, folio);
  return (Atomics.and(cpu.m, cpu.machine.L.fFlags + folio, ~FOLIO_DIRTY) & FOLIO_DIRTY) !== 0;
}

/**
 * write_cache_pages() over the whole file: each cached folio that folio_clear_dirty_for_io() says
 * is dirty is copied to the disk. Writebacks of one file are serialised (the kernel's folio lock
 * and PG_writeback): two concurrent copies of one folio could land out of order.
 */
export function* write_cache_pages(cpu: Cpu, file: number): Gen<void> {
  const machine = cpu.machine;
  const { m, L } = machine;
  const lw = L.wbLock + file;
  yield* down_write(cpu, lw);
  MMDEBUG.writebackBegin(cpu, file);
  for (let p = 0; p < L.filePages; ) {
    // filemap_get_folios_tag(): the folio with a reference for the time we work on it
    const folio: number = yield* filemap_get_folio(cpu, file, p);
    if (folio === FILEMAP_RETRY) {
      yield P.PTE_READ; // being removed by reclaim (or reused): look again
      continue;
    }
    if (folio < 0) {
      p++;
      continue;
    }
    const nr = 1 << Atomics.load(m, L.fOrder + folio);
    yield* writeback_folio(cpu, file, folio);
    p = Atomics.load(m, L.fIndex + folio) + nr; // from the folio's own index: one cached meanwhile may start before p
    yield* folio_put(cpu, folio);
  }
  cpu.ev(EV.WRITEBACK, file);
  MMDEBUG.writebackEnd(cpu, file);
  up_write(cpu, lw);
}

/**
 * One folio of a writeback (a reference held, the file's writeback lock held): folio_lock(), held
 * from the clean to the end of the copy (the model's stand-in for the kernel's PG_writeback and
 * folio_wait_stable in page_mkwrite), so a write fault's page_mkwrite cannot dirty the folio
 * between the PTE clean and the flag's clear, nor during the copy.
 */
function* writeback_folio(cpu: Cpu, file: number, folio: number): Gen<void> {
  const machine = cpu.machine;
  const { m, L } = machine;
  yield* folio_lock(cpu, folio);
  // (our reference keeps the folio in the page cache: reclaim's __remove_mapping cannot freeze it)
  if (yield* folio_clear_dirty_for_io(cpu, folio)) {
    MMDEBUG.folioCleaned(cpu, folio); // no store may go on without a fault from here
    yield P.IO; // the copy is the I/O: stores after the clean above fault and dirty the folio again
    const nr = 1 << Atomics.load(m, L.fOrder + folio);
    const index = Atomics.load(m, L.fIndex + folio);
    for (let i = 0; i < nr; i++) Atomics.store(m, L.disk + machine.filePage(file, index + i), Atomics.load(m, L.pContent + folio + i));
    cpu.counters[EV.WRITEBACK_FOLIOS]++;
    // folio_end_writeback(): "if (folio_test_reclaim(folio)) folio_clear_reclaim(folio)"
    Atomics.and(m, L.fFlags + folio, ~FOLIO_RECLAIM);
  }
  folio_unlock(cpu, folio);
}

/**
 * pageout(): reclaim writes one dirty page-cache folio it holds a reference on (not locked: the
 * writeback lock comes first, then the folio lock, as write_cache_pages takes them).
 */
export function* pageout(cpu: Cpu, folio: number): Gen<void> {
  const { m, L } = cpu.machine;
  const file = Atomics.load(m, L.fMapping + folio) - 1; // a page-cache folio: reclaim calls pageout for no other
  const lw = L.wbLock + file;
  yield* down_write(cpu, lw);
  yield* writeback_folio(cpu, file, folio);
  up_write(cpu, lw);
}

/** ksys_sync(): write back every file. */
export function* ksys_sync(cpu: Cpu): Gen<void> {
  for (let f = 0; f < cpu.machine.L.files; f++) yield* write_cache_pages(cpu, f);
}
