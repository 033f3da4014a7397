// MADV_DONTFORK / MADV_DOFORK (src/mm/madvise.ts, split_vma and vma_modify_flags in src/mm/mmap.ts):
// VM_DONTFORK on a range, splitting VMAs at its edges (ENOMEM without a free slot, nothing changed;
// ENOMEM after changing the mapped parts for a range with holes). A split inside a large folio
// leaves it mapped by two VMAs: fork leaves the DONTFORK part out of the child, and every zap and
// fork batch stays inside its VMA (with the deviation batch-past-table it does not: batch-bounds).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Violation } from '../../../src/machine/cpu.js';
import { checkNoLeaks, checkQuiescent } from '../../../src/check/invariants.js';
import { checkRead, ownerOf, zapBegin, zapEnd } from '../../../src/check/oracle.js';
import { dup_mm, process_exit } from '../../../src/linux/kernel/fork.js';
import { madvise_dontfork, madvise_dontneed } from '../../../src/linux/mm/madvise.js';
import { do_munmap, split_vma, vmas } from '../../../src/linux/mm/mmap.js';
import { ACCESS_OK, user_access } from '../../../src/workload/access.js';
import { EV } from '../../../src/machine/events.js';
import { VM_DONTFORK } from '../../../src/machine/machine.js';
import { bigFolio, boot, folioAt, type Harness, invariants, mapAnon, newAccessOut, pteAt, run, total, writePage, folioMapcount, folioRef, pageMapcount } from '../../helpers/machine.js';

const B = 1024;

const layout = (h: Harness, mm = 0) => vmas(h.machine, mm).map((v) => [v.start, v.end, (v.flags & VM_DONTFORK) !== 0]);
const dontfork = (h: Harness, start: number, end: number, on = true, mm = 0) => run(h, 0, madvise_dontfork(h.cpus[0], mm, start, end, on));

/** A load by cpu at (mm, vpn), checked by the oracle; returns the value. */
function load(h: Harness, cpu: number, mm: number, vpn: number): number {
  const out = newAccessOut();
  run(h, cpu, user_access(h.cpus[cpu], mm, vpn, false, 0, out));
  assert.equal(out.status, ACCESS_OK);
  checkRead(h.cpus[cpu], mm, vpn, out.value, out.g1, out.g2, out.pfn);
  return out.value;
}

test('MADV_DONTFORK splits the VMA at the range edges; MADV_DOFORK clears the flag and the VMA is whole again', () => {
  const h = boot({ anonOrders: [0, 4] });
  mapAnon(h, B, 64);
  assert.equal(dontfork(h, B + 16, B + 32), 0);
  assert.deepEqual(layout(h), [[B, B + 16, false], [B + 16, B + 32, true], [B + 32, B + 64, false]]);
  assert.equal(dontfork(h, B + 8, B + 40), 0, 'overlapping the first range');
  assert.deepEqual(layout(h), [[B, B + 8, false], [B + 8, B + 40, true], [B + 40, B + 64, false]], 'the changed parts merge');
  assert.equal(dontfork(h, B + 8, B + 40, false), 0);
  assert.deepEqual(layout(h), [[B, B + 64, false]]);
  assert.equal(dontfork(h, B + 8, B + 40, false), 0, 'MADV_DOFORK where the flag is clear: nothing to do');
  assert.deepEqual(layout(h), [[B, B + 64, false]], 'and no split');
  assert.equal(total(h, EV.DONTFORK), 2);
  assert.equal(total(h, EV.DOFORK), 2);
});

test('MADV_DONTFORK over a hole: ENOMEM after changing what is mapped (like the kernel)', () => {
  const h = boot({ anonOrders: [0, 4] });
  mapAnon(h, B, 16);
  mapAnon(h, B + 32, 16);
  assert.equal(dontfork(h, B + 8, B + 40), -1);
  assert.deepEqual(layout(h), [[B, B + 8, false], [B + 8, B + 16, true], [B + 32, B + 40, true], [B + 40, B + 48, false]]);
  assert.equal(dontfork(h, B + 100, B + 110), -1, 'nothing mapped at all');
});

test('MADV_DONTFORK: ENOMEM without a free VMA slot for a split, and nothing changed', () => {
  const h = boot({ anonOrders: [0, 4], maxVmas: 2 });
  mapAnon(h, B, 16);
  assert.equal(dontfork(h, B + 4, B + 8), -1, 'the middle needs two new slots, one is free');
  assert.deepEqual(layout(h), [[B, B + 16, false]]);
  assert.equal(dontfork(h, B, B + 8), 0, 'the head needs one');
  assert.deepEqual(layout(h), [[B, B + 8, true], [B + 8, B + 16, false]]);
  assert.equal(dontfork(h, B + 12, B + 16), -1, 'no slot left');
  assert.deepEqual(layout(h), [[B, B + 8, true], [B + 8, B + 16, false]]);
  assert.equal(dontfork(h, B + 8, B + 16), 0, 'a whole VMA needs no split (and merges with its neighbour)');
  assert.deepEqual(layout(h), [[B, B + 16, true]]);
  // split_vma itself
  const v = vmas(h.machine, 0)[0];
  assert.ok(split_vma(h.machine, 0, v, B + 4));
  assert.equal(split_vma(h.machine, 0, vmas(h.machine, 0)[0], B + 2), null, 'ENOMEM');
  assert.deepEqual(layout(h), [[B, B + 4, true], [B + 4, B + 16, true]]);
});

test('DONTFORK inside a large folio, then fork: the child lacks that range; the folio is mapped by two VMAs', () => {
  const h = boot({ anonOrders: [0, 4] });
  const tokens = bigFolio(h);
  const f = folioAt(h, 0, B)!;
  assert.equal(dontfork(h, B + 4, B + 16), 0);
  assert.deepEqual(layout(h), [[B, B + 4, false], [B + 4, B + 16, true]]);
  assert.deepEqual(checkQuiescent(h.machine), []);
  const child = run(h, 0, dup_mm(h.cpus[0], 0));
  assert.ok(child > 0);
  assert.deepEqual(layout(h, child), [[B, B + 4, false]]);
  for (let i = 0; i < 16; i++) {
    assert.equal(pageMapcount(h.machine, f.folio + i), i < 4 ? 2 : 1, `page ${i}`);
    if (i >= 4) assert.equal(pteAt(h, child, B + i), 0, 'the child has nothing there');
  }
  assert.equal(folioMapcount(h.machine, f.folio), 20);
  assert.equal(folioRef(h.machine, f.folio), 20);
  assert.deepEqual(checkQuiescent(h.machine), []);
  for (let i = 0; i < 4; i++) assert.equal(load(h, i % 2, child, B + i), tokens[i], 'the child reads the shared part');
  // COW still separates them; the DONTFORK part stays writable and exclusive in the parent
  const w = writePage(h, 0, 0, B);
  assert.equal(load(h, 1, child, B), tokens[0]);
  assert.equal(load(h, 0, 0, B), w.token);
  for (let i = 4; i < 16; i++) assert.equal(load(h, i % 2, 0, B + i), tokens[i]);
  assert.deepEqual(checkQuiescent(h.machine), []);
  run(h, 0, process_exit(h.cpus[0], child));
  run(h, 0, process_exit(h.cpus[0], 0));
  assert.deepEqual(checkNoLeaks(h.machine), []);
});

test('DONTFORK split inside a large folio: a zap of one VMA does not touch the other', () => {
  for (const which of ['first', 'second'] as const) {
    const h = boot({ anonOrders: [0, 4] });
    const tokens = bigFolio(h);
    const f = folioAt(h, 0, B)!;
    assert.equal(dontfork(h, B + 4, B + 16), 0);
    const [s, e] = which === 'first' ? [B, B + 4] : [B + 4, B + 16];
    zapBegin(h.machine, 0, s, e);
    assert.equal(run(h, 1, do_munmap(h.cpus[1], 0, s, e)), 0);
    zapEnd(h.machine, 0, s, e);
    assert.deepEqual(checkQuiescent(h.machine), []);
    for (let i = 0; i < 16; i++) {
      const inZap = B + i >= s && B + i < e;
      assert.equal(pageMapcount(h.machine, f.folio + i), inZap ? 0 : 1, `${which}: page ${i}`);
      if (!inZap) assert.equal(load(h, i % 2, 0, B + i), tokens[i]);
    }
    assert.equal(folioRef(h.machine, f.folio), which === 'first' ? 12 : 4);
  }
});

/**
 * batch-past-table (no cap at the PTE table or VMA end): after a DONTFORK split at B+4 inside an
 * order-4 folio, a zap of the first VMA, or a fork (which copies only the first VMA), batches the
 * whole folio and crosses into the other VMA: batch-bounds. Clean without the deviation.
 */
function splitThen(inject: string[], what: 'dontneed' | 'munmap' | 'fork'): string[] {
  const h = boot({ anonOrders: [0, 4], inject });
  bigFolio(h);
  assert.equal(dontfork(h, B + 4, B + 16), 0);
  try {
    if (what === 'fork') assert.ok(run(h, 0, dup_mm(h.cpus[0], 0)) > 0);
    else {
      zapBegin(h.machine, 0, B, B + 4);
      run(h, 1, what === 'munmap' ? do_munmap(h.cpus[1], 0, B, B + 4) : madvise_dontneed(h.cpus[1], 0, B, B + 4));
      zapEnd(h.machine, 0, B, B + 4);
    }
  } catch (e) {
    if (!(e instanceof Violation)) throw e;
    return invariants([{ invariant: e.invariant }, ...h.observed]);
  }
  return invariants([...checkQuiescent(h.machine), ...h.observed]);
}

for (const what of ['dontneed', 'munmap', 'fork'] as const) {
  test(`deviation batch-past-table: caught after a DONTFORK split inside a large folio (${what} of the first VMA); clean without it`, () => {
    assert.deepEqual(splitThen([], what), [], 'control: the kernel algorithm passes');
    assert.deepEqual(splitThen(['batch-past-table'], what), ['batch-bounds']);
  });
}
