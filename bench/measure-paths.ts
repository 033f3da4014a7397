// Figure 1 of the bench: nanoseconds per call of each kernel path (threads engine code, one CPU,
// uncontended) and the ratio to its floor, the same Atomics operations with no model logic. The
// path's batch and the floor's run alternate, and each keeps its best repetition. Each path is
// measured in both codes a threads CPU can run (config threadsCode): the generators (the default)
// and the threads build with the generator plumbing stripped (dist/threads).
import { countPathAtomics, perCallByKind, traceTotal, type AtomicsTrace } from './atomics-count.js';
import { FloorLoop } from './floor.js';
import { threadsBuildFresh, threadsCodeUrl } from '../src/engine/threads-code.js';
import * as generatorPaths from './paths.js';

export type PathsCode = 'generators' | 'stripped';
export const PATHS_CODES: readonly PathsCode[] = ['generators', 'stripped'];

/** The rig module of a code: this folder's, or the threads build's copy of it (null when that build is missing or stale). */
async function rigOf(code: PathsCode): Promise<typeof generatorPaths | null> {
  if (code === 'generators') return generatorPaths;
  if (!threadsBuildFresh()) return null;
  return (await import(threadsCodeUrl('bench/paths.js').href)) as typeof generatorPaths;
}

export interface PathFigure {
  id: string;
  code: PathsCode;
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

/** The ids of the bench's kernel paths. */
export const PATH_IDS: readonly string[] = generatorPaths.PATHS.map((p) => p.spec.id);

/** Measure every path (or those in ids) in each code for about budgetMs each; a code that cannot run is left out. */
export async function measurePaths(budgetMs: number, ids: readonly string[] = PATH_IDS, codes: readonly PathsCode[] = PATHS_CODES): Promise<PathFigure[]> {
  const out: PathFigure[] = [];
  for (const code of codes) {
    const rig = await rigOf(code);
    if (!rig) continue;
    const traces = await countPathAtomics(ids, code);
    for (const id of ids) out.push(measurePath(rig, code, id, traces[id], budgetMs));
  }
  return out;
}

export function measurePath(rig: typeof generatorPaths, code: PathsCode, id: string, trace: AtomicsTrace, budgetMs: number): PathFigure {
  const { checkBatch, PATHS, PathRig, runBatch } = rig;
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
    id, code, label: p.spec.label, entry: p.spec.entry, calls: p.spec.calls, nsPerCall: best, nsPerCallMedian: median(subject), floorNsPerCall: floorBest,
    ratio: best / floorBest, atomicsPerCall: traceTotal(trace) / trace.calls, atomicsByKind: perCallByKind(trace), reps: subject.length,
  };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
