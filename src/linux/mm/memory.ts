// Models mm/memory.c: the anonymous fault (alloc_anon_folio, do_anonymous_page), the file faults
// (do_read_fault, do_cow_fault, do_shared_fault, finish_fault), the write-protect fault
// (do_wp_page), the batched zap (zap_pte_range, zap_present_ptes) and the fork copy
// (copy_page_range, copy_present_ptes).
import type { Cpu } from '../../machine/cpu.js';
import { type Gen, P } from '../../machine/gen.js';
import { EV } from '../../machine/events.js';
import { PMD_ORDER, PTRS_PER_PTE } from '../../machine/params.js';
import { FOLIO_ANON, FOLIO_REFERENCED, PG_ANON_EXCLUSIVE, VM_ANON, VM_READ, VM_SHARED, VM_WRITE, VM_WRITENOTIFY, ZERO_PFN } from '../../machine/machine.js';
import { MM } from '../../machine/layout.js';
import {
  PTE_DIRTY, PTE_WRITE, PTE_YOUNG, pfn_pte, pte_advance_pfn, pte_dirty, pte_mkspecial, pte_none, pte_pfn, pte_present, pte_special, pteToString, pte_write, pte_young,
} from '../../machine/pte.js';
import { spin_lock, spin_unlock } from '../kernel/locking/spinlock.js';
import { down_read, up_read } from '../kernel/locking/rwsem.js';
import {
  clear_full_ptes, get_and_clear_full_ptes, ptep_clear_flush, ptep_get, ptep_get_and_clear, ptep_set_access_flags, pte_range_none, set_pte_at,
  set_ptes, wrprotect_ptes,
} from '../include/linux/pgtable.js';
import { do_fault_around, filemap_fault, folio_lock, folio_unlock } from './filemap.js';
import { folio_mark_dirty } from './page-writeback.js';
import { alloc_folio } from './page_alloc.js';
import { folio_prealloc, mem_cgroup_charge } from './memcontrol.js';
import { folio_ref_add, folio_ref_sub, folio_put } from './swap.js';
import {
  folio_add_file_rmap_ptes, folio_add_new_anon_rmap, folio_dup_file_rmap_ptes, folio_mm_mapcount, folio_remove_rmap_ptes, folio_try_dup_anon_rmap_ptes,
} from './rmap.js';
import { find_vma, linear_page_index, type VmaView } from './mmap.js';
import { do_huge_pmd_anonymous_page, VM_FAULT_FALLBACK } from './huge_memory.js';
import { FPB_IGNORE_DIRTY, FPB_IGNORE_SOFT_DIRTY, folio_pte_batch } from './internal.js';
import {
  type MmuGather, tlb_delay_rmap, tlb_flush_mmu, tlb_flush_mmu_tlbonly, tlb_flush_rmaps, tlb_remove_folio_pages, tlb_remove_folio_pages_delayed, tlb_remove_tlb_entries,
} from './mmu_gather.js';
import { flush_tlb_range } from '../../machine/tlb.js';
import { MMDEBUG } from '../include/linux/mmdebug.js';
import { is_migration_entry, is_readable_migration_entry, migration_entry_mkreadable, swp_offset_pfn } from '../include/linux/swapops.js';
import { migration_entry_wait } from './migrate.js';

export const VM_FAULT_OK = 0;

/** A fault gives up without mapping the page (the access will fault again): say why, for a livelock report. */
function faultMiss(cpu: Cpu, why: string, vpn: number, pte: number): void {
  cpu.faultMiss = why;
  cpu.faultMissVpn = vpn;
  cpu.faultMissPte = pte;
}

export const VM_FAULT_SIGSEGV = 1;
export const VM_FAULT_OOM = 2;
/** VM_FAULT_SIGBUS: a swap entry the model does not know (none is ever written) */
export const VM_FAULT_SIGBUS = 3;

/** struct vm_fault: what a fault handler knows. */
export interface VmFault {
  mm: number;
  vma: VmaView;
  vpn: number;
  write: boolean;
  /** FAULT_FLAG_UNSHARE: make the page exclusive but leave the PTE read-only */
  unshare?: boolean;
  table: number;
  ptep: number; // word of the faulting PTE
  ptl: number; // lock offset of its table
  orig: number; // PTE value read locklessly at fault entry
}

/** handle_mm_fault() (with lock_mm_and_find_vma): returns VM_FAULT_*. */
export function* handle_mm_fault(cpu: Cpu, mm: number, vpn: number, write: boolean): Gen<number> {
  yield P.FAULT;
  cpu.faultMiss = '';
  const t0 = cpu.now();
  const lockw = cpu.machine.mmWord(mm, MM.MMAP_LOCK);
  yield* down_read(cpu, lockw);
  const ret = yield* handle_mm_fault_locked(cpu, mm, vpn, write ? FAULT_FLAG_WRITE : 0);
  up_read(cpu, lockw);
  cpu.hist.record('fault', cpu.now() - t0);
  return ret;
}

export const FAULT_FLAG_WRITE = 1;
/** FAULT_FLAG_UNSHARE: GUP wants an exclusive page for a read-only pin, without write access. */
export const FAULT_FLAG_UNSHARE = 2;

/** The part of handle_mm_fault() under the mmap_lock (GUP's slow path calls it with the lock held). */
export function* handle_mm_fault_locked(cpu: Cpu, mm: number, vpn: number, flags: number): Gen<number> {
  const machine = cpu.machine;
  const write = (flags & FAULT_FLAG_WRITE) !== 0;
  cpu.ev(EV.FAULT, vpn, flags);
  const vma = find_vma(machine, mm, vpn);
  // access_error(): no VMA, a write to a VMA without VM_WRITE, any access to PROT_NONE
  if (!vma || (write && !(vma.flags & VM_WRITE)) || !(vma.flags & (VM_READ | VM_WRITE))) {
    cpu.ev(EV.FAULT_SEGV, vpn);
    return VM_FAULT_SIGSEGV;
  }
  const table = machine.tableIndex(mm, vpn);
  // __handle_mm_fault(): a none PMD (no PTE table yet) with PMD_ORDER enabled tries a THP first
  // (create_huge_pmd); VM_FAULT_FALLBACK goes on to the PTE path
  if (!Atomics.load(machine.m, machine.pgdWord(table)) && thpPmdEnabled(cpu) && vma.flags & VM_ANON) {
    const ret = yield* do_huge_pmd_anonymous_page(cpu, mm, vma, vpn, write);
    if (ret !== VM_FAULT_FALLBACK) return ret;
  }
  // __pte_alloc(): populate the PMD entry (tables are preassigned; the pgd word publishes it)
  Atomics.compareExchange(machine.m, machine.pgdWord(table), 0, 1);
  const vmf: VmFault = { mm, vma, vpn, write, unshare: (flags & FAULT_FLAG_UNSHARE) !== 0, table, ptep: machine.ptep(mm, vpn), ptl: machine.ptlOf(table), orig: 0 };
  return yield* handle_pte_fault(cpu, vmf);
}

/** handle_pte_fault() */
function* handle_pte_fault(cpu: Cpu, vmf: VmFault): Gen<number> {
  yield P.PTE_READ;
  vmf.orig = ptep_get(cpu, vmf.ptep);
  if (pte_none(vmf.orig)) {
    if (vmf.vma.flags & VM_ANON) return yield* do_anonymous_page(cpu, vmf);
    return yield* do_fault(cpu, vmf);
  }
  if (!pte_present(vmf.orig)) return yield* do_swap_page(cpu, vmf);
  if ((vmf.write || vmf.unshare) && !pte_write(vmf.orig)) return yield* do_wp_page(cpu, vmf);
  // present and permitted: another CPU resolved it first; the access simply retries.
  cpu.ev(EV.FAULT_SPURIOUS, vmf.vpn);
  faultMiss(cpu, 'handle_pte_fault: spurious (the entry read permits the access)', vmf.vpn, vmf.orig);
  return VM_FAULT_OK;
}

/**
 * do_swap_page() for the one kind of swap entry the model has: a migration entry waits for the
 * migration (migration_entry_wait) and the access retries.
 */
function* do_swap_page(cpu: Cpu, vmf: VmFault): Gen<number> {
  if (is_migration_entry(vmf.orig)) {
    yield* migration_entry_wait(cpu, vmf.mm, vmf.vpn);
    faultMiss(cpu, 'do_swap_page: waited for a migration (migration_entry_wait)', vmf.vpn, vmf.orig);
    return VM_FAULT_OK;
  }
  // print_bad_pte(): the model writes no other kind of swap entry
  cpu.violation('pte-bad-swap-entry', 'do_swap_page', { mm: vmf.mm, vpn: vmf.vpn, pte: pteToString(vmf.orig) });
  return VM_FAULT_SIGBUS;
}

/** thp_vma_allowable_order(PMD_ORDER): the config enables PMD-size anon THPs (hugepages-2048kB). */
function thpPmdEnabled(cpu: Cpu): boolean {
  let on = pmdEnabledOf.get(cpu);
  if (on === undefined) pmdEnabledOf.set(cpu, (on = (sysfsAnonOrders.get(cpu) ?? cpu.cfg.anonOrders).includes(PMD_ORDER)));
  return on;
}
const pmdEnabledOf = new WeakMap<Cpu, boolean>();

/** The anon orders the config enables, highest first (order 1 only under fault-order1); read-only, computed once per CPU. */
function enabledAnonOrders(cpu: Cpu): readonly number[] {
  let orders = anonOrdersOf.get(cpu);
  if (!orders) {
    const set = new Set((sysfsAnonOrders.get(cpu) ?? cpu.cfg.anonOrders).filter((o) => o > 0 && o < PMD_ORDER));
    if (cpu.inj.faultOrder1) set.add(1);
    else set.delete(1);
    orders = [...set].sort((a, b) => b - a);
    anonOrdersOf.set(cpu, orders);
  }
  return orders;
}
/** enabledAnonOrders per CPU (a CPU's config and deviations never change; a sysfs write below drops it). */
const anonOrdersOf = new WeakMap<Cpu, number[]>();
/** The anon orders sysfs enables, once a write changed them (absent: the config's anonOrders). */
const sysfsAnonOrders = new WeakMap<Cpu, readonly number[]>();

/**
 * thpsize_enabled_store() (mm/huge_memory.c): hugepages-<size>kB/enabled set to "always" puts the
 * order in huge_anon_orders_always, anything else takes it out (the model has no MADV_HUGEPAGE
 * VMA for "madvise", and "inherit" follows a top-level "never"). Faults from now on choose from
 * the new set; a scenario's `thp` step, on its one CPU.
 */
export function thpsize_enabled_store(cpu: Cpu, order: number, always: boolean): void {
  const cur = new Set(sysfsAnonOrders.get(cpu) ?? cpu.cfg.anonOrders);
  if (always) cur.add(order);
  else cur.delete(order);
  sysfsAnonOrders.set(cpu, [...cur]);
  anonOrdersOf.delete(cpu);
  pmdEnabledOf.delete(cpu);
}

/**
 * alloc_anon_folio(): choose an order without the PTL, then allocate with fallback to lower
 * orders. Only orders whose naturally aligned range lies inside the VMA (and so inside one PTE
 * table, since order < PMD_ORDER) and whose PTEs all read none are candidates. maxOrder caps the
 * choice for the retry-lower policy; preferred-or-0 considers only the highest suitable order.
 * Returns the folio's head pfn (its order is in struct folio) or -1 when even order 0 fails.
 */
export function* alloc_anon_folio(cpu: Cpu, vmf: VmFault, maxOrder: number): Gen<number> {
  // thp_vma_suitable_orders(): naturally aligned and inside the VMA (deviation fault-past-vma:
  // the VMA is not looked at; the aligned range still lies in the faulting PTE table)
  let orders = enabledAnonOrders(cpu).filter((o) => {
    if (o > maxOrder) return false;
    if (cpu.inj.faultPastVma) return true;
    const base = vmf.vpn & ~((1 << o) - 1);
    return base >= vmf.vma.start && base + (1 << o) <= vmf.vma.end;
  });
  if (cpu.cfg.anonFallback === 'preferred-or-0') orders = orders.slice(0, 1);
  // The unlocked scan: an estimate that do_anonymous_page must recheck under the PTL.
  let i = 0;
  for (; i < orders.length; i++) {
    yield P.SCAN;
    const nr = 1 << orders[i];
    const base = vmf.vpn & ~(nr - 1);
    if (pte_range_none(cpu, vmf.ptep - (vmf.vpn - base), nr)) break;
  }
  cpu.ev(EV.SCAN_ORDER + (i < orders.length ? orders[i] : 0), vmf.vpn);
  for (; i < orders.length; i++) {
    const folio = yield* alloc_folio(cpu, orders[i]);
    if (folio >= 0) {
      if (!mem_cgroup_charge(cpu, folio)) return folio;
      // count_mthp_stat(order, MTHP_STAT_ANON_FAULT_FALLBACK_CHARGE): the next order is tried
      yield* folio_put(cpu, folio);
    }
    cpu.ev(EV.ALLOC_FALLBACK + orders[i], vmf.vpn);
  }
  return yield* folio_prealloc(cpu); // fallback: folio_prealloc(vma->vm_mm, vma, addr, true)
}

/**
 * do_anonymous_page(): read faults map the shared zero page; write faults allocate a folio of
 * the chosen order and map it under the PTL after rechecking that the lockless scan still holds
 * (order 0: "pte changed"; large: "range still none"). On a lost race the anonFallback policy
 * decides: refault (upstream), retry-lower (the 2023 RFC), preferred-or-0.
 */
export function* do_anonymous_page(cpu: Cpu, vmf: VmFault): Gen<number> {
  cpu.ev(EV.FAULT_ANON, vmf.vpn, vmf.write ? 1 : 0);
  if (!vmf.write) return yield* map_zero_page(cpu, vmf);
  const { m, L } = cpu.machine;
  const policy = cpu.cfg.anonFallback;
  let maxOrder = PMD_ORDER - 1;
  for (;;) {
    const folio = yield* alloc_anon_folio(cpu, vmf, maxOrder);
    if (folio < 0) {
      cpu.ev(EV.ALLOC_OOM, vmf.vpn);
      return VM_FAULT_OOM;
    }
    // "We may have been granted less than we asked for."
    const order = Atomics.load(m, L.fOrder + folio);
    const nr = 1 << order;
    // addr = ALIGN_DOWN(vmf->address, nr_pages * PAGE_SIZE): the range the recheck and set_ptes
    // use (deviation fault-unaligned: the faulting address itself, though alloc_anon_folio judged
    // the aligned range)
    const base = cpu.inj.faultUnaligned ? vmf.vpn : vmf.vpn & ~(nr - 1);
    if ((base + nr - 1) >>> 9 !== vmf.vpn >>> 9) {
      // The kernel would read (pte_range_none) and write (set_ptes) past the end of the PTE table
      // page, into memory the model does not have (its tables lie side by side; the kernel's do
      // not): reported before any access, as zap_pte_range does for a range that crosses a table.
      cpu.violation('batch-bounds', 'do_anonymous_page', { mm: vmf.mm, vpn: vmf.vpn, base, nr, folio, why: 'range crosses a PTE table' });
    }
    const ptep0 = vmf.ptep - (vmf.vpn - base);
    const entry = pfn_pte(folio, PTE_YOUNG | PTE_DIRTY | (vmf.vma.flags & VM_WRITE ? PTE_WRITE : 0));

    yield* spin_lock(cpu, vmf.ptl);
    yield P.LOCKED;
    let lost = false;
    if (!cpu.inj.faultNoRecheck) {
      if (nr === 1) {
        if (!pte_none(ptep_get(cpu, vmf.ptep))) {
          cpu.ev(EV.RECHECK_PTE_CHANGED, vmf.vpn);
          faultMiss(cpu, 'do_anonymous_page: pte changed under the PTL (order 0)', vmf.vpn, ptep_get(cpu, vmf.ptep));
          lost = true;
        }
      } else if (!pte_range_none(cpu, ptep0, nr)) {
        cpu.ev(EV.RECHECK_RANGE_CHANGED + order, base, order);
        if (policy !== 'refault' && pte_none(ptep_get(cpu, vmf.ptep))) {
          // retry-lower / preferred-or-0: the faulting PTE is still none, so retry at once
          // with a smaller folio instead of returning and letting the access fault again.
          spin_unlock(cpu, vmf.ptl);
          yield* folio_put(cpu, folio);
          if (policy === 'retry-lower') {
            // order--, to the next enabled order (1 only under fault-order1), so the event names the
            // order actually retried (with [0, 2, 4], 4 -> 2, not the disabled 3).
            maxOrder = enabledAnonOrders(cpu).find((o) => o < order) ?? 0;
            cpu.ev(EV.RETRY_LOWER + maxOrder, vmf.vpn, maxOrder);
          } else {
            maxOrder = 0;
            cpu.ev(EV.RETRY_ORDER0, vmf.vpn);
          }
          continue;
        }
        if (!pte_none(ptep_get(cpu, vmf.ptep))) cpu.ev(EV.LOST_RACE_EXIT, vmf.vpn);
        let k = 0;
        while (k < nr - 1 && pte_none(ptep_get(cpu, ptep0 + k))) k++; // the entry the recheck found
        faultMiss(cpu, `do_anonymous_page: vpns [${base}, ${base + nr}) of an order-${order} folio were not all none under the PTL`, base + k, ptep_get(cpu, ptep0 + k));
        lost = true;
      }
    }
    if (lost) {
      // update_mmu_tlb(); release: the access will fault again if its PTE is still none.
      spin_unlock(cpu, vmf.ptl);
      yield* folio_put(cpu, folio);
      return VM_FAULT_OK;
    }
    if (!cpu.cfg.batching && nr > 1) {
      yield* map_anon_folio_per_entry(cpu, vmf, folio, ptep0, entry, nr);
      cpu.ev(EV.MAP_ANON + order, base, order, folio);
      spin_unlock(cpu, vmf.ptl);
      return VM_FAULT_OK;
    }
    if (!cpu.inj.faultRefcountLate) {
      // References before mapcounts: refcount >= mapcount must hold at every instant, because
      // lockless observers (GUP-fast, the refcount-freezing paths) compare the two.
      folio_ref_add(cpu, folio, nr - 1);
    }
    Atomics.add(m, cpu.machine.mmWord(vmf.mm, MM.RSS_ANON), nr);
    folio_add_new_anon_rmap(cpu, folio, folio, nr, vmf.mm);
    yield P.RMAP;
    yield* set_ptes(cpu, ptep0, entry, nr);
    if (nr > 1) cpu.counters[EV.ANON_BATCHED]++;
    if (cpu.inj.faultRefcountLate) {
      yield P.RMAP; // deviation: the mapping is visible before its references exist
      folio_ref_add(cpu, folio, nr - 1);
    }
    cpu.ev(EV.MAP_ANON + order, base, order, folio);
    spin_unlock(cpu, vmf.ptl);
    return VM_FAULT_OK;
  }
}

/**
 * The per-entry reference form of the mapping step of do_anonymous_page() (batching: false): each
 * page of the new folio gets its own reference, rmap and set_pte_at, in that order (references
 * before mapcounts, as the batched form), instead of one folio_ref_add/rmap/set_ptes for all nr.
 * The allocation's reference covers page 0. PTL held. Yields between entries, where a lockless
 * walker can see the range half populated, as set_ptes does.
 */
function* map_anon_folio_per_entry(cpu: Cpu, vmf: VmFault, folio: number, ptep0: number, entry: number, nr: number): Gen<void> {
  const rss = cpu.machine.mmWord(vmf.mm, MM.RSS_ANON);
  for (let i = 0; i < nr; i++) {
    if (i > 0) yield P.SET_PTE;
    if (i > 0 && !cpu.inj.faultRefcountLate) folio_ref_add(cpu, folio, 1);
    Atomics.add(cpu.m, rss, 1);
    folio_add_new_anon_rmap(cpu, folio, folio + i, 1, vmf.mm);
    yield* set_pte_at(cpu, ptep0 + i, entry);
    if (i > 0 && cpu.inj.faultRefcountLate) {
      yield P.RMAP; // deviation: the mapping is visible before its reference exists
      folio_ref_add(cpu, folio, 1);
    }
    entry = pte_advance_pfn(entry, 1);
  }
}

/** The read-fault half of do_anonymous_page(): map the shared zero page, special and read-only. */
function* map_zero_page(cpu: Cpu, vmf: VmFault): Gen<number> {
  const entry = pte_mkspecial(pfn_pte(ZERO_PFN, PTE_YOUNG));
  yield* spin_lock(cpu, vmf.ptl);
  yield P.LOCKED;
  if (pte_none(ptep_get(cpu, vmf.ptep))) {
    yield* set_pte_at(cpu, vmf.ptep, entry);
    cpu.ev(EV.MAP_ZERO, vmf.vpn);
  } else {
    cpu.ev(EV.RECHECK_PTE_CHANGED, vmf.vpn);
    faultMiss(cpu, 'map_zero_page: pte changed under the PTL', vmf.vpn, ptep_get(cpu, vmf.ptep));
  }
  spin_unlock(cpu, vmf.ptl);
  return VM_FAULT_OK;
}

// ---- file faults ---------------------------------------------------------------------------

/** do_fault(): a fault on a none PTE of a file VMA. */
function* do_fault(cpu: Cpu, vmf: VmFault): Gen<number> {
  cpu.ev(EV.FILE_FAULT, vmf.vpn, vmf.write ? 1 : 0);
  const pgoff = linear_page_index(vmf.vma, vmf.vpn);
  if (pgoff >= cpu.machine.L.filePages) return VM_FAULT_SIGSEGV; // beyond EOF: SIGBUS
  if (!vmf.write) return yield* do_read_fault(cpu, vmf, pgoff);
  if (!(vmf.vma.flags & VM_SHARED)) return yield* do_cow_fault(cpu, vmf, pgoff);
  return yield* do_shared_fault(cpu, vmf, pgoff);
}

/**
 * do_read_fault(): first fault-around (should_fault_around: every modelled file has ->map_pages,
 * filemap_map_pages, and no uffd): if the page is cached, it and its cached neighbours are mapped
 * and the fault is done (VM_FAULT_NOPAGE); else map the page cache page (or, per finish_fault, its
 * whole folio).
 */
function* do_read_fault(cpu: Cpu, vmf: VmFault, pgoff: number): Gen<number> {
  if (yield* do_fault_around(cpu, vmf, pgoff)) {
    cpu.counters[EV.FAULT_AROUND_HIT]++;
    return VM_FAULT_OK;
  }
  const folio = yield* filemap_fault(cpu, vmf.vma.file, pgoff); // __do_fault()
  if (folio < 0) return VM_FAULT_OOM;
  return yield* finish_fault(cpu, vmf, folio, folio + (pgoff - Atomics.load(cpu.m, cpu.machine.L.fIndex + folio)), -1);
}

/** do_cow_fault(): a write to a private file mapping: copy the file page into a new anon page. */
function* do_cow_fault(cpu: Cpu, vmf: VmFault, pgoff: number): Gen<number> {
  const { m, L } = cpu.machine;
  const cow = yield* folio_prealloc(cpu);
  if (cow < 0) return VM_FAULT_OOM;
  const folio = yield* filemap_fault(cpu, vmf.vma.file, pgoff);
  if (folio < 0) {
    yield* folio_put(cpu, cow);
    return VM_FAULT_OOM;
  }
  const page = folio + (pgoff - Atomics.load(m, L.fIndex + folio));
  Atomics.store(m, L.pContent + cow, Atomics.load(m, L.pContent + page)); // copy_user_highpage()
  yield P.ALLOC;
  const r = yield* finish_fault(cpu, vmf, folio, page, cow);
  yield* folio_put(cpu, folio); // the page cache page was only read
  cpu.ev(EV.FILE_COW, vmf.vpn);
  return r;
}

/** do_shared_fault(): a write to a shared file mapping maps the page cache page writable and dirties the folio. */
function* do_shared_fault(cpu: Cpu, vmf: VmFault, pgoff: number): Gen<number> {
  const folio = yield* filemap_fault(cpu, vmf.vma.file, pgoff);
  if (folio < 0) return VM_FAULT_OOM;
  // __do_fault() returns the folio locked, and it stays locked until fault_dirty_shared_page has
  // dirtied it after finish_fault made the entry writable: writeback (which cleans under the folio
  // lock) cannot clean in between. do_page_mkwrite(): a write-notify filesystem dirties it first too.
  yield* folio_lock(cpu, folio);
  if (vmf.vma.flags & VM_WRITENOTIFY) folio_mark_dirty(cpu, folio);
  const r = yield* finish_fault(cpu, vmf, folio, folio + (pgoff - Atomics.load(cpu.m, cpu.machine.L.fIndex + folio)), -1);
  folio_mark_dirty(cpu, folio); // fault_dirty_shared_page(): dirtied, then unlocked
  folio_unlock(cpu, folio);
  return r;
}

/**
 * finish_fault(): under the PTL, map page of folio (we hold one reference to folio), or for a COW
 * fault the new anon page cow. A large folio is mapped whole (set_ptes of every page) when it lies
 * inside the VMA and the PTE table and its entries all read none — the kernel does this for shmem,
 * and for read faults do_fault_around maps the cached folio's pages alike; a write fault on a
 * write-notify (disk filesystem) mapping maps the one page. With batching off the same range is
 * mapped entry by entry (a reference, an rmap and a set_pte_at per page).
 * Otherwise one page, if its entry still reads none. The entry is writable only on a write fault,
 * or on a shared mapping without write notification (vm_page_prot carries write there).
 */
function* finish_fault(cpu: Cpu, vmf: VmFault, folio: number, page: number, cow: number): Gen<number> {
  const machine = cpu.machine;
  const { m, L } = machine;
  const vma = vmf.vma;
  const folioNr = 1 << Atomics.load(m, L.fOrder + folio);
  let nr = 1, first = page, vpn0 = vmf.vpn;
  const idx = page - folio;
  if (cow < 0 && folioNr > 1 && !(vmf.write && vma.flags & VM_WRITENOTIFY)) {
    const vmaOff = vmf.vpn - vma.start, pteOff = vmf.vpn % PTRS_PER_PTE;
    // the folio's range must lie inside the VMA and the PTE table ("fallback to per-page fault")
    if (!(vmaOff < idx || vmaOff + (folioNr - idx) > vma.end - vma.start || pteOff < idx || pteOff + (folioNr - idx) > PTRS_PER_PTE)) {
      nr = folioNr;
      first = folio;
      vpn0 = vmf.vpn - idx;
    }
  }
  const shared = (vma.flags & VM_SHARED) !== 0;
  const writable = cow >= 0 || (vmf.write && shared) || (shared && !(vma.flags & VM_WRITENOTIFY) && (vma.flags & VM_WRITE) !== 0);
  const dirty = vmf.write; // maybe_mkwrite(pte_mkdirty(entry)) on a write fault
  for (;;) {
    const ptep0 = vmf.ptep - (vmf.vpn - vpn0);
    yield* spin_lock(cpu, vmf.ptl);
    yield P.LOCKED;
    if (nr === 1 ? !pte_none(ptep_get(cpu, vmf.ptep)) : !pte_range_none(cpu, ptep0, nr)) {
      spin_unlock(cpu, vmf.ptl);
      if (nr > 1) {
        nr = 1; // needs_fallback: map the one page
        first = page;
        vpn0 = vmf.vpn;
        continue;
      }
      // vmf_pte_changed(): another CPU mapped it; the access retries
      cpu.ev(EV.RECHECK_PTE_CHANGED, vmf.vpn);
      faultMiss(cpu, 'finish_fault: pte changed under the PTL', vmf.vpn, ptep_get(cpu, vmf.ptep));
      if (cow >= 0) yield* folio_put(cpu, cow);
      else yield* folio_put(cpu, folio);
      return VM_FAULT_OK;
    }
    if (cow >= 0) {
      folio_add_new_anon_rmap(cpu, cow, cow, 1, vmf.mm);
      Atomics.add(m, machine.mmWord(vmf.mm, MM.RSS_ANON), 1);
      yield P.RMAP;
      yield* set_pte_at(cpu, vmf.ptep, pfn_pte(cow, PTE_YOUNG | PTE_DIRTY | PTE_WRITE));
    } else {
      const entry = pfn_pte(first, PTE_YOUNG | (dirty ? PTE_DIRTY : 0) | (writable ? PTE_WRITE : 0));
      if (cpu.cfg.batching || nr === 1) {
        // references before mapcounts (our fault reference becomes the first mapping's)
        folio_ref_add(cpu, folio, nr - 1);
        folio_add_file_rmap_ptes(cpu, folio, first, nr);
        Atomics.add(m, machine.mmWord(vmf.mm, MM.RSS_FILE), nr);
        yield P.RMAP;
        yield* set_ptes(cpu, ptep0, entry, nr);
        if (nr > 1) cpu.counters[EV.FILE_BATCHED]++;
      } else {
        for (let i = 0; i < nr; i++) {
          if (i > 0) {
            yield P.SET_PTE;
            folio_ref_add(cpu, folio, 1);
          }
          folio_add_file_rmap_ptes(cpu, folio, first + i, 1);
          Atomics.add(m, machine.mmWord(vmf.mm, MM.RSS_FILE), 1);
          yield* set_pte_at(cpu, ptep0 + i, pte_advance_pfn(entry, i));
        }
      }
      cpu.counters[EV.FILE_MAPPED] += nr;
    }
    spin_unlock(cpu, vmf.ptl);
    return VM_FAULT_OK;
  }
}

/**
 * !pte_same(ptep_get(vmf->pte), vmf->orig_pte) as the wp paths use it under the PTL, relaxed for
 * the young/dirty bits hardware may have set meanwhile: the entry changed if it is no longer a
 * present, read-only entry of the same page. A migration entry of the same page (same PFN bits,
 * write bit clear) is a change: it once passed here, and the copy replaced the migration entry.
 */
function wp_pte_changed(pte: number, orig: number): boolean {
  return pte !== orig && (!pte_present(pte) || pte_write(pte) || pte_pfn(pte) !== pte_pfn(orig));
}

/**
 * do_wp_page(): a write to a present read-only PTE. Reuse the page when it is AnonExclusive, or
 * when wp_can_reuse_anon_folio() says the folio is this mm's alone; else copy it into a new
 * order-0 folio (wp_page_copy). The zero page is always copied.
 */
export function* do_wp_page(cpu: Cpu, vmf: VmFault): Gen<number> {
  const { m, L } = cpu.machine;
  yield* spin_lock(cpu, vmf.ptl);
  yield P.LOCKED;
  const pte = ptep_get(cpu, vmf.ptep);
  if (wp_pte_changed(pte, vmf.orig)) {
    faultMiss(cpu, 'do_wp_page: the entry changed before the PTL was taken', vmf.vpn, pte);
    spin_unlock(cpu, vmf.ptl); // raced: the access retries
    return VM_FAULT_OK;
  }
  const pfn = pte_pfn(pte);
  if (!pte_special(pte) && vmf.vma.flags & VM_SHARED) {
    // wp_page_shared(): a write to a clean, write-protected entry of a shared file mapping (after
    // writeback or mprotect): page_mkwrite dirties the folio, then wp_page_reuse makes the entry
    // writable and dirty, then fault_dirty_shared_page dirties the folio again.
    const folio = Atomics.load(m, L.pHead + pfn);
    if (vmf.vma.flags & VM_WRITENOTIFY) return yield* wp_page_mkwrite(cpu, vmf, folio);
    yield* ptep_set_access_flags(cpu, vmf.ptep, pte | PTE_WRITE | PTE_DIRTY | PTE_YOUNG);
    cpu.ev(EV.WP_SHARED, vmf.vpn);
    spin_unlock(cpu, vmf.ptl);
    // writeback (folio lock + rmap walk under the PTL) can run here, as between the kernel's
    // wp_page_reuse() and folio_lock(): it finds the entry writable and dirty, the folio maybe clean
    yield P.UNLOCK;
    folio_mark_dirty(cpu, folio);
    return VM_FAULT_OK;
  }
  if (!pte_special(pte)) {
    const folio = Atomics.load(m, L.pHead + pfn);
    const anon = (Atomics.load(m, L.fFlags + folio) & FOLIO_ANON) !== 0;
    const exclusive = (Atomics.load(m, L.pFlags + pfn) & PG_ANON_EXCLUSIVE) !== 0;
    if (anon && (exclusive || cpu.inj.cowReuseShared || wp_can_reuse_anon_folio(cpu, folio, vmf.mm))) {
      // wp_page_reuse(): the page is ours alone: mark it exclusive and writable in place (an
      // upgrade needs no TLB flush).
      MMDEBUG.cowReuse(cpu, vmf.mm, vmf.vpn, pfn, folio, exclusive);
      Atomics.or(m, L.pFlags + pfn, PG_ANON_EXCLUSIVE);
      // GUP-fast (no PTL) can run here: it sees the page AnonExclusive behind a still read-only
      // entry, so a read-only pin no longer needs an unshare fault
      if (!exclusive && !vmf.unshare) yield P.RMAP;
      // an unshare fault only needs the page exclusive; the entry stays read-only
      if (!vmf.unshare) yield* ptep_set_access_flags(cpu, vmf.ptep, pte | PTE_WRITE | PTE_DIRTY | PTE_YOUNG);
      cpu.ev(EV.WP_REUSE, vmf.vpn, exclusive ? 1 : 0);
      spin_unlock(cpu, vmf.ptl);
      return VM_FAULT_OK;
    }
    folio_ref_add(cpu, folio, 1); // hold the old page while we copy without the PTL
  }
  spin_unlock(cpu, vmf.ptl);
  return yield* wp_page_copy(cpu, vmf, pte);
}

/**
 * wp_page_shared() with page_mkwrite (a write-notify mapping): do_page_mkwrite() runs without the
 * PTL (it sleeps on the folio lock) and dirties the folio under the folio lock; then
 * finish_mkwrite_fault() retakes the PTL and, if the entry is unchanged, makes it writable and
 * dirty while the folio is still locked. Writeback holds the folio lock from its clean to its copy,
 * so the entry never becomes writable on a folio cleaned after page_mkwrite dirtied it.
 * Entered with the PTL held.
 */
function* wp_page_mkwrite(cpu: Cpu, vmf: VmFault, folio: number): Gen<number> {
  folio_ref_add(cpu, folio, 1); // folio_get()
  spin_unlock(cpu, vmf.ptl);
  yield* folio_lock(cpu, folio);
  folio_mark_dirty(cpu, folio); // filemap_page_mkwrite()
  yield* spin_lock(cpu, vmf.ptl);
  yield P.LOCKED;
  const pte = ptep_get(cpu, vmf.ptep);
  if (wp_pte_changed(pte, vmf.orig)) {
    faultMiss(cpu, 'finish_mkwrite_fault: the entry changed while page_mkwrite ran', vmf.vpn, pte);
    spin_unlock(cpu, vmf.ptl);
  } else {
    yield* ptep_set_access_flags(cpu, vmf.ptep, pte | PTE_WRITE | PTE_DIRTY | PTE_YOUNG); // wp_page_reuse()
    cpu.ev(EV.WP_SHARED, vmf.vpn);
    spin_unlock(cpu, vmf.ptl);
  }
  folio_mark_dirty(cpu, folio); // fault_dirty_shared_page(): dirtied, then unlocked
  folio_unlock(cpu, folio);
  yield* folio_put(cpu, folio);
  return VM_FAULT_OK;
}

/**
 * wp_can_reuse_anon_folio(): a small folio whose only reference is this mapping, or a large
 * folio whose references are all mappings and whose mappings are all this mm's (the CONFIG_MM_ID
 * slot of mm counts every one). A pin or any other holder adds a reference and forbids reuse.
 */
function wp_can_reuse_anon_folio(cpu: Cpu, folio: number, mm: number): boolean {
  const machine = cpu.machine;
  const { m, L } = machine;
  const ref = Atomics.load(m, L.fRef + folio);
  if (Atomics.load(m, L.fOrder + folio) === 0) return ref === 1;
  // kernel 6.12: "let's just consistently not reuse subpages" of a large folio (only an
  // AnonExclusive page is reused, above); large-folio reuse came with the CONFIG_MM_ID series,
  // "mm: COW reuse support for PTE-mapped THP with CONFIG_MM_ID" (David Hildenbrand; v6.15).
  // conform saw 6.12 copy where the mainline model reused (gen-fork-o4-child-exits).
  if (cpu.cfg.kernel === '6.12') return false;
  const mapcount = Atomics.load(m, L.fMapcount + folio);
  return ref === mapcount && folio_mm_mapcount(machine, folio, mm) === mapcount;
}

/** wp_page_copy(): allocate a new order-0 folio, copy, and replace the PTE if it did not change. */
function* wp_page_copy(cpu: Cpu, vmf: VmFault, orig: number): Gen<number> {
  const { m, L } = cpu.machine;
  const oldPfn = pte_pfn(orig);
  const fromZero = pte_special(orig);
  const oldFolio = fromZero ? -1 : Atomics.load(m, L.pHead + oldPfn);
  const nf = yield* folio_prealloc(cpu); // the zero page's copy too (the model zeroes every new folio)
  if (nf < 0) {
    if (oldFolio >= 0) yield* folio_put(cpu, oldFolio);
    cpu.ev(EV.ALLOC_OOM, vmf.vpn);
    return VM_FAULT_OOM;
  }
  if (!fromZero) Atomics.store(m, L.pContent + nf, Atomics.load(m, L.pContent + oldPfn)); // __wp_page_copy_user
  yield* spin_lock(cpu, vmf.ptl);
  yield P.LOCKED;
  if (ptep_get(cpu, vmf.ptep) !== orig && (ptep_get(cpu, vmf.ptep) & ~PTE_YOUNG & ~PTE_DIRTY) !== (orig & ~PTE_YOUNG & ~PTE_DIRTY)) {
    faultMiss(cpu, 'wp_page_copy: the entry changed while the page was copied', vmf.vpn, ptep_get(cpu, vmf.ptep));
    spin_unlock(cpu, vmf.ptl);
    yield* folio_put(cpu, nf);
    if (oldFolio >= 0) yield* folio_put(cpu, oldFolio);
    return VM_FAULT_OK;
  }
  // the new page is anon; a page copied from the page cache (a private file mapping) leaves MM_FILEPAGES
  if (fromZero || !(Atomics.load(m, L.fFlags + oldFolio) & FOLIO_ANON)) Atomics.add(m, cpu.machine.mmWord(vmf.mm, MM.RSS_ANON), 1);
  if (!fromZero && !(Atomics.load(m, L.fFlags + oldFolio) & FOLIO_ANON)) Atomics.sub(m, cpu.machine.mmWord(vmf.mm, MM.RSS_FILE), 1);
  folio_add_new_anon_rmap(cpu, nf, nf, 1, vmf.mm);
  // ptep_clear_flush() then set_pte_at(): no CPU may keep writing the old page via its TLB.
  yield* ptep_clear_flush(cpu, vmf.ptep);
  // Deliberate difference (docs/model.md, "Findings"): upstream (6.12.118, mm/memory.c at
  // 002d46a68e4a too) maps an unshare copy clean, and the new folio is clean as well, so no dirty
  // bit anywhere records that its data exists only here. After a fork a child's MADV_FREE then
  // marks it lazyfree (madvise_free_pte_range checks other mappings only for dirty folios) and
  // reclaim discards the parent's data: reproduced in qemu (vm/findings/unshare-madv-free.c). The
  // model marks the copy dirty, the fix it assumes; unshare-copy-clean is upstream's behaviour.
  const unshareBits = cpu.inj.unshareCopyClean ? PTE_YOUNG : PTE_YOUNG | PTE_DIRTY;
  yield* set_pte_at(cpu, vmf.ptep, pfn_pte(nf, vmf.unshare ? unshareBits : PTE_YOUNG | PTE_DIRTY | PTE_WRITE));
  // "Only after switching the pte to the new page may we remove the mapcount": the MMU, GUP-fast
  // and the observer (and another mm's wp fault, under its own PTL) see the new entry while the old
  // folio's mapcount still counts this mapping
  if (oldFolio >= 0) yield P.RMAP;
  if (oldFolio >= 0) folio_remove_rmap_ptes(cpu, oldFolio, oldPfn, 1, vmf.mm);
  cpu.ev(EV.WP_COPY, vmf.vpn, fromZero ? 1 : 0);
  MMDEBUG.tlbSynced(cpu, vmf.mm, vmf.vpn, vmf.vpn + 1, 'wp_page_copy'); // no TLB reaches the old page any more
  spin_unlock(cpu, vmf.ptl);
  if (oldFolio >= 0) {
    yield* folio_put(cpu, oldFolio); // the mapping's reference
    yield* folio_put(cpu, oldFolio); // ours, taken in do_wp_page
  }
  return VM_FAULT_OK;
}

/**
 * zap_pte_range(): clear [start, end) of one PTE table (the caller keeps the range inside one
 * VMA and one table) under its PTL. The TLB flush and the reference drops follow the unlock,
 * per table (the kernel may gather more tables per flush; the order flush->free is the same).
 */
export function* zap_pte_range(cpu: Cpu, tlb: MmuGather, vma: VmaView, start: number, end: number): Gen<void> {
  const machine = cpu.machine;
  const mm = tlb.mm;
  const table = machine.tableIndex(mm, start);
  if (machine.tableIndex(mm, end - 1) !== table) cpu.violation('batch-bounds', 'zap_pte_range', { start, end, why: 'range crosses a PTE table' });
  if (!Atomics.load(machine.m, machine.pgdWord(table))) return;
  const ptl = machine.ptlOf(table);
  yield* spin_lock(cpu, ptl);
  yield P.LOCKED;
  for (let vpn = start; vpn < end; ) {
    const ptep = machine.ptep(mm, vpn);
    const ptent = ptep_get(cpu, ptep);
    if (pte_none(ptent)) {
      vpn++;
      continue;
    }
    if (!pte_present(ptent)) {
      yield* zap_nonpresent_ptes(cpu, tlb, ptep, ptent, vpn);
      vpn++;
      continue;
    }
    vpn += yield* zap_present_ptes(cpu, tlb, vma, ptep, ptent, vpn, end - vpn);
  }
  // "Do the actual TLB flush before dropping ptl" when rmaps were delayed (dirty file folios)
  if (tlb.delayed.length) {
    yield* tlb_flush_mmu_tlbonly(cpu, tlb);
    tlb_flush_rmaps(cpu, tlb);
  }
  spin_unlock(cpu, ptl);
  yield* tlb_flush_mmu(cpu, tlb);
}

/**
 * zap_present_ptes(): zap one present entry, or with batching the run of entries that map the
 * same large folio (folio_pte_batch, capped at the folio end and at max_nr = the table/VMA end).
 * Anon folios use clear_full_ptes (a/d bits are not needed); mapcounts drop now, references are
 * gathered and drop after the TLB flush. Returns the number of entries zapped.
 */
function* zap_present_ptes(cpu: Cpu, tlb: MmuGather, vma: VmaView, ptep: number, ptent: number, vpn: number, max_nr: number): Gen<number> {
  const { m, L } = cpu.machine;
  const pfn = pte_pfn(ptent);
  if (pte_special(ptent)) {
    // the zero page: no struct folio accounting
    yield* ptep_get_and_clear(cpu, ptep);
    tlb_remove_tlb_entries(tlb, vpn, 1);
    cpu.ev(EV.ZAP_PTES, vpn, 1);
    return 1;
  }
  const folio = Atomics.load(m, L.pHead + pfn);
  const folioNr = 1 << Atomics.load(m, L.fOrder + folio);
  let nr = 1;
  if (cpu.cfg.batching && folioNr > 1) {
    const cap = cpu.inj.batchPastTable ? PTRS_PER_PTE : max_nr; // deviation batch-past-table: no table/VMA cap
    nr = folio_pte_batch(cpu, cpu.inj.batchPastFolioEnd ? -1 : folio, folioNr, ptep, ptent, cap, FPB_IGNORE_DIRTY | FPB_IGNORE_SOFT_DIRTY).nr;
  }
  checkBatchBounds(cpu, 'zap_present_ptes', pfn, nr, folio, folioNr, vpn, vma);
  let delayRmap = false;
  if (!(Atomics.load(m, L.fFlags + folio) & FOLIO_ANON)) {
    // zap_present_folio_ptes() for a file folio: the young/dirty bits of EVERY entry of the batch
    // (hardware may have set them on any one) move to the folio, or a write is lost at writeback.
    let pte: number;
    if (cpu.inj.zapClearWithoutGet) {
      yield* clear_full_ptes(cpu, ptep, nr, tlb.fullmm); // deviation: the a/d bits are dropped
      pte = 0;
    } else if (cpu.inj.zapFirstPteDirty) {
      pte = yield* ptep_get_and_clear(cpu, ptep); // deviation: only the first entry's a/d bits
      if (nr > 1) yield* clear_full_ptes(cpu, ptep + 1, nr - 1, tlb.fullmm);
    } else pte = yield* get_and_clear_full_ptes(cpu, ptep, nr, tlb.fullmm);
    if (pte_dirty(pte)) {
      // writeback's folio_clear_dirty_for_io (folio lock, not this PTL) can test and clear PG_dirty
      // here: the entries are cleared and their dirty bit is held only by this zap
      yield P.CLEAR_PTE;
      folio_mark_dirty(cpu, folio);
      cpu.ev(EV.ZAP_DIRTY, vpn, nr);
      delayRmap = tlb_delay_rmap(tlb);
    }
    if (pte_young(pte)) Atomics.or(m, L.fFlags + folio, FOLIO_REFERENCED); // folio_mark_accessed()
    Atomics.sub(m, cpu.machine.mmWord(tlb.mm, MM.RSS_FILE), nr);
  } else {
    // "We don't need up-to-date accessed/dirty bits."
    yield* clear_full_ptes(cpu, ptep, nr, tlb.fullmm);
    Atomics.sub(m, cpu.machine.mmWord(tlb.mm, MM.RSS_ANON), nr);
  }
  yield P.CLEAR_PTE;
  tlb_remove_tlb_entries(tlb, vpn, nr);
  if (delayRmap) tlb_remove_folio_pages_delayed(tlb, folio, pfn, nr);
  else {
    folio_remove_rmap_ptes(cpu, folio, pfn, nr, tlb.mm);
    tlb_remove_folio_pages(tlb, folio, nr);
  }
  cpu.ev(EV.ZAP_BATCH, vpn, nr);
  cpu.counters[EV.ZAP_PTES] += nr;
  if (nr > 1) cpu.counters[EV.ZAP_BATCHED]++;
  return nr;
}

/**
 * zap_nonpresent_ptes() for a migration entry (one at a time, as the kernel zaps them): it holds
 * no mapcount and no reference, but counts in RSS (rss[mm_counter(folio)]--); the entry is
 * cleared (clear_not_present_full_ptes). The migration's remove_migration_ptes finds it gone.
 */
function* zap_nonpresent_ptes(cpu: Cpu, tlb: MmuGather, ptep: number, ptent: number, vpn: number): Gen<void> {
  const { m, L } = cpu.machine;
  // The model's only non-present entry is a migration entry, and only anon folios migrate: the
  // kernel's is_migration_entry() test and mm_counter(folio) are left out (a stray entry is caught
  // at quiescence: pte-bad-swap-entry)
  const folio = Atomics.load(m, L.pHead + swp_offset_pfn(ptent));
  Atomics.sub(m, cpu.machine.mmWord(tlb.mm, MM.RSS_ANON), 1);
  yield* ptep_get_and_clear(cpu, ptep);
  cpu.ev(EV.ZAP_MIGRATION, vpn, folio);
}

/** unmap_page_range() for one VMA: split [start, end) at PTE-table boundaries. */
export function* unmap_page_range(cpu: Cpu, tlb: MmuGather, vma: VmaView, start: number, end: number): Gen<void> {
  start = Math.max(start, vma.start);
  end = Math.min(end, vma.end);
  for (let s = start; s < end; ) {
    const e = Math.min(end, (s & ~(PTRS_PER_PTE - 1)) + PTRS_PER_PTE);
    yield* zap_pte_range(cpu, tlb, vma, s, e);
    s = e;
  }
}

// ---- fork: copy_page_range ------------------------------------------------------------------

const EAGAIN = -11;
const ENOMEM = -12;

/** What copy_pte_range passes down: the two mms, the VMA, the RSS delta and the preallocated folio. */
interface CopyCtx {
  dst: number;
  src: number;
  vma: VmaView;
  rss: number; // MM_ANONPAGES added to dst
  rssFile: number; // MM_FILEPAGES added to dst
  prealloc: number; // folio or -1
}

/**
 * copy_page_range(): copy the PTEs of one private VMA of src into dst. For a COW mapping the
 * parent's write_protect_seq is odd meanwhile, so GUP-fast can tell a fork raced it.
 */
export function* copy_page_range(cpu: Cpu, dst: number, src: number, vma: VmaView): Gen<number> {
  const machine = cpu.machine;
  // vma_needs_copy(): a shared file mapping is not copied; the child faults its pages in from the
  // page cache. (A private file VMA is copied as if it had an anon_vma.)
  if (vma.file >= 0 && vma.flags & VM_SHARED) return 0;
  const seq = machine.mmWord(src, MM.WRITE_PROTECT_SEQ);
  Atomics.add(cpu.m, seq, 1); // raw_write_seqcount_begin()
  let ret = 0;
  for (let s = vma.start; s < vma.end && ret === 0; ) {
    const e = Math.min(vma.end, (s & ~(PTRS_PER_PTE - 1)) + PTRS_PER_PTE);
    ret = yield* copy_pte_range(cpu, dst, src, vma, s, e);
    s = e;
  }
  Atomics.add(cpu.m, seq, 1); // raw_write_seqcount_end()
  return ret;
}

/**
 * copy_pte_range(): one PTE table's worth, under the destination PTL and then the source PTL
 * (the kernel's order: dst locked first, src nested). When a page must be copied for the child
 * (maybe pinned) and no folio is preallocated, drop both locks, allocate, and start again here.
 */
function* copy_pte_range(cpu: Cpu, dst: number, src: number, vma: VmaView, addr: number, end: number): Gen<number> {
  const machine = cpu.machine;
  const m = cpu.m;
  const ctx: CopyCtx = { dst, src, vma, rss: 0, rssFile: 0, prealloc: -1 };
  const dtable = machine.tableIndex(dst, addr), stable = machine.tableIndex(src, addr);
  if (!Atomics.load(m, machine.pgdWord(stable))) return 0;
  for (;;) {
    Atomics.compareExchange(m, machine.pgdWord(dtable), 0, 1); // pte_alloc_map_lock()
    yield* spin_lock(cpu, machine.ptlOf(dtable));
    yield* spin_lock(cpu, machine.ptlOf(stable));
    yield P.LOCKED;
    let ret = 0;
    while (addr < end) {
      const sp = machine.ptep(src, addr);
      const ptent = ptep_get(cpu, sp);
      if (pte_none(ptent)) {
        addr++;
        continue;
      }
      if (!pte_present(ptent)) {
        yield* copy_nonpresent_pte(cpu, ctx, machine.ptep(dst, addr), sp, ptent, addr);
        addr++;
        continue;
      }
      const nr: number = yield* copy_present_ptes(cpu, ctx, machine.ptep(dst, addr), sp, ptent, addr, end - addr);
      if (nr === EAGAIN) {
        ret = EAGAIN;
        break;
      }
      addr += nr;
    }
    spin_unlock(cpu, machine.ptlOf(stable));
    Atomics.add(m, machine.mmWord(dst, MM.RSS_ANON), ctx.rss); // add_mm_rss_vec()
    Atomics.add(m, machine.mmWord(dst, MM.RSS_FILE), ctx.rssFile);
    ctx.rss = 0;
    ctx.rssFile = 0;
    spin_unlock(cpu, machine.ptlOf(dtable));
    if (ret === EAGAIN) {
      ctx.prealloc = yield* folio_prealloc(cpu); // without any PTL held
      if (ctx.prealloc < 0) return ENOMEM;
      continue;
    }
    if (ctx.prealloc >= 0) yield* folio_put(cpu, ctx.prealloc);
    return 0;
  }
}

/**
 * copy_nonpresent_pte() for a migration entry: the child gets the entry too and it counts in the
 * child's RSS (no mapcount, no reference: remove_migration_ptes maps the child as well, the walk
 * visiting the parent before the child). "COW mappings require pages in both parent and child to
 * be set to read": a writable or readable-exclusive entry becomes plain readable in the parent
 * first (every private mapping is a COW mapping in the model), keeping its a/d and soft-dirty bits.
 * Deviation fork-migration-writable: the entry is copied as it is, writable in both.
 */
function* copy_nonpresent_pte(cpu: Cpu, ctx: CopyCtx, dptep: number, sptep: number, ptent: number, addr: number): Gen<void> {
  const { m, L } = cpu.machine;
  // (a migration entry of an anon folio: the only non-present entry, see zap_nonpresent_ptes)
  const folio = Atomics.load(m, L.pHead + swp_offset_pfn(ptent));
  ctx.rss++;
  let pte = ptent;
  if (!is_readable_migration_entry(ptent) && !cpu.inj.forkMigrationWritable) {
    pte = migration_entry_mkreadable(ptent);
    yield* set_pte_at(cpu, sptep, pte);
  }
  yield* set_pte_at(cpu, dptep, pte);
  cpu.ev(EV.FORK_MIGRATION, addr, folio);
}

/**
 * copy_present_ptes(): copy one present entry, or with batching the run that maps one large
 * folio (folio_pte_batch capped at the folio end and at max_nr = the table/VMA end, with the write
 * bit merged across the batch). References are taken before mapcounts rise, and dropped again if
 * folio_try_dup_anon_rmap_ptes refuses (-EAGAIN: retry this entry on the single-page path with a
 * preallocated folio to copy into). Returns the number of entries copied, or EAGAIN.
 */
function* copy_present_ptes(cpu: Cpu, ctx: CopyCtx, dptep: number, sptep: number, pte: number, addr: number, max_nr: number): Gen<number> {
  const { m, L } = cpu.machine;
  yield P.PTE_READ;
  if (pte_special(pte)) {
    // vm_normal_page() is NULL for the zero page: no folio accounting, copy the (read-only) entry
    yield* set_pte_at(cpu, dptep, pte & ~PTE_YOUNG);
    return 1;
  }
  const pfn = pte_pfn(pte);
  const folio = Atomics.load(m, L.pHead + pfn);
  const folioNr = 1 << Atomics.load(m, L.fOrder + folio);
  if (!(Atomics.load(m, L.fFlags + folio) & FOLIO_ANON)) {
    // a page cache folio of a private file mapping: folio_dup_file_rmap_ptes() cannot fail (no
    // exclusivity to give up); the entries are read-only already (private file pages never are writable)
    let nr = 1;
    if (folioNr > 1 && max_nr !== 1 && cpu.cfg.batching) {
      nr = folio_pte_batch(cpu, cpu.inj.batchPastFolioEnd ? -1 : folio, folioNr, sptep, pte, cpu.inj.batchPastTable ? PTRS_PER_PTE : max_nr, FPB_IGNORE_SOFT_DIRTY).nr;
      checkBatchBounds(cpu, 'copy_present_ptes', pfn, nr, folio, folioNr, addr, ctx.vma);
    }
    folio_ref_add(cpu, folio, nr); // references before mapcounts
    yield P.RMAP;
    folio_dup_file_rmap_ptes(cpu, folio, pfn, nr);
    ctx.rssFile += nr;
    yield* __copy_present_ptes(cpu, ctx, dptep, sptep, pte, nr);
    if (nr > 1) cpu.counters[EV.FORK_BATCH]++;
    return nr;
  }
  if (ctx.prealloc < 0 && folioNr > 1 && max_nr !== 1 && cpu.cfg.batching) {
    const cap = cpu.inj.batchPastTable ? PTRS_PER_PTE : max_nr; // deviation: no table/VMA cap
    const b = folio_pte_batch(cpu, cpu.inj.batchPastFolioEnd ? -1 : folio, folioNr, sptep, pte, cap, FPB_IGNORE_SOFT_DIRTY);
    const nr = b.nr;
    checkBatchBounds(cpu, 'copy_present_ptes', pfn, nr, folio, folioNr, addr, ctx.vma);
    const anyWritable = cpu.inj.forkNoMergeWrite ? pte_write(pte) : b.anyWritable;
    if (cpu.inj.forkMapcountBeforeRef) {
      // deviation: mapcounts first, references after (refcount < mapcount in between)
      if (folio_try_dup_anon_rmap_ptes(cpu, folio, pfn, nr, ctx.src, ctx.dst)) return EAGAIN;
      yield P.RMAP;
      folio_ref_add(cpu, folio, nr);
    } else {
      // References before mapcounts: refcount >= mapcount at every instant (seed 001).
      folio_ref_add(cpu, folio, nr);
      yield P.RMAP;
      if (folio_try_dup_anon_rmap_ptes(cpu, folio, pfn, nr, ctx.src, ctx.dst)) {
        folio_ref_sub(cpu, folio, nr);
        return EAGAIN;
      }
    }
    ctx.rss += nr;
    yield* __copy_present_ptes(cpu, ctx, dptep, sptep, anyWritable ? pte | PTE_WRITE : pte, nr);
    if (nr > 1) cpu.counters[EV.FORK_BATCH]++;
    return nr;
  }
  folio_ref_add(cpu, folio, 1); // folio_get()
  if (folio_try_dup_anon_rmap_ptes(cpu, folio, pfn, 1, ctx.src, ctx.dst)) {
    // Page may be pinned: copy it for the child now, so the pinned page stays the parent's.
    yield* folio_put(cpu, folio);
    const err: number = yield* copy_present_page(cpu, ctx, dptep, pfn);
    return err ? err : 1;
  }
  ctx.rss++;
  yield* __copy_present_ptes(cpu, ctx, dptep, sptep, pte, 1);
  return 1;
}

/** No batch crosses a folio, VMA or PTE-table boundary. */
export function checkBatchBounds(cpu: Cpu, path: string, pfn: number, nr: number, folio: number, folioNr: number, vpn: number, vma: VmaView): void {
  if (pfn + nr > folio + folioNr || vpn < vma.start || vpn + nr > vma.end || (vpn >>> 9) !== ((vpn + nr - 1) >>> 9)) {
    cpu.violation('batch-bounds', path, { vpn, nr, folio, folioNr, vma: [vma.start, vma.end] });
  }
}

/**
 * __copy_present_ptes(): write-protect the parent's entries if the batch is writable (COW), and
 * install the child's entries read-only and old with set_ptes().
 */
function* __copy_present_ptes(cpu: Cpu, ctx: CopyCtx, dptep: number, sptep: number, pte: number, nr: number): Gen<void> {
  if (pte_write(pte)) {
    yield* wrprotect_ptes(cpu, sptep, nr);
    pte = pte & ~PTE_WRITE;
  }
  pte = pte & ~PTE_YOUNG;
  yield* set_ptes(cpu, dptep, pte, nr);
}

/** copy_present_page(): the child gets its own copy of a maybe-pinned page (needs prealloc). */
function* copy_present_page(cpu: Cpu, ctx: CopyCtx, dptep: number, page: number): Gen<number> {
  const { m, L } = cpu.machine;
  const nf = ctx.prealloc;
  if (nf < 0) return EAGAIN;
  ctx.prealloc = -1;
  yield P.ALLOC;
  Atomics.store(m, L.pContent + nf, Atomics.load(m, L.pContent + page)); // copy_mc_user_highpage()
  folio_add_new_anon_rmap(cpu, nf, nf, 1, ctx.dst);
  ctx.rss++;
  yield* set_pte_at(cpu, dptep, pfn_pte(nf, PTE_DIRTY | (ctx.vma.flags & VM_WRITE ? PTE_WRITE : 0)));
  cpu.ev(EV.FORK_COPY_PAGE, page);
  return 0;
}
