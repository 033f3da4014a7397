#!/usr/bin/env node
// The foliostorm command line (yargs): run, hunt, bugs, repro, shrink, scenario, report.
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { type Config, ConfigError, type ConfigInput, loadConfigFile, parseConfig } from './config.js';
import { DEVIATIONS } from './inject/deviations.js';
import { EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, EXIT_VIOLATIONS, runCampaign } from './engine/coordinator.js';
import { ArtifactError, loadArtifact } from './report/artifact.js';
import { SCHEDULERS } from './engine/scheduler.js';
import { type CellResult, type HuntResult, runHunt, selectDeviations, verdict } from './hunt/hunt.js';
import { huntJson, renderHuntTable } from './hunt/report.js';
import { makeRunId, ResultsWriter, writeAtomic } from './report/results.js';
import { NotReproduced, shrinkArtifact } from './shrink/shrink.js';
import { reproduce } from './engine/repro.js';
import { isWorkerFault, renderWorkerRepro, reproduceWorkerFault } from './engine/repro-worker.js';
import { renderRepro } from './report/repro.js';
import { formatResult, runScenarioFile } from './scenario/runner.js';
import { parseShard, ShardError } from './engine/shard.js';
import { mergeFolders } from './report/merge.js';
import { compareFolders, renderComparison } from './report/compare.js';
import { ResultsInputError } from './report/folder.js';
import { writeReportHtml } from './report/html.js';
import { DurationError, parseDuration as parseSeconds } from './duration.js';
import { cmdFallback, type FallbackArgs, FallbackUsageError } from './experiment/fallback.js';
import { type BatchingArgs, BatchingUsageError, experimentBatching } from './experiment/batching.js';

const pkgRoot = fileURLToPath(new URL('../../', import.meta.url));
const VERSION: string = JSON.parse(readFileSync(`${pkgRoot}package.json`, 'utf8')).version;
export const DEFAULT_CONFIG = `${pkgRoot}configs/smoke.json`;

class UsageError extends Error {}

/** "90s", "30m", "2h", "1.5h" or a plain number of seconds (src/duration.ts); errors name the flag. */
export function parseDuration(s: string | number, flag = '--duration'): number {
  try {
    return parseSeconds(s);
  } catch (e) {
    if (e instanceof DurationError) throw new UsageError(`${flag}: ${e.message}`);
    throw e;
  }
}

interface RunArgs {
  config?: string;
  seed?: number;
  seeds?: number;
  engine?: string;
  workers?: number;
  duration?: string;
  out: string;
  inject?: string[];
  scheduler?: string;
  pctDepth?: number;
  shard?: string;
  maxFailures?: number;
  progressEvery?: string;
  checkpointEvery?: string;
  json: boolean;
}

function resolveConfig(a: RunArgs): { cfg: Config; seedsGiven: boolean } {
  const file = a.config ?? DEFAULT_CONFIG;
  if (a.config && !existsSync(a.config)) throw new ConfigError(`--config: file "${a.config}" does not exist`);
  const base = loadConfigFile(file);
  const over: Record<string, unknown> = {};
  if (a.seed !== undefined) over.seed = a.seed;
  if (a.seeds !== undefined) over.seeds = a.seeds;
  if (a.engine !== undefined) over.engine = a.engine;
  if (a.workers !== undefined) over.workers = a.workers;
  if (a.duration !== undefined) over.duration = parseDuration(a.duration);
  else if (a.seeds !== undefined) over.duration = 0; // --seeds alone: run exactly those seeds
  if (a.scheduler !== undefined) over.scheduler = a.scheduler;
  if (a.pctDepth !== undefined) over.pctDepth = a.pctDepth;
  if (a.inject?.length) {
    checkDeviations(a.inject);
    over.inject = [...base.inject, ...a.inject];
  }
  for (const [i, n] of base.inject.entries()) if (!DEVIATIONS.some((d) => d.name === n)) throw new ConfigError(`${file}: field "inject.${i}": unknown deviation "${n}" (expected a name that npx foliostorm bugs lists)`);
  for (const [k, v] of Object.entries(over)) if (typeof v === 'number' && !Number.isFinite(v)) throw new UsageError(`--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}: not a number`);
  const cfg = parseConfig({ ...base, ...over }, file, Object.keys(over));
  // --seed alone moves the start, not the bound: a config with a duration still runs until time is up
  return { cfg, seedsGiven: a.seeds !== undefined };
}

/**
 * Run job with Ctrl-C and SIGTERM handled: the first asks it (through the signal) to stop and write
 * what it has; a second quits at once.
 */
async function interruptible<T>(what: string, quiet: boolean, job: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const onSig = () => {
    if (!quiet) process.stderr.write(`\n[foliostorm] stopping: ${what} (press Ctrl-C again to quit at once)\n`);
    if (ac.signal.aborted) process.exit(EXIT_INTERRUPTED);
    ac.abort();
  };
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  try {
    return await job(ac.signal);
  } finally {
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
  }
}

/** Run f; an error of class E (bad input a module reports) becomes a usage error (exit 2). */
function asUsage<T>(E: new (...a: never[]) => Error, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw e instanceof E ? new UsageError(e.message) : e;
  }
}

/** Every name must be a deviation `bugs` lists. */
function checkDeviations(names: readonly string[], flag = '--inject'): void {
  for (const n of names) if (!DEVIATIONS.some((d) => d.name === n)) throw new UsageError(`${flag}: unknown deviation "${n}" (list them with: npx foliostorm bugs)`);
}

async function cmdRun(a: RunArgs): Promise<number> {
  const shard = a.shard === undefined ? undefined : asUsage(ShardError, () => parseShard(a.shard!));
  const { cfg, seedsGiven } = resolveConfig(a);
  const progressEveryMs = a.progressEvery !== undefined ? parseDuration(a.progressEvery, '--progress-every') * 1000 : undefined;
  const checkpointEveryMs = a.checkpointEvery !== undefined ? parseDuration(a.checkpointEvery, '--checkpoint-every') * 1000 : undefined;
  if (a.maxFailures !== undefined && !(Number.isInteger(a.maxFailures) && a.maxFailures >= 1)) throw new UsageError(`--max-failures: expected an integer >= 1, found ${a.maxFailures}`);
  const r = await interruptible('finishing the summary', a.json, (signal) => runCampaign(cfg, { out: a.out, seedsGiven, quiet: a.json, version: VERSION, signal, shard, maxFailures: a.maxFailures, progressEveryMs, checkpointEveryMs }));
  if (a.json) process.stdout.write(JSON.stringify(r.summary, null, 2) + '\n');
  else process.stdout.write(r.text + '\n');
  return r.exitCode;
}

interface HuntArgs {
  config?: string;
  budget: string;
  inject?: string[];
  scheduler: string[];
  engine: string[];
  workers?: number;
  out: string;
  json: boolean;
}

async function cmdHunt(a: HuntArgs): Promise<number> {
  const budget = parseDuration(a.budget, '--budget');
  if (!(budget > 0)) throw new UsageError('--budget: must be more than 0 seconds');
  checkDeviations(a.inject ?? []);
  if (a.config && !existsSync(a.config)) throw new ConfigError(`--config: file "${a.config}" does not exist`);
  if (a.config) loadConfigFile(a.config); // validate first: errors name the file and field
  // the file as written (not its defaults) is the base the provoking mixes are laid over
  const base = a.config ? (JSON.parse(readFileSync(a.config, 'utf8')) as ConfigInput) : {};
  const { inject: _inject, seeds: _seeds, seed: _seed, duration: _duration, ...baseMix } = base;
  const workers = a.workers ?? base.workers ?? 2;
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new UsageError('--workers: an integer from 1 to 64');
  const t0 = performance.now();
  const w = new ResultsWriter(a.out, makeRunId('hunt', 1));
  const done: CellResult[] = [];
  const meta = () => ({ version: VERSION, budgetPerCell: budget, workers, schedulers: a.scheduler, engines: a.engine, base: a.config ?? '(defaults)', wallSeconds: Math.round((performance.now() - t0) / 10) / 100 });
  const deviations = selectDeviations(a.inject ?? []);
  const h: HuntResult = await interruptible('writing what the hunt found', a.json, (signal) =>
    runHunt({
      base: baseMix, deviations, schedulers: a.scheduler, engines: a.engine as ('sched' | 'threads')[],
      budget, workers, signal,
      onCell: (c, i, n) => {
        // each detection's artifact, as soon as its cell ends (nothing lost on Ctrl-C)
        if (c.violation) w.artifact(c.config, c.violation, `${c.scheduler === '-' ? '' : `${c.scheduler}-`}${c.engine}`);
        // hunt.json after every cell, marked incomplete until the end: a crash keeps what was found
        done.push(c);
        const partial = verdict(deviations.map((d) => d.name), done.filter((x) => x.deviation), done.filter((x) => !x.deviation), false);
        w.json('hunt.json', { ...(huntJson(partial, meta()) as object), pass: false, complete: false });
        if (!a.json) process.stderr.write(`[hunt] ${i + 1}/${n} ${c.deviation ?? 'control'} ${c.scheduler}/${c.engine}: ${c.detected ? `${c.deviation ? 'detected' : 'FALSE POSITIVE'} at seed ${c.violation!.seed} in ${c.secondsToDetection ?? c.seconds}s (${c.violation!.signature})` : `${c.deviation ? 'not detected' : 'clean'} in ${c.seedsRun} seeds, ${c.seconds}s`}\n`);
      },
    }));
  const json = { ...(huntJson(h, meta()) as object), complete: !h.interrupted };
  w.json('hunt.json', json);
  if (a.json) process.stdout.write(JSON.stringify(json, null, 2) + '\n');
  else process.stdout.write(`${renderHuntTable(h)}\n  results   ${w.dir}\n`);
  return h.interrupted ? EXIT_INTERRUPTED : h.pass ? EXIT_OK : EXIT_VIOLATIONS;
}

function cmdBugs(): number {
  const w = Math.max(...DEVIATIONS.map((d) => d.name.length));
  for (const d of DEVIATIONS) process.stdout.write(`${d.name.padEnd(w)}  ${d.path}: ${d.description}\n`);
  return EXIT_OK;
}

async function cmdRepro(file: string, json: boolean, attempts: number): Promise<number> {
  if (!Number.isInteger(attempts) || attempts < 1) throw new UsageError(`--attempts: must be an integer >= 1 (got ${attempts})`);
  const art = loadArtifact(file);
  if (isWorkerFault(art)) {
    // a worker that hung or died: its seed again, in a watched worker (never in this thread)
    const w = await reproduceWorkerFault(art);
    if (json) process.stdout.write(JSON.stringify({ artifact: file, signature: art.signature, mode: 'worker', reproduced: w.reproduced, violations: w.result.violations.map((v) => v.signature), details: w.result.violations.find((v) => v.signature === art.signature)?.details }, null, 2) + '\n');
    else process.stdout.write(renderWorkerRepro(art, file, w) + '\n');
    return w.reproduced ? EXIT_OK : EXIT_VIOLATIONS;
  }
  const res = reproduce(art, { attempts });
  const last = res.runs[res.runs.length - 1];
  if (json) {
    const runs = res.runs.map((r) => ({ attempt: r.attempt, reproduced: !!r.hit, violations: r.result.violations.map((v) => v.signature), traceHash: r.result.traceHash, scheduler: r.result.scheduler }));
    process.stdout.write(JSON.stringify({ artifact: file, signature: art.signature, mode: res.mode, reproduced: res.reproduced, attempt: res.reproduced ? last.attempt : undefined,
      violations: last.result.violations.map((v) => v.signature), traceHash: last.result.traceHash, scheduler: last.result.scheduler, runs, events: last.hit?.events }, null, 2) + '\n');
  } else process.stdout.write(renderRepro(art, res) + '\n');
  return res.reproduced ? EXIT_OK : EXIT_VIOLATIONS;
}

/** Shrink a sched failure artifact; write the shrunk artifact and print its interleaving. */
function cmdShrink(file: string, budget: string | number | undefined, out: string | undefined, json: boolean): number {
  const seconds = budget !== undefined ? parseDuration(budget, '--budget') : 60;
  if (!(seconds > 0)) throw new UsageError(`--budget: must be more than 0 seconds (got ${budget})`);
  const art = loadArtifact(file);
  const dest = out ?? file.replace(/(\.json)?$/, '.shrunk.json');
  let r;
  try {
    r = shrinkArtifact(art, file, { budgetSeconds: seconds, out: dest, progress: json ? undefined : (l) => process.stderr.write(`[shrink] ${l}\n`) });
  } catch (e) {
    if (!(e instanceof NotReproduced)) throw e;
    process.stderr.write(`foliostorm: ${e.message}\n`);
    return EXIT_VIOLATIONS;
  }
  writeAtomic(dest, JSON.stringify(r.artifact, null, 1) + '\n');
  if (json) {
    process.stdout.write(JSON.stringify({ artifact: dest, signature: art.signature, shrunk: r.record, interleaving: r.interleaving }, null, 2) + '\n');
    return EXIT_OK;
  }
  const { before: b, after: a } = r.record;
  const row = (k: keyof typeof a) => `  ${k.padEnd(12)} ${String(b[k]).padStart(7)} -> ${a[k]}`;
  process.stdout.write([
    `shrunk ${art.signature} in ${r.record.seconds} s (${r.record.runs} runs${r.record.finished ? '' : ', budget spent before the last pass ended'}):`,
    ...(['cpus', 'processes', 'ops', 'steps', 'preemptions'] as const).map(row),
    '',
    ...r.interleaving,
    '',
    `wrote ${dest}; replay: ${r.artifact.replay}`,
  ].join('\n') + '\n');
  return EXIT_OK;
}

/** Merge results folders (shards) into --out; exit as a run with the merged results would. */
function cmdMerge(dirs: string[], out: string, json: boolean): number {
  const r = asUsage(ResultsInputError, () => mergeFolders(dirs, { out, version: VERSION }));
  for (const w of r.warnings) process.stderr.write(`foliostorm merge: warning: ${w}\n`);
  process.stdout.write((json ? JSON.stringify(r.summary, null, 2) : r.text) + '\n');
  return r.exitCode;
}

/** Compare two results folders; with --max-regression, exit 1 on a regression. */
function cmdCompare(base: string, cur: string, maxRegression: number | undefined, json: boolean): number {
  const c = asUsage(ResultsInputError, () => compareFolders(base, cur, { maxRegression }));
  process.stdout.write((json ? JSON.stringify(c, null, 2) : renderComparison(c)) + '\n');
  return c.pass ? EXIT_OK : EXIT_VIOLATIONS;
}

/** Run scripted scenarios: one line per file; exit 2 if any file is malformed or needs an op not modelled yet, else 1 if any failed. */
function cmdScenario(files: string[], inject: string[], json: boolean): number {
  checkDeviations(inject);
  const results = files.map((f) => runScenarioFile(f, { inject }));
  const code = Math.max(EXIT_OK, ...results.map((r) => r.exitCode));
  if (json) process.stdout.write(JSON.stringify({ exitCode: code, inject, results }, null, 2) + '\n');
  else for (const r of results) process.stdout.write(formatResult(r) + '\n');
  return code;
}

/** The design experiments (issue 7): `experiment <name>`, one module each under src/experiment/. */
export const EXPERIMENTS = ['fallback', 'batching'] as const;

async function cmdExperiment(name: string, a: Record<string, unknown>, argv: readonly string[]): Promise<number> {
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
  process.stdout.write(r.stdout + '\n');
  return r.exitCode;
}

/** Flags of one experiment given to another: a usage error naming the flag. */
function notOptionsOf(name: string, a: Record<string, unknown>, keys: readonly string[], why: string): void {
  for (const k of keys) if (a[k] !== undefined) throw new UsageError(`--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}: not an option of experiment ${name} (${why})`);
}

async function asUsageAsync<T>(E: new (...a: never[]) => Error, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw e instanceof E ? new UsageError(e.message) : e;
  }
}

/** Write DIR/report.html from the results folder DIR. */
function cmdReport(dir: string): number {
  process.stdout.write(`${writeReportHtml(dir)}\n`);
  return EXIT_OK;
}

export async function main(argv: string[]): Promise<number> {
  let code = EXIT_OK;
  const y = yargs(argv)
    .scriptName('foliostorm')
    .usage('$0 <command> [options]\n\nStress tester for the Linux kernel large-folio page-table paths.')
    .command('run', 'run the stress job (default config: configs/smoke.json)', (y) =>
      y
        .option('config', { alias: 'c', type: 'string', describe: 'run configuration (JSON)' })
        .option('seed', { type: 'number', describe: 'first seed' })
        .option('seeds', { type: 'number', describe: 'number of seeds (consecutive from --seed)' })
        .option('engine', { choices: ['sched', 'threads'], describe: 'sched: deterministic, replayable; threads: real concurrency' })
        .option('workers', { type: 'number', describe: 'worker threads (sched: seeds in parallel; threads: simulated CPUs)' })
        .option('duration', { type: 'string', describe: 'wall-clock budget: 90s, 30m, 2h' })
        .option('out', { type: 'string', default: 'results', describe: 'results root folder' })
        .option('inject', { type: 'string', array: true, nargs: 1, describe: 'switch on a named deviation (repeatable; see: bugs)' })
        .option('scheduler', { choices: [...SCHEDULERS], describe: 'sched engine scheduler: random, pct (probabilistic concurrency testing) or ops (whole ops only)' })
        .option('pct-depth', { type: 'number', describe: 'pct: the bug depth d (d-1 priority change points per run; default 3)' })
        .option('shard', { type: 'string', describe: 'K/N: run the K-th of N disjoint slices of the seeds (seed s is in shard ((s - first) mod N) + 1; --seeds counts the whole run\'s seeds); auto/N: K = $JOB_COMPLETION_INDEX + 1 (Kubernetes Indexed Job)' })
        .option('max-failures', { type: 'number', describe: 'stop once this many seeds (threads: rounds) have failed (exit 1; the summary says why it stopped)' })
        .option('progress-every', { type: 'string', describe: 'off a terminal (CI logs): a progress line this often (default 10s)' })
        .option('checkpoint-every', { type: 'string', describe: 'rewrite summary.json (marked unfinished) this often during the run, so a killed run leaves one (default 1m; 0: never)' })
        .option('json', { type: 'boolean', default: false, describe: 'print summary.json to stdout, nothing else' }),
      async (a) => {
        code = await cmdRun(a as unknown as RunArgs);
      })
    .command('hunt', 'for every deviation and scheduler/engine, run seeds of its provoking mix until the first violation or the budget; then the unmodified model as the control. Exit 0 only if every deviation is detected and the control is clean', (y) =>
      y
        .option('budget', { type: 'string', default: '60', describe: 'seconds per cell (90s, 2m, ...)' })
        .option('inject', { type: 'string', array: true, describe: 'only these deviations (default: every one `bugs` lists)' })
        .option('scheduler', { type: 'string', array: true, choices: [...SCHEDULERS], default: ['random', 'pct'], describe: 'sched engine schedulers' })
        .option('engine', { type: 'string', array: true, choices: ['sched', 'threads'], default: ['sched'], describe: 'engines' })
        .option('config', { alias: 'c', type: 'string', describe: 'base config the provoking mixes are laid over (default: the schema defaults)' })
        .option('workers', { type: 'number', describe: 'worker threads (default 2)' })
        .option('out', { type: 'string', default: 'results', describe: 'results root folder' })
        .option('json', { type: 'boolean', default: false, describe: 'print hunt.json to stdout, nothing else' }),
      async (a) => {
        code = await cmdHunt(a as unknown as HuntArgs);
      })
    .command('bugs', 'list the named deviations --inject can switch on', () => {}, () => {
      code = cmdBugs();
    })
    .command('repro <artifact>', 're-run a failure artifact; exit 0 if the same signature recurs', (y) =>
      y
        .positional('artifact', { type: 'string', demandOption: true })
        .option('attempts', { type: 'number', default: 5, describe: 'threads artifacts: at most this many seeded tries (the first follows the recording as it is; the others differ only where it is silent)' })
        .option('json', { type: 'boolean', default: false }),
      async (a) => {
        code = await cmdRepro(a.artifact as string, a.json as boolean, a.attempts as number);
      })
    .command('shrink <artifact>', 'minimise a sched failure (fewer CPUs, processes, ops, smaller sizes, fewer preemptions), keeping its signature; write the shrunk artifact and print its interleaving', (y) =>
      y
        .positional('artifact', { type: 'string', demandOption: true })
        .option('budget', { type: 'string', describe: 'wall-clock budget for the search: 60 (seconds, the default), 90s, 5m' })
        .option('out', { type: 'string', describe: 'where to write the shrunk artifact (default: ARTIFACT.shrunk.json)' })
        .option('json', { type: 'boolean', default: false, describe: 'print the result as JSON, nothing else' }),
      (a) => {
        code = cmdShrink(a.artifact as string, a.budget as string | undefined, a.out as string | undefined, a.json as boolean);
      })
    .command('scenario <files..>', 'run scripted scenarios (JSON step lists, e.g. configs/scenarios/*.json); exit 0 all pass, 1 a failure, 2 a malformed file', (y) =>
      y
        .positional('files', { type: 'string', array: true, demandOption: true, describe: 'scenario files' })
        .option('inject', { type: 'string', array: true, nargs: 1, describe: 'switch on a named deviation (repeatable; see: bugs)' })
        .option('json', { type: 'boolean', default: false, describe: 'print the results as JSON, nothing else' }),
      (a) => {
        code = cmdScenario(a.files as string[], (a.inject as string[] | undefined) ?? [], a.json as boolean);
      })
    .command('merge <dirs..>', 'combine results folders of one config (the shards of a run) into one results folder: counts and histograms add, violations group by signature; exit 0 clean, 1 violations, 3 an input was interrupted, 2 bad input', (y) =>
      y
        .positional('dirs', { type: 'string', array: true, demandOption: true, describe: 'results folders (each with summary.json and histograms.json)' })
        .option('out', { type: 'string', demandOption: true, describe: 'the merged results folder to create (must not exist, or be empty)' })
        .option('json', { type: 'boolean', default: false, describe: 'print the merged summary.json, nothing else' }),
      (a) => {
        code = cmdMerge(a.dirs as string[], a.out as string, a.json as boolean);
      })
    .command('compare <base> <new>', 'compare two results folders: per histogram count and p50/p99/max, event rates, new signatures; with --max-regression PCT exit 1 when a p99 or a rate worsens by more than PCT% (and beyond sampling noise) or NEW has a deviation-free signature BASE had not', (y) =>
      y
        .positional('base', { type: 'string', demandOption: true, describe: 'the baseline results folder' })
        .positional('new', { type: 'string', demandOption: true, describe: 'the results folder to judge' })
        .option('max-regression', { type: 'number', describe: 'percent: exit 1 when any p99 or event rate is worse by more than this (and beyond sampling noise), or a new deviation-free signature appears' })
        .option('json', { type: 'boolean', default: false, describe: 'print the comparison as JSON, nothing else' }),
      (a) => {
        code = cmdCompare(a.base as string, a.new as string, a.maxRegression as number | undefined, a.json as boolean);
      })
    .command('experiment <name>', 'run a design experiment; print its table, write results/experiment-<name>-<id>/ (JSON, Markdown table, SVG plot). fallback: anon-fault fallback policy x contention x high-order allocation failure rate, over a fixed set of sched seeds. batching: fork, munmap and mprotect of 1 GiB of anon memory with folios of 4K to 2M, generic and contpte, batched vs per-PTE, on one CPU (exit 1 if the two designs end in different states)', (y) =>
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
      async (a) => {
        code = await cmdExperiment(a.name as string, a as unknown as Record<string, unknown>, argv);
      })
        .command('report <dir>', 'write DIR/report.html (plots, violations, replay commands) from a results folder; run writes it too', (y) =>
      y.positional('dir', { type: 'string', demandOption: true, describe: 'results folder of one run (results/<run-id>)' }),
      (a) => {
        code = cmdReport(a.dir as string);
      })
    .demandCommand(1, 'name a command: run, hunt, bugs, repro, shrink, scenario, report, merge, compare or experiment')
    .strict()
    .fail((msg, err) => {
      throw err ?? new UsageError(msg);
    })
    .help()
    .version(VERSION);
  await y.parseAsync();
  return code;
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === (await import('node:fs')).realpathSync(process.argv[1]);
if (isMain) {
  // exit only once stdout has drained: a large --json summary on a pipe is written asynchronously
  const exit = (code: number): void => {
    process.stdout.write('', () => process.exit(code));
  };
  main(hideBin(process.argv)).then(
    (code) => exit(code),
    (e) => {
      if (e instanceof ConfigError || e instanceof UsageError || e instanceof ArtifactError || e instanceof ResultsInputError) {
        process.stderr.write(`foliostorm: ${e.message}\n`);
        process.exit(EXIT_USAGE);
      }
      process.stderr.write(`foliostorm: internal error: ${(e as Error).stack ?? e}\n`);
      process.exit(EXIT_INTERRUPTED);
    },
  );
}
void EXIT_VIOLATIONS;
