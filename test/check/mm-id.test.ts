// The MM_ID slot check (src/check/mm-id.ts): a correct state first (no findings), then one thing
// broken by hand and the finding named. One test per invariant, named after it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { checkQuiescent, type Finding } from '../../src/check/invariants.js';
import { checkMmIds } from '../../src/check/mm-id.js';
import { FOLIO_MM_IDS_LOCK_BIT, FOLIO_MM_IDS_SHARED_BIT, MMID_COUNT, MMID_SHIFT, folio_mm_mapcount } from '../../src/linux/mm/rmap.js';
import { dup_mm, process_exit } from '../../src/linux/kernel/fork.js';
import { alloc_folio } from '../../src/linux/mm/page_alloc.js';
import { madvise_dontneed } from '../../src/linux/mm/madvise.js';
import { Violation } from '../../src/machine/cpu.js';
import { drive } from '../../src/machine/gen.js';
import type { Machine } from '../../src/machine/machine.js';
import { boot, folioAt, type Harness, invariants, isFree, mapAnon, run, writePage } from '../helpers/machine.js';
import { namedTests } from '../helpers/named-tests.js';

const B = 1024;
const { tested: TESTED, namedTest: invTest } = namedTests();

interface World {
  h: Harness;
  m: Int32Array;
  /** The order-4 anon folio mapped at [B, B+16) by mm 0 (and by the child after fork). */
  folio: number;
  /** Word of slot s of the folio. */
  slot: (s: number) => number;
  child: number;
}

/** mm 0 maps an order-4 anon folio at [B, B+16); forked: a child maps it too (both slots, shared). */
function world(forked = false): World {
  const h = boot({ anonOrders: [0, 4], cpus: 2 });
  mapAnon(h, B, 32, { align: 16 });
  writePage(h, 0, 0, B + 1);
  const f = folioAt(h, 0, B + 1)!;
  assert.equal(f.order, 4);
  const child = forked ? run(h, 0, dup_mm(h.cpus[0], 0)) : -1;
  if (forked) assert.ok(child > 0);
  const w: World = { h, m: h.machine.m, folio: f.folio, slot: (s) => h.machine.L.fMmId + f.folio * 2 + s, child };
  assert.deepEqual(checkQuiescent(h.machine), [], 'the correct state has no findings');
  return w;
}

function mmIdFindings(machine: Machine, reader?: typeof folio_mm_mapcount): Finding[] {
  const out: Finding[] = [];
  checkMmIds(machine, (invariant, details) => out.push({ invariant, path: 'quiescent', details }), undefined, reader);
  return out;
}

/** Both checkQuiescent and checkMmIds alone name exactly these invariants. */
function expectFindings(w: World, names: string[]): Finding[] {
  const found = checkQuiescent(w.h.machine);
  assert.deepEqual(invariants(found), [...names].sort(), JSON.stringify(found));
  assert.deepEqual(invariants(mmIdFindings(w.h.machine)), [...names].sort());
  return found;
}

const word = (mm: number, count: number): number => ((mm + 1) << MMID_SHIFT) | count;

test('mm-id: the slots as the model keeps them: one mm, then a fork (two slots, maybe shared), then the child exits', () => {
  const a = world();
  assert.equal(Atomics.load(a.m, a.slot(0)), word(0, 16));
  assert.equal(Atomics.load(a.m, a.slot(1)), 0);
  const b = world(true);
  assert.equal(Atomics.load(b.m, b.slot(0)), word(0, 16));
  assert.equal(Atomics.load(b.m, b.slot(1)), word(b.child, 16) | FOLIO_MM_IDS_SHARED_BIT);
  assert.equal(run(b.h, 0, process_exit(b.h.cpus[0], b.child)), true);
  assert.equal(Atomics.load(b.m, b.slot(1)), 0, 'the child\'s slot freed, and slot 0 holds every mapping again: not shared');
  assert.deepEqual(checkQuiescent(b.h.machine), []);
});

invTest('mm-id-mismatch: a slot count off by one, either way', () => {
  for (const d of [1, -1]) {
    const w = world();
    Atomics.add(w.m, w.slot(0), d);
    const [f] = expectFindings(w, ['mm-id-mismatch']);
    assert.equal(f.details.folio, w.folio);
    assert.match(String(f.details.why), d > 0 ? /slot 0 says mm 0 maps 17 pages, its PTEs map 16/ : /not maybe-shared, yet no slot holds all 16/);
  }
  // the child's slot of a forked folio, one too many (one too few is a legal state of a
  // maybe-shared folio: the child could have mapped a page while a third mm held the slot)
  const w = world(true);
  Atomics.add(w.m, w.slot(1), 1);
  const [f] = expectFindings(w, ['mm-id-mismatch']);
  assert.deepEqual(f.details.ptes, { 0: 16, [w.child]: 16 });
  Atomics.sub(w.m, w.slot(1), 2);
  assert.deepEqual(checkQuiescent(w.h.machine), []);
});

invTest('mm-id-mismatch: a slot with the wrong owner, two slots of one mm, a free slot with a count, an mm that does not exist', () => {
  const other = (w: World) => w.h.machine.L.maxMms - 1;
  let w = world();
  Atomics.store(w.m, w.slot(0), word(other(w), 16)); // another mm's, which maps nothing
  assert.match(String(expectFindings(w, ['mm-id-mismatch'])[0].details.why), /slot 0 says mm \d maps 16 pages, its PTEs map 0/);
  w = world();
  Atomics.store(w.m, w.slot(0), word(0, 8));
  Atomics.store(w.m, w.slot(1), word(0, 8) | FOLIO_MM_IDS_SHARED_BIT);
  assert.match(String(expectFindings(w, ['mm-id-mismatch'])[0].details.why), /both slots are mm 0's/);
  w = world();
  Atomics.store(w.m, w.slot(1), 3);
  assert.match(String(expectFindings(w, ['mm-id-mismatch'])[0].details.why), /slot 1 is free but counts 3/);
  w = world();
  Atomics.store(w.m, w.slot(0), word(w.h.machine.L.maxMms + 2, 16));
  assert.match(String(expectFindings(w, ['mm-id-mismatch'])[0].details.why), /does not exist/);
  w = world();
  Atomics.store(w.m, w.slot(0), word(0, 0));
  assert.match(String(expectFindings(w, ['mm-id-mismatch'])[0].details.why), /counts nothing/);
});

invTest('mm-id-mismatch: the slots of a mapped folio cleared (what page_alloc clearing another folio\'s slots leaves)', () => {
  let w = world();
  Atomics.store(w.m, w.slot(0), 0);
  Atomics.store(w.m, w.slot(1), 0);
  expectFindings(w, ['mm-id-mismatch']);
  w = world(true);
  Atomics.store(w.m, w.slot(0), 0);
  Atomics.store(w.m, w.slot(1), 0);
  expectFindings(w, ['mm-id-mismatch']);
});

invTest('mm-id-mismatch (at the change): slots overwritten behind rmap\'s back are caught when their mm next unmaps or forks', () => {
  const threw = (fn: () => unknown, path: string, why: RegExp) =>
    assert.throws(fn, (e: unknown) => e instanceof Violation && e.invariant === 'mm-id-mismatch' && e.path === path && why.test(String(e.details.why)));
  // control: the same unmap and fork on the correct state
  let w = world();
  assert.equal(run(w.h, 0, madvise_dontneed(w.h.cpus[0], 0, B + 2, B + 3)), 0);
  assert.ok(run(w.h, 0, dup_mm(w.h.cpus[0], 0)) > 0);
  assert.deepEqual(checkQuiescent(w.h.machine), []);
  // slot 0 cleared (what page_alloc clearing another folio's slots leaves)
  w = world();
  Atomics.store(w.m, w.slot(0), 0);
  threw(() => run(w.h, 0, madvise_dontneed(w.h.cpus[0], 0, B + 2, B + 3)), 'folio_sub_return_large_mapcount', /no slot holds all 16/);
  w = world();
  Atomics.store(w.m, w.slot(0), 0);
  threw(() => run(w.h, 0, dup_mm(w.h.cpus[0], 0)), 'folio_add_return_large_mapcount', /no slot holds all 16/);
  // a second slot that counts mappings the folio does not have
  w = world();
  Atomics.store(w.m, w.slot(1), word(1, 5) | FOLIO_MM_IDS_SHARED_BIT);
  threw(() => run(w.h, 0, madvise_dontneed(w.h.cpus[0], 0, B + 2, B + 3)), 'folio_sub_return_large_mapcount', /the slots count 21 mappings, the folio has 16/);
});

invTest('mm-id-mismatch: the maybe-shared bit set on a folio one slot holds, or clear on a forked one', () => {
  let w = world();
  Atomics.or(w.m, w.slot(1), FOLIO_MM_IDS_SHARED_BIT);
  assert.match(String(expectFindings(w, ['mm-id-mismatch'])[0].details.why), /maybe-shared, yet slot 0 holds all 16/);
  w = world(true);
  Atomics.and(w.m, w.slot(1), ~FOLIO_MM_IDS_SHARED_BIT);
  assert.match(String(expectFindings(w, ['mm-id-mismatch'])[0].details.why), /not maybe-shared, yet no slot holds all 32/);
});

invTest('mm-id-stale: slot words on a free page, a tail page, an unmapped folio', () => {
  // a free page after a free that left its slots (the kernel's free_pages_prepare: "nonzero mm mapcount")
  let w = world();
  const { L } = w.h.machine;
  const free = w.folio + 16;
  assert.ok(isFree(w.h.machine, free));
  Atomics.store(w.m, L.fMmId + free * 2, word(0, 1));
  let [f] = expectFindings(w, ['mm-id-stale']);
  assert.deepEqual([f.details.pfn, f.details.page], [free, 'free']);
  // a tail of the mapped folio
  w = world();
  Atomics.store(w.m, L.fMmId + (w.folio + 3) * 2 + 1, FOLIO_MM_IDS_SHARED_BIT);
  [f] = expectFindings(w, ['mm-id-stale']);
  assert.match(String(f.details.page), /a tail of the folio at/);
  // a new (not anon yet) folio whose slots page_alloc did not clear
  w = world();
  const nf = drive(alloc_folio(w.h.cpus[0], 0));
  Atomics.store(w.m, L.fMmId + nf * 2, word(0, 1));
  Atomics.store(w.m, L.fRef + nf, 0); // no refcount-mismatch: only the slots are wrong
  const found = checkQuiescent(w.h.machine).filter((x) => x.invariant !== 'refcount-mismatch');
  assert.deepEqual(invariants(found), ['mm-id-stale']);
});

invTest('lock-held-at-quiescence: the folio\'s mapcount lock (FOLIO_MM_IDS_LOCK_BIT) left held', () => {
  const w = world();
  Atomics.or(w.m, w.slot(0), FOLIO_MM_IDS_LOCK_BIT);
  const [f] = expectFindings(w, ['lock-held-at-quiescence']);
  assert.equal(f.details.lock, 'folio_lock_large_mapcount');
});

invTest('folio-mm-mapcount-wrong: folio_mm_mapcount reading another folio\'s slots, or slot 0 whoever owns it', () => {
  const w = world(true);
  assert.deepEqual(mmIdFindings(w.h.machine), []);
  // folio * 2 -> folio / 2: another folio's words
  const otherFolio: typeof folio_mm_mapcount = (machine, folio, mm) => {
    for (let s = 0; s < 2; s++) {
      const v = Atomics.load(machine.m, machine.L.fMmId + Math.trunc(folio / 2) + s);
      if (((v >>> MMID_SHIFT) & 0x7ff) === mm + 1) return v & MMID_COUNT;
    }
    return 0;
  };
  let found = mmIdFindings(w.h.machine, otherFolio);
  assert.deepEqual(invariants(found), ['folio-mm-mapcount-wrong']);
  assert.deepEqual([found[0].details.folio, found[0].details.slot, found[0].details.answer], [w.folio, 16, 0]);
  // the owner test dropped: slot 0's count for every mm
  const slot0: typeof folio_mm_mapcount = (machine, folio) => Atomics.load(machine.m, machine.L.fMmId + folio * 2) & MMID_COUNT;
  const one = world(); // one mm maps it: any other mm gets mm 0's count
  found = mmIdFindings(one.h.machine, slot0);
  assert.deepEqual(invariants(found), ['folio-mm-mapcount-wrong']);
  assert.deepEqual([found[0].details.mm, found[0].details.answer, found[0].details.slot], [1, 16, 0]);
});

test('every invariant name in src/check/mm-id.ts has a test here', () => {
  const text = readFileSync(new URL('../../../src/check/mm-id.ts', import.meta.url), 'utf8');
  const names = new Set<string>();
  for (const m of text.matchAll(/add\('([a-z0-9-]+)'/g)) names.add(m[1]);
  assert.ok(names.size >= 4, `found ${names.size} names`);
  assert.deepEqual([...names].filter((n) => !TESTED.has(n)).sort(), []);
});
