// npm run bench: what foliostorm costs, each figure measured side by side with its reference in one
// run and reported as a ratio (issue 7): kernel paths against their Atomics floor, sched steps
// against a bare generator loop, 1 against 2 workers, memory per modelled page. Writes
// results/bench-<id>/bench.json and prints a table. Never asserted in tests: machines are noisy.
// Usage: node dist/bench/bench.js [--quick] [--seconds N] [--only paths,sched,scaling,memory] [--out DIR]
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../src/config/config.js';
import { makeRunId, ResultsWriter } from '../src/report/results.js';
import { measurePaths, type PathFigure } from './measure-paths.js';
import { measureSched, type SchedFigure } from './sched-steps.js';
import { measureScaling, type ScalingFigure } from './scaling.js';
import { MEMORY_SIZES, measureMemory, type MemoryFigure } from './memory.js';
import { renderBench, targetsOf } from './table.js';

export const PARTS = ['paths', 'sched', 'scaling', 'memory'] as const;
export type Part = (typeof PARTS)[number];

export interface BenchArgs {
  /** Approximate wall-clock budget of the whole bench, in seconds. */
  seconds: number;
  parts: Part[];
  out: string;
}

export interface BenchResult {
  runId: string;
  node: string;
  cores: number;
  /** 1, 5 and 15 minute load averages at the start and at the end (a shared machine makes noisy figures). */
  loadStart: number[];
  loadEnd: number[];
  seconds: number;
  wallSeconds: number;
  /** Per path and code (generators, the threads default; stripped, the threads build). */
  paths?: PathFigure[];
  sched?: SchedFigure;
  scaling?: ScalingFigure[];
  memory?: MemoryFigure;
  targets: ReturnType<typeof targetsOf>;
}

export function parseArgs(argv: readonly string[]): BenchArgs {
  const a: BenchArgs = { seconds: 150, parts: [...PARTS], out: 'results' };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i];
    if (x === '--quick') a.seconds = 25;
    else if (x === '--seconds') a.seconds = Number(argv[++i]);
    else if (x === '--out') a.out = argv[++i];
    else if (x === '--only') a.parts = argv[++i].split(',').map((p) => p.trim()) as Part[];
    else if (/^\d+(\.\d+)?$/.test(x)) a.seconds = Number(x);
    else throw new Error(`bench: unknown argument ${x} (usage: bench.js [--quick] [--seconds N] [--only ${PARTS.join(',')}] [--out DIR])`);
  }
  if (!(a.seconds > 0)) throw new Error('bench: --seconds must be above 0');
  for (const p of a.parts) if (!PARTS.includes(p)) throw new Error(`bench: --only: unknown part ${p} (one of ${PARTS.join(', ')})`);
  return a;
}

const config = (name: string) => loadConfigFile(fileURLToPath(new URL(`../../configs/${name}`, import.meta.url)));

/** Run the parts asked for in about a.seconds: paths 20%, sched 12%, scaling the rest (memory takes what it takes). */
export async function runBench(a: BenchArgs, log: (s: string) => void = () => {}): Promise<BenchResult> {
  const t0 = performance.now();
  const loadStart = loadavg();
  const ms = a.seconds * 1000;
  const r: Omit<BenchResult, 'targets' | 'wallSeconds' | 'loadEnd'> = {
    runId: `bench-${makeRunId('smoke', 1)}`, node: process.version, cores: availableParallelism(), loadStart, seconds: a.seconds,
  };
  const out: Partial<BenchResult> = { ...r };
  if (a.parts.includes('paths')) {
    log('kernel paths against their Atomics floor...');
    out.paths = await measurePaths((ms * 0.2) / 12);
  }
  if (a.parts.includes('sched')) {
    log('sched steps against a bare generator loop...');
    out.sched = await measureSched(config('smoke.json'), 'configs/smoke.json', ms * 0.12);
  }
  if (a.parts.includes('scaling')) {
    // few long runs rather than many short ones: every run starts a fresh pool, whose threads compile the model again
    const reps = a.seconds >= 100 ? 2 : 1;
    const per = Math.max(1, (a.seconds * 0.6) / (2 * 2 * reps));
    log(`scaling: 1 and 2 workers, ${reps} x ${per.toFixed(1)} s each, sched then threads...`);
    out.scaling = [
      await measureScaling('sched', config('smoke.json'), 'configs/smoke.json', per, reps),
      await measureScaling('threads', config('bench-lowcontention.json'), 'configs/bench-lowcontention.json', per, reps),
    ];
  }
  if (a.parts.includes('memory')) {
    log(`memory: ${MEMORY_SIZES.map((p) => `${p / 1024}K`).join(', ')} pages, a child process each...`);
    out.memory = measureMemory();
  }
  const res = { ...out, loadEnd: loadavg(), wallSeconds: (performance.now() - t0) / 1000 } as BenchResult;
  res.targets = targetsOf(res);
  return res;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(`usage: bench.js [--quick] [--seconds N] [--only ${PARTS.join(',')}] [--out DIR]\n`);
    process.exit(0);
  }
  let a: BenchArgs;
  try {
    a = parseArgs(process.argv.slice(2));
  } catch (e) {
    // a bad argument is a usage error: one line, exit 2, no stack
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(2);
  }
  const res = await runBench(a, (s) => process.stderr.write(`[bench] ${s}\n`));
  const w = new ResultsWriter(a.out, res.runId);
  const file = w.json('bench.json', res);
  process.stdout.write(renderBench(res) + `\nwritten ${file}\n`);
}
