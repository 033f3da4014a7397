#!/usr/bin/env node
// npm run mutation [-- options]: a mutation score of the checker over the kernel-side code
// (src/linux, src/machine), by StrykerJS with its command runner (docs/mutation.md).
//
// 1. A tree: a copy of HEAD (git archive; --tree work: the working tree's tracked and untracked,
//    not ignored files) in OUT/tree, with node_modules linked: other edits never leak into a run,
//    and --resume reuses the same tree.
// 2. Every mutant Stryker would make there (its instrumenter, run here without Stryker), a seeded
//    sample stratified over files (scripts/mutation-sample.mjs), this shard of it, less the mutants
//    OUT/results.jsonl already has (--resume).
// 3. Stryker on OUT/tree with --mutate ranges, one per sampled mutant (a range selects a node and
//    everything inside it: Stryker numbers those mutants too, so the driver instruments the same
//    ranges in Stryker's order to know which ids are the sample's, and checks the ids against
//    Stryker's report after the run). buildCommand `node build.mjs` compiles the instrumented tree
//    once (type checks disabled: mutants do not type-check); the command runner runs
//    scripts/mutation-run.mjs per mutant, which runs the short nightly on the sampled ones, the
//    sched engine then the threads engine (--threads-duration of --duration), stopping at the
//    first that finds something (exit 1: killed; 0: survived; 2, 3: the tool crashed), appends
//    one line to OUT/results.jsonl, and exits 0 at once for the others.
// 4. The score over the shard's sample: killed (violations found), crashed, timed out (Stryker
//    killed a run past its timeout), survived; survivors listed with the code they change.
//    OUT/summary.json and OUT/survivors.md.
// --list prints the sample (this shard) and stops; --report prints the score from OUT/results.jsonl
// without running anything.
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Instrumenter } from '@stryker-mutator/instrumenter';
import { compareMutants, mutantKey, mutateRange, parseShard, sampleMutants, shardOf } from './mutation-sample.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MUTATE_DIRS = ['src/linux', 'src/machine'];
const NIGHTLY = 'configs/nightly.json';

const USAGE = `usage: npm run mutation -- [options]
  --sample M       mutants in the sample (default 200), stratified over the files of ${MUTATE_DIRS.join(', ')}
  --seed S         the sample's seed (default 1)
  --shard K/N      run shard K of N of the sample (default 1/1)
  --duration D     each mutant's nightly run, both engines together (default 20s)
  --threads-duration T
                   the threads engine's part of it, after the sched engine's (default a quarter
                   of --duration: 15 s sched + 5 s threads; 0: the sched engine alone)
  --out DIR        the tree, results and reports (default results/mutation)
  --resume         go on with OUT's results: mutants already there are not run again
  --tree head|work what to mutate: a copy of HEAD (default) or of the working tree
  --timeout-ms MS  Stryker's timeoutMS: a mutant's run may take the dry run's time x 1.5 + MS (default 15000)
  --list           print the sample (this shard) and stop
  --report         print the score of OUT/results.jsonl and stop`;

function fail(msg, code = 2) {
  console.error(`mutation: ${msg}`);
  process.exit(code);
}

let opts;
try {
  opts = parseArgs({
    options: {
      sample: { type: 'string', default: '200' },
      seed: { type: 'string', default: '1' },
      shard: { type: 'string', default: '1/1' },
      duration: { type: 'string', default: '20s' },
      'threads-duration': { type: 'string' },
      out: { type: 'string', default: 'results/mutation' },
      resume: { type: 'boolean', default: false },
      tree: { type: 'string', default: 'head' },
      'timeout-ms': { type: 'string', default: '15000' },
      list: { type: 'boolean', default: false },
      report: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }).values;
} catch (e) {
  fail(`${e.message}\n${USAGE}`);
}
if (opts.help) {
  console.log(USAGE);
  process.exit(0);
}
const OUT = resolve(opts.out);
const TREE = join(OUT, 'tree');
const RESULTS = join(OUT, 'results.jsonl');
const META = join(OUT, 'meta.json');
const PLAN = join(OUT, 'plan.json');
const old = existsSync(META) ? JSON.parse(readFileSync(META, 'utf8')) : undefined;
if (opts.report) {
  if (!old) fail(`${OUT} has no mutation run (meta.json)`);
  Object.assign(opts, { sample: String(old.sample), seed: old.seed, duration: old.duration, tree: old.tree, 'threads-duration': old.threadsSeconds === undefined ? '0' : String(old.threadsSeconds) });
}
const sampleSize = Number(opts.sample);
if (!Number.isInteger(sampleSize) || sampleSize < 1) fail(`--sample ${opts.sample}: a positive integer`);
/** Seconds of a duration like 20s, 1m, 1h or 30 (seconds), as the CLI's --duration reads it; undefined if it is not one. */
function secondsOf(text) {
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(text);
  return m ? Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] ?? 's'] : undefined;
}
const durationSeconds = secondsOf(opts.duration);
if (durationSeconds === undefined) fail(`--duration ${opts.duration}: like 20s, 1m or 30`);
const threadsSeconds = opts['threads-duration'] === undefined ? durationSeconds / 4 : secondsOf(opts['threads-duration']);
if (threadsSeconds === undefined) fail(`--threads-duration ${opts['threads-duration']}: like 5s, 1m or 0`);
if (threadsSeconds > durationSeconds) fail(`--threads-duration ${opts['threads-duration']}: longer than --duration ${opts.duration} (both engines together)`);
if (!['head', 'work'].includes(opts.tree)) fail(`--tree ${opts.tree}: head or work`);
const timeoutMS = Number(opts['timeout-ms']);
if (!Number.isFinite(timeoutMS) || timeoutMS < 0) fail(`--timeout-ms ${opts['timeout-ms']}: a number of milliseconds`);
let shard;
try {
  shard = parseShard(opts.shard);
} catch (e) {
  fail(e.message);
}

const git = (...args) => {
  const r = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) fail(`git ${args.join(' ')}: ${r.stderr.trim()}`, 3);
  return r.stdout;
};

/** Every record of OUT/results.jsonl, in order (a line cut short by a kill is skipped). */
function readResults() {
  if (!existsSync(RESULTS)) return [];
  return readFileSync(RESULTS, 'utf8')
    .split('\n')
    .filter(Boolean)
    .flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return [];
      }
    });
}

// ---- 1. the tree -------------------------------------------------------------------------------
mkdirSync(OUT, { recursive: true });
// what a results file is about: a --resume must agree (the shard may differ: shards of one sample can share OUT)
const want = { sample: sampleSize, seed: opts.seed, duration: opts.duration, threadsSeconds, tree: opts.tree, config: NIGHTLY };
const reusing = (opts.resume || opts.report || opts.list) && old && existsSync(TREE);
if (!opts.resume && !opts.report && !opts.list && readResults().some((r) => r.kind === 'mutant')) {
  fail(`${RESULTS} holds results: --resume to go on with them, or another --out`);
}
if (reusing && !opts.report) {
  for (const [k, v] of Object.entries(want)) {
    const was = k === 'threadsSeconds' ? (old[k] ?? 0) : old[k]; // folders of before the threads engine ran too: sched alone
    if (was !== v) fail(`${opts.resume ? '--resume: ' : ''}${OUT} was run with --${k === 'threadsSeconds' ? 'threads-duration' : k} ${was}, not ${v}`);
  }
}
let commit;
if (reusing) {
  commit = old.commit;
} else {
  rmSync(TREE, { recursive: true, force: true });
  mkdirSync(TREE, { recursive: true });
  commit = git('rev-parse', 'HEAD').trim();
  if (opts.tree === 'head') {
    const r = spawnSync('sh', ['-c', `git archive HEAD | tar -x -C '${TREE}'`], { cwd: ROOT, stdio: 'inherit' });
    if (r.status !== 0) fail('git archive HEAD failed', 3);
  } else {
    const files = git('ls-files', '-co', '--exclude-standard', '-z').split('\0').filter(Boolean);
    for (const f of files) {
      if (!existsSync(join(ROOT, f)) || f.startsWith('results/')) continue; // deleted, or results
      mkdirSync(dirname(join(TREE, f)), { recursive: true });
      cpSync(join(ROOT, f), join(TREE, f));
    }
    if (git('status', '--porcelain').trim()) commit += '+work';
  }
  symlinkSync(join(ROOT, 'node_modules'), join(TREE, 'node_modules'));
  writeFileSync(META, JSON.stringify({ ...want, timeoutMS, commit, created: new Date().toISOString() }, null, 2) + '\n');
}
const meta = { ...want, commit };

// ---- 2. mutants, sample, shard -------------------------------------------------------------------
/** Files under the mutated folders in the order Stryker reads them: depth first, names by code unit per folder. */
function strykerOrder(dir) {
  return readdirSync(join(TREE, dir), { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((d) => (d.isDirectory() ? strykerOrder(`${dir}/${d.name}`) : d.name.endsWith('.ts') && !d.name.endsWith('.d.ts') ? [`${dir}/${d.name}`] : []));
}
const quiet = { isTraceEnabled: () => false, isDebugEnabled: () => false, isInfoEnabled: () => false, isWarnEnabled: () => true, isErrorEnabled: () => true, isFatalEnabled: () => true, trace() {}, debug() {}, info() {}, warn: (...a) => console.warn(...a), error: (...a) => console.error(...a), fatal: (...a) => console.error(...a) };
/** Stryker's instrumenter on files (in order), each mutated where `mutate` says (true or ranges of 0-based lines): its mutants. */
async function instrument(files, mutate) {
  const input = files.map((name) => ({ name, mutate: mutate(name), content: readFileSync(join(TREE, name), 'utf8') }));
  const r = await new Instrumenter(quiet).instrument(input, { plugins: null, ignorers: [], excludedMutations: [] });
  return r.mutants;
}
// Stryker's file order: the whole tree depth first; the mutated folders keep that order among themselves.
const files = MUTATE_DIRS.flatMap(strykerOrder).sort((a, b) => {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) if (pa[i] !== pb[i]) return pa[i] < pb[i] ? -1 : 1;
  return pa.length - pb.length;
});
const all = await instrument(files, () => true);
const sample = sampleMutants(all, sampleSize, meta.seed);
const mine = shardOf(sample, shard.k, shard.n);
const source = new Map(files.map((f) => [f, readFileSync(join(TREE, f), 'utf8').split('\n')]));
/** The code a mutant replaces, on one line, cut to 70 characters. */
function original(m) {
  const lines = source.get(m.fileName);
  const { start, end } = m.location;
  const text = start.line === end.line ? lines[start.line].slice(start.column, end.column) : [lines[start.line].slice(start.column), ...lines.slice(start.line + 1, end.line), lines[end.line].slice(0, end.column)].join('\n');
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > 70 ? `${one.slice(0, 67)}...` : one;
}
const oneLine = (s) => {
  const t = String(s).replace(/\s+/g, ' ').trim();
  return t.length > 70 ? `${t.slice(0, 67)}...` : t;
};
const describe = (m) => ({ key: mutantKey(m), file: m.fileName, line: m.location.start.line + 1, column: m.location.start.column, mutator: m.mutatorName, original: original(m), replacement: oneLine(m.replacement) });

if (opts.list) {
  console.log(`${all.length} mutants in ${files.length} files; sample of ${sample.length} (seed ${meta.seed}); shard ${shard.k}/${shard.n}: ${mine.length}`);
  for (const m of mine) {
    const d = describe(m);
    console.log(`${d.file}:${d.line}:${d.column}  ${d.mutator}  ${d.original}  ->  ${d.replacement}`);
  }
  process.exit(0);
}

// ---- 4. the score ---------------------------------------------------------------------------------
function report() {
  const last = new Map();
  for (const r of readResults()) if (r.kind === 'mutant') last.set(r.key, r);
  const rows = mine.map((m) => ({ ...describe(m), result: last.get(mutantKey(m)) }));
  const done = rows.filter((r) => r.result);
  const count = (s) => done.filter((r) => r.result.status === s).length;
  const killed = count('killed');
  const crashed = count('crashed');
  const timeout = count('timeout');
  const errors = count('error');
  const survived = count('survived');
  const detected = killed + crashed + timeout;
  const valid = detected + survived;
  const seconds = done.filter((r) => typeof r.result.seconds === 'number').map((r) => r.result.seconds);
  const byCause = {};
  const byEngine = {};
  for (const r of done.filter((x) => ['killed', 'crashed'].includes(x.result.status))) {
    const e = r.result.killedBy ?? 'sched'; // results of before the threads engine ran too
    byEngine[e] = (byEngine[e] ?? 0) + 1;
  }
  for (const r of done.filter((x) => x.result.status === 'killed')) {
    const sig = r.result.signatures?.[0] ?? '(no signature)';
    const cause = /^worker-(hang|crash)@/.test(sig) ? sig.replace(/@.*/, '') : /^lock-hang/.test(sig) ? 'lock-hang' : 'violation';
    byCause[cause] = (byCause[cause] ?? 0) + 1;
  }
  const dry = readResults().filter((r) => r.kind === 'dry-run' && typeof r.seconds === 'number').at(-1);
  const runs = existsSync(join(OUT, 'runs.jsonl')) ? readFileSync(join(OUT, 'runs.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
  const wall = runs.reduce((a, r) => a + r.seconds, 0);
  const wallMutants = runs.reduce((a, r) => a + r.done, 0);
  const summary = {
    commit: meta.commit,
    sample: sample.length,
    seed: meta.seed,
    shard: opts.shard,
    duration: meta.duration,
    threadsSeconds: meta.threadsSeconds,
    mutantsInTree: all.length,
    run: done.length,
    notRun: rows.length - done.length,
    killed,
    killedBy: byCause,
    // the engine whose run found it (killed and crashed)
    killedByEngine: byEngine,
    crashed,
    timeout,
    errors,
    survived,
    score: valid ? detected / valid : null,
    // the nightly's own time, over the mutants whose run ended (not timeouts)
    secondsPerMutant: seconds.length ? seconds.reduce((a, b) => a + b, 0) / seconds.length : null,
    // where Stryker stops a run: 1.5 x the dry run + --timeout-ms
    timeoutSeconds: dry ? dry.seconds * 1.5 + (old?.timeoutMS ?? timeoutMS) / 1000 : null,
    // wall time of the Stryker runs (tree build, dry run, skipped mutants included) per mutant they finished
    wallSecondsPerMutant: wallMutants ? wall / wallMutants : null,
    strykerRuns: runs,
    survivors: done.filter((r) => r.result.status === 'survived').map(({ result, key, ...d }) => ({ ...d, seeds: result.seeds })),
  };
  writeFileSync(join(OUT, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  const md = [
    `# Survivors (${meta.commit.slice(0, 12)}, sample ${sample.length}, seed ${meta.seed}, shard ${opts.shard}, ${meta.duration} per mutant)`,
    '',
    ...summary.survivors.map((s) => `- ${s.file}:${s.line} ${s.mutator}: \`${s.original}\` -> \`${s.replacement}\``),
    '',
  ].join('\n');
  writeFileSync(join(OUT, 'survivors.md'), md);
  const pct = summary.score === null ? '-' : `${(100 * summary.score).toFixed(1)}%`;
  console.log(`mutation score: ${pct} (${detected} killed of ${valid} run, sample of ${sample.length}, seed ${meta.seed}, shard ${opts.shard}, ${meta.duration} each)`);
  console.log(`  killed ${killed} by the nightly (${Object.entries(byCause).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}; by engine: ${Object.entries(byEngine).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}), tool crashed ${crashed}, timed out ${timeout}, survived ${survived}${errors ? `, errors ${errors}` : ''}; not run yet ${summary.notRun}`);
  if (summary.secondsPerMutant) console.log(`  per mutant: ${summary.secondsPerMutant.toFixed(1)} s of nightly on average over the runs that ended${summary.timeoutSeconds ? `, timeouts stopped at ~${summary.timeoutSeconds.toFixed(0)} s` : ''}${summary.wallSecondsPerMutant ? `; ${summary.wallSecondsPerMutant.toFixed(1)} s of wall time (build, dry run, skips included)` : ''}`);
  for (const s of summary.survivors) console.log(`  survived: ${s.file}:${s.line} ${s.mutator}: ${s.original} -> ${s.replacement}`);
  console.log(`  ${relative(process.cwd(), join(OUT, 'summary.json'))}, ${relative(process.cwd(), join(OUT, 'survivors.md'))}`);
  return summary;
}
if (opts.report) {
  report();
  process.exit(0);
}

// ---- 3. Stryker -----------------------------------------------------------------------------------
const doneKeys = new Set(readResults().filter((r) => r.kind === 'mutant' && r.status !== 'error').map((r) => r.key));
const todo = mine.filter((m) => !doneKeys.has(mutantKey(m)));
console.log(`mutation: ${all.length} mutants in ${files.length} files at ${meta.commit.slice(0, 12)} (${opts.tree}); sample ${sample.length} (seed ${meta.seed}), shard ${shard.k}/${shard.n}: ${mine.length}, ${mine.length - todo.length} done, ${todo.length} to run, ${meta.duration} each (the threads engine ${meta.threadsSeconds} s of it)`);
if (todo.length === 0) {
  report();
  process.exit(0);
}

// The ids Stryker will give: the same instrumenter on the same files, in the same order, with the same ranges.
const ranges = new Map();
for (const m of todo) {
  if (!ranges.has(m.fileName)) ranges.set(m.fileName, []);
  ranges.get(m.fileName).push(m.location);
}
const ranged = await instrument(files.filter((f) => ranges.has(f)), (f) => ranges.get(f));
const todoKeys = new Set(todo.map(mutantKey));
const byId = {};
for (const m of ranged) if (todoKeys.has(mutantKey(m))) byId[m.id] = describe(m);
if (Object.keys(byId).length !== todo.length) fail(`internal: ${todo.length} mutants to run, ${Object.keys(byId).length} found by their ranges`, 3);
writeFileSync(PLAN, JSON.stringify({ commit: meta.commit, instrumented: ranged.length, byId }, null, 2) + '\n');

const wrapper = join(ROOT, 'scripts', 'mutation-run.mjs');
const q = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
const strykerConfig = {
  testRunner: 'command',
  commandRunner: { command: `node ${q(wrapper)} --plan ${q(PLAN)} --results ${q(RESULTS)} --config ${NIGHTLY} --duration ${meta.duration} --threads-duration ${meta.threadsSeconds}` },
  buildCommand: 'node build.mjs',
  coverageAnalysis: 'off',
  concurrency: 1,
  mutate: todo.map(mutateRange),
  disableTypeChecks: '{src,test,workers,bench}/**/*.{js,ts}',
  checkers: [],
  ignorePatterns: ['/dist', '/results', '/reports'],
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
  timeoutMS,
  timeoutFactor: 1.5,
  reporters: ['json', 'progress-append-only'],
  jsonReporter: { fileName: join(OUT, 'stryker-report.json') },
  incremental: false,
  logLevel: 'info',
  fileLogLevel: 'off',
};
writeFileSync(join(OUT, 'stryker.config.json'), JSON.stringify(strykerConfig, null, 2) + '\n');
const ids = Object.keys(byId);
console.log(`mutation: Stryker on ${OUT}/tree: ${todo.length} ranges, ${ranged.length} mutants instrumented (${ranged.length - ids.length} outside the sample skipped at once); log ${join(OUT, 'stryker.log')}`);

const t0 = Date.now();
const before = readResults().length;
const log = join(OUT, 'stryker.log');
appendFileSync(log, `\n==== ${new Date().toISOString()} stryker run, ${todo.length} mutants\n`);
const strykerBin = join(ROOT, 'node_modules', '@stryker-mutator', 'core', 'bin', 'stryker.js');
const child = spawn(process.execPath, [strykerBin, 'run', join(OUT, 'stryker.config.json')], { cwd: TREE, stdio: ['ignore', 'pipe', 'pipe'] });
child.stdout.on('data', (b) => appendFileSync(log, b));
child.stderr.on('data', (b) => appendFileSync(log, b));
// progress: each new result line as it lands
let shown = before;
const progress = () => {
  const rs = readResults();
  for (const r of rs.slice(shown)) {
    const d = r.kind === 'mutant' ? Object.values(byId).find((x) => x.key === r.key) : undefined;
    const where = d ? `${d.file}:${d.line} ${d.mutator} ${d.original} -> ${d.replacement}` : 'dry run (no mutant)';
    const n = rs.slice(before).filter((x) => x.kind === 'mutant').indexOf(r) + 1;
    console.log(`  ${r.kind === 'mutant' ? `[${n}/${todo.length}]` : '[dry]'} ${r.status}${r.exit !== undefined ? ` (exit ${r.exit})` : ''} ${r.signatures?.join(' ') ?? ''} ${r.seconds?.toFixed?.(1) ?? '-'}s  ${where}`);
  }
  shown = rs.length;
};
const timer = setInterval(progress, 2000);
const stop = (sig) => child.kill(sig);
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
const code = await new Promise((res) => child.on('exit', (c, s) => res(c ?? (s ? 3 : 1))));
clearInterval(timer);
progress();
const finished = readResults().slice(before).filter((r) => r.kind === 'mutant').length;
console.log(`mutation: Stryker exited ${code} after ${((Date.now() - t0) / 1000).toFixed(0)} s`);

// Stryker's report: check the ids were the sample's, and take what only Stryker saw (timeouts).
const reportFile = join(OUT, 'stryker-report.json');
if (code === 0 && existsSync(reportFile) && statSync(reportFile).mtimeMs >= t0) {
  const sr = JSON.parse(readFileSync(reportFile, 'utf8'));
  const seen = new Map();
  for (const [fileName, f] of Object.entries(sr.files)) for (const m of f.mutants) seen.set(m.id, { ...m, fileName });
  const bad = [];
  const have = new Set(readResults().filter((r) => r.kind === 'mutant').map((r) => r.key));
  for (const [id, d] of Object.entries(byId)) {
    const m = seen.get(id);
    // the report's locations are 1-based lines and 1-based columns
    const key = m && mutantKey({ fileName: m.fileName, mutatorName: m.mutatorName, replacement: m.replacement, location: { start: { line: m.location.start.line - 1, column: m.location.start.column - 1 }, end: { line: m.location.end.line - 1, column: m.location.end.column - 1 } } });
    if (key !== d.key) {
      bad.push(`${id}: planned ${d.key}, Stryker's ${key ?? 'none'}`);
      continue;
    }
    if (!have.has(d.key)) {
      const status = m.status === 'Timeout' ? 'timeout' : 'error';
      appendFileSync(RESULTS, JSON.stringify({ key: d.key, kind: 'mutant', strykerId: id, commit: meta.commit, status, stryker: m.status, reason: m.statusReason }) + '\n');
    }
  }
  const timeouts = readResults().slice(before).filter((r) => r.kind === 'mutant').length - finished;
  appendFileSync(join(OUT, 'runs.jsonl'), JSON.stringify({ started: new Date(t0).toISOString(), seconds: (Date.now() - t0) / 1000, planned: todo.length, done: finished + timeouts, strykerExit: code }) + '\n');
  if (bad.length) fail(`Stryker's mutant ids are not the planned ones (results of this run are not to be trusted):\n  ${bad.slice(0, 10).join('\n  ')}`, 3);
} else {
  appendFileSync(join(OUT, 'runs.jsonl'), JSON.stringify({ started: new Date(t0).toISOString(), seconds: (Date.now() - t0) / 1000, planned: todo.length, done: finished, strykerExit: code }) + '\n');
  console.error(`mutation: Stryker did not finish (exit ${code}; see ${log}); the results so far are kept: --resume goes on`);
}
report();
process.exit(code === 0 ? 0 : 3);
