// What the per-CPU runtime records for hang reports: the unit their times are in, and the code of
// the op each CPU runs (its CPU.OP word). The reports themselves (lock names, holders, waiters,
// details) are the tool's: src/diag/hang.ts.
import { OP_KINDS } from './ops.js';

export const UNIT_STEP = 'scheduler step';
export const UNIT_SEQ = 'event sequence number (G.SEQ)';

/** Names the CPU.OP word can hold, beyond the workload's op kinds (index = code - 1). */
export const OP_NAMES: readonly string[] = [...OP_KINDS, 'teardown'];

/** The CPU.OP code of an operation name: a workload op kind ("forkexit(fork)" counts as forkexit), or 0. */
export function opCode(name: string): number {
  let i = OP_NAMES.indexOf(name);
  if (i < 0) i = OP_NAMES.indexOf(name.replace(/\s*\(.*\)$/, ''));
  if (i < 0) {
    const m = /\((\w+)\)$/.exec(name); // a scenario label naming its op in parentheses
    if (m) i = OP_NAMES.indexOf(m[1]);
  }
  return i + 1;
}
