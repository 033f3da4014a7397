// The buddy allocator check (src/check/buddy.ts): a correct state first (no findings), then one
// thing broken by hand and the finding named. One test per invariant, named after it; and a clean
// random run that ends with none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { checkBuddy } from '../../src/check/buddy.js';
import { checkNoLeaks, checkQuiescent, type Finding } from '../../src/check/invariants.js';
import { checkMmIds } from '../../src/check/mm-id.js';
import { loadConfigFile } from '../../src/config/config.js';
import { runSched } from '../../src/engine/sched.js';
import { alloc_folio, free_folio } from '../../src/linux/mm/page_alloc.js';
import { drive } from '../../src/machine/gen.js';
import { type Machine, PG_BUDDY, PG_HEAD, POISON } from '../../src/machine/machine.js';
import { boot, folioAt, type Harness, invariants, isFree, mapAnon, run, writePage } from '../helpers/machine.js';
import { process_exit } from '../../src/linux/kernel/fork.js';
import { namedTests } from '../helpers/named-tests.js';

const B = 1024;
const { tested: TESTED, namedTest: invTest } = namedTests();

function buddyFindings(machine: Machine): Finding[] {
  const out: Finding[] = [];
  checkBuddy(machine, (invariant, details) => out.push({ invariant, path: 'quiescent', details }));
  return out;
}

/** Both checkQuiescent and checkBuddy alone name exactly these invariants. */
function expectFindings(h: Harness, names: string[]): Finding[] {
  const found = checkQuiescent(h.machine);
  assert.deepEqual(invariants(found), [...names].sort(), JSON.stringify(found));
  assert.deepEqual(invariants(buddyFindings(h.machine)), [...names].sort());
  return found;
}

/** A correct state with free blocks of several orders: a folio of order 4 mapped, an order-0 one allocated and freed. */
function world(): Harness {
  const h = boot({ anonOrders: [0, 4], cpus: 1 });
  mapAnon(h, B, 32, { align: 16 });
  writePage(h, 0, 0, B + 1);
  drive(free_folio(h.cpus[0], drive(alloc_folio(h.cpus[0], 0))));
  assert.deepEqual(checkQuiescent(h.machine), [], 'the correct state has no findings');
  return h;
}

/** The free blocks on list order, head first. */
function listed(h: Harness, order: number): number[] {
  const { m, L } = h.machine;
  const out: number[] = [];
  for (let p = m[L.freeHead + order]; p !== -1 && out.length <= L.pages; p = m[L.buddyNext + p]) out.push(p);
  return out;
}

/** The lowest order with at least n blocks listed. */
function orderWith(h: Harness, n: number, min = 0): number {
  for (let o = min; o <= h.machine.L.maxOrder; o++) if (listed(h, o).length >= n) return o;
  throw new Error(`no order with ${n} free blocks`);
}

test('buddy: a fresh machine, and one after faults and frees, pass; the free lists hold blocks of several orders', () => {
  const h = world();
  assert.deepEqual(buddyFindings(h.machine), []);
  const orders = [...Array(h.machine.L.maxOrder + 1).keys()].filter((o) => listed(h, o).length > 0);
  assert.ok(orders.length >= 4, `orders with free blocks: ${orders}`);
});

invTest('buddy-list-corrupt: a prev link, a loop, a misaligned head, a link outside memory, a block on two lists', () => {
  const why = (h: Harness) => String(expectFindings(h, ['buddy-list-corrupt'])[0].details.why);
  let h = world();
  let { m, L } = h.machine;
  let o = orderWith(h, 2);
  let [a, b] = listed(h, o);
  m[L.buddyPrev + b] = -1;
  assert.match(why(h), /prev link/);
  // the last block's next points back at the first: the walk meets it again (and stops)
  h = world();
  ({ m, L } = h.machine);
  o = orderWith(h, 2);
  const list = listed(h, o);
  m[L.buddyNext + list[list.length - 1]] = list[0];
  const found = checkQuiescent(h.machine);
  assert.ok(found.some((f) => f.invariant === 'buddy-list-corrupt' && /listed twice/.test(String(f.details.why))), JSON.stringify(found));
  assert.ok(!found.some((f) => f.invariant === 'free-count-mismatch'), 'a list walked only in part is not counted');
  // a head not aligned to its order: the list's first block of order >= 1 is said to start a page later
  h = world();
  ({ m, L } = h.machine);
  o = orderWith(h, 1, 1);
  [a] = listed(h, o);
  const next = m[L.buddyNext + a];
  m[L.freeHead + o] = a + 1;
  m[L.buddyNext + a + 1] = next;
  m[L.buddyPrev + a + 1] = -1;
  if (next >= 0) m[L.buddyPrev + next] = a + 1;
  assert.ok(invariants(checkQuiescent(h.machine)).includes('buddy-list-corrupt'));
  assert.match(String(buddyFindings(h.machine).find((f) => f.invariant === 'buddy-list-corrupt')!.details.why), /not aligned/);
  // a link outside memory
  h = world();
  ({ m, L } = h.machine);
  o = orderWith(h, 1);
  [a] = listed(h, o);
  const tail = listed(h, o).at(-1)!;
  m[L.buddyNext + tail] = L.pages + 3;
  assert.match(why(h), /outside memory/);
  // the same block also on another order's list
  h = world();
  ({ m, L } = h.machine);
  const lo = orderWith(h, 1);
  const hi = orderWith(h, 1, lo + 1);
  [a] = listed(h, lo);
  [b] = listed(h, hi);
  m[L.buddyNext + listed(h, hi).at(-1)!] = a;
  m[L.buddyPrev + a] = listed(h, hi).at(-1)!;
  assert.ok(buddyFindings(h.machine).some((f) => f.invariant === 'buddy-list-corrupt' && /also on the order-/.test(String(f.details.why))));
});

invTest('free-count-mismatch: freeCount disagrees with the list', () => {
  const h = world();
  const o = orderWith(h, 1);
  h.machine.m[h.machine.L.freeCount + o]++;
  const [f] = expectFindings(h, ['free-count-mismatch']);
  assert.deepEqual([f.details.order, f.details.listed], [o, listed(h, o).length]);
});

invTest('buddy-page-state: a free block\'s head without PG_HEAD (what L.pFlags - pfn at the merge leaves), a page\'s pHead, the head\'s order', () => {
  let h = world();
  let { m, L } = h.machine;
  const o = orderWith(h, 1, 2);
  let [a] = listed(h, o);
  m[L.pFlags + a] = PG_BUDDY;
  let [f] = expectFindings(h, ['buddy-page-state']);
  assert.deepEqual([f.details.pfn, f.details.block, f.details.flags], [a, a, PG_BUDDY]);
  h = world();
  ({ m, L } = h.machine);
  [a] = listed(h, o);
  m[L.pHead + a + 3] = a + 2;
  [f] = expectFindings(h, ['buddy-page-state']);
  assert.equal(f.details.pfn, a + 3);
  h = world();
  ({ m, L } = h.machine);
  [a] = listed(h, o);
  m[L.fOrder + a] = o - 1;
  [f] = expectFindings(h, ['buddy-page-state']);
  assert.equal(f.details.fOrder, o - 1);
});

invTest('free-page-written: a free page whose content is no longer the poison free_one_page wrote', () => {
  const h = world();
  const { m, L } = h.machine;
  const [a] = listed(h, orderWith(h, 1, 2));
  assert.equal(m[L.pContent + a + 2], POISON);
  m[L.pContent + a + 2] = 0x1234;
  const [f] = expectFindings(h, ['free-page-written']);
  assert.deepEqual([f.details.pfn, f.details.block], [a + 2, a]);
});

invTest('buddy-unmerged: two free buddies of one order on the list, not merged', () => {
  const h = world();
  const { m, L } = h.machine;
  const o = orderWith(h, 1, 1);
  const [a] = listed(h, o);
  // take the block off its list (it is the head) and list its halves instead, each a correct block
  const next = m[L.buddyNext + a];
  m[L.freeHead + o] = next;
  if (next >= 0) m[L.buddyPrev + next] = -1;
  m[L.freeCount + o]--;
  for (const half of [a + (1 << (o - 1)), a]) {
    m[L.pFlags + half] = PG_BUDDY | PG_HEAD;
    m[L.fOrder + half] = o - 1;
    for (let i = 0; i < 1 << (o - 1); i++) m[L.pHead + half + i] = half;
    const head = m[L.freeHead + o - 1];
    m[L.buddyNext + half] = head;
    m[L.buddyPrev + half] = -1;
    if (head >= 0) m[L.buddyPrev + head] = half;
    m[L.freeHead + o - 1] = half;
    m[L.freeCount + o - 1]++;
  }
  const [f] = expectFindings(h, ['buddy-unmerged']);
  assert.deepEqual([f.details.pfn, f.details.buddy, f.details.order], [a, a + (1 << (o - 1)), o - 1]);
});

invTest('buddy-flag-stray: PG_BUDDY on a page no free list holds', () => {
  const h = world();
  const { m, L } = h.machine;
  const p = drive(alloc_folio(h.cpus[0], 0)); // allocated, so on no list
  m[L.pFlags + p] = PG_BUDDY | PG_HEAD;
  m[L.fRef + p] = 0;
  const [f] = expectFindings(h, ['buddy-flag-stray']);
  assert.deepEqual([f.details.pfn, f.details.pages], [p, 1]);
});

invTest('page-accounting: a folio whose pages include a free block, or whose tail names another head', () => {
  let h = world();
  let { m, L } = h.machine;
  const folio = folioAt(h, 0, B + 1)!.folio;
  const p = drive(alloc_folio(h.cpus[0], 2)); // allocated, unmapped; refcount 1
  drive(free_folio(h.cpus[0], drive(alloc_folio(h.cpus[0], 0))));
  assert.deepEqual(buddyFindings(h.machine), []);
  m[L.pHead + p + 2] = folio;
  let [f] = buddyFindings(h.machine);
  assert.equal(f.invariant, 'page-accounting');
  assert.match(String(f.details.why), /is not its tail/);
  h = world();
  ({ m, L } = h.machine);
  const q = drive(alloc_folio(h.cpus[0], 0));
  assert.ok(isFree(h.machine, q + 1));
  m[L.fOrder + q] = 1; // now said to span the free page after it
  [f] = buddyFindings(h.machine);
  assert.equal(f.invariant, 'page-accounting');
  assert.match(String(f.details.why), /also in the free block/);
});

test('buddy and MM_ID slots after a short random nightly run: none at quiescence or after teardown', () => {
  const cfg = { ...loadConfigFile(new URL('../../../configs/nightly.json', import.meta.url).pathname), opsPerCpu: 150 };
  let owned = 0;
  for (const seed of [1, 2, 3]) {
    const r = runSched(cfg, seed, {
      beforeTeardown: (machine) => {
        const out: Finding[] = [];
        const add = (invariant: string, details: Record<string, unknown>) => out.push({ invariant, path: 'quiescent', details });
        checkBuddy(machine, add);
        checkMmIds(machine, add);
        assert.deepEqual(out, [], `seed ${seed}`);
        const { m, L } = machine;
        for (let p = 0; p < L.pages; p++) if (m[L.fMmId + p * 2]) owned++;
      },
    });
    assert.deepEqual(r.violations.map((v) => v.invariant), [], `seed ${seed}`);
  }
  assert.ok(owned > 100, `anon folios with an MM_ID slot at the ends: ${owned}`);
});

test('checkNoLeaks runs the buddy and MM_ID slot checks after teardown', () => {
  const h = world();
  assert.equal(run(h, 0, process_exit(h.cpus[0], 0)), true);
  assert.deepEqual(checkNoLeaks(h.machine), []);
  h.machine.m[h.machine.L.pContent + listed(h, orderWith(h, 1))[0]] = 0;
  assert.deepEqual(checkNoLeaks(h.machine).map((f) => [f.invariant, f.path]), [['free-page-written', 'teardown']]);
});

test('every invariant name in src/check/buddy.ts has a test here', () => {
  const text = readFileSync(new URL('../../../src/check/buddy.ts', import.meta.url), 'utf8');
  const names = new Set<string>();
  for (const m of text.matchAll(/add\('([a-z0-9-]+)'/g)) names.add(m[1]);
  assert.ok(names.size >= 7, `found ${names.size} names`);
  assert.deepEqual([...names].filter((n) => !TESTED.has(n)).sort(), []);
});
