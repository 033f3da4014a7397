// Compiles a scenario into the executor's step list (vm/README.md, "steps.txt"): the lines one
// scenario adds to a batch, and the plan the comparison follows (which process ranges are observed
// after which step). The executor runs what the kernel can run; a scenario with a step only the
// model can take (a read-only long-term pin: user space has none; I/O through a pin; writeback and
// sync of tmpfs files, which have none) is not compiled: runnable() says why. Files with write
// notify are on ext4 over a loop device, the others on tmpfs (fileSystems).
import type { Config } from '../config/config.js';
import { PAGE_SIZE, type Scenario, type Step } from '../scenario/format.js';

/** The mTHP sizes (kB) of anon folios and their orders; order 1 has no anon size. */
export const MTHP_ORDERS = [2, 3, 4, 5, 6, 7, 8, 9] as const;
export const sizeKb = (order: number): number => (PAGE_SIZE << order) / 1024;

/** Why the kernel cannot run this step as the model does, or null. */
export function kernelCannot(step: Step): string | null {
  switch (step.op) {
    case 'pin':
      return step.mode === 'ro' ? 'a read-only long-term pin (user space has none: io_uring fixed buffers pin read-write)' : null;
    case 'pin-read':
    case 'pin-write':
      return 'device I/O through a pin (not driven from user space here)';
    case 'migrate':
      return 'move_pages of one page (the executor has no move_pages step)';
    case 'reclaim':
      return 'reclaim of every folio once (the kernel gives user space no such trigger; MADV_PAGEOUT is the nearest)';
    case 'concurrent':
      return 'a concurrent block (its interleaving is the explorer\'s: `foliostorm explore`; a kernel run gives one schedule nobody chose)';
    default:
      return null;
  }
}

/**
 * Where each file of the scenario lives on the kernel: ext4 (over a loop device) when a shared
 * mapping of it asks for write notification (the model's VM_WRITENOTIFY: a disk filesystem), else
 * tmpfs. A private mapping's writenotify changes nothing in the model: it goes where the file is.
 */
export function fileSystems(sc: Scenario): Map<string, 'ext4' | 'tmpfs'> {
  const out = new Map<string, 'ext4' | 'tmpfs'>();
  for (const s of sc.steps) {
    if (s.op !== 'mmap' || s.kind !== 'file') continue;
    if (!out.has(s.file!) || (s.shared && s.writenotify)) out.set(s.file!, s.shared && s.writenotify ? 'ext4' : 'tmpfs');
  }
  return out;
}
/** Does the scenario map a file on ext4 (its boot needs the image)? */
export const needsExt4 = (sc: Scenario): boolean => [...fileSystems(sc).values()].includes('ext4');

/** null when every step can run on the kernel, else the first reason (step index and why). */
export function runnable(sc: Scenario): { step: number; reason: string } | null {
  const fs = fileSystems(sc);
  for (const s of sc.steps) {
    const why = kernelCannot(s);
    if (why) return { step: s.index, reason: why };
    // one file system per file on the kernel
    if (s.op === 'mmap' && s.kind === 'file' && s.shared && !s.writenotify && fs.get(s.file!) === 'ext4') return { step: s.index, reason: `a shared mapping without write notify of file "${s.file}", which another maps with it (a file is on one file system: ext4 or tmpfs)` };
    // tmpfs has no writeback: the model's writeback would clean what the kernel keeps dirty
    if (s.op === 'writeback' && fs.get(s.file) !== 'ext4') return { step: s.index, reason: 'writeback of a file without write notify (the executor\'s files without it are on tmpfs, which has none)' };
    if (s.op === 'sync' && [...fs.values()].includes('tmpfs')) return { step: s.index, reason: 'sync with a file without write notify (on tmpfs, which has no writeback)' };
  }
  return null;
}

/** A page range of the address space, in bytes. */
export interface Range {
  addr: number;
  len: number;
}

/** Every range any step maps or moves to, merged: what each live process is observed over. */
export function observedRanges(sc: Scenario): Range[] {
  const rs: [number, number][] = [];
  for (const s of sc.steps) {
    if (s.op === 'mmap') rs.push([s.addr, s.addr + s.len]);
    if (s.op === 'mremap') rs.push([s.newAddr, s.newAddr + s.len]);
  }
  rs.sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const r of rs) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else out.push([r[0], r[1]]);
  }
  return out.map(([a, b]) => ({ addr: a, len: b - a }));
}

/** After which steps the processes are observed: every step that can change a page table or a folio. */
export const observesAfter = (s: Step): boolean => s.op !== 'expect';

/** The live processes after each step, in order of creation. */
export function liveAfter(sc: Scenario): string[][] {
  const live: string[] = [];
  const out: string[][] = [];
  for (const s of sc.steps) {
    if (s.op === 'mmap' && !live.includes(s.proc)) live.push(s.proc);
    if (s.op === 'fork') live.push(s.child);
    if (s.op === 'exit') live.splice(live.indexOf(s.proc), 1);
    out.push([...live]);
  }
  return out;
}

/** The THP settings a config asks for: per mTHP size, anon `enabled` and tmpfs `shmem_enabled`. */
export function thpSettings(cfg: Config): { sizeKb: number; anon: 'always' | 'never'; shmem: 'always' | 'never' }[] {
  return MTHP_ORDERS.map((o) => ({
    sizeKb: sizeKb(o),
    anon: cfg.anonOrders.includes(o) ? 'always' : 'never',
    shmem: cfg.files.orders.includes(o) ? 'always' : 'never',
  }));
}

const hex = (n: number): string => `0x${n.toString(16)}`;
const PROT: Record<string, string> = { none: 'none', r: 'r', rw: 'rw' };

/** The write tag of step k (the executor stores (tag << 32) | page index): step index + 1, never 0. */
export const writeTag = (step: number): number => step + 1;

/** The executor's lines for one scenario (sid: its number in the batch). Throws if it is not runnable. */
export function compileScenario(sc: Scenario, sid: number): string[] {
  const bad = runnable(sc);
  if (bad) throw new Error(`${sc.file}: step ${bad.step}: ${bad.reason}`);
  const lines = [`scenario ${sid}`];
  // top level "never": a per-size "inherit" stays off; each size is set on its own
  lines.push('thp-top never');
  for (const t of thpSettings(sc.config)) {
    lines.push(`thp ${t.sizeKb} ${t.anon}`);
    lines.push(`thp-shmem ${t.sizeKb} ${t.shmem}`);
  }
  const ranges = observedRanges(sc);
  const live = liveAfter(sc);
  const fs = fileSystems(sc);
  for (const s of sc.steps) {
    lines.push(`step ${s.index}`);
    switch (s.op) {
      case 'mmap':
        lines.push(s.kind === 'anon'
          ? `mmap ${s.proc} ${hex(s.addr)} ${hex(s.len)} ${PROT[s.prot]} anon`
          : `mmap ${s.proc} ${hex(s.addr)} ${hex(s.len)} ${PROT[s.prot]} file ${s.file} ${hex(s.offset)} ${s.shared ? 1 : 0}${fs.get(s.file!) === 'ext4' ? ' ext4' : ''}`);
        break;
      case 'writeback':
        lines.push(`writeback ${s.file}`);
        break;
      case 'sync':
        lines.push('sync');
        break;
      case 'munmap':
        lines.push(`munmap ${s.proc} ${hex(s.addr)} ${hex(s.len)}`);
        break;
      case 'mprotect':
        lines.push(`mprotect ${s.proc} ${hex(s.addr)} ${hex(s.len)} ${PROT[s.prot]}`);
        break;
      case 'madvise':
        lines.push(`madvise ${s.proc} ${hex(s.addr)} ${hex(s.len)} ${s.advice}`);
        break;
      case 'mremap':
        lines.push(`mremap ${s.proc} ${hex(s.addr)} ${hex(s.len)} ${hex(s.newAddr)}`);
        break;
      case 'read':
        lines.push(`read ${s.proc} ${hex(s.addr)} ${hex(s.len)}`);
        break;
      case 'write':
        lines.push(`write ${s.proc} ${hex(s.addr)} ${hex(s.len)} ${writeTag(s.index)}`);
        break;
      case 'fork':
        lines.push(`fork ${s.proc} ${s.child}`);
        break;
      case 'exit':
        lines.push(`exit ${s.proc}`);
        break;
      case 'pin':
        lines.push(`pin ${s.proc} ${hex(s.addr)} ${hex(s.len)} ${s.id}`);
        break;
      case 'unpin':
        lines.push(`unpin ${s.id}`);
        break;
      case 'expect':
        break; // the model's own check: nothing to run
      case 'observe':
        break; // the observations below are all it asks for
      case 'thp':
        if (s.enabled) lines.push(`thp ${sizeKb(s.order)} ${s.enabled}`);
        if (s.shmemEnabled) lines.push(`thp-shmem ${sizeKb(s.order)} ${s.shmemEnabled}`);
        break;
      default:
        throw new Error(`${sc.file}: step ${s.index}: op ${s.op} cannot run on the kernel`);
    }
    if (observesAfter(s)) for (const p of live[s.index]) for (const r of ranges) lines.push(`observe ${p} ${hex(r.addr)} ${hex(r.len)}`);
  }
  lines.push('end');
  return lines;
}
