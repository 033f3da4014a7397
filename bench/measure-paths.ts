// Figure 1 of the bench: nanoseconds per call of each kernel path (threads engine code, one CPU,
// uncontended) and the ratio to its floor, the same Atomics operations with no model logic. The
// path's batch and the floor's run alternate, and each keeps its best repetition.
import { countPathAtomics, perCallByKind, traceTotal, type AtomicsTrace } from './atomics-count.js';
import { FloorLoop } from './floor.js';
import { threadsBuildFresh, threadsCodeUrl } from '../src/engine/threads-code.js';

/** The rig, from the code the threads engine runs: its build with the generator plumbing stripped (when fresh). */
const paths = (await import(threadsCodeUrl('bench/paths.js').href)) as typeof import('./paths.js');
const { checkBatch, PATHS, PathRig, runBatch } = paths;
/** Which code the figures are of. */
export const PATHS_CODE = threadsBuildFresh() ? 'threads build (dist/threads: generators stripped)' : 'generator code (dist/threads missing or stale)';

export interface PathFigure {
  id: string;
  label: string;
  entry: string;
  calls: number;
  /** Best batch, per call. */
  nsPerCall: number;
  /** Median batch, per call (for the reader: how noisy the best is). */
  nsPerCallMedian: number;
  floorNsPerCall: number;
  /** nsPerCall / floorNsPerCall: target <= 3. */
  ratio: number;
  atomicsPerCall: number;
  atomicsByKind: Record<string, number>;
  /** Timed repetitions of each side. */
  reps: number;
}

export const PATH_TARGET = 3;

/** Measure every path (or those in ids) for about budgetMs each. */
export async function measurePaths(budgetMs: number, ids: readonly string[] = PATHS.map((p) => p.spec.id)): Promise<PathFigure[]> {
  const traces = await countPathAtomics(ids);
  const out: PathFigure[] = [];
  for (const id of ids) out.push(measurePath(id, traces[id], budgetMs));
  return out;
}

export function measurePath(id: string, trace: AtomicsTrace, budgetMs: number): PathFigure {
  const p = PATHS.find((x) => x.spec.id === id)!;
  const r = new PathRig(p.spec);
  const bad = checkBatch(r, p.ops);
  if (bad) throw new Error(`bench: ${bad}`);
  const pc = trace.perCall;
  if (Math.min(...pc) !== Math.max(...pc)) throw new Error(`bench: ${id} made ${Math.min(...pc)} to ${Math.max(...pc)} Atomics operations per call`);
  if (trace.other) throw new Error(`bench: ${id} used Atomics on ${trace.other} other buffers`);
  const floor = new FloorLoop(r.machine.m, trace);
  // warm up both sides, then size the floor's repetitions to about the path batch's time
  const warm = performance.now();
  let batchNs = Infinity;
  while (performance.now() - warm < Math.min(300, budgetMs / 4)) batchNs = Math.min(batchNs, runBatch(r, p.ops));
  let reps = 1;
  while (floor.time(reps) < Math.min(batchNs, 2e6) && reps < 1 << 20) reps *= 2;
  const subject: number[] = [];
  const ground: number[] = [];
  const t0 = performance.now();
  while (subject.length < 5 || performance.now() - t0 < budgetMs) {
    subject.push(runBatch(r, p.ops) / p.spec.calls);
    ground.push(floor.time(reps) / (reps * p.spec.calls));
  }
  const best = Math.min(...subject);
  const floorBest = Math.min(...ground);
  return {
    id, label: p.spec.label, entry: p.spec.entry, calls: p.spec.calls, nsPerCall: best, nsPerCallMedian: median(subject), floorNsPerCall: floorBest,
    ratio: best / floorBest, atomicsPerCall: traceTotal(trace) / trace.calls, atomicsByKind: perCallByKind(trace), reps: subject.length,
  };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
