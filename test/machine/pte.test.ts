import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PFN_MAX, PFN_SHIFT, PTE_CONT, PTE_DIRTY, PTE_FLAG_MASK, PTE_PRESENT, PTE_SOFT_DIRTY, PTE_SPECIAL, PTE_UFFD_WP, PTE_WRITE, PTE_YOUNG,
  pfn_pte, pte_advance_pfn, pte_cont, pte_dirty, pte_mkclean, pte_mkspecial, pte_mkwrite, pte_none,
  pte_pfn, pte_present, pte_special, pte_write, pte_wrprotect, pte_young, pteToString,
} from '../../src/machine/pte.js';
import { rng } from '../../src/workload/program.js';

const FLAGS = [PTE_PRESENT, PTE_WRITE, PTE_DIRTY, PTE_YOUNG, PTE_CONT, PTE_SPECIAL, PTE_SOFT_DIRTY, PTE_UFFD_WP];

test('pte: flag bits are distinct single bits inside PTE_FLAG_MASK, below the PFN field', () => {
  let all = 0;
  for (const f of FLAGS) {
    assert.equal(f & (f - 1), 0, `flag ${f} is one bit`);
    assert.equal(all & f, 0, `flag ${f} overlaps another`);
    all |= f;
  }
  assert.equal(all, PTE_FLAG_MASK);
  assert.ok(PTE_FLAG_MASK < 1 << PFN_SHIFT);
});

test('pte: pfn round trips for 0, 1, powers of two and PFN_MAX, with any flags', () => {
  const pfns = [0, 1, 2, 511, 512, 4095, PFN_MAX - 1, PFN_MAX];
  for (let b = 0; b < 23; b++) pfns.push(1 << b);
  const rand = rng(7, 'pte');
  for (let i = 0; i < 500; i++) pfns.push(Math.floor(rand() * (PFN_MAX + 1)));
  for (const pfn of pfns) {
    for (const flags of [0, PTE_WRITE, PTE_FLAG_MASK, PTE_DIRTY | PTE_YOUNG]) {
      const pte = pfn_pte(pfn, flags);
      assert.equal(pte_pfn(pte), pfn, `pfn ${pfn} flags ${flags}`);
      assert.equal(pte & PTE_FLAG_MASK, flags | PTE_PRESENT);
      assert.ok(pte > 0, `sign bit never set: pfn ${pfn} -> ${pte}`);
      assert.equal(pte, pte | 0, 'is an Int32');
    }
  }
});

test('pte: pfn_pte ignores flag bits outside the mask (they cannot leak into the pfn)', () => {
  const pte = pfn_pte(5, 0xfff00 | PTE_WRITE);
  assert.equal(pte_pfn(pte), 5);
  assert.equal(pte & PTE_FLAG_MASK, PTE_PRESENT | PTE_WRITE);
});

test('pte: every flag bit is set and cleared independently of the others and of the pfn', () => {
  const pfn = 0x12345;
  const setters: [number, (p: number) => number, (p: number) => number, (p: number) => boolean][] = [
    [PTE_WRITE, pte_mkwrite, pte_wrprotect, pte_write],
    // (the kernel paths build entries with these bits and the MMU sets them: the model has no pte_mkdirty, pte_mkyoung or pte_mkold)
    [PTE_DIRTY, (p) => p | PTE_DIRTY, pte_mkclean, pte_dirty],
    [PTE_YOUNG, (p) => p | PTE_YOUNG, (p) => p & ~PTE_YOUNG, pte_young],
  ];
  for (let base = 0; base <= PTE_FLAG_MASK; base++) {
    const pte = pfn_pte(pfn, base);
    for (const [bit, mk, clear, test] of setters) {
      const on = mk(pte);
      const off = clear(pte);
      assert.equal(test(on), true);
      assert.equal(test(off), false);
      assert.equal(on & ~bit, pte & ~bit, 'set touches only its bit');
      assert.equal(off & ~bit, pte & ~bit, 'clear touches only its bit');
      assert.equal(pte_pfn(on), pfn);
      assert.equal(pte_pfn(off), pfn);
    }
    assert.equal(pte_special(pte_mkspecial(pte)), true);
    assert.equal(pte_mkspecial(pte) & ~PTE_SPECIAL, pte & ~PTE_SPECIAL);
    assert.equal(pte_cont(pte), (base & PTE_CONT) !== 0);
    assert.equal(pte_present(pte), true);
  }
});

test('pte: pte_advance_pfn moves only the pfn and keeps every flag', () => {
  for (const flags of [0, PTE_FLAG_MASK, PTE_WRITE | PTE_DIRTY, PTE_CONT | PTE_YOUNG]) {
    const pte = pfn_pte(1000, flags);
    for (const nr of [0, 1, 15, 16, 511]) {
      const a = pte_advance_pfn(pte, nr);
      assert.equal(pte_pfn(a), 1000 + nr);
      assert.equal(a & PTE_FLAG_MASK, pte & PTE_FLAG_MASK);
    }
    // step by step equals one jump (set_ptes advances per entry)
    let p = pte;
    for (let i = 0; i < 16; i++) p = pte_advance_pfn(p, 1);
    assert.equal(p, pte_advance_pfn(pte, 16));
  }
  // up to the last pfn, never the sign bit
  const top = pte_advance_pfn(pfn_pte(PFN_MAX - 16, PTE_FLAG_MASK), 16);
  assert.equal(pte_pfn(top), PFN_MAX);
  assert.ok(top > 0);
});

test('pte: none is exactly 0; every encoded entry (even pfn 0, the zero page) is present, not none', () => {
  assert.equal(pte_none(0), true);
  assert.equal(pte_present(0), false);
  assert.equal(pteToString(0), 'none');
  for (const pte of [pfn_pte(0, 0), pfn_pte(0, PTE_SPECIAL), pfn_pte(1, 0), pfn_pte(PFN_MAX, PTE_FLAG_MASK)]) {
    assert.equal(pte_none(pte), false);
    assert.equal(pte_present(pte), true);
  }
  // a non-zero word without the present bit is neither none nor present (e.g. a swap entry)
  assert.equal(pte_none(PTE_WRITE), false);
  assert.equal(pte_present(PTE_WRITE), false);
  assert.equal(pteToString(pfn_pte(0x1a3, PTE_WRITE | PTE_DIRTY | PTE_YOUNG)), 'pfn=0x1a3 P W D Y');
});
