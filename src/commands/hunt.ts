// foliostorm hunt: every deviation x scheduler/engine until detection or the budget, then the controls.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type ConfigInput, ConfigError, loadConfigFile, SCHEDULERS } from '../config/config.js';
import { EXIT_INTERRUPTED, EXIT_OK, EXIT_VIOLATIONS } from '../report/exit-codes.js';
import { type CellResult, type HuntResult, runHunt, selectDeviations, verdict } from '../hunt/hunt.js';
import { huntJson, renderHuntTable } from '../hunt/report.js';
import { makeRunId, ResultsWriter } from '../report/results.js';
import { checkDeviations, type Command, interruptible, parseDuration, UsageError, VERSION } from './common.js';

interface HuntArgs {
  config?: string;
  budget: string;
  inject?: string[];
  scheduler: string[];
  engine: string[];
  workers?: number;
  out: string;
  json: boolean;
  provoke: boolean;
}

/** The untuned hunt's default base: the nightly as a user runs it. */
export const NIGHTLY_CONFIG = fileURLToPath(new URL('../../../configs/nightly.json', import.meta.url));

async function cmdHunt(a: HuntArgs): Promise<number> {
  const budget = parseDuration(a.budget, '--budget');
  if (!(budget > 0)) throw new UsageError('--budget: must be more than 0 seconds');
  checkDeviations(a.inject ?? []);
  if (a.config && !existsSync(a.config)) throw new ConfigError(`--config: file "${a.config}" does not exist`);
  // --no-provoke without --config: the nightly as it is
  const file = a.config ?? (a.provoke ? undefined : NIGHTLY_CONFIG);
  if (file) loadConfigFile(file); // validate first: errors name the file and field
  // the file as written (not its defaults) is the base the provoking mixes are laid over
  const base = file ? (JSON.parse(readFileSync(file, 'utf8')) as ConfigInput) : {};
  const { inject: _inject, seeds: _seeds, seed: _seed, duration: _duration, ...baseMix } = base;
  const workers = a.workers ?? base.workers ?? 2;
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new UsageError('--workers: an integer from 1 to 64');
  const t0 = performance.now();
  const w = new ResultsWriter(a.out, makeRunId('hunt', 1), { label: '--out' }); // a bad --out: exit 2, before any cell
  const done: CellResult[] = [];
  const meta = () => ({ version: VERSION, budgetPerCell: budget, workers, schedulers: a.scheduler, engines: a.engine, base: file ?? '(defaults)', provoke: a.provoke, wallSeconds: Math.round((performance.now() - t0) / 10) / 100 });
  const deviations = selectDeviations(a.inject ?? []);
  const h: HuntResult = await interruptible('writing what the hunt found', a.json, (signal) =>
    runHunt({
      base: baseMix, provoke: a.provoke, deviations, schedulers: a.scheduler, engines: a.engine as ('sched' | 'threads')[],
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
  else process.stdout.write(`${a.provoke ? '' : `untuned hunt (--no-provoke): every deviation on ${file} as it is\n`}${renderHuntTable(h)}\n  results   ${w.dir}\n`);
  return h.interrupted ? EXIT_INTERRUPTED : h.pass ? EXIT_OK : EXIT_VIOLATIONS;
}

export const huntCommand: Command = {
  command: 'hunt',
  describe: 'for every deviation and scheduler/engine, run seeds of its provoking mix until the first violation or the budget; then the unmodified model as the control. Exit 0 only if every deviation is detected and the control is clean',
  builder: (y) =>
    y
      .option('budget', { type: 'string', default: '60', describe: 'seconds per cell (90s, 2m, ...)' })
      .option('inject', { type: 'string', array: true, describe: 'only these deviations (default: every one `bugs` lists)' })
      .option('scheduler', { type: 'string', array: true, choices: [...SCHEDULERS], default: ['random', 'pct'], describe: 'sched engine schedulers' })
      .option('engine', { type: 'string', array: true, choices: ['sched', 'threads'], default: ['sched'], describe: 'engines' })
      .option('config', { alias: 'c', type: 'string', describe: 'base config the provoking mixes are laid over (default: the schema defaults; with --no-provoke: configs/nightly.json)' })
      .option('provoke', { type: 'boolean', default: true, describe: 'lay each deviation\'s provoking mix over the base; --no-provoke: the untuned hunt, every deviation on the base config as it is (default configs/nightly.json), the control the base alone' })
      .option('workers', { type: 'number', describe: 'worker threads (default 2)' })
      .option('out', { type: 'string', default: 'results', describe: 'results root folder' })
      .option('json', { type: 'boolean', default: false, describe: 'print hunt.json to stdout, nothing else' }),
  run: (a) => cmdHunt(a as unknown as HuntArgs),
};
