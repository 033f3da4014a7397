#!/usr/bin/env node
// npm run coverage [-- options]: the coverage gate (docs/model.md, "Coverage: what the nightly does
// not reach"). Runs the nightly (configs/nightly.json) under V8's coverage, the sched engine then the
// threads engine, and reports the line and branch coverage of the kernel side (src/linux,
// src/machine) through c8: coverage/coverage-summary.json (json-summary), coverage/coverage-final.json
// (istanbul JSON), coverage/index.html, and coverage/gate.json (this script's figures). Code run in
// worker threads counts: the sched engine runs its seeds on piscina threads, the threads engine its
// CPUs; Node writes each thread's coverage when the thread exits, terminated threads included.
// Coverage of the threads engine's stripped copy (dist/threads) maps back to src/*.ts through its
// source map (src/build/strip-generators.ts).
//
// The gate: at least --threshold percent (95) of the kernel-side branches reached, leaving out only
// deviation-only ones (code that runs only while a named deviation is injected, found from the
// source: scripts/coverage-lib.mjs). Exit 0: the gate holds (and, with --check-docs, the docs list
// every unreached branch); 1: it does not, or the nightly itself failed; 2: a bad argument.
//
// The report folder is written whole or not at all: the run works in a folder beside it and swaps it
// in at the end, so a Ctrl-C (or a failed run) leaves the previous report as it was.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { compareWithDocs, DEFAULT_THRESHOLD, deviationFlags, gate, KERNEL_DIRS, lineStartsOf, parseDocsList, renderDocsList, replaceDocsList } from './coverage-lib.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DOCS = join(ROOT, 'docs', 'model.md');
const EXIT_OK = 0;
const EXIT_FAIL = 1;
const EXIT_USAGE = 2;

const USAGE = `usage: npm run coverage -- [options]
  --duration D          the nightly's wall-clock budget, both engines together (default 120s)
  --threads-duration T  the threads engine's part of it, after the sched engine's (default a quarter
                        of --duration; 0: the sched engine alone)
  --config FILE         the run configuration (default configs/nightly.json)
  --out DIR             the report folder, replaced whole at the end (default coverage)
  --threshold P         the gate: percent of kernel-side branches reached, deviation-only ones left
                        out (default ${DEFAULT_THRESHOLD})
  --no-run              run nothing: judge the report already in --out (its coverage-final.json)
  --no-build            do not run node build.mjs first
  --list-unreached      print every unreached kernel-side branch (FILE:LINE:COLUMN, its code)
  --check-docs          compare the unreached branches with docs/model.md's list: exit 1 if one is
                        missing there (entries for branches reached this run are only reported)
  --write-docs          rewrite docs/model.md's list from this run, keeping each entry's why (and
                        the entries of branches this run reached, while their code is there)
  -h, --help            this text`;

function usage(msg) {
  process.stderr.write(`coverage: ${msg}\n`);
  process.exit(EXIT_USAGE);
}

let opts;
try {
  opts = parseArgs({
    options: {
      duration: { type: 'string', default: '120s' },
      'threads-duration': { type: 'string' },
      config: { type: 'string', default: 'configs/nightly.json' },
      out: { type: 'string', default: 'coverage' },
      threshold: { type: 'string', default: String(DEFAULT_THRESHOLD) },
      'no-run': { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      'list-unreached': { type: 'boolean', default: false },
      'check-docs': { type: 'boolean', default: false },
      'write-docs': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }).values;
} catch (e) {
  usage(`${e.message.split('\n')[0]} (--help lists the options)`);
}
if (opts.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(EXIT_OK);
}

/** Seconds of a duration like 120s, 2m, 1h or 90 (seconds), as the CLI's --duration reads it; undefined if it is not one. */
function secondsOf(text) {
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(text);
  return m ? Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] ?? 's'] : undefined;
}
const total = secondsOf(opts.duration);
if (total === undefined || total <= 0) usage(`--duration ${opts.duration}: a positive duration like 120s, 2m or 90`);
const threadsSec = opts['threads-duration'] === undefined ? Math.round(total / 4) : secondsOf(opts['threads-duration']);
if (threadsSec === undefined) usage(`--threads-duration ${opts['threads-duration']}: like 30s, 1m or 0`);
if (threadsSec > total) usage(`--threads-duration ${opts['threads-duration']}: longer than --duration ${opts.duration} (both engines together)`);
const threshold = Number(opts.threshold);
if (!/^\d+(\.\d+)?$/.test(opts.threshold) || threshold > 100) usage(`--threshold ${opts.threshold}: a percentage from 0 to 100`);
const config = resolve(opts.config);
if (!opts['no-run'] && !existsSync(config)) usage(`--config ${opts.config}: no such file`);
const OUT = resolve(opts.out);
const up = relative(OUT, ROOT);
if (!up.startsWith('..') && !isAbsolute(up)) {
  usage(`--out ${opts.out}: must not be the repository or a folder holding it (the folder is replaced whole)`);
}
if (opts['no-run'] && !existsSync(join(OUT, 'coverage-final.json'))) usage(`--no-run: no ${relative(process.cwd(), join(OUT, 'coverage-final.json'))} (run npm run coverage first)`);

// c8 reads its include patterns relative to the working directory: the repository's, from here on
process.chdir(ROOT);

const parts = [
  { engine: 'sched', seconds: total - threadsSec },
  { engine: 'threads', seconds: threadsSec },
].filter((p) => p.seconds > 0);

let interrupted = null;
let child = null;
let work = null;
const onSignal = (sig) => {
  interrupted = sig;
  // The nightly stops cleanly on SIGINT or SIGTERM (and a second one stops it at once). A
  // terminal's Ctrl-C reaches it already, with this process's group; a kill of this process alone
  // does not: SIGTERM is passed on at once, SIGINT only if the nightly is still running 2 s later.
  const c = child;
  if (!c) return;
  if (sig === 'SIGTERM') c.kill(sig);
  else setTimeout(() => c.exitCode === null && c.signalCode === null && c.kill(sig), 2000).unref();
};
process.on('SIGINT', () => onSignal('SIGINT'));
process.on('SIGTERM', () => onSignal('SIGTERM'));

function leave(code) {
  if (work) rmSync(work, { recursive: true, force: true });
  process.exit(code);
}

/** One engine's part of the nightly, under NODE_V8_COVERAGE=raw: its exit code; its stdout kept in logFile. */
function runPart(part, raw, results, logFile) {
  const args = ['dist/src/cli.js', 'run', '-c', config, '--engine', part.engine, '--duration', `${part.seconds}s`, '--out', results, '--progress-every', '30s'];
  process.stderr.write(`coverage: node ${args.join(' ')}\n`);
  return new Promise((res) => {
    const log = [];
    child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, NODE_V8_COVERAGE: raw }, stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.on('data', (d) => log.push(d));
    child.on('close', (code, signal) => {
      child = null;
      writeFileSync(logFile, Buffer.concat(log));
      res(code ?? (signal ? 128 : 1));
    });
  });
}

/** c8's reports (json, json-summary, html) of the raw V8 coverage in raw, kernel side only, into dir. */
async function c8Report(raw, dir) {
  const { Report } = createRequire(import.meta.url)('c8');
  await new Report({
    include: KERNEL_DIRS.map((d) => `${d}/**`),
    exclude: [],
    excludeAfterRemap: true, // include/exclude read the src/*.ts paths the source maps give, not dist/
    reporter: ['json', 'json-summary', 'html'],
    reportsDirectory: dir,
    tempDirectory: raw,
    resolve: '',
    omitRelative: true,
    all: false,
    src: [ROOT],
    excludeNodeModules: true,
    extension: ['.ts', '.js'],
    mergeAsync: true, // one raw file at a time: a long run's threads write many
  }).run();
}

/**
 * The coverage files Node wrote: per process, the main thread's and each worker thread's
 * (coverage-PID-TIME-THREADID.json); and how many of them have code of the threads build
 * (dist/threads: a config with threadsCode "stripped"), mapped back to src/ by its source maps.
 */
function rawFiles(raw) {
  const files = existsSync(raw) ? readdirSync(raw).filter((f) => /^coverage-.*\.json$/.test(f)) : [];
  const threadsBuild = files.filter((f) => readFileSync(join(raw, f), 'utf8').includes('/dist/threads/src/')).length;
  return { total: files.length, workers: files.filter((f) => !/-0\.json$/.test(f)).length, threadsBuild };
}

const pad = (s, n) => String(s).padEnd(n);

async function main() {
  const nightly = [];
  if (!opts['no-run']) {
    if (!opts['no-build']) {
      const b = spawnSync(process.execPath, ['build.mjs'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
      if (b.status !== 0) {
        process.stderr.write(`coverage: node build.mjs failed (exit ${b.status})\n`);
        leave(EXIT_FAIL);
      }
    }
    mkdirSync(dirname(OUT), { recursive: true });
    work = mkdtempSync(join(dirname(OUT), `.${basename(OUT)}.tmp-`));
    const raw = join(work, 'raw');
    const report = join(work, 'report');
    mkdirSync(report);
    for (const part of parts) {
      const t0 = performance.now();
      const code = await runPart(part, raw, join(work, 'results'), join(report, `nightly-${part.engine}.txt`));
      nightly.push({ engine: part.engine, seconds: part.seconds, exit: code, wallSeconds: Math.round((performance.now() - t0) / 100) / 10 });
      if (interrupted) {
        process.stderr.write(`coverage: ${interrupted}: stopped; ${relative(process.cwd(), OUT) || OUT} left as it was\n`);
        leave(130);
      }
    }
    const files = rawFiles(raw);
    await c8Report(raw, report);
    if (interrupted) leave(130);
    writeFileSync(join(report, 'raw-files.json'), JSON.stringify(files) + '\n');
    // swap the finished report in: the old one out of the way first, then the new one's rename
    const old = existsSync(OUT) ? `${work}/old` : null;
    if (old) renameSync(OUT, old);
    renameSync(report, OUT);
    rmSync(work, { recursive: true, force: true });
    work = null;
  }

  const final = JSON.parse(readFileSync(join(OUT, 'coverage-final.json'), 'utf8'));
  const files = Object.fromEntries(Object.entries(final).map(([abs, fc]) => [relative(ROOT, abs).split(sep).join('/'), fc]));
  const flags = deviationFlags(readFileSync(join(ROOT, 'src/machine/deviations.ts'), 'utf8'));
  const g = gate(files, (rel) => readFileSync(join(ROOT, rel), 'utf8'), flags, threshold);
  const missingFiles = kernelFiles().filter((rel) => !files[rel] && hasCode(rel));
  const gateFile = join(OUT, 'gate.json');
  const prev = existsSync(gateFile) ? JSON.parse(readFileSync(gateFile, 'utf8')) : {};
  const runInfo = opts['no-run'] ? prev.run : { config: relative(ROOT, config), parts: nightly, rawFiles: JSON.parse(readFileSync(join(OUT, 'raw-files.json'), 'utf8')) };
  writeFileSync(gateFile, JSON.stringify({ run: runInfo, ...g, missingFiles }, null, 1) + '\n');

  // ---- the one screen ----
  const out = [];
  if (runInfo) {
    const rf = runInfo.rawFiles;
    out.push(`coverage  ${runInfo.config}: ${runInfo.parts.map((p) => `${p.engine} ${p.seconds}s (exit ${p.exit})`).join(', ')}; V8 coverage files ${rf.total} (${rf.workers} from worker threads${rf.threadsBuild ? `, ${rf.threadsBuild} with the threads build's code` : ''})`);
  }
  for (const [d, m] of Object.entries(g.dirs)) out.push(`  ${pad(d, 12)} lines ${pad(`${m.lines.pct}%`, 8)} (${m.lines.covered}/${m.lines.total})   branches ${pad(`${m.branches.pct}%`, 8)} (${m.branches.covered}/${m.branches.total})`);
  out.push(`  ${pad('kernel side', 12)} lines ${pad(`${g.kernel.lines.pct}%`, 8)} (${g.kernel.lines.covered}/${g.kernel.lines.total})   branches ${pad(`${g.kernel.branches.pct}%`, 8)} (${g.kernel.branches.covered}/${g.kernel.branches.total})`);
  const ex = Object.entries(g.excluded);
  const exTotal = ex.reduce((a, [, e]) => a + e.total, 0);
  out.push(`  (branches: c8's, V8 block ranges; functions never called, which c8 counts as functions only: ${g.unreached.filter((u) => u.kind).length}, counted by the gate as unreached branches)`);
  out.push(`  deviation-only branches left out: ${exTotal} (${ex.map(([f, e]) => `${f.replace(/^src\//, '')} ${e.total}`).join(', ') || 'none'})`);
  if (missingFiles.length) out.push(`  kernel files never loaded (no coverage at all): ${missingFiles.join(', ')}`);
  const holds = g.gate.holds && !missingFiles.length;
  out.push(`gate      ${g.gate.pct}% of ${g.gate.total} kernel-side branches reached (deviation-only left out); threshold ${threshold}%: ${holds ? 'holds' : 'FAILS'}`);
  out.push(`unreached ${g.unreached.length} kernel-side branch(es), ${g.unreached.filter((u) => u.deviation).length} of them deviation-only${opts['list-unreached'] ? ':' : ' (--list-unreached lists them)'}`);
  if (opts['list-unreached']) for (const u of g.unreached) out.push(`  ${u.file}:${u.line}:${u.column}  ${u.snippet}${u.kind ? `   [${u.kind}]` : ''}${u.deviation ? `   [deviation-only: ${u.deviation.join(', ')}]` : ''}`);
  out.push(`report    ${relative(process.cwd(), OUT) || '.'}/index.html, coverage-summary.json, gate.json`);

  let code = holds ? EXIT_OK : EXIT_FAIL;
  const failedParts = (runInfo?.parts ?? []).filter((p) => p.exit !== 0);
  if (failedParts.length) {
    out.push(`nightly   FAILED: ${failedParts.map((p) => `${p.engine} exit ${p.exit}`).join(', ')} (its output: ${relative(process.cwd(), OUT)}/nightly-<engine>.txt); the gate is not met`);
    code = EXIT_FAIL;
  }

  if (opts['check-docs'] || opts['write-docs']) {
    const md = readFileSync(DOCS, 'utf8');
    const parsed = parseDocsList(md);
    if (opts['write-docs']) {
      // an entry this run reached stays while its code does: the snippet still on its line
      const stillThere = (e) => {
        const path = join(ROOT, e.file);
        if (!existsSync(path)) return false;
        const text = readFileSync(path, 'utf8');
        const starts = lineStartsOf(text);
        const line = e.line - 1 < starts.length ? text.slice(starts[e.line - 1], starts[e.line] ?? text.length) : '';
        return line.replace(/\s+/g, ' ').includes(e.snippet.replace(/…$/, ''));
      };
      const list = renderDocsList(g.unreached, parsed.entries, stillThere);
      writeFileSync(DOCS, replaceDocsList(md, list));
      const n = list.split('\n').filter(Boolean).length;
      out.push(`docs      docs/model.md: the list rewritten (${n} entries: ${g.unreached.length} unreached this run, ${n - g.unreached.length} kept for code this run reached; entries without a why say TODO)`);
    } else {
      const c = compareWithDocs(g.unreached, parsed.entries);
      for (const p of parsed.problems) out.push(`docs      ${p}`);
      for (const m of c.missing) out.push(`docs      missing: ${m.file}:${m.line} ${m.snippet}${m.deviation ? ' (deviation-only)' : ''}`);
      for (const m of c.moved) out.push(`docs      moved: ${m.entry.file}:${m.entry.line} is now line ${m.branch.line}: ${m.branch.snippet}`);
      for (const s of c.stale) out.push(`docs      reached this run (or gone): ${s.file}:${s.line} ${s.snippet}`);
      const todo = parsed.entries.filter((e) => /^TODO/.test(e.why)).length;
      const bad = c.missing.length + c.moved.length + parsed.problems.length + (parsed.found ? 0 : 1) + todo;
      out.push(`docs      docs/model.md: ${c.matched.length} entries match, ${c.moved.length} moved, ${c.missing.length} missing, ${c.stale.length} reached this run${todo ? `, ${todo} without a why` : ''}: ${bad ? 'FAILS (--write-docs rewrites the list, keeping the whys)' : 'ok'}`);
      if (bad) code = EXIT_FAIL;
    }
  }
  process.stdout.write(`${out.join('\n')}\n`);
  leave(code);
}

/** Every .ts file of the kernel side (relative, '/'-separated). */
function kernelFiles() {
  const out = [];
  const walk = (d) => {
    for (const e of readdirSync(join(ROOT, d), { withFileTypes: true })) {
      const rel = `${d}/${e.name}`;
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.ts')) out.push(rel);
    }
  };
  for (const d of KERNEL_DIRS) walk(d);
  return out.sort();
}

/** Does the file compile to code that runs (not types alone)? */
function hasCode(rel) {
  const js = join(ROOT, 'dist', rel.replace(/\.ts$/, '.js'));
  if (!existsSync(js)) return true;
  return readFileSync(js, 'utf8').replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, '').replace(/export\s*\{\s*\};?/g, '').trim().length > 0;
}

main().catch((e) => {
  process.stderr.write(`coverage: ${e.stack ?? e}\n`);
  leave(3);
});
