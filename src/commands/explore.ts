// foliostorm explore: every schedule of each scenario's concurrent blocks with at most K
// preemptions (K = 0, 1, ..., --preemptions), checked at every step; herd7-style output.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT_INTERRUPTED, EXIT_OK } from '../report/exit-codes.js';
import { writeAtomic } from '../report/results.js';
import { checkOutputFile } from '../report/disk.js';
import { exploreFile, type ExploreResult } from '../explore/explore.js';
import { makeScenarioArtifact } from '../explore/artifact.js';
import { checkDeviations, type Command, interruptible, parseDuration, UsageError } from './common.js';

interface ExploreArgs {
  files: string[];
  preemptions: number;
  maxSchedules: number | undefined;
  budget: string | number | undefined;
  inject: string[];
  json: boolean;
  reduce: boolean;
  out: string;
}

/** The text report of one file, as herd7 prints a litmus test's states. */
export function formatExplore(r: ExploreResult, artifacts: string[] = []): string {
  if (r.status === 'malformed' || r.status === 'unsupported') return r.message!.split('\n').map((l) => `ERROR ${l}`).join('\n');
  const lines = [`Test ${r.name} (${r.file})`];
  for (const k of r.rounds) lines.push(`  K=${k.k}: ${k.explored} schedules explored, ${k.pruned} pruned (${k.runs} runs)`);
  lines.push(`States ${r.outcomes.length}`);
  for (const o of r.outcomes) lines.push(`${String(o.count).padStart(6)}  ${o.outcome}`);
  const total = `${r.explored} schedules explored, ${r.pruned} pruned, ${r.runs} runs, ${r.seconds.toFixed(2)} s`;
  if (r.status === 'violation') {
    r.violations.forEach((v, i) => {
      lines.push(`violation (minimal K=${v.minK}, ${v.schedules} schedule${v.schedules === 1 ? '' : 's'}): ${v.message.split('\n')[0]}`);
      if (artifacts[i]) lines.push(`  artifact: ${artifacts[i]} (replay: npx foliostorm repro ${artifacts[i]})`);
    });
    if (r.stoppedBy === 'violation') lines.push(`stopped after K=${r.rounds[r.rounds.length - 1].k}: a violation's minimal K is found (${total})`);
    else lines.push(`(${total})`);
  } else if (r.status === 'verified') lines.push(`verified: no violation in any schedule with <= ${r.bound} preemptions (${total})`);
  else {
    const last = r.rounds[r.rounds.length - 1];
    const done = last ? last.k - 1 : -1;
    lines.push(`incomplete: stopped by ${r.stoppedBy} during K=${last?.k ?? 0}; ${done >= 0 ? `no violation in any schedule with <= ${done} preemptions` : 'nothing verified'} (${total})`);
  }
  return lines.join('\n');
}

async function cmdExplore(a: ExploreArgs): Promise<number> {
  checkDeviations(a.inject);
  if (!Number.isInteger(a.preemptions) || a.preemptions < 0) throw new UsageError(`--preemptions: must be an integer >= 0 (got ${a.preemptions})`);
  if (a.maxSchedules !== undefined && (!Number.isInteger(a.maxSchedules) || a.maxSchedules < 1)) throw new UsageError(`--max-schedules: must be an integer >= 1 (got ${a.maxSchedules})`);
  const seconds = a.budget !== undefined ? parseDuration(a.budget, '--budget') : Infinity;
  if (!(seconds > 0)) throw new UsageError(`--budget: must be more than 0 seconds (got ${a.budget})`);
  const t0 = performance.now();
  const results: { r: ExploreResult; artifacts: string[] }[] = [];
  let interrupted = false;
  await interruptible('the exploration (what was explored is printed)', a.json, async (signal) => {
    for (const file of a.files) {
      if (signal.aborted) {
        interrupted = true;
        break;
      }
      const left = (seconds * 1000) - (performance.now() - t0);
      const r = await exploreFile(file, { preemptions: a.preemptions, maxSchedules: a.maxSchedules, budgetMs: Math.max(1, left), inject: a.inject, reduce: a.reduce, signal });
      if (r.stoppedBy === 'interrupted') interrupted = true;
      const artifacts: string[] = [];
      if (r.status === 'violation' && r.scenario) {
        const stem = r.name.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 60);
        r.violations.forEach((v, i) => {
          const dest = join(a.out, `${stem}${a.inject.length ? `.${a.inject.join('+')}` : ''}.${i}.json`);
          checkOutputFile(dest, '--out');
          writeAtomic(dest, JSON.stringify(makeScenarioArtifact(r.scenario!, readFileSync(file, 'utf8'), a.inject, v, dest), null, 1) + '\n');
          artifacts.push(dest);
        });
      }
      results.push({ r, artifacts });
      if (!a.json) process.stdout.write(formatExplore(r, artifacts) + '\n\n');
      if (interrupted) break;
    }
  });
  const code = interrupted ? EXIT_INTERRUPTED : Math.max(EXIT_OK, ...results.map((x) => x.r.exitCode));
  if (a.json) {
    const files = results.map(({ r, artifacts }) => {
      const { scenario: _sc, violations, ...rest } = r;
      return { ...rest, violations: violations.map(({ result: _r, ...v }, i) => ({ ...v, artifact: artifacts[i] })) };
    });
    process.stdout.write(JSON.stringify({ exitCode: code, inject: a.inject, preemptions: a.preemptions, files, ...(interrupted ? { interrupted: true } : {}) }, null, 2) + '\n');
  }
  return code;
}

export const exploreCommand: Command = {
  command: 'explore <files..>',
  describe: 'explore every schedule of the concurrent blocks of scenarios (configs/litmus/*.json) within a preemption bound; exit 0 verified, 1 a violation, 2 bad input, 3 interrupted or out of budget',
  builder: (y) =>
    y
      .positional('files', { type: 'string', array: true, demandOption: true, describe: 'scenario files with concurrent blocks' })
      .option('preemptions', { type: 'number', default: 2, describe: 'the preemption bound K: schedules with K = 0, 1, ..., K preemptions are explored in turn' })
      .option('max-schedules', { type: 'number', describe: 'stop a file after this many runs' })
      .option('budget', { type: 'string', describe: 'wall-clock budget for all files: 60 (seconds), 90s, 5m' })
      .option('inject', { type: 'string', array: true, nargs: 1, describe: 'switch on a named deviation (repeatable; see: bugs)' })
      .option('reduce', { type: 'boolean', default: true, describe: 'sleep-set reduction (--no-reduce: plain enumeration)' })
      .option('out', { type: 'string', default: 'results/explore', describe: 'where violation artifacts are written' })
      .option('json', { type: 'boolean', default: false, describe: 'print the results as JSON, nothing else' }),
  run: (a) =>
    cmdExplore({
      files: a.files as string[], preemptions: a.preemptions as number, maxSchedules: a.maxSchedules as number | undefined, budget: a.budget as string | undefined,
      inject: (a.inject as string[] | undefined) ?? [], json: a.json as boolean, reduce: a.reduce as boolean, out: a.out as string,
    }),
};
