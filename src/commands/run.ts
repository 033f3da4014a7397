// foliostorm run: the stress job (seeds over the worker pool, summary, results folder).
import { existsSync } from 'node:fs';
import { type Config, ConfigError, loadConfigFile, parseConfig, SCHEDULERS } from '../config/config.js';
import { DEVIATIONS } from '../inject/deviations.js';
import { runCampaign } from '../campaign/coordinator.js';
import { parseShard, ShardError } from '../engine/shard.js';
import { prepareOutputDir } from '../report/disk.js';
import { asUsage, checkDeviations, type Command, DEFAULT_CONFIG, interruptible, parseDuration, UsageError, VERSION } from './common.js';

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
  reach: boolean;
  reachMinSeeds?: number;
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

async function cmdRun(a: RunArgs): Promise<number> {
  const shard = a.shard === undefined ? undefined : asUsage(ShardError, () => parseShard(a.shard!));
  const { cfg, seedsGiven } = resolveConfig(a);
  const progressEveryMs = a.progressEvery !== undefined ? parseDuration(a.progressEvery, '--progress-every') * 1000 : undefined;
  const checkpointEveryMs = a.checkpointEvery !== undefined ? parseDuration(a.checkpointEvery, '--checkpoint-every') * 1000 : undefined;
  if (a.maxFailures !== undefined && !(Number.isInteger(a.maxFailures) && a.maxFailures >= 1)) throw new UsageError(`--max-failures: expected an integer >= 1, found ${a.maxFailures}`);
  if (a.reachMinSeeds !== undefined && !(Number.isInteger(a.reachMinSeeds) && a.reachMinSeeds >= 1)) throw new UsageError(`--reach-min-seeds: expected an integer >= 1, found ${a.reachMinSeeds}`);
  prepareOutputDir(a.out, '--out'); // before any work: a bad path is exit 2, named
  const r = await interruptible('finishing the summary', a.json, (signal) => runCampaign(cfg, { out: a.out, seedsGiven, quiet: a.json, version: VERSION, signal, shard, maxFailures: a.maxFailures, progressEveryMs, checkpointEveryMs, noReach: !a.reach, reachMinSeeds: a.reachMinSeeds }));
  // a failed write (a full disk): one line naming the file and the errno; the summary still printed, exit 3
  if (r.writeError) process.stderr.write(`foliostorm: ${r.writeError.message}\n`);
  if (a.json) process.stdout.write(JSON.stringify(r.summary, null, 2) + '\n');
  else process.stdout.write(r.text + '\n');
  return r.exitCode;
}

export const runCommand: Command = {
  command: 'run',
  describe: 'run the stress job (default config: configs/smoke.json)',
  builder: (y) =>
    y
      .option('config', { alias: 'c', type: 'string', describe: 'run configuration (JSON)' })
      .option('seed', { type: 'number', describe: 'first seed' })
      .option('seeds', { type: 'number', describe: 'number of seeds (consecutive from --seed)' })
      .option('engine', { choices: ['sched', 'threads'], describe: 'sched: deterministic, replayable; threads: real concurrency' })
      .option('workers', { type: 'number', describe: 'worker threads (sched: seeds in parallel; threads: simulated CPUs)' })
      .option('duration', { type: 'string', describe: 'wall-clock budget: 90s, 30m, 2h' })
      .option('out', { type: 'string', default: 'results', describe: 'results root folder' })
      .option('inject', { type: 'string', array: true, nargs: 1, describe: 'switch on a named deviation (repeatable; see: bugs)' })
      .option('scheduler', { choices: [...SCHEDULERS], describe: 'sched engine scheduler: random, pct (probabilistic concurrency testing), ops (whole ops only) or pos (partial order sampling)' })
      .option('pct-depth', { type: 'number', describe: 'pct: the bug depth d (d-1 priority change points per run; default 3)' })
      .option('shard', { type: 'string', describe: 'K/N: run the K-th of N disjoint slices of the seeds (seed s is in shard ((s - first) mod N) + 1; --seeds counts the whole run\'s seeds); auto/N: K = $JOB_COMPLETION_INDEX + 1 (Kubernetes Indexed Job)' })
      .option('max-failures', { type: 'number', describe: 'stop once this many seeds (threads: rounds) have failed (exit 1; the summary says why it stopped)' })
      .option('progress-every', { type: 'string', describe: 'off a terminal (CI logs): a progress line this often (default 10s)' })
      .option('checkpoint-every', { type: 'string', describe: 'rewrite summary.json (marked unfinished) this often during the run, so a killed run leaves one (default 1m; 0: never)' })
      .option('reach', { type: 'boolean', default: true, describe: 'judge the reach floor: each variant must have exercised the paths its config enables, else exit 1 (--no-reach: off; docs/checks.md)' })
      .option('reach-min-seeds', { type: 'number', describe: 'the reach floor judges only variants that ran at least this many seeds (default 4)' })
      .option('json', { type: 'boolean', default: false, describe: 'print summary.json to stdout, nothing else' }),
  run: (a) => cmdRun(a as unknown as RunArgs),
};
