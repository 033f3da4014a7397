// Models the mm lifetime parts of kernel/fork.c: mm_alloc (a process appears in a free slot),
// mmget_not_zero (a thread of the process starts an operation), mmput (the last user runs
// exit_mmap). Process slots are reused; GEN tells incarnations apart.
import type { Cpu } from '../../machine/cpu.js';
import type { Gen } from '../../machine/gen.js';
import { EV } from '../../machine/events.js';
import { G, MM, MM_CREATING, MM_DYING, MM_FREE, MM_LIVE } from '../../machine/layout.js';
import { anon_vma_link, anon_vma_unlink } from '../mm/rmap.js';
import { Machine } from '../../machine/machine.js';
import { copyVma, exit_mmap, i_mmap_insert, vmas } from '../mm/mmap.js';
import { copy_page_range } from '../mm/memory.js';
import { down_write, up_write } from './locking/rwsem.js';
import { flush_tlb_mm } from '../../machine/tlb.js';
import { MMDEBUG } from '../include/linux/mmdebug.js';
import { P } from '../../machine/gen.js';
import { VM_DONTFORK } from '../../machine/machine.js';

/** mm_alloc() into slot mm if it is free; returns true if this CPU created it. */
export function mm_alloc(cpu: Cpu, mm: number): boolean {
  const machine = cpu.machine;
  const m = machine.m;
  if (Atomics.compareExchange(m, machine.mmWord(mm, MM.STATE), MM_FREE, MM_CREATING) !== MM_FREE) return false;
  mm_reset(machine, mm);
  Atomics.add(m, machine.mmWord(mm, MM.GEN), 1);
  Atomics.store(m, machine.mmWord(mm, MM.USERS), 1);
  // joins the anon rmap (the kernel: its first anon_vma_prepare). Without the anon_vma lock: a new
  // process maps no folio yet, so a walk that does not see it misses nothing
  Atomics.store(m, machine.mmWord(mm, MM.BIRTH), Atomics.add(m, machine.L.global + G.MM_BIRTH, 1) + 1);
  Atomics.store(m, machine.mmWord(mm, MM.STATE), MM_LIVE);
  cpu.ev(EV.SPAWN, mm, Atomics.load(m, machine.mmWord(mm, MM.GEN)));
  return true;
}

/** Clear an mm slot's VMAs, page tables, counters and data oracle (no users exist). */
export function mm_reset(machine: Machine, mm: number): void {
  const { m, L } = machine;
  for (let s = 0; s < L.maxVmas; s++) Atomics.store(m, machine.vmaBase(mm, s) + 2, 0);
  for (let t = 0; t < L.tablesPerMm; t++) Atomics.store(m, machine.pgdWord(mm * L.tablesPerMm + t), 0);
  Atomics.store(m, machine.mmWord(mm, MM.RSS_ANON), 0);
  Atomics.store(m, machine.mmWord(mm, MM.RSS_FILE), 0);
  Atomics.store(m, machine.mmWord(mm, MM.FLAGS), 0);
  Atomics.store(m, machine.mmWord(mm, MM.FORK_SEQ), 0);
  Atomics.store(m, machine.mmWord(mm, MM.FORK_CHILD), -1);
  Atomics.store(m, machine.mmWord(mm, MM.LINEAGE), 1 << mm);
  Atomics.store(m, machine.mmWord(mm, MM.MMAP_LOCK), 0);
  Atomics.store(m, machine.mmWord(mm, MM.BIRTH), 0);
  Atomics.store(m, machine.mmWord(mm, MM.FREE_GEN), 0);
  const o = machine.oracleIndex(mm, 0);
  m.fill(0, L.oExp + o, L.oExp + o + L.vaPages);
  m.fill(0, L.oAlt + o, L.oAlt + o + L.vaPages);
  m.fill(0, L.oAltOk + o, L.oAltOk + o + L.vaPages);
  m.fill(0, L.oWgen + o, L.oWgen + o + L.vaPages);
  m.fill(0, L.oZapGen + o, L.oZapGen + o + L.vaPages);
  m.fill(0, L.oTag + o, L.oTag + o + L.vaPages);
}

/** mmget_not_zero(): take a user reference if the process is alive. */
export function mmget_not_zero(cpu: Cpu, mm: number): boolean {
  const m = cpu.m;
  const w = cpu.machine.mmWord(mm, MM.USERS);
  for (;;) {
    const u = Atomics.load(m, w);
    if (u <= 0 || Atomics.load(m, cpu.machine.mmWord(mm, MM.STATE)) !== MM_LIVE) return false;
    if (Atomics.compareExchange(m, w, u, u + 1) === u) return true;
  }
}

/** The process exits: drop its own reference once (LIVE -> DYING). */
export function* process_exit(cpu: Cpu, mm: number): Gen<boolean> {
  const m = cpu.m;
  if (Atomics.compareExchange(m, cpu.machine.mmWord(mm, MM.STATE), MM_LIVE, MM_DYING) !== MM_LIVE) return false;
  cpu.ev(EV.EXIT, mm);
  yield* mmput(cpu, mm);
  return true;
}

/** mmput(): drop a user reference; the last one tears the address space down. */
export function* mmput(cpu: Cpu, mm: number): Gen<void> {
  const m = cpu.m;
  const u = Atomics.sub(m, cpu.machine.mmWord(mm, MM.USERS), 1) - 1;
  if (u < 0) cpu.violation('mm-users-underflow', 'mmput', { mm, users: u });
  if (u === 0) {
    yield* exit_mmap(cpu, mm);
    yield* anon_vma_unlink(cpu, mm); // unlink_anon_vmas(): no rmap walk visits it any more
    const rss = Atomics.load(m, cpu.machine.mmWord(mm, MM.RSS_ANON));
    if (rss !== 0) cpu.violation('rss-mismatch', 'exit_mmap', { mm, rssAnon: rss, expected: 0 });
    Atomics.store(m, cpu.machine.mmWord(mm, MM.STATE), MM_FREE);
  }
}

/**
 * dup_mm() with dup_mmap(): fork. A child takes a free process slot; under the parent's mmap_lock
 * (write) every VMA without VM_DONTFORK is copied and its PTEs copied by copy_page_range(); the
 * parent's TLBs are flushed (flush_tlb_mm) before the lock is dropped, so no CPU keeps writing
 * through an entry fork write-protected. Returns the child's slot, or -1 (no slot, or ENOMEM).
 * The child takes a free slot of [slots[0], slots[1]): by default the slots ops target.
 */
export function* dup_mm(cpu: Cpu, parent: number, slots: readonly [number, number] = [0, cpu.cfg.processes]): Gen<number> {
  const machine = cpu.machine;
  const m = machine.m;
  let child = -1;
  // slots: the process slots a child may take, [from, to) (forkexit's children: the spare slot)
  for (let s = slots[0]; s < slots[1] && child < 0; s++) {
    if (s !== parent && Atomics.compareExchange(m, machine.mmWord(s, MM.STATE), MM_FREE, MM_CREATING) === MM_FREE) child = s;
  }
  if (child < 0) {
    cpu.ev(EV.FORK_FAIL, parent);
    return -1;
  }
  mm_reset(machine, child);
  Atomics.add(m, machine.mmWord(child, MM.GEN), 1);
  Atomics.store(m, machine.mmWord(child, MM.USERS), 1);
  Atomics.store(m, machine.mmWord(child, MM.LINEAGE), Atomics.load(m, machine.mmWord(parent, MM.LINEAGE)) | (1 << child));
  const lw = machine.mmWord(parent, MM.MMAP_LOCK);
  yield* down_write(cpu, lw);
  yield P.MM;
  // anon_vma_fork(): the child joins the anon rmap after its parent (so a walk visits the parent's
  // entries before the copies fork makes of them), before any entry is copied
  yield* anon_vma_link(cpu, child);
  // The data oracle's fork window (tool side): a parent write from now until the flush below may
  // or may not reach the child. The child's record starts as the parent's.
  Atomics.store(m, machine.mmWord(parent, MM.FORK_CHILD), child);
  Atomics.add(m, machine.mmWord(parent, MM.FORK_SEQ), 1);
  let ret = 0;
  for (const v of vmas(machine, parent)) {
    if (v.flags & VM_DONTFORK) continue;
    MMDEBUG.forkCopied(machine, parent, child, v.start, v.end); // outside copied VMAs the child holds nothing
    if (v.file >= 0) yield* i_mmap_insert(cpu, v.file, child, v.start, v.end, v.pgoff); // dup_mmap links the file VMA
    copyVma(machine, child, v);
    ret = yield* copy_page_range(cpu, child, parent, v);
    if (ret < 0) break;
  }
  yield* flush_tlb_mm(cpu, parent);
  MMDEBUG.tlbSynced(cpu, parent, 0, machine.L.vaPages, 'dup_mmap'); // no CPU writes through an entry fork write-protected
  Atomics.add(m, machine.mmWord(parent, MM.FORK_SEQ), 1);
  up_write(cpu, lw);
  if (ret < 0) {
    // dup_mmap failed half way: the child is torn down as if it had exited
    yield* exit_mmap(cpu, child);
    yield* anon_vma_unlink(cpu, child);
    Atomics.store(m, machine.mmWord(child, MM.STATE), MM_FREE);
    cpu.ev(EV.FORK_FAIL, parent, ret);
    return -1;
  }
  Atomics.store(m, machine.mmWord(child, MM.STATE), MM_LIVE);
  cpu.ev(EV.FORK, parent, child);
  return child;
}
