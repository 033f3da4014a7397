// Stryker's command for one mutant (npm run mutation, docs/mutation.md): Stryker's command runner
// starts it in its sandbox (the instrumented tree, built once) with the active mutant's id in
// __STRYKER_ACTIVE_MUTANT__, which the instrumented code reads from process.env in every thread
// (worker threads get a copy of the env). It runs the short nightly on that mutant, on both
// engines one after the other, the sched engine for most of the time and then the threads engine
// (whose CPUs run the code only it runs: the cpu.threaded branches of the locks, the TLB
// shootdown, folio_lock's wait), each
//   node dist/src/cli.js run -c CONFIG --engine E --duration D_E --max-failures 1 --out <tmp> --json
// and stops after the first engine that finds something. It appends one JSON line to the results
// file: the mutant, the exit code (1 violations: killed; 0: survived; 2, 3: the tool crashed:
// killed, counted apart), the engine that decided (killedBy), the signatures found, the seeds,
// the seconds, and each engine's run. It exits with the deciding run's exit code, which is what
// Stryker judges (0 survived, else killed).
// A mutant the plan does not list (Stryker's --mutate ranges select a node and everything inside
// it, so more than the sample) exits 0 at once without running anything: the driver ignores it.
// Without an active mutant (Stryker's dry run) it runs the unmutated tree the same way and records that.
// Usage: node mutation-run.mjs --plan PLAN.json --results RESULTS.jsonl [--config C] [--duration D]
//        [--threads-duration T]   (D: both engines together, default 20s; T: the threads engine's
//        part of it, default a quarter of D: 15 s sched + 5 s threads; 0: the sched engine alone)
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
};
const planFile = arg('--plan');
const resultsFile = arg('--results');
if (!planFile || !resultsFile) {
  console.error('usage: mutation-run.mjs --plan PLAN.json --results RESULTS.jsonl [--config C] [--duration D] [--threads-duration T]');
  process.exit(2);
}
const config = arg('--config', 'configs/nightly.json');
/** Seconds of a duration like 20s, 1m, 1h or 30 (seconds), as the CLI's --duration reads it. */
function seconds(text, what) {
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h)?$/.exec(String(text).trim());
  if (!m) {
    console.error(`mutation-run: ${what} ${text}: like 20s, 1m or 30`);
    process.exit(2);
  }
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] ?? 's'];
}
const total = seconds(arg('--duration', '20s'), '--duration');
const threadsPart = arg('--threads-duration');
const threadsSeconds = threadsPart === undefined ? total / 4 : seconds(threadsPart, '--threads-duration');
if (threadsSeconds > total) {
  console.error(`mutation-run: --threads-duration ${threadsPart} is longer than --duration (both engines together)`);
  process.exit(2);
}
/** The engines in the order they run, each with its share of the duration (an engine with none is left out). */
const engines = [
  { engine: 'sched', seconds: total - threadsSeconds },
  { engine: 'threads', seconds: threadsSeconds },
].filter((e) => e.seconds > 0);
const id = process.env.__STRYKER_ACTIVE_MUTANT__;
const plan = JSON.parse(readFileSync(planFile, 'utf8'));
const mutant = id === undefined ? undefined : plan.byId[id];
if (id !== undefined && !mutant) process.exit(0); // not in the sample: skipped

/** The run's summary.json (one run folder under out), if it wrote one. */
function summary(out) {
  try {
    const dir = readdirSync(out).find((d) => !d.startsWith('.'));
    return dir ? JSON.parse(readFileSync(join(out, dir, 'summary.json'), 'utf8')) : undefined;
  } catch {
    return undefined;
  }
}
const tail = (text) => (text ?? '').trim().split('\n').slice(-3).join('\n');

/** One engine's nightly on this mutant: its exit code, signatures, seeds, seconds (interrupted: stopped by a signal). */
function runEngine({ engine, seconds: duration }) {
  const out = mkdtempSync(join(tmpdir(), 'foliostorm-mutant-'));
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['dist/src/cli.js', 'run', '-c', config, '--engine', engine, '--duration', String(duration), '--max-failures', '1', '--out', out, '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 256 << 20,
    encoding: 'utf8',
  });
  const secs = (Date.now() - t0) / 1000;
  const s = summary(out);
  rmSync(out, { recursive: true, force: true });
  const sigs = s?.signatures ?? [];
  return {
    engine,
    exit: r.status ?? (r.signal ? `signal ${r.signal}` : 'unknown'),
    // the violations' signatures, then the reach floor's findings (reach-floor@rule: a run that
    // did not reach what its config enables, summary.json reach.findings)
    signatures: [...new Set([
      ...(Array.isArray(sigs) ? sigs.map((x) => x.signature ?? String(x)) : Object.keys(sigs)),
      ...(s?.reach?.findings ?? []).map((f) => f.signature ?? String(f)),
    ])],
    seeds: s?.seeds?.count,
    seconds: secs,
    // A nightly stopped by a signal (Ctrl-C reaches the whole process group, a timeout's kill)
    // says nothing of the mutant.
    interrupted: s?.stop?.reason === 'interrupted' || Boolean(r.signal),
    stderr: r.stderr,
  };
}

const runs = [];
for (const e of engines) {
  const run = runEngine(e);
  if (run.interrupted) {
    // no line, so --resume runs it again
    console.log(`${mutant ? 'mutant' : 'dry-run'} ${id ?? ''} interrupted`);
    process.exit(3);
  }
  runs.push(run);
  if (run.exit !== 0) break; // this engine found something (or the tool failed): the other need not run
}
const last = runs.at(-1);
const exit = last.exit;
const status = !mutant ? (exit === 0 ? 'clean' : 'failed') : exit === 0 ? 'survived' : exit === 1 ? 'killed' : 'crashed';
const record = {
  ...(mutant ? { key: mutant.key, kind: 'mutant' } : { kind: 'dry-run' }),
  strykerId: id,
  commit: plan.commit,
  status,
  exit,
  // the engine whose run decided: it found something (killed, crashed, failed), or null when every engine ran clean
  killedBy: exit === 0 ? null : last.engine,
  signatures: last.signatures,
  seeds: runs.reduce((a, r) => a + (r.seeds ?? 0), 0),
  seconds: runs.reduce((a, r) => a + r.seconds, 0),
  runs: runs.map(({ stderr: _e, interrupted: _i, ...r }) => r),
  ...(status === 'crashed' ? { stderr: tail(last.stderr) } : {}),
};
appendFileSync(resultsFile, JSON.stringify(record) + '\n');
// Stryker keeps this output as the mutant's status reason: one short line.
console.log(`${record.kind} ${id ?? ''} exit ${exit} ${status}${record.killedBy ? ` by ${record.killedBy}` : ''} ${record.signatures.join(' ')} ${runs.map((r) => `${r.engine} ${r.seconds.toFixed(1)}s`).join(' + ')}`);
process.exit(typeof exit === 'number' ? exit : 3);
