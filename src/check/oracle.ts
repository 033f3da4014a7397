// The data oracle: every read returns what the process last wrote (or zero). Each page of each mm
// has one owner CPU (vpn % cpus) that alone writes it, so the owner's record is exact; a zap in
// flight makes "the write may have been discarded" legal, tracked by a per-page zap word: the low
// 16 bits count zaps covering the page that are in flight (several can overlap: two concurrent
// MADV_DONTNEEDs), the high bits count completed zaps. Other CPUs check that what they read is a
// token written for this very page and mm, or zero.
import type { Cpu } from '../engine/cpu.js';
import type { Machine } from '../model/machine.js';
import { POISON } from '../model/machine.js';

const ALT_VALID = 1; // oAlt holds 1 when "0 is also acceptable" (the last write raced a zap)

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

/** The owner wrote token; g1/g2 are the page's zap generation just before and after the store. */
export function recordWrite(machine: Machine, mm: number, vpn: number, token: number, g1: number, g2: number): void {
  const { m, L } = machine;
  const i = machine.oracleIndex(mm, vpn);
  Atomics.store(m, L.oExp + i, token);
  Atomics.store(m, L.oAlt + i, zapInFlight(g1) || g1 !== g2 ? ALT_VALID : 0);
  Atomics.store(m, L.oWgen + i, g2);
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
export function expectOwner(machine: Machine, mm: number, vpn: number, g1: number, g2: number): number[] {
  const { m, L } = machine;
  const i = machine.oracleIndex(mm, vpn);
  const exp = Atomics.load(m, L.oExp + i);
  const alt = Atomics.load(m, L.oAlt + i) === ALT_VALID;
  const wgen = Atomics.load(m, L.oWgen + i);
  if (zapInFlight(g1) || g1 !== g2) return [exp, 0];
  if (alt) return [exp, 0];
  if (g1 !== wgen) return [0];
  return [exp];
}

/** After a stable read by the owner, the page's content is known exactly again. */
export function collapse(machine: Machine, mm: number, vpn: number, value: number, g: number): void {
  const { m, L } = machine;
  const i = machine.oracleIndex(mm, vpn);
  Atomics.store(m, L.oExp + i, value);
  Atomics.store(m, L.oAlt + i, 0);
  Atomics.store(m, L.oWgen + i, g);
}

/** Check a read: owner exactly, others by token sanity. Raises a data violation. */
export function checkRead(cpu: Cpu, mm: number, vpn: number, value: number, g1: number, g2: number, pfn: number): void {
  const machine = cpu.machine;
  if (value === POISON) cpu.violation('data-poison', 'user read', { mm, vpn, pfn, value: hex(value) });
  if (ownerOf(machine, vpn) === cpu.id) {
    const allowed = expectOwner(machine, mm, vpn, g1, g2);
    if (!allowed.includes(value)) cpu.violation('data-mismatch', 'user read', { mm, vpn, pfn, read: hex(value), expected: allowed.map(hex) });
    if (!zapInFlight(g1) && g1 === g2) collapse(machine, mm, vpn, value, g1);
  } else if (value !== 0 && (tokenVpn(value) !== (vpn & 0x3ffff) || tokenMm(value) !== (mm & 7))) {
    cpu.violation('data-foreign', 'user read', { mm, vpn, pfn, read: hex(value), tokenVpn: tokenVpn(value), tokenMm: tokenMm(value) });
  }
}

export const hex = (v: number): string => '0x' + (v >>> 0).toString(16);
