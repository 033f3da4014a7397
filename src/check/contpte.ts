// The contpte invariant (DESIGN section 2): PTE_CONT only on whole, aligned, physically contiguous,
// same-prot (young/dirty may differ: hardware sets them per entry) 16-entry blocks of one folio.
// Checked at quiescence for every populated table (invariants.ts) and, continuously, when a CPU
// releases a PTL: every block holding an entry the CPU wrote under that PTL (the raw PTE writers'
// record, Cpu.pteLo/pteHi, which no arch code has to remember to fill) is checked while the lock
// is still held, so no other kernel path can be changing them.
import type { Cpu } from '../machine/cpu.js';
import type { Machine } from '../machine/machine.js';
import { PTRS_PER_PTE } from '../config/config.js';
import { PTE_DIRTY, PTE_FLAG_MASK, PTE_YOUNG, pte_cont, pte_pfn, pte_present, pte_special, pteToString } from '../machine/pte.js';
import { CONT_PTES } from '../linux/arch/arm64/mm/contpte.js';
import { pointEvent } from './points.js';

const CONT_BLOCKS_CHECKED = pointEvent('ptlUnlock.contBlocks');

const AD = PTE_YOUNG | PTE_DIRTY;

/** What is wrong with the block starting at word start, or null (no cont entry, or a correct cont block). */
export function contpteBlockProblem(machine: Machine, start: number): string | null {
  const { m, L } = machine;
  let cont = 0;
  for (let i = 0; i < CONT_PTES; i++) if (pte_cont(Atomics.load(m, start + i))) cont++;
  if (cont === 0) return null;
  const first = Atomics.load(m, start);
  const pfn0 = pte_pfn(first);
  const prot = first & PTE_FLAG_MASK & ~AD;
  for (let i = 0; i < CONT_PTES; i++) {
    const pte = Atomics.load(m, start + i);
    if (!pte_present(pte)) return `entry ${i} of a cont block is not present`;
    if (!pte_cont(pte)) return `entry ${i} lacks PTE_CONT (${cont} of 16 have it)`;
    if (pte_special(pte)) return `entry ${i} is special`;
    if (pte_pfn(pte) !== pfn0 + i) return `entry ${i} maps pfn ${pte_pfn(pte)}, not ${pfn0 + i}: not physically contiguous`;
    if ((pte & PTE_FLAG_MASK & ~AD) !== prot) return `entry ${i} has other permissions than entry 0`;
  }
  if (pfn0 & (CONT_PTES - 1)) return `pfn ${pfn0} is not 16-aligned`;
  if (pfn0 + CONT_PTES > L.pages) return 'pfns beyond physical memory';
  const folio = Atomics.load(m, L.pHead + pfn0);
  const nr = 1 << Atomics.load(m, L.fOrder + folio);
  if (folio > pfn0 || pfn0 + CONT_PTES > folio + nr || Atomics.load(m, L.pHead + pfn0 + CONT_PTES - 1) !== folio) return `not inside one folio (folio ${folio}, ${nr} pages)`;
  return null;
}

/** Where the block at word start is, and its entries, for a finding. */
export function contpteBlockDetails(machine: Machine, start: number, why: string): Record<string, unknown> {
  const i = start - machine.L.pte;
  const per = machine.L.tablesPerMm * PTRS_PER_PTE;
  const entries: string[] = [];
  for (let k = 0; k < CONT_PTES; k++) entries.push(pteToString(Atomics.load(machine.m, start + k)));
  return { mm: Math.floor(i / per), vpn: i % per, why, entries };
}

/**
 * At a PTL release, before the lock is released: check every 16-entry block of the table whose
 * first word is p0 that holds one of its entries lo..hi (the entries this CPU wrote under the lock).
 */
export function contpte_check_unlock(cpu: Cpu, p0: number, lo: number, hi: number): void {
  const machine = cpu.machine;
  const m = machine.m;
  for (let b = lo & ~(CONT_PTES - 1); b <= hi; b += CONT_PTES) {
    cpu.counters[CONT_BLOCKS_CHECKED]++;
    // a block without any cont entry is consistent: plain reads first (the lock is held, and
    // hardware changes only young/dirty), the full check only for a block with PTE_CONT somewhere
    let any = 0;
    for (let i = 0; i < CONT_PTES; i++) any |= m[p0 + b + i];
    if (!pte_cont(any)) continue;
    const why = contpteBlockProblem(machine, p0 + b);
    if (why) cpu.violation('contpte-inconsistent', 'spin_unlock', { ...contpteBlockDetails(machine, p0 + b, why), op: cpu.curOp });
  }
}
