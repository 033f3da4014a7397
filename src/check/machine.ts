// The one way the tool builds a machine: the checker's hooks (src/linux/include/linux/mmdebug.ts)
// are installed first, so every check the kernel code triggers is on in every machine.
import { Machine } from '../machine/machine.js';
import type { MachineConfig } from '../machine/params.js';
import { installMmDebugHooks } from '../linux/include/linux/mmdebug.js';
import { ptepAddr } from '../linux/include/linux/pgtable.js';
import { checkProtCommit } from './invariants.js';
import { contpte_check_unlock } from './contpte.js';
import { forkOracle, mremapOracleBegin, mremapOracleEnd } from './oracle.js';
import { checkCowReuse, checkFolioCleaned, checkFolioFree, checkTableAtUnlock, checkTlbSynced, writebackBegin, writebackEnd } from './contracts.js';
import { LOCK_WORDS } from '../machine/layout.js';
import { lockWaitHang } from '../diag/hang.js';
import { checkMmIdChange } from './mm-id.js';

let installed = false;

/** Install the checker's hooks into the kernel layer (once per module instance). */
export function installCheckHooks(): void {
  if (installed) return;
  installed = true;
  installMmDebugHooks({
    ptlUnlock(cpu, off) {
      if (cpu.contTouched.length !== 0) contpte_check_unlock(cpu, off);
      checkTableAtUnlock(cpu, (off - cpu.machine.L.ptl) / LOCK_WORDS);
    },
    tlbSynced: checkTlbSynced,
    cowReuse: checkCowReuse,
    folioFree: checkFolioFree,
    folioCleaned: checkFolioCleaned,
    writebackBegin,
    writebackEnd,
    protCommit(cpu, path, ptep, oldPte, pte) {
      const f = checkProtCommit(oldPte, pte);
      if (f) cpu.violation(f.invariant, path, { ...f.details, ...ptepAddr(cpu.machine, ptep) });
    },
    lockWaitLimit(cpu, off, waitedMs, mode) {
      const h = lockWaitHang(cpu, off, waitedMs, mode);
      cpu.violation('lock-hang', h.path, h.details);
    },
    mmIdChange: checkMmIdChange,
    forkCopied: forkOracle,
    mremapBegin: mremapOracleBegin,
    mremapEnd: mremapOracleEnd,
  });
}

/** A machine for cfg (on sab, or a new buffer), with the checker's hooks installed. */
export function buildMachine(cfg: MachineConfig, sab?: SharedArrayBuffer): Machine {
  installCheckHooks();
  return new Machine(cfg, sab);
}
