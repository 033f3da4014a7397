// The CONFIG_MM_ID slots at quiescence (src/linux/mm/rmap.ts, after include/linux/rmap.h
// folio_add/sub_return_large_mapcount): recomputed from the PTEs of every mm, what each anon folio's
// two slots and its "maybe mapped shared" bit must say, what folio_mm_mapcount() must answer, and
// that no other page has a slot word set (page_alloc clears the slots of a new folio; a folio is
// freed unmapped, with both slots free).
//
// The kernel's rules, as the model keeps them (a slot word is (mm + 1) << MMID_SHIFT | count, 0 when
// free; bit 31 of slot 0 the lock, of slot 1 the shared bit):
// - an owned slot counts at least one mapping and at most the PTEs of its mm that map the folio
//   (fewer when the mm mapped some while both slots were another's); two slots, two mms;
// - shared bit clear: the folio is unmapped and both slots are free, or one slot holds every mapping;
// - shared bit set: the folio is mapped and no slot holds every mapping (the bit is cleared on the
//   unmap that leaves one slot holding them all, and never set while one does).
import { type Machine, FOLIO_ANON, PG_BUDDY, PG_HEAD, PG_RESERVED } from '../machine/machine.js';
import { MM, MM_FREE } from '../machine/layout.js';
import { pte_none, pte_pfn, pte_present, pte_special } from '../machine/pte.js';
import { FOLIO_MM_IDS_LOCK_BIT, FOLIO_MM_IDS_SHARED_BIT, MMID_COUNT, MMID_MM, MMID_SHIFT, folio_mm_mapcount } from '../linux/mm/rmap.js';
import type { AddFinding } from './buddy.js';
import type { Cpu } from '../machine/cpu.js';

/**
 * The PTEs of each mm that map each folio: [mm * pages + folio], over the present, non-special
 * entries of every mm that is not free (as checkQuiescent counts them; it fills the same array in
 * its own walk).
 */
export function ptesPerMmFolio(machine: Machine): Int32Array {
  const { m, L } = machine;
  const out = new Int32Array(L.maxMms * L.pages);
  for (let mm = 0; mm < L.maxMms; mm++) {
    if (Atomics.load(m, machine.mmWord(mm, MM.STATE)) === MM_FREE) continue;
    for (let t = 0; t < L.tablesPerMm; t++) {
      if (!Atomics.load(m, machine.pgdWord(mm * L.tablesPerMm + t))) continue;
      for (let i = 0; i < 512; i++) {
        const pte = Atomics.load(m, machine.ptep(mm, t * 512 + i));
        if (pte_none(pte) || !pte_present(pte) || pte_special(pte)) continue;
        const pfn = pte_pfn(pte);
        if (pfn < L.pages) out[mm * L.pages + Atomics.load(m, L.pHead + pfn)]++;
      }
    }
  }
  return out;
}

interface Slot {
  mm: number; // -1: free
  count: number;
}

const slotOf = (v: number): Slot => ({ mm: ((v >>> MMID_SHIFT) & MMID_MM) - 1, count: v & MMID_COUNT });

/**
 * The MM_ID rules (see the header) for one folio's slots and shared bit, against its total mapcount
 * and, given ptesOf (the quiescent check), the PTEs of each mm: why they are broken, or ''.
 */
function mmIdProblem(maxMms: number, slots: Slot[], shared: boolean, total: number, ptesOf?: (mm: number) => number): string {
  for (let s = 0; s < 2; s++) {
    const { mm, count } = slots[s];
    if (mm < 0) {
      if (count) return `slot ${s} is free but counts ${count}`;
    } else if (mm >= maxMms) return `slot ${s} names mm ${mm}, which does not exist`;
    else if (count === 0) return `slot ${s} is mm ${mm}'s but counts nothing`;
    else if (ptesOf && count > ptesOf(mm)) return `slot ${s} says mm ${mm} maps ${count} pages, its PTEs map ${ptesOf(mm)}`;
  }
  if (slots[0].mm >= 0 && slots[0].mm === slots[1].mm) return `both slots are mm ${slots[0].mm}'s`;
  if (slots[0].count + slots[1].count > total) return `the slots count ${slots[0].count + slots[1].count} mappings, the folio has ${total}`;
  const holder = slots.findIndex((sl) => sl.mm >= 0 && sl.count === total);
  if (!shared && total > 0 && holder < 0) return `not maybe-shared, yet no slot holds all ${total} mappings`;
  if (shared && total === 0) return 'maybe-shared, yet unmapped';
  if (shared && holder >= 0) return `maybe-shared, yet slot ${holder} holds all ${total} mappings`;
  return '';
}

/**
 * The contract at every change of the slots (MMDEBUG.mmIdChange, from rmap.ts with the folio's
 * mapcount lock held, before the change): the slots and the shared bit obey the MM_ID rules against
 * the folio's total mapcount. Catches slots another path overwrote when their mm next maps or unmaps
 * a page of the folio, long before quiescence. Raises mm-id-mismatch.
 */
export function checkMmIdChange(cpu: Cpu, folio: number, path: string): void {
  const { m, L } = cpu.machine;
  const w0 = Atomics.load(m, L.fMmId + folio * 2), w1 = Atomics.load(m, L.fMmId + folio * 2 + 1);
  const slots = [slotOf(w0 & ~FOLIO_MM_IDS_LOCK_BIT), slotOf(w1 & ~FOLIO_MM_IDS_SHARED_BIT)];
  const shared = (w1 & FOLIO_MM_IDS_SHARED_BIT) !== 0;
  const total = Atomics.load(m, L.fMapcount + folio);
  const why = mmIdProblem(L.maxMms, slots, shared, total);
  if (why) cpu.violation('mm-id-mismatch', path, { folio, order: Atomics.load(m, L.fOrder + folio), slots, shared, mapcount: total, why });
}

/**
 * Check every page's slot words against the PTEs (perMm: ptesPerMmFolio's array), and what reader
 * (the model's folio_mm_mapcount; a test hands in a wrong one) answers for every mm.
 */
export function checkMmIds(machine: Machine, add: AddFinding, perMm: Int32Array = ptesPerMmFolio(machine), reader: typeof folio_mm_mapcount = folio_mm_mapcount): void {
  const { m, L } = machine;
  for (let pfn = 0; pfn < L.pages; pfn++) {
    const w0 = Atomics.load(m, L.fMmId + pfn * 2), w1 = Atomics.load(m, L.fMmId + pfn * 2 + 1);
    const flags = Atomics.load(m, L.pFlags + pfn);
    const anonHead = (flags & PG_HEAD) !== 0 && !(flags & (PG_BUDDY | PG_RESERVED)) && (Atomics.load(m, L.fFlags + pfn) & FOLIO_ANON) !== 0;
    if (!anonHead) {
      if (w0 | w1) {
        const page = flags & PG_BUDDY ? 'free' : flags & PG_RESERVED ? 'reserved' : flags & PG_HEAD ? 'the head of a folio that is not anon' : `a tail of the folio at ${Atomics.load(m, L.pHead + pfn)}`;
        add('mm-id-stale', { pfn, page, slots: [w0, w1].map(slotOf), shared: (w1 & FOLIO_MM_IDS_SHARED_BIT) !== 0 });
      }
      continue;
    }
    const folio = pfn;
    if (w0 & FOLIO_MM_IDS_LOCK_BIT) add('lock-held-at-quiescence', { folio, lock: 'folio_lock_large_mapcount' });
    const shared = (w1 & FOLIO_MM_IDS_SHARED_BIT) !== 0;
    const slots = [slotOf(w0 & ~FOLIO_MM_IDS_LOCK_BIT), slotOf(w1 & ~FOLIO_MM_IDS_SHARED_BIT)];
    let total = 0;
    const ptes: Record<number, number> = {};
    for (let mm = 0; mm < L.maxMms; mm++) {
      const n = perMm[mm * L.pages + folio];
      if (!n) continue;
      total += n;
      ptes[mm] = n;
    }
    const why = mmIdProblem(L.maxMms, slots, shared, total, (mm) => ptes[mm] ?? 0);
    const order = Atomics.load(m, L.fOrder + folio);
    if (why) add('mm-id-mismatch', { folio, order, slots, shared, ptes, why });
    // what the COW reuse decision reads: mm's slot's count, 0 without one
    for (let mm = 0; mm < L.maxMms; mm++) {
      const want = slots[0].mm === mm ? slots[0].count : slots[1].mm === mm ? slots[1].count : 0;
      const got = reader(machine, folio, mm);
      if (got !== want) {
        add('folio-mm-mapcount-wrong', { folio, order, mm, answer: got, slot: want, slots });
        break;
      }
    }
  }
}
