// The interleaving view of a failure: one column per simulated CPU, one row per step that matters,
// in kernel terms (function names, addresses in hex, folio orders, the PTL taken and released, op
// boundaries), ending with the violation. Built from an event log captured during a replay.
import type { Config } from '../config/config.js';
import type { EventHook } from '../machine/cpu.js';
import { EV, EV_NAMES, MAX_ORDERS, NOTE_LOCK_PTL } from '../machine/events.js';
import type { ViolationRecord } from '../engine/result.js';
import type { ObservedScheduler } from '../engine/schedulers/observed.js';
import type { Op } from '../workload/program.js';
import { formatEvent } from './events.js';

export interface LoggedEvent {
  step: number;
  cpu: number;
  /** the op of the CPU's program it happened in (ops ended so far) */
  op: number;
  code: number;
  a: number;
  b: number;
  c: number;
}

/** A pseudo event code in the log: the CPU was preempted in the middle of its op before this step. */
export const PREEMPTED = -1;

/**
 * Collects every event and note of a run (pass `hook` as runSched's onEvent and onNote) and every preemption,
 * stamped with the step and op by the observed scheduler.
 */
export class EventLog {
  readonly events: LoggedEvent[] = [];
  constructor(private readonly obs: ObservedScheduler) {
    obs.onPreempt = (step, cpu) => this.events.push({ step, cpu, op: obs.opIndex[cpu] ?? 0, code: PREEMPTED, a: 0, b: 0, c: 0 });
  }
  readonly hook: EventHook = (cpu, code, a, b, c) => {
    this.events.push({ step: this.obs.step, cpu, op: this.obs.opIndex[cpu] ?? 0, code, a, b, c });
  };
}

const hex = (vpn: number): string => '0x' + (vpn * 4096).toString(16);
const inOrders = (code: number, base: number): number => (code >= base && code < base + MAX_ORDERS ? code - base : -1);

interface Ctx {
  cfg: Config;
  programs?: readonly (readonly Op[])[];
}

/** One event in kernel terms, or null when it does not matter to the story. */
export function describe(e: LoggedEvent, ctx: Ctx): string | null {
  const { code, a, b, c } = e;
  let o: number;
  if ((o = inOrders(code, EV.SCAN_ORDER)) >= 0) {
    return o ? `alloc_anon_folio: range ${hex(a & ~((1 << o) - 1))} +${1 << o}p none, order ${o}` : `alloc_anon_folio: order 0 (no larger range none)`;
  }
  if ((o = inOrders(code, EV.ALLOC_FALLBACK)) >= 0) return `alloc_anon_folio: order ${o} allocation failed, lower order`;
  if ((o = inOrders(code, EV.RECHECK_RANGE_CHANGED)) >= 0) return `recheck under PTL: range ${hex(a)} +${1 << o}p changed`;
  if ((o = inOrders(code, EV.RETRY_LOWER)) >= 0) return `retry at order ${o} (retry-lower)`;
  if ((o = inOrders(code, EV.MAP_ANON)) >= 0) return `set_ptes ${hex(a)} x${1 << o} (order ${o} folio, pfn 0x${c.toString(16)})`;
  if ((o = inOrders(code, EV.FOLIO_FREE)) >= 0) return `free folio pfn 0x${a.toString(16)} (order ${o})`;
  switch (code) {
    case PREEMPTED:
      return `-- preempted --`;
    case EV.OP_START:
      return opRow(e, ctx);
    case EV.OP_END:
      return a ? `op ${e.op} done` : `op ${e.op}: no process, skipped`;
    case EV.NOTE_TOUCH:
      return null; // folded into the op row (see renderInterleaving)
    case EV.FAULT:
      return `fault ${b & 1 ? 'write' : b & 2 ? 'unshare' : 'read'} ${hex(a)}`;
    case EV.FAULT_SEGV:
      return `fault ${hex(a)}: SIGSEGV`;
    case EV.FAULT_ANON:
      return null; // the next row (scan or zero page) says it
    case EV.FAULT_SPURIOUS:
      return `fault ${hex(a)}: already present (spurious)`;
    case EV.ALLOC_OOM:
      return `alloc_anon_folio: out of memory`;
    case EV.RECHECK_PTE_CHANGED:
      return `recheck under PTL: pte ${hex(a)} changed`;
    case EV.LOST_RACE_EXIT:
      return `lost the race: release folio, return`;
    case EV.RETRY_ORDER0:
      return `retry at order 0 (preferred-or-0)`;
    case EV.REFAULT:
      return `refault ${hex(a)} (#${b})`;
    case EV.MAP_ZERO:
      return `set_pte_at ${hex(a)}: zero page`;
    case EV.WP_REUSE:
      return `do_wp_page ${hex(a)}: reuse${b ? ' (AnonExclusive)' : ''}`;
    case EV.WP_COPY:
      return `do_wp_page ${hex(a)}: copy${b ? ' from the zero page' : ''}`;
    case EV.WP_SHARED:
      return `do_wp_page ${hex(a)}: shared, make writable`;
    case EV.FORK:
      return `fork: mm${a} -> mm${b}`;
    case EV.FORK_FAIL:
      return `fork of mm${a} failed`;
    case EV.FORK_COPY_PAGE:
      return `copy_present_page pfn 0x${a.toString(16)} (maybe pinned)`;
    case EV.GUP_FAST:
      return `pin ${hex(a)} ${b ? 'rw' : 'ro'} (GUP-fast)`;
    case EV.GUP_SLOW:
      return `pin ${hex(a)} ${b ? 'rw' : 'ro'} (GUP slow path)`;
    case EV.GUP_FAST_FORK_RACE:
      return `GUP-fast ${hex(a)}: raced a fork, back off`;
    case EV.UNPIN:
      return `unpin pfn 0x${a.toString(16)}`;
    case EV.PIN_IO:
      return `device I/O through pin ${hex(a)} (pfn 0x${b.toString(16)})`;
    case EV.ZAP_BATCH:
      return `zap_present_ptes ${hex(a)} x${b}`;
    case EV.ZAP_PTES:
      return `zap_pte ${hex(a)}`;
    case EV.TLB_FLUSH:
      return `flush_tlb_range ${hex(a)} +${b}p`;
    case EV.TLB_FLUSH_MM:
      return `flush_tlb_mm mm${a}`;
    case EV.MMAP:
      return `mmap ${hex(a)} +${b}p`;
    case EV.MUNMAP:
      return `munmap ${hex(a)} +${b}p`;
    case EV.DONTNEED:
      return `madvise(DONTNEED) ${hex(a)} +${b}p`;
    case EV.MPROTECT:
      return `mprotect ${hex(a)} +${b}p`;
    case EV.MREMAP:
      return `mremap ${hex(a)} -> ${hex(b)} +${c}p`;
    case EV.EXIT:
      return `exit mm${a}`;
    case EV.SPAWN:
      return `new process mm${a}`;
    case EV.NOTE_LOCK:
    case EV.NOTE_UNLOCK:
      if (a !== NOTE_LOCK_PTL) return null; // the zone and page-cache locks are noise here
      return `${code === EV.NOTE_LOCK ? 'spin_lock' : 'spin_unlock'} ${ptlName(b, ctx.cfg)}`;
    case EV.VIOLATION:
      return null; // the last row says it, with its details
  }
  return formatEvent({ seq: 0, n: 0, cpu: e.cpu, event: EV_NAMES[code] ?? String(code), a, b, c, step: e.step });
}

/** The PTL of PTE table t, named by the process and the 2 MiB range it covers. */
function ptlName(t: number, cfg: Config): string {
  const perMm = cfg.vaSize / (2 << 20);
  return `ptl(mm${Math.floor(t / perMm)} ${hex((t % perMm) * 512)})`;
}

function opRow(e: LoggedEvent, ctx: Ctx): string {
  const op = ctx.programs?.[e.cpu]?.[e.op];
  if (!op) return `op ${e.op}: mm${e.a}`;
  const rw = op.kind === 'touch' || op.kind === 'pin' || op.kind === 'mprotect' || op.kind === 'dontfork' ? (op.write ? ' write' : ' read') : '';
  return `op ${e.op}: ${op.kind}${rw} mm${op.proc}`;
}

export interface InterleavingOptions {
  programs?: readonly (readonly Op[])[];
  /** at most this many rows before the violation (the latest are kept) */
  maxRows?: number;
}

/**
 * The interleaving as text lines: a header with one column per CPU, one row per event that
 * matters (the step it happened at, in the column of its CPU), and the violation last.
 */
export function renderInterleaving(events: readonly LoggedEvent[], v: ViolationRecord, cfg: Config, opts: InterleavingOptions = {}): string[] {
  const ctx: Ctx = { cfg, programs: opts.programs };
  const rows: { step: number; cpu: number; text: string }[] = [];
  const lastRow = new Map<number, { text: string }>(); // per CPU
  for (const e of events) {
    if (e.code === EV.NOTE_TOUCH) {
      // the run the touch resolved to belongs on its op row
      const last = lastRow.get(e.cpu);
      if (last && last.text.startsWith(`op ${e.op}: touch`)) last.text += ` ${hex(e.a)} +${e.b}p`;
      continue;
    }
    const text = describe(e, ctx);
    if (text === null) continue;
    const row = { step: e.step, cpu: e.cpu, text };
    rows.push(row);
    lastRow.set(e.cpu, row);
  }
  const max = opts.maxRows ?? 400;
  const cut = Math.max(0, rows.length - max);
  const shown = rows.slice(cut);
  const W = Math.min(60, Math.max(24, ...shown.map((r) => r.text.length + 2)));
  const head = Array.from({ length: cfg.cpus }, (_, i) => `CPU${i}`.padEnd(W)).join('').trimEnd();
  const out = [`  step  ${head}`];
  if (cut) out.push(`  (${cut} earlier rows not shown)`);
  let lastStep = -1;
  for (const r of shown) {
    const step = r.step === lastStep ? '' : String(r.step);
    lastStep = r.step;
    const text = r.text.length > W - 2 ? r.text.slice(0, W - 3) + '…' : r.text;
    out.push(`${step.padStart(6)}  ${' '.repeat(W * r.cpu)}${text}`.trimEnd());
  }
  const who = v.cpu >= 0 ? `CPU${v.cpu} ` : '';
  out.push(`${String(v.step).padStart(6)}  VIOLATION ${who}${v.signature}: ${compact(v.details)}`);
  return out;
}

/** Details as `key value, ...`; a vpn also as its address. */
function compact(d: Record<string, unknown>): string {
  return Object.entries(d)
    .map(([k, x]) => `${k} ${k === 'vpn' && typeof x === 'number' ? `${x} (${hex(x)})` : typeof x === 'object' ? JSON.stringify(x) : String(x)}`)
    .join(', ');
}
