// The one way the tool builds a machine: the checker's hooks (src/linux/include/linux/mmdebug.ts)
// are installed first, so every check the kernel code triggers is on in every machine.
import { Machine } from '../machine/machine.js';
import type { MachineConfig } from '../machine/params.js';
import { installMmDebugHooks } from '../linux/include/linux/mmdebug.js';
import { ptepAddr } from '../linux/include/linux/pgtable.js';
import { checkProtCommit } from './invariants.js';
import { forkOracle, mremapOracleBegin, mremapOracleEnd } from './oracle.js';
import {
  checkAllocFailed, checkCowReuse, checkFolioCleaned, checkFolioFree, checkTableAtUnlock, checkTlbSynced, pteBatchBegin, pteBatchEnd, writebackBegin, writebackEnd,
} from './contracts.js';
import { LOCK_WORDS } from '../machine/layout.js';
import { lockWaitHang } from '../diag/hang.js';
import { checkMmIdChange } from './mm-id.js';
import { countPoint } from './points.js';
import { checkPtlUnlock } from './instruments.js';
import { opCodesOf } from '../diag/op-codes.js';
import { checkRmapMove } from './rmap-order.js';

let installed = false;

/** Install the checker's hooks into the kernel layer (once per module instance). */
export function installCheckHooks(): void {
  if (installed) return;
  installed = true;
  installMmDebugHooks({
    ptlUnlock(cpu, off) {
      const bad = checkPtlUnlock(cpu, off); // counts the call too (instrument check, ptl-unlock)
      if (bad) cpu.violation(bad.invariant, bad.path, bad.details);
      checkTableAtUnlock(cpu, (off - cpu.machine.L.ptl) / LOCK_WORDS);
    },
    tlbSynced(cpu, mm, start, end, path) {
      countPoint(cpu, 'tlbSynced', path);
      checkTlbSynced(cpu, mm, start, end, path);
    },
    cowReuse(cpu, mm, vpn, pfn, folio, exclusive) {
      countPoint(cpu, 'cowReuse', '');
      checkCowReuse(cpu, mm, vpn, pfn, folio, exclusive);
    },
    allocFailed: checkAllocFailed,
    folioFree(cpu, head, nr) {
      countPoint(cpu, 'folioFree', '');
      checkFolioFree(cpu, head, nr);
    },
    folioCleaned: checkFolioCleaned, // counts its point itself: only a write-notify file's folio is judged
    writebackBegin(cpu, file) {
      countPoint(cpu, 'writeback', '');
      writebackBegin(cpu, file);
    },
    writebackEnd,
    protCommit(cpu, path, ptep, oldPte, pte) {
      countPoint(cpu, 'protCommit', path);
      const f = checkProtCommit(oldPte, pte, Atomics.load(cpu.m, ptep));
      if (f) cpu.violation(f.invariant, path, { ...f.details, ...ptepAddr(cpu.machine, ptep) });
    },
    lockWaitLimit(cpu, off, waitedMs, mode) {
      const h = lockWaitHang(cpu, off, waitedMs, mode);
      cpu.violation('lock-hang', h.path, h.details);
    },
    mmIdChange(cpu, folio, path) {
      countPoint(cpu, 'mmIdChange', path);
      checkMmIdChange(cpu, folio, path);
    },
    pteBatchBegin,
    pteBatchEnd(cpu, path, ptep, nr) {
      countPoint(cpu, 'pteBatch', path);
      pteBatchEnd(cpu, path, ptep, nr);
    },
    forkCopied: forkOracle,
    mremapBegin: mremapOracleBegin,
    mremapEnd: mremapOracleEnd,
    rmapMove: checkRmapMove, // counts its point itself: only a file mapping's move is judged
  });
}

/** A machine for cfg (on sab, or a new buffer), with the checker's hooks installed. */
export function buildMachine(cfg: MachineConfig, sab?: SharedArrayBuffer): Machine {
  installCheckHooks();
  return new Machine(cfg, opCodesOf, sab); // the op names' cost buckets and hang-report codes are the tool's
}
