// The data oracle: every read returns what the process last wrote (or zero). Each page of each mm
// has one owner CPU (vpn % cpus) that alone writes it, so the owner's record is exact up to two
// legal uncertainties, kept as "the value or an alternative" (oExp, oAlt when oAltOk):
// - a zap in flight may or may not have discarded a write: tracked by a per-page zap word whose
//   low 16 bits count zaps covering the page in flight (several can overlap: two concurrent
//   MADV_DONTNEEDs) and whose high bits count completed zaps;
// - a parent's write that raced fork (through a TLB entry still writable until the fork's flush)
//   may or may not be in the child: the child's record gets the write as its alternative.
// A stable read by the owner collapses the record to what was read. Other CPUs check that what they
// read is a token written for this page by this mm or one of its ancestors, or zero.
import type { Cpu } from '../engine/cpu.js';
import type { Machine } from '../model/machine.js';
import { POISON } from '../model/machine.js';
import { MM } from '../model/layout.js';

const ALT_ONE = 1; // oAlt is also acceptable
const ALT_ANY = 2; // anything this page's lineage wrote is acceptable until the next stable read (two overlapping uncertainties)

export const ownerOf = (machine: Machine, vpn: number): number => vpn % machine.L.cpus;

/** A write token: version (10 bits, never 0) | mm (3 bits) | vpn (18 bits). */
export function makeToken(version: number, mm: number, vpn: number): number {
  return ((((version % 1023) + 1) << 21) | ((mm & 7) << 18) | (vpn & 0x3ffff)) | 0;
}
export const tokenVpn = (t: number): number => t & 0x3ffff;
export const tokenMm = (t: number): number => (t >>> 18) & 7;

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

/** The zap word once every zap in flight in g has completed. */
const settled = (g: number): number => (g + (g & IN_FLIGHT) * (COMPLETED - 1)) | 0;

/**
 * The owner wrote token; g1/g2 are the page's zap word just before and after the store. A write
 * that raced a zap is "there or gone (0)"; only a zap that completes beyond those in flight at the
 * store must have discarded it, so the record keeps the zap word as if they had all completed.
 */
export function recordWrite(machine: Machine, mm: number, vpn: number, token: number, g1: number, g2: number): void {
  const { m, L } = machine;
  const i = machine.oracleIndex(mm, vpn);
  const raced = zapInFlight(g1) || g1 !== g2;
  Atomics.store(m, L.oExp + i, token);
  Atomics.store(m, L.oAlt + i, 0);
  Atomics.store(m, L.oAltOk + i, raced ? ALT_ONE : 0);
  Atomics.store(m, L.oWgen + i, settled(g2));
}

/**
 * A parent's write (token) raced the fork that created child: the child may hold it or the value
 * it had. Called by the page's owner after recordWrite for the parent.
 */
export function recordForkRace(machine: Machine, child: number, vpn: number, token: number): void {
  const { m, L } = machine;
  const i = machine.oracleIndex(child, vpn);
  if (Atomics.load(m, L.oExp + i) === token) return;
  const ok = Atomics.load(m, L.oAltOk + i);
  if (ok && Atomics.load(m, L.oAlt + i) !== token) Atomics.store(m, L.oAltOk + i, ALT_ANY);
  else {
    Atomics.store(m, L.oAlt + i, token);
    Atomics.store(m, L.oAltOk + i, ALT_ONE);
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
    const e1 = Atomics.load(m, L.oExp + p);
    const g = Atomics.load(m, L.oZapGen + p);
    const set = expectOwner(machine, parent, v, g, g);
    const ok = Atomics.load(m, L.oAltOk + p) === ALT_ANY || set.length > 2 ? ALT_ANY : set.length === 2 ? ALT_ONE : 0;
    Atomics.store(m, L.oExp + c, set[0]);
    Atomics.store(m, L.oAlt + c, set.length > 1 ? set[1] : 0);
    Atomics.store(m, L.oAltOk + c, ok);
    Atomics.store(m, L.oWgen + c, 0);
    Atomics.store(m, L.oZapGen + c, 0);
    const e2 = Atomics.load(m, L.oExp + p);
    if (e2 !== e1) recordForkRace(machine, child, v, e2);
  }
}

export function expectOwner(machine: Machine, mm: number, vpn: number, g1: number, g2: number): number[] {
  const { m, L } = machine;
  const i = machine.oracleIndex(mm, vpn);
  const exp = Atomics.load(m, L.oExp + i);
  const ok = Atomics.load(m, L.oAltOk + i);
  const set = ok ? [exp, Atomics.load(m, L.oAlt + i)] : [exp];
  if (zapInFlight(g1) || g1 !== g2) return uniq([...set, 0]);
  // more zaps completed than were in flight or done at the write: it was discarded. (Fewer: a zap
  // that raced the write was aborted, e.g. munmap failing with ENOMEM; the uncertainty stays.)
  if ((g1 >> 16) - (Atomics.load(m, L.oWgen + i) >> 16) > 0) return [0];
  return uniq(set);
}

/** Is the record "anything goes until the next stable read" (two overlapping uncertainties)? */
export function expectAny(machine: Machine, mm: number, vpn: number): boolean {
  return Atomics.load(machine.m, machine.L.oAltOk + machine.oracleIndex(mm, vpn)) === ALT_ANY;
}

const uniq = (a: number[]): number[] => [...new Set(a)];

/** After a stable read by the owner, the page's content is known exactly again. */
export function collapse(machine: Machine, mm: number, vpn: number, value: number, g: number): void {
  const { m, L } = machine;
  const i = machine.oracleIndex(mm, vpn);
  Atomics.store(m, L.oExp + i, value);
  Atomics.store(m, L.oAlt + i, 0);
  Atomics.store(m, L.oAltOk + i, 0);
  Atomics.store(m, L.oWgen + i, g);
}

/** Check a read: owner exactly, others by token sanity. Raises a data violation. */
export function checkRead(cpu: Cpu, mm: number, vpn: number, value: number, g1: number, g2: number, pfn: number): void {
  const machine = cpu.machine;
  if (value === POISON) cpu.violation('data-poison', 'user read', { mm, vpn, pfn, value: hex(value) });
  if (value !== 0 && !tokenBelongs(machine, mm, vpn, value)) {
    cpu.violation('data-foreign', 'user read', { mm, vpn, pfn, read: hex(value), tokenVpn: tokenVpn(value), tokenMm: tokenMm(value) });
  }
  if (ownerOf(machine, vpn) === cpu.id) {
    const allowed = expectOwner(machine, mm, vpn, g1, g2);
    if (!allowed.includes(value) && !expectAny(machine, mm, vpn)) cpu.violation('data-mismatch', 'user read', { mm, vpn, pfn, read: hex(value), expected: allowed.map(hex) });
    if (!zapInFlight(g1) && g1 === g2) collapse(machine, mm, vpn, value, g1);
  }
}

/** Was token written for this page by mm or one of its ancestors (its lineage)? */
export function tokenBelongs(machine: Machine, mm: number, vpn: number, token: number): boolean {
  if (tokenVpn(token) !== (vpn & 0x3ffff)) return false;
  const lineage = Atomics.load(machine.m, machine.mmWord(mm, MM.LINEAGE));
  return ((lineage >>> tokenMm(token)) & 1) === 1;
}

export const hex = (v: number): string => '0x' + (v >>> 0).toString(16);
