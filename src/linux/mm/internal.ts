// Models mm/internal.h helpers used by the batched paths.
import type { Cpu } from '../../machine/cpu.js';
import { PTE_DIRTY, PTE_SOFT_DIRTY, PTE_WRITE, PTE_YOUNG, pte_advance_pfn, pte_pfn } from '../../machine/pte.js';
import { ptep_get } from '../include/linux/pgtable.js';

export const FPB_IGNORE_DIRTY = 1;
export const FPB_IGNORE_SOFT_DIRTY = 2;
export const FPB_RESPECT_WRITE = 4;

export interface BatchResult {
  nr: number;
  anyWritable: boolean;
  anyYoung: boolean;
  anyDirty: boolean;
}

/**
 * folio_pte_batch(): how many consecutive PTEs from ptep map consecutive pages of folio with the
 * same bits (young always ignored; dirty and soft-dirty per flags; write unless FPB_RESPECT_WRITE),
 * capped at max_nr and at the folio's end. The caller caps max_nr at its VMA and PTE table.
 */
export function folio_pte_batch(cpu: Cpu, folio: number, folioNr: number, ptep: number, pte: number, max_nr: number, flags: number): BatchResult {
  const ignore = PTE_YOUNG | (flags & FPB_IGNORE_DIRTY ? PTE_DIRTY : 0) | (flags & FPB_IGNORE_SOFT_DIRTY ? PTE_SOFT_DIRTY : 0) | (flags & FPB_RESPECT_WRITE ? 0 : PTE_WRITE);
  // folio < 0: the deviation batch-past-folio-end (no cap at the folio's last page)
  if (folio >= 0) max_nr = Math.min(max_nr, folio + folioNr - pte_pfn(pte));
  let anyWritable = (pte & PTE_WRITE) !== 0;
  let anyYoung = (pte & PTE_YOUNG) !== 0;
  let anyDirty = (pte & PTE_DIRTY) !== 0;
  let expected = pte_advance_pfn(pte & ~ignore, 1);
  let nr = 1;
  while (nr < max_nr) {
    // ptep_get(), as the kernel's loop does: under contpte a cont entry reads with its block's
    // young/dirty ORed in, so entries of one block compare alike (a raw read would see the bits
    // hardware set per entry). The kernel's pte_batch_hint() skip over a cont block is left out:
    // it only saves reads.
    const p = ptep_get(cpu, ptep + nr);
    if ((p & ~ignore) !== expected) break;
    anyWritable ||= (p & PTE_WRITE) !== 0;
    anyYoung ||= (p & PTE_YOUNG) !== 0;
    anyDirty ||= (p & PTE_DIRTY) !== 0;
    expected = pte_advance_pfn(expected, 1);
    nr++;
  }
  return { nr, anyWritable, anyYoung, anyDirty };
}
