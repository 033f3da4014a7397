// Models mm/rmap.c for anon folios: per-page mapcount, the folio's total mapcount, AnonExclusive,
// and the CONFIG_MM_ID bookkeeping (two per-folio slots: which mm maps how many pages) that lets a
// write fault tell whether a large folio is mapped by this mm alone.
import type { Cpu } from '../engine/cpu.js';
import type { Machine } from '../model/machine.js';
import { FOLIO_ANON, PG_ANON_EXCLUSIVE } from '../model/machine.js';
import { MM } from '../model/layout.js';
import { folio_maybe_dma_pinned } from '../include/linux/mm.js';

const MMID_SHIFT = 20;
const MMID_COUNT = (1 << MMID_SHIFT) - 1;

/** folio_add_mm_id-ish: account nr mappings of folio to mm in one of its two slots (if one is free or ours). */
function mm_id_add(machine: Machine, folio: number, mm: number, nr: number): void {
  const m = machine.m;
  for (let tries = 0; tries < 64; tries++) {
    for (let s = 0; s < 2; s++) {
      const w = machine.L.fMmId + folio * 2 + s;
      const v = Atomics.load(m, w);
      if (v >>> MMID_SHIFT === mm + 1) {
        if (Atomics.compareExchange(m, w, v, v + nr) === v) return;
        continue;
      }
    }
    for (let s = 0; s < 2; s++) {
      const w = machine.L.fMmId + folio * 2 + s;
      if (Atomics.compareExchange(m, w, 0, ((mm + 1) << MMID_SHIFT) | nr) === 0) return;
    }
    // both slots belong to other mms: this mapping goes unaccounted, so the folio can only ever
    // look "maybe shared" (total mapcount > any one slot), which is the kernel's answer too
    if ((Atomics.load(m, machine.L.fMmId + folio * 2) & MMID_COUNT) && (Atomics.load(m, machine.L.fMmId + folio * 2 + 1) & MMID_COUNT)) return;
  }
}

function mm_id_sub(machine: Machine, folio: number, mm: number, nr: number): void {
  const m = machine.m;
  for (let s = 0; s < 2; s++) {
    const w = machine.L.fMmId + folio * 2 + s;
    for (;;) {
      const v = Atomics.load(m, w);
      if (v >>> MMID_SHIFT !== mm + 1) break;
      const left = (v & MMID_COUNT) - nr;
      if (Atomics.compareExchange(m, w, v, left <= 0 ? 0 : v - nr) === v) return;
    }
  }
}

/** Pages of folio mapped by mm, per its CONFIG_MM_ID slot (0 if mm has no slot). */
export function folio_mm_mapcount(machine: Machine, folio: number, mm: number): number {
  for (let s = 0; s < 2; s++) {
    const v = Atomics.load(machine.m, machine.L.fMmId + folio * 2 + s);
    if (v >>> MMID_SHIFT === mm + 1) return v & MMID_COUNT;
  }
  return 0;
}

/** folio_add_new_anon_rmap(): map nr pages of a new exclusive anon folio starting at page. */
export function folio_add_new_anon_rmap(cpu: Cpu, folio: number, page: number, nr: number, mm: number): void {
  const { m, L } = cpu.machine;
  Atomics.or(m, L.fFlags + folio, FOLIO_ANON);
  for (let i = 0; i < nr; i++) {
    Atomics.add(m, L.pMapcount + page + i, 1);
    Atomics.or(m, L.pFlags + page + i, PG_ANON_EXCLUSIVE);
  }
  Atomics.add(m, L.fMapcount + folio, nr);
  mm_id_add(cpu.machine, folio, mm, nr);
  cpu.noteFolio(folio);
}

/** folio_remove_rmap_ptes(): unmap nr pages of folio starting at page, mapped by mm. */
export function folio_remove_rmap_ptes(cpu: Cpu, folio: number, page: number, nr: number, mm: number): void {
  const { m, L } = cpu.machine;
  for (let i = 0; i < nr; i++) {
    const v = Atomics.sub(m, L.pMapcount + page + i, 1) - 1;
    if (v < 0) cpu.violation('mapcount-underflow', 'folio_remove_rmap_ptes', { folio, page: page + i, mapcount: v });
  }
  const t = Atomics.sub(m, L.fMapcount + folio, nr) - nr;
  if (t < 0) cpu.violation('mapcount-underflow', 'folio_remove_rmap_ptes', { folio, totalMapcount: t });
  mm_id_sub(cpu.machine, folio, mm, nr);
  cpu.noteFolio(folio);
}

export const EBUSY = -16;

/**
 * folio_try_dup_anon_rmap_ptes(): fork duplicates nr PTE mappings of folio (pages from page) into
 * the child dst. All or nothing: if the parent mm has pinned pages and the folio may be pinned
 * and any page of the batch is AnonExclusive, nothing is changed and -EBUSY tells the caller to
 * copy instead; otherwise AnonExclusive is cleared on every page and the mapcounts go up.
 */
export function folio_try_dup_anon_rmap_ptes(cpu: Cpu, folio: number, page: number, nr: number, src: number, dst: number): number {
  const machine = cpu.machine;
  const { m, L } = machine;
  const hasPinned = (Atomics.load(m, machine.mmWord(src, MM.FLAGS)) & MMF_HAS_PINNED) !== 0;
  const maybePinned = !cpu.inj.forkDupPinned && hasPinned && folio_maybe_dma_pinned(machine, folio);
  if (maybePinned) {
    for (let i = 0; i < nr; i++) if (Atomics.load(m, L.pFlags + page + i) & PG_ANON_EXCLUSIVE) return EBUSY;
  }
  for (let i = 0; i < nr; i++) {
    Atomics.and(m, L.pFlags + page + i, ~PG_ANON_EXCLUSIVE);
    Atomics.add(m, L.pMapcount + page + i, 1);
  }
  Atomics.add(m, L.fMapcount + folio, nr);
  mm_id_add(machine, folio, dst, nr);
  cpu.noteFolio(folio);
  return 0;
}

/** MMF_HAS_PINNED: this mm has had pages pinned (set by GUP, never cleared). */
export const MMF_HAS_PINNED = 1 << 0;
