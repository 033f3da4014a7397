// Models mm/page_alloc.c: a buddy allocator by order under one zone lock. High orders fail when
// memory is fragmented ("we may have been granted less than we asked for"). Freed pages are
// poisoned (content POISON, PG_buddy) so a stale mapping that reaches them is caught.
import type { Cpu } from '../../machine/cpu.js';
import { type Gen, P } from '../../machine/gen.js';
import { EV } from '../../machine/events.js';
import { Machine, PG_BUDDY, PG_HEAD, PG_RESERVED, PG_TAIL, POISON, ZERO_PFN, FOLIO_LARGE } from '../../machine/machine.js';
import { spin_lock, spin_unlock } from '../kernel/locking/spinlock.js';
import { MMDEBUG } from '../include/linux/mmdebug.js';
import { CPU } from '../../machine/layout.js';

/** Boot: reserve the zero page and a seeded scatter of held-back pages, free everything else. */
export function mem_init(machine: Machine, rand: () => number): void {
  const { m, L } = machine;
  for (let o = 0; o <= L.maxOrder; o++) {
    m[L.freeHead + o] = -1;
    m[L.freeCount + o] = 0;
  }
  for (let pfn = 0; pfn < L.pages; pfn++) {
    m[L.pFlags + pfn] = PG_RESERVED;
    m[L.pHead + pfn] = pfn;
    m[L.fRef + pfn] = 1;
  }
  const frag = machine.cfg.fragmentation;
  for (let pfn = 0; pfn < L.pages; pfn++) {
    if (pfn === ZERO_PFN) continue;
    if (frag > 0 && rand() < frag) continue; // held back: fragments the buddy space
    m[L.fRef + pfn] = 0;
    free_one_page(machine, pfn, 0);
  }
  m[L.pContent + ZERO_PFN] = 0;
}

function listAdd(machine: Machine, pfn: number, order: number): void {
  const { m, L } = machine;
  const head = m[L.freeHead + order];
  m[L.buddyNext + pfn] = head;
  m[L.buddyPrev + pfn] = -1;
  if (head >= 0) m[L.buddyPrev + head] = pfn;
  m[L.freeHead + order] = pfn;
  m[L.freeCount + order]++;
}
function listDel(machine: Machine, pfn: number, order: number): void {
  const { m, L } = machine;
  const next = m[L.buddyNext + pfn], prev = m[L.buddyPrev + pfn];
  if (prev >= 0) m[L.buddyNext + prev] = next;
  else m[L.freeHead + order] = next;
  if (next >= 0) m[L.buddyPrev + next] = prev;
  m[L.freeCount + order]--;
}

/** __free_one_page(): merge with free buddies and put the block on its free list. Zone lock held. */
export function free_one_page(machine: Machine, pfn: number, order: number): void {
  const { m, L } = machine;
  for (let i = 0; i < 1 << order; i++) {
    Atomics.store(m, L.pFlags + pfn + i, PG_BUDDY);
    Atomics.store(m, L.pContent + pfn + i, POISON);
    Atomics.store(m, L.pMapcount + pfn + i, 0);
    Atomics.store(m, L.pHead + pfn + i, pfn);
  }
  while (order < L.maxOrder) {
    const buddy = pfn ^ (1 << order);
    if (buddy >= L.pages) break;
    const bf = m[L.pFlags + buddy];
    if (!(bf & PG_BUDDY) || !(bf & PG_HEAD) || m[L.fOrder + buddy] !== order) break;
    listDel(machine, buddy, order);
    m[L.pFlags + buddy] = PG_BUDDY;
    const lo = Math.min(pfn, buddy);
    pfn = lo;
    order++;
  }
  m[L.pFlags + pfn] = PG_BUDDY | PG_HEAD;
  m[L.fOrder + pfn] = order;
  for (let i = 0; i < 1 << order; i++) m[L.pHead + pfn + i] = pfn;
  listAdd(machine, pfn, order);
}

/** __rmqueue_smallest(): take a block of at least order and split it down. Zone lock held. */
function rmqueue(machine: Machine, order: number): number {
  const { m, L } = machine;
  for (let cur = order; cur <= L.maxOrder; cur++) {
    const pfn = m[L.freeHead + cur];
    if (pfn < 0) continue;
    listDel(machine, pfn, cur);
    // del_page_from_free_list(): __ClearPageBuddy under the zone lock. Else, until prep_new_page
    // stores the new folio's flags after the unlock, a free of its buddy on another CPU would merge
    // with it (PG_BUDDY | PG_HEAD, fOrder unchanged) and unlink it from a list it is no longer on
    m[L.pFlags + pfn] = 0;
    // expand(): give back the upper halves
    while (cur > order) {
      cur--;
      const upper = pfn + (1 << cur);
      m[L.pFlags + upper] = PG_BUDDY | PG_HEAD;
      m[L.fOrder + upper] = cur;
      for (let i = 0; i < 1 << cur; i++) m[L.pHead + upper + i] = upper;
      listAdd(machine, upper, cur);
    }
    return pfn;
  }
  return -1;
}

/** vma_alloc_zeroed_movable_folio() / alloc_pages(): a zeroed folio of 2^order pages with refcount 1, or -1. */
export function* alloc_folio(cpu: Cpu, order: number): Gen<number> {
  yield P.ALLOC;
  const machine = cpu.machine;
  const { m, L } = machine;
  yield* spin_lock(cpu, L.zoneLock);
  // cfg.allocFailRate (tool knob): this order > 0 request finds no free block, as under
  // fragmentation, with the given probability
  const pfn = order > 0 && cpu.allocFails() ? -1 : rmqueue(machine, order);
  if (pfn < 0) MMDEBUG.allocFailed(cpu, order); // the free lists as the failure saw them
  spin_unlock(cpu, L.zoneLock);
  if (pfn < 0) {
    Atomics.add(m, machine.cpuWord(cpu.id, CPU.ALLOC_FAILS), 1); // count_vm_event() of an allocation failure
    return -1;
  }
  // prep_new_page(): struct pages first, then the refcount that publishes the folio.
  for (let i = 0; i < 1 << order; i++) {
    Atomics.store(m, L.pContent + pfn + i, 0);
    Atomics.store(m, L.pMapcount + pfn + i, 0);
    Atomics.store(m, L.pPin + pfn + i, 0);
    Atomics.store(m, L.pHead + pfn + i, pfn);
    Atomics.store(m, L.pFlags + pfn + i, i === 0 ? PG_HEAD : PG_TAIL);
  }
  Atomics.store(m, L.fOrder + pfn, order);
  Atomics.store(m, L.fMapcount + pfn, 0);
  Atomics.store(m, L.fPin + pfn, 0);
  Atomics.store(m, L.fMmId + pfn * 2, 0);
  Atomics.store(m, L.fMmId + pfn * 2 + 1, 0);
  Atomics.store(m, L.fFlags + pfn, order > 0 ? FOLIO_LARGE : 0);
  Atomics.store(m, L.fMapping + pfn, 0);
  Atomics.store(m, L.fIndex + pfn, 0);
  Atomics.store(m, L.fRef + pfn, 1);
  return pfn;
}

/** free_frozen_pages(): return a folio whose refcount reached zero. */
export function* free_folio(cpu: Cpu, head: number): Gen<void> {
  const { m, L } = cpu.machine;
  const order = Atomics.load(m, L.fOrder + head);
  MMDEBUG.folioFree(cpu, head, 1 << order); // no TLB may still reach it (the flush comes before the free)
  cpu.ev(EV.FOLIO_FREE + order, head, order);
  Atomics.store(m, L.fFlags + head, 0);
  Atomics.store(m, L.fMapping + head, 0);
  yield* spin_lock(cpu, L.zoneLock);
  free_one_page(cpu.machine, head, order);
  spin_unlock(cpu, L.zoneLock);
}

/** Free pages per order, and the total (for reports and leak checks). */
export function freePages(machine: Machine): number {
  const { m, L } = machine;
  let n = 0;
  for (let o = 0; o <= L.maxOrder; o++) n += m[L.freeCount + o] << o;
  return n;
}
export function reservedPages(machine: Machine): number {
  const { m, L } = machine;
  let n = 0;
  for (let pfn = 0; pfn < L.pages; pfn++) if (m[L.pFlags + pfn] & PG_RESERVED) n++;
  return n;
}
