// The data oracle and mremap (src/check/oracle.ts: mremapOracleBegin/End, mremapRace, oTag): the
// records move with the pages; moved content carries the vpn it was written at, which the page's
// tag names, so non-owner reads and the quiescent checker accept it; a zap in flight at either end
// makes the moved value "value or 0"; a store racing the move is the new page's alternative. A page
// that really lost its data after a move is still caught.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Violation } from '../../src/machine/cpu.js';
import {
  checkRead, expectOwner, makeFileToken, makeToken, mremapOracleBegin, mremapOracleEnd, mremapRace, recordWrite, tagOf, tokenBelongs, zapBegin, zapEnd, zapGen,
} from '../../src/check/oracle.js';
import { checkQuiescent } from '../../src/check/invariants.js';
import { dup_mm } from '../../src/linux/kernel/fork.js';
import { do_mremap } from '../../src/linux/mm/mremap.js';
import { user_access } from '../../src/workload/access.js';
import { MM } from '../../src/machine/layout.js';
import { pte_pfn } from '../../src/machine/pte.js';
import { boot, type Harness, invariants, mapAnon, mapFile, newAccessOut, pteAt, run, writePage } from '../helpers/machine.js';
import { folioOf } from '../../src/check/folio.js';

const B = 1024;
const D = 3072;

/** The owner's allowed values at (mm, vpn) now. */
const allowed = (h: Harness, vpn: number, mm = 0) => expectOwner(h.machine, mm, vpn, zapGen(h.machine, mm, vpn), zapGen(h.machine, mm, vpn));

/** checkRead by cpu of value at (mm, vpn), outside any zap: the violation's invariant, or null. */
function read(h: Harness, cpu: number, vpn: number, value: number, mm = 0): string | null {
  const g = zapGen(h.machine, mm, vpn);
  try {
    checkRead(h.cpus[cpu], mm, vpn, value, g, g, 123);
    return null;
  } catch (e) {
    if (e instanceof Violation) return e.invariant;
    throw e;
  }
}

/** Oracle-only move of n pages from B to D (no page tables involved). */
function move(h: Harness, from: number, to: number, n: number): void {
  mremapOracleBegin(h.machine, 0, from, to, n);
  mremapOracleEnd(h.machine, 0, from, n);
}

test('oracle mremap: records move to the new vpn; the old ones require 0; the tag names where the data was written', () => {
  const h = boot({ cpus: 2 });
  const t = makeToken(1, 0, B + 2);
  recordWrite(h.machine, 0, B + 2, t, 0, 0);
  assert.equal(tagOf(h.machine, 0, B + 2), B + 2);
  move(h, B, D, 4);
  assert.deepEqual(allowed(h, D + 2), [t]);
  assert.deepEqual(allowed(h, D), [0], 'never written: 0 moves as 0');
  assert.deepEqual(allowed(h, B + 2), [0], 'the old page lost its data');
  assert.equal(tagOf(h.machine, 0, D + 2), B + 2);
  assert.equal(tagOf(h.machine, 0, B + 2), B + 2, 'the old page holds nothing: its tag is its own vpn again');
  assert.ok(tokenBelongs(h.machine, 0, D + 2, t), 'moved content belongs to the new page');
  assert.ok(tokenBelongs(h.machine, 0, D + 2, makeToken(5, 0, D + 2)), 'and so does a token of the page itself');
  assert.ok(!tokenBelongs(h.machine, 0, D + 2, makeToken(1, 0, B + 3)), 'not one of another page');
  assert.equal(Atomics.load(h.machine.m, h.machine.mmWord(0, MM.MREMAP_SEQ)) & 1, 0, 'the window is closed');
  // a write at the new address makes the content the page's own again
  const u = makeToken(2, 0, D + 2);
  recordWrite(h.machine, 0, D + 2, u, 0, 0);
  assert.equal(tagOf(h.machine, 0, D + 2), D + 2);
  assert.ok(!tokenBelongs(h.machine, 0, D + 2, t), 'the moved token is stale once the page is rewritten');
});

test('oracle mremap: non-owner reads accept moved content and still catch foreign tokens', () => {
  const h = boot({ cpus: 2 });
  const v = B + 2; // owner CPU 0, so CPU 1 is a non-owner
  const t = makeToken(1, 0, v);
  recordWrite(h.machine, 0, v, t, 0, 0);
  move(h, B, D, 4);
  assert.equal(read(h, 1, D + 2, t), null);
  assert.equal(read(h, 1, D + 2, 0), null);
  assert.equal(read(h, 1, D + 2, makeToken(1, 0, B + 1)), 'data-foreign', 'a token of a neighbour of the old page');
  assert.equal(read(h, 1, D + 2, makeToken(1, 1, v)), 'data-foreign', 'the old vpn but another process');
  assert.equal(read(h, 0, D + 2, t), null, 'the owner reads it exactly');
  assert.equal(read(h, 0, D + 2, makeToken(2, 0, v)), 'data-mismatch', 'another version of the old page is a mismatch');
});

test('oracle mremap: a zap in flight on the old range (it ran before the move, or runs after on the old range) gives "value or 0"', () => {
  const h = boot({ cpus: 2 });
  const t = makeToken(1, 0, B);
  recordWrite(h.machine, 0, B, t, 0, 0);
  zapBegin(h.machine, 0, B, B + 4);
  move(h, B, D, 4);
  zapEnd(h.machine, 0, B, B + 4);
  assert.deepEqual(allowed(h, D), [t, 0]);
  assert.deepEqual(allowed(h, B), [0]);
});

test('oracle mremap: a zap marked on the target (it runs after the move) gives "value or 0"; one completed before does not', () => {
  const h = boot({ cpus: 2 });
  const t = makeToken(1, 0, B);
  recordWrite(h.machine, 0, B, t, 0, 0);
  // an earlier zap of the target range, completed: the moved data is not affected
  zapBegin(h.machine, 0, D, D + 4);
  zapEnd(h.machine, 0, D, D + 4);
  zapBegin(h.machine, 0, D + 1, D + 2); // waiting for the mmap_lock: runs after the move
  recordWrite(h.machine, 0, B + 1, makeToken(2, 0, B + 1), 0, 0);
  move(h, B, D, 4);
  assert.deepEqual(allowed(h, D), [t]);
  zapEnd(h.machine, 0, D + 1, D + 2);
  assert.deepEqual(allowed(h, D + 1), [makeToken(2, 0, B + 1), 0], 'the zap may have discarded it');
});

test('oracle mremap: a store racing the move is the new page\'s alternative, with its origin', () => {
  const h = boot({ cpus: 2 });
  const t1 = makeToken(1, 0, B + 1);
  recordWrite(h.machine, 0, B + 1, t1, 0, 0);
  mremapOracleBegin(h.machine, 0, B, D, 4);
  // the owner's store at the old address during the move (what user_access does when it sees the window)
  const g = zapGen(h.machine, 0, B + 1);
  const t2 = makeToken(2, 0, B + 1);
  recordWrite(h.machine, 0, B + 1, t2, g, g);
  mremapRace(h.machine, 0, B + 1, t2);
  mremapRace(h.machine, 0, B + 9, makeToken(3, 0, B + 9)); // outside the range moved: ignored
  mremapOracleEnd(h.machine, 0, B, 4);
  assert.deepEqual(allowed(h, D + 1), [t1, t2]);
  assert.deepEqual(allowed(h, D + 9), [0]);
  assert.deepEqual(allowed(h, B + 1), [t2, 0], 'the old page: the store raced the move\'s "zap" of it');
  assert.equal(read(h, 1, D + 1, t2), null, 'a non-owner accepts the racing store at the new address');
});

/** A real move of an order-4 folio's pages B..B+16 to D, every page written by its owner. */
function movedFolio() {
  const h = boot({ cpus: 2, anonOrders: [0, 4] });
  mapAnon(h, B, 16, { align: 16 });
  const tokens: number[] = [];
  for (let v = B; v < B + 16; v++) tokens.push(writePage(h, v % 2, 0, v).token);
  assert.equal(run(h, 0, do_mremap(h.cpus[0], 0, B, 16, D)), D);
  assert.deepEqual(checkQuiescent(h.machine), []);
  return { h, tokens };
}

test('oracle mremap: the quiescent checker catches a moved page that lost or changed its data', () => {
  {
    const { h } = movedFolio();
    Atomics.store(h.machine.m, h.machine.L.pContent + pte_pfn(pteAt(h, 0, D + 2)), 0);
    assert.deepEqual(invariants(checkQuiescent(h.machine)), ['data-mismatch'], 'content zeroed');
  }
  {
    const { h, tokens } = movedFolio();
    Atomics.store(h.machine.m, h.machine.L.pContent + pte_pfn(pteAt(h, 0, D + 2)), tokens[3]);
    assert.deepEqual(invariants(checkQuiescent(h.machine)), ['data-mismatch'], 'the content of the neighbouring page');
  }
  {
    // an entry lost in the move (accounting kept consistent, so only the data is missing)
    const { h } = movedFolio();
    const { m, L } = h.machine;
    const pfn = pte_pfn(pteAt(h, 0, D + 5));
    const folio = folioOf(h.machine, pfn);
    Atomics.store(m, h.machine.ptep(0, D + 5), 0);
    Atomics.sub(m, L.pMapcount + pfn, 1);
    Atomics.sub(m, L.fMapcount + folio, 1);
    Atomics.sub(m, L.fRef + folio, 1);
    Atomics.sub(m, h.machine.mmWord(0, MM.RSS_ANON), 1);
    Atomics.sub(m, L.fMmId + folio * 2, 1); // mm 0's MM_ID slot
    assert.deepEqual(invariants(checkQuiescent(h.machine)), ['data-lost']);
  }
});

test('oracle mremap: fork after a move: the child inherits the tags, its reads of moved content pass', () => {
  const { h, tokens } = movedFolio();
  const child = run(h, 0, dup_mm(h.cpus[0], 0));
  assert.ok(child > 0);
  assert.equal(tagOf(h.machine, child, D + 3), B + 3);
  for (let i = 0; i < 16; i++) {
    for (const cpu of [0, 1]) {
      const out = newAccessOut();
      run(h, cpu, user_access(h.cpus[cpu], child, D + i, false, 0, out));
      assert.equal(out.value, tokens[i]);
      checkRead(h.cpus[cpu], child, D + i, out.value, out.g1, out.g2, out.pfn);
    }
  }
  assert.deepEqual(checkQuiescent(h.machine), []);
});

test('oracle mremap onto a written page (MREMAP_FIXED): the moved record replaces the old one; a load of the old content judged only after the move is not held against it; a wrong value after the move is', () => {
  const h = boot({ cpus: 2 });
  const moved = makeToken(1, 0, B);
  recordWrite(h.machine, 0, B, moved, 0, 0);
  const old = makeToken(2, 0, D);
  recordWrite(h.machine, 0, D, old, 0, 0);
  const before = zapGen(h.machine, 0, D); // the owner's load of D, before the move
  move(h, B, D, 2);
  assert.deepEqual(allowed(h, D), [moved], 'the target holds what moved there');
  assert.notEqual(zapGen(h.machine, 0, D), before, 'the replaced page counts a completed zap (a pin there is detached)');
  assert.equal(checkReadBy(h, 0, D, old, before), null, 'threads: the load ran before the move, its check after');
  assert.equal(checkReadBy(h, 0, D, makeToken(3, 0, D), zapGen(h.machine, 0, D)), 'data-mismatch', 'after the move the record is exact');
  assert.equal(checkReadBy(h, 0, D, old, zapGen(h.machine, 0, D)), 'data-mismatch', 'the old content read after the move: the target was not replaced');
  assert.equal(checkReadBy(h, 0, D, moved, zapGen(h.machine, 0, D)), null);
});

/** checkRead by cpu of value at (mm 0, vpn), the load's zap word g: the violation's invariant, or null. */
function checkReadBy(h: Harness, cpu: number, vpn: number, value: number, g: number): string | null {
  try {
    checkRead(h.cpus[cpu], 0, vpn, value, g, g, 123);
    return null;
  } catch (e) {
    if (e instanceof Violation) return e.invariant;
    throw e;
  }
}

test('oracle: file content in an anon page is judged by the VMA at the address now as well as by the one the reader picked (an mremap may have replaced it)', () => {
  const h = boot({ cpus: 2, files: { count: 1, pages: 64, orders: [0], writenotify: 'off' } });
  mapFile(h, B, 16, { pgoff: 0, shared: false }); // private: a COW copy holds file content in an anon page
  const fp = h.machine.filePage(0, 4);
  const content = makeFileToken(1, fp);
  const at = (vmaFp: number) => {
    try {
      checkRead(h.cpus[1], 0, B + 4, content, 0, 0, 123, undefined, -1, vmaFp);
      return null;
    } catch (e) {
      if (e instanceof Violation) return e.invariant;
      throw e;
    }
  };
  assert.equal(at(fp), null, 'the VMA the reader picked maps that file page');
  assert.equal(at(-1), null, 'the reader picked an anon VMA that is gone: the VMA there now maps it');
  assert.equal(at(h.machine.filePage(0, 5)), null, 'likewise a stale file VMA');
  const other = makeFileToken(1, h.machine.filePage(0, 9));
  assert.throws(() => checkRead(h.cpus[1], 0, B + 4, other, 0, 0, 123, undefined, -1, -1), (e: unknown) => e instanceof Violation && e.invariant === 'data-foreign', 'a file page neither VMA maps there');
});
