// Plain reads of struct folio words that only the tool makes (the observer's report, scenario
// expects, the fallback experiment): kept out of src/machine, whose code is what the model runs.
import type { Machine } from '../machine/machine.js';

/** The head of the folio page pfn belongs to (page_folio). Moved from Machine.folioOf (src/machine/machine.ts). */
export function folioOf(machine: Machine, pfn: number): number {
  return Atomics.load(machine.m, machine.L.pHead + pfn);
}

/** The order of the folio whose head is at pfn head (folio_order). Moved from Machine.folioOrder (src/machine/machine.ts). */
export function folioOrder(machine: Machine, head: number): number {
  return Atomics.load(machine.m, machine.L.fOrder + head);
}
