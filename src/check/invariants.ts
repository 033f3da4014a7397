// The quiescent checker (DESIGN section 2): run when every CPU is idle, it recomputes from the page
// tables what struct page/folio and the mm counters must say, and compares. Each finding names the
// invariant and the addresses or folio involved.
import { Machine, FOLIO_ANON, VM_SHARED, PG_ANON_EXCLUSIVE, PG_BUDDY, PG_HEAD, PG_RESERVED, ZERO_PFN, POISON } from '../machine/machine.js';
import { MM, MM_LIVE, MM_FREE } from '../machine/layout.js';
import { pte_none, pte_pfn, pte_present, pte_special, pte_write, pteToString } from '../machine/pte.js';
import { is_migration_entry } from '../linux/include/linux/swapops.js';
import { find_vma, linear_page_index } from '../linux/mm/mmap.js';
import { expectAny, expectOwner, fileExpected, fileTokenPage, hex, isFileToken, tokenBelongs, zapGen, zapInFlight } from './oracle.js';
import { lockHolder, lockIsHeld } from '../linux/kernel/locking/spinlock.js';
import { freePages, reservedPages } from '../linux/mm/page_alloc.js';
import { GUP_PIN_COUNTING_BIAS } from '../linux/include/linux/mm.js';
import { CONT_PTES } from '../linux/arch/arm64/mm/contpte.js';
import { contpteBlockDetails, contpteBlockProblem } from './contpte.js';
import { checkBuddy } from './buddy.js';
import { checkMmIds } from './mm-id.js';

export interface Finding {
  invariant: string;
  path: string;
  details: Record<string, unknown>;
}

const MAX_FINDINGS = 20;

export function checkQuiescent(machine: Machine): Finding[] {
  const { m, L } = machine;
  const out: Finding[] = [];
  const add = (invariant: string, details: Record<string, unknown>) => {
    if (out.length < MAX_FINDINGS) out.push({ invariant, path: 'quiescent', details });
  };
  const ptes = new Int32Array(L.pages); // present PTEs mapping each page, over all mms
  const perMm = new Int32Array(L.maxMms * L.pages); // [mm * pages + folio]: present PTEs of mm mapping folio
  const contArch = machine.cfg.arch === 'contpte';
  for (let mm = 0; mm < L.maxMms; mm++) {
    const state = Atomics.load(m, machine.mmWord(mm, MM.STATE));
    if (state === MM_FREE) continue;
    let rss = 0, rssFile = 0;
    for (let t = 0; t < L.tablesPerMm; t++) {
      const table = mm * L.tablesPerMm + t;
      if (lockIsHeld(m, machine.ptlOf(table))) add('lock-held-at-quiescence', { mm, table, holder: lockHolder(m, machine.ptlOf(table)) });
      if (!Atomics.load(m, machine.pgdWord(table))) continue;
      for (let i = 0; i < 512; i++) {
        const vpn = t * 512 + i;
        const pte = Atomics.load(m, machine.ptep(mm, vpn));
        if (pte_none(pte)) continue;
        const where = { mm, vpn, addr: hex(vpn * 4096), pte: pteToString(pte) };
        if (!pte_present(pte)) {
          // a migration entry counts in RSS (rss[mm_counter(folio)]) but, with every operation
          // done, no migration is in flight: remove_migration_ptes missed it (a fault there
          // would wait for a migration that has ended, and retry for ever)
          if (is_migration_entry(pte) && pte_pfn(pte) < L.pages) {
            if (Atomics.load(m, L.fFlags + Atomics.load(m, L.pHead + pte_pfn(pte))) & FOLIO_ANON) rss++;
            else rssFile++;
          }
          add(is_migration_entry(pte) ? 'migration-entry-left' : 'pte-bad-swap-entry', where);
          continue;
        }
        if (!find_vma(machine, mm, vpn)) add('pte-outside-vma', where);
        const pfn = pte_pfn(pte);
        if (pfn >= L.pages) {
          add('pte-bad-pfn', where);
          continue;
        }
        if (pte_special(pte)) {
          if (pfn !== ZERO_PFN) add('special-not-zero-page', where);
          if (pte_write(pte)) add('zero-page-writable', where);
          continue;
        }
        const flags = Atomics.load(m, L.pFlags + pfn);
        if (flags & PG_BUDDY) add('pte-maps-free-page', { ...where, pfn });
        if (flags & PG_RESERVED) add('pte-maps-reserved-page', { ...where, pfn });
        ptes[pfn]++;
        const folio = Atomics.load(m, L.pHead + pfn);
        perMm[mm * L.pages + folio]++;
        const anon = (Atomics.load(m, L.fFlags + folio) & FOLIO_ANON) !== 0;
        const fileFolio = Atomics.load(m, L.fMapping + folio) !== 0;
        if (fileFolio) rssFile++;
        else rss++;
        if (anon && pte_write(pte) && !(flags & PG_ANON_EXCLUSIVE)) add('writable-not-exclusive', { ...where, pfn, folio });
        if (fileFolio) {
          // a page cache page is mapped only where a VMA maps that very file page
          const v = find_vma(machine, mm, vpn);
          const fp = machine.filePageOfPfn(pfn);
          if (v && (v.file < 0 || machine.filePage(v.file, linear_page_index(v, vpn)) !== fp)) add('pte-wrong-file-page', { ...where, pfn, filePage: fp, vma: [v.start, v.end], vmaFile: v.file });
          if (v && pte_write(pte) && !(v.flags & VM_SHARED)) add('private-file-page-writable', { ...where, pfn });
        }
      }
      if (contArch) {
        for (let b = 0; b < 512; b += CONT_PTES) {
          const start = machine.ptep(mm, t * 512 + b);
          const why = contpteBlockProblem(machine, start);
          if (why) add('contpte-inconsistent', contpteBlockDetails(machine, start, why));
        }
      }
    }
    const rssAnon = Atomics.load(m, machine.mmWord(mm, MM.RSS_ANON));
    if (rssAnon !== rss) add('rss-mismatch', { mm, rssAnon, ptes: rss });
    const rssF = Atomics.load(m, machine.mmWord(mm, MM.RSS_FILE));
    if (rssF !== rssFile) add('rss-mismatch', { mm, rssFile: rssF, ptes: rssFile });
    if (state === MM_LIVE) checkData(machine, mm, add);
  }
  // struct page / folio accounting
  for (let pfn = 0; pfn < L.pages; ) {
    const flags = Atomics.load(m, L.pFlags + pfn);
    if (flags & (PG_BUDDY | PG_RESERVED)) {
      if (Atomics.load(m, L.pMapcount + pfn) !== 0) add('mapcount-on-free-page', { pfn, mapcount: Atomics.load(m, L.pMapcount + pfn) });
      pfn++;
      continue;
    }
    if (!(flags & PG_HEAD)) {
      add('orphan-tail-page', { pfn, flags });
      pfn++;
      continue;
    }
    const folio = pfn;
    const order = Atomics.load(m, L.fOrder + folio);
    const nr = 1 << order;
    let sum = 0;
    const anonFolio = (Atomics.load(m, L.fFlags + folio) & FOLIO_ANON) !== 0;
    for (let i = 0; i < nr; i++) {
      const mc = Atomics.load(m, L.pMapcount + folio + i);
      if (mc !== ptes[folio + i]) add('mapcount-mismatch', { pfn: folio + i, folio, mapcount: mc, ptes: ptes[folio + i] });
      // a pinned anon page is AnonExclusive: fork copies it for the child rather than share it
      if (anonFolio && Atomics.load(m, L.pPin + folio + i) > 0 && !(Atomics.load(m, L.pFlags + folio + i) & PG_ANON_EXCLUSIVE)) add('pinned-not-exclusive', { pfn: folio + i, folio, pins: Atomics.load(m, L.pPin + folio + i) });
      // PageAnonExclusive: the page belongs to exactly one mapping; fork clears it before sharing
      if ((Atomics.load(m, L.pFlags + folio + i) & PG_ANON_EXCLUSIVE) && ptes[folio + i] > 1) add('exclusive-page-shared', { pfn: folio + i, folio, ptes: ptes[folio + i] });
      sum += mc;
    }
    const total = Atomics.load(m, L.fMapcount + folio);
    if (total !== sum) add('folio-mapcount-mismatch', { folio, order, folioMapcount: total, sumOfPages: sum });
    const ref = Atomics.load(m, L.fRef + folio);
    const pins = Atomics.load(m, L.fPin + folio);
    if (ref < total) add('refcount-below-mapcount', { folio, order, refcount: ref, mapcount: total });
    // a pin holds GUP_PIN_COUNTING_BIAS references on a small folio, one on a large folio
    const pinRefs = pins * (order === 0 ? GUP_PIN_COUNTING_BIAS : 1);
    // the page cache holds one reference per page of a cached folio
    const cacheRefs = pageCacheHolds(machine, folio) ? nr : 0;
    const other = pinRefs + cacheRefs;
    if (ref >= total && ref !== sum + other) add('refcount-mismatch', { folio, order, refcount: ref, mappings: sum, pins, pageCache: cacheRefs, why: ref > sum + other ? 'leaked reference' : 'missing reference' });
    const anon = (Atomics.load(m, L.fFlags + folio) & FOLIO_ANON) !== 0;
    if (anon && order === 1) add('anon-order1', { folio });
    if (folio & (nr - 1)) add('folio-misaligned', { folio, order });
    pfn += nr;
  }
  // the page cache: each slot points at the page of a folio that caches exactly that file page
  for (let fp = 0; fp < L.files * L.filePages; fp++) {
    const pfn = Atomics.load(m, L.pcache + fp);
    if (!pfn) continue;
    if (machine.filePageOfPfn(pfn) !== fp || (Atomics.load(m, L.pFlags + pfn) & (PG_BUDDY | PG_RESERVED))) add('pagecache-mismatch', { filePage: fp, pfn, caches: machine.filePageOfPfn(pfn), flags: Atomics.load(m, L.pFlags + pfn) });
  }
  checkBuddy(machine, add); // the free lists and every page's allocator state (src/check/buddy.ts)
  checkMmIds(machine, add, perMm); // the CONFIG_MM_ID slots against the PTEs (src/check/mm-id.ts)
  return out;
}

/** Data: every page of every VMA holds what its owner last wrote, or zero (per the oracle). */
function checkData(machine: Machine, mm: number, add: (inv: string, d: Record<string, unknown>) => void): void {
  const { m, L } = machine;
  for (let vpn = 0; vpn < L.vaPages; vpn++) {
    const i = machine.oracleIndex(mm, vpn);
    const exp = Atomics.load(m, L.oExp + i);
    const g = zapGen(machine, mm, vpn);
    if (zapInFlight(g)) {
      add('zap-in-flight-at-quiescence', { mm, vpn });
      continue;
    }
    let value = 0;
    let pte = 0;
    const table = machine.tableIndex(mm, vpn);
    if (Atomics.load(m, machine.pgdWord(table))) pte = Atomics.load(m, machine.ptep(mm, vpn));
    if (pte_present(pte)) {
      if (pte_pfn(pte) >= L.pages) continue; // reported as pte-bad-pfn; its "content" would be another array's word
      value = Atomics.load(m, L.pContent + pte_pfn(pte));
    }
    if (exp === 0 && value === 0) continue;
    if (value === POISON) continue; // reported as pte-maps-free-page
    const hitFp = pte_present(pte) ? machine.filePageOfPfn(pte_pfn(pte)) : -1;
    if (hitFp >= 0) {
      // a page cache page: the file's last write, whatever this mm's record says
      if (value !== fileExpected(machine, hitFp)) add('data-mismatch', { mm, vpn, addr: hex(vpn * 4096), filePage: hitFp, value: hex(value), expected: [hex(fileExpected(machine, hitFp))], pte: pteToString(pte) });
      continue;
    }
    if (isFileToken(value)) {
      // an anon copy of a private file page holding file content: fine while the record says "unwritten"
      const v = find_vma(machine, mm, vpn);
      const vmaFp = v && v.file >= 0 ? machine.filePage(v.file, linear_page_index(v, vpn)) : -1;
      const allowed = expectOwner(machine, mm, vpn, g, g);
      if (fileTokenPage(value) !== vmaFp || !(allowed.includes(0) || expectAny(machine, mm, vpn))) add('data-mismatch', { mm, vpn, addr: hex(vpn * 4096), value: hex(value), vmaFilePage: vmaFp, expected: allowed.map(hex), pte: pteToString(pte) });
      continue;
    }
    const allowed = expectOwner(machine, mm, vpn, g, g);
    if (!allowed.includes(value) && !(expectAny(machine, mm, vpn) && (value === 0 || tokenBelongs(machine, mm, vpn, value)))) add(pte_present(pte) ? 'data-mismatch' : 'data-lost', { mm, vpn, addr: hex(vpn * 4096), value: hex(value), expected: allowed.map(hex), pte: pteToString(pte) });
  }
}

/** Does the page cache hold folio (its head's file page slot points at it)? */
function pageCacheHolds(machine: Machine, folio: number): boolean {
  const { m, L } = machine;
  const mapping = Atomics.load(m, L.fMapping + folio);
  if (!mapping) return false;
  return Atomics.load(m, L.pcache + machine.filePage(mapping - 1, Atomics.load(m, L.fIndex + folio))) === folio;
}

/**
 * After every process has exited: every page is free again except those reserved at boot, and the
 * allocator (src/check/buddy.ts) and the MM_ID slots (all free now: src/check/mm-id.ts) are sound.
 */
export function checkNoLeaks(machine: Machine): Finding[] {
  const out: Finding[] = [];
  const add = (invariant: string, details: Record<string, unknown>) => {
    if (out.length < MAX_FINDINGS) out.push({ invariant, path: 'teardown', details });
  };
  checkBuddy(machine, add);
  checkMmIds(machine, add);
  const free = freePages(machine);
  const reserved = reservedPages(machine);
  if (free + reserved === machine.L.pages) return out;
  const leaked: number[] = [];
  const { m, L } = machine;
  for (let pfn = 0; pfn < L.pages && leaked.length < 8; pfn++) if ((m[L.pFlags + pfn] & PG_HEAD) && !(m[L.pFlags + pfn] & (PG_BUDDY | PG_RESERVED))) leaked.push(pfn);
  add('leaked-folio', { pages: L.pages, free, reserved, leakedPages: L.pages - free - reserved, folios: leaked.map(hex) });
  return out;
}

/** The continuous observer's check for one folio: refcount >= mapcount at every instant. */
export function checkRefVsMap(machine: Machine, folio: number): Finding | null {
  const { m, L } = machine;
  const ref = Atomics.load(m, L.fRef + folio);
  const map = Atomics.load(m, L.fMapcount + folio);
  if (ref >= map) return null;
  return { invariant: 'refcount-below-mapcount', path: 'observer', details: { folio: hex(folio), refcount: ref, mapcount: map } };
}

/**
 * The contract of ptep_modify_prot_commit() (tool side): old_pte is the slot's value before
 * ptep_modify_prot_start, so it maps the same page as the new pte for that slot. A batched commit
 * that hands every entry the first entry's old_pte (not advancing its PFN) breaks it; powerpc
 * radix would then decide its write-upgrade flush from another page's entry.
 */
export function checkProtCommit(oldPte: number, pte: number, slot: number): Finding | null {
  // the slot itself: ptep_modify_prot_start cleared it under the PTL, and nothing maps a none
  // entry meanwhile (the MMU sets a/d bits only on present entries), so at commit it is still none
  if (slot !== 0) return { invariant: 'prot-commit-slot-not-cleared', path: 'ptep_modify_prot_commit', details: { slot: pteToString(slot), oldPte: pteToString(oldPte), pte: pteToString(pte) } };
  if (pte_present(oldPte) && pte_pfn(oldPte) === pte_pfn(pte)) return null;
  return { invariant: 'prot-commit-old-mismatch', path: 'ptep_modify_prot_commit', details: { oldPte: pteToString(oldPte), pte: pteToString(pte) } };
}
