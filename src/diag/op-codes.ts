// What the reports make of an operation name (tool side; moved here from src/machine, which keeps
// no string matching of op names): the cost bucket its TLB invalidations and contpte folds are
// counted in (the summary's cost.<op>.<kind>), and the code its CPU's CPU.OP word holds, which hang
// reports read back as the op's name (src/diag/hang.ts opOf). The machine gets both through
// opCodesOf, which buildMachine (src/check/machine.ts) hands to every Machine it builds: the Cpu
// looks a name up as its curOp is set.
import type { OpCodes } from '../machine/machine.js';
import { COST_BASE, COST_KINDS, COST_OPS } from '../machine/events.js';
import { OP_KINDS } from '../machine/ops.js';

/** The cost bucket of an operation name (a workload op kind, a scenario op, or a label naming one in parentheses). Moved from src/machine/events.ts. */
export function costOpIndex(name: string): number {
  const m = /\((\w+)\)$/.exec(name);
  const k = m ? m[1] : name;
  const op = k === 'touch' || k === 'access' || k === 'read' || k === 'write' ? 'fault'
    : k === 'pin' || k === 'unpin' || k === 'pinio' ? 'gup'
    : k === 'sync' ? 'writeback'
    : k.includes('teardown') ? 'exit'
    : k;
  const i = (COST_OPS as readonly string[]).indexOf(op);
  return i < 0 ? COST_OPS.length - 1 : i;
}

/** Names the CPU.OP word can hold, beyond the workload's op kinds (index = code - 1). Moved from src/machine/hang.ts. */
export const OP_NAMES: readonly string[] = [...OP_KINDS, 'teardown'];

/** The CPU.OP code of an operation name: a workload op kind ("forkexit(fork)" counts as forkexit), or 0. Moved from src/machine/hang.ts. */
export function opCode(name: string): number {
  let i = OP_NAMES.indexOf(name);
  if (i < 0) i = OP_NAMES.indexOf(name.replace(/\s*\(.*\)$/, ''));
  if (i < 0) {
    const m = /\((\w+)\)$/.exec(name); // a scenario label naming its op in parentheses
    if (m) i = OP_NAMES.indexOf(m[1]);
  }
  return i + 1;
}

/** Per operation name, its codes (pure functions of the name; computed once). */
const cache = new Map<string, OpCodes>();

/**
 * The codes of an operation name, as the Cpu takes them (moved from src/machine/cpu.ts, which
 * computed and cached them): the counter index of its cost bucket's first kind, and its CPU.OP code.
 */
export function opCodesOf(name: string): OpCodes {
  let codes = cache.get(name);
  if (!codes) cache.set(name, (codes = { cost: COST_BASE + costOpIndex(name) * COST_KINDS.length, op: opCode(name) }));
  return codes;
}
