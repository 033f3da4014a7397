// The user's view of its address space (what /proc/self/maps shows) checked at every system call that
// changes it: from the maps just before the call, the call and its arguments alone, predict what the
// call must return and what the maps must be after it, and compare. The prediction is written from
// the system calls' contracts (docs/checks.md "Syscall results and maps"), not from the kernel
// functions, so a kernel path that returns a spurious error, or succeeds without changing the VMAs
// (an mprotect that leaves the VMA writable), or changes the wrong range, is caught when the call
// returns, whatever the page tables say.
//
// A prediction is only exact when no other call that changes this mm's VMAs overlapped this one:
// sysBegin/sysEnd count the calls in flight per mm in shared memory (L.oSys), so that holds in both
// engines; an overlapped call is not judged. Maps are compared page by page (normalized: adjacent
// parts with the same flags and file, and contiguous file offsets, are one), so how the kernel
// splits and merges VMAs is free; the error rules that depend on VMA slots (ENOMEM when a split
// needs a slot and none is free: the model's map_count limit, maxVmas) use the VMAs as they were.
import type { Cpu } from '../machine/cpu.js';
import type { Machine } from '../machine/machine.js';
import { VM_DONTFORK, VM_LIVE, VM_READ, VM_WRITE } from '../machine/machine.js';
import { PTRS_PER_PTE } from '../machine/params.js';
import { MM, MM_LIVE, OSYS_WORDS } from '../machine/layout.js';
import { type VmaView, vmas } from '../linux/mm/mmap.js';
import { hex } from './oracle.js';

/** One part of the maps: [start, end) with its flags, file (-1: anon) and the file page at start. */
export interface Seg {
  start: number;
  end: number;
  flags: number;
  file: number;
  pgoff: number;
}

/** A system call that changes the maps (or must not), with its arguments and its result. */
export type Call =
  | { op: 'mmap'; len: number; align: number; flags: number; file: number; pgoff: number; ret: number }
  | { op: 'munmap'; start: number; end: number; ret: number }
  | { op: 'dontneed'; start: number; end: number; ret: number }
  | { op: 'mprotect'; start: number; end: number; prot: number; ret: number }
  | { op: 'dontfork'; start: number; end: number; dontfork: boolean; ret: number }
  | { op: 'mremap'; start: number; nr: number; dest: number; ret: number }
  | { op: 'fork'; ret: number };

/** The kernel path each call is reported under (a finding's signature). */
const PATH: Record<Call['op'], string> = {
  mmap: 'do_mmap', munmap: 'do_munmap', dontneed: 'madvise_dontneed', mprotect: 'do_mprotect',
  dontfork: 'madvise_dontfork', mremap: 'do_mremap', fork: 'dup_mm',
};

export interface Geometry {
  vaPages: number;
  maxVmas: number;
}

/** The VMAs as segments, sorted by start (the raw parts: splits visible). */
export function rawSegs(list: readonly VmaView[]): Seg[] {
  return list.map((v) => ({ start: v.start, end: v.end, flags: v.flags, file: v.file, pgoff: v.file >= 0 ? v.pgoff : 0 }));
}

/** Sorted, with adjacent parts that a reader of the maps cannot tell apart joined. */
export function normalize(segs: readonly Seg[]): Seg[] {
  const s = [...segs].sort((a, b) => a.start - b.start);
  const out: Seg[] = [];
  for (const x of s) {
    const p = out[out.length - 1];
    if (p && p.end === x.start && p.flags === x.flags && p.file === x.file && (p.file < 0 || p.pgoff + (p.end - p.start) === x.pgoff)) {
      out[out.length - 1] = { ...p, end: x.end };
    } else out.push({ ...x });
  }
  return out;
}

/** segs with [start, end) removed. */
function cut(segs: readonly Seg[], start: number, end: number): Seg[] {
  const out: Seg[] = [];
  for (const v of segs) {
    if (v.end <= start || end <= v.start) {
      out.push(v);
      continue;
    }
    if (v.start < start) out.push({ ...v, end: start });
    if (end < v.end) out.push({ ...v, start: end, pgoff: v.file >= 0 ? v.pgoff + (end - v.start) : 0 });
  }
  return out;
}

/** segs with the flags of every part inside [start, end) mapped through f. */
function remap(segs: readonly Seg[], start: number, end: number, f: (flags: number) => number): Seg[] {
  const out: Seg[] = [];
  for (const v of segs) {
    if (v.end <= start || end <= v.start) {
      out.push(v);
      continue;
    }
    const a = Math.max(start, v.start), b = Math.min(end, v.end);
    const at = (x: number): number => (v.file >= 0 ? v.pgoff + (x - v.start) : 0);
    if (v.start < a) out.push({ ...v, end: a });
    out.push({ ...v, start: a, end: b, pgoff: at(a), flags: f(v.flags) });
    if (b < v.end) out.push({ ...v, start: b, pgoff: at(b) });
  }
  return out;
}

const overlaps = (v: Seg, start: number, end: number): boolean => v.start < end && start < v.end;
/** Pages of [start, end) that segs map. */
function covered(segs: readonly Seg[], start: number, end: number): number {
  let n = 0;
  for (const v of segs) if (overlaps(v, start, end)) n += Math.min(end, v.end) - Math.max(start, v.start);
  return n;
}
/** Splits needed to give the parts of the VMAs in [start, end) whose flags change new flags. */
function splitsFor(raw: readonly Seg[], start: number, end: number, f: (flags: number) => number): number {
  let need = 0;
  for (const v of raw) if (overlaps(v, start, end) && f(v.flags) !== v.flags) need += (v.start < start ? 1 : 0) + (end < v.end ? 1 : 0);
  return need;
}

/** Is there a start for len pages, at or past the NULL guard, with (start - off) % align == 0, clear of every VMA? */
function gapExists(raw: readonly Seg[], g: Geometry, len: number, align: number, off: number): boolean {
  const up = (x: number): number => Math.ceil((x - off) / align) * align + off;
  const s = [...raw].sort((a, b) => a.start - b.start);
  let from = PTRS_PER_PTE;
  for (const v of [...s, { start: g.vaPages, end: g.vaPages }]) {
    const a = up(from);
    if (a + len <= Math.min(v.start, g.vaPages) && a >= from) return true;
    from = Math.max(from, v.end);
  }
  return false;
}

/** What the call must have returned and the maps it must have left, given the maps before (raw VMAs). */
export interface Expected {
  /** the return values allowed (the first is the one named in a finding) */
  ret: number[];
  /** the maps after, or null where the call may fail either way and the maps must be unchanged then */
  after: Seg[];
}

/**
 * The contract of each call. Returns null when the result alone decides nothing (mmap's address:
 * any fitting gap), after checking what it can; or a problem string.
 */
export function expectedOf(call: Call, raw: readonly Seg[], g: Geometry): { ok: number[]; after: Seg[] } | string {
  const free = g.maxVmas - raw.length;
  switch (call.op) {
    case 'mmap': {
      const off = call.file >= 0 ? call.pgoff % call.align : 0;
      if (call.ret < 0) {
        // ENOMEM only when no VMA slot is free or no gap of that size and alignment exists
        if (free > 0 && gapExists(raw, g, call.len, call.align, off)) return `mmap of ${call.len} pages (align ${call.align}) failed with a free VMA slot and a gap that fits`;
        return { ok: [call.ret], after: [...raw] };
      }
      const s = call.ret, e = s + call.len;
      if (s < PTRS_PER_PTE || e > g.vaPages) return `mmap returned ${hex(s * 4096)}, outside the address space`;
      if ((s - off) % call.align !== 0) return `mmap returned ${hex(s * 4096)}, not aligned to ${call.align} pages (offset ${off})`;
      if (raw.some((v) => overlaps(v, s, e))) return `mmap returned ${hex(s * 4096)}, over an existing mapping`;
      return { ok: [s], after: [...raw, { start: s, end: e, flags: call.flags | VM_LIVE, file: call.file, pgoff: call.file >= 0 ? call.pgoff : 0 }] };
    }
    case 'munmap': {
      const holes = raw.filter((v) => v.start < call.start && call.end < v.end).length;
      if (holes > free) return { ok: [-1], after: [...raw] };
      return { ok: [0], after: cut(raw, call.start, call.end) };
    }
    case 'dontneed':
      // madvise_walk_vmas: -ENOMEM when part of the range is not mapped (the mapped parts zapped)
      return { ok: [covered(raw, call.start, call.end) === call.end - call.start ? 0 : -12], after: [...raw] };
    case 'mprotect': {
      const rw = VM_READ | VM_WRITE;
      const f = (flags: number): number => (flags & ~rw) | call.prot;
      const ENOMEM = -12;
      if (covered(raw, call.start, call.end) !== call.end - call.start || splitsFor(raw, call.start, call.end, f) > free) return { ok: [ENOMEM], after: [...raw] };
      return { ok: [0], after: remap(raw, call.start, call.end, f) };
    }
    case 'dontfork': {
      const f = (flags: number): number => (call.dontfork ? flags | VM_DONTFORK : flags & ~VM_DONTFORK);
      if (splitsFor(raw, call.start, call.end, f) > free) return { ok: [-1], after: [...raw] };
      // madvise changes the mapped parts of a range with holes, and then says ENOMEM
      return { ok: [covered(raw, call.start, call.end) === call.end - call.start ? 0 : -1], after: remap(raw, call.start, call.end, f) };
    }
    case 'mremap': {
      // MREMAP_FIXED | MREMAP_MAYMOVE, same size: whatever is at the target is unmapped first; the
      // moved part keeps its flags, file and file offset. ENOMEM (nothing changed) when fewer VMA
      // slots are free than the worst case needs: a hole the target's unmap punches, the new VMA,
      // the split of a source in the middle of its VMA (the model's check_mremap_params)
      const { start, nr, dest } = call;
      const end = start + nr, newEnd = dest + nr;
      const v = raw.find((x) => x.start <= start && start < x.end);
      const need = (raw.some((x) => x.start < dest && newEnd < x.end) ? 1 : 0) + 1 + (v && v.start < start && end < v.end ? 1 : 0);
      const fails = !(nr >= 1) || dest < 0 || newEnd > g.vaPages || (dest < end && start < newEnd) || !v || end > v.end || need > free;
      if (fails) return { ok: [-1], after: [...raw] };
      const moved: Seg = { start: dest, end: newEnd, flags: v.flags, file: v.file, pgoff: v.file >= 0 ? v.pgoff + (start - v.start) : 0 };
      return { ok: [dest], after: [...cut(cut(raw, dest, newEnd), start, end), moved] };
    }
    case 'fork':
      // the parent's maps do not change (the child's are checked apart: forkChildExpected)
      return { ok: call.ret >= 0 ? [call.ret] : [-1], after: [...raw] };
  }
}

/** The child's maps right after fork: the parent's, without the VM_DONTFORK parts. */
export function forkChildExpected(parentBefore: readonly Seg[]): Seg[] {
  return parentBefore.filter((v) => !(v.flags & VM_DONTFORK));
}

const segText = (v: Seg): string => `${hex(v.start * 4096)}-${hex(v.end * 4096)} flags ${hex(v.flags)}${v.file >= 0 ? ` file ${v.file}@${v.pgoff}` : ''}`;

/** The first difference between two normalized maps, or null. */
export function mapsDiff(expected: readonly Seg[], actual: readonly Seg[]): string | null {
  const a = normalize(expected), b = normalize(actual);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i], y = b[i];
    if (!x) return `unexpected mapping ${segText(y)}`;
    if (!y) return `missing mapping ${segText(x)}`;
    if (x.start !== y.start || x.end !== y.end || x.flags !== y.flags || x.file !== y.file || (x.file >= 0 && x.pgoff !== y.pgoff)) return `expected ${segText(x)}, found ${segText(y)}`;
  }
  return null;
}

/**
 * Judge one call: its result and the maps after, against the maps before. Returns the finding
 * (invariant and details) or null.
 */
export function judgeCall(call: Call, before: readonly Seg[], after: readonly Seg[], g: Geometry): { invariant: string; path: string; details: Record<string, unknown> } | null {
  const e = expectedOf(call, before, g);
  const args = { ...call };
  if (typeof e === 'string') return { invariant: 'syscall-result', path: PATH[call.op], details: { call: args, why: e } };
  if (!e.ok.includes(call.ret)) return { invariant: 'syscall-result', path: PATH[call.op], details: { call: args, expected: e.ok[0], why: `returned ${call.ret}, the maps before say ${e.ok[0]}`, before: before.map(segText) } };
  const d = mapsDiff(e.after, after);
  if (d) return { invariant: 'maps-mismatch', path: PATH[call.op], details: { call: args, why: d, before: normalize(before).map(segText), after: normalize(after).map(segText) } };
  return null;
}

// ---- the calls in flight per mm (shared memory: both engines) -------------------------------------

/**
 * L.oSys word per mm: the calls that change the maps in flight (low bits) and a sequence (high bits)
 * bumped at each start and end, in ONE word, so a call's start and end are each one atomic step.
 * (Two words let the other CPU's start slip between a start's two adds in the threads engine: the
 * ticket then counted itself alone with a sequence that already held the other call's start, and
 * the other call's changes were judged as this one's: a maps-mismatch false positive, 30-minute
 * threads nightly at 6ba30fd, seed 6466, a munmap overlapping an mmap of the same mm.)
 */
const SYS = 0;
const INFL_BITS = 8;
const INFL_MASK = (1 << INFL_BITS) - 1;
const SEQ_UNIT = 1 << INFL_BITS;
/** Calls in flight in a word of L.oSys. */
const inflight = (w: number): number => w & INFL_MASK;
/** The sequence part of a word of L.oSys (wraps: compared for equality only). */
const seqOf = (w: number): number => w >>> INFL_BITS;
const sysWord = (machine: Machine, mm: number): number => machine.L.oSys + mm * OSYS_WORDS + SYS;

/** A call about to be judged: the maps before, and whether it started alone. */
export interface SysTicket {
  mm: number;
  alone: boolean;
  seq: number;
  before: Seg[];
}

const segsOf = (machine: Machine, mm: number): Seg[] => rawSegs(vmas(machine, mm));

/** Before a call that changes mm's maps: count it in flight and take the maps, if it runs alone. */
export function sysBegin(cpu: Cpu, mm: number): SysTicket {
  const m = cpu.machine.m;
  const w = sysWord(cpu.machine, mm);
  // one step: counted in flight and the sequence moved on together
  const old = Atomics.add(m, w, SEQ_UNIT + 1);
  const alone = inflight(old) === 0;
  return { mm, alone, seq: seqOf((old + SEQ_UNIT + 1) | 0), before: alone ? segsOf(cpu.machine, mm) : [] };
}

/**
 * After it returned: if no other such call on this mm started or ended meanwhile, judge it
 * (cpu.violation on a finding). Returns whether it was judged.
 */
export function sysEnd(cpu: Cpu, t: SysTicket, call: Call): boolean {
  const m = cpu.machine.m;
  const w = sysWord(cpu.machine, t.mm);
  // Read the maps, then check that no other call started: in the threads engine one may start and
  // change them at any instant (reading the sequence first and the maps after let one in between).
  const after = t.alone ? segsOf(cpu.machine, t.mm) : null;
  const exact = after !== null && seqOf(Atomics.load(m, w)) === t.seq;
  Atomics.add(m, w, SEQ_UNIT - 1); // one step: out of flight, the sequence moved on
  if (!exact) return false;
  const f = judgeCall(call, t.before, after, { vaPages: cpu.machine.L.vaPages, maxVmas: cpu.machine.L.maxVmas });
  if (f) cpu.violation(f.invariant, f.path, { mm: t.mm, ...f.details, op: cpu.curOp });
  return true;
}

/** The sequence word of each process slot, before a fork picks one for the child. */
/**
 * Every slot's call sequence and generation before a fork: the child's maps are judged only if the
 * slot the fork filled saw no call since (seq) and is still the process this fork made (gen: one
 * more than before; a child that exited and whose slot another fork refilled has a later one).
 */
export interface SlotSeqs {
  seq: number[];
  gen: number[];
}
export function sysSeqs(machine: Machine): SlotSeqs {
  const { m, L } = machine;
  return {
    seq: Array.from({ length: L.maxMms }, (_, mm) => seqOf(Atomics.load(m, sysWord(machine, mm)))),
    gen: Array.from({ length: L.maxMms }, (_, mm) => Atomics.load(m, machine.mmWord(mm, MM.GEN))),
  };
}

/**
 * Right after fork returned child: if no call on the child's slot started since seqs were read
 * (and none is in flight), and the child still lives as the process this fork made (not exited:
 * exit_mmap empties the maps without a call of the workload's; not replaced by another fork into
 * the slot), its maps are the parent's before the fork without VM_DONTFORK parts.
 */
export function checkForkChild(cpu: Cpu, t: SysTicket, child: number, seqs: SlotSeqs): void {
  const machine = cpu.machine;
  const { m, L } = machine;
  // the parent's maps before the fork are what the child copied only if no other call on the
  // parent started meanwhile (it may have waited for the mmap_lock and changed them after the copy)
  const parentSeq = (): number => seqOf(Atomics.load(m, sysWord(machine, t.mm)));
  if (!t.alone || child < 0 || parentSeq() !== t.seq) return;
  // no call on the child's slot in flight or started since the fork began
  const childQuiet = (): boolean => {
    const w = Atomics.load(m, sysWord(machine, child));
    return inflight(w) === 0 && seqOf(w) === seqs.seq[child];
  };
  // the same process, alive: its generation is the one dup_mm gave it, its state LIVE (an exit
  // leaves LIVE before it touches the maps; a reuse of the slot moves the generation on)
  const same = (): boolean => Atomics.load(m, machine.mmWord(child, MM.GEN)) === seqs.gen[child] + 1 && Atomics.load(m, machine.mmWord(child, MM.STATE)) === MM_LIVE;
  if (!childQuiet() || !same()) return;
  const got = segsOf(cpu.machine, child);
  // as in sysEnd: the child's maps count only if no call on it started while they were read
  if (!childQuiet() || parentSeq() !== t.seq || !same()) return;
  const want = forkChildExpected(t.before);
  const d = mapsDiff(want, got);
  if (d) cpu.violation('maps-mismatch', 'dup_mm', { mm: t.mm, child, why: `child: ${d}`, expected: normalize(want).map(segText), found: normalize(got).map(segText), op: cpu.curOp });
}

// ---- a quiet window: no call that changes the maps in flight (for calls that do not change them) ----

/** The maps as they were when a call that does not change them began, if none that does was in flight. */
export interface QuietTicket {
  mm: number;
  quiet: boolean;
  seq: number;
  maps: Seg[];
}

/** Before a call that relies on the maps (a pin): are they settled, and what are they? */
export function quietBegin(cpu: Cpu, mm: number): QuietTicket {
  const m = cpu.machine.m;
  const w = sysWord(cpu.machine, mm);
  const w0 = Atomics.load(m, w);
  const seq = seqOf(w0);
  const quiet = inflight(w0) === 0;
  const maps = quiet ? segsOf(cpu.machine, mm) : [];
  // the maps count only if no call started while they were read (seqlock order, as sysEnd)
  return { mm, quiet: quiet && seqOf(Atomics.load(m, w)) === seq, seq, maps };
}

/** After it: were the maps settled from quietBegin to now (no call that changes them started)? */
export function quietHeld(cpu: Cpu, t: QuietTicket): boolean {
  return t.quiet && seqOf(Atomics.load(cpu.machine.m, sysWord(cpu.machine, t.mm))) === t.seq;
}

/** The part of the maps a ticket saw that holds vpn, or null. */
export function segAt(maps: readonly Seg[], vpn: number): Seg | null {
  return maps.find((v) => v.start <= vpn && vpn < v.end) ?? null;
}
