// pte_needs_flush() (arch/x86/include/asm/tlbflush.h), pte_modify(), and the rules for a writable
// upgrade without a write fault (can_change_pte_writable, vm_get_page_prot).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pte_needs_flush } from '../../../src/linux/arch/x86/include/asm/tlbflush.js';
import {
  PTE_CONT, PTE_DIRTY, PTE_SOFT_DIRTY, PTE_SPECIAL, PTE_UFFD_WP, PTE_WRITE, PTE_YOUNG, pfn_pte, pte_modify,
} from '../../../src/machine/pte.js';
import { can_change_pte_writable, vm_get_page_prot } from '../../../src/linux/mm/mprotect.js';
import { PG_ANON_EXCLUSIVE, VM_ANON, VM_LIVE, VM_READ, VM_SHARED, VM_WRITE, ZERO_PFN } from '../../../src/machine/machine.js';
import { boot, folioAt, mapAnon, writePage } from '../../helpers/machine.js';
import type { VmaView } from '../../../src/linux/mm/mmap.js';

test('pte_needs_flush (x86): a cleared present or dirty bit, a PFN change, any change of RW; not young or software bits', () => {
  const p = pfn_pte(100, PTE_YOUNG | PTE_DIRTY | PTE_WRITE);
  assert.equal(pte_needs_flush(0, p), false, '!present -> *: nothing cached');
  assert.equal(pte_needs_flush(p, p), false);
  assert.equal(pte_needs_flush(p, p & ~PTE_WRITE), true, 'write downgrade');
  assert.equal(pte_needs_flush(p & ~PTE_WRITE, p), true, 'write upgrade: RW is flush-on-change on x86');
  assert.equal(pte_needs_flush(p, 0), true, 'present cleared');
  assert.equal(pte_needs_flush(p, pfn_pte(101, PTE_YOUNG | PTE_DIRTY | PTE_WRITE)), true, 'PFN changed');
  assert.equal(pte_needs_flush(p, p & ~PTE_DIRTY), true, 'dirty cleared');
  assert.equal(pte_needs_flush(p & ~PTE_DIRTY, p), false, 'dirty set: hardware sets it without a fault');
  assert.equal(pte_needs_flush(p, p & ~PTE_YOUNG), false, 'accessed ignored for PTEs');
  for (const sw of [PTE_SOFT_DIRTY, PTE_UFFD_WP, PTE_SPECIAL]) assert.equal(pte_needs_flush(p, p | sw), false, 'software bits ignored');
  assert.equal(pte_needs_flush(p, p | PTE_CONT), true, 'cont: no x86 counterpart, flush on change');
});

test('pte_modify: the protection replaced, PFN, young/dirty and software bits kept', () => {
  const p = pfn_pte(7, PTE_YOUNG | PTE_DIRTY | PTE_SOFT_DIRTY);
  assert.equal(pte_modify(p | PTE_WRITE, 0), p);
  assert.equal(pte_modify(p, PTE_WRITE), p | PTE_WRITE);
});

const vma = (flags: number): VmaView => ({ slot: 0, start: 1024, end: 1040, flags: flags | VM_LIVE, file: flags & VM_ANON ? -1 : 0, pgoff: 0 });

test('vm_get_page_prot: private mappings are mapped read-only (COW), shared writable ones writable (no write-notify yet)', () => {
  assert.equal(vm_get_page_prot(vma(VM_READ | VM_WRITE | VM_ANON)), 0);
  assert.equal(vm_get_page_prot(vma(VM_READ | VM_WRITE | VM_SHARED)), PTE_WRITE);
  assert.equal(vm_get_page_prot(vma(VM_READ | VM_SHARED)), 0);
});

test('can_change_pte_writable: private: an exclusive anon page only; shared: a dirty entry only; never without VM_WRITE', () => {
  const h = boot({ cpus: 1, anonOrders: [0] });
  mapAnon(h, 1024, 16);
  writePage(h, 0, 0, 1024);
  const page = folioAt(h, 0, 1024)!.pfn;
  const cpu = h.cpus[0];
  const clean = pfn_pte(page, PTE_YOUNG);
  const priv = vma(VM_READ | VM_WRITE | VM_ANON);
  assert.equal(can_change_pte_writable(cpu, priv, clean), true, 'AnonExclusive');
  assert.equal(can_change_pte_writable(cpu, vma(VM_READ | VM_ANON), clean), false, 'no VM_WRITE');
  assert.equal(can_change_pte_writable(cpu, priv, pfn_pte(ZERO_PFN, PTE_YOUNG | PTE_SPECIAL)), false, 'the zero page');
  Atomics.and(h.machine.m, h.machine.L.pFlags + page, ~PG_ANON_EXCLUSIVE);
  assert.equal(can_change_pte_writable(cpu, priv, clean), false, 'not exclusive: COW first');
  const shared = vma(VM_READ | VM_WRITE | VM_SHARED);
  assert.equal(can_change_pte_writable(cpu, shared, clean), false, 'shared, clean: the filesystem may want the write fault');
  assert.equal(can_change_pte_writable(cpu, shared, clean | PTE_DIRTY), true, 'shared, dirty: already notified');
});
