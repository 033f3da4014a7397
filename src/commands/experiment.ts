// foliostorm experiment: the design experiments, one module each under src/experiment/.
import { cmdFallback, type FallbackArgs, FallbackUsageError } from '../experiment/fallback.js';
import { type BatchingArgs, BatchingUsageError, experimentBatching } from '../experiment/batching.js';
import { prepareOutputDir } from '../report/disk.js';
import { asUsageAsync, type Command, interruptible, UsageError, VERSION } from './common.js';

/** The design experiments (issue 7): `experiment <name>`, one module each under src/experiment/. */
export const EXPERIMENTS = ['fallback', 'batching'] as const;

async function cmdExperiment(name: string, a: Record<string, unknown>, argv: readonly string[]): Promise<number> {
  // the results are written at the end: a bad --out is exit 2 now, not after the run
  if (EXPERIMENTS.includes(name as (typeof EXPERIMENTS)[number])) prepareOutputDir(a.out as string, '--out');
  switch (name) {
    case 'fallback':
      notOptionsOf('fallback', a, ['size', 'orders', 'reps', 'check'], 'they are options of experiment batching');
      return await interruptible('writing the cells that ran', a.json === true, (signal) => asUsageAsync(FallbackUsageError, () => cmdFallback(a as unknown as FallbackArgs, VERSION, signal)));
    case 'batching':
      return await cmdBatching(a as unknown as BatchingArgs & Record<string, unknown>, argv);
    default:
      throw new UsageError(`experiment: unknown name "${name}" (expected one of: ${EXPERIMENTS.join(', ')})`);
  }
}

/** experiment batching: fork, munmap and mprotect batched vs per-PTE (src/experiment/batching.ts); progress on stderr. */
async function cmdBatching(a: BatchingArgs & Record<string, unknown>, argv: readonly string[]): Promise<number> {
  notOptionsOf('batching', a, ['seeds', 'seed', 'pagesPerCpu', 'workers'], 'it runs one seed, in this thread');
  const r = await interruptible('writing the cells that ran', a.json, (signal) => asUsageAsync(BatchingUsageError, () => experimentBatching(a, {
    version: VERSION,
    command: `npx foliostorm ${argv.join(' ')}`,
    progress: a.json ? undefined : (l) => process.stderr.write(`[batching] ${l}\n`),
    signal,
  })));
  if (r.writeError) process.stderr.write(`foliostorm: ${r.writeError.message}\n`);
  process.stdout.write(r.stdout + '\n');
  return r.exitCode;
}

/** Flags of one experiment given to another: a usage error naming the flag. */
function notOptionsOf(name: string, a: Record<string, unknown>, keys: readonly string[], why: string): void {
  for (const k of keys) if (a[k] !== undefined) throw new UsageError(`--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}: not an option of experiment ${name} (${why})`);
}

export const experimentCommand: Command = {
  command: 'experiment <name>',
  describe: 'run a design experiment; print its table, write results/experiment-<name>-<id>/ (JSON, Markdown table, SVG plot). fallback: anon-fault fallback policy x contention x high-order allocation failure rate, over a fixed set of sched seeds. batching: fork, munmap and mprotect of 1 GiB of anon memory with folios of 4K to 2M, generic and contpte, batched vs per-PTE, on one CPU (exit 1 if the two designs end in different states)',
  builder: (y) =>
    y
      .positional('name', { type: 'string', choices: [...EXPERIMENTS], demandOption: true, describe: 'which experiment' })
      .option('seeds', { type: 'number', describe: 'seeds per cell (fallback: default 32; --quick 2)' })
      .option('seed', { type: 'number', describe: 'first seed (default 1)' })
      .option('pages-per-cpu', { type: 'number', describe: 'fallback: pages each CPU writes per pass, a multiple of 16 (default 256; --quick 32)' })
      .option('quick', { type: 'boolean', default: false, describe: 'a small run (tests, a first look): fewer seeds, a smaller workload (batching: 16M, folios 4K, 16K, 64K, 2M, no warm-up)' })
      .option('size', { type: 'string', describe: 'batching: the region, a multiple of 2M up to 1G (default 1G; --quick: 16M)' })
      .option('orders', { type: 'string', describe: 'batching: folio orders, comma-separated (0 = 4K, 4 = 64K, 9 = 2M; default 0,2,3,4,5,6,7,8,9)' })
      .option('reps', { type: 'number', describe: 'batching: runs of each operation, the two designs taking turns; CPU and wall time are medians (default 1)' })
      .option('check', { type: 'boolean', describe: 'batching: run the quiescent invariant checker after every operation (slow at 1G)' })
      .option('workers', { type: 'number', describe: 'worker threads running seeds in parallel (default 2; 1: in this thread)' })
      .option('out', { type: 'string', default: 'results', describe: 'results root folder' })
      .option('json', { type: 'boolean', default: false, describe: 'print the results JSON to stdout, nothing else' }),
  run: (a, argv) => cmdExperiment(a.name as string, a, argv),
};
