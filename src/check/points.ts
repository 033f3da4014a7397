// The checker's contract points (issue 14: a clean night must mean no bug). A contract that is
// never evaluated proves nothing, and a hook told a wrong kernel path files its findings under a
// name nobody looks for. So every hook call the kernel makes is counted here, per point, into the
// counted-only events `check.<point>` (src/machine/events.ts, CHECK_POINTS); a path that is not
// one of the known points is an instrument-mismatch at once, and the reach floor
// (src/check/reach.ts) requires each point the config drives to have been evaluated.
import type { Cpu } from '../machine/cpu.js';
import { CHECK_POINTS, type CheckPoint, EV } from '../machine/events.js';
import { INSTRUMENT_MISMATCH } from './instruments.js';

const INDEX = new Map<string, number>(CHECK_POINTS.map((p, i) => [p, EV.CHECK + i]));

/** The event code of a point (throws for a name not in CHECK_POINTS: a tool bug). */
export function pointEvent(point: CheckPoint): number {
  const e = INDEX.get(point);
  if (e === undefined) throw new Error(`unknown check point ${point}`);
  return e;
}

/**
 * Count one evaluation of the point `hook.path` (or `hook` when path is empty) on cpu: n of them
 * (entries, blocks). A hook and path that name no known point raise instrument-mismatch@<hook>.
 */
export function countPoint(cpu: Cpu, hook: string, path: string, n = 1): void {
  const e = INDEX.get(path ? `${hook}.${path}` : hook);
  if (e === undefined) {
    cpu.violation(INSTRUMENT_MISMATCH, hook, { path, summary: `the ${hook} hook was called for "${path}", which is not one of its contract points (src/machine/events.ts CHECK_POINTS)`, op: cpu.curOp });
    return;
  }
  cpu.counters[e] += n;
}
