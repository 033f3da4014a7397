// Stryker's command for one mutant (npm run mutation, docs/mutation.md): Stryker's command runner
// starts it in its sandbox (the instrumented tree, built once) with the active mutant's id in
// __STRYKER_ACTIVE_MUTANT__, which the instrumented code reads from process.env in every thread
// (worker threads get a copy of the env). It runs the short nightly on that mutant:
//   node dist/src/cli.js run -c CONFIG --duration D --max-failures 1 --out <tmp>
// and appends one JSON line to the results file: the mutant, the exit code (1 violations: killed;
// 0: survived; 2, 3: the tool crashed: killed, counted apart), the signatures found, the seconds.
// It exits with the nightly's exit code, which is what Stryker judges (0 survived, else killed).
// A mutant the plan does not list (Stryker's --mutate ranges select a node and everything inside
// it, so more than the sample) exits 0 at once without running anything: the driver ignores it.
// Without an active mutant (Stryker's dry run) it runs the unmutated tree once and records that.
// Usage: node mutation-run.mjs --plan PLAN.json --results RESULTS.jsonl [--config C] [--duration D]
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
  console.error('usage: mutation-run.mjs --plan PLAN.json --results RESULTS.jsonl [--config C] [--duration D]');
  process.exit(2);
}
const config = arg('--config', 'configs/nightly.json');
const duration = arg('--duration', '20s');
const id = process.env.__STRYKER_ACTIVE_MUTANT__;
const plan = JSON.parse(readFileSync(planFile, 'utf8'));
const mutant = id === undefined ? undefined : plan.byId[id];
if (id !== undefined && !mutant) process.exit(0); // not in the sample: skipped

const out = mkdtempSync(join(tmpdir(), 'foliostorm-mutant-'));
const t0 = Date.now();
const r = spawnSync(process.execPath, ['dist/src/cli.js', 'run', '-c', config, '--duration', duration, '--max-failures', '1', '--out', out, '--json'], {
  stdio: ['ignore', 'pipe', 'pipe'],
  maxBuffer: 256 << 20,
  encoding: 'utf8',
});
const seconds = (Date.now() - t0) / 1000;
const exit = r.status ?? (r.signal ? `signal ${r.signal}` : 'unknown');

/** The run's summary.json (one run folder under out), if it wrote one. */
function summary() {
  try {
    const dir = readdirSync(out).find((d) => !d.startsWith('.'));
    return dir ? JSON.parse(readFileSync(join(out, dir, 'summary.json'), 'utf8')) : undefined;
  } catch {
    return undefined;
  }
}
const s = summary();
const sigs = s?.signatures ?? [];
const signatures = Array.isArray(sigs) ? [...new Set(sigs.map((x) => x.signature ?? String(x)))] : Object.keys(sigs);
// A nightly stopped by a signal (Ctrl-C reaches the whole process group, a timeout's kill) says
// nothing of the mutant: no line, so --resume runs it again.
if (s?.stop?.reason === 'interrupted' || r.signal) {
  rmSync(out, { recursive: true, force: true });
  console.log(`${mutant ? 'mutant' : 'dry-run'} ${id ?? ''} interrupted`);
  process.exit(3);
}
const status = !mutant ? (exit === 0 ? 'clean' : 'failed') : exit === 0 ? 'survived' : exit === 1 ? 'killed' : 'crashed';
const tail = (text) => (text ?? '').trim().split('\n').slice(-3).join('\n');
const record = {
  ...(mutant ? { key: mutant.key, kind: 'mutant' } : { kind: 'dry-run' }),
  strykerId: id,
  commit: plan.commit,
  status,
  exit,
  signatures,
  seeds: s?.seeds?.count,
  seconds,
  ...(status === 'crashed' ? { stderr: tail(r.stderr) } : {}),
};
appendFileSync(resultsFile, JSON.stringify(record) + '\n');
rmSync(out, { recursive: true, force: true });
// Stryker keeps this output as the mutant's status reason: one short line.
console.log(`${record.kind} ${id ?? ''} exit ${exit} ${status} ${signatures.join(' ')} ${seconds.toFixed(1)}s`);
process.exit(typeof exit === 'number' ? exit : 3);
