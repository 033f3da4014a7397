// Models include/linux/swapops.h for the one kind of swap entry the model has: migration entries.
// A non-present, non-none PTE. The model's encoding (the kernel's is per arch): bit 0 (present)
// clear, SWP_MIGRATION set, the PFN in the PFN bits as a present entry has it, and in the flag bits
// writable / readable-exclusive (make_*_migration_entry), young and dirty (the a/d bits migration
// entries carry where migration_entry_supports_ad(), as x86 and arm64 do). No soft-dirty (the model
// tracks none) and no swap device: every swap entry is a migration entry.
import { PFN_SHIFT, PTE_DIRTY, PTE_PRESENT, PTE_SPECIAL, PTE_UFFD_WP, PTE_WRITE, PTE_YOUNG, pte_pfn } from '../../../machine/pte.js';

/** Marks a migration entry (the swap type). */
export const SWP_MIGRATION = PTE_SPECIAL;
/** SWP_MIGRATION_WRITE: the entry replaced a writable PTE. */
export const SWP_MIGRATION_WRITE = PTE_WRITE;
/** SWP_MIGRATION_READ_EXCLUSIVE: a read-only PTE of an AnonExclusive page (bit 7 here, never PTE_CONT: contpte checks look at that bit). */
export const SWP_MIGRATION_EXCLUSIVE = PTE_UFFD_WP;
export const SWP_MIGRATION_YOUNG = PTE_YOUNG;
export const SWP_MIGRATION_DIRTY = PTE_DIRTY;

/** is_swap_pte(): neither none nor present. */
export const is_swap_pte = (pte: number): boolean => pte !== 0 && (pte & PTE_PRESENT) === 0;
/** is_migration_entry() (on a PTE: is_swap_pte() and the swap type is a migration type). */
export const is_migration_entry = (pte: number): boolean => is_swap_pte(pte) && (pte & SWP_MIGRATION) !== 0;
export const is_writable_migration_entry = (pte: number): boolean => is_migration_entry(pte) && (pte & SWP_MIGRATION_WRITE) !== 0;
/** is_readable_migration_entry(): neither writable nor readable-exclusive. */
export const is_readable_migration_entry = (pte: number): boolean => is_migration_entry(pte) && (pte & (SWP_MIGRATION_WRITE | SWP_MIGRATION_EXCLUSIVE)) === 0;
export const is_readable_exclusive_migration_entry = (pte: number): boolean => is_migration_entry(pte) && (pte & SWP_MIGRATION_EXCLUSIVE) !== 0;
export const is_migration_entry_young = (pte: number): boolean => (pte & SWP_MIGRATION_YOUNG) !== 0;
export const is_migration_entry_dirty = (pte: number): boolean => (pte & SWP_MIGRATION_DIRTY) !== 0;
/** pfn_swap_entry_to_page() as a PFN. */
export const swp_offset_pfn = (pte: number): number => pte_pfn(pte);

/** make_readable_migration_entry() */
export const make_readable_migration_entry = (pfn: number): number => ((pfn << PFN_SHIFT) | SWP_MIGRATION) | 0;
/** make_readable_exclusive_migration_entry() */
export const make_readable_exclusive_migration_entry = (pfn: number): number => make_readable_migration_entry(pfn) | SWP_MIGRATION_EXCLUSIVE;
/** make_writable_migration_entry() */
export const make_writable_migration_entry = (pfn: number): number => make_readable_migration_entry(pfn) | SWP_MIGRATION_WRITE;
/** make_migration_entry_young() */
export const make_migration_entry_young = (e: number): number => e | SWP_MIGRATION_YOUNG;
/** make_migration_entry_dirty() */
export const make_migration_entry_dirty = (e: number): number => e | SWP_MIGRATION_DIRTY;

/**
 * The readable form of a migration entry (writable or readable-exclusive made plain readable),
 * keeping its a/d and soft-dirty bits: what fork installs in parent and child of a COW mapping
 * (copy_nonpresent_pte) and what mprotect installs when it removes write permission.
 */
export const migration_entry_mkreadable = (e: number): number => e & ~(SWP_MIGRATION_WRITE | SWP_MIGRATION_EXCLUSIVE);
