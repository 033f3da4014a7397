// PTE encoding: one Int32 word. Models the bits of arch pte_t that the batched paths care about.
// Bits 0..7 are flags, bits 8..30 the PFN (23 bits: up to 8M pages = 32 GiB). The sign bit is unused.

export const PTE_PRESENT = 1 << 0;
export const PTE_WRITE = 1 << 1;
export const PTE_DIRTY = 1 << 2;
export const PTE_YOUNG = 1 << 3;
export const PTE_CONT = 1 << 4;
export const PTE_SPECIAL = 1 << 5;
export const PTE_SOFT_DIRTY = 1 << 6;
export const PTE_UFFD_WP = 1 << 7;
export const PTE_FLAG_MASK = 0xff;
export const PFN_SHIFT = 8;
export const PFN_MAX = (1 << 23) - 1;

/** pfn_pte(): a present PTE for pfn with the given flag bits. */
export function pfn_pte(pfn: number, flags: number): number {
  return ((pfn << PFN_SHIFT) | (flags & PTE_FLAG_MASK) | PTE_PRESENT) | 0;
}
export const pte_pfn = (pte: number): number => (pte >>> PFN_SHIFT) & PFN_MAX;
export const pte_none = (pte: number): boolean => pte === 0;
export const pte_present = (pte: number): boolean => (pte & PTE_PRESENT) !== 0;
export const pte_write = (pte: number): boolean => (pte & PTE_WRITE) !== 0;
export const pte_dirty = (pte: number): boolean => (pte & PTE_DIRTY) !== 0;
export const pte_young = (pte: number): boolean => (pte & PTE_YOUNG) !== 0;
export const pte_cont = (pte: number): boolean => (pte & PTE_CONT) !== 0;
export const pte_special = (pte: number): boolean => (pte & PTE_SPECIAL) !== 0;
export const pte_mkwrite = (pte: number): number => pte | PTE_WRITE;
export const pte_wrprotect = (pte: number): number => pte & ~PTE_WRITE;
export const pte_mkclean = (pte: number): number => pte & ~PTE_DIRTY;
export const pte_mkspecial = (pte: number): number => pte | PTE_SPECIAL;
/** pte_advance_pfn(): the same entry for the next nr pages. */
export const pte_advance_pfn = (pte: number, nr: number): number => (pte + (nr << PFN_SHIFT)) | 0;

/** Human-readable form, e.g. "pfn=0x1a3 P W D Y". */
export function pteToString(pte: number): string {
  if (pte === 0) return 'none';
  // a non-present entry: a migration entry (src/linux/include/linux/swapops.ts gives the bits their meaning)
  if (!(pte & PTE_PRESENT)) return `swp pfn=0x${pte_pfn(pte).toString(16)} bits=0x${(pte & PTE_FLAG_MASK).toString(16)}`;
  const f: string[] = [];
  if (pte & PTE_PRESENT) f.push('P');
  if (pte & PTE_WRITE) f.push('W');
  if (pte & PTE_DIRTY) f.push('D');
  if (pte & PTE_YOUNG) f.push('Y');
  if (pte & PTE_CONT) f.push('C');
  if (pte & PTE_SPECIAL) f.push('S');
  if (pte & PTE_SOFT_DIRTY) f.push('SD');
  if (pte & PTE_UFFD_WP) f.push('UW');
  return `pfn=0x${pte_pfn(pte).toString(16)} ${f.join(' ')}`;
}

/**
 * pte_modify(): the entry with its protection replaced by newprot (a pgprot: here only the write
 * bit, PROT_NONE is not modelled), keeping the PFN, young/dirty and the software bits.
 */
export const pte_modify = (pte: number, newprot: number): number => ((pte & ~PTE_WRITE) | (newprot & PTE_WRITE)) | 0;
