// The data oracle: every read returns what the process last wrote (or zero). Each page of each mm
// has one owner CPU (vpn % cpus) that alone writes it, so the owner's record is exact up to two
// legal uncertainties, kept as "the value or an alternative" (oExp, oAlt when oAltOk):
// - a zap in flight may or may not have discarded a write: tracked by a per-page zap word whose
//   low 16 bits count zaps covering the page in flight (several can overlap: two concurrent
//   MADV_DONTNEEDs) and whose high bits count completed zaps;
// - a parent's write that raced fork (through a TLB entry still writable until the fork's flush)
//   may or may not be in the child: the child's record gets the write as its alternative.
// mremap moves records with the pages (mremapOracleBegin/End, mremapRace): a moved page holds
// tokens written at its old address, which its tag (oTag) names, and a write that raced the move
// may be at the new address: that record gets the write as its alternative, as for fork.
// A stable read by the owner collapses the record to what was read. Other CPUs check that what they
// read is a token written for this page by this mm or one of its ancestors, or zero.
import type { Cpu } from '../machine/cpu.js';
import type { Machine } from '../machine/machine.js';
import { POISON } from '../machine/machine.js';
import { MM } from '../machine/layout.js';
import { find_vma, linear_page_index } from '../linux/mm/mmap.js';

const ALT_ONE = 1; // oAlt is also acceptable
const ALT_ANY = 2; // anything this page's lineage wrote is acceptable until the next stable read (two overlapping uncertainties)
const ALT_MASK = 3;
/**
 * MADV_FREE made the page lazyfree: until the owner writes it again (a write that did not race
 * the MADV_FREE), reclaim may discard the clean folio and a read may return 0. A bit of oAltOk
 * beside the alternatives: a stable read does not clear it (the folio can still be discarded).
 */
const FREE_MARK = 4;

export const ownerOf = (machine: Machine, vpn: number): number => vpn % machine.L.cpus;

/**
 * Set a record's alternative bits (ALT_*) to alt, keeping its free mark as it is at that instant:
 * one compare-and-swap, so a MADV_FREE's freeBegin that marks the page meanwhile (Atomics.or) is
 * not overwritten. (A load then a store lost such a mark in the threads engine: the page then read
 * "exact" while MADV_FREE had made it discardable, and reclaim's discard was judged data-lost.)
 */
function setAltBits(m: Int32Array, at: number, alt: number, keepMark: boolean): void {
  for (;;) {
    const cur = Atomics.load(m, at);
    const next = alt | (keepMark ? cur & FREE_MARK : 0);
    if (Atomics.compareExchange(m, at, cur, next) === cur) return;
  }
}


/** A write token: version (10 bits, never 0) | mm (3 bits) | vpn (18 bits). Bit 31 is clear (file tokens set it). */
export function makeToken(version: number, mm: number, vpn: number): number {
  return ((((version % 1023) + 1) << 21) | ((mm & 7) << 18) | (vpn & 0x3ffff)) | 0;
}
export const tokenVpn = (t: number): number => t & 0x3ffff;
export const tokenMm = (t: number): number => (t >>> 18) & 7;
export const tokenVersion = (t: number): number => (t >>> 21) & 0x3ff;

// ---- file pages --------------------------------------------------------------------------------
// A store that lands in a page cache page writes a file token: bit 31 | version (11 bits, never 0) |
// the global file page (20 bits). The MMU makes it at the store (the workload cannot know whether the
// page it writes is the file's or an anon COW copy). Each file page has one writer, the CPU that
// owns it (pgoff % cpus; file mappings are placed so that vpn - pgoff is a multiple of cpus, so it
// is the owner of the vpn too), and file data is never discarded (no truncation or reclaim), so the
// file oracle is exact: oFile holds the last token written to each file page. After the final sync
// the disk must hold it too.

export function makeFileToken(version: number, fp: number): number {
  return (0x80000000 | (((version % 2047) + 1) << 20) | (fp & 0xfffff)) | 0;
}
export const isFileToken = (t: number): boolean => t < 0;
export const fileTokenPage = (t: number): number => t & 0xfffff;

/** The owner of file page fp stored token in it (called by the MMU inside the store). */
export function recordFileWrite(machine: Machine, fp: number, token: number): void {
  Atomics.store(machine.m, machine.L.oFile + fp, token);
}
/** The last token written to file page fp (0: never written since boot). */
export function fileExpected(machine: Machine, fp: number): number {
  return Atomics.load(machine.m, machine.L.oFile + fp);
}

/** After the final sync: every file page's last write is on the disk; a write not there is lost (lost-write). */
export function checkDisk(machine: Machine): { invariant: string; path: string; details: Record<string, unknown> } | null {
  const { m, L } = machine;
  const pages: { file: number; pgoff: number; disk: string; expected: string }[] = [];
  let lost = 0;
  for (let fp = 0; fp < L.files * L.filePages; fp++) {
    const exp = Atomics.load(m, L.oFile + fp), got = Atomics.load(m, L.disk + fp);
    if (exp === got) continue;
    lost++;
    if (pages.length < 8) pages.push({ file: Math.floor(fp / L.filePages), pgoff: fp % L.filePages, disk: hex(got), expected: hex(exp) });
  }
  return lost ? { invariant: 'lost-write', path: 'sync', details: { pagesLost: lost, pages } } : null;
}

export function zapGen(machine: Machine, mm: number, vpn: number): number {
  return Atomics.load(machine.m, machine.L.oZapGen + machine.oracleIndex(mm, vpn));
}

const IN_FLIGHT = 0xffff;
const COMPLETED = 0x10000;
/** Is a zap covering the page in flight at zap word g? */
export const zapInFlight = (g: number): boolean => (g & IN_FLIGHT) !== 0;

function zapAdd(machine: Machine, mm: number, start: number, end: number, delta: number): void {
  const base = machine.L.oZapGen + machine.oracleIndex(mm, 0);
  for (let v = start; v < end; v++) Atomics.add(machine.m, base + v, delta);
}
/** A zap of [start, end) begins (munmap, MADV_DONTNEED). */
export function zapBegin(machine: Machine, mm: number, start: number, end: number): void {
  zapAdd(machine, mm, start, end, 1);
}
/** The zap ended: one fewer in flight, one more completed. */
export function zapEnd(machine: Machine, mm: number, start: number, end: number): void {
  zapAdd(machine, mm, start, end, COMPLETED - 1);
}
/** The zap did not happen after all: return to the generation before zapBegin. */
export function zapAbort(machine: Machine, mm: number, start: number, end: number): void {
  zapAdd(machine, mm, start, end, -1);
}

/**
 * MADV_FREE of [start, end) begins: each page becomes "the value or 0" until the owner writes it
 * again (FREE_MARK), and until freeEnd a write is "raced" (the zap word's in-flight count: the
 * MADV_FREE may clear the dirty bit that write set), so it keeps the mark. Nothing is discarded by
 * MADV_FREE itself: freeEnd completes no zap.
 */
export function freeBegin(machine: Machine, mm: number, start: number, end: number): void {
  Atomics.add(machine.m, machine.mmWord(mm, MM.FREE_GEN), FREE_BEGUN + 1);
  const base = machine.oracleIndex(mm, 0);
  for (let v = start; v < end; v++) Atomics.or(machine.m, machine.L.oAltOk + base + v, FREE_MARK);
  zapAdd(machine, mm, start, end, 1);
}
/** MADV_FREE of [start, end) returned (or failed: the mark stays, a superset of what may be lost). */
export function freeEnd(machine: Machine, mm: number, start: number, end: number): void {
  zapAdd(machine, mm, start, end, -1);
  Atomics.sub(machine.m, machine.mmWord(mm, MM.FREE_GEN), 1);
}

const FREE_BEGUN = 1 << 16;
/** The mm's MADV_FREE word (MM.FREE_GEN), read by a store before its walk sets the dirty bit. */
export function freeGen(machine: Machine, mm: number): number {
  return Atomics.load(machine.m, machine.mmWord(mm, MM.FREE_GEN));
}
/** Did a MADV_FREE of mm run at some time since freeGen read f1 (in flight then, or begun since)? */
export function freeRacedSince(machine: Machine, mm: number, f1: number): boolean {
  return (f1 & (FREE_BEGUN - 1)) !== 0 || freeGen(machine, mm) !== f1;
}

/** The zap word once every zap in flight in g has completed. */
const settled = (g: number): number => (g + (g & IN_FLIGHT) * (COMPLETED - 1)) | 0;

/**
 * The owner wrote token; g1/g2 are the page's zap word just before and after the store. A write
 * that raced a zap is "there or gone (0)"; only a zap that completes beyond those in flight at the
 * store must have discarded it, so the record keeps the zap word as if they had all completed.
 */
export function recordWrite(machine: Machine, mm: number, vpn: number, token: number, g1: number, g2: number, freeRaced = false): void {
  const { m, L } = machine;
  const i = machine.oracleIndex(mm, vpn);
  const raced = zapInFlight(g1) || g1 !== g2;
  // a write that raced a MADV_FREE of the page (one in flight at the store, or one that ran between
  // the MMU setting the dirty bit and this record: freeRaced) may have lost its dirty bit to it: the
  // page stays discardable
  const f0 = freeGen(machine, mm);
  Atomics.store(m, L.oExp + i, token);
  Atomics.store(m, L.oAlt + i, 0);
  setAltBits(m, L.oAltOk + i, raced ? ALT_ONE : 0, raced || freeRaced);
  // A MADV_FREE of this mm in flight at this record, or begun since f0, may have marked the page
  // after the caller judged freeRaced (freeBegin marks before its walk cleans the entry): the write
  // raced it, so the page stays discardable (the mark is set again if the line above cleared it).
  if (freeRacedSince(machine, mm, f0)) Atomics.or(m, L.oAltOk + i, FREE_MARK);
  Atomics.store(m, L.oWgen + i, settled(g2));
  // the page now holds a token of its own vpn (stored after oExp: see the readers in forkOracle
  // and mremapOracleBegin, which read the tag before oExp)
  Atomics.store(m, L.oTag + i, 0);
}

/**
 * A parent's write (token) raced the fork that created child: the child may hold it or the value
 * it had. Called by the page's owner after recordWrite for the parent.
 */
export function recordForkRace(machine: Machine, child: number, vpn: number, token: number): void {
  const { m, L } = machine;
  const i = machine.oracleIndex(child, vpn);
  if (Atomics.load(m, L.oExp + i) === token) return;
  const raw = Atomics.load(m, L.oAltOk + i);
  if (raw & ALT_MASK && Atomics.load(m, L.oAlt + i) !== token) setAltBits(m, L.oAltOk + i, ALT_ANY, true);
  else {
    Atomics.store(m, L.oAlt + i, token);
    setAltBits(m, L.oAltOk + i, ALT_ONE, true);
  }
}


export interface Expectation {
  ok: boolean;
  expected: number[];
}

/**
 * Which values may a read by the owner return now? g1/g2 bracket the load. Rules: a zap in flight
 * allows the last write or 0; a zap completed since a write that did not race one requires 0; a
 * write that raced a zap is either there or gone (0) until a stable read collapses it.
 */
/**
 * dup_mmap: the child's record starts as what the parent may hold now: a zap of the parent in
 * flight (marked before it takes the mmap_lock, so it ran before the fork or will run after) means
 * "the value or 0" for the child; the child's own zap counter starts clean. A write by the owner
 * between our read and our store would be lost, so re-read and, if the parent's record moved,
 * keep both values.
 */
export function forkOracle(machine: Machine, parent: number, child: number, start: number, end: number): void {
  const { m, L } = machine;
  for (let v = start; v < end; v++) {
    const p = machine.oracleIndex(parent, v), c = machine.oracleIndex(child, v);
    // the tag before oExp: recordWrite stores them in the other order, so a tag already reset by a
    // write comes with that write's oExp (a token of v itself, which always belongs)
    const t1 = Atomics.load(m, L.oTag + p);
    const e1 = Atomics.load(m, L.oExp + p);
    const g = Atomics.load(m, L.oZapGen + p);
    const set = expectOwner(machine, parent, v, g, g);
    const raw = Atomics.load(m, L.oAltOk + p);
    const ok = (raw & ALT_MASK) === ALT_ANY || set.length > 2 ? ALT_ANY : set.length === 2 ? ALT_ONE : 0;
    Atomics.store(m, L.oExp + c, set[0]);
    Atomics.store(m, L.oAlt + c, set.length > 1 ? set[1] : 0);
    Atomics.store(m, L.oAltOk + c, ok | (raw & FREE_MARK)); // the child maps the lazyfree folio too
    Atomics.store(m, L.oWgen + c, 0);
    Atomics.store(m, L.oZapGen + c, 0);
    Atomics.store(m, L.oTag + c, t1);
    const e2 = Atomics.load(m, L.oExp + p);
    if (e2 !== e1) recordForkRace(machine, child, v, e2);
  }
}

export function expectOwner(machine: Machine, mm: number, vpn: number, g1: number, g2: number): number[] {
  const { m, L } = machine;
  const i = machine.oracleIndex(mm, vpn);
  const exp = Atomics.load(m, L.oExp + i);
  const raw = Atomics.load(m, L.oAltOk + i);
  const set = raw & ALT_MASK ? [exp, Atomics.load(m, L.oAlt + i)] : [exp];
  if (raw & FREE_MARK) set.push(0); // lazyfree: reclaim may have discarded it
  if (zapInFlight(g1) || g1 !== g2) return uniq([...set, 0]);
  // more zaps completed than were in flight or done at the write: it was discarded. (Fewer: a zap
  // that raced the write was aborted, e.g. munmap failing with ENOMEM; the uncertainty stays.)
  if ((g1 >> 16) - (Atomics.load(m, L.oWgen + i) >> 16) > 0) return [0];
  return uniq(set);
}

/**
 * Has mm declared the page at vpn disposable (MADV_FREE since the owner's last write that did not
 * race it; a child inherits the mark at fork, a move carries it)? Its entry may then be clean while
 * the page holds data: reclaim may discard it.
 */
export function freeMarked(machine: Machine, mm: number, vpn: number): boolean {
  return (Atomics.load(machine.m, machine.L.oAltOk + machine.oracleIndex(mm, vpn)) & FREE_MARK) !== 0;
}

/** Is the record "anything goes until the next stable read" (two overlapping uncertainties)? */
export function expectAny(machine: Machine, mm: number, vpn: number): boolean {
  return (Atomics.load(machine.m, machine.L.oAltOk + machine.oracleIndex(mm, vpn)) & ALT_MASK) === ALT_ANY;
}

const uniq = (a: number[]): number[] => [...new Set(a)];

/** After a stable read by the owner, the page's content is known exactly again. */
export function collapse(machine: Machine, mm: number, vpn: number, value: number, g: number): void {
  const { m, L } = machine;
  const i = machine.oracleIndex(mm, vpn);
  Atomics.store(m, L.oExp + i, value);
  Atomics.store(m, L.oAlt + i, 0);
  Atomics.and(m, L.oAltOk + i, FREE_MARK); // the alternatives go, the free mark stays (still lazyfree): one atomic step
  Atomics.store(m, L.oWgen + i, g);
}

/**
 * Check a read: owner exactly, others by token sanity. Raises a data violation. hitFp is the file
 * page the load hit (-1: an anon page or the zero page); vmaFp the file page the VMA maps at vpn
 * (-1: anon), whose content an anon page of a private file mapping may hold (a COW copy, or a
 * child's copy of its parent's) while its record says "unwritten" (0).
 */
export function checkRead(cpu: Cpu, mm: number, vpn: number, value: number, g1: number, g2: number, pfn: number, tag?: number, hitFp = -1, vmaFp = -1): void {
  const machine = cpu.machine;
  if (value === POISON) cpu.violation('data-poison', 'user read', { mm, vpn, pfn, value: hex(value) });
  // An mremap moved other content onto this page after the load (threads: between the load and
  // this check; the move counts a completed zap on the new page and records it as of then): the
  // record is newer than the value, and says nothing about it. The owner's own writes cannot do
  // this (one writer per page, and the owner is this CPU).
  const moved = (Atomics.load(machine.m, machine.L.oWgen + machine.oracleIndex(mm, vpn)) >> 16) - (settled(g2) >> 16) > 0;
  const owner = ownerOf(machine, vpn) === cpu.id && !moved;
  if (hitFp >= 0) {
    // a page cache page: the file's data, exact for its owner (the one writer of the page; a move
    // changes which page is mapped here, not what the file page holds)
    if (value !== 0 && !(isFileToken(value) && fileTokenPage(value) === hitFp)) cpu.violation('data-foreign', 'user read', { mm, vpn, pfn, filePage: hitFp, read: hex(value) });
    if (ownerOf(machine, vpn) === cpu.id && value !== fileExpected(machine, hitFp)) cpu.violation('data-mismatch', 'user read', { mm, vpn, pfn, filePage: hitFp, read: hex(value), expected: [hex(fileExpected(machine, hitFp))] });
    return;
  }
  if (isFileToken(value)) {
    // vmaFp comes from the VMA the reader picked before its run of accesses; an mremap (or munmap and
    // mmap) may have put another mapping at vpn since: judge by the VMA there now as well
    if (fileTokenPage(value) !== vmaFp && fileTokenPage(value) !== vmaFilePageNow(machine, mm, vpn)) cpu.violation('data-foreign', 'user read', { mm, vpn, pfn, read: hex(value), tokenFilePage: fileTokenPage(value), vmaFilePage: vmaFp });
    if (owner && !expectOwner(machine, mm, vpn, g1, g2).includes(0) && !expectAny(machine, mm, vpn)) {
      cpu.violation('data-mismatch', 'user read', { mm, vpn, pfn, read: hex(value), expected: expectOwner(machine, mm, vpn, g1, g2).map(hex), why: 'file content in a page this process wrote' });
    }
    return;
  }
  if (value !== 0 && !tokenBelongs(machine, mm, vpn, value, tag)) {
    cpu.violation('data-foreign', 'user read', { mm, vpn, pfn, read: hex(value), tokenVpn: tokenVpn(value), tokenMm: tokenMm(value) });
  }
  if (owner) {
    const allowed = expectOwner(machine, mm, vpn, g1, g2);
    if (!allowed.includes(value) && !expectAny(machine, mm, vpn)) cpu.violation('data-mismatch', 'user read', { mm, vpn, pfn, read: hex(value), expected: allowed.map(hex) });
    if (!zapInFlight(g1) && g1 === g2) collapse(machine, mm, vpn, value, g1);
  }
}

/** The file page the VMA of mm at vpn maps now (-1: none, or anon), read without the mmap_lock. */
function vmaFilePageNow(machine: Machine, mm: number, vpn: number): number {
  const v = find_vma(machine, mm, vpn);
  return v && v.file >= 0 ? machine.filePage(v.file, linear_page_index(v, vpn)) : -1;
}

/**
 * Was token written for this page by mm or one of its ancestors (its lineage)? "For this page":
 * at this vpn, or at the vpn its tag names (content mremap moved here and nobody rewrote since).
 */
export function tokenBelongs(machine: Machine, mm: number, vpn: number, token: number, tag = tagOf(machine, mm, vpn)): boolean {
  // what the record itself holds (its value, or the alternative a raced fork or move left) belongs
  const { m, L } = machine;
  const i = machine.oracleIndex(mm, vpn);
  if (token === Atomics.load(m, L.oExp + i) || (Atomics.load(m, L.oAltOk + i) & ALT_MASK && token === Atomics.load(m, L.oAlt + i))) return true;
  const tv = tokenVpn(token);
  if (tv !== (vpn & 0x3ffff) && tv !== (tag & 0x3ffff) && tv !== (tagOf(machine, mm, vpn) & 0x3ffff)) return false;
  const lineage = Atomics.load(machine.m, machine.mmWord(mm, MM.LINEAGE));
  return ((lineage >>> tokenMm(token)) & 1) === 1;
}

export const hex = (v: number): string => '0x' + (v >>> 0).toString(16);

// ---- mremap: the records move with the pages ---------------------------------------------------

/** The vpn the token now held at (mm, vpn) was written at: its tag, or vpn itself. */
export function tagOf(machine: Machine, mm: number, vpn: number): number {
  return Atomics.load(machine.m, machine.L.oTag + machine.oracleIndex(mm, vpn)) || vpn;
}
/** Store "tokens written at origin" as (mm, vpn)'s tag (0 when origin is vpn itself). */
function setTag(machine: Machine, mm: number, vpn: number, origin: number): void {
  Atomics.store(machine.m, machine.L.oTag + machine.oracleIndex(mm, vpn), origin === vpn ? 0 : origin);
}

/**
 * mremap moves [from, from + len) of mm to [to, to + len): called by move_vma under the mmap_lock
 * held for write, before the first entry moves. Opens the move window (MREMAP_SEQ odd, the range
 * published first, so a store that sees the window odd finds the range), then each page's record
 * moves to its new vpn as forkOracle copies one to a child: a zap of the old page in flight (marked
 * before it waits for the mmap_lock, so it ran before the move or runs after, on the old range)
 * makes it "the value or 0"; so does a zap marked on the new page (it runs after the move and may
 * discard the moved data). The new page's zap word is not reset (zaps marked there must still end
 * there); its wgen starts from it, as if the move were a write. A write by the owner between our
 * read and our store would be lost, so re-read (tag and value) and, if the record moved, keep
 * both values. Then the old range is marked as a zap in flight, ended by mremapOracleEnd: the old
 * pages' data is gone, except a write that raced the move, which may be there or gone.
 * The owner of a page (vpn % cpus) must be the same at both addresses (the workload moves by
 * multiples of cpus pages). MREMAP_FIXED's unmap of a mapped target ran before (the kernel's
 * do_munmap inside mremap_to, under the same mmap_lock: its flush waited for every access in
 * flight), so the new pages' old records are simply replaced.
 */
export function mremapOracleBegin(machine: Machine, mm: number, from: number, to: number, len: number): void {
  const { m, L } = machine;
  // a tool-side misuse, not a kernel bug: with another owner the records could not be exact
  if ((to - from) % L.cpus !== 0) throw new Error(`mremap by ${to - from} pages: the data oracle needs moves by a multiple of cpus (${L.cpus}) pages, so every page keeps its owner`);
  Atomics.store(m, machine.mmWord(mm, MM.MREMAP_FROM), from);
  Atomics.store(m, machine.mmWord(mm, MM.MREMAP_TO), to);
  Atomics.store(m, machine.mmWord(mm, MM.MREMAP_LEN), len);
  Atomics.add(m, machine.mmWord(mm, MM.MREMAP_SEQ), 1);
  for (let k = 0; k < len; k++) {
    const o = from + k, n = to + k;
    const io = machine.oracleIndex(mm, o), ni = machine.oracleIndex(mm, n);
    // the tag before oExp (recordWrite stores them in the other order; see forkOracle)
    const t1 = Atomics.load(m, L.oTag + io);
    const e1 = Atomics.load(m, L.oExp + io);
    const g = Atomics.load(m, L.oZapGen + io);
    let set = expectOwner(machine, mm, o, g, g);
    // The move replaces what the new page held (MREMAP_FIXED unmapped it just before): count that
    // as a completed zap of the new page. Its record's wgen (below) then postdates every access of
    // the page before the move, so checkRead knows a load of the old content judged after the move
    // (threads: the move can run between a load and its check), and a pin of the old page there is
    // detached (pinio_op compares the zap word).
    Atomics.add(m, L.oZapGen + ni, COMPLETED);
    const gn = Atomics.load(m, L.oZapGen + ni);
    if (zapInFlight(gn)) set = uniq([...set, 0]);
    const raw = Atomics.load(m, L.oAltOk + io);
    const ok = (raw & ALT_MASK) === ALT_ANY || set.length > 2 ? ALT_ANY : set.length === 2 ? ALT_ONE : 0;
    Atomics.store(m, L.oExp + ni, set[0]);
    Atomics.store(m, L.oAlt + ni, set.length > 1 ? set[1] : 0);
    // a lazyfree folio moves lazyfree; a mark a MADV_FREE of the new range set meanwhile stays too
    setAltBits(m, L.oAltOk + ni, ok | (raw & FREE_MARK), true);
    Atomics.store(m, L.oWgen + ni, settled(gn));
    setTag(machine, mm, n, t1 || o);
    const e2 = Atomics.load(m, L.oExp + io);
    const t2 = Atomics.load(m, L.oTag + io);
    if (e2 !== e1 || t2 !== t1) mremapRaceAt(machine, mm, o, n, e2);
  }
  zapBegin(machine, mm, from, from + len);
}

/** The move is done (every entry moved, the old range flushed): close the window, still under the mmap_lock. */
export function mremapOracleEnd(machine: Machine, mm: number, from: number, len: number): void {
  const { m, L } = machine;
  zapEnd(machine, mm, from, from + len);
  // the old range holds nothing now: a token found there later was written there
  const base = L.oTag + machine.oracleIndex(mm, 0);
  for (let v = from; v < from + len; v++) Atomics.store(m, base + v, 0);
  Atomics.add(m, machine.mmWord(mm, MM.MREMAP_SEQ), 1);
}

/** A write of token at old vpn o may have landed in the page moved to n: n's record gets it as an alternative. */
function mremapRaceAt(machine: Machine, mm: number, o: number, n: number, token: number): void {
  // tag first: the racing token (written at o) is what the moved page most likely holds
  setTag(machine, mm, n, o);
  recordForkRace(machine, mm, n, token);
}

/**
 * The store path (user_access) saw a move of mm in flight around its store of token at vpn: if
 * vpn is in the range being moved, the store went through the old entry (or a TLB entry not yet
 * flushed) into the page that moves, so the new page may hold it. Called after recordWrite, like
 * recordForkRace for a fork.
 */
export function mremapRace(machine: Machine, mm: number, vpn: number, token: number): void {
  const m = machine.m;
  const from = Atomics.load(m, machine.mmWord(mm, MM.MREMAP_FROM));
  const len = Atomics.load(m, machine.mmWord(mm, MM.MREMAP_LEN));
  if (vpn < from || vpn >= from + len) return;
  const to = Atomics.load(m, machine.mmWord(mm, MM.MREMAP_TO));
  mremapRaceAt(machine, mm, vpn, to + (vpn - from), token);
}
