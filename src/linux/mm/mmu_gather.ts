// Models mm/mmu_gather.c: a zap gathers the range whose TLB entries must go and the folio
// references to drop; tlb_flush_mmu() flushes the TLBs first and only then drops the references,
// so no CPU can still reach a page through a stale TLB entry when it is freed. For a dirty file
// folio the rmap removal is delayed too (tlb_delay_rmap): zap_pte_range flushes and removes those
// rmaps before it drops the PTL, so writeback's rmap walk, which takes the PTL, cannot find the
// folio unmapped and clean while a CPU may still store to it through a stale TLB entry.
import type { Cpu } from '../../machine/cpu.js';
import type { Gen } from '../../machine/gen.js';
import { flush_tlb_mm, flush_tlb_range } from '../../machine/tlb.js';
import { MM } from '../../machine/layout.js';
import { folio_put_refs } from './swap.js';
import { folio_remove_rmap_ptes } from './rmap.js';

export class MmuGather {
  start = Infinity;
  end = 0;
  readonly folios: number[] = []; // pairs: folio, nr refs
  readonly delayed: number[] = []; // triples: folio, first page, nr: rmaps to remove after the flush
  constructor(readonly mm: number, readonly fullmm: boolean) {}
}

/**
 * tlb_gather_mmu() / tlb_gather_mmu_fullmm(): inc_tlb_flush_pending(mm) first, so any other path
 * (or the checker) knows PTEs of mm may change before this gather's flush.
 */
export function tlb_gather_mmu(cpu: Cpu, mm: number, fullmm = false): MmuGather {
  Atomics.add(cpu.m, cpu.machine.mmWord(mm, MM.TLB_FLUSH_PENDING), 1);
  return new MmuGather(mm, fullmm);
}

/** mm_tlb_flush_nested(): another gather of mm is in flight besides this one. */
function mm_tlb_flush_nested(cpu: Cpu, mm: number): boolean {
  return Atomics.load(cpu.m, cpu.machine.mmWord(mm, MM.TLB_FLUSH_PENDING)) > 1;
}

/** tlb_remove_tlb_entries(): note nr entries from vpn as needing a flush. */
export function tlb_remove_tlb_entries(tlb: MmuGather, vpn: number, nr: number): void {
  if (vpn < tlb.start) tlb.start = vpn;
  if (vpn + nr > tlb.end) tlb.end = vpn + nr;
}

/** __tlb_remove_folio_pages(): defer dropping nr references of folio until after the flush. */
export function tlb_remove_folio_pages(tlb: MmuGather, folio: number, nr: number): void {
  tlb.folios.push(folio, nr);
}

/** tlb_delay_rmap(): may the rmap removal wait for the flush? (Always, in the model.) */
export function tlb_delay_rmap(_tlb: MmuGather): boolean {
  return true;
}

/** __tlb_remove_folio_pages() with delay_rmap: remove nr mappings of folio from page only after the flush. */
export function tlb_remove_folio_pages_delayed(tlb: MmuGather, folio: number, page: number, nr: number): void {
  tlb.delayed.push(folio, page, nr);
  tlb.folios.push(folio, nr);
}

/** tlb_flush_mmu_tlbonly(): flush the gathered range now (PTL still held). */
export function tlb_flush_mmu_tlbonly(cpu: Cpu, tlb: MmuGather): Gen<void> {
  return tlb_flush(cpu, tlb);
}

/** tlb_flush_rmaps(): the delayed rmap removals, after tlb_flush_mmu_tlbonly. */
export function tlb_flush_rmaps(cpu: Cpu, tlb: MmuGather): void {
  const d = tlb.delayed;
  for (let i = 0; i < d.length; i += 3) folio_remove_rmap_ptes(cpu, d[i], d[i + 1], d[i + 2], tlb.mm);
  d.length = 0;
}

/** tlb_flush_mmu(): flush the gathered range, then free the gathered pages. */
export function* tlb_flush_mmu(cpu: Cpu, tlb: MmuGather): Gen<void> {
  if (cpu.inj.zapFreeBeforeFlush) {
    // deviation zap-free-before-flush: references dropped while TLBs may still map the pages
    yield* tlb_batch_pages_flush(cpu, tlb);
    yield* tlb_flush(cpu, tlb);
    return;
  }
  yield* tlb_flush(cpu, tlb);
  yield* tlb_batch_pages_flush(cpu, tlb);
}

function* tlb_flush(cpu: Cpu, tlb: MmuGather): Gen<void> {
  if (tlb.end > tlb.start) yield* flush_tlb_range(cpu, tlb.mm, tlb.start, tlb.end);
  tlb.start = Infinity;
  tlb.end = 0;
}

function* tlb_batch_pages_flush(cpu: Cpu, tlb: MmuGather): Gen<void> {
  const f = tlb.folios;
  for (let i = 0; i < f.length; i += 2) yield* folio_put_refs(cpu, f[i], f[i + 1]);
  // deviation zap-batch-not-reset: the batch is not emptied once its references are dropped (the
  // kernel's batch->nr left as it was), so the gather's next flush (the next PTE table's, or
  // tlb_finish_mmu's) drops every one of them again
  if (!cpu.inj.zapBatchNotReset) f.length = 0;
}

/**
 * tlb_finish_mmu(): when another gather of the mm is in flight (two MADV_DONTNEEDs under the
 * mmap_lock held for read), this one may have skipped entries the other cleared and not flushed
 * yet: flush the whole mm (the kernel sets fullmm; commit 99baac21e458, "mm: fix MADV_[FREE|
 * DONTNEED] TLB flush miss problem"), then the gathered pages; then dec_tlb_flush_pending().
 */
export function* tlb_finish_mmu(cpu: Cpu, tlb: MmuGather): Gen<void> {
  if (mm_tlb_flush_nested(cpu, tlb.mm)) {
    tlb.start = Infinity; // __tlb_reset_range(): the mm-wide flush covers it
    tlb.end = 0;
    yield* flush_tlb_mm(cpu, tlb.mm);
  }
  yield* tlb_flush_mmu(cpu, tlb);
  Atomics.sub(cpu.m, cpu.machine.mmWord(tlb.mm, MM.TLB_FLUSH_PENDING), 1);
}
