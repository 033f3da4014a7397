// A simulated user load or store (the workload's side of an access): the MMU translates it
// (machine/mmu.ts: TLB, lockless walk, a/d compare-and-swap, TLB fill), then it touches the page's
// content word and keeps the data oracle's books in the same indivisible step. A missing entry, or
// a store to a read-only one, raises a page fault (handle_mm_fault, the kernel) and the access is
// retried afterwards, as hardware re-executes the faulting instruction.
import type { Cpu } from '../machine/cpu.js';
import { type Gen, P } from '../machine/gen.js';
import { EV } from '../machine/events.js';
import { CPU, MM } from '../machine/layout.js';
import { PG_BUDDY, ZERO_PFN } from '../machine/machine.js';
import { pte_pfn, pteToString } from '../machine/pte.js';
import { MMU_RETRY, mmu_translate } from '../machine/mmu.js';
import { accessNotAllowed, allocFailures, storeEntryProblem } from '../check/contracts.js';
import { handle_mm_fault, VM_FAULT_OK } from '../linux/mm/memory.js';
import { UNIT_SEQ, UNIT_STEP } from '../diag/hang.js';
import { freeGen, freeRacedSince, hex, makeFileToken, mremapRace, recordFileWrite, recordForkRace, recordWrite, tagOf, tokenVersion, zapGen } from '../check/oracle.js';

export const ACCESS_OK = 0;
export const ACCESS_SEGV = 1;
export const ACCESS_OOM = 2;

/** Result of the last access of this CPU (kept on the side to avoid allocating per access). */
export interface AccessOut {
  status: number;
  value: number; // read: the loaded word
  pfn: number;
  g1: number; // zap generation of the page just before / after the load or store
  g2: number;
  faults: number;
  /** store only: a fork of this mm was in flight at the store (the child may or may not see it) */
  forkRaced: boolean;
  forkChild: number;
  /** load only: the page's oracle tag just before the load */
  tag?: number;
  /** the file page the access hit (a page cache page), or -1 */
  fp?: number;
  /**
   * A probe after munmap or mprotect(PROT_READ) returned (run-op.ts): the VMA is checked whether a
   * TLB entry or a walk let the access through (an ordinary access: only through a TLB entry).
   */
  probe?: boolean;
}

export function* user_access(cpu: Cpu, mm: number, vpn: number, write: boolean, token: number, out: AccessOut): Gen<void> {
  const machine = cpu.machine;
  const m = cpu.m;
  const seqW = machine.cpuWord(cpu.id, CPU.ACCESS_SEQ);
  const ptep = machine.ptep(mm, vpn);
  const pgd = machine.pgdWord(machine.tableIndex(mm, vpn));
  out.faults = 0;
  let firstFault = 0;
  for (;;) {
    yield P.ACCESS;
    // The access itself is one indivisible step: a TLB-shootdown IPI waits for it (ACCESS_SEQ odd).
    Atomics.add(m, seqW, 1);
    // a MADV_FREE may clear the dirty bit this store's walk sets, before the oracle records it
    const free1 = write ? freeGen(machine, mm) : 0;
    const pte = mmu_translate(cpu, mm, vpn, write, pgd, ptep);
    if (pte === MMU_RETRY) {
      Atomics.add(m, seqW, 1);
      continue; // the entry changed under the MMU's a/d update: walk again
    }
    if (pte) {
      const pfn = pte_pfn(pte);
      out.pfn = pfn;
      if (Atomics.load(m, machine.L.pFlags + pfn) & PG_BUDDY) {
        Atomics.add(m, seqW, 1);
        cpu.violation('use-after-free', write ? 'user store' : 'user load', { mm, vpn, pfn, pte: pte, via: 'TLB or page table' });
      }
      if (write && storeEntryProblem(pte)) {
        Atomics.add(m, seqW, 1);
        cpu.violation('store-through-readonly-entry', 'user store', { mm, vpn, addr: hex(vpn * 4096), entry: pteToString(pte), why: storeEntryProblem(pte), via: cpu.tlbHit ? 'TLB' : 'page table', op: cpu.curOp });
      }
      if (cpu.tlbHit || out.probe) {
        // what munmap and mprotect promise once they return: the access faults (docs/checks.md).
        // Through a walk it does already: a present entry outside a VMA, or a writable one in a
        // read-only VMA, is caught when the PTL it was written under is released.
        const bad = accessNotAllowed(machine, mm, vpn, write, pte, cpu.tlbHit);
        if (bad) {
          Atomics.add(m, seqW, 1);
          cpu.violation(bad.invariant, write ? 'user store' : 'user load', { ...bad.details, op: cpu.curOp });
        }
      }
      out.g1 = zapGen(machine, mm, vpn);
      if (write) {
        if (pfn === ZERO_PFN) {
          Atomics.add(m, seqW, 1);
          cpu.violation('zero-page-written', 'user store', { mm, vpn });
        }
        const fw = machine.mmWord(mm, MM.FORK_SEQ);
        const rw = machine.mmWord(mm, MM.MREMAP_SEQ);
        const f1 = Atomics.load(m, fw);
        const r1 = Atomics.load(m, rw);
        const fp = machine.filePageOfPfn(pfn);
        if (fp >= 0 && (fp % machine.L.filePages) % machine.L.cpus !== vpn % machine.L.cpus) {
          // file mappings are placed so that a page and its vpn have one owner: a store that lands
          // in a file page of another owner went through an entry that maps the wrong page
          Atomics.add(m, seqW, 1);
          cpu.violation('data-misdirected', 'user store', { mm, vpn, pfn, filePage: fp });
        }
        if (fp >= 0) {
          // a page cache page (a shared file mapping): the token names the file page, and the file
          // oracle records it; no fork or mremap window applies (every mapping shares this page)
          const ft = makeFileToken(tokenVersion(token), fp);
          Atomics.store(m, machine.L.pContent + pfn, ft);
          recordFileWrite(machine, fp, ft);
          out.value = ft;
          out.fp = fp;
          out.forkRaced = false;
          out.g2 = zapGen(machine, mm, vpn);
          Atomics.add(m, seqW, 1);
          cpu.counters[EV.WRITE]++;
          out.status = ACCESS_OK;
          return;
        }
        Atomics.store(m, machine.L.pContent + pfn, token);
        // Oracle bookkeeping inside the access (tool side), so that it is ordered with a fork:
        // record the write, then look at the fork sequence. Either a fork that starts later copies
        // this record, or we see the fork and tell its child the write may have reached it.
        recordWrite(machine, mm, vpn, token, out.g1, zapGen(machine, mm, vpn), freeRacedSince(machine, mm, free1));
        const f2 = Atomics.load(m, fw);
        out.forkRaced = ((f1 | f2) & 1) !== 0 || f1 !== f2;
        out.forkChild = out.forkRaced ? Atomics.load(m, machine.mmWord(mm, MM.FORK_CHILD)) : -1;
        if (out.forkRaced && out.forkChild >= 0) recordForkRace(machine, out.forkChild, vpn, token);
        // The same for mremap: either the move, starting later, moves this record with the page, or
        // we see the move and tell the new address the store may be there (see mremapOracleBegin).
        const r2 = Atomics.load(m, rw);
        if (((r1 | r2) & 1) !== 0 || r1 !== r2) mremapRace(machine, mm, vpn, token);
        out.value = token;
        out.fp = -1;
      } else {
        // the page's tag (where its data was written, if it moved) before the load: a non-owner
        // that loads moved data must not see the tag the owner's next write resets
        out.tag = tagOf(machine, mm, vpn);
        out.fp = machine.filePageOfPfn(pfn);
        out.value = Atomics.load(m, machine.L.pContent + pfn);
      }
      out.g2 = zapGen(machine, mm, vpn);
      Atomics.add(m, seqW, 1);
      cpu.counters[write ? EV.WRITE : EV.READ]++;
      out.status = ACCESS_OK;
      return;
    }
    Atomics.add(m, seqW, 1);
    // Page fault. A fault that returns without mapping the page (a lost race) faults again.
    out.faults++;
    if (out.faults === 1) firstFault = cpu.stamp();
    if (out.faults > 1) cpu.ev(EV.REFAULT, vpn, out.faults);
    if (out.faults > cpu.cfg.refaultLimit) cpu.violation('fault-livelock', 'handle_mm_fault', livelockDetails(cpu, mm, vpn, write, out.faults, firstFault));
    const fails = allocFailures(machine, cpu.id);
    const r = yield* handle_mm_fault(cpu, mm, vpn, write);
    if (r !== VM_FAULT_OK) {
      out.status = r === 1 ? ACCESS_SEGV : ACCESS_OOM;
      // VM_FAULT_OOM means an allocation of this fault failed: anything else is a fault path that
      // gave up without trying (the workload would take it for memory pressure and go on)
      if (out.status === ACCESS_OOM && allocFailures(machine, cpu.id) === fails) {
        cpu.violation('oom-without-allocation-failure', 'handle_mm_fault', { mm, vpn, addr: hex(vpn * 4096), write, op: cpu.curOp });
      }
      return;
    }
  }
}

/**
 * The fault-livelock report: the address and mm, how often it faulted, when the first fault began
 * (scheduler step in sched, G.SEQ in threads) and why the last fault gave up without mapping the
 * page (the recheck that failed and the entry it found), or that it had mapped it and the entry
 * was gone again before the access retried.
 */
function livelockDetails(cpu: Cpu, mm: number, vpn: number, write: boolean, faults: number, firstFault: number): Record<string, unknown> {
  const unit = cpu.threaded ? UNIT_SEQ : UNIT_STEP;
  const lastMiss = cpu.faultMiss || 'none recorded: the last fault returned as if it had resolved the access, and the access found no usable entry again';
  const found = cpu.faultMiss && cpu.faultMissVpn >= 0 ? { vpn: cpu.faultMissVpn, addr: hex(cpu.faultMissVpn * 4096), pte: pteToString(cpu.faultMissPte) } : null;
  const summary =
    `CPU ${cpu.id}${cpu.curOp ? ` (${cpu.curOp})` : ''}: a ${write ? 'write' : 'read'} of mm ${mm} ${hex(vpn * 4096)} faulted ${faults} times ` +
    `(refaultLimit ${cpu.cfg.refaultLimit}) since ${unit === UNIT_STEP ? 'step' : 'seq'} ${firstFault}; the last fault: ${lastMiss}` +
    (found ? ` (found ${found.pte} at ${found.addr})` : '');
  return { mm, vpn, addr: hex(vpn * 4096), write, faults, refaults: faults - 1, firstFault, now: cpu.stamp(), unit, op: cpu.curOp, lastMiss, found, summary };
}
