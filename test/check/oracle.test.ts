// The data oracle's rules (src/check/oracle.ts): the owner's reads are exact; a zap in flight, or a
// write that raced one, allows "the value or 0"; a zap completed after a clean write requires 0;
// a stable read collapses the record; non-owners only check that a token belongs to this page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Violation } from '../../src/machine/cpu.js';
import {
  checkRead, collapse, expectOwner, freeBegin, freeEnd, freeMarked, makeToken, ownerOf, recordForkRace, recordWrite, tokenMm, tokenVpn, zapAbort, zapBegin, zapEnd, zapGen, zapInFlight,
} from '../../src/check/oracle.js';
import { POISON } from '../../src/machine/machine.js';
import { madvise_dontneed } from '../../src/linux/mm/madvise.js';
import { checkQuiescent } from '../../src/check/invariants.js';
import { user_access } from '../../src/workload/access.js';
import { boot, type Harness, mapAnon, newAccessOut, run, writePage } from '../helpers/machine.js';

const B = 1024;
const V = B + 4; // owner: CPU 0 of 2

function setup(): Harness {
  const h = boot({ cpus: 2 });
  assert.equal(ownerOf(h.machine, V), 0);
  return h;
}

/** checkRead by CPU cpu of value at V (load bracketed by zap words g1, g2): the violation's invariant, or null. */
function read(h: Harness, cpu: number, value: number, g1 = zapGen(h.machine, 0, V), g2 = g1, vpn = V, mm = 0): string | null {
  try {
    checkRead(h.cpus[cpu], mm, vpn, value, g1, g2, 123);
    return null;
  } catch (e) {
    if (e instanceof Violation) return e.invariant;
    throw e;
  }
}

test('oracle: tokens encode mm and vpn, are never 0 and never negative', () => {
  for (const version of [0, 1, 1022, 1023, 5000]) {
    for (const [mm, vpn] of [[0, 0], [7, 0x3ffff], [3, 1234]]) {
      const t = makeToken(version, mm, vpn);
      assert.ok(t > 0);
      assert.notEqual(t, POISON);
      assert.equal(tokenMm(t), mm);
      assert.equal(tokenVpn(t), vpn);
    }
  }
  assert.notEqual(makeToken(1, 0, V), makeToken(2, 0, V));
});

test('oracle: the owner reads exactly its last write (and 0 before any write)', () => {
  const h = setup();
  assert.equal(read(h, 0, 0), null, 'never written: 0');
  assert.equal(read(h, 0, makeToken(1, 0, V)), 'data-mismatch', 'never written: a token is wrong');
  const t1 = makeToken(1, 0, V);
  recordWrite(h.machine, 0, V, t1, 0, 0);
  assert.deepEqual(expectOwner(h.machine, 0, V, 0, 0), [t1]);
  assert.equal(read(h, 0, t1), null);
  assert.equal(read(h, 0, 0), 'data-mismatch', 'a clean write cannot read back as 0');
  assert.equal(read(h, 0, makeToken(2, 0, V)), 'data-mismatch', 'an older or newer token is wrong');
  const t2 = makeToken(2, 0, V);
  recordWrite(h.machine, 0, V, t2, 0, 0);
  assert.equal(read(h, 0, t1), 'data-mismatch', 'the previous write is stale');
  assert.equal(read(h, 0, t2), null);
  assert.equal(read(h, 0, POISON), 'data-poison');
});

test('oracle: a write racing a zap (zap in flight) allows the value or 0', () => {
  const h = setup();
  const t = makeToken(1, 0, V);
  zapBegin(h.machine, 0, V, V + 1);
  const g = zapGen(h.machine, 0, V);
  assert.ok(zapInFlight(g));
  recordWrite(h.machine, 0, V, t, g, g);
  // while the zap is still in flight
  assert.deepEqual(expectOwner(h.machine, 0, V, g, g), [t, 0]);
  assert.equal(read(h, 0, t), null);
  assert.equal(read(h, 0, 0), null);
  assert.equal(read(h, 0, makeToken(2, 0, V)), 'data-mismatch', 'only the value or 0');
  // after the zap completed, the raced write is still "there or gone"
  zapEnd(h.machine, 0, V, V + 1);
  const g2 = zapGen(h.machine, 0, V);
  assert.ok(!zapInFlight(g2));
  assert.deepEqual(expectOwner(h.machine, 0, V, g2, g2), [t, 0]);
  // a write whose store straddled the end of a zap (g1 != g2) raced it too
  const t2 = makeToken(2, 0, V);
  zapBegin(h.machine, 0, V, V + 1);
  const a = zapGen(h.machine, 0, V);
  zapEnd(h.machine, 0, V, V + 1);
  const b = zapGen(h.machine, 0, V);
  recordWrite(h.machine, 0, V, t2, a, b);
  assert.deepEqual(expectOwner(h.machine, 0, V, b, b), [t2, 0]);
});

test('oracle: a zap completed after a clean write requires 0; a zap in flight during the read allows both', () => {
  const h = setup();
  const t = makeToken(1, 0, V);
  recordWrite(h.machine, 0, V, t, 0, 0);
  zapBegin(h.machine, 0, V, V + 1);
  const during = zapGen(h.machine, 0, V);
  assert.equal(read(h, 0, t, during, during), null, 'zap in flight: still there');
  assert.equal(read(h, 0, 0, during, during), null, 'zap in flight: already gone');
  zapEnd(h.machine, 0, V, V + 1);
  const after = zapGen(h.machine, 0, V);
  // a load that straddles the zap's end (g1 != g2) may see either
  assert.equal(read(h, 0, t, during, after), null);
  assert.deepEqual(expectOwner(h.machine, 0, V, after, after), [0]);
  assert.equal(read(h, 0, t, after, after), 'data-mismatch', 'the zap must have discarded the write');
  assert.equal(read(h, 0, 0, after, after), null);
});

test('oracle: overlapping zaps stay "in flight" until the last one ends; an aborted zap changes nothing', () => {
  const h = setup();
  const t = makeToken(1, 0, V);
  recordWrite(h.machine, 0, V, t, 0, 0);
  zapBegin(h.machine, 0, V, V + 8);
  zapBegin(h.machine, 0, V, V + 1);
  zapEnd(h.machine, 0, V, V + 1);
  assert.ok(zapInFlight(zapGen(h.machine, 0, V)), 'one of two zaps still running');
  assert.equal(read(h, 0, t), null);
  zapEnd(h.machine, 0, V, V + 8);
  assert.ok(!zapInFlight(zapGen(h.machine, 0, V)));
  assert.equal(read(h, 0, t), 'data-mismatch');
  // abort: a munmap that failed (ENOMEM) zapped nothing, so a clean write stays exact
  const W = V + 2;
  const u = makeToken(3, 0, W);
  recordWrite(h.machine, 0, W, u, zapGen(h.machine, 0, W), zapGen(h.machine, 0, W));
  const before = zapGen(h.machine, 0, W);
  zapBegin(h.machine, 0, W, W + 1);
  zapAbort(h.machine, 0, W, W + 1);
  assert.equal(zapGen(h.machine, 0, W), before);
  assert.equal(read(h, 0, u, before, before, W), null);
  assert.equal(read(h, 0, 0, before, before, W), 'data-mismatch');
});

test('oracle: a stable read collapses "value or 0" to what was read', () => {
  const h = setup();
  const t = makeToken(1, 0, V);
  zapBegin(h.machine, 0, V, V + 1);
  const g = zapGen(h.machine, 0, V);
  recordWrite(h.machine, 0, V, t, g, g);
  zapEnd(h.machine, 0, V, V + 1);
  assert.equal(read(h, 0, 0), null, 'gone: legal, and now known');
  assert.equal(read(h, 0, t), 'data-mismatch', 'after reading 0 the write cannot come back');
  // the same through collapse() directly
  collapse(h.machine, 0, V, t, zapGen(h.machine, 0, V));
  assert.deepEqual(expectOwner(h.machine, 0, V, zapGen(h.machine, 0, V), zapGen(h.machine, 0, V)), [t]);
  // a read during a zap does not collapse
  zapBegin(h.machine, 0, V, V + 1);
  assert.equal(read(h, 0, 0), null);
  zapEnd(h.machine, 0, V, V + 1);
  assert.equal(read(h, 0, 0), null, 'the zap after the (clean) collapse requires 0');
});

test('oracle: a non-owner accepts 0 and tokens of this page, and catches foreign tokens (data-foreign)', () => {
  const h = setup();
  const other = 1;
  assert.equal(read(h, other, 0), null);
  assert.equal(read(h, other, makeToken(9, 0, V)), null, 'any version of this page: the owner may have written it since');
  assert.equal(read(h, other, makeToken(9, 0, V + 1)), 'data-foreign', 'a token of the next page');
  assert.equal(read(h, other, makeToken(9, 1, V)), 'data-foreign', 'a token of another process, same vpn');
  assert.equal(read(h, other, POISON), 'data-poison');
  // the owner checks the token's page and lineage first, like everyone
  assert.equal(read(h, 0, makeToken(9, 0, V + 1)), 'data-foreign');
  // and is exact beyond it: another version of this very page is a mismatch
  assert.equal(read(h, 0, makeToken(9, 0, V)), 'data-mismatch');
});

test('oracle end to end: a clean write then an announced MADV_DONTNEED reads 0; the same zap unannounced is caught', () => {
  for (const announce of [true, false]) {
    const h = setup();
    mapAnon(h, B, 16, { align: 16 });
    writePage(h, 0, 0, V);
    if (announce) zapBegin(h.machine, 0, B, B + 16);
    assert.equal(run(h, 1, madvise_dontneed(h.cpus[1], 0, B, B + 16)), 0);
    if (announce) zapEnd(h.machine, 0, B, B + 16);
    const out = newAccessOut();
    run(h, 0, user_access(h.cpus[0], 0, V, false, 0, out));
    assert.equal(out.value, 0, 'the page was zapped: a read faults in the zero page');
    assert.equal(read(h, 0, out.value, out.g1, out.g2), announce ? null : 'data-mismatch');
    if (announce) assert.deepEqual(checkQuiescent(h.machine), []);
  }
});

test('oracle end to end: a write racing MADV_DONTNEED is accepted whichever way the race went', () => {
  for (const zapFirst of [true, false]) {
    const h = setup();
    mapAnon(h, B, 16, { align: 16 });
    writePage(h, 0, 0, V); // an earlier clean write, so the page is mapped
    zapBegin(h.machine, 0, B, B + 16);
    if (zapFirst) run(h, 1, madvise_dontneed(h.cpus[1], 0, B, B + 16));
    const w = writePage(h, 0, 0, V); // recorded with the zap in flight
    if (!zapFirst) run(h, 1, madvise_dontneed(h.cpus[1], 0, B, B + 16));
    zapEnd(h.machine, 0, B, B + 16);
    const out = newAccessOut();
    run(h, 0, user_access(h.cpus[0], 0, V, false, 0, out));
    assert.equal(out.value, zapFirst ? w.token : 0);
    assert.equal(read(h, 0, out.value, out.g1, out.g2), null);
    assert.deepEqual(checkQuiescent(h.machine), []);
  }
});

test('oracle: a token the record holds as its alternative (a write that raced a fork) is not foreign, whatever the tag', () => {
  const h = setup();
  // the page's data moved here from V + 40 (tag), then a parent's write of this page raced a fork
  const i = h.machine.oracleIndex(0, V);
  Atomics.store(h.machine.m, h.machine.L.oTag + i, V + 40);
  const raced = makeToken(5, 0, V);
  recordForkRace(h.machine, 0, V, raced);
  assert.equal(read(h, 1, raced), null, 'the alternative belongs');
  assert.equal(read(h, 1, makeToken(6, 0, V + 40)), null, 'a token of the tag belongs');
  assert.equal(read(h, 1, makeToken(7, 0, V + 41)), 'data-foreign', 'anything else is still foreign');
});

test('oracle: a MADV_FREE that marks the page after the writer judged it unraced, before the record, keeps its mark (threads: a lost mark made a discarded lazyfree page data-lost)', () => {
  const h = boot({ cpus: 2 });
  mapAnon(h, B, 4);
  const t = makeToken(1, 0, B);
  // the writer's store saw no MADV_FREE (freeRaced false); then a MADV_FREE of the page begins and
  // marks it (freeBegin), still in flight; then the writer records
  const g = zapGen(h.machine, 0, B); // the zap word around the store: before the MADV_FREE's
  freeBegin(h.machine, 0, B, B + 1);
  recordWrite(h.machine, 0, B, t, g, g, false);
  assert.ok(freeMarked(h.machine, 0, B), 'the page stays discardable: its dirty bit may go to the MADV_FREE');
  freeEnd(h.machine, 0, B, B + 1);
  // with no MADV_FREE about, a write clears the mark (it dirtied the page again)
  recordWrite(h.machine, 0, B, makeToken(2, 0, B), zapGen(h.machine, 0, B), zapGen(h.machine, 0, B), false);
  assert.ok(!freeMarked(h.machine, 0, B));
  // a stable read keeps a mark (collapse clears only the alternatives), in one atomic step
  freeBegin(h.machine, 0, B, B + 1);
  freeEnd(h.machine, 0, B, B + 1);
  collapse(h.machine, 0, B, makeToken(2, 0, B), zapGen(h.machine, 0, B));
  assert.ok(freeMarked(h.machine, 0, B));
});
