// The buddy allocator at quiescence (src/linux/mm/page_alloc.ts, after mm/page_alloc.c): what its
// free lists and struct pages must say whenever no CPU runs. The model's promises: a free block of
// order o is on free list o once, linked both ways, its head aligned to 2^o, PG_BUDDY | PG_HEAD with
// fOrder o, every other page PG_BUDDY, every page's pHead the head and content POISON
// (free_one_page); freeCount[o] is the list's length; a free block's buddy is never a free block of
// the same order (free_one_page merges them); PG_BUDDY on no other page; and every page is in
// exactly one of a free block, a reserved page, an allocated folio (head and 2^order - 1 tails).
import { hex } from './oracle.js';
import { type Machine, PG_BUDDY, PG_HEAD, PG_RESERVED, PG_TAIL, POISON } from '../machine/machine.js';

export type AddFinding = (invariant: string, details: Record<string, unknown>) => void;

/** Check the free lists and every page's allocator state; each broken promise is one add(). */
export function checkBuddy(machine: Machine, add: AddFinding): void {
  const { m, L } = machine;
  const pages = L.pages;
  // the listed block covering each page (its head), and the order of each listed head
  const blockOf = new Int32Array(pages).fill(-1);
  const orderAt = new Int8Array(pages).fill(-1);
  const heads: number[] = [];
  for (let o = 0; o <= L.maxOrder; o++) {
    const nr = 1 << o;
    let n = 0, prev = -1, whole = true;
    for (let pfn = Atomics.load(m, L.freeHead + o); pfn !== -1; ) {
      const at = { order: o, pfn, prev };
      if (pfn < 0 || pfn >= pages) {
        add('buddy-list-corrupt', { ...at, why: 'a link points outside memory' });
        whole = false;
        break;
      }
      if (Atomics.load(m, L.buddyPrev + pfn) !== prev) add('buddy-list-corrupt', { ...at, why: 'its prev link is not the block before it', prevLink: Atomics.load(m, L.buddyPrev + pfn) });
      if (orderAt[pfn] !== -1) {
        add('buddy-list-corrupt', { ...at, why: orderAt[pfn] === o ? 'listed twice (the list loops)' : `also on the order-${orderAt[pfn]} list` });
        whole = false;
        break;
      }
      orderAt[pfn] = o;
      n++;
      if (pfn & (nr - 1)) add('buddy-list-corrupt', { ...at, why: `head not aligned to its order (${nr} pages)` });
      else if (pfn + nr > pages) add('buddy-list-corrupt', { ...at, why: `the block ends beyond memory (${pages} pages)` });
      else {
        let overlap = -1;
        for (let q = pfn; q < pfn + nr; q++) {
          if (blockOf[q] === -1) blockOf[q] = pfn;
          else if (overlap < 0) overlap = blockOf[q];
        }
        if (overlap >= 0) add('buddy-list-corrupt', { ...at, why: `overlaps the free block at ${overlap}` });
        else heads.push(pfn);
      }
      prev = pfn;
      pfn = Atomics.load(m, L.buddyNext + pfn);
    }
    const count = Atomics.load(m, L.freeCount + o);
    if (whole && count !== n) add('free-count-mismatch', { order: o, freeCount: count, listed: n });
  }
  for (const head of heads) {
    const o = orderAt[head];
    const nr = 1 << o;
    // every page of the block as free_one_page left it
    for (let q = head; q < head + nr; q++) {
      const flags = Atomics.load(m, L.pFlags + q);
      const want = q === head ? PG_BUDDY | PG_HEAD : PG_BUDDY;
      const ph = Atomics.load(m, L.pHead + q);
      if (flags !== want || ph !== head || (q === head && Atomics.load(m, L.fOrder + head) !== o)) {
        add('buddy-page-state', { pfn: q, block: head, order: o, flags, expected: want, pHead: ph, ...(q === head ? { fOrder: Atomics.load(m, L.fOrder + head) } : {}) });
        break;
      }
    }
    for (let q = head; q < head + nr; q++) {
      const c = Atomics.load(m, L.pContent + q);
      if (c !== POISON) {
        add('free-page-written', { pfn: q, block: head, order: o, content: hex(c), expected: hex(POISON) });
        break;
      }
    }
    // __free_one_page merges a block with its free buddy of the same order
    if (o < L.maxOrder) {
      const buddy = head ^ nr;
      if (buddy > head && buddy < pages && orderAt[buddy] === o) add('buddy-unmerged', { pfn: head, buddy, order: o });
    }
  }
  // every page: in one free block, reserved, or one folio's (a page in none is an orphan-tail-page
  // of checkQuiescent's)
  let stray = 0, firstStray = -1;
  for (let pfn = 0; pfn < pages; ) {
    const flags = Atomics.load(m, L.pFlags + pfn);
    const listed = blockOf[pfn] !== -1;
    if (!listed && flags & PG_BUDDY && stray++ === 0) firstStray = pfn;
    if (listed || flags & (PG_BUDDY | PG_RESERVED) || !(flags & PG_HEAD)) {
      pfn++;
      continue;
    }
    const order = Atomics.load(m, L.fOrder + pfn);
    const nr = order >= 0 && order <= L.maxOrder ? 1 << order : 1;
    let why = '';
    if (pfn + nr > pages) why = `the folio (order ${order}) ends beyond memory`;
    for (let q = pfn + 1; !why && q < pfn + nr; q++) {
      const f = Atomics.load(m, L.pFlags + q);
      if (blockOf[q] !== -1) why = `its page ${q} is also in the free block at ${blockOf[q]}`;
      else if (!(f & PG_TAIL) || f & (PG_HEAD | PG_BUDDY | PG_RESERVED) || Atomics.load(m, L.pHead + q) !== pfn) why = `its page ${q} is not its tail (flags ${f}, pHead ${Atomics.load(m, L.pHead + q)})`;
    }
    if (why) add('page-accounting', { folio: pfn, order, why });
    pfn += nr;
  }
  if (stray) add('buddy-flag-stray', { pfn: firstStray, pages: stray, flags: Atomics.load(m, L.pFlags + firstStray) });
}
