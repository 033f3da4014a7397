// Models the folio reference helpers of include/linux/mm.h, page_ref.h and mm/swap.c.
import type { Cpu } from '../../machine/cpu.js';
import type { Gen } from '../../machine/gen.js';
import { free_folio } from './page_alloc.js';

/** folio_ref_add() */
export function folio_ref_add(cpu: Cpu, folio: number, nr: number): void {
  Atomics.add(cpu.m, cpu.machine.L.fRef + folio, nr);
  cpu.noteFolio(folio);
}

/** folio_ref_sub(): drop references the caller knows are not the last (no freeing). */
export function folio_ref_sub(cpu: Cpu, folio: number, nr: number): void {
  const v = Atomics.sub(cpu.m, cpu.machine.L.fRef + folio, nr) - nr;
  cpu.noteFolio(folio);
  if (v <= 0) cpu.violation('refcount-underflow', 'folio_ref_sub', { folio, refcount: v });
}

/** folio_put_refs(): drop nr references; the last one frees the folio. */
export function* folio_put_refs(cpu: Cpu, folio: number, nr: number): Gen<void> {
  const v = Atomics.sub(cpu.m, cpu.machine.L.fRef + folio, nr) - nr;
  cpu.noteFolio(folio);
  if (v < 0) cpu.violation('refcount-underflow', 'folio_put_refs', { folio, refcount: v });
  if (v === 0) {
    const mc = Atomics.load(cpu.m, cpu.machine.L.fMapcount + folio);
    if (mc !== 0) cpu.violation('free-mapped-folio', 'folio_put_refs', { folio, mapcount: mc });
    yield* free_folio(cpu, folio);
  }
}

/** folio_put() */
export function folio_put(cpu: Cpu, folio: number): Gen<void> {
  return folio_put_refs(cpu, folio, 1);
}
