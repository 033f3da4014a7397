// Models mm/rmap.c for anon folios: per-page mapcount, the folio's total mapcount, AnonExclusive.
import type { Cpu } from '../engine/cpu.js';
import { FOLIO_ANON, PG_ANON_EXCLUSIVE } from '../model/machine.js';

/** folio_add_new_anon_rmap(): map nr pages of a new exclusive anon folio starting at page. */
export function folio_add_new_anon_rmap(cpu: Cpu, folio: number, page: number, nr: number): void {
  const { m, L } = cpu.machine;
  Atomics.or(m, L.fFlags + folio, FOLIO_ANON);
  for (let i = 0; i < nr; i++) {
    Atomics.add(m, L.pMapcount + page + i, 1);
    Atomics.or(m, L.pFlags + page + i, PG_ANON_EXCLUSIVE);
  }
  Atomics.add(m, L.fMapcount + folio, nr);
  cpu.noteFolio(folio);
}

/** folio_remove_rmap_ptes(): unmap nr pages of folio starting at page. */
export function folio_remove_rmap_ptes(cpu: Cpu, folio: number, page: number, nr: number): void {
  const { m, L } = cpu.machine;
  for (let i = 0; i < nr; i++) {
    const v = Atomics.sub(m, L.pMapcount + page + i, 1) - 1;
    if (v < 0) cpu.violation('mapcount-underflow', 'folio_remove_rmap_ptes', { folio, page: page + i, mapcount: v });
  }
  const t = Atomics.sub(m, L.fMapcount + folio, nr) - nr;
  if (t < 0) cpu.violation('mapcount-underflow', 'folio_remove_rmap_ptes', { folio, totalMapcount: t });
  cpu.noteFolio(folio);
}
