// Models mm/gup.c for FOLL_PIN | FOLL_LONGTERM of single pages: GUP-fast without the mmap_lock
// (gup_fast_pte_range with the write_protect_seq check of gup_fast), the slow path under the
// mmap_lock (follow_page_pte + faults, including FAULT_FLAG_UNSHARE for read-only pins of pages
// that are not AnonExclusive), pin accounting (try_grab_folio: a bias on the refcount for small
// folios, a pin count for large ones) and unpin_user_page().
import type { Cpu } from '../../machine/cpu.js';
import { type Gen, P } from '../../machine/gen.js';
import { EV } from '../../machine/events.js';
import { MM } from '../../machine/layout.js';
import { FOLIO_ANON, PG_ANON_EXCLUSIVE, VM_ANON, VM_SHARED, VM_WRITE, FOLIO_DIRTY } from '../../machine/machine.js';
import { pte_pfn, pte_present, pte_special, pte_write } from '../../machine/pte.js';
import { GUP_PIN_COUNTING_BIAS } from '../include/linux/mm.js';
import { MMF_HAS_PINNED } from './rmap.js';
import { down_read, up_read } from '../kernel/locking/rwsem.js';
import { spin_lock, spin_unlock } from '../kernel/locking/spinlock.js';
import { find_vma } from './mmap.js';
import { FAULT_FLAG_UNSHARE, FAULT_FLAG_WRITE, handle_mm_fault_locked, VM_FAULT_OK } from './memory.js';
import { folio_put_refs } from './swap.js';

/** Pin references a folio of this order takes per pin. */
const pinRefs = (order: number): number => (order === 0 ? GUP_PIN_COUNTING_BIAS : 1);

/**
 * try_grab_folio_fast() for FOLL_PIN: take the pin's references only if the folio is not being
 * freed (refcount 0: "get unless zero"), then count the pin. Returns false if it was freed.
 * try_get_folio(): the folio is page_folio(page) read again here, and read again once the
 * references are held: the folio read without them may have been freed and its pages reused by
 * other folios meanwhile, and a reference on the old head is then no reference on the page's folio:
 * drop it and retry on the page's folio now.
 */
function* try_grab_folio_fast(cpu: Cpu, page: number): Gen<boolean> {
  const { m, L } = cpu.machine;
  let folio: number;
  for (;;) {
    folio = Atomics.load(m, L.pHead + page); // page_folio()
    const r = Atomics.load(m, L.fRef + folio);
    if (r <= 0) return false;
    if (Atomics.compareExchange(m, L.fRef + folio, r, r + 1) !== r) continue; // folio_ref_try_add(folio, 1)
    if (Atomics.load(m, L.pHead + page) === folio) break;
    yield* folio_put_refs(cpu, folio, 1); // the page left that folio meanwhile: not ours
  }
  // the folio is stable now: the rest of the pin's references, as its order asks
  const add = pinRefs(Atomics.load(m, L.fOrder + folio));
  if (add > 1) Atomics.add(m, L.fRef + folio, add - 1);
  // fork's folio_maybe_dma_pinned (a large folio's pin count) and another mm's wp fault (refcount)
  // can look here: the references are taken, the pin not counted yet (the kernel's two atomics too)
  yield P.RMAP;
  // the pin count after the references, so refcount >= pins * bias at every instant
  Atomics.add(m, L.fPin + folio, 1);
  Atomics.add(m, L.pPin + page, 1);
  cpu.noteFolio(folio);
  return true;
}

/** Undo a grab that GUP-fast must not keep (the PTE changed, or a fork raced). */
function* ungrab(cpu: Cpu, page: number): Gen<void> {
  yield* unpin_page(cpu, page);
}

/**
 * gup_must_unshare(): a read-only pin of an anon page must see the pinner's later writes, so the
 * page must be exclusive to it first; the shared zero page in a private mapping must be replaced.
 */
function gup_must_unshare(cpu: Cpu, pte: number, vmaFlags: number, write: boolean): boolean {
  if (write) return false; // a writable PTE of an anon page maps an exclusive page already
  // is_cow_mapping(): private and VM_MAYWRITE. The model has no VM_MAYWRITE: every private mapping
  // may be made writable (mprotect changes VM_WRITE only), so a private one made read-only by
  // mprotect is still a COW mapping, and a pin of its zero page must unshare it too.
  if (pte_special(pte)) return !(vmaFlags & VM_SHARED);
  const { m, L } = cpu.machine;
  const pfn = pte_pfn(pte);
  const folio = Atomics.load(m, L.pHead + pfn);
  if (!(Atomics.load(m, L.fFlags + folio) & FOLIO_ANON)) return false;
  return !(Atomics.load(m, L.pFlags + pfn) & PG_ANON_EXCLUSIVE);
}

/**
 * pin_user_pages_fast() for one page: returns the pinned pfn, or -1 when the fast path must give up
 * (not present, not writable for a write pin, special, must unshare, or a fork raced).
 */
export function* gup_fast(cpu: Cpu, mm: number, vpn: number, write: boolean): Gen<number> {
  const machine = cpu.machine;
  const m = cpu.m;
  Atomics.or(m, machine.mmWord(mm, MM.FLAGS), MMF_HAS_PINNED); // mm_set_has_pinned_flag()
  // A fork write-protects PTEs and clears AnonExclusive while its seqcount is odd: do not pin then.
  const seqW = machine.mmWord(mm, MM.WRITE_PROTECT_SEQ);
  const seq = Atomics.load(m, seqW);
  if (seq & 1) return -1;
  yield P.PTE_READ;
  if (!Atomics.load(m, machine.pgdWord(machine.tableIndex(mm, vpn)))) return -1;
  const ptep = machine.ptep(mm, vpn);
  const pte = Atomics.load(m, ptep);
  if (!pte_present(pte) || pte_special(pte) || (write && !pte_write(pte))) return -1;
  const pfn = pte_pfn(pte);
  // a lockless party from here to the grab: a zap may free the folio and its pages be reused
  // (try_grab_folio_fast rechecks the page's folio once it holds the references)
  yield P.PTE_READ;
  if (!(yield* try_grab_folio_fast(cpu, pfn))) return -1;
  yield P.PTE_READ;
  // the PTE must not have changed under us (zap, COW) while we grabbed the folio
  if (Atomics.load(m, ptep) !== pte || gup_must_unshare(cpu, pte, VM_ANON | VM_WRITE, write)) {
    yield* ungrab(cpu, pfn);
    return -1;
  }
  // read_seqcount_retry(&mm->write_protect_seq): a fork that began meanwhile may have shared it
  if (Atomics.load(m, seqW) !== seq) {
    yield* ungrab(cpu, pfn);
    cpu.ev(EV.GUP_FAST_FORK_RACE, vpn);
    return -1;
  }
  return pfn;
}

/**
 * The slow path (__get_user_pages with follow_page_pte) under the mmap_lock: fault the page in
 * (write, or unshare for a read-only pin) until the PTE allows the pin, then grab it under the
 * PTL. Returns the pinned pfn or -1 (no VMA, no permission, out of memory).
 */
export function* gup_slow(cpu: Cpu, mm: number, vpn: number, write: boolean): Gen<number> {
  const machine = cpu.machine;
  const m = cpu.m;
  Atomics.or(m, machine.mmWord(mm, MM.FLAGS), MMF_HAS_PINNED);
  const lw = machine.mmWord(mm, MM.MMAP_LOCK);
  yield* down_read(cpu, lw);
  let ret = -1;
  for (let tries = 0; tries < 64; tries++) {
    const vma = find_vma(machine, mm, vpn);
    if (!vma || (write && !(vma.flags & VM_WRITE))) break;
    const table = machine.tableIndex(mm, vpn);
    let flags = write ? FAULT_FLAG_WRITE : 0;
    if (Atomics.load(m, machine.pgdWord(table))) {
      const ptl = machine.ptlOf(table);
      yield* spin_lock(cpu, ptl);
      yield P.LOCKED;
      const pte = Atomics.load(m, machine.ptep(mm, vpn));
      if (pte_present(pte) && (!write || pte_write(pte))) {
        if (!gup_must_unshare(cpu, pte, vma.flags, write)) {
          // under the PTL the mapping holds a reference, so the grab cannot fail
          yield* try_grab_folio_fast(cpu, pte_pfn(pte));
          spin_unlock(cpu, ptl);
          ret = pte_pfn(pte);
          break;
        }
        flags = FAULT_FLAG_UNSHARE;
      }
      spin_unlock(cpu, ptl);
    }
    const r = yield* handle_mm_fault_locked(cpu, mm, vpn, flags);
    if (r !== VM_FAULT_OK) break;
  }
  up_read(cpu, lw);
  return ret;
}

/** pin_user_pages() of one page, FOLL_LONGTERM: fast path first, slow path on failure. */
export function* pin_user_page(cpu: Cpu, mm: number, vpn: number, write: boolean): Gen<number> {
  let pfn = yield* gup_fast(cpu, mm, vpn, write);
  if (pfn >= 0) cpu.ev(EV.GUP_FAST, vpn, write ? 1 : 0);
  else {
    pfn = yield* gup_slow(cpu, mm, vpn, write);
    if (pfn >= 0) cpu.ev(EV.GUP_SLOW, vpn, write ? 1 : 0);
  }
  return pfn;
}

/**
 * unpin_user_pages_dirty_lock() of one page with make_dirty: the device may have written the page
 * through the pin, which set no PTE dirty bit, so the folio is marked dirty (folio_mark_dirty under
 * the folio lock in the kernel) before the pin goes: a lazyfree folio is then not discarded, a
 * page-cache one is written back.
 */
export function* unpin_user_page_dirty(cpu: Cpu, pfn: number): Gen<void> {
  const { m, L } = cpu.machine;
  Atomics.or(m, L.fFlags + Atomics.load(m, L.pHead + pfn), FOLIO_DIRTY);
  yield* unpin_user_page(cpu, pfn);
}

/** unpin_user_page(): drop one pin of the page's folio (the pin count first, then its references). */
export function* unpin_user_page(cpu: Cpu, pfn: number): Gen<void> {
  cpu.ev(EV.UNPIN, pfn);
  yield* unpin_page(cpu, pfn);
}

function* unpin_page(cpu: Cpu, page: number): Gen<void> {
  const { m, L } = cpu.machine;
  const folio = Atomics.load(m, L.pHead + page);
  const pp = Atomics.sub(m, L.pPin + page, 1) - 1;
  const p = Atomics.sub(m, L.fPin + folio, 1) - 1;
  if (p < 0 || pp < 0) cpu.violation('pin-underflow', 'unpin_user_page', { folio, page, pins: p, pagePins: pp });
  // fork's folio_maybe_dma_pinned and another mm's wp fault can look here: the pin is no longer
  // counted, its references are still held (gup_put_folio: the pin count, then folio_put_refs)
  yield P.FREE;
  yield* folio_put_refs(cpu, folio, pinRefs(Atomics.load(m, L.fOrder + folio)));
}
