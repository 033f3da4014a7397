// The lock-free observer of the threads engine (DESIGN section 2: "refcount >= mapcount for every
// folio, at every instant"). It runs on the coordinator thread while the CPUs race, sweeping every
// allocated folio head without taking any lock, a chunk at a time so the caller can yield to its
// event loop between chunks. The sched engine checks the folios each step touched instead.
import { type Machine, PG_BUDDY, PG_HEAD } from '../machine/machine.js';
import type { Finding } from './invariants.js';
import { hex } from './oracle.js';
import { folioOrder } from './folio.js';

/**
 * Read refcount and mapcount of one folio as a consistent pair, or null when they moved under us.
 * Two loads cannot be taken at one instant, and each order tears for some kernel path: a fault
 * raises refcount then mapcount (ref read before the fault, map after: ref < map), a zap drops
 * mapcount then refcount (map read before the zap, ref after: ref < map). So read ref, map, ref,
 * map: when both pairs agree nothing changed between the two middle loads, and (ref, map) is the
 * folio's state at the instant of the map load (ignoring an ABA on both words within four loads).
 */
export function stableRefMap(machine: Machine, folio: number): { ref: number; map: number } | null {
  const { m, L } = machine;
  const r1 = Atomics.load(m, L.fRef + folio);
  const m1 = Atomics.load(m, L.fMapcount + folio);
  const r2 = Atomics.load(m, L.fRef + folio);
  const m2 = Atomics.load(m, L.fMapcount + folio);
  if (r1 !== r2 || m1 !== m2) return null;
  return { ref: r1, map: m1 };
}

/** The refcount >= mapcount check of one folio head, torn reads excluded. */
export function observeFolio(machine: Machine, folio: number): Finding | null {
  const s = stableRefMap(machine, folio);
  if (!s || s.ref >= s.map) return null;
  // The head may have been freed (or its block reused) between the flag test and the loads;
  // a freed folio has refcount 0 and mapcount 0, so it never gets here unless it is really broken.
  const flags = machine.pageFlags(folio);
  if (!(flags & PG_HEAD) || flags & PG_BUDDY) return null;
  return {
    invariant: 'refcount-below-mapcount',
    path: 'observer',
    details: { folio: hex(folio), order: folioOrder(machine, folio), refcount: s.ref, mapcount: s.map },
  };
}

/** A resumable sweep over every pfn: scan(n) checks the next n pfns, wrapping around. */
export class Observer {
  private pfn = 0;
  /** Completed passes over the whole page array. */
  sweeps = 0;
  /** Folio heads checked. */
  checked = 0;
  constructor(readonly machine: Machine) {}

  scan(n: number): Finding | null {
    const machine = this.machine;
    const pages = machine.L.pages;
    for (let i = 0; i < n; i++) {
      const pfn = this.pfn;
      if (++this.pfn === pages) {
        this.pfn = 0;
        this.sweeps++;
      }
      // Only allocated folio heads: tails carry no folio fields, buddy blocks are free.
      const flags = machine.pageFlags(pfn);
      if (!(flags & PG_HEAD) || flags & PG_BUDDY) continue;
      this.checked++;
      const f = observeFolio(machine, pfn);
      if (f) return f;
    }
    return null;
  }
}
