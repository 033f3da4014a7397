// Order choice in alloc_anon_folio and the mapping done by do_anonymous_page (single CPU).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, type ConfigInput, PMD_ORDER, PTRS_PER_PTE, defaultConfig, parseConfig } from '../../../src/config/config.js';
import { drive } from '../../../src/machine/gen.js';
import { EV, MAX_ORDERS } from '../../../src/machine/events.js';
import type { Cpu } from '../../../src/machine/cpu.js';
import { alloc_anon_folio, handle_mm_fault, VM_FAULT_OK } from '../../../src/linux/mm/memory.js';
import { alloc_folio, freePages } from '../../../src/linux/mm/page_alloc.js';
import { folio_put } from '../../../src/linux/mm/swap.js';
import { checkQuiescent } from '../../../src/check/invariants.js';
import { pte_pfn, pte_present, pte_special, pte_write } from '../../../src/machine/pte.js';
import { FOLIO_ANON, PG_ANON_EXCLUSIVE } from '../../../src/machine/machine.js';
import { MM } from '../../../src/machine/layout.js';
import { boot, cpuWithConfig, folioAt, type Harness, makeVmf, mapAnon, pteAt, run, stepper, folioFlags, folioMapcount, folioRef, folioOrder, pageMapcount } from '../../helpers/machine.js';
import { folioOf } from '../../../src/check/folio.js';

const B = 1024; // a vpn aligned to 512 (start of PTE table 2 of mm 0)

/** Orders whose SCAN_ORDER counter this CPU has incremented, with their counts. */
function scans(cpu: Cpu): Record<number, number> {
  const out: Record<number, number> = {};
  for (let o = 0; o < MAX_ORDERS; o++) if (cpu.counters[EV.SCAN_ORDER + o]) out[o] = cpu.counters[EV.SCAN_ORDER + o];
  return out;
}

/** Call alloc_anon_folio for a write fault at vpn; return the scanned order and the folio's order, then free the folio. */
function choose(h: Harness, vpn: number, cpu: Cpu = h.cpus[0]): { scanned: Record<number, number>; order: number } {
  const before = { ...scans(cpu) };
  const folio = run(h, cpu, alloc_anon_folio(cpu, makeVmf(h, 0, vpn, true), PMD_ORDER - 1));
  assert.ok(folio >= 0);
  const order = folioOrder(h.machine, folio);
  drive(folio_put(cpu, folio));
  const after = scans(cpu);
  const scanned: Record<number, number> = {};
  for (const k of Object.keys(after)) if (after[+k] !== (before[+k] ?? 0)) scanned[+k] = after[+k] - (before[+k] ?? 0);
  return { scanned, order };
}

/** A whole write fault at vpn on CPU cpu; returns the mapped folio (asserts it is mapped). */
function writeFault(h: Harness, vpn: number, cpu: number | Cpu = 0) {
  const c = typeof cpu === 'number' ? h.cpus[cpu] : cpu;
  assert.equal(run(h, c, handle_mm_fault(c, 0, vpn, true)), VM_FAULT_OK);
  const f = folioAt(h, 0, vpn);
  assert.ok(f, `vpn ${vpn} mapped`);
  return f;
}

function setup(over: ConfigInput = {}) {
  return boot({ anonOrders: [0, 2, 4], ...over });
}

test('alloc_anon_folio: picks the highest enabled order whose aligned range fits the VMA', () => {
  const h = setup();
  mapAnon(h, B, 64, { align: 16 });
  assert.deepEqual(choose(h, B + 37), { scanned: { 4: 1 }, order: 4 });
  // and do_anonymous_page maps the whole naturally aligned range with it
  const f = writeFault(h, B + 37);
  assert.equal(f.order, 4);
  assert.equal(h.cpus[0].counters[EV.MAP_ANON + 4], 1);
  const m = h.machine;
  for (let i = 0; i < 16; i++) {
    const pte = pteAt(h, 0, B + 32 + i);
    assert.ok(pte_present(pte) && pte_write(pte));
    assert.equal(pte_pfn(pte), f.folio + i, 'consecutive pages of the folio');
    assert.ok(m.pageFlags(f.folio + i) & PG_ANON_EXCLUSIVE);
    assert.equal(pageMapcount(m, f.folio + i), 1);
  }
  assert.equal(pteAt(h, 0, B + 31), 0);
  assert.equal(pteAt(h, 0, B + 48), 0);
  assert.equal(folioRef(m, f.folio), 16);
  assert.equal(folioMapcount(m, f.folio), 16);
  assert.ok(folioFlags(m, f.folio) & FOLIO_ANON);
  assert.equal(Atomics.load(m.m, m.mmWord(0, MM.RSS_ANON)), 16);
  assert.deepEqual(checkQuiescent(m), []);
});

test('alloc_anon_folio: only enabled orders are used ([0, 2] never gives 4)', () => {
  const h = setup({ anonOrders: [0, 2] });
  mapAnon(h, B, 64, { align: 16 });
  assert.deepEqual(choose(h, B + 37), { scanned: { 2: 1 }, order: 2 });
  const h0 = setup({ anonOrders: [0] });
  mapAnon(h0, B, 64, { align: 16 });
  assert.deepEqual(choose(h0, B + 37), { scanned: { 0: 1 }, order: 0 });
});

test('alloc_anon_folio: a VMA not aligned to 16 pages around the fault gets a lower order', () => {
  const h = setup();
  mapAnon(h, B + 4, 40); // [B+4, B+44)
  // [B, B+16) starts before the VMA: refused without a scan; [B+4, B+8) fits
  assert.deepEqual(choose(h, B + 5), { scanned: { 2: 1 }, order: 2 });
  // further in, [B+16, B+32) lies inside the VMA: order 4 again
  assert.deepEqual(choose(h, B + 20), { scanned: { 4: 1 }, order: 4 });
  // control: the same fault in a 16-aligned VMA gets order 4
  const c = setup();
  mapAnon(c, B, 44);
  assert.deepEqual(choose(c, B + 5), { scanned: { 4: 1 }, order: 4 });
});

test('alloc_anon_folio: a range that crosses the VMA end is refused', () => {
  const h = setup();
  mapAnon(h, B, 24); // [B, B+24)
  assert.deepEqual(choose(h, B + 17), { scanned: { 2: 1 }, order: 2 }, '[B+16, B+32) crosses the end');
  assert.deepEqual(choose(h, B + 3), { scanned: { 4: 1 }, order: 4 }, '[B, B+16) fits');
  const t = setup();
  mapAnon(t, B, 6); // [B, B+6): [B+4, B+8) crosses the end too
  assert.deepEqual(choose(t, B + 5), { scanned: { 0: 1 }, order: 0 });
  assert.deepEqual(choose(t, B + 1), { scanned: { 2: 1 }, order: 2 });
  // the mapping stays inside the VMA
  writeFault(t, B + 5);
  assert.equal(pteAt(t, 0, B + 6), 0);
  assert.equal(t.cpus[0].counters[EV.MAP_ANON + 0], 1);
});

test('alloc_anon_folio: a range containing a non-none PTE is refused and the next order is tried', () => {
  const h = setup();
  mapAnon(h, B, 32, { align: 16 });
  // a read fault maps the zero page at B+15
  assert.equal(run(h, 0, handle_mm_fault(h.cpus[0], 0, B + 15, false)), VM_FAULT_OK);
  assert.ok(pte_special(pteAt(h, 0, B + 15)));
  assert.deepEqual(choose(h, B + 1), { scanned: { 2: 1 }, order: 2 }, 'order 4 refused by the scan, order 2 taken');
  assert.deepEqual(choose(h, B + 13), { scanned: { 0: 1 }, order: 0 }, 'orders 4 and 2 both contain B+15');
  assert.deepEqual(choose(h, B + 17), { scanned: { 4: 1 }, order: 4 }, 'the next 16-block is untouched');
  // a real folio mapped by an order-0-only CPU also blocks the ranges that contain it
  const c1 = cpuWithConfig(h, 1, { anonOrders: [0] });
  writeFault(h, B + 22, c1);
  assert.deepEqual(choose(h, B + 17), { scanned: { 2: 1 }, order: 2 });
  assert.deepEqual(choose(h, B + 21), { scanned: { 0: 1 }, order: 0 });
  // the faults themselves map exactly what was chosen, next to the existing entries
  assert.equal(writeFault(h, B + 1).order, 2);
  assert.equal(writeFault(h, B + 13).order, 0);
  assert.ok(pte_special(pteAt(h, 0, B + 15)), 'the zero-page entry was not overwritten');
  assert.deepEqual(checkQuiescent(h.machine), []);
});

test('alloc_anon_folio: never order 1 (config rejects it; the fault path ignores it anyway)', () => {
  assert.throws(() => parseConfig({ anonOrders: [0, 1, 2] }, 'test.json'), (e: unknown) => e instanceof ConfigError && /test\.json: field "anonOrders"/.test(e.message));
  assert.throws(() => defaultConfig({ anonOrders: [1] }), /anonOrders/);
  assert.doesNotThrow(() => parseConfig({ anonOrders: [0, 2, 8] }));
  assert.doesNotThrow(() => parseConfig({ anonOrders: [0, PMD_ORDER] }), 'PMD order: the THP fault');
  assert.throws(() => parseConfig({ anonOrders: [0, PMD_ORDER + 1] }), /anonOrders/, 'nothing above PMD order');
  // a config object that bypassed validation: order 1 is still never chosen
  const h = setup();
  const c = cpuWithConfig(h, 0, { anonOrders: [0, 1, 2] });
  mapAnon(h, B, 2); // a 2-page VMA: only order 0 or 1 could fit
  const r = choose(h, B + 1, c);
  assert.equal(r.order, 0);
  assert.deepEqual(r.scanned, { 0: 1 });
  const f = writeFault(h, B + 1, c);
  assert.equal(f.order, 0);
  assert.equal(c.counters[EV.MAP_ANON + 1], 0);
  assert.deepEqual(checkQuiescent(h.machine), []);
});

test('alloc_anon_folio: allocation failure falls back to a lower order and counts ALLOC_FALLBACK', () => {
  const h = setup({ memoryPages: 1024, fragmentation: 0.3 });
  const { m, L } = h.machine;
  for (let o = 4; o <= L.maxOrder; o++) assert.equal(m[L.freeCount + o], 0, `precondition: no free block of order ${o}`);
  assert.ok(m[L.freeCount + 2] > 0, 'precondition: order-2 blocks exist');
  mapAnon(h, B, 32, { align: 16 });
  const cpu = h.cpus[0];
  assert.deepEqual(choose(h, B + 1), { scanned: { 4: 1 }, order: 2 }, 'scan chose 4, the allocator granted 2');
  assert.equal(cpu.counters[EV.ALLOC_FALLBACK + 4], 1);
  assert.equal(cpu.counters[EV.ALLOC_FALLBACK + 2], 0);
  // the fault maps the order-2 folio at the order-2 aligned range around the fault
  const f = writeFault(h, B + 6);
  assert.equal(f.order, 2);
  assert.equal(folioAt(h, 0, B + 4)?.folio, f.folio);
  assert.equal(pteAt(h, 0, B + 3), 0);
  assert.equal(pteAt(h, 0, B + 8), 0);
  assert.equal(cpu.counters[EV.ALLOC_FALLBACK + 4], 2);
  assert.deepEqual(checkQuiescent(h.machine), []);
  // exhaust order >= 2 as well: the fault falls back through 4 and 2 to order 0
  const hog: number[] = [];
  for (let p; (p = drive(alloc_folio(cpu, 2))) >= 0; ) hog.push(p);
  const g = writeFault(h, B + 17);
  assert.equal(g.order, 0);
  assert.equal(cpu.counters[EV.ALLOC_FALLBACK + 4], 3);
  assert.equal(cpu.counters[EV.ALLOC_FALLBACK + 2], 1);
  for (const p of hog) drive(folio_put(cpu, p));
  assert.deepEqual(checkQuiescent(h.machine), []);
  // control: unfragmented, no fallback
  const c = setup({ memoryPages: 1024 });
  mapAnon(c, B, 32, { align: 16 });
  assert.equal(choose(c, B + 1).order, 4);
  assert.equal(c.cpus[0].counters[EV.ALLOC_FALLBACK + 4], 0);
});

test('alloc_anon_folio: out of memory entirely returns -1 and the fault reports OOM without mapping', () => {
  const h = setup({ memoryPages: 1024 });
  const cpu = h.cpus[0];
  mapAnon(h, B, 16, { align: 16 });
  const hog: number[] = [];
  for (let p; (p = drive(alloc_folio(cpu, 0))) >= 0; ) hog.push(p);
  assert.equal(freePages(h.machine), 0);
  assert.equal(run(h, cpu, alloc_anon_folio(cpu, makeVmf(h, 0, B, true), PMD_ORDER - 1)), -1);
  assert.notEqual(run(h, cpu, handle_mm_fault(cpu, 0, B, true)), VM_FAULT_OK);
  assert.equal(cpu.counters[EV.ALLOC_OOM], 1);
  assert.equal(pteAt(h, 0, B), 0);
  for (const p of hog) drive(folio_put(cpu, p));
  assert.deepEqual(checkQuiescent(h.machine), []);
});

test('alloc_anon_folio: a fault at the last page of a PTE table gets a folio inside that table', () => {
  const h = setup();
  mapAnon(h, B - 32, 64, { align: 16 }); // [B-32, B+32) spans tables 1 and 2
  assert.notEqual(h.machine.tableIndex(0, B - 32), h.machine.tableIndex(0, B + 31));
  const f = writeFault(h, B - 1);
  assert.equal(f.order, 4);
  for (let i = 0; i < 16; i++) assert.equal(folioAt(h, 0, B - 16 + i)?.folio, f.folio);
  assert.equal(pteAt(h, 0, B), 0, 'nothing mapped in the next table');
  // the first page of the next table starts its own folio
  const g = writeFault(h, B);
  assert.equal(g.order, 4);
  assert.equal(folioAt(h, 0, B + 15)?.folio, g.folio);
  assert.deepEqual(checkQuiescent(h.machine), []);

  // the largest mTHP order (PMD_ORDER - 1) in a VMA covering two whole tables
  const big = setup({ anonOrders: [0, 2, 4, PMD_ORDER - 1] });
  mapAnon(big, PTRS_PER_PTE, 2 * PTRS_PER_PTE, { align: PTRS_PER_PTE }); // [512, 1536)
  const top = writeFault(big, 2 * PTRS_PER_PTE - 1);
  assert.equal(top.order, PMD_ORDER - 1);
  const base = 2 * PTRS_PER_PTE - (1 << (PMD_ORDER - 1));
  for (const v of [base, 2 * PTRS_PER_PTE - 1]) assert.equal(folioAt(big, 0, v)?.folio, top.folio);
  assert.equal(big.machine.tableIndex(0, base), big.machine.tableIndex(0, 2 * PTRS_PER_PTE - 1));
  assert.equal(pteAt(big, 0, 2 * PTRS_PER_PTE), 0);
  assert.equal(pteAt(big, 0, base - 1), 0);
  assert.deepEqual(checkQuiescent(big.machine), []);
});

test('do_anonymous_page: a read fault maps the shared zero page read-only; a later write copies it', () => {
  const h = setup();
  mapAnon(h, B, 16, { align: 16 });
  const cpu = h.cpus[0];
  assert.equal(run(h, cpu, handle_mm_fault(cpu, 0, B + 3, false)), VM_FAULT_OK);
  const z = pteAt(h, 0, B + 3);
  assert.ok(pte_special(z) && !pte_write(z));
  assert.equal(pte_pfn(z), 0);
  assert.equal(cpu.counters[EV.MAP_ZERO], 1);
  assert.equal(pteAt(h, 0, B + 2), 0, 'only the faulting entry');
  assert.equal(run(h, cpu, handle_mm_fault(cpu, 0, B + 3, true)), VM_FAULT_OK);
  assert.equal(cpu.counters[EV.WP_COPY], 1);
  const f = folioAt(h, 0, B + 3);
  assert.ok(f && f.pfn !== 0 && f.order === 0);
  assert.ok(pte_write(pteAt(h, 0, B + 3)));
  assert.deepEqual(checkQuiescent(h.machine), []);
});

/** The mapping state of [B, B+16) and its folio: PTEs, page mapcounts, AnonExclusive, refcount, total mapcount, RSS. */
function mapState(h: Harness, folio: number) {
  const { m, L } = h.machine;
  const pages = [...Array(16).keys()].map((i) => ({
    pte: pteAt(h, 0, B + i),
    mapcount: Atomics.load(m, L.pMapcount + folio + i),
    exclusive: (Atomics.load(m, L.pFlags + folio + i) & PG_ANON_EXCLUSIVE) !== 0,
  }));
  return { pages, ref: Atomics.load(m, L.fRef + folio), mapcount: Atomics.load(m, L.fMapcount + folio), rss: Atomics.load(m, h.machine.mmWord(0, MM.RSS_ANON)) };
}

test('do_anonymous_page batching: false maps an order-4 folio entry by entry (ref, rmap, set_pte_at per page) to the same end state', () => {
  const end: ReturnType<typeof mapState>[] = [];
  for (const batching of [true, false]) {
    const h = boot({ anonOrders: [0, 4], batching });
    mapAnon(h, B, 16, { align: 16 });
    const s = stepper(h, 0, handle_mm_fault(h.cpus[0], 0, B + 3, true));
    s.until(() => pte_present(pteAt(h, 0, B)), 'the first entry is set');
    const folio = folioOf(h.machine, pte_pfn(pteAt(h, 0, B)));
    const mid = mapState(h, folio);
    if (batching) {
      // one rmap and one reference add for all 16 before set_ptes starts
      assert.deepEqual(mid.pages.map((p) => p.mapcount), Array(16).fill(1));
      assert.equal(mid.ref, 16);
    } else {
      // only page 0 so far: its mapcount and the allocation's reference; page 1 untouched
      assert.deepEqual(mid.pages.map((p) => p.mapcount), [1, ...Array(15).fill(0)]);
      assert.deepEqual([mid.ref, mid.mapcount, mid.rss], [1, 1, 1]);
      assert.equal(mid.pages[1].pte, 0);
    }
    assert.equal(s.finish(), VM_FAULT_OK);
    assert.deepEqual(h.observed, [], 'refcount >= mapcount at every step');
    assert.deepEqual(checkQuiescent(h.machine), []);
    end.push(mapState(h, folio));
  }
  assert.deepEqual(end[1], end[0]);
  assert.equal(end[0].ref, 16);
  assert.ok(end[0].pages.every((p) => p.exclusive && p.mapcount === 1 && pte_write(p.pte)));
});

test('THP fault (do_huge_pmd_anonymous_page): a write into an untouched 2 MiB range maps one PMD_ORDER folio; a read, a populated table, a range past the VMA or a failed allocation go down the PTE path', () => {
  const h = boot({ anonOrders: [0, 4, PMD_ORDER], memoryPages: 4096 });
  mapAnon(h, B, 2 * PTRS_PER_PTE + 16, { align: PTRS_PER_PTE });
  // a write: the whole table, every page AnonExclusive, refcount and mapcount 512, RSS 512
  const f = writeFault(h, B + 77);
  assert.equal(f.order, PMD_ORDER);
  assert.equal(f.folio, pte_pfn(pteAt(h, 0, B)));
  for (const v of [B, B + 77, B + PTRS_PER_PTE - 1]) {
    assert.ok(pte_write(pteAt(h, 0, v)));
    assert.ok(Atomics.load(h.machine.m, h.machine.L.pFlags + v - B + f.folio) & PG_ANON_EXCLUSIVE);
  }
  assert.equal(folioRef(h.machine, f.folio), PTRS_PER_PTE);
  assert.equal(folioMapcount(h.machine, f.folio), PTRS_PER_PTE);
  assert.equal(Atomics.load(h.machine.m, h.machine.mmWord(0, MM.RSS_ANON)), PTRS_PER_PTE);
  assert.equal(h.cpus[0].counters[EV.MAP_ANON + PMD_ORDER], 1);
  // a read of the next table maps the zero page (no huge zero page in the model)
  const T2 = B + PTRS_PER_PTE;
  assert.equal(run(h, h.cpus[0], handle_mm_fault(h.cpus[0], 0, T2 + 3, false)), VM_FAULT_OK);
  assert.ok(pte_special(pteAt(h, 0, T2 + 3)));
  // that table is populated now: a write takes the PTE path (order 4 here)
  assert.equal(writeFault(h, T2 + 40).order, 4);
  // the last 16 pages: their table's 2 MiB range is not inside the VMA
  assert.equal(writeFault(h, T2 + PTRS_PER_PTE + 5).order, 4);
  assert.equal(h.cpus[0].counters[EV.MAP_ANON + PMD_ORDER], 1);
  assert.deepEqual(checkQuiescent(h.machine), []);
  // no free 2 MiB block (THP_FAULT_FALLBACK): the PTE path maps a smaller folio
  const g = boot({ anonOrders: [0, 4, PMD_ORDER], memoryPages: 4096, allocFailRate: 1 });
  mapAnon(g, B, PTRS_PER_PTE, { align: PTRS_PER_PTE });
  assert.equal(writeFault(g, B + 9).order, 0, 'every order > 0 fails under the knob');
  assert.equal(g.cpus[0].counters[EV.ALLOC_FALLBACK + PMD_ORDER], 1);
  assert.deepEqual(checkQuiescent(g.machine), []);
});
