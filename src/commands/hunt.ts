// foliostorm hunt: every deviation x scheduler/engine until detection or the budget, then the controls.
import { existsSync, readFileSync } from 'node:fs';
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
  const w = new ResultsWriter(a.out, makeRunId('hunt', 1), { label: '--out' }); // a bad --out: exit 2, before any cell
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

export const huntCommand: Command = {
  command: 'hunt',
  describe: 'for every deviation and scheduler/engine, run seeds of its provoking mix until the first violation or the budget; then the unmodified model as the control. Exit 0 only if every deviation is detected and the control is clean',
  builder: (y) =>
    y
      .option('budget', { type: 'string', default: '60', describe: 'seconds per cell (90s, 2m, ...)' })
      .option('inject', { type: 'string', array: true, describe: 'only these deviations (default: every one `bugs` lists)' })
      .option('scheduler', { type: 'string', array: true, choices: [...SCHEDULERS], default: ['random', 'pct'], describe: 'sched engine schedulers' })
      .option('engine', { type: 'string', array: true, choices: ['sched', 'threads'], default: ['sched'], describe: 'engines' })
      .option('config', { alias: 'c', type: 'string', describe: 'base config the provoking mixes are laid over (default: the schema defaults)' })
      .option('workers', { type: 'number', describe: 'worker threads (default 2)' })
      .option('out', { type: 'string', default: 'results', describe: 'results root folder' })
      .option('json', { type: 'boolean', default: false, describe: 'print hunt.json to stdout, nothing else' }),
  run: (a) => cmdHunt(a as unknown as HuntArgs),
};
