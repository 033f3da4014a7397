// Executes one workload op on a CPU: system calls (mmap, munmap, madvise, exit) and runs of user
// accesses through the MMU, with the data oracle checked on every read.
import type { Cpu } from '../machine/cpu.js';
import { runConfig } from '../config/config.js';
import { type Gen, P } from '../machine/gen.js';
import { EV } from '../machine/events.js';
import { type Op, OP_KINDS, type OpKind } from './program.js';
import { VM_ANON, VM_READ, VM_SHARED, VM_WRITE, VM_WRITENOTIFY } from '../machine/machine.js';
import { pin_op, pinio_op, unpin_op } from './pins.js';
import { dup_mm, mm_alloc, mmget_not_zero, mmput, process_exit } from '../linux/kernel/fork.js';
import { do_mmap, do_munmap, linear_page_index, type VmaView, vmas } from '../linux/mm/mmap.js';
import { write_cache_pages } from '../linux/mm/page-writeback.js';
import { pickVma } from './target.js';
import { madvise_cold, madvise_pageout, madvise_dontfork, madvise_dontneed, madvise_free } from '../linux/mm/madvise.js';
import { do_mremap } from '../linux/mm/mremap.js';
import { do_mprotect } from '../linux/mm/mprotect.js';
import { do_move_pages } from '../linux/mm/migrate.js';
import { shrink_folios } from '../linux/mm/vmscan.js';
import { ACCESS_OK, type AccessOut, user_access } from './access.js';
import { checkRead, freeBegin, freeEnd, makeToken, ownerOf, zapAbort, zapBegin, zapEnd } from '../check/oracle.js';
import { checkForkChild, sysBegin, sysEnd, sysSeqs } from '../check/maps.js';

/** Per-CPU scratch: the last access's result and the write version counter (part of the token).
 * Per CPU, not per module: in the sched engine every CPU runs on this one thread. */
interface Scratch {
  out: AccessOut;
  version: number;
}
const scratch = new WeakMap<Cpu, Scratch>();
function scratchOf(cpu: Cpu): Scratch {
  let s = scratch.get(cpu);
  if (!s) scratch.set(cpu, (s = { out: { status: 0, value: 0, pfn: 0, g1: 0, g2: 0, faults: 0, forkRaced: false, forkChild: -1 }, version: 0 }));
  return s;
}

/**
 * The next write version of this CPU (part of every token it writes, by touch or by a device
 * through its pins): per CPU, so that a seed writes the same tokens however many runs this
 * thread made before (a module-wide counter did not).
 */
export function nextWriteVersion(cpu: Cpu): number {
  return ++scratchOf(cpu).version;
}

/** The latency histogram of each op kind ("op.touch"), named once. */
const OP_HIST = Object.fromEntries(OP_KINDS.map((k) => [k, `op.${k}`])) as Record<OpKind, string>;

/** The first page from vpn on that this CPU owns (ownerOf). */
function ownedFrom(cpu: Cpu, vpn: number): number {
  while (ownerOf(cpu.machine, vpn) !== cpu.id) vpn++;
  return vpn;
}

/**
 * What munmap and mprotect(PROT_READ) promise once they return, asked by the process itself: an
 * access that is no longer allowed (a load of an unmapped page, a store to a read-only one) must
 * fault with SIGSEGV. The MMU checks the VMA at the access (AccessOut.probe), so one that goes
 * through, by a stale TLB entry or by an entry the page tables should no longer hold, is caught
 * there; the other CPUs' TLBs were checked when the call returned (tlb-stale).
 */
function* probe(cpu: Cpu, mm: number, vpn: number, write: boolean): Gen<void> {
  const out = scratchOf(cpu).out;
  out.probe = true;
  try {
    yield* user_access(cpu, mm, vpn, write, write ? makeToken(nextWriteVersion(cpu), mm, vpn) : 0, out);
  } finally {
    out.probe = false;
  }
}

/** fork(2) of mm into a free slot of slots (dup_mm), the maps checker told of the call; the child's slot or -1. */
function* fork(cpu: Cpu, mm: number, slots?: readonly [number, number]): Gen<number> {
  const seqs = sysSeqs(cpu.machine);
  const t = sysBegin(cpu, mm);
  const child = yield* dup_mm(cpu, mm, slots);
  checkForkChild(cpu, t, child, seqs);
  sysEnd(cpu, t, { op: 'fork', ret: child });
  return child;
}

/**
 * A process for the dead slot mm, so that the op has one to run in (true: the caller holds an mm
 * reference on it). Processes come from fork, so a live process (the first from op.r2 on) forks
 * into the slot: its child lives on beside it, sharing its pages as fork shares them (COW, pins
 * copied, entries a migration holds), until something unmaps or exits them. A fork from an op's
 * own slot cannot do that (the targeted slots are always taken), and the respawn used to be an
 * empty process: 97% of fork ops failed and few children ever outlived their fork. An empty
 * process only when no other lives; false when the slot is still being torn down or another CPU
 * took it first (the op does nothing).
 */
function* respawn(cpu: Cpu, mm: number, op: Op): Gen<boolean> {
  const n = cpu.cfg.processes;
  for (let i = 0; i < n; i++) {
    const parent = (op.r2 + i) % n;
    if (parent === mm || !mmget_not_zero(cpu, parent)) continue;
    cpu.curOp = 'respawn(fork)';
    const child = yield* fork(cpu, parent, [mm, mm + 1]);
    yield* mmput(cpu, parent);
    cpu.curOp = op.kind;
    return child === mm && mmget_not_zero(cpu, mm);
  }
  return mm_alloc(cpu, mm) && mmget_not_zero(cpu, mm);
}

/** Each op kind's index in OP_KINDS (its ops.<kind> event is EV.OPS + index). */
const OP_INDEX = Object.fromEntries(OP_KINDS.map((k, i) => [k, i])) as Record<OpKind, number>;

export function* run_op(cpu: Cpu, op: Op): Gen<void> {
  yield P.OP;
  const t0 = cpu.now();
  cpu.curOp = op.kind;
  cpu.counters[EV.OPS + OP_INDEX[op.kind]]++; // ops.<kind>: the reach floor's proof the mix ran every kind it weighs
  cpu.evOpStart(op.proc, op.r1);
  const mm = op.proc;
  if (!mmget_not_zero(cpu, mm) && !(yield* respawn(cpu, mm, op))) {
    cpu.ev(EV.OP_END, 0);
    cpu.curOp = '';
    return;
  }
  switch (op.kind) {
    case 'touch':
      yield* touch(cpu, mm, op);
      break;
    case 'mmap': {
      const c = runConfig(cpu.cfg);
      const len = c.mmapPages.min + (op.r1 % (c.mmapPages.max - c.mmapPages.min + 1));
      const align = c.mmapAlign[op.r2 % c.mmapAlign.length];
      const flags = VM_READ | VM_WRITE | VM_ANON;
      const t = sysBegin(cpu, mm);
      const ret = yield* do_mmap(cpu, mm, len, align, op.r3 % cpu.machine.L.vaPages, flags);
      sysEnd(cpu, t, { op: 'mmap', len, align, flags, file: -1, pgoff: 0, ret });
      break;
    }
    case 'munmap':
    case 'dontneed': {
      const v = pickVma(cpu, mm, op);
      if (!v) break;
      const [start, end] = op.kind === 'munmap' ? opRange(v, op) : spanRange(cpu, mm, v, op);
      zapBegin(cpu.machine, mm, start, end);
      const t = sysBegin(cpu, mm);
      const r = op.kind === 'munmap' ? yield* do_munmap(cpu, mm, start, end) : yield* madvise_dontneed(cpu, mm, start, end);
      sysEnd(cpu, t, { op: op.kind, start, end, ret: r });
      // A failed munmap (ENOMEM: no VMA slot for a split) zapped nothing: undo the mark. A
      // MADV_DONTNEED's -ENOMEM (a hole in the range) zapped the mapped parts all the same.
      if (r < 0 && op.kind === 'munmap') zapAbort(cpu.machine, mm, start, end);
      else zapEnd(cpu.machine, mm, start, end);
      if (r === 0 && op.kind === 'munmap') yield* probe(cpu, mm, start + (op.r1 % (end - start)), false);
      break;
    }
    case 'exit':
      yield* process_exit(cpu, mm);
      break;
    case 'fork':
      yield* fork(cpu, mm);
      break;
    case 'forkexit': {
      // fork, then the child exits at once (as after fork + _exit, or exec, which drops the old mm
      // alike): the parent's entries stay write-protected and its pages lose AnonExclusive, so its
      // next writes reuse them one by one (wp_can_reuse_anon_folio) and a large folio ends up with
      // exclusive and shared pages side by side. The labels put the costs under fork and exit.
      cpu.curOp = 'forkexit(fork)';
      const child = yield* fork(cpu, mm, [cpu.cfg.processes, cpu.machine.L.maxMms]); // the spare slot
      cpu.curOp = 'forkexit(exit)';
      if (child >= 0) yield* process_exit(cpu, child);
      cpu.curOp = op.kind;
      break;
    }
    case 'mremap': {
      // move part of a VMA by a multiple of cpus pages (every page keeps its owner CPU)
      const v = pickVma(cpu, mm, op);
      if (!v) break;
      const target = mremapTarget(cpu, mm, v, op);
      if (!target) break;
      const { start, nr, dest } = target;
      if (dest + nr > cpu.machine.L.vaPages || dest < 512) break;
      const t = sysBegin(cpu, mm);
      const ret = yield* do_mremap(cpu, mm, start, nr, dest);
      sysEnd(cpu, t, { op: 'mremap', start, nr, dest, ret });
      break;
    }
    case 'dontfork': {
      const v = pickVma(cpu, mm, op);
      if (!v) break;
      const a = v.start + (op.r2 % (v.end - v.start));
      const b = a + 1 + (op.r3 % (v.end - a));
      const t = sysBegin(cpu, mm);
      const ret = yield* madvise_dontfork(cpu, mm, a, b, op.write); // write bit: DONTFORK, else DOFORK
      sysEnd(cpu, t, { op: 'dontfork', start: a, end: b, dontfork: op.write, ret });
      break;
    }
    case 'mmapfile':
      yield* mmap_file(cpu, mm, op);
      break;
    case 'writeback':
      if (cpu.machine.L.files) yield* write_cache_pages(cpu, op.r1 % cpu.machine.L.files);
      break;
    case 'mprotect': {
      // toggle VM_WRITE on a VMA or part of it: read-only (write bit clear) or read-write
      const v = pickVma(cpu, mm, op);
      if (!v) break;
      const [start, end] = opRange(v, op);
      // -ENOMEM (the VMA changed since we looked, or no free VMA slot for a split) changes nothing
      const prot = op.write ? VM_READ | VM_WRITE : VM_READ;
      const t = sysBegin(cpu, mm);
      const r = yield* do_mprotect(cpu, mm, start, end, prot);
      sysEnd(cpu, t, { op: 'mprotect', start, end, prot, ret: r });
      // a store only to a page this CPU owns: if a racing mmap or mprotect allows it after all, the
      // data oracle records it exactly (one writer per page)
      const at = ownedFrom(cpu, start + (op.r1 % (end - start)));
      if (r === 0 && !op.write && at < end) yield* probe(cpu, mm, at, true);
      break;
    }
    case 'cold':
    case 'free':
    case 'pageout': {
      // madvise(MADV_COLD) or madvise(MADV_FREE) of a VMA or part of it, drawn as dontneed's range.
      // MADV_COLD changes no data; after MADV_FREE reclaim may discard a clean lazyfree folio, so
      // the oracle allows 0 on those pages until the owner writes them again (freeBegin/freeEnd);
      // MADV_FREE of a file VMA is -EINVAL, as in the kernel.
      const v = pickVma(cpu, mm, op);
      if (!v) break;
      const [start, end] = spanRange(cpu, mm, v, op);
      if (op.kind === 'cold') yield* madvise_cold(cpu, mm, start, end);
      else if (op.kind === 'pageout') yield* madvise_pageout(cpu, mm, start, end); // data kept (the disk, or 0 under FREE_MARK)
      else {
        freeBegin(cpu.machine, mm, start, end);
        yield* madvise_free(cpu, mm, start, end);
        freeEnd(cpu.machine, mm, start, end);
      }
      break;
    }
    case 'pin':
      yield* pin_op(cpu, mm, op);
      break;
    case 'unpin':
      yield* unpin_op(cpu, op);
      break;
    case 'pinio':
      yield* pinio_op(cpu, op);
      break;
    case 'migrate': {
      // move_pages(2) of one page: its folio moves to a new one (the data must follow)
      const v = pickVma(cpu, mm, op);
      if (v) yield* do_move_pages(cpu, mm, v.start + (op.r2 % (v.end - v.start)));
      break;
    }
    case 'reclaim':
      // kswapd's turn on this CPU: a slice of page-cache reclaim from a random point of memory
      yield* shrink_folios(cpu, op.r1 % cpu.machine.L.pages, 16);
      break;
  }
  yield* mmput(cpu, mm);
  cpu.ev(EV.OP_END, 1);
  cpu.hist.record(OP_HIST[op.kind], cpu.now() - t0);
  cpu.curOp = '';
}

/**
 * What an mremap op moves and where: [start, start + nr) of v to dest, dest - start a multiple of
 * cpus. The target is one of three kinds (op.r1's top bits): a random page, mapped or not (as the
 * op always did); right before or right after a VMA, v itself half of the time, else one of v's
 * flags if there is one (the moved part merges with it: two parts of one folio can end up in one
 * VMA in swapped order, the vma.ooo state); or inside a mapped VMA, v itself half of the time
 * (MREMAP_FIXED unmaps it first, and the moved part merges with what is left around it). null: no
 * such move fits.
 */
function mremapTarget(cpu: Cpu, mm: number, v: VmaView, op: Op): { start: number; nr: number; dest: number } | null {
  const machine = cpu.machine;
  const cpus = machine.L.cpus;
  const mod = (a: number): number => ((a % cpus) + cpus) % cpus;
  let start = v.start + (op.r2 % (v.end - v.start));
  let nr = 1 + (op.r3 % (v.end - start));
  const kind = (op.r1 >>> 24) % 3;
  if (kind === 0) return { start, nr, dest: Math.floor((op.r3 >>> 8) % machine.L.vaPages / cpus) * cpus + (start % cpus) };
  // the VMAs as a user program knows them (read without the lock: a torn one is left out)
  const list = vmas(machine, mm).filter((w) => w.end > w.start);
  const same = list.filter((w) => w.flags === v.flags);
  const pool = kind === 1 && same.length ? same : list;
  if (!pool.length) return null;
  // half of the time v itself: its own part moved in front of, behind or into what is left of it
  // (two parts of one folio in one VMA need the folio's other part there)
  const x = (op.r1 >>> 15) & 1 ? v : pool[((op.r1 >>> 16) & 0xff) % pool.length];
  if (kind === 2) {
    // inside x: a page of it, moved down to the one with start's owner
    const at = x.start + ((op.r3 >>> 8) % (x.end - x.start));
    return { start, nr, dest: at - mod(at - start) };
  }
  if (op.r2 >>> 31) {
    // right after x: start moves up to the first page with x.end's owner
    start += mod(x.end - start);
    if (start >= v.end) return null;
    return { start, nr: Math.min(nr, v.end - start), dest: x.end };
  }
  // right before x: nr such that start and x.start - nr have one owner
  nr += mod(x.start - start - nr);
  if (start + nr > v.end) nr -= cpus;
  return nr >= 1 ? { start, nr, dest: x.start - nr } : null;
}

/**
 * The range of a madvise op on VMA v: mostly opRange's; one op in eight (r3's top three
 * bits zero) runs on from inside v into the next VMA of the mm (or, after the last one, into the
 * unmapped space above it), across whatever hole lies between, as a program that maps a region in
 * pieces and then advises all of it does. The kernel walks every VMA of such a range and reports a
 * hole as -ENOMEM after doing the mapped parts (madvise_walk_vmas). (munmap keeps to one VMA: a
 * munmap across VMAs unmaps more of the mix's memory than the races it exists for can spare; the
 * maps checker and scenarios cover munmap over holes and several VMAs.) The VMAs are read without the mmap_lock, as pickVma does: a torn next VMA is
 * skipped.
 */
function spanRange(cpu: Cpu, mm: number, v: VmaView, op: Op): [number, number] {
  const [start, end] = opRange(v, op);
  if (op.r3 >>> 29) return [start, end];
  const next = vmas(cpu.machine, mm).find((w) => w.start >= v.end && w.end > w.start);
  const r = op.r1 >>> 7;
  const to = next ? next.start + 1 + (r % (next.end - next.start)) : v.end + 1 + (r % 64);
  return [start, Math.min(to, cpu.machine.L.vaPages)];
}

/** The range an op on VMA v covers: the whole VMA, or (r2 odd) a part of it drawn from r2 and r3. */
function opRange(v: { start: number; end: number }, op: Op): [number, number] {
  if (!(op.r2 & 1)) return [v.start, v.end];
  const start = v.start + (op.r2 >>> 1) % (v.end - v.start);
  return [start, start + 1 + (op.r3 % (v.end - start))];
}

/** A run of user accesses: the owner of a page writes it (on a write op), everyone else reads. */
function* touch(cpu: Cpu, mm: number, op: Op): Gen<void> {
  const v = pickVma(cpu, mm, op);
  if (!v) return;
  const len = v.end - v.start;
  const first = v.start + (op.r2 % len);
  const n = Math.min(1 + (op.r3 % runConfig(cpu.cfg).touchRun), v.end - first);
  cpu.note(EV.NOTE_TOUCH, first, n, op.write ? 1 : 0);
  const sc = scratchOf(cpu);
  const out = sc.out;
  for (let vpn = first; vpn < first + n; vpn++) {
    const write = op.write && ownerOf(cpu.machine, vpn) === cpu.id && (v.flags & VM_WRITE) !== 0;
    const token = write ? makeToken(nextWriteVersion(cpu), mm, vpn) : 0;
    const ta = cpu.now();
    yield* user_access(cpu, mm, vpn, write, token, out);
    cpu.hist.record(write ? 'access.write' : 'access.read', cpu.now() - ta);
    // an access that faulted (once or more, refaults included): what the fault cost the user
    if (out.faults) cpu.hist.record('access.faulted', cpu.now() - ta);
    if (out.status !== ACCESS_OK) return; // SIGSEGV (VMA gone under us) or OOM: the op ends
    // a write is recorded in the oracle by the MMU, inside the access (see user_access)
    if (!write) checkRead(cpu, mm, vpn, out.value, out.g1, out.g2, out.pfn, out.tag, out.fp, v.file >= 0 ? cpu.machine.filePage(v.file, linear_page_index(v, vpn)) : -1);
  }
}

const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);

/**
 * mmap of file pages [pgoff, pgoff + len): shared (write notification as the file's kind says) or
 * private, read/write. Placed so that vpn - pgoff is a multiple of the alignment chosen and of
 * cpus: large folios can be mapped whole (and contpte-folded), and a file page and every vpn
 * mapping it have one owner CPU (the data oracle's one writer).
 */
function* mmap_file(cpu: Cpu, mm: number, op: Op): Gen<void> {
  const machine = cpu.machine;
  const L = machine.L;
  if (!L.files) return;
  const c = runConfig(cpu.cfg);
  const file = op.r1 % L.files;
  const len = Math.min(L.filePages, c.mmapPages.min + ((op.r1 >>> 8) % (c.mmapPages.max - c.mmapPages.min + 1)));
  const a = c.mmapAlign[op.r2 % c.mmapAlign.length];
  const align = (a / gcd(a, L.cpus)) * L.cpus; // lcm(a, cpus)
  const pgoff = op.r2 % 3 === 0 ? 0 : (op.r3 >>> 4) % (L.filePages - len + 1);
  const shared = (op.r3 & 1) === 0;
  const flags = VM_READ | VM_WRITE | (shared ? VM_SHARED | (machine.fileWritenotify(file) ? VM_WRITENOTIFY : 0) : 0);
  const t = sysBegin(cpu, mm);
  const ret = yield* do_mmap(cpu, mm, len, align, op.r3 % L.vaPages, flags, false, file, pgoff);
  sysEnd(cpu, t, { op: 'mmap', len, align, flags, file, pgoff, ret });
}
