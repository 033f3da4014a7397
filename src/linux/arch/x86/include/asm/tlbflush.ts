// Models pte_needs_flush() of arch/x86/include/asm/tlbflush.h, the one the generic layer uses (the
// asm-generic default flushes after every change). x86 ignores the software bits (special,
// soft-dirty, uffd-wp) and, for PTEs, the accessed bit; it flushes when the PFN changes, when
// present or dirty is cleared, and on any change of RW, an upgrade included (x86 keeps RW in
// flush_on_change). The cont bit has no x86 counterpart: treated as flush-on-change.
import { PTE_CONT, PTE_DIRTY, PTE_PRESENT, PTE_WRITE, pte_pfn, pte_present } from '../../../../../machine/pte.js';

const FLUSH_ON_CLEAR = PTE_DIRTY | PTE_PRESENT;
const FLUSH_ON_CHANGE = PTE_WRITE | PTE_CONT;

/** pte_needs_flush(): must the TLB entries of a present oldpte go once newpte replaces it? */
export function pte_needs_flush(oldpte: number, newpte: number): boolean {
  if (!pte_present(oldpte)) return false; // !PRESENT -> *: nothing can be cached
  if (pte_pfn(oldpte) !== pte_pfn(newpte)) return true;
  const diff = oldpte ^ newpte;
  if (diff & oldpte & FLUSH_ON_CLEAR) return true;
  return (diff & FLUSH_ON_CHANGE) !== 0;
}
