// Models the public PTE API of arch/arm64/include/asm/pgtable.h under CONFIG_ARM64_CONTPTE: the
// helpers include/linux/pgtable.ts dispatches to when the config says `arch: "contpte"`. They
// apply and remove PTE_CONT transparently (arch/arm64/mm/contpte.c): a single-entry change to an
// entry of a cont block unfolds the block first; batched calls unfold only the blocks they cover
// in part. PTE_CONT leaks out through ptep_get() (as in the kernel), so every setter clears it
// from the value it is given. All run with the table's PTL held.
// Deviation contpte-no-unfold: the single-entry paths change the entry without unfolding.
import type { Cpu } from '../../../../../machine/cpu.js';
import type { Gen } from '../../../../../machine/gen.js';
import { pte_cont } from '../../../../../machine/pte.js';
import { __ptep_get, __ptep_get_and_clear, __ptep_set_wrprotect, __ptep_test_and_clear_young, __set_ptes } from '../../../../include/asm-generic/pgtable.js';
import {
  __clear_young_dirty_ptes, __ptep_set_access_flags, contpte_clear_full_ptes, contpte_clear_young_dirty_ptes, contpte_get_and_clear_full_ptes,
  contpte_ptep_get, contpte_ptep_set_access_flags, contpte_ptep_test_and_clear_young, contpte_set_ptes, contpte_try_fold, contpte_try_unfold,
  contpte_wrprotect_ptes, pte_mknoncont, pte_valid_cont,
} from '../../mm/contpte.js';

/** contpte_try_unfold() on the entry a single-entry helper is about to change (not under the deviation). */
function* unfold_single(cpu: Cpu, ptep: number): Gen<void> {
  if (!cpu.inj.contpteNoUnfold) yield* contpte_try_unfold(cpu, ptep, __ptep_get(cpu, ptep));
}

/** ptep_get(): a cont entry reads with its block's young/dirty ORed in (contpte_ptep_get). */
export function ptep_get(cpu: Cpu, ptep: number): number {
  const pte = __ptep_get(cpu, ptep);
  if (!pte_valid_cont(pte)) return pte;
  return contpte_ptep_get(cpu, ptep, pte);
}

/**
 * set_ptes(): one entry: unfold the block of the entry it replaces, set it, and try to fold its
 * block when it is the block's last entry; more: contpte_set_ptes (PTE_CONT on whole blocks).
 */
export function* set_ptes(cpu: Cpu, ptep: number, pte: number, nr: number): Gen<void> {
  pte = pte_mknoncont(pte);
  if (nr === 1) {
    yield* unfold_single(cpu, ptep);
    yield* __set_ptes(cpu, ptep, pte, 1);
    yield* contpte_try_fold(cpu, ptep, pte);
  } else {
    yield* contpte_set_ptes(cpu, ptep, pte, nr);
  }
}

/** ptep_get_and_clear(): unfold, then clear the one entry (its own young/dirty, as after an unfold). */
export function* ptep_get_and_clear(cpu: Cpu, ptep: number): Gen<number> {
  yield* unfold_single(cpu, ptep);
  return __ptep_get_and_clear(cpu, ptep);
}

/** get_and_clear_full_ptes(): one entry: unfold and clear; more: contpte_get_and_clear_full_ptes. */
export function* get_and_clear_full_ptes(cpu: Cpu, ptep: number, nr: number, full: boolean): Gen<number> {
  if (nr === 1) {
    yield* unfold_single(cpu, ptep);
    return __ptep_get_and_clear(cpu, ptep);
  }
  return yield* contpte_get_and_clear_full_ptes(cpu, ptep, nr, full);
}

/** clear_full_ptes(): one entry: unfold and clear; more: contpte_clear_full_ptes. */
export function* clear_full_ptes(cpu: Cpu, ptep: number, nr: number, full: boolean): Gen<void> {
  if (nr === 1) {
    yield* unfold_single(cpu, ptep);
    __ptep_get_and_clear(cpu, ptep);
    return;
  }
  yield* contpte_clear_full_ptes(cpu, ptep, nr, full);
}

/** wrprotect_ptes(): one entry: unfold if cont, then ___ptep_set_wrprotect; more: contpte_wrprotect_ptes. */
export function* wrprotect_ptes(cpu: Cpu, ptep: number, nr: number): Gen<void> {
  if (nr === 1) {
    yield* unfold_single(cpu, ptep);
    __ptep_set_wrprotect(cpu, ptep);
    return;
  }
  yield* contpte_wrprotect_ptes(cpu, ptep, nr);
}

/**
 * ptep_set_access_flags(): a non-cont entry takes the arm64 __ptep_set_access_flags (OR in
 * young/dirty/write by compare-and-swap); a cont one goes to contpte_ptep_set_access_flags (which
 * unfolds when the write bit changes). Deviation contpte-no-unfold: always the single-entry form.
 */
export function* ptep_set_access_flags(cpu: Cpu, ptep: number, entry: number): Gen<boolean> {
  const orig = __ptep_get(cpu, ptep);
  entry = pte_mknoncont(entry);
  if (!pte_valid_cont(orig) || cpu.inj.contpteNoUnfold) {
    return __ptep_set_access_flags(cpu, ptep, entry);
  }
  return yield* contpte_ptep_set_access_flags(cpu, ptep, entry);
}

/**
 * modify_prot_start_ptes() (arch/arm64/mm/mmu.c; arm64 overrides the generic loop): clear nr
 * entries with get_and_clear_ptes() (= get_and_clear_full_ptes(full = 0)), so only partly covered
 * blocks unfold, and return the first entry with the batch's young/dirty. The kernel's extra flush
 * for erratum 2645198 (exec -> non-exec) has no counterpart: the model has no exec permission.
 */
export function* modify_prot_start_ptes(cpu: Cpu, ptep: number, nr: number): Gen<number> {
  return yield* get_and_clear_full_ptes(cpu, ptep, nr, false);
}

/**
 * modify_prot_commit_ptes() (arch/arm64/mm/mmu.c): set_ptes(pte, nr) over the entries
 * modify_prot_start_ptes() cleared (oldPte is not needed), so wholly covered aligned blocks of one
 * folio come back cont, and a single entry may fold its block.
 */
export function* modify_prot_commit_ptes(cpu: Cpu, ptep: number, _oldPte: number, pte: number, nr: number): Gen<void> {
  yield* set_ptes(cpu, ptep, pte, nr);
}

/**
 * clear_young_dirty_ptes(): one entry that is not cont: __clear_young_dirty_ptes; otherwise
 * contpte_clear_young_dirty_ptes, which widens the range to whole blocks and never unfolds.
 */
export function* clear_young_dirty_ptes(cpu: Cpu, ptep: number, nr: number, flags: number): Gen<void> {
  if (nr === 1 && !pte_cont(__ptep_get(cpu, ptep))) yield* __clear_young_dirty_ptes(cpu, ptep, 1, flags);
  else yield* contpte_clear_young_dirty_ptes(cpu, ptep, nr, flags);
}

/** ptep_test_and_clear_young(): a cont entry clears its whole block (contpte_ptep_test_and_clear_young), else the one entry. */
export function ptep_test_and_clear_young(cpu: Cpu, ptep: number): boolean {
  if (!pte_valid_cont(__ptep_get(cpu, ptep))) return __ptep_test_and_clear_young(cpu, ptep);
  return contpte_ptep_test_and_clear_young(cpu, ptep);
}
